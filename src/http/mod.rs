//! The HTTP adapter: an API Gateway (HTTP API payload 2.0) or function URL event in, a response
//! out. Every failure becomes a response through [`ApiError`]: the function never returns `Err`
//! and never panics on input.

mod batch;
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

pub use batch::{EMPTY_BATCH, KEY_INVALID, KEY_REQUIRED, NOT_A_BATCH, read_row};
pub use body::{
    AMOUNT_FOR_RESTATEMENT, NO_AMOUNT_FOR_RETRACTION, NOT_AN_OBJECT, REQUIRED, TYPE_INVALID,
    TYPE_REQUIRED, parse_new_adjustment, parse_new_conversion,
};
pub use error::{ApiError, MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES, RETRY_AFTER_SECONDS};
pub use event::{Body, EventKind, Incoming, Request};
pub use observe::field_name;
pub use query::AS_OF_IN_FUTURE;
pub use query::page_request;
pub use render::{
    MAX_INVOCATION_RESPONSE_BYTES, adjusted_json, change_detail, conversion_type_value,
    conversion_types_json, dry_run_json, event_json, listed_json, listing_json, render_events,
};
pub use response::Response;

use observe::request_span;
use route::Route;

use crate::domain::{
    AccountId, ApiKey, ApiKeyError, CHANGES_LAG, ChangeCursor, EventId, FieldError, IdempotencyKey,
    Timestamp,
};
use crate::service::{self, Caller, CreateRequest, Outcome, Source};
use crate::store::Store;

/// Carries API Gateway's request id, or Lambda's without one (a bare `cargo lambda invoke` event).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Set (to `true`) on a response that repeats an earlier one for the same `Idempotency-Key`.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

const API_KEY_HEADER: &str = "x-api-key";
const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Time to a 503, DynamoDB calls included: under the function's 10 s timeout, so this API answers.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(8);

/// The function's state: built once at start-up, shared by every request.
pub struct App<S> {
    store: S,
    deadline: Duration,
    /// How long after it is recorded the feed serves a change ([`CHANGES_LAG`]).
    changes_lag: Duration,
    /// Whether this process has answered a request before: the first one is its cold start.
    answered_before: AtomicBool,
}

impl<S: Store> App<S> {
    pub fn new(store: S) -> Self {
        Self::with_deadline(store, REQUEST_DEADLINE)
    }

    /// At most Lambda's longest timeout, 15 minutes: no request outlives its function.
    pub fn with_deadline(store: S, deadline: Duration) -> Self {
        Self {
            store,
            deadline: deadline.min(Duration::from_secs(900)),
            changes_lag: CHANGES_LAG,
            answered_before: AtomicBool::new(false),
        }
    }

