//! JSON values whose numbers keep their exact text (`serde_json::Value` would make them floats).

use std::collections::BTreeMap;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

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

pub const MAX_JSON_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonValueError {
    #[error("nested deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
    #[error("the key {0:?} appears more than once in one object")]
    RepeatedKey(String),
    /// An unpaired surrogate escape (`\ud800`): valid JSON grammar, but no string can hold it.
    #[error("a string is not valid Unicode (it contains an unpaired surrogate)")]
    InvalidUnicode,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    Null,
    Bool(bool),
    Number(JsonNumber),
    String(String),
    Array(Vec<JsonValue>),
    Object(BTreeMap<String, JsonValue>),
}

#[derive(Debug)]
pub struct Members<'a> {
    pub members: Vec<(String, &'a RawValue)>,
    /// Each repeated name once, sorted.
    pub repeated: Vec<String>,
}

impl<'a> Members<'a> {
    /// An object's members, repeats undecided: a body two parsers read two ways is refused.
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

pub(super) struct Entries<'a>(pub(super) Vec<(String, &'a RawValue)>);

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

/// One pass over the bytes, without recursion, whatever the depth.
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

pub fn json_string(raw: &RawValue) -> Result<Option<String>, JsonValueError> {
    if !raw.get().starts_with('"') {
        return Ok(None);
    }
    // The parser accepted the fragment: a string that does not decode has non-Unicode escapes.
    serde_json::from_str(raw.get())
        .map(Some)
        .map_err(|_| JsonValueError::InvalidUnicode)
}

impl JsonValue {
    /// A parsed fragment fails only by a repeated key, a non-Unicode string, or nesting too deep
    /// (checked before recursing: the parser captures any depth, which could exhaust the stack).
    pub fn from_raw(raw: &RawValue) -> Result<Self, JsonValueError> {
        Self::from_raw_at(raw, 0, MAX_JSON_DEPTH)
    }

    /// Nesting up to `max` levels; `depth` is the fragment's own.
    pub(super) fn from_raw_at(
        raw: &RawValue,
        depth: usize,
        max: usize,
    ) -> Result<Self, JsonValueError> {
        let text = raw.get().trim();
        if text.starts_with(['{', '[']) && depth >= max {
            return Err(JsonValueError::TooDeep);
        }
        // A fragment the parser produced has no grammar errors; only non-Unicode text can fail.
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
            // Without escapes the text between the quotes is the string, checked by the parser.
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

    /// An error from within a member's value names that member.
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
    pub(super) fn numbers_are_finite(&self) -> bool {
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
    fn nesting_is_measured_without_recursion_and_strings_do_not_count() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        assert!(!nests_deeper_than(&nested(32), 32));
        assert!(nests_deeper_than(&nested(33), 32));
        assert!(nests_deeper_than(&nested(100_000), 32));
        assert!(!nests_deeper_than(r#"{"a":"[[[[\"[[[["}"#, 2));
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
