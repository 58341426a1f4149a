//! Jinja rendering of s3triggers entries with minijinja, with the variables
//! upstream's Python renderer provides (`bucket`, `key`, `event`, `info`,
//! `utils`), so that existing entries render the same. Upstream:
//! `lambda/s3trigger/s3trigger.py` (render_vars), `lava/lavacore.py` (JINJA_UTILS),
//! `doc/user-guide/05-Dispatch/` (Rendering of Dispatch Parameters).

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{Environment, Error, ErrorKind, State};
use time::{OffsetDateTime, UtcOffset};

use crate::event::S3Record;

pub struct Renderer {
    env: Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    pub fn new() -> Renderer {
        let mut env = Environment::new();
        // Each string is rendered on its own (see render_json): a trailing
        // newline in a value is data, which Jinja must not strip.
        env.set_keep_trailing_newline(true);
        // Python string and dict methods (key.split('/'), ...), which
        // templates written for Jinja2 use.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        Renderer { env }
    }

    /// The render variables for one object event.
    pub fn context(&self, record: &S3Record) -> Value {
        let time = |t: Option<OffsetDateTime>| {
            t.map_or(Value::from(()), |t| {
                Value::from_object(PyDateTime::aware(t))
            })
        };
        let info = minijinja::context! {
            bucket => record.bucket,
            key => record.key,
            size => record.size,
            source_ip => record.source_ip.map(|ip| ip.to_string()),
            event_time => time(record.event_time),
            event_type => record.event_type,
            aws_region => record.aws_region,
        };
        minijinja::context! {
            bucket => record.bucket,
            key => record.key,
            event => Value::from_serialize(&record.raw),
            info => info,
            utils => utils(),
        }
    }

    pub fn render_str(&self, template: &str, ctx: &Value) -> Result<String, Error> {
        self.env.render_str(template, ctx)
    }

