//! Records as DynamoDB items and back, attribute names defined once in [`attr`]. Over 400 lines on
//! purpose: each layout sits by its reading, so a format change (and `format` bump) is in one file.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Display;

use aws_sdk_dynamodb::types::AttributeValue;

use super::keys;
use crate::domain::{
    Account, AccountId, Adjustment, AdjustmentId, AdjustmentKind, Amount, ApiKeyHash, ApiKeyRecord,
    Category, ChangeKind, ChangeRecord, ConversionEvent, ConversionType, ConversionTypeId,
    Currency, EventId, FieldDefinition, FieldType, Lead, LeadId, MasterWorkflowId, Metadata, Notes,
    Reason, Scope, Sha256Hex, Subject, Timestamp, WorkflowId, WorkflowRun, WorkflowRunId,
    WriteToken,
};
use crate::store::{AdjustmentClaim, KeyHolder, NewEvent, Record, StoreError, StoredEvent};

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const CONVERTED_SK: &str = "converted_sk";
    pub const LEAD_KEY: &str = "lead_key";
    pub const ENTITY: &str = "entity";
    pub const FORMAT: &str = "format";
    pub const ID: &str = "id";
    pub const NAME: &str = "name";
    pub const CREATED_AT: &str = "created_at";
    pub const ACCOUNT_ID: &str = "account_id";
    pub const STATUS: &str = "status";
    pub const REVOKED_AT: &str = "revoked_at";
    /// An account's listing of one of its API keys holds the key's hash.
    pub const KEY_HASH: &str = "key_hash";
    pub const DESCRIPTION: &str = "description";
    pub const CATEGORY: &str = "category";
    pub const CURRENCY: &str = "currency";
    pub const FIELDS: &str = "fields";
    pub const FIELD_KEY: &str = "key";
    pub const FIELD_LABEL: &str = "label";
    pub const FIELD_TYPE: &str = "type";
    pub const ACTIVE: &str = "active";
    pub const WORKFLOW_ID: &str = "workflow_id";
    pub const MASTER_WORKFLOW_ID: &str = "master_workflow_id";
    pub const LEAD_ID: &str = "lead_id";
    pub const CONVERSION_TYPE_ID: &str = "conversion_type_id";
    pub const WORKFLOW_RUN_ID: &str = "workflow_run_id";
    /// A DynamoDB number, for sums and filters.
    pub const AMOUNT: &str = "amount";
    /// The amount's digits as sent (DynamoDB normalises numbers: `85000.00` reads back `85000`).
    pub const AMOUNT_TEXT: &str = "amount_text";
    pub const METADATA: &str = "metadata";
    pub const NOTES: &str = "notes";
    pub const CONVERTED_AT: &str = "converted_at";
    /// When DynamoDB's time to live deletes the event (seconds since the epoch), if ever.
    pub const EXPIRES_AT: &str = "expires_at";
    pub const WRITE_TOKEN: &str = "write_token";
    /// An event's adjustments, a list of maps, oldest first; absent until the first.
    pub const ADJUSTMENTS: &str = "adjustments";
    /// How many: the condition that applies adjustments one after the other.
    pub const ADJUSTMENT_COUNT: &str = "adjustment_count";
    pub const ADJUSTMENT_TYPE: &str = "type";
    pub const REASON: &str = "reason";
    pub const ADJUSTED_AT: &str = "adjusted_at";
    /// An adjustment key's claim: the event adjusted, and the SHA-256 of the request.
    pub const EVENT_ID: &str = "event_id";
    pub const REQUEST_DIGEST: &str = "request_digest";
    /// A change's kind (`conversion.created`, ...).
    pub const CHANGE_TYPE: &str = "type";
}

/// A later layout writes 2 and still reads 1, as does an item without the attribute.
pub(super) const FORMAT: u32 = 1;

