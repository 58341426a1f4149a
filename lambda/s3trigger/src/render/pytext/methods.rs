//! Python's `str` methods.

use super::*;

// str methods.

/// Python slice bounds (negative from the end, clamped) over `len` chars.
pub(super) fn bounds(len: usize, start: Option<i64>, end: Option<i64>) -> (usize, usize) {
    let fix = |i: i64| -> usize {
        if i < 0 {
            (len as i64 + i).max(0) as usize
        } else {
            (i as usize).min(len)
        }
    };
    (start.map_or(0, fix), end.map_or(len, fix))
}

pub(super) fn opt_int(a: &mut Args, i: usize, name: &str) -> Result<Option<i64>, Error> {
    a.some(i, name).map(|v| to_int(&v)).transpose()
}

pub(super) fn char_find(hay: &[char], needle: &[char], from_end: bool) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    let mut range: Box<dyn Iterator<Item = usize>> = Box::new(0..=hay.len() - needle.len());
    if from_end {
        range = Box::new((0..=hay.len() - needle.len()).rev());
    }
    range
        .into_iter()
        .find(|&i| hay[i..i + needle.len()] == *needle)
}

pub(super) fn strip_set(chars: &Option<String>) -> impl Fn(char) -> bool + '_ {
    move |c| match chars {
        Some(set) => set.contains(c),
        None => is_py_space(c),
    }
}

pub(super) fn justify(s: &str, width: i64, fill: char, how: char) -> String {
    let n = s.chars().count();
    let width = width.max(0) as usize;
    if n >= width {
        return s.to_string();
    }
    let marg = width - n;
    let left = match how {
        '<' => 0,
        '>' => marg,
        // Python's center puts the odd column on the left for odd widths.
        _ => marg / 2 + (marg & width & 1),
    };
    let f = |k: usize| fill.to_string().repeat(k);
    format!("{}{s}{}", f(left), f(marg - left))
}

pub(super) fn fill_char(v: Option<String>) -> Result<char, Error> {
    match v {
        None => Ok(' '),
        Some(s) => {
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(py_err(
                    "The fill character must be exactly one character long",
                )),
            }
        }
    }
}

pub(super) fn is_cased(c: char) -> bool {
    c.is_lowercase() || c.is_uppercase() || is_titlecase(c)
}

pub(super) fn is_titlecase(c: char) -> bool {
    matches!(c, 'ǅ' | 'ǈ' | 'ǋ' | 'ǲ') || ('ᾈ'..='ᾏ').contains(&c) || ('ᾘ'..='ᾟ').contains(&c)
}

pub(super) fn upper_first(c: char) -> String {
    c.to_uppercase().collect()
}

pub(super) fn py_title(s: &str) -> String {
    let mut out = String::new();
    let mut prev_cased = false;
    for c in s.chars() {
        if prev_cased {
            out.extend(c.to_lowercase());
        } else {
            out.push_str(&upper_first(c));
        }
        prev_cased = is_cased(c);
    }
    out
}

pub(super) fn py_capitalize(s: &str) -> String {
    let mut it = s.chars();
    match it.next() {
        Some(c) => upper_first(c) + &it.as_str().to_lowercase(),
        None => String::new(),
    }
}

/// Python's str.split/rsplit with or without a separator.
pub(super) fn py_split(
    s: &str,
    sep: Option<&str>,
    maxsplit: i64,
    from_right: bool,
) -> Result<Vec<String>, Error> {
    let max = if maxsplit < 0 {
        usize::MAX
    } else {
        maxsplit as usize
    };
    match sep {
        Some("") => Err(py_err("empty separator")),
        Some(sep) => Ok(if from_right {
            let mut v: Vec<String> = s
                .rsplitn(max.saturating_add(1), sep)
                .map(String::from)
                .collect();
            v.reverse();
            v
        } else {
            s.splitn(max.saturating_add(1), sep)
                .map(String::from)
                .collect()
        }),
        None => {
            let chars: Vec<char> = if from_right {
                s.chars().rev().collect()
            } else {
                s.chars().collect()
            };
            let mut out = Vec::new();
            let mut i = 0;
            loop {
                while i < chars.len() && is_py_space(chars[i]) {
                    i += 1;
                }
                if i == chars.len() {
                    break;
                }
                if out.len() == max {
                    let mut rest: Vec<char> = chars[i..].to_vec();
                    // The remainder keeps its trailing whitespace in Python.
                    let mut r: String = if from_right {
                        rest.reverse();
                        rest.into_iter().collect()
                    } else {
                        rest.into_iter().collect()
                    };
                    r = r.trim_end_matches(is_py_space).to_string();
                    out.push(r);
                    break;
                }
                let start = i;
                while i < chars.len() && !is_py_space(chars[i]) {
                    i += 1;
                }
                let mut word: Vec<char> = chars[start..i].to_vec();
                if from_right {
                    word.reverse();
                }
                out.push(word.into_iter().collect());
            }
            if from_right {
                out.reverse();
            }
            Ok(out)
        }
    }
}

