//! The DynamoDB adapter: the one place that knows the table layout ([`keys`]), the item mapping
//! ([`item`]), how SDK errors are classified ([`error`]) and the table's definition
//! ([`schema`]). This file holds the operations.

mod error;
mod item;
mod keys;
mod list;
mod schema;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnValuesOnConditionCheckFailure};
use futures_util::future::try_join_all;

pub use schema::{TableError, create_table};

use self::error::store_error;
use self::item::{Item, Reader, attr, s, status};
use self::list::EventQuery;
use super::{Context, Insert, Lookup, NewEvent, Provisioning, Store, StoreError, StoredEvent};
use crate::domain::{
    Account, AccountId, ApiKeyHash, ApiKeyRecord, ConversionType, ConversionTypeId, EventFilter,
    EventId, Lead, LeadId, Listed, MAX_ENTRIES_COUNTED, MAX_ENTRIES_READ, Page, PageRequest,
    Timestamp, Total, WorkflowRun, WorkflowRunId,
};

/// The most keys one `BatchGetItem` may ask for.
const BATCH_GET_MAX_KEYS: usize = 100;

/// How often unprocessed keys of a `BatchGetItem` are asked for again before giving up.
const BATCH_GET_ATTEMPTS: u32 = 5;

/// DynamoDB, through one SDK client built at start-up.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// The most index entries a list reads for its page, and for its count.
    read_bound: u32,
    /// Days after which DynamoDB's time to live deletes an event, if any.
    retention_days: Option<u32>,
}

