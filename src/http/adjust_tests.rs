//! Corrections on the in-memory store: shapes, state, messages, keys, `as_of`. The same on both
//! servers, with races and faults, is in `tests/dynamodb/adjustments.rs`.

use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use super::tests::{created, json, keys, seeded};
use super::*;
use crate::domain::{FULL, MAX_ADJUSTMENTS_PER_EVENT, RETRACTED};
use crate::seed::{DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID};
use crate::store::{MemoryStore, Provisioning, Record};

async fn demo_app() -> App<MemoryStore> {
    seeded(MemoryStore::new()).await
}

fn call(method: &str, path: &str, body: Option<String>, key: Option<&str>) -> Request {
    let request = super::tests::call(method, path, body);
    match key {
        Some(key) => request.with_header("idempotency-key", key),
        None => request,
    }
}

/// Records a 5000.00 (USD) event converted at 2026-03-01 and returns its id.
async fn record(app: &App<MemoryStore>, key: Option<&str>) -> String {
    let body = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":5000.00,"converted_at":"2026-03-01T10:00:00Z"}}"#
    );
    created(app, call("POST", "/conversions", Some(body), key)).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn adjust(app: &App<MemoryStore>, id: &str, body: &str, key: Option<&str>) -> Response {
    let path = format!("/conversions/{id}/adjustments");
    app.handle(call("POST", &path, Some(body.to_owned()), key))
        .await
}

async fn read(app: &App<MemoryStore>, id: &str, query: &str) -> Response {
    app.handle(call("GET", &format!("/conversions/{id}"), None, None).with_query(query))
        .await
}

const RESTATE: &str = r#"{"type":"restatement","amount":4200.00,"reason":"closed at a lower price","adjusted_at":"2026-03-02T10:00:00Z"}"#;
const RETRACT: &str = r#"{"type":"retraction","reason":"reservation cancelled"}"#;

