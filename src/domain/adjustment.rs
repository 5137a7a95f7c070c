//! Corrections. An adjustment retracts or restates a recorded conversion: it is appended to the
//! event, never written over what was recorded. An event's state is its adjustments applied in
//! the order recorded; its state at an instant, those recorded by then.

use std::fmt;

use super::{Amount, ConversionEvent, Currency, FieldError, IdError, Timestamp};

pub const MAX_REASON_CHARS: usize = 500;

/// An event's item holds its adjustments (under 1 KB each): this many keep it far below
/// DynamoDB's 400 KB.
pub const MAX_ADJUSTMENTS_PER_EVENT: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdjustmentKind {
    Retraction,
    Restatement,
}

impl AdjustmentKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "retraction" => Some(Self::Retraction),
            "restatement" => Some(Self::Restatement),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Retraction => "retraction",
            Self::Restatement => "restatement",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("reason must be at most {MAX_REASON_CHARS} characters")]
pub struct ReasonTooLong;

/// Why an adjustment was made. Personal data may be in it: stored and returned, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub fn parse(text: String) -> Result<Self, ReasonTooLong> {
        if text.chars().count() > MAX_REASON_CHARS {
            return Err(ReasonTooLong);
        }
        Ok(Self(text))
    }

    /// As stored, of any length: the limit applies to requests.
    pub fn from_stored(text: &str) -> Self {
        Self(text.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reason(<redacted>)")
    }
}

/// An adjustment's id: random, or derived from its `Idempotency-Key` as a create's event id is
/// (one key space: [`super::IdempotencyKey::event_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AdjustmentId(uuid::Uuid);

impl AdjustmentId {
    pub fn parse(text: &str) -> Result<Self, IdError> {
        uuid::Uuid::parse_str(text).map(Self).map_err(|_| IdError)
    }

    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    pub fn from_uuid(uuid: uuid::Uuid) -> Self {
        Self(uuid)
    }

    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl fmt::Display for AdjustmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// An adjustment as sent, each field valid on its own: `amount` given for a restatement only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdjustment {
    pub kind: AdjustmentKind,
    pub amount: Option<Amount>,
    pub currency: Option<Currency>,
    pub reason: Option<Reason>,
    pub adjusted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    pub id: AdjustmentId,
    pub kind: AdjustmentKind,
    /// The restated amount; `None` for a retraction.
    pub amount: Option<Amount>,
    pub reason: Option<Reason>,
    /// When it happened, as the client says.
    pub adjusted_at: Timestamp,
    /// When this service recorded it: after the event's, and an earlier adjustment's.
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Recorded,
    Restated,
    Retracted,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Recorded => "recorded",
            Self::Restated => "restated",
            Self::Retracted => "retracted",
        }
    }
}

/// Why an adjustment cannot be applied to an event in its present state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Invalid(Vec<FieldError>),
    /// The event was retracted: a retraction is final.
    Retracted,
    /// The event holds [`MAX_ADJUSTMENTS_PER_EVENT`].
    Full,
}

pub const RETRACTED: &str = "conversion event is retracted and takes no further adjustment";
pub const FULL: &str = "conversion event has 100 adjustments, the most it takes";

/// The state of an event after `adjustments` (oldest first; a retraction is always the last).
pub fn status(adjustments: &[Adjustment]) -> Status {
    match adjustments.last().map(|a| a.kind) {
        None => Status::Recorded,
        Some(AdjustmentKind::Restatement) => Status::Restated,
        Some(AdjustmentKind::Retraction) => Status::Retracted,
    }
}

/// The amount to count now: as recorded, as last restated, or zero (the currency's decimals)
/// once retracted.
pub fn current_amount(event: &ConversionEvent, adjustments: &[Adjustment]) -> Amount {
    match adjustments.last() {
        None => event.amount,
        Some(Adjustment {
            kind: AdjustmentKind::Retraction,
            ..
        }) => Amount::zero(event.currency),
        Some(Adjustment { amount, .. }) => amount.unwrap_or(event.amount),
    }
}

/// The adjustments recorded at or before `at`: a prefix, since each is recorded after the last.
pub fn recorded_by(adjustments: &[Adjustment], at: Timestamp) -> &[Adjustment] {
    let applied = adjustments.partition_point(|a| a.created_at <= at);
    &adjustments[..applied]
}

/// The adjustments up to and including `id`'s: the state an adjustment's answer shows.
pub fn through(adjustments: &[Adjustment], id: AdjustmentId) -> Option<&[Adjustment]> {
    let at = adjustments.iter().position(|a| a.id == id)?;
    Some(&adjustments[..=at])
}

