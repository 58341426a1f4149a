//! S3 object events out of whatever wrapped them: S3 bucket notifications
//! delivered directly, via SNS, via SQS (also SNS inside SQS), and EventBridge
//! events. Upstream: `lambda/s3trigger/s3event.py`.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// One S3 object event, the same whichever way it was delivered.
#[derive(Debug, Clone)]
pub struct S3Record {
    pub bucket: String,
    /// Decoded: notification keys arrive URL-encoded, EventBridge keys do not.
    pub key: String,
    /// Absent for deletions.
    pub size: Option<u64>,
    pub source_ip: Option<std::net::IpAddr>,
    /// `eventTime`, or for EventBridge `time`.
    pub event_time: OffsetDateTime,
    /// `eventName` (`ObjectCreated:Put`), or for EventBridge `detail-type` and
    /// `detail.reason` joined with a colon, spaces removed (`ObjectCreated:PutObject`).
    pub event_type: String,
    pub aws_region: Option<String>,
    /// The record as received: the notification record, or the whole EventBridge event.
    pub raw: Value,
}

/// Every S3 object record of a Lambda event, in order. Upstream raises for
/// anything it cannot read (a record from another source, an SQS or SNS body
/// that is not a JSON S3 event, a record without bucket, key, time or event
/// name, an event of no known shape), failing the invocation; so does this,
/// for the whole event before any record is processed, so that a retry
/// dispatches nothing twice.
pub fn extract(event: &Value) -> Result<Vec<S3Record>, String> {
    let mut out = Vec::new();
    walk(event, &mut out)?;
    Ok(out)
}

fn walk(event: &Value, out: &mut Vec<S3Record>) -> Result<(), String> {
    let obj = event
        .as_object()
        .ok_or_else(|| format!("Event blob must be a dict, not {}", kind(event)))?;

    // S3 sends a test event when a notification target is configured.
    if obj.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(());
    }

    if let Some(records) = obj.get("Records").and_then(Value::as_array) {
        for (index, record) in records.iter().enumerate() {
            let at = |e: String| format!("Records[{index}]: {e}");
            // Upstream prefers eventSource here (the dispatch helper the other spelling).
            let source = match record.get("eventSource") {
                Some(source) => Some(source),
                None => record.get("EventSource"),
            };
            match source.and_then(Value::as_str) {
                Some("aws:sqs") => {
                    walk(&nested(record, "/body", "body").map_err(at)?, out).map_err(at)?
                }
                Some("aws:sns") => walk(
                    &nested(record, "/Sns/Message", "Sns.Message").map_err(at)?,
                    out,
                )
                .map_err(at)?,
                Some("aws:s3") => out.push(notification_record(record).map_err(at)?),
                _ => {
                    let source = match source {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => "None".to_string(),
                    };
                    return Err(at(format!("Unexpected event source: {source}")));
                }
            }
        }
        return Ok(());
    }

    if obj.contains_key("detail-type") {
        out.push(eventbridge_record(event)?);
        return Ok(());
    }

    // An SNS notification delivered to SQS without raw message delivery
    // (upstream cannot read it).
    if obj.get("Type").and_then(Value::as_str) == Some("Notification") {
        return walk(&nested(event, "/Message", "Message")?, out)
            .map_err(|e| format!("SNS Message: {e}"));
    }

    Err(
        "Cannot determine event format: expected S3 notification Records (direct, SNS or SQS) \
         or an EventBridge S3 event"
            .to_string(),
    )
}

/// The JSON event an SQS body or SNS message carries as a string.
fn nested(record: &Value, pointer: &str, name: &str) -> Result<Value, String> {
    let text = record
        .pointer(pointer)
        .ok_or_else(|| format!("no {name}"))?
        .as_str()
        .ok_or_else(|| format!("{name} is not a string"))?;
    serde_json::from_str(text).map_err(|e| format!("{name} is not JSON: {e}"))
}

fn notification_record(record: &Value) -> Result<S3Record, String> {
    let s3 = record
        .get("s3")
        .ok_or("S3 notification record without s3")?;
    let bucket =
        str_at(s3, &["bucket", "name"]).ok_or("S3 notification record without s3.bucket.name")?;
    let key =
        str_at(s3, &["object", "key"]).ok_or("S3 notification record without s3.object.key")?;
    Ok(S3Record {
        bucket: bucket.to_string(),
        key: unquote_plus(key),
        size: s3.pointer("/object/size").and_then(Value::as_u64),
        source_ip: str_at(record, &["requestParameters", "sourceIPAddress"])
            .and_then(|s| s.parse().ok()),
        event_time: time_at(record, "eventTime", "S3 notification record")?,
        event_type: str_at(record, &["eventName"])
            .ok_or("S3 notification record without eventName")?
            .to_string(),
        aws_region: record
            .get("awsRegion")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(env_region),
        raw: record.clone(),
    })
}

