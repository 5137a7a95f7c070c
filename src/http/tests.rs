//! Handler behaviour that needs no DynamoDB: routing, authentication order, error mapping,
//! headers. The DynamoDB-backed paths, fixtures and logging are in `tests/dynamodb/`.

use std::time::Duration;

use http::StatusCode;

use super::*;
use crate::domain::{AccountId, EventId, IdempotencyKeyError, ReferenceError};
use crate::seed::{DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, seed_demo};
use crate::store::{Faults, MemoryStore, StoreError};

fn request(method: &str, path: &str, key: Option<&str>, body: Body) -> Request {
    let request = Request::new(method, path).with_body(body);
    match key {
        Some(key) => request.with_header("x-api-key", key),
        None => request,
    }
}

fn post(body: &str) -> Request {
    request(
        "POST",
        "/conversions",
        Some(DEMO_API_KEY),
        Body::Text(body.to_owned()),
    )
}

fn minimal_body() -> String {
    format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":85000.00}}"#
    )
}

async fn demo_app() -> App<MemoryStore> {
    seeded(MemoryStore::new()).await
}

/// The demo data on this store, served.
pub(super) async fn seeded(store: MemoryStore) -> App<MemoryStore> {
    seed_demo(&store).await.unwrap();
    App::new(store)
}

/// A request with the demo account's key, and this body.
pub(super) fn call(method: &str, path: &str, body: Option<String>) -> Request {
    let request = Request::new(method, path).with_header("x-api-key", DEMO_API_KEY);
    match body {
        Some(body) => request.with_body(Body::Text(body)),
        None => request,
    }
}

/// The `conversion_event` of a create's 201 (any other answer fails the test).
pub(super) async fn created(app: &App<MemoryStore>, request: Request) -> serde_json::Value {
    let response = app.handle(request).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.body()
    );
    json(&response)["conversion_event"].take()
}

pub(super) fn json(response: &Response) -> serde_json::Value {
    serde_json::from_str(response.body()).unwrap()
}

/// An object's member names, in order.
pub(super) fn keys(value: &serde_json::Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// The response is this error's: its status, `error` and `message`, and no other member.
fn assert_api_error(response: &Response, expected: ApiError) {
    let (error, message) = (expected.error(), expected.message());
    assert_error(response, expected.status(), error, message);
}

fn assert_error(response: &Response, status: StatusCode, error: &str, message: &str) {
    assert_eq!(response.status(), status);
    let body = json(response);
    assert_eq!(
        (body["error"].as_str(), body["message"].as_str()),
        (Some(error), Some(message)),
        "{body}"
    );
    let expected_keys: &[&str] = if status == StatusCode::BAD_REQUEST {
        &["error", "message", "errors"]
    } else {
        &["error", "message"]
    };
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        expected_keys,
        "{body}"
    );
}

#[tokio::test]
async fn a_minimal_request_is_recorded_and_answered_201() {
    let app = demo_app().await;
    let response = app.handle(post(&minimal_body())).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json(&response);
    let account = AccountId::parse(crate::seed::DEMO_ACCOUNT_ID).unwrap();
    let stored = app.store().events(account);
    assert_eq!(stored.len(), 1);
    assert_eq!(body["conversion_event"]["id"], stored[0].id.to_string());
}

