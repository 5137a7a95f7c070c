//! Rows/s of `conversions-admin import leads` and `import conversions` (the release binary, a CSV
//! file, local dynalite) beside a plain loop making the same PutItems (each event's change, then the
//! event on its condition): the items an import stored, read back, put into a fresh table with
//! the same indexes, as many in flight as the importer writes at once. Each round takes fresh
//! tables and the two in turn, each round in the other order; the median round is reported.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use conversions::seed::{DEMO_ACCOUNT_ID, DEMO_CONVERSION_TYPE_ID, seed_demo};
use conversions::service::WRITES_AT_ONCE;
use conversions::store::{DynamoStore, create_table};
use futures_util::{StreamExt, TryStreamExt, stream};

const ADMIN: &str = env!("CARGO_BIN_EXE_conversions-admin");
pub const ROWS: usize = 5_000;
pub const ROUNDS: usize = 3;

type Item = HashMap<String, AttributeValue>;

/// Rows per second of an import and of the plain loop, for one kind of file.
pub struct Rates {
    pub kind: &'static str,
    pub import: f64,
    pub plain: f64,
}

/// A CRM-style export: `ROWS` leads, and a conversion for each.
fn write_files(dir: &Path) -> [std::path::PathBuf; 2] {
    // (the prefix `run` finds them by)
    let lead = |i: usize| format!("00000000-0000-4000-8000-{i:012}");
    let mut leads = String::from("id,created_at\n");
    let mut events = String::from(
        "idempotency_key,conversion_type_id,lead_id,amount,converted_at,metadata.broker\n",
    );
    for i in 0..ROWS {
        leads += &format!("{},2026-01-01T00:00:00Z\n", lead(i));
        events += &format!(
            "crm-{i},{DEMO_CONVERSION_TYPE_ID},{},{i}.50,2026-02-{:02}T10:00:00Z,\"Broker {}\"\n",
            lead(i),
            1 + i % 28,
            i % 40
        );
    }
    let paths = [dir.join("leads.csv"), dir.join("conversions.csv")];
    std::fs::write(&paths[0], leads).expect("the leads file");
    std::fs::write(&paths[1], events).expect("the conversions file");
    paths
}

async fn new_table(client: &Client) -> String {
    let table = format!("import-{}", uuid::Uuid::new_v4().simple());
    create_table(client, &table).await.expect("a table");
    seed_demo(&DynamoStore::new(client.clone(), &table))
        .await
        .expect("the demo account");
    table
}

/// `conversions-admin import KIND FILE` to the end: its time, every row created.
fn import(endpoint: &str, table: &str, kind: &str, file: &Path) -> f64 {
    let started = Instant::now();
    let output = std::process::Command::new(ADMIN)
        .args(["import", kind])
        .arg(file)
        .args(["--account", DEMO_ACCOUNT_ID])
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .output()
        .expect("conversions-admin runs");
    let seconds = started.elapsed().as_secs_f64();
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "an import's summary: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(summary["created"], ROWS, "{summary}");
    seconds
}

async fn scan(client: &Client, table: &str) -> Vec<Item> {
    client
        .scan()
        .table_name(table)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("Scan")
}

/// The items of `table` whose sort key starts with `prefix`.
async fn items(client: &Client, table: &str, prefix: &str) -> Vec<Item> {
    let mut items = scan(client, table).await;
    items.retain(|item| matches!(&item["sk"], AttributeValue::S(sk) if sk.starts_with(prefix)));
    items
}

/// The plain loop: each item put on the condition the store's puts carry, after its change in
/// the feed if it has one (an event's); its time.
async fn plain(client: &Client, table: &str, items: &[Item], changes: &[Item]) -> f64 {
    let text = |v: &AttributeValue| v.as_s().map(String::as_str).unwrap_or_default().to_owned();
    let change_of: HashMap<String, &Item> =
        changes.iter().map(|c| (text(&c["event_id"]), c)).collect();
    let started = Instant::now();
    stream::iter(items)
        .map(|item| async {
            if let Some(change) = item.get("id").and_then(|id| change_of.get(&text(id))) {
                client
                    .put_item()
                    .table_name(table)
                    .set_item(Some((*change).clone()))
                    .send()
                    .await?;
            }
            client
                .put_item()
                .table_name(table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", "pk")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await
                .map(|_| ())
                .map_err(Into::into)
        })
        .buffer_unordered(WRITES_AT_ONCE)
        .try_collect::<Vec<()>>()
        .await
        .map_err(|e: aws_sdk_dynamodb::Error| e)
        .expect("every put");
    started.elapsed().as_secs_f64()
}

pub async fn run(client: &Client, endpoint: &str) -> Vec<Rates> {
    let dir = std::env::temp_dir().join(format!("import-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir(&dir).expect("a folder");
    let [leads_file, events_file] = write_files(&dir);
    // The items an import writes, from one run before the measured ones.
    let table = new_table(client).await;
    import(endpoint, &table, "leads", &leads_file);
    let leads = items(client, &table, "LEAD#00000000-0000-4000-8000-").await;
    import(endpoint, &table, "conversions", &events_file);
    let events = items(client, &table, "CONVERSION_EVENT#").await;
    let changes = items(client, &table, "CHANGE#").await;
    assert_eq!(
        (leads.len(), events.len(), changes.len()),
        (ROWS, ROWS, ROWS)
    );

    let (mut rounds_leads, mut rounds_events) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (mut imported, mut looped) = ((0.0, 0.0), (0.0, 0.0));
        for turn in 0..2 {
            let table = new_table(client).await;
            if (round + turn) % 2 == 0 {
                imported = (
                    import(endpoint, &table, "leads", &leads_file),
                    import(endpoint, &table, "conversions", &events_file),
                );
            } else {
                looped = (
                    plain(client, &table, &leads, &[]).await,
                    plain(client, &table, &events, &changes).await,
                );
            }
        }
        rounds_leads.push((imported.0, looped.0));
        rounds_events.push((imported.1, looped.1));
    }
    std::fs::remove_dir_all(&dir).ok();
    [("leads", rounds_leads), ("conversions", rounds_events)]
        .into_iter()
        .map(|(kind, mut rounds)| {
            // The median round by the ratio of the two.
            rounds.sort_by(|a, b| (a.1 / a.0).total_cmp(&(b.1 / b.0)));
            let (import, plain) = rounds[ROUNDS / 2];
            Rates {
                kind,
                import: ROWS as f64 / import,
                plain: ROWS as f64 / plain,
            }
        })
        .collect()
}
