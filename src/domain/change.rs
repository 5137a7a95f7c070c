//! The change feed: every change of an account (an event recorded, adjusted, a lead erased) in
//! the order recorded, read from a [`ChangeCursor`] on.
//!
//! A change is written before what it announces and announces only what holds it (the event's
//! write token, or the adjustment's id and time): a change whose write never landed announces
//! nothing and is passed over. A reader serves only changes recorded [`CHANGES_LAG`] ago or more,
//! when every write stamped before them has landed, so a cursor never passes a change that could
//! still appear.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use super::{
    AccountId, Adjustment, AdjustmentId, EventId, EventWithType, LeadId, Sha256Hex, Timestamp,
    WriteToken,
};

/// How long after it is recorded a change is served: longer than any write takes from its stamp
/// to its landing ([`CHANGE_WRITE_WITHIN`], then the write it announces, within the SDK's 6 s),
/// with room for writers' clocks that differ by seconds.
pub const CHANGES_LAG: Duration = Duration::from_secs(60);

/// A change is written at most this long after its stamp, or not at all (the write is then
/// retried with a new stamp): what bounds [`CHANGES_LAG`] whatever delays a writer (a request's
/// 8 s deadline; an import's chunk, checked and written in turn, re-stamped as it goes).
pub const CHANGE_WRITE_WITHIN: Duration = Duration::from_secs(25);

pub const DEFAULT_CHANGES_LIMIT: u32 = 100;
pub const MAX_CHANGES_LIMIT: u32 = 1000;

/// Changes passed over (their writes never landed) that one page may examine beyond its limit.
pub const MAX_CHANGES_EXAMINED: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Created,
    Adjusted,
    LeadErased,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "conversion.created",
            Self::Adjusted => "conversion.adjusted",
            Self::LeadErased => "lead.erased",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Created, Self::Adjusted, Self::LeadErased]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// A change's place in its account's feed: when it was recorded, then its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedPosition {
    pub recorded_at: Timestamp,
    pub id: Uuid,
}

impl FeedPosition {
    /// Before every change recorded at `at` or later.
    pub fn before(at: Timestamp) -> Self {
        Self {
            recorded_at: at,
            id: Uuid::nil(),
        }
    }

    /// Before every change.
    pub fn start() -> Self {
        Self::before(Timestamp::from_stored("1970-01-01T00:00:00Z").expect("a valid instant"))
    }
}

impl fmt::Display for FeedPosition {
    /// `<recorded_at, fixed width>#<id>`: text order is feed order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}#{}",
            self.recorded_at.sortable(),
            self.id.hyphenated()
        )
    }
}

impl std::str::FromStr for FeedPosition {
    type Err = ();
    fn from_str(text: &str) -> Result<Self, ()> {
        let (at, id) = text.split_once('#').ok_or(())?;
        let position = Self {
            recorded_at: Timestamp::from_stored(at).map_err(|_| ())?,
            id: Uuid::parse_str(id).map_err(|_| ())?,
        };
        // Only the one spelling this service writes.
        (position.to_string() == text).then_some(position).ok_or(())
    }
}

/// What a change record names: the event it announces, or the erased lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Event(EventId),
    Lead(LeadId),
}

/// A stored change, as written before what it announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeRecord {
    pub position: FeedPosition,
    pub kind: ChangeKind,
    pub subject: Subject,
}

impl ChangeRecord {
    /// The change of an event's create, by the write that records it (its token is the id).
    pub fn created(event: EventId, created_at: Timestamp, write: WriteToken) -> Self {
        Self {
            position: FeedPosition {
                recorded_at: created_at,
                id: *write.as_uuid(),
            },
            kind: ChangeKind::Created,
            subject: Subject::Event(event),
        }
    }

    pub fn adjusted(event: EventId, adjustment: &Adjustment) -> Self {
        Self {
            position: FeedPosition {
                recorded_at: adjustment.created_at,
                id: *adjustment.id.as_uuid(),
            },
            kind: ChangeKind::Adjusted,
            subject: Subject::Event(event),
        }
    }

    /// Whether it may still be written at `now` ([`CHANGE_WRITE_WITHIN`] of its stamp).
    pub fn writable_at(&self, now: Timestamp) -> bool {
        now.minus(CHANGE_WRITE_WITHIN) <= self.position.recorded_at
    }

    /// An erasure's announcement, an id of its own each time (a rerun that erases events
    /// recorded late announces again, after them; applying one twice is harmless).
    pub fn lead_erased(lead: LeadId, at: Timestamp) -> Self {
        Self {
            position: FeedPosition {
                recorded_at: at,
                id: Uuid::new_v4(),
            },
            kind: ChangeKind::LeadErased,
            subject: Subject::Lead(lead),
        }
    }

