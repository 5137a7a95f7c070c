//! Shared test helpers: the local DynamoDB servers started by `scripts/with-test-servers.sh`,
//! fresh tables, the function's own DynamoDB client, a fault point in front of a server
//! ([`proxy`]), and the `events/` fixtures.

pub mod aws_json;
pub mod captured;
pub mod fixtures;
pub mod metering;
pub mod openapi;
pub mod proxy;
pub mod runtime_api;
pub mod tenant;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{BehaviorVersion, ConfigBag, Credentials, Intercept, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use conversions::domain::{AccountId, ConversionEvent, EventId, LeadId, Timestamp};
use conversions::http::{Body, Request};
use conversions::store::{DynamoStore, create_table};

pub use fixtures::*;
pub use tenant::{Tenant, tenant};

/// A DynamoDB-compatible server the tests run against.
#[derive(Clone)]
pub struct Backend {
    pub name: String,
    pub endpoint: String,
}

/// dynalite and moto, as started by `scripts/with-test-servers.sh` (`make test`). Without both
/// these tests fail: they never pass by skipping, nor on one server.
pub fn backends() -> Vec<Backend> {
    let spec = std::env::var("TEST_DYNAMODB_ENDPOINTS").expect(
        "TEST_DYNAMODB_ENDPOINTS is not set: run the DynamoDB tests with `make test` or \
         `scripts/with-test-servers.sh cargo test`, which start dynalite and moto",
    );
    let backends: Vec<Backend> = spec
        .split(',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, endpoint) = part.split_once('=').expect("each entry is name=url");
            Backend {
                name: name.to_owned(),
                endpoint: endpoint.to_owned(),
            }
        })
        .collect();
    // Both servers, each once: a check that ran on one of them only would pass for half.
    let mut names: Vec<&str> = backends.iter().map(|b| b.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["dynalite", "moto"],
        "TEST_DYNAMODB_ENDPOINTS must name dynalite and moto, each once"
    );
    backends
}

/// Runs a check against each local server in turn. The server's name is printed first, so the
/// output of a failing test says which one it failed on.
pub async fn on_each_backend<F: std::future::Future<Output = ()>>(check: impl Fn(Backend) -> F) {
    for backend in backends() {
        eprintln!("on {}", backend.name);
        check(backend).await;
    }
}

impl Backend {
    /// A client for this server. (The function itself takes its endpoint from the SDK's
    /// standard environment; tests talk to two servers at once, so they set it here.)
    pub fn client(&self) -> Client {
        Client::from_conf(self.config().build())
    }

    /// The function's client as the tests run it: it records the name of every DynamoDB
    /// operation it sends, and is held to the template's `dynamodb:LeadingKeys` condition.
    pub fn counting_client(&self) -> (Client, Operations) {
        let operations = Operations::default();
        let client = Client::from_conf(
            self.config()
                .interceptor(operations.clone())
                .interceptor(LeadingKeys)
                .build(),
        );
        (client, operations)
    }

    pub fn config(&self) -> aws_sdk_dynamodb::config::Builder {
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(conversions::sdk::https_client(
                conversions::sdk::AMAZON_TRUST_SERVICES_ROOTS.to_vec(),
            ))
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
    }

    /// The app on a fresh table seeded with the demo account, through a client that records
    /// its operations; and the table, for checks that must not count.
    pub async fn counted_demo_app(
        &self,
    ) -> (conversions::http::App<DynamoStore>, Operations, Table) {
        let table = self.fresh_table().await;
        conversions::seed::seed_demo(&table.store())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        let (client, operations) = self.counting_client();
        let app = conversions::http::App::new(DynamoStore::new(client, &table.name));
        (app, operations, table)
    }

    /// A new table of its own, so tests never see each other's data.
    pub async fn fresh_table(&self) -> Table {
        let client = self.client();
        let name = format!("conversions-test-{}", uuid::Uuid::new_v4().simple());
        create_table(&client, &name)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        Table { client, name }
    }

    /// A fresh table with the demo data (`make run`'s).
    pub async fn demo_table(&self) -> Table {
        let table = self.fresh_table().await;
        conversions::seed::seed_demo(&table.store()).await.unwrap();
        table
    }

    /// A table with the keys and no index: every list query on it fails.
    pub async fn keys_only_table(&self, name: &str) {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let mut create = self
            .client()
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest);
        for (attribute, kind) in [("pk", KeyType::Hash), ("sk", KeyType::Range)] {
            create = create
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(attribute)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .unwrap(),
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(attribute)
                        .key_type(kind)
                        .build()
                        .unwrap(),
                );
        }
        create
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
    }

    /// A store on a new table of its own.
    pub async fn fresh_store(&self) -> DynamoStore {
        self.fresh_table().await.store()
    }
}

