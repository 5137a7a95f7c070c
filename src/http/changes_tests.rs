//! The change feed on the in-memory store: content, order, paging, cursors, lag, erasure. The
//! guarantee under concurrent writers and delayed writes, on both servers, is in
//! `tests/dynamodb/changes.rs`.

use std::time::Duration;

use http::StatusCode;
use serde_json::Value;

use super::tests::{created, json, keys, seeded};
use super::*;
use crate::domain::{ChangeCursor, ChangeRecord, EventId, FeedPosition, LeadId};
use crate::seed::{DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, seed_demo};
use crate::store::{Faults, MemoryStore, Provisioning, Record};

async fn app_on(store: MemoryStore) -> App<MemoryStore> {
    seeded(store).await.with_changes_lag(Duration::ZERO)
}

fn call(method: &str, path: &str, query: &str, body: Option<String>) -> Request {
    super::tests::call(method, path, body).with_query(query)
}

/// Records an event in a millisecond of its own (as `adjust` does): changes of one instant are
/// in no set order.
async fn record(app: &App<MemoryStore>, lead: &str, converted_at: &str) -> String {
    tokio::time::sleep(Duration::from_millis(2)).await;
    let body = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{lead}","amount":10.50,"converted_at":"{converted_at}"}}"#
    );
    created(app, call("POST", "/conversions", "", Some(body))).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn adjust(app: &App<MemoryStore>, id: &str, body: &str) -> Value {
    tokio::time::sleep(Duration::from_millis(2)).await;
    let path = format!("/conversions/{id}/adjustments");
    let response = app
        .handle(call("POST", &path, "", Some(body.to_owned())))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.body()
    );
    json(&response)
}

/// A page of the feed, a few milliseconds on (a change is served once strictly in the past).
async fn page(app: &App<MemoryStore>, query: &str) -> Response {
    tokio::time::sleep(Duration::from_millis(3)).await;
    app.handle(call("GET", "/conversions/changes", query, None))
        .await
}

/// Every change from `query` on, page by page of `limit`, until a page comes back empty; and
/// the last cursor.
async fn follow(app: &App<MemoryStore>, query: &str, limit: u32) -> (Vec<Value>, String) {
    let mut changes = Vec::new();
    let mut query = format!("{query}&limit={limit}");
    loop {
        let response = page(app, &query).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", response.body());
        let body = json(&response);
        assert_eq!(keys(&body), ["success", "changes", "next_cursor"]);
        let found = body["changes"].as_array().unwrap().clone();
        assert!(found.len() <= limit as usize);
        let cursor = body["next_cursor"].as_str().unwrap().to_owned();
        if found.is_empty() {
            return (changes, cursor);
        }
        changes.extend(found);
        query = format!("after={cursor}&limit={limit}");
    }
}

