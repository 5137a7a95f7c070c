//! `make bench`, end to end: the release `conversions` binary under a minimal Lambda Runtime API
//! emulator (emulator.rs), against the local dynalite that `scripts/with-test-servers.sh` starts.
//!
//! - round trips and capacity per scenario, counted, and the cost of a million requests
//!   (scenarios.rs);
//! - cold start: spawn to the first `/runtime/invocation/next`, median of 20 spawns, and the
//!   first invocation beside a warm one, with and without opening the DynamoDB connection
//!   during init;
//! - sequential invocations: invocations/s, latency p50/p99, the function's own CPU per
//!   invocation (from `/proc/<pid>/stat`), beside a process making the same DynamoDB calls
//!   directly with the SDK in a loop (direct.rs) and beside the function without its telemetry,
//!   in the same run; and both processes' instructions per invocation, counted by callgrind;
//! - several invocations per process (`AWS_LAMBDA_MAX_CONCURRENCY` 1, 8, 32), every answer a 201;
//! - footprint: the stripped binary's size, the process's peak RSS;
//! - where the instructions of a warm invocation go, by callgrind (profile.rs).
//!
//! It prints its results and writes them into BENCHMARKS.md. Times are this machine's and vary
//! between runs; the ratios and counts are what to compare.

mod direct;
mod emulator;
#[path = "../../tests/dynamodb/helpers/metering.rs"]
#[allow(dead_code)] // the tests' read-unit rule is not needed here
mod metering;
mod profile;
#[path = "../report.rs"]
mod report;
mod scenarios;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conversions::domain::{AccountId, ApiKey};
use conversions::seed::{DEMO_ACCOUNT_ID, seed_demo};
use conversions::store::{DynamoStore, Provisioning, create_table};

use direct::DirectLoop;
use emulator::{Cpu, Emulator, KernelCounts, Killed, Launch, peak_rss_mb, process_cpu, spawn};

