//! A lava realm in moto: its DynamoDB tables and SQS queues as
//! `cfn/lava-realm.cfn.yaml` defines them (names, keys, the s3triggers
//! index), and items written from plain JSON. One place for every test that
//! needs a realm.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use serde_json::Value;

/// The realms table, keyed by `realm`.
pub const REALMS_TABLE: &str = "lava.realms";

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("a key schema element")
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("an attribute definition")
}

/// A pay-per-request table with the string hash key `hash`.
async fn create_table(dynamodb: &aws_sdk_dynamodb::Client, table: &str, hash: &str) {
    dynamodb
        .create_table()
        .table_name(table)
        .attribute_definitions(string_attribute(hash))
        .key_schema(key(hash, KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {table}: {e:?}"));
}

/// `lava.realms`.
pub async fn create_realms_table(dynamodb: &aws_sdk_dynamodb::Client) {
    create_table(dynamodb, REALMS_TABLE, "realm").await;
}

/// `lava.<realm>.jobs`, keyed by `job_id`.
pub async fn create_jobs_table(dynamodb: &aws_sdk_dynamodb::Client, realm: &str) {
    create_table(dynamodb, &format!("lava.{realm}.jobs"), "job_id").await;
}

/// `lava.<realm>.s3triggers`, keyed by `trigger_id`, with the
/// `s3trigger-index` (bucket, prefix) that s3trigger queries.
pub async fn create_s3triggers_table(dynamodb: &aws_sdk_dynamodb::Client, realm: &str) {
    let table = format!("lava.{realm}.s3triggers");
    dynamodb
        .create_table()
        .table_name(&table)
        .attribute_definitions(string_attribute("trigger_id"))
        .attribute_definitions(string_attribute("bucket"))
        .attribute_definitions(string_attribute("prefix"))
        .key_schema(key("trigger_id", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("s3trigger-index")
                .key_schema(key("bucket", KeyType::Hash))
                .key_schema(key("prefix", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("an index"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {table}: {e:?}"));
}

/// The queue of `worker`, `lava-<realm>-<worker>`; its URL.
pub async fn create_queue(sqs: &aws_sdk_sqs::Client, realm: &str, worker: &str) -> String {
    let name = format!("lava-{realm}-{worker}");
    sqs.create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create queue {name}: {e:?}"))
        .queue_url
        .expect("a queue URL")
}

/// String attributes.
pub fn strings(pairs: &[(&str, &str)]) -> HashMap<String, AttributeValue> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
        .collect()
}

/// A JSON value as DynamoDB's typed attribute.
pub fn typed(value: &Value) -> AttributeValue {
    match value {
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Null => AttributeValue::Null(true),
        Value::Array(a) => AttributeValue::L(a.iter().map(typed).collect()),
        Value::Object(m) => {
            AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), typed(v))).collect())
        }
    }
}

/// Put `item` (a JSON object) into `table`.
pub async fn put_json(dynamodb: &aws_sdk_dynamodb::Client, table: &str, item: &Value) {
    let AttributeValue::M(item) = typed(item) else {
        panic!("an item is a JSON object")
    };
    dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put an item into {table}: {e:?}"));
}
