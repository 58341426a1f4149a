//! Log lines as the AWS Lambda Python runtime writes upstream's `logging`
//! records (awslambdaric: `bootstrap.py`'s text format, `JsonFormatter` in
//! `lambda_runtime_log_utils.py`), so that CloudWatch metric filters and Logs
//! Insights queries written for upstream's functions match ours:
//!
//! - text: `[LEVEL]\t<UTC %Y-%m-%dT%H:%M:%S.mmmZ>\t<request id>\t<message>`
//! - JSON: `{"timestamp": <UTC %Y-%m-%dT%H:%M:%SZ>, "level", "message",
//!   "logger", "requestId"}`, then the event's other fields, as the runtime
//!   adds a record's `extra` fields.
//!
//! The request id is empty outside an invocation (init), as the runtime's is.

use std::fmt::{self, Write as _};

use serde_json::Value;
use time::{OffsetDateTime, UtcOffset};
use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// The field of the span lambda_runtime enters for each invocation
/// (`layers/trace.rs`) that holds the invocation's request id.
const REQUEST_ID: &str = "requestId";

/// The fmt layer writing these lines to `writer`, stamped by `clock`; JSON
/// lines when `json` (the function's log format is JSON).
pub(crate) fn layer<S, C, W>(
    json: bool,
    clock: C,
    writer: W,
) -> tracing_subscriber::fmt::Layer<S, RequestId, LambdaFormat<C>, W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    C: Fn() -> OffsetDateTime + 'static,
    W: for<'w> MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(RequestId)
        .event_format(LambdaFormat { json, clock })
        .with_writer(writer)
}

/// Whether `meta` is lambda_runtime's invocation span. The level filter must
/// let it through whatever it says of spans, or no line carries a request id
/// (the default filter keeps other crates at warn, and the span is info).
pub(crate) fn is_request_span(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.fields().field(REQUEST_ID).is_some()
}

/// How span fields are kept for [`LambdaFormat`]: the request id alone,
/// empty for spans without one.
pub(crate) struct RequestId;

impl<'w> FormatFields<'w> for RequestId {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut found = FindRequestId(None);
        fields.record(&mut found);
        found.0.map_or(Ok(()), |id| writer.write_str(&id))
    }

    /// A request id recorded after the span's creation replaces the one it had.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        let mut found = FindRequestId(None);
        fields.record(&mut found);
        if let Some(id) = found.0 {
            current.fields = id;
        }
        Ok(())
    }
}

struct FindRequestId(Option<String>);

