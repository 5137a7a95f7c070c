//! `GET /conversions/changes`: the account's changes in the order recorded, from a place on.

use crate::domain::{AccountId, Change, FeedPosition, MAX_CHANGES_EXAMINED, Timestamp};
use crate::store::{Store, StoreError};

/// Changes after a place, recorded before `until` (now, less [`crate::domain::CHANGES_LAG`]).
#[derive(Debug, Clone, Copy)]
pub struct ChangesRequest {
    pub after: FeedPosition,
    pub limit: u32,
    pub until: Timestamp,
}

/// Up to the limit's changes, and where the next page starts: after the last change examined,
/// served or passed over (a change whose write never landed), or where this one started.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    pub next: FeedPosition,
}

pub async fn list_changes<S: Store>(
    store: &S,
    account: AccountId,
    request: ChangesRequest,
) -> Result<ChangesPage, StoreError> {
    super::log_account(account);
    let limit = request.limit as usize;
    let mut page = ChangesPage {
        changes: Vec::with_capacity(limit),
        next: request.after,
    };
    let mut examined = 0;
    // Passed-over changes are rare (a write that failed after its change): a page reads on past
    // them, up to a bound, so that a page comes back empty only at the end of the feed.
    while page.changes.len() < limit && examined < limit + MAX_CHANGES_EXAMINED {
        let wanted = limit - page.changes.len();
        let entries = store
            .changes(account, page.next, request.until, wanted)
            .await?;
        examined += entries.len();
        let Some(last) = entries.last() else { break };
        page.next = last.record.position;
        page.changes
            .extend(entries.iter().filter_map(|entry| entry.served()));
        if entries.len() < wanted {
            break;
        }
    }
    Ok(page)
}
