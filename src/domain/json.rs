//! JSON values whose numbers keep their exact text, for `metadata`. `serde_json::Value` would
//! turn `0.30000000000000004`-prone decimals into binary floats; this keeps what was sent.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// A JSON number, as the exact text the client wrote (already checked by the JSON parser).
#[derive(Debug, Clone)]
pub struct JsonNumber(Box<RawValue>);

impl JsonNumber {
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for JsonNumber {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// How deep a JSON value may nest (objects and arrays within each other).
pub const MAX_JSON_DEPTH: usize = 32;

/// Why a raw JSON fragment is not a [`JsonValue`].
#[derive(Debug, thiserror::Error)]
pub enum JsonValueError {
    #[error("nested deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
    #[error(transparent)]
    Invalid(#[from] serde_json::Error),
}

/// Any JSON value, numbers exact, at most [`MAX_JSON_DEPTH`] levels deep.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    Null,
    Bool(bool),
    Number(JsonNumber),
    String(String),
    Array(Vec<JsonValue>),
    Object(BTreeMap<String, JsonValue>),
}

impl JsonValue {
    /// Converts a raw JSON text fragment, recursively. A fragment the JSON parser produced
    /// fails only by nesting too deep, which is refused before recursion could exhaust the
    /// stack (the parser captures raw fragments of any depth).
    pub fn from_raw(raw: &RawValue) -> Result<Self, JsonValueError> {
        Self::from_raw_at(raw, 0)
    }

    fn from_raw_at(raw: &RawValue, depth: usize) -> Result<Self, JsonValueError> {
        let text = raw.get().trim();
        if text.starts_with(['{', '[']) && depth >= MAX_JSON_DEPTH {
            return Err(JsonValueError::TooDeep);
        }
        Ok(match text.as_bytes().first() {
            Some(b'{') => {
                let members: BTreeMap<String, &RawValue> = serde_json::from_str(text)?;
                let mut object = BTreeMap::new();
                for (key, value) in members {
                    object.insert(key, Self::from_raw_at(value, depth + 1)?);
                }
                Self::Object(object)
            }
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(text)?;
                let items = items
                    .into_iter()
                    .map(|item| Self::from_raw_at(item, depth + 1));
                Self::Array(items.collect::<Result<_, _>>()?)
            }
            Some(b'"') => Self::String(serde_json::from_str(text)?),
            Some(b't' | b'f') => Self::Bool(serde_json::from_str(text)?),
            Some(b'n') => {
                serde_json::from_str::<()>(text)?;
                Self::Null
            }
            _ => {
                // Validates the number grammar; keeps the text.
                serde_json::from_str::<serde::de::IgnoredAny>(text)?;
                Self::Number(JsonNumber(RawValue::from_string(text.to_owned())?))
            }
        })
    }

    /// The JSON type's name as API messages use it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "boolean",
            Self::Number(_) => "number",
            Self::String(_) => "string",
            Self::Array(_) => "array",
            Self::Object(_) => "object",
        }
    }
}

impl Serialize for JsonValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_unit(),
            Self::Bool(b) => serializer.serialize_bool(*b),
            Self::Number(n) => n.0.serialize(serializer),
            Self::String(s) => serializer.serialize_str(s),
            Self::Array(items) => items.serialize(serializer),
            Self::Object(members) => members.serialize(serializer),
        }
    }
}

/// At most this many keys in `metadata`.
pub const MAX_METADATA_KEYS: usize = 50;
/// At most this many characters in a `metadata` key.
pub const MAX_METADATA_KEY_CHARS: usize = 64;

/// Why an object is not acceptable as `metadata`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata must have at most {MAX_METADATA_KEYS} keys")]
    TooManyKeys,
    #[error("metadata keys must be at most {MAX_METADATA_KEY_CHARS} characters")]
    KeyTooLong,
}

/// The `metadata` object of an event: custom field values and any extra keys, kept as sent;
/// at most [`MAX_METADATA_KEYS`] keys of at most [`MAX_METADATA_KEY_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata(BTreeMap<String, JsonValue>);

