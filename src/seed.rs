//! The demo account: the reference page's example data, for `make run`, the documented examples
//! and the `events/` fixtures. Seeding is idempotent: fixed ids, written with plain puts.

use crate::domain::{
    Account, AccountId, ApiKey, Category, ConversionType, ConversionTypeId, Currency,
    FieldDefinition, FieldType, Lead, LeadId, Scope, Timestamp, WorkflowId, WorkflowRun,
    WorkflowRunId,
};
use crate::store::{Provisioning, Record, StoreError};

/// The demo key. Local use only: it is public, in this repository.
pub const DEMO_API_KEY: &str = "nxr_live_demo_local_only_key";
pub const DEMO_ACCOUNT_ID: &str = "123e4567-e89b-12d3-a456-426614174000";
/// "Reserva": intermediary, USD, scoped to the demo workflow.
pub const DEMO_CONVERSION_TYPE_ID: &str = "123e4567-e89b-12d3-a456-426614174100";
pub const DEMO_LEAD_ID: &str = "123e4567-e89b-12d3-a456-426614174200";
pub const DEMO_WORKFLOW_ID: &str = "123e4567-e89b-12d3-a456-426614174300";
/// A run of the demo lead in the demo workflow.
pub const DEMO_WORKFLOW_RUN_ID: &str = "123e4567-e89b-12d3-a456-426614174400";
/// "Venta": final, CLP, inactive (to show the inactive-type error).
pub const DEMO_INACTIVE_CONVERSION_TYPE_ID: &str = "123e4567-e89b-12d3-a456-426614174101";

/// What [`seed_demo`] wrote.
#[derive(Debug, Clone)]
pub struct Demo {
    pub account: Account,
    pub api_key: ApiKey,
    pub conversion_type: ConversionType,
    pub lead: Lead,
    pub workflow_run: WorkflowRun,
}

fn id<T>(parse: fn(&str) -> Result<T, crate::domain::IdError>, text: &str) -> T {
    parse(text).expect("demo ids are valid UUIDs")
}

/// The demo records, without writing them.
pub fn demo() -> Demo {
    let created_at = Timestamp::parse("2026-01-10T08:00:00Z").expect("a valid timestamp");
    let lead = Lead {
        id: id(LeadId::parse, DEMO_LEAD_ID),
        created_at,
    };
    let workflow = id(WorkflowId::parse, DEMO_WORKFLOW_ID);
    let field = |key: &str, label: &str, field_type| FieldDefinition {
        key: key.into(),
        label: label.into(),
        field_type,
    };
    Demo {
        account: Account {
            id: id(AccountId::parse, DEMO_ACCOUNT_ID),
            name: "Demo account".into(),
            created_at,
        },
        api_key: ApiKey::parse(DEMO_API_KEY).expect("the demo key is well formed"),
        conversion_type: ConversionType {
            id: id(ConversionTypeId::parse, DEMO_CONVERSION_TYPE_ID),
            name: "Reserva".into(),
            description: Some("Initial reservation deposit".into()),
            category: Category::Intermediary,
            currency: Currency::parse("USD").expect("USD is ISO 4217"),
            fields: vec![
                field("property_unit", "Property / Unit", FieldType::Text),
                field("broker", "Broker", FieldType::Text),
                field("commission", "Commission", FieldType::Number),
            ],
            scope: Scope::Workflow(workflow),
            active: true,
            created_at,
        },
        workflow_run: WorkflowRun {
            id: id(WorkflowRunId::parse, DEMO_WORKFLOW_RUN_ID),
            lead_id: lead.id,
            workflow_id: workflow,
            master_workflow_id: None,
            created_at,
        },
        lead,
    }
}

pub async fn seed_demo<P: Provisioning>(store: &P) -> Result<Demo, StoreError> {
    let demo = demo();
    let account = demo.account.id;
    store.put(&Record::Account(demo.account.clone())).await?;
    store.put_api_key(&demo.api_key.hash(), account).await?;
    let inactive = ConversionType {
        id: id(ConversionTypeId::parse, DEMO_INACTIVE_CONVERSION_TYPE_ID),
        name: "Venta".into(),
        description: Some("Closed sale (deactivated)".into()),
        category: Category::Final,
        currency: Currency::parse("CLP").expect("CLP is ISO 4217"),
        fields: vec![],
        active: false,
        ..demo.conversion_type.clone()
    };
    for record in [
        Record::ConversionType(account, demo.conversion_type.clone()),
        Record::ConversionType(account, inactive),
        Record::Lead(account, demo.lead.clone()),
        Record::WorkflowRun(account, demo.workflow_run.clone()),
    ] {
        store.put(&record).await?;
    }
    Ok(demo)
}
