//! What the template's metric filters count, from the lines the function writes: each request
//! of a scripted sequence (faults injected between the function and a real server included) is
//! logged through the function's own subscriber, every `AWS::Logs::MetricFilter` pattern of
//! template.yaml is applied to its lines as CloudWatch Logs applies it, and what they count is
//! compared with what the request did. And every request is one line, of at most
//! `MAX_LINE_BYTES`: CloudWatch Logs bills each byte.

use std::collections::BTreeMap;

use conversions::http::{App, Body, Request};
use conversions::seed::{
    DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, DEMO_WORKFLOW_RUN_ID, seed_demo,
};
use conversions::store::DynamoStore;
use serde_json::Value;

use crate::helpers::captured::{Captured, objects};
use crate::helpers::proxy::{Fault, FaultProxy};
use crate::helpers::{fixture, fixture_event, function_client, on_each_backend};

/// The most bytes a request's line may take (its newline included): what a minimal create's
/// cost allows for logs (docs/BENCHMARKS.md).
const MAX_LINE_BYTES: usize = 260;

/// A JSON metric filter pattern of the forms the template uses: `{ $.field = "text" }`,
/// `{ $.field = 400 }`, `{ $.field > 0 }`, `{ $.field IS TRUE }`; and the value a matching line
/// adds to the metric: `1`, or a field's number (`MetricValue: $.field`).
#[derive(Debug)]
struct Pattern {
    field: String,
    /// The value the field must equal (`true` for `IS TRUE`), or exceed (`greater`).
    wanted: Value,
    greater: bool,
    value: Option<String>,
}

impl Pattern {
    fn parse(text: &str, value: &str) -> Self {
        let inner = text
            .trim()
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or_else(|| panic!("a JSON pattern: {text}"))
            .trim();
        let (field, test) = inner
            .strip_prefix("$.")
            .and_then(|rest| rest.split_once(' '))
            .unwrap_or_else(|| panic!("one selector: {text}"));
        let (wanted, greater) = match test.trim() {
            "IS TRUE" => (Value::Bool(true), false),
            test => {
                let (value, greater) = match (test.strip_prefix("= "), test.strip_prefix("> ")) {
                    (Some(value), _) => (value, false),
                    (_, Some(value)) => (value, true),
                    _ => panic!("an equality or a comparison: {text}"),
                };
                let value = serde_json::from_str(value).unwrap_or_else(|_| panic!("JSON: {text}"));
                (value, greater)
            }
        };
        let value = match value {
            "1" => None,
            field => Some(field.strip_prefix("$.").expect("1 or $.field").to_owned()),
        };
        Self {
            field: field.to_owned(),
            wanted,
            greater,
            value,
        }
    }

    /// What a line adds to the metric, as CloudWatch Logs reads it: a number compares as a
    /// number, a string exactly, `IS TRUE` only the boolean; a line without the field adds none.
    fn counts(&self, line: &Value) -> u64 {
        let matched = match (line.get(&self.field), &self.wanted) {
            (Some(Value::Number(got)), Value::Number(wanted)) if self.greater => {
                got.as_f64() > wanted.as_f64()
            }
            (Some(Value::Number(got)), Value::Number(wanted)) => got.as_f64() == wanted.as_f64(),
            (Some(got), wanted) => !self.greater && got == wanted,
            (None, _) => false,
        };
        match (&self.value, matched) {
            (_, false) => 0,
            (None, true) => 1,
            (Some(field), true) => line[field].as_u64().expect("a count"),
        }
    }
}

/// template.yaml's metric filters: (metric, pattern).
fn metric_filters() -> Vec<(String, Pattern)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    let template: yaml_serde::Value = yaml_serde::from_str(&text).expect("YAML");
    let mut filters = Vec::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Logs::MetricFilter") {
            continue;
        }
        let properties = &resource["Properties"];
        let transformation = &properties["MetricTransformations"][0];
        let name = transformation["MetricName"].as_str().unwrap();
        let value = transformation["MetricValue"].as_str().unwrap();
        let pattern = properties["FilterPattern"].as_str().unwrap();
        filters.push((name.to_owned(), Pattern::parse(pattern, value)));
    }
    assert!(filters.len() >= 9, "the template's filters: {filters:?}");
    filters
}

