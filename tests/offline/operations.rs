//! template.yaml's alarms and dashboard against its metric filters and AWS: every metric they
//! name in the function's namespace is one a metric filter counts, without dimensions (a
//! CloudWatch metric is its name and its exact dimensions: any other names a metric that never
//! has data); every AWS metric is one the service publishes, of this stack's resources.
//! (tests/dynamodb/metrics.rs checks the filters against the lines the function writes.)

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// The function's namespace (the parameter, then the stack's name), as the alarms, the
/// dashboard and the metric filters name it.
const OURS: &str = "OUR_NAMESPACE";
const OURS_IN_TEMPLATE: &str = "${MetricsNamespace}/${AWS::StackName}";

/// The AWS metrics the template may name, by namespace (CloudWatch's documentation for Lambda,
/// DynamoDB, API Gateway HTTP APIs and SQS).
const AWS_METRICS: [(&str, &[&str]); 4] = [
    (
        "AWS/Lambda",
        &[
            "Invocations",
            "Errors",
            "Throttles",
            "Duration",
            "ConcurrentExecutions",
            // Of a function reading a stream: the age of the oldest record it has not finished.
            "IteratorAge",
        ],
    ),
    ("AWS/SQS", &["ApproximateNumberOfMessagesVisible"]),
    (
        "AWS/DynamoDB",
        &[
            "ThrottledRequests",
            "SystemErrors",
            "UserErrors",
            "ReadThrottleEvents",
            "WriteThrottleEvents",
            "ConsumedReadCapacityUnits",
            "ConsumedWriteCapacityUnits",
            "SuccessfulRequestLatency",
        ],
    ),
    (
        "AWS/ApiGateway",
        &[
            "Count",
            "4xx",
            "5xx",
            "Latency",
            "IntegrationLatency",
            "DataProcessed",
        ],
    ),
];

/// template.yaml as JSON, its short-form functions (`!Ref`, `!Sub`, ...) in their long form.
fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    let yaml: yaml_serde::Value = yaml_serde::from_str(&text).expect("template.yaml is YAML");
    to_json(yaml)
}

