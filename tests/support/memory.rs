//! An in-memory store with the DynamoDB adapter's semantics, for fast tests. Included by the
//! library (`crate::store::MemoryStore` under `cfg(test)`), the integration tests and the benches.
#![allow(dead_code)]

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use conversions::domain::{
    Account, AccountId, Adjustment, ApiKeyHash, ApiKeyRecord, ChangeRecord, ConversionEvent,
    ConversionType, ConversionTypeId, EventFilter, EventId, EventWithType, FeedPosition, Lead,
    LeadId, MAX_ENTRIES_COUNTED, MAX_ENTRIES_READ, Page, PageRequest, Position, Resume, Subject,
    Timestamp, Total, WorkflowRun, WorkflowRunId, WriteToken,
};
use conversions::store::{
    AdjustmentClaim, Context, FeedEntry, Insert, KeyHolder, Lookup, NewEvent, Provisioning, Record,
    Store, StoreError, StoredEvent, Target,
};

#[derive(Default)]
struct Data {
    accounts: HashMap<AccountId, Account>,
    keys: HashMap<ApiKeyHash, ApiKeyRecord>,
    types: HashMap<(AccountId, ConversionTypeId), ConversionType>,
    leads: HashMap<(AccountId, LeadId), Lead>,
    runs: HashMap<(AccountId, WorkflowRunId), WorkflowRun>,
    /// Not a hash map: growing one now and then moves all events at once (a pause in `make bench`).
    events: BTreeMap<(AccountId, EventId), StoredEvent>,
    /// Adjustments' keys, at the event id a create with the key would take.
    claims: HashMap<(AccountId, EventId), AdjustmentClaim>,
    changes: BTreeMap<(AccountId, FeedPosition), ChangeRecord>,
}

pub struct MemoryStore {
    data: Mutex<Data>,
    read_bound: u32,
    faults: Faults,
}

