//! The DynamoDB adapter against dynalite and moto: table creation, exact round trips, the
//! conditional put, tenant isolation, key revocation.

use crate::helpers::on_each_backend;
use conversions::domain::{
    Account, AccountId, Amount, ApiKey, ConversionEvent, ConversionTypeId, Currency, EventId,
    LeadId, Metadata, Notes, Timestamp, WorkflowRunId, WriteToken,
};
use conversions::seed::{demo, seed_demo};
use conversions::store::{
    DynamoStore, Insert, Lookup, NewEvent, Provisioning, Record, Store, StoreError, create_table,
};

fn lookup(
    conversion_type: ConversionTypeId,
    lead: LeadId,
    workflow_run: Option<WorkflowRunId>,
) -> Lookup<'static> {
    Lookup {
        conversion_types: vec![conversion_type],
        leads: vec![lead],
        workflow_runs: workflow_run.into_iter().collect(),
        ..Lookup::default()
    }
}

/// An unkeyed write of the event, with a fresh token.
fn new(event: &ConversionEvent) -> NewEvent<'_> {
    NewEvent {
        event,
        write_token: WriteToken::random(),
    }
}

fn event(amount: &str) -> ConversionEvent {
    let demo = demo();
    ConversionEvent {
        id: EventId::random(),
        conversion_type_id: demo.conversion_type.id,
        lead_id: demo.lead.id,
        workflow_id: demo.conversion_type.scope.workflow_id(),
        master_workflow_id: None,
        workflow_run_id: Some(demo.workflow_run.id),
        amount: Amount::parse_json_number(amount).unwrap(),
        currency: Currency::parse("USD").unwrap(),
        metadata: Metadata::from_json(
            r#"{"commission":2500.10,"big":123456789012345678901234567890.5}"#,
        )
        .unwrap(),
        notes: Some(Notes::parse("Client paid in cash".into()).unwrap()),
        converted_at: Timestamp::parse("2026-01-28T10:00:00.123456789Z").unwrap(),
        created_at: Timestamp::now(),
    }
}

#[tokio::test]
async fn creating_the_table_twice_is_harmless() {
    on_each_backend(|backend| async move {
        let table = backend.fresh_table().await;
        let (account, kept) = (AccountId::random(), event("1"));
        table
            .store()
            .insert_event(account, new(&kept))
            .await
            .unwrap();
        create_table(&table.client, &table.name)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", backend.name));
        let read = table.store().get_event(account, kept.id).await.unwrap();
        assert_eq!(read.map(|s| s.event), Some(kept), "{}: kept", backend.name);
    })
    .await;
}

#[tokio::test]
async fn an_event_reads_back_exactly_and_its_amount_is_a_dynamodb_number() {
    on_each_backend(|backend| async move {
        let table = backend.fresh_table().await;
        let store = table.store();
        let account = AccountId::random();
        for amount in ["85000.00", "0.1", "999999999999999.9999", "0"] {
            let event = event(amount);
            assert_eq!(
                store.insert_event(account, new(&event)).await.unwrap(),
                Insert::Written
            );
            let read = store
                .get_event(account, event.id)
                .await
                .unwrap()
                .map(|stored| stored.event);
            assert_eq!(read.as_ref(), Some(&event), "{}: {amount}", backend.name);
            assert_eq!(read.unwrap().amount.to_string(), amount, "{}", backend.name);

            let item = table.event_item(account, event.id).await;
            let stored = item["amount"].as_n().expect("amount is stored as N");
            assert_eq!(
                stored.parse::<rust_decimal::Decimal>().unwrap(),
                event.amount.as_decimal(),
                "{}: the stored number has the same value",
                backend.name
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_second_insert_with_the_same_id_is_refused_and_changes_nothing() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        let account = AccountId::random();
        let first = event("10");
        let first_write = new(&first);
        store.insert_event(account, first_write).await.unwrap();
        let second = ConversionEvent {
            amount: Amount::parse_json_number("99").unwrap(),
            ..first.clone()
        };
        // moto sends the existing item back with the refusal; dynalite does not, and the
        // adapter reads it.
        let Insert::Exists(existing) = store.insert_event(account, new(&second)).await.unwrap()
        else {
            panic!("{}: the second write went through", backend.name);
        };
        assert_eq!(existing.event, first, "{}", backend.name);
        assert_eq!(
            existing.write_token,
            Some(first_write.write_token),
            "{}: the first write's token comes back",
            backend.name
        );
        assert_eq!(
            store
                .get_event(account, first.id)
                .await
                .unwrap()
                .map(|stored| stored.event),
            Some(first),
            "{}",
            backend.name
        );
    })
    .await;
}

#[tokio::test]
async fn records_of_one_account_are_invisible_to_another() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        let demo = seed_demo(&store).await.unwrap();
        let owner = demo.account.id;
        let (type_id, lead_id, run_id) =
            (demo.conversion_type.id, demo.lead.id, demo.workflow_run.id);

        let mine = store
            .load_context(owner, &lookup(type_id, lead_id, Some(run_id)))
            .await
            .unwrap();
        assert_eq!(
            mine.conversion_types.get(&type_id),
            Some(&demo.conversion_type),
            "{}",
            backend.name
        );
        assert_eq!(
            mine.leads.get(&lead_id),
            Some(&demo.lead),
            "{}",
            backend.name
        );
        assert_eq!(
            mine.workflow_runs.get(&run_id),
            Some(&demo.workflow_run),
            "{}",
            backend.name
        );

        let stranger = AccountId::random();
        let theirs = store
            .load_context(stranger, &lookup(type_id, lead_id, Some(run_id)))
            .await
            .unwrap();
        assert_eq!(
            theirs,
            Default::default(),
            "{}: nothing of another account is found",
            backend.name
        );

        let event = event("1");
        store.insert_event(owner, new(&event)).await.unwrap();
        assert_eq!(
            store.get_event(stranger, event.id).await.unwrap(),
            None,
            "{}",
            backend.name
        );
        // The same id in another account is another record, not a conflict.
        assert_eq!(
            store.insert_event(stranger, new(&event)).await.unwrap(),
            Insert::Written,
            "{}",
            backend.name
        );
    })
    .await;
}

