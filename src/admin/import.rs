//! `conversions-admin import KIND FILE`: a CSV (header row) or JSON Lines file, streamed, written
//! through the same code as the API: conversions by the batch endpoint's service, reference data
//! by the create commands' rule. Bad rows go to `FILE.rejects.csv|jsonl`; a checkpoint beside the
//! file, written atomically after each chunk is accounted for, lets a re-run continue where a
//! crash or Ctrl-C stopped it (rows sent twice come back `replayed` or `exists`).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::create::{Created, create};
use super::{AdminError, conversion_type};
use crate::domain::{
    AccountId, FieldDefinition, FieldType, IdempotencyKey, Lead, LeadId, MAX_TYPES_PER_ACCOUNT,
    MasterWorkflowId, Timestamp, WorkflowId, WorkflowRun, WorkflowRunId,
};
use crate::service::{self, BatchRow, MAX_BATCH_ROWS, Outcome, RowOutcome};
use crate::store::{Provisioning, Record, Store, StoreError};

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

/// Reference rows written at once.
const WRITES_AT_ONCE: usize = 16;
/// Attempts at a chunk's throttled or failing rows before the import stops (checkpoint kept).
const ATTEMPTS: u32 = 8;

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct Counts {
    rows: u64,
    created: u64,
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

/// A row as read: its line, its members as a JSON object (the API's field names), and the row
/// as written (for the rejects).
struct Row {
    line: u64,
    json: String,
    original: Vec<String>,
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
    let sha256 =
        file_sha256(&args.file).map_err(|e| invalid(format!("{}: {e}", args.file.display())))?;
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
    let mut importer = Importer::new(store, &args).await?;
    let mut progress = Progress::new(reader.size, reader.position());
    let started = Instant::now();
    let stopped = loop {
        let chunk = reader
            .chunk(MAX_BATCH_ROWS)
            .map_err(|e| invalid(format!("{}: {e}", args.file.display())))?;
        if chunk.is_empty() {
            break None;
        }
        let outcomes = importer.import(&chunk).await?;
        for (row, outcome) in chunk.iter().zip(outcomes) {
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
            position: reader.position(),
            line: reader.line,
            rejects_bytes: rejects.flush().map_err(|e| invalid(e.to_string()))?,
            counts: counts.clone(),
        };
        write_atomically(
            &checkpoint_path,
            &serde_json::to_vec(&checkpoint).expect("JSON"),
        )
        .map_err(|e| invalid(format!("{}: {e}", checkpoint_path.display())))?;
        progress.update(reader.position(), &counts, started);
        if counts.rejected > max_errors {
            break Some("more rows rejected than --max-errors allows");
        }
        if interrupted.load(Ordering::SeqCst) {
            break Some("interrupted");
        }
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
            if counts.rejected > 0 { 3 } else { 0 }
        }
    };
    Ok((summary, code))
}

enum Done {
    Created,
    Existing,
    Valid,
}

/// What a chunk's rows came to: done, or rejected with these errors.
type Outcomes = Vec<Result<Done, Vec<String>>>;

struct Importer<'a, P> {
    store: &'a P,
    kind: Kind,
    account: AccountId,
    dry_run: bool,
    derive_keys: bool,
    /// Leads known to exist (for runs).
    leads: HashSet<LeadId>,
    /// Conversion types of the account (for the limit on their number).
    types: HashSet<String>,
}

impl<'a, P: Provisioning + Store> Importer<'a, P> {
    async fn new(store: &'a P, args: &ImportArgs) -> Result<Self, AdminError> {
        let types = match args.kind {
            Kind::ConversionTypes => (store.conversion_types(args.account).await?.iter())
                .map(|t| t.id.to_string())
                .collect(),
            _ => HashSet::new(),
        };
        Ok(Self {
            store,
            kind: args.kind,
            account: args.account,
            dry_run: args.dry_run,
            derive_keys: args.derive_keys,
            leads: HashSet::new(),
            types,
        })
    }

    async fn import(&mut self, chunk: &[Row]) -> Result<Outcomes, AdminError> {
        match self.kind {
            Kind::Conversions => self.conversions(chunk).await,
            _ => {
                let mut records = Vec::with_capacity(chunk.len());
                for row in chunk {
                    records.push(self.record(row).await?);
                }
                Ok(self.write_records(records).await?)
            }
        }
    }

