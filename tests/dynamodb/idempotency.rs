//! Exactly-once retries and dry runs against dynalite and moto: replays are byte-for-byte and
//! write nothing, concurrent retries store one event, a dry run writes nothing.

use std::sync::Arc;

use crate::helpers::{Table, body_text, fixture, on_each_backend};
use conversions::domain::{AccountId, ReferenceError};
use conversions::http::{ApiError, App, Body, Request};
use conversions::seed::{DEMO_ACCOUNT_ID, seed_demo};
use conversions::store::{Provisioning, Record};

/// The number of conversion events stored in the demo account.
async fn stored_events(table: &Table) -> usize {
    table
        .count_events(AccountId::parse(DEMO_ACCOUNT_ID).unwrap())
        .await
}

fn with_key(name: &str, key: &str) -> Request {
    fixture(name).with_header("idempotency-key", key)
}

#[tokio::test]
async fn a_replay_returns_the_identical_body_and_costs_no_write() {
    on_each_backend(|backend| async move {
        let (app, operations, seeded) = backend.counted_demo_app().await;

        let first = app.handle(fixture("create-idempotent")).await;
        assert_eq!(first.status(), 201, "{}", backend.name);
        assert_eq!(
            operations.take(),
            ["GetItem", "BatchGetItem", "PutItem", "PutItem"],
            "{}",
            backend.name
        );

        let again = app.handle(fixture("create-idempotent")).await;
        assert_eq!(again.status(), 201, "{}", backend.name);
        assert_eq!(
            again.header("idempotent-replayed"),
            Some("true"),
            "{}",
            backend.name
        );
        assert_eq!(
            body_text(&again),
            body_text(&first),
            "{}: byte-for-byte",
            backend.name
        );
        assert_eq!(
            operations.take(),
            ["GetItem", "BatchGetItem"],
            "{}: found in the same read, no write",
            backend.name
        );
        assert_eq!(stored_events(&seeded).await, 1, "{}", backend.name);
    })
    .await;
}

#[tokio::test]
async fn a_used_key_with_a_different_body_is_refused_with_422() {
    on_each_backend(|backend| async move {
        let table = backend.fresh_table().await;
        seed_demo(&table.store()).await.unwrap();
        let app = App::new(table.store());
        assert_eq!(
            app.handle(with_key("create-minimal", "k-1")).await.status(),
            201
        );
        let response = app.handle(with_key("create-with-metadata", "k-1")).await;
        assert_eq!(response.status(), 422, "{}", backend.name);
        crate::helpers::assert_error_body(
            &crate::helpers::body_json(&response),
            ApiError::IdempotencyMismatch.error(),
            ApiError::IdempotencyMismatch.message(),
            &backend.name,
        );
        assert_eq!(stored_events(&table).await, 1, "{}", backend.name);
    })
    .await;
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_store_exactly_one_event() {
    on_each_backend(|backend| async move {
        let table = backend.fresh_table().await;
        seed_demo(&table.store()).await.unwrap();
        let app = Arc::new(App::new(table.store()));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let app = Arc::clone(&app);
                tokio::spawn(async move {
                    app.handle(with_key("create-with-workflow-run", "burst-1"))
                        .await
                })
            })
            .collect();
        let mut bodies = Vec::new();
        let mut originals = 0;
        for task in tasks {
            let response = task.await.unwrap();
            assert_eq!(
                response.status(),
                201,
                "{}: {}",
                backend.name,
                body_text(&response)
            );
            if response.header("idempotent-replayed").is_none() {
                originals += 1;
            }
            bodies.push(body_text(&response));
        }
        assert_eq!(
            originals, 1,
            "{}: exactly one request created the event",
            backend.name
        );
        assert!(
            bodies.windows(2).all(|pair| pair[0] == pair[1]),
            "{}: every caller got the same event",
            backend.name
        );
        assert_eq!(stored_events(&table).await, 1, "{}", backend.name);
    })
    .await;
}

#[tokio::test]
async fn a_dry_run_runs_the_reads_and_writes_nothing() {
    on_each_backend(|backend| async move {
        let (app, operations, seeded) = backend.counted_demo_app().await;
        let response = app.handle(with_key("dry-run", "dry-1")).await;
        assert_eq!(
            response.status(),
            200,
            "{}: {}",
            backend.name,
            body_text(&response)
        );
        assert_eq!(
            operations.take(),
            ["GetItem", "BatchGetItem"],
            "{}",
            backend.name
        );
        assert_eq!(stored_events(&seeded).await, 0, "{}", backend.name);

        let unknown_type = fixture("dry-run").with_body(Body::Text(
            crate::helpers::fixture_body("dry-run")
                .to_string()
                .replace("426614174100", "426614174999"),
        ));
        let response = app.handle(unknown_type).await;
        assert_eq!(response.status(), 400, "{}", backend.name);
        assert_eq!(
            crate::helpers::body_json(&response)["message"],
            ReferenceError::ConversionType.to_string(),
            "{}",
            backend.name
        );
    })
    .await;
}

