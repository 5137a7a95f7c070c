//! Load without loss: many requests at once, truly in parallel (the handler driven
//! concurrently on a multi-threaded runtime, one DynamoDB client, as one execution environment
//! with `AWS_LAMBDA_MAX_CONCURRENCY` serves them), across two accounts, on each local server.
//! The mix: keyless creates, keyed creates and their replays, races of one key with different
//! bodies, dry runs, invalid requests, and one account's key naming the other's records.
//! Afterwards the table is read back: every event a `201` created is stored once, under the
//! account that created it, and nothing else is.
//!
//! `make test` runs 400 requests on each server; `make load` runs `LOAD_REQUESTS` (default
//! 2,000) and prints the counts and latencies.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use conversions::domain::{AccountId, ApiKey};
use conversions::http::{App, Body, Request};
use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, seed_demo};
use conversions::store::{DynamoStore, Provisioning};
use tokio::sync::Semaphore;

use crate::helpers::{Tenant, body_json, on_each_backend, tenant};

/// How many requests may be in flight at once.
const IN_FLIGHT: usize = 64;

/// What one request was, so its answer can be checked and counted.
#[derive(Clone, Debug)]
enum Kind {
    /// A create without an idempotency key: a new event.
    Keyless,
    /// A create with a key shared by several identical requests: one event for them all.
    Keyed(String),
    /// A create with a key shared by requests with different amounts: one event, the others 422.
    Race(String),
    DryRun,
    /// A body the rules refuse: 400.
    Invalid,
    /// The account's key with the other account's conversion type: 400.
    OthersType,
}

struct Outcome {
    account: usize,
    kind: Kind,
    status: u16,
    /// The created or replayed event's id.
    id: Option<String>,
    latency: Duration,
}

