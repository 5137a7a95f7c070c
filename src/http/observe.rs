//! What a request leaves in the logs: its span, whose fields every line logged while it is
//! answered carries, and the bounded names its line gives the fields a 400 names.

/// The span of one request: every line logged while it is answered carries its fields; the
/// account, the event and what a create did are recorded once known.
pub(super) fn request_span(request_id: &str, cold_start: bool, route: &str) -> tracing::Span {
    tracing::info_span!(
        "request",
        request = %request_id,
        // Only on the process's first request.
        cold_start = cold_start.then_some(true),
        route = %route,
        account = tracing::field::Empty,
        event = tracing::field::Empty,
        outcome = tracing::field::Empty,
    )
}

/// The fields `errors[]` can name beside the body's members.
const OTHER_FIELDS: [&str; 10] = [
    "body",
    "Idempotency-Key",
    "dry_run",
    "limit",
    "offset",
    "cursor",
    "workflow_id",
    "master_workflow_id",
    "converted_after",
    "converted_before",
];

/// The name a log line gives a field `errors[]` names: bounded, so that a client's own member
/// names and metadata keys stay out of the logs. An unknown body member is `other`; any
/// metadata key is `metadata`.
pub fn field_name(field: &str) -> &'static str {
    let field = match field.split_once('.') {
        Some(("metadata", _)) => "metadata",
        _ => field,
    };
    super::body::FIELDS
        .into_iter()
        .chain(OTHER_FIELDS)
        .find(|&known| known == field)
        .unwrap_or("other")
}
