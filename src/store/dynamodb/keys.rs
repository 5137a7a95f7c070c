//! The key scheme: which partition and sort key each record lives under.
//!
//! One table, every record under a partition key that starts with its account, so an id from
//! another account builds another key and can never be found (tenant isolation by
//! construction). API keys are the exception: they are looked up by their hash, before the
//! account is known.
//!
//! | record           | pk                    | sk                         |
//! |------------------|-----------------------|----------------------------|
//! | API key          | `APIKEY#<sha256 hex>` | `APIKEY`                   |
//! | account          | `ACCOUNT#<account>`   | `ACCOUNT`                  |
//! | conversion type  | `ACCOUNT#<account>`   | `CONVERSION_TYPE#<id>`     |
//! | lead             | `ACCOUNT#<account>`   | `LEAD#<id>`                |
//! | workflow run     | `ACCOUNT#<account>`   | `WORKFLOW_RUN#<id>`        |
//! | conversion event | `ACCOUNT#<account>`   | `CONVERSION_EVENT#<id>`    |
//!
//! Events also carry `converted_sk` = `<converted_at, fixed width>#<id>`, the sort key of the
//! sparse global secondary index [`EVENTS_BY_CONVERTED_AT`] (pk, converted_sk): an account's
//! events newest first, for the list endpoint.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::{Item, attr};
use crate::domain::{
    AccountId, ApiKeyHash, ConversionTypeId, EventId, LeadId, Timestamp, WorkflowRunId,
};

/// The index that lists an account's events by conversion time.
pub(super) const EVENTS_BY_CONVERTED_AT: &str = "events_by_converted_at";

pub(super) const API_KEY_SK: &str = "APIKEY";
pub(super) const ACCOUNT_SK: &str = "ACCOUNT";

pub(super) fn api_key_pk(key: &ApiKeyHash) -> String {
    format!("APIKEY#{}", key.as_str())
}

pub(super) fn account_pk(account: AccountId) -> String {
    format!("ACCOUNT#{account}")
}

pub(super) fn conversion_type_sk(id: ConversionTypeId) -> String {
    format!("CONVERSION_TYPE#{id}")
}

pub(super) fn lead_sk(id: LeadId) -> String {
    format!("LEAD#{id}")
}

pub(super) fn workflow_run_sk(id: WorkflowRunId) -> String {
    format!("WORKFLOW_RUN#{id}")
}

pub(super) fn event_sk(id: EventId) -> String {
    format!("CONVERSION_EVENT#{id}")
}

/// The index sort key of an event: its conversion time in a fixed-width form whose text order
/// is time order, then its id to break ties.
pub(super) fn converted_sk(converted_at: Timestamp, id: EventId) -> String {
    format!("{}#{id}", converted_at.sortable())
}

/// The primary key of a record of an account.
pub(super) fn key(account: AccountId, sk: String) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), AttributeValue::S(account_pk(account))),
        (attr::SK.to_owned(), AttributeValue::S(sk)),
    ])
}

/// The primary key of an API key's record.
pub(super) fn api_key(key: &ApiKeyHash) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), AttributeValue::S(api_key_pk(key))),
        (
            attr::SK.to_owned(),
            AttributeValue::S(API_KEY_SK.to_owned()),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_of_an_account_shares_the_account_partition() {
        let account = AccountId::random();
        let pk = account_pk(account);
        assert_eq!(
            key(account, lead_sk(LeadId::random()))[attr::PK],
            AttributeValue::S(pk.clone())
        );
        assert!(pk.starts_with("ACCOUNT#") && pk.ends_with(&account.to_string()));
    }

    #[test]
    fn the_index_sort_key_orders_like_conversion_time_then_id() {
        let id = EventId::random();
        let earlier = converted_sk(Timestamp::parse("2026-01-28T09:59:59.9Z").unwrap(), id);
        let later = converted_sk(Timestamp::parse("2026-01-28T10:00:00Z").unwrap(), id);
        assert!(earlier < later);
        assert!(later.ends_with(&format!("#{id}")));
    }
}
