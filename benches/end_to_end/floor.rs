//! The floor the function is compared with: a minimal `lambda_runtime` function making the
//! DynamoDB calls one warm create makes (the key's record read strongly beside one eventually
//! consistent `BatchGetItem` of the type and the lead, then the feed's change and a conditional
//! `PutItem` of an item of a minimal event's shape and size) and answering a fixed `201`, so that it pays what any
//! Lambda function pays: the Runtime API's exchanges, the SDK's signing and HTTP. It is this
//! bench's executable again (`BENCH_FLOOR_FUNCTION` set), started under the same emulator with
//! the same environment and the same SDK configuration (`load_sdk_config`), on one thread, with
//! the same warm-up read during init; its CPU, cold start and instructions are measured exactly
//! as the function's are.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID};
use lambda_runtime::{Error, LambdaEvent, service_fn};

/// Set in the environment of the bench's executable to make it the floor function.
pub const MODE: &str = "BENCH_FLOOR_FUNCTION";
/// The hash of the key the floor reads, set beside `MODE`.
pub const KEY_HASH: &str = "BENCH_KEY_HASH";

type Item = HashMap<String, AttributeValue>;

fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk)),
    ])
}

/// The floor function's process: init, then the Runtime API loop.
pub fn serve() {
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME");
    let key_hash = std::env::var(KEY_HASH).expect(KEY_HASH);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime
        .block_on(async move {
            let sdk = conversions::sdk::load_sdk_config()
                .await
                .expect("the SDK's configuration");
            let client = aws_sdk_dynamodb::Client::new(&sdk);
            if std::env::var("DYNAMODB_WARM_UP").as_deref() != Ok("false") {
                let nothing = key("WARM_UP".into(), "WARM_UP".into());
                let _ = client
                    .get_item()
                    .table_name(&table)
                    .set_key(Some(nothing))
                    .send()
                    .await;
            }
            let (client, table, key_hash) = (&client, table.as_str(), key_hash.as_str());
            lambda_runtime::run(service_fn(
                move |_: LambdaEvent<serde_json::Value>| async move {
                    create(client, table, key_hash).await;
                    Ok::<_, Error>(answer())
                },
            ))
            .await
        })
        .expect("the floor function runs");
}

/// The calls of one warm create.
async fn create(client: &aws_sdk_dynamodb::Client, table: &str, key_hash: &str) {
    let account_pk = format!("ACCOUNT#{DEMO_ACCOUNT_ID}");
    let api_key = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(format!("APIKEY#{key_hash}"), "APIKEY".into())))
        .consistent_read(true)
        .send();
    let references = KeysAndAttributes::builder()
        .set_keys(Some(vec![
            key(
                account_pk.clone(),
                format!("CONVERSION_TYPE#{DEMO_CONVERSION_TYPE_ID}"),
            ),
            key(account_pk.clone(), format!("LEAD#{DEMO_LEAD_ID}")),
        ]))
        .build()
        .expect("keys");
    let batch = client
        .batch_get_item()
        .request_items(table, references)
        .send();
    let (api_key, batch) = tokio::join!(api_key, batch);
    api_key.expect("GetItem");
    batch.expect("BatchGetItem");
    // The feed's change, then an item of the size and shape of a minimal event (two index keys,
    // as the function's).
    let id = uuid::Uuid::new_v4().to_string();
    let s = AttributeValue::S;
    client
        .put_item()
        .table_name(table)
        .item("pk", s(account_pk.clone()))
        .item(
            "sk",
            s(format!("CHANGE#2026-01-28T10:00:00.000000000Z#{id}")),
        )
        .item("entity", s("change".into()))
        .item("format", AttributeValue::N("1".into()))
        .item("type", s("conversion.created".into()))
        .item("event_id", s(id.clone()))
        .send()
        .await
        .expect("PutItem");
    let mut put = client
        .put_item()
        .table_name(table)
        .item("pk", s(account_pk.clone()))
        .item("sk", s(format!("CONVERSION_EVENT#{id}")))
        .item(
            "converted_sk",
            s(format!("2026-01-28T10:00:00.000000000Z#{id}")),
        )
        .item("lead_key", s(format!("{account_pk}#LEAD#{DEMO_LEAD_ID}")))
        .item("amount", AttributeValue::N("85000.00".into()))
        .item("format", AttributeValue::N("1".into()))
        .condition_expression("attribute_not_exists(pk)");
    for name in [
        "id",
        "conversion_type_id",
        "lead_id",
        "workflow_id",
        "write_token",
        "converted_at",
        "created_at",
        "amount_text",
        "currency",
        "metadata",
        "entity",
    ] {
        put = put.item(name, s(format!("{id}#{name}")));
    }
    put.send().await.expect("PutItem");
}

/// A 201 of the size of the function's minimal one.
fn answer() -> serde_json::Value {
    let id = uuid::Uuid::new_v4();
    serde_json::json!({
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-request-id": "evt-create-minimal"},
        "body": format!(
            r#"{{"success":true,"conversion_event":{{"id":"{id}","conversion_type_id":"{DEMO_CONVERSION_TYPE_ID}","lead_id":"{DEMO_LEAD_ID}","workflow_id":"{id}","master_workflow_id":null,"workflow_run_id":null,"amount":85000.00,"currency":"USD","metadata":{{}},"notes":null,"converted_at":"2026-01-28T10:00:00Z","created_at":"2026-01-28T10:00:00.000Z"}}}}"#
        ),
        "isBase64Encoded": false,
        "cookies": []
    })
}