fn eventbridge_record(event: &Value) -> Result<S3Record, String> {
    let detail = event
        .get("detail")
        .ok_or("EventBridge event without detail")?;
    let bucket = str_at(detail, &["bucket", "name"])
        .ok_or("EventBridge event without detail.bucket.name: not an S3 object event")?;
    let key = str_at(detail, &["object", "key"])
        .ok_or("EventBridge event without detail.object.key: not an S3 object event")?;
    let detail_type =
        str_at(event, &["detail-type"]).ok_or("EventBridge event without detail-type")?;
    let reason = str_at(detail, &["reason"]).ok_or("EventBridge event without detail.reason")?;
    Ok(S3Record {
        bucket: bucket.to_string(),
        // EventBridge keys are not URL-encoded.
        key: key.to_string(),
        size: detail.pointer("/object/size").and_then(Value::as_u64),
        source_ip: detail
            .get("source-ip-address")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        event_time: time_at(event, "time", "EventBridge event")?,
        event_type: format!("{detail_type}:{reason}").replace(' ', ""),
        aws_region: event
            .get("region")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(env_region),
        raw: event.clone(),
    })
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

fn env_region() -> Option<String> {
    std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty())
}

/// The RFC 3339 time S3 and EventBridge give their events (upstream parses
/// it with dateutil and raises when it is missing or unreadable).
fn time_at(record: &Value, name: &str, what: &str) -> Result<OffsetDateTime, String> {
    let text = str_at(record, &[name]).ok_or_else(|| format!("{what} without {name}"))?;
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("{what}: {name} {text:?} is not an RFC 3339 time: {e}"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Decode an S3 notification key: `+` is a space, `%XX` a byte; the bytes are
/// UTF-8 (invalid sequences replaced), malformed escapes kept as they are.
pub fn unquote_plus(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            {
                Some(h) => {
                    out.push(hex(h[0]) << 4 | hex(h[1]));
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        _ => d - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s3(key: &str) -> Value {
        json!({
            "eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "awsRegion": "us-east-1",
            "eventTime": "2024-05-01T10:20:30.000Z",
            "requestParameters": {"sourceIPAddress": "10.0.0.1"},
            "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 7}}
        })
    }

    fn keys(event: &Value) -> Vec<String> {
        extract(event).unwrap().into_iter().map(|r| r.key).collect()
    }

    #[test]
    fn decodes_notification_keys() {
        assert_eq!(unquote_plus("a+b%2Fc%20d%C3%A9"), "a b/c dé");
        assert_eq!(unquote_plus("100%"), "100%");
        assert_eq!(unquote_plus("%zz%4"), "%zz%4");
        assert_eq!(unquote_plus("%+1"), "% 1");
    }

    #[test]
    fn every_envelope() {
        let direct = json!({"Records": [s3("a+b.csv")]});
        let sns = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": direct.to_string()}}]});
        let sqs = json!({"Records": [{"eventSource": "aws:sqs", "body": direct.to_string()}]});
        let sns_in_sqs = json!({"Records": [{"eventSource": "aws:sqs",
            "body": json!({"Type": "Notification", "Message": direct.to_string()}).to_string()}]});
        for event in [&direct, &sns, &sqs, &sns_in_sqs] {
            assert_eq!(keys(event), ["a b.csv"], "{event}");
        }
        let eb = json!({"detail-type": "Object Created", "time": "2024-05-01T10:20:30Z", "region": "eu-west-1",
            "detail": {"bucket": {"name": "b"}, "object": {"key": "a+b.csv", "size": 3}, "reason": "PutObject"}});
        let rec = extract(&eb).unwrap().remove(0);
        assert_eq!(
            (rec.key.as_str(), rec.event_type.as_str(), rec.size),
            ("a+b.csv", "ObjectCreated:PutObject", Some(3))
        );
        assert_eq!(rec.aws_region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn test_events_bad_records_and_unknown_shapes() {
        assert!(keys(&json!({"Service": "Amazon S3", "Event": "s3:TestEvent"})).is_empty());
        let test_in_sqs = json!({"Records": [{"eventSource": "aws:sqs", "body": "{\"Event\": \"s3:TestEvent\"}"}]});
        assert!(keys(&test_in_sqs).is_empty());
        let error = |bad: Value| extract(&json!({"Records": [s3("ok"), bad]})).unwrap_err();
        assert!(error(json!({"eventSource": "aws:sqs", "body": "not json"}))
            .starts_with("Records[1]: body is not JSON: "));
        assert_eq!(
            error(json!({"eventSource": "aws:kinesis"})),
            "Records[1]: Unexpected event source: aws:kinesis"
        );
        assert_eq!(
            error(json!({"EventSource": "aws:sns", "Sns": {}})),
            "Records[1]: no Sns.Message"
        );
        assert_eq!(
            error(json!({"eventSource": "aws:sqs", "body": "[1]"})),
            "Records[1]: Event blob must be a dict, not an array"
        );
        assert_eq!(
            error(json!({"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}, "object": {}}})),
            "Records[1]: S3 notification record without s3.object.key"
        );
        let mut untimed = s3("ok");
        untimed.as_object_mut().unwrap().remove("eventTime");
        assert_eq!(
            error(untimed),
            "Records[1]: S3 notification record without eventTime"
        );
        let mut unnamed = s3("ok");
        unnamed.as_object_mut().unwrap().remove("eventName");
        assert_eq!(
            error(unnamed),
            "Records[1]: S3 notification record without eventName"
        );
        let mut badly_timed = s3("ok");
        badly_timed["eventTime"] = json!("yesterday");
        assert!(error(badly_timed).starts_with(
            "Records[1]: S3 notification record: eventTime \"yesterday\" is not an RFC 3339 time"
        ));
        assert!(extract(&json!({"hello": 1}))
            .unwrap_err()
            .contains("Cannot determine event format"));
        assert!(extract(&json!([1])).is_err());
        assert!(extract(&json!({"detail-type": "Scheduled Event", "detail": {}})).is_err());
    }
}
