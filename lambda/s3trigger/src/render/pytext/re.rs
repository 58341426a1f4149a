//! Python's `re` module on fancy-regex, with Python's pattern and replacement syntax translated.

use super::*;

// The `re` module.

pub(super) const F_IGNORECASE: i64 = 2;
pub(super) const F_LOCALE: i64 = 4;
pub(super) const F_MULTILINE: i64 = 8;
pub(super) const F_DOTALL: i64 = 16;
pub(super) const F_UNICODE: i64 = 32;
pub(super) const F_VERBOSE: i64 = 64;
pub(super) const F_ASCII: i64 = 256;

/// A compiled Python pattern.
#[derive(Debug)]
pub(super) struct Pattern {
    pub(super) source: String,
    pub(super) flags: i64,
    pub(super) regex: Regex,
    /// Same pattern, refusing empty matches: after an empty match Python
    /// only accepts a non-empty one at the same position.
    pub(super) nonempty: Regex,
    /// Same pattern anchored at the end, for fullmatch.
    pub(super) full: Regex,
    pub(super) groups: usize,
    pub(super) names: Vec<(String, usize)>,
    /// Enclosing capture group of each group (0: none), for lastindex.
    pub(super) parents: Vec<usize>,
}

/// Python regex syntax -> fancy-regex syntax, with the inline global flags
/// folded into `flags`.
pub(super) fn translate(src: &str, flags: &mut i64) -> Result<(String, Vec<usize>), Error> {
    let c: Vec<char> = src.chars().collect();
    let mut i = 0;
    // Global inline flags, which Python only accepts at the start.
    while c.get(i) == Some(&'(') && c.get(i + 1) == Some(&'?') {
        let mut j = i + 2;
        let mut f = 0;
        while let Some(&ch) = c.get(j) {
            f |= match ch {
                'a' => F_ASCII,
                'i' => F_IGNORECASE,
                'L' => F_LOCALE,
                'm' => F_MULTILINE,
                's' => F_DOTALL,
                'u' => F_UNICODE,
                'x' => F_VERBOSE,
                _ => break,
            };
            j += 1;
        }
        if j == i + 2 || c.get(j) != Some(&')') {
            break;
        }
        *flags |= f;
        i = j + 1;
    }
    let ascii = *flags & F_ASCII != 0;
    let verbose = *flags & F_VERBOSE != 0;
    let mut out = String::new();
    let mut parents = vec![0];
    let mut stack: Vec<Option<usize>> = Vec::new();
    let bad = |m: String| py_err(format!("re.error: {m}"));
    let mut in_class = false;
    while i < c.len() {
        let ch = c[i];
        i += 1;
        match ch {
            '\\' => {
                let e = *c
                    .get(i)
                    .ok_or_else(|| bad("bad escape (end of pattern)".into()))?;
                i += 1;
                match e {
                    'd' | 'D' | 'w' | 'W' | 's' | 'S' if ascii => {
                        let cls = match e.to_ascii_lowercase() {
                            'd' => "digit",
                            'w' => "word",
                            _ => "space",
                        };
                        let neg = if e.is_ascii_uppercase() { "^" } else { "" };
                        let inner = format!("[:{neg}{cls}:]");
                        if in_class {
                            out.push_str(&inner);
                        } else {
                            write!(out, "[{inner}]").unwrap();
                        }
                    }
                    // Python's \s also matches U+001C..U+001F.
                    's' if in_class => out.push_str(r"\s\x1c-\x1f"),
                    's' => out.push_str(r"[\s\x1c-\x1f]"),
                    'S' if !in_class => out.push_str(r"[^\s\x1c-\x1f]"),
                    'b' if in_class => out.push_str(r"\x08"),
                    'b' | 'B' if ascii => write!(out, r"(?-u:\{e})").unwrap(),
                    'Z' => out.push_str(r"\z"),
                    'A' | 'b' | 'B' | 'd' | 'D' | 'w' | 'W' | 'S' | 'a' | 'f' | 'n' | 'r' | 't'
                    | 'v' => {
                        out.push('\\');
                        out.push(e);
                    }
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = c.iter().skip(i).take(n).collect();
                        if hex.len() != n || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                            return Err(bad(format!("incomplete escape \\{e}{hex}")));
                        }
                        i += n;
                        write!(out, "\\x{{{hex}}}").unwrap();
                    }
                    '0'..='9' => {
                        let octal = |i: usize| c.get(i).is_some_and(|d| ('0'..='7').contains(d));
                        if e == '0' || (e <= '7' && octal(i) && octal(i + 1)) {
                            // Octal escape: \0, \0oo, \ooo.
                            let mut v = e.to_digit(8).unwrap_or(0);
                            let mut k = 0;
                            while k < 2 && octal(i) {
                                v = v * 8 + c[i].to_digit(8).unwrap_or(0);
                                i += 1;
                                k += 1;
                            }
                            write!(out, "\\x{{{v:x}}}").unwrap();
                        } else {
                            let mut n = e.to_digit(10).unwrap_or(0);
                            if let Some(d) = c.get(i).and_then(|d| d.to_digit(10)) {
                                n = n * 10 + d;
                                i += 1;
                            }
                            write!(out, "(?:\\{n})").unwrap();
                        }
                    }
                    e if e.is_ascii_alphanumeric() => return Err(bad(format!("bad escape \\{e}"))),
                    e if e.is_ascii_punctuation() => {
                        out.push('\\');
                        out.push(e);
                    }
                    e => write!(out, "\\x{{{:x}}}", e as u32).unwrap(),
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if c.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                // A ']' first in a set is literal in Python.
                if c.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            // Set syntax the regex crate has and Python does not.
            '[' | '&' | '~' if in_class => {
                out.push('\\');
                out.push(ch);
            }
            _ if in_class => out.push(ch),
            c0 if verbose && c0.is_whitespace() => {}
            '#' if verbose => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '{' => {
                // A repeat only if it reads {m}, {m,}, {,n} or {m,n}; else literal.
                let rest: String = c[i..].iter().take_while(|&&x| x != '}').collect();
                let closed = c.len() > i + rest.chars().count();
                let (lo, hi) = rest.split_once(',').unwrap_or((&rest, ""));
                let digits = |x: &str| x.chars().all(|d| d.is_ascii_digit());
                let valid =
                    closed && digits(lo) && digits(hi) && (rest.contains(',') || !lo.is_empty());
                if valid {
                    let lo = if lo.is_empty() { "0" } else { lo };
                    if rest.contains(',') {
                        write!(out, "{{{lo},{hi}}}").unwrap();
                    } else {
                        write!(out, "{{{lo}}}").unwrap();
                    }
                    i += rest.chars().count() + 1;
                } else {
                    out.push_str("\\{");
                }
            }
            '}' => out.push_str("\\}"),
            '$' => out.push_str(if *flags & F_MULTILINE != 0 {
                "(?m:$)"
            } else {
                r"(?=\n?\z)"
            }),
            '(' => {
                if c.get(i) == Some(&'?') {
                    let rest: String = c[i..].iter().take(4).collect();
                    if rest.starts_with("?#") {
                        while i < c.len() && c[i] != ')' {
                            i += 1;
                        }
                        i += 1;
                        continue;
                    }
                    if rest.starts_with("?P<")
                        || (rest.starts_with("?<")
                            && !rest.starts_with("?<=")
                            && !rest.starts_with("?<!"))
                    {
                        parents.push(stack.iter().rev().find_map(|g| *g).unwrap_or(0));
                        stack.push(Some(parents.len() - 1));
                    } else if rest.starts_with("?P=") {
                        // Backreference: no group is opened.
                    } else {
                        stack.push(None);
                    }
                    out.push('(');
                    if rest.starts_with("?P=") {
                        let end = c[i..]
                            .iter()
                            .position(|&x| x == ')')
                            .ok_or_else(|| bad("missing )".into()))?;
                        let name: String = c[i + 3..i + end].iter().collect();
                        write!(out, "?P={name})").unwrap();
                        i += end + 1;
                    }
                } else {
                    parents.push(stack.iter().rev().find_map(|g| *g).unwrap_or(0));
                    stack.push(Some(parents.len() - 1));
                    out.push('(');
                }
            }
            ')' => {
                stack.pop();
                out.push(')');
            }
            c0 => out.push(c0),
        }
    }
    Ok((out, parents))
}

