//! The Lambda event, read softly: an HTTP API (payload 2.0) or function URL request becomes a
//! [`Request`] whatever bytes it holds, any other event is refused, never a runtime failure
//! (`lambda_http` `unwrap`s query and headers: a space in a query or odd `x-forwarded-proto`
//! panicked). Every field is optional, strings as sent (bad escapes: U+FFFD); routes validate them.

use std::fmt;

use base64::Engine;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

#[derive(Debug, Clone)]
pub enum Incoming {
    Http(Request),
    /// Any other event: logged and answered with this API's JSON 500.
    Unsupported {
        kind: EventKind,
        request_id: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    RestApi,
    LoadBalancer,
    /// Not an HTTP event at all (a test invoke, another service's event), or unreadable.
    Other(String),
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RestApi => f.write_str(
                "an API Gateway REST API (payload format 1.0) event: integrate this function \
                 with an HTTP API (payload format 2.0) or a function URL",
            ),
            Self::LoadBalancer => f.write_str(
                "an Application Load Balancer event: put this function behind an HTTP API \
                 (payload format 2.0) or a function URL",
            ),
            Self::Other(why) => write!(f, "not an HTTP API (payload format 2.0) event: {why}"),
        }
    }
}

impl Incoming {
    pub fn from_json(text: &str) -> Self {
        match serde_json::from_str::<Envelope>(text) {
            Ok(envelope) => envelope.into_incoming(),
            Err(err) => Self::Unsupported {
                kind: EventKind::Other(err.to_string()),
                request_id: None,
            },
        }
    }
}

/// Never fails for a JSON payload: [`Incoming::from_json`] decides what it holds.
impl<'de> Deserialize<'de> for Incoming {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(Self::from_json(raw.get()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    /// The matched route's path (`/conversions` of `POST /conversions`); `None` under `$default`.
    route: Option<String>,
    path: String,
    query: String,
    /// Names in lower case, in the order received; a name may appear more than once.
    headers: Vec<(String, String)>,
    body: Body,
    request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Text(String),
    Binary(Vec<u8>),
    NotBase64,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            route: None,
            path: path.to_owned(),
            query: String::new(),
            headers: Vec::new(),
            body: Body::Text(String::new()),
            request_id: None,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn with_query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }

    pub fn with_body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    pub fn with_request_id(mut self, id: &str) -> Self {
        self.request_id = Some(id.to_owned());
        self
    }

    pub fn method(&self) -> &str {
        &self.method
    }

    /// Without a named stage's prefix (behind a custom domain, with the API mapping's base path).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn route_path(&self) -> &str {
        self.route.as_deref().unwrap_or(&self.path)
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    /// Every value of a header in order (API Gateway comma-joins repeats; a name may recur).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn body(&self) -> &Body {
        &self.body
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl Body {
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Text(text) => Some(text.as_bytes()),
            Self::Binary(bytes) => Some(bytes),
            Self::NotBase64 => None,
        }
    }
}

/// Every field of the events this function may be sent, all optional.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Envelope {
    version: Option<Text>,
    route_key: Option<Text>,
    raw_path: Option<Text>,
    raw_query_string: Option<Text>,
    headers: Option<Headers>,
    body: Option<Text>,
    is_base64_encoded: Option<bool>,
    request_context: Option<Context>,
    /// REST API (1.0) and load balancer events have it instead of `requestContext.http`.
    http_method: Option<IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Context {
    request_id: Option<Text>,
    stage: Option<Text>,
    http: Option<HttpContext>,
    /// Only in load balancer events.
    elb: Option<IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HttpContext {
    method: Option<Text>,
    path: Option<Text>,
}

impl Envelope {
    fn into_incoming(self) -> Incoming {
        let context = self.request_context.unwrap_or_default();
        // An id unfit for a header (API Gateway's never is) yields to Lambda's, for `X-Request-Id`.
        let request_id = context
            .request_id
            .map(|t| t.0)
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()));
        let unsupported = |kind| Incoming::Unsupported {
            kind,
            request_id: request_id.clone(),
        };
        if context.elb.is_some() {
            return unsupported(EventKind::LoadBalancer);
        }
        // Payload 2.0 has `requestContext.http.method`. (Events serialised by some tools carry
        // a top-level `httpMethod` too, so that alone does not make a REST API event.)
        let http = context.http.unwrap_or_default();
        let Some(method) = http.method.map(|t| t.0) else {
            if self.http_method.is_some() {
                return unsupported(EventKind::RestApi);
            }
            let version = self.version.map_or_else(|| "absent".to_owned(), |t| t.0);
            return unsupported(EventKind::Other(format!(
                "no requestContext.http.method (version {version})"
            )));
        };
        let path = self
            .raw_path
            .or(http.path)
            .map_or_else(|| "/".to_owned(), |t| t.0);
        let stage = context.stage.map(|t| t.0);
        let body = match (self.body, self.is_base64_encoded.unwrap_or(false)) {
            (None, _) => Body::Text(String::new()),
            (Some(text), false) => Body::Text(text.0),
            (Some(text), true) => base64::engine::general_purpose::STANDARD
                .decode(text.0.as_bytes())
                .map_or(Body::NotBase64, Body::Binary),
        };
        Incoming::Http(Request {
            method,
            route: self
                .route_key
                .and_then(|key| route_path(&key.0).map(str::to_owned)),
            path: without_stage(path, stage.as_deref()),
            query: self.raw_query_string.map(|t| t.0).unwrap_or_default(),
            headers: self.headers.map(|h| h.0).unwrap_or_default(),
            body,
            request_id,
        })
    }
}

