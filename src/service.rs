//! The use case: who is calling, and record their conversion. Written against the
//! [`Store`] port only, so it runs the same on DynamoDB and in memory.

use crate::domain::{
    AccountId, ApiKey, ConversionEvent, EventId, FieldError, IdempotencyKey, NewConversion,
    RequestFingerprint, Timestamp,
};
use crate::store::{InsertError, Lookup, Store, StoreError, StoredEvent};

/// Why a caller is not authenticated.
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
    /// The canonical body's hash, compared when an `Idempotency-Key` is reused.
    pub fingerprint: RequestFingerprint,
    pub idempotency_key: Option<IdempotencyKey>,
    /// Check everything, write nothing.
    pub dry_run: bool,
}

/// What became of a valid request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Recorded now.
    Created(ConversionEvent),
    /// Recorded earlier by a request with the same `Idempotency-Key` and body; nothing written.
    Replayed(ConversionEvent),
    /// Would be recorded like this; nothing written.
    DryRun(ConversionEvent),
}

/// Why a conversion was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// Every problem found: references, and rules that depend on the conversion type.
    #[error("the request is invalid")]
    Invalid(Vec<FieldError>),
    /// The `Idempotency-Key` created an event from a different body.
    #[error("the Idempotency-Key was used with a different request body")]
    IdempotencyMismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Finds the account of a well-formed API key. The key is hashed before it reaches the store;
/// the plaintext goes nowhere else.
pub async fn authenticate<S: Store>(store: &S, key: &ApiKey) -> Result<AccountId, AuthError> {
    store
        .account_for_key(&key.hash())
        .await?
        .ok_or(AuthError::Invalid)
}

/// Records a conversion for the account: one read of everything the request refers to (and of
/// the event its `Idempotency-Key` would have created), the rules of
/// [`NewConversion::resolve`], one conditional write.
///
/// With a key, the event id is derived from (account, key), so concurrent or repeated requests
/// all address one item: the conditional put lets exactly one through, and every other caller
/// gets that event back, or a 422 if its body differs. A dry run ignores the key.
pub async fn create_conversion<S: Store>(
    store: &S,
    account: AccountId,
    request: CreateRequest,
    now: Timestamp,
) -> Result<Outcome, CreateError> {
    let CreateRequest {
        conversion,
        fingerprint,
        idempotency_key,
        dry_run,
    } = request;
    let keyed_id = idempotency_key
        .filter(|_| !dry_run)
        .map(|key| key.event_id(account));
    let lookup = Lookup {
        conversion_type: conversion.conversion_type_id,
        lead: conversion.lead_id,
        workflow_run: conversion.workflow_run_id,
        event: keyed_id,
    };
    let context = store.load_context(account, lookup).await?;
    if let Some(existing) = context.existing_event {
        return replay(existing, &fingerprint);
    }
    let event = conversion
        .resolve(
            keyed_id.unwrap_or_else(EventId::random),
            context.conversion_type.as_ref(),
            context.lead.as_ref(),
            context.workflow_run.as_ref(),
            now,
        )
        .map_err(CreateError::Invalid)?;
    if dry_run {
        return Ok(Outcome::DryRun(event));
    }
    match store
        .insert_event(account, &event, keyed_id.map(|_| &fingerprint))
        .await
    {
        Ok(()) => Ok(Outcome::Created(event)),
        // Another request with the same key won the race: answer with what it stored.
        Err(InsertError::AlreadyExists) if keyed_id.is_some() => {
            match store.get_event(account, event.id).await? {
                Some(existing) => replay(existing, &fingerprint),
                None => Err(StoreError::Failed(
                    format!("event {} refused as existing, then not found", event.id).into(),
                )
                .into()),
            }
        }
        // A random v4 id that already exists: the condition did its job and nothing was
        // overwritten; this is not the client's doing.
        Err(InsertError::AlreadyExists) => {
            Err(StoreError::Failed(format!("event id {} already exists", event.id).into()).into())
        }
        Err(InsertError::Store(err)) => Err(err.into()),
    }
}

fn replay(existing: StoredEvent, fingerprint: &RequestFingerprint) -> Result<Outcome, CreateError> {
    if existing.fingerprint.as_ref() == Some(fingerprint) {
        Ok(Outcome::Replayed(existing.event))
    } else {
        Err(CreateError::IdempotencyMismatch)
    }
}
