//! Reading events back: which events a list shows ([`EventFilter`]), in which order
//! ([`Position`]), how many ([`Limit`], [`Offset`]), and the [`Cursor`] to the next page.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::digest::Sha256Hex;
use super::{
    AccountId, Adjustment, ConversionEvent, ConversionType, ConversionTypeId, EventId, LeadId,
    MasterWorkflowId, Timestamp, WorkflowId, WorkflowRunId,
};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;
/// Every event `offset` skips is read and discarded: deeper, use `cursor`, whose cost stays flat.
pub const MAX_OFFSET: u32 = 10_000;

/// Entries a page reads at most: the deepest offset, a full page and one more, so an unfiltered
/// list is never cut. A filter matching few entries can reach it ([`Page::cut_short`]).
pub const MAX_ENTRIES_READ: u32 = MAX_OFFSET + MAX_LIMIT + 1;

/// Past this many entries `total` is a lower bound ([`Total::AtLeast`]). Counting is what a large
/// account's list pays most for (every entry read, none shown): it stops at twenty default pages.
pub const MAX_ENTRIES_COUNTED: u32 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

/// Decimal digits only: no sign, no space (`u32`'s own parser takes `+5`).
pub fn whole_number(text: &str) -> Option<u32> {
    let digits_only = text.bytes().all(|b| b.is_ascii_digit());
    text.parse().ok().filter(|_| digits_only)
}

impl Limit {
    pub fn parse(text: &str) -> Option<Self> {
        whole_number(text)
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .map(Self)
    }

    pub fn get(&self) -> u32 {
        self.0
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self(DEFAULT_LIMIT)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offset(u32);

impl Offset {
    pub fn parse(text: &str) -> Option<Self> {
        whole_number(text).filter(|n| *n <= MAX_OFFSET).map(Self)
    }

    pub fn get(&self) -> u32 {
        self.0
    }
}

/// `from` inclusive, `until` exclusive, so adjacent windows never share an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    from: Option<Timestamp>,
    until: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("converted_before must be later than converted_after")]
pub struct EmptyWindow;

impl Window {
    pub fn new(from: Option<Timestamp>, until: Option<Timestamp>) -> Result<Self, EmptyWindow> {
        match (from, until) {
            (Some(from), Some(until)) if until <= from => Err(EmptyWindow),
            _ => Ok(Self { from, until }),
        }
    }

    pub fn from(&self) -> Option<Timestamp> {
        self.from
    }

    pub fn until(&self) -> Option<Timestamp> {
        self.until
    }