impl Visit for FindRequestId {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == REQUEST_ID {
            self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == REQUEST_ID {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// The event formatter; `clock` gives the time of each line.
pub(crate) struct LambdaFormat<C> {
    json: bool,
    clock: C,
}

impl<S, C> FormatEvent<S, RequestId> for LambdaFormat<C>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    C: Fn() -> OffsetDateTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, RequestId>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let t = (self.clock)().to_offset(UtcOffset::UTC);
        let date = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        // The innermost span with a request id: handlers' own spans nest in
        // the invocation's.
        let request_id = ctx
            .event_scope()
            .into_iter()
            .flatten()
            .find_map(|span| {
                let extensions = span.extensions();
                let fields = extensions.get::<FormattedFields<RequestId>>()?;
                (!fields.fields.is_empty()).then(|| fields.fields.clone())
            })
            .unwrap_or_default();
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let level = level_name(*event.metadata().level());

        if self.json {
            let target = event.metadata().target();
            // Upstream's functions log through logger `lava`; others are named
            // as Python names module loggers.
            let logger = if target.starts_with("lava") {
                "lava".to_string()
            } else {
                target.replace("::", ".")
            };
            let mut object = vec![
                ("timestamp", Value::from(format!("{date}Z"))),
                ("level", level.into()),
                ("message", fields.message.into()),
                ("logger", logger.into()),
                ("requestId", request_id.into()),
            ];
            for (name, value) in fields.extra {
                // As the runtime: an extra field never replaces a standard one.
                if object.iter().all(|(key, _)| *key != name) {
                    object.push((name, value.into_json()));
                }
            }
            // json.dumps's separators.
            writer.write_char('{')?;
            for (n, (key, value)) in object.iter().enumerate() {
                let sep = if n == 0 { "" } else { ", " };
                write!(writer, "{sep}{}: {value}", Value::from(*key))?;
            }
            writer.write_str("}\n")
        } else {
            let mut message = fields.message;
            for (name, value) in &fields.extra {
                let sep = if message.is_empty() { "" } else { " " };
                write!(message, "{sep}{name}={value}")?;
            }
            let line = format!(
                "[{level}]\t{date}.{:03}Z\t{request_id}\t{message}",
                t.millisecond()
            );
            // One record, one CloudWatch event, as the Python runtime's: it
            // sends records whole through its framed log pipe
            // (`_LAMBDA_TELEMETRY_LOG_FD`), but Lambda splits a custom
            // runtime's stdout at `\n`; `\r` is what that runtime itself
            // joins lines with when it reports an error on stdout.
            writeln!(writer, "{}", line.replace('\n', "\r"))
        }
    }
}

/// Python's level name for a tracing level, the reverse of `crate::log_level`.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

/// An event's message and its other fields, in the order given.
#[derive(Default)]
struct EventFields {
    message: String,
    extra: Vec<(&'static str, FieldValue)>,
}

enum FieldValue {
    Json(Value),
    /// Recorded with `?` (Debug), or of a type JSON has no value for.
    Text(String),
}

impl FieldValue {
    fn into_json(self) -> Value {
        match self {
            FieldValue::Json(v) => v,
            FieldValue::Text(s) => Value::String(s),
        }
    }
}

/// As tracing's default formatter writes a field's value: strings quoted.
impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Json(v) => write!(f, "{v}"),
            FieldValue::Text(s) => f.write_str(s),
        }
    }
}

impl EventFields {
    fn push(&mut self, field: &Field, value: FieldValue) {
        match field.name() {
            "message" => {
                self.message = match value {
                    FieldValue::Json(Value::String(s)) | FieldValue::Text(s) => s,
                    FieldValue::Json(v) => v.to_string(),
                }
            }
            // What tracing-log adds to records of the `log` crate.
            name if name.starts_with("log.") => {}
            name => self.extra.push((name, value)),
        }
    }
}

