//! `make bench`, end to end: the release `conversions` binary under a minimal Lambda Runtime API
//! emulator (emulator.rs), against the local dynalite that `scripts/with-test-servers.sh` starts.
//!
//! - round trips and capacity per scenario, counted, and the cost of a million requests
//!   (scenarios.rs);
//! - cold start: spawn to the first `/runtime/invocation/next`, median of 20 spawns, and the
//!   first invocation beside a warm one, with and without opening the DynamoDB connection
//!   during init;
//! - sequential invocations: invocations/s, latency p50/p99, the function's own CPU per
//!   invocation (from `/proc/<pid>/stat`), beside a loop making the same DynamoDB calls directly
//!   with the SDK in this process, in the same run;
//! - several invocations per process (`AWS_LAMBDA_MAX_CONCURRENCY` 1, 8, 32), every answer a 201;
//! - footprint: the stripped binary's size, the process's peak RSS;
//! - where the instructions of a warm invocation go, by callgrind (profile.rs).
//!
//! It prints its results and writes them into BENCHMARKS.md. Times are this machine's and vary
//! between runs; the ratios and counts are what to compare.

mod emulator;
#[path = "../../tests/dynamodb/helpers/metering.rs"]
#[allow(dead_code)] // the tests' read-unit rule is not needed here
mod metering;
mod profile;
#[path = "../report.rs"]
mod report;
mod scenarios;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use conversions::domain::{AccountId, ApiKey};
use conversions::seed::{DEMO_ACCOUNT_ID, seed_demo};
use conversions::store::{DynamoStore, Provisioning, create_table};

use emulator::{Cpu, Emulator, Launch, peak_rss_mb, process_cpu, spawn, thread_cpu};

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
        let mut child = spawn(&emulator.address, launch);
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
        child.kill().ok();
        child.wait().ok();
    }
    ColdStart {
        to_first_next: median(to_first_next),
        first_duration: median(first_duration),
        first_answer: median(first_answer),
        warm_duration: median(warm),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
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
    };

    let scenarios = scenarios::run(&endpoint, &table).await;

    // Cold start, without and with the warm-up read during init.
    let cold_without = cold_start(&launch(1, false), &event).await;
    let cold_with = cold_start(&launch(1, true), &event).await;

    // Sequential invocations, and the same DynamoDB calls made directly, in interleaved rounds
    // so that the machine's noise hits both alike; the median round's ratio is reported.
    const ROUNDS: usize = 5;
    const PER_ROUND: usize = 300;
    let direct = DirectLoop::start(&endpoint, &table, &key);
    let emulator = Emulator::start().await;
    let mut child = spawn(&emulator.address, &launch(1, true));
    for _ in 0..50 {
        emulator.invoke(event.clone()).await;
    }
    let mut latencies = Vec::with_capacity(ROUNDS * PER_ROUND);
    let mut elapsed = Duration::ZERO;
    let (mut function_rounds, mut direct_rounds) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let before = process_cpu(child.id());
        let started = Instant::now();
        for _ in 0..PER_ROUND {
            let one = Instant::now();
            assert_eq!(status(&emulator.invoke(event.clone()).await), 201);
            latencies.push(ms(one.elapsed()));
        }
        elapsed += started.elapsed();
        function_rounds.push((process_cpu(child.id()) - before).per(PER_ROUND));
        direct_rounds.push(direct.run(PER_ROUND).per(PER_ROUND));
    }
    let rss = peak_rss_mb(child.id());
    child.kill().ok();
    child.wait().ok();
    latencies.sort_by(f64::total_cmp);
    let sequential = ROUNDS * PER_ROUND;
    let mut ratios: Vec<f64> = function_rounds
        .iter()
        .zip(&direct_rounds)
        .map(|(f, d)| f.total / d.total)
        .collect();
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ROUNDS / 2];
    let (function_cpu, direct_cpu) = (Cpu::mean(&function_rounds), Cpu::mean(&direct_rounds));

    // Several invocations per process.
    let mut concurrent = Vec::new();
    for concurrency in [1usize, 8, 32] {
        const INVOCATIONS: usize = 1_000;
        let emulator = Emulator::start().await;
        let mut child = spawn(&emulator.address, &launch(concurrency, true));
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
            peak_rss_mb(child.id()),
        ));
        child.kill().ok();
        child.wait().ok();
    }
    std::fs::remove_file(&binary).ok();

    let profiled = profile::profile(BUILT, &endpoint, &table, &event).await;

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
        "  {:.0} invocations/s    latency p50 {:.2} ms  p99 {:.2} ms",
        sequential as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    let _ = writeln!(
        w,
        "  function CPU {:.0} µs/invocation (user {:.0}, system {:.0})",
        function_cpu.total * 1e6,
        function_cpu.user * 1e6,
        function_cpu.system * 1e6
    );
    let _ = writeln!(
        w,
        "  direct SDK loop, same calls {:.0} µs (user {:.0}, system {:.0})",
        direct_cpu.total * 1e6,
        direct_cpu.user * 1e6,
        direct_cpu.system * 1e6
    );
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
            "\n**Where a warm invocation's instructions go** (callgrind, {} invocations after 20 to warm up; instructions in each function itself, summed by component; system calls are outside the count):\n",
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

