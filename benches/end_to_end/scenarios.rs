//! Round trips and capacity per request, counted: the function's handler on the function's own
//! SDK client, against dynalite, every call asked for `ReturnConsumedCapacity` and recorded
//! (tests/dynamodb/helpers/metering.rs, which the capacity tests use too). dynalite reports the
//! table's units only, so the index entries a write adds are counted from the stored item and
//! the table's index definitions (`DescribeTable`), by DynamoDB's size rules. Then what a
//! million requests cost at list prices.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use conversions::domain::{AccountId, ApiKey};
use conversions::http::{App, Body, Request};
use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_API_KEY};
use conversions::store::{DynamoStore, Provisioning};

use crate::config_for;
use crate::metering::{Consumed, Item, index_writes, indexes};

pub struct Scenario {
    pub name: &'static str,
    pub status: u16,
    /// Each DynamoDB call and the units the server reported for it.
    pub calls: Vec<(&'static str, f64)>,
    /// A create's index entries: how many, their write units, and what an `ALL` projection
    /// (whole items in every index) would cost instead.
    pub index_entries: usize,
    pub index_units: f64,
    pub index_units_if_all: f64,
}

impl Scenario {
    pub fn read_units(&self) -> f64 {
        self.units(|op| op != "PutItem")
    }

    /// The table's write units and the index entries'.
    pub fn write_units(&self) -> f64 {
        self.units(|op| op == "PutItem") + self.index_units
    }

    /// The batch read's units, which eventually consistent reads would halve.
    pub fn batch_read_units(&self) -> f64 {
        self.units(|op| op == "BatchGetItem")
    }

    fn units(&self, which: impl Fn(&str) -> bool) -> f64 {
        self.calls
            .iter()
            .filter(|(op, _)| which(op))
            .map(|(_, u)| u)
            .sum()
    }

