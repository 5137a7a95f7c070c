//! The one rule of every create, for the create commands and `import` alike: a free id is written;
//! a record holding it with the same values is reported as it is; one with other values is a
//! conflict, overwritten only when asked (`--replace`, which keeps its first `created_at`).

use serde_json::Value;

use super::{AdminError, record_json};
use crate::store::{Provisioning, Record, StoreError};

pub(super) enum Created {
    New,
    Exists(Record),
    Conflict(Record),
}

pub(super) async fn create<P: Provisioning>(
    store: &P,
    record: &Record,
) -> Result<Created, StoreError> {
    Ok(came_to(store.create(record).await?, record))
}

/// What [`create`] would come to, written or not (`New`): nothing is written.
pub(super) async fn would_create<P: Provisioning>(
    store: &P,
    record: &Record,
) -> Result<Created, StoreError> {
    Ok(came_to(store.holder(record).await?, record))
}

fn came_to(holder: Option<Record>, record: &Record) -> Created {
    match holder {
        None => Created::New,
        Some(found) if found.same(record) => Created::Exists(found),
        Some(found) => Created::Conflict(found),
    }
}

/// [`create`] for a command: the record as it now stands, and what was done (`status`).
pub(super) async fn create_command<P: Provisioning>(
    store: &P,
    mut record: Record,
    replace: bool,
) -> Result<Value, AdminError> {
    let status = match create(store, &record).await? {
        Created::New => "created",
        Created::Exists(found) => {
            record = found;
            "exists"
        }
        Created::Conflict(mut found) if replace => {
            *record.created_at() = *found.created_at();
            store.put(&record).await?;
            "replaced"
        }
        Created::Conflict(_) => {
            return Err(AdminError::Invalid(format!(
                "{} {} exists with other values: --replace overwrites it",
                record.kind(),
                record.id()
            )));
        }
    };
    let mut json = record_json(&record);
    json["status"] = status.into();
    Ok(json)
}
