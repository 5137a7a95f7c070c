//! DynamoDB failing between the function and a real local server (the fault proxy of
//! `helpers::proxy`), through the function's own SDK configuration: a committed write whose
//! answer is lost is answered once and stored once; every failure a retry may fix is a 503 with
//! `Retry-After` once the SDK's retries are spent, well inside the function's timeout; the rest
//! are 500s.

use conversions::domain::{AccountId, ApiKey};
use conversions::http::{ApiError, App, Response};
use conversions::seed::{DEMO_ACCOUNT_ID, seed_demo};
use conversions::store::{DynamoStore, Provisioning, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use conversions::sdk::DYNAMODB_OPERATION_TIMEOUT;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::helpers::proxy::{Fault, FaultProxy};
use crate::helpers::{
    Backend, Table, backends, body_json, fixture, function_client, on_each_backend,
};

/// The demo app on a fresh table, its DynamoDB calls going through a fault proxy.
async fn app_behind_proxy(backend: &Backend) -> (App<DynamoStore>, FaultProxy, Table) {
    let table = backend.fresh_table().await;
    seed_demo(&table.store()).await.unwrap();
    let proxy = FaultProxy::start(&backend.endpoint).await;
    let client = function_client(&proxy.endpoint()).await;
    let app = App::new(DynamoStore::new(client, &table.name));
    (app, proxy, table)
}

fn demo_account() -> AccountId {
    AccountId::parse(DEMO_ACCOUNT_ID).unwrap()
}

#[tokio::test]
async fn a_put_whose_answer_is_lost_after_it_committed_is_answered_201_and_stored_once() {
    on_each_backend(|backend| async move {
        for key in [None, Some("lost-answer-1")] {
            let context = format!("{} with key {key:?}", backend.name);
            let (app, proxy, table) = app_behind_proxy(&backend).await;
            // The feed's change goes through; the event's put loses its answer.
            proxy.fail("PutItem", Fault::Delay(Duration::ZERO), 1);
            proxy.fail("PutItem", Fault::DropAnswer, 1);
            let request = match key {
                Some(key) => fixture("create-minimal").with_header("idempotency-key", key),
                None => fixture("create-minimal"),
            };
            let response = app.handle(request).await;
            assert_eq!(response.status(), 201, "{context}: {}", response.body());
            assert_eq!(
                response.header("idempotent-replayed"),
                None,
                "{context}: the request's own write, not a replay"
            );
            assert_eq!(
                proxy.count("PutItem"),
                3,
                "{context}: the change, and the SDK retried the event's put: {:?}",
                proxy.operations()
            );
            proxy.assert_spent(&context);
            assert_eq!(table.count_events(demo_account()).await, 1, "{context}");
            let id = body_json(&response)["conversion_event"]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let stored = table.event_item(demo_account(), id.parse().unwrap()).await;
            assert_eq!(stored["id"].as_s().unwrap(), &id, "{context}");
        }
    })
    .await;
}

/// One class of failure of the API-key read, on every attempt.
struct Case {
    name: &'static str,
    fault: Fault,
    status: u16,
    attempts: usize,
}

const fn error(status: u16, code: &'static str) -> Fault {
    Fault::Error { status, code }
}

static CASES: [Case; 10] = [
    Case {
        name: "throttling",
        fault: error(400, "ThrottlingException"),
        status: 503,
        attempts: 3,
    },
    Case {
        name: "provisioned throughput exceeded",
        fault: error(400, "ProvisionedThroughputExceededException"),
        status: 503,
        attempts: 3,
    },
    Case {
        name: "request limit exceeded",
        fault: error(400, "RequestLimitExceeded"),
        status: 503,
        attempts: 3,
    },
    Case {
        name: "internal server error",
        fault: error(500, "InternalServerError"),
        status: 503,
        attempts: 3,
    },
    Case {
        name: "service unavailable",
        fault: error(503, "ServiceUnavailable"),
        status: 503,
        attempts: 3,
    },
    Case {
        name: "gateway timeout",
        fault: error(504, "GatewayTimeout"),
        status: 503,
        attempts: 3,
    },
    Case {
        name: "connection cut while reading the answer",
        fault: Fault::CutAnswer,
        status: 503,
        attempts: 3,
    },
    Case {
        name: "validation exception (our own mistake)",
        fault: error(400, "ValidationException"),
        status: 500,
        attempts: 1,
    },
    Case {
        name: "access denied",
        fault: error(400, "AccessDeniedException"),
        status: 500,
        attempts: 1,
    },
    Case {
        name: "unrecognised client (bad credentials)",
        fault: error(400, "UnrecognizedClientException"),
        status: 500,
        attempts: 1,
    },
];

fn assert_answer(response: &Response, case: &Case, context: &str) {
    assert_eq!(
        response.status(),
        case.status,
        "{context}: {}",
        response.body()
    );
    let expected = if case.status == 503 {
        assert_eq!(response.header("retry-after"), Some("1"), "{context}");
        ApiError::Unavailable
    } else {
        assert_eq!(response.header("retry-after"), None, "{context}");
        ApiError::Internal
    };
    let (error, message) = (expected.error(), expected.message());
    crate::helpers::assert_error_body(&body_json(response), error, message, context);
}

#[tokio::test]
async fn failures_a_retry_may_fix_are_503_after_the_sdks_retries_and_the_rest_500() {
    let mut runs = JoinSet::new();
    for backend in backends() {
        for case in &CASES {
            let backend = backend.clone();
            runs.spawn(async move {
                let context = format!("{}: {}", backend.name, case.name);
                let (app, proxy, _table) = app_behind_proxy(&backend).await;
                proxy.fail("GetItem", case.fault, usize::MAX);
                let response = app.handle(fixture("create-minimal")).await;
                assert_answer(&response, case, &context);
                assert_eq!(
                    proxy.operations(),
                    vec!["GetItem"; case.attempts],
                    "{context}: the SDK's attempts"
                );
                assert_eq!(
                    proxy.injected("GetItem"),
                    case.attempts,
                    "{context}: each failed"
                );
            });
        }
    }
    while let Some(run) = runs.join_next().await {
        run.expect("every case passes");
    }
}

#[tokio::test]
async fn a_silent_or_unreachable_dynamodb_is_a_503_within_the_operation_timeout() {
    // A request deadline far away: the SDK's own time-outs must answer.
    let backend = &backends()[0];
    let table = backend.fresh_table().await;
    let proxy = FaultProxy::start(&backend.endpoint).await;
    proxy.fail("GetItem", Fault::Silence, usize::MAX);
    let silent = App::with_deadline(
        DynamoStore::new(function_client(&proxy.endpoint()).await, &table.name),
        Duration::from_secs(60),
    );

    // A port nobody listens on: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused_endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let refused = App::with_deadline(
        DynamoStore::new(function_client(&refused_endpoint).await, "conversions"),
        Duration::from_secs(60),
    );

    for (name, app) in [("silent server", &silent), ("refused connection", &refused)] {
        let started = Instant::now();
        let response = tokio::time::timeout(
            Duration::from_secs(15),
            app.handle(fixture("create-minimal")),
        )
        .await
        .expect("the function answers instead of hanging");
        let took = started.elapsed();
        assert_eq!(response.status(), 503, "{name}: {}", response.body());
        assert_eq!(response.header("retry-after"), Some("1"), "{name}");
        assert!(
            took < DYNAMODB_OPERATION_TIMEOUT + Duration::from_millis(500),
            "{name}: took {took:?}"
        );

        // Init's warm-up gives up as soon, with an error the function logs and goes on from.
        let started = Instant::now();
        let warm_up = app.store().warm_up().await;
        assert!(
            matches!(warm_up, Err(StoreError::Unavailable(_))),
            "{name}: {warm_up:?}"
        );
        assert!(
            started.elapsed() < DYNAMODB_OPERATION_TIMEOUT + Duration::from_millis(500),
            "{name}"
        );
    }
    assert!(proxy.injected("GetItem") > 0, "the silent server was asked");
}

