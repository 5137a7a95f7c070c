//! `openapi.yaml` as a test oracle: every response the tests check is also checked against the
//! document (status listed for the operation, body valid against its schema, required headers
//! present), so the document and the code cannot drift apart.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use conversions::http::Response;
use serde_json::Value;

/// The document, as JSON.
static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    // Built in, so that the fuzz targets (another crate, another folder) read the same file.
    let text = include_str!("../../../openapi.yaml");
    yaml_serde::from_str(text).expect("openapi.yaml is YAML")
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
    } else if path.ends_with("/conversions/batch") {
        Some("/conversions/batch")
    } else if path.ends_with("/conversions/changes") {
        Some("/conversions/changes")
    } else if path.ends_with("/conversions") {
        Some("/conversions")
    } else if let Some(event) = path.strip_suffix("/adjustments")
        && event.rsplit_once('/')?.0.ends_with("/conversions")
    {
        Some("/conversions/{id}/adjustments")
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
    // A path the router placed under no route (a stage it was not sent for, say), whatever it
    // ends with, is the document's `Route not found`.
    let unrouted = status == "404" && body["message"] == "Route not found";
    let operation = template(path).filter(|_| !unrouted).and_then(|t| {
        let pointer = format!("/paths/{}/{}", escape(t), method.to_ascii_lowercase());
        DOCUMENT.pointer(&pointer).map(|_| pointer)
    });
    let Some(operation) = operation else {
        // 404 Route not found, 405, or an integration that is not an HTTP API.
        validate(context, "/components/schemas/Error", &body);
        assert_messages_documented(context, &body);
        if status == "405" {
            // `Allow` names the methods the document lists for the path, no more, no fewer.
            let path = template(path).expect("a 405 is of a documented path");
            let item = DOCUMENT
                .pointer(&format!("/paths/{}", escape(path)))
                .unwrap();
            let mut listed: Vec<String> = (item.as_object().unwrap().keys())
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(|k| k.to_ascii_uppercase())
                .collect();
            listed.sort();
            let allow = response.header("allow");
            let mut allowed: Vec<String> = (allow.unwrap_or_default().split(','))
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect();
            allowed.sort();
            assert_eq!(allowed, listed, "{context}: Allow on a 405 is {allow:?}");
        }
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
    assert_messages_documented(context, &body);
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

/// Every message `openapi.yaml` documents: each `message` of its examples, and each bulleted
/// `` - `message`: when `` of its descriptions.
pub static MESSAGES: LazyLock<Vec<String>> = LazyLock::new(|| {
    fn walk(value: &Value, key: Option<&str>, found: &mut Vec<String>) {
        match value {
            Value::String(text) if key == Some("message") => found.push(text.clone()),
            Value::String(text) if key == Some("description") => {
                // The bullets under a `**4xx ...**` or `**5xx ...**` heading, and the messages
                // of the JSON bodies shown.
                let mut under_status = false;
                for line in text.lines().map(str::trim_start) {
                    if let Some(heading) = line.strip_prefix("**") {
                        under_status = heading.starts_with(['4', '5']);
                    }
                    if under_status
                        && let Some((message, _)) = line
                            .strip_prefix("- `")
                            .and_then(|rest| rest.split_once('`'))
                    {
                        found.push(message.to_owned());
                    }
                    for shown in line.split("\"message\": \"").skip(1) {
                        found.extend(shown.split_once('"').map(|(m, _)| m.to_owned()));
                    }
                }
            }
            Value::Object(members) => {
                for (name, member) in members {
                    walk(member, Some(name), found);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, key, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(&DOCUMENT, None, &mut found);
    found.sort();
    found.dedup();
    found
});

/// A message with what varies from one request to another made a wildcard: a metadata key, a
/// currency and its places, a member or parameter given twice.
fn shape(message: &str) -> String {
    // A member's name, whatever it holds, before what is said of it.
    for said in [
        " must not appear more than once",
        " must not be given twice with different values",
        " must not be nested more than 32 levels deep",
    ] {
        if message.ends_with(said) && !message.starts_with("metadata.") {
            return format!("*{said}");
        }
    }
    // The event's currency, and the one sent.
    if message.starts_with("currency must be the conversion event's (") {
        return "currency must be the conversion event's (*), not *".to_owned();
    }
    // A metadata key, whatever it holds, before what is said of it.
    if message.starts_with("metadata.")
        && let Some(at) = message.rfind(" must ")
    {
        return format!("metadata.*{}", &message[at..]);
    }
    let words: Vec<String> = message.split(' ').map(str::to_owned).collect();
    let shaped = words.join(" ");
    match shaped.split_once(" than ") {
        Some((head, tail)) if tail.ends_with(')') && tail.contains(" allows (") => {
            format!("{head} than * allows (*)")
        }
        _ => shaped,
    }
}

/// Every message of an error body (and of its `errors`, but the free text a body that is not
/// JSON gets) is one `openapi.yaml` documents.
pub fn assert_messages_documented(context: &str, body: &Value) {
    let documented: Vec<String> = MESSAGES.iter().map(|m| shape(m)).collect();
    let mut answered: Vec<&str> = body["message"].as_str().into_iter().collect();
    // The free text under a headline for a body that is not JSON (or not a batch) is not one.
    let detail = |entry: &Value| {
        entry["field"] == "body"
            || (entry["field"] == "events" && body["message"] == conversions::http::NOT_A_BATCH)
    };
    for entry in body["errors"].as_array().into_iter().flatten() {
        if !detail(entry) {
            answered.extend(entry["message"].as_str());
        }
    }
    for message in answered {
        assert!(
            documented.contains(&shape(message)),
            "{context}: the message {message:?} is not in openapi.yaml"
        );
    }
}
