//! `POST /conversions/batch` on the in-memory store: a result for every row, in order, by the
//! single create's rules; the whole-request refusals; the deadline.

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use super::tests::{json, slow};
use super::*;
use crate::domain::{AccountId, IdempotencyKeyError, ReferenceError};
use crate::seed::{
    DEMO_ACCOUNT_ID, DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, seed_demo,
};
use crate::service::{KEY_REPEATED, RowOutcome};
use crate::store::MemoryStore;

async fn demo_app() -> App<MemoryStore> {
    let store = MemoryStore::new();
    seed_demo(&store).await.unwrap();
    App::new(store)
}

fn row(key: &str, amount: &str) -> Value {
    json!({
        "idempotency_key": key,
        "conversion_type_id": DEMO_CONVERSION_TYPE_ID,
        "lead_id": DEMO_LEAD_ID,
        "amount": serde_json::from_str::<Value>(amount).unwrap(),
    })
}

fn batch(body: &str) -> Request {
    Request::new("POST", "/conversions/batch")
        .with_header("x-api-key", DEMO_API_KEY)
        .with_body(Body::Text(body.to_owned()))
}

fn rows(rows: &[Value]) -> Request {
    batch(&json!({ "events": rows }).to_string())
}

fn statuses(body: &Value) -> Vec<&str> {
    let results = body["results"].as_array().unwrap();
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["index"], i, "{body}");
    }
    results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect()
}

fn demo_events(app: &App<MemoryStore>) -> usize {
    app.store()
        .events(AccountId::parse(DEMO_ACCOUNT_ID).unwrap())
        .len()
}

#[tokio::test]
async fn every_row_gets_its_result_in_order_and_no_row_sinks_another() {
    let app = demo_app().await;
    let mut no_key = row("x", "1");
    no_key.as_object_mut().unwrap().remove("idempotency_key");
    let mut unknown_lead = row("b-4", "1");
    unknown_lead["lead_id"] = json!("123e4567-e89b-12d3-a456-426614174999");
    let first = app
        .handle(rows(&[
            row("b-1", "100.50"),
            row("b-2", "-1"),
            no_key,
            row("b-1", "7"),
            unknown_lead,
            row("", "1"),
        ]))
        .await;
    assert_eq!(first.status(), StatusCode::MULTI_STATUS);
    let body = json(&first);
    assert_eq!(body["success"], false);
    let expected = [
        "created", "invalid", "invalid", "invalid", "invalid", "invalid",
    ];
    assert_eq!(statuses(&body), expected);
    let results = &body["results"];
    assert_eq!(results[0]["idempotency_key"], "b-1");
    assert_eq!(results[0]["conversion_event"]["lead_id"], DEMO_LEAD_ID);
    assert_eq!(
        results[1]["errors"][0]["message"],
        "amount must be a non-negative number"
    );
    assert_eq!(results[2]["idempotency_key"], Value::Null);
    assert_eq!(results[2]["errors"][0]["message"], KEY_REQUIRED);
    assert_eq!(results[3]["errors"][0]["message"], KEY_REPEATED);
    let lead = ReferenceError::Lead;
    assert_eq!(
        results[4]["errors"][0],
        json!({"field": lead.field(), "message": lead.to_string()})
    );
    assert_eq!(results[5]["errors"][0]["message"], KEY_INVALID);
    assert_eq!(
        KEY_INVALID,
        IdempotencyKeyError
            .to_string()
            .replace("Idempotency-Key", "idempotency_key")
    );
    assert_eq!(
        body["counts"],
        json!({"created": 1, "replayed": 0, "valid": 0, "invalid": 5, "conflict": 0, "retryable": 0})
    );
    assert_eq!(demo_events(&app), 1);

    // Sent again: the written row comes back replayed, the same event; another body is a conflict.
    let again = app
        .handle(rows(&[row("b-1", "100.50"), row("b-1x", "2")]))
        .await;
    assert_eq!(again.status(), StatusCode::OK, "{}", again.body());
    let replay = json(&again);
    assert_eq!(statuses(&replay), ["replayed", "created"]);
    assert_eq!(replay["success"], true);
    assert_eq!(
        replay["results"][0]["conversion_event"],
        results[0]["conversion_event"]
    );
    let conflict = json(&app.handle(rows(&[row("b-1", "100.51")])).await);
    assert_eq!(statuses(&conflict), ["conflict"]);
    assert_eq!(conflict["counts"]["conflict"], 1);
    assert_eq!(
        conflict["results"][0]["errors"][0]["message"],
        ApiError::IdempotencyMismatch.message()
    );
    assert_eq!(demo_events(&app), 2);
}

