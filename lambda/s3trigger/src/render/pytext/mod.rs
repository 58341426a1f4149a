//! Python text semantics for templates written for Jinja2: the `re` module
//! (`utils.re`), `str % args`, the `str` methods minijinja_contrib's pycompat
//! lacks or gets wrong, and the Jinja2 filters minijinja lacks or renders
//! differently. Operator templates were written against upstream's Python
//! renderer, so every result here follows what Python 3.12 / Jinja2 3.1 give.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, OnceLock};

use fancy_regex::{Captures, Regex, RegexBuilder};
use minijinja::value::{Enumerator, Object, ObjectRepr, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

// ---------------------------------------------------------------------------
mod filters;
mod format;
mod methods;
mod re;

pub use filters::register_filters;
pub use format::percent_format;
use format::*;
pub use methods::unknown_method;
use methods::*;
pub use re::re_module;

// Shared helpers: errors, argument binding, Python str()/repr().

fn py_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Positional and keyword arguments of one call, bound the Python way.
struct Args {
    func: &'static str,
    pos: Vec<Value>,
    kw: Vec<(String, Value)>,
}

impl Args {
    fn new(func: &'static str, args: &[Value], max: usize) -> Result<Args, Error> {
        let (pos, kw) = match args.last() {
            Some(last) if last.is_kwargs() => {
                let mut kw = Vec::new();
                for key in last.try_iter()? {
                    let value = last.get_item(&key)?;
                    kw.push((key.to_string(), value));
                }
                (args[..args.len() - 1].to_vec(), kw)
            }
            _ => (args.to_vec(), Vec::new()),
        };
        if pos.len() > max {
            return Err(py_err(format!(
                "{func}() takes at most {max} arguments ({} given)",
                pos.len()
            )));
        }
        Ok(Args { func, pos, kw })
    }

    /// Argument `i` (0-based), given by position or by `name`.
    fn opt(&mut self, i: usize, name: &str) -> Option<Value> {
        if let Some(j) = self.kw.iter().position(|(k, _)| k == name) {
            return Some(self.kw.remove(j).1);
        }
        self.pos.get(i).cloned()
    }

    /// Like `opt`, with None (Python's default) meaning absent.
    fn some(&mut self, i: usize, name: &str) -> Option<Value> {
        self.opt(i, name)
            .filter(|v| !v.is_none() && !v.is_undefined())
    }

    fn req(&mut self, i: usize, name: &str) -> Result<Value, Error> {
        self.opt(i, name).ok_or_else(|| {
            py_err(format!(
                "{}() missing required argument '{name}' (pos {})",
                self.func,
                i + 1
            ))
        })
    }

    fn int(&mut self, i: usize, name: &str, default: i64) -> Result<i64, Error> {
        self.some(i, name).map_or(Ok(default), |v| to_int(&v))
    }

    fn string(&mut self, i: usize, name: &str) -> Result<Option<String>, Error> {
        match self.some(i, name) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                Some(s) => Ok(Some(s.to_string())),
                None => Err(py_err(format!(
                    "{}() argument '{name}' must be str, not {}",
                    self.func,
                    type_name(&v)
                ))),
            },
        }
    }

    fn done(&self) -> Result<(), Error> {
        match self.kw.first() {
            Some((k, _)) => Err(py_err(format!(
                "{}() got an unexpected keyword argument '{k}'",
                self.func
            ))),
            None => Ok(()),
        }
    }
}

fn to_int(v: &Value) -> Result<i64, Error> {
    if v.kind() == ValueKind::Bool {
        return Ok(v.is_true() as i64);
    }
    if v.is_integer() {
        if let Some(i) = v.as_i64() {
            return Ok(i);
        }
    }
    Err(py_err(format!(
        "'{}' object cannot be interpreted as an integer",
        type_name(v)
    )))
}

fn to_f64(v: &Value) -> Option<f64> {
    match v.kind() {
        ValueKind::Bool => Some(v.is_true() as i64 as f64),
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        _ => None,
    }
}

fn str_arg<'a>(v: &'a Value, what: &str) -> Result<&'a str, Error> {
    v.as_str()
        .ok_or_else(|| py_err(format!("{what} must be str, not {}", type_name(v))))
}

fn type_name(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "Undefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Seq if is_tuple(v) => "tuple",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

/// A Python list or tuple: iterates like a minijinja sequence but renders the
/// way Jinja2 prints it (`['a', 'b']`, `('a',)`).
#[derive(Debug)]
struct PySeq {
    items: Vec<Value>,
    tuple: bool,
}

impl Object for PySeq {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let i = key.as_i64()?;
        let len = self.items.len() as i64;
        let i = if i < 0 { i + len } else { i };
        usize::try_from(i)
            .ok()
            .and_then(|i| self.items.get(i).cloned())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.items.len())
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&py_repr(&Value::from_dyn_object(self.clone())))
    }
}

