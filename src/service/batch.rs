//! Many conversions in one call (`POST /conversions/batch`, `conversions-admin import`): every row
//! is checked and written on its own, by the single create's rules and its exactly-once write;
//! the records the rows name are read once for all; a bounded number of writes run at once.

use std::collections::HashSet;

use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;

use super::{CreateError, Outcome, Prepared, Write, log_account, prepare, write_event};
use crate::domain::{AccountId, FieldError, IdempotencyKey, NewConversion, Timestamp};
use crate::store::{Lookup, Store, StoreError};

/// The most rows one batch holds.
pub const MAX_BATCH_ROWS: usize = 100;
/// Conditional puts in flight at once (a batch's, an import's): DynamoDB takes more, a Lambda's
/// one connection pool and a batch's deadline take about this many well.
pub const WRITES_AT_ONCE: usize = 16;

pub const KEY_REPEATED: &str = "idempotency_key is used by an earlier event of this batch";

/// One row, valid on its own: its idempotency key (required in a batch) and its conversion.
#[derive(Debug, Clone)]
pub struct BatchRow {
    pub key: IdempotencyKey,
    pub conversion: NewConversion,
}

/// What became of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    /// Created, replayed or (under `dry_run`) valid: [`Outcome`] says which.
    Done(Outcome),
    Invalid(Vec<FieldError>),
    /// The key was used with another request.
    Conflict,
    /// Not written before the deadline, or its write failed (throttled, unavailable, any store
    /// error): sending it again is safe.
    Retryable,
}

/// Where a batch comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `POST /conversions/batch`: a client may send a whole batch again, so the rows' events are
    /// read with the records they name (a replay costs half a read unit, not a refused put).
    Api,
    /// `conversions-admin import` of past conversions: a deactivated conversion type is used as
    /// if active (it was when they happened). Its rows are new but for the chunk a crash cut
    /// short, so their events are read first only when a rejected row must be known before any
    /// write (`read_events`, near `--max-errors`); else a replay is found by its refused put.
    Import { read_events: bool },
}

/// Every row's outcome, in order. A failure before the writes (the rows' records unread) fails
/// the whole batch, with nothing written; once writes start, every row gets its own outcome.
pub async fn create_batch<S: Store>(
    store: &S,
    account: AccountId,
    rows: Vec<Result<BatchRow, Vec<FieldError>>>,
    dry_run: bool,
    now: Timestamp,
    deadline: Instant,
    source: Source,
) -> Result<Vec<RowOutcome>, StoreError> {
    let checked = check_batch(store, account, rows, dry_run, now, source).await?;
    Ok(write_batch(store, checked, deadline).await)
}

/// A batch read and checked, its writes not made yet: an importer checks its next chunk while
/// this one's writes run.
pub struct CheckedBatch {
    account: AccountId,
    /// Every row's outcome, `Retryable` where a write is pending.
    outcomes: Vec<RowOutcome>,
    writes: Vec<(usize, Write)>,
}

impl CheckedBatch {
    /// Whether the row is refused already (invalid, or its key used by another request).
    pub fn refused(&self, row: usize) -> bool {
        matches!(
            self.outcomes[row],
            RowOutcome::Invalid(_) | RowOutcome::Conflict
        )
    }

    /// The first `rows` rows only: the others are not written.
    pub fn truncate(&mut self, rows: usize) {
        self.outcomes.truncate(rows);
        self.writes.retain(|(index, _)| *index < rows);
    }
}