pub(super) type PatternCache = Mutex<HashMap<(String, i64), Arc<Pattern>>>;

pub(super) fn pattern_cache() -> &'static PatternCache {
    static CACHE: OnceLock<PatternCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

pub(super) fn compile(src: &str, flags: i64) -> Result<Arc<Pattern>, Error> {
    let key = (src.to_string(), flags);
    if let Some(p) = pattern_cache().lock().unwrap().get(&key) {
        return Ok(p.clone());
    }
    let mut all = flags;
    let (translated, parents) = translate(src, &mut all)?;
    if all & F_ASCII == 0 {
        all |= F_UNICODE;
    }
    let build = |pat: String, nonempty: bool| {
        let mut b = RegexBuilder::new(&pat);
        b.case_insensitive(all & F_IGNORECASE != 0)
            .multi_line(all & F_MULTILINE != 0)
            .dot_matches_new_line(all & F_DOTALL != 0)
            .find_not_empty(nonempty);
        b.build()
            .map_err(|e| py_err(format!("re.error: {e} in pattern {}", str_repr(src))))
    };
    let regex = build(translated.clone(), false)?;
    let names: Vec<(String, usize)> = regex
        .capture_names()
        .enumerate()
        .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
        .collect();
    let p = Arc::new(Pattern {
        source: src.to_string(),
        flags: all,
        groups: regex.captures_len() - 1,
        nonempty: build(translated.clone(), true)?,
        full: build(format!("(?:{translated})\\z"), false)?,
        regex,
        names,
        parents,
    });
    let mut cache = pattern_cache().lock().unwrap();
    if cache.len() > 256 {
        cache.clear();
    }
    cache.insert(key, p.clone());
    Ok(p)
}

