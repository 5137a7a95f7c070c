//! A response, and the JSON Lambda returns for it in the shape its event's sender expects.

use std::collections::BTreeMap;

use http::StatusCode;
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use super::event::EventKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: StatusCode,
    headers: BTreeMap<&'static str, String>,
    body: String,
}

impl Response {
    pub fn json(status: StatusCode, body: String) -> Self {
        let mut headers = BTreeMap::new();
        headers.insert("content-type", "application/json".to_owned());
        Self {
            status,
            headers,
            body,
        }
    }

    /// Sets a header (lower-case name).
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.insert(name, value.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn body(&self) -> &str {
        &self.body
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    shape: Shape,
    response: Response,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// HTTP API payload 2.0 and function URLs (also what anything else gets).
    HttpApi,
    RestApi,
    /// Application Load Balancer: wants a status description too.
    LoadBalancer,
}

impl Outgoing {
    pub fn http(response: Response) -> Self {
        Self {
            shape: Shape::HttpApi,
            response,
        }
    }

    pub fn unsupported(kind: &EventKind, response: Response) -> Self {
        let shape = match kind {
            EventKind::RestApi => Shape::RestApi,
            EventKind::LoadBalancer => Shape::LoadBalancer,
            EventKind::Other(_) => Shape::HttpApi,
        };
        Self { shape, response }
    }

    pub fn response(&self) -> &Response {
        &self.response
    }
}

impl Serialize for Outgoing {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = &self.response;
        let fields = 5;
        let mut out = serializer.serialize_struct("Response", fields)?;
        out.serialize_field("statusCode", &r.status.as_u16())?;
        if self.shape == Shape::LoadBalancer {
            let description = format!(
                "{} {}",
                r.status.as_u16(),
                r.status.canonical_reason().unwrap_or_default()
            );
            out.serialize_field("statusDescription", &description)?;
        }
        out.serialize_field("headers", &r.headers)?;
        if self.shape == Shape::RestApi {
            out.serialize_field("multiValueHeaders", &BTreeMap::<&str, Vec<&str>>::new())?;
        }
        out.serialize_field("body", &r.body)?;
        out.serialize_field("isBase64Encoded", &false)?;
        if self.shape == Shape::HttpApi {
            // Part of the 2.0 response format; tools that read it (cargo lambda) require it.
            out.serialize_field("cookies", &[] as &[&str])?;
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(outgoing: &Outgoing) -> serde_json::Value {
        serde_json::to_value(outgoing).unwrap()
    }

    #[test]
    fn an_http_api_response_has_status_headers_and_a_text_body() {
        let response =
            Response::json(StatusCode::CREATED, "{}".into()).with_header("x-request-id", "r-1");
        assert_eq!(
            json(&Outgoing::http(response)),
            serde_json::json!({
                "statusCode": 201,
                "headers": {"content-type": "application/json", "x-request-id": "r-1"},
                "body": "{}",
                "isBase64Encoded": false,
                "cookies": []
            })
        );
    }

    #[test]
    fn rest_api_and_load_balancer_events_get_their_own_shapes() {
        let response = Response::json(StatusCode::INTERNAL_SERVER_ERROR, "{}".into());
        let rest = json(&Outgoing::unsupported(
            &EventKind::RestApi,
            response.clone(),
        ));
        assert_eq!(rest["multiValueHeaders"], serde_json::json!({}));
        let alb = json(&Outgoing::unsupported(&EventKind::LoadBalancer, response));
        assert_eq!(alb["statusDescription"], "500 Internal Server Error");
        assert_eq!(alb["statusCode"], 500);
    }
}