impl DynamoStore {
    /// The store on `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            read_bound: MAX_ENTRIES_READ,
            retention_days: None,
        }
    }

    /// The store that has DynamoDB delete events `days` after they are recorded.
    pub fn with_retention(self, days: Option<u32>) -> Self {
        Self {
            retention_days: days,
            ..self
        }
    }

    /// The store with another bound on the index entries a list reads for its page, and for
    /// its count when lower than [`MAX_ENTRIES_COUNTED`] (tests reach them with a few events).
    pub fn with_read_bound(self, read_bound: u32) -> Self {
        Self { read_bound, ..self }
    }

    /// Opens the connection the requests will use (DNS, TCP, TLS, the credentials' first
    /// signature) with one eventually consistent read of a key no item has: half a read unit.
    /// Called during init, so that the first request does not pay for the handshake.
    pub async fn warm_up(&self) -> Result<(), StoreError> {
        let nothing = Item::from([
            (attr::PK.to_owned(), s("WARM_UP")),
            (attr::SK.to_owned(), s("WARM_UP")),
        ]);
        self.read(nothing, false).await.map(|_| ())
    }

    /// A strongly consistent read of one item.
    async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        self.read(key, true).await
    }

    async fn read(&self, key: Item, consistent: bool) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(store_error)?;
        Ok(output.item)
    }

    /// The account's records whose sort keys start with `prefix`: strongly consistent
    /// `Query`s of its partition, page after page.
    async fn account_records(
        &self,
        account: AccountId,
        prefix: &str,
    ) -> Result<Vec<Item>, StoreError> {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":pk", s(keys::account_pk(account)))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(store_error)
    }

    async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// One `BatchGetItem`, asking again for unprocessed keys with a short backoff. Returns the
    /// items found, keyed by their sort key.
    async fn batch_get(
        &self,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<HashMap<String, Item>, StoreError> {
        let mut found = HashMap::new();
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(consistent)
            .build()
            .map_err(|e| StoreError::Failed(Box::new(e)))?;
        for attempt in 0..BATCH_GET_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, pending.clone())
                .send()
                .await
                .map_err(store_error)?;
            for item in output
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                found.insert(Reader(&item).string(attr::SK)?.to_owned(), item);
            }
            match output
                .unprocessed_keys
                .unwrap_or_default()
                .remove(&self.table)
            {
                // DynamoDB's throttling of a batch: no error, keys left for later.
                Some(rest) if !rest.keys().is_empty() => pending = rest,
                _ => return Ok(found),
            }
        }
        Err(StoreError::Throttled(
            "BatchGetItem left keys unprocessed after every retry".into(),
        ))
    }

    /// The items of these keys, at most [`BATCH_GET_MAX_KEYS`] a call, the calls at once.
    async fn batch_get_all(
        &self,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<HashMap<String, Item>, StoreError> {
        let batches = keys
            .chunks(BATCH_GET_MAX_KEYS)
            .map(|chunk| self.batch_get(chunk.to_vec(), consistent));
        let mut found = HashMap::new();
        for batch in try_join_all(batches).await? {
            found.extend(batch);
        }
        Ok(found)
    }

    /// The events of index entries, in the entries' order, each with its conversion type, read
    /// from the table by key in one `BatchGetItem` (several, at once, past 100 keys).
    ///
    /// Eventually consistent, at half the price: an event never changes once written, and a type
    /// exists before any event of it. The index is updated after the table, so its entries name
    /// items that exist; a replica that has not seen an item yet can still miss it, and those
    /// few are read again strongly consistent.
    async fn listed(
        &self,
        account: AccountId,
        entries: &[Item],
    ) -> Result<Vec<Listed>, StoreError> {
        let mut wanted: Vec<(String, String)> = Vec::with_capacity(entries.len());
        let mut sort_keys: Vec<String> = Vec::new();
        for entry in entries {
            let r = Reader(entry);
            let event_sk = r.string(attr::SK)?.to_owned();
            let type_sk = keys::conversion_type_sk(
                r.parse(attr::CONVERSION_TYPE_ID, ConversionTypeId::parse)?,
            );
            if !sort_keys.contains(&type_sk) {
                sort_keys.push(type_sk.clone());
            }
            sort_keys.push(event_sk.clone());
            wanted.push((event_sk, type_sk));
        }
        let key_of = |sk: &String| keys::key(account, sk.clone());
        let mut found = self
            .batch_get_all(sort_keys.iter().map(key_of).collect(), false)
            .await?;
        let missed: Vec<Item> = sort_keys
            .iter()
            .filter(|sk| !found.contains_key(*sk))
            .map(key_of)
            .collect();
        if !missed.is_empty() {
            found.extend(self.batch_get_all(missed, true).await?);
        }
        let mut types = HashMap::new();
        let mut listed = Vec::with_capacity(wanted.len());
        for (event_sk, type_sk) in wanted {
            let Some(event) = found.remove(&event_sk) else {
                // An index entry outlives its item only while a deletion (a TTL's) reaches the
                // index.
                tracing::warn!(sort_key = %event_sk, "an index entry's event is gone; skipped");
                continue;
            };
            let event = item::stored_event_from(&event)?.event;
            let conversion_type = match types.get(&type_sk) {
                Some(known) => Clone::clone(known),
                None => {
                    let read = found
                        .remove(&type_sk)
                        .ok_or_else(|| StoreError::Corrupt {
                            key: event_sk.clone(),
                            reason: format!("its conversion type ({type_sk}) is missing"),
                        })
                        .and_then(|i| item::conversion_type_from(&i))?;
                    types.insert(type_sk, read.clone());
                    read
                }
            };
            listed.push(Listed {
                event,
                conversion_type,
            });
        }
        Ok(listed)
    }

    /// The lead whose index partition holds a filter's events: the filter's own, or its run's
    /// (read); `Some(None)` for the account's partition, and `None` when no event can match (no
    /// such run, or a run of another lead than the filter's).
    async fn partition_lead(
        &self,
        account: AccountId,
        filter: &EventFilter,
    ) -> Result<Option<Option<LeadId>>, StoreError> {
        let Some(run) = filter.workflow_run else {
            return Ok(Some(filter.lead));
        };
        let Some(found) = self
            .get(keys::key(account, keys::workflow_run_sk(run)))
            .await?
        else {
            return Ok(None);
        };
        let lead = item::workflow_run_from(&found)?.lead_id;
        Ok(filter
            .lead
            .is_none_or(|wanted| wanted == lead)
            .then_some(Some(lead)))
    }
}

