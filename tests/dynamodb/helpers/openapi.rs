//! `openapi.yaml` as a test oracle: every response the tests check is also checked against the
//! document (status listed for the operation, body valid against its schema, required headers
//! present), so the document and the code cannot drift apart.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use conversions::http::Response;
use serde_json::Value;

/// The document, as JSON.
static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml is at the top of the repository");
    yaml_serde::from_str(&text).expect("openapi.yaml is YAML")
});

/// Compiled validators, by the JSON pointer of their schema.
static VALIDATORS: LazyLock<Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>> =
    LazyLock::new(Default::default);

/// The document's paths a request path falls under (`/conversions/{id}` for
/// `/conversions/<anything>`), after API Gateway's stage or a custom domain's base path.
fn template(path: &str) -> Option<&'static str> {
    let path = path.strip_suffix('/').unwrap_or(path);
    if path.ends_with("/conversion-types") {
        Some("/conversion-types")
    } else if path.ends_with("/conversions") {
        Some("/conversions")
    } else if path.rsplit_once('/')?.0.ends_with("/conversions") {
        Some("/conversions/{id}")
    } else {
        None
    }
}

/// A JSON pointer token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Follows a `$ref` within the document, giving the pointer of what it names.
fn resolve(pointer: String) -> String {
    match DOCUMENT.pointer(&pointer).and_then(|v| v.get("$ref")) {
        Some(Value::String(target)) => resolve(target.trim_start_matches('#').to_owned()),
        _ => pointer,
    }
}

fn validator(schema_pointer: &str) -> std::sync::Arc<jsonschema::Validator> {
    let mut cache = VALIDATORS.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(schema_pointer.to_owned())
        .or_insert_with(|| {
            // The whole document as the root, so that its `#/components/...` references resolve,
            // pointing at the one schema.
            let mut root = DOCUMENT.clone();
            // A URI fragment: the braces of `{id}` percent-encoded.
            let fragment = schema_pointer.replace('{', "%7B").replace('}', "%7D");
            root.as_object_mut()
                .unwrap()
                .insert("$ref".into(), Value::String(format!("#{fragment}")));
            root.as_object_mut().unwrap().insert(
                "$schema".into(),
                "https://json-schema.org/draft/2020-12/schema".into(),
            );
            std::sync::Arc::new(
                jsonschema::options()
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("openapi.yaml {schema_pointer}: {e}")),
            )
        })
        .clone()
}

/// Checks a response to `method path` against the document. Requests to no route of the
/// document, and methods a route does not serve, are answered with the error schema.
pub fn assert_documented(context: &str, method: &str, path: &str, response: &Response) {
    let status = response.status().as_u16().to_string();
    let body: Value = serde_json::from_str(response.body())
        .unwrap_or_else(|e| panic!("{context}: the body is not JSON: {e}"));
    assert!(
        response.header("x-request-id").is_some(),
        "{context}: every response carries X-Request-Id"
    );
    let operation = template(path).and_then(|t| {
        let pointer = format!("/paths/{}/{}", escape(t), method.to_ascii_lowercase());
        DOCUMENT.pointer(&pointer).map(|_| pointer)
    });
    let Some(operation) = operation else {
        // 404 Route not found, 405, or an integration that is not an HTTP API.
        validate(context, "/components/schemas/Error", &body);
        return;
    };
    let listed = format!("{operation}/responses/{status}");
    assert!(
        DOCUMENT.pointer(&listed).is_some(),
        "{context}: {method} {path} answered {status}, which openapi.yaml does not list"
    );
    let documented = resolve(listed);
    let content = format!("{documented}/content/application~1json/schema");
    assert!(
        DOCUMENT.pointer(&content).is_some(),
        "{context}: {documented} has no application/json schema"
    );
    validate(context, &content, &body);
    if let Some(Value::Object(headers)) = DOCUMENT.pointer(&format!("{documented}/headers")) {
        for (name, header) in headers {
            let header = DOCUMENT
                .pointer(&resolve(format!("{documented}/headers/{}", escape(name))))
                .unwrap_or(header);
            if header["required"] == true {
                assert!(
                    response.header(&name.to_ascii_lowercase()).is_some(),
                    "{context}: {status} must carry {name}"
                );
            }
        }
    }
}

fn validate(context: &str, schema_pointer: &str, body: &Value) {
    let errors: Vec<String> = validator(schema_pointer)
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{context}: the body does not match openapi.yaml {schema_pointer}:\n  {}\n{body}",
        errors.join("\n  ")
    );
}
