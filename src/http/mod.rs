//! The HTTP adapter: an API Gateway (HTTP API v2) request in, a response out.
//!
//! Routing, authentication, body parsing and the service call happen in [`App::handle`]; every
//! failure becomes a response through [`ApiError`], so the handler never returns `Err` and
//! never panics on input.

mod body;
mod error;
mod event;

use std::time::{Duration, Instant};

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::Instrument;

pub use body::{NOT_AN_OBJECT, ParsedBody, REQUIRED, parse_new_conversion};
pub use error::{ApiError, MAX_BODY_BYTES, RETRY_AFTER_SECONDS};
pub use event::{dry_run_json, event_json};

use crate::domain::{ApiKey, ApiKeyError, FieldError, IdempotencyKey, Timestamp};
use crate::service::{self, CreateRequest, Outcome};
use crate::store::Store;

/// The response header that carries the API Gateway request id (the Lambda request id where
/// there is no API Gateway, as under `cargo lambda invoke`).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Set (to `true`) on a response that repeats an earlier one for the same `Idempotency-Key`.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

const API_KEY_HEADER: &str = "x-api-key";
const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// How long a request may take in all, DynamoDB calls included, before it is answered 503:
/// under the function's 10 s timeout, so the client always gets this API's answer.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(8);

/// The function's state: built once at start-up, shared by every request.
pub struct App<S> {
    store: S,
    deadline: Duration,
}

impl<S: Store> App<S> {
    pub fn new(store: S) -> Self {
        Self::with_deadline(store, REQUEST_DEADLINE)
    }

    pub fn with_deadline(store: S, deadline: Duration) -> Self {
        Self { store, deadline }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Answers one request. Logs one line per request with its id, method, status and latency;
    /// never the API key, never the body.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let request_id = request_id(&request);
        let span =
            tracing::info_span!("request", request_id = %request_id, method = %request.method());
        async {
            let started = Instant::now();
            let answer = tokio::time::timeout(self.deadline, self.route(&request)).await;
            let mut response = answer
                .unwrap_or_else(|_| {
                    tracing::warn!(
                        deadline_ms = self.deadline.as_millis() as u64,
                        "request deadline passed"
                    );
                    Err(ApiError::Unavailable)
                })
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
        let account = service::authenticate(&self.store, &api_key(request)?).await?;
        let now = Timestamp::now();
        let create = read_create_request(request, now)?;
        Ok(
            match service::create_conversion(&self.store, account, create, now).await? {
                Outcome::Created(event) => {
                    tracing::info!(event_id = %event.id, "conversion recorded");
                    json_response(StatusCode::CREATED, event_json(&event))
                }
                Outcome::Replayed(event) => {
                    tracing::info!(event_id = %event.id, "conversion replayed for its Idempotency-Key");
                    let mut response = json_response(StatusCode::CREATED, event_json(&event));
                    response
                        .headers_mut()
                        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
                    response
                }
                Outcome::DryRun(event) => json_response(StatusCode::OK, dry_run_json(&event)),
            },
        )
    }
}

/// The `X-API-Key` header as a well-formed key: missing or empty, or malformed.
fn api_key(request: &Request) -> Result<ApiKey, ApiError> {
    let presented = match request.headers().get(API_KEY_HEADER) {
        None => return Err(ApiError::MissingApiKey),
        Some(value) => value.to_str().map_err(|_| ApiError::InvalidApiKey)?,
    };
    ApiKey::parse(presented).map_err(|e| match e {
        ApiKeyError::Missing => ApiError::MissingApiKey,
        ApiKeyError::Malformed => ApiError::InvalidApiKey,
    })
}

/// Everything the request says on its own: the body, the `Idempotency-Key` header and the
/// `dry_run` parameter, with every problem of the three listed together.
fn read_create_request(request: &Request, now: Timestamp) -> Result<CreateRequest, ApiError> {
    let body = body_bytes(request.body());
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut errors: Vec<FieldError> = Vec::new();
    let parsed = parse_new_conversion(body, now)
        .map_err(|e| errors.extend(e))
        .ok();
    let idempotency_key = idempotency_key(request)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let dry_run = dry_run(request).map_err(|e| errors.push(e)).ok();
    match (parsed, dry_run) {
        (
            Some(ParsedBody {
                conversion,
                fingerprint,
            }),
            Some(dry_run),
        ) if errors.is_empty() => Ok(CreateRequest {
            conversion,
            fingerprint,
            idempotency_key,
            dry_run,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// The optional `Idempotency-Key` header.
fn idempotency_key(request: &Request) -> Result<Option<IdempotencyKey>, FieldError> {
    match request.headers().get(IDEMPOTENCY_KEY_HEADER) {
        None => Ok(None),
        Some(value) => IdempotencyKey::parse(value.as_bytes())
            .map(Some)
            .map_err(|e| FieldError::new("Idempotency-Key", e)),
    }
}

/// The optional `dry_run` query parameter: `true` or `false`.
fn dry_run(request: &Request) -> Result<bool, FieldError> {
    let value = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .rfind(|(name, _)| *name == "dry_run")
        .map(|(_, value)| value);
    match value {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(FieldError::new("dry_run", "dry_run must be true or false")),
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