    /// Another lag for the feed: for tests, which cannot wait a minute for each change.
    pub fn with_changes_lag(self, changes_lag: Duration) -> Self {
        Self {
            changes_lag,
            ..self
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Answers one Lambda invocation. A non-HTTP event (a REST API or load balancer integration
    /// set up by mistake) is logged, naming the mistake, and gets a JSON 500.
    /// Lambda's request id stands in for an event without one of its own.
    pub async fn invoke(&self, event: Incoming, lambda_request_id: &str) -> Response {
        match event {
            Incoming::Http(request) => {
                let request = match request.request_id() {
                    Some(_) => request,
                    None => request.with_request_id(lambda_request_id),
                };
                self.handle(request).await
            }
            Incoming::Unsupported { kind, request_id } => {
                let request_id = request_id.as_deref().unwrap_or(lambda_request_id);
                let cold_start = self.cold_start();
                let span = request_span(request_id, cold_start, "unsupported event");
                let _entered = span.enter();
                tracing::error!(
                    "this function serves HTTP API (payload format 2.0) and function URL events; \
                     it was sent {kind}"
                );
                let error = ApiError::Internal.error();
                tracing::error!(status = 500, ms = 0, error);
                with_request_id(ApiError::Internal.into_response(), request_id)
            }
        }
    }

    /// Answers one request and logs one line for it (request id, cold start, route, account,
    /// status, time, a create's outcome and event, an error's `error` and `errors[]` field names),
    /// never the API key, the body or a value from it. The metric filters of `template.yaml`
    /// count these lines. INFO ones carry no level (Lambda reads none as INFO): CloudWatch bills by size.
    /// (The Lambda request id and trace id are on the runtime's own span, not on this line.)
    pub async fn handle(&self, request: Request) -> Response {
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
            let deadline = tokio::time::Instant::now() + self.deadline;
            // Boxed: the route's future is large (SDK calls inside), so the wrappers around it
            // (the deadline, this future, a test's stack, the runtime loop) move only a pointer.
            let route = Box::pin(self.route(&request, route, deadline));
            let answer = tokio::time::timeout_at(deadline, route)
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
                        // Bounded names: a client's member names and metadata keys are its data.
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

    fn cold_start(&self) -> bool {
        !self.answered_before.swap(true, Ordering::Relaxed)
    }

    async fn route(
        &self,
        request: &Request,
        route: Option<Route>,
        deadline: tokio::time::Instant,
    ) -> Result<Response, ApiError> {
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
                    let mut budget = render::Budget::default();
                    events.iter().take_while(|e| budget.admits(e)).count()
                })
                .await?;
                Ok(Response::json(
                    StatusCode::OK,
                    listing_json(&listing, &events),
                ))
            }
            Route::Conversion(id) => {
                let mut errors = Vec::new();
                let as_of = query::as_of(&query::Query::parse(request.query()), &mut errors);
                if !errors.is_empty() {
                    return Err(ApiError::Validation(errors));
                }
                // A malformed id names no event, like an unknown one.
                let id = EventId::parse(&id).map_err(|_| ApiError::EventNotFound)?;
                let listed = service::get_conversion(&self.store, account, id, as_of)
                    .await?
                    .ok_or(ApiError::EventNotFound)?;
                Ok(Response::json(StatusCode::OK, listed_json(&listed)))
            }
            Route::Adjustments(id) => self.adjust(request, account, &id).await,
            Route::Changes => self.changes(request, account).await,
            Route::Batch => self.create_batch(request, account, deadline).await,
            Route::ConversionTypes => {
                let types = service::list_conversion_types(&self.store, account).await?;
                Ok(Response::json(
                    StatusCode::OK,
                    conversion_types_json(&types),
                ))
            }
        }
    }

    /// `POST /conversions/batch`: the rows' writes stop a second before the request's deadline
    /// (counted from its arrival, the key's read included), so that the answer lists every row
    /// (the rest `retryable`) before it.
    async fn create_batch(
        &self,
        request: &Request,
        account: AccountId,
        deadline: tokio::time::Instant,
    ) -> Result<Response, ApiError> {
        let now = Timestamp::now();
        let rows = batch::read_batch(request.body().bytes(), now)?;
        let dry_run = dry_run(request).map_err(|e| ApiError::Validation(vec![e]))?;
        let (keys, rows): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
        let deadline = deadline - Duration::from_secs(1).min(self.deadline);
        let outcomes = service::create_batch(
            &self.store,
            account,
            rows,
            dry_run,
            now,
            deadline,
            Source::Api,
        )
        .await?;
        let (success, body, counts) = batch::answer(&keys, &outcomes, render::ANSWER_BUDGET);
        let span = tracing::Span::current();
        for (field, count) in counts.into_iter().filter(|(_, count)| *count > 0) {
            span.record(field, count as u64);
        }
        let status = if success {
            StatusCode::OK
        } else {
            StatusCode::MULTI_STATUS
        };
        Ok(Response::json(status, body))
    }

    /// `POST /conversions/{id}/adjustments`: the body and `Idempotency-Key` checked together
    /// (all their problems in one 400), then the event.
    async fn adjust(
        &self,
        request: &Request,
        account: AccountId,
        id: &str,
    ) -> Result<Response, ApiError> {
        let now = Timestamp::now();
        let mut errors = Vec::new();
        let (adjustment, idempotency_key) =
            read_keyed_body(request, &mut errors, |body| parse_new_adjustment(body, now))?;
        let (Some(adjustment), true) = (adjustment, errors.is_empty()) else {
            return Err(ApiError::Validation(errors));
        };
        let event = EventId::parse(id).map_err(|_| ApiError::EventNotFound)?;
        let request = service::AdjustRequest {
            event,
            adjustment,
            idempotency_key,
            dry_run: false,
        };
        let adjusted = service::adjust_conversion(&self.store, account, request, now).await?;
        let replayed = adjusted.applied == service::Applied::Replayed;
        let span = tracing::Span::current();
        span.record("event", tracing::field::display(event));
        span.record("outcome", if replayed { "replayed" } else { "adjusted" });
        let response = Response::json(StatusCode::CREATED, adjusted_json(&adjusted));
        Ok(if replayed {
            response.with_header(REPLAYED_HEADER, "true")
        } else {
            response
        })
    }

