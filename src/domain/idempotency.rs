//! Exactly-once retries: the client's `Idempotency-Key` and the fingerprint of its first request.

use std::fmt;

use serde::Serialize;
use uuid::Uuid;

use super::digest::Sha256Hex;
use super::{AccountId, ConversionEvent, Currency, EventId, Metadata, NewConversion, Timestamp};

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
}

impl fmt::Display for WriteToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.simple().fmt(f)
    }
}

/// SHA-256 of the request as stored, not as spelled (ids lowercase hyphenated, currency uppercase,
/// UTC `converted_at`, sorted metadata keys, no `null`s or unknown fields; `1.50` is not `1.5`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFingerprint(Sha256Hex);

const FINGERPRINT_SCHEME: &str = "1";

#[derive(Serialize)]
struct Canonical<'a> {
    conversion_type_id: String,
    lead_id: String,
    amount: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    converted_at: Option<String>,
    metadata: &'a Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<&'a str>,
}

impl RequestFingerprint {
    pub fn of(conversion: &NewConversion) -> Self {
        Self::of_parts(conversion, conversion.currency, conversion.converted_at)
    }

    fn of_parts(
        conversion: &NewConversion,
        currency: Option<Currency>,
        converted_at: Option<Timestamp>,
    ) -> Self {
        let canonical = Canonical {
            conversion_type_id: conversion.conversion_type_id.to_string(),
            lead_id: conversion.lead_id.to_string(),
            amount: conversion.amount.to_string(),
            workflow_run_id: conversion.workflow_run_id.map(|id| id.to_string()),
            currency: currency.map(|c| c.code()),
            converted_at: converted_at.map(|at| at.sortable()),
            metadata: &conversion.metadata,
            notes: conversion.notes.as_ref().map(|n| n.as_str()),
        };
        let text = serde_json::to_string(&canonical).expect("the canonical form serialises");
        Self(Sha256Hex::of(text.as_bytes()))
    }

    /// The one rule for "the same request": would `conversion` store `stored`? A missing `currency`
    /// matches the inherited one (`inherited`, if the type still exists), a missing `converted_at`
    /// the server's; the stored fingerprint may be of either form, so both are tried.
    pub fn matches(
        &self,
        conversion: &NewConversion,
        stored: &ConversionEvent,
        inherited: Option<Currency>,
    ) -> bool {
        let currency = conversion.currency.or(inherited).unwrap_or(stored.currency);
        let converted_at = conversion.converted_at.unwrap_or(stored.converted_at);
        if currency != stored.currency || converted_at != stored.converted_at {
            return false;
        }
        [Some(stored.currency), None].into_iter().any(|currency| {
            [Some(stored.converted_at), None]
                .into_iter()
                .any(|at| Self::of_parts(conversion, currency, at) == *self)
        })
    }

    /// `<scheme>:<hex>` (`1:`). A later scheme writes `2:` and still matches `1:`.
    pub fn to_stored(&self) -> String {
        format!("{FINGERPRINT_SCHEME}:{}", self.0.as_str())
    }

    /// One without a scheme (written before schemes were named) is of scheme 1.
    pub fn from_stored(text: &str) -> Option<Self> {
        let digest = text
            .strip_prefix(FINGERPRINT_SCHEME)
            .and_then(|rest| rest.strip_prefix(':'))
            .unwrap_or(text);
        Sha256Hex::parse(digest).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Amount, ConversionTypeId, LeadId};

    #[test]
    fn a_key_never_shows_in_debug_output() {
        let key = IdempotencyKey::parse(b"order-8731").unwrap();
        assert_eq!(format!("{key:?}"), "IdempotencyKey(<redacted>)");
    }