/// A route key's path; none for `$default` or a greedy `/{proxy+}`: neither tells the path sent.
fn route_path(route_key: &str) -> Option<&str> {
    let (_, path) = route_key.split_once(' ')?;
    (path.starts_with('/') && !path.contains("+}")).then_some(path)
}

/// An HTTP API puts a named stage in front of the path (`/prod/conversions`); `$default` has none.
fn without_stage(path: String, stage: Option<&str>) -> String {
    match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => {
            let rest = path
                .strip_prefix('/')
                .and_then(|p| p.strip_prefix(stage))
                .filter(|rest| rest.is_empty() || rest.starts_with('/'));
            match rest {
                Some("") => "/".to_owned(),
                Some(rest) => rest.to_owned(),
                None => path,
            }
        }
        _ => path,
    }
}

/// Escapes that are not valid Unicode (a lone surrogate) become U+FFFD, not a failed event.
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text, E> {
                Ok(Text(text.to_owned()))
            }
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Text, E> {
                Ok(Text(String::from_utf8_lossy(bytes).into_owned()))
            }
        }
        // serde_json hands a string's bytes, escapes processed, without insisting on UTF-8.
        deserializer.deserialize_bytes(TextVisitor)
    }
}

struct Headers(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of header names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut headers = Vec::new();
                while let Some((name, value)) = map.next_entry::<Text, Option<Text>>()? {
                    if let Some(value) = value {
                        headers.push((name.0.to_ascii_lowercase(), value.0));
                    }
                }
                Ok(Headers(headers))
            }
        }
        deserializer.deserialize_map(HeadersVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_event_says_what_was_wrong() {
        for (event, expected) in [
            (r#"{"version":2}"#, "expected a string"),
            (
                r#"{"headers":5}"#,
                "expected a map of header names to values",
            ),
        ] {
            match Incoming::from_json(event) {
                Incoming::Unsupported { kind, .. } => {
                    assert!(kind.to_string().contains(expected), "{kind}")
                }
                Incoming::Http(_) => panic!("{event} read as a request"),
            }
        }
    }

    #[test]
    fn an_unsupported_event_is_named_with_what_to_do() {
        assert!(
            EventKind::RestApi
                .to_string()
                .starts_with("an API Gateway REST API")
        );
        assert!(
            EventKind::LoadBalancer
                .to_string()
                .contains("Application Load Balancer")
        );
        assert_eq!(
            EventKind::Other("no requestContext".into()).to_string(),
            "not an HTTP API (payload format 2.0) event: no requestContext"
        );
    }

    fn http(json: &str) -> Request {
        match Incoming::from_json(json) {
            Incoming::Http(request) => request,
            Incoming::Unsupported { kind, .. } => panic!("{kind}"),
        }
    }

    #[test]
    fn a_named_stage_is_not_part_of_the_path() {
        for (path, stage, expected) in [
            ("/prod/conversions", "prod", "/conversions"),
            ("/prod", "prod", "/"),
            ("/production/conversions", "prod", "/production/conversions"),
            ("/conversions", "$default", "/conversions"),
            // The $default stage has no prefix: a path that starts with its name is as sent.
            ("/$default/conversions", "$default", "/$default/conversions"),
            ("/conversions", "", "/conversions"),
        ] {
            assert_eq!(
                without_stage(path.to_owned(), Some(stage)),
                expected,
                "{path}"
            );
        }
    }

    #[test]
    fn a_route_key_names_the_template_path_and_default_names_none() {
        assert_eq!(route_path("POST /conversions"), Some("/conversions"));
        assert_eq!(
            route_path("ANY /conversions/{id}"),
            Some("/conversions/{id}")
        );
        assert_eq!(route_path("$default"), None);
        assert_eq!(route_path("ANY /{proxy+}"), None);
    }

    #[test]
    fn odd_bytes_anywhere_are_taken_as_they_come() {
        let request = http(
            r#"{"version":"2.0","routeKey":"$default","rawPath":"/conversions",
                "rawQueryString":"a=b c&q=\"<x>\"&n=\u00e9","headers":{"X-Forwarded-Proto":"h t\u0001",
                "x-odd":"\ud800","x-null":null},"requestContext":{"http":{"method":"POST"},
                "requestId":"r-1","stage":"$default"},"body":"{}","isBase64Encoded":false}"#,
        );
        assert_eq!(request.query(), "a=b c&q=\"<x>\"&n=\u{e9}");
        assert_eq!(
            request
                .header_values("x-forwarded-proto")
                .collect::<Vec<_>>(),
            ["h t\u{1}"]
        );
        let odd: Vec<&str> = request.header_values("x-odd").collect();
        assert!(
            odd.len() == 1 && !odd[0].is_empty() && odd[0].chars().all(|c| c == '\u{fffd}'),
            "{odd:?}"
        );
        assert_eq!(request.header_values("x-null").count(), 0);
        assert_eq!(request.request_id(), Some("r-1"));
    }

    #[test]
    fn a_request_id_that_cannot_be_a_header_value_is_no_id() {
        let request = http(
            r#"{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET"},
                "requestId":"r 1"}}"#,
        );
        assert_eq!(request.request_id(), None);
        // A context given as an array is read by position: its first item is the request id.
        match Incoming::from_json(r#"{"requestContext":["¡"]}"#) {
            Incoming::Unsupported { request_id, .. } => assert_eq!(request_id, None),
            Incoming::Http(_) => panic!("not an HTTP request"),
        }
    }

    #[test]
    fn a_header_named_twice_keeps_both_values() {
        let request = http(
            r#"{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET"}},
                "headers":{"x-api-key":"a","X-API-Key":"b"}}"#,
        );
        assert_eq!(
            request.header_values("X-Api-Key").collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    #[test]
    fn a_base64_body_is_decoded_and_an_invalid_one_is_marked() {
        let event = |body: &str| {
            format!(
                r#"{{"version":"2.0","rawPath":"/","requestContext":{{"http":{{"method":"POST"}}}},
                    "body":"{body}","isBase64Encoded":true}}"#
            )
        };
        assert_eq!(http(&event("e30=")).body(), &Body::Binary(b"{}".to_vec()));
        assert_eq!(http(&event("e30")).body(), &Body::NotBase64);
        assert_eq!(http(&event("not base64!")).body(), &Body::NotBase64);
    }

    #[test]
    fn rest_api_load_balancer_and_other_events_are_recognised() {
        let kind = |json: &str| match Incoming::from_json(json) {
            Incoming::Unsupported { kind, .. } => kind,
            Incoming::Http(request) => panic!("read as HTTP: {request:?}"),
        };
        assert_eq!(
            kind(
                r#"{"resource":"/{proxy+}","path":"/conversions","httpMethod":"POST","requestContext":{"stage":"prod"}}"#
            ),
            EventKind::RestApi
        );
        assert_eq!(
            kind(
                r#"{"httpMethod":"POST","path":"/","requestContext":{"elb":{"targetGroupArn":"arn"}}}"#
            ),
            EventKind::LoadBalancer
        );
        assert!(matches!(kind("{}"), EventKind::Other(_)));
        // What some tools serialise for payload 2.0: a top-level httpMethod beside the real one.
        assert!(matches!(
            Incoming::from_json(
                r#"{"version":"2.0","httpMethod":"GET","rawPath":"/","requestContext":{"http":{"method":"POST"}}}"#
            ),
            Incoming::Http(request) if request.method() == "POST"
        ));
        assert!(matches!(kind("[1, 2]"), EventKind::Other(_)));
        assert!(matches!(kind(r#"{"headers": 42}"#), EventKind::Other(_)));
    }
}