    /// `GET /conversions/changes`: a page of the feed, as much of it as a Lambda answer holds.
    async fn changes(&self, request: &Request, account: AccountId) -> Result<Response, ApiError> {
        let until = Timestamp::now().minus(self.changes_lag);
        let wanted = query::changes_request(request.query(), account, until)
            .map_err(ApiError::Validation)?;
        let (mut changes, mut budget) = (Vec::new(), render::Budget::default());
        // The next page starts after the last change that fits.
        let next = service::list_changes(&self.store, account, wanted, |change| {
            let rendered = render::change_raw(&change);
            let fits = budget.admits(&rendered);
            if fits {
                changes.push(rendered);
            }
            fits
        })
        .await?;
        let cursor = ChangeCursor::new(account, next);
        Ok(Response::json(
            StatusCode::OK,
            render::changes_json(&changes, &cursor),
        ))
    }

    /// `POST /conversions`. A key that names its account is checked in the same read as the
    /// request's records (one read, one write in all); any other key, or any key of a refused
    /// payload, is looked up first, so an unknown key is always a 401 before anything else.
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
        let (did, event) = match &outcome {
            Outcome::DryRun(event) => {
                span.record("outcome", "dry_run");
                return Ok(Response::json(StatusCode::OK, dry_run_json(event)));
            }
            Outcome::Created(event) => ("created", event),
            Outcome::Replayed(event) => ("replayed", event),
        };
        span.record("event", tracing::field::display(event.id));
        span.record("outcome", did);
        let response = Response::json(StatusCode::CREATED, event_json(event));
        Ok(match outcome {
            Outcome::Replayed(_) => response.with_header(REPLAYED_HEADER, "true"),
            _ => response,
        })
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

/// `Err` when the header was sent twice, as two headers or as API Gateway's comma-joined value.
fn single_header<'a>(request: &'a Request, name: &'a str) -> Result<Option<&'a str>, ()> {
    let mut values = request.header_values(name);
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) if !value.contains(',') => Ok(Some(value)),
        _ => Err(()),
    }
}

fn api_key(request: &Request) -> Result<ApiKey, ApiError> {
    let presented = single_header(request, API_KEY_HEADER)
        .map_err(|()| ApiError::InvalidApiKey)?
        .ok_or(ApiError::MissingApiKey)?;
    ApiKey::parse(presented).map_err(|e| match e {
        ApiKeyError::Missing => ApiError::MissingApiKey,
        ApiKeyError::Malformed => ApiError::InvalidApiKey,
    })
}

/// The body, `Idempotency-Key` and `dry_run`, with every problem of the three reported together.
fn read_create_request(request: &Request, now: Timestamp) -> Result<CreateRequest, ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let (parsed, idempotency_key) =
        read_keyed_body(request, &mut errors, |body| parse_new_conversion(body, now))?;
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

/// The body, parsed by `parse`, and the Idempotency-Key header; the problems of both go to
/// `errors`, so one 400 lists them all. Only an oversized body ends the request at once.
fn read_keyed_body<T>(
    request: &Request,
    errors: &mut Vec<FieldError>,
    parse: impl FnOnce(&[u8]) -> Result<T, Vec<FieldError>>,
) -> Result<(Option<T>, Option<IdempotencyKey>), ApiError> {
    let parsed = match request.body().bytes() {
        Some(body) if body.len() > MAX_BODY_BYTES => return Err(ApiError::PayloadTooLarge),
        Some(body) => parse(body).map_err(|e| errors.extend(e)).ok(),
        None => {
            errors.push(not_base64());
            None
        }
    };
    let key = idempotency_key(request)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    Ok((parsed, key))
}

fn not_base64() -> FieldError {
    tracing::warn!("the body is marked base64-encoded but is not valid base64");
    FieldError::with_headline(
        NOT_AN_OBJECT,
        "body",
        "the body is marked base64-encoded but is not valid base64",
    )
}

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

/// `true` or `false`, percent-decoded; it may repeat only with the same value.
fn dry_run(request: &Request) -> Result<bool, FieldError> {
    match query::Query::parse(request.query()).one("dry_run")? {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(FieldError::new("dry_run", "dry_run must be true or false")),
    }
}

#[cfg(test)]
mod adjust_tests;
#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod changes_tests;
#[cfg(test)]
mod read_tests;
#[cfg(test)]
mod tests;
