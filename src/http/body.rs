//! The request body: JSON bytes in, a [`NewConversion`] and the body's fingerprint, or every
//! problem found.
//!
//! The body is read as a map of raw JSON fragments, so `amount` and metadata numbers are never
//! turned into binary floats, and each field is checked on its own. Unknown top-level fields are
//! ignored. `null` counts as absent for every field.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::domain::{
    Amount, ConversionTypeId, Currency, CurrencyError, FieldError, IdError, JsonValue,
    JsonValueError, LeadId, MAX_JSON_DEPTH, Metadata, NewConversion, Notes, RequestFingerprint,
    Timestamp, TimestampError, WorkflowRunId,
};

pub const NOT_AN_OBJECT: &str = "Request body must be a JSON object";
pub const REQUIRED: &str = "conversion_type_id, lead_id, and amount are required";

/// A body that passed every check that needs nothing but the body itself.
#[derive(Debug, Clone)]
pub struct ParsedBody {
    pub conversion: NewConversion,
    pub fingerprint: RequestFingerprint,
}

/// Parses the body, reporting every problem in field order (the first is the one the
/// documented `message` shows). `now` bounds `converted_at`.
pub fn parse_new_conversion(body: &[u8], now: Timestamp) -> Result<ParsedBody, Vec<FieldError>> {
    let members: BTreeMap<String, &RawValue> =
        serde_json::from_slice(body).map_err(|_| vec![FieldError::new("body", NOT_AN_OBJECT)])?;
    let field = |name: &str| members.get(name).copied().filter(|raw| raw.get() != "null");
    let mut errors = Vec::new();

    let required = ["conversion_type_id", "lead_id", "amount"];
    for missing in required.iter().filter(|name| field(name).is_none()) {
        errors.push(FieldError::new(*missing, REQUIRED));
    }

    let conversion_type_id = field("conversion_type_id").and_then(|raw| {
        record(
            &mut errors,
            "conversion_type_id",
            uuid(raw, "conversion_type_id", ConversionTypeId::parse),
        )
    });
    let lead_id = field("lead_id")
        .and_then(|raw| record(&mut errors, "lead_id", uuid(raw, "lead_id", LeadId::parse)));
    let amount = field("amount").and_then(|raw| record(&mut errors, "amount", amount(raw)));
    let workflow_run_id = field("workflow_run_id").and_then(|raw| {
        record(
            &mut errors,
            "workflow_run_id",
            uuid(raw, "workflow_run_id", WorkflowRunId::parse),
        )
    });
    let currency = field("currency").and_then(|raw| {
        record(
            &mut errors,
            "currency",
            text_as(raw, Currency::parse, CurrencyError),
        )
    });
    if let (Some(amount), Some(currency)) = (amount, currency) {
        record(
            &mut errors,
            "amount",
            amount.check_minor_unit(currency).map_err(|e| e.to_string()),
        );
    }
    let converted_at = field("converted_at").and_then(|raw| {
        record(
            &mut errors,
            "converted_at",
            text_as(raw, Timestamp::parse, TimestampError::Malformed)
                .and_then(|at| at.not_in_future(now).map_err(|e| e.to_string())),
        )
    });
    let metadata = match field("metadata") {
        None => Some(Metadata::default()),
        Some(raw) => record(&mut errors, "metadata", metadata(raw)),
    };
    let notes = field("notes").and_then(|raw| record(&mut errors, "notes", notes(raw)));

    // Every field is part of the fingerprint, unknown ones too: one nested too deeply is a
    // problem like any other (metadata's is reported once).
    let fingerprint = fingerprint(&members)
        .map_err(|deep| {
            for problem in deep {
                if !errors.iter().any(|e| e.field == problem.field) {
                    errors.push(problem);
                }
            }
        })
        .ok();

    match (conversion_type_id, lead_id, amount, metadata, fingerprint) {
        (
            Some(conversion_type_id),
            Some(lead_id),
            Some(amount),
            Some(metadata),
            Some(fingerprint),
        ) if errors.is_empty() => {
            let conversion = NewConversion {
                conversion_type_id,
                lead_id,
                amount,
                workflow_run_id,
                currency,
                converted_at,
                metadata,
                notes,
            };
            Ok(ParsedBody {
                conversion,
                fingerprint,
            })
        }
        _ => Err(errors),
    }
}

/// The hash of the whole body in canonical form (unknown fields included: they are part of what
/// the client sent).
fn fingerprint(
    members: &BTreeMap<String, &RawValue>,
) -> Result<RequestFingerprint, Vec<FieldError>> {
    let mut canonical = BTreeMap::new();
    let mut errors = Vec::new();
    for (key, raw) in members {
        match JsonValue::from_raw(raw) {
            Ok(value) => {
                canonical.insert(key.clone(), value);
            }
            Err(JsonValueError::TooDeep) => {
                errors.push(FieldError::new(key.clone(), too_deep(key)))
            }
            // Not reachable with fragments from the JSON parser; answered like a broken body.
            Err(JsonValueError::Invalid(_)) => errors.push(FieldError::new("body", NOT_AN_OBJECT)),
        }
    }
    if errors.is_empty() {
        Ok(RequestFingerprint::of(&JsonValue::Object(canonical)))
    } else {
        Err(errors)
    }
}

