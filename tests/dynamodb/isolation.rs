//! The tenant isolation matrix, the one test of it: two accounts; each one's key with every
//! record id of the other (conversion type, lead, workflow run, event, workflow and master
//! workflow ids, a cursor, an idempotency key) on every endpoint (create, dry run, the list's
//! filters and cursor, read by id). Each answer must be exactly the answer for an id that does
//! not exist (status and body), after the same DynamoDB calls (the same timing class), and never
//! show the other account's data; and each account's own list and types show its own only.

use conversions::domain::{
    AccountId, ApiKey, ChangeCursor, Cursor, EventFilter, EventId, FeedPosition, Position, Resume,
    Timestamp,
};
use conversions::http::{App, Body, Request, Response};
use conversions::seed::{
    DEMO_ACCOUNT_ID, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, DEMO_WORKFLOW_ID, DEMO_WORKFLOW_RUN_ID,
};
use conversions::store::{DynamoStore, Provisioning, Record};

use crate::helpers::{Operations, body_json, on_each_backend, tenant};

/// One account's view: its key and the ids of its records.
struct Side {
    account: AccountId,
    key: String,
    conversion_type: String,
    lead: String,
    run: String,
    workflow: String,
    master: Option<String>,
    event: String,
    idempotency_key: String,
}

fn post(key: &str, body: String, query: &str) -> Request {
    Request::new("POST", "/conversions")
        .with_query(query)
        .with_header("x-api-key", key)
        .with_header("content-type", "application/json")
        .with_body(Body::Text(body))
}

fn get(key: &str, path: &str, query: &str) -> Request {
    Request::new("GET", path)
        .with_query(query)
        .with_header("x-api-key", key)
}

