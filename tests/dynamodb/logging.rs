//! What the function logs, through the subscriber it installs in production: Lambda's JSON
//! lines (`timestamp`, `level` unless INFO, `message` unless none, flat fields), one line per
//! request with its id, route, account, status, outcome and error, the cause of a failure, and
//! never the API key, the idempotency key, the body or its `notes` and `metadata` values, for
//! any request or fault. The failure is real: a missing table on the local DynamoDB.

use conversions::domain::{AccountId, ApiKey};
use conversions::http::{App, Body, Request};

use crate::helpers::captured::{Captured, objects};
use crate::helpers::fixture;
use conversions::seed::{
    DEMO_ACCOUNT_ID, DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, seed_demo,
};
use conversions::store::{DynamoStore, Provisioning};

use crate::memory::MemoryStore;

fn request_with_private_data() -> Request {
    let body = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":1,
            "notes":"PRIVATE-NOTE","metadata":{{"broker":"PRIVATE-NAME"}}}}"#
    );
    crate::helpers::fixture("create-minimal").with_body(Body::Text(body))
}

/// The one request line of a capture: the one with a status.
fn handled(logs: &str) -> serde_json::Value {
    let mut lines: Vec<_> = objects(logs)
        .into_iter()
        .filter(|o| o.get("status").is_some())
        .collect();
    assert_eq!(lines.len(), 1, "one line per request: {logs}");
    lines.remove(0)
}

