//! Success bodies, keys in documented order: an event has exactly the reference page's (`null` if
//! absent, `metadata` `{}` if empty, the amount's exact digits; read back, its type too).

use serde::Serialize;
use serde_json::value::RawValue;

use crate::domain::{
    AccountId, Adjustment, Amount, Change, ChangeCursor, Content, ConversionEvent, ConversionType,
    EventWithType, FieldDefinition, Metadata, Notes, Reason, Total, current_amount, status,
};
use crate::service::{Adjusted, ListPage};

#[derive(Serialize)]
struct Created<'a> {
    success: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dry_run: bool,
    conversion_event: EventObject<'a>,
}

#[derive(Serialize)]
struct EventObject<'a> {
    id: Option<String>,
    conversion_type_id: String,
    lead_id: String,
    workflow_id: Option<String>,
    master_workflow_id: Option<String>,
    workflow_run_id: Option<String>,
    amount: Box<RawValue>,
    currency: &'static str,
    metadata: &'a Metadata,
    notes: Option<&'a str>,
    converted_at: String,
    created_at: String,
    /// Its state, when read back or adjusted (never in a create's answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_amount: Option<Box<RawValue>>,
    /// Oldest first: `GET /conversions/{id}`, and an adjustment's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    adjustments: Option<Vec<AdjustmentObject<'a>>>,
    /// Only when read back (`GET /conversions`, `GET /conversions/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    conversion_types: Option<TypeEmbed<'a>>,
}

#[derive(Serialize)]
struct AdjustmentObject<'a> {
    id: String,
    conversion_event_id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    amount: Option<Box<RawValue>>,
    currency: &'static str,
    reason: Option<&'a str>,
    adjusted_at: String,
    created_at: String,
}

#[derive(Serialize)]
struct AdjustedBody<'a> {
    success: bool,
    adjustment: AdjustmentObject<'a>,
    conversion_event: EventObject<'a>,
}

#[derive(Serialize)]
struct TypeEmbed<'a> {
    name: &'a str,
    category: &'static str,
    fields: Vec<FieldObject<'a>>,
}

#[derive(Serialize)]
struct FieldObject<'a> {
    key: &'a str,
    label: &'a str,
    #[serde(rename = "type")]
    field_type: &'a str,
}

#[derive(Serialize)]
struct TypeObject<'a> {
    id: String,
    name: &'a str,
    description: Option<&'a str>,
    category: &'static str,
    currency: &'static str,
    fields: Vec<FieldObject<'a>>,
    workflow_id: Option<String>,
    master_workflow_id: Option<String>,
    created_at: String,
}

#[derive(Serialize)]
struct Events<'a> {
    success: bool,
    conversion_events: &'a [Box<RawValue>],
    /// Null when the count reached the read bound: `total_at_least` says how far it got.
    total: Option<u64>,
    total_at_least: u64,
    next_cursor: Option<&'a str>,
    cut_short: bool,
}

#[derive(Serialize)]
struct Types<'a> {
    success: bool,
    conversion_types: Vec<TypeObject<'a>>,
}

pub fn event_json(event: &ConversionEvent) -> String {
    created_json(false, event_object(event, false, None))
}

/// The dry run's 200 body: the event as it would be stored, `id` null since none was taken.
pub fn dry_run_json(event: &ConversionEvent) -> String {
    created_json(true, event_object(event, true, None))
}

/// `GET /conversions/{id}`: the event, its state and adjustments, its type.
pub fn listed_json(listed: &EventWithType) -> String {
    created_json(false, read_object(listed))
}

/// An event as `GET /conversions/{id}` shows it.
fn read_object(listed: &EventWithType) -> EventObject<'_> {
    let mut event = listed_object(listed);
    event.adjustments = Some(adjustment_objects(&listed.event, &listed.adjustments));
    event
}

#[derive(Serialize)]
struct ChangeObject<'a> {
    /// Only pushed to EventBridge: a feed is one account's.
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    recorded_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversion_event: Option<EventObject<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    adjustment: Option<AdjustmentObject<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lead_id: Option<String>,
}

#[derive(Serialize)]
struct Changes<'a> {
    success: bool,
    changes: &'a [Box<RawValue>],
    next_cursor: &'a str,
}

