//! The change feed's items: one per change in the account's partition, sorted by the time
//! recorded, written before what they announce (see [`crate::domain::ChangeRecord`]).

use std::collections::HashMap;

use super::error::store_error;
use super::item::{self, Item, attr, string};
use super::{DynamoStore, event_from, keys};
use crate::domain::{
    AccountId, ChangeRecord, EventId, EventWithType, FeedPosition, Subject, Timestamp,
};
use crate::store::{FeedEntry, StoreError};

/// Changes read by one `Query` page, at most.
const QUERY_PAGE: usize = 1000;

impl DynamoStore {
    /// Writes the change, expiring with what it announces (recorded at `from`); refused (a
    /// failure a retry with a new stamp fixes) once it is too late to be written.
    pub(super) async fn put_change(
        &self,
        account: AccountId,
        change: &ChangeRecord,
        from: Timestamp,
    ) -> Result<(), StoreError> {
        if !change.writable_at(Timestamp::now()) {
            return Err(StoreError::Unavailable(
                "the change's stamp is too old to be written: the feed may have passed it".into(),
            ));
        }
        let item = item::change_item(account, change, from, self.retention_days);
        self.put_item(item).await
    }

    pub(super) async fn feed_entries(
        &self,
        account: AccountId,
        after: FeedPosition,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let after_sk = keys::change_sk(after);
        let until_sk = keys::change_sk_bound(until);
        // A start past the bound (`since` ahead; a cursor from a clock ahead of this one): none
        // yet, and DynamoDB refuses a BETWEEN whose bounds are out of order.
        if after_sk >= until_sk {
            return Ok(Vec::new());
        }
        // BETWEEN includes its ends: `after` itself is dropped, so one more is asked for.
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :after AND :until")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":pk", string(keys::account_pk(account)))
            .expression_attribute_values(":after", string(&after_sk))
            .expression_attribute_values(":until", string(until_sk))
            .limit((limit + 1).min(QUERY_PAGE) as i32)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut items: Vec<Item> = Vec::with_capacity(limit);
        while items.len() < limit
            && let Some(found) = pages.next().await
        {
            let found = found.map_err(store_error)?;
            if found.get(attr::SK).and_then(|v| v.as_s().ok()) != Some(&after_sk) {
                items.push(found);
            }
        }
        let records: Vec<ChangeRecord> = items
            .iter()
            .map(item::change_from)
            .collect::<Result<_, _>>()?;
        let events = self.events_with_types(account, &records).await?;
        Ok(records
            .into_iter()
            .map(|record| FeedEntry {
                event: match record.subject {
                    Subject::Event(id) => events.get(&id).cloned(),
                    Subject::Lead(_) => None,
                },
                record,
            })
            .collect())
    }

    /// The events the changes name, as stored now, read strongly, with their types.
    async fn events_with_types(
        &self,
        account: AccountId,
        records: &[ChangeRecord],
    ) -> Result<HashMap<EventId, (EventWithType, Option<crate::domain::WriteToken>)>, StoreError>
    {
        let mut sks: Vec<String> = records
            .iter()
            .filter_map(|r| match r.subject {
                Subject::Event(id) => Some(keys::event_sk(id)),
                Subject::Lead(_) => None,
            })
            .collect();
        sks.sort();
        sks.dedup();
        let key_of = |sk: &String| keys::key(account, sk.clone());
        let found = self
            .batch_get_all(sks.iter().map(key_of).collect(), true)
            .await?;
        let mut stored = Vec::new();
        for item in found.values() {
            if let Some(event) = event_from(item)? {
                stored.push(event);
            }
        }
        let mut type_sks: Vec<String> = stored
            .iter()
            .map(|s| keys::conversion_type_sk(s.event.conversion_type_id))
            .collect();
        type_sks.sort();
        type_sks.dedup();
        let types = self
            .batch_get_all(type_sks.iter().map(key_of).collect(), false)
            .await?;
        stored
            .into_iter()
            .map(|s| {
                let sk = keys::conversion_type_sk(s.event.conversion_type_id);
                let conversion_type = types
                    .get(&sk)
                    .ok_or_else(|| StoreError::missing_type(&s.event))
                    .and_then(item::conversion_type_from)?;
                let id = s.event.id;
                let with_type = EventWithType {
                    event: s.event,
                    conversion_type,
                    adjustments: s.adjustments,
                };
                Ok((id, (with_type, s.write_token)))
            })
            .collect()
    }
}