/// The floor: a thread of this process running as the function does (one thread, a
/// current-thread runtime, its own client with the function's SDK settings), making the calls
/// one invocation makes (the key's record, the type and the lead in one `BatchGetItem`, then a
/// `PutItem` of an item of the event's size) when asked, and answering with its CPU time.
struct DirectLoop {
    requests: std::sync::mpsc::Sender<usize>,
    results: std::sync::mpsc::Receiver<Cpu>,
}

impl DirectLoop {
    fn start(endpoint: &str, table: &str, key: &ApiKey) -> Self {
        let (requests, asked) = std::sync::mpsc::channel::<usize>();
        let (answer, results) = std::sync::mpsc::channel();
        let (endpoint, table, key) = (endpoint.to_owned(), table.to_owned(), key.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let client = runtime.block_on(async {
                let sdk = conversions::config::load_sdk_config()
                    .await
                    .expect("the SDK's configuration");
                aws_sdk_dynamodb::Client::from_conf(config_for(&sdk, &endpoint).build())
            });
            runtime.block_on(direct_calls(&client, &table, &key, 50));
            while let Ok(n) = asked.recv() {
                let before = thread_cpu();
                runtime.block_on(direct_calls(&client, &table, &key, n));
                if answer.send(thread_cpu() - before).is_err() {
                    return;
                }
            }
        });
        Self { requests, results }
    }

    /// Runs `n` iterations; the CPU time they took.
    fn run(&self, n: usize) -> Cpu {
        self.requests.send(n).expect("the direct loop runs");
        self.results.recv().expect("the direct loop answers")
    }
}

/// The calls of one invocation, `n` times.
async fn direct_calls(client: &aws_sdk_dynamodb::Client, table: &str, key: &ApiKey, n: usize) {
    let s = |v: String| AttributeValue::S(v);
    let account_pk = format!("ACCOUNT#{DEMO_ACCOUNT_ID}");
    let keys: Vec<HashMap<String, AttributeValue>> = [
        (
            format!("APIKEY#{}", key.hash().as_str()),
            "APIKEY".to_owned(),
        ),
        (
            account_pk.clone(),
            format!(
                "CONVERSION_TYPE#{}",
                conversions::seed::DEMO_CONVERSION_TYPE_ID
            ),
        ),
        (
            account_pk.clone(),
            format!("LEAD#{}", conversions::seed::DEMO_LEAD_ID),
        ),
    ]
    .into_iter()
    .map(|(pk, sk)| HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))]))
    .collect();
    let round = |count: usize| {
        let keys = keys.clone();
        let account_pk = account_pk.clone();
        async move {
            for _ in 0..count {
                let read = KeysAndAttributes::builder()
                    .set_keys(Some(keys.clone()))
                    .consistent_read(true)
                    .build()
                    .unwrap();
                client
                    .batch_get_item()
                    .request_items(table, read)
                    .send()
                    .await
                    .expect("BatchGetItem");
                // An item of the size and shape of a minimal event.
                let id = uuid::Uuid::new_v4().to_string();
                let mut put = client
                    .put_item()
                    .table_name(table)
                    .item("pk", s(account_pk.clone()))
                    .item("sk", s(format!("DIRECT#{id}")))
                    .item("amount", AttributeValue::N("85000.00".into()))
                    .condition_expression("attribute_not_exists(pk)");
                for name in [
                    "id",
                    "conversion_type_id",
                    "lead_id",
                    "workflow_id",
                    "lead_key",
                    "conversion_type_key",
                    "workflow_key",
                    "converted_sk",
                    "write_token",
                    "converted_at",
                    "created_at",
                    "amount_text",
                    "currency",
                    "metadata",
                ] {
                    put = put.item(name, s(format!("{id}#{name}")));
                }
                put.send().await.expect("PutItem");
            }
        }
    };
    round(n).await;
}
