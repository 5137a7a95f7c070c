//! Handler behaviour that needs no DynamoDB: routing, authentication order, error mapping,
//! headers. The DynamoDB-backed paths are in `tests/`, logging in `tests/logging.rs`.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use super::*;
use crate::domain::{AccountId, ConversionEvent, ConversionTypeId, EventId, LeadId, WorkflowRunId};
use crate::seed::{DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, seed_demo};
use crate::store::{Context, InsertError, MemoryStore, StoreError};

fn request(method: Method, path: &str, key: Option<&str>, body: Body) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("https://api.test{path}"));
    if let Some(key) = key {
        builder = builder.header("x-api-key", key);
    }
    builder.body(body).unwrap()
}

fn post(body: &str) -> Request {
    request(
        Method::POST,
        "/conversions",
        Some(DEMO_API_KEY),
        Body::Text(body.to_owned()),
    )
}

fn minimal_body() -> String {
    format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":85000.00}}"#
    )
}

async fn demo_app() -> App<MemoryStore> {
    let store = MemoryStore::new();
    seed_demo(&store).await.unwrap();
    App::new(store)
}

fn json(response: &Response<Body>) -> serde_json::Value {
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("expected a text body, got {other:?}"),
    }
}

fn assert_error(response: &Response<Body>, status: StatusCode, error: &str, message: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(
        json(response),
        serde_json::json!({"error": error, "message": message})
    );
}

#[tokio::test]
async fn a_minimal_request_is_recorded_and_answered_201() {
    let app = demo_app().await;
    let response = app.handle(post(&minimal_body())).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json(&response);
    let account = AccountId::parse(crate::seed::DEMO_ACCOUNT_ID).unwrap();
    let stored = app.store().events(account);
    assert_eq!(stored.len(), 1);
    assert_eq!(body["conversion_event"]["id"], stored[0].id.to_string());
}

#[tokio::test]
async fn a_base64_encoded_body_is_read_like_a_text_body() {
    let app = demo_app().await;
    let request = request(
        Method::POST,
        "/conversions",
        Some(DEMO_API_KEY),
        Body::Binary(minimal_body().into_bytes()),
    );
    assert_eq!(app.handle(request).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_api_key_is_checked_before_the_body() {
    let app = demo_app().await;
    let missing = request(
        Method::POST,
        "/conversions",
        None,
        Body::Text("not json".into()),
    );
    assert_error(
        &app.handle(missing).await,
        StatusCode::UNAUTHORIZED,
        "Missing API key",
        "Please provide your API key in the X-API-Key header",
    );
    for key in ["nxr_live_unknown", "sk_live_abc", "nxr_live_\u{e9}"] {
        let invalid = request(
            Method::POST,
            "/conversions",
            Some(key),
            Body::Text("not json".into()),
        );
        assert_error(
            &app.handle(invalid).await,
            StatusCode::UNAUTHORIZED,
            "Invalid API key",
            "The provided API key is not valid",
        );
    }
}

#[tokio::test]
async fn an_empty_api_key_header_counts_as_missing() {
    let app = demo_app().await;
    let response = app
        .handle(request(
            Method::POST,
            "/conversions",
            Some(""),
            Body::Text(minimal_body()),
        ))
        .await;
    assert_error(
        &response,
        StatusCode::UNAUTHORIZED,
        "Missing API key",
        "Please provide your API key in the X-API-Key header",
    );
}

#[tokio::test]
async fn a_revoked_key_is_invalid() {
    use crate::store::Provisioning;
    let app = demo_app().await;
    let key = crate::domain::ApiKey::parse(DEMO_API_KEY).unwrap();
    assert!(app.store().revoke_api_key(&key.hash()).await.unwrap());
    assert_error(
        &app.handle(post(&minimal_body())).await,
        StatusCode::UNAUTHORIZED,
        "Invalid API key",
        "The provided API key is not valid",
    );
}

#[tokio::test]
async fn other_paths_are_404_and_other_methods_405_with_allow() {
    let app = demo_app().await;
    for path in ["/", "/conversion", "/conversions/123", "/leads"] {
        let response = app
            .handle(request(Method::POST, path, Some(DEMO_API_KEY), Body::Empty))
            .await;
        assert_error(
            &response,
            StatusCode::NOT_FOUND,
            "Not found",
            "Route not found",
        );
    }
    for method in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
        let response = app
            .handle(request(method, "/conversions", None, Body::Empty))
            .await;
        assert_eq!(response.headers()["allow"], "POST");
        assert_error(
            &response,
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "Only POST is supported on /conversions",
        );
    }
}

#[tokio::test]
async fn a_trailing_slash_is_the_same_route() {
    let app = demo_app().await;
    let request = request(
        Method::POST,
        "/conversions/",
        Some(DEMO_API_KEY),
        Body::Text(minimal_body()),
    );
    assert_eq!(app.handle(request).await.status(), StatusCode::CREATED);
}

/// A store that knows every key but fails every other call the way it is told to.
struct FailingStore(fn() -> StoreError);

impl Store for FailingStore {
    async fn account_for_key(
        &self,
        _: &crate::domain::ApiKeyHash,
    ) -> Result<Option<AccountId>, StoreError> {
        Ok(Some(AccountId::random()))
    }
    async fn load_context(
        &self,
        _: AccountId,
        _: ConversionTypeId,
        _: LeadId,
        _: Option<WorkflowRunId>,
    ) -> Result<Context, StoreError> {
        Err((self.0)())
    }
    async fn insert_event(&self, _: AccountId, _: &ConversionEvent) -> Result<(), InsertError> {
        Err(InsertError::Store((self.0)()))
    }
    async fn get_event(
        &self,
        _: AccountId,
        _: EventId,
    ) -> Result<Option<ConversionEvent>, StoreError> {
        Err((self.0)())
    }
}

#[tokio::test]
async fn throttling_after_retries_is_a_503_with_retry_after() {
    let app = App::new(FailingStore(|| {
        StoreError::Throttled("ProvisionedThroughputExceededException: secret detail".into())
    }));
    let response = app.handle(post(&minimal_body())).await;
    assert_eq!(
        response.headers()["retry-after"],
        RETRY_AFTER_SECONDS.to_string().as_str()
    );
    assert_error(
        &response,
        StatusCode::SERVICE_UNAVAILABLE,
        "Service unavailable",
        "The service is temporarily busy; please retry shortly",
    );
}

#[tokio::test]
async fn any_other_store_failure_is_a_500_without_detail() {
    for failure in [
        (|| StoreError::Failed("ResourceNotFoundException: table conversions-prod".into()))
            as fn() -> StoreError,
        || StoreError::Corrupt {
            key: "ACCOUNT#x/LEAD#y".into(),
            reason: "id: not a valid UUID".into(),
        },
    ] {
        let app = App::new(FailingStore(failure));
        let response = app.handle(post(&minimal_body())).await;
        assert_error(
            &response,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
            "An unexpected error occurred",
        );
    }
}
