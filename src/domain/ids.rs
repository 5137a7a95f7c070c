//! Identifiers: each kind is its own type, so a lead id is never passed for a type id. An account
//! is a tenant (every other record is scoped to one); a workflow run is one lead's enrollment in
//! one workflow; a master workflow is a group of workflows.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid UUID")]
pub struct IdError;

macro_rules! uuid_ids {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, IdError> {
                Uuid::parse_str(text).map(Self).map_err(|_| IdError)
            }

            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            /// Always the lower-case hyphenated form, whatever form was parsed.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::parse(text)
            }
        }
    )*};
}

uuid_ids!(
    AccountId,
    EventId,
    ConversionTypeId,
    LeadId,
    WorkflowRunId,
    WorkflowId,
    MasterWorkflowId
);