#[tokio::test]
async fn a_row_and_a_single_create_with_the_same_key_are_the_same_event() {
    let app = demo_app().await;
    let single = Request::new("POST", "/conversions")
        .with_header("x-api-key", DEMO_API_KEY)
        .with_header("idempotency-key", "same-key")
        .with_body(Body::Text(
            json!({"conversion_type_id": DEMO_CONVERSION_TYPE_ID, "lead_id": DEMO_LEAD_ID, "amount": 5})
                .to_string(),
        ));
    let created = json(&app.handle(single).await);
    let body = json(&app.handle(rows(&[row("same-key", "5")])).await);
    assert_eq!(statuses(&body), ["replayed"]);
    assert_eq!(
        body["results"][0]["conversion_event"],
        created["conversion_event"]
    );
    assert_eq!(demo_events(&app), 1);
}

#[tokio::test]
async fn a_dry_run_checks_every_row_and_writes_nothing() {
    let app = demo_app().await;
    let mut unknown_type = row("d-2", "1");
    unknown_type["conversion_type_id"] = json!("123e4567-e89b-12d3-a456-426614174999");
    let response = app
        .handle(rows(&[row("d-1", "1"), unknown_type]).with_query("dry_run=true"))
        .await;
    let body = json(&response);
    assert_eq!(statuses(&body), ["valid", "invalid"]);
    assert_eq!(body["results"][0]["conversion_event"]["id"], Value::Null);
    let all_valid = app
        .handle(rows(&[row("d-1", "1")]).with_query("dry_run=true"))
        .await;
    assert_eq!(all_valid.status(), StatusCode::OK);
    assert_eq!(demo_events(&app), 0);
}

