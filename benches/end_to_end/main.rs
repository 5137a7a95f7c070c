//! `make bench`, end to end: the release `conversions` binary under a minimal Lambda Runtime API
//! emulator (emulator.rs), against the local dynalite that `scripts/with-test-servers.sh` starts.
//!
//! - round trips and capacity per scenario, counted, and the cost of a million requests, all
//!   in, a full batch's per event among them; the list pages by filter on a small and a large
//!   account (scenarios.rs);
//! - `conversions-admin import` rows/s beside a plain loop of the same conditional puts
//!   (import.rs);
//! - cold start: spawn to the first `/runtime/invocation/next`, median of 20 spawns, and the
//!   first invocation beside a warm one, with and without opening the DynamoDB connection
//!   during init;
//! - sequential invocations: invocations/s, latency p50/p99, the function's own CPU per
//!   invocation (from `/proc/<pid>/stat`), beside a minimal `lambda_runtime` function making the
//!   same DynamoDB calls (floor.rs) and beside the function without its telemetry, in the same
//!   run; and the function's and the floor's instructions per invocation, counted by callgrind,
//!   and their cold starts;
//! - several invocations per process (`AWS_LAMBDA_MAX_CONCURRENCY` 1, 8, 32), every answer a 201;
//! - footprint: the stripped binary's size, the process's peak RSS;
//! - where the instructions of a warm invocation go, by callgrind (profile.rs).
//!
//! It prints its results and writes them into docs/BENCHMARKS.md. Times are this machine's and vary
//! between runs; the ratios and counts are what to compare.

mod emulator;
mod floor;
mod import;
#[path = "../../tests/dynamodb/helpers/metering.rs"]
#[allow(dead_code)] // the tests' read-unit rule is not needed here
mod metering;
mod profile;
#[path = "../report.rs"]
mod report;
#[path = "../../tests/dynamodb/helpers/runtime_api.rs"]
mod runtime_api;
mod scenarios;
#[path = "../../tests/dynamodb/helpers/tenant.rs"]
#[allow(dead_code)] // the ids the tests use, the bench does not
mod tenant;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conversions::domain::{AccountId, ApiKey};
use conversions::seed::{DEMO_ACCOUNT_ID, seed_demo};
use conversions::store::{DynamoStore, Provisioning, create_table};

use runtime_api::Emulator;
use scenarios::thousands;

use emulator::{Cpu, KernelCounts, Killed, Launch, peak_rss_mb, process_cpu, spawn};

/// The binary as built for the bench: unstripped, with line tables, for callgrind.
const BUILT: &str = env!("CARGO_BIN_EXE_conversions");

/// Invocations before the first measurement: the connection opened, the allocator settled.
pub const WARM_UP: usize = 50;

/// The function's own SDK settings (time-outs, retries, HTTPS client), sent to `endpoint`.
fn config_for(sdk: &aws_config::SdkConfig, endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::from(sdk).endpoint_url(endpoint)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    percentile(&samples, 0.5)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// An API Gateway event of `POST /conversions` with the reference page's minimal body.
fn event(key: &ApiKey) -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/create-minimal.json"
    ))
    .expect("the fixture");
    let mut event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    event["headers"]["x-api-key"] = key.expose().into();
    event["body"] = scenarios::minimal_body().into();
    event.to_string()
}

fn status(answer: &str) -> u64 {
    let answer: serde_json::Value = serde_json::from_str(answer).expect("a JSON answer");
    answer["statusCode"].as_u64().unwrap_or(0)
}

/// The binary that ships: a stripped copy of the bench build.
fn stripped_copy() -> (String, f64) {
    let path = std::env::temp_dir().join(format!("bootstrap-{}", uuid::Uuid::new_v4().simple()));
    let status = std::process::Command::new("strip")
        .arg("-o")
        .arg(&path)
        .arg(BUILT)
        .status()
        .expect("strip (binutils) runs");
    assert!(status.success(), "strip failed");
    let size = std::fs::metadata(&path).expect("the stripped copy").len() as f64 / 1_048_576.0;
    (path.display().to_string(), size)
}

struct ColdStart {
    to_first_next: f64,
    first_duration: f64,
    first_answer: f64,
    warm_duration: f64,
}

