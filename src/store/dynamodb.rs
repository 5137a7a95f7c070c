//! The DynamoDB adapter: the one place that knows the table layout, key formats and
//! `AttributeValue` mapping.
//!
//! One table, every record under a partition key that starts with its account, so an id from
//! another account builds another key and can never be found (tenant isolation by
//! construction). API keys are the exception: they are looked up by their hash, before the
//! account is known.
//!
//! | record           | pk                    | sk                         |
//! |------------------|-----------------------|----------------------------|
//! | API key          | `APIKEY#<sha256 hex>` | `APIKEY`                   |
//! | account          | `ACCOUNT#<account>`   | `ACCOUNT`                  |
//! | conversion type  | `ACCOUNT#<account>`   | `CONVERSION_TYPE#<id>`     |
//! | lead             | `ACCOUNT#<account>`   | `LEAD#<id>`                |
//! | workflow run     | `ACCOUNT#<account>`   | `WORKFLOW_RUN#<id>`        |
//! | conversion event | `ACCOUNT#<account>`   | `CONVERSION_EVENT#<id>`    |
//!
//! Events also carry `converted_sk` = `<converted_at, fixed width>#<id>`, the sort key of the
//! sparse global secondary index `events_by_converted_at` (pk, converted_sk): an account's
//! events newest first, for the list endpoint.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, ScalarAttributeType, TableStatus,
};

use super::{BoxError, Context, InsertError, Lookup, Provisioning, Store, StoreError, StoredEvent};
use crate::domain::{
    Account, AccountId, Amount, ApiKeyHash, Category, ConversionEvent, ConversionType,
    ConversionTypeId, Currency, EventId, FieldDefinition, FieldType, Lead, LeadId,
    MasterWorkflowId, Metadata, RequestFingerprint, Scope, Timestamp, WorkflowId, WorkflowRun,
    WorkflowRunId,
};

/// The index that lists an account's events by conversion time.
pub const EVENTS_BY_CONVERTED_AT: &str = "events_by_converted_at";

const PK: &str = "pk";
const SK: &str = "sk";
const CONVERTED_SK: &str = "converted_sk";

/// How often unprocessed keys of a `BatchGetItem` are asked for again before giving up.
const BATCH_GET_ATTEMPTS: u32 = 5;

type Item = HashMap<String, AttributeValue>;

/// DynamoDB, through one SDK client built at start-up.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn get(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(pk))
            .key(SK, AttributeValue::S(sk))
            .consistent_read(true)
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

    /// One `BatchGetItem` (strongly consistent), asking again for unprocessed keys with a short
    /// backoff. Returns the items found, keyed by their sort key.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<HashMap<String, Item>, StoreError> {
        let mut found = HashMap::new();
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
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
                found.insert(string(&item, SK)?.to_owned(), item);
            }
            match output
                .unprocessed_keys
                .unwrap_or_default()
                .remove(&self.table)
            {
                Some(rest) if !rest.keys().is_empty() => pending = rest,
                _ => return Ok(found),
            }
        }
        Err(StoreError::Throttled(
            "BatchGetItem left keys unprocessed after every retry".into(),
        ))
    }
}

impl Store for DynamoStore {
    async fn account_for_key(&self, key: &ApiKeyHash) -> Result<Option<AccountId>, StoreError> {
        let Some(item) = self.get(api_key_pk(key), API_KEY_SK.to_owned()).await? else {
            return Ok(None);
        };
        if string(&item, "status")? != "active" {
            return Ok(None);
        }
        parse(&item, "account_id", AccountId::parse).map(Some)
    }

