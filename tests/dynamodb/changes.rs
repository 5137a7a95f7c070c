//! The change feed on dynalite and moto: followed while many writers record (single creates,
//! batches, an import with last year's dates, adjustments) and the fault proxy delays some of
//! their writes, it serves every stored event's create and every stored adjustment exactly once,
//! in the order recorded; a follower without the lag misses some (the delays bite). Erasure
//! through the admin CLI.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use conversions::domain::{
    AccountId, CHANGE_WRITE_WITHIN, ChangeCursor, EventId, FeedPosition, LeadId, Timestamp,
    WriteToken,
};
use conversions::http::{App, Request};
use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID};
use conversions::store::{DynamoStore, NewEvent, Provisioning, Record, Store, StoreError};
use serde_json::{Value, json};

use crate::admin::Admin;
use crate::helpers::proxy::{Fault, FaultProxy};
use crate::helpers::{
    Table, body_json, demo_call, demo_event, function_client, on_each_backend, post_as, tenant,
};
use crate::import::{ScratchDir, demo_admin};

/// Longer than any write here takes from its stamp to its landing (two delayed puts, an import
/// chunk's writes), as `CHANGES_LAG` is for the function's own bounds.
const LAG: Duration = Duration::from_secs(8);
const DELAY: Duration = Duration::from_secs(1);

fn call(method: &str, path: &str, query: &str, body: Option<String>) -> Request {
    demo_call(method, path, body).with_query(query)
}

fn conversion(converted_at: &str) -> Value {
    json!({
        "conversion_type_id": DEMO_CONVERSION_TYPE_ID,
        "lead_id": DEMO_LEAD_ID,
        "amount": 12.5,
        "converted_at": converted_at,
    })
}

/// A follower's place and what it was served.
#[derive(Default)]
struct Follower {
    cursor: Option<String>,
    served: Vec<Value>,
}

impl Follower {
    /// Pages until one comes back empty.
    async fn catch_up(&mut self, app: &App<DynamoStore>) {
        loop {
            let query = match &self.cursor {
                Some(cursor) => format!("after={cursor}&limit=25"),
                None => "limit=25".to_owned(),
            };
            let response = app
                .handle(call("GET", "/conversions/changes", &query, None))
                .await;
            assert_eq!(response.status(), 200, "{}", response.body());
            let body = body_json(&response);
            self.cursor = Some(body["next_cursor"].as_str().unwrap().to_owned());
            let changes = body["changes"].as_array().unwrap();
            if changes.is_empty() {
                return;
            }
            self.served.extend(changes.iter().cloned());
        }
    }

