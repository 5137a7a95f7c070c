//! Corrections on dynalite and moto: every order of restatements and retractions against a
//! model of the state, racing adjustments of one event, `as_of` at every instant between them,
//! lost answers through the fault proxy, and tenant isolation of the new paths.

use std::sync::Arc;
use std::time::Duration;

use conversions::domain::Timestamp;
use conversions::http::{App, Request, Response};
use conversions::store::DynamoStore;
use serde_json::json;

use crate::helpers::proxy::{Fault, FaultProxy};
use crate::helpers::{body_json, demo_call, fixture, function_client, on_each_backend, tenant};

fn call(method: &str, path: &str, body: Option<&str>, key: Option<&str>) -> Request {
    let request = demo_call(method, path, body.map(str::to_owned));
    match key {
        Some(key) => request.with_header("idempotency-key", key),
        None => request,
    }
}

/// Records the `create-minimal` event (85000.00 USD) and returns its id.
async fn record(app: &App<DynamoStore>) -> String {
    let created = app.handle(fixture("create-minimal")).await;
    assert_eq!(created.status(), 201, "{}", created.body());
    body_json(&created)["conversion_event"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn adjust(app: &App<DynamoStore>, id: &str, body: &str, key: Option<&str>) -> Response {
    let path = format!("/conversions/{id}/adjustments");
    app.handle(call("POST", &path, Some(body), key)).await
}

async fn read(app: &App<DynamoStore>, id: &str, query: &str) -> Response {
    let path = format!("/conversions/{id}");
    app.handle(call("GET", &path, None, None).with_query(query))
        .await
}

fn restate(amount: u32) -> String {
    format!(r#"{{"type":"restatement","amount":{amount}}}"#)
}

const RETRACT: &str = r#"{"type":"retraction"}"#;

#[derive(Clone, Copy, Debug)]
enum Step {
    Restate(u32),
    Retract,
}

/// Every sequence of up to three steps of restatements (to 1, 2, 3) and retractions.
fn sequences() -> Vec<Vec<Step>> {
    let mut all: Vec<Vec<Step>> = vec![vec![]];
    let mut last: Vec<Vec<Step>> = vec![vec![]];
    for _ in 0..3 {
        let mut next = Vec::new();
        for seq in &last {
            for step in [Step::Restate(seq.len() as u32 + 1), Step::Retract] {
                let mut longer = seq.clone();
                longer.push(step);
                next.push(longer);
            }
        }
        all.extend(next.iter().cloned());
        last = next;
    }
    all
}

#[tokio::test]
async fn every_order_of_restatements_and_retractions_reaches_the_modelled_state() {
    on_each_backend(|backend| async move {
        let (app, _, _table) = backend.counted_demo_app().await;
        for steps in sequences() {
            let context = format!("{}: {steps:?}", backend.name);
            let id = record(&app).await;
            // The model: the amount to count, and whether a retraction came.
            let (mut amount, mut retracted, mut applied) = (json!(85000.0), false, 0);
            for step in &steps {
                let body = match step {
                    Step::Restate(a) => restate(*a),
                    Step::Retract => RETRACT.to_owned(),
                };
                let response = adjust(&app, &id, &body, None).await;
                if retracted {
                    assert_eq!(response.status(), 409, "{context}");
                    continue;
                }
                assert_eq!(response.status(), 201, "{context}: {}", response.body());
                applied += 1;
                match step {
                    Step::Restate(a) => amount = json!(a),
                    Step::Retract => (amount, retracted) = (json!(0.0), true),
                }
                let event = &body_json(&response)["conversion_event"];
                assert_eq!(event["current_amount"], amount, "{context}");
            }
            let status = match (retracted, applied) {
                (true, _) => "retracted",
                (false, 0) => "recorded",
                (false, _) => "restated",
            };
            let event = &body_json(&read(&app, &id, "").await)["conversion_event"];
            assert_eq!(
                (&event["status"], &event["current_amount"], &event["amount"]),
                (&json!(status), &amount, &json!(85000.0)),
                "{context}"
            );
            assert_eq!(
                event["adjustments"].as_array().unwrap().len(),
                applied,
                "{context}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn adjustments_sent_at_once_apply_one_after_the_other_and_none_is_lost() {
    on_each_backend(|backend| async move {
        let (app, _, _table) = backend.counted_demo_app().await;
        let app = Arc::new(app);
        let id = record(&app).await;
        // moto's server checks a write's condition, then writes, in request threads that
        // interleave: two conditional updates of one item can both pass there (AWS and dynalite
        // apply each atomically). On moto they go one after the other; dynalite shows the race.
        let at_once = backend.name != "moto";
        let mut racers = Vec::new();
        for amount in 1..=8 {
            let (app, id) = (app.clone(), id.clone());
            racers.push(tokio::spawn(async move {
                adjust(&app, &id, &restate(amount), None).await
            }));
            while !at_once && !racers[racers.len() - 1].is_finished() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let mut answers = Vec::new();
        for racer in racers {
            let response = racer.await.unwrap();
            assert_eq!(
                response.status(),
                201,
                "{}: {}",
                backend.name,
                response.body()
            );
            answers.push(body_json(&response));
        }
        let stored = body_json(&read(&app, &id, "").await)["conversion_event"].take();
        let history = stored["adjustments"].as_array().unwrap().clone();
        assert_eq!(
            history.len(),
            8,
            "{}: every adjustment applied",
            backend.name
        );
        for answer in &answers {
            // Each answer shows the state right after its own adjustment: a prefix of the
            // history that ends with it.
            let shown = answer["conversion_event"]["adjustments"]
                .as_array()
                .unwrap();
            assert_eq!(shown[..], history[..shown.len()], "{}", backend.name);
            assert_eq!(
                shown.last(),
                Some(&answer["adjustment"]),
                "{}",
                backend.name
            );
            assert_eq!(
                answer["conversion_event"]["current_amount"], answer["adjustment"]["amount"],
                "{}",
                backend.name
            );
        }
        let mut lengths: Vec<usize> = answers
            .iter()
            .map(|a| {
                a["conversion_event"]["adjustments"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        lengths.sort_unstable();
        assert_eq!(
            lengths,
            (1..=8).collect::<Vec<_>>(),
            "{}: never two on one state",
            backend.name
        );
        assert_eq!(
            stored["current_amount"], history[7]["amount"],
            "{}",
            backend.name
        );
    })
    .await;
}

/// An instant between two steps: the clock moves on around it (instants are milliseconds).
async fn instant_between() -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let at = Timestamp::now().to_string();
    tokio::time::sleep(Duration::from_millis(5)).await;
    at
}

#[tokio::test]
async fn as_of_reads_the_same_state_at_every_instant_between_adjustments() {
    on_each_backend(|backend| async move {
        let (app, _, _table) = backend.counted_demo_app().await;
        let before = instant_between().await;
        let id = record(&app).await;
        let mut instants = vec![(instant_between().await, json!(85000.0), "recorded", 0)];
        for (n, amount) in [70000, 72500].into_iter().enumerate() {
            assert_eq!(
                adjust(&app, &id, &restate(amount), None).await.status(),
                201
            );
            instants.push((instant_between().await, json!(amount), "restated", n + 1));
        }
        assert_eq!(adjust(&app, &id, RETRACT, None).await.status(), 201);
        instants.push((instant_between().await, json!(0.0), "retracted", 3));
        let context = |at: &str| format!("{}: as_of={at}", backend.name);
        assert_eq!(
            read(&app, &id, &format!("as_of={before}")).await.status(),
            404
        );
        let list =
            |query: String| app.handle(call("GET", "/conversions", None, None).with_query(&query));
        assert_eq!(
            body_json(&list(format!("as_of={before}")).await)["total"],
            0
        );
        let mut bodies = Vec::new();
        for (at, amount, status, count) in &instants {
            let response = read(&app, &id, &format!("as_of={at}")).await;
            let event = &body_json(&response)["conversion_event"];
            assert_eq!(
                (&event["status"], &event["current_amount"]),
                (&json!(status), amount),
                "{}",
                context(at)
            );
            assert_eq!(event["adjustments"].as_array().unwrap().len(), *count);
            let listed = body_json(&list(format!("as_of={at}")).await);
            assert_eq!(
                listed["conversion_events"][0]["status"],
                *status,
                "{}",
                context(at)
            );
            bodies.push(response.body().to_owned());
        }
        // A later event changes no earlier answer; every answer reads back byte for byte.
        record(&app).await;
        for ((at, ..), body) in instants.iter().zip(&bodies) {
            assert_eq!(
                read(&app, &id, &format!("as_of={at}")).await.body(),
                body.as_str()
            );
            assert_eq!(
                body_json(&list(format!("as_of={at}")).await)["total"],
                1,
                "{}",
                context(at)
            );
        }
    })
    .await;
}

#[tokio::test]
async fn an_adjustment_whose_answer_is_lost_is_applied_once_and_found_on_retry() {
    on_each_backend(|backend| async move {
        for key in [None, Some("lost-adjustment")] {
            let context = format!("{} with key {key:?}", backend.name);
            let table = backend.demo_table().await;
            let proxy = FaultProxy::start(&backend.endpoint).await;
            let app = App::new(DynamoStore::new(
                function_client(&proxy.endpoint()).await,
                &table.name,
            ));
            let id = record(&app).await;
            proxy.fail("UpdateItem", Fault::DropAnswer, 1);
            let first = adjust(&app, &id, &restate(4200), key).await;
            assert_eq!(first.status(), 201, "{context}: {}", first.body());
            assert_eq!(first.header("idempotent-replayed"), None, "{context}");
            proxy.assert_spent(&context);
            assert_eq!(
                proxy.count("UpdateItem"),
                2,
                "{context}: {:?}",
                proxy.operations()
            );
            let stored = body_json(&read(&app, &id, "").await)["conversion_event"].take();
            assert_eq!(
                stored["adjustments"].as_array().unwrap().len(),
                1,
                "{context}"
            );
            if key.is_some() {
                // The client's own retry, the answer lost again at its read: a replay.
                proxy.fail("BatchGetItem", Fault::DropAnswer, 1);
                let again = adjust(&app, &id, &restate(4200), key).await;
                proxy.assert_spent(&context);
                assert_eq!(
                    again.header("idempotent-replayed"),
                    Some("true"),
                    "{context}"
                );
                assert_eq!(again.body(), first.body(), "{context}");
                let stored = body_json(&read(&app, &id, "").await)["conversion_event"].take();
                assert_eq!(
                    stored["adjustments"].as_array().unwrap().len(),
                    1,
                    "{context}"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn another_account_neither_adjusts_nor_reads_an_adjusted_event_and_keys_stay_apart() {
    on_each_backend(|backend| async move {
        let (app, _, table) = backend.counted_demo_app().await;
        let other = tenant(&table.store()).await;
        let id = record(&app).await;
        let mine = adjust(&app, &id, &restate(1), Some("shared-key")).await;
        assert_eq!(mine.status(), 201);
        let as_other = |request: Request| request.with_header("x-api-key", other.key.expose());
        let path = format!("/conversions/{id}/adjustments");
        let theirs = app
            .handle(as_other(call(
                "POST",
                &path,
                Some(RETRACT),
                Some("shared-key"),
            )))
            .await;
        assert_eq!(theirs.status(), 404, "{}", backend.name);
        for query in [String::new(), format!("as_of={}", Timestamp::now())] {
            let path = format!("/conversions/{id}");
            let read = app
                .handle(as_other(call("GET", &path, None, None)).with_query(&query))
                .await;
            assert_eq!(read.status(), 404, "{}: {query}", backend.name);
        }
        // The same key in the other account is its own: it creates there.
        let body = format!(
            r#"{{"conversion_type_id":"{}","lead_id":"{}","amount":1}}"#,
            other.conversion_type, other.lead
        );
        let created = app
            .handle(as_other(call(
                "POST",
                "/conversions",
                Some(&body),
                Some("shared-key"),
            )))
            .await;
        assert_eq!(
            created.status(),
            201,
            "{}: {}",
            backend.name,
            created.body()
        );
        // An adjustment's id names no event, though its key's hold sits at an event's key.
        let adjustment = body_json(&mine)["adjustment"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            read(&app, &adjustment, "").await.status(),
            404,
            "{}",
            backend.name
        );
        let unchanged = body_json(&read(&app, &id, "").await)["conversion_event"].take();
        assert_eq!(unchanged["status"], "restated", "{}", backend.name);
    })
    .await;
}

#[tokio::test]
async fn an_events_time_to_live_covers_its_adjustments_and_its_adjustment_keys() {
    on_each_backend(|backend| async move {
        let table = backend.demo_table().await;
        let app = App::new(table.store().with_retention(Some(30)));
        let id = record(&app).await;
        let adjusted = adjust(&app, &id, &restate(1), Some("ttl-key")).await;
        assert_eq!(adjusted.status(), 201);
        let account =
            conversions::domain::AccountId::parse(conversions::seed::DEMO_ACCOUNT_ID).unwrap();
        let event = table.event_item(account, id.parse().unwrap()).await;
        // The adjustments are in the event's item: they go when it goes.
        assert!(
            event["adjustments"].as_l().is_ok_and(|l| l.len() == 1),
            "{}",
            backend.name
        );
        let key = body_json(&adjusted)["adjustment"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let claim = table.event_item(account, key).await;
        assert_eq!(
            claim["entity"].as_s().unwrap(),
            "adjustment_key",
            "{}",
            backend.name
        );
        assert_eq!(claim["expires_at"], event["expires_at"], "{}", backend.name);
    })
    .await;
}

#[tokio::test]
async fn a_replay_answers_the_state_after_its_adjustment_and_a_create_key_is_refused() {
    on_each_backend(|backend| async move {
        let (app, _, _table) = backend.counted_demo_app().await;
        let created = app
            .handle(fixture("create-minimal").with_header("idempotency-key", "create-key"))
            .await;
        let id = body_json(&created)["conversion_event"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let first = adjust(&app, &id, &restate(7), Some("first-key")).await;
        assert_eq!(first.status(), 201, "{}: {}", backend.name, first.body());
        assert_eq!(adjust(&app, &id, &restate(8), None).await.status(), 201);
        let replay = adjust(&app, &id, &restate(7), Some("first-key")).await;
        assert_eq!(
            replay.header("idempotent-replayed"),
            Some("true"),
            "{}",
            backend.name
        );
        assert_eq!(replay.body(), first.body(), "{}", backend.name);
        // The key that created this very event: one key space, so a 422.
        let reused = adjust(&app, &id, &restate(9), Some("create-key")).await;
        assert_eq!(reused.status(), 422, "{}: {}", backend.name, reused.body());
    })
    .await;
}

#[tokio::test]
async fn an_adjustment_is_one_read_its_change_and_its_append_and_its_key_one_more_write() {
    on_each_backend(|backend| async move {
        let (app, operations, _table) = backend.counted_demo_app().await;
        let id = record(&app).await;
        operations.take();
        assert_eq!(adjust(&app, &id, &restate(1), None).await.status(), 201);
        // The API key, the event, the feed's change, the append.
        assert_eq!(
            operations.take(),
            ["GetItem", "BatchGetItem", "PutItem", "UpdateItem"],
            "{}",
            backend.name
        );
        assert_eq!(
            adjust(&app, &id, &restate(2), Some("counted"))
                .await
                .status(),
            201
        );
        assert_eq!(
            operations.take(),
            [
                "GetItem",
                "BatchGetItem",
                "PutItem",
                "PutItem",
                "UpdateItem"
            ],
            "{}: the event and the key's holder read together, the key claimed",
            backend.name
        );
        let replay = adjust(&app, &id, &restate(2), Some("counted")).await;
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
        assert_eq!(
            operations.take(),
            ["GetItem", "BatchGetItem"],
            "{}: a replay writes nothing",
            backend.name
        );
    })
    .await;
}
