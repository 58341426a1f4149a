//! Entries of `lava.<realm>.s3triggers`: lookup through the `s3trigger-index`
//! GSI (bucket, prefix) and the checks upstream applies to each entry.
//! Upstream: `lambda/s3trigger/s3trigger.py` (query_trigger_table,
//! get_trigger_specs), `doc/user-guide/04-tables/05-s3triggers.md`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};

use crate::conditions;

pub const INDEX: &str = "s3trigger-index";

const REQUIRED: [&str; 5] = ["bucket", "prefix", "job_id", "enabled", "trigger_id"];
const OPTIONAL: [&str; 6] = [
    "globals",
    "parameters",
    "description",
    "jinja",
    "delay",
    "owner",
];

/// A checked s3triggers entry.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub trigger_id: String,
    pub enabled: bool,
    /// Render parameters, globals and job ids as templates (default true).
    pub jinja: bool,
    /// Seconds, within the SQS limit.
    pub delay: u64,
    /// The whole entry, as JSON.
    pub spec: Map<String, Value>,
}

/// The prefixes to look up for a key, most specific first: `a/b/c`, `a/b`,
/// `a`, then `*` for the bucket root. The first that has entries wins.
pub fn candidate_prefixes(key: &str) -> Vec<String> {
    let parts: Vec<&str> = key.split('/').collect();
    let mut out: Vec<String> = (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("/"))
        // DynamoDB key values cannot be empty, so an empty prefix can never match.
        .filter(|p| !p.is_empty())
        .collect();
    out.push("*".to_string());
    out
}

/// Check an entry as upstream does: required fields, no unknown fields
/// (`x-*`/`X-*` ignored), `jinja` defaulting to true, `delay` a duration
/// of at most `max_minutes` (`LAVA_SQS_MAX_DELAY_MINS`).
pub fn check(spec: Map<String, Value>, max_minutes: i64) -> Result<Trigger, String> {
    let ignored = |k: &str| k.starts_with("x-") || k.starts_with("X-");
    let mut missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|k| !spec.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        missing.sort_unstable();
        return Err(format!("Missing keys: {}", missing.join(", ")));
    }
    let mut unexpected: Vec<&str> = spec
        .keys()
        .map(String::as_str)
        .filter(|k| {
            !ignored(k)
                && !REQUIRED.contains(k)
                && !OPTIONAL.contains(k)
                && !conditions::is_condition_field(k)
        })
        .collect();
    if !unexpected.is_empty() {
        unexpected.sort_unstable();
        return Err(format!("Unexpected keys: {}", unexpected.join(", ")));
    }
    let trigger_id = match &spec["trigger_id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let delay = match spec.get("delay") {
        None => 0,
        Some(d) => {
            delay_seconds(d, max_minutes).map_err(|e| format!("Bad delay: {}: {e}", display(d)))?
        }
    };
    Ok(Trigger {
        trigger_id,
        enabled: truthy(&spec["enabled"]),
        jinja: spec.get("jinja").is_none_or(truthy),
        delay,
        spec,
    })
}

/// Upstream takes the duration in (float) seconds, checks it is within
/// 0..=`max_minutes`, and dispatches with `int(delay)`, which truncates.
/// Above SQS's 15 minutes the dispatcher refuses it.
fn delay_seconds(d: &Value, max_minutes: i64) -> Result<u64, String> {
    let seconds = match d {
        Value::Number(n) => n.as_f64().ok_or("not a number")?,
        Value::String(s) => {
            lava_lambda::duration::duration_seconds(s).map_err(|e| e.to_string())?
        }
        _ => return Err("must be a duration".to_string()),
    };
    if !(0.0..=max_minutes as f64 * 60.0).contains(&seconds) {
        return Err(format!("must be between 0 and {max_minutes} minutes"));
    }
    Ok(seconds.trunc() as u64)
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Python truthiness, which is what upstream applies to `enabled` and `jinja`.
pub use lava_lambda::truthy;

/// All entries of the index for exactly this bucket and prefix.
pub async fn query(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<Map<String, Value>>, String> {
    let mut items = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let out = client
            .query()
            .table_name(table)
            .index_name(INDEX)
            .key_condition_expression("#bucket = :bucket AND #prefix = :prefix")
            .expression_attribute_names("#bucket", "bucket")
            .expression_attribute_names("#prefix", "prefix")
            .expression_attribute_values(":bucket", AttributeValue::S(bucket.to_string()))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_string()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot query {table} ({INDEX}): {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                )
            })?;
        items.extend(out.items().iter().map(lava_lambda::table::item_to_json));
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(items),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn prefixes_most_specific_first() {
        assert_eq!(
            candidate_prefixes("a/b/c.csv"),
            ["a/b/c.csv", "a/b", "a", "*"]
        );
        assert_eq!(candidate_prefixes("top.csv"), ["top.csv", "*"]);
        assert_eq!(candidate_prefixes("a/b/"), ["a/b/", "a/b", "a", "*"]);
        assert_eq!(candidate_prefixes("/x"), ["/x", "*"]);
    }

    #[test]
    fn checks_entries_like_upstream() {
        let base = json!({"trigger_id": "t", "bucket": "b", "prefix": "p", "job_id": "j", "enabled": true});
        let t = check(spec(base.clone()), 15).unwrap();
        assert!(t.enabled && t.jinja);
        assert_eq!(t.delay, 0);

        let mut s = spec(base.clone());
        s.insert("delay".into(), json!("2m"));
        s.insert("jinja".into(), json!(false));
        s.insert("x-ci".into(), json!("ignored"));
        s.insert("if_not_fnmatch".into(), json!("*.tmp"));
        let t = check(s, 15).unwrap();
        assert_eq!((t.delay, t.jinja), (120, false));

        let mut s = spec(base.clone());
        s.insert("delay".into(), json!("16m"));
        assert!(check(s.clone(), 15)
            .unwrap_err()
            .starts_with("Bad delay: 16m"));
        // LAVA_SQS_MAX_DELAY_MINS moves the bound, as upstream's config does.
        assert_eq!(check(s.clone(), 20).unwrap().delay, 960);
        assert_eq!(
            check(s, 5).unwrap_err(),
            "Bad delay: 16m: must be between 0 and 5 minutes"
        );

        let mut s = spec(base.clone());
        s.insert("if_size_lt".into(), json!(1));
        s.insert("colour".into(), json!(1));
        assert_eq!(
            check(s, 15).unwrap_err(),
            "Unexpected keys: colour, if_size_lt"
        );

        let mut s = spec(base);
        s.remove("enabled");
        s.remove("bucket");
        assert_eq!(check(s, 15).unwrap_err(), "Missing keys: bucket, enabled");
    }
}
