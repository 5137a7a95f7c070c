//! The function's binary started as Lambda starts it, with each variable it reads (its own, the
//! Lambda runtime's, the AWS SDK's) empty and malformed: an empty variable is an unset one, and
//! anything it cannot run with stops it with one line naming the variable and what it must be, a
//! non-zero exit (never a panic), before it asks the Runtime API for an event.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A Runtime API that records the request line of every connection and never answers.
struct RuntimeApi {
    address: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl RuntimeApi {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || {
                    let mut line = String::new();
                    let _ = BufReader::new(&stream).read_line(&mut line);
                    seen.lock().unwrap().push(line);
                    // Held open, unanswered, until the function exits.
                    let _ = BufReader::new(&stream).read_line(&mut String::new());
                });
            }
        });
        Self { address, requests }
    }

    fn asked_for_an_event(&self) -> bool {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains("/runtime/invocation/next"))
    }
}

/// What Lambda sets (but the Runtime API), a table name, and DynamoDB on a local port nothing listens on (the
/// warm-up then fails at once, on this machine).
fn lambda_environment(closed_port: u16) -> Vec<(&'static str, String)> {
    [
        ("AWS_LAMBDA_FUNCTION_NAME", "conversions".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "local".into()),
        ("AWS_SECRET_ACCESS_KEY", "local".into()),
        (
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{closed_port}"),
        ),
        ("TABLE_NAME", "conversions".into()),
    ]
    .into()
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Outcome {
    /// `None` when it was still running after the wait (and was then stopped).
    exit_code: Option<i32>,
    stdout: String,
    stderr: String,
    asked_for_an_event: bool,
}

/// Starts the function with `overrides` over the Lambda environment, nothing else inherited.
/// Waits until it exits, or until it has asked for an event and `settle` has passed.
fn start(overrides: &[(&str, &str)], settle: Duration) -> Outcome {
    start_with_runtime_api(|address| address.to_owned(), overrides, settle)
}

/// [`start`], with `AWS_LAMBDA_RUNTIME_API` written from the Runtime API's `host:port`.
fn start_with_runtime_api(
    runtime_api: impl Fn(&str) -> String,
    overrides: &[(&str, &str)],
    settle: Duration,
) -> Outcome {
    let api = RuntimeApi::start();
    let mut command = Command::new(env!("CARGO_BIN_EXE_conversions"));
    command
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in lambda_environment(closed_port()) {
        command.env(name, value);
    }
    command.env("AWS_LAMBDA_RUNTIME_API", runtime_api(&api.address));
    for (name, value) in overrides {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    let mut asked_at = None;
    let exit_code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if api.asked_for_an_event() {
            let asked = *asked_at.get_or_insert_with(Instant::now);
            if asked.elapsed() >= settle {
                child.kill().unwrap();
                break None;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{overrides:?}: neither exited nor asked for an event in 30 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = child.wait_with_output().unwrap();
    Outcome {
        exit_code,
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
        asked_for_an_event: api.asked_for_an_event(),
    }
}

#[test]
fn every_bad_variable_stops_the_function_with_one_line_naming_it_before_the_first_next() {
    let cases: &[(&str, &str, &str)] = &[
        // (variable, value, what the line must say it must be)
        (
            "TABLE_NAME",
            "",
            "is not set: it must be the DynamoDB table's name",
        ),
        ("TABLE_NAME", "a b", "a DynamoDB table name"),
        ("AWS_REGION", "", "is not set: it must be an AWS region"),
        ("AWS_REGION", "us east 1", "an AWS region"),
        (
            "AWS_LAMBDA_RUNTIME_API",
            "",
            "is not set: it must be the Lambda Runtime API's host:port",
        ),
        ("AWS_LAMBDA_RUNTIME_API", "not valid", "host:port"),
        (
            "AWS_LAMBDA_FUNCTION_NAME",
            "",
            "is not set: it must be the function's name",
        ),
        (
            "AWS_LAMBDA_FUNCTION_VERSION",
            "",
            "is not set: it must be the function's version",
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "",
            "is not set: it must be a whole number",
        ),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "big", "a whole number"),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "3000000000",
            "a whole number",
        ),
        (
            "AWS_LAMBDA_LOG_LEVEL",
            "loud",
            "TRACE, DEBUG, INFO, WARN, ERROR or FATAL",
        ),
        ("AWS_LAMBDA_LOG_FORMAT", "xml", "JSON or Text"),
        ("RUST_LOG", "=[", "tracing filter directives"),
        (
            "AWS_LAMBDA_MAX_CONCURRENCY",
            "0",
            "a whole number, 1 or more",
        ),
        ("DYNAMODB_WARM_UP", "yes", "true or false"),
        ("EVENT_RETENTION_DAYS", "-1", "a number of days"),
        (
            "AWS_CA_BUNDLE",
            "/nonexistent/ca.pem",
            "a readable file of PEM-encoded CA",
        ),
        (
            "AWS_ENDPOINT_URL",
            "not a url",
            "an http:// or https:// URL",
        ),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            "ftp://127.0.0.1:8000",
            "an http:// or https:// URL",
        ),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            "http://",
            "an http:// or https:// URL",
        ),
        (
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            "maybe",
            "true or false",
        ),
        ("AWS_USE_FIPS_ENDPOINT", "maybe", "true or false"),
        ("AWS_USE_DUALSTACK_ENDPOINT", "maybe", "true or false"),
        ("AWS_MAX_ATTEMPTS", "three", "a whole number, 1 or more"),
        ("AWS_MAX_ATTEMPTS", "0", "a whole number, 1 or more"),
        ("AWS_RETRY_MODE", "legacy", "standard or adaptive"),
        (
            "AWS_ACCOUNT_ID_ENDPOINT_MODE",
            "always",
            "preferred, disabled or required",
        ),
        (
            "AWS_REQUEST_CHECKSUM_CALCULATION",
            "never",
            "when_supported or when_required",
        ),
        (
            "AWS_RESPONSE_CHECKSUM_VALIDATION",
            "never",
            "when_supported or when_required",
        ),
    ];
    for &(name, value, expected) in cases {
        let outcome = start(&[(name, value)], Duration::ZERO);
        let context = format!(
            "{name}={value:?}: stdout {:?}, stderr {:?}",
            outcome.stdout, outcome.stderr
        );
        assert_eq!(outcome.exit_code, Some(1), "{context}");
        assert!(!outcome.asked_for_an_event, "{context}");
        assert!(outcome.stdout.is_empty(), "{context}");
        assert_eq!(outcome.stderr.lines().count(), 1, "{context}");
        assert!(
            outcome.stderr.starts_with(&format!("error: {name} is ")),
            "{context}"
        );
        assert!(outcome.stderr.contains(expected), "{context}");
        assert!(outcome.stderr.ends_with('\n'), "{context}");
    }
}

