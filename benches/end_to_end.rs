//! `make bench`, end to end: the release `conversions` binary under a minimal Lambda Runtime API
//! emulator (below), against the local dynalite that `scripts/with-test-servers.sh` starts.
//!
//! - cold start: spawn to the first `/runtime/invocation/next`, median of 20 spawns, and the
//!   first invocation's latency beside a warm one's;
//! - sequential invocations: invocations/s, latency p50/p99, the function's own CPU per
//!   invocation (from `/proc/<pid>/stat`), beside a loop making the same DynamoDB calls directly
//!   with the SDK in this process, in the same run;
//! - several invocations per process (`AWS_LAMBDA_MAX_CONCURRENCY` 1, 8, 32), every answer a 201;
//! - footprint: the stripped binary's size, the process's peak RSS.
//!
//! Times are this machine's and vary between runs; the ratios are what to compare.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use conversions::domain::{AccountId, ApiKey};
use conversions::seed::{DEMO_ACCOUNT_ID, seed_demo};
use conversions::store::{DynamoStore, Provisioning, create_table};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

const BINARY: &str = env!("CARGO_BIN_EXE_conversions");

/// The Runtime API's invocation loop, as much of it as the runtime client uses: `next` hands out
/// queued events, `response` and `error` answer them.
#[derive(Clone)]
struct Emulator {
    address: String,
    queue: mpsc::UnboundedSender<(String, String)>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<String>>>>,
    first_next: Arc<Mutex<Option<Instant>>>,
}

impl Emulator {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("an address").to_string();
        let (queue, events) = mpsc::unbounded_channel();
        let events = Arc::new(tokio::sync::Mutex::new(events));
        let emulator = Self {
            address,
            queue,
            waiting: Arc::default(),
            first_next: Arc::default(),
        };
        let serving = emulator.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serving.clone().connection(stream, events.clone()));
            }
        });
        emulator
    }

    async fn connection(
        self,
        stream: TcpStream,
        events: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, String)>>>,
    ) {
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        loop {
            let mut line = String::new();
            if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            let mut length = 0;
            loop {
                let mut header = String::new();
                if read.read_line(&mut header).await.unwrap_or(0) == 0 {
                    return;
                }
                if header.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if read.read_exact(&mut body).await.is_err() {
                return;
            }
            let answer = if path.ends_with("/invocation/next") {
                self.first_next
                    .lock()
                    .unwrap()
                    .get_or_insert_with(Instant::now);
                let Some((id, event)) = events.lock().await.recv().await else {
                    return;
                };
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Lambda-Runtime-Aws-Request-Id: {id}\r\n\
                     Lambda-Runtime-Deadline-Ms: {}\r\n\
                     Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:conversions\r\n\
                     Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\
                     Content-Length: {}\r\n\r\n{event}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_millis()
                        + 10_000,
                    event.len()
                )
            } else {
                // `/invocation/<id>/response`, `/invocation/<id>/error`, `/init/error`.
                let id = path.split('/').nth(4).unwrap_or("").to_owned();
                let sender = self.waiting.lock().unwrap().remove(&id);
                if let Some(sender) = sender {
                    let _ = sender.send(String::from_utf8_lossy(&body).into_owned());
                } else {
                    eprintln!(
                        "the function reported {path}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                    .to_owned()
            };
            if write.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    /// Queues one event and waits for the function's answer.
    async fn invoke(&self, event: String) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let (answer, answered) = oneshot::channel();
        self.waiting.lock().unwrap().insert(id.clone(), answer);
        self.queue.send((id, event)).expect("the emulator runs");
        answered.await.expect("the function answers")
    }
}

/// The function, started as Lambda starts it.
fn spawn(runtime_api: &str, endpoint: &str, table: &str, concurrency: usize) -> Child {
    Command::new(BINARY)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "conversions")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_MAX_CONCURRENCY", concurrency.to_string())
        .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the release binary starts")
}

/// CPU seconds a process has used (user + system), from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc is readable");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("a stat line")
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    let output = Command::new("getconf").arg("CLK_TCK").output();
    output
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The peak resident set of a process, in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// The `create-minimal` fixture, sent with the given key.
fn event(key: &ApiKey) -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/create-minimal.json"
    ))
    .expect("the fixture");
    let mut event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    event["headers"]["x-api-key"] = key.expose().into();
    event.to_string()
}