pub(super) mod entity {
    pub const ACCOUNT: &str = "account";
    pub const API_KEY: &str = "api_key";
    pub const API_KEY_ENTRY: &str = "api_key_entry";
    pub const CONVERSION_TYPE: &str = "conversion_type";
    pub const LEAD: &str = "lead";
    pub const WORKFLOW_RUN: &str = "workflow_run";
    pub const CONVERSION_EVENT: &str = "conversion_event";
    /// At an event's key, held by an adjustment's `Idempotency-Key` (one key space).
    pub const ADJUSTMENT_KEY: &str = "adjustment_key";
    /// A change of the account's feed, in its partition (`CHANGE#<recorded_at>#<id>`).
    pub const CHANGE: &str = "change";
}

pub(super) mod status {
    pub const ACTIVE: &str = "active";
    pub const REVOKED: &str = "revoked";
}

pub(super) fn string(value: impl Display) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

struct Writer(Item);

impl Writer {
    fn new(key: Item, entity: &str) -> Self {
        Self(key)
            .text(attr::ENTITY, entity)
            .set(attr::FORMAT, AttributeValue::N(FORMAT.to_string()))
    }

    /// Sets the attribute; a `None` sets nothing.
    fn set(mut self, name: &str, value: impl Into<Option<AttributeValue>>) -> Self {
        if let Some(value) = value.into() {
            self.0.insert(name.to_owned(), value);
        }
        self
    }

    fn text(self, name: &str, value: impl Display) -> Self {
        self.set(name, string(value))
    }

    fn optional(self, name: &str, value: Option<impl Display>) -> Self {
        self.set(name, value.map(string))
    }

    fn build(self) -> Item {
        self.0
    }
}

/// Anything that cannot mean anything is [`StoreError::Corrupt`], named by the item's key.
pub(super) struct Reader<'a>(pub &'a Item);

impl<'a> Reader<'a> {
    pub fn corrupt(&self, reason: impl Into<String>) -> StoreError {
        let part = |name| {
            self.0
                .get(name)
                .and_then(|v| v.as_s().ok())
                .map_or("?", String::as_str)
        };
        StoreError::Corrupt {
            key: format!("{}/{}", part(attr::PK), part(attr::SK)),
            reason: reason.into(),
        }
    }

    pub fn string(&self, name: &str) -> Result<&'a str, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::S(text)) => Ok(text),
            _ => Err(self.corrupt(format!("{name} is missing or not a string"))),
        }
    }

    pub fn parse<T, E: Display>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        parse(self.string(name)?).map_err(|e| self.corrupt(format!("{name}: {e}")))
    }

    pub fn optional<T, E: Display>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<Option<T>, StoreError> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.parse(name, parse).map(Some),
        }
    }

    fn boolean(&self, name: &str) -> Result<bool, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::Bool(value)) => Ok(*value),
            _ => Err(self.corrupt(format!("{name} is not a boolean"))),
        }
    }
}

pub(super) fn record_item(record: &Record) -> Item {
    match record {
        Record::Account(account) => account_item(account),
        Record::ConversionType(account, t) => conversion_type_item(*account, t),
        Record::Lead(account, lead) => lead_item(*account, lead),
        Record::WorkflowRun(account, run) => workflow_run_item(*account, run),
    }
}

/// The item of a record of the same kind as `like`, in the same account.
pub(super) fn record_from(like: &Record, item: &Item) -> Result<Record, StoreError> {
    Ok(match like {
        Record::Account(_) => Record::Account(account_from(item)?),
        Record::ConversionType(account, _) => {
            Record::ConversionType(*account, conversion_type_from(item)?)
        }
        Record::Lead(account, _) => Record::Lead(*account, lead_from(item)?),
        Record::WorkflowRun(account, _) => Record::WorkflowRun(*account, workflow_run_from(item)?),
    })
}

pub(super) fn account_item(account: &Account) -> Item {
    let key = keys::key(account.id, keys::ACCOUNT_SK.to_owned());
    Writer::new(key, entity::ACCOUNT)
        .text(attr::ID, account.id)
        .text(attr::NAME, &account.name)
        .text(attr::CREATED_AT, account.created_at)
        .build()
}

