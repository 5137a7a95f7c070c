//! The DynamoDB adapter: the one place that knows the table layout ([`keys`]), the item mapping
//! ([`item`]), how SDK errors are classified ([`error`]) and the table's definition
//! ([`schema`]). This file holds the operations.

mod error;
mod item;
mod keys;
mod list;
mod schema;
mod telemetry;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnValuesOnConditionCheckFailure, Select};
use futures_util::future::try_join_all;

pub use schema::{TableError, create_table};

use self::error::store_error;
use self::item::{Item, Reader, attr, s, status};
use self::list::EventQuery;
use super::{Context, Insert, Lookup, NewEvent, Provisioning, Store, StoreError, StoredEvent};
use crate::domain::{
    Account, AccountId, ApiKeyHash, ConversionEvent, ConversionType, ConversionTypeId, EventFilter,
    EventId, Lead, LeadId, Page, PageRequest, Timestamp, WorkflowRun,
};

/// The most keys one `BatchGetItem` may ask for.
const BATCH_GET_MAX_KEYS: usize = 100;

/// Index entries a filtered page query reads in its first call, at the least. Each further
/// call reads twice as many as the one before (DynamoDB still stops at 1 MB a call): a filter
/// that drops most entries costs a few round trips, not one per event, and a page that is found
/// early reads little more than it shows.
const FILTERED_QUERY_BATCH: usize = 100;

/// How often unprocessed keys of a `BatchGetItem` are asked for again before giving up.
const BATCH_GET_ATTEMPTS: u32 = 5;

/// DynamoDB, through one SDK client built at start-up.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// The store on `table`, through `client` with the metrics interceptor added (it records
    /// only while a request is measured: see `telemetry::metrics`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let config = client
            .config()
            .to_builder()
            .interceptor(telemetry::CallMetrics)
            .build();
        Self {
            client: Client::from_conf(config),
            table: table.into(),
        }
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
                Some(rest) if !rest.keys().is_empty() => {
                    // DynamoDB's throttling of a batch: no error, keys left for later.
                    crate::telemetry::metrics::record(|m| m.throttled("BatchGetItem"));
                    pending = rest;
                }
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

    /// The events of index entries, in the entries' order, read from the table by key.
    ///
    /// Eventually consistent, at half the price: an event never changes once written. The index
    /// is updated after the table, so its entries name items that exist; a replica that has not
    /// seen an item yet can still miss it, and those few are read again strongly consistent.
    async fn events_of(&self, entries: &[Item]) -> Result<Vec<ConversionEvent>, StoreError> {
        let key_of = |entry: &Item| -> Item {
            [attr::PK, attr::SK]
                .into_iter()
                .filter_map(|name| Some((name.to_owned(), entry.get(name)?.clone())))
                .collect()
        };
        let sort_keys = entries
            .iter()
            .map(|entry| Reader(entry).string(attr::SK).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let mut found = self
            .batch_get_all(entries.iter().map(key_of).collect(), false)
            .await?;
        let missed: Vec<Item> = entries
            .iter()
            .zip(&sort_keys)
            .filter(|(_, sk)| !found.contains_key(*sk))
            .map(|(entry, _)| key_of(entry))
            .collect();
        if !missed.is_empty() {
            found.extend(self.batch_get_all(missed, true).await?);
        }
        let mut events = Vec::with_capacity(sort_keys.len());
        for sk in sort_keys {
            match found.remove(&sk) {
                Some(found) => events.push(item::stored_event_from(&found)?.event),
                // An index entry outlives its item only while a deletion reaches the index.
                None => tracing::warn!(sort_key = %sk, "an index entry's event is gone; skipped"),
            }
        }
        Ok(events)
    }
}