/// One change of a page, rendered once: measured, then written by [`changes_json`].
pub fn change_raw(change: &Change) -> Box<RawValue> {
    serde_json::value::to_raw_value(&change_object(change, true))
        .expect("the bodies always serialise")
}

/// A change as the feed serves it (without `conversion_event` if not `with_event`), with its
/// account's id first: the change feed's EventBridge `detail`.
pub fn change_detail(account: AccountId, change: &Change, with_event: bool) -> String {
    let mut object = change_object(change, with_event);
    object.account_id = Some(account.to_string());
    to_json(&object)
}

fn change_object(change: &Change, with_event: bool) -> ChangeObject<'_> {
    let mut object = ChangeObject {
        account_id: None,
        id: change.position.id.hyphenated().to_string(),
        kind: change.kind().as_str(),
        recorded_at: change.position.recorded_at.to_string(),
        conversion_event: None,
        adjustment: None,
        lead_id: None,
    };
    let event = match &change.content {
        Content::Created(event) => Some(event),
        Content::Adjusted { adjustment, event } => {
            object.adjustment = Some(adjustment_object(&event.event, adjustment));
            Some(event)
        }
        Content::LeadErased(lead) => {
            object.lead_id = Some(lead.to_string());
            None
        }
    };
    object.conversion_event = event.filter(|_| with_event).map(read_object);
    object
}

pub fn changes_json(changes: &[Box<RawValue>], next_cursor: &ChangeCursor) -> String {
    to_json(&Changes {
        success: true,
        changes,
        next_cursor: next_cursor.as_str(),
    })
}

/// An adjustment's 201 (and its replay): it, and the event in its state after it.
pub fn adjusted_json(adjusted: &Adjusted) -> String {
    let event = &adjusted.event;
    let mut conversion_event = with_state(
        event_object(event, false, None),
        event,
        &adjusted.adjustments,
    );
    conversion_event.adjustments = Some(adjustment_objects(event, &adjusted.adjustments));
    to_json(&AdjustedBody {
        success: true,
        adjustment: adjustment_object(event, &adjusted.adjustment),
        conversion_event,
    })
}

fn with_state<'a>(
    mut object: EventObject<'a>,
    event: &ConversionEvent,
    adjustments: &[Adjustment],
) -> EventObject<'a> {
    object.status = Some(status(adjustments).as_str());
    object.current_amount = Some(number(current_amount(event, adjustments)));
    object
}

fn adjustment_objects<'a>(
    event: &ConversionEvent,
    adjustments: &'a [Adjustment],
) -> Vec<AdjustmentObject<'a>> {
    adjustments
        .iter()
        .map(|a| adjustment_object(event, a))
        .collect()
}

fn adjustment_object<'a>(event: &ConversionEvent, a: &'a Adjustment) -> AdjustmentObject<'a> {
    AdjustmentObject {
        id: a.id.to_string(),
        conversion_event_id: event.id.to_string(),
        kind: a.kind.as_str(),
        amount: a.amount.map(number),
        currency: event.currency.code(),
        reason: a.reason.as_ref().map(Reason::as_str),
        adjusted_at: a.adjusted_at.to_string(),
        created_at: a.created_at.to_string(),
    }
}

fn number(amount: Amount) -> Box<RawValue> {
    RawValue::from_string(amount.to_string()).expect("a decimal is a JSON number")
}

fn created_json(dry_run: bool, conversion_event: EventObject<'_>) -> String {
    to_json(&Created {
        success: true,
        dry_run,
        conversion_event,
    })
}

/// Lambda's invocation response limit, counted with the body escaped once more as a JSON string.
pub const MAX_INVOCATION_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// An answer's share of what Lambda carries, its body escaped once more: the rest (status,
/// headers; a page's other members) is under 64 KiB.
pub(super) const ANSWER_BUDGET: usize = MAX_INVOCATION_RESPONSE_BYTES - 64 * 1024;

