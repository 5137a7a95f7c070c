//! The conversion event object as the API returns it: exactly the reference page's keys, in its
//! order, `null` where absent, `metadata` `{}` when empty, the amount as the exact decimal sent.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::domain::{ConversionEvent, Metadata, Notes};

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
}

/// The 201 body: `{"success": true, "conversion_event": {...}}`.
pub fn event_json(event: &ConversionEvent) -> String {
    render(event, false)
}

/// The dry run's 200 body: `{"success": true, "dry_run": true, "conversion_event": {...}}`, the
/// event as it would be stored but with `id` null, since none was taken.
pub fn dry_run_json(event: &ConversionEvent) -> String {
    render(event, true)
}

fn render(event: &ConversionEvent, dry_run: bool) -> String {
    let body = Created {
        success: true,
        dry_run,
        conversion_event: EventObject {
            id: (!dry_run).then(|| event.id.to_string()),
            conversion_type_id: event.conversion_type_id.to_string(),
            lead_id: event.lead_id.to_string(),
            workflow_id: event.workflow_id.map(|id| id.to_string()),
            master_workflow_id: event.master_workflow_id.map(|id| id.to_string()),
            workflow_run_id: event.workflow_run_id.map(|id| id.to_string()),
            amount: RawValue::from_string(event.amount.to_string())
                .expect("a decimal is a JSON number"),
            currency: event.currency.code(),
            metadata: &event.metadata,
            notes: event.notes.as_ref().map(Notes::as_str),
            converted_at: event.converted_at.to_string(),
            created_at: event.created_at.to_string(),
        },
    };
    serde_json::to_string(&body).expect("an event always serialises")
}
