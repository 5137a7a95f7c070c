//! The DynamoDB adapter: the only code that knows the table layout ([`keys`]), the item mapping
//! ([`item`]), error classification ([`error`]) and the table ([`schema`]). Here: the operations.

mod changes;
mod erase;
mod error;
mod item;
mod keys;
mod list;
mod provisioning;
mod schema;
mod stream;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValuesOnConditionCheckFailure,
};
use futures_util::future::try_join_all;

pub use schema::{TableError, create_table};
pub use stream::{StreamRecord, StreamedChange, is_stream_event, stream_records};

use self::error::store_error;
use self::item::{Item, Reader, attr, string};
use self::list::EventQuery;
use super::{
    AdjustmentClaim, Context, FeedEntry, Insert, KeyHolder, Lookup, NewEvent, Store, StoreError,
    StoredEvent, Target,
};
use crate::domain::{
    AccountId, Adjustment, ApiKeyHash, ChangeRecord, ConversionType, ConversionTypeId, EventId,
    FeedPosition, MAX_ENTRIES_COUNTED, MAX_ENTRIES_READ, Page, PageRequest, Timestamp, Total,
};

/// The most keys one `BatchGetItem` may ask for.
const BATCH_GET_MAX_KEYS: usize = 100;

const BATCH_GET_ATTEMPTS: u32 = 5;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    read_bound: u32,
    retention_days: Option<u32>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            read_bound: MAX_ENTRIES_READ,
            retention_days: None,
        }
    }

    pub fn with_retention(self, days: Option<u32>) -> Self {
        Self {
            retention_days: days,
            ..self
        }
    }

    /// A lower read bound (the count's never above [`MAX_ENTRIES_COUNTED`]) lets tests reach it.
    pub fn with_read_bound(self, read_bound: u32) -> Self {
        Self { read_bound, ..self }
    }

    /// Opens the connection (DNS, TCP, TLS, the first signature) during init, so the first request
    /// does not pay for it: one eventually consistent read of a missing key, half a read unit.
    pub async fn warm_up(&self) -> Result<(), StoreError> {
        let nothing = Item::from([
            (attr::PK.to_owned(), string("WARM_UP")),
            (attr::SK.to_owned(), string("WARM_UP")),
        ]);
        self.read(nothing, false).await.map(|_| ())
    }

    async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        self.read(key, true).await
    }

    async fn get_as<T>(
        &self,
        key: Item,
        record: fn(&Item) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.get(key).await?.map(|i| record(&i)).transpose()
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

    /// The account's items whose sort key starts with `prefix`, read consistently.
    async fn account_records(
        &self,
        account: AccountId,
        prefix: &str,
    ) -> Result<Vec<Item>, StoreError> {
        self.partition(account, Some(prefix), false).await
    }

    /// The account partition's items (those whose sort key starts with `prefix`, if given; only
    /// their keys if `keys_only`), read consistently.
    async fn partition(
        &self,
        account: AccountId,
        prefix: Option<&str>,
        keys_only: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(match prefix {
                Some(_) => "#pk = :pk AND begins_with(#sk, :prefix)",
                None => "#pk = :pk",
            })
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":pk", string(keys::account_pk(account)))
            .consistent_read(true);
        if let Some(prefix) = prefix {
            query = query.expression_attribute_values(":prefix", string(prefix));
        }
        if prefix.is_some() || keys_only {
            query = query.expression_attribute_names("#sk", attr::SK);
        }
        if keys_only {
            query = query.projection_expression("#pk, #sk");
        }
        query
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(store_error)
    }

    async fn put_item(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// A `PutItem` conditioned on no item with its key: `None` once written, else the key's holder,
    /// as the refusal returns it (`ReturnValuesOnConditionCheckFailure`) or read consistently
    /// (dynalite returns none). An unanswered put (cut connection, time-out, server error) may have
    /// landed: its key is read back first, a write found returned as existing (the caller tells its
    /// own from another's). Best effort: a failed read, or a later landing, still fails.
    async fn put_new(&self, item: Item) -> Result<Option<Item>, StoreError> {
        let key: Item = [attr::PK, attr::SK]
            .into_iter()
            .filter_map(|name| Some((name.to_owned(), item.get(name)?.clone())))
            .collect();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(None),
            Err(err) => err,
        };
        let Some(PutItemError::ConditionalCheckFailedException(refused)) = err.as_service_error()
        else {
            let failure = store_error(err);
            if matches!(failure, StoreError::Unavailable(_))
                && let Ok(Some(found)) = self.get(key).await
            {
                return Ok(Some(found));
            }
            return Err(failure);
        };
        match refused.item() {
            Some(found) => Ok(Some(found.clone())),
            None => self.get(key).await?.map(Some).ok_or_else(|| {
                StoreError::Failed("an item refused as existing was then not found".into())
            }),
        }
    }

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
}

