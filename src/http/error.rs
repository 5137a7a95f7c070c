//! Every error the API answers with, and the one mapping to a status and `{"error", "message"}`.

use http::StatusCode;
use serde::Serialize;

use super::Response;

use crate::domain::FieldError;
use crate::service::{AdjustError, AuthError, CreateError, MAX_BATCH_ROWS};
use crate::store::StoreError;

pub const RETRY_AFTER_SECONDS: u32 = 1;

/// Causes (store failures) are logged where they are mapped and never reach the client.
#[derive(Debug)]
pub enum ApiError {
    MissingApiKey,
    InvalidApiKey,
    /// Every problem found; the first is the documented `message`.
    Validation(Vec<FieldError>),
    PayloadTooLarge,
    /// A batch of more than [`MAX_BATCH_ROWS`] rows or [`MAX_BATCH_BODY_BYTES`] bytes.
    BatchTooLarge,
    /// The `Idempotency-Key` was used with another body.
    IdempotencyMismatch,
    RouteNotFound,
    /// No event of the account has this id (or the id is not one).
    EventNotFound,
    /// The event's state refuses the adjustment (retracted, or full).
    Conflict(&'static str),
    MethodNotAllowed {
        allow: &'static str,
        message: &'static str,
    },
    Unavailable,
    Internal,
}

pub const MAX_BODY_BYTES: usize = 65_536;
/// The largest batch body accepted, in bytes (1 MiB).
pub const MAX_BATCH_BODY_BYTES: usize = 1_048_576;
// The 413 message states the limit.
const _: () = assert!(MAX_BODY_BYTES == 65_536);
const _: () = assert!(MAX_BATCH_BODY_BYTES == 1_048_576 && MAX_BATCH_ROWS == 100);

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
    /// Only on 400s: every problem, so a client fixes a payload in one round trip.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<FieldErrorBody<'a>>>,
}

#[derive(Serialize, Clone)]
pub(super) struct FieldErrorBody<'a> {
    pub field: &'a str,
    pub message: &'a str,
}

impl<'a> From<&'a FieldError> for FieldErrorBody<'a> {
    fn from(e: &'a FieldError) -> Self {
        Self {
            field: &e.field,
            message: &e.message,
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingApiKey | Self::InvalidApiKey => StatusCode::UNAUTHORIZED,
            Self::Validation(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge | Self::BatchTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::RouteNotFound | Self::EventNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn error(&self) -> &'static str {
        match self {
            Self::MissingApiKey => "Missing API key",
            Self::InvalidApiKey => "Invalid API key",
            Self::Validation(_) => "Validation error",
            Self::PayloadTooLarge | Self::BatchTooLarge => "Payload too large",
            Self::IdempotencyMismatch => "Idempotency error",
            Self::Conflict(_) => "Conflict",
            Self::RouteNotFound | Self::EventNotFound => "Not found",
            Self::MethodNotAllowed { .. } => "Method not allowed",
            Self::Unavailable => "Service unavailable",
            Self::Internal => "Internal server error",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::MissingApiKey => "Please provide your API key in the X-API-Key header",
            Self::InvalidApiKey => "The provided API key is not valid",
            Self::Validation(errors) => errors
                .first()
                .map_or("The request is invalid", FieldError::headline),
            Self::PayloadTooLarge => "Request body must not exceed 65536 bytes",
            Self::BatchTooLarge => "A batch must not exceed 100 events or 1048576 bytes",
            Self::IdempotencyMismatch => {
                "Idempotency-Key has already been used with a different request body"
            }
            Self::RouteNotFound => "Route not found",
            Self::EventNotFound => "Conversion event not found or does not belong to your account",
            Self::MethodNotAllowed { message, .. } | Self::Conflict(message) => message,
            Self::Unavailable => "The service is temporarily busy; please retry shortly",
            Self::Internal => "An unexpected error occurred",
        }
    }

    pub fn into_response(self) -> Response {
        let errors = match &self {
            Self::Validation(errors) => Some(errors.iter().map(FieldErrorBody::from).collect()),
            _ => None,
        };
        let body = ErrorBody {
            error: self.error(),
            message: self.message(),
            errors,
        };
        let body = serde_json::to_string(&body).expect("strings always serialise");
        let response = Response::json(self.status(), body);
        match self {
            Self::MethodNotAllowed { allow, .. } => response.with_header("allow", allow),
            Self::Unavailable => {
                response.with_header("retry-after", RETRY_AFTER_SECONDS.to_string())
            }
            _ => response,
        }
    }
}

impl From<StoreError> for ApiError {
    /// Logs the cause (in the request's span, so with its request id), keeping it from the client.
    fn from(err: StoreError) -> Self {
        let chain = crate::telemetry::error_chain(&err);
        match err {
            StoreError::Throttled(_) | StoreError::Unavailable(_) => {
                tracing::warn!(error = %chain, "store busy, slow or failing for now; answering 503");
                Self::Unavailable
            }
            StoreError::Failed(_) | StoreError::Corrupt { .. } => {
                tracing::error!(error = %chain, "store failure");
                Self::Internal
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Invalid => Self::InvalidApiKey,
            AuthError::Store(err) => err.into(),
        }
    }
}

impl From<CreateError> for ApiError {
    fn from(err: CreateError) -> Self {
        match err {
            CreateError::Auth(err) => err.into(),
            CreateError::Invalid(errors) => Self::Validation(errors),
            CreateError::IdempotencyMismatch => Self::IdempotencyMismatch,
            CreateError::Store(err) => err.into(),
        }
    }
}

impl From<AdjustError> for ApiError {
    fn from(err: AdjustError) -> Self {
        match err {
            AdjustError::NotFound => Self::EventNotFound,
            AdjustError::Invalid(errors) => Self::Validation(errors),
            AdjustError::Conflict(message) => Self::Conflict(message),
            AdjustError::IdempotencyMismatch => Self::IdempotencyMismatch,
            AdjustError::Store(err) => err.into(),
        }
    }
}