    pub fn contains(&self, at: Timestamp) -> bool {
        self.from.is_none_or(|from| at >= from) && self.until.is_none_or(|until| at < until)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventFilter {
    pub lead: Option<LeadId>,
    pub workflow: Option<WorkflowId>,
    pub master_workflow: Option<MasterWorkflowId>,
    pub workflow_run: Option<WorkflowRunId>,
    pub conversion_type: Option<ConversionTypeId>,
    pub window: Window,
    /// `as_of`: only events recorded by then (their adjustments are cut by the caller).
    pub as_of: Option<Timestamp>,
}

impl EventFilter {
    pub fn matches(&self, event: &ConversionEvent) -> bool {
        fn holds<T: PartialEq>(wanted: Option<T>, actual: Option<T>) -> bool {
            wanted.is_none() || wanted == actual
        }
        holds(self.lead, Some(event.lead_id))
            && holds(self.workflow, event.workflow_id)
            && holds(self.master_workflow, event.master_workflow_id)
            && holds(self.workflow_run, event.workflow_run_id)
            && holds(self.conversion_type, Some(event.conversion_type_id))
            && self.window.contains(event.converted_at)
            && self.as_of.is_none_or(|at| event.created_at <= at)
    }

    /// One line that differs for any two different filters: what a cursor is bound to.
    fn canonical(&self) -> String {
        fn part(value: Option<impl fmt::Display>) -> String {
            value.map(|v| v.to_string()).unwrap_or_default()
        }
        format!(
            "lead={};workflow={};master_workflow={};workflow_run={};conversion_type={};from={};until={}",
            part(self.lead),
            part(self.workflow),
            part(self.master_workflow),
            part(self.workflow_run),
            part(self.conversion_type),
            part(self.window.from.map(|t| t.sortable())),
            part(self.window.until.map(|t| t.sortable())),
        ) + &self
            .as_of
            .map(|at| format!(";as_of={}", at.sortable()))
            .unwrap_or_default()
    }
}

/// A place in list order, `(converted_at, id)` descending: the order of the lists' index keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub converted_at: Timestamp,
    pub id: EventId,
}

impl Position {
    pub fn of(event: &ConversionEvent) -> Self {
        Self {
            converted_at: event.converted_at,
            id: event.id,
        }
    }
}

/// The filter's events after `after` in list order, less the first `skip`, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub filter: EventFilter,
    pub after: Option<Position>,
    pub skip: u32,
    pub limit: Limit,
}

impl PageRequest {
    pub fn new(filter: EventFilter, resume: Option<Resume>, offset: Offset, limit: Limit) -> Self {
        Self {
            filter,
            after: resume.map(|r| r.after),
            skip: resume.map_or(0, |r| r.skip) + offset.get(),
            limit,
        }
    }
}

/// `skip` counts matching events still to skip, when a page was cut short before its offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    pub after: Position,
    pub skip: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventWithType {
    pub event: ConversionEvent,
    pub conversion_type: ConversionType,
    /// Oldest first.
    pub adjustments: Vec<Adjustment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    Exact(u64),
    /// The count stopped at the bound: at least this many.
    AtLeast(u64),
}

impl Total {
    pub fn counted(self) -> u64 {
        match self {
            Self::Exact(n) | Self::AtLeast(n) => n,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub events: Vec<EventWithType>,
    pub next: Option<Resume>,
    /// The request read as many index entries as it may; `next` continues exactly where it stopped.
    pub cut_short: bool,
    pub total: Total,
}

/// The opaque `next_cursor`: a [`Resume`] checksum-bound to an account and filter (a foreign or
/// edited one is an error, not a wrong page); only a place, it never widens what the caller sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cursor is not valid for this account and these filters")]
pub struct CursorError;

const CURSOR_VERSION: &str = "c1";
const CHECKSUM_HEX: usize = 16;
/// Longer text is not a cursor of ours, whatever it holds.
const MAX_CURSOR_CHARS: usize = 256;

impl Cursor {
    pub fn new(account: AccountId, filter: &EventFilter, resume: Resume) -> Self {
        let place = place(resume);
        let check = checksum(account, filter, &place);
        Self(URL_SAFE_NO_PAD.encode(format!("{CURSOR_VERSION}|{place}|{check}")))
    }

    pub fn read(
        text: &str,
        account: AccountId,
        filter: &EventFilter,
    ) -> Result<Resume, CursorError> {
        if text.len() > MAX_CURSOR_CHARS {
            return Err(CursorError);
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError)?;
        let decoded = String::from_utf8(bytes).map_err(|_| CursorError)?;
        let [CURSOR_VERSION, at, id, skip, check] = decoded.split('|').collect::<Vec<_>>()[..]
        else {
            return Err(CursorError);
        };
        let resume = Resume {
            after: Position {
                converted_at: Timestamp::from_stored(at).map_err(|_| CursorError)?,
                id: EventId::parse(id).map_err(|_| CursorError)?,
            },
            skip: Offset::parse(skip).ok_or(CursorError)?.get(),
        };
        // Re-printed, so that only the one spelling this service writes is accepted.
        let place = place(resume);
        if place != format!("{at}|{id}|{skip}")
            || check != checksum(account, filter, &place)
            || !filter.window.contains(resume.after.converted_at)
        {
            return Err(CursorError);
        }
        Ok(resume)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn place(resume: Resume) -> String {
    let Resume { after, skip } = resume;
    format!("{}|{}|{skip}", after.converted_at.sortable(), after.id)
}

fn checksum(account: AccountId, filter: &EventFilter, place: &str) -> String {
    let filter = filter.canonical();
    let text = format!("{CURSOR_VERSION}\n{account}\n{filter}\n{place}");
    Sha256Hex::of(text.as_bytes()).as_str()[..CHECKSUM_HEX].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    fn resume() -> Resume {
        Resume {
            after: Position {
                converted_at: at("2026-01-28T10:00:00.5Z"),
                id: EventId::random(),
            },
            skip: 7,
        }
    }

    #[test]
    fn limit_and_offset_take_their_bounds_and_nothing_else() {
        assert_eq!(Limit::default().get(), 50);
        assert_eq!(Limit::parse("1").map(|l| l.get()), Some(1));
        assert_eq!(Limit::parse("200").map(|l| l.get()), Some(200));
        for bad in [
            "0",
            "201",
            "-1",
            "abc",
            "",
            "1.0",
            " 5",
            "+5",
            "99999999999",
        ] {
            assert_eq!(Limit::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Offset::parse("0").map(|o| o.get()), Some(0));
        assert_eq!(Offset::parse("10000").map(|o| o.get()), Some(10_000));
        for bad in ["-1", "10001", "x", "", "+0"] {
            assert_eq!(Offset::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_window_includes_its_start_and_excludes_its_end() {
        let window = Window::new(
            Some(at("2026-01-01T00:00:00Z")),
            Some(at("2026-02-01T00:00:00Z")),
        )
        .unwrap();
        assert!(window.contains(at("2026-01-01T00:00:00Z")));
        assert!(window.contains(at("2026-01-31T23:59:59.999Z")));
        assert!(!window.contains(at("2026-02-01T00:00:00Z")));
        assert!(!window.contains(at("2025-12-31T23:59:59Z")));
        assert_eq!(
            Window::new(
                Some(at("2026-01-01T00:00:00Z")),
                Some(at("2026-01-01T00:00:00Z"))
            ),
            Err(EmptyWindow)
        );
    }

    #[test]
    fn a_cursor_reads_back_for_its_account_and_filter_only() {
        let account = AccountId::random();
        let filter = EventFilter {
            lead: Some(LeadId::random()),
            ..EventFilter::default()
        };
        let resume = resume();
        let cursor = Cursor::new(account, &filter, resume);
        assert_eq!(Cursor::read(cursor.as_str(), account, &filter), Ok(resume));
        assert_eq!(
            Cursor::read(cursor.as_str(), AccountId::random(), &filter),
            Err(CursorError)
        );
        let wider = EventFilter::default();
        assert_eq!(
            Cursor::read(cursor.as_str(), account, &wider),
            Err(CursorError)
        );
        let windowed = EventFilter {
            window: Window::new(Some(at("2026-01-01T00:00:00Z")), None).unwrap(),
            ..filter
        };
        assert_eq!(
            Cursor::read(cursor.as_str(), account, &windowed),
            Err(CursorError)
        );
    }

    #[test]
    fn an_edited_cursor_is_refused() {
        let account = AccountId::random();
        let filter = EventFilter::default();
        let cursor = Cursor::new(account, &filter, resume());
        let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor.as_str()).unwrap()).unwrap();
        // Moved one second later, or with less to skip, checksum kept.
        let moved = decoded.replacen("10:00:00.5", "10:00:01.5", 1);
        let skipping_less = decoded.replacen("|7|", "|6|", 1);
        assert_ne!(moved, decoded);
        assert_ne!(skipping_less, decoded);
        for text in [
            URL_SAFE_NO_PAD.encode(moved),
            URL_SAFE_NO_PAD.encode(skipping_less),
            format!("{}A", cursor.as_str()),
            cursor.as_str()[1..].to_owned(),
            String::new(),
            "not a cursor".to_owned(),
            "x".repeat(10_000),
        ] {
            assert_eq!(
                Cursor::read(&text, account, &filter),
                Err(CursorError),
                "{text}"
            );
        }
    }

    #[test]
    fn list_order_is_newest_first_then_id_descending() {
        let early = at("2026-01-01T00:00:00Z");
        let late = at("2026-01-02T00:00:00Z");
        let low = EventId::parse("00000000-0000-4000-8000-000000000001").unwrap();
        let high = EventId::parse("ffffffff-0000-4000-8000-000000000001").unwrap();
        let mut positions = [
            Position {
                converted_at: early,
                id: high,
            },
            Position {
                converted_at: late,
                id: low,
            },
            Position {
                converted_at: early,
                id: low,
            },
        ];
        positions.sort_by(|a, b| b.cmp(a));
        assert_eq!(
            positions
                .iter()
                .map(|p| (p.converted_at, p.id))
                .collect::<Vec<_>>(),
            vec![(late, low), (early, high), (early, low)]
        );
    }
}