impl Store for DynamoStore {
    async fn account_for_key(&self, key: &ApiKeyHash) -> Result<Option<AccountId>, StoreError> {
        match self.get(keys::api_key(key)).await? {
            Some(found) => item::active_key_account(&found),
            None => Ok(None),
        }
    }

    /// The key's record read strongly (a revocation takes effect at once), beside one
    /// eventually consistent `BatchGetItem` of the rest, at half the price: a record a replica
    /// has not seen yet (one written in the last second or so) is read again strongly before it
    /// is called missing, so a client never gets a 400 for a lead or run it has just made. A
    /// type deactivated in that second can still be used. Nothing of the account is parsed
    /// before the key's record says the key is its own.
    async fn load_context(
        &self,
        account: AccountId,
        lookup: Lookup<'_>,
    ) -> Result<Context, StoreError> {
        let type_sk = keys::conversion_type_sk(lookup.conversion_type);
        let lead_sk = keys::lead_sk(lookup.lead);
        let run_sk = lookup.workflow_run.map(keys::workflow_run_sk);
        let event_sk = lookup.event.map(keys::event_sk);
        let references = [Some(&type_sk), Some(&lead_sk), run_sk.as_ref()];
        let wanted: Vec<Item> = references
            .into_iter()
            .chain([event_sk.as_ref()])
            .flatten()
            .map(|sk| keys::key(account, sk.clone()))
            .collect();
        let key_record = async {
            match lookup.api_key {
                Some(key) => self.get(keys::api_key(key)).await,
                None => Ok(None),
            }
        };
        let (key_record, mut found) = tokio::try_join!(key_record, self.batch_get(wanted, false))?;
        let key_account = match key_record {
            Some(record) => item::active_key_account(&record)?,
            None => None,
        };
        if lookup.api_key.is_some() && key_account != Some(account) {
            return Ok(Context::default());
        }
        let missed: Vec<Item> = references
            .into_iter()
            .flatten()
            .filter(|sk| !found.contains_key(*sk))
            .map(|sk| keys::key(account, sk.clone()))
            .collect();
        if !missed.is_empty() {
            found.extend(self.batch_get(missed, true).await?);
        }
        let mut take = |sk: Option<&String>| sk.and_then(|sk| found.remove(sk));
        Ok(Context {
            key_account,
            conversion_type: take(Some(&type_sk))
                .map(|i| item::conversion_type_from(&i))
                .transpose()?,
            lead: take(Some(&lead_sk))
                .map(|i| item::lead_from(&i))
                .transpose()?,
            workflow_run: take(run_sk.as_ref())
                .map(|i| item::workflow_run_from(&i))
                .transpose()?,
            existing_event: take(event_sk.as_ref())
                .map(|i| item::stored_event_from(&i))
                .transpose()?,
        })
    }

