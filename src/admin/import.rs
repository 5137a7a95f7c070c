//! `conversions-admin import KIND FILE`: a CSV (header row) or JSON Lines file, streamed, written
//! through the same code as the API: conversions by the batch endpoint's service, adjustments by
//! the adjustment endpoint's (each event's in file order), reference data by the create
//! commands' rule.
//!
//! **Every row is accounted for, once.** Each row of the file (each line of JSON Lines, each
//! record of CSV, quoted line breaks included; blank lines hold none) is exactly one of: written
//! (or found there already, `existing`), or listed in `FILE.rejects.csv|jsonl` with its line and
//! its errors, as it was written. Never skipped, shifted (a CSV row of another length than the
//! header is a reject) or written twice (each conversion by its `idempotency_key`, each record
//! by its id). A checkpoint beside the file, written atomically once a stretch of rows is
//! accounted for, lets a re-run continue where a crash, Ctrl-C or `--max-errors` stopped it; rows
//! sent again come back `existing`. A dry run writes no checkpoint and reads none: it never
//! changes what a real run writes or resumes from (its rejects go to `FILE.dry-run.rejects.*`).

use std::fs::File;
use std::io::{IsTerminal, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use self::files::{Lock, Rejects, beside, private_mode, write_atomically};
pub use self::files::{Mark, Reader, Row};
use self::rows::{Done, Importer};
use super::AdminError;
use crate::domain::{AccountId, Sha256Hex};
use crate::service::MAX_BATCH_ROWS;
use crate::store::{Provisioning, Store};

mod files;
mod rows;

/// What a file holds, in the order they depend on each other.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    ConversionTypes,
    Leads,
    WorkflowRuns,
    Conversions,
    /// Retractions and restatements of recorded conversions.
    Adjustments,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    pub kind: Kind,
    /// A .csv file (with a header row) or a .jsonl file (one JSON object a line).
    pub file: PathBuf,
    #[arg(long)]
    pub account: AccountId,
    /// Stop (exit 1, checkpoint kept) at the rejected row that makes this run's rejects more
    /// than this; no row after it is written.
    #[arg(long, default_value_t = 100)]
    pub max_errors: u64,
    /// Stop at the first rejected row (`--max-errors 0`).
    #[arg(long)]
    pub fail_fast: bool,
    /// Check every row, references included; write nothing (no checkpoint either).
    #[arg(long)]
    pub dry_run: bool,
    /// A conversion or adjustment without an idempotency_key gets one derived from the row:
    /// identical rows then collapse into one.
    #[arg(long)]
    pub derive_keys: bool,
}

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Counts {
    pub rows: u64,
    pub created: u64,
    /// Conversions recorded before (replayed), or records already there with the same values.
    existing: u64,
    valid: u64,
    rejected: u64,
}

/// Where a run stopped, beside the file.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Checkpoint {
    sha256: String,
    kind: Kind,
    account: String,
    /// Where the next row starts.
    next: Mark,
    rejects_bytes: u64,
    counts: Counts,
}

