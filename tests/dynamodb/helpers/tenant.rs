//! The second tenant of the tests and of `make bench` (benches/end_to_end/), beside the demo
//! account.

use conversions::domain::{
    Account, AccountId, ApiKey, Category, ConversionType, ConversionTypeId, Currency, Lead, LeadId,
    MasterWorkflowId, Scope, Timestamp, WorkflowId, WorkflowRun, WorkflowRunId,
};
use conversions::store::{DynamoStore, Provisioning, Record};

/// A second account with its own key (one that names it), a master-workflow type, a lead and a
/// run.
pub struct Tenant {
    pub key: ApiKey,
    pub account: AccountId,
    pub conversion_type: ConversionTypeId,
    pub lead: LeadId,
    pub run: WorkflowRunId,
    pub workflow: WorkflowId,
    pub master: MasterWorkflowId,
}

pub async fn tenant(store: &DynamoStore) -> Tenant {
    let now = Timestamp::now();
    let account = Account {
        id: AccountId::random(),
        name: "Tenant".into(),
        created_at: now,
    };
    let key = ApiKey::generate_for(account.id);
    let master = MasterWorkflowId::random();
    let workflow = WorkflowId::random();
    let conversion_type = ConversionType {
        id: ConversionTypeId::random(),
        name: "Venta".into(),
        description: None,
        category: Category::Final,
        currency: Currency::parse("CLP").unwrap(),
        fields: vec![],
        scope: Scope::MasterWorkflow(master),
        active: true,
        created_at: now,
    };
    let lead = Lead {
        id: LeadId::random(),
        created_at: now,
    };
    let run = WorkflowRun {
        id: WorkflowRunId::random(),
        lead_id: lead.id,
        workflow_id: workflow,
        master_workflow_id: Some(master),
        created_at: now,
    };
    store.put(&Record::Account(account.clone())).await.unwrap();
    store.put_api_key(&key.hash(), account.id).await.unwrap();
    store
        .put(&Record::ConversionType(account.id, conversion_type.clone()))
        .await
        .unwrap();
    store
        .put(&Record::Lead(account.id, lead.clone()))
        .await
        .unwrap();
    store
        .put(&Record::WorkflowRun(account.id, run.clone()))
        .await
        .unwrap();
    Tenant {
        key,
        account: account.id,
        conversion_type: conversion_type.id,
        lead: lead.id,
        run: run.id,
        workflow,
        master,
    }
}
