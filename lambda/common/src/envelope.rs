//! Message bodies out of a Lambda event, as upstream's dispatch helper finds
//! them (`get_message_bodies` in `lambda/dispatch/dispatch.py`):
//! - SNS: `Records[].Sns.Message` of records whose `EventSource` is `aws:sns`;
//! - SQS: `Records[].body` of records whose source is `aws:sqs`
//!   (`EventSource`, else `eventSource`);
//! - raw JSON (direct invocation, EventBridge input template): an object with a
//!   `job_id`, which is itself the one body.
//!
//! Upstream raises for a record from another source, a record without its
//! body and an event of no known shape, failing the invocation. So does this,
//! but for the whole event before anything is dispatched: a retry then
//! dispatches nothing twice.

use serde_json::Value;

/// Where a body came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Sns,
    Sqs,
    Raw,
}

/// A message body: JSON when upstream would take it as JSON, else text.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Text(String),
    Json(Value),
}

impl Body {
    /// Upstream tries JSON first and takes the result when it is true in
    /// Python's sense; text that is not JSON, or JSON such as `{}`, `[]`, `0`
    /// or `""`, is read as dispatch lines.
    pub fn from_text(text: &str) -> Body {
        match serde_json::from_str::<Value>(text) {
            Ok(value) if crate::truthy(&value) => Body::Json(value),
            _ => Body::Text(text.to_string()),
        }
    }

    /// A record's body as it came: a string is read by [`Body::from_text`],
    /// any other JSON value is taken as it is, as upstream does.
    pub fn from_value(value: &Value) -> Body {
        match value {
            Value::String(text) => Body::from_text(text),
            other => Body::Json(other.clone()),
        }
    }
}

/// One body with where it came from. `index` is the position in `Records`
/// (0 for a raw event).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub source: Source,
    pub index: usize,
    pub body: Body,
}

impl Message {
    /// `Records[<index>]`, or `event` for a raw event: for log lines.
    pub fn location(&self) -> String {
        match self.source {
            Source::Raw => "event".into(),
            Source::Sns | Source::Sqs => format!("Records[{}]", self.index),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("Records[{index}]: Event source {event_source} not supported")]
    UnsupportedSource { index: usize, event_source: String },
    #[error("Records[{index}]: {kind} record without {field}")]
    MissingBody {
        index: usize,
        kind: &'static str,
        field: &'static str,
    },
    #[error("Cannot determine event format: {0}")]
    UnknownShape(String),
}

/// The body of one `Records[]` entry from SNS or SQS.
pub fn record_body(index: usize, record: &Value) -> Result<Message, EnvelopeError> {
    // SNS spells it EventSource, SQS eventSource; upstream knows SNS only by
    // the former and prefers it for SQS too.
    let source = match record.get("EventSource") {
        Some(source) => Some(source),
        None => record.get("eventSource"),
    };
    let body = |kind, field, pointer| {
        record
            .pointer(pointer)
            .map(Body::from_value)
            .ok_or(EnvelopeError::MissingBody { index, kind, field })
    };
    let (source, body) = if record.get("EventSource").and_then(Value::as_str) == Some("aws:sns") {
        (Source::Sns, body("SNS", "Sns.Message", "/Sns/Message")?)
    } else if source.and_then(Value::as_str) == Some("aws:sqs") {
        (Source::Sqs, body("SQS", "body", "/body")?)
    } else {
        return Err(EnvelopeError::UnsupportedSource {
            index,
            event_source: match source {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "None".to_string(),
            },
        });
    };
    Ok(Message {
        source,
        index,
        body,
    })
}

/// Every body in a dispatch event; an error if any record cannot be read or
/// the event has no known shape.
pub fn message_bodies(event: &Value) -> Result<Vec<Message>, EnvelopeError> {
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        return records
            .iter()
            .enumerate()
            .map(|(i, r)| record_body(i, r))
            .collect();
    }
    if event.as_object().is_some_and(|o| o.contains_key("job_id")) {
        return Ok(vec![Message {
            source: Source::Raw,
            index: 0,
            body: Body::Json(event.clone()),
        }]);
    }
    Err(EnvelopeError::UnknownShape(describe(event)))
}

