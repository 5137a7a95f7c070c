//! `conversions-admin import KIND FILE`: a CSV (header row) or JSON Lines file, streamed, written
//! through the same code as the API: conversions by the batch endpoint's service, reference data
//! by the create commands' rule. Bad rows go to `FILE.rejects.csv|jsonl`; a checkpoint beside the
//! file, written atomically after each chunk is accounted for, lets a re-run continue where a
//! crash or Ctrl-C stopped it (rows sent twice come back `replayed` or `exists`).

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use self::files::{Reader, Rejects};
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
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    pub kind: Kind,
    /// A .csv file (with a header row) or a .jsonl file (one JSON object a line).
    pub file: PathBuf,
    #[arg(long)]
    pub account: AccountId,
    /// Stop (exit 1, checkpoint kept) once more rows than this were rejected.
    #[arg(long, default_value_t = 100)]
    pub max_errors: u64,
    /// Stop at the first rejected row.
    #[arg(long)]
    pub fail_fast: bool,
    /// Check every row, references included; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// A conversion without an idempotency_key gets one derived from the row: identical rows
    /// then collapse into one event.
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
    /// The byte and line where the next row starts.
    position: u64,
    line: u64,
    rejects_bytes: u64,
    counts: Counts,
}

/// Runs an import: its summary, and its exit code (0 clean, 3 finished with rejects).
pub async fn run<P: Provisioning + Store>(
    args: ImportArgs,
    store: &P,
) -> Result<(Value, u8), AdminError> {
    let invalid = |what: String| AdminError::Invalid(what);
    let csv = match args.file.extension().and_then(|e| e.to_str()) {
        Some("csv") => true,
        Some("jsonl") => false,
        _ => {
            return Err(invalid(format!(
                "{}: not a .csv or .jsonl file",
                args.file.display()
            )));
        }
    };
    super::require_account(store, args.account).await?;
    if args.derive_keys && args.kind == Kind::Conversions {
        eprintln!(
            "warning: --derive-keys: identical rows without an idempotency_key are one event"
        );
    }
    let sha256 = File::open(&args.file)
        .and_then(Sha256Hex::of_reader)
        .map_err(|e| invalid(format!("{}: {e}", args.file.display())))?
        .as_str()
        .to_owned();
    let checkpoint_path = beside(&args.file, ".checkpoint.json");
    let rejects_path = beside(
        &args.file,
        if csv {
            ".rejects.csv"
        } else {
            ".rejects.jsonl"
        },
    );
    let resumed = match std::fs::read(&checkpoint_path) {
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
        Err(_) => None,
    };
    let mut reader = Reader::open(
        &args.file,
        csv,
        resumed.as_ref().map(|c| (c.position, c.line)),
    )
    .map_err(|e| invalid(format!("{}: {e}", args.file.display())))?;
    let mut rejects = Rejects::open(
        &rejects_path,
        csv,
        &reader.header,
        resumed.as_ref().map(|c| c.rejects_bytes),
    )
    .map_err(|e| AdminError::Invalid(format!("{}: {e}", rejects_path.display())))?;
    let resumed_from = resumed.as_ref().map(|c| c.line);
    let mut counts = resumed.map(|c| c.counts).unwrap_or_default();
    let max_errors = if args.fail_fast { 0 } else { args.max_errors };
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupted);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    let importer = Importer::new(store, &args).await?;
    let mut progress = Progress::new(reader.size, reader.position());
    let started = Instant::now();
    let mut read = || {
        let rows = (reader.chunk(MAX_BATCH_ROWS))
            .map_err(|e| invalid(format!("{}: {e}", args.file.display())))?;
        Ok::<_, AdminError>((rows, reader.position(), reader.line))
    };
    let (mut chunk, mut position, mut line) = read()?;
    let mut checked = importer.check(&chunk).await;
    let stopped = loop {
        if chunk.is_empty() {
            break None;
        }
        // The next chunk is checked while this one's writes run (a failure to read or check it
        // stops the run once this one is accounted for).
        let next = read();
        let rows = next.as_ref().map_or(&[][..], |(rows, ..)| rows);
        let (outcomes, next_checked) =
            tokio::join!(importer.write(&chunk, checked?), importer.check(rows));
        for (row, outcome) in chunk.iter().zip(outcomes?) {
            counts.rows += 1;
            match outcome {
                Ok(Done::Created) => counts.created += 1,
                Ok(Done::Existing) => counts.existing += 1,
                Ok(Done::Valid) => counts.valid += 1,
                Err(errors) => {
                    counts.rejected += 1;
                    rejects
                        .write(row, &errors)
                        .map_err(|e| invalid(format!("{}: {e}", rejects_path.display())))?;
                }
            }
        }
        let checkpoint = Checkpoint {
            sha256: sha256.clone(),
            kind: args.kind,
            account: args.account.to_string(),
            position,
            line,
            rejects_bytes: rejects.flush().map_err(|e| invalid(e.to_string()))?,
            counts: counts.clone(),
        };
        write_atomically(
            &checkpoint_path,
            &serde_json::to_vec(&checkpoint).expect("JSON"),
        )
        .map_err(|e| invalid(format!("{}: {e}", checkpoint_path.display())))?;
        progress.update(position, &counts, started);
        if counts.rejected > max_errors {
            break Some("more rows rejected than --max-errors allows");
        }
        if interrupted.load(Ordering::SeqCst) {
            break Some("interrupted");
        }
        (chunk, position, line) = next?;
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
            summary["checkpoint"] = checkpoint_path.display().to_string().into();
            1
        }
        None => {
            let _ = std::fs::remove_file(&checkpoint_path);
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
                eprintln!(
                    "{}",
                    json!({"progress": counts, "bytes": at, "rows_per_second": rate.round()})
                );
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

fn beside(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Written to a temporary file, synced, then renamed over the old one: a crash leaves either.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = beside(path, ".tmp");
    let mut file = File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