/// 20 spawns: spawn to the first `/next`, the first invocation's duration (as Lambda bills it),
/// spawn to the first answer, and the next invocation's duration; medians.
async fn cold_start(launch: &Launch<'_>, event: &str) -> ColdStart {
    let (mut to_first_next, mut first_duration, mut first_answer, mut warm) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..20 {
        let emulator = Emulator::start().await;
        let spawned = Instant::now();
        let child = Killed(spawn(&emulator.address, launch));
        let (answer, duration) = emulator.invoke_timed(event.to_owned()).await;
        first_answer.push(ms(spawned.elapsed()));
        assert_eq!(status(&answer), 201);
        first_duration.push(ms(duration));
        let first_next = emulator
            .first_next
            .lock()
            .unwrap()
            .expect("the function polled");
        to_first_next.push(ms(first_next - spawned));
        let (answer, duration) = emulator.invoke_timed(event.to_owned()).await;
        assert_eq!(status(&answer), 201);
        warm.push(ms(duration));
        drop(child);
    }
    ColdStart {
        to_first_next: median(to_first_next),
        first_duration: median(first_duration),
        first_answer: median(first_answer),
        warm_duration: median(warm),
    }
}

fn main() {
    if std::env::var_os(floor::MODE).is_some() {
        return floor::serve();
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(bench());
}

async fn bench() {
    let endpoints = std::env::var("TEST_DYNAMODB_ENDPOINTS")
        .expect("run with scripts/with-test-servers.sh (make bench does)");
    let endpoint = endpoints
        .split(',')
        .find_map(|e| e.strip_prefix("dynalite="))
        .expect("a dynalite endpoint")
        .to_owned();
    let sdk = conversions::sdk::load_sdk_config()
        .await
        .expect("the SDK's configuration");
    let client = aws_sdk_dynamodb::Client::from_conf(config_for(&sdk, &endpoint).build());
    let table = format!("bench-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table).await.expect("a table");
    let store = DynamoStore::new(client.clone(), &table);
    seed_demo(&store).await.expect("the demo account");
    let account = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
    let key = ApiKey::generate_for(account);
    store.put_api_key(&key.hash(), account).await.unwrap();
    let event = event(&key);
    let (binary, size) = stripped_copy();
    let command = [binary.as_str()];
    let launch = |concurrency, warm_up| Launch {
        command: &command,
        endpoint: &endpoint,
        table: &table,
        concurrency,
        warm_up,
        telemetry: true,
        floor: None,
    };
    let key_hash = key.hash();
    let bench_exe = std::env::current_exe().expect("the bench's executable");
    let bench_exe = bench_exe.to_str().expect("a UTF-8 path");
    let floor_command = [bench_exe];
    let floor_launch = Launch {
        command: &floor_command,
        floor: Some(key_hash.as_str()),
        ..launch(1, true)
    };

    let scenarios = scenarios::run(&endpoint, &table).await;
    let imports = import::run(&client, &endpoint).await;

    // Cold start, without and with the warm-up read during init, and the floor's.
    let cold_without = cold_start(&launch(1, false), &event).await;
    let cold_with = cold_start(&launch(1, true), &event).await;
    let cold_floor = cold_start(&floor_launch, &event).await;

    // Sequential invocations, beside the floor function and beside the function without its
    // telemetry, in interleaved rounds (each round in another order) so that the machine's
    // noise hits all three alike; the median round's ratios are reported.
    const ROUNDS: usize = 5;
    const PER_ROUND: usize = 300;
    let quiet = Launch {
        telemetry: false,
        ..launch(1, true)
    };
    let mut functions = Vec::new();
    for launch in [launch(1, true), quiet, floor_launch] {
        let emulator = Emulator::start().await;
        let child = spawn(&emulator.address, &launch);
        for _ in 0..WARM_UP {
            emulator.invoke(event.clone()).await;
        }
        functions.push(Sequential {
            emulator,
            child: Killed(child),
            cpu: Vec::new(),
            latencies: Vec::with_capacity(ROUNDS * PER_ROUND),
            elapsed: Duration::ZERO,
        });
    }
    for round in 0..ROUNDS {
        for turn in 0..3 {
            functions[(round + turn) % 3].round(&event, PER_ROUND).await;
        }
    }
    // What the kernel does for each, one more round: system calls and context switches.
    let mut kernel = Vec::new();
    for f in &mut functions {
        let counting = KernelCounts::attach(f.child.0.id());
        f.unmeasured(&event, PER_ROUND).await;
        kernel.push(
            counting
                .and_then(KernelCounts::stop)
                .map(|c| c.per(PER_ROUND)),
        );
    }
    let [with_telemetry, without_telemetry, floor] = <[Sequential; 3]>::try_from(functions)
        .ok()
        .expect("three functions");
    let rss = peak_rss_mb(with_telemetry.child.0.id());
    let sequential = ROUNDS * PER_ROUND;
    let median_ratio = |rounds: &[Cpu], floor: &[Cpu]| {
        let mut ratios: Vec<f64> = rounds
            .iter()
            .zip(floor)
            .map(|(f, d)| f.total / d.total)
            .collect();
        let all = ratios.clone();
        ratios.sort_by(f64::total_cmp);
        (ratios[ROUNDS / 2], all)
    };
    let (ratio, ratios) = median_ratio(&with_telemetry.cpu, &floor.cpu);
    let (quiet_ratio, _) = median_ratio(&without_telemetry.cpu, &floor.cpu);
    let (telemetry_ratio, _) = median_ratio(&with_telemetry.cpu, &without_telemetry.cpu);
    let (function_cpu, quiet_cpu, floor_cpu) = (
        Cpu::mean(&with_telemetry.cpu),
        Cpu::mean(&without_telemetry.cpu),
        Cpu::mean(&floor.cpu),
    );
    let (rate, quiet_rate, floor_rate) = (
        with_telemetry.rate(),
        without_telemetry.rate(),
        floor.rate(),
    );
    let mut latencies = with_telemetry.latencies.clone();
    latencies.sort_by(f64::total_cmp);
    drop((with_telemetry, without_telemetry, floor));

    // Several invocations per process.
    let mut concurrent = Vec::new();
    for concurrency in [1usize, 8, 32] {
        const INVOCATIONS: usize = 1_000;
        let emulator = Emulator::start().await;
        let child = Killed(spawn(&emulator.address, &launch(concurrency, true)));
        emulator.invoke(event.clone()).await;
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
        for _ in 0..INVOCATIONS {
            let (emulator, event, limit) = (emulator.clone(), event.clone(), limit.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                status(&emulator.invoke(event).await)
            });
        }
        let mut created = 0;
        while let Some(done) = tasks.join_next().await {
            created += usize::from(done.unwrap() == 201);
        }
        let rate = INVOCATIONS as f64 / started.elapsed().as_secs_f64();
        concurrent.push((
            concurrency,
            rate,
            created,
            INVOCATIONS,
            peak_rss_mb(child.0.id()),
        ));
        drop(child);
    }
    std::fs::remove_file(&binary).ok();

    let profiled = profile::profile(BUILT, &endpoint, &table, &event, None).await;
    let floor_instructions = profile::profile(
        bench_exe,
        &endpoint,
        &table,
        &event,
        Some(key_hash.as_str()),
    )
    .await
    .map(|(_, total)| total);

    // The report.
    let memory_mb = scenarios::template_memory_mb();
    let item = scenarios::minimal_item(&endpoint, &table).await;
    let (item_bytes, entry_bytes, storage) = scenarios::storage(&endpoint, &table, &item).await;
    let (alarm_metrics, dashboards, custom_metrics, fixed) = scenarios::fixed_monthly();
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "Machine: {}. Command: `make bench`.", report::machine());
    let _ = writeln!(
        w,
        "**What a million requests cost, all in**, every part priced from what this run counted: DynamoDB units (`ReturnConsumedCapacity` on the function's own client, dynalite; index entries from the stored item and the table's indexes), the HTTP API request (per started 512 KB), Lambda (the request, and GB-seconds at the template's {memory_mb:.0} MB for the handler's median time, billed by the started millisecond), CloudWatch Logs (the bytes the function wrote for it through its own subscriber at the template's level, INFO), data transfer out (the answer's bytes with API Gateway's headers). Prices: AWS list prices, us-east-1, as of December 1, 2026 (`benches/end_to_end/scenarios.rs`, `prices`). The floor of a create in this architecture is ${:.2}.\n",
        scenarios::FLOOR_PER_MILLION
    );
    let _ = writeln!(
        w,
        "| request | status | DynamoDB calls | read units | write units | log bytes | answer bytes | ms | DynamoDB | HTTP API | Lambda | logs | transfer | **total** | × floor |"
    );
    let _ = writeln!(
        w,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for s in &scenarios {
        let status = if s.status == 0 {
            "-".to_owned()
        } else {
            s.status.to_string()
        };
        let writes = if s.index_entries == 0 {
            format!("{}", s.write_units())
        } else {
            format!(
                "{} ({} + {} entries)",
                s.write_units(),
                s.write_units() - s.index_units,
                s.index_entries
            )
        };
        if s.status == 0 && s.write_units() > 0.0 {
            // An operator's run, not a request: what one costs.
            let _ = writeln!(
                w,
                "| {} | - | {} | {} | {writes} | - | - | {:.0} | ${:.4} each | | | | | | |",
                s.name,
                s.calls_text(),
                s.read_units(),
                s.duration_ms,
                s.cost(memory_mb)[0] / 1e6,
            );
            continue;
        }
        if s.status == 0 {
            let _ = writeln!(
                w,
                "| {} | - | {} | {} | - | - | - | - | | | | | | | |",
                s.name,
                s.calls_text(),
                s.read_units()
            );
            continue;
        }
        let parts = s.cost(memory_mb);
        let total = s.total(memory_mb);
        let _ = writeln!(
            w,
            "| {} | {status} | {} | {} | {writes} | {} | {} | {:.1} | ${:.2} | ${:.2} | ${:.3} | ${:.3} | ${:.3} | **${total:.2}** | {} |",
            s.name,
            s.calls_text(),
            s.read_units(),
            s.log_bytes,
            s.response_bytes,
            s.duration_ms,
            parts[0],
            parts[1],
            parts[2],
            parts[3],
            parts[4],
            // The floor is a single create's.
            if s.index_entries > 0 && s.rows == 1 {
                format!("{:.2}", total / scenarios::FLOOR_PER_MILLION)
            } else {
                String::new()
            }
        );
    }
    // The read side of the cost model: the list pages above, by filter and account size.
    let lists: Vec<&scenarios::Scenario> = scenarios.iter().filter(|s| s.list.is_some()).collect();
    let _ = writeln!(
        w,
        "\n**The cost model's read side** (the layout it chose: `docs/architecture.md`): read units of a list's first page of 50 (with its `total`), by filter, on an account of {} events and on one of {}, past every bound of a list request (a page reads at most {} index entries, a count {}): an account of 100,000 or 10 million events reads what the larger one does.\n",
        thousands(scenarios::SMALL_ACCOUNT),
        thousands(scenarios::LARGE_ACCOUNT),
        thousands(conversions::domain::MAX_ENTRIES_READ as usize),
        thousands(conversions::domain::MAX_ENTRIES_COUNTED as usize),
    );
    let _ = writeln!(
        w,
        "| list | {} events | {} events (100,000; 10 million) | $ per million pages, all in, the larger |\n|---|---|---|---|",
        thousands(scenarios::SMALL_ACCOUNT),
        thousands(scenarios::LARGE_ACCOUNT),
    );
    let page = |filter: &str, events: usize| {
        lists
            .iter()
            .find(|s| s.list == Some((filter, events)))
            .expect("a list scenario")
    };
    for s in lists
        .iter()
        .filter(|s| s.list.unwrap().1 == scenarios::SMALL_ACCOUNT)
    {
        let filter = s.list.unwrap().0;
        let large = page(filter, scenarios::LARGE_ACCOUNT);
        let _ = writeln!(
            w,
            "| {filter} | {} | {} | ${:.2} |",
            s.read_units(),
            large.read_units(),
            large.total(memory_mb)
        );
    }
    let minimal_create = scenarios
        .iter()
        .find(|s| s.name == "create, minimal body")
        .expect("a scenario")
        .total(memory_mb);
    let unfiltered = page("no filter", scenarios::LARGE_ACCOUNT).total(memory_mb);
    let _ = writeln!(
        w,
        "\nA million minimal creates with their unfiltered pages of the larger account, all in: ${:.2} at 10 creates to a page (100,000 pages), ${:.2} at 100 to one.",
        minimal_create + unfiltered / 10.0,
        minimal_create + unfiltered / 100.0,
    );
    let named_total = |name: &str| {
        (scenarios.iter().find(|s| s.name == name))
            .expect("a scenario")
            .total(memory_mb)
    };
    let (changes_page, changes_poll) = (
        named_total(scenarios::CHANGES_PAGE),
        named_total(scenarios::CHANGES_POLL),
    );
    // A day: 10 pages of 100, and a poll a minute otherwise (1,440 requests in all).
    let consumer_day = (10.0 * changes_page + 1430.0 * changes_poll) / 1e6;
    let _ = writeln!(
        w,
        "**Following the feed.** A change costs a create one write unit more (its change item, under a KB, written before the event). A consumer following one account's 1,000 changes a day, in 10 pages of 100 and a poll a minute besides: ${consumer_day:.4} a day (${:.2} a year).",
        consumer_day * 365.0
    );
    let batch = scenarios
        .iter()
        .find(|s| s.rows > 1)
        .expect("a batch scenario");
    let _ = writeln!(
        w,
        "**Bulk.** Through full batches of {} (`POST /conversions/batch`), a million events cost ${:.2} all in, against ${minimal_create:.2} as single creates ({:.2}×): the HTTP API request, the Lambda request and the log line are shared by the batch's rows; the writes are the same. `conversions-admin import` of a CSV file of {} rows (the release binary, its chunks of {}, {} writes in flight), against a plain loop making the same conditional PutItems (the items an import stored, into a fresh table with the same indexes, as many in flight), the median of {} rounds taken in turn:\n",
        batch.rows,
        batch.total(memory_mb),
        batch.total(memory_mb) / minimal_create,
        thousands(import::ROWS),
        conversions::service::MAX_BATCH_ROWS,
        conversions::service::WRITES_AT_ONCE,
        import::ROUNDS,
    );
    let _ = writeln!(
        w,
        "| import | rows/s | plain loop, rows/s | ratio |\n|---|---|---|---|"
    );
    for r in &imports {
        let _ = writeln!(
            w,
            "| {} | {:.0} | {:.0} | {:.2}× |",
            r.kind,
            r.import,
            r.plain,
            r.import / r.plain
        );
    }
    let _ = writeln!(
        w,
        "\n**Storage** of a million minimal events a month: the item {item_bytes:.0} bytes and its index entries {entry_bytes:.0} bytes, each with DynamoDB's 100 bytes of overhead: {:.2} GB, ${storage:.2} a month with point-in-time recovery (on the items). It grows by that every million events unless the stack sets `EventRetentionDays`.",
        (item_bytes + entry_bytes) * 1e6 / 1e9
    );
    let _ = writeln!(
        w,
        "**The stack's fixed cost**, a month: {alarm_metrics} alarm metrics, {dashboards} dashboard, {custom_metrics} custom metrics (the metric filters): ${fixed:.2}. (SNS e-mail, and Logs Insights queries of the dashboard's two log widgets when it is open, by the data scanned, come on top.)"
    );

    let _ = writeln!(
        w,
        "\n**End to end**, the stripped release binary under the Runtime API emulator, local dynalite, beside the floor function (a minimal `lambda_runtime` function making the same DynamoDB calls, `benches/end_to_end/floor.rs`):"
    );
    let _ = writeln!(w, "```");
    let _ = writeln!(
        w,
        "cold start, 20 spawns each (medians)   without warm-up   with warm-up   floor (warm-up)"
    );
    for (label, a, b, c) in [
        (
            "spawn to first /next",
            cold_without.to_first_next,
            cold_with.to_first_next,
            cold_floor.to_first_next,
        ),
        (
            "first invocation's duration",
            cold_without.first_duration,
            cold_with.first_duration,
            cold_floor.first_duration,
        ),
        (
            "spawn to first answer",
            cold_without.first_answer,
            cold_with.first_answer,
            cold_floor.first_answer,
        ),
        (
            "warm invocation's duration",
            cold_without.warm_duration,
            cold_with.warm_duration,
            cold_floor.warm_duration,
        ),
    ] {
        let _ = writeln!(w, "  {label:<32} {a:>9.2} ms {b:>12.2} ms {c:>14.2} ms");
    }
    let _ = writeln!(
        w,
        "{sequential} sequential POST /conversions (key naming its account), {ROUNDS} rounds of {PER_ROUND}:"
    );
    let _ = writeln!(
        w,
        "  {rate:.0} invocations/s (floor {floor_rate:.0})    latency p50 {:.2} ms  p99 {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    let _ = writeln!(w, "  function CPU per invocation {}", function_cpu.micros());
    let _ = writeln!(w, "  floor function, same calls  {}", floor_cpu.micros());
    let _ = writeln!(
        w,
        "  ratio {ratio:.2}x (the median round; each round's: {})",
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        w,
        "  without telemetry (WARN) {}, ratio {quiet_ratio:.2}x, {quiet_rate:.0} invocations/s",
        quiet_cpu.micros()
    );
    let _ = writeln!(
        w,
        "  the telemetry's cost, side by side: {telemetry_ratio:.2}x the CPU without it (the median round)"
    );
    if let [Some(function), Some(quiet), Some(floor)] = kernel[..] {
        let _ = writeln!(
            w,
            "  system calls per invocation: function {:.1} (without telemetry {:.1}), floor {:.1}; context switches {:.1} ({:.1}), {:.1}",
            function.syscalls,
            quiet.syscalls,
            floor.syscalls,
            function.context_switches,
            quiet.context_switches,
            floor.context_switches
        );
    }
    if let (Some((_, function)), Some(floor)) = (&profiled, floor_instructions) {
        let _ = writeln!(
            w,
            "  instructions per invocation (callgrind): function {:.0} k, floor {:.0} k, ratio {:.2}x",
            function / 1e3,
            floor / 1e3,
            function / floor
        );
    }
    let _ = writeln!(
        w,
        "several invocations per process (AWS_LAMBDA_MAX_CONCURRENCY):"
    );
    for (concurrency, rate, created, total, rss) in &concurrent {
        let _ = writeln!(
            w,
            "  {concurrency:>2}: {rate:>6.0} invocations/s, {created}/{total} answered 201, peak RSS {rss:.1} MB"
        );
    }
    let _ = writeln!(
        w,
        "footprint: stripped binary {size:.2} MB ({}), peak RSS {rss:.1} MB (sequential run)",
        std::env::consts::ARCH
    );
    let _ = writeln!(w, "```");

    if let Some((components, total)) = &profiled {
        let _ = writeln!(
            w,
            "**Where a warm invocation's instructions go** (callgrind, {} invocations after {WARM_UP} to warm up; instructions in each function itself, summed by component; system calls are outside the count):\n",
            profile::INVOCATIONS
        );
        let _ = writeln!(w, "| component | instructions per invocation | share |");
        let _ = writeln!(w, "|---|---|---|");
        for (name, n) in components {
            let _ = writeln!(
                w,
                "| {name} | {:.0} k | {:.1} % |",
                n / 1e3,
                n / total * 100.0
            );
        }
        let _ = writeln!(w, "| **total** | **{:.0} k** | |", total / 1e3);
    } else {
        let _ = writeln!(w, "\n(valgrind is not installed: no profile in this run.)");
    }

    let named = |name: &str| {
        scenarios
            .iter()
            .find(|s| s.name == name)
            .expect("a scenario")
    };
    let minimal = named("create, minimal body");
    let minimal_total = minimal.total(memory_mb);
    let shapes = [
        "create, minimal body",
        "create with a run",
        "create, master-workflow type with a run",
    ];
    let worst_shape = shapes
        .iter()
        .map(|n| named(n).total(memory_mb))
        .fold(0.0, f64::max);
    let max_entries = (scenarios.iter())
        .filter(|s| s.status != 0)
        .map(|s| s.index_entries / s.rows)
        .max()
        .unwrap_or(0);
    let max_log = scenarios
        .iter()
        .filter(|s| s.status != 0 && s.status < 500)
        .map(|s| s.log_bytes)
        .max()
        .unwrap_or(0);
    let _ = writeln!(w, "\n| target | measured | |");
    let _ = writeln!(w, "|---|---|---|");
    let rows = [
        (
            "a minimal create ≤ $3.60 per million, all in, and $0.625 for its change".to_owned(),
            format!(
                "${minimal_total:.2} ({:.2}× the floor)",
                minimal_total / scenarios::FLOOR_PER_MILLION
            ),
            minimal_total <= 3.60 + 0.625,
        ),
        (
            "every create shape without metadata or notes ≤ 1.3 × $3.60".to_owned(),
            format!("${worst_shape:.2} at most"),
            worst_shape <= 1.3 * 3.60,
        ),
        (
            "index entries per create ≤ 2, each under 1 KB; the item under 1 KB".to_owned(),
            format!(
                "{max_entries} entries of {:.0} bytes in all; the item {:.0} bytes",
                entry_bytes - 200.0,
                item_bytes - 100.0
            ),
            max_entries <= 2 && minimal.index_units <= 2.0 && item_bytes - 100.0 < 1024.0,
        ),
        (
            "log bytes per request ≤ 260 (INFO, metrics on)".to_owned(),
            format!("{max_log} at most"),
            max_log <= 260,
        ),
        (
            "function CPU ≤ 1.15× the floor function (median round)".to_owned(),
            format!("{ratio:.2}×"),
            ratio <= 1.15,
        ),
        match (&profiled, floor_instructions) {
            (Some((_, function)), Some(floor)) => (
                "the same by instructions (callgrind)".to_owned(),
                format!("{:.2}×", function / floor),
                function / floor <= 1.15,
            ),
            _ => (
                "the same by instructions (callgrind)".to_owned(),
                "not measured (no valgrind)".to_owned(),
                false,
            ),
        },
        (
            "cold start ≤ 1.3× the floor's: spawn to first `/next`".to_owned(),
            format!(
                "{:.2}× ({:.1} ms against {:.1})",
                cold_with.to_first_next / cold_floor.to_first_next,
                cold_with.to_first_next,
                cold_floor.to_first_next
            ),
            cold_with.to_first_next <= 1.3 * cold_floor.to_first_next,
        ),
        (
            "the same, spawn to first answer".to_owned(),
            format!(
                "{:.2}× ({:.1} ms against {:.1})",
                cold_with.first_answer / cold_floor.first_answer,
                cold_with.first_answer,
                cold_floor.first_answer
            ),
            cold_with.first_answer <= 1.3 * cold_floor.first_answer,
        ),
        (
            "an import ≥ 0.8× a plain loop of its conditional puts".to_owned(),
            (imports.iter())
                .map(|r| format!("{} {:.2}×", r.kind, r.import / r.plain))
                .collect::<Vec<_>>()
                .join(", "),
            imports.iter().all(|r| r.import >= 0.8 * r.plain),
        ),
        (
            "concurrency 1, 8, 32: every answer right".to_owned(),
            (if concurrent.iter().all(|c| c.2 == c.3) {
                "all 201"
            } else {
                "some not 201"
            })
            .to_owned(),
            concurrent.iter().all(|c| c.2 == c.3),
        ),
    ];
    for (target, measured, met) in rows {
        let _ = writeln!(
            w,
            "| {target} | {measured} | {} |",
            if met { "met" } else { "**not met**" }
        );
    }

    print!("\n{out}");
    report::write_section("end-to-end", &out);
}

/// One function process of the sequential runs, and what its rounds measured.
struct Sequential {
    emulator: Emulator,
    child: Killed,
    cpu: Vec<Cpu>,
    latencies: Vec<f64>,
    elapsed: Duration,
}

impl Sequential {
    /// `n` invocations one after another: their latencies, and the process's CPU per invocation.
    async fn round(&mut self, event: &str, n: usize) {
        let before = process_cpu(self.child.0.id());
        let started = Instant::now();
        for _ in 0..n {
            let one = Instant::now();
            assert_eq!(status(&self.emulator.invoke(event.to_owned()).await), 201);
            self.latencies.push(ms(one.elapsed()));
        }
        self.elapsed += started.elapsed();
        self.cpu
            .push((process_cpu(self.child.0.id()) - before).per(n));
    }

    /// `n` invocations, not counted in the figures (while perf counts).
    async fn unmeasured(&self, event: &str, n: usize) {
        for _ in 0..n {
            assert_eq!(status(&self.emulator.invoke(event.to_owned()).await), 201);
        }
    }

    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}
