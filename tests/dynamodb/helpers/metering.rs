//! Counting what a client's DynamoDB calls consume: an interceptor that asks every call for its
//! consumed capacity and records it, and DynamoDB's billing rules for item sizes. Shared by the
//! capacity tests and `make bench` (benches/end_to_end), so that both count alike.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ProjectionType, ReturnConsumedCapacity};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Asks every call for its consumed capacity and records it: (operation, capacity units).
#[derive(Clone, Debug, Default)]
pub struct Consumed(Arc<Mutex<Vec<(&'static str, f64)>>>);

impl Consumed {
    pub fn take(&self) -> Vec<(&'static str, f64)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Consumed {
    fn name(&self) -> &'static str {
        "ConsumedCapacity"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        let wanted = Some(ReturnConsumedCapacity::Indexes);
        if let Some(put) = input.downcast_mut::<PutItemInput>() {
            put.return_consumed_capacity = wanted;
        } else if let Some(get) = input.downcast_mut::<GetItemInput>() {
            get.return_consumed_capacity = wanted;
        } else if let Some(batch) = input.downcast_mut::<BatchGetItemInput>() {
            batch.return_consumed_capacity = wanted;
        } else if let Some(query) = input.downcast_mut::<QueryInput>() {
            query.return_consumed_capacity = wanted;
        } else if let Some(update) = input.downcast_mut::<UpdateItemInput>() {
            update.return_consumed_capacity = wanted;
        } else if let Some(delete) = input.downcast_mut::<DeleteItemInput>() {
            delete.return_consumed_capacity = wanted;
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let units = |c: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>| {
            c.and_then(|c| c.capacity_units).unwrap_or_default()
        };
        let entry = if let Some(put) = output.downcast_ref::<PutItemOutput>() {
            ("PutItem", units(put.consumed_capacity.as_ref()))
        } else if let Some(get) = output.downcast_ref::<GetItemOutput>() {
            ("GetItem", units(get.consumed_capacity.as_ref()))
        } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
            let total = batch
                .consumed_capacity()
                .iter()
                .map(|c| c.capacity_units.unwrap_or_default())
                .sum();
            ("BatchGetItem", total)
        } else if let Some(query) = output.downcast_ref::<QueryOutput>() {
            ("Query", units(query.consumed_capacity.as_ref()))
        } else if let Some(update) = output.downcast_ref::<UpdateItemOutput>() {
            ("UpdateItem", units(update.consumed_capacity.as_ref()))
        } else if let Some(delete) = output.downcast_ref::<DeleteItemOutput>() {
            ("DeleteItem", units(delete.consumed_capacity.as_ref()))
        } else {
            return Ok(());
        };
        self.0.lock().unwrap().push(entry);
        Ok(())
    }
}

/// An item's size as DynamoDB bills it: for each attribute, its name's UTF-8 bytes and its
/// value's size (a string's UTF-8 bytes; a number's 1 byte per two significant digits, plus 1;
/// a boolean or null 1; a list or map 3, plus each element's size and 1 byte each).
pub fn billed_size(item: &HashMap<String, AttributeValue>) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(text) => text.len(),
            AttributeValue::N(number) => {
                let digits: String = number.chars().filter(char::is_ascii_digit).collect();
                let significant = digits.trim_start_matches('0').trim_end_matches('0');
                significant.len().div_ceil(2) + 1
            }
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::L(items) => 3 + items.iter().map(|i| 1 + value(i)).sum::<usize>(),
            AttributeValue::M(members) => 3 + billed_size(members) + members.len(),
            other => panic!("not used in items: {other:?}"),
        }
    }
    item.iter().map(|(name, v)| name.len() + value(v)).sum()
}

/// Write units for an item of this size: one a started KB.
pub fn write_units(size: usize) -> f64 {
    size.div_ceil(1024) as f64
}

/// Strongly consistent read units for an item of this size: one a started 4 KB.
pub fn read_units(size: usize) -> f64 {
    size.div_ceil(4096) as f64
}

/// A global secondary index, as `DescribeTable` states it.
pub struct Index {
    keys: Vec<String>,
    projection: Option<Vec<String>>,
}

pub async fn indexes(client: &Client, table: &str) -> Vec<Index> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("DescribeTable");
    let table = described.table.expect("a table");
    table
        .global_secondary_indexes()
        .iter()
        .map(|gsi| {
            let keys = gsi
                .key_schema()
                .iter()
                .map(|k| k.attribute_name().to_owned())
                .collect();
            let projection = gsi.projection.as_ref().expect("a projection");
            let projection = match projection.projection_type {
                Some(ProjectionType::All) => None,
                Some(ProjectionType::Include) => Some(projection.non_key_attributes().to_vec()),
                _ => Some(Vec::new()),
            };
            Index { keys, projection }
        })
        .collect()
}

pub type Item = HashMap<String, AttributeValue>;

/// The entries `item` adds to the indexes, as projected: the table's keys, the index's and
/// the projected attributes. (DynamoDB bills an index entry's write by its size.)
pub fn index_entries(indexes: &[Index], item: &Item) -> Vec<Item> {
    indexes
        .iter()
        // A sparse index: an item without its keys is not in it.
        .filter(|index| index.keys.iter().all(|k| item.contains_key(k)))
        .map(|index| {
            item.iter()
                .filter(|(name, _)| {
                    ["pk", "sk"].contains(&name.as_str())
                        || index.keys.contains(name)
                        || index.projection.as_ref().is_none_or(|p| p.contains(name))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .collect()
}

/// How many entries `item` adds to the indexes, their write units as projected, and their
/// units if every index projected whole items.
pub fn index_writes(indexes: &[Index], item: &Item) -> (usize, f64, f64) {
    let entries = index_entries(indexes, item);
    let units = entries.iter().map(|e| write_units(billed_size(e))).sum();
    let if_all = entries.len() as f64 * write_units(billed_size(item));
    (entries.len(), units, if_all)
}
