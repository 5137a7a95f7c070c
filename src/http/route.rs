//! The routes the function serves, and how a request finds its own.

use super::{ApiError, Request};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    Conversions,
    /// `/conversions/batch`, a route of its own (never an id).
    Batch,
    /// `/conversions/{id}`, with the id as sent.
    Conversion(String),
    ConversionTypes,
}

impl Route {
    /// By the route API Gateway matched, else by the path sent (under `$default`, a function URL,
    /// `cargo lambda`); a trailing slash is the same route. A matched `/conversions/{id}` takes its
    /// id from the end of the path sent, wherever the API is mapped.
    pub(super) fn of(request: &Request) -> Option<Self> {
        fn trimmed(path: &str) -> &str {
            path.strip_suffix('/').unwrap_or(path)
        }
        match trimmed(request.route_path()) {
            "/conversions" => Some(Self::Conversions),
            "/conversions/batch" => Some(Self::Batch),
            "/conversion-types" => Some(Self::ConversionTypes),
            "/conversions/{id}" => {
                let (_, id) = trimmed(request.path()).rsplit_once('/')?;
                Some(Self::Conversion(id.to_owned()))
            }
            other => {
                let id = other.strip_prefix("/conversions/")?;
                (!id.is_empty() && !id.contains('/')).then(|| Self::Conversion(id.to_owned()))
            }
        }
    }

    /// The route as API Gateway names it, for the logs.
    pub(super) fn template(&self) -> &'static str {
        match self {
            Self::Conversions => "/conversions",
            Self::Batch => "/conversions/batch",
            Self::Conversion(_) => "/conversions/{id}",
            Self::ConversionTypes => "/conversion-types",
        }
    }

    pub(super) fn check_method(&self, method: &str) -> Result<(), ApiError> {
        let (allow, message) = match self {
            Self::Conversions => (
                "GET, POST",
                "Only GET and POST are supported on /conversions",
            ),
            Self::Batch => ("POST", "Only POST is supported on /conversions/batch"),
            Self::Conversion(_) => ("GET", "Only GET is supported on /conversions/{id}"),
            Self::ConversionTypes => ("GET", "Only GET is supported on /conversion-types"),
        };
        if allow.split(", ").any(|allowed| allowed == method) {
            Ok(())
        } else {
            Err(ApiError::MethodNotAllowed { allow, message })
        }
    }
}