/// The length of `json` written as a JSON string, as the invocation response carries a body.
pub fn escaped_len(json: &str) -> usize {
    json.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// Rendered once: measured by a [`Budget`], then written by [`listing_json`].
pub fn render_events(events: &[EventWithType]) -> Vec<Box<RawValue>> {
    events
        .iter()
        .map(|listed| {
            serde_json::value::to_raw_value(&listed_object(listed))
                .expect("the bodies always serialise")
        })
        .collect()
}

/// What one answer holds: items, rendered, are admitted in order while the answer stays within
/// `ANSWER_BUDGET` (the first always is, so that a page always moves on).
#[derive(Default)]
pub struct Budget {
    used: usize,
    admitted: usize,
}

impl Budget {
    pub fn admits(&mut self, item: &RawValue) -> bool {
        self.used += escaped_len(item.get()) + 1;
        let fits = self.used <= ANSWER_BUDGET || self.admitted == 0;
        self.admitted += usize::from(fits);
        fits
    }
}

pub fn listing_json(listing: &ListPage, events: &[Box<RawValue>]) -> String {
    to_json(&Events {
        success: true,
        conversion_events: &events[..listing.events.len()],
        total: match listing.total {
            Total::Exact(n) => Some(n),
            Total::AtLeast(_) => None,
        },
        total_at_least: listing.total.counted(),
        next_cursor: listing.next_cursor.as_ref().map(|c| c.as_str()),
        cut_short: listing.cut_short,
    })
}

pub fn conversion_types_json(types: &[ConversionType]) -> String {
    to_json(&Types {
        success: true,
        conversion_types: types.iter().map(type_object).collect(),
    })
}

/// One conversion type as `GET /conversion-types` lists it, as a JSON value (for the admin CLI).
pub fn conversion_type_value(t: &ConversionType) -> serde_json::Value {
    serde_json::to_value(type_object(t)).expect("the bodies always serialise")
}

fn type_object(t: &ConversionType) -> TypeObject<'_> {
    TypeObject {
        id: t.id.to_string(),
        name: &t.name,
        description: t.description.as_deref(),
        category: t.category.as_str(),
        currency: t.currency.code(),
        fields: fields(&t.fields),
        workflow_id: t.scope.workflow_id().map(|id| id.to_string()),
        master_workflow_id: t.scope.master_workflow_id().map(|id| id.to_string()),
        created_at: t.created_at.to_string(),
    }
}

/// An event as lists show it: with its state and type.
fn listed_object(listed: &EventWithType) -> EventObject<'_> {
    let t = &listed.conversion_type;
    let event = event_object(
        &listed.event,
        false,
        Some(TypeEmbed {
            name: &t.name,
            category: t.category.as_str(),
            fields: fields(&t.fields),
        }),
    );
    with_state(event, &listed.event, &listed.adjustments)
}

fn fields(fields: &[FieldDefinition]) -> Vec<FieldObject<'_>> {
    fields
        .iter()
        .map(|f| FieldObject {
            key: &f.key,
            label: &f.label,
            field_type: f.field_type.as_str(),
        })
        .collect()
}

/// A batch row's event object, as the single create answers it.
pub(super) fn event_raw(event: &ConversionEvent, dry_run: bool) -> Box<RawValue> {
    serde_json::value::to_raw_value(&event_object(event, dry_run, None))
        .expect("the bodies always serialise")
}

fn event_object<'a>(
    event: &'a ConversionEvent,
    dry_run: bool,
    conversion_types: Option<TypeEmbed<'a>>,
) -> EventObject<'a> {
    EventObject {
        id: (!dry_run).then(|| event.id.to_string()),
        conversion_type_id: event.conversion_type_id.to_string(),
        lead_id: event.lead_id.to_string(),
        workflow_id: event.workflow_id.map(|id| id.to_string()),
        master_workflow_id: event.master_workflow_id.map(|id| id.to_string()),
        workflow_run_id: event.workflow_run_id.map(|id| id.to_string()),
        amount: number(event.amount),
        currency: event.currency.code(),
        metadata: &event.metadata,
        notes: event.notes.as_ref().map(Notes::as_str),
        converted_at: event.converted_at.to_string(),
        created_at: event.created_at.to_string(),
        status: None,
        current_amount: None,
        adjustments: None,
        conversion_types,
    }
}

pub(super) fn to_json(body: &impl Serialize) -> String {
    // Room for an event with some metadata from the start, rather than growing from 128 bytes.
    let mut out = Vec::with_capacity(1024);
    serde_json::to_writer(&mut out, body).expect("the bodies always serialise");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}