    /// The batch endpoint's service, throttled or failing rows sent again after a back-off.
    async fn conversions(&self, chunk: &[Row]) -> Result<Outcomes, AdminError> {
        let now = Timestamp::now();
        let mut outcomes: Vec<Option<Result<Done, Vec<String>>>> =
            (0..chunk.len()).map(|_| None).collect();
        let mut pending: Vec<usize> = (0..chunk.len()).collect();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            let rows = pending
                .iter()
                .map(|&i| self.conversion(&chunk[i], now))
                .collect();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            let results = service::create_batch(
                self.store,
                self.account,
                rows,
                self.dry_run,
                now,
                deadline,
                true,
            )
            .await
            .map_err(AdminError::Store)?;
            let mut retry = Vec::new();
            for (i, result) in pending.into_iter().zip(results) {
                outcomes[i] = match result {
                    RowOutcome::Done(Outcome::Created(_)) => Some(Ok(Done::Created)),
                    RowOutcome::Done(Outcome::Replayed(_)) => Some(Ok(Done::Existing)),
                    RowOutcome::Done(Outcome::DryRun(_)) => Some(Ok(Done::Valid)),
                    RowOutcome::Invalid(errors) => {
                        Some(Err(errors.into_iter().map(|e| e.message).collect()))
                    }
                    RowOutcome::Conflict => Some(Err(vec![
                        crate::http::ApiError::IdempotencyMismatch
                            .message()
                            .to_owned(),
                    ])),
                    RowOutcome::Retryable => {
                        retry.push(i);
                        None
                    }
                };
            }
            if retry.is_empty() {
                return Ok(outcomes
                    .into_iter()
                    .map(|o| o.expect("every row answered"))
                    .collect());
            }
            pending = retry;
        }
        Err(AdminError::Store(StoreError::Throttled(
            "rows still throttled or failing after every attempt".into(),
        )))
    }

    fn conversion(
        &self,
        row: &Row,
        now: Timestamp,
    ) -> Result<BatchRow, Vec<crate::domain::FieldError>> {
        let raw =
            serde_json::value::RawValue::from_string(row.json.clone()).expect("rows are JSON");
        let (key, parsed) = crate::http::read_row(&raw, now);
        match parsed {
            Err(errors)
                if key.is_none()
                    && self.derive_keys
                    && errors.iter().all(|e| e.field == "idempotency_key") =>
            {
                let conversion = crate::http::parse_new_conversion(row.json.as_bytes(), now)?;
                let digest = Sha256::digest(row.json.as_bytes());
                let text: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                let key = IdempotencyKey::parse(format!("derived-{text}").as_bytes())
                    .expect("hex is printable");
                Ok(BatchRow { key, conversion })
            }
            other => other,
        }
    }

    /// A reference row as the record the create commands would write, or why it cannot be one.
    async fn record(&mut self, row: &Row) -> Result<Result<Record, Vec<String>>, AdminError> {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&row.json) else {
            return Ok(Err(vec!["the row is not a JSON object".into()]));
        };
        let fields = Fields(fields);
        let now = Timestamp::now();
        let created_at = fields.parse("created_at", |t| {
            Timestamp::parse(t).map_err(|e| e.to_string())
        });
        let created_at = match created_at {
            Ok(at) => at.unwrap_or(now),
            Err(e) => return Ok(Err(vec![e])),
        };
        let record = match self.kind {
            Kind::Leads => fields
                .required("id", LeadId::parse)
                .map(|id| Record::Lead(self.account, Lead { id, created_at })),
            Kind::WorkflowRuns => {
                let run = (|| {
                    Ok(WorkflowRun {
                        id: fields.required("id", WorkflowRunId::parse)?,
                        lead_id: fields.required("lead_id", LeadId::parse)?,
                        workflow_id: fields.required("workflow_id", WorkflowId::parse)?,
                        master_workflow_id: fields.parse("master_workflow_id", |t| {
                            MasterWorkflowId::parse(t).map_err(|e| e.to_string())
                        })?,
                        created_at,
                    })
                })();
                match run {
                    Ok(run) if self.lead_exists(run.lead_id).await? => {
                        Ok(Record::WorkflowRun(self.account, run))
                    }
                    Ok(run) => Err(format!(
                        "no lead {} in account {}",
                        run.lead_id, self.account
                    )),
                    Err(e) => Err(e),
                }
            }
            Kind::ConversionTypes => self.conversion_type(&fields, created_at),
            Kind::Conversions => unreachable!("conversions are not reference rows"),
        };
        Ok(record.map_err(|e| vec![e]))
    }

    fn conversion_type(
        &mut self,
        fields: &Fields,
        created_at: Timestamp,
    ) -> Result<Record, String> {
        let text = |name| fields.parse(name, |t| Ok(t.to_owned()));
        let list: Vec<FieldDefinition> = match fields.0.get("fields") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(json)) => serde_json::from_str::<Value>(json)
                .map_err(|e| format!("fields: {e}"))
                .and_then(|v| field_list(&v))?,
            Some(other) => field_list(other)?,
        };
        let active = match fields.0.get("active") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
            Some(_) => return Err("active must be true or false".into()),
        };
        let t = conversion_type(
            fields.required("id", |t| t.parse())?,
            text("name")?.unwrap_or_default(),
            text("description")?,
            fields.required("category", |t| t.parse())?,
            fields.required("currency", |t| t.parse())?,
            list,
            fields.parse("workflow_id", |t| {
                WorkflowId::parse(t).map_err(|e| e.to_string())
            })?,
            fields.parse("master_workflow_id", |t| {
                MasterWorkflowId::parse(t).map_err(|e| e.to_string())
            })?,
            active,
            created_at,
        )
        .map_err(|e| e.to_string())?;
        let id = t.id.to_string();
        if !self.types.contains(&id) && self.types.len() >= MAX_TYPES_PER_ACCOUNT {
            return Err(format!(
                "the account has {MAX_TYPES_PER_ACCOUNT} conversion types, the most it may have"
            ));
        }
        self.types.insert(id);
        Ok(Record::ConversionType(self.account, t))
    }

    async fn lead_exists(&mut self, lead: LeadId) -> Result<bool, AdminError> {
        if self.leads.contains(&lead) {
            return Ok(true);
        }
        let found = retrying(|| self.store.get_lead(self.account, lead))
            .await?
            .is_some();
        if found {
            self.leads.insert(lead);
        }
        Ok(found)
    }

    /// The create rule for each record, a bounded number at a time: a record with the same
    /// values is `existing`, one with others a reject, never replaced.
    async fn write_records(
        &self,
        records: Vec<Result<Record, Vec<String>>>,
    ) -> Result<Outcomes, StoreError> {
        let results: Vec<_> = stream::iter(records)
            .map(|record| async move {
                let record = match record {
                    Ok(record) => record,
                    Err(errors) => return Ok(Err(errors)),
                };
                if self.dry_run {
                    return Ok(Ok(Done::Valid));
                }
                Ok(match retrying(|| create(self.store, &record)).await? {
                    Created::New => Ok(Done::Created),
                    Created::Exists(_) => Ok(Done::Existing),
                    Created::Conflict(_) => Err(vec![format!(
                        "{} {} exists with other values",
                        record.kind(),
                        record.id()
                    )]),
                })
            })
            .buffered(WRITES_AT_ONCE)
            .collect()
            .await;
        results.into_iter().collect()
    }
}