/// Python's line boundaries for splitlines.
pub(super) fn py_splitlines(s: &str, keepends: bool) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        ) {
            let mut end = i + 1;
            if c == '\r' && chars.get(i + 1) == Some(&'\n') {
                end += 1;
            }
            let stop = if keepends { end } else { i };
            out.push(chars[start..stop].iter().collect());
            start = end;
            i = end;
        } else {
            i += 1;
        }
    }
    if start < chars.len() {
        out.push(chars[start..].iter().collect());
    }
    out
}

pub(super) fn all_chars(s: &str, f: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(f)
}

pub(super) fn char_is(cell: &'static OnceLock<Regex>, pattern: &str, c: char) -> bool {
    class_regex(cell, pattern)
        .is_match(c.encode_utf8(&mut [0; 4]))
        .unwrap_or(false)
}

pub(super) fn is_decimal(c: char) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    char_is(&RE, r"\p{Nd}", c)
}

/// Digits: decimals plus the superscript/circled digits Python counts
/// (Numeric_Type=Digit), approximated by `No` characters with a digit value.
pub(super) fn is_digit(c: char) -> bool {
    is_decimal(c) || "²³¹⁰⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉①②③④⑤⑥⑦⑧⑨".contains(c)
}

pub(super) fn is_numeric(c: char) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    char_is(&RE, r"\p{N}", c) || "〇一二三四五六七八九十百千万億兆零".contains(c)
}

pub(super) fn is_alpha(c: char) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    char_is(&RE, r"\p{L}", c)
}

pub(super) fn is_identifier(s: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    class_regex(&RE, r"\A[_\p{XID_Start}]\p{XID_Continue}*\z")
        .is_match(s)
        .unwrap_or(false)
}

