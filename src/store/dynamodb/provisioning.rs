//! What the admin CLI writes: accounts, API keys, conversion types, leads and runs.

use super::error::store_error;
use super::item::{self, attr, status, string};
use super::{DynamoStore, keys};
use crate::domain::{Account, AccountId, ApiKeyHash, ApiKeyRecord, Lead, LeadId, Timestamp};
use crate::store::{Provisioning, Record, StoreError};

impl Provisioning for DynamoStore {
    async fn create(&self, record: &Record) -> Result<Option<Record>, StoreError> {
        let found = self.put_new(item::record_item(record)).await?;
        found.map(|i| item::record_from(record, &i)).transpose()
    }

    async fn put(&self, record: &Record) -> Result<(), StoreError> {
        self.put_item(item::record_item(record)).await
    }

    async fn holder(&self, record: &Record) -> Result<Option<Record>, StoreError> {
        let mut key = item::record_item(record);
        key.retain(|name, _| name == attr::PK || name == attr::SK);
        let found = self.get(key).await?;
        found.map(|i| item::record_from(record, &i)).transpose()
    }

    async fn get_account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let key = keys::key(id, keys::ACCOUNT_SK.to_owned());
        self.get_as(key, item::account_from).await
    }

    async fn put_api_key(&self, key: &ApiKeyHash, account: AccountId) -> Result<(), StoreError> {
        let now = Timestamp::now();
        // The account's listing first: a key that works is always listed.
        self.put_item(item::api_key_entry_item(key, account, now))
            .await?;
        self.put_item(item::api_key_item(key, account, now)).await
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

    async fn get_lead(&self, account: AccountId, id: LeadId) -> Result<Option<Lead>, StoreError> {
        self.get_as(keys::key(account, keys::lead_sk(id)), item::lead_from)
            .await
    }
}
