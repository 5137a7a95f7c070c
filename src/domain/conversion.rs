//! Conversion types, leads, runs and events, and the rule that turns a request into an event.

use std::str::FromStr;

use super::{
    Amount, ConversionTypeId, Currency, EventId, FieldError, JsonValue, LeadId, MasterWorkflowId,
    Metadata, Notes, Timestamp, WorkflowId, WorkflowRunId, is_token_byte,
};

/// `intermediary` (a reservation, a deposit) or `final` (a closed sale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Intermediary,
    Final,
}

impl Category {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Intermediary => "intermediary",
            Self::Final => "final",
        }
    }
}

impl FromStr for Category {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "intermediary" => Ok(Self::Intermediary),
            "final" => Ok(Self::Final),
            _ => Err(format!(
                "category must be \"intermediary\" or \"final\", not {text:?}"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    Text,
    Number,
    /// Stored by a newer version: its values are not checked and its name is kept.
    Other(String),
}

impl FieldType {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::Other(name) => name,
        }
    }

    pub fn from_stored(name: &str) -> Self {
        name.parse()
            .unwrap_or_else(|_| Self::Other(name.to_owned()))
    }
}

impl FromStr for FieldType {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "text" => Ok(Self::Text),
            "number" => Ok(Self::Number),
            _ => Err(format!(
                "field type must be \"text\" or \"number\", not {text:?}"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDefinition {
    pub key: String,
    pub label: String,
    pub field_type: FieldType,
}

/// A workflow or a master workflow (a group of workflows); every event of the type inherits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Workflow(WorkflowId),
    MasterWorkflow(MasterWorkflowId),
}

impl Scope {
    pub fn workflow_id(&self) -> Option<WorkflowId> {
        match self {
            Self::Workflow(id) => Some(*id),
            Self::MasterWorkflow(_) => None,
        }
    }

    pub fn master_workflow_id(&self) -> Option<MasterWorkflowId> {
        match self {
            Self::Workflow(_) => None,
            Self::MasterWorkflow(id) => Some(*id),
        }
    }
}

/// Checked on write, so list answers (a type per event) and `GET /conversion-types` fit in 6 MiB.
pub const MAX_TYPES_PER_ACCOUNT: usize = 100;
pub const MAX_FIELDS_PER_TYPE: usize = 20;
pub const MAX_TYPE_NAME_CHARS: usize = 100;
pub const MAX_TYPE_DESCRIPTION_CHARS: usize = 500;
pub const MAX_FIELD_LABEL_CHARS: usize = 100;
pub const MAX_FIELD_KEY_CHARS: usize = 64;

/// A kind of business outcome an account tracks ("Reserva", "Venta").
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionType {
    pub id: ConversionTypeId,
    pub name: String,
    pub description: Option<String>,
    pub category: Category,
    pub currency: Currency,
    pub fields: Vec<FieldDefinition>,
    pub scope: Scope,
    pub active: bool,
    pub created_at: Timestamp,
}

impl ConversionType {
    /// Every limit but the number of types, which depends on what the account holds.
    pub fn check_limits(&self) -> Result<(), String> {
        let chars = |text: &str| text.chars().count();
        if self.name.trim().is_empty() || chars(&self.name) > MAX_TYPE_NAME_CHARS {
            return Err(format!(
                "the name must be 1 to {MAX_TYPE_NAME_CHARS} characters"
            ));
        }
        let description = self.description.as_deref().unwrap_or_default();
        if chars(description) > MAX_TYPE_DESCRIPTION_CHARS {
            return Err(format!(
                "the description must be at most {MAX_TYPE_DESCRIPTION_CHARS} characters"
            ));
        }
        if self.fields.len() > MAX_FIELDS_PER_TYPE {
            return Err(format!("at most {MAX_FIELDS_PER_TYPE} fields"));
        }
        for (i, field) in self.fields.iter().enumerate() {
            let key_ok = (1..=MAX_FIELD_KEY_CHARS).contains(&field.key.len())
                && field.key.bytes().all(is_token_byte);
            if !key_ok {
                return Err(format!(
                    "field key {:?} must be 1 to {MAX_FIELD_KEY_CHARS} of a-z A-Z 0-9 _ -",
                    field.key
                ));
            }
            if field.label.trim().is_empty() || chars(&field.label) > MAX_FIELD_LABEL_CHARS {
                return Err(format!(
                    "field {:?} needs a label of 1 to {MAX_FIELD_LABEL_CHARS} characters",
                    field.key
                ));
            }
            if self.fields[..i].iter().any(|other| other.key == field.key) {
                return Err(format!("field key {:?} is given twice", field.key));
            }
        }
        Ok(())
    }
}

/// Only a lead's existence matters to conversions.
#[derive(Debug, Clone, PartialEq)]
pub struct Lead {
    pub id: LeadId,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRun {
    pub id: WorkflowRunId,
    pub lead_id: LeadId,
    pub workflow_id: WorkflowId,
    pub master_workflow_id: Option<MasterWorkflowId>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewConversion {
    pub conversion_type_id: ConversionTypeId,
    pub lead_id: LeadId,
    pub amount: Amount,
    pub workflow_run_id: Option<WorkflowRunId>,
    pub currency: Option<Currency>,
    pub converted_at: Option<Timestamp>,
    pub metadata: Metadata,
    pub notes: Option<Notes>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConversionEvent {
    pub id: EventId,
    pub conversion_type_id: ConversionTypeId,
    pub lead_id: LeadId,
    pub workflow_id: Option<WorkflowId>,
    pub master_workflow_id: Option<MasterWorkflowId>,
    pub workflow_run_id: Option<WorkflowRunId>,
    pub amount: Amount,
    pub currency: Currency,
    pub metadata: Metadata,
    pub notes: Option<Notes>,
    pub converted_at: Timestamp,
    pub created_at: Timestamp,
}

/// A referenced record that cannot be used. The messages are the API reference's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("conversion_type_id not found, inactive, or does not belong to your account")]
    ConversionType,
    #[error("lead_id not found or does not belong to your account")]
    Lead,
    #[error("workflow_run_id not found or does not match the given workflow_id and lead_id")]
    WorkflowRun,
}

impl ReferenceError {
    pub fn field(&self) -> &'static str {
        match self {
            Self::ConversionType => "conversion_type_id",
            Self::Lead => "lead_id",
            Self::WorkflowRun => "workflow_run_id",
        }
    }
}

impl From<ReferenceError> for FieldError {
    fn from(err: ReferenceError) -> Self {
        FieldError::new(err.field(), err)
    }
}

impl NewConversion {
    /// The one rule for "the same request" (an `Idempotency-Key` sent again): would this request
    /// have stored `stored`? Judged against the stored event, not the records of today: a left-out
    /// `currency` or `converted_at` matches the one stored (whatever the type says now); every
    /// other field must be equal, the amount to its digits (`1.50` is not `1.5`).
    pub fn would_store(&self, stored: &ConversionEvent) -> bool {
        self.conversion_type_id == stored.conversion_type_id
            && self.lead_id == stored.lead_id
            && self.workflow_run_id == stored.workflow_run_id
            && self.amount.to_string() == stored.amount.to_string()
            && self.currency.is_none_or(|c| c == stored.currency)
            && self.converted_at.is_none_or(|at| at == stored.converted_at)
            && self.metadata == stored.metadata
            && self.notes == stored.notes
    }

    /// The event from the caller's records, or every problem, references first: an active type, an
    /// existing lead, a run of the lead within the type's scope (its workflow, or one of its master
    /// workflow's); field values of their JSON type (`null` is no value; other keys kept as sent);
    /// an amount fitting the type's currency's minor unit (a sent currency was checked with the
    /// payload). A master-workflow type with a run takes the run's `workflow_id` (granular
    /// attribution); `currency` defaults to the type's, `converted_at` to `created_at`.
    pub fn resolve(
        self,
        id: EventId,
        conversion_type: Option<&ConversionType>,
        lead: Option<&Lead>,
        run: Option<&WorkflowRun>,
        created_at: Timestamp,
    ) -> Result<ConversionEvent, Vec<FieldError>> {
        let mut errors: Vec<FieldError> = Vec::new();
        let conversion_type =
            conversion_type.filter(|t| t.active && t.id == self.conversion_type_id);
        if conversion_type.is_none() {
            errors.push(ReferenceError::ConversionType.into());
        }
        if lead.filter(|l| l.id == self.lead_id).is_none() {
            errors.push(ReferenceError::Lead.into());
        }
        let run = self.workflow_run_id.and_then(|run_id| {
            let found = run.filter(|r| {
                r.id == run_id
                    && r.lead_id == self.lead_id
                    && conversion_type.is_none_or(|t| in_scope(r, t.scope))
            });
            if found.is_none() {
                errors.push(ReferenceError::WorkflowRun.into());
            }
            found
        });
        if let Some(currency) = self.currency.or(conversion_type.map(|t| t.currency))
            && let Err(err) = self.amount.check_minor_unit(currency)
        {
            errors.push(FieldError::new("amount", err));
        }
        let Some(conversion_type) = conversion_type else {
            return Err(errors);
        };
        errors.extend(field_type_errors(&self.metadata, &conversion_type.fields));
        if !errors.is_empty() {
            return Err(errors);
        }
        let workflow_id = match conversion_type.scope {
            Scope::Workflow(id) => Some(id),
            Scope::MasterWorkflow(_) => run.map(|r| r.workflow_id),
        };
        Ok(ConversionEvent {
            id,
            conversion_type_id: conversion_type.id,
            lead_id: self.lead_id,
            workflow_id,
            master_workflow_id: conversion_type.scope.master_workflow_id(),
            workflow_run_id: self.workflow_run_id,
            amount: self.amount,
            currency: self.currency.unwrap_or(conversion_type.currency),
            metadata: self.metadata,
            notes: self.notes,
            converted_at: self.converted_at.unwrap_or(created_at),
            created_at,
        })
    }
}

fn field_type_errors(metadata: &Metadata, fields: &[FieldDefinition]) -> Vec<FieldError> {
    fields
        .iter()
        .filter_map(|field| {
            let wrong = match (&field.field_type, metadata.get(&field.key)?) {
                (_, JsonValue::Null)
                | (FieldType::Other(_), _)
                | (FieldType::Text, JsonValue::String(_))
                | (FieldType::Number, JsonValue::Number(_)) => return None,
                (FieldType::Text, _) => "a string",
                (FieldType::Number, _) => "a number",
            };
            let name = format!("metadata.{}", field.key);
            let message = format!("{name} must be {wrong}");
            Some(FieldError::new(name, message))
        })
        .collect()
}

fn in_scope(run: &WorkflowRun, scope: Scope) -> bool {
    match scope {
        Scope::Workflow(workflow) => run.workflow_id == workflow,
        Scope::MasterWorkflow(master) => run.master_workflow_id == Some(master),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    struct World {
        ctype: ConversionType,
        lead: Lead,
        run: WorkflowRun,
        request: NewConversion,
    }

    fn world() -> World {
        let workflow = WorkflowId::random();
        let lead = Lead {
            id: LeadId::random(),
            created_at: ts("2026-01-01T00:00:00Z"),
        };
        let ctype = ConversionType {
            id: ConversionTypeId::random(),
            name: "Reserva".into(),
            description: None,
            category: Category::Intermediary,
            currency: Currency::parse("USD").unwrap(),
            fields: vec![],
            scope: Scope::Workflow(workflow),
            active: true,
            created_at: ts("2026-01-01T00:00:00Z"),
        };
        let run = WorkflowRun {
            id: WorkflowRunId::random(),
            lead_id: lead.id,
            workflow_id: workflow,
            master_workflow_id: None,
            created_at: ts("2026-01-01T00:00:00Z"),
        };
        let request = NewConversion {
            conversion_type_id: ctype.id,
            lead_id: lead.id,
            amount: Amount::parse_json_number("85000.00").unwrap(),
            workflow_run_id: None,
            currency: None,
            converted_at: None,
            metadata: Metadata::default(),
            notes: None,
        };
        World {
            ctype,
            lead,
            run,
            request,
        }
    }

    const NOW: &str = "2026-02-01T15:30:00Z";

    fn resolve(w: &World, request: NewConversion) -> Result<ConversionEvent, Vec<FieldError>> {
        request.resolve(
            EventId::random(),
            Some(&w.ctype),
            Some(&w.lead),
            Some(&w.run),
            ts(NOW),
        )
    }

    fn refs(errors: &[ReferenceError]) -> Vec<FieldError> {
        errors.iter().map(|e| FieldError::from(*e)).collect()
    }

    #[test]
    fn workflow_and_currency_are_inherited_and_converted_at_defaults_to_creation_time() {
        let w = world();
        let event = resolve(&w, w.request.clone()).unwrap();
        assert_eq!(event.workflow_id, w.ctype.scope.workflow_id());
        assert_eq!(event.master_workflow_id, None);
        assert_eq!(event.currency.code(), "USD");
        assert_eq!(event.converted_at, ts(NOW));
        assert_eq!(event.created_at, ts(NOW));
        assert_eq!(event.workflow_run_id, None);
    }

    #[test]
    fn a_given_currency_and_converted_at_win_over_the_defaults() {
        let w = world();
        let request = NewConversion {
            currency: Some(Currency::parse("CLP").unwrap()),
            converted_at: Some(ts("2026-01-28T10:00:00Z")),
            ..w.request.clone()
        };
        let event = resolve(&w, request).unwrap();
        assert_eq!(event.currency.code(), "CLP");
        assert_eq!(event.converted_at, ts("2026-01-28T10:00:00Z"));
    }

    #[test]
    fn a_missing_or_inactive_type_is_a_conversion_type_error() {
        let mut w = world();
        let none = w
            .request
            .clone()
            .resolve(EventId::random(), None, Some(&w.lead), None, ts(NOW));
        assert_eq!(none, Err(refs(&[ReferenceError::ConversionType])));
        w.ctype.active = false;
        assert_eq!(
            resolve(&w, w.request.clone()),
            Err(refs(&[ReferenceError::ConversionType]))
        );
    }

    #[test]
    fn a_missing_lead_is_a_lead_error_listed_after_the_type() {
        let w = world();
        let result =
            w.request
                .clone()
                .resolve(EventId::random(), Some(&w.ctype), None, None, ts(NOW));
        assert_eq!(result, Err(refs(&[ReferenceError::Lead])));
        let request = NewConversion {
            workflow_run_id: Some(w.run.id),
            ..w.request.clone()
        };
        let result = request.resolve(EventId::random(), None, None, None, ts(NOW));
        let all = [
            ReferenceError::ConversionType,
            ReferenceError::Lead,
            ReferenceError::WorkflowRun,
        ];
        assert_eq!(
            result,
            Err(refs(&all)),
            "every reference problem is listed, in order"
        );
    }

    #[test]
    fn a_run_of_the_lead_in_the_type_workflow_is_attributed() {
        let w = world();
        let request = NewConversion {
            workflow_run_id: Some(w.run.id),
            ..w.request.clone()
        };
        let event = resolve(&w, request).unwrap();
        assert_eq!(event.workflow_run_id, Some(w.run.id));
        assert_eq!(event.workflow_id, Some(w.run.workflow_id));
    }

    #[test]
    fn a_missing_run_or_one_of_another_lead_or_workflow_is_a_run_error() {
        let w = world();
        let request = NewConversion {
            workflow_run_id: Some(w.run.id),
            ..w.request.clone()
        };
        let missing = request.clone().resolve(
            EventId::random(),
            Some(&w.ctype),
            Some(&w.lead),
            None,
            ts(NOW),
        );
        assert_eq!(missing, Err(refs(&[ReferenceError::WorkflowRun])));

        let other_lead = WorkflowRun {
            lead_id: LeadId::random(),
            ..w.run.clone()
        };
        let result = request.clone().resolve(
            EventId::random(),
            Some(&w.ctype),
            Some(&w.lead),
            Some(&other_lead),
            ts(NOW),
        );
        assert_eq!(result, Err(refs(&[ReferenceError::WorkflowRun])));

        let other_workflow = WorkflowRun {
            workflow_id: WorkflowId::random(),
            ..w.run.clone()
        };
        let result = request.resolve(
            EventId::random(),
            Some(&w.ctype),
            Some(&w.lead),
            Some(&other_workflow),
            ts(NOW),
        );
        assert_eq!(result, Err(refs(&[ReferenceError::WorkflowRun])));
    }

    #[test]
    fn a_master_workflow_type_takes_the_runs_workflow_when_the_run_is_in_the_master_workflow() {
        let mut w = world();
        let master = MasterWorkflowId::random();
        w.ctype.scope = Scope::MasterWorkflow(master);
        w.run.master_workflow_id = Some(master);

        let without_run = resolve(&w, w.request.clone()).unwrap();
        assert_eq!(without_run.workflow_id, None);
        assert_eq!(without_run.master_workflow_id, Some(master));

        let request = NewConversion {
            workflow_run_id: Some(w.run.id),
            ..w.request.clone()
        };
        let with_run = resolve(&w, request.clone()).unwrap();
        assert_eq!(with_run.workflow_id, Some(w.run.workflow_id));
        assert_eq!(with_run.master_workflow_id, Some(master));

        w.run.master_workflow_id = Some(MasterWorkflowId::random());
        assert_eq!(
            resolve(&w, request.clone()),
            Err(refs(&[ReferenceError::WorkflowRun]))
        );
        w.run.master_workflow_id = None;
        assert_eq!(
            resolve(&w, request),
            Err(refs(&[ReferenceError::WorkflowRun]))
        );
    }

    #[test]
    fn metadata_values_of_the_types_fields_must_have_the_fields_type() {
        let mut w = world();
        let field = |key: &str, field_type| FieldDefinition {
            key: key.into(),
            label: key.into(),
            field_type,
        };
        w.ctype.fields = vec![
            field("broker", FieldType::Text),
            field("commission", FieldType::Number),
            field("rating", FieldType::from_stored("stars")),
        ];
        let with = |json: &str| NewConversion {
            metadata: Metadata::from_json(json).unwrap(),
            ..w.request.clone()
        };

        let ok = resolve(
            &w,
            with(r#"{"broker":"Ann","commission":2500.5,"crm":{"id":7}}"#),
        )
        .unwrap();
        assert_eq!(
            ok.metadata.to_json(),
            r#"{"broker":"Ann","commission":2500.5,"crm":{"id":7}}"#
        );
        assert!(
            resolve(&w, with(r#"{"broker":null}"#)).is_ok(),
            "null is no value"
        );
        assert!(
            resolve(&w, with(r#"{"rating":[5]}"#)).is_ok(),
            "a type this version does not know is not checked"
        );

        let errors = resolve(&w, with(r#"{"broker":42,"commission":"2500"}"#)).unwrap_err();
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "metadata.broker must be a string",
                "metadata.commission must be a number"
            ]
        );
        assert_eq!(errors[0].field, "metadata.broker");
    }

    /// The one rule: the amount's places against the currency given, else the type's; a given
    /// currency is checked even when the type cannot be found.
    #[test]
    fn a_given_currency_limits_the_amounts_decimal_places() {
        let w = world();
        let with = |amount: &str, currency: &str| NewConversion {
            amount: Amount::parse_json_number(amount).unwrap(),
            currency: Some(Currency::parse(currency).unwrap()),
            ..w.request.clone()
        };
        for (amount, currency) in [("5.0", "CLP"), ("85000.00", "USD"), ("1.0005", "CLF")] {
            assert!(
                resolve(&w, with(amount, currency)).is_ok(),
                "{amount} {currency}"
            );
        }
        let places = |currency: &str, places: u8| {
            FieldError::new(
                "amount",
                format!("amount has more decimal places than {currency} allows ({places})"),
            )
        };
        assert_eq!(
            resolve(&w, with("10.5", "CLP")),
            Err(vec![places("CLP", 0)])
        );
        assert_eq!(
            resolve(&w, with("1.005", "USD")),
            Err(vec![places("USD", 2)])
        );
        let without_type =
            with("10.5", "CLP").resolve(EventId::random(), None, Some(&w.lead), None, ts(NOW));
        assert_eq!(
            without_type,
            Err(vec![
                ReferenceError::ConversionType.into(),
                places("CLP", 0)
            ])
        );
    }

    #[test]
    fn a_retry_is_the_same_request_when_it_would_store_the_stored_event() {
        let w = world();
        let at = |text| Some(ts(text));
        let with = |currency: Option<&str>, converted_at: Option<Timestamp>| NewConversion {
            currency: currency.map(|c| Currency::parse(c).unwrap()),
            converted_at,
            ..w.request.clone()
        };
        // Stored from a request that left both out: USD (the type's then) and now.
        let stored = resolve(&w, with(None, None)).unwrap();
        assert!(with(None, None).would_store(&stored));
        assert!(
            with(Some("usd"), None).would_store(&stored),
            "sent as stored"
        );
        assert!(with(None, at(NOW)).would_store(&stored));
        assert!(with(None, at("2026-02-01T12:30:00-03:00")).would_store(&stored));
        assert!(!with(Some("EUR"), None).would_store(&stored));
        assert!(!with(None, at("2026-02-01T15:30:01Z")).would_store(&stored));
        let differ = [
            NewConversion {
                amount: Amount::parse_json_number("85000.0").unwrap(),
                ..w.request.clone()
            },
            NewConversion {
                lead_id: LeadId::random(),
                ..w.request.clone()
            },
            NewConversion {
                workflow_run_id: Some(w.run.id),
                ..w.request.clone()
            },
            NewConversion {
                metadata: Metadata::from_json(r#"{"a":1}"#).unwrap(),
                ..w.request.clone()
            },
            NewConversion {
                notes: Some(Notes::parse("x".into()).unwrap()),
                ..w.request.clone()
            },
        ];
        for other in differ {
            assert!(!other.would_store(&stored), "{other:?}");
        }
    }

    #[test]
    fn an_inherited_currency_limits_the_decimal_places() {
        let mut w = world();
        w.ctype.currency = Currency::parse("CLP").unwrap();
        let amount = |text| NewConversion {
            amount: Amount::parse_json_number(text).unwrap(),
            ..w.request.clone()
        };
        assert!(resolve(&w, amount("5.0")).is_ok());
        let errors = resolve(&w, amount("10.5")).unwrap_err();
        assert_eq!(
            errors,
            [FieldError::new(
                "amount",
                "amount has more decimal places than CLP allows (0)"
            )]
        );
        let given = NewConversion {
            currency: Some(Currency::parse("USD").unwrap()),
            ..amount("10.5")
        };
        assert!(
            resolve(&w, given).is_ok(),
            "a given currency replaces the type's"
        );
    }

    #[test]
    fn reference_messages_are_the_documented_ones() {
        assert_eq!(
            ReferenceError::ConversionType.to_string(),
            "conversion_type_id not found, inactive, or does not belong to your account"
        );
        assert_eq!(
            ReferenceError::Lead.to_string(),
            "lead_id not found or does not belong to your account"
        );
        assert_eq!(
            ReferenceError::WorkflowRun.to_string(),
            "workflow_run_id not found or does not match the given workflow_id and lead_id"
        );
    }

    #[test]
    fn a_type_is_refused_past_each_limit() {
        let field = |key: &str, label: &str| FieldDefinition {
            key: key.into(),
            label: label.into(),
            field_type: FieldType::Text,
        };
        let largest = ConversionType {
            name: "n".repeat(MAX_TYPE_NAME_CHARS),
            description: Some("d".repeat(MAX_TYPE_DESCRIPTION_CHARS)),
            fields: (0..MAX_FIELDS_PER_TYPE)
                .map(|i| field(&format!("{i:0>64}"), &"l".repeat(MAX_FIELD_LABEL_CHARS)))
                .collect(),
            ..world().ctype
        };
        assert_eq!(largest.check_limits(), Ok(()));
        let refused = |change: &dyn Fn(&mut ConversionType)| {
            let mut t = largest.clone();
            change(&mut t);
            t.check_limits().unwrap_err()
        };
        assert!(refused(&|t| t.name.push('n')).contains("name"));
        assert!(refused(&|t| t.name = " ".into()).contains("name"));
        assert!(refused(&|t| t.description.as_mut().unwrap().push('d')).contains("description"));
        assert!(refused(&|t| t.fields.push(field("one_more", "L"))).contains("fields"));
        assert!(refused(&|t| t.fields[0].label.push('l')).contains("label"));
        assert!(refused(&|t| t.fields[0].label = " ".into()).contains("label"));
        assert!(refused(&|t| t.fields[0].key = "bad key".into()).contains("a-z"));
        assert!(refused(&|t| t.fields[0].key = String::new()).contains("a-z"));
        assert!(refused(&|t| t.fields[0].key.push('0')).contains("a-z"));
        assert!(refused(&|t| t.fields[1].key = t.fields[0].key.clone()).contains("twice"));
    }
}
