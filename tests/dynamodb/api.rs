//! Whole requests through the handler against dynalite and moto: what is answered is what is
//! stored, scope rules, tenant isolation, failures.

use crate::helpers::{body_json, fixture, on_each_backend, post_as, tenant};
use conversions::domain::{
    AccountId, ApiKey, EventId, FieldDefinition, FieldType, Lead, LeadId, ReferenceError, Timestamp,
};
use conversions::http::{ApiError, App};
use conversions::seed::{DEMO_ACCOUNT_ID, seed_demo};
use conversions::store::{DynamoStore, Provisioning, Record, Store};

#[tokio::test]
async fn the_answered_event_is_the_stored_event_and_converted_at_defaults_to_now() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        seed_demo(&store).await.unwrap();
        let app = App::new(store);
        let before = chrono::Utc::now() - chrono::Duration::seconds(1);
        let response = app.handle(fixture("create-minimal")).await;
        let after = chrono::Utc::now() + chrono::Duration::seconds(1);
        assert_eq!(response.status(), 201, "{}", backend.name);
        let event = &body_json(&response)["conversion_event"];

        let created_at =
            chrono::DateTime::parse_from_rfc3339(event["created_at"].as_str().unwrap()).unwrap();
        assert!(
            before <= created_at && created_at <= after,
            "{}: created_at is now",
            backend.name
        );
        assert_eq!(
            event["converted_at"], event["created_at"],
            "{}",
            backend.name
        );
        assert!(
            event["created_at"].as_str().unwrap().ends_with('Z'),
            "{}: UTC",
            backend.name
        );

        let account = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        let id = EventId::parse(event["id"].as_str().unwrap()).unwrap();
        let stored = app
            .store()
            .get_event(account, id)
            .await
            .unwrap()
            .expect("the event is stored");
        let again = conversions::http::event_json(&stored.event);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&again).unwrap()["conversion_event"],
            *event,
            "{}",
            backend.name
        );
    })
    .await;
}

#[tokio::test]
async fn a_master_workflow_type_attributes_the_runs_workflow_and_inherits_its_currency() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        let t = tenant(&store).await;
        let app = App::new(store);

        let body = format!(
            r#"{{"conversion_type_id":"{}","lead_id":"{}","amount":1500,"workflow_run_id":"{}"}}"#,
            t.conversion_type, t.lead, t.run
        );
        let response = app.handle(post_as(t.key.expose(), body)).await;
        assert_eq!(response.status(), 201, "{}", backend.name);
        let event = &body_json(&response)["conversion_event"];
        assert_eq!(
            event["workflow_id"],
            t.workflow.to_string(),
            "{}",
            backend.name
        );
        assert_eq!(
            event["master_workflow_id"],
            t.master.to_string(),
            "{}",
            backend.name
        );
        assert_eq!(
            event["workflow_run_id"],
            t.run.to_string(),
            "{}",
            backend.name
        );
        assert_eq!(event["currency"], "CLP", "{}", backend.name);

        let body = format!(
            r#"{{"conversion_type_id":"{}","lead_id":"{}","amount":1500}}"#,
            t.conversion_type, t.lead
        );
        let event =
            body_json(&app.handle(post_as(t.key.expose(), body)).await)["conversion_event"].clone();
        assert_eq!(
            event["workflow_id"],
            serde_json::Value::Null,
            "{}: no run, no workflow",
            backend.name
        );
        assert_eq!(
            event["master_workflow_id"],
            t.master.to_string(),
            "{}",
            backend.name
        );
        let id = EventId::parse(event["id"].as_str().unwrap()).unwrap();
        let stored = app.store().get_event(t.account, id).await.unwrap();
        assert!(stored.is_some(), "{}", backend.name);
    })
    .await;
}

#[tokio::test]
async fn a_run_of_another_lead_in_the_same_account_does_not_match() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        let demo = seed_demo(&store).await.unwrap();
        let other_lead = Lead {
            id: LeadId::random(),
            created_at: Timestamp::now(),
        };
        store
            .put(&Record::Lead(demo.account.id, other_lead.clone()))
            .await
            .unwrap();
        let app = App::new(store);
        let body = format!(
            r#"{{"conversion_type_id":"{}","lead_id":"{}","amount":1,"workflow_run_id":"{}"}}"#,
            demo.conversion_type.id, other_lead.id, demo.workflow_run.id
        );
        let response = app.handle(post_as(demo.api_key.expose(), body)).await;
        assert_eq!(
            body_json(&response)["message"],
            ReferenceError::WorkflowRun.to_string(),
            "{}",
            backend.name
        );
    })
    .await;
}