impl NewAdjustment {
    /// The adjustment, appended to `adjustments` of `event`, recorded at `now` (or just after the
    /// last one). Every problem of the request is reported together.
    pub fn resolve(
        &self,
        id: AdjustmentId,
        event: &ConversionEvent,
        adjustments: &[Adjustment],
        now: Timestamp,
    ) -> Result<Adjustment, Refusal> {
        if status(adjustments) == Status::Retracted {
            return Err(Refusal::Retracted);
        }
        if adjustments.len() >= MAX_ADJUSTMENTS_PER_EVENT {
            return Err(Refusal::Full);
        }
        let mut errors = Vec::new();
        if let Some(amount) = self.amount
            && let Err(e) = amount.check_minor_unit(event.currency)
        {
            errors.push(FieldError::new("amount", e));
        }
        if let Some(currency) = self.currency.filter(|c| *c != event.currency) {
            errors.push(FieldError::new(
                "currency",
                format!(
                    "currency must be the conversion event's ({}), not {currency}",
                    event.currency
                ),
            ));
        }
        let adjusted_at = self.adjusted_at.unwrap_or(now);
        if adjusted_at < event.converted_at {
            errors.push(FieldError::new(
                "adjusted_at",
                "adjusted_at cannot be before the conversion event's converted_at",
            ));
        }
        if !errors.is_empty() {
            return Err(Refusal::Invalid(errors));
        }
        let last = adjustments
            .last()
            .map_or(event.created_at, |a| a.created_at);
        Ok(Adjustment {
            id,
            kind: self.kind,
            amount: self.amount,
            reason: self.reason.clone(),
            adjusted_at,
            // Strictly after: the feed orders changes by this instant.
            created_at: now.max(last.next_millisecond()),
        })
    }

    /// Whether `adjustment` is what this request stores: the same kind, amount, reason, and
    /// `adjusted_at` when one was sent (a resend of a request without one gets the first's).
    pub fn would_store(&self, adjustment: &Adjustment) -> bool {
        self.kind == adjustment.kind
            && self.amount.map(|a| a.to_string()) == adjustment.amount.map(|a| a.to_string())
            && self.reason == adjustment.reason
            && self
                .adjusted_at
                .is_none_or(|at| at == adjustment.adjusted_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConversionTypeId, LeadId, Metadata};

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    fn amount(text: &str) -> Amount {
        Amount::parse_json_number(text).unwrap()
    }

    fn event() -> ConversionEvent {
        ConversionEvent {
            id: crate::domain::EventId::random(),
            conversion_type_id: ConversionTypeId::random(),
            lead_id: LeadId::random(),
            workflow_id: None,
            master_workflow_id: None,
            workflow_run_id: None,
            amount: amount("5000.00"),
            currency: Currency::parse("USD").unwrap(),
            metadata: Metadata::default(),
            notes: None,
            converted_at: at("2026-03-01T10:00:00Z"),
            created_at: at("2026-03-01T10:00:01Z"),
        }
    }

    fn new(kind: AdjustmentKind, amount: Option<&str>) -> NewAdjustment {
        NewAdjustment {
            kind,
            amount: amount.map(self::amount),
            currency: None,
            reason: None,
            adjusted_at: None,
        }
    }

    /// Applies each in turn, as the service does, one second apart.
    fn apply(event: &ConversionEvent, steps: &[NewAdjustment]) -> Result<Vec<Adjustment>, Refusal> {
        let mut applied = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let now =
                at("2026-03-02T00:00:00Z").as_datetime() + chrono::Duration::seconds(i as i64);
            let now = Timestamp::parse(&now.to_rfc3339()).unwrap();
            applied.push(step.resolve(AdjustmentId::random(), event, &applied, now)?);
        }
        Ok(applied)
    }

    #[test]
    fn the_state_follows_every_order_of_restatements_and_a_final_retraction() {
        use AdjustmentKind::*;
        let e = event();
        let restate = |a: &str| new(Restatement, Some(a));
        assert_eq!(status(&[]), Status::Recorded);
        assert_eq!(current_amount(&e, &[]).to_string(), "5000.00");
        let restated = apply(&e, &[restate("4200.00"), restate("4300.5")]).unwrap();
        assert_eq!(status(&restated), Status::Restated);
        assert_eq!(current_amount(&e, &restated).to_string(), "4300.5");
        assert_eq!(current_amount(&e, &restated[..1]).to_string(), "4200.00");
        let retracted = apply(&e, &[restate("1"), new(Retraction, None)]).unwrap();
        assert_eq!(status(&retracted), Status::Retracted);
        assert_eq!(current_amount(&e, &retracted).to_string(), "0.00");
        for after in [new(Retraction, None), restate("1")] {
            assert_eq!(
                after.resolve(
                    AdjustmentId::random(),
                    &e,
                    &retracted,
                    at("2026-03-03T00:00:00Z")
                ),
                Err(Refusal::Retracted)
            );
        }
        // A currency without decimals retracts to a bare zero.
        let mut yen = e.clone();
        yen.currency = Currency::parse("JPY").unwrap();
        yen.amount = amount("700");
        let retracted = apply(&yen, &[new(Retraction, None)]).unwrap();
        assert_eq!(current_amount(&yen, &retracted).to_string(), "0");
    }

