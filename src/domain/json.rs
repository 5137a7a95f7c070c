//! JSON values whose numbers keep their exact text, for `metadata`. `serde_json::Value` would
//! turn `0.30000000000000004`-prone decimals into binary floats; this keeps what was sent.

use std::collections::BTreeMap;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonValueError {
    #[error("nested deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
    #[error("the key {0:?} appears more than once in one object")]
    RepeatedKey(String),
    /// A string or key whose escapes are not Unicode text (an unpaired surrogate such as
    /// `\ud800`): valid JSON grammar, but no string can hold it.
    #[error("a string is not valid Unicode (it contains an unpaired surrogate)")]
    InvalidUnicode,
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

/// The members of a JSON object in the order written, and the names written more than once.
#[derive(Debug)]
pub struct Members<'a> {
    pub members: Vec<(String, &'a RawValue)>,
    /// Each repeated name once, sorted.
    pub repeated: Vec<String>,
}

impl<'a> Members<'a> {
    /// Reads a JSON object's members without deciding between repeated ones: a body read two
    /// ways by two parsers is refused rather than read either way.
    pub fn parse(text: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The value of a member written exactly once.
    pub fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.members
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| *value)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Entries(mut members) = Entries::deserialize(deserializer)?;
        // Sorted names side by side find every repeat without copying a name that is not.
        let mut names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
        names.sort_unstable();
        let mut repeated: Vec<String> = names
            .windows(2)
            .filter(|pair| pair[0] == pair[1])
            .map(|pair| pair[0].to_owned())
            .collect();
        repeated.dedup();
        if !repeated.is_empty() {
            members.retain(|(name, _)| repeated.binary_search(name).is_err());
        }
        Ok(Members { members, repeated })
    }
}

/// A JSON object's members in the order written, repeats and all.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for EntriesVisitor<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'a>, A::Error> {
                let mut members: Vec<(String, &'a RawValue)> = Vec::with_capacity(16);
                while let Some(member) = map.next_entry::<String, &'a RawValue>()? {
                    members.push(member);
                }
                Ok(Entries(members))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

