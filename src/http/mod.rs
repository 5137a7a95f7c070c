//! The HTTP adapter: an API Gateway (HTTP API payload 2.0) or function URL event in, a response
//! out.
//!
//! [`App::invoke`] takes the event as Lambda delivered it ([`Incoming`], read softly in
//! `event.rs`); routing, authentication, reading the request and the service call happen in
//! [`App::handle`]; every failure becomes a response through [`ApiError`], so the function never
//! returns `Err` and never panics on input.

mod body;
mod error;
mod event;
mod observe;
mod query;
mod render;
mod response;
mod route;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::StatusCode;
use tracing::Instrument;

pub use body::{NOT_AN_OBJECT, REQUIRED, parse_new_conversion};
pub use error::{ApiError, MAX_BODY_BYTES, RETRY_AFTER_SECONDS};
pub use event::{Body, EventKind, Incoming, Request, Unsupported};
pub use observe::field_name;
pub use query::page_request;
pub use render::{
    MAX_INVOCATION_RESPONSE_BYTES, conversion_type_value, conversion_types_json, dry_run_json,
    event_json, listed_json, listing_json, render_events,
};
pub use response::{Outgoing, Response};

use observe::request_span;
use route::Route;

use crate::domain::{ApiKey, ApiKeyError, EventId, FieldError, IdempotencyKey, Timestamp};
use crate::service::{self, Caller, CreateRequest, Outcome};
use crate::store::Store;

/// The response header that carries the API Gateway request id (the Lambda request id where
/// there is no API Gateway, as under `cargo lambda invoke` with a bare event).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Set (to `true`) on a response that repeats an earlier one for the same `Idempotency-Key`.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

const API_KEY_HEADER: &str = "x-api-key";
const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// How long a request may take in all, DynamoDB calls included, before it is answered 503:
/// under the function's 10 s timeout, so the client always gets this API's answer.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(8);

/// What Lambda says of an invocation, for the logs: its request id, and the X-Ray trace id when
/// tracing is on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Invocation<'a> {
    pub request_id: &'a str,
    pub trace_id: Option<&'a str>,
}

impl<'a> From<&'a str> for Invocation<'a> {
    fn from(request_id: &'a str) -> Self {
        Self {
            request_id,
            trace_id: None,
        }
    }
}

/// The function's state: built once at start-up, shared by every request.
pub struct App<S> {
    store: S,
    deadline: Duration,
    /// Whether this process has answered a request before: the first one is its cold start.
    answered_before: AtomicBool,
}

impl<S: Store> App<S> {
    pub fn new(store: S) -> Self {
        Self::with_deadline(store, REQUEST_DEADLINE)
    }

