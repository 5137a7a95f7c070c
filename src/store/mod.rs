//! The storage port, in domain terms, and its DynamoDB adapter; nothing outside `dynamodb/`
//! sees an `AttributeValue`. The in-memory twin for fast tests is test code (`tests/support`).

mod dynamodb;
#[cfg(test)]
#[path = "../../tests/support/memory.rs"]
mod memory;

use std::collections::{HashMap, HashSet};

pub use dynamodb::{
    DynamoStore, StreamRecord, StreamedChange, TableError, create_table, is_stream_event,
    stream_records,
};
#[cfg(test)]
pub use memory::{Faults, MemoryStore};

use crate::domain::{
    Account, AccountId, Adjustment, ApiKeyHash, ApiKeyRecord, Change, ChangeRecord,
    ConversionEvent, ConversionType, ConversionTypeId, EventId, EventWithType, FeedPosition, Lead,
    LeadId, Page, PageRequest, Sha256Hex, Timestamp, WorkflowRun, WorkflowRunId, WriteToken,
};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A failure of the store itself (never of the client's input).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Still throttled after the SDK's own retries: worth retrying later.
    #[error("the store is throttling requests")]
    Throttled(#[source] BoxError),
    /// Any other failure a later retry may fix: no connection, a timeout, a cut connection, a 5xx.
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    /// A failure no retry fixes: a request the store refuses, access denied, a missing table.
    #[error("the store request failed")]
    Failed(#[source] BoxError),
    #[error("stored record {key} is malformed: {reason}")]
    Corrupt { key: String, reason: String },
}

impl StoreError {
    /// An event whose conversion type is not there: types are never deleted.
    pub fn missing_type(event: &ConversionEvent) -> Self {
        Self::Corrupt {
            key: format!("conversion event {}", event.id),
            reason: format!(
                "its conversion type {} is missing",
                event.conversion_type_id
            ),
        }
    }
}

/// An event to write, and the token that tells this write's item from another's.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub event: &'a ConversionEvent,
    pub write_token: WriteToken,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Insert {
    Written,
    /// An event with this id was there already, and is this one; nothing was written.
    Exists(Box<StoredEvent>),
    /// The id is an adjustment's `Idempotency-Key`'s ([`KeyHolder::Adjustment`]); nothing written.
    KeyTaken,
}

/// A recorded event, the token of its write, and its adjustments, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub event: ConversionEvent,
    pub write_token: Option<WriteToken>,
    pub adjustments: Vec<Adjustment>,
}

/// What holds the id an `Idempotency-Key` derives: the event a create recorded with it, or the
/// claim an adjustment wrote before it was applied (one key space for both).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyHolder {
    Event,
    Adjustment(AdjustmentClaim),
}

/// An adjustment's hold on its key: the event it adjusts, and a digest of its request (no reason
/// in clear: a claim outlives nothing it names, but holds no personal data either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjustmentClaim {
    pub event: EventId,
    pub request: Sha256Hex,
}

/// An event to adjust and, for a keyed adjustment, what holds its key; read together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    pub event: Option<StoredEvent>,
    pub key_holder: Option<KeyHolder>,
}

/// The records of a [`Lookup`] that exist in the caller's account, by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The active key's account; `None` for an unknown or revoked key, or when none was asked for.
    pub key_account: Option<AccountId>,
    pub conversion_types: HashMap<ConversionTypeId, ConversionType>,
    pub leads: HashMap<LeadId, Lead>,
    pub workflow_runs: HashMap<WorkflowRunId, WorkflowRun>,
    pub events: HashMap<EventId, StoredEvent>,
    /// The ids of [`Lookup::events`] an adjustment's key holds: a create with that key is refused.
    pub adjustment_keys: HashSet<EventId>,
}

/// The records requests refer to (one create's, or a batch's), read together, each once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup<'a> {
    /// Read with the rest for a key that names its account.
    pub api_key: Option<&'a ApiKeyHash>,
    pub conversion_types: Vec<ConversionTypeId>,
    pub leads: Vec<LeadId>,
    pub workflow_runs: Vec<WorkflowRunId>,
    /// The events idempotency keys would create, to find replays.
    pub events: Vec<EventId>,
}

// Async functions: every caller's future is of a concrete store, whose `Send` the compiler sees.
#[allow(async_fn_in_trait)]
pub trait Store: Send + Sync {
    /// The account of an active key with this hash; `None` for unknown or revoked keys.
    async fn account_for_key(&self, key: &ApiKeyHash) -> Result<Option<AccountId>, StoreError>;

    /// The records of the lookup that exist in this account, in one round trip.
    async fn load_context(
        &self,
        account: AccountId,
        lookup: &Lookup<'_>,
    ) -> Result<Context, StoreError>;

    /// Writes the event unless its id exists in the account; then returns the existing one.
    /// Its change ([`ChangeRecord::created`]) is written first.
    async fn insert_event(
        &self,
        account: AccountId,
        new: NewEvent<'_>,
    ) -> Result<Insert, StoreError>;

    /// The event, and what holds the id `key` (an `Idempotency-Key`'s), in one strongly
    /// consistent read.
    async fn adjustment_target(
        &self,
        account: AccountId,
        event: EventId,
        key: Option<EventId>,
    ) -> Result<Target, StoreError>;

