//! What the rows of a chunk come to: conversions through the batch endpoint's service, reference
//! rows through the create commands' rule, each with back-off while DynamoDB throttles. A chunk
//! is checked (its references read) in one step and written in another, so that the next chunk's
//! check runs while this one's writes do.

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::files::Row;
use super::{ImportArgs, Kind};
use crate::admin::create::{Created, create, would_create};
use crate::admin::{AdminError, conversion_type};
use crate::domain::{
    AccountId, FieldDefinition, FieldError, FieldType, IdempotencyKey, Lead, LeadId,
    MAX_TYPES_PER_ACCOUNT, MasterWorkflowId, Sha256Hex, Timestamp, WorkflowId, WorkflowRun,
    WorkflowRunId,
};
use crate::domain::{EventId, json_string};
use crate::service::{
    self, AdjustError, AdjustRequest, Applied, BatchRow, CheckedBatch, Outcome, RowOutcome, Source,
    WRITES_AT_ONCE,
};
use crate::store::{Provisioning, Record, Store, StoreError};

/// A chunk's writes start within this of their check, each adjustment ends within it: what
/// is recorded lands well within a minute of its instant (the bound `as_of` readers rely on).
const WRITES_WITHIN: Duration = Duration::from_secs(20);

/// Attempts at a chunk's throttled or failing rows before the import stops (checkpoint kept).
const ATTEMPTS: u32 = 8;

pub(super) enum Done {
    Created,
    Existing,
    Valid,
}

/// What a chunk's rows came to: done, or rejected with these errors.
pub(super) type Outcomes = Vec<Result<Done, Vec<String>>>;

/// A chunk checked, its writes not made yet.
pub(super) enum Checked {
    Conversions(CheckedBatch, Timestamp),
    Adjustments(Vec<Result<AdjustRequest, Vec<String>>>),
    Records(Vec<Result<Record, Vec<String>>>),
}

impl Checked {
    /// Whether the row is rejected already, before any write.
    pub(super) fn rejected(&self, row: usize) -> bool {
        match self {
            Self::Conversions(checked, _) => checked.refused(row),
            Self::Adjustments(rows) => rows[row].is_err(),
            Self::Records(records) => records[row].is_err(),
        }
    }

    /// The first `rows` rows only: the others are not written.
    pub(super) fn truncate(&mut self, rows: usize) {
        match self {
            Self::Conversions(checked, _) => checked.truncate(rows),
            Self::Adjustments(requests) => requests.truncate(rows),
            Self::Records(records) => records.truncate(rows),
        }
    }
}

pub(super) struct Importer<'a, P> {
    store: &'a P,
    kind: Kind,
    account: AccountId,
    dry_run: bool,
    derive_keys: bool,
    /// Leads known to exist (for runs).
    leads: RefCell<HashSet<LeadId>>,
    /// Conversion types of the account (for the limit on their number).
    types: RefCell<HashSet<String>>,
}