/// A short description of an event for an error message: its JSON, cut short.
fn describe(event: &Value) -> String {
    const MAX: usize = 200;
    let text = event.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sns_sqs_and_raw() {
        let event = json!({"Records": [
            {"EventSource": "aws:sns", "Sns": {"Message": "job-a -d 1m"}},
            {"eventSource": "aws:sqs", "body": "{\"job_id\": \"job-b\"}"},
            {"EventSource": "aws:sqs", "body": "job-c"},
        ]});
        let bodies = message_bodies(&event).unwrap();
        assert_eq!(bodies[0].body, Body::Text("job-a -d 1m".into()));
        assert_eq!(bodies[0].source, Source::Sns);
        assert_eq!(bodies[1].body, Body::Json(json!({"job_id": "job-b"})));
        assert_eq!(bodies[1].location(), "Records[1]");
        assert_eq!(bodies[2].source, Source::Sqs);

        let raw = json!({"job_id": "j", "delay": "1m"});
        let bodies = message_bodies(&raw).unwrap();
        assert_eq!(bodies[0].body, Body::Json(raw.clone()));
        assert_eq!(bodies[0].source, Source::Raw);
    }

    #[test]
    fn one_unreadable_record_fails_the_event() {
        let good = json!({"eventSource": "aws:sqs", "body": "job-a"});
        let with = |bad: Value| json!({"Records": [good.clone(), bad]});
        assert_eq!(
            message_bodies(&with(json!({"eventSource": "aws:s3", "s3": {}}))),
            Err(EnvelopeError::UnsupportedSource {
                index: 1,
                event_source: "aws:s3".into()
            })
        );
        // Upstream knows SNS only by EventSource.
        assert_eq!(
            message_bodies(&with(
                json!({"eventSource": "aws:sns", "Sns": {"Message": "j"}})
            ))
            .unwrap_err()
            .to_string(),
            "Records[1]: Event source aws:sns not supported"
        );
        assert_eq!(
            message_bodies(&with(json!({"messageId": "m"})))
                .unwrap_err()
                .to_string(),
            "Records[1]: Event source None not supported"
        );
        assert_eq!(
            message_bodies(&with(json!({"EventSource": "aws:sns", "Sns": {}}))),
            Err(EnvelopeError::MissingBody {
                index: 1,
                kind: "SNS",
                field: "Sns.Message"
            })
        );
        assert!(matches!(
            message_bodies(&with(json!({"eventSource": "aws:sqs"}))),
            Err(EnvelopeError::MissingBody { index: 1, .. })
        ));
    }

    #[test]
    fn unknown_shapes() {
        for event in [
            json!({"detail-type": "x"}),
            json!([{"job_id": "j"}]),
            json!("j"),
            json!(null),
        ] {
            assert!(
                matches!(message_bodies(&event), Err(EnvelopeError::UnknownShape(_))),
                "{event}"
            );
        }
        let long = json!({"x": "y".repeat(1000)});
        let Err(e) = message_bodies(&long) else {
            panic!()
        };
        assert!(e.to_string().len() < 300);
    }

    #[test]
    fn json_first_then_text() {
        assert_eq!(
            Body::from_text(" {\"job_id\": \"a\"} "),
            Body::Json(json!({"job_id": "a"}))
        );
        assert_eq!(Body::from_text("[1]"), Body::Json(json!([1])));
        // True JSON scalars are JSON (upstream then refuses them).
        assert_eq!(Body::from_text("42"), Body::Json(json!(42)));
        assert_eq!(Body::from_text("\"a\""), Body::Json(json!("a")));
        // False JSON is read as text, as upstream's `if msg_obj` does.
        for text in ["[]", "{}", "0", "null", "false", "\"\""] {
            assert_eq!(Body::from_text(text), Body::Text(text.into()), "{text}");
        }
        assert_eq!(
            Body::from_text("job -p a=1"),
            Body::Text("job -p a=1".into())
        );
        assert_eq!(Body::from_text("{bad"), Body::Text("{bad".into()));
        assert_eq!(
            Body::from_value(&json!({"a": 1})),
            Body::Json(json!({"a": 1}))
        );
        assert_eq!(Body::from_value(&json!(null)), Body::Json(json!(null)));
    }
}