/// Every way a call can fail that a retry may fix, each on every attempt the SDK makes.
pub(crate) const RETRYABLE_FAULTS: [(&str, Fault); 7] = [
    ("throttling", error(400, "ThrottlingException")),
    ("a server error", error(500, "InternalServerError")),
    ("a reset before the request", Fault::ResetBeforeRequest),
    ("a cut answer", Fault::CutAnswer),
    (
        "answers lost after the request reached the server",
        Fault::DropAnswer,
    ),
    ("no answer past the attempt time-out", Fault::Silence),
    ("an answer after the attempt time-out", Fault::LateAnswer),
];

/// A client that retries after a 503, with and without an idempotency key, whatever failed at
/// whichever call (the demo key's read, the batch read, the put), on every attempt of the SDK
/// (a silent server included: each attempt waits out its time-out):
/// it ends with a 201, and exactly one event is stored for the one 201 it was given. A put whose
/// answers were all lost after the first committed is found by reading it back: a 201, not a
/// 503 that a keyless retry would turn into a second event.
#[tokio::test]
async fn a_client_that_retries_after_any_fault_at_any_call_stores_one_event_per_201() {
    // Cases in flight at once: more would slow moto (one Python process) until the calls
    // before the put outlast the request's budget, which is not the fault under test.
    let in_flight = Arc::new(Semaphore::new(24));
    let mut runs = JoinSet::new();
    for backend in backends() {
        for operation in ["GetItem", "BatchGetItem", "PutItem"] {
            for (name, fault) in RETRYABLE_FAULTS {
                for key in [None, Some("retried-key")] {
                    let backend = backend.clone();
                    let in_flight = Arc::clone(&in_flight);
                    runs.spawn(async move {
                        let _turn = in_flight.acquire().await.expect("open");
                        let context =
                            format!("{}: {name} at {operation}, key {key:?}", backend.name);
                        let (app, proxy, table) = app_behind_proxy(&backend).await;
                        // Every one of the SDK's three attempts of the first request.
                        proxy.fail(operation, fault, 3);
                        let request = || match key {
                            Some(key) => {
                                fixture("create-minimal").with_header("idempotency-key", key)
                            }
                            None => fixture("create-minimal"),
                        };
                        let mut statuses = Vec::new();
                        for _ in 0..3 {
                            let response = app.handle(request()).await;
                            statuses.push(response.status().as_u16());
                            if response.status() != 503 {
                                break;
                            }
                        }
                        let (last, before) = statuses.split_last().expect("an answer");
                        assert_eq!(*last, 201, "{context}: {statuses:?}");
                        assert!(before.iter().all(|s| *s == 503), "{context}: {statuses:?}");
                        // The fault fired: every attempt of the first request failed (a 503),
                        // or the put committed and its lost answer was found by the SDK's retry.
                        let committed = operation == "PutItem"
                            && matches!(
                                fault,
                                Fault::DropAnswer | Fault::CutAnswer | Fault::LateAnswer
                            );
                        match before.is_empty() {
                            false => proxy.assert_spent(&context),
                            true => assert!(
                                committed && proxy.injected(operation) > 0,
                                "{context}: no fault fired: {statuses:?}"
                            ),
                        }
                        assert_eq!(
                            table.count_events(demo_account()).await,
                            1,
                            "{context}: {statuses:?}, {:?}",
                            proxy.operations()
                        );
                    });
                }
            }
        }
    }
    while let Some(run) = runs.join_next().await {
        run.expect("every case passes");
    }
}