    /// One `PutItem` conditioned on the item not existing. When it exists, the item comes back
    /// with the refusal (`ReturnValuesOnConditionCheckFailure`), or, from a server that does not
    /// send it back (dynalite), by a consistent read.
    async fn insert_event(
        &self,
        account: AccountId,
        new: NewEvent<'_>,
    ) -> Result<Insert, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::event_item(account, &new, self.retention_days)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Insert::Written),
            Err(err) => err,
        };
        let Some(PutItemError::ConditionalCheckFailedException(refused)) = err.as_service_error()
        else {
            let failure = store_error(err);
            // A put that ended without an answer (a connection cut, a time-out, a server error
            // on every attempt) may have been written all the same. Read it back before
            // answering 503: the service tells this request's own write by its token (a 201),
            // so a client that retries without an idempotency key does not store it twice. Best
            // effort: a read that fails, or a write that lands after it, still answers 503.
            if matches!(failure, StoreError::Unavailable(_))
                && let Ok(Some(found)) = self.get_event(account, new.event.id).await
            {
                return Ok(Insert::Exists(Box::new(found)));
            }
            return Err(failure);
        };
        let existing = match refused.item() {
            Some(found) => Some(item::stored_event_from(found)?),
            None => self.get_event(account, new.event.id).await?,
        };
        existing
            .map(|found| Insert::Exists(Box::new(found)))
            .ok_or_else(|| {
                StoreError::Failed(
                    format!(
                        "event {} was refused as existing, then not found",
                        new.event.id
                    )
                    .into(),
                )
            })
    }

    async fn get_event(
        &self,
        account: AccountId,
        id: EventId,
    ) -> Result<Option<StoredEvent>, StoreError> {
        self.get(keys::key(account, keys::event_sk(id)))
            .await?
            .map(|i| item::stored_event_from(&i))
            .transpose()
    }

    /// One strongly consistent `Query` of the account's partition, on the sort keys of types only.
    async fn conversion_types(
        &self,
        account: AccountId,
    ) -> Result<Vec<ConversionType>, StoreError> {
        self.account_records(account, keys::CONVERSION_TYPE_SK_PREFIX)
            .await?
            .iter()
            .map(item::conversion_type_from)
            .collect()
    }

    async fn conversion_type(
        &self,
        account: AccountId,
        id: ConversionTypeId,
    ) -> Result<Option<ConversionType>, StoreError> {
        self.get(keys::key(account, keys::conversion_type_sk(id)))
            .await?
            .map(|i| item::conversion_type_from(&i))
            .transpose()
    }

    /// The page's `Query` and the count's at once, each within the read bound; then the page's
    /// events and their types by key.
    async fn list_events(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> Result<Page, StoreError> {
        let Some(lead) = self.partition_lead(account, &page.filter).await? else {
            return Ok(Page {
                events: Vec::new(),
                next: None,
                cut_short: false,
                total: Total::Exact(0),
            });
        };
        let query = EventQuery::new(account, &page.filter, lead);
        let (entries, total) = tokio::try_join!(
            query.page(&self.client, &self.table, account, page, self.read_bound),
            query.count(
                &self.client,
                &self.table,
                self.read_bound.min(MAX_ENTRIES_COUNTED)
            ),
        )?;
        Ok(Page {
            events: self.listed(account, &entries.matched).await?,
            next: entries.next,
            cut_short: entries.cut_short,
            total,
        })
    }
}

