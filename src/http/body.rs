//! The request body: JSON in, a [`NewConversion`] or every problem out. Read once as raw member
//! fragments: numbers never become floats, a repeated member is refused, not read either way, each
//! field is checked alone. Unknown top-level fields, `null`s and a leading BOM are ignored.

use serde_json::value::RawValue;

use crate::domain::{
    AdjustmentKind, Amount, AmountError, ConversionTypeId, Currency, CurrencyError, FieldError,
    IdError, LeadId, MAX_JSON_DEPTH, Members, Metadata, NewAdjustment, NewConversion, Notes,
    Reason, Timestamp, TimestampError, WorkflowRunId, json_string, nests_deeper_than,
};

pub const NOT_AN_OBJECT: &str = "Request body must be a JSON object";
pub const REQUIRED: &str = "conversion_type_id, lead_id, and amount are required";

/// The fields the API reads, in the order their problems are reported.
pub(super) const FIELDS: [&str; 8] = [
    "conversion_type_id",
    "lead_id",
    "amount",
    "workflow_run_id",
    "currency",
    "converted_at",
    "metadata",
    "notes",
];

#[derive(Clone, Copy)]
enum Member<'a> {
    Absent,
    Given(&'a RawValue),
    /// Written more than once: reported, and read neither way.
    Repeated,
}

/// Every problem in field order (the first is the documented `message`). `now` caps `converted_at`.
pub fn parse_new_conversion(body: &[u8], now: Timestamp) -> Result<NewConversion, Vec<FieldError>> {
    let members = read_object(body)?;
    let member = |name: &str| match members.get(name) {
        _ if members.repeated.iter().any(|r| r == name) => Member::Repeated,
        Some(raw) if raw.get() != "null" => Member::Given(raw),
        _ => Member::Absent,
    };
    let mut errors: Vec<FieldError> = members
        .repeated
        .iter()
        .map(|name| FieldError::new(name, format!("{name} must not appear more than once")))
        .collect();

    for missing in ["conversion_type_id", "lead_id", "amount"] {
        if let Member::Absent = member(missing) {
            errors.push(FieldError::new(missing, REQUIRED));
        }
    }
    let given = |name: &str| match member(name) {
        Member::Given(raw) => Some(raw),
        Member::Absent | Member::Repeated => None,
    };
    let e = &mut errors;
    let conversion_type_id = given("conversion_type_id")
        .and_then(|raw| record(e, uuid(raw, "conversion_type_id", ConversionTypeId::parse)));
    let lead_id = given("lead_id").and_then(|raw| record(e, uuid(raw, "lead_id", LeadId::parse)));
    let amount = given("amount").and_then(|raw| record(e, parse_amount(raw)));
    let workflow_run_id = given("workflow_run_id")
        .and_then(|raw| record(e, uuid(raw, "workflow_run_id", WorkflowRunId::parse)));
    let currency = given("currency").and_then(|raw| record(e, parse_currency(raw)));
    let converted_at =
        given("converted_at").and_then(|raw| record(e, parse_converted_at(raw, now)));
    let metadata = match member("metadata") {
        Member::Absent => Some(Metadata::default()),
        Member::Given(raw) => record(
            e,
            Metadata::from_raw(raw).map_err(|m| FieldError::new(m.field(), m)),
        ),
        Member::Repeated => None,
    };
    let notes = given("notes").and_then(|raw| record(e, parse_notes(raw)));
    // Unknown fields are ignored, but none may nest deeper than the known ones may.
    for (name, raw) in &members.members {
        if !FIELDS.contains(&name.as_str()) && nests_deeper_than(raw.get(), MAX_JSON_DEPTH) {
            let message =
                format!("{name} must not be nested more than {MAX_JSON_DEPTH} levels deep");
            errors.push(FieldError::new(name, message));
        }
    }

    match (conversion_type_id, lead_id, amount, metadata) {
        (Some(conversion_type_id), Some(lead_id), Some(amount), Some(metadata))
            if errors.is_empty() =>
        {
            Ok(NewConversion {
                conversion_type_id,
                lead_id,
                amount,
                workflow_run_id,
                currency,
                converted_at,
                metadata,
                notes,
            })
        }
        _ => Err(errors),
    }
}