    async fn load_context(
        &self,
        account: AccountId,
        lookup: Lookup,
    ) -> Result<Context, StoreError> {
        let type_sk = conversion_type_sk(lookup.conversion_type);
        let lead_sk = lead_sk(lookup.lead);
        let run_sk = lookup.workflow_run.map(workflow_run_sk);
        let event_sk = lookup.event.map(event_sk);
        let keys = [
            Some(&type_sk),
            Some(&lead_sk),
            run_sk.as_ref(),
            event_sk.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|sk| key(account, sk.clone()))
        .collect();
        let mut found = self.batch_get(keys).await?;
        let mut take = |sk: Option<&String>| sk.and_then(|sk| found.remove(sk));
        Ok(Context {
            conversion_type: take(Some(&type_sk))
                .map(|i| conversion_type_from(&i))
                .transpose()?,
            lead: take(Some(&lead_sk)).map(|i| lead_from(&i)).transpose()?,
            workflow_run: take(run_sk.as_ref())
                .map(|i| workflow_run_from(&i))
                .transpose()?,
            existing_event: take(event_sk.as_ref())
                .map(|i| stored_event_from(&i))
                .transpose()?,
        })
    }

    async fn insert_event(
        &self,
        account: AccountId,
        event: &ConversionEvent,
        fingerprint: Option<&RequestFingerprint>,
    ) -> Result<(), InsertError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(event_item(account, event, fingerprint)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(InsertError::AlreadyExists)
            }
            Err(err) => Err(InsertError::Store(store_error(err))),
        }
    }

    async fn get_event(
        &self,
        account: AccountId,
        id: EventId,
    ) -> Result<Option<StoredEvent>, StoreError> {
        self.get(account_pk(account), event_sk(id))
            .await?
            .map(|item| stored_event_from(&item))
            .transpose()
    }
}

impl Provisioning for DynamoStore {
    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        let mut item = key(account.id, ACCOUNT_SK.to_owned());
        item.insert("entity".into(), s("account"));
        item.insert("id".into(), s(account.id));
        item.insert("name".into(), s(&account.name));
        item.insert("created_at".into(), s(account.created_at));
        self.put(item).await
    }

    async fn get_account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let Some(item) = self.get(account_pk(id), ACCOUNT_SK.to_owned()).await? else {
            return Ok(None);
        };
        Ok(Some(Account {
            id: parse(&item, "id", AccountId::parse)?,
            name: string(&item, "name")?.to_owned(),
            created_at: parse(&item, "created_at", Timestamp::parse)?,
        }))
    }

    async fn put_api_key(&self, key: &ApiKeyHash, account: AccountId) -> Result<(), StoreError> {
        let mut item = HashMap::new();
        item.insert(PK.into(), s(api_key_pk(key)));
        item.insert(SK.into(), s(API_KEY_SK));
        item.insert("entity".into(), s("api_key"));
        item.insert("account_id".into(), s(account));
        item.insert("status".into(), s("active"));
        item.insert("created_at".into(), s(Timestamp::now()));
        self.put(item).await
    }

    async fn revoke_api_key(&self, key: &ApiKeyHash) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(api_key_pk(key)))
            .key(SK, s(API_KEY_SK))
            .update_expression("SET #status = :revoked, revoked_at = :now")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":revoked", s("revoked"))
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
        t: &ConversionType,
    ) -> Result<(), StoreError> {
        self.put(conversion_type_item(account, t)).await
    }

    async fn get_conversion_type(
        &self,
        account: AccountId,
        id: ConversionTypeId,
    ) -> Result<Option<ConversionType>, StoreError> {
        self.get(account_pk(account), conversion_type_sk(id))
            .await?
            .map(|i| conversion_type_from(&i))
            .transpose()
    }

    async fn put_lead(&self, account: AccountId, lead: &Lead) -> Result<(), StoreError> {
        self.put(lead_item(account, lead)).await
    }

    async fn get_lead(&self, account: AccountId, id: LeadId) -> Result<Option<Lead>, StoreError> {
        self.get(account_pk(account), lead_sk(id))
            .await?
            .map(|i| lead_from(&i))
            .transpose()
    }

    async fn put_workflow_run(
        &self,
        account: AccountId,
        run: &WorkflowRun,
    ) -> Result<(), StoreError> {
        self.put(workflow_run_item(account, run)).await
    }
}

// --- keys ---------------------------------------------------------------------------------

const API_KEY_SK: &str = "APIKEY";
const ACCOUNT_SK: &str = "ACCOUNT";

fn api_key_pk(key: &ApiKeyHash) -> String {
    format!("APIKEY#{}", key.as_str())
}

