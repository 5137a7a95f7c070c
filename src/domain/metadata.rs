//! The `metadata` object of an event, and the limits a request's metadata is held to.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::json::{Entries, JsonValue, JsonValueError, MAX_JSON_DEPTH, nests_deeper_than};

pub const MAX_METADATA_KEYS: usize = 50;
pub const MAX_METADATA_KEY_CHARS: usize = 64;
/// Counted as the compact JSON that is stored, nested keys and values included.
pub const MAX_METADATA_BYTES: usize = 16_384;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata must be an object")]
    NotAnObject,
    #[error("metadata must not be nested more than {MAX_JSON_DEPTH} levels deep")]
    TooDeep,
    #[error("metadata must have at most {MAX_METADATA_KEYS} keys")]
    TooManyKeys,
    #[error("metadata keys must be at most {MAX_METADATA_KEY_CHARS} characters")]
    KeyTooLong,
    #[error("metadata keys must not be empty")]
    EmptyKey,
    #[error("metadata must be at most {MAX_METADATA_BYTES} bytes as JSON")]
    TooLarge,
    #[error("metadata.{0} must not appear more than once")]
    RepeatedKey(String),
    #[error("metadata.{0} must not repeat a key in any object within it")]
    RepeatedKeyWithin(String),
    #[error("metadata.{0} must be a finite number")]
    NotFinite(String),
    #[error("metadata.{0} must be valid Unicode (it contains an unpaired surrogate)")]
    InvalidUnicode(String),
    #[error("metadata keys must be valid Unicode (one contains an unpaired surrogate)")]
    InvalidUnicodeKey,
}

impl MetadataError {
    pub fn field(&self) -> String {
        match self {
            Self::RepeatedKey(key)
            | Self::RepeatedKeyWithin(key)
            | Self::NotFinite(key)
            | Self::InvalidUnicode(key) => format!("metadata.{key}"),
            _ => "metadata".to_owned(),
        }
    }
}

/// Custom field values and any extra keys, kept as sent, in one vector sorted by key (at most 50,
/// found by binary search): a tree would cost an allocation a node to build, copy and drop.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata(Vec<(String, JsonValue)>);

impl Metadata {
    pub fn new(members: BTreeMap<String, JsonValue>) -> Result<Self, MetadataError> {
        Self::from_sorted(members.into_iter().collect())
    }

    /// Checks the limits on members sorted by key, each key once.
    fn from_sorted(members: Vec<(String, JsonValue)>) -> Result<Self, MetadataError> {
        if members.len() > MAX_METADATA_KEYS {
            return Err(MetadataError::TooManyKeys);
        }
        if members
            .iter()
            .any(|(key, _)| key.chars().count() > MAX_METADATA_KEY_CHARS)
        {
            return Err(MetadataError::KeyTooLong);
        }
        if members.first().is_some_and(|(key, _)| key.is_empty()) {
            return Err(MetadataError::EmptyKey);
        }
        if let Some((key, _)) = members.iter().find(|(_, v)| !v.numbers_are_finite()) {
            return Err(MetadataError::NotFinite(key.clone()));
        }
        let metadata = Self(members);
        if metadata.json_len() > MAX_METADATA_BYTES {
            return Err(MetadataError::TooLarge);
        }
        Ok(metadata)
    }

