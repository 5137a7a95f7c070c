//! What a request leaves in the logs: its span, and bounded names for the fields a 400 names.

/// Every line logged while the request is answered carries these; empty ones are set once known.
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
        // A batch's rows, by what became of them.
        created = tracing::field::Empty,
        replayed = tracing::field::Empty,
        invalid = tracing::field::Empty,
        conflict = tracing::field::Empty,
        retryable = tracing::field::Empty,
    )
}

/// The fields `errors[]` can name beside the body's members.
const OTHER_FIELDS: &str = "body Idempotency-Key dry_run limit offset cursor workflow_id \
                            master_workflow_id converted_after converted_before";

/// A bounded name for the logs, so a client's own member names and metadata keys stay out of them.
pub fn field_name(field: &str) -> &'static str {
    let field = match field.split_once('.') {
        Some(("metadata", _)) => "metadata",
        _ => field,
    };
    super::body::FIELDS
        .into_iter()
        .chain(OTHER_FIELDS.split_whitespace())
        .find(|&known| known == field)
        .unwrap_or("other")
}