/// Whether objects and arrays in a JSON text nest more than `max` levels deep, found by one
/// pass over the bytes (no recursion, whatever the depth).
pub fn nests_deeper_than(text: &str, max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Reads a JSON string fragment (`"..."`): `Ok(None)` if the fragment is another kind of value.
pub fn json_string(raw: &RawValue) -> Result<Option<String>, JsonValueError> {
    if !raw.get().starts_with('"') {
        return Ok(None);
    }
    // The JSON parser accepted the fragment, so a string that does not decode holds escapes
    // that are not Unicode text.
    serde_json::from_str(raw.get())
        .map(Some)
        .map_err(|_| JsonValueError::InvalidUnicode)
}

impl JsonValue {
    /// Converts a raw JSON text fragment, recursively. A fragment the JSON parser produced
    /// fails only by nesting too deep (refused before recursion could exhaust the stack: the
    /// parser captures raw fragments of any depth), by repeating a key, or by holding a string
    /// that is not Unicode.
    pub fn from_raw(raw: &RawValue) -> Result<Self, JsonValueError> {
        Self::from_raw_at(raw, 0, MAX_JSON_DEPTH)
    }

    /// Nesting up to `max` levels; `depth` is the fragment's own.
    fn from_raw_at(raw: &RawValue, depth: usize, max: usize) -> Result<Self, JsonValueError> {
        let text = raw.get().trim();
        if text.starts_with(['{', '[']) && depth >= max {
            return Err(JsonValueError::TooDeep);
        }
        // Grammar errors cannot happen in a fragment the parser produced; what can fail is text
        // that is not Unicode.
        let invalid = |_: serde_json::Error| JsonValueError::InvalidUnicode;
        Ok(match text.as_bytes().first() {
            Some(b'{') => Self::Object(Self::members_at(text, depth, max).map_err(|(_, e)| e)?),
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(text).map_err(invalid)?;
                let items = items
                    .into_iter()
                    .map(|item| Self::from_raw_at(item, depth + 1, max));
                Self::Array(items.collect::<Result<_, _>>()?)
            }
            // Without escapes the text between the quotes is the string: the parser has
            // checked it (no control characters, valid UTF-8).
            Some(b'"') if !text.contains('\\') => Self::String(text[1..text.len() - 1].to_owned()),
            Some(b'"') => Self::String(serde_json::from_str(text).map_err(invalid)?),
            Some(b't') => Self::Bool(true),
            Some(b'f') => Self::Bool(false),
            Some(b'n') => Self::Null,
            _ => Self::Number(JsonNumber(
                RawValue::from_string(text.to_owned()).map_err(invalid)?,
            )),
        })
    }

    /// The members of an object fragment at `depth`, each value converted. An error from within
    /// a member's value names that member.
    fn members_at(
        text: &str,
        depth: usize,
        max: usize,
    ) -> Result<BTreeMap<String, JsonValue>, (Option<String>, JsonValueError)> {
        // The parser accepted the fragment: what can fail is a key that is not Unicode text.
        let members = Members::parse(text).map_err(|_| (None, JsonValueError::InvalidUnicode))?;
        if let Some(key) = members.repeated.into_iter().next() {
            return Err((None, JsonValueError::RepeatedKey(key)));
        }
        let mut object = BTreeMap::new();
        for (key, value) in members.members {
            match Self::from_raw_at(value, depth + 1, max) {
                Ok(value) => object.insert(key, value),
                Err(err) => return Err((Some(key), err)),
            };
        }
        Ok(object)
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

    /// Every number in the value a double can hold (`1e400` cannot).
    fn numbers_are_finite(&self) -> bool {
        match self {
            Self::Number(n) => n.as_str().parse::<f64>().is_ok_and(f64::is_finite),
            Self::Array(items) => items.iter().all(Self::numbers_are_finite),
            Self::Object(members) => members.values().all(Self::numbers_are_finite),
            Self::Null | Self::Bool(_) | Self::String(_) => true,
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
/// At most this many bytes of `metadata` as compact JSON (nested keys and values included): what
/// is stored.
pub const MAX_METADATA_BYTES: usize = 16_384;

/// Why a value is not acceptable as `metadata`.
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
    /// The field the problem is reported on: `metadata`, or `metadata.<key>` for one value.
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

/// The `metadata` object of an event: custom field values and any extra keys, kept as sent;
/// at most [`MAX_METADATA_KEYS`] non-empty keys of at most [`MAX_METADATA_KEY_CHARS`]
/// characters, numbers a double can hold, [`MAX_METADATA_BYTES`] in all.
///
/// The members are kept in one vector sorted by key (at most 50: a binary search finds one):
/// a tree would cost an allocation a node to build, copy and drop.
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

    /// Reads `metadata` from the request's raw JSON value.
    pub fn from_raw(raw: &RawValue) -> Result<Self, MetadataError> {
        if !raw.get().starts_with('{') {
            return Err(MetadataError::NotAnObject);
        }
        // One pass over the text finds what converting level by level would find only after
        // reading the deepest value once per level.
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
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|at| &self.0[at].1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The members, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &JsonValue)> {
        self.0.iter().map(|(key, value)| (key, value))
    }

    /// Compact JSON text with keys in order: how the store keeps it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a JSON value always serialises")
    }

    /// Reads back what [`Metadata::to_json`] wrote. What was stored is taken as it is: the limits
    /// apply to requests (an earlier or later version may have had others), and nesting is
    /// bounded only by the JSON parser's own limit (128 levels).
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

    fn roundtrip(text: &str) -> String {
        let raw: &RawValue = serde_json::from_str(text).unwrap();
        serde_json::to_string(&JsonValue::from_raw(raw).unwrap()).unwrap()
    }

    #[test]
    fn numbers_are_equal_when_their_text_is() {
        let value = |text: &str| JsonValue::from_raw(serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(value("[1.50]"), value("[1.50]"));
        assert_ne!(value("[1.50]"), value("[1.5]"), "the text kept differs");
        assert_ne!(value("[1]"), value("[2]"));
    }

    #[test]
    fn nesting_is_counted_in_one_pass_past_strings_and_siblings() {
        let deep = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        assert!(!nests_deeper_than(&deep(32), 32));
        assert!(nests_deeper_than(&deep(33), 32));
        // Brackets inside a string do not count; the string ends at its closing quote, not at
        // an escaped one, and what follows it counts again.
        let in_string = format!(r#"{{"k":"{}"}}"#, "[".repeat(40));
        assert!(!nests_deeper_than(&in_string, 32));
        let after_string = format!(r#"{{"k\"[":{}}}"#, deep(32));
        assert!(nests_deeper_than(&after_string, 32), "{after_string}");
        assert!(!nests_deeper_than(
            &format!(r#"{{"k\"[":{}}}"#, deep(31)),
            32
        ));
        // Siblings are side by side, not within each other.
        let wide = format!("[{}[]]", "[],".repeat(40));
        assert!(!nests_deeper_than(&wide, 2));
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
    fn values_nest_at_most_32_levels_and_deeper_ones_are_refused_without_recursing() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let parse =
            |text: &str| JsonValue::from_raw(serde_json::from_str::<&RawValue>(text).unwrap());
        assert!(parse(&nested(MAX_JSON_DEPTH)).is_ok());
        assert!(matches!(
            parse(&nested(MAX_JSON_DEPTH + 1)),
            Err(JsonValueError::TooDeep)
        ));
        // Objects count as arrays do.
        let objects = |depth: usize| format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        assert!(parse(&objects(MAX_JSON_DEPTH)).is_ok());
        assert!(matches!(
            parse(&objects(MAX_JSON_DEPTH + 1)),
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

    #[test]
    fn nesting_is_measured_without_recursion_and_strings_do_not_count() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        assert!(!nests_deeper_than(&nested(32), 32));
        assert!(nests_deeper_than(&nested(33), 32));
        assert!(nests_deeper_than(&nested(100_000), 32));
        assert!(!nests_deeper_than(r#"{"a":"[[[[\"[[[["}"#, 2));
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

    #[test]
    fn the_members_of_an_object_keep_their_order_and_name_repeats() {
        let members = Members::parse(r#"{"b":1,"a":2,"b":3,"c":4}"#).unwrap();
        let names: Vec<&str> = members.members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(members.repeated, ["b"]);
        assert!(members.get("b").is_none());
        assert!(Members::parse("[1]").is_err());
    }
}
