//! Query parameters: percent-decoded, each given at most once (or repeated with one value), and
//! the list parameters of `GET /conversions` read into a [`PageRequest`].

use std::borrow::Cow;

use crate::domain::{
    AccountId, ChangeCursor, ConversionTypeId, Cursor, DEFAULT_CHANGES_LIMIT, EventFilter,
    FeedPosition, FieldError, IdError, LeadId, Limit, MAX_CHANGES_LIMIT, MAX_LIMIT, MAX_OFFSET,
    MasterWorkflowId, Offset, PageRequest, Timestamp, Window, WorkflowId, WorkflowRunId,
    whole_number,
};
use crate::service::ChangesRequest;

pub struct Query<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Query<'a> {
    pub fn parse(raw: &'a str) -> Self {
        Self(form_urlencoded::parse(raw.as_bytes()).collect())
    }

    pub fn one(&self, name: &str) -> Result<Option<&str>, FieldError> {
        let mut values = self
            .0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref());
        let first = values.next();
        if let Some(first) = first
            && values.any(|other| other != first)
        {
            return Err(FieldError::new(
                name,
                format!("{name} must not be given twice with different values"),
            ));
        }
        Ok(first)
    }
}

fn param<T>(
    query: &Query<'_>,
    errors: &mut Vec<FieldError>,
    name: &str,
    read: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    let found = query.one(name).map_err(|error| errors.push(error));
    read(found.ok().flatten()?)
        .map_err(|message| errors.push(FieldError::new(name, message)))
        .ok()
}

fn id_param<T>(
    query: &Query<'_>,
    errors: &mut Vec<FieldError>,
    name: &str,
    parse: fn(&str) -> Result<T, IdError>,
) -> Option<T> {
    param(query, errors, name, |text| {
        parse(text).map_err(|_| format!("{name} must be a valid UUID"))
    })
}

/// An instant; an offset's unencoded `+` (a URL space) is restored: `10:00 02:00` is `10:00+02:00`.
fn instant(name: &str) -> impl FnOnce(&str) -> Result<Timestamp, String> {
    move |text| {
        let text = match text.rsplit_once(' ') {
            Some((at, zone))
                if zone.len() == 5 && zone.as_bytes()[2] == b':' && !at.contains(' ') =>
            {
                Cow::Owned(format!("{at}+{zone}"))
            }
            _ => Cow::Borrowed(text),
        };
        Timestamp::parse(&text).map_err(|_| {
            format!(
                "{name} must be an ISO 8601 date-time with a time zone (e.g., \"2026-01-28T10:00:00Z\")"
            )
        })
    }
}

pub const AS_OF_IN_FUTURE: &str = "as_of cannot be in the future";

/// `as_of`: an instant, not after now (a later one's answer could still change).
pub fn as_of(query: &Query<'_>, errors: &mut Vec<FieldError>) -> Option<Timestamp> {
    let now = Timestamp::now();
    param(query, errors, "as_of", |text| {
        instant("as_of")(text)
            .and_then(|at| (at <= now).then_some(at).ok_or(AS_OF_IN_FUTURE.to_owned()))
    })
}

/// The parameters of `GET /conversions`, every problem listed together. Unknown parameters are
/// ignored. The cursor is checked against the account and the filter it must have been made for.
pub fn page_request(raw_query: &str, account: AccountId) -> Result<PageRequest, Vec<FieldError>> {
    let query = Query::parse(raw_query);
    let mut errors = Vec::new();
    let e = &mut errors;
    let lead = id_param(&query, e, "lead_id", LeadId::parse);
    let workflow = id_param(&query, e, "workflow_id", WorkflowId::parse);
    let master_workflow = id_param(&query, e, "master_workflow_id", MasterWorkflowId::parse);
    let workflow_run = id_param(&query, e, "workflow_run_id", WorkflowRunId::parse);
    let conversion_type = id_param(&query, e, "conversion_type_id", ConversionTypeId::parse);
    let from = param(&query, e, "converted_after", instant("converted_after"));
    let until = param(&query, e, "converted_before", instant("converted_before"));
    let window = Window::new(from, until)
        .map_err(|empty| e.push(FieldError::new("converted_before", empty)))
        .unwrap_or_default();
    let limit = param(&query, e, "limit", |text| {
        Limit::parse(text).ok_or(format!(
            "limit must be an integer between 1 and {MAX_LIMIT}"
        ))
    })
    .unwrap_or_default();
    let offset = param(&query, e, "offset", |text| {
        Offset::parse(text).ok_or(format!(
            "offset must be an integer between 0 and {MAX_OFFSET}"
        ))
    })
    .unwrap_or_default();
    let filter = EventFilter {
        lead,
        workflow,
        master_workflow,
        workflow_run,
        conversion_type,
        window,
        as_of: as_of(&query, e),
    };
    let cursor = query.one("cursor").map_err(|error| e.push(error));
    if !errors.is_empty() {
        return Err(errors);
    }
    // The cursor is checked only once the filter is known to be the one asked for.
    let cursor = cursor.ok().flatten();
    let resume = cursor.map(|text| Cursor::read(text, account, &filter));
    match resume.transpose() {
        Ok(resume) => Ok(PageRequest::new(filter, resume, offset, limit)),
        Err(invalid) => Err(vec![FieldError::new("cursor", invalid)]),
    }
}

pub const AFTER_AND_SINCE: &str = "give after or since, not both";