fn status(answer: &str) -> u64 {
    let answer: serde_json::Value = serde_json::from_str(answer).expect("a JSON answer");
    answer["statusCode"].as_u64().unwrap_or(0)
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
    let sdk = conversions::config::load_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&endpoint)
            .build(),
    );
    let table = format!("bench-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table).await.expect("a table");
    let store = DynamoStore::new(client.clone(), &table);
    seed_demo(&store).await.expect("the demo account");
    let account = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
    let key = ApiKey::generate_for(account);
    store.put_api_key(&key.hash(), account).await.unwrap();
    let event = event(&key);

    // Cold start.
    let mut to_first_next = Vec::new();
    let mut first_invocation = Vec::new();
    let mut warm_invocation = Vec::new();
    for _ in 0..20 {
        let emulator = Emulator::start().await;
        let spawned = Instant::now();
        let mut child = spawn(&emulator.address, &endpoint, &table, 1);
        let started = Instant::now();
        assert_eq!(status(&emulator.invoke(event.clone()).await), 201);
        first_invocation.push(ms(started.elapsed()));
        let first_next = emulator
            .first_next
            .lock()
            .unwrap()
            .expect("the function polled");
        to_first_next.push(ms(first_next - spawned));
        let started = Instant::now();
        assert_eq!(status(&emulator.invoke(event.clone()).await), 201);
        warm_invocation.push(ms(started.elapsed()));
        child.kill().ok();
        child.wait().ok();
    }
    for samples in [
        &mut to_first_next,
        &mut first_invocation,
        &mut warm_invocation,
    ] {
        samples.sort_by(f64::total_cmp);
    }

    // Sequential invocations, and the same DynamoDB calls made directly.
    const SEQUENTIAL: usize = 1_000;
    let emulator = Emulator::start().await;
    let mut child = spawn(&emulator.address, &endpoint, &table, 1);
    for _ in 0..50 {
        emulator.invoke(event.clone()).await;
    }
    let pid = child.id().to_string();
    let cpu_before = cpu_seconds(&pid);
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let one = Instant::now();
        assert_eq!(status(&emulator.invoke(event.clone()).await), 201);
        latencies.push(ms(one.elapsed()));
    }
    let elapsed = started.elapsed();
    let function_cpu = (cpu_seconds(&pid) - cpu_before) / SEQUENTIAL as f64;
    let rss = peak_rss_mb(child.id());
    child.kill().ok();
    child.wait().ok();
    latencies.sort_by(f64::total_cmp);

    let direct_cpu = direct_calls(&client, &table, &key, SEQUENTIAL).await;

    // Several invocations per process.
    let mut concurrent = Vec::new();
    for concurrency in [1usize, 8, 32] {
        const INVOCATIONS: usize = 1_000;
        let emulator = Emulator::start().await;
        let mut child = spawn(&emulator.address, &endpoint, &table, concurrency);
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

    let size = std::fs::metadata(BINARY).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0;
    println!("\nend to end: the release binary under a Runtime API emulator, local dynalite");
    println!("cold start, 20 spawns (median):");
    println!(
        "  spawn to first /next {:>8.1} ms    first invocation {:>6.1} ms    warm invocation {:>6.1} ms",
        percentile(&to_first_next, 0.5),
        percentile(&first_invocation, 0.5),
        percentile(&warm_invocation, 0.5)
    );
    println!(
        "{SEQUENTIAL} sequential POST /conversions (key naming its account: BatchGetItem + PutItem):"
    );
    println!(
        "  {:.0} invocations/s    latency p50 {:.2} ms  p99 {:.2} ms",
        SEQUENTIAL as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    println!(
        "  function CPU {:.0} µs/invocation    direct SDK loop, same calls {:.0} µs    ratio {:.2}x",
        function_cpu * 1e6,
        direct_cpu * 1e6,
        function_cpu / direct_cpu
    );
    println!("several invocations per process (AWS_LAMBDA_MAX_CONCURRENCY):");
    for (concurrency, rate, created, total, rss) in concurrent {
        println!(
            "  {concurrency:>2}: {rate:>6.0} invocations/s, {created}/{total} answered 201, peak RSS {rss:.1} MB"
        );
    }
    println!(
        "footprint: stripped binary {size:.1} MB (x86_64), peak RSS {rss:.1} MB (sequential run)"
    );
}

/// The calls one invocation makes (the key's record, the type and the lead in one
/// `BatchGetItem`, then a `PutItem`), made `n` times with the SDK in this process, with the
/// function's own SDK settings: this process's CPU per iteration.
async fn direct_calls(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: &ApiKey,
    n: usize,
) -> f64 {
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
    let pid = std::process::id().to_string();
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
    round(50).await;
    let before = cpu_seconds(&pid);
    round(n).await;
    (cpu_seconds(&pid) - before) / n as f64
}
