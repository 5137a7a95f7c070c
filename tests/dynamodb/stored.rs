//! Stored data stays readable, and nothing read under an unverified claim is looked at.
//!
//! - Items of every format (`tests/data/stored-items.json`, written by hand, not by today's
//!   code) read by id, in lists and by replay, on both servers; today's request limits never
//!   apply to what was stored.
//! - A key that names its account is checked before anything read under that account is
//!   parsed: a forged key with the `Idempotency-Key` of an unreadable item is a 401, not a 500.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use conversions::domain::{AccountId, IdempotencyKey};
use conversions::http::{Body, Request, Response};
use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_API_KEY, seed_demo};

use crate::helpers::{Table, body_json, body_text, fixture, on_each_backend, post_as};

/// A DynamoDB JSON attribute value (`{"S": ...}`, `{"N": ...}`, ...), as the SDK holds it.
fn attribute(json: &serde_json::Value) -> AttributeValue {
    let (kind, value) = json.as_object().unwrap().iter().next().unwrap();
    match kind.as_str() {
        "S" => AttributeValue::S(value.as_str().unwrap().to_owned()),
        "N" => AttributeValue::N(value.as_str().unwrap().to_owned()),
        "BOOL" => AttributeValue::Bool(value.as_bool().unwrap()),
        "L" => AttributeValue::L(value.as_array().unwrap().iter().map(attribute).collect()),
        "M" => AttributeValue::M(item(value)),
        other => panic!("a kind the fixtures do not use: {other}"),
    }
}

fn item(json: &serde_json::Value) -> HashMap<String, AttributeValue> {
    json.as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), attribute(value)))
        .collect()
}

