//! Erasure: every item holding a lead's data, or an account's, deleted one `DeleteItem` at a
//! time (each returns what it deleted, so the count is exact and an event's adjustment keys are
//! found), paged, a failure a retry may fix retried with backoff, safe to run again.

use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::ReturnValue;
use futures_util::{StreamExt, TryStreamExt, stream};

use super::error::store_error;
use super::item::{self, Item, Reader, attr, entity, string};
use super::{DynamoStore, keys};
use crate::domain::{AccountId, ChangeRecord, EventId, LeadId, Timestamp};
use crate::store::{Erased, StoreError};

/// Deletes in flight at once.
const DELETES_AT_ONCE: usize = 16;

/// Attempts of one call that keeps failing in a way a retry may fix, backing off up to 10 s.
const ATTEMPTS: u32 = 12;

/// Index passes over a lead's events: the index lags its table, so a pass that found an event
/// is followed by another, until one finds none left.
const LEAD_PASSES: usize = 20;

impl DynamoStore {
    /// Deletes the lead, its workflow runs, its events (their adjustments are in them) and the
    /// items holding those adjustments' keys. The lead goes first: a create for it is refused
    /// from then on.
    pub async fn erase_lead(&self, account: AccountId, lead: LeadId) -> Result<Erased, StoreError> {
        let mut erased = Erased::default();
        let lead_key = keys::key(account, keys::lead_sk(lead));
        // The feed's `lead.erased` first, while the lead is there to erase (a run cut short
        // after it and run again writes another); or last, if this run finds the lead gone but
        // still erases what was its (events recorded late).
        let announced = self
            .patiently(|| self.get(lead_key.clone()))
            .await?
            .is_some();
        if announced {
            self.announce(account, lead).await?;
        }
        erased.leads += self.delete_all(vec![lead_key], Only::Any).await?.len() as u64;
        let runs = self
            .patiently(|| self.account_records(account, keys::WORKFLOW_RUN_SK_PREFIX))
            .await?;
        let lead_text = lead.to_string();
        let theirs = runs.into_iter().filter(|run| {
            Reader(run)
                .string(attr::LEAD_ID)
                .is_ok_and(|id| id == lead_text)
        });
        erased.workflow_runs += self.delete_all(theirs.collect(), Only::Any).await?.len() as u64;
        for _ in 0..LEAD_PASSES {
            let entries = self.patiently(|| self.lead_entries(account, lead)).await?;
            let erased_now: Vec<Erased> = stream::iter(entries)
                .map(|key| self.erase_event(key, &lead_text))
                .buffer_unordered(DELETES_AT_ONCE)
                .try_collect()
                .await?;
            let events = erased_now.iter().map(|e| e.conversion_events).sum::<u64>();
            erased.conversion_events += events;
            erased.adjustment_keys += erased_now.iter().map(|e| e.adjustment_keys).sum::<u64>();
            erased.changes += erased_now.iter().map(|e| e.changes).sum::<u64>();
            if events == 0 {
                if !announced && erased != Erased::default() {
                    self.announce(account, lead).await?;
                }
                return Ok(erased);
            }
        }
        Err(StoreError::Unavailable(
            "the lead's index still lists events after every pass; run the erasure again".into(),
        ))
    }

    /// Writes the feed's `lead.erased`, stamped as each attempt is sent.
    async fn announce(&self, account: AccountId, lead: LeadId) -> Result<(), StoreError> {
        self.patiently(|| async {
            let now = Timestamp::now();
            let change = ChangeRecord::lead_erased(lead, now);
            self.put_change(account, &change, now).await
        })
        .await
    }

    /// Deletes every item of the account: its API keys first (they stop working at once), then
    /// every record under it, the account's own last.
    pub async fn erase_account(&self, account: AccountId) -> Result<Erased, StoreError> {
        let mut erased = Erased::default();
        let entries = self
            .patiently(|| self.account_records(account, keys::API_KEY_ENTRY_SK_PREFIX))
            .await?;
        let global = (entries.iter())
            .map(|entry| Ok(keys::api_key(&item::api_key_record_from(entry)?.hash)))
            .collect::<Result<_, StoreError>>()?;
        erased.api_keys += self.delete_all(global, Only::Any).await?.len() as u64;
        loop {
            let items = self
                .patiently(|| self.partition(account, None, true))
                .await?;
            let (own, rest): (Vec<Item>, Vec<Item>) = items.into_iter().partition(|i| {
                Reader(i)
                    .string(attr::SK)
                    .is_ok_and(|sk| sk == keys::ACCOUNT_SK)
            });
            let rest: Vec<Item> = rest.into_iter().map(only_key).collect();
            if rest.is_empty() {
                if !own.is_empty() {
                    self.delete_all(own.into_iter().map(only_key).collect(), Only::Any)
                        .await?;
                    erased.accounts += 1;
                }
                return Ok(erased);
            }
            for deleted in self.delete_all(rest, Only::Any).await? {
                match Reader(&deleted).string(attr::ENTITY)? {
                    entity::CONVERSION_EVENT => erased.conversion_events += 1,
                    entity::ADJUSTMENT_KEY => erased.adjustment_keys += 1,
                    entity::CHANGE => erased.changes += 1,
                    entity::LEAD => erased.leads += 1,
                    entity::WORKFLOW_RUN => erased.workflow_runs += 1,
                    entity::CONVERSION_TYPE => erased.conversion_types += 1,
                    _ => {}
                }
            }
        }
    }