impl<'a, P: Provisioning + Store> Importer<'a, P> {
    pub(super) async fn new(store: &'a P, args: &ImportArgs) -> Result<Self, AdminError> {
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
            leads: RefCell::default(),
            types: RefCell::new(types),
        })
    }

    /// The rows parsed and checked against the records they name. `whole`: against what is
    /// stored too (the events of conversions' keys, the records' ids), so that every rejected
    /// row is known before any write.
    pub(super) async fn check(&self, chunk: &[Row], whole: bool) -> Result<Checked, AdminError> {
        if self.kind == Kind::Conversions {
            let now = Timestamp::now();
            let rows = chunk.iter().map(|row| self.conversion(row, now));
            let checked = self.check_conversions(rows.collect(), now, whole).await?;
            return Ok(Checked::Conversions(checked, now));
        }
        if self.kind == Kind::Adjustments {
            let now = Timestamp::now();
            let mut rows: Vec<_> = chunk.iter().map(|row| self.adjustment(row, now)).collect();
            if whole {
                // Against each event as it is now (not as the chunk's earlier rows leave it).
                let dry: Vec<_> = rows.iter().map(|row| row.clone().map(dry_run)).collect();
                for (row, found) in rows.iter_mut().zip(self.adjustments(dry).await?) {
                    if let Err(errors) = found {
                        *row = Err(errors);
                    }
                }
            }
            return Ok(Checked::Adjustments(rows));
        }
        let mut records = Vec::with_capacity(chunk.len());
        // A record on an earlier row of the chunk: the same one again, or a reject (as a later
        // chunk's would be), whichever write would come first.
        let mut earlier: HashMap<(&str, String), Record> = HashMap::new();
        for row in chunk {
            let mut record = self.record(row).await?;
            if let Ok(this) = &record {
                match earlier.entry((this.kind(), this.id())) {
                    Entry::Occupied(first) if !first.get().same(this) => {
                        record = Err(vec![other_values(this)]);
                    }
                    Entry::Occupied(_) => {}
                    Entry::Vacant(slot) => {
                        slot.insert(this.clone());
                    }
                }
            }
            records.push(record);
        }
        if whole {
            let found = self.write_records(records.clone(), true).await?;
            for (record, found) in records.iter_mut().zip(found) {
                if let Err(errors) = found {
                    *record = Err(errors);
                }
            }
        }
        Ok(Checked::Records(records))
    }

    /// The batch endpoint's check of these rows, again after a back-off while it is throttled.
    async fn check_conversions(
        &self,
        rows: Vec<Result<BatchRow, Vec<FieldError>>>,
        now: Timestamp,
        read_events: bool,
    ) -> Result<CheckedBatch, StoreError> {
        let (store, account, dry_run) = (self.store, self.account, self.dry_run);
        let source = Source::Import { read_events };
        retrying(|| service::check_batch(store, account, rows.clone(), dry_run, now, source)).await
    }

    /// The checked chunk written: what each row came to.
    pub(super) async fn write(
        &self,
        chunk: &[Row],
        checked: Checked,
    ) -> Result<Outcomes, AdminError> {
        match checked {
            Checked::Conversions(checked, now) => self.conversions(chunk, checked, now).await,
            Checked::Adjustments(rows) => {
                let dry_run = self.dry_run;
                let rows = rows
                    .into_iter()
                    .map(|row| row.map(|r| AdjustRequest { dry_run, ..r }));
                self.adjustments(rows.collect()).await
            }
            Checked::Records(records) => Ok(self.write_records(records, self.dry_run).await?),
        }
    }

    /// The batch endpoint's writes, throttled or failing rows sent again after a back-off.
    async fn conversions(
        &self,
        chunk: &[Row],
        mut checked: CheckedBatch,
        now: Timestamp,
    ) -> Result<Outcomes, AdminError> {
        let mut outcomes: Vec<Option<Result<Done, Vec<String>>>> =
            (0..chunk.len()).map(|_| None).collect();
        let mut pending: Vec<usize> = (0..chunk.len()).collect();
        // Each event is recorded at most a few seconds after its instant (what `as_of` reads):
        // a chunk checked longer ago than that is checked again first.
        if stale(now) {
            let now = Timestamp::now();
            let rows = chunk.iter().map(|row| self.conversion(row, now));
            checked = self.check_conversions(rows.collect(), now, false).await?;
        }
        for attempt in 1..=ATTEMPTS {
            let deadline = tokio::time::Instant::now() + WRITES_WITHIN;
            let results = service::write_batch(self.store, checked, deadline).await;
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
            if attempt == ATTEMPTS {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            let now = Timestamp::now();
            let rows = retry.iter().map(|&i| self.conversion(&chunk[i], now));
            checked = self.check_conversions(rows.collect(), now, false).await?;
            pending = retry;
        }
        Err(AdminError::Store(StoreError::Throttled(
            "rows still throttled or failing after every attempt".into(),
        )))
    }

    fn conversion(&self, row: &Row, now: Timestamp) -> Result<BatchRow, Vec<FieldError>> {
        let json = row
            .json
            .as_ref()
            .map_err(|e| vec![FieldError::new("row", e.clone())])?;
        let raw = serde_json::value::RawValue::from_string(json.clone())
            .map_err(|e| vec![FieldError::new("row", e.to_string())])?;
        let (_, parsed) = crate::http::read_row(&raw, now);
        match parsed {
            // Only a key left out is derived: one sent, of whatever type, is the client's.
            Err(errors)
                if self.derive_keys
                    && errors.iter().all(|e| {
                        e.field == "idempotency_key" && e.message == crate::http::KEY_REQUIRED
                    }) =>
            {
                let conversion = crate::http::parse_new_conversion(json.as_bytes(), now)?;
                let digest = Sha256Hex::of(json.as_bytes());
                let key = IdempotencyKey::parse(format!("derived-{}", digest.as_str()).as_bytes())
                    .expect("hex is printable");
                Ok(BatchRow { key, conversion })
            }
            other => other,
        }
    }

    /// The rows applied, each event's in their order (events at once), each again after a
    /// back-off while it is throttled or failing.
    async fn adjustments(
        &self,
        rows: Vec<Result<AdjustRequest, Vec<String>>>,
    ) -> Result<Outcomes, AdminError> {
        let mut by_event: Vec<(EventId, Vec<(usize, AdjustRequest)>)> = Vec::new();
        let mut outcomes: Vec<Option<Result<Done, Vec<String>>>> = Vec::new();
        for (i, row) in rows.into_iter().enumerate() {
            outcomes.push(None);
            match row {
                Err(errors) => outcomes[i] = Some(Err(errors)),
                Ok(request) => match by_event.iter_mut().find(|(e, _)| *e == request.event) {
                    Some((_, rows)) => rows.push((i, request)),
                    None => by_event.push((request.event, vec![(i, request)])),
                },
            }
        }
        let (store, account) = (self.store, self.account);
        let applied: Vec<Vec<_>> = stream::iter(by_event)
            .map(|(_, rows)| async move {
                let mut done = Vec::with_capacity(rows.len());
                for (i, request) in rows {
                    done.push((i, adjust_patiently(store, account, request).await?));
                }
                Ok::<_, StoreError>(done)
            })
            .buffer_unordered(WRITES_AT_ONCE)
            .try_collect()
            .await?;
        for (i, outcome) in applied.into_iter().flatten() {
            outcomes[i] = Some(outcome);
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.expect("every row answered"))
            .collect())
    }

    /// An adjustment row: its event (by id, or by the key it was created with), its own key
    /// (or, with --derive-keys, one derived from the row), and the adjustment endpoint's body.
    fn adjustment(&self, row: &Row, now: Timestamp) -> Result<AdjustRequest, Vec<String>> {
        let json = row.json.as_ref().map_err(|e| vec![e.clone()])?;
        let members: HashMap<String, Box<RawValue>> = serde_json::from_str(json)
            .map_err(|_| vec!["the row is not a JSON object".to_owned()])?;
        // A key is text; a CSV cell of digits arrives as a number, kept as written.
        let text = |name: &str| {
            let raw = members.get(name).filter(|raw| raw.get() != "null")?;
            Some(match json_string(raw) {
                Ok(Some(text)) => text,
                _ => raw.get().to_owned(),
            })
        };
        let mut errors = Vec::new();
        let event = match (
            text("conversion_event_id"),
            text("conversion_idempotency_key"),
        ) {
            (Some(id), None) => EventId::parse(&id)
                .map_err(|_| errors.push("conversion_event_id must be a valid UUID".to_owned()))
                .ok(),
            (None, Some(key)) => IdempotencyKey::parse(key.as_bytes())
                .map(|key| key.event_id(self.account))
                .map_err(|e| errors.push(format!("conversion_idempotency_key: {e}")))
                .ok(),
            (Some(_), Some(_)) => {
                errors.push(
                    "name the event by conversion_event_id or conversion_idempotency_key, not both"
                        .to_owned(),
                );
                None
            }
            (None, None) => {
                errors.push(
                    "conversion_event_id or conversion_idempotency_key is required".to_owned(),
                );
                None
            }
        };
        let key = match text("idempotency_key") {
            Some(key) => IdempotencyKey::parse(key.as_bytes())
                .map_err(|e| errors.push(format!("idempotency_key: {e}")))
                .ok(),
            None if self.derive_keys => {
                let digest = Sha256Hex::of(json.as_bytes());
                IdempotencyKey::parse(format!("derived-{}", digest.as_str()).as_bytes()).ok()
            }
            None => {
                errors.push("idempotency_key is required in every row".to_owned());
                None
            }
        };
        let adjustment = crate::http::parse_new_adjustment(json.as_bytes(), now)
            .map_err(|found| errors.extend(found.into_iter().map(|e| e.message)))
            .ok();
        match (event, key, adjustment) {
            (Some(event), Some(key), Some(adjustment)) if errors.is_empty() => Ok(AdjustRequest {
                event,
                adjustment,
                idempotency_key: Some(key),
                dry_run: false,
            }),
            _ => Err(errors),
        }
    }

    /// A reference row as the record the create commands would write, or why it cannot be one.
    async fn record(&self, row: &Row) -> Result<Result<Record, Vec<String>>, AdminError> {
        let json = match &row.json {
            Ok(json) => json,
            Err(e) => return Ok(Err(vec![e.clone()])),
        };
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(json) else {
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
            Kind::Conversions | Kind::Adjustments => unreachable!("not reference rows"),
        };
        Ok(record.map_err(|e| vec![e]))
    }

    fn conversion_type(&self, fields: &Fields, created_at: Timestamp) -> Result<Record, String> {
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
        let mut types = self.types.borrow_mut();
        if !types.contains(&id) && types.len() >= MAX_TYPES_PER_ACCOUNT {
            return Err(format!(
                "the account has {MAX_TYPES_PER_ACCOUNT} conversion types, the most it may have"
            ));
        }
        types.insert(id);
        Ok(Record::ConversionType(self.account, t))
    }

    async fn lead_exists(&self, lead: LeadId) -> Result<bool, AdminError> {
        if self.leads.borrow().contains(&lead) {
            return Ok(true);
        }
        let found = retrying(|| self.store.get_lead(self.account, lead))
            .await?
            .is_some();
        if found {
            self.leads.borrow_mut().insert(lead);
        }
        Ok(found)
    }

    /// The create rule for each record, a bounded number at a time: a record with the same
    /// values is `existing`, one with others a reject, never replaced. `read_only` (a dry run,
    /// a check) reads what the rule would find.
    async fn write_records(
        &self,
        records: Vec<Result<Record, Vec<String>>>,
        read_only: bool,
    ) -> Result<Outcomes, StoreError> {
        let results: Vec<_> = stream::iter(records)
            .map(|record| async move {
                let record = match record {
                    Ok(record) => record,
                    Err(errors) => return Ok(Err(errors)),
                };
                let created = match read_only {
                    true => retrying(|| would_create(self.store, &record)).await?,
                    false => retrying(|| create(self.store, &record)).await?,
                };
                Ok(match created {
                    Created::New if read_only => Ok(Done::Valid),
                    Created::New => Ok(Done::Created),
                    Created::Exists(_) => Ok(Done::Existing),
                    Created::Conflict(_) => Err(vec![other_values(&record)]),
                })
            })
            .buffered(WRITES_AT_ONCE)
            .collect()
            .await;
        results.into_iter().collect()
    }
}

