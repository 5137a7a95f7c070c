//! Shared test helpers: the local DynamoDB servers started by `scripts/with-test-servers.sh`,
//! fresh tables, the function's own DynamoDB client, a fault point in front of a server
//! ([`proxy`]), and the `events/` fixtures.

pub mod captured;
pub mod metering;
pub mod openapi;
pub mod proxy;
pub mod runtime_api;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{BehaviorVersion, ConfigBag, Credentials, Intercept, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use conversions::domain::{
    Account, AccountId, ApiKey, Category, ConversionType, ConversionTypeId, Currency, EventId,
    Lead, LeadId, MasterWorkflowId, Scope, Timestamp, WorkflowId, WorkflowRun, WorkflowRunId,
};
use conversions::http::{Body, Incoming, Request, Response};
use conversions::store::{DynamoStore, Provisioning, create_table};

/// A DynamoDB-compatible server the tests run against.
#[derive(Clone)]
pub struct Backend {
    pub name: String,
    pub endpoint: String,
}

/// dynalite and moto, as started by `scripts/with-test-servers.sh` (`make test`). Without them
/// these tests fail: they never pass by skipping.
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
    assert!(
        !backends.is_empty(),
        "TEST_DYNAMODB_ENDPOINTS names no server"
    );
    backends
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

