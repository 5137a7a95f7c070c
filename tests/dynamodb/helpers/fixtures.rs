//! The `events/` fixtures: each one's request, and what it must get back (`events/expected.tsv`).
//! Shared by both test binaries: the offline one replays them on the in-memory store, the other
//! on both servers.

use std::path::PathBuf;

use conversions::http::{Body, Incoming, Request, Response};

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
        Incoming::Unsupported { kind, .. } => panic!("events/{name}.json is {kind}"),
    }
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
/// (`scripts/check-api.py fixtures`) reads too.
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
/// An event read back: the 201's keys, its state, (by id) its adjustments, its type.
fn assert_listed_event(event: &serde_json::Value, by_id: bool, context: &str) {
    let keys: Vec<&str> = event
        .as_object()
        .expect("an event object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys[..EVENT_KEYS.len()], EVENT_KEYS, "{context}");
    let rest: &[&str] = if by_id {
        &[
            "status",
            "current_amount",
            "adjustments",
            "conversion_types",
        ]
    } else {
        &["status", "current_amount", "conversion_types"]
    };
    assert_eq!(keys[EVENT_KEYS.len()..], *rest, "{context}");
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
            assert_listed_event(event, false, &context);
        }
        assert!(
            !events.is_empty(),
            "{context}: the fixtures before it recorded events"
        );
    } else if name.starts_with("list-changes") {
        // The function's lag: what the fixtures before it recorded is not served yet.
        assert_eq!(body["changes"], serde_json::json!([]), "{context}");
        assert!(body["next_cursor"].is_string(), "{context}");
    } else {
        assert_eq!(keys, ["success", "conversion_event"], "{context}");
        assert_listed_event(&body["conversion_event"], true, &context);
        assert_eq!(
            body["conversion_event"]["id"], GET_CONVERSION_ID,
            "{context}: the event create-idempotent recorded"
        );
    }
}

/// A batch's answer: a result for every row sent, in order, each with its row's key; a created
/// row's event is its row's.
fn assert_batch_response(context: &str, name: &str, body: &serde_json::Value) {
    let context = format!("{context}: {name}");
    let rows = fixture_body(name)["events"].as_array().unwrap().clone();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), rows.len(), "{context}");
    let mut created = 0;
    for (i, (row, result)) in rows.iter().zip(results).enumerate() {
        assert_eq!(result["index"], i, "{context}");
        assert_eq!(
            result["idempotency_key"], row["idempotency_key"],
            "{context}"
        );
        if result["status"] == "created" {
            created += 1;
            let event = &result["conversion_event"];
            assert_eq!(event["lead_id"], row["lead_id"], "{context}");
            assert_eq!(
                event["amount"].to_string(),
                row["amount"].to_string(),
                "{context}"
            );
        } else {
            assert_eq!(result["status"], "invalid", "{context}: {result}");
            assert!(result["errors"][0]["message"].is_string(), "{context}");
        }
    }
    assert_eq!(body["counts"]["created"], created, "{context}");
    assert_eq!(body["success"], created == rows.len(), "{context}");
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
        Incoming::Unsupported { .. } => ("POST".to_owned(), "/".to_owned()),
    };
    super::openapi::assert_documented(&format!("{context}: {name}"), &method, &path, response);
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
    if name.starts_with("batch-") {
        assert_batch_response(context, name, &body);
        return;
    }
    if name.starts_with("list-") || name.starts_with("get-") {
        assert_read_response(context, name, &body);
        return;
    }
    if name.starts_with("restate-") {
        let context = format!("{context}: {name}");
        let request = fixture_body(name);
        let adjustment = &body["adjustment"];
        assert_eq!(adjustment["type"], request["type"], "{context}");
        assert_eq!(
            adjustment["conversion_event_id"], GET_CONVERSION_ID,
            "{context}"
        );
        let event = &body["conversion_event"];
        assert_eq!(event["id"], GET_CONVERSION_ID, "{context}");
        assert_eq!(event["status"], "restated", "{context}");
        assert_eq!(
            event["adjustments"].as_array().unwrap().last(),
            Some(adjustment)
        );
        assert!(
            body_text(response).contains(r#""current_amount":4200.00,"#),
            "{context}: the restated amount's digits, as sent"
        );
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
