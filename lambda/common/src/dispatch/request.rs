//! Dispatch requests as the upstream dispatch helper reads them
//! (`lambda/dispatch/dispatch.py`): JSON objects (or lists of them) and text
//! lines `job_id [-d|--delay DURATION] [-p|--param name=value]... [-g|--global name=value]...`.

use serde_json::{Map, Value};

use super::words::split_words;
use crate::duration::{duration_seconds, parse_duration, whole_seconds, DurationError};
use crate::envelope::Body;

/// SQS accepts message delays of 0 to 15 minutes.
pub const SQS_MAX_DELAY_SECS: u64 = 15 * 60;

/// The longest delay a text line may ask for: upstream's
/// `config('SQS_MAX_DELAY_MINS', int)`, which is `LAVA_SQS_MAX_DELAY_MINS`,
/// else 15. Upstream converts it for every line, so a value that is not an
/// integer fails every text line (JSON requests do not use it); a bound above
/// 15 lets SQS refuse the message instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaxDelay {
    Minutes(i64),
    /// The text that is not an integer.
    Invalid(String),
}

impl Default for MaxDelay {
    fn default() -> MaxDelay {
        MaxDelay::Minutes((SQS_MAX_DELAY_SECS / 60) as i64)
    }
}

impl MaxDelay {
    pub const VAR: &'static str = "LAVA_SQS_MAX_DELAY_MINS";

    pub fn from_env() -> MaxDelay {
        std::env::var(MaxDelay::VAR)
            .map(|v| MaxDelay::parse(&v))
            .unwrap_or_default()
    }

    /// Python's `int()` of a string: surrounding whitespace, a sign, digits
    /// with single underscores between them.
    pub fn parse(text: &str) -> MaxDelay {
        let t = text.trim();
        let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
        let valid = !digits.is_empty()
            && !digits.starts_with('_')
            && !digits.ends_with('_')
            && !digits.contains("__")
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
        match t.replace('_', "").parse::<i64>() {
            Ok(minutes) if valid => MaxDelay::Minutes(minutes),
            _ => MaxDelay::Invalid(text.to_string()),
        }
    }

    /// Whether a delay in seconds is within `0..=minutes * 60`; the message
    /// says why not.
    pub fn check(&self, seconds: f64) -> Result<(), String> {
        match self {
            MaxDelay::Invalid(text) => Err(format!(
                "Cannot convert config item SQS_MAX_DELAY_MINS: {text:?} is not an integer"
            )),
            MaxDelay::Minutes(minutes) => {
                if (0.0..=*minutes as f64 * 60.0).contains(&seconds) {
                    Ok(())
                } else {
                    Err(format!("Must be between 0 and {minutes} minutes"))
                }
            }
        }
    }
}

/// One job to dispatch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DispatchRequest {
    pub job_id: String,
    /// Merged over the job's parameters by the worker.
    pub parameters: Option<Map<String, Value>>,
    /// Merged over the job's globals by the worker.
    pub globals: Option<Map<String, Value>>,
    /// Seconds SQS holds the message back, at most [`SQS_MAX_DELAY_SECS`].
    pub delay: u64,
}

impl DispatchRequest {
    pub fn new(job_id: impl Into<String>) -> DispatchRequest {
        DispatchRequest {
            job_id: job_id.into(),
            ..DispatchRequest::default()
        }
    }
}

/// A request that cannot be read; `job_id` when it is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", job_id.as_ref().map(|j| format!("{j}: ")).unwrap_or_default())]
pub struct RequestError {
    pub job_id: Option<String>,
    pub reason: String,
}

impl RequestError {
    fn new(job_id: Option<&str>, reason: impl Into<String>) -> RequestError {
        RequestError {
            job_id: job_id.map(str::to_string),
            reason: reason.into(),
        }
    }
}

/// Keys matching these globs are ignored in JSON requests (upstream `IGNORE_FIELDS`).
fn ignored_key(key: &str) -> bool {
    key.starts_with("x-") || key.starts_with("X-")
}

const JSON_KEYS: [&str; 4] = ["job_id", "parameters", "globals", "delay"];