pub(super) fn account_from(item: &Item) -> Result<Account, StoreError> {
    let r = Reader(item);
    Ok(Account {
        id: r.parse(attr::ID, AccountId::parse)?,
        name: r.string(attr::NAME)?.to_owned(),
        created_at: r.parse(attr::CREATED_AT, Timestamp::from_stored)?,
    })
}

pub(super) fn api_key_item(key: &ApiKeyHash, account: AccountId, created_at: Timestamp) -> Item {
    active_key(keys::api_key(key), entity::API_KEY, account, created_at).build()
}

pub(super) fn api_key_entry_item(
    key: &ApiKeyHash,
    account: AccountId,
    created_at: Timestamp,
) -> Item {
    let listing = keys::api_key_entry(account, key);
    active_key(listing, entity::API_KEY_ENTRY, account, created_at)
        .text(attr::KEY_HASH, key.as_str())
        .build()
}

/// What both records of a new key hold.
fn active_key(key: Item, entity: &str, account: AccountId, created_at: Timestamp) -> Writer {
    Writer::new(key, entity)
        .text(attr::ACCOUNT_ID, account)
        .text(attr::STATUS, status::ACTIVE)
        .text(attr::CREATED_AT, created_at)
}

/// Either record of a key: under its hash (in the key), or listed under its account (`key_hash`).
pub(super) fn api_key_record_from(item: &Item) -> Result<ApiKeyRecord, StoreError> {
    let r = Reader(item);
    let hash = match item.get(attr::KEY_HASH) {
        Some(_) => r.parse(attr::KEY_HASH, |t| {
            ApiKeyHash::parse(t).ok_or("not a SHA-256")
        })?,
        None => r.parse(attr::PK, |t| {
            t.strip_prefix("APIKEY#")
                .and_then(ApiKeyHash::parse)
                .ok_or("not an API key's key")
        })?,
    };
    Ok(ApiKeyRecord {
        hash,
        account: r.parse(attr::ACCOUNT_ID, AccountId::parse)?,
        active: r.string(attr::STATUS)? == status::ACTIVE,
        created_at: r.parse(attr::CREATED_AT, Timestamp::from_stored)?,
        revoked_at: r.optional(attr::REVOKED_AT, Timestamp::from_stored)?,
    })
}

pub(super) fn active_key_account(item: &Item) -> Result<Option<AccountId>, StoreError> {
    let r = Reader(item);
    if r.string(attr::STATUS)? != status::ACTIVE {
        return Ok(None);
    }
    r.parse(attr::ACCOUNT_ID, AccountId::parse).map(Some)
}

pub(super) fn conversion_type_item(account: AccountId, t: &ConversionType) -> Item {
    let fields = t.fields.iter().map(|f| {
        AttributeValue::M(HashMap::from([
            (attr::FIELD_KEY.to_owned(), string(&f.key)),
            (attr::FIELD_LABEL.to_owned(), string(&f.label)),
            (attr::FIELD_TYPE.to_owned(), string(f.field_type.as_str())),
        ]))
    });
    let key = keys::key(account, keys::conversion_type_sk(t.id));
    Writer::new(key, entity::CONVERSION_TYPE)
        .text(attr::ID, t.id)
        .text(attr::NAME, &t.name)
        .optional(attr::DESCRIPTION, t.description.as_ref())
        .text(attr::CATEGORY, t.category.as_str())
        .text(attr::CURRENCY, t.currency)
        .set(attr::FIELDS, AttributeValue::L(fields.collect()))
        .optional(attr::WORKFLOW_ID, t.scope.workflow_id())
        .optional(attr::MASTER_WORKFLOW_ID, t.scope.master_workflow_id())
        .set(attr::ACTIVE, AttributeValue::Bool(t.active))
        .text(attr::CREATED_AT, t.created_at)
        .build()
}