impl Visit for EventFields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, FieldValue::Text(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, FieldValue::Json(value.into()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::Json(value.into()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::Json(value.into()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Json(value.into()));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value).map_or_else(
            || FieldValue::Text(value.to_string()),
            |n| FieldValue::Json(n.into()),
        );
        self.push(field, value);
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use time::macros::datetime;
    use tracing::{debug, error, info, info_span, trace, warn};
    use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    use super::*;

    const ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

    /// What the functions' output receives.
    #[derive(Clone, Default)]
    struct Output(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Output {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Output {
        type Writer = Output;

        fn make_writer(&'a self) -> Output {
            self.clone()
        }
    }

    /// The lines `log` writes at a fixed time, through `filter` when given.
    fn logged(json: bool, filter: Option<EnvFilter>, log: impl FnOnce()) -> String {
        let output = Output::default();
        // Not UTC, to show lines are stamped in UTC.
        let clock = || datetime!(2025-01-31 21:20:30.123456 +11);
        let layer = layer(json, clock, output.clone());
        match filter {
            Some(filter) => {
                let layer = layer.with_filter(filter.or(filter_fn(is_request_span)));
                tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), log)
            }
            None => {
                tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), log)
            }
        }
        let bytes = output.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// As lambda_runtime 0.14 (`layers/trace.rs`) opens an invocation.
    fn invocation() -> tracing::Span {
        info_span!(target: "lambda_runtime::layers::trace", "Lambda runtime invoke", requestId = ID)
    }

    #[test]
    fn text_lines_have_python_level_names_and_no_request_id_outside_an_invocation() {
        let out = logged(false, None, || {
            error!("e");
            warn!("w");
            info!("i");
            debug!("d");
            trace!("t");
        });
        assert_eq!(
            out,
            "[ERROR]\t2025-01-31T10:20:30.123Z\t\te\n\
             [WARNING]\t2025-01-31T10:20:30.123Z\t\tw\n\
             [INFO]\t2025-01-31T10:20:30.123Z\t\ti\n\
             [DEBUG]\t2025-01-31T10:20:30.123Z\t\td\n\
             [DEBUG]\t2025-01-31T10:20:30.123Z\t\tt\n"
        );
    }

    #[test]
    fn lines_in_an_invocation_carry_its_request_id() {
        let out = logged(false, None, || {
            info!("init");
            let span = invocation();
            let entered = span.enter();
            info!("Dispatched load");
            // A handler's own span inside the invocation.
            info_span!("render", trigger = "incoming").in_scope(|| warn!("not enabled"));
            drop(entered);
            info!("between invocations");
        });
        assert_eq!(
            out,
            format!(
                "[INFO]\t2025-01-31T10:20:30.123Z\t\tinit\n\
                 [INFO]\t2025-01-31T10:20:30.123Z\t{ID}\tDispatched load\n\
                 [WARNING]\t2025-01-31T10:20:30.123Z\t{ID}\tnot enabled\n\
                 [INFO]\t2025-01-31T10:20:30.123Z\t\tbetween invocations\n"
            )
        );
    }

    #[test]
    fn a_multi_line_record_stays_one_line() {
        let out = logged(false, None, || error!("Response:\n{{\n  'a': 1}}"));
        assert_eq!(
            out,
            "[ERROR]\t2025-01-31T10:20:30.123Z\t\tResponse:\r{\r  'a': 1}\n"
        );
    }

    #[test]
    fn text_lines_end_with_the_event_fields() {
        let backlog = vec![3];
        let out = logged(false, None, || {
            info!(realm = "e2e", n = 3, ok = true, ?backlog, "worker backlog")
        });
        assert_eq!(
            out,
            "[INFO]\t2025-01-31T10:20:30.123Z\t\tworker backlog realm=\"e2e\" n=3 ok=true backlog=[3]\n"
        );
        let out = logged(false, None, || debug!(request_id = "Gpy9", ""));
        assert_eq!(
            out,
            "[DEBUG]\t2025-01-31T10:20:30.123Z\t\trequest_id=\"Gpy9\"\n"
        );
    }

    #[test]
    fn json_lines_have_the_python_runtime_fields() {
        let out = logged(true, None, || {
            warn!("two\nlines");
            invocation().in_scope(|| {
                info!(
                    realm = "e2e",
                    level = "shadowed",
                    value = 1.5,
                    "worker backlog"
                );
                error!(target: "aws_config::imds::region", "no region");
            });
        });
        assert_eq!(
            out,
            format!(
                "{{\"timestamp\": \"2025-01-31T10:20:30Z\", \"level\": \"WARNING\", \
                 \"message\": \"two\\nlines\", \"logger\": \"lava\", \"requestId\": \"\"}}\n\
                 {{\"timestamp\": \"2025-01-31T10:20:30Z\", \"level\": \"INFO\", \
                 \"message\": \"worker backlog\", \"logger\": \"lava\", \"requestId\": \"{ID}\", \
                 \"realm\": \"e2e\", \"value\": 1.5}}\n\
                 {{\"timestamp\": \"2025-01-31T10:20:30Z\", \"level\": \"ERROR\", \
                 \"message\": \"no region\", \"logger\": \"aws_config.imds.region\", \
                 \"requestId\": \"{ID}\"}}\n"
            )
        );
        for line in out.lines() {
            serde_json::from_str::<Value>(line).unwrap();
        }
    }

    #[test]
    fn the_invocation_span_passes_the_default_filter() {
        let out = logged(false, Some(EnvFilter::new("warn,lava=info")), || {
            invocation().in_scope(|| {
                info!("Event {ID}: Completed");
                debug!("Received event");
                info!(target: "aws_smithy_runtime", "sending");
            })
        });
        assert_eq!(
            out,
            format!("[INFO]\t2025-01-31T10:20:30.123Z\t{ID}\tEvent {ID}: Completed\n")
        );
    }
}