/// What the filters count on a request's lines: metric to count.
fn counted(filters: &[(String, Pattern)], lines: &[Value]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in lines {
        for (metric, pattern) in filters {
            let n = pattern.counts(line);
            if n > 0 {
                *counts.entry(metric.clone()).or_default() += n;
            }
        }
    }
    counts
}

fn expect(metrics: &[&str]) -> BTreeMap<String, u64> {
    metrics.iter().map(|m| ((*m).to_owned(), 1)).collect()
}

fn body(amount: &str) -> Body {
    Body::Text(format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":{amount}}}"#
    ))
}

/// A request of the sequence: what it is, how to make it (faults set on the proxy), its status,
/// the metrics it counts, and whether it is one of the shapes whose line is bounded.
type Step = (
    &'static str,
    Box<dyn Fn(&FaultProxy) -> Request>,
    u16,
    BTreeMap<String, u64>,
    bool,
);

#[tokio::test]
async fn the_metric_filters_count_what_each_request_did_from_its_one_short_line() {
    // The test runtime runs every task of the test on this thread.
    let captured = &Captured::start();
    let filters = &metric_filters();
    on_each_backend(|backend| async move {
        let table = backend.fresh_table().await;
        seed_demo(&table.store()).await.unwrap();
        let proxy = FaultProxy::start(&backend.endpoint).await;
        let app = App::new(DynamoStore::new(
            function_client(&proxy.endpoint()).await,
            &table.name,
        ));
        let create = || fixture("create-minimal").with_body(body("1"));
        let keyed = move || create().with_header("idempotency-key", "metrics-key");
        let throttled = || Fault::Error {
            status: 400,
            code: "ThrottlingException",
        };
        // API Gateway's HTTP API request ids are 16 characters, as here.
        let get = |path: &str, query: &str| {
            Request::new("GET", path)
                .with_query(query)
                .with_header("x-api-key", DEMO_API_KEY)
                .with_request_id("JfR1pgxyoAMEbVQ=")
        };
        let metadata: Vec<String> = (0..20)
            .map(|i| format!(r#""field_{i}":"value number {i}""#))
            .collect();
        let metadata = format!(
            r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":1,"metadata":{{{}}}}}"#,
            metadata.join(",")
        );
        let with_run = format!(
            r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","workflow_run_id":"{DEMO_WORKFLOW_RUN_ID}","amount":1}}"#
        );

        let steps: Vec<Step> = vec![
            (
                "the first request: a create",
                Box::new(move |_| create()),
                201,
                expect(&["ColdStart", "ConversionsRecorded"]),
                true,
            ),
            (
                "a create with 20 metadata keys",
                Box::new(move |_| create().with_body(Body::Text(metadata.clone()))),
                201,
                expect(&["ConversionsRecorded"]),
                true,
            ),
            (
                "a create with a run",
                Box::new(move |_| create().with_body(Body::Text(with_run.clone()))),
                201,
                expect(&["ConversionsRecorded"]),
                true,
            ),
            (
                "a keyed create",
                Box::new(move |_| keyed()),
                201,
                expect(&["ConversionsRecorded"]),
                true,
            ),
            (
                "its replay",
                Box::new(move |_| keyed()),
                201,
                expect(&["Replays"]),
                true,
            ),
            (
                "the key with another body",
                Box::new(move |_| keyed().with_body(body("2"))),
                422,
                expect(&["IdempotencyConflicts"]),
                true,
            ),
            (
                "a dry run",
                Box::new(move |_| create().with_query("dry_run=true")),
                200,
                expect(&["DryRuns"]),
                true,
            ),
            (
                "a body with three problems",
                Box::new(|_| {
                    fixture("create-minimal").with_body(Body::Text(format!(
                        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"nope","zz":1,"zz":2}}"#
                    )))
                }),
                400,
                expect(&["ValidationErrors"]),
                true,
            ),
            (
                "no API key",
                Box::new(|_| fixture("missing-api-key")),
                401,
                expect(&["AuthFailures"]),
                true,
            ),
            (
                "an unknown API key",
                Box::new(move |_| create().with_header("x-api-key", "nxr_live_unknown_key_000")),
                401,
                expect(&["AuthFailures"]),
                true,
            ),
            (
                "a list",
                Box::new(move |_| get("/conversions", "")),
                200,
                expect(&[]),
                true,
            ),
            (
                "a list by lead, with total",
                Box::new(move |_| get("/conversions", &format!("lead_id={DEMO_LEAD_ID}"))),
                200,
                expect(&[]),
                true,
            ),
            (
                "the conversion types",
                Box::new(move |_| get("/conversion-types", "")),
                200,
                expect(&[]),
                true,
            ),
            (
                "a batch: two rows recorded, one invalid, one replayed",
                Box::new(move |_| {
                    let row = |key: &str, amount: &str| {
                        format!(
                            r#"{{"idempotency_key":"{key}","conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":{amount}}}"#
                        )
                    };
                    let rows = [row("m-1", "1"), row("m-2", "2"), row("m-3", "-1"), row("metrics-key", "1")];
                    Request::new("POST", "/conversions/batch")
                        .with_header("x-api-key", DEMO_API_KEY)
                        .with_body(Body::Text(format!(r#"{{"events":[{}]}}"#, rows.join(","))))
                }),
                207,
                [("ConversionsRecorded", 2), ("ValidationErrors", 1), ("Replays", 1)]
                    .into_iter()
                    .map(|(metric, n)| (metric.to_owned(), n))
                    .collect(),
                true,
            ),
            (
                "one throttled read, retried",
                Box::new(move |proxy| {
                    proxy.fail("BatchGetItem", throttled(), 1);
                    create()
                }),
                201,
                expect(&["ConversionsRecorded"]),
                true,
            ),
            (
                "a read throttled past the retries",
                Box::new(move |proxy| {
                    proxy.fail("BatchGetItem", throttled(), 3);
                    create()
                }),
                503,
                expect(&["Unavailable"]),
                false,
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
                expect(&["InternalErrors"]),
                false,
            ),
        ];

        for (step, request, status, expected, bounded) in steps {
            let context = format!("{}: {step}", backend.name);
            captured.take();
            let response = app.handle(request(&proxy)).await;
            assert_eq!(response.status(), status, "{context}: {}", response.body());
            proxy.assert_spent(&context);
            let text = captured.take();
            assert_eq!(
                counted(filters, &objects(&text)),
                expected,
                "{context}: {text}"
            );
            if bounded {
                assert_eq!(text.lines().count(), 1, "{context}: one line: {text}");
                assert!(
                    text.len() <= MAX_LINE_BYTES,
                    "{context}: {} bytes: {text}",
                    text.len()
                );
            }
        }
        // A get by id.
        let listed = app.handle(get("/conversions", "limit=1")).await;
        let id =
            serde_json::from_str::<Value>(listed.body()).unwrap()["conversion_events"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned();
        captured.take();
        let got = app.handle(get(&format!("/conversions/{id}"), "")).await;
        assert_eq!(got.status(), 200, "{}", got.body());
        let text = captured.take();
        assert!(
            text.lines().count() == 1 && text.len() <= MAX_LINE_BYTES,
            "{text}"
        );

        // An event of another integration is a 500 too.
        app.invoke(fixture_event("rest-api-event"), "lambda-1")
            .await;
        let text = captured.take();
        assert_eq!(
            counted(filters, &objects(&text)),
            expect(&["InternalErrors"]),
            "{}: {text}",
            backend.name
        );
    })
    .await;
}

#[test]
fn a_pattern_reads_as_cloudwatch_reads_it() {
    let line: Value =
        serde_json::json!({"status": 400, "outcome": "created", "cold_start": true, "created": 7});
    let counts = |pattern: &str, value: &str| Pattern::parse(pattern, value).counts(&line);
    assert_eq!(counts("{ $.status = 400 }", "1"), 1);
    assert_eq!(counts("{ $.status = 401 }", "1"), 0);
    assert_eq!(counts(r#"{ $.outcome = "created" }"#, "1"), 1);
    assert_eq!(counts(r#"{ $.outcome = "replayed" }"#, "1"), 0);
    assert_eq!(counts("{ $.cold_start IS TRUE }", "1"), 1);
    assert_eq!(counts("{ $.absent IS TRUE }", "1"), 0);
    assert_eq!(counts("{ $.created > 0 }", "$.created"), 7);
    assert_eq!(counts("{ $.created > 7 }", "$.created"), 0);
    assert_eq!(counts("{ $.replayed > 0 }", "$.replayed"), 0);
}
