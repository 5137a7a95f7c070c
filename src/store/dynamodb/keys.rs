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
//! Events also carry `converted_sk` = `<converted_at, fixed width>#<id>`, whose text order is
//! list order (newest first when read backwards), and one partition key per list filter. Six
//! sparse global secondary indexes share that sort key ([`EVENT_INDEXES`]); each lists, newest
//! first, the events of one account ([`EVENTS_BY_ACCOUNT`], on `pk`), or of one lead, conversion
//! type, workflow, master workflow or workflow run of an account:
//!
//! | index                       | partition key              | value                                  |
//! |-----------------------------|----------------------------|----------------------------------------|
//! | `events_by_account`         | `pk`                       | `ACCOUNT#<account>`                    |
//! | `events_by_lead`            | `lead_key`                 | `ACCOUNT#<account>#LEAD#<id>`          |
//! | `events_by_conversion_type` | `conversion_type_key`      | `ACCOUNT#<account>#CONVERSION_TYPE#<id>` |
//! | `events_by_workflow`        | `workflow_key`             | `ACCOUNT#<account>#WORKFLOW#<id>`      |
//! | `events_by_master_workflow` | `master_workflow_key`      | `ACCOUNT#<account>#MASTER_WORKFLOW#<id>` |
//! | `events_by_workflow_run`    | `workflow_run_key`         | `ACCOUNT#<account>#WORKFLOW_RUN#<id>`  |
//!
//! The indexes hold keys and the five filter attributes, not whole events: a page reads its
//! events from the table by key, and a count reads only index entries.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::{Item, attr};
use crate::domain::{
    AccountId, ApiKeyHash, ConversionTypeId, EventFilter, EventId, LeadId, MasterWorkflowId,
    Position, Timestamp, WorkflowId, WorkflowRunId,
};

/// A global secondary index listing events by `converted_sk`, under one partition attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EventIndex {
    pub name: &'static str,
    /// The attribute that holds the index's partition key.
    pub partition: &'static str,
    /// Whether the index holds the filter attributes ([`FILTER_ATTRIBUTES`]); the account's
    /// index holds keys only, since a list with a filter uses the filter's own index.
    pub with_filters: bool,
}

/// An account's events.
pub(super) const EVENTS_BY_ACCOUNT: EventIndex = EventIndex {
    name: "events_by_account",
    partition: attr::PK,
    with_filters: false,
};
pub(super) const EVENTS_BY_LEAD: EventIndex = filter_index("events_by_lead", attr::LEAD_KEY);
pub(super) const EVENTS_BY_CONVERSION_TYPE: EventIndex =
    filter_index("events_by_conversion_type", attr::CONVERSION_TYPE_KEY);
pub(super) const EVENTS_BY_WORKFLOW: EventIndex =
    filter_index("events_by_workflow", attr::WORKFLOW_KEY);
pub(super) const EVENTS_BY_MASTER_WORKFLOW: EventIndex =
    filter_index("events_by_master_workflow", attr::MASTER_WORKFLOW_KEY);
pub(super) const EVENTS_BY_WORKFLOW_RUN: EventIndex =
    filter_index("events_by_workflow_run", attr::WORKFLOW_RUN_KEY);

/// Every index of the table.
pub(super) const EVENT_INDEXES: [EventIndex; 6] = [
    EVENTS_BY_ACCOUNT,
    EVENTS_BY_LEAD,
    EVENTS_BY_CONVERSION_TYPE,
    EVENTS_BY_WORKFLOW,
    EVENTS_BY_MASTER_WORKFLOW,
    EVENTS_BY_WORKFLOW_RUN,
];

/// The attributes a filter index carries besides keys, so that a list filtered on two things
/// reads one index and filters on the other.
pub(super) const FILTER_ATTRIBUTES: [&str; 5] = [
    attr::LEAD_ID,
    attr::CONVERSION_TYPE_ID,
    attr::WORKFLOW_ID,
    attr::MASTER_WORKFLOW_ID,
    attr::WORKFLOW_RUN_ID,
];

const fn filter_index(name: &'static str, partition: &'static str) -> EventIndex {
    EventIndex {
        name,
        partition,
        with_filters: true,
    }
}

pub(super) const API_KEY_SK: &str = "APIKEY";
pub(super) const ACCOUNT_SK: &str = "ACCOUNT";

pub(super) fn api_key_pk(key: &ApiKeyHash) -> String {
    format!("APIKEY#{}", key.as_str())
}

pub(super) fn account_pk(account: AccountId) -> String {
    format!("ACCOUNT#{account}")
}

/// The account of an account partition key.
pub(super) fn account_of(pk: &str) -> Option<AccountId> {
    AccountId::parse(pk.strip_prefix("ACCOUNT#")?).ok()
}

/// What the sort key of every conversion type starts with.
pub(super) const CONVERSION_TYPE_SK_PREFIX: &str = "CONVERSION_TYPE#";

