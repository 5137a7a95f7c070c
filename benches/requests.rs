//! `make bench`: what the exact-decimal request parser and the whole handler cost, as ratios to
//! a plain `serde_json::Value` parse of the same bodies, measured side by side in one run; and
//! the handler's latency per request (mean, p50, p99) for the reference page's minimal body and
//! for one with 50 metadata keys.
//!
//! Rounds interleave the three measurements so that machine noise hits them alike; the median
//! round is reported. No DynamoDB: the handler runs on the in-memory store, so this measures the
//! function's own work, not the network.

#[path = "../tests/support/memory.rs"]
mod memory;
#[path = "report.rs"]
mod report;

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use conversions::domain::{AccountId, ApiKey, Timestamp};
use conversions::http::{App, Body, Request, parse_new_conversion};
use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_API_KEY, seed_demo};
use conversions::store::Provisioning;
use memory::MemoryStore;

const ROUNDS: usize = 15;
const ITERATIONS: u32 = 2_000;

const BODIES: [&str; 3] = [
    r#"{"conversion_type_id": "123e4567-e89b-12d3-a456-426614174100", "lead_id": "123e4567-e89b-12d3-a456-426614174200", "amount": 85000.00}"#,
    r#"{"conversion_type_id": "123e4567-e89b-12d3-a456-426614174100", "lead_id": "123e4567-e89b-12d3-a456-426614174200", "amount": 5000.00, "converted_at": "2026-01-28T10:00:00Z", "metadata": {"property_unit": "Apt 302", "broker": "John Smith"}, "notes": "Client paid in cash, expedited closing."}"#,
    r#"{"conversion_type_id": "123e4567-e89b-12d3-a456-426614174100", "lead_id": "123e4567-e89b-12d3-a456-426614174200", "workflow_run_id": "123e4567-e89b-12d3-a456-426614174400", "amount": 50000.00, "converted_at": "2026-02-10T12:00:00Z", "metadata": {"property_unit": "Unit 15B", "commission": 2500}}"#,
];

fn per_op(elapsed: Duration, ops: u32) -> f64 {
    elapsed.as_nanos() as f64 / f64::from(ops)
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn request(body: &str) -> Request {
    Request::new("POST", "/conversions")
        .with_header("x-api-key", DEMO_API_KEY)
        .with_body(Body::Text(body.to_owned()))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let store = MemoryStore::new();
    runtime
        .block_on(seed_demo(&store))
        .expect("seeding memory works");
    let app = App::new(store);
    let now = Timestamp::now();

    let (mut baseline, mut parser, mut handler) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for _ in 0..ITERATIONS {
            for body in BODIES {
                black_box(
                    serde_json::from_slice::<serde_json::Value>(black_box(body.as_bytes())).is_ok(),
                );
            }
        }
        baseline.push(per_op(started.elapsed(), ITERATIONS * BODIES.len() as u32));

        let started = Instant::now();
        for _ in 0..ITERATIONS {
            for body in BODIES {
                black_box(parse_new_conversion(black_box(body.as_bytes()), now).is_ok());
            }
        }
        parser.push(per_op(started.elapsed(), ITERATIONS * BODIES.len() as u32));

        let started = Instant::now();
        runtime.block_on(async {
            for _ in 0..ITERATIONS / 10 {
                for body in BODIES {
                    let response = app.handle(request(body)).await;
                    assert_eq!(response.status(), 201);
                }
            }
        });
        handler.push(per_op(
            started.elapsed(),
            ITERATIONS / 10 * BODIES.len() as u32,
        ));
    }

    let (baseline, parser, handler) = (median(baseline), median(parser), median(handler));
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "Machine: {}. Command: `make bench`.", report::machine());
    let _ = writeln!(w, "```");
    let _ = writeln!(
        w,
        "median of {ROUNDS} interleaved rounds, the reference page's three example bodies:"
    );
    let _ = writeln!(
        w,
        "  serde_json::Value parse (baseline)        {baseline:>10.0} ns/body   1.00x"
    );
    let _ = writeln!(
        w,
        "  exact parse + validation                  {parser:>10.0} ns/body  {:>5.2}x",
        parser / baseline
    );
    let _ = writeln!(
        w,
        "  whole handler, in-memory store            {handler:>10.0} ns/request {:>5.2}x",
        handler / baseline
    );
    latencies(&runtime, w);
    let _ = writeln!(w, "```");
    print!("{out}");
    report::write_section("handler", &out);
}