    pub fn with_deadline(store: S, deadline: Duration) -> Self {
        Self {
            store,
            deadline,
            answered_before: AtomicBool::new(false),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Answers one Lambda invocation. An event of another kind than an HTTP request (a REST API
    /// or load balancer integration set up by mistake) is logged and answered with this API's
    /// JSON 500, in the shape that integration reads.
    pub async fn invoke<'a>(
        &self,
        event: Incoming,
        invocation: impl Into<Invocation<'a>>,
    ) -> Outgoing {
        let invocation = invocation.into();
        match event {
            Incoming::Http(request) => {
                let request = match request.request_id() {
                    Some(_) => request,
                    None => request.with_request_id(invocation.request_id),
                };
                Outgoing::http(self.serve(request, invocation).await)
            }
            Incoming::Unsupported(Unsupported { kind, request_id }) => {
                let request_id = request_id.as_deref().unwrap_or(invocation.request_id);
                let cold_start = self.cold_start();
                let span = request_span(request_id, cold_start, "unsupported event");
                let _entered = span.enter();
                tracing::error!(
                    "this function serves HTTP API (payload format 2.0) and function URL events; \
                     it was sent {kind}"
                );
                let error = ApiError::Internal.error();
                tracing::error!(status = 500, ms = 0, error);
                let response = with_request_id(ApiError::Internal.into_response(), request_id);
                Outgoing::unsupported(&kind, response)
            }
        }
    }

    /// Answers one request (outside Lambda: no Lambda request id or trace id to log).
    pub async fn handle(&self, request: Request) -> Response {
        self.serve(request, Invocation::default()).await
    }

    /// Answers one request, and logs one line for it: the request's id (API Gateway's, the one
    /// `X-Request-Id` echoes), whether it is the process's first, the route, the account (once
    /// the key is recognised), the status and the time taken, what a create did and its event,
    /// and for an error its `error` and the names of the fields in `errors[]`; never the API
    /// key, the body or a value from it. The template's metric filters count its outcomes
    /// from these lines (`template.yaml`, `RequestMetrics`); it is INFO, or WARN for a 503 and
    /// ERROR for a 500, and carries no level when INFO (Lambda reads none as INFO) to stay
    /// short: a line a request is what CloudWatch Logs bills.
    async fn serve(&self, request: Request, invocation: Invocation<'_>) -> Response {
        // (The Lambda request id and trace id are on the Lambda runtime's own span; the line
        // leaves them out.)
        let _ = invocation;
        let request_id = request.request_id().unwrap_or("-").to_owned();
        let cold_start = self.cold_start();
        let route = Route::of(&request);
        let label = format!(
            "{} {}",
            request.method(),
            route.as_ref().map_or("unmatched", Route::template)
        );
        let span = request_span(&request_id, cold_start, &label);
        async {
            let started = Instant::now();
            // Boxed where it is made: the route's future is deep (SDK calls inside), so the
            // wrappers around it (the deadline, this future, the caller's: a test's stack, the
            // runtime loop) move a pointer rather than copy its layout.
            let route = Box::pin(self.route(&request, route));
            let answer = tokio::time::timeout(self.deadline, route)
                .await
                .unwrap_or_else(|_| {
                    tracing::warn!(
                        deadline_ms = self.deadline.as_millis() as u64,
                        "request deadline passed"
                    );
                    Err(ApiError::Unavailable)
                });
            let (error, fields) = match &answer {
                Ok(_) => (None, None),
                Err(err) => {
                    let fields = match err {
                        // Bounded names: a client's own member names and metadata keys are its
                        // data.
                        ApiError::Validation(errors) => Some(
                            errors
                                .iter()
                                .map(|e| field_name(&e.field))
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                        _ => None,
                    };
                    (Some(err.error()), fields)
                }
            };
            let response = answer.unwrap_or_else(ApiError::into_response);
            let response = with_request_id(response, &request_id);
            let status = response.status().as_u16();
            let ms = started.elapsed().as_millis() as u64;
            match status {
                503 => tracing::warn!(status, ms, error, fields),
                500.. => tracing::error!(status, ms, error, fields),
                _ => tracing::info!(status, ms, error, fields),
            }
            response
        }
        .instrument(span)
        .await
    }

    /// Whether this is the process's first request (and no other is).
    fn cold_start(&self) -> bool {
        !self.answered_before.swap(true, Ordering::Relaxed)
    }

    async fn route(&self, request: &Request, route: Option<Route>) -> Result<Response, ApiError> {
        let route = route.ok_or(ApiError::RouteNotFound)?;
        route.check_method(request.method())?;
        let key = api_key(request)?;
        if route == Route::Conversions && request.method() == "POST" {
            return self.create_conversion(request, &key).await;
        }
        let account = service::authenticate(&self.store, &key).await?;
        match route {
            // GET: POST was answered above.
            Route::Conversions => {
                let page = page_request(request.query(), account).map_err(ApiError::Validation)?;
                let mut events = Vec::new();
                let listing = service::list_conversions(&self.store, account, page, |listed| {
                    events = render::render_events(listed);
                    render::events_that_fit(&events)
                })
                .await?;
                Ok(Response::json(
                    StatusCode::OK,
                    listing_json(&listing, &events),
                ))
            }
            Route::Conversion(id) => {
                // A malformed id names no event, like an unknown one.
                let id = EventId::parse(&id).map_err(|_| ApiError::EventNotFound)?;
                let listed = service::get_conversion(&self.store, account, id)
                    .await?
                    .ok_or(ApiError::EventNotFound)?;
                Ok(Response::json(StatusCode::OK, listed_json(&listed)))
            }
            Route::ConversionTypes => {
                let types = service::list_conversion_types(&self.store, account).await?;
                Ok(Response::json(
                    StatusCode::OK,
                    conversion_types_json(&types),
                ))
            }
        }
    }

    /// `POST /conversions`. A key that names its account has its record read in the same round
    /// trip as the request's records (one read, one write in all); any other key is looked up
    /// first, as is every key of a request whose payload is refused, so that an unknown key is
    /// always a 401 before anything else.
    async fn create_conversion(
        &self,
        request: &Request,
        key: &ApiKey,
    ) -> Result<Response, ApiError> {
        let now = Timestamp::now();
        let create = read_create_request(request, now);
        let caller = match (key.claimed_account(), &create) {
            (Some(account), Ok(_)) => Caller::Claimed { key, account },
            _ => Caller::Account(service::authenticate(&self.store, key).await?),
        };
        let outcome = service::create_conversion(&self.store, caller, create?, now).await?;
        // What it did, and its event, go on the request's line (one line a request, not two).
        let span = tracing::Span::current();
        let (did, response) = match outcome {
            Outcome::Created(event) => {
                span.record("event", tracing::field::display(event.id));
                (
                    "created",
                    Response::json(StatusCode::CREATED, event_json(&event)),
                )
            }
            Outcome::Replayed(event) => {
                span.record("event", tracing::field::display(event.id));
                let response = Response::json(StatusCode::CREATED, event_json(&event))
                    .with_header(REPLAYED_HEADER, "true");
                ("replayed", response)
            }
            Outcome::DryRun(event) => (
                "dry_run",
                Response::json(StatusCode::OK, dry_run_json(&event)),
            ),
        };
        span.record("outcome", did);
        Ok(response)
    }
}

/// Sets `X-Request-Id`, when the id can be a header value.
fn with_request_id(response: Response, id: &str) -> Response {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()) {
        response.with_header(REQUEST_ID_HEADER, id)
    } else {
        response
    }
}

/// The one value of a header that must not be repeated: `Err` when it was sent twice, whether
/// as two headers or as the comma-joined value API Gateway makes of them.
fn single_header<'a>(request: &'a Request, name: &'a str) -> Result<Option<&'a str>, ()> {
    let mut values = request.header_values(name);
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) if !value.contains(',') => Ok(Some(value)),
        _ => Err(()),
    }
}