/// A successful match: byte spans of every group over `string`.
#[derive(Debug)]
pub(super) struct Match {
    pub(super) pattern: Arc<Pattern>,
    pub(super) string: Arc<str>,
    pub(super) pos: usize,
    pub(super) endpos: usize,
    pub(super) spans: Vec<Option<(usize, usize)>>,
}

pub(super) fn char_index(s: &str, byte: usize) -> usize {
    s[..byte].chars().count()
}

pub(super) fn byte_index(s: &str, ch: usize) -> usize {
    s.char_indices().nth(ch).map_or(s.len(), |(b, _)| b)
}

impl Match {
    pub(super) fn new(
        pattern: &Arc<Pattern>,
        string: &Arc<str>,
        pos: usize,
        endpos: usize,
        caps: &Captures<'_, str>,
    ) -> Match {
        Match {
            pattern: pattern.clone(),
            string: string.clone(),
            pos,
            endpos,
            spans: (0..caps.len())
                .map(|i| caps.get(i).map(|m| (m.start(), m.end())))
                .collect(),
        }
    }

    pub(super) fn group_index(&self, g: &Value) -> Result<usize, Error> {
        let idx = if let Some(name) = g.as_str() {
            self.pattern
                .names
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, i)| *i)
        } else {
            to_int(g).ok().and_then(|i| usize::try_from(i).ok())
        };
        idx.filter(|i| *i < self.spans.len())
            .ok_or_else(|| py_err("IndexError: no such group"))
    }

    pub(super) fn group(&self, i: usize, default: &Value) -> Value {
        match self.spans[i] {
            Some((s, e)) => Value::from(&self.string[s..e]),
            None => default.clone(),
        }
    }

    pub(super) fn span(&self, i: usize) -> (i64, i64) {
        match self.spans[i] {
            Some((s, e)) => (
                char_index(&self.string, s) as i64,
                char_index(&self.string, e) as i64,
            ),
            None => (-1, -1),
        }
    }

    /// The last group to close: the one ending last, an enclosing group
    /// winning over the groups inside it.
    pub(super) fn lastindex(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for i in 1..self.spans.len() {
            let Some((_, end)) = self.spans[i] else {
                continue;
            };
            best = match best {
                Some(b) => {
                    let bend = self.spans[b].map_or(0, |s| s.1);
                    let mut anc = self.pattern.parents.get(i).copied().unwrap_or(0);
                    let mut inside_b = false;
                    while anc != 0 {
                        inside_b |= anc == b;
                        anc = self.pattern.parents.get(anc).copied().unwrap_or(0);
                    }
                    if end > bend || (end == bend && !inside_b) {
                        Some(i)
                    } else {
                        Some(b)
                    }
                }
                None => Some(i),
            };
        }
        best
    }

    pub(super) fn expand(&self, template: &str) -> Result<String, Error> {
        let mut out = String::new();
        for piece in parse_template(template, &self.pattern)? {
            match piece {
                TPiece::Text(t) => out.push_str(&t),
                TPiece::Group(g) => {
                    if let Some((s, e)) = self.spans[g] {
                        out.push_str(&self.string[s..e]);
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Object for Match {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(name) = key.as_str() {
            match name {
                "string" => return Some(Value::from(&*self.string)),
                "pos" => return Some(Value::from(self.pos)),
                "endpos" => return Some(Value::from(self.endpos)),
                "re" => return Some(Value::from_dyn_object(self.pattern.clone())),
                "lastindex" => return Some(self.lastindex().map_or(Value::from(()), Value::from)),
                "lastgroup" => {
                    let last = self.lastindex();
                    return Some(
                        self.pattern
                            .names
                            .iter()
                            .find(|(_, i)| Some(*i) == last)
                            .map_or(Value::from(()), |(n, _)| Value::from(n.as_str())),
                    );
                }
                _ => {}
            }
        }
        // m[1], m['name']
        let i = self.group_index(key).ok()?;
        Some(self.group(i, &Value::from(())))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let none = Value::from(());
        match method {
            "group" => {
                let a = Args::new("group", args, usize::MAX)?;
                a.done()?;
                if a.pos.is_empty() {
                    return Ok(self.group(0, &none));
                }
                let vals = a
                    .pos
                    .iter()
                    .map(|g| Ok(self.group(self.group_index(g)?, &none)))
                    .collect::<Result<Vec<_>, Error>>()?;
                Ok(if vals.len() == 1 {
                    vals[0].clone()
                } else {
                    py_tuple(vals)
                })
            }
            "groups" | "groupdict" => {
                let mut a = Args::new("groups", args, 1)?;
                let default = a.opt(0, "default").unwrap_or(none);
                a.done()?;
                if method == "groups" {
                    Ok(py_tuple(
                        (1..self.spans.len())
                            .map(|i| self.group(i, &default))
                            .collect(),
                    ))
                } else {
                    Ok(py_dict(self.pattern.names.iter().map(|(n, i)| {
                        (Value::from(n.as_str()), self.group(*i, &default))
                    })))
                }
            }
            "start" | "end" | "span" => {
                let mut a = Args::new("span", args, 1)?;
                let g = a.opt(0, "group").unwrap_or(Value::from(0));
                a.done()?;
                let (s, e) = self.span(self.group_index(&g)?);
                Ok(match method {
                    "start" => Value::from(s),
                    "end" => Value::from(e),
                    _ => py_tuple(vec![Value::from(s), Value::from(e)]),
                })
            }
            "expand" => {
                let mut a = Args::new("expand", args, 1)?;
                let t = a.req(0, "template")?;
                a.done()?;
                Ok(Value::from(self.expand(str_arg(&t, "template")?)?))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, e) = self.span(0);
        let text = self.group(0, &Value::from(""));
        write!(
            f,
            "<re.Match object; span=({s}, {e}), match={}>",
            py_repr(&text)
        )
    }
}

/// A piece of a replacement template.
pub(super) enum TPiece {
    Text(String),
    Group(usize),
}

/// Python's replacement syntax: \1, \g<1>, \g<name>, character escapes;
/// unknown escapes of ASCII letters are errors, others stay as written.
pub(super) fn parse_template(t: &str, p: &Pattern) -> Result<Vec<TPiece>, Error> {
    let c: Vec<char> = t.chars().collect();
    let mut out = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    let group_ok = |g: usize| {
        if g <= p.groups {
            Ok(g)
        } else {
            Err(py_err(format!("re.error: invalid group reference {g}")))
        }
    };
    while i < c.len() {
        if c[i] != '\\' {
            text.push(c[i]);
            i += 1;
            continue;
        }
        let e = *c
            .get(i + 1)
            .ok_or_else(|| py_err("re.error: bad escape (end of pattern)"))?;
        i += 2;
        let mut group = None;
        match e {
            'g' => {
                let end = (c.get(i) == Some(&'<'))
                    .then(|| c[i..].iter().position(|&x| x == '>'))
                    .flatten()
                    .ok_or_else(|| py_err("re.error: missing <"))?;
                let name: String = c[i + 1..i + end].iter().collect();
                i += end + 1;
                let g = match name.parse::<usize>() {
                    Ok(n) => group_ok(n)?,
                    Err(_) => p
                        .names
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, g)| *g)
                        .ok_or_else(|| {
                            py_err(format!("IndexError: unknown group name '{name}'"))
                        })?,
                };
                group = Some(g);
            }
            '0' => {
                let mut v = 0;
                let mut k = 0;
                while k < 2 && c.get(i).is_some_and(|d| ('0'..='7').contains(d)) {
                    v = v * 8 + c[i].to_digit(8).unwrap_or(0);
                    i += 1;
                    k += 1;
                }
                text.extend(char::from_u32(v));
            }
            '1'..='9' => {
                let octal = |k: usize| c.get(i + k).is_some_and(|d| ('0'..='7').contains(d));
                if e <= '7' && octal(0) && octal(1) {
                    let v = e.to_digit(8).unwrap_or(0) * 64
                        + c[i].to_digit(8).unwrap_or(0) * 8
                        + c[i + 1].to_digit(8).unwrap_or(0);
                    i += 2;
                    text.extend(char::from_u32(v));
                } else {
                    let mut n = e.to_digit(10).unwrap_or(0) as usize;
                    if let Some(d) = c.get(i).and_then(|d| d.to_digit(10)) {
                        n = n * 10 + d as usize;
                        i += 1;
                    }
                    group = Some(group_ok(n)?);
                }
            }
            'n' => text.push('\n'),
            't' => text.push('\t'),
            'r' => text.push('\r'),
            'f' => text.push('\x0c'),
            'v' => text.push('\x0b'),
            'a' => text.push('\x07'),
            'b' => text.push('\x08'),
            '\\' => text.push('\\'),
            e if e.is_ascii_alphabetic() => {
                return Err(py_err(format!("re.error: bad escape \\{e}")))
            }
            e => {
                text.push('\\');
                text.push(e);
            }
        }
        if let Some(g) = group {
            if !text.is_empty() {
                out.push(TPiece::Text(std::mem::take(&mut text)));
            }
            out.push(TPiece::Group(g));
        }
    }
    if !text.is_empty() {
        out.push(TPiece::Text(text));
    }
    Ok(out)
}

impl Pattern {
    pub(super) fn search_at<'t>(
        &self,
        text: &'t str,
        from: usize,
        nonempty: bool,
    ) -> Result<Option<Captures<'t, str>>, Error> {
        let re = if nonempty {
            &self.nonempty
        } else {
            &self.regex
        };
        re.captures_from_pos(text, from)
            .map_err(|e| py_err(format!("re.error: {e}")))
    }

    /// Successive matches the way Python's finditer/sub/split find them: an
    /// empty match may not directly follow another at the same position.
    pub(super) fn matches(
        self: &Arc<Self>,
        string: &Arc<str>,
        pos: usize,
        endpos: usize,
        limit: usize,
    ) -> Result<Vec<Match>, Error> {
        let end_b = byte_index(string, endpos);
        let text = &string[..end_b];
        let mut at = byte_index(string, pos).min(end_b);
        let mut out = Vec::new();
        let mut last_empty_at: Option<usize> = None;
        while out.len() < limit && at <= text.len() {
            let caps = if last_empty_at == Some(at) {
                match self.search_at(text, at, true)? {
                    Some(c) if c.get(0).is_some_and(|m| m.start() == at) => Some(c),
                    _ => {
                        let Some(ch) = text[at..].chars().next() else {
                            break;
                        };
                        self.search_at(text, at + ch.len_utf8(), false)?
                    }
                }
            } else {
                self.search_at(text, at, false)?
            };
            let Some(caps) = caps else { break };
            let m = caps.get(0).expect("group 0");
            let (s, e) = (m.start(), m.end());
            out.push(Match::new(self, string, pos, endpos, &caps));
            last_empty_at = (s == e).then_some(e);
            at = e;
        }
        Ok(out)
    }

    pub(super) fn find_one(
        self: &Arc<Self>,
        string: &Arc<str>,
        pos: usize,
        endpos: usize,
        mode: &str,
    ) -> Result<Value, Error> {
        let end_b = byte_index(string, endpos);
        let text = &string[..end_b];
        let at = byte_index(string, pos).min(end_b);
        let re = if mode == "fullmatch" {
            &self.full
        } else {
            &self.regex
        };
        let caps = re
            .captures_from_pos(text, at)
            .map_err(|e| py_err(format!("re.error: {e}")))?;
        Ok(match caps {
            Some(c) if mode == "search" || c.get(0).is_some_and(|m| m.start() == at) => {
                Value::from_object(Match::new(self, string, pos, endpos, &c))
            }
            _ => Value::from(()),
        })
    }

    pub(super) fn sub(
        self: &Arc<Self>,
        state: &State,
        repl: &Value,
        string: &Arc<str>,
        count: i64,
    ) -> Result<(String, usize), Error> {
        let limit = if count <= 0 {
            usize::MAX
        } else {
            count as usize
        };
        let len = string.chars().count();
        let found = self.matches(string, 0, len, limit)?;
        let template = match repl.as_str() {
            Some(t) => Some(parse_template(t, self)?),
            None if repl.kind() == ValueKind::Plain || repl.as_object().is_some() => None,
            None => {
                return Err(py_err(format!(
                    "expected str instance, {} found",
                    type_name(repl)
                )))
            }
        };
        let mut out = String::new();
        let mut last = 0;
        let n = found.len();
        for m in found {
            let (s, e) = m.spans[0].expect("group 0");
            out.push_str(&string[last..s]);
            match &template {
                Some(pieces) => {
                    for piece in pieces {
                        match piece {
                            TPiece::Text(t) => out.push_str(t),
                            TPiece::Group(g) => {
                                if let Some((gs, ge)) = m.spans[*g] {
                                    out.push_str(&string[gs..ge]);
                                }
                            }
                        }
                    }
                }
                None => out.push_str(&py_str(&repl.call(state, &[Value::from_object(m)])?)),
            }
            last = e;
        }
        out.push_str(&string[last..]);
        Ok((out, n))
    }

    pub(super) fn split(
        self: &Arc<Self>,
        string: &Arc<str>,
        maxsplit: i64,
    ) -> Result<Value, Error> {
        let limit = if maxsplit <= 0 {
            usize::MAX
        } else {
            maxsplit as usize
        };
        let len = string.chars().count();
        let mut out = Vec::new();
        let mut last = 0;
        let none = Value::from(());
        for m in self.matches(string, 0, len, limit)? {
            let (s, e) = m.spans[0].expect("group 0");
            out.push(Value::from(&string[last..s]));
            out.extend((1..m.spans.len()).map(|g| m.group(g, &none)));
            last = e;
        }
        out.push(Value::from(&string[last..]));
        Ok(py_list(out))
    }

    pub(super) fn findall(
        self: &Arc<Self>,
        string: &Arc<str>,
        pos: usize,
        endpos: usize,
    ) -> Result<Value, Error> {
        let empty = Value::from("");
        let items = self
            .matches(string, pos, endpos, usize::MAX)?
            .into_iter()
            .map(|m| match self.groups {
                0 => m.group(0, &empty),
                1 => m.group(1, &empty),
                n => py_tuple((1..=n).map(|g| m.group(g, &empty)).collect()),
            })
            .collect();
        Ok(py_list(items))
    }

    /// One of the functions shared by the module and Pattern objects; `a`
    /// holds the arguments after the pattern.
    pub(super) fn call(
        self: &Arc<Self>,
        state: &State,
        method: &str,
        mut a: Args,
        on_pattern: bool,
    ) -> Result<Value, Error> {
        let string_of = |v: Value| -> Result<Arc<str>, Error> {
            v.as_str().map(Arc::from).ok_or_else(|| {
                py_err(format!(
                    "expected string or bytes-like object, got '{}'",
                    type_name(&v)
                ))
            })
        };
        let rv = match method {
            "search" | "match" | "fullmatch" | "findall" | "finditer" => {
                let string = string_of(a.req(0, "string")?)?;
                let len = string.chars().count();
                let (pos, endpos) = if on_pattern {
                    let (p, e) = bounds(
                        len,
                        Some(a.int(1, "pos", 0)?),
                        opt_int(&mut a, 2, "endpos")?,
                    );
                    (p, e.max(p))
                } else {
                    (0, len)
                };
                match method {
                    "findall" => self.findall(&string, pos, endpos)?,
                    "finditer" => py_list(
                        self.matches(&string, pos, endpos, usize::MAX)?
                            .into_iter()
                            .map(Value::from_object)
                            .collect(),
                    ),
                    _ => self.find_one(&string, pos, endpos, method)?,
                }
            }
            "sub" | "subn" => {
                let repl = a.req(0, "repl")?;
                let string = string_of(a.req(1, "string")?)?;
                let count = a.int(2, "count", 0)?;
                let (text, n) = self.sub(state, &repl, &string, count)?;
                if method == "sub" {
                    Value::from(text)
                } else {
                    py_tuple(vec![Value::from(text), Value::from(n)])
                }
            }
            "split" => {
                let string = string_of(a.req(0, "string")?)?;
                let max = a.int(1, "maxsplit", 0)?;
                self.split(&string, max)?
            }
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        };
        a.done()?;
        Ok(rv)
    }
}

impl Object for Pattern {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "pattern" => Value::from(self.source.as_str()),
            "flags" => Value::from(self.flags),
            "groups" => Value::from(self.groups),
            "groupindex" => py_dict(
                self.names
                    .iter()
                    .map(|(n, i)| (Value::from(n.as_str()), Value::from(*i))),
            ),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let a = Args::new(
            pattern_func(method).ok_or(Error::from(ErrorKind::UnknownMethod))?,
            args,
            3,
        )?;
        self.call(state, method, a, true)
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "re.compile({})", str_repr(&self.source))
    }
}