/// A Python dict that renders the way Jinja2 prints it (`{'a': 1}`).
#[derive(Debug)]
struct PyDict(Vec<(Value, Value)>);

impl Object for PyDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.iter().map(|(k, _)| k.clone()).collect())
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&py_repr(&Value::from_dyn_object(self.clone())))
    }
}

fn py_dict(items: impl Iterator<Item = (Value, Value)>) -> Value {
    Value::from_object(PyDict(items.collect()))
}

fn py_list(items: Vec<Value>) -> Value {
    Value::from_object(PySeq {
        items,
        tuple: false,
    })
}

fn py_tuple(items: Vec<Value>) -> Value {
    Value::from_object(PySeq { items, tuple: true })
}

fn is_tuple(v: &Value) -> bool {
    v.downcast_object_ref::<PySeq>().is_some_and(|s| s.tuple)
}

/// Python's `str(value)`.
pub fn py_str(v: &Value) -> String {
    match v.kind() {
        ValueKind::Undefined => String::new(),
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        ValueKind::None
        | ValueKind::Bool
        | ValueKind::Number
        | ValueKind::Seq
        | ValueKind::Iterable
        | ValueKind::Map => py_repr(v),
        _ => v.to_string(),
    }
}

/// Python's `repr(value)`.
fn py_repr(v: &Value) -> String {
    repr(v, false)
}

/// `pprint.pformat(value)` on one line: dicts in key order.
fn py_repr_sorted(v: &Value) -> String {
    repr(v, true)
}

fn repr(v: &Value, sort_dicts: bool) -> String {
    match v.kind() {
        ValueKind::Undefined => "Undefined".into(),
        ValueKind::None => "None".into(),
        ValueKind::Bool => if v.is_true() { "True" } else { "False" }.into(),
        ValueKind::Number if v.is_integer() => v.to_string(),
        ValueKind::Number => float_repr(f64::try_from(v.clone()).unwrap_or(f64::NAN)),
        ValueKind::String => str_repr(v.as_str().unwrap_or_default()),
        // A slice or a filter's result may be a lazy sequence: a list in Python.
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<String> = v
                .try_iter()
                .map(|it| it.map(|x| repr(&x, sort_dicts)).collect())
                .unwrap_or_default();
            if is_tuple(v) {
                if items.len() == 1 {
                    format!("({},)", items[0])
                } else {
                    format!("({})", items.join(", "))
                }
            } else {
                format!("[{}]", items.join(", "))
            }
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = v.try_iter().map(Iterator::collect).unwrap_or_default();
            if sort_dicts {
                keys.sort();
            }
            let items: Vec<String> = keys
                .iter()
                .map(|k| {
                    let val = v.get_item(k).unwrap_or_default();
                    format!("{}: {}", repr(k, sort_dicts), repr(&val, sort_dicts))
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        _ => v.to_string(),
    }
}

/// Python's repr of a str: single quotes unless the text has a single quote
/// and no double quote.
fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => write!(out, "\\x{:02x}", c as u32).unwrap(),
            c if (c as u32) < 0x10000 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => write!(out, "\\U{:08x}", c as u32).unwrap(),
        }
    }
    out.push(quote);
    out
}

/// Python's `ascii()`: repr with every non-ASCII character escaped.
fn ascii_repr(v: &Value) -> String {
    let mut out = String::new();
    for c in py_repr(v).chars() {
        match c as u32 {
            0..=0x7f => out.push(c),
            n @ 0x80..=0xff => write!(out, "\\x{n:02x}").unwrap(),
            n @ 0x100..=0xffff => write!(out, "\\u{n:04x}").unwrap(),
            n => write!(out, "\\U{n:08x}").unwrap(),
        }
    }
    out
}

/// Python's float repr: shortest round-trip digits, exponent form outside
/// 1e-4 <= |x| < 1e16.
fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sci = format!("{x:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mant) = match mant.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        if exp < 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                format!("{sign}{digits}{}.0", "0".repeat(int_len - digits.len()))
            } else {
                format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
            }
        }
    } else {
        let frac = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        format!(
            "{sign}{frac}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    }
}

fn class_regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static pattern"))
}

/// str.isprintable: not a control, format, surrogate, private-use,
/// unassigned or separator character (the ASCII space excepted).
fn is_printable(c: char) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    c == ' '
        || !class_regex(&RE, r"[\p{C}\p{Z}]")
            .is_match(c.encode_utf8(&mut [0; 4]))
            .unwrap_or(false)
}