/// The parameters of `GET /conversions/changes`: where to start (`after` a cursor, `since` an
/// instant, else the first change) and how many, every problem listed together.
pub fn changes_request(
    raw_query: &str,
    account: AccountId,
    until: Timestamp,
) -> Result<ChangesRequest, Vec<FieldError>> {
    let query = Query::parse(raw_query);
    let mut errors = Vec::new();
    let e = &mut errors;
    let limit = param(&query, e, "limit", |text| {
        whole_number(text)
            .filter(|n| (1..=MAX_CHANGES_LIMIT).contains(n))
            .ok_or(format!(
                "limit must be an integer between 1 and {MAX_CHANGES_LIMIT}"
            ))
    });
    let since = param(&query, e, "since", instant("since"));
    let after = param(&query, e, "after", |text| {
        ChangeCursor::read(text, account).map_err(|invalid| invalid.to_string())
    });
    let after = match (after, since) {
        (Some(_), Some(_)) => {
            e.push(FieldError::new("since", AFTER_AND_SINCE));
            None
        }
        (after, since) => after.or(since.map(FeedPosition::before)),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ChangesRequest {
        after: after.unwrap_or_else(FeedPosition::start),
        limit: limit.unwrap_or(DEFAULT_CHANGES_LIMIT),
        until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventId, Position, Resume};

    fn messages(query: &str) -> Vec<(String, String)> {
        page_request(query, AccountId::random())
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn no_parameters_is_the_first_page_of_everything() {
        let page = page_request("", AccountId::random()).unwrap();
        assert_eq!(page.filter, EventFilter::default());
        assert_eq!((page.limit.get(), page.skip, page.after), (50, 0, None));
    }

    #[test]
    fn each_bad_value_is_named_and_all_are_listed() {
        assert_eq!(
            messages("lead_id=nope&limit=0&offset=-1&converted_after=yesterday&unknown=1"),
            vec![
                ("lead_id".into(), "lead_id must be a valid UUID".into()),
                (
                    "converted_after".into(),
                    r#"converted_after must be an ISO 8601 date-time with a time zone (e.g., "2026-01-28T10:00:00Z")"#.into()
                ),
                ("limit".into(), "limit must be an integer between 1 and 200".into()),
                ("offset".into(), "offset must be an integer between 0 and 10000".into()),
            ]
        );
        for (query, field) in [
            ("limit=201", "limit"),
            ("limit=abc", "limit"),
            ("limit=", "limit"),
            ("workflow_id=1", "workflow_id"),
            ("master_workflow_id=", "master_workflow_id"),
            ("workflow_run_id=x", "workflow_run_id"),
            ("conversion_type_id=x", "conversion_type_id"),
            ("offset=10001", "offset"),
            ("converted_before=2026-01-01", "converted_before"),
            ("cursor=abc", "cursor"),
        ] {
            assert_eq!(messages(query)[0].0, field, "{query}");
        }
    }

    #[test]
    fn a_parameter_repeated_with_another_value_is_refused_and_with_the_same_one_is_not() {
        let lead = LeadId::random();
        assert_eq!(
            messages(&format!("lead_id={lead}&lead_id={}", LeadId::random())),
            vec![(
                "lead_id".into(),
                "lead_id must not be given twice with different values".into()
            )]
        );
        let page = page_request(
            &format!("lead_id={lead}&lead_id={lead}"),
            AccountId::random(),
        )
        .unwrap();
        assert_eq!(page.filter.lead, Some(lead));
    }

    #[test]
    fn only_a_space_before_a_zone_offset_is_read_as_a_plus() {
        // RFC 3339 allows a space between date and time: that space stays a space.
        let page = page_request(
            "converted_after=2026-01-28%2010:00:00%2B02:00",
            AccountId::random(),
        )
        .unwrap();
        assert_eq!(
            page.filter.window.from(),
            Some(Timestamp::parse("2026-01-28T08:00:00Z").unwrap())
        );
    }

    #[test]
    fn an_unencoded_plus_of_a_zone_offset_is_read_as_a_plus() {
        let page = page_request(
            "converted_after=2026-01-28T10:00:00+02:00&converted_before=2026-01-28T10:00:00%2B01:00",
            AccountId::random(),
        )
        .unwrap();
        assert_eq!(
            page.filter.window.from(),
            Some(Timestamp::parse("2026-01-28T08:00:00Z").unwrap())
        );
        assert_eq!(
            page.filter.window.until(),
            Some(Timestamp::parse("2026-01-28T09:00:00Z").unwrap())
        );
    }

    #[test]
    fn an_empty_window_is_refused() {
        assert_eq!(
            messages("converted_after=2026-02-01T00:00:00Z&converted_before=2026-01-01T00:00:00Z"),
            vec![(
                "converted_before".into(),
                "converted_before must be later than converted_after".into()
            )]
        );
    }

    #[test]
    fn a_cursor_is_read_for_the_same_account_and_filter_only() {
        let account = AccountId::random();
        let lead = LeadId::random();
        let position = Position {
            converted_at: Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
            id: EventId::random(),
        };
        let resume = Resume {
            after: position,
            skip: 3,
        };
        let filter = EventFilter {
            lead: Some(lead),
            ..EventFilter::default()
        };
        let cursor = Cursor::new(account, &filter, resume);
        let page = page_request(
            &format!("lead_id={lead}&limit=5&offset=2&cursor={}", cursor.as_str()),
            account,
        )
        .unwrap();
        assert_eq!(page.after, Some(position));
        assert_eq!(
            page.skip, 5,
            "what the cursor still skips, and the offset after it"
        );
        for (query, account) in [
            (format!("cursor={}", cursor.as_str()), account),
            (
                format!("lead_id={lead}&cursor={}", cursor.as_str()),
                AccountId::random(),
            ),
        ] {
            assert_eq!(
                page_request(&query, account).unwrap_err()[0].message,
                "cursor is not valid for this account and these filters"
            );
        }
    }
}