#[tokio::test]
async fn json_lines_carry_the_request_id_and_status_but_never_the_key_or_the_body() {
    // The test runtime runs every task of the test on this thread.
    let captured = Captured::start();

    let store = MemoryStore::new();
    seed_demo(&store).await.unwrap();
    let app = App::new(store);
    let response = app
        .invoke(
            crate::helpers::fixture_event("create-minimal"),
            "lambda-request-1",
        )
        .await;
    assert_eq!(response_status(&response), 201);
    let ok = captured.take();
    for object in objects(&ok) {
        // Lambda's structured format: it filters by `level`, files a line without one as INFO,
        // and one without a valid RFC 3339 `timestamp` as INFO too.
        assert!(
            object.get("level").is_none_or(
                |level| ["TRACE", "DEBUG", "WARN", "ERROR"].contains(&level.as_str().unwrap())
            ),
            "INFO is no level: {object}"
        );
        let timestamp = object["timestamp"].as_str().expect("a timestamp");
        chrono::DateTime::parse_from_rfc3339(timestamp).expect("RFC 3339");
        assert!(timestamp.ends_with('Z'), "UTC: {timestamp}");
        // Every line of the request carries its id, flat; none the Lambda ids.
        assert_eq!(object["request"], "evt-create-minimal", "{object}");
        assert!(object.get("requestId").is_none() && object.get("xrayTraceId").is_none());
        assert!(object.get("span").is_none() && object.get("fields").is_none());
    }
    let line = handled(&ok);
    assert!(
        line.get("message").is_none(),
        "the request's line has no message: {line}"
    );
    assert_eq!(line["status"], 201, "{line}");
    assert_eq!(line["route"], "POST /conversions", "{line}");
    assert_eq!(
        line["cold_start"], true,
        "the process's first request: {line}"
    );
    assert_eq!(line["account"], DEMO_ACCOUNT_ID, "{line}");
    let answered: serde_json::Value = serde_json::from_str(&response_body(&response)).unwrap();
    assert_eq!(line["event"], answered["conversion_event"]["id"], "{line}");
    assert_eq!(line["outcome"], "created", "{line}");
    assert!(line["ms"].is_u64(), "{line}");
    assert_eq!(
        objects(&ok).len(),
        1,
        "a create is one line, the request's: {ok}"
    );

    // A replay: the event's id again, marked.
    let keyed = || fixture("create-minimal").with_header("idempotency-key", "PRIVATE-IDEMPOTENCY");
    let first = app.handle(keyed()).await;
    assert_eq!(handled(&captured.take())["outcome"], "created");
    assert_eq!(app.handle(keyed()).await.status(), 201);
    let line = handled(&captured.take());
    assert_eq!(line["outcome"], "replayed", "{line}");
    let first: serde_json::Value = serde_json::from_str(first.body()).unwrap();
    assert_eq!(line["event"], first["conversion_event"]["id"], "{line}");
    assert!(
        line.get("error").is_none() && line.get("fields").is_none(),
        "{line}"
    );

    // A refused payload: the error and the fields named, never their values; the second
    // request of the process is warm.
    // A member name and a metadata key are the client's own text: named by bounded names.
    let refused = fixture("create-minimal").with_body(Body::Text(format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"PRIVATE-LEAD","notes":7,
            "PRIVATE-MEMBER":1,"PRIVATE-MEMBER":2,"metadata":{{"PRIVATE-KEY":1,"PRIVATE-KEY":2}}}}"#
    )));
    assert_eq!(app.handle(refused).await.status(), 400);
    let refused = captured.take();
    let line = handled(&refused);
    assert_eq!(line["status"], 400, "{line}");
    assert!(line.get("cold_start").is_none(), "{line}");
    assert_eq!(line["error"], "Validation error", "{line}");
    assert_eq!(
        line["fields"], "other,amount,lead_id,metadata,notes",
        "{line}"
    );
    assert_eq!(line["account"], DEMO_ACCOUNT_ID, "{line}");
    for private in ["PRIVATE-LEAD", "PRIVATE-MEMBER", "PRIVATE-KEY"] {
        assert!(!refused.contains(private), "{private}: {refused}");
    }

    // A key that names its account: the account is logged once the key's record confirms it,
    // on a refusal the lookup finds too; a key that only claims it is logged with none.
    let demo = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
    let claimed = ApiKey::generate_for(demo);
    app.store()
        .put_api_key(&claimed.hash(), demo)
        .await
        .unwrap();
    let unknown_lead = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"123e4567-e89b-12d3-a456-426614179999","amount":1}}"#
    );
    let as_claimed = |key: &ApiKey| {
        fixture("create-minimal")
            .with_header("x-api-key", key.expose())
            .with_body(Body::Text(unknown_lead.clone()))
    };
    assert_eq!(app.handle(as_claimed(&claimed)).await.status(), 400);
    let line = handled(&captured.take());
    assert_eq!(line["account"], DEMO_ACCOUNT_ID, "{line}");
    assert_eq!(line["fields"], "lead_id", "{line}");
    let pretender = ApiKey::generate_for(demo);
    assert_eq!(app.handle(as_claimed(&pretender)).await.status(), 401);
    let line = handled(&captured.take());
    assert!(line.get("account").is_none(), "{line}");

    // A key that is not valid: no account.
    let unknown = fixture("create-minimal").with_header("x-api-key", "nxr_live_unknown_000");
    assert_eq!(app.handle(unknown).await.status(), 401);
    let line = handled(&captured.take());
    assert_eq!(line["error"], "Invalid API key", "{line}");
    assert!(line.get("account").is_none(), "{line}");

    // A real failure: the table does not exist.
    let backend = &crate::helpers::backends()[0];
    let broken = DynamoStore::new(backend.client(), "no-such-table");
    let response = App::new(broken).handle(request_with_private_data()).await;
    assert_eq!(response.status(), 500);
    let failed = captured.take();
    assert!(
        failed.contains("ResourceNotFound"),
        "the cause reaches the log: {failed}"
    );
    let line = handled(&failed);
    assert_eq!(line["request"], "evt-create-minimal", "{line}");
    assert_eq!(line["level"], "ERROR", "{line}");
    assert_eq!(line["status"], 500, "{line}");
    assert_eq!(line["error"], "Internal server error", "{line}");

    // An event of another integration: a line that says what was sent and what to do.
    App::new(MemoryStore::new())
        .invoke(crate::helpers::fixture_event("rest-api-event"), "lambda-1")
        .await;
    let misrouted = captured.take();
    assert!(
        misrouted.contains("REST API (payload format 1.0)")
            && misrouted.contains(r#""level":"ERROR""#)
            && misrouted.contains("evt-rest-api-event"),
        "{misrouted}"
    );
    let line = handled(&misrouted);
    assert_eq!(line["status"], 500, "{line}");
    assert_eq!(line["route"], "unsupported event", "{line}");
    assert_eq!(line["request"], "evt-rest-api-event", "{line}");

    for logs in [&ok, &failed, &misrouted] {
        for secret in [DEMO_API_KEY, "PRIVATE-NOTE", "PRIVATE-NAME"] {
            assert!(
                !logs.contains(secret),
                "{secret} leaked into the logs: {logs}"
            );
        }
    }
}