#[tokio::test]
async fn whole_requests_are_refused_in_the_usual_error_shape() {
    let app = demo_app().await;
    let status = |response: &Response| response.status().as_u16();
    let unauthenticated =
        Request::new("POST", "/conversions/batch").with_body(Body::Text("x".into()));
    assert_eq!(status(&app.handle(unauthenticated).await), 401);
    for body in [
        "",
        "[]",
        "{}",
        r#"{"events": {}}"#,
        r#"{"events": 5}"#,
        "not json",
    ] {
        let response = app.handle(batch(body)).await;
        assert_eq!(status(&response), 400, "{body}");
        assert_eq!(json(&response)["message"], NOT_A_BATCH, "{body}");
    }
    let empty = app.handle(batch(r#"{"events": []}"#)).await;
    assert_eq!(json(&empty)["message"], EMPTY_BATCH);
    let many: Vec<Value> = (0..101).map(|i| row(&format!("k{i}"), "1")).collect();
    let too_many = app.handle(rows(&many)).await;
    assert_eq!(status(&too_many), 413);
    assert_eq!(
        json(&too_many)["message"],
        ApiError::BatchTooLarge.message()
    );
    let huge = format!(
        r#"{{"events": [], "pad": "{}"}}"#,
        "x".repeat(MAX_BATCH_BODY_BYTES)
    );
    assert_eq!(status(&app.handle(batch(&huge)).await), 413);
    // Exactly the most a body may hold is not too much.
    let one = row("at-the-limit", "1").to_string();
    let head = format!(r#"{{"events": [{one}], "pad": ""#);
    let exactly = format!(
        "{head}{}\"}}",
        "x".repeat(MAX_BATCH_BODY_BYTES - head.len() - 2)
    );
    assert_eq!(exactly.len(), MAX_BATCH_BODY_BYTES);
    assert_eq!(status(&app.handle(batch(&exactly)).await), 200);
    let full: Vec<Value> = (0..100).map(|i| row(&format!("k{i}"), "1")).collect();
    assert_eq!(status(&app.handle(rows(&full)).await), 200);
    for method in ["GET", "PUT", "DELETE"] {
        let response = app.handle(Request::new(method, "/conversions/batch")).await;
        assert_eq!(status(&response), 405, "{method}");
        assert_eq!(response.header("allow"), Some("POST"));
    }
}

#[tokio::test]
async fn at_the_deadline_every_row_is_still_answered_and_the_rest_are_retryable() {
    // Each write takes 300 ms, 16 at a time: with 1.5 s to write, 64 rows cannot all be written.
    let app = App::with_deadline(
        slow(Duration::from_millis(300)).await,
        Duration::from_millis(2_500),
    );
    let many: Vec<Value> = (0..64).map(|i| row(&format!("t{i}"), "1")).collect();
    let response = app.handle(rows(&many)).await;
    assert_eq!(response.status(), StatusCode::MULTI_STATUS);
    let body = json(&response);
    let statuses = statuses(&body);
    assert_eq!(statuses.len(), 64);
    let retryable: Vec<&Value> = (body["results"].as_array().unwrap().iter())
        .filter(|r| r["status"] == "retryable")
        .collect();
    assert!(!retryable.is_empty(), "{statuses:?}");
    assert_eq!(body["counts"]["retryable"], retryable.len());
    assert!(retryable.iter().all(|r| r["retry_after_seconds"] == 1));
    // A write cut by the deadline may have landed: stored, yet answered retryable (a retry
    // replays it), never the other way round.
    let created = statuses.iter().filter(|s| **s == "created").count();
    let stored = app
        .store()
        .events(AccountId::parse(DEMO_ACCOUNT_ID).unwrap())
        .len();
    assert!(
        (created..=created + retryable.len()).contains(&stored),
        "{stored} {statuses:?}"
    );
}

/// The largest answer a batch can be made to give: 100 invalid rows filling the 1 MiB body with
/// the shortest members each written twice (a problem each, named twice in it, escaped twice on
/// the way out), about five times the body. It fits what Lambda carries, counted on the
/// invocation response; with less room, the bound cuts the last rows' lists (`ERRORS_CUT`) and
/// every row keeps its status and first problem.
#[tokio::test]
async fn the_largest_batch_answer_stays_within_what_lambda_carries() {
    let printable = || {
        (b' '..=b'~')
            .filter(|b| !matches!(b, b'"' | b'\\'))
            .map(|b| (b as char).to_string())
    };
    let names: Vec<String> = printable()
        .chain(printable().flat_map(|a| printable().map(move |b| format!("{a}{b}"))))
        .collect();
    let per_row = MAX_BATCH_BODY_BYTES / 100 - 40;
    let mut rows: Vec<String> = (0..100)
        .map(|i| {
            let mut row = format!(r#"{{"idempotency_key":"w-{i}""#);
            for name in &names {
                let pair = format!(r#","{name}":0,"{name}":0"#);
                if row.len() + pair.len() + 1 > per_row {
                    break;
                }
                row += &pair;
            }
            row + "}"
        })
        .collect();
    // The last row with two problems, the fewest a list is cut from.
    rows[99] = format!(
        r#"{{"idempotency_key":"w-99","amount":1,"lead_id":"{DEMO_LEAD_ID}","a":0,"a":0}}"#
    );
    let body = format!(r#"{{"events":[{}]}}"#, rows.join(","));
    assert!(body.len() <= MAX_BATCH_BODY_BYTES, "{} bytes", body.len());
    let app = demo_app().await;
    let outgoing = app.invoke(Incoming::Http(batch(&body)), "size").await;
    let envelope = serde_json::to_string(&outgoing).unwrap();
    let limit = crate::http::MAX_INVOCATION_RESPONSE_BYTES;
    assert!(envelope.len() <= limit, "{} bytes", envelope.len());
    assert!(
        envelope.len() > 4 * body.len(),
        "the worst case: {} bytes",
        envelope.len()
    );
    assert_eq!(outgoing.status(), StatusCode::MULTI_STATUS);
    let whole = json(&outgoing);
    assert!(statuses(&whole).iter().all(|s| *s == "invalid"));
    assert!(
        !outgoing.body().contains(batch::ERRORS_CUT),
        "nothing cut at today's limits"
    );

    // With a third of the room, the bound holds it.
    let (keys, rows): (Vec<_>, Vec<_>) = batch::read_batch(Some(body.as_bytes()), Timestamp::now())
        .unwrap()
        .into_iter()
        .unzip();
    let outcomes: Vec<_> = rows
        .into_iter()
        .map(|r| RowOutcome::Invalid(r.unwrap_err()))
        .collect();
    let budget = envelope.len() / 3;
    let (_, cut, _) = batch::answer(&keys, &outcomes, budget);
    // Within the room, and no more cut than it takes (one problem's worth).
    let size = render::escaped_len(&cut);
    assert!(
        size <= budget && size > budget - 200,
        "{size} bytes of {budget}"
    );
    let cut: Value = serde_json::from_str(&cut).unwrap();
    let errors =
        |answer: &Value, i: usize| answer["results"][i]["errors"].as_array().unwrap().clone();
    assert_eq!(errors(&whole, 99).len(), 2, "{}", whole["results"][99]);
    let last = errors(&cut, 99);
    assert_eq!(last.len(), 2);
    assert_eq!(last[1]["message"], batch::ERRORS_CUT);
    assert_eq!(last[0], errors(&whole, 99)[0], "its first problem kept");
    let before = errors(&cut, 98);
    assert_eq!(before.last().unwrap()["message"], batch::ERRORS_CUT);
    assert_eq!(before[0], errors(&whole, 98)[0], "its first problem kept");
    assert_eq!(
        errors(&cut, 0),
        errors(&whole, 0),
        "the first rows' lists whole"
    );
    assert_eq!(statuses(&cut), statuses(&whole));
}