/// Python str methods; everything else goes to minijinja_contrib's pycompat
/// (dict and list methods).
pub fn unknown_method(
    state: &State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if let Some(s) = value.as_str() {
        if let Some(rv) = str_method(s, method, args)? {
            return Ok(rv);
        }
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

pub(super) fn str_method(s: &str, method: &str, args: &[Value]) -> Result<Option<Value>, Error> {
    let name: &'static str = match method {
        "capitalize" => "capitalize",
        "casefold" => "casefold",
        "center" => "center",
        "count" => "count",
        "endswith" => "endswith",
        "expandtabs" => "expandtabs",
        "find" => "find",
        "format" => "format",
        "format_map" => "format_map",
        "index" => "index",
        "isalnum" => "isalnum",
        "isalpha" => "isalpha",
        "isascii" => "isascii",
        "isdecimal" => "isdecimal",
        "isdigit" => "isdigit",
        "isidentifier" => "isidentifier",
        "islower" => "islower",
        "isnumeric" => "isnumeric",
        "isprintable" => "isprintable",
        "isspace" => "isspace",
        "istitle" => "istitle",
        "isupper" => "isupper",
        "join" => "join",
        "ljust" => "ljust",
        "lower" => "lower",
        "lstrip" => "lstrip",
        "partition" => "partition",
        "removeprefix" => "removeprefix",
        "removesuffix" => "removesuffix",
        "replace" => "replace",
        "rfind" => "rfind",
        "rindex" => "rindex",
        "rjust" => "rjust",
        "rpartition" => "rpartition",
        "rsplit" => "rsplit",
        "rstrip" => "rstrip",
        "split" => "split",
        "splitlines" => "splitlines",
        "startswith" => "startswith",
        "strip" => "strip",
        "swapcase" => "swapcase",
        "title" => "title",
        "upper" => "upper",
        "zfill" => "zfill",
        _ => return Ok(None),
    };
    if name == "format" {
        let a = Args::new(name, args, usize::MAX)?;
        let kw = a.kw;
        let get = move |k: &str| kw.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        return Ok(Some(Value::from(str_format(s, &a.pos, &get)?)));
    }
    let mut a = Args::new(name, args, 3)?;
    let chars = || s.chars().collect::<Vec<char>>();
    let rv = match name {
        "capitalize" => Value::from(py_capitalize(s)),
        "casefold" => Value::from(s.to_lowercase().replace('ß', "ss")),
        "lower" => Value::from(s.to_lowercase()),
        "upper" => Value::from(s.to_uppercase()),
        "swapcase" => Value::from(
            s.chars()
                .flat_map(|c| -> Vec<char> {
                    if c.is_uppercase() {
                        c.to_lowercase().collect()
                    } else if c.is_lowercase() {
                        c.to_uppercase().collect()
                    } else {
                        vec![c]
                    }
                })
                .collect::<String>(),
        ),
        "title" => Value::from(py_title(s)),
        "center" | "ljust" | "rjust" => {
            let width = to_int(&a.req(0, "width")?)?;
            let fill = fill_char(a.string(1, "fillchar")?)?;
            let how = match name {
                "ljust" => '<',
                "rjust" => '>',
                _ => '^',
            };
            Value::from(justify(s, width, fill, how))
        }
        "zfill" => {
            let width = to_int(&a.req(0, "width")?)?.max(0) as usize;
            let n = s.chars().count();
            if n >= width {
                Value::from(s)
            } else {
                let (sign, rest) = match s.chars().next() {
                    Some(c @ ('+' | '-')) => (c.to_string(), &s[1..]),
                    _ => (String::new(), s),
                };
                Value::from(format!("{sign}{}{rest}", "0".repeat(width - n)))
            }
        }
        "count" | "find" | "rfind" | "index" | "rindex" => {
            let sub: Vec<char> = str_arg(&a.req(0, "sub")?, "must be str")?.chars().collect();
            let hay = chars();
            let (st, en) = bounds(
                hay.len(),
                opt_int(&mut a, 1, "start")?,
                opt_int(&mut a, 2, "end")?,
            );
            if name == "count" {
                if st > en || (st == en && !sub.is_empty()) {
                    return Ok(Some(Value::from(0)));
                }
                let slice = &hay[st..en];
                if sub.is_empty() {
                    return Ok(Some(Value::from(slice.len() + 1)));
                }
                let (mut n, mut i) = (0, 0);
                while i + sub.len() <= slice.len() {
                    if slice[i..i + sub.len()] == *sub {
                        n += 1;
                        i += sub.len();
                    } else {
                        i += 1;
                    }
                }
                Value::from(n)
            } else {
                let found = if st > en {
                    None
                } else {
                    char_find(&hay[st..en], &sub, name.starts_with('r')).map(|i| i + st)
                };
                match (found, name) {
                    (Some(i), _) => Value::from(i),
                    (None, "index" | "rindex") => return Err(py_err("substring not found")),
                    (None, _) => Value::from(-1),
                }
            }
        }
        "startswith" | "endswith" => {
            let what = a.req(0, "prefix")?;
            let hay = chars();
            let (st, en) = bounds(
                hay.len(),
                opt_int(&mut a, 1, "start")?,
                opt_int(&mut a, 2, "end")?,
            );
            let cands: Vec<Value> = if what.kind() == ValueKind::Seq {
                what.try_iter()?.collect()
            } else {
                vec![what]
            };
            let mut hit = false;
            for c in &cands {
                let c: Vec<char> = c
                    .as_str()
                    .ok_or_else(|| {
                        py_err(format!(
                            "{name} first arg must be str or a tuple of str, not {}",
                            type_name(c)
                        ))
                    })?
                    .chars()
                    .collect();
                if st <= en && en - st >= c.len() {
                    let slice = &hay[st..en];
                    hit |= if name == "startswith" {
                        slice.starts_with(&c)
                    } else {
                        slice.ends_with(&c)
                    };
                }
            }
            Value::from(hit)
        }
        "expandtabs" => {
            let size = a.int(0, "tabsize", 8)?;
            let mut out = String::new();
            let mut col = 0i64;
            for c in s.chars() {
                match c {
                    '\t' => {
                        if size > 0 {
                            let n = size - col % size;
                            out.push_str(&" ".repeat(n as usize));
                            col += n;
                        }
                    }
                    '\n' | '\r' => {
                        out.push(c);
                        col = 0;
                    }
                    c => {
                        out.push(c);
                        col += 1;
                    }
                }
            }
            Value::from(out)
        }
        "format_map" => {
            let map = a.req(0, "mapping")?;
            let get = |k: &str| {
                map.get_item(&Value::from(k))
                    .ok()
                    .filter(|v| !v.is_undefined())
            };
            Value::from(str_format(s, &[], &get)?)
        }
        "isalnum" => Value::from(all_chars(s, |c| is_alpha(c) || is_numeric(c))),
        "isalpha" => Value::from(all_chars(s, is_alpha)),
        "isascii" => Value::from(s.is_ascii()),
        "isdecimal" => Value::from(all_chars(s, is_decimal)),
        "isdigit" => Value::from(all_chars(s, is_digit)),
        "isnumeric" => Value::from(all_chars(s, is_numeric)),
        "isidentifier" => Value::from(is_identifier(s)),
        "isprintable" => Value::from(s.chars().all(is_printable)),
        "isspace" => Value::from(all_chars(s, is_py_space)),
        "islower" => Value::from(
            s.chars().any(is_cased) && !s.chars().any(|c| c.is_uppercase() || is_titlecase(c)),
        ),
        "isupper" => Value::from(
            s.chars().any(is_cased) && !s.chars().any(|c| c.is_lowercase() || is_titlecase(c)),
        ),
        "istitle" => {
            let (mut prev_cased, mut any) = (false, false);
            let mut ok = true;
            for c in s.chars() {
                if c.is_uppercase() || is_titlecase(c) {
                    ok &= !prev_cased;
                    prev_cased = true;
                    any = true;
                } else if c.is_lowercase() {
                    ok &= prev_cased;
                    prev_cased = true;
                    any = true;
                } else {
                    prev_cased = false;
                }
            }
            Value::from(ok && any)
        }
        "join" => {
            let items = a.req(0, "iterable")?;
            let mut out = String::new();
            for (i, item) in items.try_iter()?.enumerate() {
                let part = item.as_str().ok_or_else(|| {
                    py_err(format!(
                        "sequence item {i}: expected str instance, {} found",
                        type_name(&item)
                    ))
                })?;
                if i > 0 {
                    out.push_str(s);
                }
                out.push_str(part);
            }
            Value::from(out)
        }
        "strip" | "lstrip" | "rstrip" => {
            let set = a.string(0, "chars")?;
            let f = strip_set(&set);
            Value::from(match name {
                "strip" => s.trim_matches(f),
                "lstrip" => s.trim_start_matches(f),
                _ => s.trim_end_matches(f),
            })
        }
        "partition" | "rpartition" => {
            let sep = str_arg(&a.req(0, "sep")?, "must be str")?.to_string();
            if sep.is_empty() {
                return Err(py_err("empty separator"));
            }
            let found = if name == "partition" {
                s.find(&sep)
            } else {
                s.rfind(&sep)
            };
            let parts = match found {
                Some(i) => [&s[..i], &sep[..], &s[i + sep.len()..]],
                None if name == "partition" => [s, "", ""],
                None => ["", "", s],
            };
            py_tuple(parts.iter().map(|p| Value::from(*p)).collect())
        }
        "removeprefix" => {
            let p = str_arg(&a.req(0, "prefix")?, "must be str")?.to_string();
            Value::from(s.strip_prefix(p.as_str()).unwrap_or(s))
        }
        "removesuffix" => {
            let p = str_arg(&a.req(0, "suffix")?, "must be str")?.to_string();
            Value::from(s.strip_suffix(p.as_str()).unwrap_or(s))
        }
        "replace" => {
            let old = str_arg(&a.req(0, "old")?, "replace() argument 1")?.to_string();
            let new = str_arg(&a.req(1, "new")?, "replace() argument 2")?.to_string();
            let count = a.int(2, "count", -1)?;
            Value::from(if count < 0 {
                s.replace(&old, &new)
            } else {
                s.replacen(&old, &new, count as usize)
            })
        }
        "split" | "rsplit" => {
            let sep = a.string(0, "sep")?;
            let max = a.int(1, "maxsplit", -1)?;
            let parts = py_split(s, sep.as_deref(), max, name == "rsplit")?;
            py_list(parts.into_iter().map(Value::from).collect())
        }
        "splitlines" => {
            let keep = a.some(0, "keepends").is_some_and(|v| v.is_true());
            py_list(
                py_splitlines(s, keep)
                    .into_iter()
                    .map(Value::from)
                    .collect(),
            )
        }
        _ => return Ok(None),
    };
    a.done()?;
    Ok(Some(rv))
}

// ---------------------------------------------------------------------------