fn response_body(response: &conversions::http::Response) -> String {
    response.body().to_owned()
}

fn response_status(response: &conversions::http::Response) -> u64 {
    u64::from(response.status().as_u16())
}

/// The values a fixture carries that must never be logged: its API key and idempotency key, its
/// body, and the body's `notes` and `metadata` string values (short ones, which could match
/// unrelated text, are left out).
fn secrets_of(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(crate::helpers::events_dir().join(format!("{name}.json")))
        .expect("the fixture");
    let event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut secrets = Vec::new();
    if let Some(headers) = event["headers"].as_object() {
        for (header, value) in headers {
            let header = header.to_ascii_lowercase();
            if header == "x-api-key" || header == "idempotency-key" {
                secrets.extend(value.as_str().map(str::to_owned));
            }
        }
    }
    if let Some(body) = event["body"].as_str()
        && event["isBase64Encoded"] != true
    {
        secrets.push(body.to_owned());
        if let Ok(parsed) = serde_json::from_str::<serde_json::Value>(body) {
            secrets.extend(parsed["notes"].as_str().map(str::to_owned));
            if let Some(metadata) = parsed["metadata"].as_object() {
                secrets.extend(
                    metadata
                        .values()
                        .filter_map(|v| v.as_str())
                        .map(str::to_owned),
                );
            }
        }
    }
    secrets.retain(|s| s.trim().len() >= 6);
    secrets
}

/// Whole requests of every kind (every `events/` fixture, on DynamoDB) and faults (throttling
/// until the SDK gives up, an answer lost after the write): no API key, idempotency key, body,
/// `notes` or `metadata` value reaches the log.
#[tokio::test]
async fn no_request_of_any_kind_logs_a_secret() {
    use crate::helpers::proxy::{Fault, FaultProxy};

    let captured = Captured::start();
    let backend = &crate::helpers::backends()[0];
    let table = backend.fresh_table().await;
    seed_demo(&table.store()).await.unwrap();
    let app = App::new(table.store());
    let mut secrets = vec![
        "PRIVATE-NOTE".to_owned(),
        "PRIVATE-NAME".to_owned(),
        "PRIVATE-IDEMPOTENCY-KEY".to_owned(),
    ];
    let names = crate::helpers::fixture_names();
    for name in &names {
        secrets.extend(secrets_of(name));
        app.invoke(crate::helpers::fixture_event(name), name.as_str())
            .await;
    }

    let proxy = FaultProxy::start(&backend.endpoint).await;
    let faulty = App::new(DynamoStore::new(
        crate::helpers::function_client(&proxy.endpoint()).await,
        &table.name,
    ));
    let private =
        || request_with_private_data().with_header("idempotency-key", "PRIVATE-IDEMPOTENCY-KEY");
    // Throttled on all three of the SDK's attempts: a 503.
    proxy.fail(
        "BatchGetItem",
        Fault::Error {
            status: 400,
            code: "ThrottlingException",
        },
        3,
    );
    assert_eq!(faulty.handle(private()).await.status(), 503);
    proxy.fail("PutItem", Fault::DropAnswer, 1);
    assert_eq!(faulty.handle(private()).await.status(), 201);
    proxy.assert_spent("the faulty requests");

    let logs = captured.take();
    assert!(
        logs.lines().count() >= names.len() + 2,
        "at least as many lines as requests: {logs}"
    );
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "{secret:?} leaked into the logs: {logs}"
        );
    }
}