/// The fields of an adjustment, in the order their problems are reported.
pub(super) const ADJUSTMENT_FIELDS: [&str; 5] =
    ["type", "amount", "currency", "reason", "adjusted_at"];

pub const TYPE_REQUIRED: &str = "type is required: retraction or restatement";
pub const TYPE_INVALID: &str = "type must be retraction or restatement";
pub const AMOUNT_FOR_RESTATEMENT: &str = "amount is required for a restatement";
pub const NO_AMOUNT_FOR_RETRACTION: &str = "amount must not be given for a retraction";

/// An adjustment's body, each field checked alone, every problem in field order; the body rules
/// are the create's (a BOM, `null`s and unknown fields ignored, a repeated member refused).
pub fn parse_new_adjustment(body: &[u8], now: Timestamp) -> Result<NewAdjustment, Vec<FieldError>> {
    let members = read_object(body)?;
    let mut errors: Vec<FieldError> = members
        .repeated
        .iter()
        .map(|name| FieldError::new(name, format!("{name} must not appear more than once")))
        .collect();
    let given = |name: &str| {
        (!members.repeated.iter().any(|r| r == name))
            .then(|| members.get(name))
            .flatten()
            .filter(|raw| raw.get() != "null")
    };
    let repeated = |name: &str| members.repeated.iter().any(|r| r == name);
    let e = &mut errors;
    let kind = match given("type") {
        None if repeated("type") => None,
        None => record(e, Err(FieldError::new("type", TYPE_REQUIRED))),
        Some(raw) => record(
            e,
            match json_string(raw) {
                Ok(Some(text)) => AdjustmentKind::parse(&text),
                _ => None,
            }
            .ok_or_else(|| FieldError::new("type", TYPE_INVALID)),
        ),
    };
    let amount = given("amount").and_then(|raw| record(e, parse_amount(raw)));
    match (kind, given("amount").is_some() || repeated("amount")) {
        (Some(AdjustmentKind::Restatement), false) => {
            e.push(FieldError::new("amount", AMOUNT_FOR_RESTATEMENT));
        }
        (Some(AdjustmentKind::Retraction), true) => {
            e.push(FieldError::new("amount", NO_AMOUNT_FOR_RETRACTION));
        }
        _ => {}
    }
    let currency = given("currency").and_then(|raw| record(e, parse_currency(raw)));
    let reason = given("reason").and_then(|raw| {
        let message = match json_string(raw) {
            Ok(Some(text)) => {
                return record(
                    e,
                    Reason::parse(text).map_err(|r| FieldError::new("reason", r)),
                );
            }
            Ok(None) => "reason must be a string",
            Err(_) => "reason must be valid Unicode (it contains an unpaired surrogate)",
        };
        record(e, Err(FieldError::new("reason", message)))
    });
    let adjusted_at = given("adjusted_at").and_then(|raw| {
        let parsed = match json_string(raw) {
            Ok(Some(text)) => Timestamp::parse(&text).and_then(|at| at.not_in_future(now)),
            _ => Err(TimestampError::Malformed),
        };
        let message = |e: TimestampError| match e {
            TimestampError::Malformed => {
                "adjusted_at must be an ISO 8601 date-time with a time zone (e.g., \"2026-01-28T10:00:00Z\")"
            }
            TimestampError::LeapSecond => "adjusted_at cannot be a leap second (second 60)",
            TimestampError::InFuture => "adjusted_at cannot be in the future",
        };
        record(e, parsed.map_err(|err| FieldError::new("adjusted_at", message(err))))
    });
    for (name, raw) in &members.members {
        if !ADJUSTMENT_FIELDS.contains(&name.as_str())
            && nests_deeper_than(raw.get(), MAX_JSON_DEPTH)
        {
            let message =
                format!("{name} must not be nested more than {MAX_JSON_DEPTH} levels deep");
            errors.push(FieldError::new(name, message));
        }
    }
    // Field order, whatever order the checks ran in.
    errors.sort_by_key(|e| ADJUSTMENT_FIELDS.iter().position(|f| *f == e.field));
    match kind {
        Some(kind) if errors.is_empty() => Ok(NewAdjustment {
            kind,
            amount: amount.filter(|_| kind == AdjustmentKind::Restatement),
            currency,
            reason,
            adjusted_at,
        }),
        _ => Err(errors),
    }
}

