//! No secret in the output at any log level: the function's binary, started as Lambda starts it
//! under a Runtime API emulator (the Lambda runtime's own lines, such as the raw event at TRACE,
//! come only from there), serves every `events/` fixture at TRACE and at DEBUG against a real
//! server, and its whole output (standard output and error) is searched for every API key,
//! `Idempotency-Key`, body, `notes` and `metadata` value and for the AWS credentials.

use std::io::Read;
use std::process::{Command, Stdio};

use conversions::http::{Incoming, Request};

use crate::helpers::runtime_api::Emulator;
use crate::helpers::{backends, events_dir, fixture_names};

const SECRET_ACCESS_KEY: &str = "secret-access-key-never-logged";
const SESSION_TOKEN: &str = "session-token-never-logged";

/// What a fixture holds that must never be logged: its API key and `Idempotency-Key`, its body,
/// and every `notes` and `metadata` value (strings of a few characters, and their keys).
fn secrets_of(request: &Request) -> Vec<String> {
    let mut secrets: Vec<String> = ["x-api-key", "idempotency-key"]
        .iter()
        .flat_map(|name| request.header_values(name))
        .map(str::to_owned)
        .collect();
    let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
    if body.len() >= 16 {
        secrets.push(body.clone());
    }
    if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(&body) {
        if let Some(serde_json::Value::String(notes)) = fields.get("notes") {
            secrets.push(notes.clone());
        }
        if let Some(serde_json::Value::Object(metadata)) = fields.get("metadata") {
            for (key, value) in metadata {
                secrets.push(key.clone());
                if let serde_json::Value::String(value) = value {
                    secrets.push(value.clone());
                }
            }
        }
    }
    secrets.retain(|secret| secret.len() >= 6);
    secrets
}

/// Everything the function wrote at `level` while serving every fixture once.
async fn output_at(level: &str, endpoint: &str, table: &str) -> String {
    let emulator = Emulator::start().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_conversions"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &emulator.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "conversions")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", level)
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the function starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).ok();
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).ok();
        text
    });
    for name in fixture_names() {
        let event = std::fs::read_to_string(events_dir().join(format!("{name}.json"))).unwrap();
        let answer = emulator.invoke(event).await;
        assert!(answer.contains("statusCode"), "{name}: {answer}");
    }
    child.kill().ok();
    child.wait().ok();
    format!("{}{}", out.join().unwrap(), err.join().unwrap())
}

#[tokio::test]
async fn no_secret_reaches_the_output_at_trace_or_debug_on_any_fixture() {
    let mut secrets = vec![SECRET_ACCESS_KEY.to_owned(), SESSION_TOKEN.to_owned()];
    for name in fixture_names() {
        if let Incoming::Http(request) = crate::helpers::fixture_event(&name) {
            secrets.extend(secrets_of(&request));
        }
    }
    assert!(secrets.len() > 50, "the fixtures carry secrets to look for");
    let backend = &backends()[0];
    let table = backend.fresh_table().await;
    conversions::seed::seed_demo(&table.store()).await.unwrap();
    for level in ["TRACE", "DEBUG"] {
        let output = output_at(level, &backend.endpoint, &table.name).await;
        // The output is verbose at these levels: the test sees the function's requests in it.
        assert!(
            output.matches("\"status\":201").count() >= 10,
            "{level}: the creates were logged: {output}"
        );
        for secret in &secrets {
            // Also as JSON escapes it (a body's quotes and line breaks).
            let escaped = serde_json::to_string(secret).unwrap();
            let escaped = &escaped[1..escaped.len() - 1];
            assert!(
                !output.contains(secret.as_str()) && !output.contains(escaped),
                "{level}: a secret in the output: {secret:?}"
            );
        }
    }
}