    /// The change as served, if what it announces holds it: `event` is its subject as stored
    /// now, with the write token of the create that recorded it.
    pub fn served(&self, event: Option<(&EventWithType, Option<WriteToken>)>) -> Option<Change> {
        let content = match (self.kind, self.subject, event) {
            (ChangeKind::LeadErased, Subject::Lead(lead), _) => Content::LeadErased(lead),
            (ChangeKind::Created, Subject::Event(_), Some((stored, Some(token))))
                if *token.as_uuid() == self.position.id
                    && stored.event.created_at == self.position.recorded_at =>
            {
                Content::Created(EventWithType {
                    adjustments: Vec::new(),
                    ..stored.clone()
                })
            }
            (ChangeKind::Adjusted, Subject::Event(_), Some((stored, _))) => {
                let id = AdjustmentId::from_uuid(self.position.id);
                let through = super::through(&stored.adjustments, id)?;
                let adjustment = through.last()?;
                if adjustment.created_at != self.position.recorded_at {
                    return None;
                }
                Content::Adjusted {
                    adjustment: adjustment.clone(),
                    event: EventWithType {
                        adjustments: through.to_vec(),
                        ..stored.clone()
                    },
                }
            }
            _ => return None,
        };
        Some(Change {
            position: self.position,
            content,
        })
    }
}

/// A change as served: its place (its id and time) and what it announces.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub position: FeedPosition,
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// The event as recorded.
    Created(EventWithType),
    /// The adjustment, and the event right after it.
    Adjusted {
        adjustment: Adjustment,
        event: EventWithType,
    },
    LeadErased(LeadId),
}

impl Change {
    pub fn kind(&self) -> ChangeKind {
        match self.content {
            Content::Created(_) => ChangeKind::Created,
            Content::Adjusted { .. } => ChangeKind::Adjusted,
            Content::LeadErased(_) => ChangeKind::LeadErased,
        }
    }
}

/// The opaque `next_cursor` of the feed: a [`FeedPosition`] checksum-bound to an account (a
/// foreign or edited one is an error, not a wrong page). Valid as long as the account exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeCursor(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("after must be a next_cursor this account's changes returned")]
pub struct ChangeCursorError;

const CHANGE_CURSOR_VERSION: &str = "f1";
const CHECKSUM_HEX: usize = 16;
const MAX_CURSOR_CHARS: usize = 256;

impl ChangeCursor {
    pub fn new(account: AccountId, after: FeedPosition) -> Self {
        let place = after.to_string();
        let check = checksum(account, &place);
        Self(URL_SAFE_NO_PAD.encode(format!("{CHANGE_CURSOR_VERSION}|{place}|{check}")))
    }

    pub fn read(text: &str, account: AccountId) -> Result<FeedPosition, ChangeCursorError> {
        if text.len() > MAX_CURSOR_CHARS {
            return Err(ChangeCursorError);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| ChangeCursorError)?;
        let decoded = String::from_utf8(bytes).map_err(|_| ChangeCursorError)?;
        let [CHANGE_CURSOR_VERSION, place, check] = decoded.split('|').collect::<Vec<_>>()[..]
        else {
            return Err(ChangeCursorError);
        };
        if check != checksum(account, place) {
            return Err(ChangeCursorError);
        }
        place.parse().map_err(|()| ChangeCursorError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn checksum(account: AccountId, place: &str) -> String {
    let text = format!("{CHANGE_CURSOR_VERSION}\n{account}\n{place}");
    Sha256Hex::of(text.as_bytes()).as_str()[..CHECKSUM_HEX].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position() -> FeedPosition {
        FeedPosition {
            recorded_at: Timestamp::parse("2026-03-01T10:00:00.123Z").unwrap(),
            id: Uuid::new_v4(),
        }
    }

    #[test]
    fn a_cursor_reads_back_for_its_account_only() {
        let (account, at) = (AccountId::random(), position());
        let cursor = ChangeCursor::new(account, at);
        assert_eq!(ChangeCursor::read(cursor.as_str(), account), Ok(at));
        assert_eq!(
            ChangeCursor::read(cursor.as_str(), AccountId::random()),
            Err(ChangeCursorError)
        );
    }

    #[test]
    fn an_edited_cursor_is_refused() {
        let (account, at) = (AccountId::random(), position());
        let cursor = ChangeCursor::new(account, at);
        let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor.as_str()).unwrap()).unwrap();
        let later = decoded.replace(":00.123", ":01.123");
        assert_ne!(later, decoded);
        for edited in [
            URL_SAFE_NO_PAD.encode(later),
            format!("{}A", cursor.as_str()),
            "f1".into(),
            String::new(),
            "%%%".into(),
            "A".repeat(300),
        ] {
            assert_eq!(
                ChangeCursor::read(&edited, account),
                Err(ChangeCursorError),
                "{edited}"
            );
        }
    }

    #[test]
    fn positions_print_in_feed_order_and_read_back() {
        let mut positions: Vec<FeedPosition> = (0..50)
            .map(|i| FeedPosition {
                recorded_at: Timestamp::parse(&format!(
                    "2026-01-0{}T00:00:0{}Z",
                    1 + i % 3,
                    i % 10
                ))
                .unwrap(),
                id: Uuid::new_v4(),
            })
            .collect();
        positions.push(FeedPosition::start());
        let mut by_text = positions.clone();
        by_text.sort_by_key(ToString::to_string);
        positions.sort();
        assert_eq!(by_text, positions);
        for p in positions {
            assert_eq!(p.to_string().parse(), Ok(p));
        }
        assert!(
            "2026-01-01T00:00:00Z#00000000-0000-0000-0000-000000000000"
                .parse::<FeedPosition>()
                .is_err()
        );
    }
}
