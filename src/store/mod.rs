//! The storage port, in domain terms, and its DynamoDB adapter; nothing outside `dynamodb/`
//! sees an `AttributeValue`. The in-memory twin for fast tests is test code (`tests/support`).

mod dynamodb;
#[cfg(test)]
#[path = "../../tests/support/memory.rs"]
mod memory;

use std::future::Future;

pub use dynamodb::{DynamoStore, TableError, create_table};
#[cfg(test)]
pub use memory::MemoryStore;

use crate::domain::{
    Account, AccountId, ApiKeyHash, ApiKeyRecord, ConversionEvent, ConversionType,
    ConversionTypeId, EventId, Lead, LeadId, Page, PageRequest, RequestFingerprint, WorkflowRun,
    WorkflowRunId, WriteToken,
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

/// An event to write, and what tells its request apart.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub event: &'a ConversionEvent,
    /// `None` for a request without an `Idempotency-Key`.
    pub fingerprint: Option<&'a RequestFingerprint>,
    pub write_token: WriteToken,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Insert {
    Written,
    /// An event with this id was there already, and is this one; nothing was written.
    Exists(Box<StoredEvent>),
}

/// A recorded event, with its keyed request's fingerprint and the token of its write.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub event: ConversionEvent,
    pub fingerprint: Option<RequestFingerprint>,
    pub write_token: Option<WriteToken>,
}

/// The records of a [`Lookup`] that exist in the caller's account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The active key's account; `None` for an unknown or revoked key, or when none was asked for.
    pub key_account: Option<AccountId>,
    pub conversion_type: Option<ConversionType>,
    pub lead: Option<Lead>,
    pub workflow_run: Option<WorkflowRun>,
    pub existing_event: Option<StoredEvent>,
}

/// The records one request refers to, read together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup<'a> {
    /// Read with the rest for a key that names its account.
    pub api_key: Option<&'a ApiKeyHash>,
    pub conversion_type: ConversionTypeId,
    pub lead: LeadId,
    pub workflow_run: Option<WorkflowRunId>,
    /// The event an `Idempotency-Key` would create, to find a replay.
    pub event: Option<EventId>,
}

pub trait Store: Send + Sync {
    /// The account of an active key with this hash; `None` for unknown or revoked keys.
    fn account_for_key(
        &self,
        key: &ApiKeyHash,
    ) -> impl Future<Output = Result<Option<AccountId>, StoreError>> + Send;

    /// The records of the lookup that exist in this account, in one round trip.
    fn load_context(
        &self,
        account: AccountId,
        lookup: Lookup<'_>,
    ) -> impl Future<Output = Result<Context, StoreError>> + Send;

    /// Writes the event unless its id exists in the account; then returns the existing one.
    fn insert_event(
        &self,
        account: AccountId,
        new: NewEvent<'_>,
    ) -> impl Future<Output = Result<Insert, StoreError>> + Send;

    /// One event of the account; `None` if it has no event with this id.
    fn get_event(
        &self,
        account: AccountId,
        id: EventId,
    ) -> impl Future<Output = Result<Option<StoredEvent>, StoreError>> + Send;

    /// Every conversion type of the account, active or not, in no particular order.
    fn conversion_types(
        &self,
        account: AccountId,
    ) -> impl Future<Output = Result<Vec<ConversionType>, StoreError>> + Send;

    /// One conversion type of the account, active or not.
    fn conversion_type(
        &self,
        account: AccountId,
        id: ConversionTypeId,
    ) -> impl Future<Output = Result<Option<ConversionType>, StoreError>> + Send;

    /// One page of the matching events in list order ([`crate::domain::Position`]), with their
    /// types, and how many match: within [`crate::domain::MAX_ENTRIES_READ`] index entries for
    /// the page and [`crate::domain::MAX_ENTRIES_COUNTED`] for the count.
    fn list_events(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;
}

/// What operators (the admin CLI, the demo seed, tests) need to set up an account's data.
/// Every write replaces the record with the same id, so provisioning can be re-run.
pub trait Provisioning: Send + Sync {
    fn put_account(&self, account: &Account)
    -> impl Future<Output = Result<(), StoreError>> + Send;
    fn get_account(
        &self,
        id: AccountId,
    ) -> impl Future<Output = Result<Option<Account>, StoreError>> + Send;
    /// Stores an active key, found by its hash and listed under its account ([`Self::api_keys`]).
    fn put_api_key(
        &self,
        key: &ApiKeyHash,
        account: AccountId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The account's keys, active and revoked, read from its own partition (no scan).
    fn api_keys(
        &self,
        account: AccountId,
    ) -> impl Future<Output = Result<Vec<ApiKeyRecord>, StoreError>> + Send;
    /// Marks the key revoked, in both places; `false` if no such key exists.
    fn revoke_api_key(
        &self,
        key: &ApiKeyHash,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn put_conversion_type(
        &self,
        account: AccountId,
        conversion_type: &ConversionType,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn put_lead(
        &self,
        account: AccountId,
        lead: &Lead,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn get_lead(
        &self,
        account: AccountId,
        id: LeadId,
    ) -> impl Future<Output = Result<Option<Lead>, StoreError>> + Send;
    fn put_workflow_run(
        &self,
        account: AccountId,
        run: &WorkflowRun,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn get_workflow_run(
        &self,
        account: AccountId,
        id: WorkflowRunId,
    ) -> impl Future<Output = Result<Option<WorkflowRun>, StoreError>> + Send;
}
