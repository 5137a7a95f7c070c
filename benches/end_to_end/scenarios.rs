//! What each kind of request costs, all in, counted rather than estimated: the function's handler
//! on the function's own SDK client against dynalite, every DynamoDB call asked for
//! `ReturnConsumedCapacity` and recorded (tests/dynamodb/helpers/metering.rs, which the capacity
//! tests use too); the index entries a write adds, from the stored item and the table's index
//! definitions (`DescribeTable`: dynalite reports the table's units only), by DynamoDB's size
//! rules; the bytes the function logs, through its own subscriber at the template's level; the
//! bytes of the answer; the handler's time. Then each part priced, the storage of a million
//! events and the stack's fixed monthly cost.

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use conversions::config::{LogFormat, LogSettings};
use conversions::domain::{
    AccountId, Amount, ApiKey, Category, ConversionEvent, ConversionType, ConversionTypeId,
    Currency, EventId, Lead, LeadId, Metadata, Scope, Timestamp, WorkflowId, WorkflowRun,
    WorkflowRunId, WriteToken,
};
use conversions::http::{App, Body, Request};
use conversions::seed::{
    DEMO_ACCOUNT_ID, DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, DEMO_WORKFLOW_RUN_ID,
};
use conversions::store::{DynamoStore, NewEvent, Provisioning, Record, Store};

use crate::config_for;
use crate::metering::{Consumed, Item, billed_size, index_entries, index_writes, indexes};

/// AWS list prices, us-east-1, as published on December 1, 2026 (DynamoDB on demand after its
/// November 2024 cut; Lambda on arm64; HTTP API, first 300 million requests a month; CloudWatch
/// standard tier; data transfer out to the internet, first 10 TB a month).
pub mod prices {
    pub const READ_UNIT: f64 = 0.125 / 1e6;
    pub const WRITE_UNIT: f64 = 0.625 / 1e6;
    /// Per GB-month: a table's items and index entries, and point-in-time recovery (on the
    /// table's size).
    pub const STORAGE_GB_MONTH: f64 = 0.25;
    pub const PITR_GB_MONTH: f64 = 0.20;
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    /// Per request of up to 512 KB (a larger one counts once per started 512 KB).
    pub const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
    pub const LOGS_INGESTED_BYTE: f64 = 0.50 / 1e9;
    pub const TRANSFER_OUT_BYTE: f64 = 0.09 / 1e9;
    pub const ALARM_METRIC_MONTH: f64 = 0.10;
    pub const DASHBOARD_MONTH: f64 = 3.00;
    pub const CUSTOM_METRIC_MONTH: f64 = 0.30;
}

/// The floor of a create in this architecture, per million: the HTTP API request, one Lambda
/// request and about $0.02 of its GB-seconds, one item write and its change's, the key read
/// strongly, the type and the lead eventually consistent (half a unit each).
pub const FLOOR_PER_MILLION: f64 = 1.00 + 0.20 + 0.02 + 2.0 * 0.625 + 0.125 + 2.0 * 0.0625;

/// The headers API Gateway adds to an answer (`date`, `content-length`, `apigw-requestid`,
/// `connection`) and its status line, in bytes: part of what goes out.
const GATEWAY_OVERHEAD_BYTES: usize = 120;

const WRITES: [&str; 3] = ["PutItem", "UpdateItem", "DeleteItem"];

