//! What a write and each read of `POST /conversions` cost, and what each read endpoint costs a
//! page, measured with
//! `ReturnConsumedCapacity` on the function's own calls, for the smallest event and the largest
//! one the limits allow. docs/architecture.md's cost model states these rules.
//!
//! dynalite computes capacity from item sizes as DynamoDB does (table only: it reports no index
//! writes); moto answers a flat figure whatever the size, which the test shows too.
//! `cargo test --test dynamodb capacity -- --nocapture` prints them.

use conversions::domain::{AccountId, MAX_METADATA_BYTES, MAX_NOTES_CHARS};
use conversions::http::{App, Body, Request};
use conversions::seed::{DEMO_ACCOUNT_ID, seed_demo};
use conversions::store::DynamoStore;

use crate::helpers::metering::{
    Consumed, billed_size, index_writes, indexes, read_units, write_units,
};
use crate::helpers::{Backend, body_json, demo_event, fixture, on_each_backend, post_as, tenant};

/// The largest body the limits allow: metadata of 16 KiB, notes of 5,000 of the character
/// given, every optional field given.
fn largest_body(note_character: char) -> String {
    let metadata_value = "x".repeat(MAX_METADATA_BYTES - r#"{"k":""}"#.len());
    let notes: String = std::iter::repeat_n(note_character, MAX_NOTES_CHARS).collect();
    format!(
        r#"{{"conversion_type_id":"123e4567-e89b-12d3-a456-426614174100",
            "lead_id":"123e4567-e89b-12d3-a456-426614174200",
            "workflow_run_id":"123e4567-e89b-12d3-a456-426614174400",
            "amount":999999999999999.99,"currency":"USD","converted_at":"2026-01-28T10:00:00Z",
            "metadata":{{"k":"{metadata_value}"}},"notes":"{notes}"}}"#
    )
}