/// The request number `i` of the mix, for account `account` (0 or 1): each block of 20 has 7
/// keyless creates, 4 identical creates with one key, 2 creates racing on another key with
/// different amounts, 2 dry runs, 3 invalid amounts and 2 with the other account's type. Whole
/// amounts: the other account's currency has no minor unit.
fn request(i: usize, account: usize, accounts: &[(ApiKey, String, String); 2]) -> (Kind, Request) {
    let (key, conversion_type, lead) = &accounts[account];
    let others_type = &accounts[1 - account].1;
    let body = |type_id: &str, amount: &str| {
        format!(r#"{{"conversion_type_id":"{type_id}","lead_id":"{lead}","amount":{amount}}}"#)
    };
    let (kind, body, path) = match i % 20 {
        0..=6 => (Kind::Keyless, body(conversion_type, "100"), "/conversions"),
        7..=10 => (
            Kind::Keyed(format!("keyed-{account}-{}", i / 20)),
            body(conversion_type, "200"),
            "/conversions",
        ),
        11..=12 => (
            Kind::Race(format!("race-{account}-{}", i / 20)),
            body(conversion_type, &format!("{}", 300 + i)),
            "/conversions",
        ),
        13..=14 => (Kind::DryRun, body(conversion_type, "400"), "/conversions"),
        15..=17 => (Kind::Invalid, body(conversion_type, "-1"), "/conversions"),
        _ => (Kind::OthersType, body(others_type, "500"), "/conversions"),
    };
    let mut request = Request::new("POST", path)
        .with_header("x-api-key", key.expose())
        .with_header("content-type", "application/json")
        .with_body(Body::Text(body));
    match &kind {
        Kind::Keyed(k) | Kind::Race(k) => request = request.with_header("idempotency-key", k),
        Kind::DryRun => request = request.with_query("dry_run=true"),
        _ => {}
    }
    (kind, request)
}

/// Runs `requests` requests on each server and checks the table afterwards.
pub async fn run(requests: usize) {
    on_each_backend(|backend| async move {
        let table = backend.fresh_table().await;
        let store = table.store();
        seed_demo(&store).await.unwrap();
        let demo = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        let demo_key = ApiKey::generate_for(demo);
        store.put_api_key(&demo_key.hash(), demo).await.unwrap();
        let other: Tenant = tenant(&store).await;
        let account_ids = [demo, other.account];
        let accounts = Arc::new([
            (
                demo_key,
                DEMO_CONVERSION_TYPE_ID.to_owned(),
                DEMO_LEAD_ID.to_owned(),
            ),
            (
                other.key.clone(),
                other.conversion_type.to_string(),
                other.lead.to_string(),
            ),
        ]);
        let app = Arc::new(App::new(DynamoStore::new(
            crate::helpers::function_client(&backend.endpoint).await,
            &table.name,
        )));

        let limit = Arc::new(Semaphore::new(IN_FLIGHT));
        let (in_flight, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..requests {
            let (app, accounts, limit) = (app.clone(), accounts.clone(), limit.clone());
            let (in_flight, most) = (in_flight.clone(), most.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                let account = i % 2;
                let (kind, request) = request(i / 2, account, &accounts);
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let sent = Instant::now();
                let response = app.handle(request).await;
                let latency = sent.elapsed();
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let id = (response.status() == 201 || response.status() == 200)
                    .then(|| {
                        body_json(&response)["conversion_event"]["id"]
                            .as_str()
                            .map(str::to_owned)
                    })
                    .flatten();
                Outcome {
                    account,
                    kind,
                    status: response.status().as_u16(),
                    id,
                    latency,
                }
            });
        }
        let mut outcomes = Vec::with_capacity(requests);
        while let Some(done) = tasks.join_next().await {
            outcomes.push(done.expect("a request task"));
        }
        let elapsed = started.elapsed();

        // Every answer is the one its kind calls for.
        let mut by_key: BTreeMap<(usize, String), BTreeSet<String>> = BTreeMap::new();
        let mut created: [BTreeSet<String>; 2] = Default::default();
        let mut keyless = [0usize; 2];
        let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
        for o in &outcomes {
            *statuses.entry(o.status).or_default() += 1;
            let expected: &[u16] = match o.kind {
                Kind::Keyless | Kind::Keyed(_) => &[201],
                Kind::Race(_) => &[201, 422],
                Kind::DryRun => &[200],
                Kind::Invalid | Kind::OthersType => &[400],
            };
            assert!(
                expected.contains(&o.status),
                "{}: {:?} answered {}",
                backend.name,
                o.kind,
                o.status
            );
            if o.status != 201 {
                continue;
            }
            let id = o.id.clone().expect("a 201 names its event");
            created[o.account].insert(id.clone());
            match &o.kind {
                Kind::Keyless => keyless[o.account] += 1,
                Kind::Keyed(k) | Kind::Race(k) => {
                    by_key.entry((o.account, k.clone())).or_default().insert(id);
                }
                _ => {}
            }
        }
        for ((account, key), ids) in &by_key {
            assert_eq!(
                ids.len(),
                1,
                "{}: account {account}, key {key} answered with several events: {ids:?}",
                backend.name
            );
        }

        // The table holds exactly the events the 201s named, once each, under their account.
        let mut lost = 0;
        let mut extra = 0;
        let mut duplicated = 0;
        let mut stored_total = 0;
        for (account, id) in account_ids.iter().enumerate() {
            let stored = table.stored_event_ids(*id).await;
            stored_total += stored.len();
            duplicated += stored.values().filter(|n| **n > 1).count();
            let stored: BTreeSet<String> = stored.into_keys().collect();
            lost += created[account].difference(&stored).count();
            extra += stored.difference(&created[account]).count();
            let keyed = by_key.keys().filter(|(a, _)| *a == account).count();
            assert_eq!(
                stored.len(),
                keyed + keyless[account],
                "{}: account {account}: stored events = distinct keyed 201s + keyless 201s",
                backend.name
            );
        }
        let mut latencies: Vec<Duration> = outcomes.iter().map(|o| o.latency).collect();
        latencies.sort();
        let at =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        println!(
            "{}: {requests} requests, at most {} in flight, {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms",
            backend.name,
            most.load(Ordering::SeqCst),
            requests as f64 / elapsed.as_secs_f64(),
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
        );
        println!(
            "  answers {statuses:?}; stored {stored_total} events: {} keyed, {} keyless; lost {lost}, duplicated {duplicated}, unexplained {extra}",
            by_key.len(),
            keyless[0] + keyless[1],
        );
        assert_eq!(
            (lost, duplicated, extra),
            (0, 0, 0),
            "{}: lost, duplicated, unexplained",
            backend.name
        );
        assert!(
            most.load(Ordering::SeqCst) >= 50,
            "{}: fewer than 50 requests were ever in flight at once",
            backend.name
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_requests_at_once_lose_nothing_and_duplicate_nothing() {
    let requests = std::env::var("LOAD_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    run(requests).await;
}
