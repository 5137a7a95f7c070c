//! `openapi.yaml` against the running handler: a scripted sequence that reaches every status
//! the document lists (and the 404s and 405s it describes in prose), each response checked
//! against the document. The fixtures are checked the same way (`helpers::assert_fixture_response`).

use conversions::http::{App, Body, Request};
use conversions::seed::{
    DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, DEMO_WORKFLOW_RUN_ID, seed_demo,
};
use conversions::store::{DynamoStore, Store};

use crate::helpers::openapi::assert_documented;
use crate::helpers::{body_json, function_client, on_each_backend};

fn request(method: &str, path: &str, query: &str, body: &str) -> Request {
    Request::new(method, path)
        .with_query(query)
        .with_header("x-api-key", DEMO_API_KEY)
        .with_body(Body::Text(body.to_owned()))
        .with_request_id("contract")
}

fn minimal(amount: &str) -> String {
    format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":{amount}}}"#
    )
}

/// Sends the request, checks the answer's status and the document, returns the body.
async fn check<S: Store>(
    app: &App<S>,
    request: Request,
    status: u16,
    context: &str,
) -> serde_json::Value {
    let (method, path) = (request.method().to_owned(), request.path().to_owned());
    let response = app.handle(request).await;
    let context = format!("{context}: {method} {path}");
    assert_eq!(
        response.status().as_u16(),
        status,
        "{context}: {}",
        response.body()
    );
    assert_documented(&context, &method, &path, &response);
    body_json(&response)
}

