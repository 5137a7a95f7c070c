//! `GET /conversions/changes`: the account's changes in the order recorded, from a place on.

use crate::domain::{AccountId, Change, FeedPosition, MAX_CHANGES_EXAMINED, Timestamp};
use crate::store::{Store, StoreError};

/// Changes read from the store at once, at most: what bounds a page's memory, whatever its limit.
const READ_AT_ONCE: usize = 100;

/// Changes after a place, recorded before `until` (now, less [`crate::domain::CHANGES_LAG`]).
#[derive(Debug, Clone, Copy)]
pub struct ChangesRequest {
    pub after: FeedPosition,
    pub limit: u32,
    pub until: Timestamp,
}

/// Offers `take` the page's changes in order, up to the limit or until it refuses one (the
/// answer is full); returns where the next page starts: after the last change examined, served
/// or passed over (a change whose write never landed), or where this one started.
pub async fn list_changes<S: Store>(
    store: &S,
    account: AccountId,
    request: ChangesRequest,
    mut take: impl FnMut(Change) -> bool,
) -> Result<FeedPosition, StoreError> {
    super::log_account(account);
    let limit = request.limit as usize;
    let (mut next, mut served, mut examined) = (request.after, 0, 0);
    // Passed-over changes are rare (a write that failed after its change): a page reads on past
    // them, up to a bound, so that a page comes back empty only at the end of the feed.
    'reading: while served < limit && examined < limit + MAX_CHANGES_EXAMINED {
        let wanted = (limit - served).min(READ_AT_ONCE);
        let entries = store.changes(account, next, request.until, wanted).await?;
        examined += entries.len();
        let more = entries.len() == wanted;
        for entry in entries {
            if let Some(change) = entry.served() {
                if !take(change) {
                    break 'reading;
                }
                served += 1;
            }
            next = entry.record.position;
        }
        if !more {
            break;
        }
    }
    Ok(next)
}
