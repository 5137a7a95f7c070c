//! An in-memory store with the same semantics as the DynamoDB adapter, for fast unit tests.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::{Context, Insert, Lookup, NewEvent, Provisioning, Store, StoreError, StoredEvent};
use crate::domain::{
    Account, AccountId, ApiKeyHash, ConversionEvent, ConversionType, ConversionTypeId, EventFilter,
    EventId, Lead, LeadId, Page, PageRequest, Position, WorkflowRun, WorkflowRunId,
};

#[derive(Default)]
struct Data {
    accounts: HashMap<AccountId, Account>,
    keys: HashMap<ApiKeyHash, (AccountId, bool)>,
    types: HashMap<(AccountId, ConversionTypeId), ConversionType>,
    leads: HashMap<(AccountId, LeadId), Lead>,
    runs: HashMap<(AccountId, WorkflowRunId), WorkflowRun>,
    /// A tree, not a hash map: a growing hash map now and then moves every event at once
    /// (a pause of tens of microseconds in one request of `make bench`).
    events: BTreeMap<(AccountId, EventId), StoredEvent>,
}

#[derive(Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock cannot leave `Data` half-written: every write is one
        // insert. So a poisoned lock is still safe to use.
        self.data
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn matching(&self, account: AccountId, filter: &EventFilter) -> Vec<ConversionEvent> {
        self.events(account)
            .into_iter()
            .filter(|e| filter.matches(e))
            .collect()
    }

    /// Every event of an account (for tests).
    pub fn events(&self, account: AccountId) -> Vec<ConversionEvent> {
        self.data()
            .events
            .iter()
            .filter(|((a, _), _)| *a == account)
            .map(|(_, stored)| stored.event.clone())
            .collect()
    }
}

impl Store for MemoryStore {
    async fn account_for_key(&self, key: &ApiKeyHash) -> Result<Option<AccountId>, StoreError> {
        Ok(self
            .data()
            .keys
            .get(key)
            .filter(|(_, active)| *active)
            .map(|(account, _)| *account))
    }

    async fn load_context(
        &self,
        account: AccountId,
        lookup: Lookup<'_>,
    ) -> Result<Context, StoreError> {
        let data = self.data();
        Ok(Context {
            key_account: lookup
                .api_key
                .and_then(|key| data.keys.get(key))
                .filter(|(_, active)| *active)
                .map(|(account, _)| *account),
            conversion_type: data.types.get(&(account, lookup.conversion_type)).cloned(),
            lead: data.leads.get(&(account, lookup.lead)).cloned(),
            workflow_run: lookup
                .workflow_run
                .and_then(|run| data.runs.get(&(account, run)).cloned()),
            existing_event: lookup
                .event
                .and_then(|id| data.events.get(&(account, id)).cloned()),
        })
    }

    async fn insert_event(
        &self,
        account: AccountId,
        new: NewEvent<'_>,
    ) -> Result<Insert, StoreError> {
        match self.data().events.entry((account, new.event.id)) {
            Entry::Occupied(existing) => Ok(Insert::Exists(Box::new(existing.get().clone()))),
            Entry::Vacant(vacant) => {
                vacant.insert(StoredEvent {
                    event: new.event.clone(),
                    fingerprint: new.fingerprint.cloned(),
                    write_token: Some(new.write_token),
                });
                Ok(Insert::Written)
            }
        }
    }

    async fn get_event(
        &self,
        account: AccountId,
        id: EventId,
    ) -> Result<Option<StoredEvent>, StoreError> {
        Ok(self.data().events.get(&(account, id)).cloned())
    }

    async fn conversion_types(
        &self,
        account: AccountId,
    ) -> Result<Vec<ConversionType>, StoreError> {
        Ok(self
            .data()
            .types
            .iter()
            .filter(|((a, _), _)| *a == account)
            .map(|(_, t)| t.clone())
            .collect())
    }

    async fn list_events(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> Result<Page, StoreError> {
        let mut matching: Vec<ConversionEvent> = self
            .matching(account, &page.filter)
            .into_iter()
            .filter(|e| page.after.is_none_or(|after| Position::of(e) < after))
            .collect();
        matching.sort_by_key(|e| std::cmp::Reverse(Position::of(e)));
        let limit = page.limit.get() as usize;
        let mut events: Vec<ConversionEvent> = matching
            .into_iter()
            .skip(page.offset.get() as usize)
            .take(limit + 1)
            .collect();
        let more = events.len() > limit;
        events.truncate(limit);
        let next = more.then(|| events.last().map(Position::of)).flatten();
        Ok(Page { events, next })
    }

    async fn count_events(
        &self,
        account: AccountId,
        filter: &EventFilter,
    ) -> Result<u64, StoreError> {
        Ok(self.matching(account, filter).len() as u64)
    }
}

impl Provisioning for MemoryStore {
    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        self.data().accounts.insert(account.id, account.clone());
        Ok(())
    }

    async fn get_account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        Ok(self.data().accounts.get(&id).cloned())
    }

    async fn put_api_key(&self, key: &ApiKeyHash, account: AccountId) -> Result<(), StoreError> {
        self.data().keys.insert(key.clone(), (account, true));
        Ok(())
    }

    async fn revoke_api_key(&self, key: &ApiKeyHash) -> Result<bool, StoreError> {
        Ok(self
            .data()
            .keys
            .get_mut(key)
            .map(|(_, active)| *active = false)
            .is_some())
    }

    async fn put_conversion_type(
        &self,
        account: AccountId,
        conversion_type: &ConversionType,
    ) -> Result<(), StoreError> {
        self.data()
            .types
            .insert((account, conversion_type.id), conversion_type.clone());
        Ok(())
    }

    async fn get_conversion_type(
        &self,
        account: AccountId,
        id: ConversionTypeId,
    ) -> Result<Option<ConversionType>, StoreError> {
        Ok(self.data().types.get(&(account, id)).cloned())
    }

    async fn put_lead(&self, account: AccountId, lead: &Lead) -> Result<(), StoreError> {
        self.data().leads.insert((account, lead.id), lead.clone());
        Ok(())
    }

    async fn get_lead(&self, account: AccountId, id: LeadId) -> Result<Option<Lead>, StoreError> {
        Ok(self.data().leads.get(&(account, id)).cloned())
    }

    async fn put_workflow_run(
        &self,
        account: AccountId,
        run: &WorkflowRun,
    ) -> Result<(), StoreError> {
        self.data().runs.insert((account, run.id), run.clone());
        Ok(())
    }
}
