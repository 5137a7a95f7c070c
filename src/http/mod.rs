//! The HTTP adapter: an API Gateway (HTTP API v2) request in, a response out.
//!
//! Routing, authentication, body parsing and the service call happen in [`App::handle`]; every
//! failure becomes a response through [`ApiError`], so the handler never returns `Err` and
//! never panics on input.

mod body;
mod error;
mod event;

use std::time::Instant;

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::Instrument;

pub use body::{NOT_AN_OBJECT, REQUIRED, parse_new_conversion};
pub use error::{ApiError, RETRY_AFTER_SECONDS};
pub use event::event_json;

use crate::domain::Timestamp;
use crate::service::{self, CreateError};
use crate::store::Store;

/// The response header that carries the API Gateway request id (the Lambda request id where
/// there is no API Gateway, as under `cargo lambda invoke`).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

const API_KEY_HEADER: &str = "x-api-key";

/// The function's state: built once at start-up, shared by every request.
pub struct App<S> {
    store: S,
}

impl<S: Store> App<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Answers one request. Logs one line per request with its id, method, route, status and
    /// latency; never the API key, never the body.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let request_id = request_id(&request);
        let span =
            tracing::info_span!("request", request_id = %request_id, method = %request.method());
        async {
            let started = Instant::now();
            let mut response = self
                .route(&request)
                .await
                .unwrap_or_else(ApiError::into_response);
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            tracing::info!(
                status = response.status().as_u16(),
                latency_ms = started.elapsed().as_millis() as u64,
                "request handled"
            );
            response
        }
        .instrument(span)
        .await
    }

    async fn route(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        if !is_conversions_path(&path(request)) {
            return Err(ApiError::NotFound);
        }
        if request.method() != Method::POST {
            return Err(ApiError::MethodNotAllowed);
        }
        let presented = request
            .headers()
            .get(API_KEY_HEADER)
            .map(|v| v.to_str().unwrap_or("\u{0}"));
        let account = service::authenticate(&self.store, presented).await?;
        let new_conversion =
            parse_new_conversion(body_bytes(request.body())).map_err(CreateError::Invalid)?;
        let event =
            service::create_conversion(&self.store, account, new_conversion, Timestamp::now())
                .await?;
        tracing::info!(event_id = %event.id, "conversion recorded");
        Ok(json_response(StatusCode::CREATED, event_json(&event)))
    }
}

fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The path as the client sent it, without the API Gateway stage.
fn path(request: &Request) -> String {
    let raw = request.raw_http_path();
    let path = if raw.is_empty() {
        request.uri().path()
    } else {
        raw
    };
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => match context.stage.as_deref() {
            Some(stage) if stage != "$default" => path
                .strip_prefix(&format!("/{stage}"))
                .filter(|p| p.starts_with('/'))
                .unwrap_or(path)
                .to_owned(),
            _ => path.to_owned(),
        },
        _ => path.to_owned(),
    }
}

fn is_conversions_path(path: &str) -> bool {
    matches!(path, "/conversions" | "/conversions/")
}

fn request_id(request: &Request) -> String {
    let from_gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    };
    from_gateway
        .or_else(|| {
            request
                .lambda_context_ref()
                .map(|context| context.request_id.clone())
        })
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "-".to_owned())
}

/// The body's bytes whatever API Gateway made of it (text, or base64-decoded binary). The
/// `Content-Type` header is not consulted: a body that parses as JSON is accepted.
fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

#[cfg(test)]
mod tests;