/// str.isspace's characters: Unicode White_Space plus the ASCII separators
/// U+001C..U+001F, which Python counts as whitespace.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

// ---------------------------------------------------------------------------
// Python float formatting shared by `%` and str.format.

/// `e` format with Python's exponent (sign and at least two digits).
fn fmt_exp(x: f64, prec: usize, alt: bool, upper: bool) -> String {
    let s = format!("{x:.prec$e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let dot = if alt && prec == 0 { "." } else { "" };
    let e = if upper { 'E' } else { 'e' };
    format!(
        "{mant}{dot}{e}{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

fn fmt_fixed(x: f64, prec: usize, alt: bool) -> String {
    let s = format!("{x:.prec$}");
    if alt && prec == 0 {
        s + "."
    } else {
        s
    }
}

/// `g` format: fixed or exponent depending on the exponent after rounding to
/// `prec` significant digits; trailing zeros go unless `alt`.
fn fmt_general(x: f64, prec: usize, alt: bool, upper: bool) -> String {
    let p = prec.max(1);
    let probe = format!("{x:.*e}", p - 1);
    let exp: i32 = probe
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let s = if exp >= -4 && exp < p as i32 {
        fmt_fixed(x, (p as i32 - 1 - exp) as usize, alt)
    } else {
        fmt_exp(x, p - 1, alt, upper)
    };
    if alt {
        return s;
    }
    let (mant, rest) = match s.find(['e', 'E']) {
        Some(i) => s.split_at(i),
        None => (s.as_str(), ""),
    };
    let mant = if mant.contains('.') {
        mant.trim_end_matches('0').trim_end_matches('.')
    } else {
        mant
    };
    format!("{mant}{rest}")
}

fn non_finite(x: f64, upper: bool) -> Option<String> {
    let s = if x.is_nan() {
        "nan"
    } else if x.is_infinite() {
        "inf"
    } else {
        return None;
    };
    Some(if upper { s.to_uppercase() } else { s.into() })
}

// ---------------------------------------------------------------------------
#[cfg(test)]
mod tests {
    use super::*;

    // Expected texts are Jinja2 3.1.6's output (Python 3.11) for the same
    // templates and variables, with `re` and `utils.re` bound to Python's re.
    const CTX: &str = "{\"s\": \"Hello, World\", \"key\": \"data/2024/01/file-name.csv\", \"n\": 42, \"x\": 3.14159, \"neg\": -7, \"items\": [\"b\", \"A\", \"c\", \"a\"], \"d\": {\"b\": 2, \"a\": 1}, \"users\": [{\"name\": \"ann\", \"age\": 30}, {\"name\": \"bob\", \"age\": 25}, {\"name\": \"cy\", \"age\": 30}], \"html\": \"<p>Hi &amp; <b>bye</b></p><!-- c -->\", \"none\": null, \"t\": true, \"long\": \"The quick brown fox jumps over the lazy dog\"}";

    const ROWS: &[(&str, &str)] = &[
        ("{{ re.search('(\\d+)/(\\d+)', key).group(1) }}", "2024"),
        ("{{ re.search('(\\d+)/(\\d+)', key).group(0, 2) }}", "('2024/01', '01')"),
        ("{{ re.search('x', key) }}", "None"),
        ("{{ re.match('data', key).span() }}", "(0, 4)"),
        ("{{ re.match('2024', key) }}", "None"),
        ("{{ re.fullmatch('[a-z]+', 'abc') is not none }}|{{ re.fullmatch('a|ab', 'ab').group() }}", "True|ab"),
        ("{{ re.sub('(\\d+)', '<\\\\1>', key) }}", "data/<2024>/<01>/file-name.csv"),
        ("{{ re.sub('(?P<y>\\d{4})', '\\g<y>!', key, count=1) }}", "data/2024!/01/file-name.csv"),
        ("{{ re.sub('x*', '-', 'abxd') }}", "-a-b--d-"),
        ("{{ re.subn('a', 'b', 'banana') }}", "('bbnbnb', 3)"),
        ("{{ re.split('/', key) }}", "['data', '2024', '01', 'file-name.csv']"),
        ("{{ re.split('(/)', key, 2) }}", "['data', '/', '2024', '/', '01/file-name.csv']"),
        ("{{ re.split('\\W+', 'a, b  c', maxsplit=1) }}", "['a', 'b  c']"),
        ("{{ re.split('x*', 'axbc') }}", "['', 'a', '', 'b', 'c', '']"),
        ("{{ re.findall('\\d+', key) }}", "['2024', '01']"),
        ("{{ re.findall('(\\d)(\\d)', '1234') }}", "[('1', '2'), ('3', '4')]"),
        ("{{ re.findall('(a)|b', 'ab') }}", "['a', '']"),
        ("{% for m in re.finditer('\\d+', key) %}{{ m.start() }}-{{ m.end() }};{% endfor %}", "5-9;10-12;"),
        ("{{ re.escape('a.b*c d') }}", "a\\.b\\*c\\ d"),
        ("{{ re.search('hello', s, re.I).group() }}", "Hello"),
        ("{{ re.search('^world', 'hi\\nworld', flags=re.M + re.I) is not none }}", "True"),
        ("{{ re.search('a.b', 'a\\nb', re.S).group() | length }}", "3"),
        ("{{ re.search('a b # c', 'ab', re.X).group() }}", "ab"),
        ("{{ re.search('\\d', '٣', re.A) }}|{{ re.search('\\d', '٣').group() }}", "None|٣"),
        ("{{ re.search('(?i)HELLO', s).group() }}", "Hello"),
        ("{% set m = re.search('(?P<dir>\\w+)/(?P<year>\\d+)', key) %}{{ m.groupdict() }}|{{ m['year'] }}|{{ m[1] }}|{{ m.lastindex }}|{{ m.lastgroup }}", "{'dir': 'data', 'year': '2024'}|2024|data|2|year"),
        ("{% set m = re.search('(a)(b)?', 'ac') %}{{ m.groups() }}|{{ m.groups('-') }}|{{ m.span(2) }}|{{ m.start(1) }}", "('a', None)|('a', '-')|(-1, -1)|0"),
        ("{% set m = re.search('(?P<w>o)', s) %}{{ m.string }}|{{ m.pos }}|{{ m.expand('[\\g<w>\\\\1]') }}", "Hello, World|0|[oo]"),
        ("{% set p = re.compile('(?P<n>\\d+)-(\\w)', re.I) %}{{ p.pattern }}|{{ p.flags }}|{{ p.groups }}|{{ p.groupindex }}", "(?P<n>\\d+)-(\\w)|34|2|{'n': 1}"),
        ("{% set p = re.compile('\\d') %}{{ p.search('a1b2', 2).group() }}|{{ p.findall('1a2b3', 1, 4) }}|{{ p.sub('#', 'a1b2') }}|{{ p.split('a1b2') }}|{{ p.match('a1') }}|{{ p.fullmatch('7').group() }}", "2|['2']|a#b#|['a', 'b', '']|None|7"),
        ("{{ re.search('(\\w)\\\\1', 'hello').group() }}|{{ re.search('(?P<c>l)(?P=c)', 'hello').start() }}", "ll|2"),
        ("{{ re.search('(?<=-)\\w+', key).group() }}|{{ re.search('\\w+(?=\\.csv)', key).group() }}|{{ re.search('a(?!b)', 'abac').start() }}", "name|name|2"),
        ("{{ re.search('csv$', 'x.csv\\n') is not none }}|{{ re.search('csv\\Z', 'x.csv\\n') }}", "True|None"),
        ("{{ re.sub('a{,2}', '-', 'aaa') }}|{{ re.search('x{', 'ax{') .group() }}", "---|x{"),
        ("{{ re.search('(a)|(b)', 'b').lastindex }}|{{ re.search('((a)b)', 'ab').lastindex }}", "2|1"),
        ("{{ re.search('.+', 'é€x').span() }}", "(0, 3)"),
        ("{{ re.search('\\s+', 'a\\x1cb') is not none }}", "True"),
        ("{{ utils.re.sub('\\.csv$', '.json', key) }}", "data/2024/01/file-name.json"),
        ("{{ re.search('(\\d+)', key) ~ '' }}", "<re.Match object; span=(5, 9), match='2024'>"),
        ("{{ re.compile('a+') }}", "re.compile('a+')"),
        ("{{ \"%s\" % \"x\" }}|{{ \"%r\" % \"it's\" }}|{{ \"%r\" % none }}|{{ \"%s\" % none }}|{{ \"%s\" % t }}", "x|\"it's\"|None|None|True"),
        ("{{ \"%d\" % 3.9 }}|{{ \"%i\" % -2 }}|{{ \"%u\" % 5 }}|{{ \"%5d|%-5d|%05d|%+d|% d\" % (1, 2, 3, 4, 5) }}", "3|-2|5|    1|2    |00003|+4| 5"),
        ("{{ \"%.3d\" % 7 }}|{{ \"%x %X %o\" % (255, 255, 8) }}|{{ \"%#x %#X %#o\" % (255, 255, 8) }}", "007|ff FF 10|0xff 0XFF 0o10"),
        ("{{ \"%f\" % x }}|{{ \"%.2f\" % x }}|{{ \"%F\" % 1.5 }}|{{ \"%10.3f|%-10.1f|%010.2f\" % (x, x, -x) }}", "3.141590|3.14|1.500000|     3.142|3.1       |-000003.14"),
        ("{{ \"%e\" % 12345.678 }}|{{ \"%E\" % 0.000123 }}|{{ \"%.0e\" % 5 }}|{{ \"%#.0f\" % 2 }}", "1.234568e+04|1.230000E-04|5e+00|2."),
        ("{{ \"%g\" % 0.0001 }}|{{ \"%g\" % 1234567 }}|{{ \"%G\" % 1e-10 }}|{{ \"%.3g\" % x }}|{{ \"%#g\" % 1.0 }}|{{ \"%g\" % 100 }}", "0.0001|1.23457e+06|1E-10|3.14|1.00000|100"),
        ("{{ \"%c%c\" % (65, \"b\") }}|{{ \"100%%\" % () }}|{{ \"%5s|%-5s|%.2s\" % (\"ab\", \"cd\", \"xyz\") }}", "Ab|100%|   ab|cd   |xy"),
        ("{{ \"%*d|%-*d|%.*f\" % (4, 1, 3, 2, 1, 3.14159) }}", "   1|2  |3.1"),
        ("{{ \"%(a)s and %(b)05.1f\" % {\"a\": \"x\", \"b\": 2.25} }}", "x and 002.2"),
        ("{{ \"%s\" % [1, 2] }}|{{ \"%s\" % {\"a\": 1} }}|{{ \"%r\" % [1, \"a\", none, 1.5] }}", "[1, 2]|{'a': 1}|[1, 'a', None, 1.5]"),
        ("{{ \"%a\" % \"é\" }}|{{ \"%r\" % 'a\"b' }}|{{ \"%r\" % \"a'b\\\"c\" }}|{{ \"%s\" % 1e20 }}|{{ \"%s\" % 0.1 }}|{{ \"%s\" % 1e-5 }}", "'\\xe9'|'a\"b'|'a\\'b\"c'|1e+20|0.1|1e-05"),
        ("{{ \"%.1f %.0f %.0f\" % (0.25, 0.5, 1.5) }}", "0.2 0 2"),
        ("{{ 'a/b/c'.rsplit('/', 1) }}|{{ 'a b  c '.rsplit(None, 1) }}|{{ '  a b c'.split(None, 1) }}|{{ 'a,b,,c'.split(',') }}|{{ 'a,b,c'.split(',', maxsplit=1) }}", "['a/b', 'c']|['a b', 'c']|['a', 'b c']|['a', 'b', '', 'c']|['a', 'b,c']"),
        ("{{ key.partition('/') }}|{{ key.rpartition('/') }}|{{ 'abc'.partition('x') }}|{{ 'abc'.rpartition('x') }}", "('data', '/', '2024/01/file-name.csv')|('data/2024/01', '/', 'file-name.csv')|('abc', '', '')|('', '', 'abc')"),
        ("{{ '42'.zfill(5) }}|{{ '-42'.zfill(5) }}|{{ 'ab'.center(7, '*') }}|{{ 'ab'.center(6) }}|{{ 'abc'.center(6, '.') }}|{{ 'ab'.ljust(5, '.') }}|{{ 'ab'.rjust(5) }}", "00042|-0042|***ab**|  ab  |.abc..|ab...|   ab"),
        ("{{ 'a\\tbc\\td'.expandtabs() }}|{{ 'a\\tb'.expandtabs(4) }}", "a       bc      d|a   b"),
        ("{{ 'Straße'.casefold() }}|{{ 'Hello World'.swapcase() }}|{{ key.removeprefix('data/') }}|{{ key.removesuffix('.csv') }}", "strasse|hELLO wORLD|2024/01/file-name.csv|data/2024/01/file-name"),
        ("{{ key.rfind('/') }}|{{ key.index('2024') }}|{{ key.rindex('0') }}|{{ 'éa'.find('a') }}|{{ key.find('/', 5) }}|{{ key.find('zz') }}", "12|5|10|1|9|-1"),
        ("{{ 'abc1'.isalnum() }}|{{ ''.isalnum() }}|{{ 'abc'.isalpha() }}|{{ '123'.isdecimal() }}|{{ '²'.isdigit() }}|{{ '²'.isdecimal() }}|{{ '½'.isnumeric() }}|{{ '½'.isdigit() }}", "True|False|True|True|True|False|True|False"),
        ("{{ 'a_1'.isidentifier() }}|{{ '1a'.isidentifier() }}|{{ 'ab\\n'.isprintable() }}|{{ ' \\t'.isspace() }}|{{ ''.isspace() }}|{{ 'Hello World'.istitle() }}|{{ 'Hello world'.istitle() }}", "True|False|False|True|False|True|False"),
        ("{{ 'abc'.islower() }}|{{ '123'.islower() }}|{{ 'ABC1'.isupper() }}|{{ ''.isupper() }}", "True|False|True|False"),
        ("{{ 'a\\nb\\r\\nc\\rd'.splitlines() }}|{{ 'a\\nb\\n'.splitlines(True) }}|{{ 'a\\x0bb'.splitlines() }}", "['a', 'b', 'c', 'd']|['a\\n', 'b\\n']|['a', 'b']"),
        ("{{ '{} {}'.format('a', 'b') }}|{{ '{1}{0}'.format('a', 'b') }}|{{ '{name}!'.format(name='x') }}|{{ '{0[a]} {0[b]}'.format(d) }}|{{ '{0[name]}'.format(users[0]) }}|{{ '{!r} {!s}'.format('a', none) }}|{{ '{{x}}'.format() }}", "a b|ba|x!|1 2|ann|'a' None|{x}"),
        ("{{ '{:>8}|{:<8}|{:^8}|{:*^9}'.format('ab', 'cd', 'ef', 'gh') }}|{{ '{:.2}'.format('xyz') }}", "      ab|cd      |   ef   |***gh****|xy"),
        ("{{ '{:+d}|{: d}|{:05d}|{:,}|{:_}|{:x}|{:#X}|{:#o}|{:b}|{:#b}|{:c}'.format(5, 5, -42, 1234567, 1234567, 255, 255, 8, 5, 5, 65) }}", "+5| 5|-0042|1,234,567|1_234_567|ff|0XFF|0o10|101|0b101|A"),
        ("{{ '{:.2f}|{:10.3f}|{:<10.1f}|{:e}|{:.2E}|{:g}|{:.3g}|{:%}|{:.1%}|{:,.2f}'.format(x, x, x, 12345.678, 12345.678, 0.00001, x, 0.25, 0.125, 1234567.891) }}", "3.14|     3.142|3.1       |1.234568e+04|1.23E+04|1e-05|3.14|25.000000%|12.5%|1,234,567.89"),
        ("{{ '{}|{:.3}|{:5}|{:010.3f}|{:=+8.2f}|{:08,}'.format(1.0, 1234.5, 1.5, -x, x, 1234) }}", "1.0|1.23e+03|  1.5|-00003.142|+   3.14|0,001,234"),
        ("{{ '{:>5}|{}|{:d}'.format(True, True, True) }}|{{ '{:{w}}|'.format('a', w=4) }}|{{ '{:n}'.format(1234) }}|{{ '{}'.format(1e16) }}", "    1|True|1|a   ||1234|1e+16"),
        ("{{ '{a}-{b}'.format_map({'a': 1, 'b': none}) }}", "1-None"),
        ("{{ '-'.join(['a', 'b']) }}|{{ 'banana'.count('an') }}|{{ 'banana'.count('a', 2) }}|{{ 'banana'.count('') }}", "a-b|2|2|7"),
        ("{{ key.endswith(('.csv', '.txt')) }}|{{ key.startswith('2024', 5) }}|{{ key.endswith('data', 0, 4) }}", "True|True|True"),
        ("{{ '  xx  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '..a'.lstrip('.') }}|{{ 'a..'.rstrip('.') }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'abc'.replace('', '-') }}", "xx|a|a|a|bba|-a-b-c-"),
        ("{{ \"they're bill's 1st\".title() }}|{{ 'hELLO wORLD'.capitalize() }}|{{ 'ABC'.lower() }}|{{ 'abc'.upper() }}", "They'Re Bill'S 1St|Hello world|abc|ABC"),
        ("{{ 'ab'|center(6) }}|{{ 'ab'|center }}", "  ab  |                                       ab                                       "),
        ("{{ 1|filesizeformat }}|{{ 100|filesizeformat }}|{{ 1500|filesizeformat }}|{{ 1500|filesizeformat(true) }}|{{ 3000000000|filesizeformat }}|{{ 1048576|filesizeformat(binary=true) }}", "1 Byte|100 Bytes|1.5 kB|1.5 KiB|3.0 GB|1.0 MiB"),
        ("{{ html|striptags }}|{{ 'a &lt; b &#39;c&#x27;'|striptags }}", "Hi & bye|a < b 'c'"),
        ("{{ long|truncate(20) }}|{{ long|truncate(20, true) }}|{{ long|truncate(20, end='…') }}|{{ long|truncate(40) }}|{{ long|truncate(30, leeway=0) }}", "The quick brown...|The quick brown f...|The quick brown…|The quick brown fox jumps over the lazy dog|The quick brown fox jumps..."),
        ("{{ long|wordcount }}|{{ 'a-b c_d, e'|wordcount }}", "9|4"),
        ("{{ long|wordwrap(10) }}", "The quick\nbrown fox\njumps over\nthe lazy\ndog"),
        ("{{ 'a-very-long-hyphenated-word here'|wordwrap(8) }}|{{ long|wordwrap(15, wrapstring='<br>') }}", "a-very-\nlong-hyp\nhenated-\nword\nhere|The quick brown<br>fox jumps over<br>the lazy dog"),
        ("{{ {'class': 'a b', 'id': none, 'x': '<\"'}|xmlattr }}|{{ {'a': 1}|xmlattr(false) }}", " class=\"a b\" x=\"&lt;&#34;\"|a=\"1\""),
        ("{{ \"<a href='x'>\"|forceescape }}|{{ \"<a href='x'>\"|escape }}|{{ \"a\\\"b\"|e }}", "&lt;a href=&#39;x&#39;&gt;|&lt;a href=&#39;x&#39;&gt;|a&#34;b"),
        ("{{ \"%s-%05.1f\"|format('a', 2.5) }}|{{ \"%(x)s\"|format(x=1) }}|{{ \"%s\"|format([1, 2]) }}", "a-002.5|1|[1, 2]"),
        ("{{ {'b': [1, 2.5, none, true], 'a': \"<x>&'é\"}|tojson }}|{{ {'b': 1, 'a': [1, 2]}|tojson(indent=2) }}|{{ []|tojson }}|{{ \"s\"|tojson }}", "{\"a\": \"\\u003cx\\u003e\\u0026\\u0027\\u00e9\", \"b\": [1, 2.5, null, true]}|{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": 1\n}|[]|\"s\""),
        ("{{ none|string }}|{{ true|string }}|{{ [1, none]|string }}|{{ 1.0|string }}", "None|True|[1, None]|1.0"),
        ("{{ [1, none, true, 'a']|join(',') }}|{{ users|join(', ', attribute='name') }}", "1,None,True,a|ann, bob, cy"),
        ("{{ none|default('x') }}|{{ undefined_var|default('x') }}|{{ ''|default('x', true) }}|{{ 0|d('y', boolean=true) }}", "None|x|x|y"),
        ("{{ 2.5|round }}|{{ 3.5|round }}|{{ 2.675|round(2) }}|{{ 2.1|round(0, 'ceil') }}|{{ 2.9|round(method='floor') }}|{{ 5|round }}|{{ 1234.5|round(-2) }}", "2.0|4.0|2.67|3.0|2.0|5|1200.0"),
        ("{{ '42'|int }}|{{ '3.7'|int }}|{{ 'abc'|int }}|{{ 'abc'|int(7) }}|{{ '0x1A'|int(base=16) }}|{{ '1_000'|int }}|{{ 4.9|int }}|{{ true|int }}|{{ ' 12 '|int }}", "42|3|0|7|26|1000|4|1|12"),
        ("{{ '3.5'|float }}|{{ 'x'|float }}|{{ 'x'|float(1.5) }}|{{ 3|float }}|{{ '1e3'|float }}", "3.5|0.0|1.5|3.0|1000.0"),
        ("{{ 'hello wORLD-foo(bar'|title }}|{{ \"they're\"|title }}|{{ 'hELLO'|capitalize }}", "Hello World-Foo(Bar|They're|Hello"),
        ("{{ '  a  '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'aaa'|replace('a', 'b') }}", "a|a|bba|bbb"),
        ("{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb\\n\\nc'|indent(2, true) }}|{{ 'a\\nb\\n\\nc\\n'|indent(2, blank=true) }}|{{ 'a\\nb'|indent('>') }}", "a\n    b\n\n    c|  a\n  b\n\n  c|a\n  b\n  \n  c\n  |a\n>b"),
        ("{{ d|pprint }}|{{ [1, 'a', none]|pprint }}", "{'a': 1, 'b': 2}|[1, 'a', None]"),
        ("{{ [1]|random }}", "1"),
        ("{{ items|sort|join(',') }}|{{ items|sort(case_sensitive=true)|join(',') }}|{{ items|unique|join(',') }}|{{ items|min }}|{{ items|max }}", "A,a,b,c|A,a,b,c|b,A,c|A|c"),
        ("{% for k, v in d|dictsort %}{{ k }}={{ v }};{% endfor %}|{% for k, v in d|dictsort(reverse=true) %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;|b=2;a=1;"),
        ("{% for g in users|groupby('age') %}{{ g.grouper }}:{{ g.list|map(attribute='name')|join('+') }};{% endfor %}", "25:bob;30:ann+cy;"),
        ("{{ users|map(attribute='name')|join(',') }}|{{ users|selectattr('age', 'gt', 26)|map(attribute='name')|join(',') }}|{{ users|rejectattr('age', 'eq', 30)|map(attribute='name')|join }}", "ann,bob,cy|ann,cy|bob"),
        ("{{ [1, 2, 3, 4]|select('odd')|join }}|{{ [1, 2, 3, 4]|reject('odd')|join }}|{{ [1, 2, 3, 4, 5]|batch(2)|list }}|{{ [1, 2, 3, 4, 5]|slice(2)|list }}", "13|24|[[1, 2], [3, 4], [5]]|[[1, 2, 3], [4, 5]]"),
        ("{{ [1, 2, 3]|sum }}|{{ users|sum(attribute='age') }}|{{ [1, 2]|sum(start=10) }}|{{ [0.1, 0.2]|sum }}", "6|85|13|0.30000000000000004"),
        ("{{ items|first }}|{{ items|last }}|{{ items|length }}|{{ items|reverse|join }}|{{ 'abc'|reverse }}|{{ -3|abs }}|{{ 'ab'|list|join(',') }}", "b|a|4|acAb|cba|3|a,b"),
        ("{{ 'a b/c?d=é&x'|urlencode }}|{{ {'a': 'b c', 'x': 1}|urlencode }}|{{ 'AbC'|lower }}|{{ 'AbC'|upper }}|{{ 1.5|string }}|{{ 'x'|safe }}", "a%20b/c%3Fd%3D%C3%A9%26x|a=b+c&x=1|abc|ABC|1.5|x"),
        ("{{ none }}|{{ true }}|{{ false }}|{{ 1.0 }}", "None|True|False|1.0"),
    ];

    const ERRORS: &[&str] = &[
        "{{ \"%s %s\" % (\"a\",) }}",
        "{{ \"%d\" % \"x\" }}",
        "{{ \"%x\" % 1.5 }}",
        "{{ \"%(a)s\" % 1 }}",
        "{{ \"%y\" % 1 }}",
        "{{ \"%(a)s\" % {\"b\": 1} }}",
        "{{ \"%\" % 1 }}",
        "{{ re.search('(', 'a') }}",
        "{{ re.search('\\q', 'a') }}",
        "{{ re.sub('a', '\\\\2', 'a') }}",
        "{{ re.search('a', none) }}",
        "{{ re.search('(a)', 'a').group(2) }}",
        "{{ 'abc'.index('x') }}",
        "{{ '{} {0}'.format(1, 2) }}",
        "{{ '{:d}'.format('a') }}",
        "{{ '{:s}'.format(1) }}",
        "{{ '}'.format() }}",
        "{{ 'a'.partition('') }}",
        "{{ ','.join([1, 2]) }}",
        "{{ '{x}'.format(y=1) }}",
        "{{ 'abc'|truncate(1) }}",
        "{{ \"%s\"|format(1, x=2) }}",
        "{{ 'a'.center(5, 'xy') }}",
        "{{ '%(x' % {'x': 1} }}",
        "{{ '{0'.format(1) }}",
    ];

    fn env() -> Environment<'static> {
        let mut env = crate::render::environment();
        env.add_global("re", re_module());
        env.add_global("utils", minijinja::context! { re => re_module() });
        env
    }

    fn ctx() -> Value {
        Value::from_serialize(serde_json::from_str::<serde_json::Value>(CTX).unwrap())
    }

    #[test]
    fn renders_like_jinja2() {
        let env = env();
        let mut failures = Vec::new();
        for (template, expected) in ROWS {
            match env.render_str(template, ctx()) {
                Ok(got) if got == *expected => {}
                Ok(got) => {
                    failures.push(format!("{template}\n  want {expected:?}\n  got  {got:?}"))
                }
                Err(err) => {
                    failures.push(format!("{template}\n  want {expected:?}\n  error {err}"))
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} rows differ:\n{}",
            failures.len(),
            ROWS.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn fails_like_jinja2() {
        let env = env();
        let rendered: Vec<String> = ERRORS
            .iter()
            .filter_map(|t| {
                env.render_str(t, ctx())
                    .ok()
                    .map(|out| format!("{t} -> {out}"))
            })
            .collect();
        assert!(rendered.is_empty(), "should fail:\n{}", rendered.join("\n"));
    }
}