#[tokio::test]
async fn a_base64_encoded_body_is_read_like_a_text_body() {
    let app = demo_app().await;
    let request = request(
        "POST",
        "/conversions",
        Some(DEMO_API_KEY),
        Body::Binary(minimal_body().into_bytes()),
    );
    assert_eq!(app.handle(request).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_api_key_is_checked_before_the_body() {
    let app = demo_app().await;
    let missing = request("POST", "/conversions", None, Body::Text("not json".into()));
    assert_api_error(&app.handle(missing).await, ApiError::MissingApiKey);
    for key in ["nxr_live_unknown", "sk_live_abc", "nxr_live_\u{e9}"] {
        let invalid = request(
            "POST",
            "/conversions",
            Some(key),
            Body::Text("not json".into()),
        );
        assert_api_error(&app.handle(invalid).await, ApiError::InvalidApiKey);
    }
}

#[tokio::test]
async fn an_empty_api_key_header_counts_as_missing() {
    let app = demo_app().await;
    let response = app
        .handle(request(
            "POST",
            "/conversions",
            Some(""),
            Body::Text(minimal_body()),
        ))
        .await;
    assert_api_error(&response, ApiError::MissingApiKey);
}

#[tokio::test]
async fn a_revoked_key_is_invalid() {
    use crate::store::Provisioning;
    let app = demo_app().await;
    let key = crate::domain::ApiKey::parse(DEMO_API_KEY).unwrap();
    assert!(app.store().revoke_api_key(&key.hash()).await.unwrap());
    assert_api_error(
        &app.handle(post(&minimal_body())).await,
        ApiError::InvalidApiKey,
    );
}

#[tokio::test]
async fn other_paths_are_404_and_other_methods_405_with_allow() {
    let app = demo_app().await;
    for path in [
        "/",
        "/conversion",
        "/conversions/123/x",
        "/conversion-types/123",
        "/leads",
    ] {
        let response = app
            .handle(request(
                "POST",
                path,
                Some(DEMO_API_KEY),
                Body::Text(String::new()),
            ))
            .await;
        assert_api_error(&response, ApiError::RouteNotFound);
    }
    let event = EventId::random();
    for (path, methods, allow, message) in [
        (
            "/conversions".to_owned(),
            &["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"][..],
            "GET, POST",
            "Only GET and POST are supported on /conversions",
        ),
        (
            format!("/conversions/{event}"),
            &["POST", "PUT", "DELETE", "HEAD"][..],
            "GET",
            "Only GET is supported on /conversions/{id}",
        ),
        (
            "/conversion-types".to_owned(),
            &["POST", "DELETE", "HEAD"][..],
            "GET",
            "Only GET is supported on /conversion-types",
        ),
    ] {
        for method in methods {
            let response = app
                .handle(request(method, &path, None, Body::Text(String::new())))
                .await;
            assert_eq!(response.header("allow"), Some(allow), "{method} {path}");
            assert_error(
                &response,
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                message,
            );
        }
    }
}

#[tokio::test]
async fn a_trailing_slash_is_the_same_route() {
    let app = demo_app().await;
    let request = request(
        "POST",
        "/conversions/",
        Some(DEMO_API_KEY),
        Body::Text(minimal_body()),
    );
    assert_eq!(app.handle(request).await.status(), StatusCode::CREATED);
}

/// The demo data, and every call but the key's failing the way `fail` says.
async fn failing(fail: fn() -> StoreError) -> App<MemoryStore> {
    let memory = MemoryStore::new();
    seed_demo(&memory).await.unwrap();
    App::new(memory.with_faults(Faults {
        fail: Some(fail),
        ..Faults::default()
    }))
}

/// The demo data, every call answered after `delay`.
pub(super) async fn slow(delay: Duration) -> MemoryStore {
    let memory = MemoryStore::new();
    seed_demo(&memory).await.unwrap();
    memory.with_faults(Faults {
        delay,
        ..Faults::default()
    })
}

/// A 503 with `Retry-After`: the client may try again shortly.
fn assert_unavailable(response: &Response) {
    assert_eq!(
        response.header("retry-after"),
        Some(RETRY_AFTER_SECONDS.to_string().as_str())
    );
    assert_api_error(response, ApiError::Unavailable);
}

#[tokio::test]
async fn throttling_after_retries_or_an_unreachable_store_is_a_503_with_retry_after() {
    for failure in [
        (|| StoreError::Throttled("ProvisionedThroughputExceededException: secret detail".into()))
            as fn() -> StoreError,
        || StoreError::Unavailable("operation timed out after 6s".into()),
    ] {
        assert_unavailable(&failing(failure).await.handle(post(&minimal_body())).await);
    }
}

#[tokio::test]
async fn a_request_past_its_deadline_is_a_503_even_when_each_call_succeeds() {
    let late = App::with_deadline(
        slow(Duration::from_millis(40)).await,
        Duration::from_millis(100),
    );
    let response = late.handle(post(&minimal_body())).await;
    assert_unavailable(&response);
    assert!(response.header("x-request-id").is_some());

    let in_time = App::with_deadline(slow(Duration::from_millis(5)).await, Duration::from_secs(5));
    assert_eq!(
        in_time.handle(post(&minimal_body())).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn any_other_store_failure_is_a_500_without_detail() {
    for failure in [
        (|| StoreError::Failed("ResourceNotFoundException: table conversions-prod".into()))
            as fn() -> StoreError,
        || StoreError::Corrupt {
            key: "ACCOUNT#x/LEAD#y".into(),
            reason: "id: not a valid UUID".into(),
        },
    ] {
        let app = failing(failure).await;
        let response = app.handle(post(&minimal_body())).await;
        assert_api_error(&response, ApiError::Internal);
    }
}

fn keyed(key: &str, body: &str) -> Request {
    post(body).with_header("idempotency-key", key)
}

fn text(response: &Response) -> &str {
    response.body()
}

#[tokio::test]
async fn a_repeated_idempotency_key_with_the_same_body_replays_the_original_response() {
    let app = demo_app().await;
    let first = app.handle(keyed("order-42", &minimal_body())).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.header("idempotent-replayed").is_none());

    // The same JSON, formatted differently, is the same request.
    let reformatted = format!(
        "{{\n  \"amount\": 85000.00,\n  \"lead_id\": \"{DEMO_LEAD_ID}\",\n  \"conversion_type_id\": \"{DEMO_CONVERSION_TYPE_ID}\"\n}}"
    );
    for body in [minimal_body(), reformatted] {
        let again = app.handle(keyed("order-42", &body)).await;
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(
            text(&again),
            text(&first),
            "byte-for-byte the original body"
        );
    }
    let account = AccountId::parse(crate::seed::DEMO_ACCOUNT_ID).unwrap();
    assert_eq!(
        app.store().events(account).len(),
        1,
        "nothing new is written"
    );
}

/// The retry stores the same event, so it replays: the type's own currency sent one time and
/// not the other, a `converted_at` left out on the retry, or sent equal to the one the server
/// filled in.
#[tokio::test]
async fn a_retry_that_would_store_the_same_event_replays() {
    let app = demo_app().await;
    let with = |extra: &str| minimal_body().replacen('{', &format!("{{{extra}"), 1);
    let pairs = [
        (with(r#""currency":"USD","#), minimal_body()),
        (minimal_body(), with(r#""currency":"usd","#)),
        (
            with(r#""converted_at":"2026-01-28T10:00:00Z","#),
            minimal_body(),
        ),
    ];
    for (n, (first, retry)) in pairs.into_iter().enumerate() {
        let key = format!("same-event-{n}");
        let created = app.handle(keyed(&key, &first)).await;
        assert_eq!(created.status(), StatusCode::CREATED, "{first}");
        let again = app.handle(keyed(&key, &retry)).await;
        assert_eq!(again.status(), StatusCode::CREATED, "{first} then {retry}");
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(text(&again), text(&created));
    }
    // Sent without converted_at, the event holds the time the server filled in: that time sent
    // again is the same event, another is not.
    let created = app.handle(keyed("filled-in", &minimal_body())).await;
    let filled_in = json(&created)["conversion_event"]["converted_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = app
        .handle(keyed(
            "filled-in",
            &with(&format!(r#""converted_at":"{filled_in}","#)),
        ))
        .await;
    assert_eq!(
        again.header("idempotent-replayed"),
        Some("true"),
        "{}",
        text(&again)
    );
    let other = with(r#""converted_at":"2026-01-28T10:00:00Z","#);
    assert_eq!(
        app.handle(keyed("filled-in", &other)).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let clp = with(r#""currency":"CLP","#).replace("85000.00", "85000");
    assert_eq!(
        app.handle(keyed("same-event-0", &clp)).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "another currency than the one stored"
    );
}

#[tokio::test]
async fn a_repeated_idempotency_key_with_another_body_is_a_422() {
    let app = demo_app().await;
    assert_eq!(
        app.handle(keyed("order-42", &minimal_body()))
            .await
            .status(),
        StatusCode::CREATED
    );
    let other = minimal_body().replace("85000.00", "85000.01");
    assert_error(
        &app.handle(keyed("order-42", &other)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::IdempotencyMismatch.error(),
        ApiError::IdempotencyMismatch.message(),
    );
}

#[tokio::test]
async fn distinct_keys_and_requests_without_a_key_each_create_an_event() {
    let app = demo_app().await;
    for request in [
        keyed("a", &minimal_body()),
        keyed("b", &minimal_body()),
        post(&minimal_body()),
        post(&minimal_body()),
    ] {
        let response = app.handle(request).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert!(response.header("idempotent-replayed").is_none());
    }
    let account = AccountId::parse(crate::seed::DEMO_ACCOUNT_ID).unwrap();
    assert_eq!(app.store().events(account).len(), 4);
}

#[tokio::test]
async fn a_rejected_request_does_not_use_up_its_key() {
    let app = demo_app().await;
    let invalid = minimal_body().replace("85000.00", "-1");
    assert_eq!(
        app.handle(keyed("order-7", &invalid)).await.status(),
        StatusCode::BAD_REQUEST
    );
    let response = app.handle(keyed("order-7", &minimal_body())).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.header("idempotent-replayed").is_none());
}

#[tokio::test]
async fn an_idempotency_key_must_be_1_to_255_printable_ascii_characters() {
    let app = demo_app().await;
    for key in ["".to_owned(), "k".repeat(256), "tab\there".to_owned()] {
        let response = app.handle(keyed(&key, &minimal_body())).await;
        assert_error(
            &response,
            StatusCode::BAD_REQUEST,
            "Validation error",
            &IdempotencyKeyError.to_string(),
        );
        assert_eq!(json(&response)["errors"][0]["field"], "Idempotency-Key");
    }
}

#[tokio::test]
async fn a_dry_run_answers_200_with_the_event_as_it_would_be_stored_and_writes_nothing() {
    let app = demo_app().await;
    let response = app
        .handle(post(&minimal_body()).with_query("dry_run=true"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(&response);
    assert_eq!(
        (body["success"].as_bool(), body["dry_run"].as_bool()),
        (Some(true), Some(true))
    );
    let event = &body["conversion_event"];
    assert_eq!(event["id"], serde_json::Value::Null);
    assert_eq!(event["currency"], "USD");
    assert_eq!(event["workflow_id"], crate::seed::DEMO_WORKFLOW_ID);
    assert!(text(&response).contains(r#""amount":85000.00"#));
    let account = AccountId::parse(crate::seed::DEMO_ACCOUNT_ID).unwrap();
    assert!(app.store().events(account).is_empty());
}

#[tokio::test]
async fn a_dry_run_runs_the_lookups_and_reports_what_would_fail() {
    let app = demo_app().await;
    let body = minimal_body().replace(DEMO_LEAD_ID, "123e4567-e89b-12d3-a456-426614174999");
    assert_error(
        &app.handle(post(&body).with_query("dry_run=true")).await,
        StatusCode::BAD_REQUEST,
        "Validation error",
        &ReferenceError::Lead.to_string(),
    );
}

#[tokio::test]
async fn a_missing_reference_is_reported_on_its_own_field() {
    let app = demo_app().await;
    let unknown = "123e4567-e89b-12d3-a456-426614174999";
    let run = format!(r#","workflow_run_id":"{unknown}"}}"#);
    for (body, reference) in [
        (
            minimal_body().replace(DEMO_CONVERSION_TYPE_ID, unknown),
            ReferenceError::ConversionType,
        ),
        (
            minimal_body().replace(DEMO_LEAD_ID, unknown),
            ReferenceError::Lead,
        ),
        (
            minimal_body().replacen('}', &run, 1),
            ReferenceError::WorkflowRun,
        ),
    ] {
        let response = app.handle(post(&body)).await;
        let (field, message) = (reference.field(), reference.to_string());
        assert_error(
            &response,
            StatusCode::BAD_REQUEST,
            "Validation error",
            &message,
        );
        assert_eq!(
            json(&response)["errors"],
            serde_json::json!([{"field": field, "message": message}]),
            "{body}"
        );
    }
}

#[tokio::test]
async fn dry_run_must_be_true_or_false() {
    let app = demo_app().await;
    for query in ["dry_run=yes", "dry_run=", "dry_run"] {
        assert_error(
            &app.handle(post(&minimal_body()).with_query(query)).await,
            StatusCode::BAD_REQUEST,
            "Validation error",
            "dry_run must be true or false",
        );
    }
    let request = post(&minimal_body()).with_query("dry_run=false");
    assert_eq!(app.handle(request).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413() {
    let app = demo_app().await;
    let body = format!(r#"{{"notes":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
    assert_api_error(&app.handle(post(&body)).await, ApiError::PayloadTooLarge);
    let just_fits = minimal_body().replacen(
        '{',
        &format!(
            "{{\"pad\":\"{}\",",
            "x".repeat(MAX_BODY_BYTES - minimal_body().len() - 9)
        ),
        1,
    );
    assert_eq!(just_fits.len(), MAX_BODY_BYTES);
    assert_eq!(
        app.handle(post(&just_fits)).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_400_lists_every_problem_and_keeps_the_first_as_the_message() {
    let app = demo_app().await;
    let body = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"x","amount":-1,"currency":"ABC","notes":7}}"#
    );
    let request = keyed("", &body).with_query("dry_run=maybe");
    let response = app.handle(request).await;
    let body = json(&response);
    let problems: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        problems,
        [
            ("lead_id", "lead_id must be a valid UUID"),
            ("amount", "amount must be a non-negative number"),
            (
                "currency",
                r#"currency must be a 3-character ISO 4217 code (e.g., "USD", "CLP")"#
            ),
            ("notes", "notes must be a string"),
            (
                "Idempotency-Key",
                "Idempotency-Key must be 1 to 255 printable ASCII characters"
            ),
            ("dry_run", "dry_run must be true or false"),
        ]
    );
    assert_eq!(body["message"], "lead_id must be a valid UUID");
}

#[tokio::test]
async fn reference_and_type_rules_are_reported_together_once_the_payload_is_valid() {
    let app = demo_app().await;
    let body = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"123e4567-e89b-12d3-a456-426614174999","amount":1,"metadata":{{"broker":1,"commission":"x","extra":true}}}}"#
    );
    let body = json(&app.handle(post(&body)).await);
    let messages: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "lead_id not found or does not belong to your account",
            "metadata.broker must be a string",
            "metadata.commission must be a number",
        ]
    );
}

#[tokio::test]
async fn the_route_api_gateway_matched_decides_whatever_base_path_the_domain_adds() {
    let app = demo_app().await;
    let behind_domain = |route_key: &str| {
        Incoming::from_json(&format!(
            r#"{{"version":"2.0","routeKey":"{route_key}","rawPath":"/api/public/conversions",
                "headers":{{"x-api-key":"{DEMO_API_KEY}"}},"body":{body},
                "requestContext":{{"http":{{"method":"POST"}},"requestId":"r-1","stage":"$default"}}}}"#,
            body = serde_json::to_string(&minimal_body()).unwrap()
        ))
    };
    let matched = app.invoke(behind_domain("POST /conversions"), "l-1").await;
    assert_eq!(matched.status(), StatusCode::CREATED);
    let fallback = app.invoke(behind_domain("$default"), "l-1").await;
    assert_eq!(fallback.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_api_key_sent_twice_is_invalid_even_when_both_are_valid() {
    let app = demo_app().await;
    let twice =
        post(&minimal_body()).with_header("x-api-key", &format!("{DEMO_API_KEY}, {DEMO_API_KEY}"));
    assert_api_error(&app.handle(twice).await, ApiError::InvalidApiKey);
    let event = Incoming::from_json(&format!(
        r#"{{"version":"2.0","rawPath":"/conversions","body":{body},
            "headers":{{"x-api-key":"{DEMO_API_KEY}","X-Api-Key":"{DEMO_API_KEY}"}},
            "requestContext":{{"http":{{"method":"POST"}}}}}}"#,
        body = serde_json::to_string(&minimal_body()).unwrap()
    ));
    let answer = app.invoke(event, "l-1").await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(answer.header("x-request-id"), Some("l-1"));
}

#[tokio::test]
async fn dry_run_is_percent_decoded_and_may_repeat_only_with_one_value() {
    let app = demo_app().await;
    for query in [
        "dry_run=%74rue",
        "dry_run=true&dry_run=true",
        "x=%zz&dry_run=true",
    ] {
        let response = app.handle(post(&minimal_body()).with_query(query)).await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
    }
    assert_error(
        &app.handle(post(&minimal_body()).with_query("dry_run=false&dry_run=true"))
            .await,
        StatusCode::BAD_REQUEST,
        "Validation error",
        "dry_run must not be given twice with different values",
    );
}

/// A key that names its account is checked by the read that loads the request's records.
#[tokio::test]
async fn a_key_that_names_its_account_is_checked_before_anything_else_is_used() {
    use crate::domain::ApiKey;
    use crate::seed::DEMO_ACCOUNT_ID;
    use crate::store::Provisioning;

    let app = demo_app().await;
    let demo = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
    let own = ApiKey::generate_for(demo);
    app.store().put_api_key(&own.hash(), demo).await.unwrap();
    // A key stored for the demo account that claims another one.
    let lying = ApiKey::generate_for(AccountId::random());
    app.store().put_api_key(&lying.hash(), demo).await.unwrap();
    let revoked = ApiKey::generate_for(demo);
    app.store()
        .put_api_key(&revoked.hash(), demo)
        .await
        .unwrap();
    app.store().revoke_api_key(&revoked.hash()).await.unwrap();
    let unknown = ApiKey::generate_for(demo);

    let send = |key: &ApiKey, body: String| {
        request("POST", "/conversions", Some(key.expose()), Body::Text(body))
    };
    assert_eq!(
        app.handle(send(&own, minimal_body())).await.status(),
        StatusCode::CREATED
    );
    for key in [&lying, &revoked, &unknown] {
        for body in [minimal_body(), "{".to_owned()] {
            assert_api_error(&app.handle(send(key, body)).await, ApiError::InvalidApiKey);
        }
    }
    // A valid key with a refused payload: the payload's 400.
    assert_eq!(
        app.handle(send(&own, "{".to_owned())).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn the_field_dimension_is_a_field_this_api_knows_or_other() {
    for known in [
        "amount",
        "lead_id",
        "conversion_type_id",
        "workflow_run_id",
        "currency",
        "converted_at",
        "metadata",
        "notes",
        "body",
        "Idempotency-Key",
        "dry_run",
        "limit",
        "cursor",
        "converted_before",
    ] {
        assert_eq!(super::field_name(known), known);
    }
    // Whatever a client names: a metadata key, an unknown member, a long name.
    assert_eq!(super::field_name("metadata.broker"), "metadata");
    assert_eq!(super::field_name("metadata."), "metadata");
    assert_eq!(super::field_name("zz"), "other");
    assert_eq!(super::field_name("amount.x"), "other");
    assert_eq!(super::field_name(&"a".repeat(5000)), "other");
}