#[tokio::test]
async fn a_retry_spelled_differently_is_a_replay_not_a_422() {
    let first = r#"{"conversion_type_id": "123E4567-E89B-12D3-A456-426614174100",
        "lead_id": "123e4567-e89b-12d3-a456-426614174200", "amount": 10.50, "currency": "usd",
        "converted_at": "2026-01-28T07:00:00-03:00", "notes": null, "metadata": {"b": 1, "a": 2}}"#;
    let retry = r#"{"metadata": {"a": 2, "b": 1}, "amount": 10.50, "currency": "USD",
        "converted_at": "2026-01-28T10:00:00Z", "crm_ref": "ignored",
        "lead_id": "123e4567-e89b-12d3-a456-426614174200",
        "conversion_type_id": "123e4567-e89b-12d3-a456-426614174100"}"#;
    on_each_backend(|backend| async move {
        let table = backend.fresh_table().await;
        seed_demo(&table.store()).await.unwrap();
        let app = App::new(table.store());
        let keyed = |body: &str| {
            fixture("create-minimal")
                .with_header("idempotency-key", "spelling-1")
                .with_body(Body::Text(body.to_owned()))
        };
        let created = app.handle(keyed(first)).await;
        assert_eq!(created.status(), 201, "{}", backend.name);
        let replayed = app.handle(keyed(retry)).await;
        assert_eq!(
            replayed.status(),
            201,
            "{}: {}",
            backend.name,
            replayed.body()
        );
        assert_eq!(
            replayed.header("idempotent-replayed"),
            Some("true"),
            "{}",
            backend.name
        );
        assert_eq!(replayed.body(), created.body(), "{}", backend.name);
        let other_digits = app.handle(keyed(&retry.replace("10.50", "10.5"))).await;
        assert_eq!(other_digits.status(), 422, "{}", backend.name);
        assert_eq!(stored_events(&table).await, 1, "{}", backend.name);
    })
    .await;
}

/// The same request is judged against what was stored: a left-out currency means the stored
/// event's, even after the type's currency changed (`create-conversion-type --replace`).
#[tokio::test]
async fn a_retry_after_the_types_currency_changed_is_still_a_replay() {
    on_each_backend(|backend| async move {
        let table = backend.fresh_table().await;
        let store = table.store();
        seed_demo(&store).await.unwrap();
        let app = App::new(table.store());
        let body = r#"{"conversion_type_id": "123e4567-e89b-12d3-a456-426614174100",
            "lead_id": "123e4567-e89b-12d3-a456-426614174200", "amount": 10.50,
            "idempotency_key": "currency-changed-1"}"#;
        let single = || {
            fixture("create-minimal")
                .with_header("idempotency-key", "currency-changed-1")
                .with_body(Body::Text(body.to_owned()))
        };
        let created = app.handle(single()).await;
        assert_eq!(created.status(), 201, "{}", backend.name);
        assert!(
            created.body().contains(r#""currency":"USD""#),
            "{}",
            backend.name
        );
        let mut demo = conversions::seed::demo();
        demo.conversion_type.currency = conversions::domain::Currency::parse("EUR").unwrap();
        store
            .put(&Record::ConversionType(
                demo.account.id,
                demo.conversion_type,
            ))
            .await
            .unwrap();

        let again = app.handle(single()).await;
        assert_eq!(again.status(), 201, "{}: {}", backend.name, again.body());
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.body(), created.body(), "{}", backend.name);
        let batch = Request::new("POST", "/conversions/batch")
            .with_header("x-api-key", conversions::seed::DEMO_API_KEY)
            .with_body(Body::Text(format!(r#"{{"events": [{body}]}}"#)));
        let batch = app.handle(batch).await;
        assert_eq!(batch.status(), 200, "{}: {}", backend.name, batch.body());
        assert!(
            batch.body().contains(r#""status":"replayed""#),
            "{}",
            backend.name
        );
        assert_eq!(stored_events(&table).await, 1, "{}", backend.name);
    })
    .await;
}