#[tokio::test]
async fn every_answer_of_every_operation_matches_the_document() {
    on_each_backend(|backend| async move {
        let table = backend.fresh_table().await;
        let store = table.store();
        seed_demo(&store).await.unwrap();
        let app = App::new(store);
        let b = &backend.name;

        let created = check(
            &app,
            request("POST", "/conversions", "", &minimal("85000.00")),
            201,
            b,
        )
        .await;
        let with_run = format!(
            r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","workflow_run_id":"{DEMO_WORKFLOW_RUN_ID}","amount":1,"currency":"usd","converted_at":"2026-01-28T10:00:00-03:00","metadata":{{"commission":2500.5,"broker":"Ana","extra":[1,{{"a":null}}]}},"notes":"n"}}"#
        );
        check(&app, request("POST", "/conversions", "", &with_run), 201, b).await;
        let keyed = || {
            request("POST", "/conversions", "", &minimal("7"))
                .with_header("idempotency-key", "contract-1")
        };
        check(&app, keyed(), 201, b).await;
        let replayed = app.handle(keyed()).await;
        assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
        assert_documented(b, "POST", "/conversions", &replayed);
        check(
            &app,
            request("POST", "/conversions", "", &minimal("8"))
                .with_header("idempotency-key", "contract-1"),
            422,
            b,
        )
        .await;
        check(
            &app,
            request("POST", "/conversions", "dry_run=true", &minimal("1")),
            200,
            b,
        )
        .await;
        check(&app, request("POST", "/conversions", "", "{"), 400, b).await;
        check(
            &app,
            request("POST", "/conversions", "", &"x".repeat(70_000)),
            413,
            b,
        )
        .await;
        check(
            &app,
            request("POST", "/conversions", "", &minimal("1"))
                .with_header("x-api-key", "nxr_live_unknown"),
            401,
            b,
        )
        .await;
        check(
            &app,
            Request::new("POST", "/conversions").with_request_id("contract"),
            401,
            b,
        )
        .await;

        check(&app, request("GET", "/conversion-types", "", ""), 200, b).await;
        let page = check(&app, request("GET", "/conversions", "limit=1", ""), 200, b).await;
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();
        // A page cut short, and a total past its bound: the same table read with a bound of
        // two index entries.
        let bounded = App::new(table.store().with_read_bound(2));
        let cut = check(
            &bounded,
            request(
                "GET",
                "/conversions",
                &format!("workflow_run_id={DEMO_WORKFLOW_RUN_ID}&limit=5"),
                "",
            ),
            200,
            b,
        )
        .await;
        assert_eq!(
            (cut["cut_short"].clone(), cut["total"].clone()),
            (true.into(), serde_json::Value::Null),
            "{b}: {cut}"
        );
        assert!(cut["next_cursor"].is_string(), "{b}: {cut}");
        check(
            &app,
            request(
                "GET",
                "/conversions",
                &format!("limit=1&cursor={cursor}"),
                "",
            ),
            200,
            b,
        )
        .await;
        check(
            &app,
            request(
                "GET",
                "/conversions",
                &format!(
                    "workflow_run_id={DEMO_WORKFLOW_RUN_ID}&converted_after=2026-01-01T00:00:00Z"
                ),
                "",
            ),
            200,
            b,
        )
        .await;
        check(
            &app,
            request("GET", "/conversions", "limit=0&lead_id=x&cursor=y", ""),
            400,
            b,
        )
        .await;
        let id = created["conversion_event"]["id"].as_str().unwrap();
        check(
            &app,
            request("GET", &format!("/conversions/{id}"), "", ""),
            200,
            b,
        )
        .await;
        check(
            &app,
            request(
                "GET",
                "/conversions/00000000-0000-4000-8000-000000000000",
                "",
                "",
            ),
            404,
            b,
        )
        .await;
        check(&app, request("GET", "/conversions/nope", "", ""), 404, b).await;
        check(
            &app,
            Request::new("GET", "/conversion-types").with_request_id("contract"),
            401,
            b,
        )
        .await;

        // The batch: every status it documents.
        let row = |key: &str, amount: &str| {
            format!(
                r#"{{"idempotency_key":"{key}","conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":{amount}}}"#
            )
        };
        let batch = |query: &str, rows: &[String]| {
            let body = format!(r#"{{"events":[{}]}}"#, rows.join(","));
            request("POST", "/conversions/batch", query, &body)
        };
        let one = [row("contract-b1", "1")];
        check(&app, batch("", &one), 200, b).await;
        check(&app, batch("dry_run=true", &one), 200, b).await;
        let partly = [row("contract-b2", "2"), row("contract-b3", "-1")];
        let answer = check(&app, batch("", &partly), 207, b).await;
        assert_eq!(answer["counts"]["invalid"], 1, "{b}: {answer}");
        check(&app, batch("", &[]), 400, b).await;
        check(&app, request("POST", "/conversions/batch", "", "[]"), 400, b).await;
        check(&app, batch("dry_run=maybe", &one), 400, b).await;
        check(&app, batch("dry_run=true&dry_run=false", &one), 400, b).await;
        let many: Vec<String> = (0..101).map(|i| row(&format!("c-{i}"), "1")).collect();
        check(&app, batch("", &many), 413, b).await;
        check(
            &app,
            batch("", &one).with_header("x-api-key", "nxr_live_unknown"),
            401,
            b,
        )
        .await;
        check(
            &app,
            Request::new("POST", "/conversions/batch").with_request_id("contract"),
            401,
            b,
        )
        .await;
        // The key is looked at before the body's size, for both creates.
        let huge = "x".repeat(conversions::http::MAX_BATCH_BODY_BYTES + 1);
        for path in ["/conversions", "/conversions/batch"] {
            let oversized = request("POST", path, "", &huge).with_header("x-api-key", "nxr_live_x");
            check(&app, oversized, 401, b).await;
        }

        for (method, path) in [
            ("DELETE", "/conversions"),
            ("HEAD", "/conversions/x"),
            ("POST", "/conversion-types"),
            ("GET", "/conversions/batch"),
        ] {
            check(&app, request(method, path, "", ""), 405, b).await;
        }
        check(&app, request("GET", "/leads", "", ""), 404, b).await;
        // A 404 before the key is looked at: none, or one that is not valid.
        let unrouted = Request::new("GET", "/leads").with_request_id("contract");
        check(&app, unrouted, 404, b).await;
        let bad_key = request("POST", "/leads", "", "{").with_header("x-api-key", "nxr_live_x");
        check(&app, bad_key, 404, b).await;

        // 500: a table that does not exist; 503: a DynamoDB that refuses connections.
        let broken = App::new(DynamoStore::new(backend.client(), "no-such-table"));
        for (method, path, body) in [
            ("POST", "/conversions", minimal("1")),
            (
                "POST",
                "/conversions/batch",
                format!(r#"{{"events":[{}]}}"#, row("contract-b4", "1")),
            ),
            ("GET", "/conversions", String::new()),
            ("GET", "/conversion-types", String::new()),
            ("GET", &format!("/conversions/{id}"), String::new()),
        ] {
            check(&broken, request(method, path, "", &body), 500, b).await;
        }
    })
    .await;
    // 500 from the list's own query: a table without the indexes.
    on_each_backend(|backend| async move {
        let table = format!("no-indexes-{}", uuid::Uuid::new_v4().simple());
        backend.keys_only_table(&table).await;
        let client = backend.client();
        let store = DynamoStore::new(client, &table);
        seed_demo(&store).await.unwrap();
        let app = App::new(store);
        check(
            &app,
            request("GET", "/conversions", "", ""),
            500,
            &backend.name,
        )
        .await;
        check(
            &app,
            request("GET", "/conversion-types", "", ""),
            200,
            &backend.name,
        )
        .await;
    })
    .await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = App::new(DynamoStore::new(
        function_client(&endpoint).await,
        "conversions",
    ));
    check(
        &unreachable,
        request("GET", "/conversions", "", ""),
        503,
        "unreachable",
    )
    .await;
    let batch = r#"{"events":[{"idempotency_key":"k","amount":1}]}"#;
    let response = unreachable
        .handle(
            request("POST", "/conversions/batch", "", batch).with_header("x-api-key", "nxr_live_x"),
        )
        .await;
    // An unknown key is looked up first: unreachable, a 503 with Retry-After.
    assert_eq!(response.status(), 503, "{}", response.body());
    assert_documented("unreachable", "POST", "/conversions/batch", &response);
}
