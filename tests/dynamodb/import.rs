//! `conversions-admin import` on both local servers: a 10,000-row file with bad rows in it,
//! stopped halfway (SIGKILL, then Ctrl-C's SIGINT) and run again, stores every good row once and
//! puts every bad row in the rejects file; reference data is created, found or refused by the
//! create rule (a dry run finds what it would); a deactivated type's history is imported;
//! throttling is waited out; on a terminal, progress is a bar.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use conversions::domain::AccountId;
use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID};
use conversions::service::WRITES_AT_ONCE;
use serde_json::Value;

use crate::admin::Admin;
use crate::helpers::proxy::{Fault, FaultProxy};
use crate::helpers::{Backend, on_each_backend};

const ROWS: usize = 10_000;

/// A folder of its own, removed afterwards.
pub(crate) struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    pub(crate) fn new() -> Self {
        let path = std::env::temp_dir().join(format!("import-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&path).unwrap();
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
/// The admin CLI on a table of its own with the demo account.
pub(crate) fn demo_admin(backend: &Backend) -> Admin<'_> {
    let admin = Admin::new(backend);
    for setup in [&["create-tables"][..], &["seed-demo"]] {
        assert!(admin.run(setup).status.success(), "{}", backend.name);
    }
    admin
}

/// Every this many rows, one that the API refuses.
const BAD_EVERY: usize = 97;

pub(crate) fn summary(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "one JSON document: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// `rows` conversions of the demo lead, every `BAD_EVERY`th one refused by the API.
fn write_file(path: &Path, rows: usize) -> BTreeSet<String> {
    let mut text =
        String::from("idempotency_key,conversion_type_id,lead_id,amount,metadata.broker\n");
    let mut good = BTreeSet::new();
    for i in 0..rows {
        let amount = if i % BAD_EVERY == 0 {
            "-1".to_owned()
        } else {
            format!("{i}.25")
        };
        if i % BAD_EVERY != 0 {
            good.insert(format!("row-{i}"));
        }
        text +=
            &format!("row-{i},{DEMO_CONVERSION_TYPE_ID},{DEMO_LEAD_ID},{amount},\"Broker, {i}\"\n");
    }
    std::fs::write(path, text).unwrap();
    good
}

async fn stored(backend: &Backend, table: &str) -> Vec<usize> {
    let table = crate::helpers::Table::on(backend, table);
    let ids = table
        .stored_event_ids(AccountId::parse(DEMO_ACCOUNT_ID).unwrap())
        .await;
    ids.into_values().collect()
}

#[tokio::test]
async fn an_import_stopped_halfway_resumes_and_stores_every_good_row_once() {
    on_each_backend(|backend| async move {
        for signal in ["KILL", "INT"] {
            let context = format!("{}: SIG{signal}", backend.name);
            let admin = demo_admin(&backend);
            let dir = ScratchDir::new();
            let file = dir.path().join("history.csv");
            let good = write_file(&file, ROWS);
            let args = [
                "import",
                "conversions",
                file.to_str().unwrap(),
                "--account",
                DEMO_ACCOUNT_ID,
                "--max-errors",
                "1000",
            ];
            let mut child = admin
                .command(&backend.endpoint, &args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let checkpoint = dir.path().join("history.csv.checkpoint.json");
            // Halfway: once the checkpoint has passed row 4,000.
            loop {
                let line = std::fs::read(&checkpoint)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .and_then(|c| c["next"]["line"].as_u64())
                    .unwrap_or(0);
                if line > 4_000 {
                    break;
                }
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "{context}: finished before halfway"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let pid = child.id().to_string();
            std::process::Command::new("kill")
                .args([&format!("-{signal}"), &pid])
                .status()
                .unwrap();
            let stopped = child.wait_with_output().unwrap();
            if signal == "INT" {
                assert_eq!(stopped.status.code(), Some(1), "{context}");
                assert_eq!(summary(&stopped)["stopped"], "interrupted", "{context}");
            }
            assert!(checkpoint.exists(), "{context}: the checkpoint is kept");
            let resumed = admin.run(&args);
            assert_eq!(
                resumed.status.code(),
                Some(3),
                "{context}: finished with rejects"
            );
            let resumed = summary(&resumed);
            assert!(
                resumed["resumed_from_line"].as_u64().unwrap() > 4_000,
                "{context}: {resumed}"
            );
            assert!(
                !checkpoint.exists(),
                "{context}: a finished import leaves no checkpoint"
            );
            // Every good row once; every bad row in the rejects, once, with its line.
            let counts = stored(&backend, &admin.table).await;
            assert_eq!(counts.len(), good.len(), "{context}");
            assert!(counts.iter().all(|n| *n == 1), "{context}");
            let rejects =
                std::fs::read_to_string(dir.path().join("history.csv.rejects.csv")).unwrap();
            let mut reader = csv::Reader::from_reader(rejects.as_bytes());
            let lines: Vec<u64> = reader
                .records()
                .map(|r| r.unwrap()[0].parse().unwrap())
                .collect();
            let expected: Vec<u64> = (0..ROWS)
                .filter(|i| i % BAD_EVERY == 0)
                .map(|i| i as u64 + 2)
                .collect();
            assert_eq!(lines, expected, "{context}: each bad row once, by its line");
            assert!(
                rejects.contains("amount must be a non-negative number"),
                "{context}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn reference_data_is_created_found_or_refused_and_a_deactivated_types_history_imports() {
    on_each_backend(|backend| async move {
        let context = backend.name.clone();
        let admin = demo_admin(&backend);
        let dir = ScratchDir::new();
        let run = |kind: &str, name: &str, text: &str, more: &[&str]| {
            let file = dir.path().join(name);
            std::fs::write(&file, text).unwrap();
            let args = ["import", kind, file.to_str().unwrap(), "--account", DEMO_ACCOUNT_ID];
            admin.run(&[&args[..], more].concat())
        };
        let import = |kind: &str, name: &str, text: &str| run(kind, name, text, &[]);
        let old_type = "5f0c6d3e-0000-4000-8000-000000000001";
        let types = format!(
            "{{\"id\":\"{old_type}\",\"name\":\"Venta 2019\",\"category\":\"final\",\"currency\":\"CLP\",\"workflow_id\":\"123e4567-e89b-12d3-a456-426614174300\",\"active\":false,\"fields\":[{{\"key\":\"broker\",\"label\":\"Broker\",\"type\":\"text\"}}]}}\n{{\"id\":\"{DEMO_CONVERSION_TYPE_ID}\",\"name\":\"Not Reserva\",\"category\":\"final\",\"currency\":\"USD\",\"workflow_id\":\"123e4567-e89b-12d3-a456-426614174300\"}}\n"
        );
        // A dry run finds what the create rule would, and writes nothing.
        let output = run("conversion-types", "types.jsonl", &types, &["--dry-run"]);
        let result = summary(&output);
        assert_eq!((result["valid"].as_u64(), result["rejected"].as_u64()), (Some(1), Some(1)), "{context}: {result}");
        let output = import("conversion-types", "types.jsonl", &types);
        assert_eq!(output.status.code(), Some(3), "{context}: {}", String::from_utf8_lossy(&output.stderr));
        let result = summary(&output);
        assert_eq!((result["created"].as_u64(), result["rejected"].as_u64()), (Some(1), Some(1)), "{context}: {result}");
        let rejects = std::fs::read_to_string(dir.path().join("types.jsonl.rejects.jsonl")).unwrap();
        assert!(rejects.contains("exists with other values"), "{context}: {rejects}");

        let lead = "5f0c6d3e-0000-4000-8000-0000000000aa";
        let leads = format!("id,created_at\n{lead},2019-03-01T10:00:00Z\n{DEMO_LEAD_ID},\n");
        let result = summary(&import("leads", "leads.csv", &leads));
        assert_eq!((result["created"].as_u64(), result["existing"].as_u64()), (Some(1), Some(1)), "{context}: {result}");
        let runs = format!(
            "id,lead_id,workflow_id,master_workflow_id\n5f0c6d3e-0000-4000-8000-0000000000bb,{lead},123e4567-e89b-12d3-a456-426614174300,\n5f0c6d3e-0000-4000-8000-0000000000cc,5f0c6d3e-0000-4000-8000-0000000000dd,123e4567-e89b-12d3-a456-426614174300,\n"
        );
        let output = import("workflow-runs", "runs.csv", &runs);
        assert_eq!(output.status.code(), Some(3), "{context}");
        assert_eq!(summary(&output)["created"], 1, "{context}");

        // A conversion of the deactivated type: an imported history is recorded as it happened.
        let history = format!(
            "idempotency_key,conversion_type_id,lead_id,amount,converted_at,metadata.broker\nsale-2019-1,{old_type},{lead},150000,2019-04-01T12:00:00Z,Ana\n"
        );
        let output = import("conversions", "history.csv", &history);
        assert_eq!(output.status.code(), Some(0), "{context}: {}", String::from_utf8_lossy(&output.stdout));
        assert_eq!(summary(&output)["created"], 1, "{context}");
        let again = summary(&import("conversions", "history.csv", &history));
        assert_eq!(again["existing"], 1, "{context}: the same rows again are replayed");
    })
    .await;
}

/// Throttled puts and reads, more than the SDK's own attempts absorb: the importer backs off and
/// sends the rows again until each is stored, once.
#[tokio::test]
async fn an_import_backs_off_while_dynamodb_throttles_and_stores_every_row_once() {
    on_each_backend(|backend| async move {
        let context = backend.name.clone();
        let admin = demo_admin(&backend);
        let dir = ScratchDir::new();
        let leads = dir.path().join("leads.csv");
        let lead = |i: usize| format!("00000000-0000-4000-8000-{i:012}");
        let text: String = (0..150).map(|i| format!("{}\n", lead(i))).collect();
        std::fs::write(&leads, format!("id\n{text}")).unwrap();
        let events = dir.path().join("events.csv");
        let text: String = (0..250)
            .map(|i| {
                format!(
                    "throttled-{i},{DEMO_CONVERSION_TYPE_ID},{},{i}.25\n",
                    lead(i % 150)
                )
            })
            .collect();
        std::fs::write(
            &events,
            format!("idempotency_key,conversion_type_id,lead_id,amount\n{text}"),
        )
        .unwrap();
        let proxy = FaultProxy::start(&backend.endpoint).await;
        let throttled = Fault::Error {
            status: 400,
            code: "ThrottlingException",
        };
        // No call gets through before the throttles are spent, and at most 16 puts (or the two
        // reads of a check) are in flight, each with the SDK's 3 attempts: some must give up,
        // and only the importer's own back-off sends them again.
        // A lead is one put; a conversion two, the feed's change and the event.
        for (kind, file, rows, reads, puts_a_row) in [
            ("leads", &leads, 150, 0, 1),
            ("conversions", &events, 250, 2, 2),
        ] {
            let (puts, gets) = (proxy.count("PutItem"), proxy.count("BatchGetItem"));
            proxy.fail("PutItem", throttled, 3 * WRITES_AT_ONCE);
            proxy.fail("BatchGetItem", throttled, 3 * reads);
            let mut command = admin.command(&proxy.endpoint(), &["import", kind]);
            command.arg(file).args(["--account", DEMO_ACCOUNT_ID]);
            // Waited for off the runtime's thread, which serves the proxy meanwhile.
            let output = tokio::task::spawn_blocking(move || command.output().unwrap())
                .await
                .unwrap();
            let result = summary(&output);
            assert_eq!(output.status.code(), Some(0), "{context}: {kind}: {result}");
            assert_eq!(result["created"], rows, "{context}: {kind}: {result}");
            // Every throttle injected, and each throttled put sent again: one that got through
            // a row, and one more for each throttle.
            proxy.assert_spent(&context);
            let sent = proxy.count("PutItem") - puts;
            assert_eq!(
                sent,
                puts_a_row * rows + 3 * WRITES_AT_ONCE,
                "{context}: {kind}: puts sent"
            );
            assert!(
                proxy.count("BatchGetItem") - gets >= 3 * reads,
                "{context}: {kind}"
            );
            let rejects = format!("{}.rejects.csv", file.display());
            assert!(!Path::new(&rejects).exists(), "{context}: none when none");
        }
        let counts = stored(&backend, &admin.table).await;
        assert_eq!(counts.len(), 250, "{context}");
        assert!(counts.iter().all(|n| *n == 1), "{context}");
    })
    .await;
}

/// On a terminal (`script` gives the import one), progress is a bar with the counts, the rate
/// and the time left; the summary still comes, on standard output.
#[test]
fn on_a_terminal_progress_is_a_bar_with_counts_rate_and_eta() {
    let backend = crate::helpers::backends().remove(0);
    let admin = demo_admin(&backend);
    let dir = ScratchDir::new();
    let file = dir.path().join("history.csv");
    write_file(&file, 500);
    let import = admin.command(&backend.endpoint, &[]);
    let line = format!(
        "{} import conversions {} --account {DEMO_ACCOUNT_ID} --max-errors 1000",
        import.get_program().to_str().unwrap(),
        file.display()
    );
    let mut script = std::process::Command::new("script");
    script.args(["--quiet", "--return", "--command", &line, "/dev/null"]);
    for (name, value) in import.get_envs() {
        match value {
            Some(value) => script.env(name, value),
            None => script.env_remove(name),
        };
    }
    let output = script.env("TERM", "xterm").output().unwrap();
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{terminal}");
    for shown in ["created ", "rejected ", " rows/s)", "ETA ", "\"created\":"] {
        assert!(terminal.contains(shown), "{shown:?} in {terminal}");
    }
}

/// Adjustments in bulk, as a CRM syncs cancellations: events named by id or by the key they were
/// created with, each event's rows applied in file order, bad rows rejected with their reasons,
/// a run stopped by failures resumed, and a second run of the file finding every row there.
#[tokio::test]
async fn adjustments_are_imported_in_file_order_once_and_resumed() {
    on_each_backend(|backend| async move {
        let admin = demo_admin(&backend);
        let scratch = ScratchDir::new();
        // 120 conversions (two chunks of adjustments), keyed `c-<i>`.
        let conversions = scratch.path().join("conversions.csv");
        let mut text = String::from("idempotency_key,conversion_type_id,lead_id,amount\n");
        for i in 0..120 {
            text += &format!("c-{i},{DEMO_CONVERSION_TYPE_ID},{DEMO_LEAD_ID},100.00\n");
        }
        std::fs::write(&conversions, text).unwrap();
        let run = |kind: &str, file: &Path| {
            admin.run(&["import", kind, file.to_str().unwrap(), "--account", DEMO_ACCOUNT_ID])
        };
        assert_eq!(summary(&run("conversions", &conversions))["created"], 120);
        let app = admin.app();
        let id_of = |i: usize| {
            let key = conversions::domain::IdempotencyKey::parse(format!("c-{i}").as_bytes()).unwrap();
            key.event_id(AccountId::parse(DEMO_ACCOUNT_ID).unwrap()).to_string()
        };
        // Each event restated to 90, then (odd ones) retracted; every 10th named by its id; and
        // bad rows: an unknown event, a restatement after a retraction, a retraction with an
        // amount.
        let adjustments = scratch.path().join("adjustments.jsonl");
        let mut lines = Vec::new();
        let mut bad = 0;
        for i in 0..120 {
            let event = if i % 10 == 0 {
                format!(r#""conversion_event_id":"{}""#, id_of(i))
            } else {
                format!(r#""conversion_idempotency_key":"c-{i}""#)
            };
            lines.push(format!(r#"{{{event},"idempotency_key":"r-{i}","type":"restatement","amount":90.00}}"#));
            if i % 2 == 1 {
                lines.push(format!(r#"{{{event},"idempotency_key":"x-{i}","type":"retraction","reason":"cancelled"}}"#));
            }
            if i % 40 == 3 {
                lines.push(format!(r#"{{{event},"idempotency_key":"late-{i}","type":"restatement","amount":1}}"#));
                bad += 1;
            }
        }
        lines.push(r#"{"conversion_idempotency_key":"nobody","idempotency_key":"u","type":"retraction"}"#.to_owned());
        lines.push(r#"{"conversion_idempotency_key":"c-0","idempotency_key":"v","type":"retraction","amount":3}"#.to_owned());
        bad += 2;
        std::fs::write(&adjustments, lines.join("\n") + "\n").unwrap();
        let applied = lines.len() - bad;

        // Stopped partway by failures no retry fixes, then resumed to the end.
        let proxy = FaultProxy::start(&backend.endpoint).await;
        proxy.fail("UpdateItem", Fault::Error { status: 400, code: "ValidationException" }, 1);
        // Off the runtime: the proxy serves on it.
        let stopped = {
            let (backend, table) = (backend.clone(), admin.table.clone());
            let (endpoint, file) = (proxy.endpoint(), adjustments.clone());
            tokio::task::spawn_blocking(move || {
                let file = file.to_str().unwrap().to_owned();
                let args = ["import", "adjustments", &file, "--account", DEMO_ACCOUNT_ID];
                crate::admin::Admin::on(&backend, &table).run_at(&endpoint, &args)
            })
            .await
            .unwrap()
        };
        assert_eq!(stopped.status.code(), Some(1), "{}: {}", backend.name, String::from_utf8_lossy(&stopped.stderr));
        proxy.assert_spent(&backend.name);
        let resumed = run("adjustments", &adjustments);
        let done = summary(&resumed);
        assert_eq!(resumed.status.code(), Some(3), "{}: {done}", backend.name);
        assert_eq!(done["rows"], lines.len(), "{}: {done}", backend.name);
        assert_eq!(done["rejected"], bad, "{}: {done}", backend.name);
        assert_eq!(done["created"].as_u64().unwrap() + done["existing"].as_u64().unwrap(), applied as u64);
        let rejects_file = done["rejects_file"].as_str().unwrap().to_owned();
        let rejects = std::fs::read_to_string(&rejects_file).unwrap();
        for reason in [
            conversions::domain::RETRACTED,
            "Conversion event not found or does not belong to your account",
            conversions::http::NO_AMOUNT_FOR_RETRACTION,
        ] {
            assert!(rejects.contains(reason), "{}: {reason}: {rejects}", backend.name);
        }
        assert_eq!(rejects.lines().count(), bad, "{}", backend.name);

        // Each event holds its rows once, in file order.
        for i in 0..120 {
            let read = app
                .handle(
                    conversions::http::Request::new("GET", &format!("/conversions/{}", id_of(i)))
                        .with_header("x-api-key", conversions::seed::DEMO_API_KEY),
                )
                .await;
            let event = serde_json::from_str::<Value>(read.body()).unwrap()["conversion_event"].take();
            let kinds: Vec<&str> = event["adjustments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["type"].as_str().unwrap())
                .collect();
            let expected: &[&str] = if i % 2 == 1 { &["restatement", "retraction"] } else { &["restatement"] };
            assert_eq!(kinds, expected, "{}: event {i}", backend.name);
        }
        // The whole file again: every good row is there already.
        std::fs::remove_file(&rejects_file).unwrap();
        let again = summary(&run("adjustments", &adjustments));
        assert_eq!((again["created"].as_u64(), again["existing"].as_u64()), (Some(0), Some(applied as u64)), "{}: {again}", backend.name);
    })
    .await;
}