#[tokio::test]
async fn a_restatement_is_appended_and_every_read_shows_the_state_after_it() {
    let app = demo_app().await;
    let id = record(&app, None).await;
    let response = adjust(&app, &id, RESTATE, None).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.body()
    );
    assert_eq!(response.header(REPLAYED_HEADER), None);
    let body = json(&response);
    assert_eq!(keys(&body), ["success", "adjustment", "conversion_event"]);
    let adjustment = &body["adjustment"];
    assert_eq!(
        keys(adjustment),
        [
            "id",
            "conversion_event_id",
            "type",
            "amount",
            "currency",
            "reason",
            "adjusted_at",
            "created_at"
        ]
    );
    assert_eq!(adjustment["conversion_event_id"], id.as_str());
    assert_eq!(adjustment["type"], "restatement");
    assert_eq!(adjustment["currency"], "USD");
    assert_eq!(adjustment["reason"], "closed at a lower price");
    assert_eq!(adjustment["adjusted_at"], "2026-03-02T10:00:00Z");
    // Exact digits, on the adjustment and as the amount to count.
    assert!(response.body().contains(r#""amount":4200.00,"#));
    assert!(response.body().contains(r#""current_amount":4200.00,"#));
    let event = &body["conversion_event"];
    assert_eq!(
        (&event["status"], &event["amount"], &event["adjustments"]),
        (&json!("restated"), &json!(5000.0), &json!([adjustment]))
    );

    let one = json(&read(&app, &id, "").await)["conversion_event"].take();
    assert_eq!(one["status"], "restated");
    assert_eq!(one["adjustments"], json!([adjustment]));
    let listed = app.handle(call("GET", "/conversions", None, None)).await;
    let listed = &json(&listed)["conversion_events"][0];
    assert_eq!(
        (&listed["status"], &listed["current_amount"]),
        (&json!("restated"), &json!(4200.0))
    );
    assert_eq!(
        listed.get("adjustments"),
        None,
        "lists carry the state, not the history"
    );
}

#[tokio::test]
async fn a_retraction_counts_zero_and_is_final() {
    let app = demo_app().await;
    let id = record(&app, None).await;
    let response = adjust(&app, &id, RETRACT, None).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.body()
    );
    assert!(response.body().contains(r#""amount":null,"#));
    assert!(
        response
            .body()
            .contains(r#""status":"retracted","current_amount":0.00,"#)
    );
    for after in [RETRACT, RESTATE] {
        let refused = adjust(&app, &id, after, None).await;
        assert_eq!(refused.status(), StatusCode::CONFLICT);
        assert_eq!(
            json(&refused),
            json!({"error": "Conflict", "message": RETRACTED})
        );
    }
    let one = json(&read(&app, &id, "").await);
    assert_eq!(
        one["conversion_event"]["adjustments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_event_takes_a_bounded_number_of_adjustments() {
    let app = demo_app().await;
    let id = record(&app, None).await;
    let restate = r#"{"type":"restatement","amount":1}"#;
    for _ in 0..MAX_ADJUSTMENTS_PER_EVENT {
        assert_eq!(
            adjust(&app, &id, restate, None).await.status(),
            StatusCode::CREATED
        );
    }
    let refused = adjust(&app, &id, restate, None).await;
    assert_eq!(
        json(&refused),
        json!({"error": "Conflict", "message": FULL})
    );
}

#[tokio::test]
async fn every_problem_is_listed_field_first_in_one_400() {
    let app = demo_app().await;
    let id = record(&app, None).await;
    let bad_currency = crate::domain::CurrencyError.to_string();
    let cases: [(&str, &[(&str, &str)]); 5] = [
        (r#"{}"#, &[("type", TYPE_REQUIRED)]),
        (
            r#"{"type":"refund","amount":-1}"#,
            &[
                ("type", TYPE_INVALID),
                ("amount", "amount must be a non-negative number"),
            ],
        ),
        (
            r#"{"type":"restatement"}"#,
            &[("amount", AMOUNT_FOR_RESTATEMENT)],
        ),
        (
            &format!(
                r#"{{"type":"retraction","amount":1,"currency":"dollars","reason":"{}","adjusted_at":"2999-01-01T00:00:00Z"}}"#,
                "x".repeat(501)
            ),
            &[
                ("amount", NO_AMOUNT_FOR_RETRACTION),
                ("currency", &bad_currency),
                ("reason", "reason must be at most 500 characters"),
                ("adjusted_at", "adjusted_at cannot be in the future"),
            ],
        ),
        // Checked against the event: its currency, decimals and conversion time.
        (
            r#"{"type":"restatement","amount":1.005,"currency":"EUR","adjusted_at":"2026-02-01T00:00:00Z"}"#,
            &[
                (
                    "amount",
                    "amount has more decimal places than USD allows (2)",
                ),
                (
                    "currency",
                    "currency must be the conversion event's (USD), not EUR",
                ),
                (
                    "adjusted_at",
                    "adjusted_at cannot be before the conversion event's converted_at",
                ),
            ],
        ),
    ];
    for (body, expected) in cases {
        let response = adjust(&app, &id, body, None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer = json(&response);
        let errors: Vec<(&str, &str)> = answer["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap(), e["message"].as_str().unwrap()))
            .collect();
        assert_eq!(errors, expected, "{body}");
        assert_eq!(answer["message"], expected[0].1);
    }
    // Nothing was applied.
    let one = json(&read(&app, &id, "").await);
    assert_eq!(one["conversion_event"]["status"], "recorded");
}

#[tokio::test]
async fn an_unknown_malformed_or_foreign_event_is_the_read_side_404() {
    let app = demo_app().await;
    // The same records under another account, and an event there.
    let other = crate::domain::AccountId::random();
    let other_key = crate::domain::ApiKey::generate_for(other);
    let store = app.store();
    store.put_api_key(&other_key.hash(), other).await.unwrap();
    let demo = crate::seed::demo();
    let mut conversion_type = demo.conversion_type.clone();
    conversion_type.active = true;
    store
        .put(&Record::ConversionType(other, conversion_type))
        .await
        .unwrap();
    store
        .put(&Record::Lead(other, demo.lead.clone()))
        .await
        .unwrap();
    let body = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":1}}"#
    );
    let response = app
        .handle(
            Request::new("POST", "/conversions")
                .with_header("x-api-key", other_key.expose())
                .with_body(Body::Text(body)),
        )
        .await;
    let foreign = json(&response)["conversion_event"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for id in [
        EventId::random().to_string(),
        "not-an-id".to_owned(),
        foreign.clone(),
    ] {
        let response = adjust(&app, &id, RETRACT, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            json(&response)["message"],
            ApiError::EventNotFound.message()
        );
    }
    assert_eq!(
        app.handle(call(
            "GET",
            &format!("/conversions/{foreign}/adjustments"),
            None,
            None
        ))
        .await
        .header("allow"),
        Some("POST")
    );
}

#[tokio::test]
async fn a_key_replays_its_adjustment_and_shares_one_key_space_with_creates() {
    let app = demo_app().await;
    let id = record(&app, Some("create-1")).await;
    let first = adjust(&app, &id, RESTATE, Some("adjust-1")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    // A later adjustment does not change what the replay answers: the state after it.
    let later = adjust(&app, &id, r#"{"type":"restatement","amount":1}"#, None).await;
    assert_eq!(later.status(), StatusCode::CREATED);
    let replay = adjust(&app, &id, RESTATE, Some("adjust-1")).await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.header(REPLAYED_HEADER), Some("true"));
    assert_eq!(replay.body(), first.body());

    let mismatch = ApiError::IdempotencyMismatch;
    let reused = [
        // The key of an adjustment, with another body; and for a create.
        adjust(&app, &id, r#"{"type":"retraction"}"#, Some("adjust-1")).await,
        app.handle(call("POST", "/conversions", Some(format!(
            r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":1}}"#
        )), Some("adjust-1"))).await,
        // The key of a create, for an adjustment.
        adjust(&app, &id, RETRACT, Some("create-1")).await,
    ];
    for response in reused {
        assert_eq!(response.status(), mismatch.status(), "{}", response.body());
        assert_eq!(json(&response)["message"], mismatch.message());
    }
    // A batch row with an adjustment's key is a conflict.
    let batch = format!(
        r#"{{"events":[{{"idempotency_key":"adjust-1","conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":1}}]}}"#
    );
    let response = app
        .handle(call("POST", "/conversions/batch", Some(batch), None))
        .await;
    assert_eq!(
        json(&response)["results"][0]["status"],
        "conflict",
        "{}",
        response.body()
    );
}

/// Waits for the clock to move on: instants are milliseconds.
async fn tick() -> String {
    tokio::time::sleep(Duration::from_millis(3)).await;
    let at = Timestamp::now().to_string();
    tokio::time::sleep(Duration::from_millis(3)).await;
    at
}

#[tokio::test]
async fn as_of_reads_the_state_at_any_instant_the_same_way_every_time() {
    let app = demo_app().await;
    let before = tick().await;
    let id = record(&app, None).await;
    let recorded = tick().await;
    adjust(&app, &id, r#"{"type":"restatement","amount":4000}"#, None).await;
    let restated = tick().await;
    adjust(&app, &id, RETRACT, None).await;
    let retracted = tick().await;
    let later = record(&app, None).await;

    assert_eq!(
        read(&app, &id, &format!("as_of={before}")).await.status(),
        StatusCode::NOT_FOUND
    );
    for (at, status, amount, count) in [
        (&recorded, "recorded", json!(5000.0), 0),
        (&restated, "restated", json!(4000), 1),
        (&retracted, "retracted", json!(0.0), 2),
    ] {
        let query = format!("as_of={at}");
        let first = read(&app, &id, &query).await;
        let event = &json(&first)["conversion_event"];
        assert_eq!(
            (&event["status"], &event["current_amount"]),
            (&json!(status), &amount),
            "{at}"
        );
        assert_eq!(event["adjustments"].as_array().unwrap().len(), count);
        assert_eq!(read(&app, &id, &query).await.body(), first.body());
        let listing = app
            .handle(call("GET", "/conversions", None, None).with_query(&query))
            .await;
        let listing = json(&listing);
        assert_eq!(listing["total"], 1, "{at}: {listing}");
        assert_eq!(listing["conversion_events"][0]["status"], status);
    }
    let now = json(&app.handle(call("GET", "/conversions", None, None)).await);
    assert_eq!(now["total"], 2);
    assert!(now.to_string().contains(&later));

    for (query, message) in [
        ("as_of=2999-01-01T00:00:00Z", AS_OF_IN_FUTURE),
        (
            "as_of=yesterday",
            "as_of must be an ISO 8601 date-time with a time zone (e.g., \"2026-01-28T10:00:00Z\")",
        ),
    ] {
        for path in ["/conversions", &format!("/conversions/{id}")] {
            let response = app
                .handle(call("GET", path, None, None).with_query(query))
                .await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            assert_eq!(json(&response)["message"], message, "{path}?{query}");
        }
    }
}

#[tokio::test]
async fn a_member_written_twice_is_that_one_problem_only() {
    let app = demo_app().await;
    let id = record(&app, None).await;
    for (body, field) in [
        (r#"{"type":"retraction","type":"retraction"}"#, "type"),
        (r#"{"type":"restatement","amount":1,"amount":1}"#, "amount"),
        (
            r#"{"type":"retraction","reason":"a","reason":"b"}"#,
            "reason",
        ),
    ] {
        let response = adjust(&app, &id, body, None).await;
        let errors = &json(&response)["errors"];
        assert_eq!(
            errors,
            &json!([{"field": field, "message": format!("{field} must not appear more than once")}]),
            "{body}"
        );
    }
}