/// How the store misbehaves, for tests of its callers.
#[derive(Default, Clone, Copy)]
pub struct Faults {
    /// A pause before every call.
    pub delay: Duration,
    /// The failure of every call but `account_for_key`.
    pub fail: Option<fn() -> StoreError>,
    /// `insert_event` finds the event written before it: by its own earlier attempt (`true`, the
    /// same write token) or by another request (`false`).
    pub written_before: Option<bool>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            data: Mutex::default(),
            read_bound: MAX_ENTRIES_READ,
            faults: Faults::default(),
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Another bound on the entries a list reads (for its count too, below
    /// [`MAX_ENTRIES_COUNTED`]), so tests reach it with a few events.
    pub fn with_read_bound(self, read_bound: u32) -> Self {
        Self { read_bound, ..self }
    }

    pub fn with_faults(self, faults: Faults) -> Self {
        Self { faults, ..self }
    }

    /// What [`Faults`] asks of a call: its pause, then its failure.
    async fn call(&self) -> Result<(), StoreError> {
        if !self.faults.delay.is_zero() {
            tokio::time::sleep(self.faults.delay).await;
        }
        self.faults.fail.map_or(Ok(()), |fail| Err(fail()))
    }

    /// An event put unless its id is taken, as `insert_event` without the faults.
    fn insert(&self, account: AccountId, new: NewEvent<'_>) -> Insert {
        let mut data = self.data();
        if data.claims.contains_key(&(account, new.event.id)) {
            return Insert::KeyTaken;
        }
        let e = new.event;
        data.record(
            account,
            ChangeRecord::created(e.id, e.created_at, new.write_token),
        );
        match data.events.entry((account, new.event.id)) {
            Entry::Occupied(existing) => Insert::Exists(Box::new(existing.get().clone())),
            Entry::Vacant(vacant) => {
                vacant.insert(StoredEvent {
                    event: new.event.clone(),
                    write_token: Some(new.write_token),
                    adjustments: Vec::new(),
                });
                Insert::Written
            }
        }
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        // Every write is one insert, so a panic leaves no half-written `Data`: poison is harmless.
        self.data
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The entries a filter's list reads, newest first, like the DynamoDB `Query`: the partition
    /// of the filter's lead (a run's lead for a run), else the account's, within the window.
    /// `None` when nothing can match (an unknown run, or a run of another lead).
    fn partition(&self, account: AccountId, filter: &EventFilter) -> Option<Vec<ConversionEvent>> {
        let data = self.data();
        let lead = match filter.workflow_run {
            Some(run) => {
                let lead = data.runs.get(&(account, run))?.lead_id;
                if filter.lead.is_some_and(|wanted| wanted != lead) {
                    return None;
                }
                Some(lead)
            }
            None => filter.lead,
        };
        let mut entries: Vec<ConversionEvent> = data
            .events
            .iter()
            .filter(|((a, _), stored)| {
                *a == account
                    && lead.is_none_or(|lead| stored.event.lead_id == lead)
                    && filter.window.contains(stored.event.converted_at)
            })
            .map(|(_, stored)| stored.event.clone())
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(Position::of(e)));
        Some(entries)
    }

    /// Stores a change record alone, as a write that failed after its change leaves it.
    pub fn record_change(&self, account: AccountId, change: ChangeRecord) {
        self.data().record(account, change);
    }

    /// How many change records are held, served or not.
    pub fn change_count(&self) -> usize {
        self.data().changes.len()
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
        if !self.faults.delay.is_zero() {
            tokio::time::sleep(self.faults.delay).await;
        }
        Ok(self
            .data()
            .keys
            .get(key)
            .filter(|record| record.active)
            .map(|record| record.account))
    }

    async fn load_context(
        &self,
        account: AccountId,
        lookup: &Lookup<'_>,
    ) -> Result<Context, StoreError> {
        self.call().await?;
        let data = self.data();
        Ok(Context {
            key_account: lookup
                .api_key
                .and_then(|key| data.keys.get(key))
                .filter(|record| record.active)
                .map(|record| record.account),
            conversion_types: found(&data.types, account, &lookup.conversion_types),
            leads: found(&data.leads, account, &lookup.leads),
            workflow_runs: found(&data.runs, account, &lookup.workflow_runs),
            events: (lookup.events.iter())
                .filter_map(|id| Some((*id, data.events.get(&(account, *id))?.clone())))
                .collect(),
            adjustment_keys: (lookup.events.iter())
                .filter(|id| data.claims.contains_key(&(account, **id)))
                .copied()
                .collect(),
        })
    }

    async fn insert_event(
        &self,
        account: AccountId,
        new: NewEvent<'_>,
    ) -> Result<Insert, StoreError> {
        self.call().await?;
        if let Some(own) = self.faults.written_before {
            let earlier = NewEvent {
                write_token: if own {
                    new.write_token
                } else {
                    WriteToken::random()
                },
                ..new
            };
            assert_eq!(self.insert(account, earlier), Insert::Written);
        }
        Ok(self.insert(account, new))
    }

    async fn adjustment_target(
        &self,
        account: AccountId,
        event: EventId,
        key: Option<EventId>,
    ) -> Result<Target, StoreError> {
        self.call().await?;
        let data = self.data();
        let key_holder = key.and_then(|key| match data.claims.get(&(account, key)) {
            Some(claim) => Some(KeyHolder::Adjustment(claim.clone())),
            None => data
                .events
                .contains_key(&(account, key))
                .then_some(KeyHolder::Event),
        });
        Ok(Target {
            event: data.events.get(&(account, event)).cloned(),
            key_holder,
        })
    }

    async fn claim_key(
        &self,
        account: AccountId,
        key: EventId,
        claim: &AdjustmentClaim,
        _: Timestamp,
    ) -> Result<Option<KeyHolder>, StoreError> {
        self.call().await?;
        let mut data = self.data();
        if data.events.contains_key(&(account, key)) {
            return Ok(Some(KeyHolder::Event));
        }
        if let Some(held) = data.claims.get(&(account, key)) {
            return Ok(Some(KeyHolder::Adjustment(held.clone())));
        }
        data.claims.insert((account, key), claim.clone());
        Ok(None)
    }

    async fn append_adjustment(
        &self,
        account: AccountId,
        event: EventId,
        after: usize,
        adjustment: &Adjustment,
    ) -> Result<bool, StoreError> {
        self.call().await?;
        let mut data = self.data();
        if data.events.contains_key(&(account, event)) {
            data.record(account, ChangeRecord::adjusted(event, adjustment));
        }
        match data.events.get_mut(&(account, event)) {
            Some(stored) if stored.adjustments.len() == after => {
                stored.adjustments.push(adjustment.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn get_event(
        &self,
        account: AccountId,
        id: EventId,
    ) -> Result<Option<StoredEvent>, StoreError> {
        self.call().await?;
        Ok(self.data().events.get(&(account, id)).cloned())
    }

    async fn conversion_types(
        &self,
        account: AccountId,
    ) -> Result<Vec<ConversionType>, StoreError> {
        self.call().await?;
        Ok(self
            .data()
            .types
            .iter()
            .filter(|((a, _), _)| *a == account)
            .map(|(_, t)| t.clone())
            .collect())
    }

    async fn conversion_type(
        &self,
        account: AccountId,
        id: ConversionTypeId,
    ) -> Result<Option<ConversionType>, StoreError> {
        self.call().await?;
        Ok(self.data().types.get(&(account, id)).cloned())
    }

    async fn changes(
        &self,
        account: AccountId,
        after: FeedPosition,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        self.call().await?;
        let data = self.data();
        let records = data
            .changes
            .range((account, after)..)
            .filter(|((a, p), _)| *a == account && *p > after)
            .take_while(|((_, p), _)| p.recorded_at < until)
            .take(limit);
        records
            .map(|(_, record)| {
                let event = match record.subject {
                    Subject::Event(id) => data.events.get(&(account, id)).map(|stored| {
                        let t = data.types.get(&(account, stored.event.conversion_type_id));
                        let t = t.ok_or_else(|| StoreError::missing_type(&stored.event))?;
                        let with_type = EventWithType {
                            event: stored.event.clone(),
                            conversion_type: t.clone(),
                            adjustments: stored.adjustments.clone(),
                        };
                        Ok((with_type, stored.write_token))
                    }),
                    Subject::Lead(_) => None,
                };
                Ok(FeedEntry {
                    record: *record,
                    event: event.transpose()?,
                })
            })
            .collect()
    }

    /// What the DynamoDB adapter does, on a list of entries: at most `read_bound` of them read
    /// for the page (from after its start) and as many for the count (from the top).
    async fn list_events(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> Result<Page, StoreError> {
        self.call().await?;
        let Some(entries) = self.partition(account, &page.filter) else {
            return Ok(Page {
                events: Vec::new(),
                next: None,
                cut_short: false,
                total: Total::Exact(0),
            });
        };
        let bound = self.read_bound as usize;
        let count_bound = self.read_bound.min(MAX_ENTRIES_COUNTED) as usize;
        let counted = entries
            .iter()
            .take(count_bound)
            .filter(|e| page.filter.matches(e))
            .count() as u64;
        let total = if entries.len() >= count_bound {
            Total::AtLeast(counted)
        } else {
            Total::Exact(counted)
        };
        let read: Vec<&ConversionEvent> = entries
            .iter()
            .filter(|e| page.after.is_none_or(|after| Position::of(e) < after))
            .take(bound)
            .collect();
        let (skip, limit) = (page.skip as usize, page.limit.get() as usize);
        let wanted = skip + limit + 1;
        let mut matched = Vec::new();
        let mut last_read = None;
        for entry in &read {
            last_read = Some(Position::of(entry));
            if page.filter.matches(entry) {
                matched.push(*entry);
                if matched.len() == wanted {
                    break;
                }
            }
        }
        // Stopped by the bound, before it knew whether more match: the page continues after
        // the last entry read, with what is left to skip.
        let cut = matched.len() < wanted && read.len() == bound;
        let events: Vec<ConversionEvent> = matched
            .iter()
            .skip(skip)
            .take(limit)
            .map(|e| (*e).clone())
            .collect();
        let next = if cut {
            last_read.map(|after| Resume {
                after,
                skip: (skip - matched.len().min(skip)) as u32,
            })
        } else if matched.len() == wanted {
            events.last().map(|last| Resume {
                after: Position::of(last),
                skip: 0,
            })
        } else {
            None
        };
        let cut_short = cut && events.len() < limit;
        let data = self.data();
        let events = events
            .into_iter()
            .map(
                |event| match data.types.get(&(account, event.conversion_type_id)) {
                    Some(t) => Ok(EventWithType {
                        conversion_type: t.clone(),
                        adjustments: data.events[&(account, event.id)].adjustments.clone(),
                        event,
                    }),
                    None => Err(StoreError::missing_type(&event)),
                },
            )
            .collect::<Result<_, _>>()?;
        Ok(Page {
            events,
            next,
            cut_short,
            total,
        })
    }
}

impl Data {
    fn record(&mut self, account: AccountId, change: ChangeRecord) {
        self.changes.insert((account, change.position), change);
    }
}

impl MemoryStore {
    /// Erases the lead as `conversions-admin erase-lead` does: its change first, then the lead,
    /// its runs, its events and their changes.
    pub fn erase_lead(&self, account: AccountId, lead: LeadId) {
        let mut data = self.data();
        if data.leads.remove(&(account, lead)).is_some() {
            data.record(account, ChangeRecord::lead_erased(lead, Timestamp::now()));
        }
        data.runs
            .retain(|(a, _), run| *a != account || run.lead_id != lead);
        let events: Vec<EventId> = (data.events.iter())
            .filter(|((a, _), stored)| *a == account && stored.event.lead_id == lead)
            .map(|((_, id), _)| *id)
            .collect();
        for id in events {
            data.events.remove(&(account, id));
            data.changes
                .retain(|(a, _), c| *a != account || c.subject != Subject::Event(id));
        }
    }

    /// The record that holds `record`'s id, if any.
    fn holding(&self, record: &Record) -> Option<Record> {
        let data = self.data();
        match record {
            Record::Account(a) => data.accounts.get(&a.id).cloned().map(Record::Account),
            Record::ConversionType(account, t) => (data.types.get(&(*account, t.id)).cloned())
                .map(|t| Record::ConversionType(*account, t)),
            Record::Lead(account, l) => {
                (data.leads.get(&(*account, l.id)).cloned()).map(|l| Record::Lead(*account, l))
            }
            Record::WorkflowRun(account, r) => (data.runs.get(&(*account, r.id)).cloned())
                .map(|r| Record::WorkflowRun(*account, r)),
        }
    }
}

impl Provisioning for MemoryStore {
    async fn create(&self, record: &Record) -> Result<Option<Record>, StoreError> {
        if let Some(found) = self.holding(record) {
            return Ok(Some(found));
        }
        self.put(record).await.map(|()| None)
    }

    async fn put(&self, record: &Record) -> Result<(), StoreError> {
        let mut data = self.data();
        match record.clone() {
            Record::Account(a) => drop(data.accounts.insert(a.id, a)),
            Record::ConversionType(account, t) => drop(data.types.insert((account, t.id), t)),
            Record::Lead(account, l) => drop(data.leads.insert((account, l.id), l)),
            Record::WorkflowRun(account, r) => drop(data.runs.insert((account, r.id), r)),
        }
        Ok(())
    }

    async fn holder(&self, record: &Record) -> Result<Option<Record>, StoreError> {
        Ok(self.holding(record))
    }

    async fn get_account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        Ok(self.data().accounts.get(&id).cloned())
    }

    async fn get_lead(&self, account: AccountId, id: LeadId) -> Result<Option<Lead>, StoreError> {
        Ok(self.data().leads.get(&(account, id)).cloned())
    }

    async fn put_api_key(&self, key: &ApiKeyHash, account: AccountId) -> Result<(), StoreError> {
        let record = ApiKeyRecord {
            hash: key.clone(),
            account,
            active: true,
            created_at: Timestamp::now(),
            revoked_at: None,
        };
        self.data().keys.insert(key.clone(), record);
        Ok(())
    }

    async fn api_keys(&self, account: AccountId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut keys: Vec<ApiKeyRecord> = (self.data().keys.values())
            .filter(|record| record.account == account)
            .cloned()
            .collect();
        keys.sort_by_key(|key| key.hash.id());
        Ok(keys)
    }

    async fn revoke_api_key(&self, key: &ApiKeyHash) -> Result<bool, StoreError> {
        Ok(self
            .data()
            .keys
            .get_mut(key)
            .map(|record| {
                record.active = false;
                record.revoked_at = Some(Timestamp::now());
            })
            .is_some())
    }
}

/// The account's records with these ids, by id.
fn found<K: Copy + Eq + std::hash::Hash, V: Clone>(
    records: &HashMap<(AccountId, K), V>,
    account: AccountId,
    ids: &[K],
) -> HashMap<K, V> {
    (ids.iter())
        .filter_map(|id| Some((*id, records.get(&(account, *id))?.clone())))
        .collect()
}