    fn conversion() -> NewConversion {
        NewConversion {
            conversion_type_id: ConversionTypeId::parse("123e4567-e89b-12d3-a456-426614174100")
                .unwrap(),
            lead_id: LeadId::parse("123e4567-e89b-12d3-a456-426614174200").unwrap(),
            amount: Amount::parse_json_number("10.50").unwrap(),
            workflow_run_id: None,
            currency: None,
            converted_at: None,
            metadata: Metadata::from_json(r#"{"b":1,"a":[1,2]}"#).unwrap(),
            notes: None,
        }
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

    #[test]
    fn requests_that_would_store_the_same_event_share_a_fingerprint_and_others_do_not() {
        let base = conversion();
        let fp = RequestFingerprint::of;
        let same_instant = NewConversion {
            converted_at: Some(Timestamp::parse("2026-01-28T07:00:00-03:00").unwrap()),
            ..base.clone()
        };
        let in_utc = NewConversion {
            converted_at: Some(Timestamp::parse("2026-01-28T10:00:00Z").unwrap()),
            ..base.clone()
        };
        assert_eq!(fp(&same_instant), fp(&in_utc));
        let usd = |code| NewConversion {
            currency: Some(Currency::parse(code).unwrap()),
            ..base.clone()
        };
        assert_eq!(fp(&usd("usd")), fp(&usd("USD")));
        assert_ne!(
            fp(&usd("USD")),
            fp(&base),
            "a given currency is stored with the event"
        );
        let amount = |text| NewConversion {
            amount: Amount::parse_json_number(text).unwrap(),
            ..base.clone()
        };
        assert_ne!(fp(&amount("10.5")), fp(&base), "the digits sent are stored");
        assert_eq!(fp(&amount("1.050e1")), fp(&amount("10.5")));
        let stored = fp(&base).to_stored();
        assert!(stored.starts_with("1:"), "{stored}");
        assert_eq!(RequestFingerprint::from_stored(&stored), Some(fp(&base)));
        assert_eq!(
            RequestFingerprint::from_stored(&stored[2..]),
            Some(fp(&base)),
            "untagged: scheme 1"
        );
    }

    /// The event `sent` stored, inheriting `inherited` and created at `now`.
    fn stored(sent: &NewConversion, inherited: &str, now: &str) -> ConversionEvent {
        ConversionEvent {
            id: EventId::random(),
            conversion_type_id: sent.conversion_type_id,
            lead_id: sent.lead_id,
            workflow_id: None,
            master_workflow_id: None,
            workflow_run_id: None,
            amount: sent.amount,
            currency: sent.currency.unwrap_or(Currency::parse(inherited).unwrap()),
            metadata: sent.metadata.clone(),
            notes: sent.notes.clone(),
            converted_at: sent.converted_at.unwrap_or(Timestamp::parse(now).unwrap()),
            created_at: Timestamp::parse(now).unwrap(),
        }
    }

    #[test]
    fn a_retry_matches_when_it_would_store_the_same_event() {
        let usd = Some(Currency::parse("USD").unwrap());
        let clp = Some(Currency::parse("CLP").unwrap());
        let at = |text| Some(Timestamp::parse(text).unwrap());
        let now = "2026-01-28T12:00:00Z";
        let sent = |currency, converted_at| NewConversion {
            currency,
            converted_at,
            ..conversion()
        };
        let check = |first: NewConversion, retry: NewConversion, inherited: Option<Currency>| {
            let event = stored(&first, "USD", now);
            RequestFingerprint::of(&first).matches(&retry, &event, inherited)
        };
        // The currency the type gives, sent or left out, either way round.
        assert!(check(sent(usd, None), sent(None, None), usd));
        assert!(check(sent(None, None), sent(usd, None), usd));
        // Left out, it matches the currency stored when the type is gone.
        assert!(check(sent(usd, None), sent(None, None), None));
        // Another currency, sent or inherited from a type that changed since, does not.
        assert!(!check(sent(None, None), sent(clp, None), usd));
        assert!(!check(sent(usd, None), sent(None, None), clp));
        // A converted_at left out matches the one stored, sent or filled in.
        let sent_at = at("2026-01-28T10:00:00Z");
        assert!(check(sent(None, sent_at), sent(None, None), usd));
        assert!(check(sent(None, None), sent(None, at(now)), usd));
        assert!(check(
            sent(None, sent_at),
            sent(None, at("2026-01-28T07:00:00-03:00")),
            usd
        ));
        assert!(!check(sent(None, None), sent(None, sent_at), usd));
        assert!(!check(sent(None, sent_at), sent(None, at(now)), usd));
        // Any other field differing is another request.
        let more = NewConversion {
            amount: Amount::parse_json_number("11").unwrap(),
            ..conversion()
        };
        assert!(!check(conversion(), more, usd));
    }
}
