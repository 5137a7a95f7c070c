//! The request body: JSON bytes in, a [`NewConversion`] or every problem found out.
//!
//! The body is read as a map of raw JSON fragments, so `amount` and metadata numbers are never
//! turned into binary floats, and each field is checked on its own. Unknown top-level fields are
//! ignored. `null` counts as absent for every field.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::domain::{
    Amount, ConversionTypeId, Currency, FieldError, IdError, JsonValue, LeadId, Metadata,
    NewConversion, Timestamp, WorkflowRunId,
};

pub const NOT_AN_OBJECT: &str = "Request body must be a JSON object";
pub const REQUIRED: &str = "conversion_type_id, lead_id, and amount are required";

/// Parses the body, reporting every problem in field order (the first is the one the
/// documented `message` shows).
pub fn parse_new_conversion(body: &[u8]) -> Result<NewConversion, Vec<FieldError>> {
    let members: BTreeMap<String, &RawValue> =
        serde_json::from_slice(body).map_err(|_| vec![FieldError::new("body", NOT_AN_OBJECT)])?;
    let field = |name: &str| members.get(name).copied().filter(|raw| raw.get() != "null");
    let mut errors = Vec::new();

    let required = ["conversion_type_id", "lead_id", "amount"];
    if let Some(missing) = required.iter().find(|name| field(name).is_none()) {
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
    let currency = field("currency")
        .and_then(|raw| record(&mut errors, "currency", text_as(raw, Currency::parse)));
    let converted_at = field("converted_at")
        .and_then(|raw| record(&mut errors, "converted_at", text_as(raw, Timestamp::parse)));
    let metadata = match field("metadata") {
        None => Some(Metadata::default()),
        Some(raw) => record(&mut errors, "metadata", metadata(raw)),
    };
    let notes = field("notes").and_then(|raw| {
        record(
            &mut errors,
            "notes",
            string(raw).ok_or_else(|| "notes must be a string".to_owned()),
        )
    });

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

/// A JSON string parsed by a domain constructor; a non-string gets the constructor's message.
fn text_as<T, E: std::fmt::Display + Default>(
    raw: &RawValue,
    parse: fn(&str) -> Result<T, E>,
) -> Result<T, String> {
    match string(raw) {
        Some(text) => parse(&text).map_err(|e| e.to_string()),
        None => Err(E::default().to_string()),
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
        Ok(JsonValue::Object(members)) => Ok(Metadata::new(members)),
        _ => Err("metadata must be an object".to_owned()),
    }
}