pub struct Scenario {
    pub name: String,
    pub status: u16,
    /// Each DynamoDB call and the units the server reported for it.
    pub calls: Vec<(&'static str, f64)>,
    /// The events the request created (a batch's rows), or 1: what its cost is shared by.
    pub rows: usize,
    /// The index entries its creates added: how many, and their write units.
    pub index_entries: usize,
    pub index_units: f64,
    /// What the function wrote to its log for the request.
    pub log_bytes: usize,
    /// The answer as it leaves API Gateway.
    pub response_bytes: usize,
    pub request_bytes: usize,
    /// The handler's time, the median of its repeats.
    pub duration_ms: f64,
    /// A list page's filter and the number of events of its account.
    pub list: Option<(&'static str, usize)>,
}

impl Scenario {
    pub fn read_units(&self) -> f64 {
        self.units(|op| !WRITES.contains(&op))
    }

    /// The table's write units and the index entries'.
    pub fn write_units(&self) -> f64 {
        self.units(|op| WRITES.contains(&op)) + self.index_units
    }

    fn units(&self, which: impl Fn(&str) -> bool) -> f64 {
        self.calls
            .iter()
            .filter(|(op, _)| which(op))
            .map(|(_, u)| u)
            .sum()
    }

    /// The calls in order, a run of the same one as `100 × PutItem`.
    pub fn calls_text(&self) -> String {
        let mut runs: Vec<(&str, usize)> = Vec::new();
        for (op, _) in &self.calls {
            match runs.last_mut() {
                Some((last, n)) if last == op => *n += 1,
                _ => runs.push((op, 1)),
            }
        }
        if runs.is_empty() {
            return "none".to_owned();
        }
        // Many calls interleaved (an erasure's): each operation's count, in first-call order.
        if runs.len() > 6 {
            let mut totals: Vec<(&str, usize)> = Vec::new();
            for (op, n) in runs {
                match totals.iter_mut().find(|(seen, _)| *seen == op) {
                    Some((_, total)) => *total += n,
                    None => totals.push((op, n)),
                }
            }
            runs = totals;
        }
        let runs: Vec<String> = (runs.iter())
            .map(|(op, n)| match n {
                1 => (*op).to_owned(),
                n => format!("{n} × {op}"),
            })
            .collect();
        runs.join(" + ")
    }

    /// Dollars per million events (of a batch, each its share of the request), by part:
    /// DynamoDB, HTTP API, Lambda, logs, data transfer out.
    pub fn cost(&self, memory_mb: f64) -> [f64; 5] {
        let million = 1e6 / self.rows as f64;
        let gateway_units = self.request_bytes.div_ceil(512 * 1024).max(1) as f64;
        [
            (self.read_units() * prices::READ_UNIT + self.write_units() * prices::WRITE_UNIT)
                * million,
            gateway_units * prices::HTTP_API_REQUEST * million,
            (prices::LAMBDA_REQUEST
                + memory_mb / 1024.0 * self.duration_ms.ceil() / 1000.0 * prices::LAMBDA_GB_SECOND)
                * million,
            self.log_bytes as f64 * prices::LOGS_INGESTED_BYTE * million,
            self.response_bytes as f64 * prices::TRANSFER_OUT_BYTE * million,
        ]
    }

    pub fn total(&self, memory_mb: f64) -> f64 {
        self.cost(memory_mb).iter().sum()
    }
}

/// What the function's log subscriber writes in this process (the scenarios run one at a time).
static LOGGED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Logged;

impl Write for Logged {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGGED.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged_bytes() -> usize {
    std::mem::take(&mut *LOGGED.lock().unwrap()).len()
}

/// The bytes of an answer as it goes out: API Gateway's status line and headers, the
/// function's headers, the body.
fn response_bytes(response: &conversions::http::Response) -> usize {
    let outgoing = serde_json::to_value(response).expect("JSON");
    let headers: usize = outgoing["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len) + 4)
                .sum()
        })
        .unwrap_or(0);
    GATEWAY_OVERHEAD_BYTES + headers + response.body().len()
}

fn post(key: &str, body: &str) -> Request {
    post_to("/conversions", key, body)
}

fn post_to(path: &str, key: &str, body: &str) -> Request {
    Request::new("POST", path)
        .with_header("x-api-key", key)
        .with_header("content-type", "application/json")
        .with_request_id("JfR1pgxyoAMEbVQ=")
        .with_body(Body::Text(body.to_owned()))
}

fn get(key: &str, path: &str, query: &str) -> Request {
    Request::new("GET", path)
        .with_query(query)
        .with_header("x-api-key", key)
        .with_request_id("JfR1pgxyoAMEbVQ=")
}

pub fn minimal_body() -> String {
    format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":85000.00}}"#
    )
}

/// A full batch of minimal rows, each with a key of its own.
fn batch_body() -> String {
    let rows: Vec<String> = (0..conversions::service::MAX_BATCH_ROWS)
        .map(|_| {
            let row = minimal_body();
            format!(
                r#"{{"idempotency_key":"bench-{}",{}"#,
                uuid::Uuid::new_v4().simple(),
                &row[1..]
            )
        })
        .collect();
    format!(r#"{{"events":[{}]}}"#, rows.join(","))
}

/// The ids of the events an answer shows: a create's, or each of a batch's rows'.
fn event_ids(body: &str) -> Vec<String> {
    let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
    let id = |v: &serde_json::Value| v["conversion_event"]["id"].as_str().map(str::to_owned);
    match body["results"].as_array() {
        Some(rows) => rows.iter().filter_map(id).collect(),
        None => id(&body).into_iter().collect(),
    }
}

fn metadata_body(keys: usize) -> String {
    let metadata: Vec<String> = (0..keys)
        .map(|i| format!(r#""field_{i}":"value number {i}""#))
        .collect();
    format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":85000.00,"metadata":{{{}}}}}"#,
        metadata.join(",")
    )
}

pub const CHANGES_PAGE: &str = "changes, a page of 100";
pub const CHANGES_POLL: &str = "changes, a poll with nothing new";

/// The events of the two accounts the list pages read: one past every bound of a list request
/// (a page reads at most `MAX_ENTRIES_READ` index entries, a count `MAX_ENTRIES_COUNTED`), and
/// one within them.
pub const LARGE_ACCOUNT: usize = 12_000;
pub const SMALL_ACCOUNT: usize = 1_000;

fn another_type() -> ConversionType {
    ConversionType {
        id: ConversionTypeId::random(),
        name: "Venta".into(),
        description: None,
        category: Category::Final,
        currency: Currency::parse("USD").unwrap(),
        fields: vec![],
        scope: Scope::Workflow(WorkflowId::random()),
        active: true,
        created_at: Timestamp::now(),
    }
}

/// `12000` as `12,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What an account's history holds for the list pages to filter on.
#[derive(Clone, Copy)]
struct History {
    events: usize,
    usual: (ConversionTypeId, LeadId),
    /// One event in 12 is this lead's, and half of those are in its run.
    busy_lead: LeadId,
    run: (WorkflowRunId, WorkflowId),
    /// One event in 10 is of this type, and one event of all of the rare one.
    other_type: ConversionTypeId,
    rare_type: ConversionTypeId,
}

impl History {
    /// The `i`th event, converted within 28 days.
    fn event(&self, i: usize) -> ConversionEvent {
        let in_run = i % 24 == 5;
        ConversionEvent {
            id: EventId::random(),
            conversion_type_id: match i {
                _ if i == self.events / 2 => self.rare_type,
                _ if i % 10 == 3 => self.other_type,
                _ => self.usual.0,
            },
            lead_id: if i % 12 == 5 {
                self.busy_lead
            } else {
                self.usual.1
            },
            workflow_id: Some(if in_run {
                self.run.1
            } else {
                WorkflowId::random()
            }),
            master_workflow_id: None,
            workflow_run_id: in_run.then_some(self.run.0),
            amount: Amount::parse_json_number("85000.00").unwrap(),
            currency: Currency::parse("USD").unwrap(),
            metadata: Metadata::from_json("{}").unwrap(),
            notes: None,
            converted_at: Timestamp::parse(&format!(
                "2026-01-{:02}T{:02}:{:02}:00Z",
                1 + i % 28,
                i % 24,
                i % 60
            ))
            .unwrap(),
            created_at: Timestamp::now(),
        }
    }
}

/// Writes an account's history of `events` events, most of them of the `usual` type and lead,
/// 16 writes at a time.
async fn history(
    store: &DynamoStore,
    account: AccountId,
    usual: (ConversionTypeId, LeadId),
    events: usize,
) -> History {
    let (other, rare) = (another_type(), another_type());
    let busy = Lead {
        id: LeadId::random(),
        created_at: Timestamp::now(),
    };
    let run = WorkflowRun {
        id: WorkflowRunId::random(),
        lead_id: busy.id,
        workflow_id: WorkflowId::random(),
        master_workflow_id: None,
        created_at: Timestamp::now(),
    };
    for t in [&other, &rare] {
        store
            .put(&Record::ConversionType(account, t.clone()))
            .await
            .unwrap();
    }
    store
        .put(&Record::Lead(account, busy.clone()))
        .await
        .unwrap();
    store
        .put(&Record::WorkflowRun(account, run.clone()))
        .await
        .unwrap();
    let history = History {
        events,
        usual,
        busy_lead: busy.id,
        run: (run.id, run.workflow_id),
        other_type: other.id,
        rare_type: rare.id,
    };
    let mut writers = tokio::task::JoinSet::new();
    for stripe in 0..16 {
        let store = store.clone();
        writers.spawn(async move {
            for i in (stripe..events).step_by(16) {
                let new = NewEvent {
                    event: &history.event(i),
                    write_token: WriteToken::random(),
                };
                store.insert_event(account, new).await.expect("an event");
            }
        });
    }
    writers.join_all().await;
    history
}

/// Every scenario, in order, on a table seeded with the demo account.
pub async fn run(endpoint: &str, table: &str) -> Vec<Scenario> {
    let settings = LogSettings {
        format: LogFormat::Json,
        filter: "info".into(),
    };
    tracing::subscriber::set_global_default(conversions::telemetry::subscriber(&settings, || {
        Logged
    }))
    .expect("the bench installs the only subscriber");
    let sdk = conversions::sdk::load_sdk_config()
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
    // The report's own reads and writes go through a client that is not counted.
    let plain = Client::from_conf(config_for(&sdk, endpoint).build());
    let indexes = indexes(&plain, table).await;
    let account = AccountId::parse(DEMO_ACCOUNT_ID).expect("the demo account");
    let setup = DynamoStore::new(plain.clone(), table);
    let key = ApiKey::generate_for(account);
    setup.put_api_key(&key.hash(), account).await.unwrap();
    let demo_type = ConversionTypeId::parse(DEMO_CONVERSION_TYPE_ID).unwrap();
    let demo_lead = LeadId::parse(DEMO_LEAD_ID).unwrap();
    let large = history(&setup, account, (demo_type, demo_lead), LARGE_ACCOUNT).await;
    let crate::tenant::Tenant {
        key: tenant_key,
        account: tenant_account,
        conversion_type: tenant_type,
        lead: tenant_lead,
        run: tenant_run,
        ..
    } = crate::tenant::tenant(&setup).await;
    let small = history(
        &setup,
        tenant_account,
        (tenant_type, tenant_lead),
        SMALL_ACCOUNT,
    )
    .await;
    let adjusted_lead = events_of_a_new_lead(&setup, account, large, 50, 2).await;
    let erased_lead = events_of_a_new_lead(&setup, account, large, ERASED_EVENTS, 0).await;
    consumed.take();
    logged_bytes();

    let item_of = |account: AccountId, id: String| {
        let client = plain.clone();
        async move {
            client
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(format!("ACCOUNT#{account}")))
                .key("sk", AttributeValue::S(format!("CONVERSION_EVENT#{id}")))
                .send()
                .await
                .expect("GetItem")
                .item
        }
    };

    let mut scenarios = Vec::new();
    // Init: the warm-up read, once per execution environment.
    let store = DynamoStore::new(client.clone(), table);
    store.warm_up().await.expect("the warm-up read");
    scenarios.push(Scenario {
        name: "init: opening the connection (once per start)".into(),
        status: 0,
        calls: consumed.take(),
        rows: 1,
        index_entries: 0,
        index_units: 0.0,
        log_bytes: 0,
        response_bytes: 0,
        request_bytes: 0,
        duration_ms: 0.0,
        list: None,
    });

    // The first request of a new client (no connection yet), then warm ones, each measured
    // three times (its median time; its units and bytes from the last).
    let fresh = App::new(DynamoStore::new(new_client(), table));
    // The feed serves at once what the history above recorded.
    let app = App::new(DynamoStore::new(client.clone(), table))
        .with_changes_lag(std::time::Duration::ZERO);
    let minimal = minimal_body();
    let tenant_body = format!(
        r#"{{"conversion_type_id":"{tenant_type}","lead_id":"{tenant_lead}","workflow_run_id":"{tenant_run}","amount":85000}}"#
    );
    let with_run = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","workflow_run_id":"{DEMO_WORKFLOW_RUN_ID}","amount":50000.00}}"#
    );
    let unknown_lead = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"123e4567-e89b-12d3-a456-426614179999","amount":1}}"#
    );
    let keyed = || post(key.expose(), &minimal).with_header("idempotency-key", "bench-1");
    assert_eq!(app.handle(keyed()).await.status(), 201);
    let stranger = ApiKey::generate_for(account);
    let one = first_event_id(&app, key.expose()).await;
    let restatement = r#"{"type":"restatement","amount":80000.00,"reason":"closed lower"}"#;
    let by_adjusted_lead = format!("lead_id={adjusted_lead}");
    let adjust_path = format!("/conversions/{one}/adjustments");

    type Make<'a> = Box<dyn Fn() -> Request + 'a>;
    // A name, the request, whether it creates an event, a list page's filter and account size.
    type Case<'a> = (String, Make<'a>, bool, Option<(&'static str, usize)>);
    let cases: Vec<(&str, Make<'_>, bool)> = vec![
        (
            "first request after start (a minimal create)",
            Box::new(|| post(key.expose(), &minimal)),
            true,
        ),
        (
            "create, minimal body",
            Box::new(|| post(key.expose(), &minimal)),
            true,
        ),
        (
            "create, 20 metadata keys",
            Box::new(|| post(key.expose(), &metadata_body(20))),
            true,
        ),
        (
            "create with a run",
            Box::new(|| post(key.expose(), &with_run)),
            true,
        ),
        (
            "create, master-workflow type with a run",
            Box::new(|| post(tenant_key.expose(), &tenant_body)),
            true,
        ),
        (
            "batch of 100 minimal creates (units and bytes a request, $ an event)",
            Box::new(|| post_to("/conversions/batch", key.expose(), &batch_body())),
            true,
        ),
        ("idempotent replay", Box::new(keyed), false),
        (
            "400 after the lookup (unknown lead)",
            Box::new(|| post(key.expose(), &unknown_lead)),
            false,
        ),
        (
            "401 (unknown key)",
            Box::new(|| post(stranger.expose(), &minimal)),
            false,
        ),
        (
            "create, a key without its account (the demo key)",
            Box::new(|| post(DEMO_API_KEY, &minimal)),
            true,
        ),
    ];
    let mut cases: Vec<Case<'_>> = cases
        .into_iter()
        .map(|(name, make, created)| (name.to_owned(), make, created, None))
        .collect();
    for (key, history) in [(&tenant_key, small), (&key, large)] {
        let filters: [(&'static str, String); 5] = [
            ("no filter", String::new()),
            (
                "by lead (1 event in 12)",
                format!("lead_id={}", history.busy_lead),
            ),
            (
                "by run (1 event in 24)",
                format!("workflow_run_id={}", history.run.0),
            ),
            (
                "by type (1 event in 10)",
                format!("conversion_type_id={}", history.other_type),
            ),
            (
                "by type (1 event of all)",
                format!("conversion_type_id={}", history.rare_type),
            ),
        ];
        for (filter, query) in filters {
            cases.push((
                format!(
                    "list, first page of 50, {} events, {filter}",
                    thousands(history.events)
                ),
                Box::new(move || get(key.expose(), "/conversions", &query)),
                false,
                Some((filter, history.events)),
            ));
        }
    }
    cases.push((
        "get by id".into(),
        Box::new(|| get(key.expose(), &format!("/conversions/{one}"), "")),
        false,
        None,
    ));
    cases.push((
        "adjustment (a restatement)".into(),
        Box::new(|| post_to(&adjust_path, key.expose(), restatement)),
        false,
        None,
    ));
    cases.push((
        "adjustment with an Idempotency-Key".into(),
        Box::new(|| {
            let fresh = format!("bench-adjust-{}", uuid::Uuid::new_v4().simple());
            post_to(&adjust_path, key.expose(), restatement).with_header("idempotency-key", &fresh)
        }),
        false,
        None,
    ));
    cases.push((
        "get by id, an event adjusted 6 times".into(),
        Box::new(|| get(key.expose(), &format!("/conversions/{one}"), "")),
        false,
        None,
    ));
    cases.push((
        "list, first page of 50, every event adjusted twice".into(),
        Box::new(|| get(key.expose(), "/conversions", &by_adjusted_lead)),
        false,
        None,
    ));
    // The feed: its first page of 100 (the large account's creates), and a poll that finds
    // nothing new (a consumer that is up to date).
    cases.push((
        CHANGES_PAGE.into(),
        Box::new(|| get(key.expose(), "/conversions/changes", "limit=100")),
        false,
        None,
    ));
    cases.push((
        CHANGES_POLL.into(),
        Box::new(|| {
            // A cursor 10 ms ago, after the last write (the page of 100 above took longer):
            // the page reads what came since, nothing.
            let moment = std::time::Duration::from_millis(10);
            let at = conversions::domain::FeedPosition::before(Timestamp::now().minus(moment));
            let cursor = conversions::domain::ChangeCursor::new(account, at);
            get(
                key.expose(),
                "/conversions/changes",
                &format!("after={}", cursor.as_str()),
            )
        }),
        false,
        None,
    ));
    for (name, make, created, list) in cases {
        let first = name.starts_with("first request");
        let on = if first { &fresh } else { &app };
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..if first { 1 } else { 3 } {
            consumed.take();
            logged_bytes();
            let request = make();
            let request_bytes = request.body().bytes().map_or(0, <[u8]>::len);
            let started = Instant::now();
            let response = on.handle(request).await;
            times.push(started.elapsed().as_secs_f64() * 1e3);
            last = Some((response, request_bytes, consumed.take(), logged_bytes()));
        }
        let (response, request_bytes, calls, log_bytes) = last.expect("a request");
        let ids = if created {
            event_ids(response.body())
        } else {
            Vec::new()
        };
        // The account the request's key names, or the demo account's (the demo key).
        let of = match ids.is_empty() {
            true => account,
            false => ApiKey::parse(make().header_values("x-api-key").next().unwrap_or(""))
                .ok()
                .and_then(|key| key.claimed_account())
                .unwrap_or(account),
        };
        let (mut index_entries, mut index_units) = (0, 0.0);
        for id in &ids {
            let item = item_of(of, id.clone()).await.expect("the created item");
            let (n, units, _) = index_writes(&indexes, &item);
            index_entries += n;
            index_units += units;
        }
        times.sort_by(f64::total_cmp);
        scenarios.push(Scenario {
            name,
            status: response.status().as_u16(),
            calls,
            rows: ids.len().max(1),
            index_entries,
            index_units,
            log_bytes,
            response_bytes: response_bytes(&response),
            request_bytes,
            duration_ms: times[times.len() / 2],
            list,
        });
    }
    // An erasure (the admin CLI's, through the same store), its index entries' deletions too.
    let sample = item_of(
        account,
        first_event_of(&app, key.expose(), erased_lead).await,
    )
    .await
    .expect("an event of the lead");
    let (entries, entry_units, _) = index_writes(&indexes, &sample);
    consumed.take();
    let started = Instant::now();
    let erased = DynamoStore::new(client.clone(), table)
        .erase_lead(account, erased_lead)
        .await
        .expect("the erasure");
    let duration_ms = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(erased.conversion_events, ERASED_EVENTS as u64);
    scenarios.push(Scenario {
        name: format!(
            "erase-lead, a lead of {} events (admin CLI)",
            thousands(ERASED_EVENTS)
        ),
        status: 0,
        calls: consumed.take(),
        rows: 1,
        index_entries: entries * ERASED_EVENTS,
        index_units: entry_units * ERASED_EVENTS as f64,
        log_bytes: 0,
        response_bytes: 0,
        request_bytes: 0,
        duration_ms,
        list: None,
    });
    scenarios
}

/// The events of the lead an erasure scenario erases.
const ERASED_EVENTS: usize = 1_000;

/// A new lead of the account with `events` events converted in 2025 (after every list page
/// of the account's history), each adjusted `adjustments` times.
async fn events_of_a_new_lead(
    store: &DynamoStore,
    account: AccountId,
    history: History,
    events: usize,
    adjustments: usize,
) -> LeadId {
    use conversions::domain::{AdjustmentId, AdjustmentKind, NewAdjustment};
    let lead = Lead {
        id: LeadId::random(),
        created_at: Timestamp::now(),
    };
    store
        .put(&Record::Lead(account, lead.clone()))
        .await
        .unwrap();
    let mut writers = tokio::task::JoinSet::new();
    for stripe in 0..16 {
        let store = store.clone();
        writers.spawn(async move {
            for i in (stripe..events).step_by(16) {
                let mut event = history.event(i);
                event.lead_id = lead.id;
                event.workflow_run_id = None;
                event.converted_at = Timestamp::parse("2025-06-01T00:00:00Z").unwrap();
                let new = NewEvent {
                    event: &event,
                    write_token: WriteToken::random(),
                };
                store.insert_event(account, new).await.expect("an event");
                let mut applied = Vec::new();
                for n in 0..adjustments {
                    let request = NewAdjustment {
                        kind: AdjustmentKind::Restatement,
                        amount: Some(Amount::parse_json_number("80000.00").unwrap()),
                        currency: None,
                        reason: None,
                        adjusted_at: None,
                    };
                    let adjustment = request
                        .resolve(AdjustmentId::random(), &event, &applied, Timestamp::now())
                        .expect("an adjustment");
                    assert!(
                        store
                            .append_adjustment(account, event.id, n, &adjustment)
                            .await
                            .unwrap()
                    );
                    applied.push(adjustment);
                }
            }
        });
    }
    writers.join_all().await;
    lead.id
}

async fn first_event_of(app: &App<DynamoStore>, key: &str, lead: LeadId) -> String {
    let listed = app
        .handle(get(key, "/conversions", &format!("lead_id={lead}&limit=1")))
        .await;
    serde_json::from_str::<serde_json::Value>(listed.body()).unwrap()["conversion_events"][0]["id"]
        .as_str()
        .expect("an event")
        .to_owned()
}

async fn first_event_id(app: &App<DynamoStore>, key: &str) -> String {
    let listed = app.handle(get(key, "/conversions", "limit=1")).await;
    serde_json::from_str::<serde_json::Value>(listed.body()).unwrap()["conversion_events"][0]["id"]
        .as_str()
        .expect("an event")
        .to_owned()
}

/// Storage of a million minimal events a month: bytes of an item and its index entries (each
/// with DynamoDB's 100 bytes of overhead), and dollars (the table's storage, point-in-time
/// recovery on the items).
pub async fn storage(endpoint: &str, table: &str, scenarios_item: &Item) -> (f64, f64, f64) {
    let sdk = conversions::sdk::load_sdk_config().await.expect("the SDK");
    let client = Client::from_conf(config_for(&sdk, endpoint).build());
    let indexes = indexes(&client, table).await;
    let item_bytes = (billed_size(scenarios_item) + 100) as f64;
    let entry_bytes: f64 = index_entries(&indexes, scenarios_item)
        .iter()
        .map(|e| (billed_size(e) + 100) as f64)
        .sum();
    let gb = |bytes: f64| bytes * 1e6 / 1e9;
    let dollars = gb(item_bytes + entry_bytes) * prices::STORAGE_GB_MONTH
        + gb(item_bytes) * prices::PITR_GB_MONTH;
    (item_bytes, entry_bytes, dollars)
}

/// A minimal event's stored item, for the storage figures.
pub async fn minimal_item(endpoint: &str, table: &str) -> Item {
    let sdk = conversions::sdk::load_sdk_config().await.expect("the SDK");
    let client = Client::from_conf(config_for(&sdk, endpoint).build());
    let app = App::new(DynamoStore::new(client.clone(), table));
    let key = ApiKey::generate_for(AccountId::parse(DEMO_ACCOUNT_ID).unwrap());
    DynamoStore::new(client.clone(), table)
        .put_api_key(&key.hash(), AccountId::parse(DEMO_ACCOUNT_ID).unwrap())
        .await
        .unwrap();
    let answer = app.handle(post(key.expose(), &minimal_body())).await;
    let id = serde_json::from_str::<serde_json::Value>(answer.body()).unwrap()["conversion_event"]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
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
        .expect("the item")
}

/// The stack's fixed monthly cost, from template.yaml: its alarms' metrics, its dashboards, its
/// custom metrics (one per metric filter). Returns (alarm metrics, dashboards, custom metrics,
/// dollars).
pub fn fixed_monthly() -> (usize, usize, usize, f64) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    let template: yaml_serde::Value = yaml_serde::from_str(&text).expect("YAML");
    let (mut alarm_metrics, mut dashboards, mut custom) = (0, 0, 0);
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        match resource["Type"].as_str() {
            Some("AWS::CloudWatch::Alarm") => {
                let properties = &resource["Properties"];
                alarm_metrics += if properties.get("MetricName").is_some() {
                    1
                } else {
                    properties["Metrics"].as_sequence().map_or(0, |m| {
                        m.iter().filter(|q| q.get("MetricStat").is_some()).count()
                    })
                };
            }
            Some("AWS::CloudWatch::Dashboard") => dashboards += 1,
            Some("AWS::Logs::MetricFilter") => custom += 1,
            _ => {}
        }
    }
    let dollars = alarm_metrics as f64 * prices::ALARM_METRIC_MONTH
        + dashboards as f64 * prices::DASHBOARD_MONTH
        + custom as f64 * prices::CUSTOM_METRIC_MONTH;
    (alarm_metrics, dashboards, custom, dollars)
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