    /// The length of [`Metadata::to_json`], counted as it is written rather than kept.
    fn json_len(&self) -> usize {
        struct Counter(usize);
        impl std::io::Write for Counter {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0 += bytes.len();
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut counter = Counter(0);
        serde_json::to_writer(&mut counter, self).expect("a JSON value always serialises");
        counter.0
    }

    pub fn from_raw(raw: &RawValue) -> Result<Self, MetadataError> {
        if !raw.get().starts_with('{') {
            return Err(MetadataError::NotAnObject);
        }
        // One pass, not a conversion per level that reads the deepest value once per level.
        if nests_deeper_than(raw.get(), MAX_JSON_DEPTH) {
            return Err(MetadataError::TooDeep);
        }
        let Entries(entries) =
            serde_json::from_str(raw.get()).map_err(|_| MetadataError::InvalidUnicodeKey)?;
        let mut object = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let value = JsonValue::from_raw_at(value, 1, MAX_JSON_DEPTH).map_err(|e| match e {
                JsonValueError::TooDeep => MetadataError::TooDeep,
                JsonValueError::RepeatedKey(_) => MetadataError::RepeatedKeyWithin(key.clone()),
                JsonValueError::InvalidUnicode => MetadataError::InvalidUnicode(key.clone()),
            })?;
            object.push((key, value));
        }
        // One sort orders the members and puts any repeated key beside itself.
        object.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = object.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(MetadataError::RepeatedKey(pair[0].0.clone()));
        }
        Self::from_sorted(object)
    }

    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        let at = self.0.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok()?;
        Some(&self.0[at].1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &JsonValue)> {
        self.0.iter().map(|(key, value)| (key, value))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a JSON value always serialises")
    }

    /// Stored metadata is taken as it is: the limits apply to requests (other versions may have
    /// had others), and nesting is bounded only by the JSON parser's own limit (128 levels).
    pub fn from_json(text: &str) -> Result<Self, String> {
        let raw: &RawValue = serde_json::from_str(text).map_err(|e| e.to_string())?;
        match JsonValue::from_raw_at(raw, 0, usize::MAX).map_err(|e| e.to_string())? {
            JsonValue::Object(members) => Ok(Self(members.into_iter().collect())),
            other => Err(format!(
                "stored metadata is a JSON {}, not an object",
                other.type_name()
            )),
        }
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::json_string;
    #[test]
    fn metadata_nests_32_levels_and_not_33() {
        let nested = |arrays: usize| {
            let text = format!(r#"{{"k":{}{}}}"#, "[".repeat(arrays), "]".repeat(arrays));
            let raw: Box<RawValue> = serde_json::from_str(&text).unwrap();
            Metadata::from_raw(&raw)
        };
        assert!(nested(31).is_ok(), "the object and 31 arrays: 32 levels");
        assert_eq!(nested(32), Err(MetadataError::TooDeep));
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
    fn metadata_round_trips_through_its_stored_form() {
        let metadata =
            Metadata::from_json(r#"{"property_unit":"Apt 302","commission":2500.00}"#).unwrap();
        assert_eq!(metadata.len(), 2);
        assert_eq!(Metadata::from_json(&metadata.to_json()).unwrap(), metadata);
        assert_eq!(
            metadata.to_json(),
            r#"{"commission":2500.00,"property_unit":"Apt 302"}"#
        );
        assert_eq!(
            Metadata::from_json("[1]"),
            Err("stored metadata is a JSON array, not an object".to_owned())
        );
    }

    #[test]
    fn every_kind_of_value_is_kept_as_its_kind() {
        let raw: &RawValue = serde_json::from_str(
            r#"{"f":false,"t":true,"n":null,"x":1.0,"s":"a\"b","a":[],"o":{}}"#,
        )
        .unwrap();
        let metadata = Metadata::from_raw(raw).unwrap();
        assert_eq!(metadata.len(), 7);
        assert!(!metadata.is_empty());
        assert!(Metadata::default().is_empty());
        let kinds: Vec<(&str, &str)> = metadata
            .iter()
            .map(|(key, value)| (key.as_str(), value.type_name()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("a", "array"),
                ("f", "boolean"),
                ("n", "null"),
                ("o", "object"),
                ("s", "string"),
                ("t", "boolean"),
                ("x", "number"),
            ]
        );
        assert_eq!(metadata.get("f"), Some(&JsonValue::Bool(false)));
        assert_eq!(
            metadata.get("s"),
            Some(&JsonValue::String("a\"b".to_owned()))
        );
    }

    fn metadata(text: &str) -> Result<Metadata, MetadataError> {
        Metadata::from_raw(serde_json::from_str::<&RawValue>(text).unwrap())
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth_and_named() {
        assert_eq!(
            metadata(r#"{"a":1,"b":2,"a":3}"#),
            Err(MetadataError::RepeatedKey("a".into()))
        );
        assert_eq!(
            metadata(r#"{"crm":{"id":1,"id":2}}"#),
            Err(MetadataError::RepeatedKeyWithin("crm".into()))
        );
        assert_eq!(
            MetadataError::RepeatedKey("a".into()).to_string(),
            "metadata.a must not appear more than once"
        );
        assert_eq!(MetadataError::RepeatedKey("a".into()).field(), "metadata.a");
    }

    #[test]
    fn numbers_a_double_cannot_hold_are_refused() {
        for big in ["1e400", "-1e400", "[1, 2e999]", r#"{"x": 1E309}"#] {
            assert_eq!(
                metadata(&format!(r#"{{"ok":1,"v":{big}}}"#)),
                Err(MetadataError::NotFinite("v".into())),
                "{big}"
            );
        }
        assert!(metadata(r#"{"tiny":1e-400,"exact":0.30000000000000004}"#).is_ok());
        assert_eq!(
            MetadataError::NotFinite("v".into()).to_string(),
            "metadata.v must be a finite number"
        );
    }

    #[test]
    fn metadata_is_at_most_16_kib_as_json_with_no_empty_key() {
        // {"k":"..."} is 8 bytes of framing around the value.
        let sized = |len: usize| format!(r#"{{"k":"{}"}}"#, "x".repeat(len - 8));
        assert_eq!(
            metadata(&sized(MAX_METADATA_BYTES))
                .unwrap()
                .to_json()
                .len(),
            MAX_METADATA_BYTES
        );
        assert_eq!(
            metadata(&sized(MAX_METADATA_BYTES + 1)),
            Err(MetadataError::TooLarge)
        );
        let nested = format!(r#"{{"a":{{"b":["{}"]}}}}"#, "\u{e9}".repeat(8200));
        assert_eq!(
            metadata(&nested),
            Err(MetadataError::TooLarge),
            "bytes, nested values included"
        );
        assert_eq!(metadata(r#"{"":1}"#), Err(MetadataError::EmptyKey));
    }

    #[test]
    fn a_string_that_is_not_unicode_is_named_once() {
        assert_eq!(
            metadata(r#"{"broker":"\ud800"}"#),
            Err(MetadataError::InvalidUnicode("broker".into()))
        );
        assert_eq!(
            metadata(r#"{"\ud800":"x"}"#),
            Err(MetadataError::InvalidUnicodeKey)
        );
        let raw: &RawValue = serde_json::from_str(r#""\udc00""#).unwrap();
        assert_eq!(json_string(raw), Err(JsonValueError::InvalidUnicode));
        let raw: &RawValue = serde_json::from_str("12").unwrap();
        assert_eq!(json_string(raw), Ok(None));
    }
}
