//! The metrics the function emits, as CloudWatch reads them: every line is checked against
//! the Embedded Metric Format specification, and the values each request of a scripted sequence
//! emits are compared with what it did, faults included (throttling injected between the
//! function and a real server), on each backend.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use conversions::http::{App, Body, Request, metric_field};
use conversions::seed::{DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, seed_demo};
use conversions::store::DynamoStore;
use conversions::telemetry::metrics::{Emitter, dimension_sets, metric_names};
use serde_json::Value;

use crate::helpers::proxy::{Fault, FaultProxy};
use crate::helpers::{backends, fixture, fixture_event, function_client};

const NAMESPACE: &str = "Nexor/Conversions";
const SERVICE: &str = "conversions-test";

/// The units CloudWatch accepts (`MetricDatum.Unit`).
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks one line against the EMF specification (an object with an `_aws` member holding a
/// millisecond `Timestamp` and `CloudWatchMetrics` directives, each with a `Namespace`,
/// `Dimensions` as sets of at most 30 keys that name string members of the root, and at most
/// 100 `Metrics` that name numeric members, or arrays of at most 100 numbers), and against this
/// function's rules: our namespace, the `service` dimension, bounded dimension values, no
/// metric of another name. Returns the root object.
fn assert_emf(line: &str) -> serde_json::Map<String, Value> {
    let root: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let root = root.as_object().expect("an object").clone();
    let aws = root["_aws"].as_object().expect("_aws is an object");
    let timestamp = aws["Timestamp"].as_i64().expect("Timestamp: integer ms");
    let now = chrono::Utc::now().timestamp_millis();
    assert!((now - timestamp).abs() < 60_000, "Timestamp is now: {line}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
    assert!(!directives.is_empty(), "{line}");
    let known: Vec<&str> = metric_names().collect();
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace");
        assert_eq!(namespace, NAMESPACE, "{line}");
        let sets = directive["Dimensions"].as_array().expect("Dimensions");
        for set in sets {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30, "{line}");
            assert_eq!(
                set.first().and_then(Value::as_str),
                Some("service"),
                "{line}"
            );
            for key in set {
                let key = key.as_str().expect("dimension keys are strings");
                let value = root[key].as_str().unwrap_or_else(|| {
                    panic!("dimension {key} has a string value at the root: {line}")
                });
                assert!(!value.is_empty() && value.len() <= 1024, "{line}");
                match key {
                    "service" => assert_eq!(value, SERVICE),
                    "Field" => assert_eq!(metric_field(value), value, "a bounded field"),
                    "Operation" => assert!(
                        ["GetItem", "BatchGetItem", "PutItem", "Query"].contains(&value),
                        "{line}"
                    ),
                    other => panic!("unexpected dimension {other}: {line}"),
                }
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100, "{line}");
        let mut names = std::collections::HashSet::new();
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name");
            assert!(names.insert(name), "{name} defined twice: {line}");
            assert!(known.contains(&name), "{name} is a metric the code names");
            // The sets the template's alarms are checked against (tests/operations.rs).
            let set: Vec<&str> = sets[0]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect();
            assert!(
                dimension_sets(name).contains(&set),
                "{name} by {set:?}: {line}"
            );
            if let Some(unit) = metric.get("Unit") {
                assert!(UNITS.contains(&unit.as_str().unwrap()), "{line}");
            }
            if let Some(resolution) = metric.get("StorageResolution") {
                assert!([1, 60].contains(&resolution.as_i64().unwrap()), "{line}");
            }
            match &root[name] {
                Value::Number(_) => {}
                Value::Array(values) => {
                    assert!(!values.is_empty() && values.len() <= 100, "{line}");
                    assert!(values.iter().all(Value::is_number), "{line}");
                }
                other => panic!("{name} has a numeric value, not {other}: {line}"),
            }
        }
    }
    root
}

/// What a request's lines say, summed: `Metric` or `Metric|Dimension=value` (beside `service`)
/// to its total; for `DynamoDbLatency`, how many values it carries.
fn totals(lines: &[String]) -> BTreeMap<String, u64> {
    let mut totals = BTreeMap::new();
    for line in lines {
        let root = assert_emf(line);
        for directive in root["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            let set = directive["Dimensions"][0].as_array().unwrap();
            let mut suffix = String::new();
            for key in set.iter().skip(1) {
                let key = key.as_str().unwrap();
                suffix.push_str(&format!("|{key}={}", root[key].as_str().unwrap()));
            }
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                let value = match &root[name] {
                    Value::Array(values) => values.len() as u64,
                    number => number.as_u64().expect("a count"),
                };
                *totals.entry(format!("{name}{suffix}")).or_default() += value;
            }
        }
    }
    totals
}

fn expect(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

const GET: (&str, u64) = ("DynamoDbLatency|Operation=GetItem", 1);
const BATCH: (&str, u64) = ("DynamoDbLatency|Operation=BatchGetItem", 1);
const PUT: (&str, u64) = ("DynamoDbLatency|Operation=PutItem", 1);

fn body(amount: &str) -> Body {
    Body::Text(format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":{amount}}}"#
    ))
}

/// A request of the sequence: what it is, how to make it (faults set on the proxy), its status,
/// and the metrics it must emit.
type Step = (
    &'static str,
    Box<dyn Fn(&FaultProxy) -> Request>,
    u16,
    BTreeMap<String, u64>,
);

