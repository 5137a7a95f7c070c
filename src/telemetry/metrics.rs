//! The function's metrics, as CloudWatch Embedded Metric Format (EMF) log lines: CloudWatch
//! turns them into metrics with no API call and no agent.
//!
//! Each request's metrics are gathered while it runs ([`measure`]: a task-local
//! [`RequestMetrics`], which the DynamoDB adapter's interceptor also writes to) and written when
//! it has been answered ([`Emitter`]), a few lines per request. Gathering per request rather
//! than in a process-wide registry keeps concurrent invocations (Lambda Managed Instances) apart
//! and lets a test read exactly what one request emitted.
//!
//! Dimensions are bounded: `service` (the stack), `Field` (a request field this API knows, or
//! `other`), `Operation` (a DynamoDB operation the function calls). Never an id, never a value.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// A count the function keeps per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Counter {
    /// A conversion event stored (`201`, not a replay).
    ConversionsRecorded,
    /// A `201` repeating an earlier answer for the same `Idempotency-Key`.
    Replays,
    /// A `422`: an `Idempotency-Key` reused with another request.
    IdempotencyConflicts,
    /// A dry run answered.
    DryRuns,
    /// A request answered `400` for its content (also counted per field, by `Field`).
    ValidationErrors,
    /// A `401`: no API key, or one that is not valid.
    AuthFailures,
    /// A DynamoDB attempt throttled, retried by the SDK or not (also counted by `Operation`).
    DynamoDbThrottles,
    /// A `503`: DynamoDB unreachable or throttling past the SDK's retries, or the deadline.
    Unavailable,
    /// A `500`.
    InternalErrors,
    /// The first invocation of an execution environment.
    ColdStart,
}

impl Counter {
    pub const ALL: [Counter; 10] = [
        Counter::ConversionsRecorded,
        Counter::Replays,
        Counter::IdempotencyConflicts,
        Counter::DryRuns,
        Counter::ValidationErrors,
        Counter::AuthFailures,
        Counter::DynamoDbThrottles,
        Counter::Unavailable,
        Counter::InternalErrors,
        Counter::ColdStart,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Counter::ConversionsRecorded => "ConversionsRecorded",
            Counter::Replays => "Replays",
            Counter::IdempotencyConflicts => "IdempotencyConflicts",
            Counter::DryRuns => "DryRuns",
            Counter::ValidationErrors => "ValidationErrors",
            Counter::AuthFailures => "AuthFailures",
            Counter::DynamoDbThrottles => "DynamoDbThrottles",
            Counter::Unavailable => "Unavailable",
            Counter::InternalErrors => "InternalErrors",
            Counter::ColdStart => "ColdStart",
        }
    }
}

/// The time of each DynamoDB operation, retries included, in milliseconds, by `Operation`.
pub const DYNAMODB_LATENCY: &str = "DynamoDbLatency";

/// Every metric name the function emits, for the template's alarms and dashboard to be checked
/// against.
pub fn metric_names() -> impl Iterator<Item = &'static str> {
    Counter::ALL
        .into_iter()
        .map(Counter::name)
        .chain([DYNAMODB_LATENCY])
}

/// The dimension every metric carries: the service (the stack's name in AWS).
pub const SERVICE_DIMENSION: &str = "service";
/// `ValidationErrors` by the field named in `errors[]`.
pub const FIELD_DIMENSION: &str = "Field";
/// `DynamoDbLatency` and `DynamoDbThrottles` by DynamoDB operation.
pub const OPERATION_DIMENSION: &str = "Operation";

/// The dimension sets a metric is emitted with (CloudWatch keeps one metric per set: an alarm
/// must name one of these exactly).
pub fn dimension_sets(metric: &str) -> Vec<Vec<&'static str>> {
    let service = vec![SERVICE_DIMENSION];
    let by = |dimension| vec![SERVICE_DIMENSION, dimension];
    match metric {
        DYNAMODB_LATENCY => vec![by(OPERATION_DIMENSION)],
        "DynamoDbThrottles" => vec![service, by(OPERATION_DIMENSION)],
        "ValidationErrors" => vec![service, by(FIELD_DIMENSION)],
        _ if metric_names().any(|name| name == metric) => vec![service],
        _ => Vec::new(),
    }
}