/// Every request in a body: `(where, request)` with `where` being `line N`
/// for text (1-based), `item N` for the entries of a JSON list (1-based), and
/// `None` for a single JSON object. `max_delay` bounds text lines' delays.
pub fn parse_body(
    body: &Body,
    max_delay: &MaxDelay,
) -> Vec<(Option<String>, Result<DispatchRequest, RequestError>)> {
    match body {
        Body::Text(text) => parse_text(text, max_delay)
            .into_iter()
            .map(|(line, request)| (Some(format!("line {line}")), request))
            .collect(),
        Body::Json(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| (Some(format!("item {}", i + 1)), parse_json(item)))
            .collect(),
        Body::Json(value @ Value::Object(_)) => vec![(None, parse_json(value))],
        Body::Json(_) => vec![(
            None,
            Err(RequestError::new(
                None,
                "JSON message body must be list or dict",
            )),
        )],
    }
}

/// One JSON request: an object with `job_id` and optional `parameters`,
/// `globals` (objects) and `delay` (a duration: number of seconds or text).
/// Other keys are errors unless they start with `x-`/`X-`. Dotted names are
/// left alone, as upstream does for JSON.
pub fn parse_json(value: &Value) -> Result<DispatchRequest, RequestError> {
    let Some(object) = value.as_object() else {
        return Err(RequestError::new(None, format!("{value}: must be a dict")));
    };
    let job_id = match object.get("job_id") {
        Some(Value::String(id)) if !id.trim().is_empty() => Some(id.as_str()),
        Some(Value::String(_)) => return Err(RequestError::new(None, "job_id is empty")),
        Some(other) => {
            return Err(RequestError::new(
                None,
                format!("job_id must be a string, not {other}"),
            ))
        }
        None => None,
    };
    let fail = |reason: String| RequestError::new(job_id, reason);
    let mut unexpected: Vec<&str> = object
        .keys()
        .map(String::as_str)
        .filter(|k| !JSON_KEYS.contains(k) && !ignored_key(k))
        .collect();
    if !unexpected.is_empty() {
        unexpected.sort_unstable();
        return Err(fail(format!("Unexpected keys: {}", unexpected.join(", "))));
    }
    let Some(job_id) = job_id else {
        return Err(fail("Missing keys: job_id".into()));
    };
    let delay = match object.get("delay") {
        None => 0,
        Some(delay) => json_delay(delay).map_err(|e| fail(format!("Bad delay value: {e}")))?,
    };
    Ok(DispatchRequest {
        job_id: job_id.to_string(),
        parameters: json_map(object, "parameters").map_err(fail)?,
        globals: json_map(object, "globals").map_err(fail)?,
        delay,
    })
}

/// `parameters`/`globals`: an object; absent, null or empty means none (upstream
/// sends them only when non-empty).
fn json_map(object: &Map<String, Value>, key: &str) -> Result<Option<Map<String, Value>>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) if map.is_empty() => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(_) => Err(format!("{key} must be a dict")),
    }
}

/// A JSON delay: seconds as a number or a duration string, truncated to whole
/// seconds as upstream's `int()` does, within the SQS limit.
fn json_delay(delay: &Value) -> Result<u64, String> {
    let (seconds, text) = match delay {
        Value::Number(n) => (n.as_f64().ok_or("not a number")?, n.to_string()),
        Value::String(s) => (duration_seconds(s).map_err(|e| e.to_string())?, s.clone()),
        other => return Err(format!("Invalid duration type: {other}")),
    };
    let seconds = whole_seconds(seconds, &text, f64::trunc).map_err(|e| e.to_string())?;
    within_sqs_limit(seconds)
}

fn within_sqs_limit(seconds: u64) -> Result<u64, String> {
    if seconds <= SQS_MAX_DELAY_SECS {
        Ok(seconds)
    } else {
        Err(format!(
            "Must be between 0 and {} minutes, not {seconds} seconds",
            SQS_MAX_DELAY_SECS / 60
        ))
    }
}

/// The requests of a text body with their 1-based line numbers. Blank and
/// comment lines yield nothing. Lines split as Python's `str.splitlines()` does.
pub fn parse_text(
    text: &str,
    max_delay: &MaxDelay,
) -> Vec<(usize, Result<DispatchRequest, RequestError>)> {
    python_lines(text)
        .enumerate()
        .filter_map(|(i, line)| parse_line(line, max_delay).transpose().map(|r| (i + 1, r)))
        .collect()
}