impl Provisioning for DynamoStore {
    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        self.put(item::account_item(account)).await
    }

    async fn get_account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        self.get(keys::key(id, keys::ACCOUNT_SK.to_owned()))
            .await?
            .map(|i| item::account_from(&i))
            .transpose()
    }

    async fn put_api_key(&self, key: &ApiKeyHash, account: AccountId) -> Result<(), StoreError> {
        let now = Timestamp::now();
        // Listed first: a key that works is always listed.
        self.put(item::api_key_entry_item(key, account, now))
            .await?;
        self.put(item::api_key_item(key, account, now)).await
    }

    async fn api_keys(&self, account: AccountId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.account_records(account, keys::API_KEY_ENTRY_SK_PREFIX)
            .await?
            .iter()
            .map(item::api_key_record_from)
            .collect()
    }

    async fn revoke_api_key(&self, key: &ApiKeyHash) -> Result<bool, StoreError> {
        let Some(found) = self.get(keys::api_key(key)).await? else {
            return Ok(false);
        };
        let account = item::api_key_record_from(&found)?.account;
        let now = Timestamp::now();
        // The record requests find first: from then on the key is refused.
        for record in [keys::api_key(key), keys::api_key_entry(account, key)] {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(record))
                .update_expression("SET #status = :revoked, #revoked_at = :now")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#status", attr::STATUS)
                .expression_attribute_names("#revoked_at", attr::REVOKED_AT)
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_values(":revoked", s(status::REVOKED))
                .expression_attribute_values(":now", s(now))
                .send()
                .await
                .map_err(store_error)?;
        }
        Ok(true)
    }

    async fn put_conversion_type(
        &self,
        account: AccountId,
        conversion_type: &ConversionType,
    ) -> Result<(), StoreError> {
        self.put(item::conversion_type_item(account, conversion_type))
            .await
    }

    async fn put_lead(&self, account: AccountId, lead: &Lead) -> Result<(), StoreError> {
        self.put(item::lead_item(account, lead)).await
    }

    async fn get_workflow_run(
        &self,
        account: AccountId,
        id: WorkflowRunId,
    ) -> Result<Option<WorkflowRun>, StoreError> {
        self.get(keys::key(account, keys::workflow_run_sk(id)))
            .await?
            .map(|i| item::workflow_run_from(&i))
            .transpose()
    }

    async fn get_lead(&self, account: AccountId, id: LeadId) -> Result<Option<Lead>, StoreError> {
        self.get(keys::key(account, keys::lead_sk(id)))
            .await?
            .map(|i| item::lead_from(&i))
            .transpose()
    }

    async fn put_workflow_run(
        &self,
        account: AccountId,
        run: &WorkflowRun,
    ) -> Result<(), StoreError> {
        self.put(item::workflow_run_item(account, run)).await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    /// The DynamoDB JSON of an item, as a server sends it.
    fn wire(item: &Item) -> serde_json::Value {
        fn value(v: &AttributeValue) -> serde_json::Value {
            match v {
                AttributeValue::S(text) => serde_json::json!({ "S": text }),
                AttributeValue::N(number) => serde_json::json!({ "N": number }),
                AttributeValue::Bool(b) => serde_json::json!({ "BOOL": b }),
                AttributeValue::L(list) => {
                    serde_json::json!({ "L": list.iter().map(value).collect::<Vec<_>>() })
                }
                AttributeValue::M(map) => serde_json::json!({ "M": wire(map) }),
                other => panic!("not used in items: {other:?}"),
            }
        }
        item.iter()
            .map(|(name, v)| (name.clone(), value(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// A store whose DynamoDB answers each call with the next canned `BatchGetItem` body.
    fn replaying(bodies: Vec<serde_json::Value>) -> DynamoStore {
        use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
        use aws_smithy_types::body::SdkBody;
        let events = bodies
            .into_iter()
            .map(|body| {
                ReplayEvent::new(
                    http::Request::builder()
                        .uri("http://dynamodb.test")
                        .body(SdkBody::empty())
                        .unwrap(),
                    http::Response::builder()
                        .status(200)
                        .header("content-type", "application/x-amz-json-1.0")
                        .body(SdkBody::from(body.to_string()))
                        .unwrap(),
                )
            })
            .collect();
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "k", "s", None, None, "test",
            ))
            .endpoint_url("http://dynamodb.test")
            .http_client(StaticReplayClient::new(events))
            .build();
        DynamoStore::new(Client::from_conf(config), "t")
    }

    fn demo_lookup(demo: &crate::seed::Demo) -> Lookup<'static> {
        Lookup {
            api_key: None,
            conversion_type: demo.conversion_type.id,
            lead: demo.lead.id,
            workflow_run: None,
            event: None,
        }
    }

    #[tokio::test]
    async fn unprocessed_keys_are_asked_for_again_until_every_record_is_read() {
        let demo = crate::seed::demo();
        let account = demo.account.id;
        let lead = wire(&item::lead_item(account, &demo.lead));
        let conversion_type = wire(&item::conversion_type_item(account, &demo.conversion_type));
        let type_key = wire(&keys::key(
            account,
            keys::conversion_type_sk(demo.conversion_type.id),
        ));
        let store = replaying(vec![
            serde_json::json!({
                "Responses": { "t": [lead] },
                "UnprocessedKeys": { "t": { "Keys": [type_key], "ConsistentRead": true } }
            }),
            serde_json::json!({ "Responses": { "t": [conversion_type] }, "UnprocessedKeys": {} }),
        ]);
        let context = store
            .load_context(account, demo_lookup(&demo))
            .await
            .unwrap();
        assert_eq!(context.lead, Some(demo.lead));
        assert_eq!(context.conversion_type, Some(demo.conversion_type));
    }

    #[tokio::test]
    async fn a_page_event_an_eventually_consistent_read_misses_is_read_again_consistently() {
        use crate::domain::{
            Amount, ConversionEvent, Currency, EventFilter, Limit, Metadata, Offset, WriteToken,
        };
        let demo = crate::seed::demo();
        let account = demo.account.id;
        let event = |at: &str| ConversionEvent {
            id: EventId::random(),
            conversion_type_id: demo.conversion_type.id,
            lead_id: demo.lead.id,
            workflow_id: demo.conversion_type.scope.workflow_id(),
            master_workflow_id: None,
            workflow_run_id: None,
            amount: Amount::parse_json_number("1").unwrap(),
            currency: Currency::parse("USD").unwrap(),
            metadata: Metadata::from_json("{}").unwrap(),
            notes: None,
            converted_at: Timestamp::parse(at).unwrap(),
            created_at: Timestamp::now(),
        };
        let (newer, older) = (event("2026-01-02T00:00:00Z"), event("2026-01-01T00:00:00Z"));
        let item = |e: &ConversionEvent| {
            item::event_item(
                account,
                &NewEvent {
                    event: e,
                    fingerprint: None,
                    write_token: WriteToken::random(),
                },
                None,
            )
        };
        let entry = |e: &ConversionEvent| {
            let full = item(e);
            let entry: Item = [
                attr::PK,
                attr::SK,
                attr::CONVERTED_SK,
                attr::CONVERSION_TYPE_ID,
            ]
            .into_iter()
            .map(|name| (name.to_owned(), full[name].clone()))
            .collect();
            wire(&entry)
        };
        let conversion_type = wire(&item::conversion_type_item(account, &demo.conversion_type));
        let store = replaying(vec![
            // The page's query, then the count's.
            serde_json::json!({ "Items": [entry(&newer), entry(&older)], "Count": 2, "ScannedCount": 2 }),
            serde_json::json!({ "Count": 2, "ScannedCount": 2 }),
            // The eventually consistent read: one replica has not seen the older event yet.
            serde_json::json!({ "Responses": { "t": [wire(&item(&newer)), conversion_type] }, "UnprocessedKeys": {} }),
            serde_json::json!({ "Responses": { "t": [wire(&item(&older))] }, "UnprocessedKeys": {} }),
        ]);
        let page = store
            .list_events(
                account,
                &PageRequest::new(
                    EventFilter::default(),
                    None,
                    Offset::default(),
                    Limit::parse("5").unwrap(),
                ),
            )
            .await
            .unwrap();
        let listed = |event: ConversionEvent| crate::domain::Listed {
            event,
            conversion_type: demo.conversion_type.clone(),
        };
        assert_eq!(page.events, [listed(newer), listed(older)]);
        assert_eq!(page.next, None);
        assert_eq!(page.total, crate::domain::Total::Exact(2));
    }

    #[tokio::test]
    async fn keys_still_unprocessed_after_every_attempt_are_a_throttle() {
        let demo = crate::seed::demo();
        let account = demo.account.id;
        let lead_key = wire(&keys::key(account, keys::lead_sk(demo.lead.id)));
        let unprocessed = serde_json::json!({
            "Responses": { "t": [] },
            "UnprocessedKeys": { "t": { "Keys": [lead_key], "ConsistentRead": true } }
        });
        // One more answer than it may ask for: the replay would serve it, were it asked.
        let store = replaying(vec![unprocessed; BATCH_GET_ATTEMPTS as usize + 1]);
        let result = store.load_context(account, demo_lookup(&demo)).await;
        assert!(
            matches!(result, Err(StoreError::Throttled(_))),
            "{result:?}"
        );
    }
}
