//! The change feed pushed to EventBridge: the table's stream in (the same binary, as a second
//! function: `template.yaml`'s `ChangesPublisher`), `PutEvents` out, each change as
//! `GET /conversions/changes` serves it with its account's id. At least once: entries that fail
//! are sent again, alone; a batch that still cannot be published is reported from its first
//! unpublished record, which Lambda sends again (with the records after it, whose changes a
//! consumer then sees twice: it deduplicates by `id`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::domain::{AccountId, Change, ConversionType, ConversionTypeId, EventWithType};
use crate::store::{BoxError, FeedEntry, Store, StoreError, StreamedChange, stream_records};

/// Every entry's `source`.
pub const SOURCE: &str = "nexor.conversions";

/// What one `PutEvents` takes: 10 entries, less than 256 KB of them in all.
const MAX_ENTRIES: usize = 10;
const MAX_REQUEST_BYTES: usize = 256 * 1024 - 1;

/// Sends of the entries that keep failing, 200 ms apart and doubling, before the batch is
/// reported failed.
const ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEntry {
    pub detail_type: &'static str,
    pub detail: String,
}

impl BusEntry {
    /// As EventBridge counts an entry against a request's 256 KB.
    fn size(&self) -> usize {
        SOURCE.len() + self.detail_type.len() + self.detail.len()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("PutEvents failed")]
pub struct BusError(#[source] pub BoxError);

/// Where changes are published.
#[allow(async_fn_in_trait)]
pub trait Bus: Send + Sync {
    /// Puts the entries (at most [`MAX_ENTRIES`]); for each, in order, its error code if it
    /// was refused.
    async fn put(&self, entries: &[BusEntry]) -> Result<Vec<Option<String>>, BusError>;
}

/// An EventBridge event bus.
pub struct EventBridge {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridge {
    /// `bus`: the bus's name or ARN.
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }
}

impl Bus for EventBridge {
    async fn put(&self, entries: &[BusEntry]) -> Result<Vec<Option<String>>, BusError> {
        let entries = entries.iter().map(|e| {
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(&self.bus)
                .source(SOURCE)
                .detail_type(e.detail_type)
                .detail(&e.detail)
                .build()
        });
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries.collect()))
            .send()
            .await
            .map_err(|err| BusError(err.into()))?;
        Ok(output
            .entries()
            .iter()
            .map(|e| e.error_code().map(str::to_owned))
            .collect())
    }
}

/// Lambda's partial batch response (`ReportBatchItemFailures`): the record to resume from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub failures: Vec<ItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

pub struct Publisher<S, B> {
    store: S,
    /// `None` where `EVENT_BUS_NAME` is not set (the API's function): a batch with a change to
    /// publish then fails, and one without (a stream fixture's) succeeds.
    bus: Option<B>,
}

impl<S: Store, B: Bus> Publisher<S, B> {
    pub fn new(store: S, bus: Option<B>) -> Self {
        Self { store, bus }
    }

