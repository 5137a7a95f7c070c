//! Identifiers: each kind is its own type, so a lead id is never passed for a type id.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid UUID")]
pub struct IdError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
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
    };
}

uuid_id!(
    /// An account (tenant). Every other record is scoped to one.
    AccountId
);
uuid_id!(
    /// A conversion event's id.
    EventId
);
uuid_id!(
    /// A conversion type's id.
    ConversionTypeId
);
uuid_id!(
    /// A lead's id.
    LeadId
);
uuid_id!(
    /// A workflow run's id (one lead's enrollment in one workflow).
    WorkflowRunId
);
uuid_id!(
    /// A workflow's id.
    WorkflowId
);
uuid_id!(
    /// A master workflow's id (a group of workflows).
    MasterWorkflowId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_printed_in_lower_case_hyphenated_form() {
        let id = LeadId::parse("123E4567-E89B-12D3-A456-426614174200").unwrap();
        assert_eq!(id.to_string(), "123e4567-e89b-12d3-a456-426614174200");
    }

    #[test]
    fn text_that_is_not_a_uuid_is_rejected() {
        for bad in [
            "",
            "123",
            "123e4567-e89b-12d3-a456-42661417420",
            "not-a-uuid",
            " 123e4567-e89b-12d3-a456-426614174200",
        ] {
            assert_eq!(LeadId::parse(bad), Err(IdError), "{bad:?}");
        }
    }
}
