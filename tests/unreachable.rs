//! A DynamoDB that accepts connections and never answers: the function's SDK configuration
//! (endpoint from `AWS_ENDPOINT_URL_DYNAMODB`, the timeouts of `config::load_sdk_config`) turns
//! it into a 503 with `Retry-After`, well before the function's own 10 s timeout. Its own test
//! binary, because it sets process environment variables.

mod common;

use std::time::{Duration, Instant};

use conversions::config::{DYNAMODB_OPERATION_TIMEOUT, load_sdk_config};
use conversions::http::App;
use conversions::store::DynamoStore;

#[tokio::test]
async fn a_dynamodb_that_never_answers_is_a_503_within_the_operation_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    // Accept connections and hold them open without a word.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    // SAFETY: this binary's only test sets these before any other thread reads the environment.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", &endpoint);
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "local");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "local");
    }
    let sdk_config = load_sdk_config().await;
    let app = App::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk_config),
        "conversions",
    ));

    let started = Instant::now();
    let response = app.handle(common::fixture("create-minimal")).await;
    let took = started.elapsed();

    assert_eq!(response.status(), 503, "{}", common::body_text(&response));
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(
        took < DYNAMODB_OPERATION_TIMEOUT + Duration::from_secs(2),
        "took {took:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "answered before the function's timeout"
    );
}