/// A store call, again after a back-off while it is throttled or failing for now.
async fn retrying<T, F: Future<Output = Result<T, StoreError>>>(
    call: impl Fn() -> F,
) -> Result<T, StoreError> {
    let mut attempt = 0;
    loop {
        match call().await {
            Err(StoreError::Throttled(_) | StoreError::Unavailable(_))
                if attempt + 1 < ATTEMPTS =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            other => return other,
        }
    }
}

fn field_list(value: &Value) -> Result<Vec<FieldDefinition>, String> {
    let Value::Array(items) = value else {
        return Err("fields must be a JSON array of {\"key\", \"label\", \"type\"}".into());
    };
    items
        .iter()
        .map(|item| {
            let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_owned);
            match (text("key"), text("label"), text("type")) {
                (Some(key), Some(label), Some(kind)) => Ok(FieldDefinition {
                    key,
                    label,
                    field_type: kind.parse::<FieldType>()?,
                }),
                _ => Err("each field needs a key, a label and a type".into()),
            }
        })
        .collect()
}

/// A reference row's members.
struct Fields(Map<String, Value>);

impl Fields {
    fn parse<T>(
        &self,
        name: &str,
        read: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => read(text).map(Some).map_err(|e| format!("{name}: {e}")),
            Some(_) => Err(format!("{name} must be a string")),
        }
    }

    fn required<T, E: ToString>(
        &self,
        name: &str,
        read: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, String> {
        self.parse(name, |t| read(t).map_err(|e| e.to_string()))?
            .ok_or_else(|| format!("{name} is required"))
    }
}

/// The file, read as rows of JSON objects from where a checkpoint left it.
struct Reader {
    csv: Option<csv::Reader<File>>,
    jsonl: Option<BufReader<File>>,
    header: Vec<String>,
    /// Where the next row starts, for JSON Lines.
    offset: u64,
    line: u64,
    size: u64,
}

impl Reader {
    fn open(path: &Path, csv: bool, from: Option<(u64, u64)>) -> std::io::Result<Self> {
        let mut file = File::open(path)?;
        let size = file.metadata()?.len();
        if !csv {
            let (offset, line) = from.unwrap_or((0, 0));
            file.seek(SeekFrom::Start(offset))?;
            return Ok(Self {
                csv: None,
                jsonl: Some(BufReader::new(file)),
                header: Vec::new(),
                offset,
                line,
                size,
            });
        }
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
        let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
        let mut line = 1;
        if let Some((offset, at)) = from {
            let mut position = csv::Position::new();
            position.set_byte(offset).set_line(at + 1);
            reader.seek(position)?;
            line = at;
        }
        Ok(Self {
            csv: Some(reader),
            jsonl: None,
            header,
            offset: 0,
            line,
            size,
        })
    }