impl DynamoStore {
    /// Gives every conversion event that lacks them (one written by a version before the filter
    /// indexes) its index keys, so that lists by lead, type, workflow, master workflow and run
    /// find it. An operator's migration, run once after the indexes exist: it scans the table
    /// (the one operation that does), updates only events without `lead_key`, and can be run
    /// again safely. Returns how many events it updated.
    pub async fn backfill_index_keys(&self) -> Result<u64, StoreError> {
        let mut updated = 0;
        let mut start = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#entity = :event AND attribute_not_exists(#lead_key)")
                .expression_attribute_names("#entity", attr::ENTITY)
                .expression_attribute_names("#lead_key", attr::LEAD_KEY)
                .expression_attribute_values(":event", s(item::entity::CONVERSION_EVENT))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            for found in output.items() {
                let reader = Reader(found);
                let account = reader.parse(attr::PK, |pk| {
                    keys::account_of(pk).ok_or("not an account key")
                })?;
                let event = item::stored_event_from(found)?.event;
                let mut keys_of_event = item::index_keys(account, &event).into_iter();
                let Some((first_name, first_value)) = keys_of_event.next() else {
                    continue;
                };
                let mut update = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(keys::key(account, keys::event_sk(event.id))))
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", attr::PK)
                    .expression_attribute_names("#k0", first_name)
                    .expression_attribute_values(":v0", first_value);
                let mut sets = vec!["#k0 = :v0".to_owned()];
                for (i, (name, value)) in keys_of_event.enumerate() {
                    let i = i + 1;
                    update = update
                        .expression_attribute_names(format!("#k{i}"), name)
                        .expression_attribute_values(format!(":v{i}"), value);
                    sets.push(format!("#k{i} = :v{i}"));
                }
                update
                    .update_expression(format!("SET {}", sets.join(", ")))
                    .send()
                    .await
                    .map_err(store_error)?;
                updated += 1;
            }
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(updated);
            }
        }
    }
}

impl Store for DynamoStore {
    async fn account_for_key(&self, key: &ApiKeyHash) -> Result<Option<AccountId>, StoreError> {
        match self.get(keys::api_key(key)).await? {
            Some(found) => item::active_key_account(&found),
            None => Ok(None),
        }
    }

    async fn load_context(
        &self,
        account: AccountId,
        lookup: Lookup<'_>,
    ) -> Result<Context, StoreError> {
        let type_sk = keys::conversion_type_sk(lookup.conversion_type);
        let lead_sk = keys::lead_sk(lookup.lead);
        let run_sk = lookup.workflow_run.map(keys::workflow_run_sk);
        let event_sk = lookup.event.map(keys::event_sk);
        let wanted = [
            Some(&type_sk),
            Some(&lead_sk),
            run_sk.as_ref(),
            event_sk.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|sk| keys::key(account, sk.clone()))
        .chain(lookup.api_key.map(keys::api_key))
        .collect();
        let mut found = self.batch_get(wanted, true).await?;
        // Every record is found by its sort key; the API key's (`APIKEY`) is the only one of
        // its kind in a request.
        let key_account = match lookup.api_key.and_then(|_| found.remove(keys::API_KEY_SK)) {
            Some(record) => item::active_key_account(&record)?,
            None => None,
        };
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
            .set_item(Some(item::event_item(account, &new)))
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
        let mut types = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_names("#sk", attr::SK)
                .expression_attribute_values(":pk", s(keys::account_pk(account)))
                .expression_attribute_values(":prefix", s(keys::CONVERSION_TYPE_SK_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            for found in output.items() {
                types.push(item::conversion_type_from(found)?);
            }
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(types);
            }
        }
    }