fn python_lines(text: &str) -> impl Iterator<Item = &str> {
    let breaks = |c: char| {
        matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        )
    };
    // \r\n is one break: drop the \r before splitting on \n.
    text.split("\r\n").flat_map(move |part| part.split(breaks))
}

#[derive(Clone, Copy, PartialEq)]
enum Opt {
    Delay,
    Global,
    Param,
}

impl Opt {
    fn name(self) -> &'static str {
        match self {
            Opt::Delay => "-d/--delay",
            Opt::Global => "-g/--global",
            Opt::Param => "-p/--param",
        }
    }

    fn short(c: char) -> Option<Opt> {
        match c {
            'd' => Some(Opt::Delay),
            'g' => Some(Opt::Global),
            'p' => Some(Opt::Param),
            _ => None,
        }
    }

    /// Long names, or any unambiguous prefix of one (argparse abbreviations).
    fn long(name: &str) -> Option<Opt> {
        if name.is_empty() {
            return None;
        }
        [
            ("delay", Opt::Delay),
            ("global", Opt::Global),
            ("param", Opt::Param),
        ]
        .into_iter()
        .find(|(long, _)| long.starts_with(name))
        .map(|(_, opt)| opt)
    }
}

/// argparse's test for a negative number, which is a value, not an option.
fn negative_number(word: &str) -> bool {
    let Some(rest) = word.strip_prefix('-') else {
        return false;
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if rest.contains('.') {
        digits(int) && !frac.is_empty() && digits(frac)
    } else {
        !int.is_empty() && digits(int)
    }
}

/// Whether argparse would take a word for an option rather than a value.
fn option_like(word: &str) -> bool {
    word.starts_with('-') && word.len() > 1 && !negative_number(word) && !word.contains(' ')
}

/// One text line: `None` when it is blank or a comment. Options read as
/// upstream's argparse reads them: `-d 5m`, `-d5m`, `-d=5m`, `--delay 5m`,
/// `--delay=5m`, `--del 5m`; repeated `-d` keeps the last; repeated names keep
/// the last value. The delay must be within `max_delay`.
pub fn parse_line(
    line: &str,
    max_delay: &MaxDelay,
) -> Result<Option<DispatchRequest>, RequestError> {
    let words = split_words(line).map_err(|e| RequestError::new(None, e.to_string()))?;
    let Some((job_id, args)) = words.split_first() else {
        return Ok(None);
    };
    if option_like(job_id) {
        return Err(RequestError::new(
            None,
            format!("expected a job_id before the options, got {job_id}"),
        ));
    }
    let fail = |reason: String| RequestError::new(Some(job_id), reason);
    let unrecognized = |word: &str| fail(format!("unrecognized arguments: {word}"));

    let mut delay: Option<&str> = None;
    let mut params = Map::new();
    let mut globals = Map::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (opt, inline) = if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            (Opt::long(name).ok_or_else(|| unrecognized(arg))?, value)
        } else if option_like(arg) {
            let mut chars = arg[1..].chars();
            let opt = chars
                .next()
                .and_then(Opt::short)
                .ok_or_else(|| unrecognized(arg))?;
            let rest = chars.as_str();
            (
                opt,
                (!rest.is_empty()).then(|| rest.strip_prefix('=').unwrap_or(rest)),
            )
        } else {
            return Err(unrecognized(arg));
        };
        let value = match inline {
            Some(value) => value,
            None => match args.as_slice().first() {
                Some(next) if !option_like(next) => {
                    args.next();
                    next.as_str()
                }
                _ => {
                    return Err(fail(format!(
                        "argument {}: expected one argument",
                        opt.name()
                    )))
                }
            },
        };
        match opt {
            Opt::Delay => delay = Some(value),
            Opt::Global | Opt::Param => {
                let Some((name, value)) = value.split_once('=') else {
                    return Err(fail(format!(
                        "argument {}: expected name=value, got {value:?}",
                        opt.name()
                    )));
                };
                let map = if opt == Opt::Param {
                    &mut params
                } else {
                    &mut globals
                };
                map.insert(name.to_string(), Value::String(value.to_string()));
            }
        }
    }

    // Upstream's order: globals, parameters, then the delay.
    let globals = expand_keys(globals).map_err(|e| fail(format!("Bad -g, --global args: {e}")))?;
    let parameters = expand_keys(params).map_err(|e| fail(format!("Bad -p, --param args: {e}")))?;
    // Upstream reads the bound for every line, delay or not: a bad one is its
    // own error, not a bad delay.
    if let MaxDelay::Invalid(_) = max_delay {
        return Err(fail(max_delay.check(0.0).unwrap_err()));
    }
    let delay = match delay {
        None => 0,
        Some(text) => parse_duration(text)
            .map_err(|e: DurationError| e.to_string())
            .and_then(|seconds| {
                max_delay
                    .check(seconds as f64)
                    .map(|()| seconds)
                    .map_err(|e| format!("{e}, not {seconds} seconds"))
            })
            .map_err(|e| fail(format!("Bad -d, --delay value: {e}")))?,
    };
    Ok(Some(DispatchRequest {
        job_id: job_id.clone(),
        parameters: (!parameters.is_empty()).then_some(parameters),
        globals: (!globals.is_empty()).then_some(globals),
        delay,
    }))
}