#[tokio::test]
async fn each_request_emits_valid_emf_with_what_it_did() {
    for backend in backends() {
        let table = backend.fresh_table().await;
        seed_demo(&table.store()).await.unwrap();
        let proxy = FaultProxy::start(&backend.endpoint).await;
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&lines);
        let emitter = Emitter::new(
            NAMESPACE,
            SERVICE,
            Arc::new(move |text: &str| {
                let mut lines = sink.lock().unwrap();
                lines.extend(text.lines().map(str::to_owned));
            }),
        );
        let app = App::new(DynamoStore::new(
            function_client(&proxy.endpoint()).await,
            &table.name,
        ))
        .with_metrics(emitter);
        let create = || fixture("create-minimal").with_body(body("1"));
        let keyed = move || create().with_header("idempotency-key", "metrics-key");
        let throttled = || Fault::Error {
            status: 400,
            code: "ThrottlingException",
        };

        let steps: Vec<Step> = vec![
            (
                "the first request: a create",
                Box::new(move |_| create()),
                201,
                expect(&[
                    ("ColdStart", 1),
                    ("ConversionsRecorded", 1),
                    GET,
                    BATCH,
                    PUT,
                ]),
            ),
            (
                "a keyed create",
                Box::new(move |_| keyed()),
                201,
                expect(&[("ConversionsRecorded", 1), GET, BATCH, PUT]),
            ),
            (
                "its replay",
                Box::new(move |_| keyed()),
                201,
                expect(&[("Replays", 1), GET, BATCH]),
            ),
            (
                "the key with another body",
                Box::new(move |_| keyed().with_body(body("2"))),
                422,
                expect(&[("IdempotencyConflicts", 1), GET, BATCH]),
            ),
            (
                "a dry run",
                Box::new(move |_| create().with_query("dry_run=true")),
                200,
                expect(&[("DryRuns", 1), GET, BATCH]),
            ),
            (
                "a body with three problems",
                Box::new(|_| {
                    fixture("create-minimal").with_body(Body::Text(format!(
                        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"nope","zz":1,"zz":2}}"#
                    )))
                }),
                400,
                expect(&[
                    ("ValidationErrors", 1),
                    ("ValidationErrors|Field=amount", 1),
                    ("ValidationErrors|Field=lead_id", 1),
                    ("ValidationErrors|Field=other", 1),
                    GET,
                ]),
            ),
            (
                "no API key",
                Box::new(|_| fixture("missing-api-key")),
                401,
                expect(&[("AuthFailures", 1)]),
            ),
            (
                "an unknown API key",
                Box::new(move |_| create().with_header("x-api-key", "nxr_live_unknown_key_000")),
                401,
                expect(&[("AuthFailures", 1), GET]),
            ),
            (
                "one throttled read, retried",
                Box::new(move |proxy| {
                    proxy.fail("BatchGetItem", throttled(), 1);
                    create()
                }),
                201,
                expect(&[
                    ("ConversionsRecorded", 1),
                    ("DynamoDbThrottles", 1),
                    ("DynamoDbThrottles|Operation=BatchGetItem", 1),
                    GET,
                    BATCH,
                    PUT,
                ]),
            ),
            (
                "a read throttled past the retries",
                Box::new(move |proxy| {
                    proxy.fail("BatchGetItem", throttled(), 3);
                    create()
                }),
                503,
                expect(&[
                    ("Unavailable", 1),
                    ("DynamoDbThrottles", 3),
                    ("DynamoDbThrottles|Operation=BatchGetItem", 3),
                    GET,
                    BATCH,
                ]),
            ),
            (
                "a write DynamoDB refuses for good",
                Box::new(move |proxy| {
                    proxy.fail(
                        "PutItem",
                        Fault::Error {
                            status: 400,
                            code: "ValidationException",
                        },
                        1,
                    );
                    create()
                }),
                500,
                expect(&[("InternalErrors", 1), GET, BATCH, PUT]),
            ),
        ];

        for (step, request, status, expected) in steps {
            let context = format!("{}: {step}", backend.name);
            lines.lock().unwrap().clear();
            let response = app.handle(request(&proxy)).await;
            assert_eq!(response.status(), status, "{context}: {}", response.body());
            let emitted = std::mem::take(&mut *lines.lock().unwrap());
            assert_eq!(totals(&emitted), expected, "{context}: {emitted:#?}");
        }

        // A list reads the index: Query (and the events by key); it counts nothing else.
        let listed = app
            .handle(
                Request::new("GET", "/conversions")
                    .with_header("x-api-key", conversions::seed::DEMO_API_KEY)
                    .with_body(Body::Text(String::new())),
            )
            .await;
        assert_eq!(listed.status(), 200, "{}", listed.body());
        let emitted = totals(&std::mem::take(&mut *lines.lock().unwrap()));
        assert!(
            emitted.keys().all(|k| k.starts_with("DynamoDbLatency|"))
                && emitted.contains_key("DynamoDbLatency|Operation=Query"),
            "{}: {emitted:?}",
            backend.name
        );

        // An event of another integration is a 500 too.
        app.invoke(fixture_event("rest-api-event"), "lambda-1")
            .await;
        let emitted = totals(&std::mem::take(&mut *lines.lock().unwrap()));
        assert_eq!(
            emitted,
            expect(&[("InternalErrors", 1)]),
            "{}",
            backend.name
        );
    }
}