/// Two requests with one `Idempotency-Key` race. The first one's put is held at the proxy until
/// the second has stored the event, so the first loses the conditional put and reads the
/// winner's event (where the server does not send it back with the refusal: dynalite does not,
/// AWS does). That read fails in every way, on every attempt of the SDK: the loser answers 503,
/// its retry is the winner's replay, and one event is stored.
#[tokio::test]
async fn a_race_loser_whose_read_of_the_winner_fails_answers_503_then_replays_it() {
    let mut runs = JoinSet::new();
    for backend in backends() {
        for (name, fault) in RETRYABLE_FAULTS {
            let backend = backend.clone();
            runs.spawn(async move {
                let context = format!("{}: {name} at the race loser's read", backend.name);
                let (app, proxy, table) = app_behind_proxy(&backend).await;
                // A key naming its account: its record is read beside the batch, before the put.
                let key = ApiKey::generate_for(demo_account());
                table
                    .store()
                    .put_api_key(&key.hash(), demo_account())
                    .await
                    .unwrap();
                let request = || {
                    fixture("create-minimal")
                        .with_header("x-api-key", key.expose())
                        .with_header("idempotency-key", "raced-key")
                };
                let app = Arc::new(app);
                let proxy = Arc::new(proxy);
                proxy.fail("PutItem", Fault::Delay(Duration::from_millis(500)), 1);

                let loser = tokio::spawn({
                    let (app, request) = (Arc::clone(&app), request());
                    async move { app.handle(request).await }
                });
                // The loser's put is held at the proxy; the winner reads, writes and answers.
                // A loser that answers without putting (it read something first, and the
                // fault met that read) fails here rather than leaving this wait unbounded.
                while proxy.count("PutItem") == 0 {
                    assert!(
                        !loser.is_finished() || proxy.count("PutItem") > 0,
                        "{context}: the loser answered without sending its put: {:?}",
                        proxy.operations()
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let winner = app.handle(request()).await;
                assert_eq!(winner.status(), 201, "{context}: {}", winner.body());
                // Both keys read: the next GetItem is the loser's read of the winner.
                let keys_read = proxy.count("GetItem");
                proxy.fail("GetItem", fault, 3);
                assert_eq!(winner.header("idempotent-replayed"), None, "{context}");
                let winner_id = body_json(&winner)["conversion_event"]["id"].clone();

                let mut answer = loser.await.expect("the loser answers");
                let read = proxy.count("GetItem") > keys_read;
                assert!(
                    read || backend.name != "dynalite",
                    "{context}: dynalite sends no item with the refusal; the loser must read it: {:?}",
                    proxy.operations()
                );
                let mut statuses = vec![answer.status().as_u16()];
                while answer.status() == 503 && statuses.len() < 3 {
                    answer = app.handle(request()).await;
                    statuses.push(answer.status().as_u16());
                }
                if read {
                    proxy.assert_spent(&context);
                    assert_eq!(statuses[0], 503, "{context}: {}", answer.body());
                }
                assert_eq!(statuses.last(), Some(&201), "{context}: {statuses:?}");
                assert_eq!(answer.header("idempotent-replayed"), Some("true"), "{context}");
                assert_eq!(
                    body_json(&answer)["conversion_event"]["id"],
                    winner_id,
                    "{context}: the winner's event"
                );
                assert_eq!(table.count_events(demo_account()).await, 1, "{context}");
            });
        }
    }
    while let Some(run) = runs.join_next().await {
        run.expect("every case passes");
    }
}

/// Every attempt of a keyed put reaches DynamoDB only after the function has given up on it and
/// answered 503 (its read-back finds nothing yet). The write lands later all the same; the
/// client's retry with the same `Idempotency-Key` is answered with that event, and one is
/// stored. (Without a key no function can tell the retry from a new conversion: docs/integrating.md, "A
/// write is never answered as a failure".)
#[tokio::test]
async fn a_keyed_put_that_lands_after_its_503_is_replayed_to_the_retry_and_stored_once() {
    let mut runs = JoinSet::new();
    for backend in backends() {
        runs.spawn(async move {
            let context = backend.name.clone();
            let (app, proxy, table) = app_behind_proxy(&backend).await;
            let landing = DYNAMODB_OPERATION_TIMEOUT + Duration::from_secs(1);
            // The feed's change goes through; every attempt of the event's put is held.
            proxy.fail("PutItem", Fault::Delay(Duration::ZERO), 1);
            proxy.fail("PutItem", Fault::Delay(landing), 3);
            let request =
                || fixture("create-minimal").with_header("idempotency-key", "late-landing");
            let first = app.handle(request()).await;
            assert_eq!(first.status(), 503, "{context}: {}", first.body());
            assert!(proxy.injected("PutItem") > 0, "{context}: the put was held");
            assert_eq!(
                table.count_events(demo_account()).await,
                0,
                "{context}: not landed yet"
            );
            // The held attempts reach the server: the first commits, the others meet the
            // condition.
            let deadline = Instant::now() + landing + Duration::from_secs(5);
            while table.count_events(demo_account()).await == 0 {
                assert!(
                    Instant::now() < deadline,
                    "{context}: the write never landed"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let retry = app.handle(request()).await;
            assert_eq!(retry.status(), 201, "{context}: {}", retry.body());
            assert_eq!(
                retry.header("idempotent-replayed"),
                Some("true"),
                "{context}"
            );
            // Every held attempt was sent before the 503: all have landed by now.
            tokio::time::sleep(landing).await;
            assert_eq!(table.count_events(demo_account()).await, 1, "{context}");
        });
    }
    while let Some(run) = runs.join_next().await {
        run.expect("every case passes");
    }
}