    /// Holds `key` for an adjustment of `event` (recorded at `event_created_at`, whose retention
    /// the claim shares) unless something holds it already; then returns that.
    async fn claim_key(
        &self,
        account: AccountId,
        key: EventId,
        claim: &AdjustmentClaim,
        event_created_at: Timestamp,
    ) -> Result<Option<KeyHolder>, StoreError>;

    /// Appends the adjustment if the event still has exactly `after` adjustments (`false` if not,
    /// or if the event is gone). An unanswered write is read back: found, it is `true`. Its
    /// change ([`ChangeRecord::adjusted`]) is written first.
    async fn append_adjustment(
        &self,
        account: AccountId,
        event: EventId,
        after: usize,
        adjustment: &Adjustment,
    ) -> Result<bool, StoreError>;

    /// One event of the account; `None` if it has no event with this id.
    async fn get_event(
        &self,
        account: AccountId,
        id: EventId,
    ) -> Result<Option<StoredEvent>, StoreError>;

    /// Every conversion type of the account, active or not, in no particular order.
    async fn conversion_types(&self, account: AccountId)
    -> Result<Vec<ConversionType>, StoreError>;

    /// One conversion type of the account, active or not.
    async fn conversion_type(
        &self,
        account: AccountId,
        id: ConversionTypeId,
    ) -> Result<Option<ConversionType>, StoreError>;

    /// Up to `limit` of the account's change records after `after` and recorded before `until`,
    /// oldest first, each with the event it names read strongly (writes announced by a change
    /// land after it: a replica's lag must not hide one).
    async fn changes(
        &self,
        account: AccountId,
        after: FeedPosition,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError>;

    /// One page of the matching events in list order ([`crate::domain::Position`]), with their
    /// types, and how many match: within [`crate::domain::MAX_ENTRIES_READ`] index entries for
    /// the page and [`crate::domain::MAX_ENTRIES_COUNTED`] for the count.
    async fn list_events(&self, account: AccountId, page: &PageRequest)
    -> Result<Page, StoreError>;
}

/// A change record and, for one naming an event, that event as stored now (its type, its
/// adjustments) with the write token of the create that recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    pub record: ChangeRecord,
    pub event: Option<(EventWithType, Option<WriteToken>)>,
}

impl FeedEntry {
    /// The change as served, if what it announces holds it.
    pub fn served(&self) -> Option<Change> {
        let event = self.event.as_ref().map(|(event, token)| (event, *token));
        self.record.served(event)
    }
}

/// What an erasure deleted, by kind: counts only, never an id or a value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    pub conversion_events: u64,
    /// Items holding an adjustment's `Idempotency-Key` (the adjustments are in their events).
    pub adjustment_keys: u64,
    /// The feed's records of the events' changes (a `lead.erased` one is written, not counted).
    pub changes: u64,
    pub workflow_runs: u64,
    pub leads: u64,
    pub conversion_types: u64,
    pub api_keys: u64,
    pub accounts: u64,
}

/// A record an operator writes under its own id: an account, or one of an account's conversion
/// types, leads and workflow runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Account(Account),
    ConversionType(AccountId, ConversionType),
    Lead(AccountId, Lead),
    WorkflowRun(AccountId, WorkflowRun),
}

impl Record {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Account(_) => "account",
            Self::ConversionType(..) => "conversion type",
            Self::Lead(..) => "lead",
            Self::WorkflowRun(..) => "workflow run",
        }
    }

    pub fn id(&self) -> String {
        match self {
            Self::Account(a) => a.id.to_string(),
            Self::ConversionType(_, t) => t.id.to_string(),
            Self::Lead(_, l) => l.id.to_string(),
            Self::WorkflowRun(_, r) => r.id.to_string(),
        }
    }

    pub fn created_at(&mut self) -> &mut Timestamp {
        match self {
            Self::Account(a) => &mut a.created_at,
            Self::ConversionType(_, t) => &mut t.created_at,
            Self::Lead(_, l) => &mut l.created_at,
            Self::WorkflowRun(_, r) => &mut r.created_at,
        }
    }

    /// The same values, whenever each was created.
    pub fn same(&self, other: &Record) -> bool {
        let (mut this, mut other) = (self.clone(), other.clone());
        *other.created_at() = *this.created_at();
        this == other
    }
}

/// What operators (the admin CLI, the demo seed, the importer, tests) need to set up accounts.
#[allow(async_fn_in_trait)]
pub trait Provisioning: Send + Sync {
    /// Writes the record if its id is free (`None`); else returns, untouched, the one holding it.
    async fn create(&self, record: &Record) -> Result<Option<Record>, StoreError>;
    /// Writes the record over any with its id.
    async fn put(&self, record: &Record) -> Result<(), StoreError>;
    /// The record holding this one's id, if any: what [`Self::create`] would find.
    async fn holder(&self, record: &Record) -> Result<Option<Record>, StoreError>;
    async fn get_account(&self, id: AccountId) -> Result<Option<Account>, StoreError>;
    async fn get_lead(&self, account: AccountId, id: LeadId) -> Result<Option<Lead>, StoreError>;
    /// Stores an active key, found by its hash and listed under its account ([`Self::api_keys`]).
    async fn put_api_key(&self, key: &ApiKeyHash, account: AccountId) -> Result<(), StoreError>;
    /// The account's keys, active and revoked, read from its own partition (no scan).
    async fn api_keys(&self, account: AccountId) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Marks the key revoked, in both places; `false` if no such key exists.
    async fn revoke_api_key(&self, key: &ApiKeyHash) -> Result<bool, StoreError>;
}