pub(super) fn conversion_type_sk(id: ConversionTypeId) -> String {
    format!("{CONVERSION_TYPE_SK_PREFIX}{id}")
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

/// The partition key of an account's events with one lead (likewise the functions below).
pub(super) fn lead_key(account: AccountId, id: LeadId) -> String {
    format!("{}#LEAD#{id}", account_pk(account))
}

pub(super) fn conversion_type_key(account: AccountId, id: ConversionTypeId) -> String {
    format!("{}#CONVERSION_TYPE#{id}", account_pk(account))
}

pub(super) fn workflow_key(account: AccountId, id: WorkflowId) -> String {
    format!("{}#WORKFLOW#{id}", account_pk(account))
}

pub(super) fn master_workflow_key(account: AccountId, id: MasterWorkflowId) -> String {
    format!("{}#MASTER_WORKFLOW#{id}", account_pk(account))
}

pub(super) fn workflow_run_key(account: AccountId, id: WorkflowRunId) -> String {
    format!("{}#WORKFLOW_RUN#{id}", account_pk(account))
}

/// The index and partition that reach a filter's events most directly: the narrowest filter
/// given (a run, then a lead, a conversion type, a workflow, a master workflow), else the whole
/// account. The other filters are applied to what that partition holds.
pub(super) fn index_for(account: AccountId, filter: &EventFilter) -> (EventIndex, String) {
    if let Some(id) = filter.workflow_run {
        (EVENTS_BY_WORKFLOW_RUN, workflow_run_key(account, id))
    } else if let Some(id) = filter.lead {
        (EVENTS_BY_LEAD, lead_key(account, id))
    } else if let Some(id) = filter.conversion_type {
        (EVENTS_BY_CONVERSION_TYPE, conversion_type_key(account, id))
    } else if let Some(id) = filter.workflow {
        (EVENTS_BY_WORKFLOW, workflow_key(account, id))
    } else if let Some(id) = filter.master_workflow {
        (EVENTS_BY_MASTER_WORKFLOW, master_workflow_key(account, id))
    } else {
        (EVENTS_BY_ACCOUNT, account_pk(account))
    }
}

/// The conditions of a filter on the filter attributes, as (attribute, value): the ones its
/// index partition does not already guarantee.
pub(super) fn remaining_conditions(
    index: EventIndex,
    filter: &EventFilter,
) -> Vec<(&'static str, String)> {
    let all = [
        (
            EVENTS_BY_WORKFLOW_RUN,
            attr::WORKFLOW_RUN_ID,
            filter.workflow_run.map(|id| id.to_string()),
        ),
        (
            EVENTS_BY_LEAD,
            attr::LEAD_ID,
            filter.lead.map(|id| id.to_string()),
        ),
        (
            EVENTS_BY_CONVERSION_TYPE,
            attr::CONVERSION_TYPE_ID,
            filter.conversion_type.map(|id| id.to_string()),
        ),
        (
            EVENTS_BY_WORKFLOW,
            attr::WORKFLOW_ID,
            filter.workflow.map(|id| id.to_string()),
        ),
        (
            EVENTS_BY_MASTER_WORKFLOW,
            attr::MASTER_WORKFLOW_ID,
            filter.master_workflow.map(|id| id.to_string()),
        ),
    ];
    all.into_iter()
        .filter(|(by, _, _)| *by != index)
        .filter_map(|(_, name, value)| value.map(|v| (name, v)))
        .collect()
}

/// The lowest `converted_sk` of an instant's events: every one of them sorts after it, every
/// earlier instant's before it.
pub(super) fn converted_sk_bound(at: Timestamp) -> String {
    at.sortable()
}

/// The list position of an index entry's `converted_sk`.
pub(super) fn position(converted_sk: &str) -> Option<Position> {
    let (at, id) = converted_sk.rsplit_once('#')?;
    Some(Position {
        converted_at: Timestamp::from_stored(at).ok()?,
        id: EventId::parse(id).ok()?,
    })
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
    fn the_narrowest_filter_picks_the_index_and_the_others_are_filtered() {
        let account = AccountId::random();
        let lead = LeadId::random();
        let run = WorkflowRunId::random();
        let workflow = WorkflowId::random();
        let filter = EventFilter {
            lead: Some(lead),
            workflow_run: Some(run),
            workflow: Some(workflow),
            ..EventFilter::default()
        };
        let (index, partition) = index_for(account, &filter);
        assert_eq!(index, EVENTS_BY_WORKFLOW_RUN);
        assert_eq!(partition, workflow_run_key(account, run));
        assert_eq!(
            remaining_conditions(index, &filter),
            vec![
                (attr::LEAD_ID, lead.to_string()),
                (attr::WORKFLOW_ID, workflow.to_string())
            ]
        );
        let (index, partition) = index_for(account, &EventFilter::default());
        assert_eq!((index, partition), (EVENTS_BY_ACCOUNT, account_pk(account)));
        let only_master = EventFilter {
            master_workflow: Some(MasterWorkflowId::random()),
            ..EventFilter::default()
        };
        assert_eq!(
            index_for(account, &only_master).0,
            EVENTS_BY_MASTER_WORKFLOW
        );
        assert!(remaining_conditions(EVENTS_BY_MASTER_WORKFLOW, &only_master).is_empty());
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