/// A body that is no JSON object gets one problem: the documented message, then where and what.
fn read_object(body: &[u8]) -> Result<Members<'_>, Vec<FieldError>> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let detail = match std::str::from_utf8(body) {
        Err(e) => format!(
            "invalid JSON at byte {}: the body is not UTF-8 text",
            e.valid_up_to()
        ),
        Ok(text) if text.trim().is_empty() => "the body is empty".to_owned(),
        Ok(text) => match Members::parse(text) {
            Ok(members) => return Ok(members),
            // Valid JSON of another kind.
            Err(e) if e.is_data() => {
                let kind = match text.trim_start().as_bytes().first() {
                    Some(b'[') => "an array",
                    Some(b'"') => "a string",
                    Some(b'n') => "null",
                    Some(b't' | b'f') => "a boolean",
                    _ => "a number",
                };
                format!("the body is {kind}, not an object")
            }
            Err(e) => invalid_json(&e),
        },
    };
    let problem = FieldError::with_headline(NOT_AN_OBJECT, "body", detail);
    Err(vec![problem])
}

/// `invalid JSON at line 1 column 40: trailing comma`.
fn invalid_json(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let at_position = format!(" at line {} column {}", err.line(), err.column());
    let what = text.strip_suffix(&at_position).unwrap_or(&text);
    format!("invalid JSON{at_position}: {what}")
}

fn record<T>(errors: &mut Vec<FieldError>, parsed: Result<T, FieldError>) -> Option<T> {
    parsed.map_err(|problem| errors.push(problem)).ok()
}

fn parse_currency(raw: &RawValue) -> Result<Currency, FieldError> {
    match json_string(raw) {
        Ok(Some(text)) => Currency::parse(&text),
        _ => Err(CurrencyError),
    }
    .map_err(|e| FieldError::new("currency", e))
}

fn parse_converted_at(raw: &RawValue, now: Timestamp) -> Result<Timestamp, FieldError> {
    match json_string(raw) {
        Ok(Some(text)) => Timestamp::parse(&text).and_then(|at| at.not_in_future(now)),
        _ => Err(TimestampError::Malformed),
    }
    .map_err(|e| FieldError::new("converted_at", e))
}

fn parse_notes(raw: &RawValue) -> Result<Notes, FieldError> {
    let message = match json_string(raw) {
        Ok(Some(text)) => return Notes::parse(text).map_err(|e| FieldError::new("notes", e)),
        Ok(None) => "notes must be a string",
        Err(_) => "notes must be valid Unicode (it contains an unpaired surrogate)",
    };
    Err(FieldError::new("notes", message))
}

fn uuid<T>(
    raw: &RawValue,
    field: &str,
    parse: fn(&str) -> Result<T, IdError>,
) -> Result<T, FieldError> {
    match json_string(raw) {
        Ok(Some(text)) => parse(&text).ok(),
        _ => None,
    }
    .ok_or_else(|| FieldError::new(field, format!("{field} must be a valid UUID")))
}