fn to_json(yaml: yaml_serde::Value) -> Value {
    use yaml_serde::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => b.into(),
        Y::Number(n) => serde_json::to_value(n).unwrap(),
        Y::String(s) => s.into(),
        Y::Sequence(items) => items.into_iter().map(to_json).collect(),
        Y::Mapping(map) => map
            .into_iter()
            .map(|(k, v)| (k.as_str().expect("string keys").to_owned(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let name = if name == "Ref" {
                "Ref".to_owned()
            } else {
                format!("Fn::{name}")
            };
            json!({ name: to_json(tagged.value) })
        }
    }
}

/// A metric a template names: its namespace (`OUR_NAMESPACE` for the function's), its name,
/// its dimensions, and where.
#[derive(Debug)]
struct Named {
    namespace: String,
    name: String,
    dimensions: Vec<(String, Value)>,
    place: String,
}

fn namespace_of(value: &Value) -> String {
    if value == &json!({ "Fn::Sub": OURS_IN_TEMPLATE }) {
        OURS.to_owned()
    } else {
        value
            .as_str()
            .unwrap_or_else(|| panic!("a namespace: {value}"))
            .to_owned()
    }
}

/// Every metric the alarms name, directly or in metric math.
fn alarm_metrics(template: &Value) -> Vec<Named> {
    let mut named = Vec::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        if resource["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        let properties = &resource["Properties"];
        let mut metrics = Vec::new();
        if properties.get("MetricName").is_some() {
            metrics.push(properties.clone());
        }
        for query in properties["Metrics"].as_array().into_iter().flatten() {
            if let Some(stat) = query.get("MetricStat") {
                metrics.push(stat["Metric"].clone());
            } else {
                assert!(query.get("Expression").is_some(), "{id}: {query}");
            }
        }
        assert!(!metrics.is_empty(), "{id} names a metric");
        for metric in metrics {
            named.push(Named {
                namespace: namespace_of(&metric["Namespace"]),
                name: metric["MetricName"].as_str().unwrap().to_owned(),
                dimensions: metric["Dimensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| (d["Name"].as_str().unwrap().to_owned(), d["Value"].clone()))
                    .collect(),
                place: id.clone(),
            });
        }
    }
    named
}

/// Every metric the dashboard's widgets name (`[namespace, name, dim, value, ..., {options}]`).
fn dashboard_metrics(template: &Value) -> Vec<Named> {
    let mut named = Vec::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        if resource["Type"] != "AWS::CloudWatch::Dashboard" {
            continue;
        }
        let body = resource["Properties"]["DashboardBody"]["Fn::Sub"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: DashboardBody is a !Sub of a JSON text"));
        // The substitutions, as placeholders.
        let body = body.replace(OURS_IN_TEMPLATE, OURS);
        let mut text = String::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("${") {
            let end = start + rest[start..].find('}').expect("a closed ${...}");
            text.push_str(&rest[..start]);
            match &rest[start + 2..end] {
                "AWS::StackName" => text.push_str("STACK"),
                name => text.push_str(&format!("REF:{name}")),
            }
            rest = &rest[end + 1..];
        }
        text.push_str(rest);
        let dashboard: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{id}: the dashboard body is JSON: {e}"));
        for widget in dashboard["widgets"].as_array().expect("widgets") {
            for metric in widget["properties"]["metrics"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let parts: Vec<&Value> = metric
                    .as_array()
                    .expect("a metric is an array")
                    .iter()
                    .filter(|part| !part.is_object())
                    .collect();
                assert!(
                    parts.len() >= 2 && parts.len().is_multiple_of(2),
                    "{id}: written in full: {metric}"
                );
                let text = |v: &Value| v.as_str().unwrap_or_else(|| panic!("{metric}")).to_owned();
                named.push(Named {
                    namespace: text(parts[0]),
                    name: text(parts[1]),
                    dimensions: parts[2..]
                        .chunks(2)
                        .map(|pair| (text(pair[0]), pair[1].clone()))
                        .collect(),
                    place: format!("{id}: {}", widget["properties"]["title"]),
                });
            }
        }
    }
    named
}

/// A dimension's value as a reference (`REF:Resource`), whether written `!Ref` or `${...}`.
fn reference(value: &Value) -> String {
    match value {
        Value::Object(object) if object.contains_key("Ref") => {
            format!("REF:{}", object["Ref"].as_str().unwrap())
        }
        Value::Object(object) if object.contains_key("Fn::GetAtt") => {
            // `!GetAtt A.B` reads as "A.B", the long form as ["A", "B"].
            match &object["Fn::GetAtt"] {
                Value::Array(parts) => {
                    let parts: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
                    format!("GETATT:{}", parts.join("."))
                }
                other => format!("GETATT:{}", other.as_str().unwrap_or_default()),
            }
        }
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The dimensions an AWS metric must have here: this stack's functions, API (its `$default`
/// stage), table (by operation, or by one of its indexes), or dead-letter queue.
fn check_aws_dimensions(metric: &Named) {
    let Named {
        namespace,
        name,
        dimensions,
        place,
    } = metric;
    let dims: Vec<(&str, String)> = dimensions
        .iter()
        .map(|(k, v)| (k.as_str(), reference(v)))
        .collect();
    let ok = match namespace.as_str() {
        "AWS/Lambda" => {
            dims == [("FunctionName", "REF:ConversionsFunction".to_owned())]
                || dims == [("FunctionName", "REF:ChangesPublisher".to_owned())]
        }
        // The publisher's dead-letter queue.
        "AWS/SQS" => {
            dims == [(
                "QueueName",
                "GETATT:ChangesDeadLetterQueue.QueueName".to_owned(),
            )]
        }
        "AWS/ApiGateway" => {
            dims == [
                ("ApiId", "REF:ConversionsApi".to_owned()),
                ("Stage", "$default".to_owned()),
            ]
        }
        "AWS/DynamoDB" => match dims.as_slice() {
            [("TableName", table)] => table == "REF:ConversionsTable",
            [("TableName", table), ("Operation", operation)] => {
                table == "REF:ConversionsTable" && OPERATIONS.contains(&operation.as_str())
            }
            [("TableName", table), ("GlobalSecondaryIndexName", index)] => {
                table == "REF:ConversionsTable" && index_names().contains(index)
            }
            _ => false,
        },
        _ => false,
    };
    assert!(
        ok,
        "{place}: {namespace} {name} by {dims:?} is not this stack's"
    );
}

/// The DynamoDB operations the function calls (the `Operation` dimension).
const OPERATIONS: [&str; 4] = ["GetItem", "BatchGetItem", "PutItem", "Query"];

/// The table's indexes, as the template declares them.
fn index_names() -> Vec<String> {
    template()["Resources"]["ConversionsTable"]["Properties"]["GlobalSecondaryIndexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|index| index["IndexName"].as_str().unwrap().to_owned())
        .collect()
}

/// The metrics the template's metric filters count, in the function's namespace.
fn filtered_metrics(template: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        if resource["Type"] != "AWS::Logs::MetricFilter" {
            continue;
        }
        let properties = &resource["Properties"];
        assert_eq!(
            properties["LogGroupName"],
            json!({"Ref": "ConversionsLogGroup"}),
            "{id}: the function's log group"
        );
        for transformation in properties["MetricTransformations"].as_array().unwrap() {
            assert_eq!(
                namespace_of(&transformation["MetricNamespace"]),
                OURS,
                "{id}"
            );
            // A line counts 1, or (a batch's) the number of its rows in a field the pattern names.
            let value = transformation["MetricValue"].as_str().unwrap();
            let pattern = properties["FilterPattern"].as_str().unwrap();
            assert!(
                value == "1" || pattern == format!("{{ {value} > 0 }}"),
                "{id}: counts lines, or the rows of the field it filters on"
            );
            assert!(transformation.get("Dimensions").is_none(), "{id}");
            names.insert(transformation["MetricName"].as_str().unwrap().to_owned());
        }
    }
    names
}

fn check(named: &[Named]) {
    let ours = filtered_metrics(&template());
    for metric in named {
        let Named {
            namespace,
            name,
            dimensions,
            place,
        } = metric;
        if namespace == OURS {
            assert!(
                ours.contains(name.as_str()),
                "{place}: {name} is not a metric the metric filters count ({ours:?})"
            );
            assert!(
                dimensions.is_empty(),
                "{place}: {name} by {dimensions:?} never has data: the filters count it without dimensions"
            );
        } else {
            check_aws_dimensions(metric);
            let published = AWS_METRICS
                .iter()
                .find(|(ns, _)| ns == namespace)
                .unwrap_or_else(|| panic!("{place}: namespace {namespace}"));
            assert!(
                published.1.contains(&name.as_str()),
                "{place}: {namespace} publishes no {name}"
            );
        }
    }
}

/// Whether `named` has the metric `name` of `namespace`.
fn names(named: &[Named], namespace: &str, name: &str) -> bool {
    named
        .iter()
        .any(|m| m.namespace == namespace && m.name == name)
}

#[test]
fn every_metric_an_alarm_names_is_one_the_function_or_aws_publishes() {
    let named = alarm_metrics(&template());
    check(&named);
    for (namespace, name) in [
        (OURS, "InternalErrors"),
        (OURS, "Unavailable"),
        ("AWS/DynamoDB", "ThrottledRequests"),
        ("AWS/DynamoDB", "SystemErrors"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Duration"),
        ("AWS/ApiGateway", "5xx"),
    ] {
        assert!(
            names(&named, namespace, name),
            "an alarm on {namespace} {name}"
        );
    }
}

#[test]
fn every_metric_the_dashboard_shows_is_one_the_function_or_aws_publishes() {
    let named = dashboard_metrics(&template());
    check(&named);
    for wanted in filtered_metrics(&template()) {
        assert!(names(&named, OURS, &wanted), "the dashboard shows {wanted}");
    }
}

/// The checks above can fail: a template naming a metric no filter counts, or one of ours by
/// a dimension, is refused.
#[test]
#[should_panic(expected = "is not a metric the metric filters count")]
fn a_metric_no_filter_counts_is_refused() {
    check(&[Named {
        namespace: OURS.into(),
        name: "ConversionsRecordedd".into(),
        dimensions: vec![],
        place: "test".into(),
    }]);
}

#[test]
#[should_panic(expected = "is not this stack's")]
fn an_aws_metric_of_another_resource_is_refused() {
    check(&[Named {
        namespace: "AWS/ApiGateway".into(),
        name: "5xx".into(),
        dimensions: vec![
            ("ApiId".into(), json!({"Ref": "ConversionsApi"})),
            ("Stage".into(), json!("prod")),
        ],
        place: "test".into(),
    }]);
}

#[test]
#[should_panic(expected = "never has data")]
fn a_dimension_on_a_metric_of_ours_is_refused() {
    check(&[Named {
        namespace: OURS.into(),
        name: "ConversionsRecorded".into(),
        dimensions: vec![("service".into(), json!({"Ref": "AWS::StackName"}))],
        place: "test".into(),
    }]);
}
