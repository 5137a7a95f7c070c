//! IAM = code: the DynamoDB actions and resources the function uses, recorded from its own
//! client while it serves every kind of request, are exactly those `template.yaml` grants it.
//! A grant the code never uses, or a call the template does not allow, fails the test. Puts and
//! queries are granted on account partitions only (`dynamodb:LeadingKeys`): every partition
//! they address here matches, and the function's client in every other test is held to the
//! same condition (`helpers::LeadingKeys`).

use std::collections::BTreeSet;

use conversions::http::{App, Request};
use conversions::seed::{
    DEMO_API_KEY, DEMO_CONVERSION_TYPE_ID, DEMO_LEAD_ID, DEMO_WORKFLOW_ID, DEMO_WORKFLOW_RUN_ID,
};
use conversions::store::DynamoStore;

use crate::helpers::{backends, fixture, fixture_event, fixture_names};

/// (action, resource): `("dynamodb:Query", "table")`, `("dynamodb:Query", "index/events_by_lead")`.
type Grant = (String, String);

/// The function's grants in `template.yaml`: each `Effect: Allow` statement's actions times its
/// resources, the table (`!GetAtt ConversionsTable.Arn`) or one of its indexes
/// (`!Sub "${ConversionsTable.Arn}/index/<name>"`).
/// Also: the actions granted only under the `dynamodb:LeadingKeys` condition.
fn granted() -> (BTreeSet<Grant>, BTreeSet<String>) {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    let policies = template
        .split_once("      Policies:")
        .expect("the function's Policies")
        .1;
    // The statements end where the function's next property (`Events:`) begins.
    let policies = policies
        .split_once("\n      Events:")
        .map_or(policies, |(p, _)| p);
    let mut grants = BTreeSet::new();
    let mut conditioned = BTreeSet::new();
    for statement in policies.split("- Effect: Allow").skip(1) {
        let (actions, resources) = statement
            .split_once("Resource:")
            .expect("a statement has resources");
        let (resources, condition) = resources
            .split_once("Condition:")
            .unwrap_or((resources, ""));
        let actions: Vec<&str> = actions
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- dynamodb:"))
            .collect();
        let resources: Vec<String> = resources
            .lines()
            .map(|l| l.trim().trim_start_matches("- ").trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|r| {
                if r == "!GetAtt ConversionsTable.Arn" {
                    "table".to_owned()
                } else if let Some(index) = r
                    .strip_prefix("!Sub \"${ConversionsTable.Arn}/index/")
                    .and_then(|i| i.strip_suffix('"'))
                {
                    format!("index/{index}")
                } else {
                    panic!("a resource this test does not know: {r}")
                }
            })
            .collect();
        assert!(!actions.is_empty(), "a statement without dynamodb actions");
        if condition.contains("dynamodb:LeadingKeys:") {
            conditioned.extend(actions.iter().map(|a| format!("dynamodb:{a}")));
        }
        for action in &actions {
            for resource in &resources {
                grants.insert((format!("dynamodb:{action}"), resource.clone()));
            }
        }
    }
    (grants, conditioned)
}

#[tokio::test]
async fn the_template_grants_exactly_the_calls_the_function_makes() {
    let backend = &backends()[0];
    let table = backend.fresh_table().await;
    conversions::seed::seed_demo(&table.store()).await.unwrap();
    let (client, operations) = backend.counting_client();
    let app = App::new(DynamoStore::new(client, &table.name));

    // Init, then every fixture (creates, replays, reads, errors), then a list on every filter
    // and a race of one idempotency key.
    app.store().warm_up().await.unwrap();
    for name in fixture_names() {
        app.invoke(fixture_event(&name), name.as_str()).await;
    }
    let list = |query: String| {
        Request::new("GET", "/conversions")
            .with_query(&query)
            .with_header("x-api-key", DEMO_API_KEY)
    };
    for query in [
        String::new(),
        format!("lead_id={DEMO_LEAD_ID}"),
        format!("conversion_type_id={DEMO_CONVERSION_TYPE_ID}"),
        format!("workflow_id={DEMO_WORKFLOW_ID}"),
        format!("master_workflow_id={DEMO_WORKFLOW_ID}"),
        format!("workflow_run_id={DEMO_WORKFLOW_RUN_ID}"),
    ] {
        let response = app.handle(list(query.clone())).await;
        assert_eq!(response.status(), 200, "{query}: {}", response.body());
    }
    let race: Vec<_> = (0..8)
        .map(|_| app.handle(fixture("create-minimal").with_header("idempotency-key", "iam-race")))
        .collect();
    futures_util::future::join_all(race).await;

    let partitions = operations.take_leading_keys();
    let (granted, conditioned) = granted();
    assert_eq!(
        conditioned,
        BTreeSet::from(
            ["PutItem", "UpdateItem", "Query"].map(|action| format!("dynamodb:{action}"))
        ),
        "puts and queries only on the partitions the condition allows"
    );
    assert!(partitions.len() > 20, "{partitions:?}");
    for partition in &partitions {
        assert!(
            crate::helpers::leading_key_allowed(partition),
            "{partition} is outside {:?}",
            crate::helpers::leading_key_patterns()
        );
    }
    // The condition is no formality: an API key's record is outside it.
    assert!(!crate::helpers::leading_key_allowed("APIKEY#0123"));

    let used: BTreeSet<Grant> = operations
        .take_with_resources()
        .into_iter()
        .map(|(operation, resource)| (format!("dynamodb:{operation}"), resource))
        .collect();
    let unused: Vec<_> = granted.difference(&used).collect();
    let ungranted: Vec<_> = used.difference(&granted).collect();
    assert!(
        unused.is_empty() && ungranted.is_empty(),
        "granted but never used: {unused:?}\nused but not granted: {ungranted:?}"
    );
}
