//! Corrections: `POST /conversions/{id}/adjustments` as a use case.

use super::log_account;
use crate::domain::{
    AccountId, Adjustment, AdjustmentId, ConversionEvent, EventId, FieldError, IdempotencyKey,
    NewAdjustment, Refusal, Sha256Hex, Timestamp, through,
};
use crate::store::{AdjustmentClaim, KeyHolder, Store, StoreError, StoredEvent};

/// Reads and appends before an event adjusted by this many others at once is a 503.
const ATTEMPTS: usize = 16;

#[derive(Debug, Clone)]
pub struct AdjustRequest {
    pub event: EventId,
    pub adjustment: NewAdjustment,
    pub idempotency_key: Option<IdempotencyKey>,
    /// Check everything against the event as it is now; write nothing (the importer's).
    pub dry_run: bool,
}

/// The adjustment, and the event with every adjustment up to and including it.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjusted {
    pub adjustment: Adjustment,
    pub event: ConversionEvent,
    pub adjustments: Vec<Adjustment>,
    pub applied: Applied,
}

impl Adjusted {
    /// The event once `adjustment` follows what `stored` holds.
    fn after(stored: StoredEvent, adjustment: Adjustment, applied: Applied) -> Self {
        let mut adjustments = stored.adjustments;
        adjustments.push(adjustment.clone());
        Self {
            adjustment,
            event: stored.event,
            adjustments,
            applied,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    /// Applied by an earlier request with this `Idempotency-Key`; nothing written.
    Replayed,
    /// Would be applied like this; nothing written.
    DryRun,
}

#[derive(Debug, thiserror::Error)]
pub enum AdjustError {
    #[error("no such event in the account")]
    NotFound,
    #[error("the request is invalid")]
    Invalid(Vec<FieldError>),
    #[error("the event takes no such adjustment: {0}")]
    Conflict(&'static str),
    #[error("the Idempotency-Key was used with a different request")]
    IdempotencyMismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Appends an adjustment to an event: a strongly consistent read of the event (and of what
/// holds the request's key), the rules of [`NewAdjustment::resolve`] on its state, and one
/// `UpdateItem` conditioned on that state still being the last (else read and apply again).
/// With a key, its id (derived as a create's) is first claimed by a conditional put where a
/// create with that key would write: one key space, so a key used by a create, or for another
/// adjustment, is a mismatch. A lost answer is found on retry by the adjustment's id.
pub async fn adjust_conversion<S: Store>(
    store: &S,
    account: AccountId,
    request: AdjustRequest,
    now: Timestamp,
) -> Result<Adjusted, AdjustError> {
    log_account(account);
    let AdjustRequest {
        event: event_id,
        adjustment: wanted,
        idempotency_key,
        dry_run,
    } = request;
    let key = idempotency_key.map(|key| key.event_id(account));
    let id = key.map_or_else(AdjustmentId::random, |key| {
        AdjustmentId::from_uuid(*key.as_uuid())
    });
    let claim = AdjustmentClaim {
        event: event_id,
        request: digest(event_id, &wanted),
    };
    let mut written = false;
    for attempt in 0..ATTEMPTS {
        let target = store.adjustment_target(account, event_id, key).await?;
        match &target.key_holder {
            Some(KeyHolder::Event) => return Err(AdjustError::IdempotencyMismatch),
            Some(KeyHolder::Adjustment(held)) if *held != claim => {
                return Err(AdjustError::IdempotencyMismatch);
            }
            _ => {}
        }
        let stored = target.event.ok_or(AdjustError::NotFound)?;
        if let Some(applied) = through(&stored.adjustments, id) {
            let adjustment = applied.last().expect("through includes it").clone();
            if !wanted.would_store(&adjustment) {
                return Err(AdjustError::IdempotencyMismatch);
            }
            return Ok(Adjusted {
                adjustment,
                adjustments: applied.to_vec(),
                event: stored.event,
                applied: match written {
                    true => Applied::Created,
                    false => Applied::Replayed,
                },
            });
        }
        let adjustment = wanted
            .resolve(id, &stored.event, &stored.adjustments, now)
            .map_err(|refusal| match refusal {
                Refusal::Invalid(errors) => AdjustError::Invalid(errors),
                Refusal::Retracted => AdjustError::Conflict(crate::domain::RETRACTED),
                Refusal::Full => AdjustError::Conflict(crate::domain::FULL),
            })?;
        if dry_run {
            return Ok(Adjusted::after(stored, adjustment, Applied::DryRun));
        }
        if let Some(key) = key.filter(|_| target.key_holder.is_none())
            && store
                .claim_key(account, key, &claim, stored.event.created_at)
                .await?
                .is_some()
        {
            // Another request with this key claimed it first: judge against what it holds.
            continue;
        }
        let after = stored.adjustments.len();
        if store
            .append_adjustment(account, event_id, after, &adjustment)
            .await?
        {
            return Ok(Adjusted::after(stored, adjustment, Applied::Created));
        }
        // Another adjustment came first, or this one did (an SDK retry of a write that landed):
        // the next read tells. A short random pause spreads the requests racing for the event.
        written = true;
        let pause = (uuid::Uuid::new_v4().as_u128() % (10 * (attempt as u128 + 1))) as u64;
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
    }
    Err(StoreError::Unavailable("the event kept changing while it was adjusted".into()).into())
}

/// A keyed request's digest, held by its claim: what [`NewAdjustment::would_store`] compares
/// but `adjusted_at`, which a resend may leave out (the stored adjustment answers for it).
fn digest(event: EventId, a: &NewAdjustment) -> Sha256Hex {
    let text = format!(
        "{event}\n{}\n{}\n{}",
        a.kind.as_str(),
        a.amount.map(|x| x.to_string()).unwrap_or_default(),
        a.reason.as_ref().map_or("", |r| r.as_str()),
    );
    Sha256Hex::of(text.as_bytes())
}
