//! Exactly-once retries: the `Idempotency-Key` a client sends, and the fingerprint of the
//! request it was first used with.

use std::fmt;

use uuid::Uuid;

use super::digest::Sha256Hex;
use super::{AccountId, EventId, JsonValue};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key must be 1 to 255 printable ASCII characters")]
pub struct IdempotencyKeyError;

/// A client's key for one logical request: 1 to 255 printable ASCII characters (space to `~`).
/// Scoped to the account: two accounts may use the same key.
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(text: &[u8]) -> Result<Self, IdempotencyKeyError> {
        let printable =
            (1..=255).contains(&text.len()) && text.iter().all(|b| (0x20..=0x7e).contains(b));
        if !printable {
            return Err(IdempotencyKeyError);
        }
        // Printable ASCII is valid UTF-8.
        String::from_utf8(text.to_vec())
            .map(Self)
            .map_err(|_| IdempotencyKeyError)
    }

    /// The id of the event this key creates in this account: a name-based (v5) UUID in the
    /// account's namespace, so every retry addresses the same item and the conditional put
    /// lets exactly one write through. Random event ids are v4, so the two never collide.
    pub fn event_id(&self, account: AccountId) -> EventId {
        EventId::from_uuid(Uuid::new_v5(account.as_uuid(), self.0.as_bytes()))
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencyKey(<redacted>)")
    }
}

/// The SHA-256 of a request body's canonical JSON: object keys sorted, no white space, numbers
/// and strings as sent. Two bodies with the same fingerprint are the same request, whatever their
/// formatting or key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFingerprint(Sha256Hex);

impl RequestFingerprint {
    pub fn of(body: &JsonValue) -> Self {
        let canonical = serde_json::to_string(body).expect("a JSON value always serialises");
        Self(Sha256Hex::of(canonical.as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Re-reads a stored fingerprint.
    pub fn parse(text: &str) -> Option<Self> {
        Sha256Hex::parse(text).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;

    fn fingerprint(text: &str) -> RequestFingerprint {
        let raw: &RawValue = serde_json::from_str(text).unwrap();
        RequestFingerprint::of(&JsonValue::from_raw(raw).unwrap())
    }

    #[test]
    fn a_key_is_1_to_255_printable_ascii_characters() {
        for good in [
            "a",
            "order-42",
            "~ !",
            &"k".repeat(255),
            "550e8400-e29b-41d4-a716-446655440000",
        ] {
            assert!(IdempotencyKey::parse(good.as_bytes()).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "tab\there",
            "new\nline",
            "caf\u{e9}",
            &"k".repeat(256),
            "\u{7f}",
        ] {
            assert_eq!(
                IdempotencyKey::parse(bad.as_bytes()),
                Err(IdempotencyKeyError),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_same_key_gives_the_same_event_id_only_within_one_account() {
        let key = IdempotencyKey::parse(b"order-42").unwrap();
        let (a, b) = (AccountId::random(), AccountId::random());
        assert_eq!(key.event_id(a), key.event_id(a));
        assert_ne!(key.event_id(a), key.event_id(b));
        assert_ne!(
            key.event_id(a),
            IdempotencyKey::parse(b"order-43").unwrap().event_id(a)
        );
        assert_eq!(key.event_id(a).as_uuid().get_version_num(), 5);
    }

    #[test]
    fn formatting_and_key_order_do_not_change_the_fingerprint_but_values_do() {
        let a =
            fingerprint(r#"{"amount": 10.50, "lead_id": "x", "metadata": {"b": 1, "a": [1, 2]}}"#);
        let b = fingerprint(
            "{\"metadata\":{\"a\":[1,2],\"b\":1},\n \"lead_id\":\"x\",\"amount\":10.50}",
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            fingerprint(r#"{"amount": 10.5, "lead_id": "x", "metadata": {"b": 1, "a": [1, 2]}}"#)
        );
        assert_ne!(
            a,
            fingerprint(r#"{"amount": 10.50, "lead_id": "y", "metadata": {"b": 1, "a": [1, 2]}}"#)
        );
        assert!(RequestFingerprint::parse(a.as_str()).is_some());
    }
}