/// The binary as built for the bench: unstripped, with line tables, for callgrind.
const BUILT: &str = env!("CARGO_BIN_EXE_conversions");

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
    if std::env::var_os(direct::MODE).is_some() {
        return direct::serve();
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
    let sdk = conversions::config::load_sdk_config()
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
    };

    let scenarios = scenarios::run(&endpoint, &table).await;

    // Cold start, without and with the warm-up read during init.
    let cold_without = cold_start(&launch(1, false), &event).await;
    let cold_with = cold_start(&launch(1, true), &event).await;

    // Sequential invocations, beside the same DynamoDB calls made directly and beside the
    // function without its telemetry, in interleaved rounds (each round in another order) so
    // that the machine's noise hits all three alike; the median round's ratios are reported.
    const ROUNDS: usize = 5;
    const PER_ROUND: usize = 300;
    let key_hash = key.hash();
    let mut direct = DirectLoop::start(&[], &endpoint, &table, key_hash.as_str());
    let quiet = Launch {
        telemetry: false,
        ..launch(1, true)
    };
    let mut functions = Vec::new();
    for launch in [launch(1, true), quiet] {
        let emulator = Emulator::start().await;
        let child = spawn(&emulator.address, &launch);
        for _ in 0..direct::WARM_UP {
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
    let mut direct_rounds = Vec::new();
    for round in 0..ROUNDS {
        for turn in 0..3 {
            match (round + turn) % 3 {
                2 => direct_rounds.push(direct.run(PER_ROUND).per(PER_ROUND)),
                f => functions[f].round(&event, PER_ROUND).await,
            }
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
    let counting = KernelCounts::attach(direct.pid());
    direct.iterate(PER_ROUND);
    kernel.push(
        counting
            .and_then(KernelCounts::stop)
            .map(|c| c.per(PER_ROUND)),
    );
    drop(direct);
    let [with_telemetry, without_telemetry] = <[Sequential; 2]>::try_from(functions)
        .ok()
        .expect("two functions");
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
    let (ratio, ratios) = median_ratio(&with_telemetry.cpu, &direct_rounds);
    let (quiet_ratio, _) = median_ratio(&without_telemetry.cpu, &direct_rounds);
    let (telemetry_ratio, _) = median_ratio(&with_telemetry.cpu, &without_telemetry.cpu);
    let (function_cpu, quiet_cpu, direct_cpu) = (
        Cpu::mean(&with_telemetry.cpu),
        Cpu::mean(&without_telemetry.cpu),
        Cpu::mean(&direct_rounds),
    );
    let (rate, quiet_rate) = (with_telemetry.rate(), without_telemetry.rate());
    let mut latencies = with_telemetry.latencies.clone();
    latencies.sort_by(f64::total_cmp);
    drop((with_telemetry, without_telemetry));

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

    let profiled = profile::profile(BUILT, &endpoint, &table, &event).await;
    let direct_instructions = profile::direct_loop(&endpoint, &table, key_hash.as_str());

    // The report.
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "Machine: {}. Command: `make bench`.\n",
        report::machine()
    );
    let _ = writeln!(
        w,
        "**Round trips and capacity per request**, counted (dynalite; index entries from the stored item and the table's index definitions):\n"
    );
    let _ = writeln!(
        w,
        "| scenario | status | DynamoDB calls | read units | write units |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|");
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
                "{}: {} the item, {} its {} index entries",
                s.write_units(),
                s.write_units() - s.index_units,
                s.index_units,
                s.index_entries
            )
        };
        let _ = writeln!(
            w,
            "| {} | {status} | {} | {} | {writes} |",
            s.name,
            s.calls_text(),
            s.read_units()
        );
    }
    let memory_mb = scenarios::template_memory_mb();
    let duration_ms = cold_with.warm_duration;
    let _ = writeln!(
        w,
        "\n**Cost per million requests** at AWS list prices, us-east-1, 2025 (DynamoDB on demand: $0.125 per million read units, $0.625 per million write units; Lambda arm64: $0.20 per million requests, $0.0000133334 per GB-second, at the template's {memory_mb:.0} MB and this run's warm duration of {duration_ms:.1} ms, billed as {:.0} ms; HTTP API: $1.00 per million requests):\n",
        duration_ms.ceil()
    );
    let _ = writeln!(
        w,
        "| per million | DynamoDB reads | DynamoDB writes | Lambda | HTTP API | total | largest part |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|");
    let named = |name: &str| {
        scenarios
            .iter()
            .find(|s| s.name == name)
            .expect("a scenario")
    };
    for name in [
        "create, minimal body",
        "create, 20 metadata keys",
        "idempotent replay",
    ] {
        let s = named(name);
        let parts = scenarios::cost_per_million(s, memory_mb, duration_ms);
        let total: f64 = parts.iter().sum();
        let labels = ["DynamoDB reads", "DynamoDB writes", "Lambda", "HTTP API"];
        let (largest, _) = labels
            .iter()
            .zip(parts)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        let _ = writeln!(
            w,
            "| {name} | ${:.2} | ${:.2} | ${:.2} | ${:.2} | ${total:.2} | {largest} |",
            parts[0], parts[1], parts[2], parts[3]
        );
    }
    let minimal = named("create, minimal body");
    let metadata = named("create, 20 metadata keys");
    let _ = writeln!(
        w,
        "\nChoices, priced from the same counts: the batch read eventually consistent would save ${:.2} per million creates (not taken: one `BatchGetItem` has one consistency for the whole table, and the key's record must be read strongly for revocation to take effect at once); indexes projecting whole items (`ALL`) would cost ${:.2} more per million minimal creates and ${:.2} more with 20 metadata keys (not taken: the list endpoints read the events from the table).",
        minimal.batch_read_units() / 2.0 * scenarios::prices::READ_UNIT * 1e6,
        (minimal.index_units_if_all - minimal.index_units) * scenarios::prices::WRITE_UNIT * 1e6,
        (metadata.index_units_if_all - metadata.index_units) * scenarios::prices::WRITE_UNIT * 1e6,
    );

    let _ = writeln!(
        w,
        "\n**End to end**, the stripped release binary under the Runtime API emulator, local dynalite:\n"
    );
    let _ = writeln!(w, "```");
    let _ = writeln!(
        w,
        "cold start, 20 spawns each (medians)          without warm-up   with warm-up"
    );
    for (label, a, b) in [
        (
            "spawn to first /next",
            cold_without.to_first_next,
            cold_with.to_first_next,
        ),
        (
            "first invocation's duration",
            cold_without.first_duration,
            cold_with.first_duration,
        ),
        (
            "spawn to first answer",
            cold_without.first_answer,
            cold_with.first_answer,
        ),
        (
            "warm invocation's duration",
            cold_without.warm_duration,
            cold_with.warm_duration,
        ),
    ] {
        let _ = writeln!(w, "  {label:<40} {a:>9.2} ms {b:>12.2} ms");
    }
    let _ = writeln!(
        w,
        "{sequential} sequential POST /conversions (key naming its account), {ROUNDS} rounds of {PER_ROUND}:"
    );
    let _ = writeln!(
        w,
        "  {rate:.0} invocations/s    latency p50 {:.2} ms  p99 {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    let _ = writeln!(w, "  function CPU per invocation {}", function_cpu.micros());
    let _ = writeln!(w, "  direct SDK loop, same calls {}", direct_cpu.micros());
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
    if let [Some(function), Some(quiet), Some(direct)] = kernel[..] {
        let _ = writeln!(
            w,
            "  system calls per invocation: function {:.1} (without telemetry {:.1}), direct loop {:.1}; context switches {:.1} ({:.1}), {:.1}",
            function.syscalls,
            quiet.syscalls,
            direct.syscalls,
            function.context_switches,
            quiet.context_switches,
            direct.context_switches
        );
    }
    if let (Some((_, function)), Some(direct)) = (&profiled, direct_instructions) {
        let _ = writeln!(
            w,
            "  instructions per invocation (callgrind): function {:.0} k, direct loop {:.0} k, ratio {:.2}x",
            function / 1e3,
            direct / 1e3,
            function / direct
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
            "\n**Where a warm invocation's instructions go** (callgrind, {} invocations after {} to warm up; instructions in each function itself, summed by component; system calls are outside the count):\n",
            profile::INVOCATIONS,
            direct::WARM_UP
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

    let max_rss = concurrent.iter().map(|c| c.4).fold(rss, f64::max);
    let all_right = concurrent.iter().all(|c| c.2 == c.3);
    let create_calls = minimal.calls_text();
    let _ = writeln!(w, "\n| target | measured | |");
    let _ = writeln!(w, "|---|---|---|");
    let rows = [
        (
            "warm create: 1 read round trip + 1 conditional write".to_owned(),
            create_calls.clone(),
            create_calls == "BatchGetItem + PutItem",
        ),
        (
            "function CPU ≤ 1.3× the direct SDK loop".to_owned(),
            format!("{ratio:.2}×"),
            ratio <= 1.3,
        ),
        match (&profiled, direct_instructions) {
            (Some((_, function)), Some(direct)) => (
                "the same by instructions (callgrind)".to_owned(),
                format!("{:.2}×", function / direct),
                function / direct <= 1.3,
            ),
            _ => (
                "the same by instructions (callgrind)".to_owned(),
                "not measured (no valgrind)".to_owned(),
                false,
            ),
        },
        (
            "spawn to first `/next` < 10 ms (median of 20)".to_owned(),
            format!("{:.1} ms", cold_with.to_first_next),
            cold_with.to_first_next < 10.0,
        ),
        (
            format!("stripped binary < 8 MB ({})", std::env::consts::ARCH),
            format!("{size:.2} MB"),
            size < 8.0,
        ),
        (
            "peak RSS < 16 MB".to_owned(),
            format!("{max_rss:.1} MB"),
            max_rss < 16.0,
        ),
        (
            "concurrency 1, 8, 32: every answer right".to_owned(),
            (if all_right { "all 201" } else { "some not 201" }).to_owned(),
            all_right,
        ),
    ];
    for (target, measured, met) in rows {
        let _ = writeln!(w, "| {target} | {measured} | {} |", report::verdict(met));
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