#[tokio::test]
async fn missing_records_come_back_as_none_in_one_round_trip() {
    on_each_backend(|backend| async move {
        let store = backend.fresh_store().await;
        let demo = seed_demo(&store).await.unwrap();
        let context = store
            .load_context(
                demo.account.id,
                &lookup(
                    ConversionTypeId::random(),
                    LeadId::random(),
                    Some(WorkflowRunId::random()),
                ),
            )
            .await
            .unwrap();
        assert_eq!(context, Default::default(), "{}", backend.name);
        let without_run = store
            .load_context(
                demo.account.id,
                &lookup(demo.conversion_type.id, demo.lead.id, None),
            )
            .await
            .unwrap();
        assert!(
            without_run.conversion_types.len() == 1 && without_run.leads.len() == 1,
            "{}",
            backend.name
        );
        assert!(without_run.workflow_runs.is_empty(), "{}", backend.name);
    })
    .await;
}

#[tokio::test]
async fn api_keys_are_stored_hashed_and_stop_working_when_revoked() {
    on_each_backend(|backend| async move {
        let table = backend.fresh_table().await;
        let store = table.store();
        let account = Account {
            id: AccountId::random(),
            name: "Acme".into(),
            created_at: Timestamp::now(),
        };
        store.put(&Record::Account(account.clone())).await.unwrap();
        assert_eq!(
            store.get_account(account.id).await.unwrap(),
            Some(account.clone()),
            "{}",
            backend.name
        );

        let key = unnamed_key();
        store.put_api_key(&key.hash(), account.id).await.unwrap();
        assert_eq!(
            store.account_for_key(&key.hash()).await.unwrap(),
            Some(account.id),
            "{}",
            backend.name
        );

        let dump = table.dump().await;
        assert!(
            !dump.contains(key.expose()),
            "{}: the plaintext key is never stored",
            backend.name
        );
        assert!(dump.contains(key.hash().as_str()), "{}", backend.name);

        assert!(
            store.revoke_api_key(&key.hash()).await.unwrap(),
            "{}",
            backend.name
        );
        assert_eq!(
            store.account_for_key(&key.hash()).await.unwrap(),
            None,
            "{}",
            backend.name
        );
        assert!(
            !store.revoke_api_key(&unnamed_key().hash()).await.unwrap(),
            "{}: unknown key",
            backend.name
        );
    })
    .await;
}

#[tokio::test]
async fn a_missing_table_is_a_store_failure_not_a_panic() {
    on_each_backend(|backend| async move {
        let store = DynamoStore::new(backend.client(), "no-such-table");
        let result = store.account_for_key(&unnamed_key().hash()).await;
        assert!(
            matches!(result, Err(StoreError::Failed(_))),
            "{}: {result:?}",
            backend.name
        );
    })
    .await;
}

/// A key that names no account, like the demo key.
fn unnamed_key() -> ApiKey {
    ApiKey::parse(&format!("nxr_live_{}", uuid::Uuid::new_v4().simple())).unwrap()
}