/// One event's figures on one server.
struct Measured {
    name: &'static str,
    /// The stored item's size as DynamoDB bills it.
    size: usize,
    create: Vec<(&'static str, f64)>,
    replay: Vec<(&'static str, f64)>,
}

/// A keyed create and its replay, for the smallest event and the two largest.
async fn measure(backend: &Backend) -> Vec<Measured> {
    let table = backend.fresh_table().await;
    seed_demo(&table.store()).await.unwrap();
    let consumed = Consumed::default();
    let client =
        aws_sdk_dynamodb::Client::from_conf(backend.config().interceptor(consumed.clone()).build());
    let app = App::new(DynamoStore::new(client, &table.name));
    let keyed = |key: &str, body: &Option<String>| -> Request {
        let request = fixture("create-minimal").with_header("idempotency-key", key);
        match body {
            Some(body) => request.with_body(Body::Text(body.clone())),
            None => request,
        }
    };
    let mut measured = Vec::new();
    for (name, body) in [
        ("smallest", None),
        ("largest, ASCII notes", Some(largest_body('n'))),
        ("largest, 4-byte notes", Some(largest_body('\u{1f600}'))),
    ] {
        let key = name.replace([',', ' '], "-");
        let created = app.handle(keyed(&key, &body)).await;
        assert_eq!(
            created.status(),
            201,
            "{}: {}",
            backend.name,
            created.body()
        );
        let create = consumed.take();
        let replayed = app.handle(keyed(&key, &body)).await;
        assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
        let id = body_json(&created)["conversion_event"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let item = table
            .event_item(AccountId::parse(DEMO_ACCOUNT_ID).unwrap(), id)
            .await;
        measured.push(Measured {
            name,
            size: billed_size(&item),
            create,
            replay: consumed.take(),
        });
    }
    measured
}

fn calls(measured: &[(&'static str, f64)]) -> Vec<&'static str> {
    measured.iter().map(|(op, _)| *op).collect()
}

#[tokio::test]
async fn a_write_costs_its_item_size_in_kilobytes_and_a_replay_reads_it_back() {
    on_each_backend(|backend| async move {
        let measured = measure(&backend).await;
        println!("{}:", backend.name);
        for m in &measured {
            println!(
                "  {}: item {} bytes; create {:?}; replay {:?}",
                m.name, m.size, m.create, m.replay
            );
        }
        for m in &measured {
            assert_eq!(
                calls(&m.create),
                ["GetItem", "BatchGetItem", "PutItem", "PutItem"]
            );
            assert_eq!(calls(&m.replay), ["GetItem", "BatchGetItem"]);
        }
        let [smallest, largest_ascii, largest] = measured.as_slice() else {
            panic!("three events measured");
        };
        if backend.name == "dynalite" {
            // dynalite bills as DynamoDB does: the key read strongly, 1 unit; the batch read
            // eventually consistent, half a unit for each key asked for, found or not, and
            // for each started 4 KB; the put a started KB. (It counts a string's UTF-16 units,
            // not its UTF-8 bytes, so only ASCII text is billed exactly: the 4-byte notes are
            // checked against DynamoDB's rule only.)
            for (m, keys_read) in [(smallest, 3.0), (largest_ascii, 4.0)] {
                assert_eq!(
                    m.create,
                    [
                        ("GetItem", 1.0),
                        ("BatchGetItem", keys_read / 2.0),
                        // The feed's change: under a KB.
                        ("PutItem", 1.0),
                        ("PutItem", write_units(m.size))
                    ],
                    "{}",
                    m.name
                );
                assert_eq!(
                    m.replay,
                    [
                        ("GetItem", 1.0),
                        ("BatchGetItem", (keys_read - 1.0 + read_units(m.size)) / 2.0)
                    ],
                    "{}",
                    m.name
                );
            }
        } else {
            // moto answers one figure for a put whatever the item's size: it does not measure.
            assert_eq!(largest.create[3], smallest.create[3], "{}", backend.name);
        }
        // What docs/architecture.md's cost model states, by DynamoDB's rules.
        assert_eq!(
            [smallest, largest_ascii, largest].map(|m| (write_units(m.size), read_units(m.size))),
            [(1.0, 1.0), (22.0, 6.0), (37.0, 10.0)],
            "{}: item sizes {} / {} / {} bytes",
            backend.name,
            smallest.size,
            largest_ascii.size,
            largest.size
        );
    })
    .await;
}

/// The write units of a create, counted from the stored item and the table's indexes as
/// DynamoDB bills them (neither server reports index writes): the item a started KB, and each
/// index entry a started KB. Every shape without metadata or notes is three units, an item and
/// two entries under a KB each; a run or a master-workflow type adds none.
#[tokio::test]
async fn a_create_is_its_item_and_two_index_entries_under_a_kilobyte_each() {
    use conversions::seed::{
        DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, DEMO_WORKFLOW_RUN_ID,
    };
    on_each_backend(|backend| async move {
        let table = backend.fresh_table().await;
        let store = table.store();
        seed_demo(&store).await.unwrap();
        let other = tenant(&store).await;
        let indexes = indexes(&table.client, &table.name).await;
        let app = App::new(store);
        let demo = |extra: &str| {
            format!(
                r#"{{"conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","amount":85000.00{extra}}}"#
            )
        };
        let metadata: Vec<String> = (0..20)
            .map(|i| format!(r#""field_{i}":"value number {i}""#))
            .collect();
        let shapes = [
            (
                "minimal",
                DEMO_API_KEY.to_owned(),
                DEMO_ACCOUNT_ID.parse().unwrap(),
                demo(""),
            ),
            (
                "with a run",
                DEMO_API_KEY.to_owned(),
                DEMO_ACCOUNT_ID.parse().unwrap(),
                demo(&format!(r#","workflow_run_id":"{DEMO_WORKFLOW_RUN_ID}""#)),
            ),
            (
                "master-workflow type with a run",
                other.key.expose().to_owned(),
                other.account,
                format!(
                    r#"{{"conversion_type_id":"{}","lead_id":"{}","workflow_run_id":"{}","amount":85000}}"#,
                    other.conversion_type, other.lead, other.run
                ),
            ),
            (
                "20 metadata keys",
                DEMO_API_KEY.to_owned(),
                DEMO_ACCOUNT_ID.parse().unwrap(),
                demo(&format!(r#","metadata":{{{}}}"#, metadata.join(","))),
            ),
        ];
        for (shape, key, account, body) in shapes {
            let created = app.handle(post_as(&key, body)).await;
            assert_eq!(created.status(), 201, "{shape}: {}", created.body());
            let id = body_json(&created)["conversion_event"]["id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let item = table.event_item(account, id).await;
            let (entries, index_units, _) = index_writes(&indexes, &item);
            let size = billed_size(&item);
            println!(
                "{}: {shape}: item {size} bytes, {entries} index entries, {} write units",
                backend.name,
                write_units(size) + index_units
            );
            assert_eq!(
                (entries, index_units),
                (2, 2.0),
                "{}: {shape}",
                backend.name
            );
            if shape != "20 metadata keys" {
                assert!(
                    size < 1024,
                    "{}: {shape}: the item is {size} bytes",
                    backend.name
                );
                assert_eq!(
                    write_units(size) + index_units,
                    3.0,
                    "{}: {shape}",
                    backend.name
                );
            }
        }
    })
    .await;
}

/// One operation's calls in a request: its name, how many, their capacity units in all.
type OperationCost = (&'static str, usize, f64);

/// Capacity units of a request's calls, summed by operation, in first-call order.
fn by_operation(calls: &[(&'static str, f64)]) -> Vec<OperationCost> {
    let mut summed: Vec<OperationCost> = Vec::new();
    for (op, units) in calls {
        match summed.iter_mut().find(|(o, ..)| o == op) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 += units;
            }
            None => summed.push((op, 1, *units)),
        }
    }
    summed
}

/// The read endpoints on an account of 600 small events (the demo type; three leads), each
/// request's DynamoDB calls and capacity. `-- --nocapture` prints the table.
#[tokio::test]
async fn a_page_costs_the_same_at_any_depth_and_a_total_reads_the_matching_index_entries() {
    use conversions::domain::{ConversionEvent, LeadId, Timestamp, WriteToken};
    use conversions::seed::{DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID};
    use conversions::store::{NewEvent, Store};

    const EVENTS: usize = 600;
    on_each_backend(|backend| async move {
        let table = backend.demo_table().await;
        let store = table.store();
        let account = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
        let leads = [LeadId::random(), LeadId::random(), LeadId::random()];
        let mut ids = Vec::new();
        for i in 0..EVENTS {
            let event = ConversionEvent {
                converted_at: Timestamp::parse(&format!(
                    "2026-01-{:02}T{:02}:00:00Z",
                    1 + i % 28,
                    i % 24
                ))
                .unwrap(),
                ..demo_event(leads[i % 3], Timestamp::now())
            };
            ids.push(event.id);
            let new = NewEvent {
                event: &event,
                write_token: WriteToken::random(),
            };
            store.insert_event(account, new).await.unwrap();
        }
        let consumed = Consumed::default();
        let client = aws_sdk_dynamodb::Client::from_conf(
            backend.config().interceptor(consumed.clone()).build(),
        );
        let app = App::new(DynamoStore::new(client, &table.name));
        let get = |path: &str, query: &str| {
            Request::new("GET", path)
                .with_query(query)
                .with_header("x-api-key", DEMO_API_KEY)
        };
        let mut rows: Vec<(String, Vec<OperationCost>)> = Vec::new();
        let mut measure = async |label: String, request: Request| {
            let response = app.handle(request).await;
            assert_eq!(response.status(), 200, "{label}: {}", response.body());
            let calls = consumed.take();
            rows.push((label, by_operation(&calls)));
            body_json(&response)
        };
        measure("GET /conversion-types".into(), get("/conversion-types", "")).await;
        let first = measure(
            "GET /conversions (first page of 50)".into(),
            get("/conversions", ""),
        )
        .await;
        let mut cursor = first["next_cursor"].as_str().unwrap().to_owned();
        for _ in 0..3 {
            let page = app
                .handle(get("/conversions", &format!("cursor={cursor}")))
                .await;
            cursor = body_json(&page)["next_cursor"].as_str().unwrap().to_owned();
        }
        consumed.take();
        measure(
            "GET /conversions (5th page of 50, by cursor)".into(),
            get("/conversions", &format!("cursor={cursor}")),
        )
        .await;
        measure(
            "GET /conversions (offset=200, 5th page of 50)".into(),
            get("/conversions", "offset=200"),
        )
        .await;
        measure(
            "GET /conversions?limit=200".into(),
            get("/conversions", "limit=200"),
        )
        .await;
        measure(
            format!(
                "GET /conversions?lead_id= (1 lead of 3, {} events)",
                EVENTS / 3
            ),
            get("/conversions", &format!("lead_id={}", leads[0])),
        )
        .await;
        measure(
            "GET /conversions?lead_id=&conversion_type_id=".into(),
            get(
                "/conversions",
                &format!(
                    "lead_id={}&conversion_type_id={DEMO_CONVERSION_TYPE_ID}",
                    leads[0]
                ),
            ),
        )
        .await;
        measure(
            "GET /conversions?converted_after=&converted_before= (1 day of 28)".into(),
            get(
                "/conversions",
                "converted_after=2026-01-05T00:00:00Z&converted_before=2026-01-06T00:00:00Z",
            ),
        )
        .await;
        measure(
            "GET /conversions/{id}".into(),
            get(&format!("/conversions/{}", ids[0]), ""),
        )
        .await;
        println!("{} ({EVENTS} events):", backend.name);
        for (label, calls) in &rows {
            println!("  {label}: {calls:?}");
        }
        let cost = |label: &str| -> Vec<OperationCost> {
            rows.iter()
                .find(|(l, _)| l.starts_with(label))
                .unwrap_or_else(|| panic!("{label}"))
                .1
                .clone()
        };
        // Every list is one page Query and one count Query, then one BatchGetItem of the
        // page's events and their types; a single event is a GetItem, then its type's.
        let list = cost("GET /conversions (first");
        assert_eq!(
            list.iter().map(|(op, n, _)| (*op, *n)).collect::<Vec<_>>(),
            [("GetItem", 1), ("Query", 2), ("BatchGetItem", 1)],
            "{}",
            backend.name
        );
        assert_eq!(
            cost("GET /conversions/{id}")
                .iter()
                .map(|(op, n, _)| (*op, *n))
                .collect::<Vec<_>>(),
            [("GetItem", 3)]
        );
        if backend.name == "dynalite" {
            // Paging by cursor costs what the first page does, at any depth; offset pays for
            // every event it skips.
            assert_eq!(cost("GET /conversions (5th page of 50, by cursor)"), list);
            let units = |calls: &[OperationCost]| calls.iter().map(|c| c.2).sum::<f64>();
            assert!(units(&cost("GET /conversions (offset")) > units(&list));
            // A narrower filter counts fewer entries.
            assert!(units(&cost("GET /conversions?lead_id= (")) < units(&list));
        }
    })
    .await;
}