/// The function's own DynamoDB client (its timeouts and retries, from
/// `sdk::load_sdk_config`), sent to `endpoint`.
pub async fn function_client(endpoint: &str) -> Client {
    let sdk_config = conversions::sdk::load_sdk_config()
        .await
        .expect("the SDK's configuration");
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config)
        .endpoint_url(endpoint)
        .interceptor(LeadingKeys)
        .build();
    Client::from_conf(config)
}

/// A table of one test, and a client to look at it directly (the layout the README documents).
pub struct Table {
    pub client: Client,
    pub name: String,
}

impl Table {
    pub fn on(backend: &Backend, name: &str) -> Self {
        Self {
            client: backend.client(),
            name: name.to_owned(),
        }
    }

    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(self.client.clone(), &self.name)
    }

    /// The raw item of an event.
    pub async fn event_item(
        &self,
        account: AccountId,
        id: EventId,
    ) -> HashMap<String, AttributeValue> {
        self.client
            .get_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(format!("ACCOUNT#{account}")))
            .key("sk", AttributeValue::S(format!("CONVERSION_EVENT#{id}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .expect("the event item exists")
    }

    /// How many conversion events the account has stored.
    pub async fn count_events(&self, account: AccountId) -> usize {
        self.stored_event_ids(account).await.len()
    }

    /// The ids of the account's stored conversion events, each with how many items have it
    /// (one, unless something wrote twice), read page by page with consistent reads.
    pub async fn stored_event_ids(&self, account: AccountId) -> BTreeMap<String, usize> {
        let mut ids = BTreeMap::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.name)
                .key_condition_expression("pk = :pk AND begins_with(sk, :events)")
                .expression_attribute_values(":pk", AttributeValue::S(format!("ACCOUNT#{account}")))
                .expression_attribute_values(
                    ":events",
                    AttributeValue::S("CONVERSION_EVENT#".into()),
                )
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            // Not the items holding adjustments' keys, which share the events' prefix.
            let events = page.items().iter().filter(|item| {
                item.get("entity") != Some(&AttributeValue::S("adjustment_key".into()))
            });
            for item in events {
                let Some(AttributeValue::S(sk)) = item.get("sk") else {
                    panic!("an event without a sort key");
                };
                let id = sk.trim_start_matches("CONVERSION_EVENT#").to_owned();
                *ids.entry(id).or_insert(0) += 1;
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return ids;
            }
        }
    }

    /// Every item of the table, as debug text.
    pub async fn dump(&self) -> String {
        format!("{:?}", self.items().await)
    }

    /// Every item of the table (one scan page: tests hold less than a megabyte).
    pub async fn items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let scan = self
            .client
            .scan()
            .table_name(&self.name)
            .send()
            .await
            .unwrap();
        scan.items().to_vec()
    }
}

