//! Every request fixture in `events/` through the real handler on the in-memory store, with its
//! documented answer (on both servers: `tests/dynamodb/events.rs`); and `openapi.yaml`'s messages
//! against the code's.

use crate::memory::MemoryStore;
use conversions::http::App;
use conversions::seed::seed_demo;

use crate::events::{
    LAMBDA_REQUEST_ID, assert_fixture_response, expectations, fixture_event, fixture_names,
};

#[test]
fn every_fixture_has_an_expectation_and_every_expectation_a_fixture() {
    let expected: Vec<String> = expectations().into_iter().map(|row| row.fixture).collect();
    assert_eq!(
        fixture_names(),
        expected,
        "events/expected.tsv: a row per fixture, in name order (the order they run in)"
    );
}

#[tokio::test]
async fn every_fixture_gets_its_documented_answer_on_the_in_memory_store() {
    let store = MemoryStore::new();
    seed_demo(&store).await.unwrap();
    let app = App::new(store);
    for name in fixture_names() {
        let answer = app.invoke(fixture_event(&name), LAMBDA_REQUEST_ID).await;
        assert_fixture_response("memory", &name, &answer);
    }
}

/// Every answer is in the HTTP API (payload 2.0) response format, the misrouted events' 500s too.
#[tokio::test]
async fn every_answer_is_an_http_api_response() {
    let app = App::new(MemoryStore::new());
    for name in [
        "rest-api-event",
        "load-balancer-event",
        "create-via-function-url",
    ] {
        let answer = app.invoke(fixture_event(name), LAMBDA_REQUEST_ID).await;
        let json = serde_json::to_value(&answer).unwrap();
        let mut keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "body",
                "cookies",
                "headers",
                "isBase64Encoded",
                "statusCode"
            ],
            "{name}"
        );
    }
}

/// The other way: every message `openapi.yaml` documents is one the code writes, as a string
/// literal (its `{...}` placeholders matching anything).
#[test]
fn every_documented_message_is_one_the_code_writes() {
    let mut literals = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let name = path.to_string_lossy().into_owned();
        if !name.ends_with(".rs") || name.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // The code before its tests, without comment lines and quote characters.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .map(|line| line.replace("'\\\"'", "").replace("'\"'", "") + "\n")
            .collect();
        let mut rest = code.as_str();
        while let Some(start) = rest.find('"') {
            let after = &rest[start + 1..];
            let mut end = 0;
            let bytes = after.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            let literal = after[..end.min(after.len())].replace("\\\"", "\"");
            literals.push(literal);
            rest = &after[(end + 1).min(after.len())..];
        }
    }
    // A literal as a pattern: its fixed parts, in order, between `{...}` placeholders, eight
    // characters at least (so that `"{} {}"` matches nothing).
    let matches = |pattern: &str, message: &str| {
        let parts: Vec<&str> = pattern
            .split('{')
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part
                } else {
                    part.split_once('}').map_or(part, |p| p.1)
                }
            })
            .collect();
        let mut at = 0;
        for (i, part) in parts.iter().enumerate() {
            match message[at..].find(part) {
                Some(found) if i > 0 || found == 0 => at += found + part.len(),
                _ => return false,
            }
        }
        let fixed: usize = parts.iter().map(|p| p.len()).sum();
        (parts.len() > 1 || at == message.len()) && fixed >= 8
    };
    let missing: Vec<&String> = crate::openapi::MESSAGES
        .iter()
        .filter(|message| {
            !literals
                .iter()
                .any(|l| l.contains(' ') && matches(l, message))
        })
        .collect();
    assert!(
        crate::openapi::MESSAGES.len() > 40,
        "{:?}",
        *crate::openapi::MESSAGES
    );
    assert!(
        missing.is_empty(),
        "documented, but no code writes: {missing:#?}"
    );
}