/// The most values one EMF metric may carry (an array of values), and the most metrics one
/// EMF object may define.
const MAX_VALUES: usize = 100;

/// One DynamoDB operation's figures within a request.
#[derive(Debug, Clone, Default, PartialEq)]
struct Operation {
    name: &'static str,
    latencies_ms: Vec<f64>,
    throttles: u64,
}

/// What one request counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestMetrics {
    counts: [u64; Counter::ALL.len()],
    fields: Vec<(&'static str, u64)>,
    operations: Vec<Operation>,
}

impl RequestMetrics {
    pub fn count(&mut self, counter: Counter) {
        self.counts[counter as usize] += 1;
    }

    pub fn get(&self, counter: Counter) -> u64 {
        self.counts[counter as usize]
    }

    /// One `ValidationErrors` for `field` (a bounded name: see `http::metric_field`).
    pub fn invalid_field(&mut self, field: &'static str) {
        match self.fields.iter_mut().find(|(name, _)| *name == field) {
            Some((_, count)) => *count += 1,
            None => self.fields.push((field, 1)),
        }
    }

    /// One DynamoDB operation: how long it took, retries included, and how many of its
    /// attempts were throttled.
    pub fn dynamodb_call(&mut self, operation: &'static str, latency: Duration, throttles: u64) {
        let entry = self.operation(operation);
        // To the microsecond: shorter lines, and no more precision than the clock's.
        entry.latencies_ms.push(latency.as_micros() as f64 / 1000.0);
        entry.throttles += throttles;
        self.counts[Counter::DynamoDbThrottles as usize] += throttles;
    }

    /// A throttle DynamoDB answers without an error: keys a `BatchGetItem` left unprocessed.
    pub fn throttled(&mut self, operation: &'static str) {
        self.operation(operation).throttles += 1;
        self.counts[Counter::DynamoDbThrottles as usize] += 1;
    }

    fn operation(&mut self, name: &'static str) -> &mut Operation {
        let index = match self.operations.iter().position(|o| o.name == name) {
            Some(index) => index,
            None => {
                self.operations.push(Operation {
                    name,
                    ..Operation::default()
                });
                self.operations.len() - 1
            }
        };
        &mut self.operations[index]
    }

    /// How many DynamoDB calls of `operation` the request made.
    pub fn dynamodb_calls(&self, operation: &str) -> usize {
        self.operations
            .iter()
            .find(|o| o.name == operation)
            .map_or(0, |o| o.latencies_ms.len())
    }
}

tokio::task_local! {
    static CURRENT: RefCell<RequestMetrics>;
}

/// Runs `request`, gathering what it counts (its DynamoDB calls included).
pub async fn measure<F: Future>(request: F) -> (F::Output, RequestMetrics) {
    CURRENT
        .scope(RefCell::default(), async {
            let output = request.await;
            (output, CURRENT.with(RefCell::take))
        })
        .await
}

/// Adds to the metrics of the request being measured, if any (none outside [`measure`], as in
/// the admin CLI).
pub fn record(update: impl FnOnce(&mut RequestMetrics)) {
    let _ = CURRENT.try_with(|metrics| update(&mut metrics.borrow_mut()));
}

/// Where EMF lines go: standard output in Lambda, a buffer in tests. Called once a request with
/// all of its lines, each ending in a newline, so that they take one write.
pub type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// Writes a request's metrics as EMF lines under a namespace, with the `service` dimension.
#[derive(Clone)]
pub struct Emitter {
    /// The namespace and the service as JSON strings, encoded once.
    namespace_json: String,
    service_json: String,
    sink: Sink,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("namespace", &self.namespace_json)
            .field("service", &self.service_json)
            .finish_non_exhaustive()
    }
}

