//! A response, and the JSON Lambda returns for it: the HTTP API (payload 2.0) and function URL
//! response format.

use std::collections::BTreeMap;

use http::StatusCode;
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: StatusCode,
    headers: BTreeMap<&'static str, String>,
    body: String,
}

impl Response {
    pub fn json(status: StatusCode, body: String) -> Self {
        let headers = BTreeMap::from([("content-type", "application/json".to_owned())]);
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

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Response", 5)?;
        out.serialize_field("statusCode", &self.status.as_u16())?;
        out.serialize_field("headers", &self.headers)?;
        out.serialize_field("body", &self.body)?;
        out.serialize_field("isBase64Encoded", &false)?;
        // Part of the 2.0 response format; tools that read it (cargo lambda) require it.
        out.serialize_field("cookies", &[] as &[&str])?;
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_api_response_has_status_headers_and_a_text_body() {
        let response =
            Response::json(StatusCode::CREATED, "{}".into()).with_header("x-request-id", "r-1");
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({
                "statusCode": 201,
                "headers": {"content-type": "application/json", "x-request-id": "r-1"},
                "body": "{}",
                "isBase64Encoded": false,
                "cookies": []
            })
        );
    }
}
