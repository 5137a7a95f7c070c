//! The publisher on the in-memory store, with a bus that fails as told, fed the recorded stream
//! fixtures (`events/stream/`, records of moto's stream). The same against moto's EventBridge,
//! with the feed as the oracle, is in `tests/dynamodb/publish.rs`.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::Value;

use super::*;
use crate::domain::{ChangeRecord, LeadId, Timestamp};
use crate::seed::{DEMO_ACCOUNT_ID, seed_demo};
use crate::store::MemoryStore;

fn fixture(name: &str) -> Value {
    let path = format!("{}/events/stream/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn sequence(event: &Value, record: usize) -> String {
    event["Records"][record]["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// How the bus answers a call, in turn; once the plan is spent, every entry is accepted.
enum Answer {
    /// These entries of the call refused.
    Refuse(Vec<usize>),
    Error,
}

#[derive(Default)]
struct Bus {
    plan: Mutex<VecDeque<Answer>>,
    /// Every call's entries.
    calls: Mutex<Vec<Vec<BusEntry>>>,
}

impl Bus {
    fn answering(plan: impl IntoIterator<Item = Answer>) -> Self {
        Self {
            plan: Mutex::new(plan.into_iter().collect()),
            calls: Mutex::default(),
        }
    }

    fn calls(&self) -> Vec<Vec<BusEntry>> {
        self.calls.lock().unwrap().clone()
    }
}

impl super::Bus for &Bus {
    async fn put(&self, entries: &[BusEntry]) -> Result<Vec<Option<String>>, BusError> {
        self.calls.lock().unwrap().push(entries.to_vec());
        match self.plan.lock().unwrap().pop_front() {
            None => Ok(vec![None; entries.len()]),
            Some(Answer::Refuse(which)) => Ok((0..entries.len())
                .map(|i| which.contains(&i).then(|| "ThrottlingException".to_owned()))
                .collect()),
            Some(Answer::Error) => Err(BusError("InternalException".into())),
        }
    }
}

async fn publisher(bus: Option<&Bus>) -> Publisher<MemoryStore, &Bus> {
    let store = MemoryStore::new();
    seed_demo(&store).await.unwrap();
    Publisher::new(store, bus)
}

fn details(entries: &[BusEntry]) -> Vec<Value> {
    (entries.iter())
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect()
}

#[tokio::test]
async fn the_recorded_changes_are_published_in_order_each_with_its_account() {
    let bus = Bus::default();
    let answer = publisher(Some(&bus))
        .await
        .publish(&fixture("changes"))
        .await;
    assert_eq!(answer, BatchResponse { failures: vec![] });
    let calls = bus.calls();
    assert_eq!(calls.len(), 1);
    let kinds: Vec<&str> = calls[0].iter().map(|e| e.detail_type).collect();
    assert_eq!(
        kinds,
        ["conversion.created", "conversion.adjusted", "lead.erased"]
    );
    let [created, adjusted, erased] = &details(&calls[0])[..] else {
        panic!("three entries");
    };
    for (detail, kind) in [
        (created, "conversion.created"),
        (adjusted, "conversion.adjusted"),
    ] {
        assert_eq!(detail["account_id"], DEMO_ACCOUNT_ID);
        assert_eq!(detail["type"], kind);
        assert_eq!(
            detail["conversion_event"]["conversion_types"]["name"],
            "Reserva"
        );
    }
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(created),
        [
            "account_id",
            "id",
            "type",
            "recorded_at",
            "conversion_event"
        ]
    );
    assert_eq!(created["conversion_event"]["status"], "recorded");
    assert_eq!(
        created["conversion_event"]["adjustments"],
        serde_json::json!([])
    );
    assert_eq!(
        created["recorded_at"],
        created["conversion_event"]["created_at"]
    );
    // The first of the event's adjustments, and the event right after it.
    assert_eq!(adjusted["id"], adjusted["adjustment"]["id"]);
    assert_eq!(adjusted["conversion_event"]["status"], "restated");
    assert_eq!(
        adjusted["conversion_event"]["adjustments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        adjusted["conversion_event"]["current_amount"],
        adjusted["adjustment"]["amount"]
    );
    assert_eq!(
        keys(erased),
        ["account_id", "id", "type", "recorded_at", "lead_id"]
    );
}

#[tokio::test]
async fn refused_entries_are_sent_again_alone() {
    let bus = Bus::answering([Answer::Refuse(vec![0, 2]), Answer::Refuse(vec![1])]);
    let answer = publisher(Some(&bus))
        .await
        .publish(&fixture("changes"))
        .await;
    assert!(answer.failures.is_empty(), "{answer:?}");
    let kinds: Vec<Vec<&str>> = (bus.calls().iter())
        .map(|call| call.iter().map(|e| e.detail_type).collect())
        .collect();
    assert_eq!(
        kinds,
        [
            vec!["conversion.created", "conversion.adjusted", "lead.erased"],
            vec!["conversion.created", "lead.erased"],
            vec!["lead.erased"],
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_keeps_failing_is_reported_from_its_first_unpublished_record() {
    let event = fixture("changes");
    // The adjustment and the erasure refused, then every call failing.
    let errors = (1..ATTEMPTS).map(|_| Answer::Error);
    let bus = Bus::answering([Answer::Refuse(vec![1, 2])].into_iter().chain(errors));
    let answer = publisher(Some(&bus)).await.publish(&event).await;
    // The create went; the adjustment (record 4) and the erasure did not: Lambda resends from
    // the adjustment's record.
    assert_eq!(
        answer.failures,
        [ItemFailure {
            item_identifier: sequence(&event, 4)
        }]
    );
    assert_eq!(bus.calls().len(), ATTEMPTS as usize);
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": sequence(&event, 4)}]})
    );
}

#[tokio::test]
async fn without_a_bus_only_a_batch_with_nothing_to_publish_succeeds() {
    let quiet = publisher(None)
        .await
        .publish(&fixture("nothing-to-publish"))
        .await;
    assert!(quiet.failures.is_empty());
    let event = fixture("changes");
    let stuck = publisher(None).await.publish(&event).await;
    // The event's insert, the first record with a change.
    assert_eq!(
        stuck.failures,
        [ItemFailure {
            item_identifier: sequence(&event, 2)
        }]
    );
}

#[tokio::test]
async fn a_record_that_cannot_be_read_stops_the_batch_there() {
    let mut event = fixture("changes");
    event["Records"][4]["dynamodb"]["NewImage"]["amount_text"] = serde_json::json!({"S": "lots"});
    let bus = Bus::default();
    let answer = publisher(Some(&bus)).await.publish(&event).await;
    assert_eq!(
        answer.failures,
        [ItemFailure {
            item_identifier: sequence(&event, 4)
        }]
    );
    let kinds: Vec<&str> = bus.calls()[0].iter().map(|e| e.detail_type).collect();
    assert_eq!(
        kinds,
        ["conversion.created"],
        "what came before it is published"
    );
}

#[test]
fn an_entry_too_large_for_one_request_goes_without_its_event() {
    let account = AccountId::random();
    let lead = LeadId::random();
    let erased = ChangeRecord::lead_erased(lead, Timestamp::now())
        .served(None)
        .unwrap();
    let small = entry_within(account, &erased, 10_000);
    let detail: Value = serde_json::from_str(&small.detail).unwrap();
    assert_eq!(detail["lead_id"], lead.to_string());
    // A created change's entry at just its size, and a byte less.
    let store_event = crate::domain::ConversionEvent {
        id: crate::domain::EventId::random(),
        conversion_type_id: crate::domain::ConversionTypeId::random(),
        lead_id: lead,
        workflow_id: None,
        master_workflow_id: None,
        workflow_run_id: None,
        amount: crate::domain::Amount::parse_json_number("5").unwrap(),
        currency: crate::domain::Currency::parse("USD").unwrap(),
        metadata: crate::domain::Metadata::from_json("{}").unwrap(),
        notes: None,
        converted_at: Timestamp::now(),
        created_at: Timestamp::now(),
    };
    let token = crate::domain::WriteToken::random();
    let created = ChangeRecord::created(store_event.id, store_event.created_at, token);
    let with_type = crate::domain::EventWithType {
        event: store_event,
        conversion_type: crate::seed::demo().conversion_type,
        adjustments: vec![],
    };
    let change = created.served(Some((&with_type, Some(token)))).unwrap();
    let full = entry_within(account, &change, usize::MAX);
    assert!(full.detail.contains("conversion_event"));
    assert_eq!(entry_within(account, &change, full.size()), full);
    let slim = entry_within(account, &change, full.size() - 1);
    let slim: Value = serde_json::from_str(&slim.detail).unwrap();
    assert_eq!(slim.get("conversion_event"), None);
    assert_eq!(slim["id"], token.as_uuid().to_string());
}

#[tokio::test]
async fn requests_hold_at_most_ten_entries_and_less_than_256_kb() {
    let entry = |bytes: usize| BusEntry {
        detail_type: "conversion.created",
        detail: "x".repeat(bytes),
    };
    // Two of them fit, source and detail-type (35 bytes) included; two a little larger do not.
    let big = MAX_REQUEST_BYTES / 2 - 40;
    for (sizes, expected) in [
        (vec![100; 11], vec![10, 1]),
        (vec![big, big, big], vec![2, 1]),
        (vec![big + 100, big + 100], vec![1, 1]),
    ] {
        let bus = Bus::default();
        let publisher = publisher(Some(&bus)).await;
        let entries: Vec<(usize, BusEntry)> = sizes
            .iter()
            .enumerate()
            .map(|(i, n)| (i, entry(*n)))
            .collect();
        assert_eq!(publisher.put_all(&entries).await, (sizes.len(), None));
        let calls = bus.calls();
        let counts: Vec<usize> = calls.iter().map(Vec::len).collect();
        assert_eq!(counts, expected, "{sizes:?}");
        for call in calls {
            assert!(call.iter().map(BusEntry::size).sum::<usize>() < 256 * 1024);
        }
    }
}

#[tokio::test]
async fn an_erased_accounts_events_go_unpublished_and_hold_nothing_up() {
    // The fixture's records as another account's: no type of it, no event of it remains.
    let mut event = fixture("changes");
    let other = format!("ACCOUNT#{}", AccountId::random());
    for record in event["Records"].as_array_mut().unwrap() {
        for image in ["NewImage", "OldImage", "Keys"] {
            if let Some(pk) = record["dynamodb"][image].get_mut("pk") {
                pk["S"] = Value::String(other.clone());
            }
        }
    }
    let bus = Bus::default();
    let answer = publisher(Some(&bus)).await.publish(&event).await;
    assert!(answer.failures.is_empty(), "{answer:?}");
    let kinds: Vec<&str> = (bus.calls().iter().flatten())
        .map(|e| e.detail_type)
        .collect();
    assert_eq!(
        kinds,
        ["lead.erased"],
        "only the erasure, which needs no type"
    );
}
