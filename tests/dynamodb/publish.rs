//! The push to EventBridge, end to end on moto's server (dynalite has no streams): changes
//! recorded through the API, the table's stream read back (DynamoDB Streams), the publisher
//! invoked with those records as Lambda delivers them, `PutEvents` to a bus whose rule feeds an
//! SQS queue, the queue read back. Every change arrives, as the feed serves it, once; after
//! partial failures (some entries refused), still once each; after failures that outlast the
//! publisher's retries, the batch is reported from its first unpublished record, and Lambda's
//! resend delivers the rest (at least once: deduplicated by id, exactly the feed).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
use conversions::domain::{AccountId, Lead, LeadId, Timestamp};
use conversions::http::App;
use conversions::publish::{EventBridge, Publisher, SOURCE};
use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID};
use conversions::store::{DynamoStore, Provisioning, Record};
use serde_json::{Value, json};

use crate::helpers::aws_json::call as aws;
use crate::helpers::proxy::{Fault, FaultProxy};
use crate::helpers::{Backend, Table, backends, body_json, demo_call};

fn moto() -> Backend {
    backends()
        .into_iter()
        .find(|b| b.name == "moto")
        .expect("moto")
}

/// A table with a stream, the demo data, and changes of every kind recorded through the API
/// (creates, a batch, adjustments) and the erasure of a lead; and the API's answers to them.
async fn recorded(backend: &Backend) -> (Table, App<DynamoStore>, Vec<Value>) {
    let mut answers = Vec::new();
    let table = backend.fresh_table().await;
    table
        .client
        .update_table()
        .table_name(&table.name)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let store = table.store();
    conversions::seed::seed_demo(&store).await.unwrap();
    let app = App::new(table.store()).with_changes_lag(Duration::ZERO);
    let body = |amount: u32| {
        json!({
            "conversion_type_id": DEMO_CONVERSION_TYPE_ID,
            "lead_id": DEMO_LEAD_ID,
            "amount": amount,
        })
    };
    for i in 0..7 {
        let created = app
            .handle(demo_call("POST", "/conversions", Some(body(i).to_string())))
            .await;
        assert_eq!(created.status(), 201, "{}", created.body());
        answers.push(body_json(&created));
        if i % 3 == 0 {
            let id = body_json(&created)["conversion_event"]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let path = format!("/conversions/{id}/adjustments");
            for restated in [i + 100, i + 200] {
                let adjustment = json!({"type": "restatement", "amount": restated}).to_string();
                let adjusted = app.handle(demo_call("POST", &path, Some(adjustment))).await;
                assert_eq!(adjusted.status(), 201, "{}", adjusted.body());
                answers.push(body_json(&adjusted));
            }
        }
    }
    let rows: Vec<Value> = (0..6)
        .map(|i| {
            let mut row = body(1000 + i);
            row["idempotency_key"] = json!(format!("push-{i}"));
            row
        })
        .collect();
    let batch = json!({ "events": rows }).to_string();
    let answer = app
        .handle(demo_call("POST", "/conversions/batch", Some(batch)))
        .await;
    let batch = body_json(&answer);
    assert_eq!(batch["counts"]["created"], 6);
    answers.extend(batch["results"].as_array().unwrap().iter().cloned());
    let account = AccountId::parse(DEMO_ACCOUNT_ID).unwrap();
    let lead = Lead {
        id: LeadId::random(),
        created_at: Timestamp::now(),
    };
    store
        .create(&Record::Lead(account, lead.clone()))
        .await
        .unwrap();
    store.erase_lead(account, lead.id).await.unwrap();
    (table, app, answers)
}

