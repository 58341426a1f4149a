//! The Jinja2 filters minijinja lacks or renders differently.

use super::*;

// Jinja2 filters.

/// markupsafe's escape (`&#34;`/`&#39;`, no `/`), which minijinja's HTML
/// escaping does differently.
pub(super) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// html.unescape for the entities markup usually carries.
pub(super) fn html_unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let ent = &rest[1..e];
            let c = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => ent
                    .strip_prefix("#x")
                    .or_else(|| ent.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out + rest
}

/// Jinja2's `tojson`: json.dumps(sort_keys=True) with <, >, & and ' escaped.
pub(super) fn to_json(
    v: &Value,
    indent: Option<usize>,
    level: usize,
    out: &mut String,
) -> Result<(), Error> {
    let nl = |out: &mut String, lvl: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * lvl));
        }
    };
    let item_sep = if indent.is_some() { "," } else { ", " };
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number if v.is_integer() => out.push_str(&v.to_string()),
        ValueKind::Number => {
            let x = f64::try_from(v.clone()).unwrap_or(f64::NAN);
            out.push_str(&match float_repr(x).as_str() {
                "nan" => "NaN".into(),
                "inf" => "Infinity".into(),
                "-inf" => "-Infinity".into(),
                s => s.to_string(),
            });
        }
        ValueKind::String => {
            out.push('"');
            for c in v.as_str().unwrap_or_default().chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\x08' => out.push_str("\\b"),
                    '\x0c' => out.push_str("\\f"),
                    '<' => out.push_str("\\u003c"),
                    '>' => out.push_str("\\u003e"),
                    '&' => out.push_str("\\u0026"),
                    '\'' => out.push_str("\\u0027"),
                    c if (' '..='~').contains(&c) => out.push(c),
                    c => {
                        let mut buf = [0u16; 2];
                        for u in c.encode_utf16(&mut buf) {
                            write!(out, "\\u{u:04x}").unwrap();
                        }
                    }
                }
            }
            out.push('"');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                nl(out, level + 1);
                to_json(item, indent, level + 1, out)?;
            }
            nl(out, level);
            out.push(']');
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = v.try_iter()?.collect();
            keys.sort_by_key(py_str);
            if keys.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                nl(out, level + 1);
                let key = if k.kind() == ValueKind::String {
                    k.clone()
                } else {
                    Value::from(py_json_key(k))
                };
                to_json(&key, None, 0, out)?;
                out.push_str(": ");
                to_json(&v.get_item(k)?, indent, level + 1, out)?;
            }
            nl(out, level);
            out.push('}');
        }
        _ => {
            return Err(py_err(format!(
                "Object of type {} is not JSON serializable",
                type_name(v)
            )))
        }
    }
    Ok(())
}

pub(super) fn py_json_key(k: &Value) -> String {
    match k.kind() {
        ValueKind::None => "null".into(),
        ValueKind::Bool => if k.is_true() { "true" } else { "false" }.into(),
        _ => py_str(k),
    }
}

/// textwrap.wrap as Jinja2's wordwrap calls it (tabs and whitespace kept).
pub(super) fn text_wrap(line: &str, width: usize, break_long: bool, hyphens: bool) -> Vec<String> {
    // Chunks: whitespace runs and words, words split after hyphens between letters.
    let mut chunks: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev: Option<char> = None;
    let chars: Vec<char> = line.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let space = c.is_whitespace();
        if !cur.is_empty() && space != prev.is_some_and(char::is_whitespace) {
            chunks.push(std::mem::take(&mut cur));
        }
        cur.push(c);
        if hyphens
            && c == '-'
            && prev.is_some_and(char::is_alphanumeric)
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic())
        {
            chunks.push(std::mem::take(&mut cur));
        }
        prev = Some(c);
    }
    if !cur.is_empty() {
        chunks.push(cur);
    }
    chunks.reverse();
    let len = |s: &str| s.chars().count();
    let blank = |s: &str| s.trim().is_empty();
    let mut lines = Vec::new();
    while !chunks.is_empty() {
        let mut line: Vec<String> = Vec::new();
        let mut cur_len = 0;
        if chunks.last().is_some_and(|c| blank(c)) && !lines.is_empty() {
            chunks.pop();
        }
        while let Some(c) = chunks.last() {
            if cur_len + len(c) <= width {
                cur_len += len(c);
                line.push(chunks.pop().unwrap_or_default());
            } else {
                break;
            }
        }
        if chunks.last().is_some_and(|c| len(c) > width) {
            if break_long {
                let c = chunks.pop().unwrap_or_default();
                let room = width.saturating_sub(cur_len).max(1);
                let head: String = c.chars().take(room).collect();
                let tail: String = c.chars().skip(room).collect();
                line.push(head);
                chunks.push(tail);
            } else if line.is_empty() {
                line.push(chunks.pop().unwrap_or_default());
            }
        }
        if line.last().is_some_and(|c| blank(c)) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.concat());
        }
    }
    lines
}

