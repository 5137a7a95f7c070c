//! The key scheme. One table; every record's partition key starts with its account, so an id
//! from another account builds another key and is never found (tenant isolation by
//! construction). API keys are looked up by their hash, before the account is known; each is also
//! listed under its account by its id, so an operator lists and revokes keys without a scan.
//!
//! | record           | pk                    | sk                         |
//! |------------------|-----------------------|----------------------------|
//! | API key          | `APIKEY#<sha256 hex>` | `APIKEY`                   |
//! | account          | `ACCOUNT#<account>`   | `ACCOUNT`                  |
//! | its API keys     | `ACCOUNT#<account>`   | `APIKEY#<key id>`          |
//! | conversion type  | `ACCOUNT#<account>`   | `CONVERSION_TYPE#<id>`     |
//! | lead             | `ACCOUNT#<account>`   | `LEAD#<id>`                |
//! | workflow run     | `ACCOUNT#<account>`   | `WORKFLOW_RUN#<id>`        |
//! | conversion event | `ACCOUNT#<account>`   | `CONVERSION_EVENT#<id>`    |
//! | adjustment key   | `ACCOUNT#<account>`   | `CONVERSION_EVENT#<key's id>` |
//! | feed change      | `ACCOUNT#<account>`   | `CHANGE#<recorded_at>#<id>` |
//!
//! An event holds its adjustments; an adjustment's `Idempotency-Key` is held where a create with
//! that key would write its event, so the two share one key space at no extra read.
//!
//! Events also carry `converted_sk` (`<converted_at, fixed width>#<id>`: text order is list
//! order), the sort key of two sparse GSIs that each hold every event ([`EVENT_INDEXES`]; why
//! two: `docs/architecture.md`):
//!
//! | index               | partition key | value                          | also holds |
//! |---------------------|---------------|--------------------------------|------------|
//! | `events_by_account` | `pk`          | `ACCOUNT#<account>`            | type, workflow, master workflow, created_at |
//! | `events_by_lead`    | `lead_key`    | `ACCOUNT#<account>#LEAD#<id>`  | the same and the run |
//!
//! A list by lead (or by run: a run is one lead's) reads that lead's partition, else the
//! account's. Other filters are checked on the attributes the index holds, within the read bound.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::{Item, attr, string};
use crate::domain::{
    AccountId, ApiKeyHash, ConversionTypeId, EventFilter, EventId, FeedPosition, LeadId, Position,
    Timestamp, WorkflowRunId,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EventIndex {
    pub name: &'static str,
    pub partition: &'static str,
    /// The attributes it holds besides the keys: the filters it can check.
    pub projected: &'static [&'static str],
}

pub(super) const EVENTS_BY_ACCOUNT: EventIndex = EventIndex {
    name: "events_by_account",
    partition: attr::PK,
    projected: &[
        attr::CONVERSION_TYPE_ID,
        attr::WORKFLOW_ID,
        attr::MASTER_WORKFLOW_ID,
        attr::CREATED_AT,
    ],
};

pub(super) const EVENTS_BY_LEAD: EventIndex = EventIndex {
    name: "events_by_lead",
    partition: attr::LEAD_KEY,
    projected: &[
        attr::CONVERSION_TYPE_ID,
        attr::WORKFLOW_ID,
        attr::MASTER_WORKFLOW_ID,
        attr::WORKFLOW_RUN_ID,
        attr::CREATED_AT,
    ],
};

pub(super) const EVENT_INDEXES: [EventIndex; 2] = [EVENTS_BY_ACCOUNT, EVENTS_BY_LEAD];

pub(super) const API_KEY_SK: &str = "APIKEY";
pub(super) const ACCOUNT_SK: &str = "ACCOUNT";

pub(super) fn api_key_pk(key: &ApiKeyHash) -> String {
    format!("APIKEY#{}", key.as_str())
}

pub(super) fn account_pk(account: AccountId) -> String {
    format!("ACCOUNT#{account}")
}

pub(super) const CONVERSION_TYPE_SK_PREFIX: &str = "CONVERSION_TYPE#";
pub(super) const LEAD_SK_PREFIX: &str = "LEAD#";
pub(super) const WORKFLOW_RUN_SK_PREFIX: &str = "WORKFLOW_RUN#";

pub(super) fn conversion_type_sk(id: ConversionTypeId) -> String {
    format!("{CONVERSION_TYPE_SK_PREFIX}{id}")
}

pub(super) fn lead_sk(id: LeadId) -> String {
    format!("{LEAD_SK_PREFIX}{id}")
}

pub(super) fn workflow_run_sk(id: WorkflowRunId) -> String {
    format!("{WORKFLOW_RUN_SK_PREFIX}{id}")
}