    /// A table named so, as a version before the list indexes made it: the keys, no index.
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
            for item in page.items() {
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
        let scan = self
            .client
            .scan()
            .table_name(&self.name)
            .send()
            .await
            .unwrap();
        format!("{:?}", scan.items())
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

/// The partition a `PutItem` or `Query` addresses: what IAM's `dynamodb:LeadingKeys` checks
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

pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events")
}

/// Every fixture's name (file name without `.json`), sorted.
pub fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .expect("events/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            path.file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// The fixture as the Lambda runtime hands it to the function.
pub fn fixture_event(name: &str) -> Incoming {
    let text =
        std::fs::read_to_string(events_dir().join(format!("{name}.json"))).expect("fixture exists");
    serde_json::from_str(&text).expect("a fixture is JSON")
}

/// The request of an HTTP API fixture.
pub fn fixture(name: &str) -> Request {
    match fixture_event(name) {
        Incoming::Http(request) => request,
        Incoming::Unsupported(event) => panic!("events/{name}.json is {}", event.kind),
    }
}

/// The `create-minimal` fixture with another `X-API-Key` and body.
pub fn post_as(key: &str, body: String) -> Request {
    fixture("create-minimal")
        .with_header("x-api-key", key)
        .with_body(Body::Text(body))
}

/// The fixture's event, as JSON.
fn fixture_json(name: &str) -> serde_json::Value {
    let text =
        std::fs::read_to_string(events_dir().join(format!("{name}.json"))).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The fixture's request body as the client sent it (decoded when API Gateway base64-encoded
/// it), without a byte order mark.
fn fixture_body_text(name: &str) -> String {
    let text = match fixture(name).body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8(bytes.clone()).expect("a UTF-8 body"),
        Body::NotBase64 => panic!("events/{name}.json has an undecodable body"),
    };
    text.trim_start_matches('\u{feff}').to_owned()
}

/// The fixture's request body, as JSON.
pub fn fixture_body(name: &str) -> serde_json::Value {
    serde_json::from_str(&fixture_body_text(name)).expect("body is JSON")
}

/// The Lambda request id the tests invoke fixtures with.
pub const LAMBDA_REQUEST_ID: &str = "lambda-request-id";

/// The request id a fixture's answer carries: API Gateway's, else Lambda's.
fn expected_request_id(name: &str) -> String {
    fixture_json(name)["requestContext"]["requestId"]
        .as_str()
        .unwrap_or(LAMBDA_REQUEST_ID)
        .to_owned()
}

pub fn body_text(response: &Response) -> String {
    response.body().to_owned()
}

pub fn body_json(response: &Response) -> serde_json::Value {
    serde_json::from_str(response.body()).expect("the response body is JSON")
}

/// An error body: `error` and `message`, and on a 400 also `errors`, every problem as
/// `{field, message}`, the first being `message` (for a body that cannot be read, `message` is
/// the documented sentence and the first problem says where and what).
pub fn assert_error_body(body: &serde_json::Value, error: &str, message: &str, context: &str) {
    assert_eq!(body["error"], error, "{context}: {body}");
    assert_eq!(body["message"], message, "{context}: {body}");
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    if error == "Validation error" {
        assert_eq!(keys, ["error", "message", "errors"], "{context}");
        let errors = body["errors"].as_array().expect("errors is an array");
        if errors[0]["field"] != "body" {
            assert_eq!(
                errors[0]["message"], message,
                "{context}: the first problem is the message"
            );
        }
        for problem in errors {
            let keys: Vec<&str> = problem
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, ["field", "message"], "{context}: {problem}");
        }
    } else {
        assert_eq!(keys, ["error", "message"], "{context}: exactly two keys");
    }
}

/// The keys of the reference page's 201 event object, in its order.
pub const EVENT_KEYS: [&str; 12] = [
    "id",
    "conversion_type_id",
    "lead_id",
    "workflow_id",
    "master_workflow_id",
    "workflow_run_id",
    "amount",
    "currency",
    "metadata",
    "notes",
    "converted_at",
    "created_at",
];

/// What a fixture must get back: one row of `events/expected.tsv`, the file the SAM run
/// (`scripts/sam_fixtures.py`) reads too.
pub struct Expected {
    pub fixture: String,
    pub status: u16,
    /// The body's keys, in order.
    pub keys: Vec<String>,
    /// For an error, its `error` and `message`; empty otherwise.
    pub error: String,
    pub message: String,
}

/// Every row of `events/expected.tsv` (fixture, status, keys, error, message; tab-separated,
/// one header line).
pub fn expectations() -> Vec<Expected> {
    let text =
        std::fs::read_to_string(events_dir().join("expected.tsv")).expect("events/expected.tsv");
    text.lines()
        .skip(1)
        .map(|line| {
            let mut cells = line.split('\t');
            let mut next = || cells.next().unwrap_or_default().to_owned();
            Expected {
                fixture: next(),
                status: next().parse().expect("a status"),
                keys: next().split(' ').map(str::to_owned).collect(),
                error: next(),
                message: next(),
            }
        })
        .collect()
}

/// The keys of a conversion type, as `GET /conversion-types` lists it.
pub const TYPE_KEYS: [&str; 9] = [
    "id",
    "name",
    "description",
    "category",
    "currency",
    "fields",
    "workflow_id",
    "master_workflow_id",
    "created_at",
];

/// The event object of the read endpoints: the 201 object and its type.
fn assert_listed_event(event: &serde_json::Value, context: &str) {
    let keys: Vec<&str> = event
        .as_object()
        .expect("an event object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys[..EVENT_KEYS.len()], EVENT_KEYS, "{context}");
    assert_eq!(keys[EVENT_KEYS.len()..], ["conversion_types"], "{context}");
    let embed: Vec<&str> = event["conversion_types"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(embed, ["name", "category", "fields"], "{context}");
}

/// The 200 of a read fixture: its documented shape.
fn assert_read_response(context: &str, name: &str, body: &serde_json::Value) {
    let context = format!("{context}: {name}");
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(body["success"], true, "{context}");
    if name.starts_with("list-conversion-types") {
        assert_eq!(keys, ["success", "conversion_types"], "{context}");
        let types = body["conversion_types"].as_array().unwrap();
        assert_eq!(types.len(), 1, "{context}: the demo's one active type");
        let type_keys: Vec<&str> = types[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(type_keys, TYPE_KEYS, "{context}");
        assert_eq!(
            types[0]["id"],
            conversions::seed::DEMO_CONVERSION_TYPE_ID,
            "{context}"
        );
    } else if name.starts_with("list-conversions") {
        // (The keys are the ones events/expected.tsv names.)
        let events = body["conversion_events"].as_array().unwrap();
        let total = body["total"].as_u64().unwrap();
        assert_eq!(
            body["total_at_least"], total,
            "{context}: a small account's total is exact"
        );
        assert_eq!(body["cut_short"], false, "{context}");
        assert!(events.len() as u64 <= total, "{context}");
        assert_eq!(
            body["next_cursor"].is_string(),
            total > events.len() as u64,
            "{context}: a cursor exactly when there is more"
        );
        for event in events {
            assert_listed_event(event, &context);
        }
        assert!(
            !events.is_empty(),
            "{context}: the fixtures before it recorded events"
        );
    } else {
        assert_eq!(keys, ["success", "conversion_event"], "{context}");
        assert_listed_event(&body["conversion_event"], &context);
        assert_eq!(
            body["conversion_event"]["id"], GET_CONVERSION_ID,
            "{context}: the event create-idempotent recorded"
        );
    }
}

/// The event `create-idempotent` records (its id derives from the demo account and its key).
pub const GET_CONVERSION_ID: &str = "003303be-b209-5f04-b110-1d8b7e142c9a";

/// Checks one fixture's response against [`EXPECTED`], and for a 201 that the event is the
/// request's, with the demo type's inherited values.
pub fn assert_fixture_response(context: &str, name: &str, response: &Response) {
    let Expected {
        status,
        keys,
        error,
        message,
        ..
    } = expectations()
        .into_iter()
        .find(|row| row.fixture == name)
        .unwrap_or_else(|| panic!("no expectation for {name} in events/expected.tsv"));
    assert_eq!(
        response.status().as_u16(),
        status,
        "{context}: {name}: {}",
        body_text(response)
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{context}: {name}"
    );
    assert_eq!(
        response.header("x-request-id"),
        Some(expected_request_id(name).as_str()),
        "{context}: {name}: the API Gateway request id is echoed"
    );
    let (method, path) = match fixture_event(name) {
        Incoming::Http(request) => (request.method().to_owned(), request.path().to_owned()),
        // Another integration's event: the error schema.
        Incoming::Unsupported(_) => ("POST".to_owned(), "/".to_owned()),
    };
    openapi::assert_documented(&format!("{context}: {name}"), &method, &path, response);
    let body = body_json(response);
    let body_keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        body_keys, keys,
        "{context}: {name}: the keys events/expected.tsv names"
    );
    if status >= 300 {
        assert_error_body(&body, &error, &message, &format!("{context}: {name}"));
        return;
    }
    if name.starts_with("list-") || name.starts_with("get-") {
        assert_read_response(context, name, &body);
        return;
    }
    let request = fixture_body(name);
    assert_eq!(body["success"], true, "{context}: {name}");
    if status == 200 {
        assert_eq!(body["dry_run"], true, "{context}: {name}");
        assert_eq!(
            body["conversion_event"]["id"],
            serde_json::Value::Null,
            "{context}: {name}: no id taken"
        );
    } else {
        assert!(body.get("dry_run").is_none(), "{context}: {name}");
        assert!(
            body["conversion_event"]["id"].is_string(),
            "{context}: {name}"
        );
    }
    let event = body["conversion_event"]
        .as_object()
        .expect("an event object");
    let keys: Vec<&str> = event.keys().map(String::as_str).collect();
    assert_eq!(
        keys, EVENT_KEYS,
        "{context}: {name}: exactly the documented keys, in order"
    );
    assert_eq!(
        event["conversion_type_id"], request["conversion_type_id"],
        "{context}: {name}"
    );
    assert_eq!(event["lead_id"], request["lead_id"], "{context}: {name}");
    assert_eq!(
        event["workflow_id"],
        conversions::seed::DEMO_WORKFLOW_ID,
        "{context}: {name}: inherited"
    );
    assert_eq!(
        event["master_workflow_id"],
        serde_json::Value::Null,
        "{context}: {name}"
    );
    assert_eq!(
        event["workflow_run_id"],
        request.get("workflow_run_id").cloned().unwrap_or_default(),
        "{context}: {name}"
    );
    let expected_currency = request
        .get("currency")
        .cloned()
        .unwrap_or_else(|| "USD".into());
    assert_eq!(event["currency"], expected_currency, "{context}: {name}");
    assert_eq!(
        event["metadata"],
        request
            .get("metadata")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({})),
        "{context}: {name}"
    );
    assert_eq!(
        event["notes"],
        request.get("notes").cloned().unwrap_or_default(),
        "{context}: {name}"
    );
    match request.get("converted_at") {
        Some(at) => assert_eq!(event["converted_at"], *at, "{context}: {name}"),
        None => assert_eq!(
            event["converted_at"], event["created_at"],
            "{context}: {name}: defaults to now"
        ),
    }
    // The amount's exact text, as sent: find it in the raw body.
    let raw_amount = body_text(response)
        .split("\"amount\":")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    let sent = raw_request_amount(name);
    assert_eq!(
        raw_amount, sent,
        "{context}: {name}: the amount comes back exactly as sent"
    );
}

fn raw_request_amount(name: &str) -> String {
    let body = fixture_body_text(name);
    let after = body.split("\"amount\":").nth(1).unwrap();
    after
        .trim_start()
        .split([',', '\n', '}'])
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

/// A second account with its own key, a master-workflow type, a lead and a run.
pub struct Tenant {
    pub key: ApiKey,
    pub account: AccountId,
    pub conversion_type: ConversionTypeId,
    pub lead: LeadId,
    pub run: WorkflowRunId,
    pub workflow: WorkflowId,
    pub master: MasterWorkflowId,
}

pub async fn tenant(store: &DynamoStore) -> Tenant {
    let now = Timestamp::now();
    let account = Account {
        id: AccountId::random(),
        name: "Tenant".into(),
        created_at: now,
    };
    let key = ApiKey::generate();
    let master = MasterWorkflowId::random();
    let workflow = WorkflowId::random();
    let conversion_type = ConversionType {
        id: ConversionTypeId::random(),
        name: "Venta".into(),
        description: None,
        category: Category::Final,
        currency: Currency::parse("CLP").unwrap(),
        fields: vec![],
        scope: Scope::MasterWorkflow(master),
        active: true,
        created_at: now,
    };
    let lead = Lead {
        id: LeadId::random(),
        created_at: now,
    };
    let run = WorkflowRun {
        id: WorkflowRunId::random(),
        lead_id: lead.id,
        workflow_id: workflow,
        master_workflow_id: Some(master),
        created_at: now,
    };
    store.put_account(&account).await.unwrap();
    store.put_api_key(&key.hash(), account.id).await.unwrap();
    store
        .put_conversion_type(account.id, &conversion_type)
        .await
        .unwrap();
    store.put_lead(account.id, &lead).await.unwrap();
    store.put_workflow_run(account.id, &run).await.unwrap();
    Tenant {
        key,
        account: account.id,
        conversion_type: conversion_type.id,
        lead: lead.id,
        run: run.id,
        workflow,
        master,
    }
}