/// The `X-API-Key` header as a well-formed key: missing or empty, or malformed or repeated.
fn api_key(request: &Request) -> Result<ApiKey, ApiError> {
    let presented = single_header(request, API_KEY_HEADER)
        .map_err(|()| ApiError::InvalidApiKey)?
        .ok_or(ApiError::MissingApiKey)?;
    ApiKey::parse(presented).map_err(|e| match e {
        ApiKeyError::Missing => ApiError::MissingApiKey,
        ApiKeyError::Malformed => ApiError::InvalidApiKey,
    })
}

/// Everything the request says on its own: the body, the `Idempotency-Key` header and the
/// `dry_run` parameter, with every problem of the three listed together.
fn read_create_request(request: &Request, now: Timestamp) -> Result<CreateRequest, ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let parsed = match request.body().bytes() {
        Some(body) if body.len() > MAX_BODY_BYTES => return Err(ApiError::PayloadTooLarge),
        Some(body) => parse_new_conversion(body, now)
            .map_err(|e| errors.extend(e))
            .ok(),
        None => {
            tracing::warn!("the body is marked base64-encoded but is not valid base64");
            errors.push(FieldError::with_headline(
                NOT_AN_OBJECT,
                "body",
                "the body is marked base64-encoded but is not valid base64",
            ));
            None
        }
    };
    let idempotency_key = idempotency_key(request)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let dry_run = dry_run(request).map_err(|e| errors.push(e)).ok();
    match (parsed, dry_run) {
        (Some(conversion), Some(dry_run)) if errors.is_empty() => Ok(CreateRequest {
            conversion,
            idempotency_key,
            dry_run,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// The optional `Idempotency-Key` header, sent once.
fn idempotency_key(request: &Request) -> Result<Option<IdempotencyKey>, FieldError> {
    let field = "Idempotency-Key";
    match single_header(request, IDEMPOTENCY_KEY_HEADER) {
        Ok(None) => Ok(None),
        Ok(Some(value)) => IdempotencyKey::parse(value.as_bytes())
            .map(Some)
            .map_err(|e| FieldError::new(field, e)),
        Err(()) => Err(FieldError::new(
            field,
            "Idempotency-Key must be sent once, as one value without commas",
        )),
    }
}

/// The optional `dry_run` query parameter: `true` or `false`, percent-decoded; repeated only
/// with the same value.
fn dry_run(request: &Request) -> Result<bool, FieldError> {
    match query::Query::parse(request.query()).one("dry_run")? {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(FieldError::new("dry_run", "dry_run must be true or false")),
    }
}

#[cfg(test)]
mod read_tests;
#[cfg(test)]
mod tests;