impl Emitter {
    pub fn new(namespace: &str, service: &str, sink: Sink) -> Self {
        let json = |text: &str| Value::from(text).to_string();
        Self {
            namespace_json: json(namespace),
            service_json: json(service),
            sink,
        }
    }

    /// To standard output: a request's lines in one write (a system call each would cost more
    /// than writing them), never interleaved with log lines.
    pub fn stdout(namespace: &str, service: &str) -> Self {
        Self::new(
            namespace,
            service,
            Arc::new(|lines: &str| {
                use std::io::Write;
                let _ = std::io::stdout().lock().write_all(lines.as_bytes());
            }),
        )
    }

    /// Writes the lines of one request's metrics, all at once.
    pub fn emit(&self, metrics: &RequestMetrics) {
        let text = self.text(metrics, chrono::Utc::now().timestamp_millis());
        if !text.is_empty() {
            (self.sink)(&text);
        }
    }

    /// The EMF objects of one request's metrics at `timestamp_ms`, a line each: the counters
    /// (by `service`), `ValidationErrors` by field, and the DynamoDB figures by operation.
    /// Nothing for a request that counted nothing.
    pub fn text(&self, metrics: &RequestMetrics, timestamp_ms: i64) -> String {
        let mut text = String::new();
        let counted: Vec<(&str, Val<'_>)> = Counter::ALL
            .into_iter()
            .filter(|&c| metrics.get(c) > 0)
            .map(|c| (c.name(), Val::Count(metrics.get(c))))
            .collect();
        if !counted.is_empty() {
            self.object(&mut text, timestamp_ms, None, &counted);
        }
        for &(field, count) in &metrics.fields {
            let values = [(Counter::ValidationErrors.name(), Val::Count(count))];
            self.object(
                &mut text,
                timestamp_ms,
                Some((FIELD_DIMENSION, field)),
                &values,
            );
        }
        for operation in &metrics.operations {
            let dimension = Some((OPERATION_DIMENSION, operation.name));
            let throttles = (
                Counter::DynamoDbThrottles.name(),
                Val::Count(operation.throttles),
            );
            if operation.latencies_ms.is_empty() {
                self.object(&mut text, timestamp_ms, dimension, &[throttles]);
            }
            for (i, chunk) in operation.latencies_ms.chunks(MAX_VALUES).enumerate() {
                let latencies = (DYNAMODB_LATENCY, Val::Values(chunk));
                let values = if i == 0 && operation.throttles > 0 {
                    &[latencies, throttles][..]
                } else {
                    &[latencies][..]
                };
                self.object(&mut text, timestamp_ms, dimension, values);
            }
        }
        text
    }

    /// One EMF object and its newline, appended to `out`: `service` and an optional second
    /// dimension, and the metrics' values, written straight into the text. Metric and dimension names, and the second dimension's
    /// value (a field or an operation from this crate's lists), need no escaping; the namespace
    /// and the service were encoded when the emitter was made.
    fn object(
        &self,
        out: &mut String,
        timestamp_ms: i64,
        dimension: Option<(&str, &str)>,
        values: &[(&str, Val<'_>)],
    ) {
        out.reserve(320);
        let _ = write!(
            out,
            r#"{{"_aws":{{"Timestamp":{timestamp_ms},"CloudWatchMetrics":[{{"Namespace":{},"Dimensions":[["{SERVICE_DIMENSION}""#,
            self.namespace_json
        );
        if let Some((name, _)) = dimension {
            let _ = write!(out, r#","{name}""#);
        }
        out.push_str(r#"]],"Metrics":["#);
        for (i, (name, _)) in values.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            let _ = write!(out, r#"{comma}{{"Name":"{name}","Unit":"{}"}}"#, unit(name));
        }
        let _ = write!(out, r#"]}}]}},"{SERVICE_DIMENSION}":{}"#, self.service_json);
        if let Some((name, value)) = dimension {
            let _ = write!(out, r#","{name}":"{value}""#);
        }
        for (name, value) in values {
            let _ = write!(out, r#","{name}":"#);
            match value {
                Val::Count(count) => {
                    let _ = write!(out, "{count}");
                }
                Val::Values(values) => {
                    out.push('[');
                    for (i, value) in values.iter().enumerate() {
                        let comma = if i == 0 { "" } else { "," };
                        let _ = write!(out, "{comma}{value}");
                    }
                    out.push(']');
                }
            }
        }
        out.push_str("}\n");
    }
}

/// A metric's value in an EMF object: a count, or values (finite: durations).
#[derive(Clone, Copy)]
enum Val<'a> {
    Count(u64),
    Values(&'a [f64]),
}

fn unit(metric: &str) -> &'static str {
    if metric == DYNAMODB_LATENCY {
        "Milliseconds"
    } else {
        "Count"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_has_its_own_name_and_slot() {
        let names: std::collections::BTreeSet<_> = metric_names().collect();
        assert_eq!(names.len(), Counter::ALL.len() + 1);
        for (i, counter) in Counter::ALL.into_iter().enumerate() {
            assert_eq!(counter as usize, i);
        }
    }

    #[test]
    fn a_throttle_without_a_call_of_its_own_is_emitted_alone() {
        let emitter = Emitter::new("N", "s", Arc::new(|_: &str| {}));
        let mut metrics = RequestMetrics::default();
        metrics.throttled("BatchGetItem");
        metrics.throttled("BatchGetItem");
        let lines: Vec<Value> = emitter
            .text(&metrics, 7)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["DynamoDbThrottles"], 2);
        assert_eq!(lines[1]["Operation"], "BatchGetItem");
        assert_eq!(lines[1]["DynamoDbThrottles"], 2);
        assert!(lines[1].get("DynamoDbLatency").is_none());
    }

    /// An emitter, and what each call to its sink was given.
    fn capturing() -> (Emitter, Arc<std::sync::Mutex<Vec<String>>>) {
        let calls = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&calls);
        let emitter = Emitter::new(
            "N",
            "s",
            Arc::new(move |text: &str| sink.lock().unwrap().push(text.to_owned())),
        );
        (emitter, calls)
    }

    #[test]
    fn a_request_that_counted_nothing_emits_nothing() {
        let (emitter, calls) = capturing();
        assert!(emitter.text(&RequestMetrics::default(), 0).is_empty());
        emitter.emit(&RequestMetrics::default());
        assert!(calls.lock().unwrap().is_empty());
    }

    #[test]
    fn a_request_s_lines_go_to_the_sink_in_one_call() {
        let (emitter, calls) = capturing();
        let mut metrics = RequestMetrics::default();
        metrics.count(Counter::ConversionsRecorded);
        metrics.dynamodb_call("BatchGetItem", Duration::from_millis(3), 0);
        metrics.dynamodb_call("PutItem", Duration::from_millis(4), 0);
        emitter.emit(&metrics);
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert!(calls[0].ends_with('\n'));
        let lines: Vec<Value> = calls[0]
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["ConversionsRecorded"], 1);
        assert_eq!(lines[1]["Operation"], "BatchGetItem");
        assert_eq!(lines[2]["Operation"], "PutItem");
    }

    #[test]
    fn more_than_a_hundred_latencies_are_split_across_objects() {
        let emitter = Emitter::new("N", "s", Arc::new(|_: &str| {}));
        let mut metrics = RequestMetrics::default();
        for _ in 0..150 {
            metrics.dynamodb_call("Query", Duration::from_millis(2), 0);
        }
        metrics.dynamodb_call("Query", Duration::from_millis(2), 2);
        let lines: Vec<Value> = emitter
            .text(&metrics, 7)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // The counters' object (the throttles), then the latencies in two.
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["DynamoDbThrottles"], 2);
        assert_eq!(lines[1]["DynamoDbLatency"].as_array().unwrap().len(), 100);
        assert_eq!(lines[1]["DynamoDbThrottles"], 2);
        assert_eq!(lines[2]["DynamoDbLatency"].as_array().unwrap().len(), 51);
        assert!(lines[2].get("DynamoDbThrottles").is_none());
        assert_eq!(lines[2]["Operation"], "Query");
    }
}