/// [`create_batch`]'s first half: the rows checked against the records they name, read once.
pub async fn check_batch<S: Store>(
    store: &S,
    account: AccountId,
    rows: Vec<Result<BatchRow, Vec<FieldError>>>,
    dry_run: bool,
    now: Timestamp,
    source: Source,
) -> Result<CheckedBatch, StoreError> {
    log_account(account);
    let mut keys = HashSet::new();
    let rows: Vec<_> = (rows.into_iter())
        .map(|row| {
            let row = row?;
            let id = row.key.event_id(account);
            match keys.insert(id) {
                true => Ok((id, row.conversion)),
                false => Err(vec![FieldError::new("idempotency_key", KEY_REPEATED)]),
            }
        })
        .collect();
    let valid = rows.iter().filter_map(|row| row.as_ref().ok());
    let read_events =
        !dry_run && matches!(source, Source::Api | Source::Import { read_events: true });
    let events = (valid.clone().map(|(id, _)| *id)).filter(|_| read_events);
    let lookup = Lookup::of(valid.map(|(_, conversion)| conversion), events);
    let mut context = store.load_context(account, &lookup).await?;
    if matches!(source, Source::Import { .. }) {
        context
            .conversion_types
            .values_mut()
            .for_each(|t| t.active = true);
    }
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut writes = Vec::new();
    for (index, row) in rows.into_iter().enumerate() {
        let outcome = match row {
            Err(errors) => RowOutcome::Invalid(errors),
            Ok((id, conversion)) => {
                match prepare(
                    &context,
                    conversion,
                    Some(id).filter(|_| !dry_run),
                    dry_run,
                    now,
                ) {
                    Ok(Prepared::Done(outcome)) => RowOutcome::Done(outcome),
                    Ok(Prepared::Write(write)) => {
                        writes.push((index, write));
                        RowOutcome::Retryable
                    }
                    Err(err) => row_outcome(Err(err))?,
                }
            }
        };
        outcomes.push(outcome);
    }
    Ok(CheckedBatch {
        account,
        outcomes,
        writes,
    })
}

/// [`create_batch`]'s second half: the conditional puts, a bounded number at once, none started
/// after the deadline. A row whose write failed is `Retryable`: the others may be written.
pub async fn write_batch<S: Store>(
    store: &S,
    checked: CheckedBatch,
    deadline: Instant,
) -> Vec<RowOutcome> {
    let CheckedBatch {
        account,
        mut outcomes,
        writes,
    } = checked;
    let written: Vec<_> = stream::iter(writes)
        .map(|(index, write)| async move {
            // A write not started by the deadline is not started at all.
            if Instant::now() >= deadline {
                return (index, Ok(RowOutcome::Retryable));
            }
            match tokio::time::timeout_at(deadline, write_event(store, account, write)).await {
                Ok(result) => (index, row_outcome(result)),
                Err(_) => (index, Ok(RowOutcome::Retryable)),
            }
        })
        .buffer_unordered(WRITES_AT_ONCE)
        .collect()
        .await;
    // One line for the batch, however many rows a busy or failing DynamoDB left to a retry,
    // naming a failure no retry may fix before a throttle.
    let mut cause: Option<StoreError> = None;
    let transient =
        |e: &StoreError| matches!(e, StoreError::Throttled(_) | StoreError::Unavailable(_));
    for (index, outcome) in written {
        outcomes[index] = outcome.unwrap_or_else(|err| {
            if cause
                .as_ref()
                .is_none_or(|c| transient(c) && !transient(&err))
            {
                cause = Some(err);
            }
            RowOutcome::Retryable
        });
    }
    match cause {
        Some(err @ (StoreError::Throttled(_) | StoreError::Unavailable(_))) => {
            let error = crate::telemetry::error_chain(&err);
            tracing::warn!(error, "rows of the batch are left to a retry");
        }
        Some(err) => {
            let error = crate::telemetry::error_chain(&err);
            tracing::error!(error, "rows of the batch failed and are left to a retry");
        }
        None => {}
    }
    outcomes
}

fn row_outcome(result: Result<Outcome, CreateError>) -> Result<RowOutcome, StoreError> {
    match result {
        Ok(outcome) => Ok(RowOutcome::Done(outcome)),
        Err(CreateError::Invalid(errors)) => Ok(RowOutcome::Invalid(errors)),
        Err(CreateError::IdempotencyMismatch) => Ok(RowOutcome::Conflict),
        Err(CreateError::Store(err)) => Err(err),
        // Only a single create authenticates through its records.
        Err(CreateError::Auth(_)) => Err(StoreError::Failed("a batch row failed auth".into())),
    }
}
