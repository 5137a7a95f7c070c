//! Accounts and API keys. A key is only ever kept as its SHA-256 hash.

use std::fmt;

use uuid::Uuid;

use super::digest::{Sha256Hex, is_lower_hex};
use super::{AccountId, Timestamp, is_token_byte};

pub const API_KEY_PREFIX: &str = "nxr_live_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("no API key was presented")]
    Missing,
    #[error("the API key is not of the nxr_live_ form")]
    Malformed,
}

/// A plaintext API key. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn parse(text: &str) -> Result<Self, ApiKeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ApiKeyError::Missing);
        }
        let secret = text.strip_prefix(API_KEY_PREFIX);
        if !secret.is_some_and(|s| (1..=200).contains(&s.len()) && s.bytes().all(is_token_byte)) {
            return Err(ApiKeyError::Malformed);
        }
        Ok(Self(text.to_owned()))
    }

    /// `nxr_live_<account hex>_<random hex>`: naming the account lets the function read the key's
    /// record in the same round trip as the request's records (see [`ApiKey::claimed_account`]).
    pub fn generate_for(account: AccountId) -> Self {
        Self(format!(
            "{API_KEY_PREFIX}{}_{}",
            account.as_uuid().simple(),
            Uuid::new_v4().simple()
        ))
    }

    /// A claim, not a fact: nothing read under it is used until the key's own record confirms it.
    pub fn claimed_account(&self) -> Option<AccountId> {
        let rest = self.0.strip_prefix(API_KEY_PREFIX)?;
        let (account, secret) = rest.split_once('_')?;
        if !(is_lower_hex(account, 32) && is_lower_hex(secret, 32)) {
            return None;
        }
        AccountId::parse(account).ok()
    }

    /// The plaintext, for the one moment it is shown to the operator who created it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> ApiKeyHash {
        ApiKeyHash(Sha256Hex::of(self.0.as_bytes()))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiKeyHash(Sha256Hex);

impl ApiKeyHash {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn parse(text: &str) -> Option<Self> {
        Sha256Hex::parse(text).map(Self)
    }

    /// What an operator lists and revokes a key by, without the key itself.
    pub fn id(&self) -> ApiKeyId {
        ApiKeyId(self.0.as_str()[..16].to_owned())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId(String);

impl ApiKeyId {
    pub fn parse(text: &str) -> Result<Self, String> {
        if is_lower_hex(text, 16) {
            Ok(Self(text.to_owned()))
        } else {
            Err("a key id is 16 hex digits, as create-api-key and list-api-keys print it".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub hash: ApiKeyHash,
    pub account: AccountId,
    pub active: bool,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key that names no account, like the demo key.
    fn unnamed_key() -> ApiKey {
        ApiKey::parse(&format!("{API_KEY_PREFIX}{}", Uuid::new_v4().simple())).unwrap()
    }

    #[test]
    fn a_key_never_shows_in_debug_output() {
        let key = unnamed_key();
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        assert!(!format!("{:?}", Some(&key)).contains(key.expose()));
    }

    #[test]
    fn an_empty_key_counts_as_missing() {
        assert_eq!(ApiKey::parse(""), Err(ApiKeyError::Missing));
        assert_eq!(ApiKey::parse("   "), Err(ApiKeyError::Missing));
    }

    #[test]
    fn a_key_without_the_live_prefix_is_malformed() {
        for bad in [
            "abc",
            "nxr_test_abc",
            "nxr_live_",
            "nxr_live_a b",
            "NXR_LIVE_abc",
        ] {
            assert_eq!(ApiKey::parse(bad), Err(ApiKeyError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn the_hash_is_the_hex_sha256_of_the_whole_key() {
        let key = ApiKey::parse("nxr_live_abc").unwrap();
        // printf nxr_live_abc | sha256sum
        assert_eq!(
            key.hash().as_str(),
            "01d5e86c22d220da363aafb3adddb8797fcb05fe41e2ff9e673704b37df3317c"
        );
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let key = ApiKey::parse("nxr_live_supersecret").unwrap();
        assert!(!format!("{key:?}").contains("supersecret"));
    }

    #[test]
    fn a_key_made_for_an_account_claims_it_and_others_claim_nothing() {
        let account = AccountId::random();
        let key = ApiKey::generate_for(account);
        assert_eq!(ApiKey::parse(key.expose()), Ok(key.clone()));
        assert_eq!(key.claimed_account(), Some(account));
        assert_ne!(key, ApiKey::generate_for(account));
        for other in [
            unnamed_key().expose().to_owned(),
            "nxr_live_demo_local_only_key".to_owned(),
            format!("nxr_live_{}_short", account.as_uuid().simple()),
            format!("nxr_live_{}_{}", account.as_uuid().simple(), "G".repeat(32)),
            format!("nxr_live_{}", account.as_uuid().simple()),
        ] {
            assert_eq!(
                ApiKey::parse(&other).unwrap().claimed_account(),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn generated_keys_are_valid_and_distinct() {
        let (a, b) = (unnamed_key(), unnamed_key());
        assert_ne!(a, b);
        assert_eq!(ApiKey::parse(a.expose()), Ok(a));
    }
}

/// An account's own record.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: super::AccountId,
    pub name: String,
    pub created_at: super::Timestamp,
}
