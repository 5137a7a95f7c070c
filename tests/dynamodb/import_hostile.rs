//! The importer's rule (src/admin/import.rs) as a property, on both servers: for any file mixing
//! good rows with every kind of bad one (wrong cell counts, quoted commas and line breaks,
//! invalid UTF-8, a byte order mark, CRLF, blank lines, keys repeated in and across chunks,
//! malformed JSON), however runs before the last stop (SIGKILL, SIGINT, a dry run stopped by
//! `--fail-fast`), the last run leaves every good row stored once and every bad row in the
//! rejects once, at its line. Then each way a file or a run misbehaved, one by one.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use conversions::domain::{AccountId, IdempotencyKey};
use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

use crate::admin::Admin;
use crate::helpers::{Backend, Table, backends};
use crate::import::{ScratchDir, demo_admin, summary};

#[derive(Debug, Clone)]
enum Kind {
    /// Stored: its notes may hold a comma, a quote or a line break.
    Good { notes: &'static str },
    /// Refused by the API (a negative amount).
    Refused,
    /// CSV: one cell too many; JSON Lines: not JSON.
    TooLong,
    /// CSV: one cell too few; JSON Lines: a member twice.
    TooShort,
    /// A byte that is not UTF-8 in its notes.
    NotUtf8,
    /// No row at all.
    Blank,
    /// The key and values of the nth row before it, when that one is good: found `existing`,
    /// or refused as a repeat within its chunk.
    Again(usize),
    /// The key of the nth row before it with another amount: refused.
    Reused(usize),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        8 => prop::sample::select(vec!["", "Paid, in cash", "said \"yes\"", "two\nlines"])
            .prop_map(|notes| Kind::Good { notes }),
        1 => Just(Kind::Refused),
        1 => Just(Kind::TooLong),
        1 => Just(Kind::TooShort),
        1 => Just(Kind::NotUtf8),
        1 => Just(Kind::Blank),
        1 => (1usize..150).prop_map(Kind::Again),
        1 => (1usize..150).prop_map(Kind::Reused),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Stop {
    Kill(u64),
    Interrupt(u64),
    DryRunFailFast,
}

fn stop() -> impl Strategy<Value = Stop> {
    prop_oneof![
        (0u64..600).prop_map(Stop::Kill),
        (0u64..600).prop_map(Stop::Interrupt),
        Just(Stop::DryRunFailFast),
    ]
}

#[derive(Debug, Clone)]
struct Plan {
    rows: Vec<Kind>,
    csv: bool,
    crlf: bool,
    bom: bool,
    stops: Vec<Stop>,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        prop::collection::vec(kind(), 150..320),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(stop(), 0..3),
    )
        .prop_map(|(rows, csv, crlf, bom, stops)| Plan {
            rows,
            csv,
            crlf,
            bom,
            stops,
        })
}

/// What a file must come to, worked out from the plan (not by the importer's reader).
#[derive(Debug, Default)]
struct Expected {
    /// Keys stored, each once.
    stored: BTreeSet<String>,
    /// Lines that must be in the rejects, and those that may be (a repeat within a chunk).
    rejected: BTreeSet<u64>,
    maybe_rejected: BTreeSet<u64>,
    rows: u64,
}

enum Outcome {
    Stored(String, String, &'static str),
    Rejected,
    Either,
}

/// The file's bytes and what they must come to.
fn write_plan(plan: &Plan) -> (Vec<u8>, Expected) {
    let end: &[u8] = if plan.crlf { b"\r\n" } else { b"\n" };
    let mut out: Vec<u8> = Vec::new();
    if plan.bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    if plan.csv {
        out.extend_from_slice(b"idempotency_key,conversion_type_id,lead_id,amount,notes");
        out.extend_from_slice(end);
    }
    let close = if plan.csv { "" } else { "}" };
    let row = |key: &str, amount: &str, notes: &[u8], extra: &str| -> Vec<u8> {
        let mut bytes = Vec::new();
        if plan.csv {
            let head = format!("{key},{DEMO_CONVERSION_TYPE_ID},{DEMO_LEAD_ID},{amount},\"");
            bytes.extend_from_slice(head.as_bytes());
            for b in notes {
                bytes.extend_from_slice(if *b == b'"' {
                    b"\"\""
                } else {
                    std::slice::from_ref(b)
                });
            }
            bytes.push(b'"');
        } else {
            let head = format!(
                "{{\"idempotency_key\":\"{key}\",\"conversion_type_id\":\"{DEMO_CONVERSION_TYPE_ID}\",\"lead_id\":\"{DEMO_LEAD_ID}\",\"amount\":{amount},\"notes\":"
            );
            bytes.extend_from_slice(head.as_bytes());
            match std::str::from_utf8(notes) {
                Ok(text) => bytes.extend_from_slice(Value::from(text).to_string().as_bytes()),
                Err(_) => bytes.extend_from_slice(&[b"\"", notes, b"\""].concat()),
            }
        }
        bytes.extend_from_slice(extra.as_bytes());
        bytes
    };
    let mut expected = Expected::default();
    let mut goods: Vec<(String, String, &'static str)> = Vec::new();
    for (i, kind) in plan.rows.iter().enumerate() {
        let line = 1 + out.iter().filter(|b| **b == b'\n').count() as u64;
        let (key, amount) = (format!("p-{i}"), format!("{i}.25"));
        let (bytes, outcome) = match kind {
            Kind::Blank => {
                out.extend_from_slice(end);
                continue;
            }
            Kind::Good { notes } => (
                row(&key, &amount, notes.as_bytes(), close),
                Outcome::Stored(key, amount, notes),
            ),
            Kind::Refused => (row(&key, "-1", b"", close), Outcome::Rejected),
            Kind::TooLong if plan.csv => (row(&key, &amount, b"", ",x"), Outcome::Rejected),
            Kind::TooLong => (row(&key, &amount, b"", ""), Outcome::Rejected),
            Kind::TooShort if plan.csv => (
                format!("{key},{DEMO_CONVERSION_TYPE_ID},{DEMO_LEAD_ID},{amount}").into_bytes(),
                Outcome::Rejected,
            ),
            Kind::TooShort => (
                row(&key, &amount, b"", ",\"notes\":\"twice\"}"),
                Outcome::Rejected,
            ),
            Kind::NotUtf8 => (row(&key, &amount, b"caf\xE9", close), Outcome::Rejected),
            Kind::Again(back) | Kind::Reused(back) => match goods.len().checked_sub(*back) {
                None => (
                    row(&key, &amount, b"", close),
                    Outcome::Stored(key, amount, ""),
                ),
                Some(j) => {
                    let (k, a, notes) = goods[j].clone();
                    match kind {
                        Kind::Again(_) => (row(&k, &a, notes.as_bytes(), close), Outcome::Either),
                        _ => (
                            row(&k, &format!("1{a}"), notes.as_bytes(), close),
                            Outcome::Rejected,
                        ),
                    }
                }
            },
        };
        expected.rows += 1;
        match outcome {
            Outcome::Stored(k, a, notes) => {
                expected.stored.insert(k.clone());
                goods.push((k, a, notes));
            }
            Outcome::Rejected => {
                expected.rejected.insert(line);
            }
            Outcome::Either => {
                expected.maybe_rejected.insert(line);
            }
        }
        out.extend_from_slice(&bytes);
        out.extend_from_slice(end);
    }
    (out, expected)
}

fn rejected_lines(path: &Path, csv: bool) -> Vec<u64> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    if csv {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(&bytes[..]);
        return reader
            .byte_records()
            .map(|r| {
                std::str::from_utf8(&r.unwrap()[0])
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
    }
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice::<Value>(l).unwrap()["line"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

fn import(admin: &Admin, backend: &Backend, file: &Path, more: &[&str]) -> std::process::Command {
    let mut command = admin.command(&backend.endpoint, &["import", "conversions"]);
    command
        .arg(file)
        .args(["--account", DEMO_ACCOUNT_ID, "--max-errors", "100000"])
        .args(more)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn signal(pid: u32, name: &str) {
    std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
}

/// The keys of the demo account's stored events (ids derive from keys: each at most once).
fn stored_keys(backend: &Backend, table: &str, keys: &BTreeSet<String>) -> BTreeSet<String> {
    let table = Table::on(backend, table);
    let account = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
    let ids = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(table.stored_event_ids(account));
    let id = |k: &String| {
        IdempotencyKey::parse(k.as_bytes())
            .unwrap()
            .event_id(account)
    };
    let by_id: BTreeMap<String, String> = keys
        .iter()
        .map(|k| (id(k).to_string(), k.clone()))
        .collect();
    ids.into_keys()
        .map(|id| by_id.get(&id).cloned().unwrap_or(id))
        .collect()
}

#[test]
fn every_row_is_written_once_or_rejected_once_however_the_runs_stop() {
    for backend in backends() {
        let cases = if backend.name == "dynalite" { 6 } else { 3 };
        let mut runner = TestRunner::new(Config {
            cases,
            max_shrink_iters: 8,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&plan(), |plan| {
                check_plan(&backend, &plan);
                Ok(())
            })
            .unwrap();
    }
}

fn check_plan(backend: &Backend, plan: &Plan) {
    let context = format!(
        "{}: {} rows, csv {}, stops {:?}",
        backend.name,
        plan.rows.len(),
        plan.csv,
        plan.stops
    );
    let admin = demo_admin(backend);
    let dir = ScratchDir::new();
    let file = dir.path().join(if plan.csv { "h.csv" } else { "h.jsonl" });
    let (bytes, expected) = write_plan(plan);
    std::fs::write(&file, &bytes).unwrap();
    for stop in &plan.stops {
        match stop {
            Stop::DryRunFailFast => {
                let output = import(&admin, backend, &file, &["--dry-run", "--fail-fast"])
                    .output()
                    .unwrap();
                assert!(
                    matches!(output.status.code(), Some(0 | 1)),
                    "{context}: {output:?}"
                );
            }
            Stop::Kill(ms) | Stop::Interrupt(ms) => {
                let child = import(&admin, backend, &file, &[]).spawn().unwrap();
                std::thread::sleep(Duration::from_millis(*ms));
                signal(
                    child.id(),
                    if matches!(stop, Stop::Kill(_)) {
                        "KILL"
                    } else {
                        "INT"
                    },
                );
                let _ = child.wait_with_output().unwrap();
            }
        }
    }
    let last: Output = import(&admin, backend, &file, &[]).output().unwrap();
    let result = summary(&last);
    assert!(
        matches!(last.status.code(), Some(0 | 3)),
        "{context}: {result}"
    );
    let extension = if plan.csv { "csv" } else { "jsonl" };
    let rejects = dir
        .path()
        .join(format!("h.{extension}.rejects.{extension}"));
    let lines = rejected_lines(&rejects, plan.csv);
    let unique: BTreeSet<u64> = lines.iter().copied().collect();
    assert_eq!(
        unique.len(),
        lines.len(),
        "{context}: a row rejected twice: {lines:?}"
    );
    assert!(
        expected.rejected.is_subset(&unique),
        "{context}: missing rejects {:?}",
        expected.rejected.difference(&unique).collect::<Vec<_>>()
    );
    let extra: Vec<_> = unique
        .difference(&expected.rejected)
        .filter(|l| !expected.maybe_rejected.contains(l))
        .collect();
    assert!(
        extra.is_empty(),
        "{context}: good rows rejected at lines {extra:?}"
    );
    let stored: BTreeSet<String> = stored_keys(backend, &admin.table, &expected.stored);
    assert_eq!(stored, expected.stored, "{context}: stored");
    assert_eq!(
        result["rows"], expected.rows,
        "{context}: every row counted: {result}"
    );
    assert_eq!(
        result["rejected"],
        lines.len() as u64,
        "{context}: {result}"
    );
    assert!(
        !dir.path()
            .join(format!("h.{extension}.checkpoint.json"))
            .exists(),
        "{context}"
    );
    let mode = std::fs::metadata(&rejects).map(|m| m.permissions().mode() & 0o777);
    assert!(
        mode.is_err() || mode.as_ref().is_ok_and(|m| m & 0o007 == 0),
        "{context}: {mode:?}"
    );
}

/// `rows` conversions of the demo lead as CSV, the rows at `bad` refused (a negative amount).
fn csv_file(path: &Path, rows: usize, bad: &[usize]) {
    let mut text = String::from("idempotency_key,conversion_type_id,lead_id,amount\n");
    for i in 0..rows {
        let amount = if bad.contains(&i) {
            "-1".to_owned()
        } else {
            format!("{i}.25")
        };
        text += &format!("k-{i},{DEMO_CONVERSION_TYPE_ID},{DEMO_LEAD_ID},{amount}\n");
    }
    std::fs::write(path, text).unwrap();
}

fn keys(range: impl Iterator<Item = usize>) -> BTreeSet<String> {
    range.map(|i| format!("k-{i}")).collect()
}

fn stored_set(backend: &Backend, admin: &Admin, expected: &BTreeSet<String>) -> BTreeSet<String> {
    stored_keys(backend, &admin.table, expected)
}

/// `--fail-fast` stops at the first rejected row: none after it is written, the checkpoint is
/// just past it; a dry run after it leaves the checkpoint as it was; the real run resumes.
#[test]
fn fail_fast_writes_no_row_after_the_first_rejected_one_and_a_dry_run_moves_nothing() {
    for backend in backends() {
        let context = backend.name.clone();
        let admin = demo_admin(&backend);
        let dir = ScratchDir::new();
        let file = dir.path().join("f.csv");
        csv_file(&file, 250, &[150]);
        let stopped = import(&admin, &backend, &file, &["--fail-fast"])
            .output()
            .unwrap();
        assert_eq!(
            stopped.status.code(),
            Some(1),
            "{context}: {}",
            summary(&stopped)
        );
        assert_eq!(
            stored_set(&backend, &admin, &keys(0..250)),
            keys(0..150),
            "{context}"
        );
        let checkpoint = dir.path().join("f.csv.checkpoint.json");
        let before = std::fs::read(&checkpoint).unwrap();
        let mark: Value = serde_json::from_slice(&before).unwrap();
        assert_eq!(
            mark["next"]["line"], 153,
            "{context}: just past the row on line 152"
        );
        let dry = import(&admin, &backend, &file, &["--dry-run", "--fail-fast"])
            .output()
            .unwrap();
        assert_eq!(dry.status.code(), Some(1), "{context}");
        assert_eq!(summary(&dry)["valid"], 150, "{context}: {}", summary(&dry));
        assert_eq!(
            std::fs::read(&checkpoint).unwrap(),
            before,
            "{context}: untouched"
        );
        // Nor does one that checks every row to the end.
        let dry = import(&admin, &backend, &file, &["--dry-run"])
            .output()
            .unwrap();
        assert_eq!(dry.status.code(), Some(3), "{context}: {}", summary(&dry));
        assert_eq!(
            std::fs::read(&checkpoint).unwrap(),
            before,
            "{context}: untouched"
        );
        let rest = import(&admin, &backend, &file, &[]).output().unwrap();
        assert_eq!(rest.status.code(), Some(3), "{context}: {}", summary(&rest));
        assert_eq!(
            summary(&rest)["created"],
            249,
            "{context}: 150 before, 99 now"
        );
        let expected: BTreeSet<String> = keys((0..250).filter(|i| *i != 150));
        assert_eq!(
            stored_set(&backend, &admin, &keys(0..250)),
            expected,
            "{context}"
        );
        let rejects = dir.path().join("f.csv.rejects.csv");
        assert_eq!(rejected_lines(&rejects, true), [152], "{context}");
    }
}

/// A rejected JSON line is kept byte for byte (its digits, its repeated member); a key sent as
/// a number is refused, not replaced by a derived one; a key left out is derived.
#[test]
fn rejects_keep_rows_as_written_and_a_key_sent_is_never_derived() {
    for backend in backends() {
        let context = backend.name.clone();
        let admin = demo_admin(&backend);
        let dir = ScratchDir::new();
        let file = dir.path().join("r.jsonl");
        let refs = format!(
            "\"conversion_type_id\": \"{DEMO_CONVERSION_TYPE_ID}\", \"lead_id\": \"{DEMO_LEAD_ID}\""
        );
        let kept = format!(
            "{{\"idempotency_key\": \"r-1\", {refs}, \"amount\": 85000.10, \"metadata\": {{\"x\": 999999999999999.99, \"x\": 1}}}}"
        );
        let numeric = format!("{{\"idempotency_key\": 42, {refs}, \"amount\": 10}}");
        let derived = format!("{{{refs}, \"amount\": 11}}");
        std::fs::write(&file, format!("{kept}\n{numeric}\n{derived}\n")).unwrap();
        let output = import(&admin, &backend, &file, &["--derive-keys"])
            .output()
            .unwrap();
        let result = summary(&output);
        assert_eq!(output.status.code(), Some(3), "{context}: {result}");
        assert_eq!(
            (result["created"].as_u64(), result["rejected"].as_u64()),
            (Some(1), Some(2)),
            "{context}: {result}"
        );
        let rejects = std::fs::read_to_string(dir.path().join("r.jsonl.rejects.jsonl")).unwrap();
        let lines: Vec<&str> = rejects.lines().collect();
        assert!(
            lines[0].contains(&kept),
            "{context}: as written: {}",
            lines[0]
        );
        assert!(lines[1].contains(&numeric), "{context}: {}", lines[1]);
        assert!(
            lines[1].contains(conversions::http::KEY_INVALID),
            "{context}: {}",
            lines[1]
        );
    }
}

/// The rejects, the checkpoint and the lock are never for others, never written through a
/// symbolic link, and one import of a file runs at a time.
#[test]
fn the_files_beside_an_import_are_private_unfollowed_and_held_by_one_run() {
    let backend = backends().remove(0);
    let admin = demo_admin(&backend);
    let dir = ScratchDir::new();
    let file = dir.path().join("p.csv");
    csv_file(&file, 120, &[3]);
    // Read-only, for others too: theirs is dropped, the owner's writing added (a later run
    // opens the rejects again).
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    let output = import(&admin, &backend, &file, &["--fail-fast"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    for kept in ["p.csv.rejects.csv", "p.csv.checkpoint.json"] {
        let mode = std::fs::metadata(dir.path().join(kept))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640, "{kept}: nothing for others");
    }
    // A rejects file shorter than the checkpoint says is refused, not padded.
    let rejects = dir.path().join("p.csv.rejects.csv");
    let kept = std::fs::read(&rejects).unwrap();
    std::fs::write(&rejects, b"").unwrap();
    let output = import(&admin, &backend, &file, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("shorter than the checkpoint"), "{stderr}");
    std::fs::write(&rejects, &kept).unwrap();
    // A link where the rejects go: refused, its target untouched.
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, "keep").unwrap();
    std::fs::remove_file(&rejects).unwrap();
    std::os::unix::fs::symlink(&target, &rejects).unwrap();
    let output = import(&admin, &backend, &file, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    std::fs::remove_file(&rejects).unwrap();
    std::fs::write(&rejects, &kept).unwrap();
    // A run holding the lock: a second one exits 2, naming it.
    let lock = std::fs::File::create(dir.path().join("p.csv.lock")).unwrap();
    lock.lock().unwrap();
    let output = import(&admin, &backend, &file, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("p.csv.lock") && stderr.contains("another import"),
        "{stderr}"
    );
    drop(lock);
    let output = import(&admin, &backend, &file, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", summary(&output));
}

/// A second Ctrl-C stops the run at once; the checkpoint it leaves resumes it with every row
/// written once.
#[test]
fn a_second_ctrl_c_stops_at_once_and_the_checkpoint_resumes() {
    let backend = backends().remove(0);
    let admin = demo_admin(&backend);
    let dir = ScratchDir::new();
    let file = dir.path().join("c.csv");
    csv_file(&file, 3_000, &[]);
    let checkpoint = dir.path().join("c.csv.checkpoint.json");
    let mut child = import(&admin, &backend, &file, &[]).spawn().unwrap();
    while !checkpoint.exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(child.id(), "INT");
    // The second once the first is taken (two at once may arrive as one).
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut said).unwrap();
    assert!(said.starts_with("interrupted:"), "{said}");
    signal(child.id(), "INT");
    let started = std::time::Instant::now();
    let status = child.wait().unwrap();
    std::io::Read::read_to_string(&mut stderr, &mut said).unwrap();
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(said.contains("stopped at once"), "{said}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "at once: {took:?}");
    let rest = import(&admin, &backend, &file, &[]).output().unwrap();
    assert_eq!(rest.status.code(), Some(0), "{}", summary(&rest));
    assert_eq!(summary(&rest)["rows"], 3_000, "every row counted once");
    assert_eq!(
        stored_set(&backend, &admin, &keys(0..3_000)),
        keys(0..3_000)
    );
}

/// `conversions-admin ... | head`: a reader gone before the output is written is no panic.
#[test]
fn no_command_panics_when_its_output_is_closed_early() {
    let backend = backends().remove(0);
    let admin = demo_admin(&backend);
    for args in [
        &["list-conversions", "--account", DEMO_ACCOUNT_ID][..],
        &["list-conversion-types", "--account", DEMO_ACCOUNT_ID],
        &["nonsense"],
    ] {
        let mut child = admin
            .command(&backend.endpoint, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(output.status.code(), Some(101), "{args:?}: {stderr}");
    }
}

/// One record twice in a chunk: the same values are one record; other values on the later row
/// are its reject, whichever write would have come first.
#[test]
fn a_record_twice_in_a_file_is_one_record_or_the_later_rows_reject() {
    for backend in backends() {
        let context = backend.name.clone();
        let admin = demo_admin(&backend);
        let dir = ScratchDir::new();
        let file = dir.path().join("runs.csv");
        let (run, other) = (
            "5f0c6d3e-0000-4000-8000-0000000000bb",
            "5f0c6d3e-0000-4000-8000-0000000000cc",
        );
        let row = |id: &str, workflow: &str| format!("{id},{DEMO_LEAD_ID},{workflow},\n");
        let (w1, w2) = (
            "123e4567-e89b-12d3-a456-426614174300",
            "123e4567-e89b-12d3-a456-426614174301",
        );
        let text = format!(
            "id,lead_id,workflow_id,master_workflow_id\n{}{}{}{}",
            row(run, w1),
            row(other, w1),
            row(run, w1),
            row(run, w2)
        );
        std::fs::write(&file, text).unwrap();
        let mut command = admin.command(&backend.endpoint, &["import", "workflow-runs"]);
        let output = command
            .arg(&file)
            .args(["--account", DEMO_ACCOUNT_ID])
            .output()
            .unwrap();
        let result = summary(&output);
        assert_eq!(output.status.code(), Some(3), "{context}: {result}");
        assert_eq!(
            result["created"].as_u64().unwrap() + result["existing"].as_u64().unwrap(),
            3,
            "{context}: {result}"
        );
        assert_eq!(
            rejected_lines(&dir.path().join("runs.csv.rejects.csv"), true),
            [5],
            "{context}"
        );
    }
}
