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
/// cost allows for logs (docs/architecture.md, docs/BENCHMARKS.md).
const MAX_LINE_BYTES: usize = 260;

/// A JSON metric filter pattern of the forms the template uses: `{ $.field = "text" }`,
/// `{ $.field = 400 }`, `{ $.field IS TRUE }`.
#[derive(Debug)]
struct Pattern {
    field: String,
    /// The value the field must equal; `true` for `IS TRUE`.
    wanted: Value,
}

impl Pattern {
    fn parse(text: &str) -> Self {
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
        let wanted = match test.trim() {
            "IS TRUE" => Value::Bool(true),
            test => {
                let value = test
                    .strip_prefix("= ")
                    .unwrap_or_else(|| panic!("an equality: {text}"));
                serde_json::from_str(value).unwrap_or_else(|_| panic!("a JSON value: {text}"))
            }
        };
        Self {
            field: field.to_owned(),
            wanted,
        }
    }

    /// As CloudWatch Logs reads it: a number compares as a number, a string exactly, `IS TRUE`
    /// only the boolean; a line without the field does not match.
    fn matches(&self, line: &Value) -> bool {
        match (line.get(&self.field), &self.wanted) {
            (Some(Value::Number(got)), Value::Number(wanted)) => got.as_f64() == wanted.as_f64(),
            (Some(got), wanted) => got == wanted,
            (None, _) => false,
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
        let name = properties["MetricTransformations"][0]["MetricName"]
            .as_str()
            .unwrap();
        let pattern = properties["FilterPattern"].as_str().unwrap();
        filters.push((name.to_owned(), Pattern::parse(pattern)));
    }
    assert!(filters.len() >= 9, "the template's filters: {filters:?}");
    filters
}

/// What the filters count on a request's lines: metric to count.
fn counted(filters: &[(String, Pattern)], lines: &[Value]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in lines {
        for (metric, pattern) in filters {
            if pattern.matches(line) {
                *counts.entry(metric.clone()).or_default() += 1;
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
    let line: Value = serde_json::json!({"status": 400, "outcome": "created", "cold_start": true});
    assert!(Pattern::parse("{ $.status = 400 }").matches(&line));
    assert!(!Pattern::parse("{ $.status = 401 }").matches(&line));
    assert!(Pattern::parse(r#"{ $.outcome = "created" }"#).matches(&line));
    assert!(!Pattern::parse(r#"{ $.outcome = "replayed" }"#).matches(&line));
    assert!(Pattern::parse("{ $.cold_start IS TRUE }").matches(&line));
    assert!(!Pattern::parse("{ $.absent IS TRUE }").matches(&line));
}
