//! The read endpoints on the in-memory store: shapes, order, paging, errors (tenant isolation is
//! the matrix of `tests/dynamodb/isolation.rs`).
//! The same behaviour on DynamoDB is in `tests/dynamodb/reads.rs`.

use http::StatusCode;
use serde_json::Value;

use super::tests::{call, created, json, keys, seeded};
use super::*;
use crate::domain::{
    AccountId, Category, ConversionType, ConversionTypeId, Currency, LeadId, Scope, WorkflowId,
};
use crate::seed::{
    DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_INACTIVE_CONVERSION_TYPE_ID, DEMO_LEAD_ID,
    DEMO_WORKFLOW_RUN_ID,
};
use crate::store::{MemoryStore, Provisioning, Record};

async fn demo_app() -> App<MemoryStore> {
    bounded_demo_app(crate::domain::MAX_ENTRIES_READ).await
}

/// The demo data on a store whose lists read at most `bound` index entries.
async fn bounded_demo_app(bound: u32) -> App<MemoryStore> {
    seeded(MemoryStore::new().with_read_bound(bound)).await
}

fn get(path: &str, query: &str) -> Request {
    call("GET", path, None).with_query(query)
}

/// Records an event converted at `at` (with the run when asked) and returns its 201 object.
async fn record(app: &App<MemoryStore>, at: &str, with_run: bool) -> Value {
    let run = if with_run {
        format!(r#","workflow_run_id":"{DEMO_WORKFLOW_RUN_ID}""#)
    } else {
        String::new()
    };
    let body = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":10.50,"converted_at":"{at}"{run}}}"#
    );
    created(app, call("POST", "/conversions", Some(body))).await
}

async fn list(app: &App<MemoryStore>, query: &str) -> Value {
    let response = app.handle(get("/conversions", query)).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", response.body());
    json(&response)
}