pub(super) fn event_sk(id: EventId) -> String {
    format!("CONVERSION_EVENT#{id}")
}

pub(super) const CHANGE_SK_PREFIX: &str = "CHANGE#";

/// In the account's partition, in feed order.
pub(super) fn change_sk(position: FeedPosition) -> String {
    format!("{CHANGE_SK_PREFIX}{position}")
}

/// Above every change recorded before `at`, below every other.
pub(super) fn change_sk_bound(at: Timestamp) -> String {
    format!("{CHANGE_SK_PREFIX}{}", at.sortable())
}

pub(super) fn lead_key(account: AccountId, id: LeadId) -> String {
    format!("{}#LEAD#{id}", account_pk(account))
}

/// For a run, `lead` is the run's lead, which the caller has read.
pub(super) fn index_for(account: AccountId, lead: Option<LeadId>) -> (EventIndex, String) {
    match lead {
        Some(lead) => (EVENTS_BY_LEAD, lead_key(account, lead)),
        None => (EVENTS_BY_ACCOUNT, account_pk(account)),
    }
}

/// All but the lead, which the index's partition guarantees where it is one.
pub(super) fn remaining_conditions(filter: &EventFilter) -> Vec<(&'static str, String)> {
    fn text(id: Option<impl std::fmt::Display>) -> Option<String> {
        id.map(|id| id.to_string())
    }
    [
        (attr::CONVERSION_TYPE_ID, text(filter.conversion_type)),
        (attr::WORKFLOW_ID, text(filter.workflow)),
        (attr::MASTER_WORKFLOW_ID, text(filter.master_workflow)),
        (attr::WORKFLOW_RUN_ID, text(filter.workflow_run)),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| (name, v)))
    .collect()
}

/// Sorts after every `converted_sk` of earlier instants, before every one of this instant.
pub(super) fn converted_sk_bound(at: Timestamp) -> String {
    at.sortable()
}

pub(super) fn position(converted_sk: &str) -> Option<Position> {
    let (at, id) = converted_sk.rsplit_once('#')?;
    Some(Position {
        converted_at: Timestamp::from_stored(at).ok()?,
        id: EventId::parse(id).ok()?,
    })
}

pub(super) fn converted_sk(converted_at: Timestamp, id: EventId) -> String {
    format!("{}#{id}", converted_at.sortable())
}

pub(super) fn key(account: AccountId, sk: String) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), AttributeValue::S(account_pk(account))),
        (attr::SK.to_owned(), AttributeValue::S(sk)),
    ])
}

pub(super) const API_KEY_ENTRY_SK_PREFIX: &str = "APIKEY#";

pub(super) fn api_key_entry(account: AccountId, key: &ApiKeyHash) -> Item {
    self::key(account, format!("{API_KEY_ENTRY_SK_PREFIX}{}", key.id()))
}

pub(super) fn api_key(key: &ApiKeyHash) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), AttributeValue::S(api_key_pk(key))),
        (attr::SK.to_owned(), string(API_KEY_SK)),
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
    fn a_lead_picks_its_partition_and_every_other_filter_is_checked() {
        let account = AccountId::random();
        let lead = LeadId::random();
        let run = WorkflowRunId::random();
        let filter = EventFilter {
            lead: Some(lead),
            workflow_run: Some(run),
            conversion_type: Some(ConversionTypeId::random()),
            ..EventFilter::default()
        };
        assert_eq!(
            index_for(account, Some(lead)),
            (EVENTS_BY_LEAD, lead_key(account, lead))
        );
        assert_eq!(
            index_for(account, None),
            (EVENTS_BY_ACCOUNT, account_pk(account))
        );
        let checked: Vec<&str> = remaining_conditions(&filter)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(checked, [attr::CONVERSION_TYPE_ID, attr::WORKFLOW_RUN_ID]);
        // Every condition is on an attribute both indexes hold, but the run's on the lead's.
        for (name, _) in remaining_conditions(&EventFilter {
            workflow_run: None,
            ..filter
        }) {
            assert!(EVENTS_BY_ACCOUNT.projected.contains(&name), "{name}");
        }
        assert!(EVENTS_BY_LEAD.projected.contains(&attr::WORKFLOW_RUN_ID));
    }

    #[test]
    fn a_position_reads_back_from_its_sort_key() {
        let at = Timestamp::parse("2026-01-28T10:00:00.25Z").unwrap();
        let id = EventId::random();
        let sk = converted_sk(at, id);
        assert_eq!(
            position(&sk),
            Some(Position {
                converted_at: at,
                id
            })
        );
        assert!(converted_sk_bound(at) < sk);
        assert_eq!(position("garbage"), None);
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
