//! The floor the function's CPU is compared with: the DynamoDB calls one invocation makes (the
//! key's record, the type and the lead in one `BatchGetItem`, then a conditional `PutItem` of an
//! item of the event's size), made directly with the SDK in a loop, in a process of its own
//! started as the function is (this bench's executable again, `BENCH_DIRECT_LOOP` set, the same
//! environment): one thread on a current-thread runtime, the SDK configured by the function's
//! own `load_sdk_config`. It reads a count on standard input, makes the calls that many times
//! and answers `done`, so that its CPU is measured from `/proc` the way the function's is, and
//! callgrind can count its instructions the same way.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID};

use crate::emulator::{Cpu, Killed, process_cpu, with_aws_environment};

/// Set in the environment of the bench's executable to make it the direct loop.
pub const MODE: &str = "BENCH_DIRECT_LOOP";
/// Iterations before the first measurement: the connection opened, the allocator settled.
pub const WARM_UP: usize = 50;

/// The direct loop's process, seen from the bench.
pub struct DirectLoop {
    child: Killed,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl DirectLoop {
    /// Starts the loop with `wrapper` (valgrind, say) before it, and runs its warm-up.
    pub fn start(wrapper: &[&str], endpoint: &str, table: &str, key_hash: &str) -> Self {
        let exe = std::env::current_exe().expect("the bench's executable");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        command
            .env_clear()
            .env(MODE, "1")
            .env("TABLE_NAME", table)
            .env("BENCH_KEY_HASH", key_hash);
        let mut child = with_aws_environment(&mut command, endpoint)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the direct loop starts");
        let input = child.stdin.take().expect("its input");
        let output = BufReader::new(child.stdout.take().expect("its output"));
        let mut direct = Self {
            child: Killed(child),
            input,
            output,
        };
        direct.iterate(WARM_UP);
        direct
    }

    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Makes the calls `n` times.
    pub fn iterate(&mut self, n: usize) {
        writeln!(self.input, "{n}").expect("the direct loop reads");
        let mut line = String::new();
        self.output
            .read_line(&mut line)
            .expect("the direct loop answers");
        assert_eq!(line.trim(), "done", "the direct loop failed");
    }

    /// Makes the calls `n` times; the CPU time that took the process.
    pub fn run(&mut self, n: usize) -> Cpu {
        let before = process_cpu(self.pid());
        self.iterate(n);
        process_cpu(self.pid()) - before
    }
}

/// The direct loop itself, in its own process: counts in, `done` out.
pub fn serve() {
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME");
    let key_hash = std::env::var("BENCH_KEY_HASH").expect("BENCH_KEY_HASH");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let client = runtime.block_on(async {
        let sdk = conversions::config::load_sdk_config()
            .await
            .expect("the SDK's configuration");
        aws_sdk_dynamodb::Client::new(&sdk)
    });
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let n: usize = line.expect("a count").trim().parse().expect("a count");
        runtime.block_on(direct_calls(&client, &table, &key_hash, n));
        writeln!(out, "done")
            .and_then(|()| out.flush())
            .expect("the bench reads");
    }
}

/// The calls of one invocation, `n` times.
async fn direct_calls(client: &aws_sdk_dynamodb::Client, table: &str, key_hash: &str, n: usize) {
    let s = |v: String| AttributeValue::S(v);
    let account_pk = format!("ACCOUNT#{DEMO_ACCOUNT_ID}");
    let keys: Vec<HashMap<String, AttributeValue>> = [
        (format!("APIKEY#{}", key_hash), "APIKEY".to_owned()),
        (
            account_pk.clone(),
            format!("CONVERSION_TYPE#{DEMO_CONVERSION_TYPE_ID}"),
        ),
        (account_pk.clone(), format!("LEAD#{DEMO_LEAD_ID}")),
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
