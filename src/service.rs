//! The use cases (authenticate; record, list and read conversions; list conversion types),
//! written against the [`Store`] port only, so they run the same on DynamoDB and in memory.

mod adjust;
mod batch;
mod changes;

pub use adjust::{AdjustError, AdjustRequest, Adjusted, Applied, adjust_conversion};
pub use changes::{ChangesRequest, list_changes};

pub use batch::{
    BatchRow, CheckedBatch, KEY_REPEATED, MAX_BATCH_ROWS, RowOutcome, Source, WRITES_AT_ONCE,
    check_batch, create_batch, write_batch,
};

use crate::domain::{
    AccountId, ApiKey, ConversionEvent, ConversionType, Cursor, EventId, EventWithType, FieldError,
    IdempotencyKey, NewConversion, PageRequest, Position, Resume, Timestamp, Total, WriteToken,
    recorded_by,
};
use crate::store::{Context, Insert, Lookup, NewEvent, Store, StoreError, StoredEvent};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the API key is unknown or revoked")]
    Invalid,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A request to record a conversion, its payload already valid on its own.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub conversion: NewConversion,
    pub idempotency_key: Option<IdempotencyKey>,
    /// Check everything, write nothing.
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Created(ConversionEvent),
    /// Recorded earlier by a request with the same `Idempotency-Key` and body; nothing written.
    Replayed(ConversionEvent),
    /// Would be recorded like this; nothing written.
    DryRun(ConversionEvent),
}

#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// Already checked by [`authenticate`].
    Account(AccountId),
    /// A key that names its account, unchecked until its record is read with the request's records.
    Claimed { key: &'a ApiKey, account: AccountId },
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The key that claimed the account is unknown, revoked, or another account's.
    #[error(transparent)]
    Auth(AuthError),
    /// Every problem found: references, and rules that depend on the conversion type.
    #[error("the request is invalid")]
    Invalid(Vec<FieldError>),
    #[error("the Idempotency-Key was used with a different request body")]
    IdempotencyMismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Finds the account of a well-formed API key. Only its hash reaches the store. A key that names
/// an account must name its own, as when its record is read with the request's records.
pub async fn authenticate<S: Store>(store: &S, key: &ApiKey) -> Result<AccountId, AuthError> {
    let account = store
        .account_for_key(&key.hash())
        .await?
        .filter(|account| {
            key.claimed_account()
                .is_none_or(|claimed| claimed == *account)
        })
        .ok_or(AuthError::Invalid)?;
    log_account(account);
    Ok(account)
}

/// Puts the checked account on the request's span, so its log line names it whatever the outcome.
fn log_account(account: AccountId) {
    tracing::Span::current().record("account", tracing::field::display(account));
}

/// Records a conversion: one read of everything the request refers to (and of the event its
/// `Idempotency-Key` would have created), the rules of [`NewConversion::resolve`], one conditional
/// write. With a key, the event id derives from (account, key), so concurrent or repeated requests
/// address one item: the conditional put lets one through; the others get its event back, or a 422
/// if their request differs ([`NewConversion::would_store`]). A dry run ignores the key. Every write's
/// random [`WriteToken`] lets an SDK retry of a put that had committed find its own item.
pub async fn create_conversion<S: Store>(
    store: &S,
    caller: Caller<'_>,
    request: CreateRequest,
    now: Timestamp,
) -> Result<Outcome, CreateError> {
    let (account, key) = match caller {
        Caller::Account(account) => (account, None),
        Caller::Claimed { key, account } => (account, Some(key.hash())),
    };
    let CreateRequest {
        conversion,
        idempotency_key,
        dry_run,
    } = request;
    let keyed = idempotency_key
        .filter(|_| !dry_run)
        .map(|key| key.event_id(account));
    let mut lookup = Lookup::of([&conversion], keyed);
    lookup.api_key = key.as_ref();
    let context = store.load_context(account, &lookup).await?;
    // Trust a claimed account only once its key's record confirms it, before using anything read.
    if key.is_some() && context.key_account != Some(account) {
        return Err(CreateError::Auth(AuthError::Invalid));
    }
    log_account(account);
    match prepare(&context, conversion, keyed, dry_run, now)? {
        Prepared::Done(outcome) => Ok(outcome),
        Prepared::Write(write) => write_event(store, account, write).await,
    }
}

impl Lookup<'_> {
    /// The records these conversions refer to, and the events of these idempotency keys.
    fn of<'c>(
        conversions: impl IntoIterator<Item = &'c NewConversion>,
        events: impl IntoIterator<Item = EventId>,
    ) -> Self {
        let mut lookup = Self {
            events: events.into_iter().collect(),
            ..Self::default()
        };
        for c in conversions {
            lookup.conversion_types.push(c.conversion_type_id);
            lookup.leads.push(c.lead_id);
            lookup.workflow_runs.extend(c.workflow_run_id);
        }
        lookup
    }
}

