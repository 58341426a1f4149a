//! Jinja rendering of s3triggers entries with minijinja, with the variables
//! upstream's Python renderer provides (`bucket`, `key`, `event`, `info`,
//! `utils`), so that existing entries render the same. Upstream:
//! `lambda/s3trigger/s3trigger.py` (render_vars), `lava/lavacore.py` (JINJA_UTILS),
//! `doc/user-guide/05-Dispatch/` (Rendering of Dispatch Parameters).

mod pypath;
mod pytext;
mod pytime;

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use crate::event::S3Record;

pub struct Renderer {
    env: Environment<'static>,
    clock: pytime::WallClock,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

/// The template environment: minijinja made to behave as Jinja2 does under
/// Python for what trigger templates use.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Each string is rendered on its own (see render_json): a trailing
    // newline in a value is data, which Jinja must not strip.
    env.set_keep_trailing_newline(true);
    // Python's str methods (key.rsplit('/', 1), ...), then pycompat's.
    env.set_unknown_method_callback(pytext::unknown_method);
    // Python's operators: datetime arithmetic, then `"%s" % x`.
    env.set_unknown_binop_callback(|state, op, lhs, rhs| {
        pytime::binop(state, op, lhs, rhs).or_else(|| pytext::percent_format(state, op, lhs, rhs))
    });
    pytext::register_filters(&mut env);
    // `{{ x }}` is Python's str(x): None, True, ['a', 1], 1e+20.
    env.set_formatter(|out, _, value| {
        match value.kind() {
            ValueKind::String | ValueKind::Undefined => {}
            _ => return out.write_str(&pytext::py_str(value)).map_err(Error::from),
        }
        out.write_str(value.as_str().unwrap_or_default())
            .map_err(Error::from)
    });
    env
}

impl Renderer {
    pub fn new() -> Renderer {
        Renderer {
            env: environment(),
            clock: pytime::WallClock::system(),
        }
    }

    /// The render variables for one object event.
    pub fn context(&self, record: &S3Record) -> Value {
        let info = minijinja::context! {
            bucket => record.bucket,
            key => record.key,
            size => record.size,
            source_ip => record.source_ip.map(|ip| ip.to_string()),
            event_time => pytime::datetime_value(record.event_time),
            event_type => record.event_type,
            aws_region => record.aws_region,
        };
        minijinja::context! {
            bucket => record.bucket,
            key => record.key,
            event => Value::from_serialize(&record.raw),
            info => info,
            utils => utils(&self.clock),
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

/// `utils`: upstream's JINJA_UTILS (lava/lavacore.py), member for member.
fn utils(clock: &pytime::WallClock) -> Value {
    let mut members = vec![
        (
            "s3bucket",
            Value::from_function(|s: String| s3_split(&s).map(|(b, _)| b)),
        ),
        (
            "s3key",
            Value::from_function(|s: String| s3_split(&s).map(|(_, k)| k)),
        ),
        ("uuid", Value::from_function(pypath::uuid4)),
        ("path", pypath::path_module()),
        ("re", pytext::re_module()),
    ];
    members.extend(pytime::utils_members(clock));
    Value::from_iter(members)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::OffsetDateTime;

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
            .unwrap(),
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
    fn s3_names_as_upstream_splits_them() {
        for (name, bucket, key) in [
            ("s3://b/k/x/", "b", "k/x"),
            ("s3:b/k", "b", "k"),
            ("/b/k", "b", "k"),
            ("b", "b", ""),
        ] {
            assert_eq!(
                s3_split(name).unwrap(),
                (bucket.into(), key.into()),
                "{name}"
            );
        }
        assert!(s3_split("s3://").is_err());
    }

    /// What Jinja2 3.1 renders for the same templates and variables (with
    /// upstream's utils and event_time from dateutil): values as
    /// Python's str(), and each part of the environment reachable together.
    #[test]
    fn the_environment_is_python_shaped() {
        let r = Renderer::new();
        let ctx = r.context(&record());
        for (template, python) in [
            (
                "{{ none }}|{{ true }}|{{ false }}|{{ undefined_name }}|",
                "None|True|False||",
            ),
            (
                "{{ ['a', 1, none] }}|{{ {'k': 'v'} }}|{{ 1e20 }}|{{ 0.5 }}",
                "['a', 1, None]|{'k': 'v'}|1e+20|0.5",
            ),
            (
                "{{ info.size is none }}|{{ info.source_ip }}",
                "False|10.1.2.3",
            ),
            (
                "{{ (info.event_time - utils.timedelta(days=1)).strftime('%Y-%m-%d') }}",
                "2022-01-29",
            ),
            (
                "{{ '%05d-%s' % (info.size, key.rsplit('/', 1)[1]) }}",
                "01024-data file.csv",
            ),
            (
                "{{ utils.re.sub('[0-9]+', 'N', key) }}",
                "in/N/data file.csv",
            ),
            (
                "{{ utils.path.normpath('a/../b') }}|{{ utils.uuid().version }}",
                "b|4",
            ),
            (
                "{{ key | truncate(9) }}|{{ 2048 | filesizeformat }}",
                "in/202...|2.0 kB",
            ),
            ("{{ event.s3.object.eTag }}", "abc"),
            (
                "{{ key.split('/')[1:3] }}|{{ [3, 1, 2] | sort }}",
                "['2024', 'data file.csv']|[1, 2, 3]",
            ),
            (
                "{% set d = {'b': 1, 'a': 2} %}{{ d }}|{% for k in d %}{{ k }}{% endfor %}",
                "{'b': 1, 'a': 2}|ba",
            ),
        ] {
            assert_eq!(r.render_str(template, &ctx).unwrap(), python, "{template}");
        }
    }
}