impl Metadata {
    pub fn new(members: BTreeMap<String, JsonValue>) -> Result<Self, MetadataError> {
        if members.len() > MAX_METADATA_KEYS {
            return Err(MetadataError::TooManyKeys);
        }
        if members
            .keys()
            .any(|key| key.chars().count() > MAX_METADATA_KEY_CHARS)
        {
            return Err(MetadataError::KeyTooLong);
        }
        Ok(Self(members))
    }

    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        self.0.get(key)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &JsonValue)> {
        self.0.iter()
    }

    /// Compact JSON text with keys in order: how the store keeps it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a JSON value always serialises")
    }

    /// Reads back what [`Metadata::to_json`] wrote.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let raw: &RawValue = serde_json::from_str(text)?;
        match JsonValue::from_raw(raw).map_err(serde::de::Error::custom)? {
            JsonValue::Object(members) => Ok(Self(members)),
            other => Err(serde::de::Error::custom(format!(
                "metadata is a {}",
                other.type_name()
            ))),
        }
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(text: &str) -> String {
        let raw: &RawValue = serde_json::from_str(text).unwrap();
        serde_json::to_string(&JsonValue::from_raw(raw).unwrap()).unwrap()
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        assert_eq!(roundtrip("0.1"), "0.1");
        assert_eq!(roundtrip("2500"), "2500");
        assert_eq!(roundtrip("1.10"), "1.10");
        assert_eq!(
            roundtrip("12345678901234567890123456789.123456789"),
            "12345678901234567890123456789.123456789"
        );
        assert_eq!(roundtrip("1e400"), "1e400");
    }

    #[test]
    fn nested_values_survive_and_white_space_is_dropped() {
        assert_eq!(
            roundtrip(r#" { "b" : [1, "x", null, true, {"c": 0.50}], "a": "\u00e9\n" } "#),
            r#"{"a":"é\n","b":[1,"x",null,true,{"c":0.50}]}"#
        );
    }

    #[test]
    fn metadata_has_at_most_50_keys_of_at_most_64_characters() {
        let members = |n: usize, key_len: usize| -> BTreeMap<String, JsonValue> {
            (0..n)
                .map(|i| (format!("{i:0>width$}", width = key_len), JsonValue::Null))
                .collect()
        };
        assert!(Metadata::new(members(50, 64)).is_ok());
        assert_eq!(
            Metadata::new(members(51, 3)),
            Err(MetadataError::TooManyKeys)
        );
        assert_eq!(
            Metadata::new(members(1, 65)),
            Err(MetadataError::KeyTooLong)
        );
        let accented: BTreeMap<String, JsonValue> = [("\u{e9}".repeat(64), JsonValue::Null)].into();
        assert!(Metadata::new(accented).is_ok(), "characters, not bytes");
        assert_eq!(
            MetadataError::TooManyKeys.to_string(),
            "metadata must have at most 50 keys"
        );
        assert_eq!(
            MetadataError::KeyTooLong.to_string(),
            "metadata keys must be at most 64 characters"
        );
    }

    #[test]
    fn values_nest_at_most_32_levels_and_deeper_ones_are_refused_without_recursing() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let parse =
            |text: &str| JsonValue::from_raw(serde_json::from_str::<&RawValue>(text).unwrap());
        assert!(parse(&nested(MAX_JSON_DEPTH)).is_ok());
        assert!(matches!(
            parse(&nested(MAX_JSON_DEPTH + 1)),
            Err(JsonValueError::TooDeep)
        ));
        // Far beyond what recursion could survive: refused at the limit, not by a crash.
        let deep = format!("{{\"a\":{}}}", nested(100_000));
        let raw: &RawValue = serde_json::from_str(&deep).expect("the parser keeps deep raw values");
        assert!(matches!(
            JsonValue::from_raw(raw),
            Err(JsonValueError::TooDeep)
        ));
    }

    #[test]
    fn metadata_round_trips_through_its_stored_form() {
        let metadata =
            Metadata::from_json(r#"{"property_unit":"Apt 302","commission":2500.00}"#).unwrap();
        assert_eq!(metadata.len(), 2);
        assert_eq!(Metadata::from_json(&metadata.to_json()).unwrap(), metadata);
        assert_eq!(
            metadata.to_json(),
            r#"{"commission":2500.00,"property_unit":"Apt 302"}"#
        );
        assert!(Metadata::from_json("[1]").is_err());
    }
}
