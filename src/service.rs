//! The use case: who is calling, and record their conversion. Written against the
//! [`Store`] port only, so it runs the same on DynamoDB and in memory.

use crate::domain::{
    AccountId, ApiKey, ApiKeyError, ConversionEvent, EventId, FieldError, NewConversion,
    ReferenceError, Timestamp,
};
use crate::store::{InsertError, Store, StoreError};

/// Why a caller is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no API key was presented")]
    Missing,
    #[error("the API key is malformed, unknown or revoked")]
    Invalid,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a conversion was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The payload itself is wrong; every problem is listed.
    #[error("the request is invalid")]
    Invalid(Vec<FieldError>),
    /// The payload is well formed but refers to something the account does not have.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Finds the account of the presented `X-API-Key` value. The key is hashed before it reaches
/// the store; the plaintext goes nowhere else.
pub async fn authenticate<S: Store>(
    store: &S,
    presented: Option<&str>,
) -> Result<AccountId, AuthError> {
    let key = match ApiKey::parse(presented.unwrap_or_default()) {
        Ok(key) => key,
        Err(ApiKeyError::Missing) => return Err(AuthError::Missing),
        Err(ApiKeyError::Malformed) => return Err(AuthError::Invalid),
    };
    store
        .account_for_key(&key.hash())
        .await?
        .ok_or(AuthError::Invalid)
}

/// Records a conversion for the account: one read of everything the request refers to, the
/// rules of [`NewConversion::resolve`], one conditional write.
pub async fn create_conversion<S: Store>(
    store: &S,
    account: AccountId,
    request: NewConversion,
    now: Timestamp,
) -> Result<ConversionEvent, CreateError> {
    let context = store
        .load_context(
            account,
            request.conversion_type_id,
            request.lead_id,
            request.workflow_run_id,
        )
        .await?;
    let event = request.resolve(
        EventId::random(),
        context.conversion_type.as_ref(),
        context.lead.as_ref(),
        context.workflow_run.as_ref(),
        now,
    )?;
    match store.insert_event(account, &event).await {
        Ok(()) => Ok(event),
        // A random v4 id that already exists: the condition did its job and nothing was
        // overwritten; this is not the client's doing.
        Err(InsertError::AlreadyExists) => Err(CreateError::Store(StoreError::Failed(
            format!("event id {} already exists", event.id).into(),
        ))),
        Err(InsertError::Store(err)) => Err(err.into()),
    }
}
