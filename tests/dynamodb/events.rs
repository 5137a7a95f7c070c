//! Every request fixture in `events/` goes through the real handler and gets its documented
//! answer, on the in-memory store and on both local DynamoDB servers.

use crate::helpers::{EXPECTED, assert_fixture_response, backends, fixture, fixture_names};
use conversions::http::App;
use conversions::seed::seed_demo;
use conversions::store::MemoryStore;

#[test]
fn every_fixture_has_an_expectation_and_every_expectation_a_fixture() {
    let mut expected: Vec<String> = EXPECTED
        .iter()
        .map(|(name, ..)| (*name).to_owned())
        .collect();
    expected.sort();
    assert_eq!(fixture_names(), expected);
}

#[tokio::test]
async fn every_fixture_gets_its_documented_answer_on_the_in_memory_store() {
    let store = MemoryStore::new();
    seed_demo(&store).await.unwrap();
    let app = App::new(store);
    for name in fixture_names() {
        let response = app.handle(fixture(&name)).await;
        assert_fixture_response("memory", &name, &response);
    }
}

#[tokio::test]
async fn every_fixture_gets_its_documented_answer_on_dynalite_and_moto() {
    for backend in backends() {
        let store = backend.fresh_store().await;
        seed_demo(&store).await.unwrap();
        let app = App::new(store);
        for name in fixture_names() {
            let response = app.handle(fixture(&name)).await;
            assert_fixture_response(&backend.name, &name, &response);
        }
    }
}