fn too_deep(field: &str) -> String {
    format!("{field} must not be nested more than {MAX_JSON_DEPTH} levels deep")
}

fn notes(raw: &RawValue) -> Result<Notes, String> {
    let notes = string(raw).ok_or_else(|| "notes must be a string".to_owned())?;
    Notes::parse(notes).map_err(|e| e.to_string())
}

/// Keeps the value, or records the field's message and yields nothing.
fn record<T>(errors: &mut Vec<FieldError>, field: &str, parsed: Result<T, String>) -> Option<T> {
    parsed
        .map_err(|message| errors.push(FieldError::new(field, message)))
        .ok()
}

fn string(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

fn uuid<T>(
    raw: &RawValue,
    field: &str,
    parse: fn(&str) -> Result<T, IdError>,
) -> Result<T, String> {
    string(raw)
        .and_then(|text| parse(&text).ok())
        .ok_or_else(|| format!("{field} must be a valid UUID"))
}

/// A JSON string parsed by a domain constructor; a non-string gets `not_a_string`'s message.
fn text_as<T, E: std::fmt::Display>(
    raw: &RawValue,
    parse: fn(&str) -> Result<T, E>,
    not_a_string: E,
) -> Result<T, String> {
    match string(raw) {
        Some(text) => parse(&text).map_err(|e| e.to_string()),
        None => Err(not_a_string.to_string()),
    }
}

fn amount(raw: &RawValue) -> Result<Amount, String> {
    let text = raw.get();
    if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Err(crate::domain::AmountError::Negative.to_string());
    }
    Amount::parse_json_number(text).map_err(|e| e.to_string())
}

fn metadata(raw: &RawValue) -> Result<Metadata, String> {
    match JsonValue::from_raw(raw) {
        Ok(JsonValue::Object(members)) => Metadata::new(members).map_err(|e| e.to_string()),
        Ok(_) | Err(JsonValueError::Invalid(_)) => Err("metadata must be an object".to_owned()),
        Err(JsonValueError::TooDeep) => Err(too_deep("metadata")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "123e4567-e89b-12d3-a456-426614174100";
    const LEAD: &str = "123e4567-e89b-12d3-a456-426614174200";

    const NOW: &str = "2026-02-01T15:30:00Z";

    fn parse(body: &str) -> Result<NewConversion, Vec<FieldError>> {
        parse_new_conversion(body.as_bytes(), Timestamp::parse(NOW).unwrap())
            .map(|parsed| parsed.conversion)
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
            assert_eq!(first_message(body), NOT_AN_OBJECT, "{body:?}");
        }
        assert_eq!(
            parse_new_conversion(&[0xff, 0xfe], Timestamp::now()).unwrap_err()[0].message,
            NOT_AN_OBJECT
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
    fn a_given_currency_limits_the_amounts_decimal_places() {
        let body = |amount: &str, currency: &str| {
            format!(
                r#"{{"conversion_type_id":"{CT}","lead_id":"{LEAD}","amount":{amount},"currency":"{currency}"}}"#
            )
        };
        assert!(parse(&body("5.0", "CLP")).is_ok());
        assert!(parse(&body("85000.00", "USD")).is_ok());
        assert!(parse(&body("1.0005", "CLF")).is_ok());
        assert_eq!(
            first_message(&body("10.5", "CLP")),
            "amount has more decimal places than CLP allows (0)"
        );
        assert_eq!(
            first_message(&body("1.005", "USD")),
            "amount has more decimal places than USD allows (2)"
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
    fn the_fingerprint_ignores_formatting_but_not_content() {
        let now = Timestamp::parse(NOW).unwrap();
        let fp = |body: &str| {
            parse_new_conversion(body.as_bytes(), now)
                .unwrap()
                .fingerprint
        };
        let compact = with(r#","metadata":{"a":1,"b":"x"}"#);
        let spaced = format!(
            "{{ \"metadata\": {{\"b\": \"x\", \"a\": 1}},\n \"amount\": 10, \"lead_id\": \"{LEAD}\", \"conversion_type_id\": \"{CT}\" }}"
        );
        assert_eq!(fp(&compact), fp(&spaced));
        assert_ne!(fp(&compact), fp(&with(r#","metadata":{"a":2,"b":"x"}"#)));
        assert_ne!(
            fp(&with("")),
            fp(&with(r#","source":"crm""#)),
            "unknown fields are part of the body"
        );
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
