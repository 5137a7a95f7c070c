//! A list's `Query`: index and partition (`keys.rs`), the window as key condition, other filters as
//! filter expression, newest first; and its page and count reads, bounded by `MAX_ENTRIES_READ`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Select};

use super::DynamoStore;
use super::error::store_error;
use super::item::{self, Item, Reader, attr, string};
use super::keys::{self, EventIndex};
use crate::domain::{
    AccountId, ConversionTypeId, EventFilter, EventWithType, LeadId, PageRequest, Position, Resume,
    Total,
};
use crate::store::StoreError;

/// Entries a filtered page's first call reads at least; each next call reads twice as many (still
/// at most 1 MB): a sparse filter costs a few calls, not one per event; an early page, little more.
const FILTERED_QUERY_BATCH: u32 = 100;

pub(super) struct EventQuery {
    index: EventIndex,
    partition: String,
    key_condition: String,
    filter_expression: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

pub(super) struct Entries {
    pub matched: Vec<Item>,
    pub next: Option<Resume>,
    pub cut_short: bool,
}

impl EventQuery {
    pub fn new(account: AccountId, filter: &EventFilter, lead: Option<LeadId>) -> Self {
        let (index, partition) = keys::index_for(account, lead);
        let mut names = HashMap::from([("#partition".to_owned(), index.partition.to_owned())]);
        let mut values = HashMap::from([(":partition".to_owned(), string(&partition))]);
        let from = filter.window.from().map(keys::converted_sk_bound);
        let until = filter.window.until().map(keys::converted_sk_bound);
        let range = match (&from, &until) {
            (None, None) => "",
            (Some(_), None) => " AND #position >= :from",
            (None, Some(_)) => " AND #position < :until",
            // BETWEEN is inclusive, but `until`'s bare bound sorts before any key at that instant.
            (Some(_), Some(_)) => " AND #position BETWEEN :from AND :until",
        };
        // DynamoDB refuses a name the expressions do not use.
        if !range.is_empty() {
            names.insert("#position".to_owned(), attr::CONVERTED_SK.to_owned());
        }
        values.extend(from.map(|from| (":from".to_owned(), string(from))));
        values.extend(until.map(|until| (":until".to_owned(), string(until))));
        let mut conditions: Vec<String> = keys::remaining_conditions(filter)
            .into_iter()
            .enumerate()
            .map(|(i, (name, value))| {
                names.insert(format!("#f{i}"), name.to_owned());
                values.insert(format!(":f{i}"), string(value));
                format!("#f{i} = :f{i}")
            })
            .collect();
        if let Some(as_of) = filter.as_of {
            names.insert("#recorded".to_owned(), attr::CREATED_AT.to_owned());
            values.insert(":as_of".to_owned(), string(as_of.sortable()));
            conditions.push("#recorded <= :as_of".to_owned());
        }
        Self {
            index,
            partition,
            key_condition: format!("#partition = :partition{range}"),
            filter_expression: (!conditions.is_empty()).then(|| conditions.join(" AND ")),
            names,
            values,
        }
    }

    fn request(&self, client: &Client, table: &str) -> QueryFluentBuilder {
        client
            .query()
            .table_name(table)
            .index_name(self.index.name)
            .key_condition_expression(&self.key_condition)
            .set_filter_expression(self.filter_expression.clone())
            .set_expression_attribute_names(Some(self.names.clone()))
            .set_expression_attribute_values(Some(self.values.clone()))
            .scan_index_forward(false)
    }

    /// The `ExclusiveStartKey` is the event's full index entry: the index's keys and the table's.
    fn start_after(&self, account: AccountId, position: Position) -> Item {
        let mut key = keys::key(account, keys::event_sk(position.id));
        key.insert(self.index.partition.to_owned(), string(&self.partition));
        let converted_sk = keys::converted_sk(position.converted_at, position.id);
        key.insert(attr::CONVERTED_SK.to_owned(), string(converted_sk));
        key
    }