    fn position(&self) -> u64 {
        match &self.csv {
            Some(reader) => reader.position().byte(),
            None => self.offset,
        }
    }

    fn chunk(&mut self, rows: usize) -> std::io::Result<Vec<Row>> {
        let mut chunk = Vec::with_capacity(rows);
        while chunk.len() < rows {
            let row = match (&mut self.csv, &mut self.jsonl) {
                (Some(reader), _) => {
                    let mut record = csv::StringRecord::new();
                    if !reader.read_record(&mut record)? {
                        break;
                    }
                    self.line = record.position().map_or(self.line + 1, |p| p.line());
                    let original: Vec<String> = record.iter().map(str::to_owned).collect();
                    Row {
                        line: self.line,
                        json: csv_json(&self.header, &original),
                        original,
                    }
                }
                (None, Some(reader)) => {
                    let mut text = String::new();
                    let read = reader.read_line(&mut text)?;
                    if read == 0 {
                        break;
                    }
                    self.offset += read as u64;
                    self.line += 1;
                    let text = text.trim_end_matches(['\n', '\r']).to_owned();
                    if text.trim().is_empty() {
                        continue;
                    }
                    Row {
                        line: self.line,
                        json: text.clone(),
                        original: vec![text],
                    }
                }
                (None, None) => unreachable!("a reader of one kind"),
            };
            chunk.push(row);
        }
        Ok(chunk)
    }
}

/// A CSV record as a JSON object of the API's field names: `amount` as the number written,
/// `metadata` and `fields` as the JSON written, each `metadata.KEY` column a member of
/// `metadata` (read as JSON when it is JSON, else as text), every other cell a string, and an
/// empty cell absent.
fn csv_json(header: &[String], cells: &[String]) -> String {
    let mut members = Vec::new();
    let mut metadata = Vec::new();
    for (name, cell) in header.iter().zip(cells) {
        if cell.is_empty() {
            continue;
        }
        let raw = |text: &str| serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok();
        let string = || serde_json::to_string(cell).expect("a string");
        if let Some(key) = name.strip_prefix("metadata.") {
            let value = if raw(cell) { cell.clone() } else { string() };
            metadata.push(format!(
                "{}:{value}",
                serde_json::to_string(key).expect("a string")
            ));
            continue;
        }
        let value = match name.as_str() {
            "amount" | "metadata" | "fields" if raw(cell) => cell.clone(),
            _ => string(),
        };
        members.push(format!(
            "{}:{value}",
            serde_json::to_string(name).expect("a string")
        ));
    }
    if !metadata.is_empty() {
        members.push(format!("\"metadata\":{{{}}}", metadata.join(",")));
    }
    format!("{{{}}}", members.join(","))
}

/// `FILE.rejects.csv|jsonl`: each rejected row with its line and its errors, appended; on a
/// resume, cut back to what the checkpoint accounted for.
struct Rejects {
    file: File,
    csv: bool,
}

impl Rejects {
    fn open(path: &Path, csv: bool, header: &[String], keep: Option<u64>) -> std::io::Result<Self> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)?;
        file.set_len(keep.unwrap_or(0))?;
        file.seek(SeekFrom::End(0))?;
        let mut rejects = Self { file, csv };
        if keep.unwrap_or(0) == 0 && csv {
            let mut columns = vec!["line".to_owned(), "errors".to_owned()];
            columns.extend(header.iter().cloned());
            rejects.write_csv(&columns)?;
        }
        Ok(rejects)
    }

    fn write_csv(&mut self, cells: &[String]) -> std::io::Result<()> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(cells)?;
        self.file
            .write_all(&writer.into_inner().map_err(|e| e.into_error())?)
    }

    fn write(&mut self, row: &Row, errors: &[String]) -> std::io::Result<()> {
        if self.csv {
            let mut cells = vec![row.line.to_string(), errors.join("; ")];
            cells.extend(row.original.iter().cloned());
            return self.write_csv(&cells);
        }
        let row_value = serde_json::from_str::<Value>(&row.json)
            .unwrap_or_else(|_| Value::String(row.json.clone()));
        let line = json!({ "line": row.line, "errors": errors, "row": row_value });
        writeln!(self.file, "{line}")
    }

    /// Flushed to disk: its length, for the checkpoint.
    fn flush(&mut self) -> std::io::Result<u64> {
        self.file.sync_data()?;
        self.file.stream_position()
    }
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

fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Written to a temporary file, synced, then renamed over the old one: a crash leaves either.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = beside(path, ".tmp");
    let mut file = File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
