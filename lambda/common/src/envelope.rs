//! Message bodies out of a Lambda event, as upstream's dispatch helper finds
//! them (`get_message_bodies` in `lambda/dispatch/dispatch.py`):
//! - SNS: `Records[].Sns.Message` of records whose `EventSource` is `aws:sns`;
//! - SQS: `Records[].body` of records whose `eventSource` is `aws:sqs`;
//! - raw JSON (direct invocation, EventBridge input template): an object with a
//!   `job_id`, which is itself the one body.
//!
//! Unlike upstream, a record from another source is an error for that record
//! only; the other records are still returned.

use serde_json::Value;

/// Where a body came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Sns,
    Sqs,
    Raw,
}

/// A message body: JSON when the text parses as a JSON object or list, else text.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Text(String),
    Json(Value),
}

impl Body {
    /// Upstream tries JSON first and falls back to text. Only objects and lists
    /// count as JSON here: a bare number or string is a text line (upstream
    /// rejects those as bad JSON, so nothing that worked there changes).
    pub fn from_text(text: &str) -> Body {
        match serde_json::from_str::<Value>(text) {
            Ok(value @ (Value::Object(_) | Value::Array(_))) => Body::Json(value),
            _ => Body::Text(text.to_string()),
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
    #[error("Records[{index}]: event source {event_source} not supported")]
    UnsupportedSource { index: usize, event_source: String },
    #[error("Records[{index}]: {kind} record without a string {field}")]
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
    // SNS spells it EventSource, SQS eventSource.
    let source = record
        .get("EventSource")
        .or_else(|| record.get("eventSource"))
        .and_then(Value::as_str);
    let (source, text) = match source {
        Some("aws:sns") => (
            Source::Sns,
            record
                .pointer("/Sns/Message")
                .and_then(Value::as_str)
                .ok_or(EnvelopeError::MissingBody {
                    index,
                    kind: "SNS",
                    field: "Sns.Message",
                })?,
        ),
        Some("aws:sqs") => (
            Source::Sqs,
            record
                .get("body")
                .and_then(Value::as_str)
                .ok_or(EnvelopeError::MissingBody {
                    index,
                    kind: "SQS",
                    field: "body",
                })?,
        ),
        other => {
            return Err(EnvelopeError::UnsupportedSource {
                index,
                event_source: other.map_or_else(|| "(none)".to_string(), str::to_string),
            })
        }
    };
    Ok(Message {
        source,
        index,
        body: Body::from_text(text),
    })
}

/// Every body in a dispatch event. The outer error is an event of no known
/// shape; an inner error is one record that cannot be read.
pub fn message_bodies(event: &Value) -> Result<Vec<Result<Message, EnvelopeError>>, EnvelopeError> {
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        return Ok(records
            .iter()
            .enumerate()
            .map(|(i, r)| record_body(i, r))
            .collect());
    }
    if event.as_object().is_some_and(|o| o.contains_key("job_id")) {
        return Ok(vec![Ok(Message {
            source: Source::Raw,
            index: 0,
            body: Body::Json(event.clone()),
        })]);
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
            {"eventSource": "aws:s3", "s3": {}},
            {"EventSource": "aws:sns", "Sns": {}},
        ]});
        let bodies = message_bodies(&event).unwrap();
        assert_eq!(
            bodies[0].as_ref().unwrap().body,
            Body::Text("job-a -d 1m".into())
        );
        assert_eq!(bodies[0].as_ref().unwrap().source, Source::Sns);
        assert_eq!(
            bodies[1].as_ref().unwrap().body,
            Body::Json(json!({"job_id": "job-b"}))
        );
        assert_eq!(bodies[1].as_ref().unwrap().location(), "Records[1]");
        assert_eq!(
            bodies[2],
            Err(EnvelopeError::UnsupportedSource {
                index: 2,
                event_source: "aws:s3".into()
            })
        );
        assert!(matches!(
            bodies[3],
            Err(EnvelopeError::MissingBody { index: 3, .. })
        ));

        let raw = json!({"job_id": "j", "delay": "1m"});
        let bodies = message_bodies(&raw).unwrap();
        assert_eq!(bodies[0].as_ref().unwrap().body, Body::Json(raw.clone()));
        assert_eq!(bodies[0].as_ref().unwrap().source, Source::Raw);
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
        assert_eq!(Body::from_text("[]"), Body::Json(json!([])));
        assert_eq!(
            Body::from_text(" {\"job_id\": \"a\"} "),
            Body::Json(json!({"job_id": "a"}))
        );
        assert_eq!(Body::from_text("42"), Body::Text("42".into()));
        assert_eq!(
            Body::from_text("job -p a=1"),
            Body::Text("job -p a=1".into())
        );
        assert_eq!(Body::from_text("{bad"), Body::Text("{bad".into()));
    }
}
