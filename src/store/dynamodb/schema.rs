//! The table and its indexes, as `template.yaml` declares them (`make run` and the tests create
//! them on a local server; in AWS the template does).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus,
};

use super::item::attr;
use super::keys::EVENT_INDEXES;

#[derive(Debug, thiserror::Error)]
#[error("table {table}: {reason}")]
pub struct TableError {
    table: String,
    reason: String,
}

/// Waits until the table is active. A table that exists already is left as it is.
pub async fn create_table(client: &Client, table: &str) -> Result<(), TableError> {
    let fail = |reason: String| TableError {
        table: table.to_owned(),
        reason,
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| fail(e.to_string()))
    };
    let key_element = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| fail(e.to_string()))
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .attribute_definitions(attribute(attr::PK)?)
        .attribute_definitions(attribute(attr::SK)?)
        .attribute_definitions(attribute(attr::CONVERTED_SK)?)
        .key_schema(key_element(attr::PK, KeyType::Hash)?)
        .key_schema(key_element(attr::SK, KeyType::Range)?)
        .billing_mode(BillingMode::PayPerRequest);
    for index in EVENT_INDEXES {
        if index.partition != attr::PK {
            request = request.attribute_definitions(attribute(index.partition)?);
        }
        let projected = index.projected.iter().map(|a| a.to_string()).collect();
        let projection = Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(projected))
            .build();
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key_element(index.partition, KeyType::Hash)?)
                .key_schema(key_element(attr::CONVERTED_SK, KeyType::Range)?)
                .projection(projection)
                .build()
                .map_err(|e| fail(e.to_string()))?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(err) => return Err(fail(DisplayErrorContext(err).to_string())),
    }
    for _ in 0..100 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| fail(DisplayErrorContext(e).to_string()))?
            .table;
        if described.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(fail("did not become active within 10 s".to_owned()))
}