#[tokio::test]
async fn a_store_failure_is_a_500_that_reveals_nothing() {
    on_each_backend(|backend| async move {
        let app = App::new(DynamoStore::new(backend.client(), "missing-table"));
        let response = app.handle(fixture("create-minimal")).await;
        assert_eq!(response.status(), 500, "{}", backend.name);
        crate::helpers::assert_error_body(
            &body_json(&response),
            ApiError::Internal.error(),
            ApiError::Internal.message(),
            &backend.name,
        );
        assert_eq!(response.header("x-request-id"), Some("evt-create-minimal"));
    })
    .await;
}

/// A key that names its account (what `conversions-admin create-api-key` makes): its record is
/// read (strongly) beside the batch of the request's records (eventually consistent), so a
/// create is one read round trip and one write.
#[tokio::test]
async fn with_a_key_that_names_its_account_a_create_is_one_read_round_trip_and_one_write() {
    use conversions::seed::DEMO_CONVERSION_TYPE_ID;
    on_each_backend(|backend| async move {
        let (app, operations, table) = backend.counted_demo_app().await;
        let demo = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        let store = table.store();
        let key = ApiKey::generate_for(demo);
        store.put_api_key(&key.hash(), demo).await.unwrap();
        let minimal = || crate::helpers::fixture_body("create-minimal").to_string();
        let send = |key: &ApiKey, body: String| post_as(key.expose(), body);

        // Init's warm-up: one read of nothing.
        app.store().warm_up().await.unwrap();
        assert_eq!(operations.take(), ["GetItem"], "{}", backend.name);

        // The first request of this client, then warm ones: the same calls.
        for _ in 0..2 {
            let created = app.handle(send(&key, minimal())).await;
            assert_eq!(created.status(), 201, "{}", backend.name);
            assert_eq!(
                operations.take(),
                ["GetItem", "BatchGetItem", "PutItem", "PutItem"],
                "{}",
                backend.name
            );
        }
        let with_run = crate::helpers::fixture_body("create-with-workflow-run").to_string();
        assert_eq!(app.handle(send(&key, with_run)).await.status(), 201);
        assert_eq!(operations.take(), ["GetItem", "BatchGetItem", "PutItem", "PutItem"]);
        // A 400 found by the lookup: the reads (the lead read again strongly before it is
        // called missing), no write.
        let unknown_lead = format!(
            r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"123e4567-e89b-12d3-a456-426614179999","amount":1}}"#
        );
        let refused = app.handle(send(&key, unknown_lead)).await;
        assert_eq!(refused.status(), 400, "{}", backend.name);
        assert_eq!(
            operations.take(),
            ["GetItem", "BatchGetItem", "BatchGetItem"],
            "{}",
            backend.name
        );

        let keyed = || send(&key, minimal()).with_header("idempotency-key", "one-read-1");
        assert_eq!(app.handle(keyed()).await.status(), 201);
        assert_eq!(operations.take(), ["GetItem", "BatchGetItem", "PutItem", "PutItem"]);
        let replayed = app.handle(keyed()).await;
        assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
        assert_eq!(
            operations.take(),
            ["GetItem", "BatchGetItem"],
            "{}: a replay writes nothing",
            backend.name
        );

        // Unknown, another account's claim, revoked: refused after the one read round trip,
        // nothing of the batch used.
        let unknown = ApiKey::generate_for(demo);
        let other = ApiKey::generate_for(AccountId::random());
        store.put_api_key(&other.hash(), demo).await.unwrap();
        let revoked = ApiKey::generate_for(demo);
        store.put_api_key(&revoked.hash(), demo).await.unwrap();
        store.revoke_api_key(&revoked.hash()).await.unwrap();
        for refused in [&unknown, &other, &revoked] {
            let response = app.handle(send(refused, minimal())).await;
            assert_eq!(response.status(), 401, "{}", backend.name);
            assert_eq!(body_json(&response)["error"], "Invalid API key");
            assert_eq!(
                operations.take(),
                ["GetItem", "BatchGetItem"],
                "{}",
                backend.name
            );
        }
        // Revoking the key that works takes effect on the next request.
        store.revoke_api_key(&key.hash()).await.unwrap();
        assert_eq!(app.handle(send(&key, minimal())).await.status(), 401);
        operations.take();

        // A refused payload is answered after the key's own read: 401 before 400.
        let fresh = ApiKey::generate_for(demo);
        store.put_api_key(&fresh.hash(), demo).await.unwrap();
        let bad = format!(r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}"}}"#);
        assert_eq!(app.handle(send(&fresh, bad.clone())).await.status(), 400);
        assert_eq!(operations.take(), ["GetItem"]);
        assert_eq!(app.handle(send(&unknown, bad)).await.status(), 401);
        assert_eq!(operations.take(), ["GetItem"]);
    })
    .await;
}