    /// `Query` the filter's index from the page's start until `offset + limit + 1` entries
    /// match (the one more tells whether there is a next page), then read the page's events
    /// from the table by key.
    async fn list_events(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> Result<Page, StoreError> {
        let query = EventQuery::new(account, &page.filter);
        let (offset, limit) = (page.offset.get() as usize, page.limit.get() as usize);
        let wanted = offset + limit + 1;
        let mut entries: Vec<Item> = Vec::new();
        let mut start = page
            .after
            .map(|position| query.start_after(account, position));
        let mut filtered_batch = FILTERED_QUERY_BATCH;
        loop {
            let remaining = wanted - entries.len();
            let batch = if query.filters() {
                let batch = remaining.max(filtered_batch);
                filtered_batch = filtered_batch.saturating_mul(2);
                batch
            } else {
                remaining
            };
            let output = query
                .request(&self.client, &self.table)
                .limit(i32::try_from(batch).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            entries.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if entries.len() >= wanted || start.is_none() {
                break;
            }
        }
        let more = entries.len() > offset + limit;
        entries.truncate(offset + limit);
        let entries = entries.split_off(offset.min(entries.len()));
        let next = match entries.last() {
            Some(last) if more => {
                let reader = Reader(last);
                Some(reader.parse(attr::CONVERTED_SK, |sk| {
                    keys::position(sk).ok_or("not a time and an id")
                })?)
            }
            _ => None,
        };
        Ok(Page {
            events: self.events_of(&entries).await?,
            next,
        })
    }

    /// `Query` with `Select=COUNT` on the index and partition the list reads, with the same
    /// conditions, page after page: the index entries are read (and paid for), not returned.
    async fn count_events(
        &self,
        account: AccountId,
        filter: &EventFilter,
    ) -> Result<u64, StoreError> {
        let query = EventQuery::new(account, filter);
        let mut total = 0u64;
        let mut start = None;
        loop {
            let output = query
                .request(&self.client, &self.table)
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            total += u64::try_from(output.count).unwrap_or(0);
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(total);
            }
        }
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
        self.put(item::api_key_item(key, account, Timestamp::now()))
            .await
    }

    async fn revoke_api_key(&self, key: &ApiKeyHash) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::api_key(key)))
            .update_expression("SET #status = :revoked, #revoked_at = :now")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#revoked_at", attr::REVOKED_AT)
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":revoked", s(status::REVOKED))
            .expression_attribute_values(":now", s(Timestamp::now()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(store_error(err)),
        }
    }

    async fn put_conversion_type(
        &self,
        account: AccountId,
        conversion_type: &ConversionType,
    ) -> Result<(), StoreError> {
        self.put(item::conversion_type_item(account, conversion_type))
            .await
    }

    async fn get_conversion_type(
        &self,
        account: AccountId,
        id: ConversionTypeId,
    ) -> Result<Option<ConversionType>, StoreError> {
        self.get(keys::key(account, keys::conversion_type_sk(id)))
            .await?
            .map(|i| item::conversion_type_from(&i))
            .transpose()
    }

    async fn put_lead(&self, account: AccountId, lead: &Lead) -> Result<(), StoreError> {
        self.put(item::lead_item(account, lead)).await
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
            )
        };
        let entry = |e: &ConversionEvent| {
            let full = item(e);
            let entry: Item = [attr::PK, attr::SK, attr::CONVERTED_SK]
                .into_iter()
                .map(|name| (name.to_owned(), full[name].clone()))
                .collect();
            wire(&entry)
        };
        let store = replaying(vec![
            serde_json::json!({ "Items": [entry(&newer), entry(&older)], "Count": 2, "ScannedCount": 2 }),
            // The eventually consistent read: one replica has not seen the older event yet.
            serde_json::json!({ "Responses": { "t": [wire(&item(&newer))] }, "UnprocessedKeys": {} }),
            serde_json::json!({ "Responses": { "t": [wire(&item(&older))] }, "UnprocessedKeys": {} }),
        ]);
        let page = store
            .list_events(
                account,
                &PageRequest {
                    filter: EventFilter::default(),
                    after: None,
                    offset: Offset::default(),
                    limit: Limit::parse("5").unwrap(),
                },
            )
            .await
            .unwrap();
        assert_eq!(page.events, [newer, older]);
        assert_eq!(page.next, None);
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
        let store = replaying(vec![unprocessed; BATCH_GET_ATTEMPTS as usize]);
        let (result, counted) =
            crate::telemetry::metrics::measure(store.load_context(account, demo_lookup(&demo)))
                .await;
        assert!(
            matches!(result, Err(StoreError::Throttled(_))),
            "{result:?}"
        );
        // Each answer that left keys is a throttle, as the metrics count them.
        use crate::telemetry::metrics::Counter;
        assert_eq!(
            counted.get(Counter::DynamoDbThrottles),
            u64::from(BATCH_GET_ATTEMPTS)
        );
        assert_eq!(
            counted.dynamodb_calls("BatchGetItem"),
            BATCH_GET_ATTEMPTS as usize
        );
    }
}