/// Requests timed one by one through `App::handle` on the in-memory store, with a key that names
/// its account (what the admin CLI makes): the function's own work per request, no network.
/// Every 1,000 timed requests the store starts afresh (untimed, and the first 100 requests on
/// it untimed too): an in-memory store that kept 22,000 events of 50 keys would measure the
/// heap's growth and the return of a dropped store's memory (page faults), which the function,
/// storing in DynamoDB, never has.
fn latencies(runtime: &tokio::runtime::Runtime, w: &mut String) {
    const SAMPLES: usize = 20_000;
    const WARM_UP: usize = 2_000;
    const PER_STORE: usize = 1_000;
    // Untimed requests after each fresh store, while the heap settles after the last one was
    // dropped (its memory handed back and faulted in again).
    const SETTLE: usize = 100;
    let account = AccountId::parse(DEMO_ACCOUNT_ID).expect("the demo account id");
    let key = ApiKey::generate_for(account);
    let fresh_app = || {
        let store = MemoryStore::new();
        runtime.block_on(async {
            seed_demo(&store).await.expect("seeding memory works");
            store
                .put_api_key(&key.hash(), account)
                .await
                .expect("memory works");
        });
        App::new(store)
    };
    let metadata: Vec<String> = (0..50)
        .map(|i| {
            if i % 2 == 0 {
                format!(r#""field_{i}": {i}.25"#)
            } else {
                format!(r#""field_{i}": "value number {i}""#)
            }
        })
        .collect();
    let with_metadata = format!(
        r#"{{"conversion_type_id": "123e4567-e89b-12d3-a456-426614174100", "lead_id": "123e4567-e89b-12d3-a456-426614174200", "amount": 85000.00, "metadata": {{{}}}}}"#,
        metadata.join(", ")
    );
    let _ = writeln!(
        w,
        "\nlatency of one request through the handler, in-memory store, {SAMPLES} requests each:"
    );
    let _ = writeln!(
        w,
        "  {:<34} {:>9} {:>9} {:>9}",
        "body", "mean", "p50", "p99"
    );
    for (name, body) in [
        ("the reference page's minimal body", BODIES[0]),
        ("50 metadata keys", with_metadata.as_str()),
    ] {
        let request = || {
            Request::new("POST", "/conversions")
                .with_header("x-api-key", key.expose())
                .with_body(Body::Text(body.to_owned()))
        };
        let mut samples = Vec::with_capacity(SAMPLES);
        let mut requests = 0;
        while samples.len() < SAMPLES {
            let app = fresh_app();
            runtime.block_on(async {
                for i in 0..SETTLE + PER_STORE {
                    let request = request();
                    let started = Instant::now();
                    let response = app.handle(request).await;
                    let elapsed = started.elapsed();
                    assert_eq!(response.status(), 201, "{}", response.body());
                    requests += 1;
                    if requests > WARM_UP && i >= SETTLE && samples.len() < SAMPLES {
                        samples.push(elapsed.as_nanos() as f64 / 1_000.0);
                    }
                }
            });
        }
        samples.sort_by(f64::total_cmp);
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
        let _ = writeln!(
            w,
            "  {name:<34} {mean:>7.1}µs {:>7.1}µs {:>7.1}µs",
            at(0.50),
            at(0.99)
        );
    }
}
