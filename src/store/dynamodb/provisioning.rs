//! What the admin CLI writes: accounts, API keys, conversion types, leads and runs.

use super::error::store_error;
use super::item::{self, attr, status, string};
use super::{DynamoStore, keys};
use crate::domain::{
    Account, AccountId, ApiKeyHash, ApiKeyRecord, ConversionType, Lead, LeadId, Timestamp,
    WorkflowRun, WorkflowRunId,
};
use crate::store::{Provisioning, StoreError};

impl Provisioning for DynamoStore {
    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        self.put(item::account_item(account)).await
    }

    async fn get_account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        self.get_as(
            keys::key(id, keys::ACCOUNT_SK.to_owned()),
            item::account_from,
        )
        .await
    }

    async fn put_api_key(&self, key: &ApiKeyHash, account: AccountId) -> Result<(), StoreError> {
        let now = Timestamp::now();
        // The account's listing first: a key that works is always listed.
        self.put(item::api_key_entry_item(key, account, now))
            .await?;
        self.put(item::api_key_item(key, account, now)).await
    }

    async fn api_keys(&self, account: AccountId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.account_records(account, keys::API_KEY_ENTRY_SK_PREFIX)
            .await?
            .iter()
            .map(item::api_key_record_from)
            .collect()
    }

    async fn revoke_api_key(&self, key: &ApiKeyHash) -> Result<bool, StoreError> {
        let Some(found) = self.get(keys::api_key(key)).await? else {
            return Ok(false);
        };
        let account = item::api_key_record_from(&found)?.account;
        let now = Timestamp::now();
        // The record requests find first: from then on the key is refused.
        for record in [keys::api_key(key), keys::api_key_entry(account, key)] {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(record))
                .update_expression("SET #status = :revoked, #revoked_at = :now")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#status", attr::STATUS)
                .expression_attribute_names("#revoked_at", attr::REVOKED_AT)
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_values(":revoked", string(status::REVOKED))
                .expression_attribute_values(":now", string(now))
                .send()
                .await
                .map_err(store_error)?;
        }
        Ok(true)
    }

    async fn put_conversion_type(
        &self,
        account: AccountId,
        conversion_type: &ConversionType,
    ) -> Result<(), StoreError> {
        self.put(item::conversion_type_item(account, conversion_type))
            .await
    }

    async fn put_lead(&self, account: AccountId, lead: &Lead) -> Result<(), StoreError> {
        self.put(item::lead_item(account, lead)).await
    }

    async fn get_workflow_run(
        &self,
        account: AccountId,
        id: WorkflowRunId,
    ) -> Result<Option<WorkflowRun>, StoreError> {
        self.get_as(
            keys::key(account, keys::workflow_run_sk(id)),
            item::workflow_run_from,
        )
        .await
    }

    async fn get_lead(&self, account: AccountId, id: LeadId) -> Result<Option<Lead>, StoreError> {
        self.get_as(keys::key(account, keys::lead_sk(id)), item::lead_from)
            .await
    }

    async fn put_workflow_run(
        &self,
        account: AccountId,
        run: &WorkflowRun,
    ) -> Result<(), StoreError> {
        self.put(item::workflow_run_item(account, run)).await
    }
}
