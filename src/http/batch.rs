//! `POST /conversions/batch`: the body `{"events": [ROW, ...]}` read into rows, each a create's
//! body plus its required `idempotency_key`, and the answer: a result for every row, in order.

use serde::Serialize;
use serde_json::value::RawValue;

use super::body::parse_new_conversion;
use super::error::FieldErrorBody;
use super::{ApiError, MAX_BATCH_BODY_BYTES, render};
use crate::domain::{FieldError, IdempotencyKey, Members, Timestamp, json_string};
use crate::service::{BatchRow, MAX_BATCH_ROWS, Outcome, RowOutcome};

pub const NOT_A_BATCH: &str = "Request body must be a JSON object with an events array";
pub const EMPTY_BATCH: &str = "events must hold at least one conversion";
pub const KEY_REQUIRED: &str = "idempotency_key is required in every event of a batch";
pub const KEY_INVALID: &str = "idempotency_key must be 1 to 255 printable ASCII characters";
pub const KEY_USED: &str = "Idempotency-Key has already been used with a different request body";
/// The last of a row's `errors` when the answer could not carry them all.
pub const ERRORS_CUT: &str =
    "more problems than the answer can carry: send this event alone to see them all";

/// Each row as the service takes it, and the key it was sent with (echoed in its result).
pub(super) type Rows = Vec<(Option<String>, Result<BatchRow, Vec<FieldError>>)>;

pub(super) fn read_batch(body: Option<&[u8]>, now: Timestamp) -> Result<Rows, ApiError> {
    let not_a_batch = |detail: &str| {
        ApiError::Validation(vec![FieldError::with_headline(
            NOT_A_BATCH,
            "events",
            detail,
        )])
    };
    let body = body.ok_or_else(|| not_a_batch("the body is not valid base64"))?;
    if body.len() > MAX_BATCH_BODY_BYTES {
        return Err(ApiError::BatchTooLarge);
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|_| not_a_batch("the body is not UTF-8"))?;
    let members = Members::parse(text).map_err(|_| not_a_batch("the body is not a JSON object"))?;
    let events = members.get("events").map(RawValue::get).unwrap_or("null");
    let rows: Vec<&RawValue> =
        serde_json::from_str(events).map_err(|_| not_a_batch("events is not an array"))?;
    if rows.is_empty() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "events",
            EMPTY_BATCH,
        )]));
    }
    if rows.len() > MAX_BATCH_ROWS {
        return Err(ApiError::BatchTooLarge);
    }
    Ok(rows.into_iter().map(|row| read_row(row, now)).collect())
}

/// A row: the single create's checks, then its key's (with the key as sent, if a string).
pub fn read_row(
    row: &RawValue,
    now: Timestamp,
) -> (Option<String>, Result<BatchRow, Vec<FieldError>>) {
    let parsed = parse_new_conversion(row.get().as_bytes(), now);
    let key = Members::parse(row.get())
        .ok()
        .and_then(|members| members.get("idempotency_key"))
        .map(|raw| json_string(raw).ok().flatten());
    let text = key.clone().flatten();
    let key = match key {
        None => Err(FieldError::new("idempotency_key", KEY_REQUIRED)),
        Some(text) => text
            .and_then(|text| IdempotencyKey::parse(text.as_bytes()).ok())
            .ok_or_else(|| FieldError::new("idempotency_key", KEY_INVALID)),
    };
    let row = match (parsed, key) {
        (Ok(conversion), Ok(key)) => Ok(BatchRow { key, conversion }),
        (Ok(_), Err(problem)) => Err(vec![problem]),
        (Err(mut errors), key) => {
            errors.extend(key.err());
            Err(errors)
        }
    };
    (text, row)
}

#[derive(Serialize, Default)]
struct Counts {
    created: usize,
    replayed: usize,
    valid: usize,
    invalid: usize,
    conflict: usize,
    retryable: usize,
}

#[derive(Serialize)]
struct RowResult<'a> {
    index: usize,
    idempotency_key: Option<&'a str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversion_event: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<FieldErrorBody<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_seconds: Option<u32>,
}

/// The answer: `200` when every row was created or replayed (or, in a dry run, is valid), else
/// `207`; the body, within `budget` bytes escaped once more ([`render::ANSWER_BUDGET`]), and the counts
/// (for the request's log line).
pub(super) fn answer(
    keys: &[Option<String>],
    outcomes: &[RowOutcome],
    budget: usize,
) -> (bool, String, [(&'static str, usize); 5]) {
    let mut counts = Counts::default();
    let used = [FieldError::new("idempotency_key", KEY_USED)];
    let results: Vec<RowResult> = (keys.iter().zip(outcomes).enumerate())
        .map(|(index, (key, outcome))| {
            let mut result = RowResult {
                index,
                idempotency_key: key.as_deref(),
                status: "",
                conversion_event: None,
                errors: None,
                retry_after_seconds: None,
            };
            match outcome {
                RowOutcome::Done(outcome) => {
                    let (status, count, event) = match outcome {
                        Outcome::Created(event) => ("created", &mut counts.created, event),
                        Outcome::Replayed(event) => ("replayed", &mut counts.replayed, event),
                        Outcome::DryRun(event) => ("valid", &mut counts.valid, event),
                    };
                    *count += 1;
                    result.status = status;
                    let dry_run = matches!(outcome, Outcome::DryRun(_));
                    result.conversion_event = Some(render::event_raw(event, dry_run));
                }
                RowOutcome::Invalid(problems) => {
                    counts.invalid += 1;
                    result.status = "invalid";
                    result.errors = Some(problems.iter().map(FieldErrorBody::from).collect());
                }
                RowOutcome::Conflict => {
                    counts.conflict += 1;
                    result.status = "conflict";
                    result.errors = Some(used.iter().map(FieldErrorBody::from).collect());
                }
                RowOutcome::Retryable => {
                    counts.retryable += 1;
                    result.status = "retryable";
                    result.retry_after_seconds = Some(super::RETRY_AFTER_SECONDS);
                }
            }
            result
        })
        .collect();
    let success = counts.created + counts.replayed + counts.valid == outcomes.len();
    #[derive(Serialize)]
    struct Body<'a> {
        success: bool,
        results: Vec<RowResult<'a>>,
        counts: &'a Counts,
    }
    let mut body = Body {
        success,
        results,
        counts: &counts,
    };
    let mut json = render::to_json(&body);
    // Rows' events and first problems fit whatever the rows (a body is at most 1 MiB); the rest
    // of their problems, many short members each named in a message, about five times the body
    // at most (measured in batch_tests.rs), fit today's budget too. Should they not, the last
    // rows' lists are cut.
    let mut over = render::escaped_len(&json).saturating_sub(budget);
    let size = |e: &FieldErrorBody| render::escaped_len(&render::to_json(e)) + 1;
    let cut = FieldErrorBody {
        field: "errors",
        message: ERRORS_CUT,
    };
    if over > 0 {
        for errors in body
            .results
            .iter_mut()
            .rev()
            .filter_map(|r| r.errors.as_mut())
        {
            if errors.len() < 2 {
                continue;
            }
            over += size(&cut);
            while over > 0 && errors.len() > 1 {
                over = over.saturating_sub(size(&errors.pop().expect("more than one")));
            }
            errors.push(cut.clone());
            if over == 0 {
                break;
            }
        }
        json = render::to_json(&body);
    }
    let logged = [
        ("created", counts.created),
        ("replayed", counts.replayed),
        ("invalid", counts.invalid),
        ("conflict", counts.conflict),
        ("retryable", counts.retryable),
    ];
    (success, json, logged)
}