fn stored_items() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/stored-items.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn put_raw(table: &Table, item: HashMap<String, AttributeValue>) {
    table
        .client
        .put_item()
        .table_name(&table.name)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

fn get(path: &str, key: &str) -> Request {
    Request::new("GET", path).with_header("x-api-key", key)
}

fn keyed(key: &str, api_key: &str, body: &str) -> Request {
    post_as(api_key, body.to_owned()).with_header("idempotency-key", key)
}

fn status(response: &Response) -> u16 {
    response.status().as_u16()
}

#[tokio::test]
async fn items_of_every_format_read_by_id_in_lists_and_by_replay() {
    let fixtures = &stored_items();
    let replay_body = fixtures["replay_body"].as_str().unwrap();
    on_each_backend(|backend| async move {
        let (app, _, table) = backend.counted_demo_app().await;
        let name = &backend.name;
        for (_, stored) in fixtures["items"].as_object().unwrap() {
            put_raw(&table, item(stored)).await;
        }
        let id = |which: &str| fixtures["items"][which]["id"]["S"].as_str().unwrap();

        for which in ["untagged", "format-1", "beyond-request-limits"] {
            let response = app
                .handle(get(&format!("/conversions/{}", id(which)), DEMO_API_KEY))
                .await;
            assert_eq!(status(&response), 200, "{name}: {which}");
            let event = &body_json(&response)["conversion_event"];
            assert_eq!(event["id"], id(which), "{name}: {which}");
            assert_eq!(
                event["conversion_types"]["name"], "Reserva",
                "{name}: {which}"
            );
        }
        let beyond = app
            .handle(get(
                &format!("/conversions/{}", id("beyond-request-limits")),
                DEMO_API_KEY,
            ))
            .await;
        assert!(
            body_text(&beyond).contains(r#""amount":12345678901234567.125,"#),
            "{name}: the amount's digits, past today's bound"
        );
        let beyond = &body_json(&beyond)["conversion_event"];
        assert_eq!(beyond["notes"].as_str().unwrap().len(), 6000, "{name}");
        assert_eq!(beyond["metadata"].as_object().unwrap().len(), 62, "{name}");
        let mut deep = &beyond["metadata"]["deep"];
        for _ in 0..40 {
            deep = &deep["d"];
        }
        assert_eq!(deep["v"], 1, "{name}: 41 levels, kept");

        let list = app.handle(get("/conversions", DEMO_API_KEY)).await;
        assert_eq!(status(&list), 200, "{name}");
        let list = body_json(&list);
        let listed: Vec<&str> = list["conversion_events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            listed,
            [id("untagged"), id("format-1"), id("beyond-request-limits")],
            "{name}: newest first"
        );
        assert_eq!(list["total"], 3, "{name}");

        for (key, which) in [
            ("stored-untagged", "untagged"),
            ("stored-format-1", "format-1"),
        ] {
            let replayed = app.handle(keyed(key, DEMO_API_KEY, replay_body)).await;
            assert_eq!(
                status(&replayed),
                201,
                "{name}: {which}: {:?}",
                replayed.body()
            );
            assert_eq!(
                replayed.header("idempotent-replayed"),
                Some("true"),
                "{name}"
            );
            assert_eq!(body_json(&replayed)["conversion_event"]["id"], id(which));
            let other = replay_body.replace("1200.50", "1200.5");
            let refused = app.handle(keyed(key, DEMO_API_KEY, &other)).await;
            assert_eq!(status(&refused), 422, "{name}: {which}: the digits differ");
        }
        assert_eq!(
            table.count_events(demo()).await,
            3,
            "{name}: nothing written"
        );
    })
    .await;
}

/// What a later version may write beside an event (here a request fingerprint of a scheme this
/// one does not know) never makes it unreadable: read by id and replayed, judged by the event.
#[tokio::test]
async fn an_event_with_a_fingerprint_of_an_unknown_scheme_reads_and_replays() {
    let fixtures = &stored_items();
    let replay_body = fixtures["replay_body"].as_str().unwrap();
    on_each_backend(|backend| async move {
        let (app, _, table) = backend.counted_demo_app().await;
        let name = &backend.name;
        let key = "stored-later-scheme";
        let id = IdempotencyKey::parse(key.as_bytes())
            .unwrap()
            .event_id(demo());
        let mut later = item(&fixtures["items"]["format-1"]);
        let fingerprint = format!("2:{}", "e".repeat(64));
        for (attribute, value) in [
            ("id", id.to_string()),
            ("sk", format!("CONVERSION_EVENT#{id}")),
            (
                "converted_sk",
                format!("2026-01-20T10:00:00.000000000Z#{id}"),
            ),
            ("request_fingerprint", fingerprint),
        ] {
            later.insert(attribute.into(), AttributeValue::S(value));
        }
        put_raw(&table, later).await;
        let read = app
            .handle(get(&format!("/conversions/{id}"), DEMO_API_KEY))
            .await;
        assert_eq!(status(&read), 200, "{name}: {:?}", read.body());
        let replayed = app.handle(keyed(key, DEMO_API_KEY, replay_body)).await;
        assert_eq!(status(&replayed), 201, "{name}: {:?}", replayed.body());
        assert_eq!(
            replayed.header("idempotent-replayed"),
            Some("true"),
            "{name}"
        );
        let other = replay_body.replace("1200.50", "1200.5");
        let refused = app.handle(keyed(key, DEMO_API_KEY, &other)).await;
        assert_eq!(status(&refused), 422, "{name}: {:?}", refused.body());
        assert_eq!(
            table.count_events(demo()).await,
            1,
            "{name}: nothing written"
        );
    })
    .await;
}

fn demo() -> AccountId {
    AccountId::parse(DEMO_ACCOUNT_ID).unwrap()
}

#[tokio::test]
async fn a_forged_key_is_refused_before_an_unreadable_item_is_parsed() {
    on_each_backend(|backend| async move {
        let table = backend.fresh_table().await;
        seed_demo(&table.store()).await.unwrap();
        let name = &backend.name;
        // The event an Idempotency-Key addresses, unreadable (its amount is no number).
        let idempotency_key = "probe";
        let event_id = IdempotencyKey::parse(idempotency_key.as_bytes())
            .unwrap()
            .event_id(demo());
        let mut unreadable = item(&stored_items()["items"]["format-1"]);
        unreadable.insert(
            "sk".into(),
            AttributeValue::S(format!("CONVERSION_EVENT#{event_id}")),
        );
        unreadable.insert("amount_text".into(), AttributeValue::S("no number".into()));
        put_raw(&table, unreadable).await;
        let app = conversions::http::App::new(table.store());
        let body = match fixture("create-minimal").body() {
            Body::Text(text) => text.clone(),
            other => panic!("{other:?}"),
        };

        // A key in the form that names its account, the demo account's, with no record.
        let forged = format!(
            "nxr_live_{}_{}",
            demo().as_uuid().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let response = app.handle(keyed(idempotency_key, &forged, &body)).await;
        assert_eq!(status(&response), 401, "{name}: {:?}", response.body());
        // The real key reaches the item, which is what the forged one must not tell.
        let response = app
            .handle(keyed(idempotency_key, DEMO_API_KEY, &body))
            .await;
        assert_eq!(status(&response), 500, "{name}: {:?}", response.body());
    })
    .await;
}