fn other_values(record: &Record) -> String {
    format!("{} {} exists with other values", record.kind(), record.id())
}

fn dry_run(request: AdjustRequest) -> AdjustRequest {
    AdjustRequest {
        dry_run: true,
        ..request
    }
}

/// Whether an instant taken for a write is too old to record it at.
fn stale(taken: Timestamp) -> bool {
    Timestamp::now().as_datetime() - taken.as_datetime() > chrono::Duration::seconds(3)
}

/// One adjustment, recorded at the instant of its attempt, again after a back-off while the
/// store is throttled or failing for now.
async fn adjust_patiently<P: Store>(
    store: &P,
    account: AccountId,
    request: AdjustRequest,
) -> Result<Result<Done, Vec<String>>, StoreError> {
    let mut attempt = 0;
    loop {
        let now = Timestamp::now();
        let adjusting = service::adjust_conversion(store, account, request.clone(), now);
        let outcome = match tokio::time::timeout(WRITES_WITHIN, adjusting).await {
            Ok(outcome) => outcome,
            Err(_) => Err(AdjustError::Store(StoreError::Unavailable(
                "the adjustment took too long".into(),
            ))),
        };
        let message = |e: crate::http::ApiError| Err(vec![e.message().to_owned()]);
        return Ok(match outcome {
            Ok(adjusted) => Ok(match adjusted.applied {
                Applied::Created => Done::Created,
                Applied::Replayed => Done::Existing,
                Applied::DryRun => Done::Valid,
            }),
            Err(AdjustError::Invalid(errors)) => {
                Err(errors.into_iter().map(|e| e.message).collect())
            }
            Err(AdjustError::Store(StoreError::Throttled(_) | StoreError::Unavailable(_)))
                if attempt + 1 < ATTEMPTS =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                continue;
            }
            Err(AdjustError::Store(err)) => return Err(err),
            Err(other) => message(other.into()),
        });
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
