//! What a boot reads from AWS: the code area (S3, or a `file://` mirror) and
//! the realm's item in the realms table.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use lava_store::{Location, Store, Tuning};
use serde_json::{Map, Number, Value};

use crate::BootError;

/// The realms table, keyed by `realm`.
pub const REALMS_TABLE: &str = "lava.realms";

/// The clients a boot needs.
#[derive(Clone)]
pub struct Aws {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Aws {
    pub fn new(config: &aws_config::SdkConfig) -> Aws {
        Aws {
            s3: lava_store::s3_client(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
        }
    }

    /// The code area at `location`.
    pub fn code_area(&self, location: &Location) -> Store {
        Store::new(location.clone(), Some(&self.s3), Tuning::default())
    }

    /// The realm's item as plain JSON (DynamoDB's typed form unwrapped).
    pub async fn realm_item(&self, realm: &str) -> Result<Value, BootError> {
        let item = typed_realm_item(&self.dynamodb, realm)
            .await
            .map_err(|message| BootError::Realm {
                realm: realm.to_string(),
                message,
            })?;
        item.map(|item| plain_item(&item))
            .ok_or_else(|| BootError::NoSuchRealm {
                realm: realm.to_string(),
            })
    }
}

/// The realm's item in the realms table as DynamoDB types it, read
/// consistently (a pin written a moment ago counts); `None` when the table
/// has no such realm. The error is the SDK's, with its context.
pub async fn typed_realm_item(
    dynamodb: &aws_sdk_dynamodb::Client,
    realm: &str,
) -> Result<Option<HashMap<String, AttributeValue>>, String> {
    let out = dynamodb
        .get_item()
        .table_name(REALMS_TABLE)
        .key("realm", AttributeValue::S(realm.to_string()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| DisplayErrorContext(e).to_string())?;
    Ok(out.item)
}

/// A DynamoDB item as plain JSON, as worker settings read it.
pub fn plain_item(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(object(item))
}

/// Keys sorted, so the plan reads the same on every run.
fn object(item: &HashMap<String, AttributeValue>) -> Map<String, Value> {
    let sorted: BTreeMap<_, _> = item.iter().collect();
    sorted
        .into_iter()
        .map(|(k, v)| (k.clone(), plain(v)))
        .collect()
}

fn plain(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::M(m) => Value::Object(object(m)),
        AttributeValue::L(l) => Value::Array(l.iter().map(plain).collect()),
        AttributeValue::Ss(ss) => ss.iter().cloned().map(Value::String).collect(),
        AttributeValue::Ns(ns) => ns.iter().map(|n| number(n)).collect(),
        // Null, and binary values, which worker settings never hold.
        _ => Value::Null,
    }
}

/// Integers become JSON numbers; anything else keeps its text exactly (an env
/// value of `1.50` stays `1.50`, as upstream's boot script exported it).
fn number(n: &str) -> Value {
    n.parse::<i64>()
        .map(Number::from)
        .or_else(|_| n.parse::<u64>().map(Number::from))
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(n.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_items_become_plain_json() {
        let item = HashMap::from([
            ("realm".to_string(), AttributeValue::S("prod".into())),
            (
                "x-workers".to_string(),
                AttributeValue::M(HashMap::from([(
                    "core".to_string(),
                    AttributeValue::M(HashMap::from([
                        ("threads".to_string(), AttributeValue::N("6".into())),
                        ("ratio".to_string(), AttributeValue::N("1.50".into())),
                        ("on".to_string(), AttributeValue::Bool(true)),
                        ("tags".to_string(), AttributeValue::Ss(vec!["a".into()])),
                        ("none".to_string(), AttributeValue::Null(true)),
                    ])),
                )])),
            ),
        ]);
        assert_eq!(
            Value::Object(object(&item)),
            json!({"realm": "prod", "x-workers": {"core": {
                "none": null, "on": true, "ratio": "1.50", "tags": ["a"], "threads": 6
            }}})
        );
    }
}