/// Runs an import: its summary, and its exit code (0 clean, 3 finished with rejects, 1 stopped).
pub async fn run<P: Provisioning + Store>(
    args: ImportArgs,
    store: &P,
) -> Result<(Value, u8), AdminError> {
    let invalid = |what: String| AdminError::Invalid(what);
    let named = |e: std::io::Error| invalid(format!("{}: {e}", args.file.display()));
    let csv = match args.file.extension().and_then(|e| e.to_str()) {
        Some("csv") => true,
        Some("jsonl") => false,
        _ => return Err(named(std::io::Error::other("not a .csv or .jsonl file"))),
    };
    let source = File::open(&args.file).map_err(named)?;
    let mode = private_mode(&source).map_err(named)?;
    let _lock =
        Lock::take(beside(&args.file, ".lock"), mode).map_err(|e| invalid(e.to_string()))?;
    super::require_account(store, args.account).await?;
    if args.derive_keys && matches!(args.kind, Kind::Conversions | Kind::Adjustments) {
        say("warning: --derive-keys: identical rows without an idempotency_key are one");
    }
    let sha256 = Sha256Hex::of_reader(&source)
        .map_err(named)?
        .as_str()
        .to_owned();
    // The rows are read from the bytes hashed: the same open file, from its start.
    let mut rows_source = source.try_clone().map_err(named)?;
    rows_source.seek(SeekFrom::Start(0)).map_err(named)?;
    let checkpoint_path = beside(&args.file, ".checkpoint.json");
    let extension = if csv { "csv" } else { "jsonl" };
    let rejects_path = match args.dry_run {
        true => beside(&args.file, &format!(".dry-run.rejects.{extension}")),
        false => beside(&args.file, &format!(".rejects.{extension}")),
    };
    let resumed = match std::fs::read(&checkpoint_path) {
        _ if args.dry_run => None,
        Ok(bytes) => {
            let checkpoint: Checkpoint = serde_json::from_slice(&bytes)
                .map_err(|e| invalid(format!("{}: {e}", checkpoint_path.display())))?;
            if checkpoint.sha256 != sha256
                || checkpoint.kind != args.kind
                || checkpoint.account != args.account.to_string()
            {
                return Err(invalid(format!(
                    "{} is of another file, kind or account: delete it to start over",
                    checkpoint_path.display()
                )));
            }
            Some(checkpoint)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(invalid(format!("{}: {e}", checkpoint_path.display()))),
    };
    let mut reader = Reader::new(rows_source, csv).map_err(named)?;
    if let Some(checkpoint) = &resumed {
        reader.skip_to(checkpoint.next).map_err(named)?;
    }
    let mut rejects = Rejects::open(
        &rejects_path,
        csv,
        &reader.header_raw,
        resumed.as_ref().map(|c| c.rejects_bytes),
        mode,
    )
    .map_err(|e| invalid(format!("{}: {e}", rejects_path.display())))?;
    let resumed_from = resumed.as_ref().map(|c| c.next.line);
    let mut counts = resumed.map(|c| c.counts).unwrap_or_default();
    let max_errors = if args.fail_fast { 0 } else { args.max_errors };
    let interrupted = on_interrupt((!args.dry_run).then_some(&checkpoint_path));
    let importer = Importer::new(store, &args).await?;
    let size = source.metadata().map_or(0, |m| m.len());
    let mut progress = Progress::new(size, reader.mark().byte);
    let started = Instant::now();
    let io = |e: std::io::Error| AdminError::Io(e.to_string());
    let mut read = || {
        let mut rows = Vec::with_capacity(MAX_BATCH_ROWS);
        while rows.len() < MAX_BATCH_ROWS {
            let next = reader.next_row();
            match next.map_err(|e| AdminError::Io(format!("{}: {e}", args.file.display())))? {
                Some(row) => rows.push(row),
                None => break,
            }
        }
        Ok::<_, AdminError>(rows)
    };
    // This run's rejects, for --max-errors (a resumed run has its own).
    let mut rejected = 0;
    let mut chunk = read()?;
    let mut checked = importer
        .check(&chunk, chunk.len() as u64 > max_errors)
        .await;
    let stopped = loop {
        if chunk.is_empty() {
            break None;
        }
        let mut checked_now = checked?;
        // The row that takes this run's rejects past --max-errors ends it: none after it is
        // written. (A chunk that could reach it was checked against what is stored.)
        let mut budget = max_errors.saturating_sub(rejected);
        let mut cut = None;
        for i in 0..chunk.len() {
            if checked_now.rejected(i) {
                if budget == 0 {
                    cut = Some(i + 1);
                    break;
                }
                budget -= 1;
            }
        }
        if let Some(last) = cut {
            checked_now.truncate(last);
            chunk.truncate(last);
        }
        // The next chunk is read now and checked beside this one's writes, or after them near
        // the limit (a failure to read or check it stops the run once this one is accounted for).
        let next = if cut.is_some() {
            Ok(Vec::new())
        } else {
            read()
        };
        let rows = next.as_ref().map_or(&[][..], Vec::as_slice);
        // Near the limit, the next chunk is checked once this one is written, against all of
        // it (a key this one used with other values is then a reject before any write).
        let tight = rows.len() as u64 > budget.saturating_sub(chunk.len() as u64);
        let (outcomes, next_checked) = if tight {
            let outcomes = importer.write(&chunk, checked_now).await;
            (outcomes, importer.check(rows, true).await)
        } else {
            tokio::join!(
                importer.write(&chunk, checked_now),
                importer.check(rows, false)
            )
        };
        for (row, outcome) in chunk.iter().zip(outcomes?) {
            counts.rows += 1;
            match outcome {
                Ok(Done::Created) => counts.created += 1,
                Ok(Done::Existing) => counts.existing += 1,
                Ok(Done::Valid) => counts.valid += 1,
                Err(errors) => {
                    counts.rejected += 1;
                    rejected += 1;
                    rejects.write(row, &errors).map_err(io)?;
                }
            }
        }
        let end = chunk.last().map_or(Mark::START, |row| row.end);
        if !args.dry_run {
            let checkpoint = Checkpoint {
                sha256: sha256.clone(),
                kind: args.kind,
                account: args.account.to_string(),
                next: end,
                rejects_bytes: rejects.flush().map_err(io)?,
                counts: counts.clone(),
            };
            let bytes = serde_json::to_vec(&checkpoint).expect("a checkpoint serialises");
            write_atomically(&checkpoint_path, &bytes, mode).map_err(io)?;
        }
        progress.update(end.byte, &counts, started);
        if rejected > max_errors {
            break Some("more rows rejected than --max-errors allows");
        }
        if interrupted.load(Ordering::SeqCst) {
            break Some("interrupted");
        }
        chunk = next?;
        checked = next_checked;
    };
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    let mut summary = json!({
        "kind": args.kind,
        "file": args.file.display().to_string(),
        "dry_run": args.dry_run,
        "rows": counts.rows,
        "created": counts.created,
        "existing": counts.existing,
        "valid": counts.valid,
        "rejected": counts.rejected,
        "rejects_file": (counts.rejected > 0).then(|| rejects_path.display().to_string()),
        "resumed_from_line": resumed_from,
        "rows_per_second": (counts.rows as f64 / seconds.max(1e-3)).round(),
    });
    let code = match stopped {
        Some(why) => {
            summary["stopped"] = why.into();
            if !args.dry_run {
                summary["checkpoint"] = checkpoint_path.display().to_string().into();
            }
            1
        }
        None => {
            if !args.dry_run {
                let _ = std::fs::remove_file(&checkpoint_path);
            }
            if counts.rejected > 0 {
                3
            } else {
                // No empty rejects file.
                let _ = std::fs::remove_file(&rejects_path);
                0
            }
        }
    };
    Ok((summary, code))
}

/// Set at the first Ctrl-C: the run stops once the rows in hand are accounted for. A second one
/// stops it at once (exit 1): the checkpoint is whole, as it always is, and resumes it.
fn on_interrupt(checkpoint: Option<&PathBuf>) -> Arc<AtomicBool> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupted);
    let resumes = match checkpoint {
        Some(path) => format!("{} resumes the import", path.display()),
        None => "a dry run keeps no checkpoint".to_owned(),
    };
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
            say("interrupted: stopping once the rows in hand are accounted for (again: at once)");
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            say(&format!("interrupted again: stopped at once; {resumes}"));
            std::process::exit(1);
        }
    });
    interrupted
}

/// A line on standard error, or none if it is closed.
fn say(line: &str) {
    super::say(std::io::stderr(), line);
}

/// Progress on standard error: a bar by bytes on a terminal, else a JSON line every 10 s.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    last: Instant,
}

impl Progress {
    fn new(size: u64, at: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(size);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {bytes}/{total_bytes} {msg} ETA {eta}",
                )
                .expect("a valid template"),
            );
            bar.set_position(at);
            bar
        });
        Self {
            bar,
            last: Instant::now(),
        }
    }

    fn update(&mut self, at: u64, counts: &Counts, started: Instant) {
        let rate = counts.rows as f64 / started.elapsed().as_secs_f64().max(1e-3);
        let message = format!(
            "created {} existing {} rejected {} ({rate:.0} rows/s)",
            counts.created, counts.existing, counts.rejected
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(at);
                bar.set_message(message);
            }
            None if self.last.elapsed() >= Duration::from_secs(10) => {
                self.last = Instant::now();
                let line =
                    json!({"progress": counts, "bytes": at, "rows_per_second": rate.round()});
                say(&line.to_string());
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