    /// Render every string (map keys included) of a JSON value as a template.
    ///
    /// Upstream renders the JSON text of the whole value and parses the result;
    /// rendering string by string gives the same value for every entry that
    /// works there, and does not break when a key or bucket name holds a
    /// quote or backslash that would corrupt the JSON text.
    pub fn render_json(
        &self,
        value: &serde_json::Value,
        ctx: &Value,
    ) -> Result<serde_json::Value, Error> {
        use serde_json::Value as J;
        Ok(match value {
            J::String(s) => J::String(self.render_str(s, ctx)?),
            J::Array(items) => J::Array(
                items
                    .iter()
                    .map(|v| self.render_json(v, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(map) => J::Object(
                map.iter()
                    .map(|(k, v)| Ok((self.render_str(k, ctx)?, self.render_json(v, ctx)?)))
                    .collect::<Result<_, Error>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// `utils`: the parts of upstream's JINJA_UTILS (Python modules and helpers)
/// that make sense without Python: s3bucket, s3key, uuid, path.*, datetime.now/utcnow.
fn utils() -> Value {
    let path = minijinja::context! {
        basename => Value::from_function(|p: String| path_split(&p).1.to_string()),
        dirname => Value::from_function(|p: String| path_split(&p).0),
        split => Value::from_function(|p: String| {
            let (head, tail) = path_split(&p);
            vec![head, tail.to_string()]
        }),
        splitext => Value::from_function(|p: String| {
            let (root, ext) = splitext(&p);
            vec![root.to_string(), ext.to_string()]
        }),
        join => Value::from_function(|parts: minijinja::value::Rest<String>| path_join(&parts)),
    };
    let datetime = minijinja::context! {
        now => Value::from_function(|| Value::from_object(PyDateTime::naive(OffsetDateTime::now_utc()))),
        utcnow => Value::from_function(|| Value::from_object(PyDateTime::naive(OffsetDateTime::now_utc()))),
    };
    minijinja::context! {
        s3bucket => Value::from_function(|s: String| s3_split(&s).map(|(b, _)| b)),
        s3key => Value::from_function(|s: String| s3_split(&s).map(|(_, k)| k)),
        uuid => Value::from_function(|| uuid::Uuid::new_v4().to_string()),
        path => path,
        datetime => datetime,
    }
}

/// `bucket/key`, `s3://bucket/key`, `s3:bucket/key` or `/bucket/key` -> (bucket, key).
fn s3_split(s: &str) -> Result<(String, String), Error> {
    let rest = s
        .strip_prefix("s3://")
        .or_else(|| s.strip_prefix("s3:"))
        .unwrap_or(s);
    let trimmed = rest.trim_matches('/');
    let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    if bucket.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("Invalid S3 object name: {rest}"),
        ));
    }
    Ok((bucket.to_string(), key.trim_matches('/').to_string()))
}

/// Python os.path.split: (head without trailing slashes unless all slashes, tail).
fn path_split(p: &str) -> (String, &str) {
    let i = p.rfind('/').map_or(0, |i| i + 1);
    let (head, tail) = p.split_at(i);
    let stripped = head.trim_end_matches('/');
    let head = if stripped.is_empty() { head } else { stripped };
    (head.to_string(), tail)
}

/// Python os.path.splitext: the last dot of the last component, leading dots not counting.
fn splitext(p: &str) -> (&str, &str) {
    let base_start = p.rfind('/').map_or(0, |i| i + 1);
    let base = &p[base_start..];
    let leading = base.len() - base.trim_start_matches('.').len();
    match base.rfind('.') {
        Some(dot) if dot > leading => p.split_at(base_start + dot),
        _ => (p, ""),
    }
}

/// Python os.path.join: an absolute component restarts the path.
fn path_join(parts: &[String]) -> String {
    let mut out = String::new();
    for part in parts {
        if part.starts_with('/') {
            out.clear();
        } else if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(part);
    }
    out
}

/// A datetime that renders and behaves like Python's for the common uses:
/// `{{ t }}`, `t.isoformat()`, `t.strftime(fmt)`, `t.timestamp()`, `t.year` ...
#[derive(Debug)]
struct PyDateTime {
    t: OffsetDateTime,
    /// Python's datetime.now() has no zone, so neither str() nor isoformat() shows one.
    naive: bool,
}

impl PyDateTime {
    fn aware(t: OffsetDateTime) -> Self {
        PyDateTime { t, naive: false }
    }

    fn naive(t: OffsetDateTime) -> Self {
        PyDateTime { t, naive: true }
    }

    fn iso(&self, sep: &str) -> String {
        let t = self.t;
        let mut s = format!(
            "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        if t.microsecond() != 0 {
            s.push_str(&format!(".{:06}", t.microsecond()));
        }
        if !self.naive {
            s.push_str(&offset(t.offset(), true));
        }
        s
    }

    fn strftime(&self, fmt: &str) -> String {
        const DAYS: [&str; 7] = [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ];
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let t = self.t;
        let day = DAYS[usize::from(t.weekday().number_days_from_monday())];
        let month = MONTHS[usize::from(u8::from(t.month())) - 1];
        let hour12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        let mut out = String::new();
        let mut chars = fmt.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(code) = chars.next() else {
                out.push('%');
                break;
            };
            let piece = match code {
                'Y' => format!("{:04}", t.year()),
                'y' => format!("{:02}", t.year().rem_euclid(100)),
                'm' => format!("{:02}", u8::from(t.month())),
                'd' => format!("{:02}", t.day()),
                'e' => format!("{:2}", t.day()),
                'H' => format!("{:02}", t.hour()),
                'I' => format!("{hour12:02}"),
                'M' => format!("{:02}", t.minute()),
                'S' => format!("{:02}", t.second()),
                'f' => format!("{:06}", t.microsecond()),
                'p' => (if t.hour() < 12 { "AM" } else { "PM" }).to_string(),
                'j' => format!("{:03}", t.ordinal()),
                'a' => day[..3].to_string(),
                'A' => day.to_string(),
                'b' | 'h' => month[..3].to_string(),
                'B' => month.to_string(),
                'w' => t.weekday().number_days_from_sunday().to_string(),
                'u' => t.weekday().number_from_monday().to_string(),
                'z' if self.naive => String::new(),
                'z' => offset(t.offset(), false),
                'Z' if self.naive => String::new(),
                'Z' if t.offset().is_utc() => "UTC".to_string(),
                'Z' => offset(t.offset(), true),
                'F' => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
                'T' => format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
                's' => t.unix_timestamp().to_string(),
                '%' => "%".to_string(),
                other => format!("%{other}"),
            };
            out.push_str(&piece);
        }
        out
    }
}

fn offset(o: UtcOffset, colon: bool) -> String {
    let (h, m, s) = o.as_hms();
    let sign = if o.is_negative() { '-' } else { '+' };
    let sep = if colon { ":" } else { "" };
    let mut out = format!("{sign}{:02}{sep}{:02}", h.unsigned_abs(), m.unsigned_abs());
    if s != 0 {
        out.push_str(&format!("{sep}{:02}", s.unsigned_abs()));
    }
    out
}

impl Object for PyDateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let t = self.t;
        Some(match key.as_str()? {
            "year" => Value::from(t.year()),
            "month" => Value::from(u8::from(t.month())),
            "day" => Value::from(t.day()),
            "hour" => Value::from(t.hour()),
            "minute" => Value::from(t.minute()),
            "second" => Value::from(t.second()),
            "microsecond" => Value::from(t.microsecond()),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let arg = |i: usize| args.get(i).and_then(Value::as_str);
        match method {
            "isoformat" => Ok(Value::from(self.iso(arg(0).unwrap_or("T")))),
            "strftime" => {
                let fmt = arg(0).ok_or_else(|| {
                    Error::new(ErrorKind::MissingArgument, "strftime() needs a format")
                })?;
                Ok(Value::from(self.strftime(fmt)))
            }
            "timestamp" => {
                let t = self.t;
                Ok(Value::from(
                    t.unix_timestamp() as f64 + f64::from(t.microsecond()) / 1e6,
                ))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> S3Record {
        S3Record {
            bucket: "my-bucket".into(),
            key: "in/2024/data file.csv".into(),
            size: Some(1024),
            source_ip: "10.1.2.3".parse().ok(),
            event_time: OffsetDateTime::parse(
                "2022-01-30T16:18:17.000123Z",
                &time::format_description::well_known::Rfc3339,
            )
            .ok(),
            event_type: "ObjectCreated:Put".into(),
            aws_region: Some("ap-southeast-2".into()),
            raw: json!({"eventName": "ObjectCreated:Put", "s3": {"object": {"eTag": "abc"}}}),
        }
    }

    #[test]
    fn renders_the_upstream_variables() {
        let r = Renderer::new();
        let ctx = r.context(&record());
        let out = r
            .render_json(
                &json!({
                    "env": {
                        "BUCKET": "{{bucket}}",
                        "KEY": "{{ key }}",
                        "IP": "{{info.source_ip}}",
                        "SIZE": "{{ info.size }}",
                        "EVENT_TIME": "{{info.event_time.isoformat()}}",
                        "T": "{{ info.event_time }}",
                        "DAY": "{{ info.event_time.strftime('%Y%m%d') }}",
                        "TYPE": "{{ info.event_type }}",
                        "ETAG": "{{ event.s3.object.eTag }}",
                        "FIRST": "{{ key.split('/')[0] }}",
                        "BASE": "{{ utils.path.basename(key) }}",
                        "B2": "{{ utils.s3bucket('s3://x/y/z') }}/{{ utils.s3key('s3://x/y/z') }}",
                    },
                    "{{ info.aws_region }}": ["plain\n", 3, true]
                }),
                &ctx,
            )
            .unwrap();
        assert_eq!(
            out,
            json!({
                "env": {
                    "BUCKET": "my-bucket",
                    "KEY": "in/2024/data file.csv",
                    "IP": "10.1.2.3",
                    "SIZE": "1024",
                    "EVENT_TIME": "2022-01-30T16:18:17.000123+00:00",
                    "T": "2022-01-30 16:18:17.000123+00:00",
                    "DAY": "20220130",
                    "TYPE": "ObjectCreated:Put",
                    "ETAG": "abc",
                    "FIRST": "in",
                    "BASE": "data file.csv",
                    "B2": "x/y/z",
                },
                "ap-southeast-2": ["plain\n", 3, true]
            })
        );
    }

    #[test]
    fn no_html_escaping() {
        let r = Renderer::new();
        let mut rec = record();
        rec.key = "a&b <c> \"d\".csv".into();
        let ctx = r.context(&rec);
        assert_eq!(r.render_str("{{ key }}", &ctx).unwrap(), rec.key);
    }

    #[test]
    fn bad_templates_are_errors() {
        let r = Renderer::new();
        let ctx = r.context(&record());
        assert!(r.render_json(&json!({"a": "{{ bucket "}), &ctx).is_err());
        assert!(r
            .render_json(&json!({"a": "{{ nothing.here }}"}), &ctx)
            .is_err());
    }

    #[test]
    fn python_path_helpers() {
        assert_eq!(path_split("a/b/c"), ("a/b".to_string(), "c"));
        assert_eq!(path_split("c"), (String::new(), "c"));
        assert_eq!(path_split("/c"), ("/".to_string(), "c"));
        assert_eq!(splitext("a/b.tar.gz"), ("a/b.tar", ".gz"));
        assert_eq!(splitext("a/.profile"), ("a/.profile", ""));
        assert_eq!(
            path_join(&["a".into(), "b".into(), "/c".into(), "d".into()]),
            "/c/d"
        );
        assert_eq!(
            s3_split("s3://b/k/x/").unwrap(),
            ("b".to_string(), "k/x".to_string())
        );
    }
}