/// What a valid conversion comes to, before any write.
enum Prepared {
    Done(Outcome),
    Write(Write),
}

struct Write {
    event: ConversionEvent,
    /// The keyed request, kept to compare with what a concurrent request with its key stored.
    sent: Option<NewConversion>,
}

/// The rules of [`NewConversion::resolve`] on the records read, or the replay of the event its
/// key already created. A dry run (`keyed` is then `None`) stops before the write.
fn prepare(
    context: &Context,
    conversion: NewConversion,
    keyed: Option<EventId>,
    dry_run: bool,
    now: Timestamp,
) -> Result<Prepared, CreateError> {
    if let Some(existing) = keyed.and_then(|id| context.events.get(&id)) {
        return replay(existing.clone(), &conversion).map(Prepared::Done);
    }
    if keyed.is_some_and(|id| context.adjustment_keys.contains(&id)) {
        return Err(CreateError::IdempotencyMismatch);
    }
    let conversion_type = context.conversion_types.get(&conversion.conversion_type_id);
    let sent = keyed.is_some().then(|| conversion.clone());
    let lead = context.leads.get(&conversion.lead_id);
    let run = (conversion.workflow_run_id).and_then(|id| context.workflow_runs.get(&id));
    let id = keyed.unwrap_or_else(EventId::random);
    let event =
        (conversion.resolve(id, conversion_type, lead, run, now)).map_err(CreateError::Invalid)?;
    if dry_run {
        return Ok(Prepared::Done(Outcome::DryRun(event)));
    }
    Ok(Prepared::Write(Write { event, sent }))
}

/// The conditional put of a prepared event, with a random [`WriteToken`]: an SDK retry of a put
/// whose first attempt committed finds its own item by it.
async fn write_event<S: Store>(
    store: &S,
    account: AccountId,
    write: Write,
) -> Result<Outcome, CreateError> {
    let Write { event, sent } = write;
    let write_token = WriteToken::random();
    let new = NewEvent {
        event: &event,
        write_token,
    };
    match store.insert_event(account, new).await? {
        Insert::Written => Ok(Outcome::Created(event)),
        // An SDK retry of a put whose first attempt committed: the item is this request's own.
        Insert::Exists(existing) if existing.write_token == Some(write_token) => {
            tracing::info!(event = %event.id, "the put's retry found its own committed write");
            Ok(Outcome::Created(existing.event))
        }
        // Another request with the same key won the race: answer with what it stored.
        // An adjustment holds the key.
        Insert::KeyTaken => Err(CreateError::IdempotencyMismatch),
        Insert::Exists(existing) => match sent {
            Some(sent) => replay(*existing, &sent),
            // A random id collided: nothing was overwritten, and it is not the client's doing.
            None => Err(
                StoreError::Failed(format!("event id {} already exists", event.id).into()).into(),
            ),
        },
    }
}

/// All the account's conversion types, oldest first: a stable order in which a new one is last.
pub async fn conversion_types<S: Store>(
    store: &S,
    account: AccountId,
) -> Result<Vec<ConversionType>, StoreError> {
    let mut types = store.conversion_types(account).await?;
    types.sort_by_key(|t| (t.created_at, t.id));
    Ok(types)
}

/// The active types, in [`conversion_types`] order: what `GET /conversion-types` lists.
pub async fn list_conversion_types<S: Store>(
    store: &S,
    account: AccountId,
) -> Result<Vec<ConversionType>, StoreError> {
    let mut types = conversion_types(store, account).await?;
    types.retain(|t| t.active);
    Ok(types)
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    pub events: Vec<EventWithType>,
    pub total: Total,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<Cursor>,
    /// The page holds fewer events than asked for: it reached the read bound.
    pub cut_short: bool,
}