    /// Reads until `skip + limit + 1` match (one more shows a next page exists) or `bound` read.
    pub async fn page(
        &self,
        client: &Client,
        table: &str,
        account: AccountId,
        page: &PageRequest,
        bound: u32,
    ) -> Result<Entries, StoreError> {
        let (skip, limit) = (page.skip as usize, page.limit.get() as usize);
        let wanted = skip + limit + 1;
        let mut matched: Vec<Item> = Vec::new();
        let mut read = 0u32;
        let mut start = page.after.map(|after| self.start_after(account, after));
        let mut filtered_batch = FILTERED_QUERY_BATCH;
        loop {
            let remaining = (wanted - matched.len()) as u32;
            let batch = if self.filter_expression.is_some() {
                let batch = remaining.max(filtered_batch);
                filtered_batch = filtered_batch.saturating_mul(2);
                batch
            } else {
                remaining
            };
            let output = self
                .request(client, table)
                .limit(batch.min(bound - read) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            read += u32::try_from(output.scanned_count).unwrap_or(0);
            matched.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if matched.len() >= wanted || start.is_none() || read >= bound {
                break;
            }
        }
        // Bound hit, more may match: resume after the last entry read, with what is left to skip.
        let cut = matched.len() < wanted && start.is_some();
        let next = if let Some(last_read) = start.as_ref().filter(|_| cut) {
            Some(Resume {
                after: position_of(last_read)?,
                skip: (skip - matched.len().min(skip)) as u32,
            })
        } else if matched.len() >= wanted {
            matched.truncate(skip + limit);
            Some(Resume {
                after: position_of(matched.last().expect("a full page"))?,
                skip: 0,
            })
        } else {
            None
        };
        matched.truncate(skip + limit);
        let matched = matched.split_off(skip.min(matched.len()));
        let cut_short = cut && matched.len() < limit;
        Ok(Entries {
            matched,
            next,
            cut_short,
        })
    }

    /// `Select=COUNT`: entries are read (and paid for) but not returned.
    pub async fn count(
        &self,
        client: &Client,
        table: &str,
        bound: u32,
    ) -> Result<Total, StoreError> {
        let (mut counted, mut read) = (0u64, 0u32);
        let mut start = None;
        loop {
            let output = self
                .request(client, table)
                .select(Select::Count)
                .limit((bound - read) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            counted += u64::try_from(output.count).unwrap_or(0);
            read += u32::try_from(output.scanned_count).unwrap_or(0);
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            match start {
                None => return Ok(Total::Exact(counted)),
                Some(_) if read >= bound => return Ok(Total::AtLeast(counted)),
                Some(_) => {}
            }
        }
    }
}

fn position_of(entry: &Item) -> Result<Position, StoreError> {
    Reader(entry).parse(attr::CONVERTED_SK, |sk| {
        keys::position(sk).ok_or("not a time and an id")
    })
}

impl DynamoStore {
    /// The entries' events, in order, each with its type, by key in `BatchGetItem`s (100 keys each,
    /// at once), eventually consistent at half the price (`consistent` for an `as_of` read): what
    /// is recorded never changes, a replica shows an adjustment within a second, and a type exists
    /// before its events. A replica may still miss a new item: those few are read again strongly.
    pub(super) async fn listed(
        &self,
        account: AccountId,
        entries: &[Item],
        consistent: bool,
    ) -> Result<Vec<EventWithType>, StoreError> {
        let mut wanted: Vec<(String, String)> = Vec::with_capacity(entries.len());
        let mut sort_keys: Vec<String> = Vec::new();
        for entry in entries {
            let r = Reader(entry);
            let event_sk = r.string(attr::SK)?.to_owned();
            let type_id = r.parse(attr::CONVERSION_TYPE_ID, ConversionTypeId::parse)?;
            let type_sk = keys::conversion_type_sk(type_id);
            if !sort_keys.contains(&type_sk) {
                sort_keys.push(type_sk.clone());
            }
            sort_keys.push(event_sk.clone());
            wanted.push((event_sk, type_sk));
        }
        let key_of = |sk: &String| keys::key(account, sk.clone());
        let mut found = self
            .batch_get_all(sort_keys.iter().map(key_of).collect(), consistent)
            .await?;
        let missed: Vec<Item> = sort_keys
            .iter()
            .filter(|sk| !found.contains_key(*sk))
            .map(key_of)
            .collect();
        if !missed.is_empty() && !consistent {
            found.extend(self.batch_get_all(missed, true).await?);
        }
        let mut types = HashMap::new();
        let mut listed = Vec::with_capacity(wanted.len());
        for (event_sk, type_sk) in wanted {
            let Some(event) = found.remove(&event_sk) else {
                // An index entry outlives its item only until a (TTL) deletion reaches the index.
                tracing::warn!(sort_key = %event_sk, "an index entry's event is gone; skipped");
                continue;
            };
            // A stale entry whose id an adjustment's key holds now: no event either.
            let Some(stored) = super::event_from(&event)? else {
                continue;
            };
            let event = stored.event;
            let conversion_type = match types.get(&type_sk) {
                Some(known) => Clone::clone(known),
                None => {
                    let read = found
                        .remove(&type_sk)
                        .ok_or_else(|| StoreError::missing_type(&event))
                        .and_then(|i| item::conversion_type_from(&i))?;
                    types.insert(type_sk, read.clone());
                    read
                }
            };
            listed.push(EventWithType {
                event,
                conversion_type,
                adjustments: stored.adjustments,
            });
        }
        Ok(listed)
    }

    /// The lead whose partition holds a filter's events (the filter's, or its run's): `Some(None)`
    /// for the account's, `None` when no event can match (no such run, or another lead's run).
    pub(super) async fn partition_lead(
        &self,
        account: AccountId,
        filter: &EventFilter,
    ) -> Result<Option<Option<LeadId>>, StoreError> {
        let Some(run) = filter.workflow_run else {
            return Ok(Some(filter.lead));
        };
        let key = keys::key(account, keys::workflow_run_sk(run));
        let Some(found) = self.get(key).await? else {
            return Ok(None);
        };
        let lead = item::workflow_run_from(&found)?.lead_id;
        Ok(filter
            .lead
            .is_none_or(|wanted| wanted == lead)
            .then_some(Some(lead)))
    }
}
