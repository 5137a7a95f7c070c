//! The routes the function serves, and how a request finds its own.

use super::{ApiError, Request};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    Conversions,
    /// `/conversions/batch`, a route of its own (never an id).
    Batch,
    /// `/conversions/changes`, the feed (never an id either).
    Changes,
    /// `/conversions/{id}`, with the id as sent.
    Conversion(String),
    /// `/conversions/{id}/adjustments`, with the id as sent.
    Adjustments(String),
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
            "/conversions/changes" => Some(Self::Changes),
            "/conversion-types" => Some(Self::ConversionTypes),
            "/conversions/{id}" => {
                let (_, id) = trimmed(request.path()).rsplit_once('/')?;
                Some(Self::Conversion(id.to_owned()))
            }
            "/conversions/{id}/adjustments" => {
                let rest = trimmed(request.path()).strip_suffix("/adjustments")?;
                let (_, id) = rest.rsplit_once('/')?;
                Some(Self::Adjustments(id.to_owned()))
            }
            other => {
                let rest = other.strip_prefix("/conversions/")?;
                let (id, adjustments) = match rest.strip_suffix("/adjustments") {
                    Some(id) => (id, true),
                    None => (rest, false),
                };
                if id.is_empty() || id.contains('/') {
                    return None;
                }
                let id = id.to_owned();
                Some(if adjustments {
                    Self::Adjustments(id)
                } else {
                    Self::Conversion(id)
                })
            }
        }
    }

    /// The route as API Gateway names it, for the logs.
    pub(super) fn template(&self) -> &'static str {
        match self {
            Self::Conversions => "/conversions",
            Self::Batch => "/conversions/batch",
            Self::Changes => "/conversions/changes",
            Self::Conversion(_) => "/conversions/{id}",
            Self::Adjustments(_) => "/conversions/{id}/adjustments",
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
            Self::Changes => ("GET", "Only GET is supported on /conversions/changes"),
            Self::Conversion(_) => ("GET", "Only GET is supported on /conversions/{id}"),
            Self::Adjustments(_) => (
                "POST",
                "Only POST is supported on /conversions/{id}/adjustments",
            ),
            Self::ConversionTypes => ("GET", "Only GET is supported on /conversion-types"),
        };
        if allow.split(", ").any(|allowed| allowed == method) {
            Ok(())
        } else {
            Err(ApiError::MethodNotAllowed { allow, message })
        }
    }
}