    pub fn calls_text(&self) -> String {
        if self.calls.is_empty() {
            return "none".to_owned();
        }
        let names: Vec<&str> = self.calls.iter().map(|(op, _)| *op).collect();
        names.join(" + ")
    }
}

fn post(key: &str, body: &str) -> Request {
    Request::new("POST", "/conversions")
        .with_header("x-api-key", key)
        .with_header("content-type", "application/json")
        .with_body(Body::Text(body.to_owned()))
}

const TYPE: &str = "123e4567-e89b-12d3-a456-426614174100";
const LEAD: &str = "123e4567-e89b-12d3-a456-426614174200";
const RUN: &str = "123e4567-e89b-12d3-a456-426614174400";

pub fn minimal_body() -> String {
    format!(r#"{{"conversion_type_id":"{TYPE}","lead_id":"{LEAD}","amount":85000.00}}"#)
}

fn metadata_body(keys: usize) -> String {
    let metadata: Vec<String> = (0..keys)
        .map(|i| format!(r#""field_{i}":"value number {i}""#))
        .collect();
    format!(
        r#"{{"conversion_type_id":"{TYPE}","lead_id":"{LEAD}","amount":85000.00,"metadata":{{{}}}}}"#,
        metadata.join(",")
    )
}

/// Every scenario, in order, on a table seeded with the demo account.
pub async fn run(endpoint: &str, table: &str) -> Vec<Scenario> {
    let sdk = conversions::config::load_sdk_config()
        .await
        .expect("the SDK's configuration");
    let consumed = Consumed::default();
    // Each has its own connection pool: a new one is a function that has just started.
    let new_client = || {
        Client::from_conf(
            config_for(&sdk, endpoint)
                .interceptor(consumed.clone())
                .build(),
        )
    };
    let client = new_client();
    // The report's own reads go through a client that is not counted.
    let plain = Client::from_conf(config_for(&sdk, endpoint).build());
    let indexes = indexes(&plain, table).await;
    let account = AccountId::parse(DEMO_ACCOUNT_ID).expect("the demo account");
    let store = DynamoStore::new(client.clone(), table);
    let key = ApiKey::generate_for(account);
    store
        .put_api_key(&key.hash(), account)
        .await
        .expect("a key record");
    consumed.take();

    let mut scenarios = Vec::new();
    let mut record = |name, status: u16, item: Option<Item>| {
        let (index_entries, index_units, index_units_if_all) =
            item.map_or((0, 0.0, 0.0), |item| index_writes(&indexes, &item));
        scenarios.push(Scenario {
            name,
            status,
            calls: consumed.take(),
            index_entries,
            index_units,
            index_units_if_all,
        });
    };
    let stored = |body: &str| -> String {
        let body: serde_json::Value = serde_json::from_str(body).expect("a JSON answer");
        body["conversion_event"]["id"]
            .as_str()
            .expect("an event id")
            .to_owned()
    };
    let item_of = |id: String| {
        let client = plain.clone();
        async move {
            client
                .get_item()
                .table_name(table)
                .key(
                    "pk",
                    AttributeValue::S(format!("ACCOUNT#{DEMO_ACCOUNT_ID}")),
                )
                .key("sk", AttributeValue::S(format!("CONVERSION_EVENT#{id}")))
                .send()
                .await
                .expect("GetItem")
                .item
                .expect("the stored event")
        }
    };

    // Init: the warm-up read, once per execution environment.
    store.warm_up().await.expect("the warm-up read");
    record("init: opening the connection (once per start)", 0, None);

    // The first request of a new client (no connection yet), then warm ones.
    let fresh = App::new(DynamoStore::new(new_client(), table));
    let answer = fresh.handle(post(key.expose(), &minimal_body())).await;
    let item = item_of(stored(answer.body())).await;
    record(
        "first request after start",
        answer.status().as_u16(),
        Some(item),
    );
    let app = App::new(DynamoStore::new(client.clone(), table));
    app.handle(post(key.expose(), &minimal_body())).await;
    consumed.take();
    let answer = app.handle(post(key.expose(), &minimal_body())).await;
    let item = item_of(stored(answer.body())).await;
    record("create, minimal body", answer.status().as_u16(), Some(item));
    let answer = app.handle(post(key.expose(), &metadata_body(20))).await;
    let item = item_of(stored(answer.body())).await;
    record(
        "create, 20 metadata keys",
        answer.status().as_u16(),
        Some(item),
    );
    let with_run = format!(
        r#"{{"conversion_type_id":"{TYPE}","lead_id":"{LEAD}","workflow_run_id":"{RUN}","amount":50000.00}}"#
    );
    let answer = app.handle(post(key.expose(), &with_run)).await;
    let item = item_of(stored(answer.body())).await;
    record(
        "create with a workflow run",
        answer.status().as_u16(),
        Some(item),
    );

    let keyed = || post(key.expose(), &minimal_body()).with_header("idempotency-key", "bench-1");
    let first = app.handle(keyed()).await;
    assert_eq!(first.status(), 201);
    consumed.take();
    let replay = app.handle(keyed()).await;
    record("idempotent replay", replay.status().as_u16(), None);

    let unknown_lead = format!(
        r#"{{"conversion_type_id":"{TYPE}","lead_id":"123e4567-e89b-12d3-a456-426614179999","amount":1}}"#
    );
    let answer = app.handle(post(key.expose(), &unknown_lead)).await;
    record(
        "400 after the lookup (unknown lead)",
        answer.status().as_u16(),
        None,
    );

    let stranger = ApiKey::generate_for(account);
    let answer = app.handle(post(stranger.expose(), &minimal_body())).await;
    record("401 (unknown key)", answer.status().as_u16(), None);

    let answer = app.handle(post(DEMO_API_KEY, &minimal_body())).await;
    let item = item_of(stored(answer.body())).await;
    record(
        "create, a key without its account (the demo key)",
        answer.status().as_u16(),
        Some(item),
    );
    scenarios
}

/// AWS list prices, us-east-1, as published in 2025 (DynamoDB on demand after its November
/// 2024 price cut; Lambda on arm64; HTTP API, first 300 million requests a month).
pub mod prices {
    pub const READ_UNIT: f64 = 0.125 / 1e6;
    pub const WRITE_UNIT: f64 = 0.625 / 1e6;
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    pub const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
}

/// Dollars per million requests of a scenario: DynamoDB reads, writes, Lambda, HTTP API.
pub fn cost_per_million(s: &Scenario, memory_mb: f64, duration_ms: f64) -> [f64; 4] {
    let million = 1e6;
    let billed_ms = duration_ms.ceil();
    [
        s.read_units() * prices::READ_UNIT * million,
        s.write_units() * prices::WRITE_UNIT * million,
        (prices::LAMBDA_REQUEST
            + memory_mb / 1024.0 * billed_ms / 1000.0 * prices::LAMBDA_GB_SECOND)
            * million,
        prices::HTTP_API_REQUEST * million,
    ]
}

/// The function's memory size in `template.yaml`, in MB.
pub fn template_memory_mb() -> f64 {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    template
        .lines()
        .find_map(|l| l.trim().strip_prefix("MemorySize:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a MemorySize in template.yaml")
}
