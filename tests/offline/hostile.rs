//! Malformed and oversized events, as the bytes the Lambda runtime hands over (deserialised the
//! way `lambda_runtime` does, `serde_json::from_slice`, then the handler on the in-memory store):
//! each is answered with a documented 4xx in the documented error shape with `X-Request-Id`
//! (or, for an event JSON allows whose odd part the function never reads, as usual).
//! The time and the peak heap each one took are printed (`cargo test --test offline hostile --
//! --nocapture`): measured, not asserted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::memory::MemoryStore;
use base64::Engine;
use conversions::http::{App, Incoming};
use conversions::seed::seed_demo;

/// The system allocator, counting the bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on to the system allocator unchanged.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The `create-minimal` fixture as a JSON value, to change.
fn base_event() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/create-minimal.json"
    ))
    .expect("the fixture");
    serde_json::from_str(&text).expect("JSON")
}

fn with_body(body: &str) -> Vec<u8> {
    let mut event = base_event();
    event["body"] = body.into();
    event.to_string().into_bytes()
}

fn minimal_with(extra: &str) -> String {
    format!(
        r#"{{"conversion_type_id":"123e4567-e89b-12d3-a456-426614174100","lead_id":"123e4567-e89b-12d3-a456-426614174200","amount":1{extra}}}"#
    )
}

/// (what, the event's bytes, the statuses its documented answer may have)
fn cases() -> Vec<(&'static str, Vec<u8>, &'static [u16])> {
    let mut cases: Vec<(&'static str, Vec<u8>, &'static [u16])> = Vec::new();

    let mut not_utf8 = base_event();
    not_utf8["isBase64Encoded"] = true.into();
    not_utf8["body"] = base64::engine::general_purpose::STANDARD
        .encode([b'{', 0xff, 0xfe, b'}'])
        .into();
    cases.push((
        "a body that is not UTF-8",
        not_utf8.to_string().into_bytes(),
        &[400],
    ));

    cases.push((
        "a 6 MB body",
        with_body(&format!(r#"{{"notes":"{}"}}"#, "x".repeat(6 << 20))),
        &[413],
    ));
    cases.push((
        "a body nested 30,000 deep (under the size limit)",
        with_body(&minimal_with(&format!(
            r#","extra":{}{}"#,
            "[".repeat(30_000),
            "]".repeat(30_000)
        ))),
        &[400],
    ));
    cases.push((
        "metadata nested 30,000 deep",
        with_body(&minimal_with(&format!(
            r#","metadata":{{"k":{}{}}}"#,
            "[".repeat(30_000),
            "]".repeat(30_000)
        ))),
        &[400],
    ));

    // The event itself nested 100,000 deep, in a member the function does not read.
    let mut deep = base_event().to_string();
    deep.pop();
    deep.push_str(&format!(
        r#","stageVariables":{{"x":{}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    ));
    // JSON allows it and the function does not read that member: served as usual.
    cases.push((
        "an event nested 100,000 deep (stageVariables)",
        deep.into_bytes(),
        &[201],
    ));

    cases.push((
        "an amount of 1,000 digits",
        with_body(&format!(
            r#"{{"conversion_type_id":"123e4567-e89b-12d3-a456-426614174100","lead_id":"123e4567-e89b-12d3-a456-426614174200","amount":{}}}"#,
            "9".repeat(1_000)
        )),
        &[400],
    ));
    cases.push((
        "an amount of 1e400",
        with_body(&minimal_with("").replace(r#""amount":1"#, r#""amount":1e400"#)),
        &[400],
    ));
    cases.push((
        "a metadata number of 10,000 digits",
        with_body(&minimal_with(&format!(
            r#","metadata":{{"n":{}}}"#,
            "1".repeat(10_000)
        ))),
        &[400],
    ));
    cases.push((
        "a field given twice",
        with_body(&minimal_with(r#","amount":2"#)),
        &[400],
    ));

    let mut control = base_event();
    control["headers"]["x-api-key"] = "nxr_live_\u{1}\u{7f}\n".into();
    cases.push((
        "an API key with control characters",
        control.to_string().into_bytes(),
        &[401],
    ));

    for (what, method, path) in [
        ("a 100 KB query string on POST", "POST", "/conversions"),
        ("a 100 KB query string on GET", "GET", "/conversions"),
    ] {
        let mut event = base_event();
        event["requestContext"]["http"]["method"] = method.into();
        event["requestContext"]["http"]["path"] = path.into();
        event["rawQueryString"] = format!("dry_run={}", "%FF".repeat(34_000)).into();
        if method == "GET" {
            event["rawQueryString"] = format!("lead_id={}", "a".repeat(100_000)).into();
            event["body"] = serde_json::Value::Null;
        }
        cases.push((what, event.to_string().into_bytes(), &[400]));
    }
    cases
}

#[tokio::test]
async fn hostile_events_get_their_documented_4xx_in_bounded_time_and_memory() {
    let store = MemoryStore::new();
    seed_demo(&store).await.unwrap();
    let app = App::new(store);
    println!(
        "{:<52} {:>6} {:>10} {:>12} {:>14}",
        "event", "status", "event size", "time", "peak heap"
    );
    for (what, bytes, statuses) in cases() {
        let size = bytes.len();
        let base = IN_USE.load(Ordering::SeqCst);
        PEAK.store(base, Ordering::SeqCst);
        let started = Instant::now();
        let incoming: Incoming = serde_json::from_slice(&bytes)
            .expect("every JSON event is read (as unsupported at worst)");
        let outgoing = app.invoke(incoming, "lambda-request").await;
        let took = started.elapsed();
        let peak = PEAK.load(Ordering::SeqCst) - base;
        let answer = serde_json::to_value(&outgoing).expect("the answer serialises");
        let status = answer["statusCode"].as_u64().unwrap_or(0) as u16;
        assert!(
            statuses.contains(&status),
            "{what}: answered {status}: {}",
            answer["body"]
        );
        let body: serde_json::Value =
            serde_json::from_str(answer["body"].as_str().unwrap_or("")).expect("a JSON body");
        assert!(
            (status < 300 && body["success"] == true)
                || (body["error"].is_string() && body["message"].is_string()),
            "{what}: {body}"
        );
        assert!(
            answer["headers"]["x-request-id"].is_string(),
            "{what}: {}",
            answer["headers"]
        );
        println!(
            "{what:<52} {status:>6} {:>8} KB {:>9.2} ms {:>11} KB",
            size / 1024,
            took.as_secs_f64() * 1e3,
            peak / 1024
        );
    }
}
