//! DynamoDB items as JSON, the way upstream's boto3 resource layer and its
//! `json_default` see them: numbers are integers unless they have a fraction,
//! sets are lists.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};

/// One attribute value as JSON.
pub fn attr_to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(m) => Value::Object(item_to_json(m)),
        AttributeValue::L(l) => Value::Array(l.iter().map(attr_to_json).collect()),
        AttributeValue::Ss(ss) => Value::Array(ss.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(ns) => Value::Array(ns.iter().map(|n| number(n)).collect()),
        // Lava's tables hold no binary data; keep something readable.
        AttributeValue::B(b) => Value::String(String::from_utf8_lossy(b.as_ref()).into_owned()),
        AttributeValue::Bs(bs) => Value::Array(
            bs.iter()
                .map(|b| Value::String(String::from_utf8_lossy(b.as_ref()).into_owned()))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// A whole item as a JSON object, keys sorted (DynamoDB keeps no order).
pub fn item_to_json(item: &HashMap<String, AttributeValue>) -> Map<String, Value> {
    let mut keys: Vec<&String> = item.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| (k.clone(), attr_to_json(&item[k])))
        .collect()
}

/// Upstream turns a number into an int unless its text has a '.' (so `1E+3`
/// is 1000), else a float.
fn number(n: &str) -> Value {
    let n = n.trim();
    let float = n.parse::<f64>().ok();
    if !n.contains('.') {
        if let Ok(i) = n.parse::<i64>() {
            return Value::Number(i.into());
        }
        if let Ok(u) = n.parse::<u64>() {
            return Value::Number(u.into());
        }
        if let Some(f) = float.filter(|f| f.fract() == 0.0 && f.abs() < i64::MAX as f64) {
            return Value::Number((f as i64).into());
        }
    }
    match float.and_then(Number::from_f64) {
        Some(f) => Value::Number(f),
        None => Value::String(n.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn item_as_json() {
        let item = HashMap::from([
            ("job_id".to_string(), AttributeValue::S("j".into())),
            ("n".to_string(), AttributeValue::N("42".into())),
            ("f".to_string(), AttributeValue::N("1.5".into())),
            ("e".to_string(), AttributeValue::N("1E+3".into())),
            ("on".to_string(), AttributeValue::Bool(true)),
            (
                "m".to_string(),
                AttributeValue::M(HashMap::from([(
                    "a".to_string(),
                    AttributeValue::L(vec![AttributeValue::Null(true)]),
                )])),
            ),
            ("ss".to_string(), AttributeValue::Ss(vec!["x".into()])),
        ]);
        assert_eq!(
            Value::Object(item_to_json(&item)),
            json!({"e": 1000, "f": 1.5, "job_id": "j", "m": {"a": [null]}, "n": 42, "on": true, "ss": ["x"]})
        );
    }
}