/// A page of the account's events that match the filter, with their types and total (or a lower
/// bound). `fits` says how many the answer can carry (Lambda's response size limit); a page cut
/// there says so, like one that reached the read bound, and its cursor resumes after its last one.
pub async fn list_conversions<S: Store>(
    store: &S,
    account: AccountId,
    request: PageRequest,
    fits: impl FnOnce(&[EventWithType]) -> usize,
) -> Result<ListPage, StoreError> {
    let mut page = store.list_events(account, &request).await?;
    for listed in &mut page.events {
        cut_to(listed, request.filter.as_of);
    }
    let carried = fits(&page.events);
    if carried < page.events.len() {
        page.events.truncate(carried);
        page.cut_short = true;
        page.next = page.events.last().map(|last| Resume {
            after: Position::of(&last.event),
            skip: 0,
        });
    }
    Ok(ListPage {
        events: page.events,
        total: page.total,
        next_cursor: page
            .next
            .map(|resume| Cursor::new(account, &request.filter, resume)),
        cut_short: page.cut_short,
    })
}

/// One event of the account, its type and adjustments, as they were `as_of` (or are now); `None`
/// for an id the account has no event under (then).
pub async fn get_conversion<S: Store>(
    store: &S,
    account: AccountId,
    id: EventId,
    as_of: Option<Timestamp>,
) -> Result<Option<EventWithType>, StoreError> {
    let Some(stored) = store.get_event(account, id).await? else {
        return Ok(None);
    };
    if as_of.is_some_and(|at| stored.event.created_at > at) {
        return Ok(None);
    }
    let event = stored.event;
    let conversion_type = store
        .conversion_type(account, event.conversion_type_id)
        .await?;
    let conversion_type = conversion_type.ok_or_else(|| StoreError::missing_type(&event))?;
    let mut listed = EventWithType {
        event,
        conversion_type,
        adjustments: stored.adjustments,
    };
    cut_to(&mut listed, as_of);
    Ok(Some(listed))
}

/// Drops the adjustments recorded after `as_of`.
fn cut_to(listed: &mut EventWithType, as_of: Option<Timestamp>) {
    if let Some(at) = as_of {
        let kept = recorded_by(&listed.adjustments, at).len();
        listed.adjustments.truncate(kept);
    }
}

/// The stored event if `conversion` is its request ([`NewConversion::would_store`]).
fn replay(existing: StoredEvent, conversion: &NewConversion) -> Result<Outcome, CreateError> {
    if conversion.would_store(&existing.event) {
        Ok(Outcome::Replayed(existing.event))
    } else {
        Err(CreateError::IdempotencyMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::{DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, seed_demo};
    use crate::store::{Faults, MemoryStore};

    async fn create(own: bool, key: Option<&[u8]>) -> Result<Outcome, CreateError> {
        let store = MemoryStore::new();
        let demo = seed_demo(&store).await.unwrap();
        let conversion = crate::http::parse_new_conversion(
            format!(
                r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":1}}"#
            )
            .as_bytes(),
            Timestamp::now(),
        )
        .unwrap();
        let request = CreateRequest {
            conversion,
            idempotency_key: key.map(|k| IdempotencyKey::parse(k).unwrap()),
            dry_run: false,
        };
        let store = store.with_faults(Faults {
            written_before: Some(own),
            ..Faults::default()
        });
        create_conversion(
            &store,
            Caller::Account(demo.account.id),
            request,
            Timestamp::now(),
        )
        .await
    }

    #[tokio::test]
    async fn a_put_that_finds_its_own_write_is_created_with_or_without_a_key() {
        for key in [None, Some(&b"own-1"[..])] {
            let outcome = create(true, key).await;
            assert!(
                matches!(outcome, Ok(Outcome::Created(_))),
                "{key:?}: {outcome:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_put_that_finds_another_requests_write_replays_it_or_fails_without_a_key() {
        let keyed = create(false, Some(b"other-1")).await;
        assert!(matches!(keyed, Ok(Outcome::Replayed(_))), "{keyed:?}");
        let unkeyed = create(false, None).await;
        assert!(
            matches!(unkeyed, Err(CreateError::Store(StoreError::Failed(_)))),
            "{unkeyed:?}"
        );
    }
}