fn kinds(changes: &[Value]) -> Vec<&str> {
    changes
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn every_change_is_served_once_in_the_order_recorded_with_the_event_as_it_was_then() {
    let app = app_on(MemoryStore::new()).await;
    let first = record(&app, DEMO_LEAD_ID, "2026-03-01T10:00:00Z").await;
    // Imported late with last year's date: still after the first in the feed.
    let old = record(&app, DEMO_LEAD_ID, "2025-01-01T00:00:00Z").await;
    let restated = adjust(&app, &first, r#"{"type":"restatement","amount":8.25}"#).await;
    let retracted = adjust(&app, &first, r#"{"type":"retraction","reason":"refund"}"#).await;

    for limit in [1, 2, 3, 1000] {
        let (changes, _) = follow(&app, "", limit).await;
        assert_eq!(
            kinds(&changes),
            [
                "conversion.created",
                "conversion.created",
                "conversion.adjusted",
                "conversion.adjusted"
            ],
            "limit {limit}"
        );
        let ids: Vec<&str> = changes.iter().map(|c| c["id"].as_str().unwrap()).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 4, "{ids:?}");
        let events: Vec<&str> = (changes.iter())
            .map(|c| c["conversion_event"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(events, [&first, &old, &first, &first]);
        let recorded: Vec<&str> = (changes.iter())
            .map(|c| c["recorded_at"].as_str().unwrap())
            .collect();
        assert!(recorded.is_sorted(), "{recorded:?}");

        // Each event as `GET /conversions/{id}?as_of=<recorded_at>` shows it then.
        for change in &changes {
            let id = change["conversion_event"]["id"].as_str().unwrap();
            let at = change["recorded_at"].as_str().unwrap();
            let read = app
                .handle(call(
                    "GET",
                    &format!("/conversions/{id}"),
                    &format!("as_of={at}"),
                    None,
                ))
                .await;
            assert_eq!(change["conversion_event"], json(&read)["conversion_event"]);
        }
        assert_eq!(changes[0]["conversion_event"]["status"], "recorded");
        assert_eq!(
            changes[0]["conversion_event"]["adjustments"],
            Value::Array(vec![])
        );
        assert_eq!(
            keys(&changes[0]),
            ["id", "type", "recorded_at", "conversion_event"]
        );
        assert_eq!(
            keys(&changes[2]),
            [
                "id",
                "type",
                "recorded_at",
                "conversion_event",
                "adjustment"
            ]
        );
        assert_eq!(changes[2]["adjustment"], restated["adjustment"]);
        assert_eq!(
            changes[2]["conversion_event"]["current_amount"].to_string(),
            "8.25"
        );
        assert_eq!(changes[2]["id"], restated["adjustment"]["id"]);
        assert_eq!(changes[3]["adjustment"], retracted["adjustment"]);
        assert_eq!(changes[3]["conversion_event"]["status"], "retracted");
        assert_eq!(
            changes[3]["recorded_at"],
            retracted["adjustment"]["created_at"]
        );
    }
}

#[tokio::test]
async fn the_last_cursor_resumes_with_what_was_recorded_since_and_nothing_before() {
    let app = app_on(MemoryStore::new()).await;
    record(&app, DEMO_LEAD_ID, "2026-03-01T10:00:00Z").await;
    let (seen, cursor) = follow(&app, "", 10).await;
    assert_eq!(seen.len(), 1);
    let (again, same) = follow(&app, &format!("after={cursor}"), 10).await;
    assert!(again.is_empty());
    assert_eq!(same, cursor, "an empty page keeps the place");
    let later = record(&app, DEMO_LEAD_ID, "2026-03-02T10:00:00Z").await;
    let (new, _) = follow(&app, &format!("after={cursor}"), 10).await;
    assert_eq!(kinds(&new), ["conversion.created"]);
    assert_eq!(new[0]["conversion_event"]["id"], later.as_str());
}

#[tokio::test]
async fn since_starts_at_a_moment() {
    let app = app_on(MemoryStore::new()).await;
    record(&app, DEMO_LEAD_ID, "2026-03-01T10:00:00Z").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let since = Timestamp::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let after = record(&app, DEMO_LEAD_ID, "2026-03-01T10:00:00Z").await;
    let (changes, _) = follow(&app, &format!("since={since}"), 10).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["conversion_event"]["id"], after.as_str());
    let (future, _) = follow(&app, "since=2999-01-01T00:00:00Z", 10).await;
    assert!(future.is_empty());
}

#[tokio::test]
async fn a_change_is_served_only_once_the_lag_has_passed() {
    let store = MemoryStore::new();
    seed_demo(&store).await.unwrap();
    let app = App::new(store);
    let body = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":1}}"#
    );
    let created = app
        .handle(call("POST", "/conversions", "", Some(body)))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let response = page(&app, "").await;
    assert_eq!(json(&response)["changes"], Value::Array(vec![]));
    let cursor = json(&response)["next_cursor"].as_str().unwrap().to_owned();
    // From the same place, once the lag has passed (here: once it is none).
    let app = app.with_changes_lag(Duration::ZERO);
    let served = page(&app, &format!("after={cursor}")).await;
    assert_eq!(
        kinds(json(&served)["changes"].as_array().unwrap()),
        ["conversion.created"]
    );
}

#[tokio::test]
async fn a_change_whose_write_did_not_land_is_passed_over() {
    // The first put finds the event there, written by another request: this request's change
    // was written, its event was not.
    let store = MemoryStore::new().with_faults(Faults {
        written_before: Some(false),
        ..Faults::default()
    });
    let app = app_on(store).await;
    let body = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":1}}"#
    );
    let response = app
        .handle(call("POST", "/conversions", "", Some(body)))
        .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let events = app
        .store()
        .events(AccountId::parse(crate::seed::DEMO_ACCOUNT_ID).unwrap());
    assert_eq!(events.len(), 1);
    assert_eq!(
        app.store().change_count(),
        2,
        "the fault fired: two changes, one event"
    );
    let (changes, _) = follow(&app, "", 1).await;
    assert_eq!(kinds(&changes), ["conversion.created"]);
    assert_eq!(
        changes[0]["conversion_event"]["id"],
        events[0].id.to_string()
    );
}

#[tokio::test]
async fn an_erased_leads_changes_go_and_its_erasure_is_served() {
    let app = app_on(MemoryStore::new()).await;
    let account = AccountId::parse(crate::seed::DEMO_ACCOUNT_ID).unwrap();
    let other = LeadId::random();
    let lead = crate::domain::Lead {
        id: other,
        created_at: Timestamp::now(),
    };
    app.store()
        .create(&Record::Lead(account, lead))
        .await
        .unwrap();
    let erased = record(&app, &other.to_string(), "2026-03-01T10:00:00Z").await;
    adjust(&app, &erased, r#"{"type":"retraction"}"#).await;
    let kept = record(&app, DEMO_LEAD_ID, "2026-03-01T10:00:00Z").await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    app.store().erase_lead(account, other);
    let (changes, _) = follow(&app, "", 100).await;
    assert_eq!(kinds(&changes), ["conversion.created", "lead.erased"]);
    assert_eq!(changes[0]["conversion_event"]["id"], kept.as_str());
    assert_eq!(keys(&changes[1]), ["id", "type", "recorded_at", "lead_id"]);
    assert_eq!(changes[1]["lead_id"], other.to_string());
    assert!(!changes.iter().any(|c| c.to_string().contains(&erased)));
}

#[tokio::test]
async fn bad_parameters_are_named_and_cursors_are_the_accounts_own() {
    let app = app_on(MemoryStore::new()).await;
    record(&app, DEMO_LEAD_ID, "2026-03-01T10:00:00Z").await;
    let cursor = json(&page(&app, "").await)["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let foreign = ChangeCursor::new(AccountId::random(), FeedPosition::start());
    let cursor_message = "after must be a next_cursor this account's changes returned";
    for (query, field, message) in [
        (
            "limit=0",
            "limit",
            "limit must be an integer between 1 and 1000",
        ),
        (
            "limit=1001",
            "limit",
            "limit must be an integer between 1 and 1000",
        ),
        (
            "limit=+5",
            "limit",
            "limit must be an integer between 1 and 1000",
        ),
        (
            "since=yesterday",
            "since",
            "since must be an ISO 8601 date-time with a time zone (e.g., \"2026-01-28T10:00:00Z\")",
        ),
        (
            &format!("after={}", foreign.as_str()),
            "after",
            cursor_message,
        ),
        (&format!("after={cursor}x"), "after", cursor_message),
        ("after=", "after", cursor_message),
        (
            &format!("after={cursor}&since=2026-01-01T00:00:00Z"),
            "since",
            query::AFTER_AND_SINCE,
        ),
    ] {
        let response = page(&app, query).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body = json(&response);
        assert_eq!(body["errors"][0]["field"], field, "{query}");
        assert_eq!(body["errors"][0]["message"], message, "{query}");
    }
    for method in ["POST", "PUT", "DELETE"] {
        let response = app
            .handle(call(method, "/conversions/changes", "", None))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(response.header("allow"), Some("GET"));
    }
}

#[tokio::test]
async fn a_page_ends_where_the_answer_is_full_and_the_next_starts_there() {
    let app = app_on(MemoryStore::new()).await;
    // About 21 KB a change: 300 of them do not fit in one answer.
    let metadata: String = (0..15)
        .map(|i| format!(r#""k{i}":"{}""#, "m".repeat(1000)))
        .collect::<Vec<_>>()
        .join(",");
    for i in 0..300 {
        let body = format!(
            r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":{i},"notes":"{}","metadata":{{{metadata}}}}}"#,
            "n".repeat(5000)
        );
        let created = app
            .handle(call("POST", "/conversions", "", Some(body)))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED, "{}", created.body());
    }
    let first = page(&app, "limit=1000").await;
    let served = json(&first)["changes"].as_array().unwrap().len();
    assert!((1..300).contains(&served), "{served}");
    assert!(render::escaped_len(first.body()) <= MAX_INVOCATION_RESPONSE_BYTES);
    let (all, _) = follow(&app, "", 1000).await;
    let mut amounts: Vec<u64> = (all.iter())
        .map(|c| c["conversion_event"]["amount"].as_u64().unwrap())
        .collect();
    amounts.sort_unstable();
    assert_eq!(amounts, (0..300).collect::<Vec<u64>>(), "each once");
}

#[tokio::test]
async fn a_page_reads_past_changes_that_announce_nothing_up_to_a_bound() {
    let store = MemoryStore::new();
    let account = AccountId::parse(crate::seed::DEMO_ACCOUNT_ID).unwrap();
    // Changes of writes that never landed, older than any real one.
    let at = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    let orphans = 10 + crate::domain::MAX_CHANGES_EXAMINED;
    for _ in 0..orphans {
        let write = crate::domain::WriteToken::random();
        store.record_change(account, ChangeRecord::created(EventId::random(), at, write));
    }
    let app = app_on(store).await;
    let real = record(&app, DEMO_LEAD_ID, "2026-03-01T10:00:00Z").await;
    // The first page examines its limit and the bound's worth, serves none, and moves on.
    let first = json(&page(&app, "limit=5").await);
    assert_eq!(first["changes"], Value::Array(vec![]));
    let cursor = first["next_cursor"].as_str().unwrap();
    let start = ChangeCursor::new(account, FeedPosition::start());
    assert_ne!(
        cursor,
        start.as_str(),
        "the cursor moved past what was examined"
    );
    let second = json(&page(&app, &format!("limit=5&after={cursor}")).await);
    assert_eq!(
        second["changes"][0]["conversion_event"]["id"],
        real.as_str()
    );
}