/// The event at an event's key; `None` where an adjustment's key holds it.
fn event_from(item: &Item) -> Result<Option<StoredEvent>, StoreError> {
    match item::key_holder_from(item)? {
        KeyHolder::Event => item::stored_event_from(item).map(Some),
        KeyHolder::Adjustment(_) => Ok(None),
    }
}

impl Store for DynamoStore {
    async fn account_for_key(&self, key: &ApiKeyHash) -> Result<Option<AccountId>, StoreError> {
        match self.get(keys::api_key(key)).await? {
            Some(found) => item::active_key_account(&found),
            None => Ok(None),
        }
    }

    /// The key's record read strongly (revocation acts at once), beside eventually consistent,
    /// half-price `BatchGetItem`s of the rest; a referenced record a replica lacks (just written)
    /// is reread strongly before it is called missing (no 400 for a lead or run just made; a type
    /// deactivated that second still works). Nothing is parsed before the key's record confirms
    /// the account. An event a replica lacks is not reread: its conditional put finds it.
    async fn load_context(
        &self,
        account: AccountId,
        lookup: &Lookup<'_>,
    ) -> Result<Context, StoreError> {
        let mut references: Vec<String> = (lookup.conversion_types.iter())
            .map(|id| keys::conversion_type_sk(*id))
            .chain(lookup.leads.iter().map(|id| keys::lead_sk(*id)))
            .chain(
                lookup
                    .workflow_runs
                    .iter()
                    .map(|id| keys::workflow_run_sk(*id)),
            )
            .collect();
        references.sort_unstable();
        references.dedup();
        let mut events: Vec<String> = lookup.events.iter().map(|id| keys::event_sk(*id)).collect();
        events.sort_unstable();
        events.dedup();
        let wanted: Vec<Item> = (events.into_iter().chain(references.iter().cloned()))
            .map(|sk| keys::key(account, sk))
            .collect();
        let key_record = async {
            match lookup.api_key {
                Some(key) => self.get(keys::api_key(key)).await,
                None => Ok(None),
            }
        };
        let everything = self.batch_get_all(wanted, false);
        let (key_record, mut found) = tokio::try_join!(key_record, everything)?;
        let key_account = key_record
            .map(|r| item::active_key_account(&r))
            .transpose()?
            .flatten();
        if lookup.api_key.is_some() && key_account != Some(account) {
            return Ok(Context::default());
        }
        let missed: Vec<Item> = references
            .into_iter()
            .filter(|sk| !found.contains_key(sk))
            .map(|sk| keys::key(account, sk))
            .collect();
        if !missed.is_empty() {
            found.extend(self.batch_get_all(missed, true).await?);
        }
        let mut context = Context {
            key_account,
            ..Context::default()
        };
        for (sk, item) in found {
            if sk.starts_with(keys::CONVERSION_TYPE_SK_PREFIX) {
                let t = item::conversion_type_from(&item)?;
                context.conversion_types.insert(t.id, t);
            } else if sk.starts_with(keys::LEAD_SK_PREFIX) {
                let lead = item::lead_from(&item)?;
                context.leads.insert(lead.id, lead);
            } else if sk.starts_with(keys::WORKFLOW_RUN_SK_PREFIX) {
                let run = item::workflow_run_from(&item)?;
                context.workflow_runs.insert(run.id, run);
            } else if let KeyHolder::Adjustment(_) = item::key_holder_from(&item)? {
                context
                    .adjustment_keys
                    .insert(Reader(&item).parse(attr::ID, EventId::parse)?);
            } else {
                let stored = item::stored_event_from(&item)?;
                context.events.insert(stored.event.id, stored);
            }
        }
        Ok(context)
    }

    async fn insert_event(
        &self,
        account: AccountId,
        new: NewEvent<'_>,
    ) -> Result<Insert, StoreError> {
        let e = new.event;
        let change = ChangeRecord::created(e.id, e.created_at, new.write_token);
        self.put_change(account, &change, e.created_at).await?;
        let item = item::event_item(account, &new, self.retention_days);
        match self.put_new(item).await? {
            None => Ok(Insert::Written),
            Some(found) => match item::key_holder_from(&found)? {
                KeyHolder::Event => Ok(Insert::Exists(Box::new(item::stored_event_from(&found)?))),
                KeyHolder::Adjustment(_) => Ok(Insert::KeyTaken),
            },
        }
    }

