//! `POST /conversions/batch` on both local servers: one read for all the rows' records, one
//! conditional put a row; and with a fault at the rows' writes (lost answers included), a client
//! that sends the whole batch again until no row is `retryable` ends with every row recorded
//! once: what is stored is exactly what was acknowledged.

use std::collections::BTreeSet;
use std::sync::Arc;

use conversions::domain::AccountId;
use conversions::http::{App, Body, Request};
use conversions::seed::{
    DEMO_ACCOUNT_ID, DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, seed_demo,
};
use conversions::store::DynamoStore;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::faults::RETRYABLE_FAULTS;
use crate::helpers::proxy::{Fault, FaultProxy};
use crate::helpers::{backends, body_json, function_client, on_each_backend};

fn batch(prefix: &str, rows: usize) -> Request {
    let rows: Vec<String> = (0..rows)
        .map(|i| {
            format!(
                r#"{{"idempotency_key":"{prefix}-{i}","conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":{i}.50}}"#
            )
        })
        .collect();
    Request::new("POST", "/conversions/batch")
        .with_header("x-api-key", DEMO_API_KEY)
        .with_body(Body::Text(format!(r#"{{"events":[{}]}}"#, rows.join(","))))
}

fn statuses(body: &Value) -> Vec<String> {
    let results = body["results"].as_array().expect("results");
    results
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_owned())
        .collect()
}

/// The events a batch's answer acknowledges (created or replayed).
fn acknowledged(body: &Value) -> BTreeSet<String> {
    (body["results"].as_array().unwrap().iter())
        .filter(|r| r["status"] == "created" || r["status"] == "replayed")
        .map(|r| r["conversion_event"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_full_batch_is_one_key_read_one_batch_read_and_two_puts_a_row_then_replays() {
    on_each_backend(|backend| async move {
        let (app, operations, table) = backend.counted_demo_app().await;
        let first = app.handle(batch("full", 100)).await;
        assert_eq!(first.status(), 200, "{}: {}", backend.name, first.body());
        // The key; the 2 records and 100 events asked for, in 2 reads of at most 100 keys; a
        // change and an event a row.
        let calls = operations.take();
        let count = |name: &str| calls.iter().filter(|c| **c == name).count();
        let counts = (count("GetItem"), count("BatchGetItem"), count("PutItem"));
        assert_eq!(counts, (1, 2, 200), "{}: {calls:?}", backend.name);
        assert_eq!(calls.len(), 203, "{}: {calls:?}", backend.name);
        let body = body_json(&first);
        assert_eq!(body["counts"]["created"], 100, "{}", backend.name);
        let again = body_json(&app.handle(batch("full", 100)).await);
        assert_eq!(again["counts"]["replayed"], 100, "{}", backend.name);
        assert_eq!(
            acknowledged(&again),
            acknowledged(&body),
            "{}",
            backend.name
        );
        let demo = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        assert_eq!(table.count_events(demo).await, 100, "{}", backend.name);
    })
    .await;
}

#[tokio::test]
async fn faults_at_the_rows_writes_lose_nothing_and_store_nothing_twice() {
    let in_flight = Arc::new(Semaphore::new(6));
    let mut runs = JoinSet::new();
    for backend in backends() {
        for (name, fault) in RETRYABLE_FAULTS {
            let backend = backend.clone();
            let in_flight = Arc::clone(&in_flight);
            runs.spawn(async move {
                let _turn = in_flight.acquire().await.expect("open");
                let context = format!("{}: {name} at the rows' puts", backend.name);
                let table = backend.fresh_table().await;
                seed_demo(&table.store()).await.unwrap();
                let proxy = FaultProxy::start(&backend.endpoint).await;
                let client = function_client(&proxy.endpoint()).await;
                let app = App::new(DynamoStore::new(client, &table.name));
                // Every attempt of every row's put in the first send: each row is left to a
                // retry (answers lost after a commit included), then written or replayed.
                proxy.fail("PutItem", fault, 3 * 12);
                let mut answers = Vec::new();
                for _ in 0..4 {
                    let body = body_json(&app.handle(batch("faulty", 12)).await);
                    let done = !statuses(&body).iter().any(|s| s == "retryable");
                    answers.push(body);
                    if done {
                        break;
                    }
                }
                // The fault fired at every row's put. Where the put never reached the server,
                // every row was left to a retry; where it committed and only its answer was
                // lost, the SDK's retry may have found the row's own write.
                assert!(proxy.injected("PutItem") >= 12, "{context}");
                let committed = matches!(
                    fault,
                    Fault::DropAnswer | Fault::CutAnswer | Fault::LateAnswer
                );
                assert!(
                    committed || statuses(&answers[0]).iter().all(|s| s == "retryable"),
                    "{context}: {:?}",
                    statuses(&answers[0])
                );
                let last = answers.last().unwrap();
                assert!(
                    statuses(last)
                        .iter()
                        .all(|s| s == "created" || s == "replayed"),
                    "{context}: {:?}",
                    answers.iter().map(statuses).collect::<Vec<_>>()
                );
                let demo = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
                let stored = table.stored_event_ids(demo).await;
                assert!(stored.values().all(|n| *n == 1), "{context}: {stored:?}");
                let stored: BTreeSet<String> = stored.into_keys().collect();
                assert_eq!(stored, acknowledged(last), "{context}");
                // Every event any answer acknowledged is stored (an acknowledgement is a promise).
                for body in &answers {
                    assert!(acknowledged(body).is_subset(&stored), "{context}");
                }
            });
        }
    }
    while let Some(run) = runs.join_next().await {
        run.expect("every case passes");
    }
}

/// The rows' writes stop a second before the request's deadline counted from its arrival, so a
/// slow key read leaves less time for them, never an answer past the deadline: a batch whose
/// rows were written is answered row by row (`207`), never with a whole `503`.
#[tokio::test]
async fn a_slow_key_read_leaves_the_rows_less_time_never_a_late_answer() {
    on_each_backend(|backend| async move {
        let context = backend.name.clone();
        let table = backend.fresh_table().await;
        seed_demo(&table.store()).await.unwrap();
        let proxy = FaultProxy::start(&backend.endpoint).await;
        let client = function_client(&proxy.endpoint()).await;
        let deadline = std::time::Duration::from_secs(4);
        let app = App::with_deadline(DynamoStore::new(client, &table.name), deadline);
        let delay = |ms| Fault::Delay(std::time::Duration::from_millis(ms));
        proxy.fail("GetItem", delay(1_000), 1);
        proxy.fail("PutItem", delay(700), 100);
        let started = std::time::Instant::now();
        let answer = app.handle(batch("slow-key", 100)).await;
        let took = started.elapsed();
        assert_eq!(answer.status(), 207, "{context}: {}", answer.body());
        assert!(
            took >= std::time::Duration::from_secs(1),
            "{context}: the delay fired"
        );
        assert!(took < deadline, "{context}: answered in {took:?}");
        let body = body_json(&answer);
        let created = body["counts"]["created"].as_u64().unwrap();
        let retryable = body["counts"]["retryable"].as_u64().unwrap();
        assert!(
            created > 0 && retryable > 0,
            "{context}: {}",
            body["counts"]
        );
        assert_eq!(created + retryable, 100, "{context}");
        // What was answered is stored; sent again, the rest is, each once.
        let mut last = body;
        for _ in 0..10 {
            if !statuses(&last).iter().any(|s| s == "retryable") {
                break;
            }
            last = body_json(&app.handle(batch("slow-key", 100)).await);
        }
        let demo = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        let stored: BTreeSet<String> = table.stored_event_ids(demo).await.into_keys().collect();
        assert_eq!(stored, acknowledged(&last), "{context}");
        assert_eq!(stored.len(), 100, "{context}");
    })
    .await;
}

/// The whole-request refusals of a batch: the rows' records unreadable for now (throttled on
/// every attempt) is a `503` with `Retry-After`, for good (a refusal no retry fixes) a `500`;
/// either way nothing is written.
#[tokio::test]
async fn a_batch_whose_records_cannot_be_read_is_refused_whole_with_nothing_written() {
    on_each_backend(|backend| async move {
        for (status, code) in [(503, "ThrottlingException"), (500, "ValidationException")] {
            let context = format!("{}: {code}", backend.name);
            let table = backend.fresh_table().await;
            seed_demo(&table.store()).await.unwrap();
            let proxy = FaultProxy::start(&backend.endpoint).await;
            let client = function_client(&proxy.endpoint()).await;
            let app = App::new(DynamoStore::new(client, &table.name));
            let fault = Fault::Error { status: 400, code };
            proxy.fail("BatchGetItem", fault, if status == 503 { 3 } else { 1 });
            let answer = app.handle(batch("refused", 5)).await;
            assert_eq!(answer.status(), status, "{context}: {}", answer.body());
            let retry_after = (status == 503).then_some("1");
            assert_eq!(answer.header("retry-after"), retry_after, "{context}");
            crate::helpers::openapi::assert_documented(
                &context,
                "POST",
                "/conversions/batch",
                &answer,
            );
            proxy.assert_spent(&context);
            assert_eq!(proxy.count("PutItem"), 0, "{context}: no write started");
            let demo = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
            assert_eq!(table.count_events(demo).await, 0, "{context}");
        }
    })
    .await;
}
