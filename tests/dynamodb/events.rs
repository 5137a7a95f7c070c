//! Every request fixture in `events/` goes through the real handler and gets its documented
//! answer on both local DynamoDB servers (on the in-memory store: `tests/offline/fixtures.rs`).

use crate::helpers::{
    LAMBDA_REQUEST_ID, assert_fixture_response, fixture_event, fixture_names, on_each_backend,
};
use conversions::http::App;
use conversions::seed::seed_demo;

#[tokio::test]
async fn every_fixture_gets_its_documented_answer_on_dynalite_and_moto() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        seed_demo(&store).await.unwrap();
        let app = App::new(store);
        for name in fixture_names() {
            let answer = app.invoke(fixture_event(&name), LAMBDA_REQUEST_ID).await;
            assert_fixture_response(&backend.name, &name, &answer);
        }
    })
    .await;
}