    async fn adjustment_target(
        &self,
        account: AccountId,
        event: EventId,
        key: Option<EventId>,
    ) -> Result<Target, StoreError> {
        let event_sk = keys::event_sk(event);
        // The key of the create that recorded this event names the event itself: read it once.
        let key_sk = key.map(keys::event_sk);
        let other_key = key_sk.iter().filter(|sk| **sk != event_sk);
        let wanted = std::iter::once(&event_sk).chain(other_key);
        let mut found = self
            .batch_get_all(
                wanted.map(|sk| keys::key(account, sk.clone())).collect(),
                true,
            )
            .await?;
        let key_holder = match key_sk.and_then(|sk| found.get(&sk)) {
            Some(holder) => Some(item::key_holder_from(holder)?),
            None => None,
        };
        Ok(Target {
            event: found
                .remove(&event_sk)
                .map(|i| event_from(&i))
                .transpose()?
                .flatten(),
            key_holder,
        })
    }

    async fn claim_key(
        &self,
        account: AccountId,
        key: EventId,
        claim: &AdjustmentClaim,
        event_created_at: Timestamp,
    ) -> Result<Option<KeyHolder>, StoreError> {
        let expires = item::claim_expiry(event_created_at, self.retention_days);
        match self
            .put_new(item::claim_item(account, key, claim, expires))
            .await?
        {
            None => Ok(None),
            Some(found) => item::key_holder_from(&found).map(Some),
        }
    }

    /// One `UpdateItem` appending to the event's list, conditioned on its count: concurrent
    /// adjustments of one event apply one after the other, each to the state its caller read.
    async fn append_adjustment(
        &self,
        account: AccountId,
        event: EventId,
        after: usize,
        adjustment: &Adjustment,
    ) -> Result<bool, StoreError> {
        let change = ChangeRecord::adjusted(event, adjustment);
        self.put_change(account, &change, adjustment.created_at)
            .await?;
        let key = keys::key(account, keys::event_sk(event));
        let count = |n: usize| AttributeValue::N(n.to_string());
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.clone()))
            .expression_attribute_names("#entity", attr::ENTITY)
            .expression_attribute_names("#list", attr::ADJUSTMENTS)
            .expression_attribute_names("#count", attr::ADJUSTMENT_COUNT)
            .expression_attribute_values(":event", string(item::entity::CONVERSION_EVENT))
            .expression_attribute_values(
                ":new",
                AttributeValue::L(vec![item::adjustment_value(adjustment)]),
            )
            .expression_attribute_values(":next", count(after + 1));
        let request = if after == 0 {
            request
                .update_expression("SET #list = :new, #count = :next")
                .condition_expression("#entity = :event AND attribute_not_exists(#count)")
        } else {
            request
                .update_expression("SET #list = list_append(#list, :new), #count = :next")
                .condition_expression("#entity = :event AND #count = :after")
                .expression_attribute_values(":after", count(after))
        };
        let err = match request.send().await {
            Ok(_) => return Ok(true),
            Err(err) => err,
        };
        if let Some(UpdateItemError::ConditionalCheckFailedException(_)) = err.as_service_error() {
            return Ok(false);
        }
        let failure = store_error(err);
        // Unanswered, it may have landed: read back, it is found by its id.
        if matches!(failure, StoreError::Unavailable(_))
            && let Ok(Some(found)) = self.get(key).await
            && let Ok(Some(stored)) = event_from(&found)
            && stored.adjustments.iter().any(|a| a.id == adjustment.id)
        {
            return Ok(true);
        }
        Err(failure)
    }

    async fn changes(
        &self,
        account: AccountId,
        after: FeedPosition,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        self.feed_entries(account, after, until, limit).await
    }

    async fn get_event(
        &self,
        account: AccountId,
        id: EventId,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let found = self.get(keys::key(account, keys::event_sk(id))).await?;
        Ok(found.map(|i| event_from(&i)).transpose()?.flatten())
    }

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
        self.get_as(
            keys::key(account, keys::conversion_type_sk(id)),
            item::conversion_type_from,
        )
        .await
    }

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
            events: (self.listed(account, &entries.matched, page.filter.as_of.is_some())).await?,
            next: entries.next,
            cut_short: entries.cut_short,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;
    use crate::domain::Timestamp;

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
            conversion_types: vec![demo.conversion_type.id],
            leads: vec![demo.lead.id],
            ..Lookup::default()
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
            .load_context(account, &demo_lookup(&demo))
            .await
            .unwrap();
        assert_eq!(context.leads.get(&demo.lead.id), Some(&demo.lead));
        let conversion_type = context.conversion_types.get(&demo.conversion_type.id);
        assert_eq!(conversion_type, Some(&demo.conversion_type));
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
        let listed = |event: ConversionEvent| crate::domain::EventWithType {
            event,
            conversion_type: demo.conversion_type.clone(),
            adjustments: Vec::new(),
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
        let result = store.load_context(account, &demo_lookup(&demo)).await;
        assert!(
            matches!(result, Err(StoreError::Throttled(_))),
            "{result:?}"
        );
    }
}
