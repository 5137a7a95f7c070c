//! What the function logs: one line per request with the API Gateway request id and the
//! status, the cause of a failure, and never the API key or the body. Its own test binary, so
//! that the process-wide subscriber sees every event. The failure is real: a missing table on
//! the local DynamoDB.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use conversions::http::App;
use conversions::seed::{DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, seed_demo};
use conversions::store::{DynamoStore, MemoryStore};
use lambda_http::Body;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}

fn request_with_private_data() -> lambda_http::Request {
    let body = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":1,
            "notes":"PRIVATE-NOTE","metadata":{{"broker":"PRIVATE-NAME"}}}}"#
    );
    let mut request = common::fixture("create-minimal");
    *request.body_mut() = Body::Text(body);
    request
}

#[tokio::test]
async fn logs_carry_the_request_id_and_status_but_never_the_key_or_the_body() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let store = MemoryStore::new();
    seed_demo(&store).await.unwrap();
    let response = App::new(store).handle(request_with_private_data()).await;
    assert_eq!(response.status(), 201);
    let ok = captured.take();
    assert!(ok.contains(r#""status":201"#), "{ok}");
    assert!(ok.contains(r#""request_id":"evt-create-minimal""#), "{ok}");

    // A real failure: the table does not exist.
    let backend = &common::backends()[0];
    let broken = DynamoStore::new(backend.client(), "no-such-table");
    let response = App::new(broken).handle(request_with_private_data()).await;
    assert_eq!(response.status(), 500);
    let failed = captured.take();
    assert!(
        failed.contains("ResourceNotFound"),
        "the cause reaches the log: {failed}"
    );
    assert!(
        failed.contains(r#""request_id":"evt-create-minimal""#),
        "{failed}"
    );
    assert!(failed.contains(r#""status":500"#), "{failed}");

    for logs in [&ok, &failed] {
        for secret in [DEMO_API_KEY, "PRIVATE-NOTE", "PRIVATE-NAME"] {
            assert!(
                !logs.contains(secret),
                "{secret} leaked into the logs: {logs}"
            );
        }
    }
}
