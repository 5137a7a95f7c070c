//! Every request fixture in `events/` goes through the real handler and gets its documented
//! answer, on the in-memory store and on both local DynamoDB servers.

use crate::helpers::{
    LAMBDA_REQUEST_ID, assert_fixture_response, backends, expectations, fixture_event,
    fixture_names,
};
use conversions::http::App;
use conversions::seed::seed_demo;
use conversions::store::MemoryStore;

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
        assert_fixture_response("memory", &name, answer.response());
    }
}

#[tokio::test]
async fn every_fixture_gets_its_documented_answer_on_dynalite_and_moto() {
    for backend in backends() {
        let store = backend.fresh_store().await;
        seed_demo(&store).await.unwrap();
        let app = App::new(store);
        for name in fixture_names() {
            let answer = app.invoke(fixture_event(&name), LAMBDA_REQUEST_ID).await;
            assert_fixture_response(&backend.name, &name, answer.response());
        }
    }
}

#[tokio::test]
async fn an_event_of_another_integration_is_answered_in_its_own_shape() {
    let app = App::new(MemoryStore::new());
    let shape = |outgoing: &conversions::http::Outgoing| {
        let json = serde_json::to_value(outgoing).unwrap();
        let mut keys: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let rest = app
        .invoke(fixture_event("rest-api-event"), LAMBDA_REQUEST_ID)
        .await;
    assert_eq!(
        shape(&rest),
        [
            "body",
            "headers",
            "isBase64Encoded",
            "multiValueHeaders",
            "statusCode"
        ]
    );
    let alb = app
        .invoke(fixture_event("load-balancer-event"), LAMBDA_REQUEST_ID)
        .await;
    assert_eq!(
        shape(&alb),
        [
            "body",
            "headers",
            "isBase64Encoded",
            "statusCode",
            "statusDescription"
        ]
    );
    let http = app
        .invoke(fixture_event("create-via-function-url"), LAMBDA_REQUEST_ID)
        .await;
    assert_eq!(
        shape(&http),
        [
            "body",
            "cookies",
            "headers",
            "isBase64Encoded",
            "statusCode"
        ]
    );
}