fn create_body(conversion_type: &str, lead: &str, run: Option<&str>) -> String {
    let run = run.map_or(String::new(), |r| format!(r#","workflow_run_id":"{r}""#));
    format!(r#"{{"conversion_type_id":"{conversion_type}","lead_id":"{lead}","amount":10{run}}}"#)
}

/// What two answers must share: the status, and the body (for a `201`, everything but the
/// event's own id and times, which differ between any two creates).
fn comparable(response: &Response) -> (u16, serde_json::Value) {
    let mut body = body_json(response);
    if let Some(event) = body.get_mut("conversion_event") {
        for volatile in ["id", "created_at", "converted_at"] {
            if let Some(v) = event.get_mut(volatile) {
                *v = serde_json::Value::Null;
            }
        }
    }
    (response.status().as_u16(), body)
}

#[tokio::test]
async fn another_accounts_ids_are_answered_as_ids_that_do_not_exist() {
    on_each_backend(|backend| async move {
        let (app, operations, table): (App<DynamoStore>, Operations, _) =
            backend.counted_demo_app().await;
        let store = table.store();
        let demo = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        let demo_key = ApiKey::generate_for(demo);
        store.put_api_key(&demo_key.hash(), demo).await.unwrap();
        let other = tenant(&store).await;

        let mut sides = [
            Side {
                account: demo,
                key: demo_key.expose().to_owned(),
                conversion_type: DEMO_CONVERSION_TYPE_ID.to_owned(),
                lead: DEMO_LEAD_ID.to_owned(),
                run: DEMO_WORKFLOW_RUN_ID.to_owned(),
                workflow: DEMO_WORKFLOW_ID.to_owned(),
                master: None,
                event: String::new(),
                idempotency_key: "only-the-demo-account-used-this".to_owned(),
            },
            Side {
                account: other.account,
                key: other.key.expose().to_owned(),
                conversion_type: other.conversion_type.to_string(),
                lead: other.lead.to_string(),
                run: other.run.to_string(),
                workflow: other.workflow.to_string(),
                master: Some(other.master.to_string()),
                event: String::new(),
                idempotency_key: "only-the-other-account-used-this".to_owned(),
            },
        ];
        // Each account records one event, with an idempotency key of its own.
        for side in &mut sides {
            let created = app
                .handle(
                    post(
                        &side.key,
                        create_body(&side.conversion_type, &side.lead, None),
                        "",
                    )
                    .with_header("idempotency-key", &side.idempotency_key),
                )
                .await;
            assert_eq!(
                created.status(),
                201,
                "{}: {}",
                backend.name,
                created.body()
            );
            side.event = body_json(&created)["conversion_event"]["id"]
                .as_str()
                .unwrap()
                .to_owned();
        }
        operations.take();

        let mut cases = 0;
        for (viewer, owner) in [(&sides[0], &sides[1]), (&sides[1], &sides[0])] {
            let nobody = || uuid::Uuid::new_v4().to_string();
            let (vt, vl) = (&viewer.conversion_type, &viewer.lead);
            // (what is asked, the request with the other account's id, with an id nobody has)
            let mut pairs: Vec<(String, Request, Request)> = Vec::new();
            for query in ["", "dry_run=true"] {
                pairs.push((
                    format!("POST {query} conversion_type_id"),
                    post(
                        &viewer.key,
                        create_body(&owner.conversion_type, vl, None),
                        query,
                    ),
                    post(&viewer.key, create_body(&nobody(), vl, None), query),
                ));
                pairs.push((
                    format!("POST {query} lead_id"),
                    post(&viewer.key, create_body(vt, &owner.lead, None), query),
                    post(&viewer.key, create_body(vt, &nobody(), None), query),
                ));
                pairs.push((
                    format!("POST {query} workflow_run_id"),
                    post(&viewer.key, create_body(vt, vl, Some(&owner.run)), query),
                    post(&viewer.key, create_body(vt, vl, Some(&nobody())), query),
                ));
            }
            pairs.push((
                "GET /conversions/{id}".to_owned(),
                get(&viewer.key, &format!("/conversions/{}", owner.event), ""),
                get(&viewer.key, &format!("/conversions/{}", nobody()), ""),
            ));
            let mut filters = vec![
                ("lead_id", owner.lead.clone()),
                ("conversion_type_id", owner.conversion_type.clone()),
                ("workflow_run_id", owner.run.clone()),
                ("workflow_id", owner.workflow.clone()),
            ];
            if let Some(master) = &owner.master {
                filters.push(("master_workflow_id", master.clone()));
            }
            for (name, id) in filters {
                pairs.push((
                    format!("GET /conversions?{name}"),
                    get(&viewer.key, "/conversions", &format!("{name}={id}")),
                    get(&viewer.key, "/conversions", &format!("{name}={}", nobody())),
                ));
            }
            // A cursor the other account's lists would give, and one of an account nobody has.
            let cursor = |account: AccountId| {
                let resume = Resume {
                    after: Position {
                        converted_at: Timestamp::now(),
                        id: EventId::random(),
                    },
                    skip: 0,
                };
                Cursor::new(account, &EventFilter::default(), resume)
            };
            pairs.push((
                "GET /conversions?cursor".to_owned(),
                get(
                    &viewer.key,
                    "/conversions",
                    &format!("cursor={}", cursor(owner.account).as_str()),
                ),
                get(
                    &viewer.key,
                    "/conversions",
                    &format!("cursor={}", cursor(AccountId::random()).as_str()),
                ),
            ));
            // The feed's cursors: the other account's, and one of an account nobody has.
            let feed_cursor = |account: AccountId| {
                let at = FeedPosition::before(Timestamp::now());
                format!("after={}", ChangeCursor::new(account, at).as_str())
            };
            pairs.push((
                "GET /conversions/changes?after".to_owned(),
                get(
                    &viewer.key,
                    "/conversions/changes",
                    &feed_cursor(owner.account),
                ),
                get(
                    &viewer.key,
                    "/conversions/changes",
                    &feed_cursor(AccountId::random()),
                ),
            ));
            // The other account's idempotency key is, for this one, a key never used.
            pairs.push((
                "POST Idempotency-Key".to_owned(),
                post(&viewer.key, create_body(vt, vl, None), "")
                    .with_header("idempotency-key", &owner.idempotency_key),
                post(&viewer.key, create_body(vt, vl, None), "")
                    .with_header("idempotency-key", &nobody()),
            ));

            for (case, others, nobodys) in pairs {
                cases += 1;
                let others = app.handle(others).await;
                let others_calls = operations.take();
                let nobodys = app.handle(nobodys).await;
                let nobodys_calls = operations.take();
                let context = format!("{}: {case}", backend.name);
                assert_eq!(comparable(&others), comparable(&nobodys), "{context}");
                assert_eq!(others_calls, nobodys_calls, "{context}: the same calls");
                assert!(
                    [200, 201, 400, 404].contains(&others.status().as_u16()),
                    "{context}: {}",
                    others.status()
                );
                assert_eq!(others.header("idempotent-replayed"), None, "{context}");
                // Nothing of the owner's appears: not its event, not its records.
                for secret in [&owner.event, &owner.key] {
                    assert!(!others.body().contains(secret.as_str()), "{context}");
                }
                let listed = body_json(&others);
                if let Some(events) = listed["conversion_events"].as_array() {
                    assert!(events.is_empty(), "{context}: {listed}");
                    assert_eq!(listed["total"], 0, "{context}");
                }
            }
        }
        // And what each account lists of its own: its event and its types, nothing else.
        for (viewer, owner) in [(&sides[0], &sides[1]), (&sides[1], &sides[0])] {
            let context = format!("{}: {}", backend.name, viewer.conversion_type);
            for query in [
                String::new(),
                format!("lead_id={}", viewer.lead),
                format!("conversion_type_id={}", viewer.conversion_type),
                match &viewer.master {
                    Some(master) => format!("master_workflow_id={master}"),
                    None => format!("workflow_id={}", viewer.workflow),
                },
            ] {
                let listed = body_json(&app.handle(get(&viewer.key, "/conversions", &query)).await);
                let ids: Vec<&str> = listed["conversion_events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap())
                    .collect();
                assert!(
                    ids.contains(&viewer.event.as_str()),
                    "{context}: {query}: {listed}"
                );
                assert!(!ids.contains(&owner.event.as_str()), "{context}: {query}");
                assert_eq!(
                    listed["total"],
                    ids.len(),
                    "{context}: {query}: counted its own"
                );
                cases += 1;
            }
            let types = app.handle(get(&viewer.key, "/conversion-types", "")).await;
            assert!(types.body().contains(&viewer.conversion_type), "{context}");
            assert!(!types.body().contains(&owner.conversion_type), "{context}");
            cases += 1;
        }
        // One lead id in both accounts: each account's is its own.
        let shared = conversions::domain::Lead {
            id: conversions::domain::LeadId::parse(DEMO_LEAD_ID).unwrap(),
            created_at: Timestamp::now(),
        };
        store
            .put(&Record::Lead(other.account, shared.clone()))
            .await
            .unwrap();
        let query = format!("lead_id={DEMO_LEAD_ID}");
        let listed = body_json(&app.handle(get(&sides[1].key, "/conversions", &query)).await);
        assert_eq!(listed["total"], 0, "{}: {listed}", backend.name);
        cases += 1;
        println!("{}: isolation matrix of {cases} cases", backend.name);
        // Per account: 3 ids × create and dry run, read by id, each list filter of the other's
        // records (4, and the master workflow of the one with a master-workflow type), its
        // list and feed cursors and its idempotency key; its own lists and types; and a lead id
        // both hold.
        assert_eq!(cases, 40, "{}", backend.name);
    })
    .await;
}