fn account_pk(account: AccountId) -> String {
    format!("ACCOUNT#{account}")
}

fn conversion_type_sk(id: ConversionTypeId) -> String {
    format!("CONVERSION_TYPE#{id}")
}

fn lead_sk(id: LeadId) -> String {
    format!("LEAD#{id}")
}

fn workflow_run_sk(id: WorkflowRunId) -> String {
    format!("WORKFLOW_RUN#{id}")
}

fn event_sk(id: EventId) -> String {
    format!("CONVERSION_EVENT#{id}")
}

fn key(account: AccountId, sk: String) -> Item {
    HashMap::from([
        (PK.to_owned(), s(account_pk(account))),
        (SK.to_owned(), AttributeValue::S(sk)),
    ])
}

// --- items ------------------------------------------------------------------------------------

fn s(value: impl ToString) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn conversion_type_item(account: AccountId, t: &ConversionType) -> Item {
    let mut item = key(account, conversion_type_sk(t.id));
    item.insert("entity".into(), s("conversion_type"));
    item.insert("id".into(), s(t.id));
    item.insert("name".into(), s(&t.name));
    if let Some(description) = &t.description {
        item.insert("description".into(), s(description));
    }
    item.insert("category".into(), s(t.category.as_str()));
    item.insert("currency".into(), s(t.currency));
    let fields = t
        .fields
        .iter()
        .map(|f| {
            AttributeValue::M(HashMap::from([
                ("key".to_owned(), s(&f.key)),
                ("label".to_owned(), s(&f.label)),
                ("type".to_owned(), s(f.field_type.as_str())),
            ]))
        })
        .collect();
    item.insert("fields".into(), AttributeValue::L(fields));
    match t.scope {
        Scope::Workflow(id) => item.insert("workflow_id".into(), s(id)),
        Scope::MasterWorkflow(id) => item.insert("master_workflow_id".into(), s(id)),
    };
    item.insert("active".into(), AttributeValue::Bool(t.active));
    item.insert("created_at".into(), s(t.created_at));
    item
}

fn lead_item(account: AccountId, lead: &Lead) -> Item {
    let mut item = key(account, lead_sk(lead.id));
    item.insert("entity".into(), s("lead"));
    item.insert("id".into(), s(lead.id));
    item.insert("created_at".into(), s(lead.created_at));
    item
}

fn workflow_run_item(account: AccountId, run: &WorkflowRun) -> Item {
    let mut item = key(account, workflow_run_sk(run.id));
    item.insert("entity".into(), s("workflow_run"));
    item.insert("id".into(), s(run.id));
    item.insert("lead_id".into(), s(run.lead_id));
    item.insert("workflow_id".into(), s(run.workflow_id));
    if let Some(master) = run.master_workflow_id {
        item.insert("master_workflow_id".into(), s(master));
    }
    item.insert("created_at".into(), s(run.created_at));
    item
}

fn event_item(
    account: AccountId,
    e: &ConversionEvent,
    fingerprint: Option<&RequestFingerprint>,
) -> Item {
    let mut item = key(account, event_sk(e.id));
    item.insert("entity".into(), s("conversion_event"));
    item.insert(
        CONVERTED_SK.into(),
        s(format!("{}#{}", e.converted_at.sortable(), e.id)),
    );
    item.insert("id".into(), s(e.id));
    item.insert("conversion_type_id".into(), s(e.conversion_type_id));
    item.insert("lead_id".into(), s(e.lead_id));
    if let Some(id) = e.workflow_id {
        item.insert("workflow_id".into(), s(id));
    }
    if let Some(id) = e.master_workflow_id {
        item.insert("master_workflow_id".into(), s(id));
    }
    if let Some(id) = e.workflow_run_id {
        item.insert("workflow_run_id".into(), s(id));
    }
    // A DynamoDB number for sums and filters, and the text as sent (DynamoDB normalises
    // numbers, so `85000.00` would come back as `85000`).
    item.insert("amount".into(), AttributeValue::N(e.amount.to_string()));
    item.insert("amount_text".into(), s(e.amount));
    item.insert("currency".into(), s(e.currency));
    // Kept as JSON text: metadata numbers of any precision come back exactly as sent, which a
    // DynamoDB number (38 digits, normalised) cannot promise.
    item.insert("metadata".into(), s(e.metadata.to_json()));
    if let Some(notes) = &e.notes {
        item.insert("notes".into(), s(notes));
    }
    item.insert("converted_at".into(), s(e.converted_at.sortable()));
    item.insert("created_at".into(), s(e.created_at.sortable()));
    if let Some(fingerprint) = fingerprint {
        item.insert("request_fingerprint".into(), s(fingerprint.as_str()));
    }
    item
}

