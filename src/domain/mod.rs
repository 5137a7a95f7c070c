//! Validated domain types. Values (ids, amounts, currencies, instants, metadata, cursors) keep
//! their fields private and check their rule in every constructor ("parse, don't validate").
//! Records built of them are plain structs with public fields; rules across parts are functions
//! here ([`NewConversion::resolve`], [`ConversionType::check_limits`]).

mod account;
mod adjustment;
mod amount;
mod change;
mod conversion;
mod currency;
mod digest;
mod idempotency;
mod ids;
mod json;
mod listing;
mod metadata;
mod notes;
mod timestamp;

pub use account::{
    API_KEY_PREFIX, Account, ApiKey, ApiKeyError, ApiKeyHash, ApiKeyId, ApiKeyRecord,
};
pub use adjustment::{
    Adjustment, AdjustmentId, AdjustmentKind, FULL, MAX_ADJUSTMENTS_PER_EVENT, MAX_REASON_CHARS,
    NewAdjustment, RETRACTED, Reason, ReasonTooLong, Refusal, Status, current_amount, recorded_by,
    status, through,
};
pub use amount::{Amount, AmountError, MAX_AMOUNT_EXCLUSIVE};
pub use change::{
    CHANGE_WRITE_WITHIN, CHANGES_LAG, Change, ChangeCursor, ChangeCursorError, ChangeKind,
    ChangeRecord, Content, DEFAULT_CHANGES_LIMIT, FeedPosition, MAX_CHANGES_EXAMINED,
    MAX_CHANGES_LIMIT, Subject,
};
pub use conversion::{
    Category, ConversionEvent, ConversionType, FieldDefinition, FieldType, Lead,
    MAX_FIELD_KEY_CHARS, MAX_FIELD_LABEL_CHARS, MAX_FIELDS_PER_TYPE, MAX_TYPE_DESCRIPTION_CHARS,
    MAX_TYPE_NAME_CHARS, MAX_TYPES_PER_ACCOUNT, NewConversion, ReferenceError, Scope, WorkflowRun,
};
pub use currency::{Currency, CurrencyError};
pub use digest::Sha256Hex;
pub use idempotency::{IdempotencyKey, IdempotencyKeyError, WriteToken};
pub use ids::{
    AccountId, ConversionTypeId, EventId, IdError, LeadId, MasterWorkflowId, WorkflowId,
    WorkflowRunId,
};
pub use json::{
    JsonNumber, JsonValue, JsonValueError, MAX_JSON_DEPTH, Members, json_string, nests_deeper_than,
};
pub use listing::{
    Cursor, CursorError, DEFAULT_LIMIT, EmptyWindow, EventFilter, EventWithType, Limit,
    MAX_ENTRIES_COUNTED, MAX_ENTRIES_READ, MAX_LIMIT, MAX_OFFSET, Offset, Page, PageRequest,
    Position, Resume, Total, Window, whole_number,
};
pub use metadata::{
    MAX_METADATA_BYTES, MAX_METADATA_KEY_CHARS, MAX_METADATA_KEYS, Metadata, MetadataError,
};
pub use notes::{MAX_NOTES_CHARS, Notes, NotesTooLong};
pub use timestamp::{MAX_FUTURE_SKEW_SECONDS, Timestamp, TimestampError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// A documented sentence for the error body's `message`; `message` then holds the detail.
    headline: Option<&'static str>,
}

/// The bytes of a field key or of an API key's secret: `a-z A-Z 0-9 _ -`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl ToString) -> Self {
        Self {
            field: field.into(),
            message: message.to_string(),
            headline: None,
        }
    }

    pub fn with_headline(
        headline: &'static str,
        field: impl Into<String>,
        message: impl ToString,
    ) -> Self {
        Self {
            headline: Some(headline),
            ..Self::new(field, message)
        }
    }

    pub fn headline(&self) -> &str {
        self.headline.unwrap_or(&self.message)
    }
}
