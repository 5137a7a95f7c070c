//! The table's DynamoDB stream, as Lambda delivers it, read into changes: an event's insert is
//! its create, an event's update appends adjustments, a `lead.erased` change's insert is the
//! erasure. The images are the items as written, so what they announce has landed (no wait, no
//! read). Everything else (claims, records, deletions, other changes) announces nothing.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::item::{self, Item, Reader, attr, entity};
use crate::domain::{AccountId, ChangeKind, ChangeRecord};
use crate::store::{StoreError, StoredEvent};

/// One record of the stream: its sequence number (by which Lambda resumes) and the changes it
/// shows, each with its account and the event as the write left it.
#[derive(Debug)]
pub struct StreamRecord {
    pub sequence: String,
    pub changes: Result<Vec<StreamedChange>, StoreError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamedChange {
    pub account: AccountId,
    pub record: ChangeRecord,
    pub event: Option<StoredEvent>,
}

/// The records of a Lambda DynamoDB stream event (`{"Records": [...]}`), in order. A record that
/// cannot be read is kept, with its error, so that the batch stops there.
pub fn stream_records(event: &Value) -> Vec<StreamRecord> {
    let records = event["Records"].as_array().map_or(&[][..], Vec::as_slice);
    records
        .iter()
        .map(|record| StreamRecord {
            sequence: record["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            changes: changes_of(record),
        })
        .collect()
}

/// Whether the event is a DynamoDB stream's: `Records` from `aws:dynamodb`.
pub fn is_stream_event(event: &Value) -> bool {
    event["Records"]
        .as_array()
        .and_then(|records| records.first())
        .is_some_and(|first| first["eventSource"] == "aws:dynamodb")
}

fn changes_of(record: &Value) -> Result<Vec<StreamedChange>, StoreError> {
    let image = |name: &str| match &record["dynamodb"][name] {
        Value::Null => Ok(None),
        value => item_of(value).map(Some),
    };
    let Some(new) = image("NewImage")? else {
        return Ok(Vec::new());
    };
    let r = Reader(&new);
    let account = r.parse(attr::PK, |pk| {
        pk.strip_prefix("ACCOUNT#")
            .and_then(|id| AccountId::parse(id).ok())
            .ok_or("not an account's partition")
    });
    let inserted = record["eventName"] == "INSERT";
    match new
        .get(attr::ENTITY)
        .and_then(|e| e.as_s().ok())
        .map(String::as_str)
    {
        Some(entity::CONVERSION_EVENT) => {
            let stored = item::stored_event_from(&new)?;
            let event = stored.event.id;
            let records: Vec<ChangeRecord> = if inserted {
                let token = stored
                    .write_token
                    .ok_or_else(|| r.corrupt("no write token"))?;
                vec![ChangeRecord::created(event, stored.event.created_at, token)]
            } else {
                let before = match image("OldImage")? {
                    Some(old) => item::stored_event_from(&old)?.adjustments.len(),
                    None => 0,
                };
                (stored.adjustments.iter().skip(before))
                    .map(|a| ChangeRecord::adjusted(event, a))
                    .collect()
            };
            let account = account?;
            Ok(records
                .into_iter()
                .map(|record| StreamedChange {
                    account,
                    record,
                    event: Some(stored.clone()),
                })
                .collect())
        }
        Some(entity::CHANGE) if inserted => {
            let record = item::change_from(&new)?;
            Ok(match record.kind {
                ChangeKind::LeadErased => vec![StreamedChange {
                    account: account?,
                    record,
                    event: None,
                }],
                _ => Vec::new(),
            })
        }
        _ => Ok(Vec::new()),
    }
}

/// An image's attributes (DynamoDB's JSON: `{"S": ...}`, `{"N": ...}`, ...) as the SDK's.
fn item_of(image: &Value) -> Result<Item, StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt {
        key: "a stream record's image".into(),
        reason: why.into(),
    };
    let members = image.as_object().ok_or_else(|| corrupt("not an object"))?;
    members
        .iter()
        .map(|(name, value)| Ok((name.clone(), value_of(value).ok_or_else(|| corrupt(name))?)))
        .collect()
}

fn value_of(value: &Value) -> Option<AttributeValue> {
    let (kind, inner) = value.as_object()?.iter().next()?;
    let strings = || -> Option<Vec<String>> {
        inner
            .as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let blob = |text: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()
            .map(Blob::new)
    };
    Some(match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_owned()),
        "N" => AttributeValue::N(inner.as_str()?.to_owned()),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(true),
        "B" => AttributeValue::B(blob(inner.as_str()?)?),
        "SS" => AttributeValue::Ss(strings()?),
        "NS" => AttributeValue::Ns(strings()?),
        "BS" => AttributeValue::Bs(strings()?.iter().map(|s| blob(s)).collect::<Option<_>>()?),
        "L" => AttributeValue::L(
            inner
                .as_array()?
                .iter()
                .map(value_of)
                .collect::<Option<_>>()?,
        ),
        "M" => AttributeValue::M(
            (inner.as_object()?.iter())
                .map(|(k, v)| Some((k.clone(), value_of(v)?)))
                .collect::<Option<HashMap<_, _>>>()?,
        ),
        _ => return None,
    })
}