    #[test]
    fn each_is_recorded_after_the_last_and_read_back_by_instant() {
        let e = event();
        let first = new(AdjustmentKind::Restatement, Some("1"))
            .resolve(AdjustmentId::random(), &e, &[], at("2026-03-02T00:00:00Z"))
            .unwrap();
        // A clock behind the last record still records after it.
        let second = new(AdjustmentKind::Restatement, Some("2"))
            .resolve(
                AdjustmentId::random(),
                &e,
                std::slice::from_ref(&first),
                at("2026-03-01T23:00:00Z"),
            )
            .unwrap();
        assert_eq!(second.created_at, at("2026-03-02T00:00:00.001Z"));
        assert_eq!(second.adjusted_at, at("2026-03-01T23:00:00Z"));
        let both = [first.clone(), second.clone()];
        assert!(recorded_by(&both, at("2026-03-01T23:59:59Z")).is_empty());
        assert_eq!(recorded_by(&both, first.created_at).len(), 1);
        assert_eq!(recorded_by(&both, second.created_at).len(), 2);
        assert_eq!(through(&both, first.id).unwrap().len(), 1);
        assert_eq!(through(&both, AdjustmentId::random()), None);
    }

    #[test]
    fn every_problem_against_the_event_is_reported_together() {
        let e = event();
        let request = NewAdjustment {
            currency: Some(Currency::parse("EUR").unwrap()),
            adjusted_at: Some(at("2026-02-28T00:00:00Z")),
            ..new(AdjustmentKind::Restatement, Some("1.005"))
        };
        let Err(Refusal::Invalid(errors)) =
            request.resolve(AdjustmentId::random(), &e, &[], at("2026-03-02T00:00:00Z"))
        else {
            panic!("refused as invalid");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["amount", "currency", "adjusted_at"]);
        assert_eq!(
            errors[1].message,
            "currency must be the conversion event's (USD), not EUR"
        );
    }

    #[test]
    fn an_event_takes_at_most_the_most_adjustments() {
        let e = event();
        let steps = vec![new(AdjustmentKind::Restatement, Some("1")); MAX_ADJUSTMENTS_PER_EVENT];
        let full = apply(&e, &steps).unwrap();
        assert_eq!(
            steps[0].resolve(
                AdjustmentId::random(),
                &e,
                &full,
                at("2026-04-01T00:00:00Z")
            ),
            Err(Refusal::Full)
        );
    }

    #[test]
    fn a_reason_takes_500_characters_and_never_shows_in_debug_output() {
        let longest = "é".repeat(MAX_REASON_CHARS);
        assert_eq!(Reason::parse(longest.clone()).unwrap().as_str(), longest);
        assert_eq!(Reason::parse(format!("{longest}x")), Err(ReasonTooLong));
        let reason = Reason::parse("Ana Souza's refund".into()).unwrap();
        assert_eq!(format!("{reason:?}"), "Reason(<redacted>)");
    }

    #[test]
    fn an_adjustment_may_happen_at_the_instant_of_the_conversion_not_before() {
        let e = event();
        let at = |t| NewAdjustment {
            adjusted_at: Some(t),
            ..new(AdjustmentKind::Retraction, None)
        };
        let now = self::at("2026-03-02T00:00:00Z");
        assert!(
            at(e.converted_at)
                .resolve(AdjustmentId::random(), &e, &[], now)
                .is_ok()
        );
        let before = self::at("2026-03-01T09:59:59.999Z");
        assert!(matches!(
            at(before).resolve(AdjustmentId::random(), &e, &[], now),
            Err(Refusal::Invalid(_))
        ));
    }

    #[test]
    fn a_resend_without_adjusted_at_is_the_same_request() {
        let e = event();
        let request = new(AdjustmentKind::Restatement, Some("1"));
        let stored = request
            .resolve(AdjustmentId::random(), &e, &[], at("2026-03-02T00:00:00Z"))
            .unwrap();
        assert!(request.would_store(&stored));
        let dated = NewAdjustment {
            adjusted_at: Some(at("2026-03-01T12:00:00Z")),
            ..request.clone()
        };
        assert!(!dated.would_store(&stored));
        assert!(!new(AdjustmentKind::Restatement, Some("1.0")).would_store(&stored));
        assert!(!new(AdjustmentKind::Retraction, None).would_store(&stored));
    }
}