    /// Publishes the changes of a stream event's records, in order; the first record it could
    /// not publish (or read) is reported for Lambda to send again, with those after it.
    pub async fn publish(&self, event: &Value) -> BatchResponse {
        let records = stream_records(event);
        let mut entries: Vec<(usize, BusEntry)> = Vec::new();
        let mut failed_from = None;
        let mut types = HashMap::new();
        'records: for (at, record) in records.iter().enumerate() {
            let changes = match &record.changes {
                Ok(changes) => changes,
                Err(err) => {
                    tracing::error!(error = %crate::telemetry::error_chain(err), "a stream record cannot be read");
                    failed_from = Some(at);
                    break;
                }
            };
            for change in changes {
                match self.entry(change, &mut types).await {
                    Ok(entry) => entries.extend(entry.map(|e| (at, e))),
                    Err(err) => {
                        tracing::warn!(error = %crate::telemetry::error_chain(&err), "a change's type cannot be read");
                        failed_from = Some(at);
                        break 'records;
                    }
                }
            }
        }
        let (published, unpublished) = self.put_all(&entries).await;
        let failed_from = match (failed_from, unpublished) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        tracing::info!(
            records = records.len(),
            published,
            failed = failed_from.is_some(),
            "changes published"
        );
        BatchResponse {
            failures: failed_from
                .map(|at| ItemFailure {
                    item_identifier: records[at].sequence.clone(),
                })
                .into_iter()
                .collect(),
        }
    }

    /// The change's entry, its event with its type (read once a batch); `None` if it announces
    /// nothing (its event erased with its account since).
    async fn entry(
        &self,
        streamed: &StreamedChange,
        types: &mut HashMap<(AccountId, ConversionTypeId), ConversionType>,
    ) -> Result<Option<BusEntry>, StoreError> {
        let event = match &streamed.event {
            None => None,
            Some(stored) => {
                let key = (streamed.account, stored.event.conversion_type_id);
                let conversion_type = match types.entry(key) {
                    Entry::Occupied(known) => known.get().clone(),
                    Entry::Vacant(vacant) => {
                        match self.store.conversion_type(key.0, key.1).await? {
                            Some(found) => vacant.insert(found).clone(),
                            // Types go only with their account (erase-account): its events went
                            // too, and what they announced is no longer to be published.
                            None if self
                                .store
                                .get_event(key.0, stored.event.id)
                                .await?
                                .is_none() =>
                            {
                                return Ok(None);
                            }
                            None => return Err(StoreError::missing_type(&stored.event)),
                        }
                    }
                };
                let with_type = EventWithType {
                    event: stored.event.clone(),
                    conversion_type,
                    adjustments: stored.adjustments.clone(),
                };
                Some((with_type, stored.write_token))
            }
        };
        let entry = FeedEntry {
            record: streamed.record,
            event,
        };
        Ok(entry
            .served()
            .map(|change| bus_entry(streamed.account, &change)))
    }

    /// Puts the entries in order, in requests of at most 10 entries and 256 KB, sending the
    /// failed ones again; how many were published, and the record of the first that could not be.
    async fn put_all(&self, entries: &[(usize, BusEntry)]) -> (usize, Option<usize>) {
        let Some(bus) = &self.bus else {
            if let Some((first, _)) = entries.first() {
                tracing::error!("a change to publish, and EVENT_BUS_NAME is not set");
                return (0, Some(*first));
            }
            return (0, None);
        };
        let mut published = 0;
        let mut rest = entries;
        while !rest.is_empty() {
            let mut bytes = 0;
            let take = rest
                .iter()
                .take(MAX_ENTRIES)
                .take_while(|(_, e)| {
                    bytes += e.size();
                    bytes <= MAX_REQUEST_BYTES
                })
                .count()
                .max(1);
            let (group, later) = rest.split_at(take);
            let mut pending: Vec<&(usize, BusEntry)> = group.iter().collect();
            for attempt in 0..ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
                let sent: Vec<BusEntry> = pending.iter().map(|(_, e)| e.clone()).collect();
                match bus.put(&sent).await {
                    Ok(answers) => {
                        let before = pending.len();
                        // An entry without an answer counts as refused.
                        let mut refused: Vec<String> = Vec::new();
                        let mut answers = answers.into_iter();
                        pending.retain(|_| match answers.next() {
                            Some(None) => false,
                            Some(Some(code)) => {
                                refused.push(code);
                                true
                            }
                            None => true,
                        });
                        published += before - pending.len();
                        if !refused.is_empty() {
                            refused.sort();
                            refused.dedup();
                            let codes = refused.join(",");
                            tracing::warn!(
                                refused = pending.len(),
                                codes,
                                attempt,
                                "PutEvents refused entries"
                            );
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %crate::telemetry::error_chain(&err), attempt, "PutEvents failed");
                    }
                }
                if pending.is_empty() {
                    break;
                }
            }
            if let Some(first) = pending.iter().map(|(at, _)| *at).min() {
                return (published, Some(first));
            }
            rest = later;
        }
        (published, None)
    }
}

/// The change as the feed serves it, with its account; without `conversion_event` if it would
/// not fit in one `PutEvents` (its adjustments' reasons can reach that): then read it by id.
fn bus_entry(account: AccountId, change: &Change) -> BusEntry {
    entry_within(account, change, MAX_REQUEST_BYTES)
}

fn entry_within(account: AccountId, change: &Change, limit: usize) -> BusEntry {
    let detail_type = change.kind().as_str();
    let full = BusEntry {
        detail_type,
        detail: crate::http::change_detail(account, change, true),
    };
    match full.size() <= limit {
        true => full,
        false => BusEntry {
            detail_type,
            detail: crate::http::change_detail(account, change, false),
        },
    }
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