    /// Each served change by kind and subject: (type, event id, adjustment id or "").
    fn subjects(&self) -> Vec<(String, String, String)> {
        (self.served.iter())
            .map(|c| {
                let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                (
                    text(&c["type"]),
                    text(&c["conversion_event"]["id"]),
                    text(&c["adjustment"]["id"]),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn a_follower_gets_every_change_once_in_order_from_many_writers_with_delayed_writes() {
    on_each_backend(|backend| async move {
        let name = backend.name.clone();
        let admin = demo_admin(&backend);
        let table = Table::on(&backend, &admin.table);
        let account = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        let proxy = Arc::new(FaultProxy::start(&backend.endpoint).await);
        let writer = Arc::new(App::new(DynamoStore::new(
            function_client(&proxy.endpoint()).await,
            &admin.table,
        )));
        let follower_app = App::new(table.store()).with_changes_lag(LAG);
        let blind_app = App::new(table.store()).with_changes_lag(Duration::ZERO);

        let mut writers = Vec::new();
        // The lag measured: the longest from a create's stamp (its created_at) to its answer.
        let slowest = Arc::new(std::sync::Mutex::new(Duration::ZERO));
        for w in 0..6 {
            let (app, slowest) = (Arc::clone(&writer), Arc::clone(&slowest));
            writers.push(tokio::spawn(async move {
                for i in 0..6 {
                    let at = if i % 2 == 0 {
                        "2026-03-01T10:00:00Z"
                    } else {
                        "2024-06-01T00:00:00Z"
                    };
                    let body = conversion(at).to_string();
                    let created = app
                        .handle(call("POST", "/conversions", "", Some(body)))
                        .await;
                    assert_eq!(created.status(), 201, "writer {w}: {}", created.body());
                    let stamp = body_json(&created)["conversion_event"]["created_at"].clone();
                    let stamp = Timestamp::parse(stamp.as_str().unwrap()).unwrap();
                    let took = (Timestamp::now().as_datetime() - stamp.as_datetime()).to_std();
                    {
                        let mut slowest = slowest.lock().unwrap();
                        *slowest = (*slowest).max(took.unwrap_or_default());
                    }
                    if (w + i) % 3 == 0 {
                        let id = body_json(&created)["conversion_event"]["id"]
                            .as_str()
                            .unwrap()
                            .to_owned();
                        let path = format!("/conversions/{id}/adjustments");
                        let restate =
                            json!({"type": "restatement", "amount": w * 10 + i}).to_string();
                        let adjusted = app.handle(call("POST", &path, "", Some(restate))).await;
                        assert_eq!(adjusted.status(), 201, "{}", adjusted.body());
                    }
                }
            }));
        }
        for b in 0..2 {
            let app = Arc::clone(&writer);
            writers.push(tokio::spawn(async move {
                let rows: Vec<Value> = (0..10)
                    .map(|i| {
                        let mut row = conversion("2025-01-01T00:00:00Z");
                        row["idempotency_key"] = json!(format!("batch-{b}-{i}"));
                        row
                    })
                    .collect();
                let body = json!({ "events": rows }).to_string();
                let answer = app
                    .handle(call("POST", "/conversions/batch", "", Some(body)))
                    .await;
                assert_eq!(body_json(&answer)["counts"]["created"], 10);
            }));
        }
        let dir = ScratchDir::new();
        let file = dir.path().join("old.csv");
        let mut text =
            String::from("idempotency_key,conversion_type_id,lead_id,amount,converted_at\n");
        for i in 0..12 {
            text += &format!(
                "import-{i},{DEMO_CONVERSION_TYPE_ID},{DEMO_LEAD_ID},3.{i},2023-0{}-01T00:00:00Z\n",
                1 + i % 9
            );
        }
        std::fs::write(&file, text).unwrap();
        let importer = {
            let (endpoint, table_name, file) =
                (proxy.endpoint(), admin.table.clone(), file.clone());
            let backend = backend.clone();
            tokio::task::spawn_blocking(move || {
                let args = [
                    "import",
                    "conversions",
                    file.to_str().unwrap(),
                    "--account",
                    DEMO_ACCOUNT_ID,
                ];
                let output = Admin::on(&backend, &table_name).run_at(&endpoint, &args);
                assert!(
                    output.status.success(),
                    "{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            })
        };
        // While they write, one put in flight at a time is held back a second.
        let writing = Arc::new(AtomicBool::new(true));
        let delayer = {
            let (proxy, writing) = (Arc::clone(&proxy), Arc::clone(&writing));
            tokio::spawn(async move {
                while writing.load(Ordering::Relaxed) {
                    proxy.fail("PutItem", Fault::Delay(DELAY), 1);
                    tokio::time::sleep(Duration::from_millis(120)).await;
                }
            })
        };
        let (mut follower, mut blind) = (Follower::default(), Follower::default());
        let mut pending: Vec<_> = writers;
        pending.push(importer);
        while pending.iter().any(|w| !w.is_finished()) {
            follower.catch_up(&follower_app).await;
            blind.catch_up(&blind_app).await;
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        for writer in pending {
            writer.await.unwrap();
        }
        writing.store(false, Ordering::Relaxed);
        delayer.await.unwrap();
        assert!(proxy.injected("PutItem") >= 5, "{name}: the delays fired");
        let slowest = *slowest.lock().unwrap();
        println!("{name}: the slowest create was answered {slowest:?} after its stamp");
        assert!(slowest >= DELAY && slowest < LAG, "{name}: {slowest:?}");
        // Every write has landed; a lag later, everything is served.
        tokio::time::sleep(LAG + DELAY).await;
        follower.catch_up(&follower_app).await;
        blind.catch_up(&blind_app).await;

        // The oracle: the table itself.
        let store = table.store();
        let mut expected = BTreeSet::new();
        let events = table.stored_event_ids(account).await;
        assert_eq!(events.len(), 6 * 6 + 2 * 10 + 12, "{name}");
        for id in events.keys() {
            expected.insert(("conversion.created".to_owned(), id.clone(), String::new()));
            let stored = store
                .get_event(account, EventId::parse(id).unwrap())
                .await
                .unwrap()
                .unwrap();
            for a in stored.adjustments {
                expected.insert((
                    "conversion.adjusted".to_owned(),
                    id.clone(),
                    a.id.to_string(),
                ));
            }
        }
        let served = follower.subjects();
        let once: BTreeSet<_> = served.iter().cloned().collect();
        assert_eq!(once.len(), served.len(), "{name}: served twice");
        assert_eq!(once, expected, "{name}");
        // In the order recorded: by instant, an event's create before its adjustments.
        let instants: Vec<Timestamp> = (follower.served.iter())
            .map(|c| Timestamp::parse(c["recorded_at"].as_str().unwrap()).unwrap())
            .collect();
        assert!(instants.is_sorted(), "{name}");
        let mut created = BTreeMap::new();
        for (n, (kind, event, _)) in served.iter().enumerate() {
            match kind.as_str() {
                "conversion.created" => drop(created.insert(event.clone(), n)),
                _ => assert!(
                    created.get(event).is_some_and(|c| *c < n),
                    "{name}: {event}"
                ),
            }
        }
        // Without the lag, a reader passes changes whose writes were still on their way.
        let seen_blind: BTreeSet<_> = blind.subjects().into_iter().collect();
        assert!(seen_blind.is_subset(&expected), "{name}");
        assert!(
            seen_blind.len() < expected.len(),
            "{name}: the lagless reader missed none"
        );
    })
    .await;
}

#[tokio::test]
async fn an_erased_leads_changes_are_deleted_and_each_erasure_that_erased_is_announced() {
    on_each_backend(|backend| async move {
        let name = backend.name.clone();
        let admin = demo_admin(&backend);
        let table = Table::on(&backend, &admin.table);
        let account = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        let lead = LeadId::random();
        let store = table.store();
        let record = Record::Lead(
            account,
            conversions::domain::Lead {
                id: lead,
                created_at: Timestamp::now(),
            },
        );
        store.create(&record).await.unwrap();
        let app = App::new(table.store()).with_changes_lag(Duration::ZERO);
        let mut body = conversion("2026-03-01T10:00:00Z");
        body["lead_id"] = json!(lead.to_string());
        let created = app
            .handle(call("POST", "/conversions", "", Some(body.to_string())))
            .await;
        assert_eq!(created.status(), 201);
        let erased = body_json(&created)["conversion_event"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/conversions/{erased}/adjustments");
        let retract = app
            .handle(call(
                "POST",
                &path,
                "",
                Some(r#"{"type":"retraction"}"#.into()),
            ))
            .await;
        assert_eq!(retract.status(), 201);
        let kept = app
            .handle(call(
                "POST",
                "/conversions",
                "",
                Some(conversion("2026-03-01T10:00:00Z").to_string()),
            ))
            .await;
        assert_eq!(kept.status(), 201);
        let kept = body_json(&kept)["conversion_event"]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let lead_text = lead.to_string();
        let receipt = admin.ok(&[
            "erase-lead",
            "--account",
            DEMO_ACCOUNT_ID,
            "--lead",
            &lead_text,
        ]);
        assert_eq!(receipt["deleted"]["changes"], 2, "{name}: {receipt}");
        // Run again: nothing left to erase, nothing recorded again.
        admin.ok(&[
            "erase-lead",
            "--account",
            DEMO_ACCOUNT_ID,
            "--lead",
            &lead_text,
        ]);

        tokio::time::sleep(Duration::from_millis(5)).await;
        let mut follower = Follower::default();
        follower.catch_up(&app).await;
        let kinds: Vec<&str> = follower
            .served
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["conversion.created", "lead.erased"], "{name}");
        assert_eq!(follower.served[0]["conversion_event"]["id"], kept.as_str());
        assert_eq!(follower.served[1]["lead_id"], lead_text.as_str());
        let dump = table.dump().await;
        assert!(
            !dump.contains(&erased),
            "{name}: the erased event's id is still stored"
        );

        // An event of the lead that landed after its erasure (written as a late write would
        // be): erased by the next run, which announces the erasure again, with the same id.
        let late = demo_event(lead, Timestamp::now());
        let new = NewEvent {
            event: &late,
            write_token: WriteToken::random(),
        };
        store.insert_event(account, new).await.unwrap();
        let again = admin.ok(&[
            "erase-lead",
            "--account",
            DEMO_ACCOUNT_ID,
            "--lead",
            &lead_text,
        ]);
        assert_eq!(again["deleted"]["conversion_events"], 1, "{name}: {again}");
        tokio::time::sleep(Duration::from_millis(5)).await;
        follower.catch_up(&app).await;
        let kinds: Vec<&str> = (follower.served.iter().skip(2))
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["lead.erased"],
            "{name}: the late event's create is gone"
        );
        assert_ne!(follower.served[2]["id"], follower.served[1]["id"], "{name}");
        assert_eq!(follower.served[2]["lead_id"], lead_text.as_str(), "{name}");
    })
    .await;
}

#[tokio::test]
async fn a_change_too_late_to_be_written_is_refused_and_nothing_is_written() {
    on_each_backend(|backend| async move {
        let name = backend.name.clone();
        let table = backend.demo_table().await;
        let store = table.store();
        let account = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        let late = Timestamp::now().minus(CHANGE_WRITE_WITHIN + Duration::from_secs(1));
        let lead = LeadId::parse(DEMO_LEAD_ID).unwrap();
        for (created_at, written) in [(late, false), (Timestamp::now(), true)] {
            let event = demo_event(lead, created_at);
            let new = NewEvent {
                event: &event,
                write_token: WriteToken::random(),
            };
            let result = store.insert_event(account, new).await;
            assert_eq!(result.is_ok(), written, "{name}: {result:?}");
            if !written {
                assert!(matches!(result, Err(StoreError::Unavailable(_))), "{name}");
            }
        }
        let changes = (table.items().await.iter())
            .filter(|i| {
                i.get("entity")
                    .and_then(|e| e.as_s().ok())
                    .is_some_and(|e| e == "change")
            })
            .count();
        assert_eq!(
            (table.count_events(account).await, changes),
            (1, 1),
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn each_account_follows_its_own_changes_only() {
    on_each_backend(|backend| async move {
        let name = backend.name.clone();
        let table = backend.demo_table().await;
        let store = table.store();
        let other = tenant(&store).await;
        let app = App::new(table.store()).with_changes_lag(Duration::ZERO);
        let demo = app
            .handle(call(
                "POST",
                "/conversions",
                "",
                Some(conversion("2026-03-01T10:00:00Z").to_string()),
            ))
            .await;
        assert_eq!(demo.status(), 201);
        let body = json!({
            "conversion_type_id": other.conversion_type.to_string(),
            "lead_id": other.lead.to_string(),
            "amount": 5000,
        });
        let theirs = app
            .handle(post_as(other.key.expose(), body.to_string()))
            .await;
        assert_eq!(theirs.status(), 201, "{}", theirs.body());
        tokio::time::sleep(Duration::from_millis(5)).await;
        let mut follower = Follower::default();
        follower.catch_up(&app).await;
        let ids: Vec<&Value> = follower
            .served
            .iter()
            .map(|c| &c["conversion_event"]["id"])
            .collect();
        assert_eq!(ids, [&body_json(&demo)["conversion_event"]["id"]], "{name}");
        let theirs_feed = app
            .handle(
                Request::new("GET", "/conversions/changes")
                    .with_header("x-api-key", other.key.expose()),
            )
            .await;
        let served = body_json(&theirs_feed)["changes"].clone();
        assert_eq!(served.as_array().unwrap().len(), 1, "{name}");
        assert_eq!(
            served[0]["conversion_event"]["id"],
            body_json(&theirs)["conversion_event"]["id"]
        );
        // From a moment ahead, or a cursor from there (a clock ahead of this one): none yet.
        let ahead = FeedPosition::before(Timestamp::parse("2999-01-01T00:00:00Z").unwrap());
        let cursor = ChangeCursor::new(AccountId::parse(DEMO_ACCOUNT_ID).unwrap(), ahead);
        for query in [
            "since=2999-01-01T00:00:00Z".to_owned(),
            format!("after={}", cursor.as_str()),
        ] {
            let page = app
                .handle(call("GET", "/conversions/changes", &query, None))
                .await;
            assert_eq!(page.status(), 200, "{name}: {query}: {}", page.body());
            assert_eq!(body_json(&page)["changes"], json!([]), "{name}: {query}");
        }
    })
    .await;
}
