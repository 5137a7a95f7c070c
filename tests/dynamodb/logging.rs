//! What the function logs, through the subscriber it installs in production: one line per
//! request with the API Gateway request id and the status, the cause of a failure, and never
//! the API key or the body. The failure is real: a missing table on the local DynamoDB.

use std::cell::RefCell;
use std::io::Write;
use std::sync::Once;

use conversions::config::{LogFormat, LogSettings};
use conversions::http::{App, Body, Request};
use conversions::seed::{DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, seed_demo};
use conversions::store::{DynamoStore, MemoryStore};
use conversions::telemetry::subscriber;

thread_local! {
    /// What this thread's log lines wrote, while a test captures them.
    static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// The production subscriber, installed once as this test binary's global one, writing each
/// line to the capture of the thread that logged it (and nowhere else). A scoped subscriber
/// (`set_default`) races with the other tests' threads, which register callsites while no
/// subscriber is interested in them.
struct Captured;

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with_borrow_mut(|captured| {
            if let Some(captured) = captured {
                captured.extend_from_slice(bytes);
            }
        });
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Starts capturing this thread's lines.
    fn start() -> Self {
        static INSTALLED: Once = Once::new();
        INSTALLED.call_once(|| {
            let settings = LogSettings {
                format: LogFormat::Json,
                filter: "info".into(),
            };
            tracing::subscriber::set_global_default(subscriber(&settings, || Captured))
                .expect("no other test installs a global subscriber");
        });
        CAPTURED.with_borrow_mut(|captured| *captured = Some(Vec::new()));
        Self
    }

    /// What this thread logged since the last take.
    fn take(&self) -> String {
        let bytes = CAPTURED
            .with_borrow_mut(|captured| std::mem::take(captured.as_mut().expect("capturing")));
        String::from_utf8(bytes).unwrap()
    }
}

fn request_with_private_data() -> Request {
    let body = format!(
        r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":1,
            "notes":"PRIVATE-NOTE","metadata":{{"broker":"PRIVATE-NAME"}}}}"#
    );
    crate::helpers::fixture("create-minimal").with_body(Body::Text(body))
}

#[tokio::test]
async fn json_lines_carry_the_request_id_and_status_but_never_the_key_or_the_body() {
    // The test runtime runs every task of the test on this thread.
    let captured = Captured::start();

    let store = MemoryStore::new();
    seed_demo(&store).await.unwrap();
    let response = App::new(store).handle(request_with_private_data()).await;
    assert_eq!(response.status(), 201);
    let ok = captured.take();
    assert!(ok.contains(r#""status":201"#), "{ok}");
    for line in ok.lines() {
        let object: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("one JSON object a line: {e}: {line}"));
        assert!(object["level"].is_string(), "{line}");
        assert!(
            object.get("timestamp").is_none(),
            "CloudWatch stamps lines: {line}"
        );
        assert_eq!(object["span"]["request_id"], "evt-create-minimal", "{line}");
    }
    assert!(ok.contains(r#""request_id":"evt-create-minimal""#), "{ok}");

    // A real failure: the table does not exist.
    let backend = &crate::helpers::backends()[0];
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

    // An event of another integration: a line that says what was sent and what to do.
    App::new(MemoryStore::new())
        .invoke(crate::helpers::fixture_event("rest-api-event"), "lambda-1")
        .await;
    let misrouted = captured.take();
    assert!(
        misrouted.contains("REST API (payload format 1.0)")
            && misrouted.contains(r#""level":"ERROR""#)
            && misrouted.contains("evt-rest-api-event"),
        "{misrouted}"
    );

    for logs in [&ok, &failed, &misrouted] {
        for secret in [DEMO_API_KEY, "PRIVATE-NOTE", "PRIVATE-NAME"] {
            assert!(
                !logs.contains(secret),
                "{secret} leaked into the logs: {logs}"
            );
        }
    }
}
