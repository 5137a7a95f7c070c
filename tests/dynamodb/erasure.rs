//! `erase-lead` and `erase-account` as an operator runs them, on dynalite and moto: afterwards
//! no item of the table holds the erased data (the table itself is the oracle, scanned), no
//! path serves it, everything else is untouched, the receipt counts what was there, a second
//! run finds nothing, and an erasure cut short by failures finishes when run again.

use std::sync::Arc;

use conversions::domain::{AccountId, LeadId, Timestamp};
use conversions::http::{App, Body, Request};
use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID};
use conversions::store::{DynamoStore, Provisioning, Record};
use serde_json::{Value, json};

use crate::admin::Admin;
use crate::helpers::proxy::{Fault, FaultProxy};
use crate::helpers::{Table, body_json, on_each_backend, tenant};
use crate::import::demo_admin;

fn call(key: &str, method: &str, path: &str, body: Option<String>) -> Request {
    let request = Request::new(method, path).with_header("x-api-key", key);
    match body {
        Some(body) => request.with_body(Body::Text(body)),
        None => request,
    }
}

fn create_body(lead: &str) -> String {
    format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{lead}","amount":10}}"#
    )
}

/// Records an event for the lead (with the key, if any) and returns its id.
async fn record(app: &App<DynamoStore>, lead: &str, key: Option<&str>) -> String {
    let mut request = call(
        DEMO_API_KEY,
        "POST",
        "/conversions",
        Some(create_body(lead)),
    );
    if let Some(key) = key {
        request = request.with_header("idempotency-key", key);
    }
    let response = app.handle(request).await;
    assert_eq!(response.status(), 201, "{}", response.body());
    body_json(&response)["conversion_event"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn adjust(app: &App<DynamoStore>, id: &str, body: &str, key: Option<&str>) {
    let path = format!("/conversions/{id}/adjustments");
    let mut request = call(DEMO_API_KEY, "POST", &path, Some(body.to_owned()));
    if let Some(key) = key {
        request = request.with_header("idempotency-key", key);
    }
    let response = app.handle(request).await;
    assert_eq!(response.status(), 201, "{}", response.body());
}

const REASON: &str = "Ana Souza asked for a refund by phone";

/// The demo lead's events (one keyed and restated with a keyed adjustment whose reason names a
/// person, one retracted), and another lead with events of its own.
struct Scene {
    erased_events: Vec<String>,
    kept_lead: LeadId,
}

async fn scene(app: &App<DynamoStore>, table: &Table) -> Scene {
    let kept_lead = LeadId::random();
    table
        .store()
        .put(&Record::Lead(
            AccountId::parse(DEMO_ACCOUNT_ID).unwrap(),
            conversions::domain::Lead {
                id: kept_lead,
                created_at: Timestamp::now(),
            },
        ))
        .await
        .unwrap();
    let keyed = record(app, DEMO_LEAD_ID, Some("erase-create")).await;
    let restatement = format!(r#"{{"type":"restatement","amount":5,"reason":"{REASON}"}}"#);
    adjust(app, &keyed, &restatement, Some("erase-adjust")).await;
    let retracted = record(app, DEMO_LEAD_ID, None).await;
    adjust(app, &retracted, r#"{"type":"retraction"}"#, None).await;
    let plain = record(app, DEMO_LEAD_ID, None).await;
    for _ in 0..2 {
        record(app, &kept_lead.to_string(), None).await;
    }
    Scene {
        erased_events: vec![keyed, retracted, plain],
        kept_lead,
    }
}

#[tokio::test]
async fn erasing_a_lead_leaves_nothing_of_it_while_other_leads_keep_recording() {
    on_each_backend(|backend| async move {
        let admin = demo_admin(&backend);
        let table = Table::on(&backend, &admin.table);
        let app = Arc::new(admin.app());
        let scene = scene(&app, &table).await;
        let kept = scene.kept_lead.to_string();
        // Creates for another lead go on during the erasure.
        let writer = {
            let (app, kept) = (app.clone(), kept.clone());
            tokio::spawn(async move {
                for _ in 0..20 {
                    record(&app, &kept, None).await;
                }
            })
        };
        let args = ["erase-lead", "--account", DEMO_ACCOUNT_ID, "--lead", DEMO_LEAD_ID];
        let output = tokio::task::spawn_blocking({
            let admin_table = admin.table.clone();
            let backend = backend.clone();
            move || {
                Admin::on(&backend, &admin_table).run(&args)
            }
        })
        .await
        .unwrap();
        writer.await.unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(output.status.success(), "{}: {stderr}", backend.name);
        let receipt: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(
            receipt["deleted"],
            json!({"conversion_events": 3, "adjustment_keys": 1, "changes": 5, "workflow_runs": 1, "leads": 1,
                   "conversion_types": 0, "api_keys": 0, "accounts": 0}),
            "{}",
            backend.name
        );
        assert_eq!((&receipt["erased"], &receipt["account_id"]), (&json!("lead"), &json!(DEMO_ACCOUNT_ID)));
        assert!(Timestamp::parse(receipt["finished_at"].as_str().unwrap()).unwrap()
            >= Timestamp::parse(receipt["started_at"].as_str().unwrap()).unwrap());
        for said in [&stdout, &stderr] {
            assert!(!said.contains(DEMO_LEAD_ID) && !said.contains(REASON), "{said}");
        }

        // The table is the oracle: nothing holds the lead, its events, or what was said of them,
        // but the feed's notice of the erasure, with the lead's id alone.
        let (notices, rest): (Vec<_>, Vec<_>) = table.items().await.into_iter().partition(|item| {
            item.get("type").and_then(|t| t.as_s().ok()).is_some_and(|t| t == "lead.erased")
        });
        assert_eq!(notices.len(), 1, "{}", backend.name);
        let mut names: Vec<&str> = notices[0].keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["entity", "format", "lead_id", "pk", "sk", "type"], "{}", backend.name);
        let everything = format!("{rest:?}");
        for erased in [DEMO_LEAD_ID, REASON].iter().chain(scene.erased_events.iter().map(|s| s.as_str()).collect::<Vec<_>>().iter()) {
            assert!(!everything.contains(erased), "{}: {erased} is still stored", backend.name);
        }
        let account = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        assert_eq!(table.count_events(account).await, 22, "{}: the other lead's, all of them", backend.name);

        // No path serves it.
        let now = Timestamp::now().to_string();
        for id in &scene.erased_events {
            for query in ["", &format!("as_of={now}")] {
                let path = format!("/conversions/{id}");
                let read = app.handle(call(DEMO_API_KEY, "GET", &path, None).with_query(query)).await;
                assert_eq!(read.status(), 404, "{}: {path}?{query}", backend.name);
            }
        }
        let listed = app
            .handle(call(DEMO_API_KEY, "GET", "/conversions", None).with_query(&format!("lead_id={DEMO_LEAD_ID}")))
            .await;
        assert_eq!(body_json(&listed)["total"], 0, "{}", backend.name);
        let listed = app
            .handle(call(DEMO_API_KEY, "GET", "/conversions", None).with_query(&format!("as_of={now}")))
            .await;
        assert_eq!(body_json(&listed)["total"], 22, "{}", backend.name);
        // A resend of an erased event's key is a new request, for a lead that is gone.
        let resent = app
            .handle(
                call(DEMO_API_KEY, "POST", "/conversions", Some(create_body(DEMO_LEAD_ID)))
                    .with_header("idempotency-key", "erase-create"),
            )
            .await;
        assert_eq!(resent.status(), 400, "{}", backend.name);
        assert_eq!(
            body_json(&resent)["message"],
            conversions::domain::ReferenceError::Lead.to_string()
        );
        let batch = format!(
            r#"{{"events":[{{"idempotency_key":"erase-create","conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":10}}]}}"#
        );
        let resent = app.handle(call(DEMO_API_KEY, "POST", "/conversions/batch", Some(batch))).await;
        assert_eq!(body_json(&resent)["results"][0]["status"], "invalid", "{}", backend.name);
        let path = format!("/conversions/{}/adjustments", scene.erased_events[0]);
        let replay = app
            .handle(
                call(DEMO_API_KEY, "POST", &path, Some(r#"{"type":"retraction"}"#.into()))
                    .with_header("idempotency-key", "erase-adjust"),
            )
            .await;
        assert_eq!(replay.status(), 404, "{}", backend.name);

        // Again: nothing left to erase.
        let again = admin.ok(&args);
        assert_eq!(again["deleted"]["conversion_events"], 0, "{}", backend.name);
        assert_eq!(again["deleted"]["leads"], 0, "{}", backend.name);
    })
    .await;
}

#[tokio::test]
async fn erasing_an_account_stops_its_keys_and_leaves_nothing_of_it() {
    on_each_backend(|backend| async move {
        let admin = demo_admin(&backend);
        let table = Table::on(&backend, &admin.table);
        let app = admin.app();
        let other = tenant(&table.store()).await;
        let key = other.key.expose().to_owned();
        let body = format!(
            r#"{{"conversion_type_id":"{}","lead_id":"{}","amount":1}}"#,
            other.conversion_type, other.lead
        );
        let created = app
            .handle(
                call(&key, "POST", "/conversions", Some(body)).with_header("idempotency-key", "k"),
            )
            .await;
        let id = body_json(&created)["conversion_event"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/conversions/{id}/adjustments");
        let adjusted = app
            .handle(
                call(&key, "POST", &path, Some(r#"{"type":"retraction"}"#.into()))
                    .with_header("idempotency-key", "a"),
            )
            .await;
        assert_eq!(adjusted.status(), 201);
        record(&app, DEMO_LEAD_ID, None).await;

        let account = other.account.to_string();
        let receipt = admin.ok(&["erase-account", "--account", &account]);
        assert_eq!(
            receipt["deleted"],
            json!({"conversion_events": 1, "adjustment_keys": 1, "changes": 2, "workflow_runs": 1,
                   "leads": 1, "conversion_types": 1, "api_keys": 1, "accounts": 1}),
            "{}",
            backend.name
        );
        let refused = app
            .handle(call(&key, "GET", "/conversion-types", None))
            .await;
        assert_eq!(refused.status(), 401, "{}", backend.name);
        let everything = table.dump().await;
        for erased in [account.as_str(), other.key.hash().as_str(), &id] {
            assert!(
                !everything.contains(erased),
                "{}: {erased} is still stored",
                backend.name
            );
        }
        let demo = app
            .handle(call(DEMO_API_KEY, "GET", "/conversions", None))
            .await;
        assert_eq!(
            body_json(&demo)["total"],
            1,
            "{}: the demo account is untouched",
            backend.name
        );
        let again = admin.ok(&["erase-account", "--account", &account]);
        assert_eq!(again["deleted"]["accounts"], 0, "{}", backend.name);
    })
    .await;
}

#[tokio::test]
async fn an_erasure_throttled_backs_off_and_one_cut_short_finishes_when_run_again() {
    on_each_backend(|backend| async move {
        let admin = demo_admin(&backend);
        let table = Table::on(&backend, &admin.table);
        let app = admin.app();
        for _ in 0..30 {
            record(&app, DEMO_LEAD_ID, None).await;
        }
        let args = [
            "erase-lead",
            "--account",
            DEMO_ACCOUNT_ID,
            "--lead",
            DEMO_LEAD_ID,
        ];
        let proxy = FaultProxy::start(&backend.endpoint).await;
        // Throttled past the SDK's own retries: backed off, and finished.
        proxy.fail(
            "DeleteItem",
            Fault::Error {
                status: 400,
                code: "ThrottlingException",
            },
            4,
        );
        let endpoint = proxy.endpoint();
        let run = |args: [&'static str; 5]| {
            let (admin_table, backend, endpoint) =
                (admin.table.clone(), backend.clone(), endpoint.clone());
            tokio::task::spawn_blocking(move || {
                Admin::on(&backend, &admin_table).run_at(&endpoint, &args)
            })
        };
        let output = run(args).await.unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            backend.name,
            String::from_utf8_lossy(&output.stderr)
        );
        proxy.assert_spent(&backend.name);
        let receipt: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            receipt["deleted"]["conversion_events"], 30,
            "{}",
            backend.name
        );

        // Cut short by a failure no retry fixes: exit 1, then run again to the end.
        let lead = conversions::domain::Lead {
            id: LeadId::parse(DEMO_LEAD_ID).unwrap(),
            created_at: Timestamp::now(),
        };
        let account = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        table
            .store()
            .put(&Record::Lead(account, lead))
            .await
            .unwrap();
        for _ in 0..30 {
            record(&app, DEMO_LEAD_ID, None).await;
        }
        proxy.fail(
            "DeleteItem",
            Fault::Error {
                status: 400,
                code: "ValidationException",
            },
            1,
        );
        let output = run(args).await.unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", backend.name);
        proxy.assert_spent(&backend.name);
        assert!(
            table
                .count_events(AccountId::parse(DEMO_ACCOUNT_ID).unwrap())
                .await
                > 0
        );
        let output = run(args).await.unwrap();
        assert!(output.status.success(), "{}", backend.name);
        assert_eq!(
            table
                .count_events(AccountId::parse(DEMO_ACCOUNT_ID).unwrap())
                .await,
            0,
            "{}",
            backend.name
        );
    })
    .await;
}