pub(super) fn filter(
    env: &mut Environment,
    name: &'static str,
    max: usize,
    f: fn(&State, &Value, &mut Args) -> Result<Value, Error>,
) {
    env.add_filter(
        name,
        move |state: &State, value: Value, rest: Rest<Value>| -> Result<Value, Error> {
            let mut a = Args::new(name, &rest, max)?;
            let rv = f(state, &value, &mut a)?;
            a.done()?;
            Ok(rv)
        },
    );
}

pub(super) fn attr_path(v: &Value, path: &str) -> Value {
    path.split('.')
        .fold(v.clone(), |cur, part| match part.parse::<i64>() {
            Ok(i) => cur.get_item(&Value::from(i)).unwrap_or_default(),
            Err(_) => cur.get_attr(part).unwrap_or_default(),
        })
}

/// Python's int(str, base): sign, underscores between digits, a prefix
/// matching the base, surrounding whitespace.
pub(super) fn parse_py_int(s: &str, base: u32) -> Option<i64> {
    let t = s.trim_matches(is_py_space);
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let lower = t.to_ascii_lowercase();
    let (base, digits) = match (base, lower.get(..2)) {
        (16 | 0, Some("0x")) => (16, &t[2..]),
        (8 | 0, Some("0o")) => (8, &t[2..]),
        (2 | 0, Some("0b")) => (2, &t[2..]),
        (0, _) => (10, t),
        (b, _) => (b, t),
    };
    let digits = digits
        .strip_prefix('_')
        .filter(|_| digits.len() != t.len())
        .unwrap_or(digits);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let n = i64::from_str_radix(&digits.replace('_', ""), base).ok()?;
    Some(if neg { -n } else { n })
}

pub(super) fn parse_py_float(s: &str) -> Option<f64> {
    let t = s.trim_matches(is_py_space);
    let lower = t.to_ascii_lowercase();
    let bare = lower.trim_start_matches(['+', '-']);
    if matches!(bare, "inf" | "infinity" | "nan") {
        return lower.replace("infinity", "inf").parse().ok();
    }
    if t.contains("__") || t.starts_with('_') || t.ends_with('_') {
        return None;
    }
    t.replace('_', "").parse().ok()
}

/// Python's round(x, ndigits) (round-half-even on the exact binary value).
pub(super) fn py_round(x: f64, ndigits: i64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    if ndigits >= 0 {
        format!("{x:.*}", ndigits as usize).parse().unwrap_or(x)
    } else {
        let p = 10f64.powi((-ndigits) as i32);
        format!("{:.0}", x / p).parse::<f64>().unwrap_or(x) * p
    }
}