    /// One of the lead's events: first the items holding its adjustments' keys and its changes
    /// (so that a run cut short finds them again through the event), then the event, if it is
    /// still this lead's (an index entry may be stale). What it deleted.
    async fn erase_event(&self, key: Item, lead: &str) -> Result<Erased, StoreError> {
        let mut erased = Erased::default();
        let Some(found) = self.patiently(|| self.get(only_key(key.clone()))).await? else {
            return Ok(erased);
        };
        let r = Reader(&found);
        if r.string(attr::ENTITY)? != entity::CONVERSION_EVENT || r.string(attr::LEAD_ID)? != lead {
            return Ok(erased);
        }
        let account_pk = r.string(attr::PK)?.to_owned();
        let at = |sk: String| {
            Item::from([
                (attr::PK.to_owned(), string(&account_pk)),
                (attr::SK.to_owned(), string(sk)),
            ])
        };
        let stored = item::stored_event_from(&found)?;
        let claims = (stored.adjustments.iter())
            .map(|a| at(keys::event_sk(EventId::from_uuid(*a.id.as_uuid()))));
        erased.adjustment_keys +=
            self.delete_all(claims.collect(), Only::Claims).await?.len() as u64;
        let event = stored.event.id;
        let created = (stored.write_token)
            .map(|token| ChangeRecord::created(event, stored.event.created_at, token));
        let adjusted = (stored.adjustments.iter()).map(|a| ChangeRecord::adjusted(event, a));
        let changes = created.into_iter().chain(adjusted);
        let changes = changes.map(|c| at(keys::change_sk(c.position))).collect();
        erased.changes += self.delete_all(changes, Only::Changes).await?.len() as u64;
        let lead_only = Only::LeadEvents(lead.to_owned());
        let deleted = self
            .patiently(|| self.delete(key.clone(), lead_only.clone()))
            .await?;
        erased.conversion_events += u64::from(deleted.is_some());
        Ok(erased)
    }

    /// Deletes the items by key, some at once; what each deleted (none for a key already gone).
    /// `only`: which items it may delete; a key holding another is left alone.
    async fn delete_all(&self, keys: Vec<Item>, only: Only) -> Result<Vec<Item>, StoreError> {
        let deleted: Vec<Option<Item>> = stream::iter(keys)
            .map(|key| {
                let only = only.clone();
                async move {
                    self.patiently(|| self.delete(key.clone(), only.clone()))
                        .await
                }
            })
            .buffer_unordered(DELETES_AT_ONCE)
            .try_collect()
            .await?;
        Ok(deleted.into_iter().flatten().collect())
    }

    async fn delete(&self, key: Item, only: Only) -> Result<Option<Item>, StoreError> {
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(only_key(key)))
            .return_values(ReturnValue::AllOld);
        match only {
            Only::Any => {}
            Only::Claims | Only::Changes => {
                let wanted = match only {
                    Only::Claims => entity::ADJUSTMENT_KEY,
                    _ => entity::CHANGE,
                };
                request = request
                    .condition_expression("#entity = :entity")
                    .expression_attribute_names("#entity", attr::ENTITY)
                    .expression_attribute_values(":entity", string(wanted));
            }
            Only::LeadEvents(lead) => {
                request = request
                    .condition_expression("#entity = :event AND #lead = :lead")
                    .expression_attribute_names("#entity", attr::ENTITY)
                    .expression_attribute_names("#lead", attr::LEAD_ID)
                    .expression_attribute_values(":event", string(entity::CONVERSION_EVENT))
                    .expression_attribute_values(":lead", string(lead));
            }
        }
        match request.send().await {
            Ok(output) => Ok(output.attributes.filter(|old| !old.is_empty())),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(DeleteItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(None)
            }
            Err(err) => Err(store_error(err)),
        }
    }

    /// The keys of the lead's index entries, every page.
    async fn lead_entries(
        &self,
        account: AccountId,
        lead: LeadId,
    ) -> Result<Vec<Item>, StoreError> {
        let (index, partition) = keys::index_for(account, Some(lead));
        let entries: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#partition = :partition")
            .expression_attribute_names("#partition", index.partition)
            .expression_attribute_values(":partition", string(partition))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(store_error)?;
        Ok(entries.into_iter().map(only_key).collect())
    }

    /// The call again, after a growing pause, while it fails in a way a retry may fix.
    async fn patiently<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Err(StoreError::Throttled(_) | StoreError::Unavailable(_))
                    if attempt + 1 < ATTEMPTS =>
                {
                    let pause =
                        Duration::from_millis(100 << attempt.min(7)).min(Duration::from_secs(10));
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// Which items a delete may remove.
#[derive(Clone)]
enum Only {
    Any,
    /// Items holding an adjustment's key.
    Claims,
    /// The feed's changes.
    Changes,
    /// Events of this lead.
    LeadEvents(String),
}

/// The table's key of an item.
fn only_key(mut item: Item) -> Item {
    item.retain(|name, _| name == attr::PK || name == attr::SK);
    item
}