/// The stream's records, as Lambda delivers them to the function.
async fn stream_event(backend: &Backend, table: &Table) -> Value {
    let described = table
        .client
        .describe_table()
        .table_name(&table.name)
        .send()
        .await
        .unwrap();
    let arn = described
        .table()
        .unwrap()
        .latest_stream_arn()
        .unwrap()
        .to_owned();
    let streams = |target: &str, body: Value| {
        let target = format!("DynamoDBStreams_20120810.{target}");
        async move { aws(&backend.endpoint, "dynamodb", &target, &body).await }
    };
    let stream = streams("DescribeStream", json!({"StreamArn": arn})).await;
    let mut records = Vec::new();
    for shard in stream["StreamDescription"]["Shards"].as_array().unwrap() {
        let iterator = streams(
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
        let mut iterator = iterator["ShardIterator"].clone();
        while iterator.is_string() {
            let page = streams("GetRecords", json!({"ShardIterator": iterator})).await;
            let found = page["Records"].as_array().cloned().unwrap_or_default();
            if found.is_empty() {
                break;
            }
            records.extend(found.into_iter().map(|mut record| {
                record["eventSourceARN"] = json!(arn);
                record
            }));
            iterator = page["NextShardIterator"].clone();
        }
    }
    json!({ "Records": records })
}

/// A bus whose rule sends this service's events to a new queue; the queue's URL.
async fn bus_to_queue(endpoint: &str, bus: &str) -> String {
    aws(
        endpoint,
        "events",
        "AWSEvents.CreateEventBus",
        &json!({"Name": bus}),
    )
    .await;
    let queue = aws(
        endpoint,
        "sqs",
        "AmazonSQS.CreateQueue",
        &json!({"QueueName": format!("{bus}-queue")}),
    )
    .await;
    let url = queue["QueueUrl"].as_str().unwrap().to_owned();
    let attributes = aws(
        endpoint,
        "sqs",
        "AmazonSQS.GetQueueAttributes",
        &json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
    )
    .await;
    let pattern = json!({ "source": [SOURCE] }).to_string();
    let rule = json!({"Name": "all-changes", "EventBusName": bus, "EventPattern": pattern});
    aws(endpoint, "events", "AWSEvents.PutRule", &rule).await;
    let target = json!({
        "Rule": "all-changes",
        "EventBusName": bus,
        "Targets": [{"Id": "queue", "Arn": attributes["Attributes"]["QueueArn"]}],
    });
    aws(endpoint, "events", "AWSEvents.PutTargets", &target).await;
    url
}

/// Every message the queue holds `expected` of, or what it has after a few seconds.
async fn drain(endpoint: &str, queue: &str, expected: usize) -> Vec<Value> {
    let mut messages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while messages.len() < expected && Instant::now() < deadline {
        let received = aws(
            endpoint,
            "sqs",
            "AmazonSQS.ReceiveMessage",
            &json!({"QueueUrl": queue, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
        )
        .await;
        for message in received["Messages"].as_array().cloned().unwrap_or_default() {
            let delete = json!({"QueueUrl": queue, "ReceiptHandle": message["ReceiptHandle"]});
            aws(endpoint, "sqs", "AmazonSQS.DeleteMessage", &delete).await;
            messages.push(serde_json::from_str(message["Body"].as_str().unwrap()).unwrap());
        }
    }
    // Nothing more arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rest = aws(
        endpoint,
        "sqs",
        "AmazonSQS.ReceiveMessage",
        &json!({"QueueUrl": queue, "MaxNumberOfMessages": 10}),
    )
    .await;
    assert!(
        rest["Messages"].as_array().is_none_or(Vec::is_empty),
        "{rest}"
    );
    messages
}

/// The feed, all of it, each change with the account's id as the push adds it, by id.
async fn feed(app: &App<DynamoStore>) -> BTreeMap<String, Value> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let page = app
        .handle(demo_call("GET", "/conversions/changes", None).with_query("limit=1000"))
        .await;
    let changes = body_json(&page)["changes"].as_array().unwrap().clone();
    changes
        .into_iter()
        .map(|change| {
            let mut detail = json!({ "account_id": DEMO_ACCOUNT_ID });
            for (name, value) in change.as_object().unwrap() {
                detail[name] = value.clone();
            }
            (change["id"].as_str().unwrap().to_owned(), detail)
        })
        .collect()
}

/// The pushed events by change id, each with how many times it came; each event checked.
fn by_id(messages: &[Value]) -> BTreeMap<String, (Value, usize)> {
    let mut found: BTreeMap<String, (Value, usize)> = BTreeMap::new();
    for message in messages {
        assert_eq!(message["source"], SOURCE);
        assert_eq!(message["detail-type"], message["detail"]["type"]);
        let id = message["detail"]["id"].as_str().unwrap().to_owned();
        found.entry(id).or_insert((message["detail"].clone(), 0)).1 += 1;
    }
    found
}

async fn publisher(
    endpoint: &str,
    table: &Table,
    bus: &str,
) -> Publisher<DynamoStore, EventBridge> {
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version_latest()
        .http_client(conversions::sdk::https_client(
            conversions::sdk::AMAZON_TRUST_SERVICES_ROOTS.to_vec(),
        ))
        .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .endpoint_url(endpoint)
        .build();
    let client = aws_sdk_eventbridge::Client::from_conf(config);
    Publisher::new(table.store(), Some(EventBridge::new(client, bus)))
}

#[tokio::test]
async fn every_change_reaches_the_bus_once_as_the_feed_serves_it_even_when_entries_fail() {
    let backend = moto();
    let (table, app, answers) = recorded(&backend).await;
    let event = stream_event(&backend, &table).await;
    let expected = feed(&app).await;
    let kinds: Vec<&str> = expected
        .values()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    for kind in ["conversion.created", "conversion.adjusted", "lead.erased"] {
        assert!(kinds.contains(&kind), "{kind}: {kinds:?}");
    }
    let bus = format!("conversions-{}", uuid::Uuid::new_v4().simple());
    let queue = bus_to_queue(&backend.endpoint, &bus).await;
    let proxy = FaultProxy::start(&backend.endpoint).await;
    proxy.fail("PutEvents", Fault::FailEntries, 2);
    let publisher = publisher(&proxy.endpoint(), &table, &bus).await;

    let answer = publisher.publish(&event).await;
    assert!(answer.failures.is_empty(), "{answer:?}");
    // The first request's 10 entries: 5 refused, sent again; of those, 2 refused, sent again.
    assert_eq!(
        proxy.failed_entries(),
        5 + 2,
        "the partial failures were answered"
    );
    let groups = expected.len().div_ceil(10);
    assert_eq!(
        proxy.count("PutEvents"),
        groups + 2,
        "only the refused entries were sent again"
    );
    let pushed = by_id(&drain(&backend.endpoint, &queue, expected.len()).await);
    assert_eq!(pushed.len(), expected.len(), "{pushed:#?}");
    for (id, change) in &expected {
        let (detail, times) = &pushed[id];
        assert_eq!(*times, 1, "{id}");
        assert_eq!(detail, change, "{id}");
    }
    // And as the API answered each write: every member of its event, its adjustment.
    for answer in &answers {
        let event = &answer["conversion_event"];
        let pushed =
            pushed
                .values()
                .map(|(detail, _)| detail)
                .find(|d| match answer.get("adjustment") {
                    Some(adjustment) => d["id"] == adjustment["id"],
                    None => {
                        d["type"] == "conversion.created"
                            && d["conversion_event"]["id"] == event["id"]
                    }
                });
        let pushed = pushed.unwrap_or_else(|| panic!("no change pushed for {answer}"));
        for (name, value) in event.as_object().unwrap() {
            assert_eq!(
                &pushed["conversion_event"][name], value,
                "{name} of {answer}"
            );
        }
        if let Some(adjustment) = answer.get("adjustment") {
            assert_eq!(&pushed["adjustment"], adjustment);
        }
    }
}

#[tokio::test]
async fn a_batch_that_cannot_be_published_is_reported_from_its_first_unpublished_record() {
    let backend = moto();
    let (table, app, _) = recorded(&backend).await;
    let event = stream_event(&backend, &table).await;
    let expected = feed(&app).await;
    let bus = format!("conversions-{}", uuid::Uuid::new_v4().simple());
    let queue = bus_to_queue(&backend.endpoint, &bus).await;
    let proxy = FaultProxy::start(&backend.endpoint).await;
    let publisher = publisher(&proxy.endpoint(), &table, &bus).await;
    // The first request goes through; then every attempt fails, the SDK's retries included.
    proxy.fail("PutEvents", Fault::Delay(Duration::ZERO), 1);
    let failing = Fault::Error {
        status: 500,
        code: "InternalException",
    };
    proxy.fail("PutEvents", failing, usize::MAX);

    let answer = publisher.publish(&event).await;
    let records = event["Records"].as_array().unwrap();
    let [failure] = answer.failures.as_slice() else {
        panic!("one record to resume from: {answer:?}");
    };
    let from = (records.iter())
        .position(|r| r["dynamodb"]["SequenceNumber"] == failure.item_identifier.as_str())
        .expect("the identifier is a record's sequence number");
    assert!(from > 0, "the first group was published");
    let first_pass = by_id(&drain(&backend.endpoint, &queue, 10).await);
    assert!(!first_pass.is_empty() && first_pass.len() < expected.len());

    // Lambda sends the batch again from that record, once PutEvents works again.
    drop(proxy);
    let publisher = self::publisher(&backend.endpoint, &table, &bus).await;
    let resent = json!({ "Records": records[from..] });
    assert!(publisher.publish(&resent).await.failures.is_empty());
    let second_pass = by_id(&drain(&backend.endpoint, &queue, expected.len()).await);
    let mut all = first_pass.clone();
    for (id, (detail, times)) in second_pass {
        all.entry(id).or_insert((detail, 0)).1 += times;
    }
    let delivered: BTreeMap<String, Value> = all
        .into_iter()
        .map(|(id, (detail, _))| (id, detail))
        .collect();
    assert_eq!(delivered, expected, "deduplicated by id, exactly the feed");
}
