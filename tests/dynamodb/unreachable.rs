//! A DynamoDB that cannot be reached in time becomes a 503 with `Retry-After`, well before the
//! function's own 10 s timeout, through the function's own SDK configuration (the timeouts of
//! `config::load_sdk_config`), pointed at a server that never answers.

use std::time::{Duration, Instant};

use conversions::config::{DYNAMODB_OPERATION_TIMEOUT, load_sdk_config};
use conversions::http::App;
use conversions::store::DynamoStore;
use lambda_http::{Body, Response};

/// The function's own DynamoDB client, sent to `endpoint`.
async fn function_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let sdk_config = load_sdk_config().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Handles the minimal fixture, giving up (and failing) if no answer comes within 15 s.
async fn answer(app: &App<DynamoStore>) -> (Response<Body>, Duration) {
    let started = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(15),
        app.handle(crate::helpers::fixture("create-minimal")),
    )
    .await
    .expect("the function answers instead of hanging");
    (response, started.elapsed())
}

fn assert_unavailable(response: &Response<Body>, took: Duration, context: &str) {
    assert_eq!(
        response.status(),
        503,
        "{context}: {}",
        crate::helpers::body_text(response)
    );
    assert_eq!(response.headers()["retry-after"], "1", "{context}");
    assert!(
        took < DYNAMODB_OPERATION_TIMEOUT + Duration::from_secs(2),
        "{context}: took {took:?}"
    );
}

#[tokio::test]
async fn an_unreachable_dynamodb_is_a_503_within_the_operation_timeout() {
    // A server that accepts connections and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    let app = App::new(DynamoStore::new(
        function_client(&endpoint).await,
        "conversions",
    ));
    let (response, took) = answer(&app).await;
    assert_unavailable(&response, took, "silent server");

    // A port nobody listens on: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = App::new(DynamoStore::new(
        function_client(&refused).await,
        "conversions",
    ));
    let (response, took) = answer(&app).await;
    assert_unavailable(&response, took, "refused connection");
}