fn stored_event_from(item: &Item) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        event: event_from(item)?,
        fingerprint: optional(item, "request_fingerprint", |t| {
            RequestFingerprint::parse(t).ok_or("not a SHA-256")
        })?,
    })
}

fn event_from(item: &Item) -> Result<ConversionEvent, StoreError> {
    Ok(ConversionEvent {
        id: parse(item, "id", EventId::parse)?,
        conversion_type_id: parse(item, "conversion_type_id", ConversionTypeId::parse)?,
        lead_id: parse(item, "lead_id", LeadId::parse)?,
        workflow_id: optional(item, "workflow_id", WorkflowId::parse)?,
        master_workflow_id: optional(item, "master_workflow_id", MasterWorkflowId::parse)?,
        workflow_run_id: optional(item, "workflow_run_id", WorkflowRunId::parse)?,
        amount: parse(item, "amount_text", Amount::parse_json_number)?,
        currency: parse(item, "currency", Currency::parse)?,
        metadata: parse(item, "metadata", Metadata::from_json)?,
        notes: optional(item, "notes", |t| {
            Ok::<_, std::convert::Infallible>(t.to_owned())
        })?,
        converted_at: parse(item, "converted_at", Timestamp::parse)?,
        created_at: parse(item, "created_at", Timestamp::parse)?,
    })
}

fn conversion_type_from(item: &Item) -> Result<ConversionType, StoreError> {
    let scope = match (
        optional(item, "workflow_id", WorkflowId::parse)?,
        optional(item, "master_workflow_id", MasterWorkflowId::parse)?,
    ) {
        (Some(workflow), None) => Scope::Workflow(workflow),
        (None, Some(master)) => Scope::MasterWorkflow(master),
        _ => {
            return Err(corrupt(
                item,
                "needs exactly one of workflow_id and master_workflow_id",
            ));
        }
    };
    let fields = match item.get("fields") {
        None => Vec::new(),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|field| match field {
                AttributeValue::M(field) => Ok(FieldDefinition {
                    key: string(field, "key")?.to_owned(),
                    label: string(field, "label")?.to_owned(),
                    field_type: parse(field, "type", str::parse::<FieldType>)?,
                }),
                _ => Err(corrupt(item, "a field definition is not a map")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(corrupt(item, "fields is not a list")),
    };
    Ok(ConversionType {
        id: parse(item, "id", ConversionTypeId::parse)?,
        name: string(item, "name")?.to_owned(),
        description: optional(item, "description", |t| {
            Ok::<_, std::convert::Infallible>(t.to_owned())
        })?,
        category: parse(item, "category", str::parse::<Category>)?,
        currency: parse(item, "currency", Currency::parse)?,
        fields,
        scope,
        active: match item.get("active") {
            Some(AttributeValue::Bool(active)) => *active,
            _ => return Err(corrupt(item, "active is not a boolean")),
        },
        created_at: parse(item, "created_at", Timestamp::parse)?,
    })
}

fn lead_from(item: &Item) -> Result<Lead, StoreError> {
    Ok(Lead {
        id: parse(item, "id", LeadId::parse)?,
        created_at: parse(item, "created_at", Timestamp::parse)?,
    })
}

fn workflow_run_from(item: &Item) -> Result<WorkflowRun, StoreError> {
    Ok(WorkflowRun {
        id: parse(item, "id", WorkflowRunId::parse)?,
        lead_id: parse(item, "lead_id", LeadId::parse)?,
        workflow_id: parse(item, "workflow_id", WorkflowId::parse)?,
        master_workflow_id: optional(item, "master_workflow_id", MasterWorkflowId::parse)?,
        created_at: parse(item, "created_at", Timestamp::parse)?,
    })
}

fn corrupt(item: &Item, reason: impl Into<String>) -> StoreError {
    let part = |name| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map_or("?", String::as_str)
    };
    StoreError::Corrupt {
        key: format!("{}/{}", part(PK), part(SK)),
        reason: reason.into(),
    }
}

fn string<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Ok(text),
        _ => Err(corrupt(item, format!("{name} is missing or not a string"))),
    }
}