pub(super) fn conversion_type_from(item: &Item) -> Result<ConversionType, StoreError> {
    let r = Reader(item);
    let scope = match (
        r.optional(attr::WORKFLOW_ID, WorkflowId::parse)?,
        r.optional(attr::MASTER_WORKFLOW_ID, MasterWorkflowId::parse)?,
    ) {
        (Some(workflow), None) => Scope::Workflow(workflow),
        (None, Some(master)) => Scope::MasterWorkflow(master),
        _ => {
            return Err(r.corrupt(format!(
                "needs exactly one of {} and {}",
                attr::WORKFLOW_ID,
                attr::MASTER_WORKFLOW_ID
            )));
        }
    };
    let fields = match item.get(attr::FIELDS) {
        None => Vec::new(),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|field| match field {
                AttributeValue::M(field) => {
                    let f = Reader(field);
                    Ok(FieldDefinition {
                        key: f.string(attr::FIELD_KEY)?.to_owned(),
                        label: f.string(attr::FIELD_LABEL)?.to_owned(),
                        field_type: FieldType::from_stored(f.string(attr::FIELD_TYPE)?),
                    })
                }
                _ => Err(r.corrupt("a field definition is not a map")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(r.corrupt(format!("{} is not a list", attr::FIELDS))),
    };
    Ok(ConversionType {
        id: r.parse(attr::ID, ConversionTypeId::parse)?,
        name: r.string(attr::NAME)?.to_owned(),
        description: r.optional(attr::DESCRIPTION, |t| Ok::<_, Infallible>(t.to_owned()))?,
        category: r.parse(attr::CATEGORY, str::parse::<Category>)?,
        currency: r.parse(attr::CURRENCY, Currency::parse)?,
        fields,
        scope,
        active: r.boolean(attr::ACTIVE)?,
        created_at: r.parse(attr::CREATED_AT, Timestamp::from_stored)?,
    })
}

pub(super) fn lead_item(account: AccountId, lead: &Lead) -> Item {
    Writer::new(keys::key(account, keys::lead_sk(lead.id)), entity::LEAD)
        .text(attr::ID, lead.id)
        .text(attr::CREATED_AT, lead.created_at)
        .build()
}

pub(super) fn lead_from(item: &Item) -> Result<Lead, StoreError> {
    let r = Reader(item);
    Ok(Lead {
        id: r.parse(attr::ID, LeadId::parse)?,
        created_at: r.parse(attr::CREATED_AT, Timestamp::from_stored)?,
    })
}

pub(super) fn workflow_run_item(account: AccountId, run: &WorkflowRun) -> Item {
    let key = keys::key(account, keys::workflow_run_sk(run.id));
    Writer::new(key, entity::WORKFLOW_RUN)
        .text(attr::ID, run.id)
        .text(attr::LEAD_ID, run.lead_id)
        .text(attr::WORKFLOW_ID, run.workflow_id)
        .optional(attr::MASTER_WORKFLOW_ID, run.master_workflow_id)
        .text(attr::CREATED_AT, run.created_at)
        .build()
}

pub(super) fn workflow_run_from(item: &Item) -> Result<WorkflowRun, StoreError> {
    let r = Reader(item);
    Ok(WorkflowRun {
        id: r.parse(attr::ID, WorkflowRunId::parse)?,
        lead_id: r.parse(attr::LEAD_ID, LeadId::parse)?,
        workflow_id: r.parse(attr::WORKFLOW_ID, WorkflowId::parse)?,
        master_workflow_id: r.optional(attr::MASTER_WORKFLOW_ID, MasterWorkflowId::parse)?,
        created_at: r.parse(attr::CREATED_AT, Timestamp::from_stored)?,
    })
}

/// `retention_days` after an event was recorded, DynamoDB deletes it (and what holds its keys).
fn expires_at(created_at: Timestamp, retention_days: Option<u32>) -> Option<AttributeValue> {
    retention_days.map(|days| {
        let at = created_at.as_datetime().timestamp() + i64::from(days) * 86_400;
        AttributeValue::N(at.to_string())
    })
}

pub(super) fn event_item(
    account: AccountId,
    new: &NewEvent<'_>,
    retention_days: Option<u32>,
) -> Item {
    let e = new.event;
    let expires_at = expires_at(e.created_at, retention_days);
    Writer::new(
        keys::key(account, keys::event_sk(e.id)),
        entity::CONVERSION_EVENT,
    )
    .text(attr::CONVERTED_SK, keys::converted_sk(e.converted_at, e.id))
    .text(attr::LEAD_KEY, keys::lead_key(account, e.lead_id))
    .text(attr::ID, e.id)
    .text(attr::CONVERSION_TYPE_ID, e.conversion_type_id)
    .text(attr::LEAD_ID, e.lead_id)
    .optional(attr::WORKFLOW_ID, e.workflow_id)
    .optional(attr::MASTER_WORKFLOW_ID, e.master_workflow_id)
    .optional(attr::WORKFLOW_RUN_ID, e.workflow_run_id)
    .set(attr::AMOUNT, AttributeValue::N(e.amount.to_string()))
    .text(attr::AMOUNT_TEXT, e.amount)
    .text(attr::CURRENCY, e.currency)
    // JSON text: any number comes back exactly as sent, unlike DynamoDB's (38 digits, normalised).
    .text(attr::METADATA, e.metadata.to_json())
    .optional(attr::NOTES, e.notes.as_ref())
    .text(attr::CONVERTED_AT, e.converted_at.sortable())
    .text(attr::CREATED_AT, e.created_at.sortable())
    .text(attr::WRITE_TOKEN, new.write_token)
    .set(attr::EXPIRES_AT, expires_at)
    .build()
}

pub(super) fn stored_event_from(item: &Item) -> Result<StoredEvent, StoreError> {
    let r = Reader(item);
    Ok(StoredEvent {
        event: event_from(item)?,
        write_token: r.optional(attr::WRITE_TOKEN, |t| {
            WriteToken::parse(t).ok_or("not a UUID")
        })?,
        adjustments: match item.get(attr::ADJUSTMENTS) {
            None => Vec::new(),
            Some(AttributeValue::L(list)) => list
                .iter()
                .map(|value| match value {
                    AttributeValue::M(map) => adjustment_from(map).map_err(|e| r.corrupt(e)),
                    _ => Err(r.corrupt("an adjustment is not a map")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(r.corrupt("adjustments is not a list")),
        },
    })
}

/// One adjustment in an event's list.
pub(super) fn adjustment_value(a: &Adjustment) -> AttributeValue {
    let map = Writer(Item::new())
        .text(attr::ID, a.id)
        .text(attr::ADJUSTMENT_TYPE, a.kind.as_str())
        .optional(attr::AMOUNT_TEXT, a.amount)
        .optional(attr::REASON, a.reason.as_ref().map(Reason::as_str))
        .text(attr::ADJUSTED_AT, a.adjusted_at.sortable())
        .text(attr::CREATED_AT, a.created_at.sortable())
        .build();
    AttributeValue::M(map)
}

fn adjustment_from(map: &Item) -> Result<Adjustment, String> {
    let r = Reader(map);
    let read = || -> Result<Adjustment, StoreError> {
        Ok(Adjustment {
            id: r.parse(attr::ID, AdjustmentId::parse)?,
            kind: r.parse(attr::ADJUSTMENT_TYPE, |t| {
                AdjustmentKind::parse(t).ok_or("not retraction or restatement")
            })?,
            amount: r.optional(attr::AMOUNT_TEXT, Amount::from_stored)?,
            reason: r.optional(attr::REASON, |t| {
                Ok::<_, Infallible>(Reason::from_stored(t))
            })?,
            adjusted_at: r.parse(attr::ADJUSTED_AT, Timestamp::from_stored)?,
            created_at: r.parse(attr::CREATED_AT, Timestamp::from_stored)?,
        })
    };
    read().map_err(|e| match e {
        StoreError::Corrupt { reason, .. } => format!("an adjustment: {reason}"),
        other => other.to_string(),
    })
}

/// An adjustment's hold on its key, at the key's event id; it expires with the event adjusted.
pub(super) fn claim_item(
    account: AccountId,
    key: EventId,
    claim: &AdjustmentClaim,
    expires: Option<AttributeValue>,
) -> Item {
    Writer::new(
        keys::key(account, keys::event_sk(key)),
        entity::ADJUSTMENT_KEY,
    )
    .text(attr::ID, key)
    .text(attr::EVENT_ID, claim.event)
    .text(attr::REQUEST_DIGEST, claim.request.as_str())
    .set(attr::EXPIRES_AT, expires)
    .build()
}

pub(super) fn claim_expiry(
    event_created_at: Timestamp,
    retention_days: Option<u32>,
) -> Option<AttributeValue> {
    expires_at(event_created_at, retention_days)
}

/// What an item at an event's key is: an event, or an adjustment key's claim.
pub(super) fn key_holder_from(item: &Item) -> Result<KeyHolder, StoreError> {
    let r = Reader(item);
    if r.string(attr::ENTITY)? != entity::ADJUSTMENT_KEY {
        return Ok(KeyHolder::Event);
    }
    Ok(KeyHolder::Adjustment(AdjustmentClaim {
        event: r.parse(attr::EVENT_ID, EventId::parse)?,
        request: r.parse(attr::REQUEST_DIGEST, |t| {
            Sha256Hex::parse(t).ok_or("not a digest")
        })?,
    }))
}

fn event_from(item: &Item) -> Result<ConversionEvent, StoreError> {
    let r = Reader(item);
    Ok(ConversionEvent {
        id: r.parse(attr::ID, EventId::parse)?,
        conversion_type_id: r.parse(attr::CONVERSION_TYPE_ID, ConversionTypeId::parse)?,
        lead_id: r.parse(attr::LEAD_ID, LeadId::parse)?,
        workflow_id: r.optional(attr::WORKFLOW_ID, WorkflowId::parse)?,
        master_workflow_id: r.optional(attr::MASTER_WORKFLOW_ID, MasterWorkflowId::parse)?,
        workflow_run_id: r.optional(attr::WORKFLOW_RUN_ID, WorkflowRunId::parse)?,
        amount: r.parse(attr::AMOUNT_TEXT, Amount::from_stored)?,
        currency: r.parse(attr::CURRENCY, Currency::parse)?,
        metadata: r.parse(attr::METADATA, Metadata::from_json)?,
        notes: r.optional(attr::NOTES, |text| {
            Ok::<_, Infallible>(Notes::from_stored(text.to_owned()))
        })?,
        converted_at: r.parse(attr::CONVERTED_AT, Timestamp::from_stored)?,
        created_at: r.parse(attr::CREATED_AT, Timestamp::from_stored)?,
    })
}

/// A change, expiring when what it announces does (`from`: the event's creation, or the
/// erasure's instant).
pub(super) fn change_item(
    account: AccountId,
    change: &ChangeRecord,
    from: Timestamp,
    retention_days: Option<u32>,
) -> Item {
    let key = keys::key(account, keys::change_sk(change.position));
    let writer = Writer::new(key, entity::CHANGE).text(attr::CHANGE_TYPE, change.kind.as_str());
    match change.subject {
        Subject::Event(id) => writer.text(attr::EVENT_ID, id),
        Subject::Lead(id) => writer.text(attr::LEAD_ID, id),
    }
    .set(attr::EXPIRES_AT, expires_at(from, retention_days))
    .build()
}

pub(super) fn change_from(item: &Item) -> Result<ChangeRecord, StoreError> {
    let r = Reader(item);
    let position = r.parse(attr::SK, |sk| {
        sk.strip_prefix(keys::CHANGE_SK_PREFIX)
            .and_then(|p| p.parse().ok())
            .ok_or("not a change's sort key")
    })?;
    let kind = r.parse(attr::CHANGE_TYPE, |t| {
        ChangeKind::parse(t).ok_or("not a change type")
    })?;
    let subject = match kind {
        ChangeKind::LeadErased => Subject::Lead(r.parse(attr::LEAD_ID, LeadId::parse)?),
        _ => Subject::Event(r.parse(attr::EVENT_ID, EventId::parse)?),
    };
    Ok(ChangeRecord {
        position,
        kind,
        subject,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_item_round_trips_exactly() {
        let event = ConversionEvent {
            id: EventId::random(),
            conversion_type_id: ConversionTypeId::random(),
            lead_id: LeadId::random(),
            workflow_id: Some(WorkflowId::random()),
            master_workflow_id: None,
            workflow_run_id: Some(WorkflowRunId::random()),
            amount: Amount::parse_json_number("85000.00").unwrap(),
            currency: Currency::parse("USD").unwrap(),
            metadata: Metadata::from_json(r#"{"commission":2500.50,"broker":"John"}"#).unwrap(),
            notes: Some(Notes::parse("cash".into()).unwrap()),
            converted_at: Timestamp::parse("2026-01-28T10:00:00Z").unwrap(),
            created_at: Timestamp::parse("2026-02-01T15:30:00.123Z").unwrap(),
        };
        let token = WriteToken::random();
        let new = NewEvent {
            event: &event,
            write_token: token,
        };
        let item = event_item(AccountId::random(), &new, None);
        assert!(!item.contains_key(attr::EXPIRES_AT));
        let kept_30_days = event_item(AccountId::random(), &new, Some(30));
        assert_eq!(
            kept_30_days[attr::EXPIRES_AT],
            AttributeValue::N(
                (event.created_at.as_datetime().timestamp() + 30 * 86_400).to_string()
            )
        );
        assert_eq!(item[attr::AMOUNT], AttributeValue::N("85000.00".into()));
        let stored = stored_event_from(&item).unwrap();
        assert_eq!(stored.event, event);
        assert_eq!(stored.write_token, Some(token));
    }

    #[test]
    fn every_record_round_trips_through_its_item() {
        let demo = crate::seed::demo();
        let account = demo.account.id;
        assert_eq!(
            account_from(&account_item(&demo.account)).unwrap(),
            demo.account
        );
        assert_eq!(
            conversion_type_from(&conversion_type_item(account, &demo.conversion_type)).unwrap(),
            demo.conversion_type
        );
        assert_eq!(
            lead_from(&lead_item(account, &demo.lead)).unwrap(),
            demo.lead
        );
        assert_eq!(
            workflow_run_from(&workflow_run_item(account, &demo.workflow_run)).unwrap(),
            demo.workflow_run
        );
        let key = api_key_item(&demo.api_key.hash(), account, Timestamp::now());
        assert_eq!(active_key_account(&key).unwrap(), Some(account));
    }

    #[test]
    fn a_field_type_this_version_does_not_know_is_kept_not_corrupt() {
        let demo = crate::seed::demo();
        let mut item = conversion_type_item(demo.account.id, &demo.conversion_type);
        let Some(AttributeValue::L(fields)) = item.get_mut(attr::FIELDS) else {
            panic!("fields is a list");
        };
        fields.push(AttributeValue::M(HashMap::from([
            (attr::FIELD_KEY.to_owned(), string("closing_date")),
            (attr::FIELD_LABEL.to_owned(), string("Closing date")),
            (attr::FIELD_TYPE.to_owned(), string("date")),
        ])));
        let read = conversion_type_from(&item).unwrap();
        assert_eq!(
            read.fields.last().unwrap().field_type,
            FieldType::Other("date".into())
        );
    }

    #[test]
    fn a_malformed_item_is_reported_with_its_key() {
        let mut item = keys::key(AccountId::random(), keys::lead_sk(LeadId::random()));
        item.insert(attr::ID.into(), string("not-a-uuid"));
        let err = lead_from(&item).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { ref key, .. } if key.contains("LEAD#")),
            "{err}"
        );
    }
}