/// The DynamoDB operations a client sent, in order, each with what it addressed: `table`, or
/// `index/<name>` for a `Query` of an index.
#[derive(Clone, Debug, Default)]
pub struct Operations(
    Arc<Mutex<Vec<(&'static str, String)>>>,
    /// The partition of every put and query ([`leading_key`]).
    Arc<Mutex<Vec<String>>>,
);

impl Operations {
    /// The operations' names since the last take.
    pub fn take(&self) -> Vec<&'static str> {
        self.take_with_resources()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// The operations since the last take, each with what it addressed.
    pub fn take_with_resources(&self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The partition of every put and query since the last take.
    pub fn take_leading_keys(&self) -> Vec<String> {
        std::mem::take(&mut *self.1.lock().unwrap())
    }
}

/// The partition a `PutItem`, `UpdateItem` or `Query` addresses: what IAM's `dynamodb:LeadingKeys` checks
/// (the item's `pk`; the value the key condition gives the queried partition).
fn leading_key(
    context: &BeforeSerializationInterceptorContextRef<'_>,
) -> Option<(&'static str, String)> {
    use aws_sdk_dynamodb::operation as op;
    let input = context.input();
    if let Some(put) = input.downcast_ref::<op::put_item::PutItemInput>() {
        let pk = put.item()?.get("pk")?.as_s().ok()?;
        return Some(("PutItem", pk.clone()));
    }
    if let Some(update) = input.downcast_ref::<op::update_item::UpdateItemInput>() {
        let pk = update.key()?.get("pk")?.as_s().ok()?;
        return Some(("UpdateItem", pk.clone()));
    }
    let query = input.downcast_ref::<op::query::QueryInput>()?;
    let condition = query.key_condition_expression()?;
    let first = condition.split(" AND ").next()?;
    let placeholder = first.split_once('=')?.1.trim();
    let value = query
        .expression_attribute_values()?
        .get(placeholder)?
        .as_s()
        .ok()?;
    Some(("Query", value.clone()))
}

/// The `dynamodb:LeadingKeys` patterns `template.yaml` grants the function's puts and queries
/// under (`ACCOUNT#*`), each a prefix and `*`.
pub fn leading_key_patterns() -> &'static [String] {
    static PATTERNS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    PATTERNS.get_or_init(|| {
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
                .expect("template.yaml");
        let mut patterns = Vec::new();
        for condition in template.split("dynamodb:LeadingKeys:").skip(1) {
            for line in condition.lines().skip(1) {
                // The list's items, quoted; the next statement begins `- Effect`.
                match line.trim().strip_prefix("- \"") {
                    Some(pattern) => patterns.push(pattern.trim_end_matches('"').to_owned()),
                    None => break,
                }
            }
        }
        assert!(
            !patterns.is_empty() && patterns.iter().all(|p| p.ends_with('*')),
            "LeadingKeys patterns of the form PREFIX*: {patterns:?}"
        );
        patterns
    })
}

pub fn leading_key_allowed(key: &str) -> bool {
    leading_key_patterns()
        .iter()
        .any(|pattern| key.starts_with(pattern.trim_end_matches('*')))
}

/// The template's `dynamodb:LeadingKeys` condition applied as AWS applies it: a put or query of
/// another partition fails, denied, before it is sent. Every test that serves requests through
/// the function's client ([`Backend::counting_client`], [`function_client`]) checks it.
#[derive(Debug)]
pub struct LeadingKeys;

impl Intercept for LeadingKeys {
    fn name(&self) -> &'static str {
        "LeadingKeys"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match leading_key(context) {
            Some((operation, key)) if !leading_key_allowed(&key) => Err(format!(
                "AccessDenied: {operation} of partition {key} is outside the template's \
                 dynamodb:LeadingKeys"
            )
            .into()),
            _ => Ok(()),
        }
    }
}

impl Intercept for Operations {
    fn name(&self) -> &'static str {
        "OperationCounter"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        use aws_sdk_dynamodb::operation as op;
        let input = context.input();
        if let Some((_, key)) = leading_key(context) {
            self.1.lock().unwrap().push(key);
        }
        let table = || "table".to_owned();
        let operation = if input.downcast_ref::<op::get_item::GetItemInput>().is_some() {
            ("GetItem", table())
        } else if input
            .downcast_ref::<op::batch_get_item::BatchGetItemInput>()
            .is_some()
        {
            ("BatchGetItem", table())
        } else if input.downcast_ref::<op::put_item::PutItemInput>().is_some() {
            ("PutItem", table())
        } else if input
            .downcast_ref::<op::update_item::UpdateItemInput>()
            .is_some()
        {
            ("UpdateItem", table())
        } else if let Some(query) = input.downcast_ref::<op::query::QueryInput>() {
            let resource = query
                .index_name()
                .map_or_else(table, |index| format!("index/{index}"));
            ("Query", resource)
        } else {
            ("other", table())
        };
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

/// A request with the demo account's key, and this body.
pub fn demo_call(method: &str, path: &str, body: Option<String>) -> Request {
    let request =
        Request::new(method, path).with_header("x-api-key", conversions::seed::DEMO_API_KEY);
    match body {
        Some(body) => request.with_body(Body::Text(body)),
        None => request,
    }
}

/// An event of the demo type for `lead`, converted and recorded at `at`: 85000.00 USD.
pub fn demo_event(lead: LeadId, at: Timestamp) -> ConversionEvent {
    use conversions::domain::{Amount, ConversionTypeId, Currency, Metadata, WorkflowId};
    use conversions::seed::{DEMO_CONVERSION_TYPE_ID, DEMO_WORKFLOW_ID};
    ConversionEvent {
        id: EventId::random(),
        conversion_type_id: ConversionTypeId::parse(DEMO_CONVERSION_TYPE_ID).unwrap(),
        lead_id: lead,
        workflow_id: Some(WorkflowId::parse(DEMO_WORKFLOW_ID).unwrap()),
        master_workflow_id: None,
        workflow_run_id: None,
        amount: Amount::parse_json_number("85000.00").unwrap(),
        currency: Currency::parse("USD").unwrap(),
        metadata: Metadata::from_json("{}").unwrap(),
        notes: None,
        converted_at: at,
        created_at: at,
    }
}

/// The `create-minimal` fixture with another `X-API-Key` and body.
pub fn post_as(key: &str, body: String) -> Request {
    fixture("create-minimal")
        .with_header("x-api-key", key)
        .with_body(Body::Text(body))
}