fn ids(listing: &Value) -> Vec<String> {
    listing["conversion_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn conversion_types_lists_the_active_ones_in_the_documented_shape_oldest_first() {
    let app = demo_app().await;
    let account = AccountId::parse(crate::seed::DEMO_ACCOUNT_ID).unwrap();
    let newer = ConversionType {
        id: ConversionTypeId::random(),
        name: "Promesa".into(),
        description: None,
        category: Category::Final,
        currency: Currency::parse("CLF").unwrap(),
        fields: vec![],
        scope: Scope::Workflow(WorkflowId::random()),
        active: true,
        created_at: Timestamp::parse("2026-03-01T00:00:00Z").unwrap(),
    };
    app.store()
        .put(&Record::ConversionType(account, newer.clone()))
        .await
        .unwrap();
    let response = app.handle(get("/conversion-types", "")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(&response);
    assert_eq!(keys(&body), ["success", "conversion_types"]);
    let types = body["conversion_types"].as_array().unwrap();
    assert_eq!(
        types
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["Reserva", "Promesa"],
        "the inactive Venta is not listed: {body}"
    );
    assert!(!response.body().contains(DEMO_INACTIVE_CONVERSION_TYPE_ID));
    assert_eq!(
        types[0],
        serde_json::json!({
            "id": DEMO_CONVERSION_TYPE_ID,
            "name": "Reserva",
            "description": "Initial reservation deposit",
            "category": "intermediary",
            "currency": "USD",
            "fields": [
                {"key": "property_unit", "label": "Property / Unit", "type": "text"},
                {"key": "broker", "label": "Broker", "type": "text"},
                {"key": "commission", "label": "Commission", "type": "number"}
            ],
            "workflow_id": crate::seed::DEMO_WORKFLOW_ID,
            "master_workflow_id": null,
            "created_at": "2026-01-10T08:00:00Z"
        })
    );
    assert_eq!(
        keys(&types[0]),
        [
            "id",
            "name",
            "description",
            "category",
            "currency",
            "fields",
            "workflow_id",
            "master_workflow_id",
            "created_at"
        ]
    );
    assert_eq!(types[1]["description"], Value::Null);
}

#[tokio::test]
async fn an_account_with_no_events_lists_none() {
    let app = demo_app().await;
    assert_eq!(
        list(&app, "").await,
        serde_json::json!({
            "success": true,
            "conversion_events": [],
            "total": 0,
            "total_at_least": 0,
            "next_cursor": null,
            "cut_short": false
        })
    );
}

#[tokio::test]
async fn a_listed_event_is_the_201_object_its_state_and_its_type() {
    let app = demo_app().await;
    let created = record(&app, "2026-01-28T10:00:00Z", true).await;
    let listing = list(&app, "").await;
    assert_eq!(
        keys(&listing),
        [
            "success",
            "conversion_events",
            "total",
            "total_at_least",
            "next_cursor",
            "cut_short"
        ]
    );
    let mut listed = listing["conversion_events"][0].clone();
    let embed = listed
        .as_object_mut()
        .unwrap()
        .remove("conversion_types")
        .unwrap();
    let object = listed.as_object_mut().unwrap();
    assert_eq!(object.remove("status").unwrap(), "recorded");
    assert_eq!(object.remove("current_amount").unwrap(), created["amount"]);
    assert_eq!(listed, created);
    assert_eq!(keys(&listed), keys(&created));
    assert_eq!(
        embed,
        serde_json::json!({
            "name": "Reserva",
            "category": "intermediary",
            "fields": [
                {"key": "property_unit", "label": "Property / Unit", "type": "text"},
                {"key": "broker", "label": "Broker", "type": "text"},
                {"key": "commission", "label": "Commission", "type": "number"}
            ]
        })
    );
    let raw = app.handle(get("/conversions", "")).await;
    assert!(
        raw.body().contains(r#""amount":10.50,"#),
        "the amount's digits are kept"
    );

    let one = app
        .handle(get(
            &format!("/conversions/{}", created["id"].as_str().unwrap()),
            "",
        ))
        .await;
    assert_eq!(one.status(), StatusCode::OK);
    let one = json(&one);
    assert_eq!(keys(&one), ["success", "conversion_event"]);
    // By id, also its adjustments (none), before its type.
    let mut one = one["conversion_event"].clone();
    let object = one.as_object_mut().unwrap();
    let at = keys(&listing["conversion_events"][0]).len() - 1;
    assert_eq!(object.keys().nth(at).unwrap(), "adjustments");
    assert_eq!(object.remove("adjustments").unwrap(), serde_json::json!([]));
    assert_eq!(one, listing["conversion_events"][0]);
}

#[tokio::test]
async fn events_are_listed_newest_first_ties_by_id_descending_and_paged_without_loss() {
    let app = demo_app().await;
    let mut expected = Vec::new();
    for at in [
        "2026-01-01T00:00:00Z",
        "2026-01-03T00:00:00Z",
        "2026-01-02T00:00:00Z",
        "2026-01-02T00:00:00Z",
        "2026-01-02T00:00:00Z",
    ] {
        let event = record(&app, at, false).await;
        expected.push((at.to_owned(), event["id"].as_str().unwrap().to_owned()));
    }
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let all = list(&app, "").await;
    assert_eq!(ids(&all), expected);
    assert_eq!(all["total"], 5);

    let mut paged = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page = list(&app, &query).await;
        assert_eq!(page["total"], 5, "every page counts every event");
        paged.extend(ids(&page));
        // A cursor that led back would page forever: 5 events in pages of 2 take 3.
        assert!(paged.len() <= 5, "an event listed twice: {paged:?}");
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, expected);

    let offset = list(&app, "limit=2&offset=3").await;
    assert_eq!(ids(&offset), expected[3..5]);
    assert_eq!(offset["next_cursor"], Value::Null);
    assert_eq!(ids(&list(&app, "offset=5").await), Vec::<String>::new());
}

#[tokio::test]
async fn filters_and_windows_narrow_the_list_and_its_total() {
    let app = demo_app().await;
    let with_run = record(&app, "2026-01-05T00:00:00Z", true).await;
    let without = record(&app, "2026-01-04T00:00:00Z", false).await;
    let by_run = list(&app, &format!("workflow_run_id={DEMO_WORKFLOW_RUN_ID}")).await;
    assert_eq!(ids(&by_run), [with_run["id"].as_str().unwrap()]);
    assert_eq!(by_run["total"], 1);
    let window = list(
        &app,
        "converted_after=2026-01-04T00:00:00Z&converted_before=2026-01-05T00:00:00Z",
    )
    .await;
    assert_eq!(ids(&window), [without["id"].as_str().unwrap()]);
    let other_lead = list(&app, &format!("lead_id={}", LeadId::random())).await;
    assert_eq!(
        (ids(&other_lead).len(), &other_lead["total"]),
        (0, &Value::from(0))
    );
}

#[tokio::test]
async fn bad_query_values_are_a_400_naming_each_parameter() {
    let app = demo_app().await;
    let response = app
        .handle(get(
            "/conversions",
            "lead_id=x&limit=0&offset=-1&whatever=1",
        ))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json(&response);
    assert_eq!(body["error"], "Validation error");
    assert_eq!(body["message"], "lead_id must be a valid UUID");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["lead_id", "limit", "offset"]);
}

#[tokio::test]
async fn reads_need_the_api_key() {
    let app = demo_app().await;
    for path in ["/conversions", "/conversion-types", "/conversions/x"] {
        let response = app.handle(Request::new("GET", path)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(json(&response)["error"], "Missing API key");
    }
}

/// Every page of a list, by `next_cursor`, from `query` (then `filter` and the cursor, as a
/// client continues): the pages' bodies.
async fn pages(app: &App<MemoryStore>, query: &str, filter: &str) -> Vec<Value> {
    let mut pages = vec![list(app, query).await];
    while let Some(cursor) = pages.last().unwrap()["next_cursor"].as_str() {
        let next = list(app, &format!("{filter}&cursor={cursor}")).await;
        assert!(pages.len() < 100, "a cursor that leads back");
        pages.push(next);
    }
    pages
}

#[tokio::test]
async fn a_filter_that_reaches_the_read_bound_cuts_the_page_and_its_cursor_continues_exactly() {
    // A bound of 5 index entries; 12 events, every third with the run. A list by run reads
    // the run's lead's partition (all 12) and filters: no page of 3 fits in 5 entries read.
    let app = bounded_demo_app(5).await;
    let mut with_run = Vec::new();
    for day in 1..=12 {
        let created = record(&app, &format!("2026-01-{day:02}T10:00:00Z"), day % 3 == 0).await;
        if day % 3 == 0 {
            with_run.push(created["id"].as_str().unwrap().to_owned());
        }
    }
    with_run.reverse();
    let query = format!("workflow_run_id={DEMO_WORKFLOW_RUN_ID}&limit=3");
    let pages = pages(&app, &query, &query).await;
    let listed: Vec<String> = pages.iter().flat_map(ids).collect();
    assert_eq!(listed, with_run, "every event once, in order");
    assert!(pages.iter().any(|p| p["cut_short"] == true), "{pages:?}");
    for page in &pages {
        let events = page["conversion_events"].as_array().unwrap().len();
        if page["cut_short"] == true {
            assert!(events < 3, "cut short: fewer than the limit: {page}");
            assert!(
                page["next_cursor"].is_string(),
                "a cut page always continues: {page}"
            );
        } else {
            assert!(events == 3 || page["next_cursor"].is_null(), "{page}");
        }
        // 12 entries for a count that reads 5 at most: a lower bound, not a total.
        assert_eq!(page["total"], Value::Null, "{page}");
        assert_eq!(
            page["total_at_least"], 2,
            "the run's events in the first 5: {page}"
        );
    }
}

#[tokio::test]
async fn an_offset_past_the_read_bound_is_carried_by_the_cursor() {
    let app = bounded_demo_app(5).await;
    for day in 1..=12 {
        record(&app, &format!("2026-01-{day:02}T10:00:00Z"), day % 3 == 0).await;
    }
    let filter = format!("workflow_run_id={DEMO_WORKFLOW_RUN_ID}&limit=1");
    let all: Vec<String> = pages(&app, &filter, &filter)
        .await
        .iter()
        .flat_map(ids)
        .collect();
    assert_eq!(all.len(), 4);
    // Offset 3 needs 10 entries read: the first page is cut with none, and its cursor skips
    // what is left to skip.
    let offset = format!("{filter}&offset=3");
    let first = list(&app, &offset).await;
    assert_eq!(first["cut_short"], true);
    assert_eq!(ids(&first), Vec::<String>::new());
    let shown: Vec<String> = pages(&app, &offset, &filter)
        .await
        .iter()
        .flat_map(ids)
        .collect();
    assert_eq!(shown, all[3..], "the fourth event, then the end");
}

#[tokio::test]
async fn a_list_without_a_filter_is_never_cut_and_its_total_is_exact_up_to_the_bound() {
    let app = bounded_demo_app(5).await;
    for day in 1..=4 {
        record(&app, &format!("2026-01-{day:02}T10:00:00Z"), false).await;
    }
    let small = list(&app, "limit=2").await;
    assert_eq!(
        (small["total"].clone(), small["cut_short"].clone()),
        (4.into(), false.into())
    );
    record(&app, "2026-01-05T10:00:00Z", false).await;
    let at_bound = list(&app, "limit=2").await;
    assert_eq!(
        at_bound["total"],
        Value::Null,
        "5 entries read, the bound: {at_bound}"
    );
    assert_eq!(at_bound["total_at_least"], 5);
    assert_eq!(at_bound["cut_short"], false);
    assert_eq!(ids(&at_bound).len(), 2);
}

/// A conversion type of the largest size an account may hold: every text at its longest, of
/// control characters (each written `\u0001`, seven bytes once the body is escaped again).
fn largest_type(n: usize) -> ConversionType {
    use crate::domain::{
        FieldDefinition, FieldType, MAX_FIELD_KEY_CHARS, MAX_FIELD_LABEL_CHARS,
        MAX_FIELDS_PER_TYPE, MAX_TYPE_DESCRIPTION_CHARS, MAX_TYPE_NAME_CHARS,
    };
    let control = |chars| "\u{1}".repeat(chars);
    let conversion_type = ConversionType {
        id: ConversionTypeId::random(),
        name: control(MAX_TYPE_NAME_CHARS),
        description: Some(control(MAX_TYPE_DESCRIPTION_CHARS)),
        category: Category::Final,
        currency: Currency::parse("USD").unwrap(),
        fields: (0..MAX_FIELDS_PER_TYPE)
            .map(|i| FieldDefinition {
                key: format!("{n:0>32}{i:0>32}")[..MAX_FIELD_KEY_CHARS].to_owned(),
                label: control(MAX_FIELD_LABEL_CHARS),
                field_type: FieldType::Text,
            })
            .collect(),
        scope: Scope::Workflow(WorkflowId::random()),
        active: true,
        created_at: crate::domain::Timestamp::now(),
    };
    assert_eq!(conversion_type.check_limits(), Ok(()));
    conversion_type
}

/// The invocation response as Lambda receives it (the body a JSON string in it), and the body.
async fn invoked(app: &App<MemoryStore>, request: Request) -> (usize, Value) {
    let outgoing = app.invoke(Incoming::Http(request), "size").await;
    let envelope = serde_json::to_string(&outgoing).unwrap();
    let envelope_value: Value = serde_json::from_str(&envelope).unwrap();
    let body = serde_json::from_str(envelope_value["body"].as_str().unwrap()).unwrap();
    (envelope.len(), body)
}

/// Two hundred of the largest events the API accepts (5,000 characters of notes each written
/// `\u0001`, 16 KiB of metadata of escaped quotes, the largest type embedded) would be about
/// 14 MB: each page stays within what Lambda carries, counted on the invocation response, says
/// it was cut, and its cursor continues exactly.
#[tokio::test]
async fn a_page_of_the_largest_events_fits_what_lambda_carries() {
    let app = demo_app().await;
    let account = AccountId::parse(crate::seed::DEMO_ACCOUNT_ID).unwrap();
    let conversion_type = largest_type(0);
    app.store()
        .put(&Record::ConversionType(account, conversion_type.clone()))
        .await
        .unwrap();
    let quotes = r#"\""#.repeat((crate::domain::MAX_METADATA_BYTES - 8) / 2);
    let notes = r"\u0001".repeat(crate::domain::MAX_NOTES_CHARS);
    let body = format!(
        r#"{{"conversion_type_id":"{}","lead_id":"{DEMO_LEAD_ID}","amount":1,"notes":"{notes}","metadata":{{"k":"{quotes}"}}}}"#,
        conversion_type.id
    );
    for n in 0..200 {
        let response = app
            .handle(
                Request::new("POST", "/conversions")
                    .with_header("x-api-key", DEMO_API_KEY)
                    .with_body(Body::Text(body.clone())),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{n}: {}",
            response.body()
        );
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("limit=200&cursor={cursor}"),
            None => "limit=200".to_owned(),
        };
        let (size, page) = invoked(&app, get("/conversions", &query)).await;
        pages += 1;
        assert!(
            size <= MAX_INVOCATION_RESPONSE_BYTES,
            "page {pages}: {size} bytes"
        );
        let events = page["conversion_events"].as_array().unwrap();
        assert!(!events.is_empty(), "page {pages}");
        seen.extend(events.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        assert_eq!(page["total"], 200);
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(page["cut_short"], true, "fewer than the limit: {pages}");
                cursor = Some(next.to_owned());
            }
            None => break,
        }
    }
    assert!(pages >= 3, "{pages} pages");
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (200, 200), "every event once");
}

/// An account with the most conversion types, each of the largest size, lists them all within
/// what Lambda carries.
#[tokio::test]
async fn an_account_with_the_most_types_lists_them_within_what_lambda_carries() {
    let app = demo_app().await;
    let account = AccountId::parse(crate::seed::DEMO_ACCOUNT_ID).unwrap();
    let held = crate::service::list_conversion_types(app.store(), account)
        .await
        .unwrap()
        .len();
    for n in held..crate::domain::MAX_TYPES_PER_ACCOUNT {
        let conversion_type = largest_type(n);
        app.store()
            .put(&Record::ConversionType(account, conversion_type.clone()))
            .await
            .unwrap();
    }
    let (size, body) = invoked(&app, get("/conversion-types", "")).await;
    assert_eq!(
        body["conversion_types"].as_array().unwrap().len(),
        crate::domain::MAX_TYPES_PER_ACCOUNT
    );
    assert!(size <= MAX_INVOCATION_RESPONSE_BYTES, "{size} bytes");
    assert!(
        size > MAX_INVOCATION_RESPONSE_BYTES / 4,
        "the largest: {size} bytes"
    );
}