#[test]
fn an_empty_variable_is_an_unset_one_for_the_sdk_and_the_runtime_too() {
    // What SAM's local runner hands the function for the template's optional variables, and
    // what some CI systems set. An empty AWS_ENDPOINT_URL_DYNAMODB used to panic in the SDK (the
    // global AWS_ENDPOINT_URL applies instead), an empty AWS_RETRY_MODE or AWS_MAX_ATTEMPTS too.
    let empty: Vec<(&str, &str)> = [
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_LAMBDA_MAX_CONCURRENCY",
        "AWS_LAMBDA_LOG_LEVEL",
        "AWS_LAMBDA_LOG_FORMAT",
        "RUST_LOG",
        "AWS_CA_BUNDLE",
        "DYNAMODB_WARM_UP",
        "EVENT_RETENTION_DAYS",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
    ]
    .iter()
    .map(|name| (*name, ""))
    .collect();
    let outcome = start(&empty, Duration::from_millis(300));
    assert_serving(&outcome);
}

#[test]
fn the_runtime_api_may_be_a_url_with_a_path_as_cargo_lambda_gives_it() {
    let outcome = start_with_runtime_api(
        |address| format!("http://{address}/.rt/conversions"),
        &[],
        Duration::from_millis(100),
    );
    assert_serving(&outcome);
}

fn assert_serving(outcome: &Outcome) {
    assert_eq!(
        outcome.exit_code, None,
        "still serving: stderr {:?}, stdout {:?}",
        outcome.stderr, outcome.stdout
    );
    assert!(outcome.asked_for_an_event);
    assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);
    // The warm-up reached for the global endpoint (a closed local port) and said so.
    assert!(
        outcome
            .stdout
            .contains("could not reach DynamoDB during init"),
        "{}",
        outcome.stdout
    );
}
