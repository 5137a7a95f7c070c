//! Exactly-once retries: the client's `Idempotency-Key`, and the token that tells a write its own.

use std::fmt;

use uuid::Uuid;

use super::{AccountId, EventId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key must be 1 to 255 printable ASCII characters")]
pub struct IdempotencyKeyError;

/// 1-255 printable ASCII, no comma (API Gateway joins a repeated header with it); per account.
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(text: &[u8]) -> Result<Self, IdempotencyKeyError> {
        let printable = (1..=255).contains(&text.len())
            && text.iter().all(|b| (0x20..=0x7e).contains(b) && *b != b',');
        // Printable ASCII is valid UTF-8.
        match std::str::from_utf8(text) {
            Ok(text) if printable => Ok(Self(text.to_owned())),
            _ => Err(IdempotencyKeyError),
        }
    }

    /// A v5 (name-based) UUID in the account's namespace: every retry addresses the same item, so
    /// the conditional put lets one write through. Random ids are v4: the two never collide.
    pub fn event_id(&self, account: AccountId) -> EventId {
        EventId::from_uuid(Uuid::new_v5(account.as_uuid(), self.0.as_bytes()))
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencyKey(<redacted>)")
    }
}

/// Random, on the event: if the SDK retries a committed put, it tells our item from another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteToken(Uuid);

impl WriteToken {
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn parse(text: &str) -> Option<Self> {
        Uuid::parse_str(text).ok().map(Self)
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for WriteToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.simple().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "a,b",
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
}