fn parse_amount(raw: &RawValue) -> Result<Amount, FieldError> {
    let text = raw.get();
    let parsed = if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        Amount::parse_json_number(text)
    } else {
        Err(AmountError::Negative)
    };
    parsed.map_err(|e| FieldError::new("amount", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "123e4567-e89b-12d3-a456-426614174100";
    const LEAD: &str = "123e4567-e89b-12d3-a456-426614174200";

    const NOW: &str = "2026-02-01T15:30:00Z";

    fn parse(body: &str) -> Result<NewConversion, Vec<FieldError>> {
        parse_new_conversion(body.as_bytes(), Timestamp::parse(NOW).unwrap())
    }

    #[test]
    fn json_of_another_kind_is_named_in_the_detail() {
        for (body, kind) in [
            ("[1]", "an array"),
            (r#""text""#, "a string"),
            ("null", "null"),
            ("true", "a boolean"),
            ("false", "a boolean"),
            ("12.5", "a number"),
        ] {
            let errors = parse(body).unwrap_err();
            assert_eq!(errors.len(), 1, "{body}");
            assert_eq!(errors[0].field, "body");
            assert_eq!(errors[0].headline(), NOT_AN_OBJECT);
            assert_eq!(
                errors[0].message,
                format!("the body is {kind}, not an object"),
                "{body}"
            );
        }
    }

    /// The first message (the documented one) for a body.
    fn first_message(body: &str) -> String {
        parse(body)
            .expect_err("the body is invalid")
            .remove(0)
            .message
    }

    fn with(extra: &str) -> String {
        format!(r#"{{"conversion_type_id":"{CT}","lead_id":"{LEAD}","amount":10{extra}}}"#)
    }

    #[test]
    fn a_minimal_body_parses_with_defaults() {
        let request = parse(&with("")).unwrap();
        assert_eq!(request.conversion_type_id.to_string(), CT);
        assert_eq!(request.lead_id.to_string(), LEAD);
        assert_eq!(request.amount.to_string(), "10");
        assert_eq!(
            (
                request.workflow_run_id,
                request.currency,
                request.converted_at
            ),
            (None, None, None)
        );
        assert!(request.metadata.is_empty());
        assert_eq!(request.notes, None);
    }

    /// The one problem of a body that is not a JSON object: its headline and its detail.
    fn unreadable(body: &[u8]) -> (String, String) {
        let errors = parse_new_conversion(body, Timestamp::parse(NOW).unwrap())
            .expect_err("the body is refused");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "body");
        (errors[0].headline().to_owned(), errors[0].message.clone())
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_rejected() {
        for body in [
            "",
            "   ",
            "null",
            "[]",
            "42",
            "\"text\"",
            "{",
            "{\"amount\": 1,}",
            "\u{0}",
        ] {
            assert_eq!(unreadable(body.as_bytes()).0, NOT_AN_OBJECT, "{body:?}");
        }
        assert_eq!(unreadable(&[0xff, 0xfe]).0, NOT_AN_OBJECT);
    }

    #[test]
    fn invalid_json_is_answered_with_where_and_what() {
        let body = format!(r#"{{"conversion_type_id":"{CT}","amount":1,}}"#);
        assert_eq!(
            unreadable(body.as_bytes()).1,
            "invalid JSON at line 1 column 73: trailing comma"
        );
        assert_eq!(
            unreadable(b"{\n  \"amount\": 1\n  \"lead_id\": 2}").1,
            "invalid JSON at line 3 column 3: expected `,` or `}`"
        );
        assert_eq!(unreadable(b"").1, "the body is empty");
        assert_eq!(unreadable(b"[1]").1, "the body is an array, not an object");
        assert_eq!(
            unreadable(b"{\"a\":\"\xff\"}").1,
            "invalid JSON at byte 6: the body is not UTF-8 text"
        );
    }

    #[test]
    fn a_utf8_byte_order_mark_before_the_json_is_ignored() {
        let body = format!("\u{feff}{}", with(""));
        assert!(parse(&body).is_ok());
        assert_eq!(
            unreadable("\u{feff}\u{feff}{}".as_bytes()).0,
            NOT_AN_OBJECT,
            "one mark, not two"
        );
    }

    #[test]
    fn a_member_written_twice_is_refused_and_named_whatever_its_values() {
        for body in [
            r#"{"amount":"x","amount":2}"#.to_owned(),
            format!(r#"{{"conversion_type_id":"{CT}","lead_id":"{LEAD}","amount":2,"amount":2}}"#),
        ] {
            let errors = parse(&body).unwrap_err();
            assert_eq!(errors[0].field, "amount", "{body}");
            assert_eq!(errors[0].message, "amount must not appear more than once");
            assert!(
                errors
                    .iter()
                    .all(|e| e.message != REQUIRED || e.field != "amount"),
                "a repeated field is not also missing: {errors:?}"
            );
        }
        let notes_twice = with(r#","notes":"a","notes":"a""#);
        assert_eq!(
            first_message(&notes_twice),
            "notes must not appear more than once"
        );
    }

    #[test]
    fn a_string_that_is_not_unicode_is_one_clear_problem_of_its_field() {
        let errors = parse(&with(r#","notes":"caf\ud800""#)).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].message,
            "notes must be valid Unicode (it contains an unpaired surrogate)"
        );
        let errors = parse(&with(r#","metadata":{"broker":"\udc00"}"#)).unwrap_err();
        assert_eq!(
            (errors.len(), errors[0].field.as_str()),
            (1, "metadata.broker"),
            "{errors:?}"
        );
        let errors = parse(&format!(
            r#"{{"conversion_type_id":"\ud800","lead_id":"{LEAD}","amount":1}}"#
        ))
        .unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].message, "conversion_type_id must be a valid UUID");
        assert!(
            parse(&with(r#","crm":"\ud800""#)).is_ok(),
            "unknown fields are ignored"
        );
    }

    #[test]
    fn a_leap_second_and_metadata_limits_are_refused_with_their_fields() {
        assert_eq!(
            first_message(&with(r#","converted_at":"2016-12-31T23:59:60Z""#)),
            "converted_at cannot be a leap second (second 60)"
        );
        let errors = parse(&with(r#","metadata":{"big":1e400}"#)).unwrap_err();
        assert_eq!(
            (errors[0].field.as_str(), errors[0].message.as_str()),
            ("metadata.big", "metadata.big must be a finite number")
        );
        assert_eq!(
            first_message(&with(r#","metadata":{"":1}"#)),
            "metadata keys must not be empty"
        );
        let large = with(&format!(r#","metadata":{{"k":"{}"}}"#, "x".repeat(16_384)));
        assert_eq!(
            first_message(&large),
            "metadata must be at most 16384 bytes as JSON"
        );
    }

    #[test]
    fn a_missing_or_null_required_field_gets_the_documented_message() {
        for body in [
            "{}".to_owned(),
            format!(r#"{{"lead_id":"{LEAD}","amount":1}}"#),
            format!(r#"{{"conversion_type_id":"{CT}","amount":1}}"#),
            format!(r#"{{"conversion_type_id":"{CT}","lead_id":"{LEAD}"}}"#),
            format!(r#"{{"conversion_type_id":"{CT}","lead_id":"{LEAD}","amount":null}}"#),
        ] {
            assert_eq!(first_message(&body), REQUIRED, "{body}");
        }
    }

    #[test]
    fn each_missing_required_field_is_listed() {
        let errors = parse(r#"{"conversion_type_id":null,"notes":"x"}"#).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["conversion_type_id", "lead_id", "amount"]);
        assert!(errors.iter().all(|e| e.message == REQUIRED));
    }

    #[test]
    fn an_id_that_is_not_a_uuid_names_its_field() {
        let body = format!(r#"{{"conversion_type_id":"nope","lead_id":"{LEAD}","amount":1}}"#);
        assert_eq!(
            first_message(&body),
            "conversion_type_id must be a valid UUID"
        );
        let body = format!(r#"{{"conversion_type_id":"{CT}","lead_id":42,"amount":1}}"#);
        assert_eq!(first_message(&body), "lead_id must be a valid UUID");
        assert_eq!(
            first_message(&with(r#","workflow_run_id":"run-1""#)),
            "workflow_run_id must be a valid UUID"
        );
    }

    #[test]
    fn an_amount_that_is_not_a_non_negative_json_number_is_rejected() {
        for amount in ["-1", "-0.5", "\"10\"", "true", "[1]", "{}"] {
            let body =
                format!(r#"{{"conversion_type_id":"{CT}","lead_id":"{LEAD}","amount":{amount}}}"#);
            assert_eq!(
                first_message(&body),
                "amount must be a non-negative number",
                "{amount}"
            );
        }
    }

    #[test]
    fn an_amount_keeps_its_exact_decimal_text() {
        for amount in [
            "85000.00",
            "0.1",
            "0",
            "0.30000000000000004",
            "123456789012345.6789",
        ] {
            let body =
                format!(r#"{{"conversion_type_id":"{CT}","lead_id":"{LEAD}","amount":{amount}}}"#);
            assert_eq!(parse(&body).unwrap().amount.to_string(), amount);
        }
    }

    #[test]
    fn an_amount_at_or_above_the_bound_is_rejected_with_the_bound() {
        let body = format!(r#"{{"conversion_type_id":"{CT}","lead_id":"{LEAD}","amount":1e20}}"#);
        assert_eq!(
            first_message(&body),
            "amount must be less than 1000000000000000"
        );
    }

    #[test]
    fn currency_must_be_an_iso_4217_code() {
        let message = r#"currency must be a 3-character ISO 4217 code (e.g., "USD", "CLP")"#;
        for currency in ["\"US\"", "\"DOLLAR\"", "\"ABC\"", "\"XXX\"", "840", "true"] {
            assert_eq!(
                first_message(&with(&format!(r#","currency":{currency}"#))),
                message,
                "{currency}"
            );
        }
        assert_eq!(
            parse(&with(r#","currency":"CLF""#))
                .unwrap()
                .currency
                .unwrap()
                .code(),
            "CLF"
        );
        assert_eq!(
            parse(&with(r#","currency":"clp""#))
                .unwrap()
                .currency
                .unwrap()
                .code(),
            "CLP"
        );
        assert_eq!(parse(&with(r#","currency":null"#)).unwrap().currency, None);
    }

    #[test]
    fn converted_at_must_be_a_date_time_with_a_zone() {
        let message = r#"converted_at must be an ISO 8601 date-time with a time zone (e.g., "2026-01-28T10:00:00Z")"#;
        for at in [
            "\"2026-01-28T10:00:00\"",
            "\"2026-01-28\"",
            "\"soon\"",
            "1769594400",
        ] {
            assert_eq!(
                first_message(&with(&format!(r#","converted_at":{at}"#))),
                message,
                "{at}"
            );
        }
        let request = parse(&with(r#","converted_at":"2026-01-28T07:00:00-03:00""#)).unwrap();
        assert_eq!(
            request.converted_at.unwrap().to_string(),
            "2026-01-28T10:00:00Z"
        );
    }

    #[test]
    fn metadata_must_be_an_object_and_keeps_any_keys() {
        for metadata in ["[]", "\"x\"", "1", "true"] {
            assert_eq!(
                first_message(&with(&format!(r#","metadata":{metadata}"#))),
                "metadata must be an object"
            );
        }
        let request = parse(&with(
            r#","metadata":{"property_unit":"Apt 302","crm_id":"X-9","commission":2500.50}"#,
        ))
        .unwrap();
        assert_eq!(
            request.metadata.to_json(),
            r#"{"commission":2500.50,"crm_id":"X-9","property_unit":"Apt 302"}"#
        );
        assert!(
            parse(&with(r#","metadata":null"#))
                .unwrap()
                .metadata
                .is_empty()
        );
    }

    #[test]
    fn notes_must_be_a_string() {
        for notes in ["42", "[]", "{}", "false"] {
            assert_eq!(
                first_message(&with(&format!(r#","notes":{notes}"#))),
                "notes must be a string"
            );
        }
        assert_eq!(
            parse(&with(r#","notes":"paid in cash""#))
                .unwrap()
                .notes
                .as_ref()
                .map(Notes::as_str),
            Some("paid in cash")
        );
    }

    #[test]
    fn converted_at_may_be_at_most_five_minutes_ahead_of_the_server_clock() {
        let message = "converted_at cannot be in the future";
        assert!(parse(&with(r#","converted_at":"2026-02-01T15:35:00Z""#)).is_ok());
        assert!(parse(&with(r#","converted_at":"2026-02-01T12:35:00-03:00""#)).is_ok());
        assert_eq!(
            first_message(&with(r#","converted_at":"2026-02-01T15:35:00.001Z""#)),
            message
        );
        assert_eq!(
            first_message(&with(r#","converted_at":"2027-01-01T00:00:00Z""#)),
            message
        );
        assert!(
            parse(&with(r#","converted_at":"1999-12-31T23:59:59Z""#)).is_ok(),
            "backdating has no limit"
        );
    }

    #[test]
    fn metadata_and_notes_have_size_limits() {
        let keys: Vec<String> = (0..51).map(|i| format!(r#""k{i}":1"#)).collect();
        let many = with(&format!(r#","metadata":{{{}}}"#, keys.join(",")));
        assert_eq!(first_message(&many), "metadata must have at most 50 keys");
        let long_key = with(&format!(r#","metadata":{{"{}":1}}"#, "k".repeat(65)));
        assert_eq!(
            first_message(&long_key),
            "metadata keys must be at most 64 characters"
        );
        assert!(parse(&with(&format!(r#","notes":"{}""#, "\u{e9}".repeat(5000)))).is_ok());
        let long_notes = with(&format!(r#","notes":"{}""#, "n".repeat(5001)));
        assert_eq!(
            first_message(&long_notes),
            "notes must be at most 5000 characters"
        );
    }

    #[test]
    fn the_same_request_is_judged_by_what_it_stores_not_its_spelling() {
        use crate::domain::{ConversionEvent, Currency, EventId, Timestamp};
        let now = Timestamp::parse("2026-02-01T15:30:00Z").unwrap();
        // What `first` stored: the type's USD and `now` where it left them out.
        let same = |first: &str, retry: &str| {
            let c = parse(first).unwrap();
            let stored = ConversionEvent {
                id: EventId::random(),
                conversion_type_id: c.conversion_type_id,
                lead_id: c.lead_id,
                workflow_id: None,
                master_workflow_id: None,
                workflow_run_id: c.workflow_run_id,
                amount: c.amount,
                currency: c.currency.unwrap_or(Currency::parse("USD").unwrap()),
                metadata: c.metadata,
                notes: c.notes,
                converted_at: c.converted_at.unwrap_or(now),
                created_at: now,
            };
            parse(retry).unwrap().would_store(&stored)
        };
        let compact = with(r#","metadata":{"a":1,"b":"x"}"#);
        let spaced = format!(
            "{{ \"metadata\": {{\"b\": \"x\", \"a\": 1}},\n \"amount\": 10, \"lead_id\": \"{LEAD}\", \"conversion_type_id\": \"{CT}\" }}"
        );
        assert!(same(&compact, &spaced));
        assert!(!same(&compact, &with(r#","metadata":{"a":2,"b":"x"}"#)));
        let nulls = with(r#","notes":null,"currency":null,"metadata":null"#);
        assert!(
            same(&nulls, &with("")) && same(&with(""), &nulls),
            "null is absent"
        );
        assert!(same(
            &with(r#","currency":"usd""#),
            &with(r#","currency":"USD""#)
        ));
        assert!(
            same(&with(""), &with(r#","currency":"USD""#)),
            "as inherited"
        );
        assert!(!same(&with(""), &with(r#","currency":"EUR""#)));
        assert!(
            same(&with(r#","source":"crm""#), &with("")),
            "unknown fields are not stored, so not compared"
        );
        let upper = format!(
            r#"{{"conversion_type_id":"{}","lead_id":"{LEAD}","amount":10}}"#,
            CT.to_uppercase()
        );
        assert!(same(&upper, &with("")), "any UUID spelling");
        assert!(
            !same(&with(""), &with("").replace(":10", ":10.0")),
            "the digits of the amount are stored"
        );
        assert!(same(&with("").replace(":10", ":1.0e1"), &with("")));
        let at = |text: &str| with(&format!(r#","converted_at":"{text}""#));
        assert!(same(
            &at("2026-01-28T07:00:00-03:00"),
            &at("2026-01-28T10:00:00Z")
        ));
        assert!(
            same(&at("2026-01-28T10:00:00Z"), &with("")),
            "left out: as stored"
        );
        assert!(!same(&with(""), &at("2026-01-28T10:00:00Z")));
    }

    #[test]
    fn deeply_nested_values_are_refused_not_a_crash() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let metadata = with(&format!(r#","metadata":{{"a":{}}}"#, nested(30_000)));
        assert_eq!(
            first_message(&metadata),
            "metadata must not be nested more than 32 levels deep"
        );
        let unknown = with(&format!(r#","crm":{}"#, nested(30_000)));
        assert_eq!(
            first_message(&unknown),
            "crm must not be nested more than 32 levels deep"
        );
        let both = format!(
            r#"{{"amount":-1,"metadata":{{"a":{}}},"crm":{}}}"#,
            nested(40),
            nested(40)
        );
        let fields: Vec<String> = parse(&both)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["conversion_type_id", "lead_id", "amount", "metadata", "crm"],
            "reported together, once each"
        );
        assert!(parse(&with(&format!(r#","metadata":{{"a":{}}}"#, nested(31)))).is_ok());
    }

    #[test]
    fn unknown_top_level_fields_are_ignored() {
        assert!(parse(&with(r#","source":"crm","id":"mine","success":false"#)).is_ok());
    }

    #[test]
    fn every_problem_is_reported_in_field_order() {
        let body = r#"{"lead_id":"x","amount":-1,"currency":"ZZZ","notes":1}"#;
        let fields: Vec<String> = parse(body)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "conversion_type_id",
                "lead_id",
                "amount",
                "currency",
                "notes"
            ]
        );
    }
}