fn parse<T, E: std::fmt::Display>(
    item: &Item,
    name: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    parse(string(item, name)?).map_err(|e| corrupt(item, format!("{name}: {e}")))
}

fn optional<T, E: std::fmt::Display>(
    item: &Item,
    name: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => self::parse(item, name, parse).map(Some),
    }
}

// --- errors -------------------------------------------------------------------------------

/// Error codes DynamoDB uses for throttling; the SDK has already retried these.
const THROTTLING_CODES: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
];

fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let throttled = err
        .code()
        .is_some_and(|code| THROTTLING_CODES.contains(&code));
    // A timeout of the whole call or of one attempt, a connect timeout, or no connection at all.
    let unreachable = match &err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(failure) => failure.is_timeout() || failure.is_io(),
        _ => false,
    };
    let source: BoxError = Box::new(err);
    match (throttled, unreachable) {
        (true, _) => StoreError::Throttled(source),
        (_, true) => StoreError::Unreachable(source),
        _ => StoreError::Failed(source),
    }
}

// --- tables ---------------------------------------------------------------------------------

/// Why a table could not be created or removed.
#[derive(Debug, thiserror::Error)]
#[error("table {table}: {reason}")]
pub struct TableError {
    table: String,
    reason: String,
}

/// Creates the table and its index as `template.yaml` declares them, and waits until it is
/// active. A table that exists already is left as it is.
pub async fn create_table(client: &Client, table: &str) -> Result<(), TableError> {
    let fail = |reason: String| TableError {
        table: table.to_owned(),
        reason,
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| fail(e.to_string()))
    };
    let key_element = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| fail(e.to_string()))
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(EVENTS_BY_CONVERTED_AT)
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(CONVERTED_SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let created = client
        .create_table()
        .table_name(table)
        .attribute_definitions(attribute(PK)?)
        .attribute_definitions(attribute(SK)?)
        .attribute_definitions(attribute(CONVERTED_SK)?)
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?)
        .global_secondary_indexes(index)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(err) => {
            return Err(fail(
                aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string(),
            ));
        }
    }
    for _ in 0..100 {
        let described = client.describe_table().table_name(table).send().await;
        let status = described
            .map_err(|e| fail(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?
            .table
            .and_then(|t| t.table_status);
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(fail("did not become active within 10 s".to_owned()))
}

/// Deletes the table (for tests that made their own).
pub async fn delete_table(client: &Client, table: &str) -> Result<(), TableError> {
    client
        .delete_table()
        .table_name(table)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| TableError {
            table: table.to_owned(),
            reason: aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_of_an_account_shares_the_account_partition() {
        let account = AccountId::random();
        let pk = account_pk(account);
        assert_eq!(key(account, lead_sk(LeadId::random()))[PK], s(&pk));
        assert!(pk.starts_with("ACCOUNT#") && pk.ends_with(&account.to_string()));
    }

    #[test]
    fn an_event_item_round_trips_exactly() {
        let event = ConversionEvent {
            id: EventId::random(),
            conversion_type_id: ConversionTypeId::random(),
            lead_id: LeadId::random(),
            workflow_id: Some(WorkflowId::random()),
            master_workflow_id: None,
            workflow_run_id: Some(WorkflowRunId::random()),
            amount: Amount::parse_json_number("85000.00").unwrap(),
            currency: Currency::parse("USD").unwrap(),
            metadata: Metadata::from_json(r#"{"commission":2500.50,"broker":"John"}"#).unwrap(),
            notes: Some("cash".into()),
            converted_at: Timestamp::parse("2026-01-28T10:00:00Z").unwrap(),
            created_at: Timestamp::parse("2026-02-01T15:30:00.123Z").unwrap(),
        };
        let item = event_item(AccountId::random(), &event, None);
        assert_eq!(item["amount"], AttributeValue::N("85000.00".into()));
        assert_eq!(event_from(&item).unwrap(), event);
        assert_eq!(stored_event_from(&item).unwrap().fingerprint, None);
    }

    fn put_error(code: &str) -> StoreError {
        use aws_sdk_dynamodb::error::ErrorMetadata;
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("detail")
            .build();
        store_error(SdkError::service_error(PutItemError::generic(meta), ()))
    }

    #[test]
    fn a_timeout_is_told_apart_from_other_failures() {
        // (Connect timeouts and refused connections are dispatch failures: tests/unreachable.rs.)
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        let err = store_error(SdkError::<PutItemError, ()>::timeout_error(
            "no answer in 2 s",
        ));
        assert!(matches!(err, StoreError::Unreachable(_)), "{err:?}");
    }

    #[test]
    fn throttling_codes_are_told_apart_from_other_failures() {
        for code in THROTTLING_CODES {
            assert!(
                matches!(put_error(code), StoreError::Throttled(_)),
                "{code}"
            );
        }
        for code in [
            "ValidationException",
            "ResourceNotFoundException",
            "InternalServerError",
        ] {
            assert!(matches!(put_error(code), StoreError::Failed(_)), "{code}");
        }
    }

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
                    lambda_http::http::Request::builder()
                        .uri("http://dynamodb.test")
                        .body(SdkBody::empty())
                        .unwrap(),
                    lambda_http::http::Response::builder()
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

    #[tokio::test]
    async fn unprocessed_keys_are_asked_for_again_until_every_record_is_read() {
        let demo = crate::seed::demo();
        let account = demo.account.id;
        let lead = wire(&lead_item(account, &demo.lead));
        let conversion_type = wire(&conversion_type_item(account, &demo.conversion_type));
        let type_key = wire(&key(account, conversion_type_sk(demo.conversion_type.id)));
        let store = replaying(vec![
            serde_json::json!({
                "Responses": { "t": [lead] },
                "UnprocessedKeys": { "t": { "Keys": [type_key], "ConsistentRead": true } }
            }),
            serde_json::json!({ "Responses": { "t": [conversion_type] }, "UnprocessedKeys": {} }),
        ]);
        let lookup = Lookup {
            conversion_type: demo.conversion_type.id,
            lead: demo.lead.id,
            workflow_run: None,
            event: None,
        };
        let context = store.load_context(account, lookup).await.unwrap();
        assert_eq!(context.lead, Some(demo.lead));
        assert_eq!(context.conversion_type, Some(demo.conversion_type));
    }

    #[tokio::test]
    async fn keys_still_unprocessed_after_every_attempt_are_a_throttle() {
        let demo = crate::seed::demo();
        let account = demo.account.id;
        let lead_key = wire(&key(account, lead_sk(demo.lead.id)));
        let unprocessed = serde_json::json!({
            "Responses": { "t": [] },
            "UnprocessedKeys": { "t": { "Keys": [lead_key], "ConsistentRead": true } }
        });
        let store = replaying(vec![unprocessed; BATCH_GET_ATTEMPTS as usize]);
        let lookup = Lookup {
            conversion_type: demo.conversion_type.id,
            lead: demo.lead.id,
            workflow_run: None,
            event: None,
        };
        let result = store.load_context(account, lookup).await;
        assert!(
            matches!(result, Err(StoreError::Throttled(_))),
            "{result:?}"
        );
    }

    #[test]
    fn a_malformed_item_is_reported_with_its_key() {
        let mut item = key(AccountId::random(), lead_sk(LeadId::random()));
        item.insert("id".into(), s("not-a-uuid"));
        let err = lead_from(&item).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { ref key, .. } if key.contains("LEAD#")),
            "{err}"
        );
    }
}