pub(super) fn pattern_func(name: &str) -> Option<&'static str> {
    Some(match name {
        "search" => "search",
        "match" => "match",
        "fullmatch" => "fullmatch",
        "findall" => "findall",
        "finditer" => "finditer",
        "sub" => "sub",
        "subn" => "subn",
        "split" => "split",
        _ => return None,
    })
}

/// The module object: `re.search(...)`, `re.I`, ...
#[derive(Debug)]
pub(super) struct ReModule;

impl Object for ReModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from(match key.as_str()? {
            "I" | "IGNORECASE" => F_IGNORECASE,
            "L" | "LOCALE" => F_LOCALE,
            "M" | "MULTILINE" => F_MULTILINE,
            "S" | "DOTALL" => F_DOTALL,
            "U" | "UNICODE" => F_UNICODE,
            "X" | "VERBOSE" => F_VERBOSE,
            "A" | "ASCII" => F_ASCII,
            "NOFLAG" => 0,
            _ => return None,
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let pattern_of = |a: &mut Args, flags_at: usize| -> Result<Arc<Pattern>, Error> {
            let p = a.req(0, "pattern")?;
            let flags = a.int(flags_at, "flags", 0)?;
            if let Some(p) = p.downcast_object::<Pattern>() {
                if flags != 0 {
                    return Err(py_err(
                        "cannot process flags argument with a compiled pattern",
                    ));
                }
                return Ok(p);
            }
            compile(str_arg(&p, "first argument")?, flags)
        };
        match method {
            "compile" => {
                let mut a = Args::new("compile", args, 2)?;
                let p = pattern_of(&mut a, 1)?;
                a.done()?;
                Ok(Value::from_dyn_object(p))
            }
            "escape" => {
                let mut a = Args::new("escape", args, 1)?;
                let s = a.req(0, "pattern")?;
                a.done()?;
                let mut out = String::new();
                for c in str_arg(&s, "pattern")?.chars() {
                    // Python escapes exactly these characters.
                    if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) {
                        out.push('\\');
                    }
                    out.push(c);
                }
                Ok(Value::from(out))
            }
            _ => {
                let name = pattern_func(method).ok_or(Error::from(ErrorKind::UnknownMethod))?;
                // Module functions: (pattern, string, flags), (pattern, repl,
                // string, count, flags), (pattern, string, maxsplit, flags).
                let flags_at = match name {
                    "sub" | "subn" => 4,
                    "split" => 3,
                    _ => 2,
                };
                let mut a = Args::new(name, args, flags_at + 1)?;
                let p = pattern_of(&mut a, flags_at)?;
                let rest = Args {
                    func: name,
                    pos: a.pos.iter().skip(1).take(flags_at - 1).cloned().collect(),
                    kw: a.kw,
                };
                p.call(state, name, rest, false)
            }
        }
    }
}

/// Python's `re` module, for `utils.re`.
pub fn re_module() -> Value {
    Value::from_object(ReModule)
}

// ---------------------------------------------------------------------------