/// Dotted names nest: `{"a.b": 1}` becomes `{"a": {"b": 1}}`, as upstream's
/// `dict_expand_keys` does, in the order the names were first given. A name
/// that runs through a value that is not a map is a conflict (`a=1` then
/// `a.b=2`); a later plain name replaces an earlier map (`a.b=1` then `a=2`).
pub fn expand_keys(flat: Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut tree = Map::new();
    for (key, value) in flat {
        let parts: Vec<&str> = key.split('.').collect();
        let (last, path) = parts.split_last().expect("split yields at least one part");
        let mut node = &mut tree;
        for part in path {
            let child = node
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            node = child
                .as_object_mut()
                .ok_or_else(|| format!("Path conflict: {key}"))?;
        }
        node.insert(last.to_string(), value);
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(text: &str) -> DispatchRequest {
        parse_line(text, &MaxDelay::default()).unwrap().unwrap()
    }

    fn line_err(text: &str) -> String {
        parse_line(text, &MaxDelay::default())
            .unwrap_err()
            .to_string()
    }

    fn map(value: Value) -> Option<Map<String, Value>> {
        Some(value.as_object().unwrap().clone())
    }

    #[test]
    fn plain_job() {
        assert_eq!(line("my-job"), DispatchRequest::new("my-job"));
        let max = MaxDelay::default();
        assert_eq!(parse_line("  # comment", &max).unwrap(), None);
        assert_eq!(parse_line("", &max).unwrap(), None);
    }

    #[test]
    fn options_every_spelling() {
        let want = DispatchRequest {
            job_id: "j".into(),
            parameters: map(json!({"a": "1"})),
            globals: map(json!({"g": "2"})),
            delay: 300,
        };
        for text in [
            "j -d 5m -p a=1 -g g=2",
            "j -d5m -pa=1 -gg=2",
            "j -d=5m -p=a=1 -g=g=2",
            "j --delay 5m --param a=1 --global g=2",
            "j --delay=5m --param=a=1 --global=g=2",
            "j --del 5m --par a=1 --g g=2",
            "j -g g=2 -p a=1 -d 1m -d 5m # the last delay wins",
        ] {
            assert_eq!(line(text), want, "{text}");
        }
    }

    #[test]
    fn docs_example_nests_dotted_names() {
        let r = line(
            r#"my-job -p timeout=1h -p vars.location=Isabela -p vars.name="Sierra Negra" -g country=Equador"#,
        );
        assert_eq!(
            Value::Object(r.parameters.unwrap()),
            json!({"timeout": "1h", "vars": {"location": "Isabela", "name": "Sierra Negra"}})
        );
        assert_eq!(
            Value::Object(r.globals.unwrap()),
            json!({"country": "Equador"})
        );
    }

    #[test]
    fn values_keep_everything_after_the_first_equals() {
        let r = line("j -p 'sql=select * from t where a = 1' -p e= -p a=b=c");
        assert_eq!(
            Value::Object(r.parameters.unwrap()),
            json!({"sql": "select * from t where a = 1", "e": "", "a": "b=c"})
        );
    }

    #[test]
    fn dotted_name_conflicts_follow_upstream() {
        assert_eq!(
            line_err("j -p a=1 -p a.b=2"),
            "j: Bad -p, --param args: Path conflict: a.b"
        );
        assert_eq!(
            line_err("j -g a.b=1 -g a.b.c=2"),
            "j: Bad -g, --global args: Path conflict: a.b.c"
        );
        // A later plain name replaces the map, keeping its place.
        let r = line("j -p a.b=1 -p z=0 -p a=2");
        assert_eq!(
            Value::Object(r.parameters.unwrap()),
            json!({"a": "2", "z": "0"})
        );
        assert_eq!(
            serde_json::to_string(&line("j -p b=1 -p a.x=2 -p a.y=3").parameters).unwrap(),
            r#"{"b":"1","a":{"x":"2","y":"3"}}"#
        );
        // Repeating a name keeps the last value.
        assert_eq!(
            Value::Object(line("j -p a=1 -p a=2").parameters.unwrap()),
            json!({"a": "2"})
        );
    }

    #[test]
    fn delays() {
        assert_eq!(line("j -d 0").delay, 0);
        assert_eq!(line("j -d 15m").delay, 900);
        assert_eq!(line("j -d 900").delay, 900);
        assert_eq!(line("j -d 2.5").delay, 2);
        assert_eq!(line("j -d -0.4").delay, 0);
        assert_eq!(
            line_err("j -d 20m"),
            "j: Bad -d, --delay value: Must be between 0 and 15 minutes, not 1200 seconds"
        );
        assert_eq!(
            line_err("j -d 901"),
            "j: Bad -d, --delay value: Must be between 0 and 15 minutes, not 901 seconds"
        );
        assert_eq!(
            line_err("j -d x"),
            "j: Bad -d, --delay value: Invalid duration: \"x\""
        );
        assert_eq!(
            line_err("j -d -5"),
            "j: Bad -d, --delay value: Negative duration: \"-5\""
        );
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(line_err("j -p 'a=1"), "No closing quotation");
        assert_eq!(line_err("j -x"), "j: unrecognized arguments: -x");
        assert_eq!(
            line_err("j --color=red"),
            "j: unrecognized arguments: --color=red"
        );
        assert_eq!(line_err("j extra"), "j: unrecognized arguments: extra");
        assert_eq!(line_err("j --"), "j: unrecognized arguments: --");
        assert_eq!(
            line_err("j -d"),
            "j: argument -d/--delay: expected one argument"
        );
        assert_eq!(
            line_err("j -d -p a=1"),
            "j: argument -d/--delay: expected one argument"
        );
        assert_eq!(
            line_err("j -p a"),
            "j: argument -p/--param: expected name=value, got \"a\""
        );
        assert_eq!(
            line_err("-d 5 j"),
            "expected a job_id before the options, got -d"
        );
    }

    #[test]
    fn text_bodies_number_lines() {
        let parsed = parse_text(
            "# jobs\r\nj1 -d 1m\n\n  j2 -p a.b=1 # trailing\rj3 -d x\n",
            &MaxDelay::default(),
        );
        let got: Vec<(usize, Result<String, String>)> = parsed
            .into_iter()
            .map(|(n, r)| (n, r.map(|r| r.job_id).map_err(|e| e.to_string())))
            .collect();
        assert_eq!(
            got,
            [
                (2, Ok("j1".into())),
                (4, Ok("j2".into())),
                (
                    5,
                    Err("j3: Bad -d, --delay value: Invalid duration: \"x\"".into())
                )
            ]
        );
    }

    #[test]
    fn json_requests() {
        let r = parse_json(&json!({"job_id": "j", "parameters": {"a.b": 1, "c": [1]}, "globals": {"g": true}, "delay": "1m", "x-note": "ignored", "X-Other": 1})).unwrap();
        assert_eq!(r.job_id, "j");
        assert_eq!(
            Value::Object(r.parameters.unwrap()),
            json!({"a.b": 1, "c": [1]})
        );
        assert_eq!(Value::Object(r.globals.unwrap()), json!({"g": true}));
        assert_eq!(r.delay, 60);
        assert_eq!(
            parse_json(&json!({"job_id": "j", "delay": 90.9}))
                .unwrap()
                .delay,
            90
        );
        assert_eq!(
            parse_json(&json!({"job_id": "j", "delay": "1.99"}))
                .unwrap()
                .delay,
            1
        );
        assert_eq!(
            parse_json(&json!({"job_id": "j", "parameters": {}, "globals": null})).unwrap(),
            DispatchRequest::new("j")
        );
    }

    #[test]
    fn bad_json_requests() {
        let err = |v: Value| parse_json(&v).unwrap_err().to_string();
        assert_eq!(
            err(json!({"job_id": "j", "params": {}})),
            "j: Unexpected keys: params"
        );
        assert_eq!(err(json!({"parameters": {}})), "Missing keys: job_id");
        assert_eq!(err(json!({"job_id": 7})), "job_id must be a string, not 7");
        assert_eq!(
            err(json!({"job_id": "j", "parameters": [1]})),
            "j: parameters must be a dict"
        );
        assert_eq!(
            err(json!({"job_id": "j", "globals": "g=1"})),
            "j: globals must be a dict"
        );
        assert_eq!(
            err(json!({"job_id": "j", "delay": "20m"})),
            "j: Bad delay value: Must be between 0 and 15 minutes, not 1200 seconds"
        );
        assert_eq!(
            err(json!({"job_id": "j", "delay": "soon"})),
            "j: Bad delay value: Invalid duration: \"soon\""
        );
        assert_eq!(
            err(json!({"job_id": "j", "delay": true})),
            "j: Bad delay value: Invalid duration type: true"
        );
        assert_eq!(err(json!("j")), "\"j\": must be a dict");
    }

    #[test]
    fn bodies() {
        let max = MaxDelay::default();
        let list = Body::Json(json!([{"job_id": "a"}, {"job": "b"}]));
        let parsed = parse_body(&list, &max);
        assert_eq!(parsed[0].0.as_deref(), Some("item 1"));
        assert_eq!(parsed[0].1, Ok(DispatchRequest::new("a")));
        assert!(parsed[1].1.is_err());
        let one = parse_body(&Body::Json(json!({"job_id": "a"})), &max);
        assert_eq!(one, vec![(None, Ok(DispatchRequest::new("a")))]);
        let text = parse_body(&Body::Text("\n a -d 1".into()), &max);
        assert_eq!(text[0].0.as_deref(), Some("line 2"));
        for scalar in [json!(42), json!("a"), json!(null), json!([])] {
            let parsed = parse_body(&Body::Json(scalar.clone()), &max);
            assert_eq!(
                parsed[0].1.as_ref().unwrap_err().to_string(),
                "JSON message body must be list or dict",
                "{scalar}"
            );
        }
    }

    #[test]
    fn the_delay_bound_is_configured_as_upstream() {
        assert_eq!(MaxDelay::parse("5"), MaxDelay::Minutes(5));
        assert_eq!(MaxDelay::parse(" +1_0\n"), MaxDelay::Minutes(10));
        assert_eq!(MaxDelay::parse("-1"), MaxDelay::Minutes(-1));
        for bad in ["", "5m", "1.5", "_1", "1__0", "1_", "ten"] {
            assert_eq!(
                MaxDelay::parse(bad),
                MaxDelay::Invalid(bad.into()),
                "{bad:?}"
            );
        }
        let five = MaxDelay::Minutes(5);
        let at = |text: &str, max: &MaxDelay| -> Result<u64, String> {
            parse_line(text, max)
                .map(|r| r.unwrap().delay)
                .map_err(|e| e.to_string())
        };
        assert_eq!(at("j -d 5m", &five), Ok(300));
        assert_eq!(
            at("j -d 301", &five),
            Err(
                "j: Bad -d, --delay value: Must be between 0 and 5 minutes, not 301 seconds".into()
            )
        );
        // Above SQS's own limit the line passes; SQS has the last word.
        assert_eq!(at("j -d 20m", &MaxDelay::Minutes(30)), Ok(1200));
        let bad = MaxDelay::Invalid("x".into());
        assert_eq!(
            at("j", &bad),
            Err("j: Cannot convert config item SQS_MAX_DELAY_MINS: \"x\" is not an integer".into())
        );
        // JSON requests are bounded by SQS only.
        assert_eq!(
            parse_json(&json!({"job_id": "j", "delay": "10m"})).map(|r| r.delay),
            Ok(600)
        );
    }
}
