//! The `Query` behind a list of events: which index and partition (see `keys.rs`), the window
//! as a condition on the sort key, the other filters as a filter expression on attributes the
//! index carries, newest first.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;

use super::item::{Item, attr, s};
use super::keys::{self, EventIndex};
use crate::domain::{AccountId, EventFilter, Position};

/// One filter's query, built once and sent for a page and for the count.
pub(super) struct EventQuery {
    index: EventIndex,
    partition: String,
    key_condition: String,
    filter_expression: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl EventQuery {
    pub fn new(account: AccountId, filter: &EventFilter) -> Self {
        let (index, partition) = keys::index_for(account, filter);
        let mut names = HashMap::from([("#partition".to_owned(), index.partition.to_owned())]);
        let mut values = HashMap::from([(":partition".to_owned(), s(&partition))]);
        let window = filter.window;
        let from = window.from().map(keys::converted_sk_bound);
        let until = window.until().map(keys::converted_sk_bound);
        let range = match (&from, &until) {
            (None, None) => "",
            (Some(_), None) => " AND #position >= :from",
            (None, Some(_)) => " AND #position < :until",
            // BETWEEN includes its ends, but no sort key equals the bare bound of `until`: an
            // event converted at that instant sorts after it.
            (Some(_), Some(_)) => " AND #position BETWEEN :from AND :until",
        };
        // DynamoDB refuses a name the expressions do not use.
        if !range.is_empty() {
            names.insert("#position".to_owned(), attr::CONVERTED_SK.to_owned());
        }
        if let Some(from) = from {
            values.insert(":from".to_owned(), s(from));
        }
        if let Some(until) = until {
            values.insert(":until".to_owned(), s(until));
        }
        let conditions: Vec<String> = keys::remaining_conditions(index, filter)
            .into_iter()
            .enumerate()
            .map(|(i, (name, value))| {
                names.insert(format!("#f{i}"), name.to_owned());
                values.insert(format!(":f{i}"), s(value));
                format!("#f{i} = :f{i}")
            })
            .collect();
        Self {
            index,
            partition,
            key_condition: format!("#partition = :partition{range}"),
            filter_expression: (!conditions.is_empty()).then(|| conditions.join(" AND ")),
            names,
            values,
        }
    }

    /// Whether the index holds entries the filter drops.
    pub fn filters(&self) -> bool {
        self.filter_expression.is_some()
    }

    /// The query, newest first; the caller adds what is left (a limit, a start, a count).
    pub fn request(&self, client: &Client, table: &str) -> QueryFluentBuilder {
        client
            .query()
            .table_name(table)
            .index_name(self.index.name)
            .key_condition_expression(&self.key_condition)
            .set_filter_expression(self.filter_expression.clone())
            .set_expression_attribute_names(Some(self.names.clone()))
            .set_expression_attribute_values(Some(self.values.clone()))
            .scan_index_forward(false)
    }

    /// The `ExclusiveStartKey` that resumes the query after a position: the index entry of the
    /// event there (the index's keys and the table's).
    pub fn start_after(&self, account: AccountId, position: Position) -> Item {
        let mut key = keys::key(account, keys::event_sk(position.id));
        key.insert(self.index.partition.to_owned(), s(&self.partition));
        key.insert(
            attr::CONVERTED_SK.to_owned(),
            s(keys::converted_sk(position.converted_at, position.id)),
        );
        key
    }
}