#[tokio::test]
async fn a_create_costs_one_key_read_one_batch_read_its_change_and_one_conditional_put() {
    on_each_backend(|backend| async move {
        let (app, operations, _) = backend.counted_demo_app().await;
        for name in ["create-minimal", "create-with-workflow-run"] {
            assert_eq!(
                app.handle(fixture(name)).await.status(),
                201,
                "{}",
                backend.name
            );
            assert_eq!(
                operations.take(),
                ["GetItem", "BatchGetItem", "PutItem", "PutItem"],
                "{}: {name}",
                backend.name
            );
        }
        assert_eq!(
            app.handle(fixture("unknown-lead")).await.status(),
            400,
            "{}",
            backend.name
        );
        assert_eq!(
            operations.take(),
            ["GetItem", "BatchGetItem", "BatchGetItem"],
            "{}: the lead read again strongly before it is called missing; nothing is written",
            backend.name
        );
        assert_eq!(
            app.handle(fixture("invalid-currency")).await.status(),
            400,
            "{}",
            backend.name
        );
        assert_eq!(
            operations.take(),
            ["GetItem"],
            "{}: an invalid payload never reaches the lookups",
            backend.name
        );
    })
    .await;
}

#[tokio::test]
async fn a_field_type_this_version_does_not_know_leaves_its_values_unchecked() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        let demo = seed_demo(&store).await.unwrap();
        let mut newer = demo.conversion_type.clone();
        newer.fields.push(FieldDefinition {
            key: "closing_date".into(),
            label: "Closing date".into(),
            field_type: FieldType::from_stored("date"),
        });
        store
            .put(&Record::ConversionType(demo.account.id, newer.clone()))
            .await
            .unwrap();
        let app = App::new(store);
        let body = format!(
            r#"{{"conversion_type_id":"{}","lead_id":"{}","amount":1,"metadata":{{"closing_date":[2026,3,1],"commission":"x"}}}}"#,
            newer.id, demo.lead.id
        );
        let response = app
            .handle(post_as(demo.api_key.expose(), body.clone()))
            .await;
        assert_eq!(
            body_json(&response)["message"],
            "metadata.commission must be a number",
            "{}: the known fields are still checked",
            backend.name
        );
        let response = app
            .handle(post_as(
                demo.api_key.expose(),
                body.replace(r#""commission":"x""#, r#""commission":2"#),
            ))
            .await;
        assert_eq!(
            response.status(),
            201,
            "{}: {}",
            backend.name,
            response.body()
        );
    })
    .await;
}

/// Keys are looked up by their hash only: a key one character off makes the same single lookup
/// as the right key and gets the same 401 as any unknown key, on both kinds of key: one that
/// names its account (a character of its account or of its secret), and the demo key, which does
/// not (characters after its `nxr_live_` prefix: a key without it is refused before any read).
#[tokio::test]
async fn a_key_one_character_off_is_refused_after_the_same_lookup() {
    on_each_backend(|backend| async move {
        let (app, operations, table) = backend.counted_demo_app().await;
        let demo = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        let claimed = ApiKey::generate_for(demo);
        table
            .store()
            .put_api_key(&claimed.hash(), demo)
            .await
            .unwrap();
        let body = || crate::helpers::fixture_body("create-minimal").to_string();
        let demo_key = conversions::seed::DEMO_API_KEY.to_owned();
        let claimed_key = claimed.expose().to_owned();
        // `nxr_live_` + 32 hex digits of the account + `_` + 32 of the secret.
        assert_eq!(claimed_key.len(), 74);
        for (key, lookup, places) in [
            (&claimed_key, &["GetItem", "BatchGetItem"][..], [9, 40, 73]),
            (&demo_key, &["GetItem"][..], [9, 14, 27]),
        ] {
            assert_eq!(app.handle(post_as(key, body())).await.status(), 201);
            assert_eq!(
                operations.take()[..lookup.len()],
                *lookup,
                "{}",
                backend.name
            );
            for at in places {
                let mut off = key.clone().into_bytes();
                off[at] = if off[at] == b'a' { b'b' } else { b'a' };
                let off = String::from_utf8(off).unwrap();
                let response = app.handle(post_as(&off, body())).await;
                assert_eq!(response.status(), 401, "{}: {off}", backend.name);
                assert_eq!(body_json(&response)["error"], "Invalid API key");
                assert_eq!(operations.take(), *lookup, "{}: {off}", backend.name);
            }
        }
    })
    .await;
}