/// Jinja2's filters that minijinja lacks or renders differently.
pub fn register_filters(env: &mut Environment) {
    filter(env, "center", 1, |_, v, a| {
        let width = a.int(0, "width", 80)?;
        Ok(Value::from(justify(&py_str(v), width, ' ', '^')))
    });
    filter(env, "filesizeformat", 1, |_, v, a| {
        let binary = a.some(0, "binary").is_some_and(|b| b.is_true());
        let bytes = to_f64(v)
            .or_else(|| v.as_str().and_then(parse_py_float))
            .ok_or_else(|| py_err(format!("could not convert {} to float", py_repr(v))))?;
        let (base, units) = if binary {
            (
                1024f64,
                ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"],
            )
        } else {
            (1000f64, ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"])
        };
        Ok(Value::from(if bytes == 1.0 {
            "1 Byte".to_string()
        } else if bytes < base {
            format!("{} Bytes", bytes.trunc() as i64)
        } else {
            let mut rv = None;
            for (i, unit) in units.iter().enumerate() {
                let size = base.powi(i as i32 + 2);
                if bytes < size {
                    rv = Some(format!("{:.1} {unit}", base * bytes / size));
                    break;
                }
            }
            rv.unwrap_or_else(|| format!("{:.1} {}", base * bytes / base.powi(9), units[7]))
        }))
    });
    for name in ["escape", "e"] {
        filter(env, name, 0, |_, v, _| {
            Ok(if v.is_safe() {
                v.clone()
            } else {
                Value::from_safe_string(html_escape(&py_str(v)))
            })
        });
    }
    filter(env, "forceescape", 0, |_, v, _| {
        Ok(Value::from_safe_string(html_escape(&py_str(v))))
    });
    filter(env, "format", usize::MAX, |_, v, a| {
        let fmt = py_str(v);
        if !a.kw.is_empty() && !a.pos.is_empty() {
            return Err(py_err(
                "can't handle positional and keyword arguments at the same time",
            ));
        }
        let rv = if a.kw.is_empty() {
            percent(&fmt, PercentArgs::Tuple(&a.pos))?
        } else {
            let map = Value::from_iter(std::mem::take(&mut a.kw));
            percent(&fmt, PercentArgs::Single(&map))?
        };
        Ok(Value::from(rv))
    });
    filter(env, "striptags", 0, |_, v, _| {
        let mut s = py_str(v);
        for (open, close) in [("<!--", "-->"), ("<", ">")] {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find(open) {
                match rest[i + open.len()..].find(close) {
                    Some(j) => {
                        out.push_str(&rest[..i]);
                        rest = &rest[i + open.len() + j + close.len()..];
                    }
                    None => break,
                }
            }
            out.push_str(rest);
            s = out;
        }
        let words: Vec<&str> = s.split(is_py_space).filter(|w| !w.is_empty()).collect();
        Ok(Value::from(html_unescape(&words.join(" "))))
    });
    filter(env, "truncate", 4, |_, v, a| {
        let s = py_str(v);
        let length = a.int(0, "length", 255)?;
        let killwords = a.some(1, "killwords").is_some_and(|k| k.is_true());
        let end = a.string(2, "end")?.unwrap_or_else(|| "...".into());
        let leeway = a.int(3, "leeway", 5)?;
        let n = s.chars().count() as i64;
        let end_len = end.chars().count() as i64;
        if length < end_len {
            return Err(py_err(format!(
                "expected length >= {end_len}, got {length}"
            )));
        }
        if n <= length + leeway {
            return Ok(Value::from(s));
        }
        let head: String = s.chars().take((length - end_len) as usize).collect();
        if killwords {
            return Ok(Value::from(head + &end));
        }
        let head = head
            .rsplit_once(' ')
            .map_or(head.as_str(), |(h, _)| h)
            .to_string();
        Ok(Value::from(head + &end))
    });
    filter(env, "wordcount", 0, |_, v, _| {
        static RE: OnceLock<Regex> = OnceLock::new();
        Ok(Value::from(
            class_regex(&RE, r"\w+").find_iter(&py_str(v)).count(),
        ))
    });
    filter(env, "wordwrap", 4, |_, v, a| {
        let width = a.int(0, "width", 79)?.max(1) as usize;
        let break_long = a.some(1, "break_long_words").is_none_or(|b| b.is_true());
        let wrapstring = a.string(2, "wrapstring")?.unwrap_or_else(|| "\n".into());
        let hyphens = a.some(3, "break_on_hyphens").is_none_or(|b| b.is_true());
        let lines: Vec<String> = py_splitlines(&py_str(v), false)
            .iter()
            .map(|l| text_wrap(l, width, break_long, hyphens).join(&wrapstring))
            .collect();
        Ok(Value::from(lines.join(&wrapstring)))
    });
    filter(env, "xmlattr", 1, |_, v, a| {
        let autospace = a.some(0, "autospace").is_none_or(|b| b.is_true());
        let mut parts = Vec::new();
        for k in v.try_iter()? {
            let val = v.get_item(&k)?;
            if val.is_none() || val.is_undefined() {
                continue;
            }
            let key = py_str(&k);
            if key.contains(|c: char| c.is_whitespace() || "/>=".contains(c)) {
                return Err(py_err(format!(
                    "Invalid character in attribute name: {}",
                    str_repr(&key)
                )));
            }
            parts.push(format!(
                "{}=\"{}\"",
                html_escape(&key),
                html_escape(&py_str(&val))
            ));
        }
        let rv = parts.join(" ");
        Ok(Value::from_safe_string(if autospace && !rv.is_empty() {
            format!(" {rv}")
        } else {
            rv
        }))
    });
    filter(env, "tojson", 1, |_, v, a| {
        let indent = a.some(0, "indent").map(|i| to_int(&i)).transpose()?;
        let mut out = String::new();
        to_json(v, indent.map(|i| i.max(0) as usize), 0, &mut out)?;
        Ok(Value::from_safe_string(out))
    });
    filter(env, "string", 0, |_, v, _| {
        Ok(if v.is_safe() {
            v.clone()
        } else {
            Value::from(py_str(v))
        })
    });
    filter(env, "join", 2, |_, v, a| {
        let sep = a.string(0, "d")?.unwrap_or_default();
        let attr = a.string(1, "attribute")?;
        let items: Vec<String> = v
            .try_iter()?
            .map(|item| py_str(&attr.as_ref().map_or(item.clone(), |p| attr_path(&item, p))))
            .collect();
        Ok(Value::from(items.join(&sep)))
    });
    for name in ["default", "d"] {
        filter(env, name, 2, |_, v, a| {
            let default = a.opt(0, "default_value").unwrap_or(Value::from(""));
            let boolean = a.some(1, "boolean").is_some_and(|b| b.is_true());
            Ok(if v.is_undefined() || (boolean && !v.is_true()) {
                default
            } else {
                v.clone()
            })
        });
    }
    filter(env, "round", 2, |_, v, a| {
        let precision = a.int(0, "precision", 0)?;
        let method = a.string(1, "method")?.unwrap_or_else(|| "common".into());
        let x = to_f64(v).ok_or_else(|| {
            py_err(format!(
                "type {} doesn't define __round__ method",
                type_name(v)
            ))
        })?;
        let p = 10f64.powi(precision as i32);
        if v.is_integer() && method == "common" {
            // Python's round() of an int is an int.
            return Ok(v.clone());
        }
        Ok(Value::from(match method.as_str() {
            "common" => py_round(x, precision),
            "ceil" => (x * p).ceil() / p,
            "floor" => (x * p).floor() / p,
            _ => return Err(py_err("method must be common, ceil or floor")),
        }))
    });
    filter(env, "int", 2, |_, v, a| {
        let default = a.opt(0, "default").unwrap_or(Value::from(0));
        let base = a.int(1, "base", 10)? as u32;
        let rv = match v.kind() {
            ValueKind::Bool => Some(v.is_true() as i64),
            ValueKind::Number if v.is_integer() => return Ok(v.clone()),
            ValueKind::Number => to_f64(v)
                .filter(|x| x.is_finite())
                .map(|x| x.trunc() as i64),
            ValueKind::String => {
                let s = v.as_str().unwrap_or_default();
                parse_py_int(s, base).or_else(|| {
                    parse_py_float(s)
                        .filter(|x| x.is_finite())
                        .map(|x| x.trunc() as i64)
                })
            }
            _ => None,
        };
        Ok(rv.map_or(default, Value::from))
    });
    filter(env, "float", 1, |_, v, a| {
        let default = a.opt(0, "default").unwrap_or(Value::from(0.0));
        let rv = match v.kind() {
            ValueKind::Bool | ValueKind::Number => to_f64(v),
            ValueKind::String => parse_py_float(v.as_str().unwrap_or_default()),
            _ => None,
        };
        Ok(rv.map_or(default, Value::from))
    });
    filter(env, "capitalize", 0, |_, v, _| {
        Ok(Value::from(py_capitalize(&py_str(v))))
    });
    filter(env, "title", 0, |_, v, _| {
        // Jinja2 capitalizes each piece after a run of -, whitespace, ( { [ <.
        let s = py_str(v);
        let mut out = String::new();
        let mut word_start = true;
        for c in s.chars() {
            let sep = c == '-' || c.is_whitespace() || "({[<".contains(c);
            if sep {
                out.push(c);
                word_start = true;
            } else if word_start {
                out.push_str(&upper_first(c));
                word_start = false;
            } else {
                out.extend(c.to_lowercase());
            }
        }
        Ok(Value::from(out))
    });
    filter(env, "trim", 1, |_, v, a| {
        let set = a.string(0, "chars")?;
        Ok(Value::from(py_str(v).trim_matches(strip_set(&set))))
    });
    filter(env, "replace", 3, |_, v, a| {
        let s = py_str(v);
        let old = py_str(&a.req(0, "old")?);
        let new = py_str(&a.req(1, "new")?);
        let count = a.int(2, "count", -1)?;
        Ok(Value::from(if count < 0 {
            s.replace(&old, &new)
        } else {
            s.replacen(&old, &new, count as usize)
        }))
    });
    filter(env, "indent", 3, |_, v, a| {
        let width = a.opt(0, "width").unwrap_or(Value::from(4));
        let indent = match width.as_str() {
            Some(s) => s.to_string(),
            None => " ".repeat(to_int(&width)?.max(0) as usize),
        };
        let first = a.some(1, "first").is_some_and(|b| b.is_true());
        let blank = a.some(2, "blank").is_some_and(|b| b.is_true());
        // Jinja2 appends a newline before splitting, so a trailing newline is
        // not indented and is dropped.
        let lines = py_splitlines(&(py_str(v) + "\n"), false);
        let mut rv = if blank {
            lines.join(&format!("\n{indent}"))
        } else {
            let mut it = lines.iter();
            let mut rv = it.next().cloned().unwrap_or_default();
            for line in it {
                rv.push('\n');
                if !line.is_empty() {
                    rv.push_str(&indent);
                }
                rv.push_str(line);
            }
            rv
        };
        if first {
            rv.insert_str(0, &indent);
        }
        Ok(Value::from(rv))
    });
    filter(env, "sum", 2, |_, v, a| {
        let attr = a.string(0, "attribute")?;
        let mut total = a.opt(1, "start").unwrap_or(Value::from(0));
        for item in v.try_iter()? {
            let item = attr.as_ref().map_or(item.clone(), |p| attr_path(&item, p));
            total = match (
                total.is_integer() && item.is_integer(),
                to_f64(&total),
                to_f64(&item),
            ) {
                (true, _, _) => Value::from(to_int(&total)? + to_int(&item)?),
                (false, Some(x), Some(y)) => Value::from(x + y),
                _ => {
                    return Err(py_err(format!(
                        "unsupported operand type(s) for +: '{}' and '{}'",
                        type_name(&total),
                        type_name(&item)
                    )))
                }
            };
        }
        Ok(total)
    });
    filter(env, "urlencode", 0, |_, v, _| {
        // Jinja2 quotes strings keeping '/', and query pairs with '+' for spaces.
        let quote = |s: &str, safe: &str| {
            let mut out = String::new();
            for b in s.bytes() {
                if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.as_bytes().contains(&b)
                {
                    out.push(b as char);
                } else {
                    write!(out, "%{b:02X}").unwrap();
                }
            }
            out
        };
        if let Some(s) = v.as_str() {
            return Ok(Value::from(quote(s, "/")));
        }
        let pairs: Vec<(Value, Value)> = if v.kind() == ValueKind::Map {
            v.try_iter()?
                .map(|k| (k.clone(), v.get_item(&k).unwrap_or_default()))
                .collect()
        } else if v.kind() == ValueKind::Seq {
            v.try_iter()?
                .map(|p| {
                    (
                        p.get_item(&Value::from(0)).unwrap_or_default(),
                        p.get_item(&Value::from(1)).unwrap_or_default(),
                    )
                })
                .collect()
        } else {
            return Ok(Value::from(quote(&py_str(v), "/")));
        };
        let q = |x: &Value| quote(&py_str(x), "").replace("%20", "+");
        Ok(Value::from(
            pairs
                .iter()
                .map(|(k, x)| format!("{}={}", q(k), q(x)))
                .collect::<Vec<_>>()
                .join("&"),
        ))
    });
    // pprint sorts dict keys (sort_dicts=True).
    filter(env, "pprint", 0, |_, v, _| {
        Ok(Value::from(py_repr_sorted(v)))
    });
    filter(env, "random", 0, |_, v, _| {
        use std::hash::{BuildHasher, RandomState};
        let items: Vec<Value> = v.try_iter()?.collect();
        if items.is_empty() {
            return Err(py_err("No random item, sequence was empty."));
        }
        let r = RandomState::new().hash_one(std::time::SystemTime::now());
        Ok(items[(r % items.len() as u64) as usize].clone())
    });
}
