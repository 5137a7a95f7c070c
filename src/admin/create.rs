//! The one rule of every create command: a new id is written; an existing record that holds the
//! same values is reported as it is; one that holds others is refused, unless `--replace`.

use serde_json::Value;

use super::AdminError;
use crate::domain::{Account, ConversionType, Lead, Timestamp, WorkflowRun};
use crate::store::StoreError;

/// A record the create commands write, compared by the fields an operator gives.
pub(super) trait Record: Sized {
    const KIND: &'static str;
    fn id(&self) -> String;
    fn created_at(&mut self) -> &mut Timestamp;

    /// The same record, but for when it was created.
    fn same(&self, other: &Self) -> bool;
}

macro_rules! record {
    ($type:ty, $kind:literal) => {
        impl Record for $type {
            const KIND: &'static str = $kind;
            fn id(&self) -> String {
                self.id.to_string()
            }
            fn created_at(&mut self) -> &mut Timestamp {
                &mut self.created_at
            }
            fn same(&self, other: &Self) -> bool {
                let mut other = other.clone();
                other.created_at = self.created_at;
                *self == other
            }
        }
    };
}

record!(Account, "account");
record!(ConversionType, "conversion type");
record!(Lead, "lead");
record!(WorkflowRun, "workflow run");

enum Decision<T> {
    /// Nothing: the record exists and holds the same values.
    Exists(T),
    /// Writes the record: `created`, or `replaced` (keeping the first `created_at`).
    Write(T, &'static str),
}

fn decide<T: Record>(
    existing: Option<T>,
    mut new: T,
    replace: bool,
) -> Result<Decision<T>, AdminError> {
    match existing {
        None => Ok(Decision::Write(new, "created")),
        Some(existing) if existing.same(&new) => Ok(Decision::Exists(existing)),
        Some(mut existing) if replace => {
            *new.created_at() = *existing.created_at();
            Ok(Decision::Write(new, "replaced"))
        }
        Some(_) => Err(AdminError::Invalid(format!(
            "{} {} exists with other values: --replace overwrites it",
            T::KIND,
            new.id()
        ))),
    }
}

/// [`decide`], then the write it calls for (`put`): the record as it now stands, and what was done.
pub(super) async fn create<T: Record>(
    existing: Option<T>,
    new: T,
    replace: bool,
    put: impl AsyncFnOnce(&T) -> Result<(), StoreError>,
) -> Result<(T, &'static str), AdminError> {
    match decide(existing, new, replace)? {
        Decision::Exists(existing) => Ok((existing, "exists")),
        Decision::Write(record, status) => {
            put(&record).await?;
            Ok((record, status))
        }
    }
}

pub(super) fn with_status(mut record: Value, status: &str) -> Value {
    record["status"] = status.into();
    record
}
