//! Python's string formatting: `str % args` and `str.format`.

use super::*;

// printf-style formatting: `str % args`.

/// What the right-hand side of `%` supplies.
pub(super) enum PercentArgs<'a> {
    /// A tuple: each conversion takes the next item.
    Tuple(&'a [Value]),
    /// A single value, or a mapping (which `%(name)s` conversions index).
    Single(&'a Value),
}

/// The binop callback: Python's `str % args` for a string left operand.
pub fn percent_format(
    _state: &State,
    op: &str,
    lhs: &Value,
    rhs: &Value,
) -> Option<Result<Value, Error>> {
    let fmt = lhs.as_str().filter(|_| op == "%")?;
    let result = if rhs.kind() == ValueKind::Seq {
        let items: Vec<Value> = match rhs.try_iter() {
            Ok(it) => it.collect(),
            Err(err) => return Some(Err(err)),
        };
        // Jinja2 tuples and lists both arrive as sequences; Python treats a
        // list as one value. Only when the tuple reading fails on the count
        // and the sequence is not a known tuple, retry it as one value.
        match percent(fmt, PercentArgs::Tuple(&items)) {
            Err(err) if !is_tuple(rhs) && is_count_error(&err) => {
                percent(fmt, PercentArgs::Single(rhs)).map_err(|_| err)
            }
            other => other,
        }
    } else {
        percent(fmt, PercentArgs::Single(rhs))
    };
    Some(result.map(Value::from))
}

pub(super) fn is_count_error(err: &Error) -> bool {
    let msg = err.detail().unwrap_or_default();
    msg.starts_with("not enough arguments") || msg.starts_with("not all arguments")
}

pub(super) fn percent(fmt: &str, args: PercentArgs) -> Result<String, Error> {
    let (items, mapping): (&[Value], Option<&Value>) = match args {
        PercentArgs::Tuple(items) => (items, None),
        PercentArgs::Single(v) => (
            std::slice::from_ref(v),
            (v.kind() == ValueKind::Map).then_some(v),
        ),
    };
    let mut next = 0;
    let take = |next: &mut usize| -> Result<Value, Error> {
        let v = items
            .get(*next)
            .cloned()
            .ok_or_else(|| py_err("not enough arguments for format string"))?;
        *next += 1;
        Ok(v)
    };
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut used_mapping = false;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let incomplete = || py_err("incomplete format");
        let mut key = None;
        if chars.get(i) == Some(&'(') {
            let name_start = i + 1;
            i = past_closing(&chars, name_start, '(', ')')
                .ok_or_else(|| py_err("incomplete format key"))?;
            key = Some(chars[name_start..i - 1].iter().collect::<String>());
        }
        let mut spec = Spec::default();
        while let Some(&c) = chars.get(i) {
            match c {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                '0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'*') {
            i += 1;
            let w = to_int(&take(&mut next)?).map_err(|_| py_err("* wants int"))?;
            if w < 0 {
                spec.left = true;
            }
            spec.width = w.unsigned_abs() as usize;
        } else {
            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                spec.width = spec.width * 10 + d as usize;
                i += 1;
            }
        }
        if chars.get(i) == Some(&'.') {
            i += 1;
            let mut p = 0;
            if chars.get(i) == Some(&'*') {
                i += 1;
                p = to_int(&take(&mut next)?)
                    .map_err(|_| py_err("* wants int"))?
                    .max(0) as usize;
            } else {
                while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                    p = p * 10 + d as usize;
                    i += 1;
                }
            }
            spec.prec = Some(p);
        }
        while matches!(chars.get(i), Some('h' | 'l' | 'L')) {
            i += 1;
        }
        let conv = *chars.get(i).ok_or_else(incomplete)?;
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let value = match &key {
            Some(k) => {
                let map = mapping.ok_or_else(|| py_err("format requires a mapping"))?;
                used_mapping = true;
                map.get_item(&Value::from(k.as_str()))
                    .ok()
                    .filter(|v| !v.is_undefined())
                    .ok_or_else(|| py_err(format!("KeyError: {}", str_repr(k))))?
            }
            None => take(&mut next)?,
        };
        let text = percent_one(conv, &spec, &value).map_err(|e| match e {
            Some(e) => e,
            None => py_err(format!(
                "unsupported format character '{conv}' (0x{:x}) at index {}",
                conv as u32,
                start + (i - start) - 1
            )),
        })?;
        out.push_str(&text);
    }
    if next < items.len() && mapping.is_none() && !used_mapping {
        return Err(py_err(
            "not all arguments converted during string formatting",
        ));
    }
    Ok(out)
}

/// Flags, width and precision of one conversion.
#[derive(Default)]
pub(super) struct Spec {
    pub(super) left: bool,
    pub(super) plus: bool,
    pub(super) space: bool,
    pub(super) alt: bool,
    pub(super) zero: bool,
    pub(super) width: usize,
    pub(super) prec: Option<usize>,
}

impl Spec {
    pub(super) fn sign(&self, negative: bool) -> &'static str {
        if negative {
            "-"
        } else if self.plus {
            "+"
        } else if self.space {
            " "
        } else {
            ""
        }
    }

    /// Pads a number: zeros go between sign/prefix and digits.
    pub(super) fn pad_number(&self, sign_prefix: &str, digits: &str, zero_ok: bool) -> String {
        let len = sign_prefix.chars().count() + digits.chars().count();
        if self.zero && !self.left && zero_ok && len < self.width {
            format!("{sign_prefix}{}{digits}", "0".repeat(self.width - len))
        } else {
            self.pad(&format!("{sign_prefix}{digits}"))
        }
    }

    pub(super) fn pad(&self, s: &str) -> String {
        let n = s.chars().count();
        if n >= self.width {
            s.to_string()
        } else if self.left {
            format!("{s}{}", " ".repeat(self.width - n))
        } else {
            format!("{}{s}", " ".repeat(self.width - n))
        }
    }
}

/// One `%` conversion; `Err(None)` means an unsupported conversion character.
pub(super) fn percent_one(conv: char, spec: &Spec, v: &Value) -> Result<String, Option<Error>> {
    let number_required = |what: &str| {
        Some(py_err(format!(
            "%{conv} format: {what} is required, not {}",
            type_name(v)
        )))
    };
    Ok(match conv {
        's' | 'r' | 'a' => {
            let s = match conv {
                's' => py_str(v),
                'r' => py_repr(v),
                _ => ascii_repr(v),
            };
            let s = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            };
            spec.pad(&s)
        }
        'c' => {
            let c = if let Some(s) = v.as_str() {
                let mut it = s.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) => c,
                    _ => return Err(Some(py_err(
                        "%c requires an int or a unicode character, not a string of length != 1",
                    ))),
                }
            } else {
                let n = to_int(v).map_err(|_| {
                    Some(py_err(format!(
                        "%c requires an int or a unicode character, not {}",
                        type_name(v)
                    )))
                })?;
                u32::try_from(n)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| Some(py_err("%c arg not in range(0x110000)")))?
            };
            spec.pad(&c.to_string())
        }
        'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
            let n: i128 = if v.is_integer() || v.kind() == ValueKind::Bool {
                i128::try_from(v.clone()).unwrap_or(v.is_true() as i128)
            } else if matches!(conv, 'd' | 'i' | 'u') && v.kind() == ValueKind::Number {
                let x = to_f64(v).unwrap_or(0.0);
                if !x.is_finite() {
                    return Err(Some(py_err(
                        "cannot convert float infinity or NaN to integer",
                    )));
                }
                x.trunc() as i128
            } else if matches!(conv, 'd' | 'i' | 'u') {
                return Err(number_required("a real number"));
            } else {
                return Err(number_required("an integer"));
            };
            let mag = n.unsigned_abs();
            let (mut digits, prefix) = match conv {
                'x' => (format!("{mag:x}"), "0x"),
                'X' => (format!("{mag:X}"), "0X"),
                'o' => (format!("{mag:o}"), "0o"),
                _ => (mag.to_string(), ""),
            };
            if let Some(p) = spec.prec {
                if digits.len() < p {
                    digits = format!("{}{digits}", "0".repeat(p - digits.len()));
                }
            }
            let prefix = if spec.alt { prefix } else { "" };
            spec.pad_number(&format!("{}{prefix}", spec.sign(n < 0)), &digits, true)
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let x = to_f64(v).ok_or_else(|| {
                Some(py_err(format!("must be real number, not {}", type_name(v))))
            })?;
            let upper = conv.is_ascii_uppercase();
            let p = spec.prec.unwrap_or(6);
            let a = x.abs();
            let (digits, finite) = match non_finite(a, upper) {
                Some(s) => (s, false),
                None => (
                    match conv {
                        'e' | 'E' => fmt_exp(a, p, spec.alt, upper),
                        'f' | 'F' => fmt_fixed(a, p, spec.alt),
                        _ => fmt_general(a, p, spec.alt, upper),
                    },
                    true,
                ),
            };
            spec.pad_number(
                spec.sign(x.is_sign_negative() && !x.is_nan()),
                &digits,
                finite,
            )
        }
        _ => return Err(None),
    })
}

// ---------------------------------------------------------------------------
// str.format / format_map.

/// Python's `str.format(*args, **kwargs)`.
pub(super) fn str_format(
    fmt: &str,
    args: &[Value],
    kwargs: &dyn Fn(&str) -> Option<Value>,
) -> Result<String, Error> {
    let mut auto = 0usize;
    let mut manual = false;
    format_inner(fmt, args, kwargs, &mut auto, &mut manual, 2)
}

pub(super) fn format_inner(
    fmt: &str,
    args: &[Value],
    kwargs: &dyn Fn(&str) -> Option<Value>,
    auto: &mut usize,
    manual: &mut bool,
    depth: u8,
) -> Result<String, Error> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '{' if chars.get(i + 1) == Some(&'{') => {
                out.push('{');
                i += 2;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                out.push('}');
                i += 2;
            }
            '}' => return Err(py_err("Single '}' encountered in format string")),
            '{' => {
                let start = i + 1;
                i = past_closing(&chars, start, '{', '}')
                    .ok_or_else(|| py_err("expected '}' before end of string"))?;
                let field: String = chars[start..i - 1].iter().collect();
                if depth == 0 {
                    return Err(py_err("Max string recursion exceeded"));
                }
                out.push_str(&format_field(&field, args, kwargs, auto, manual, depth)?);
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

pub(super) fn format_field(
    field: &str,
    args: &[Value],
    kwargs: &dyn Fn(&str) -> Option<Value>,
    auto: &mut usize,
    manual: &mut bool,
    depth: u8,
) -> Result<String, Error> {
    // field_name ["!" conversion] [":" spec]; the name ends at the first
    // '!' or ':' outside brackets.
    let mut end = field.len();
    let mut in_bracket = false;
    for (i, c) in field.char_indices() {
        match c {
            '[' => in_bracket = true,
            ']' => in_bracket = false,
            '!' | ':' if !in_bracket => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let (name, rest) = field.split_at(end);
    let (conv, spec) = if let Some(r) = rest.strip_prefix('!') {
        let (c, s) = r.split_once(':').unwrap_or((r, ""));
        if c.chars().count() != 1 {
            return Err(py_err("expected ':' after conversion specifier"));
        }
        (c.chars().next(), s)
    } else {
        (None, rest.strip_prefix(':').unwrap_or(""))
    };
    let first_end = name.find(['.', '[']).unwrap_or(name.len());
    let (first, mut path) = name.split_at(first_end);
    let mut value = if first.is_empty() {
        if *manual {
            return Err(py_err(
                "cannot switch from manual field specification to automatic field numbering",
            ));
        }
        *auto += 1;
        args.get(*auto - 1).cloned().ok_or_else(|| {
            py_err(format!(
                "Replacement index {} out of range for positional args tuple",
                *auto - 1
            ))
        })?
    } else if let Ok(idx) = first.parse::<usize>() {
        if *auto > 0 {
            return Err(py_err(
                "cannot switch from automatic field numbering to manual field specification",
            ));
        }
        *manual = true;
        args.get(idx).cloned().ok_or_else(|| {
            py_err(format!(
                "Replacement index {idx} out of range for positional args tuple"
            ))
        })?
    } else {
        kwargs(first).ok_or_else(|| py_err(format!("KeyError: {}", str_repr(first))))?
    };
    while !path.is_empty() {
        if let Some(p) = path.strip_prefix('.') {
            let end = p.find(['.', '[']).unwrap_or(p.len());
            let attr = &p[..end];
            value = value
                .get_attr(attr)
                .ok()
                .filter(|v| !v.is_undefined())
                .ok_or_else(|| py_err(format!("AttributeError: {attr}")))?;
            path = &p[end..];
        } else if let Some(p) = path.strip_prefix('[') {
            let end = p
                .find(']')
                .ok_or_else(|| py_err("Missing ']' in format string"))?;
            let key = &p[..end];
            let key = key
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(key));
            value = value
                .get_item(&key)
                .ok()
                .filter(|v| !v.is_undefined())
                .ok_or_else(|| py_err(format!("KeyError: {}", py_repr(&key))))?;
            path = &p[end + 1..];
        } else {
            return Err(py_err(
                "Only '.' or '[' may follow ']' in format field specifier",
            ));
        }
    }
    let value = match conv {
        None => value,
        Some('s') => Value::from(py_str(&value)),
        Some('r') => Value::from(py_repr(&value)),
        Some('a') => Value::from(ascii_repr(&value)),
        Some(c) => return Err(py_err(format!("Unknown conversion specifier {c}"))),
    };
    let spec = if spec.contains('{') {
        format_inner(spec, args, kwargs, auto, manual, depth - 1)?
    } else {
        spec.to_string()
    };
    format_value(&value, &spec)
}

/// A parsed format spec: [[fill]align][sign][z][#][0][width][grouping][.precision][type].
pub(super) struct FormatSpec {
    pub(super) fill: char,
    pub(super) align: Option<char>,
    pub(super) sign: char,
    pub(super) alt: bool,
    pub(super) width: usize,
    pub(super) grouping: Option<char>,
    pub(super) prec: Option<usize>,
    pub(super) ty: Option<char>,
}

pub(super) fn parse_spec(spec: &str) -> Result<FormatSpec, Error> {
    let c: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let mut fs = FormatSpec {
        fill: ' ',
        align: None,
        sign: '-',
        alt: false,
        width: 0,
        grouping: None,
        prec: None,
        ty: None,
    };
    let is_align = |c: Option<&char>| matches!(c, Some('<' | '>' | '=' | '^'));
    if c.len() >= 2 && is_align(c.get(1)) {
        fs.fill = c[0];
        fs.align = Some(c[1]);
        i = 2;
    } else if is_align(c.first()) {
        fs.align = Some(c[0]);
        i = 1;
    }
    if let Some(&s @ ('+' | '-' | ' ')) = c.get(i) {
        fs.sign = s;
        i += 1;
    }
    if c.get(i) == Some(&'z') {
        i += 1;
    }
    if c.get(i) == Some(&'#') {
        fs.alt = true;
        i += 1;
    }
    if c.get(i) == Some(&'0') {
        if fs.align.is_none() {
            fs.fill = '0';
            fs.align = Some('=');
        }
        i += 1;
    }
    while let Some(d) = c.get(i).and_then(|c| c.to_digit(10)) {
        fs.width = fs.width * 10 + d as usize;
        i += 1;
    }
    if let Some(&g @ (',' | '_')) = c.get(i) {
        fs.grouping = Some(g);
        i += 1;
    }
    if c.get(i) == Some(&'.') {
        i += 1;
        let mut p = None;
        while let Some(d) = c.get(i).and_then(|c| c.to_digit(10)) {
            p = Some(p.unwrap_or(0) * 10 + d as usize);
            i += 1;
        }
        fs.prec = Some(p.ok_or_else(|| py_err("Format specifier missing precision"))?);
    }
    if i + 1 < c.len() {
        return Err(py_err("Invalid format specifier"));
    }
    fs.ty = c.get(i).copied();
    Ok(fs)
}

/// Python's `format(value, spec)`.
pub(super) fn format_value(v: &Value, spec: &str) -> Result<String, Error> {
    let is_int = v.is_integer() || v.kind() == ValueKind::Bool;
    if spec.is_empty() {
        return Ok(py_str(v));
    }
    let fs = parse_spec(spec)?;
    let unknown = |ty: char| {
        py_err(format!(
            "Unknown format code '{ty}' for object of type '{}'",
            type_name(v)
        ))
    };
    if let Some(s) = v.as_str() {
        if let Some(ty) = fs.ty.filter(|t| *t != 's') {
            return Err(unknown(ty));
        }
        if fs.sign != '-' {
            return Err(py_err("Sign not allowed in string format specifier"));
        }
        if fs.align == Some('=') {
            return Err(py_err(
                "'=' alignment not allowed in string format specifier",
            ));
        }
        if fs.grouping.is_some() {
            return Err(py_err("Cannot specify ',' with 's'."));
        }
        let s: String = match fs.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_string(),
        };
        return Ok(align(&fs, "", &s, '<'));
    }
    if is_int && !matches!(fs.ty, Some('e' | 'E' | 'f' | 'F' | 'g' | 'G' | '%')) {
        let n = i128::try_from(v.clone()).unwrap_or(v.is_true() as i128);
        if fs.prec.is_some() {
            return Err(py_err("Precision not allowed in integer format specifier"));
        }
        let mag = n.unsigned_abs();
        let (digits, prefix, group_every) = match fs.ty {
            None | Some('d' | 'n') => (mag.to_string(), "", 3),
            Some('b') => (format!("{mag:b}"), "0b", 4),
            Some('o') => (format!("{mag:o}"), "0o", 4),
            Some('x') => (format!("{mag:x}"), "0x", 4),
            Some('X') => (format!("{mag:X}"), "0X", 4),
            Some('c') => {
                let c = u32::try_from(n)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| py_err("%c arg not in range(0x110000)"))?;
                return Ok(align(&fs, "", &c.to_string(), '<'));
            }
            Some(t) => return Err(unknown(t)),
        };
        if fs.grouping == Some(',') && group_every == 4 {
            return Err(py_err(format!(
                "Cannot specify ',' with '{}'.",
                fs.ty.unwrap_or('d')
            )));
        }
        let prefix = if fs.alt { prefix } else { "" };
        let sign = num_sign(&fs, n < 0);
        return Ok(align_number(
            &fs,
            &format!("{sign}{prefix}"),
            &digits,
            "",
            group_every,
        ));
    }
    let Some(x) = to_f64(v).filter(|_| v.kind() == ValueKind::Number || is_int) else {
        return Err(py_err(format!(
            "unsupported format string passed to {}.__format__",
            type_name(v)
        )));
    };
    let upper = matches!(fs.ty, Some('E' | 'F' | 'G'));
    let a = x.abs();
    let sign = num_sign(&fs, x.is_sign_negative() && !x.is_nan());
    if let Some(s) = non_finite(a, upper) {
        let s = if fs.ty == Some('%') { s + "%" } else { s };
        return Ok(align(&fs, sign, &s, '>'));
    }
    let (body, suffix) = match fs.ty {
        Some('e' | 'E') => (fmt_exp(a, fs.prec.unwrap_or(6), fs.alt, upper), ""),
        Some('f' | 'F') => (fmt_fixed(a, fs.prec.unwrap_or(6), fs.alt), ""),
        Some('g' | 'G' | 'n') => (fmt_general(a, fs.prec.unwrap_or(6), fs.alt, upper), ""),
        Some('%') => (fmt_fixed(a * 100.0, fs.prec.unwrap_or(6), fs.alt), "%"),
        None => {
            let s = match fs.prec {
                None => float_repr(a),
                Some(p) => {
                    let s = fmt_general(a, p, fs.alt, false);
                    if s.contains(['.', 'e']) {
                        s
                    } else {
                        s + ".0"
                    }
                }
            };
            (s, "")
        }
        Some(t) => return Err(unknown(t)),
    };
    // Grouping applies to the integer digits only.
    let split = body.find(['.', 'e', 'E']).unwrap_or(body.len());
    let (int_part, frac) = body.split_at(split);
    Ok(align_number(
        &fs,
        sign,
        int_part,
        &format!("{frac}{suffix}"),
        3,
    ))
}

pub(super) fn num_sign(fs: &FormatSpec, negative: bool) -> &'static str {
    match (negative, fs.sign) {
        (true, _) => "-",
        (false, '+') => "+",
        (false, ' ') => " ",
        _ => "",
    }
}

pub(super) fn group_digits(digits: &str, sep: Option<char>, every: usize) -> String {
    let Some(sep) = sep else {
        return digits.to_string();
    };
    let n = digits.len();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(every) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

pub(super) fn align_number(
    fs: &FormatSpec,
    sign_prefix: &str,
    int_digits: &str,
    tail: &str,
    every: usize,
) -> String {
    if fs.align == Some('=') && fs.fill == '0' && fs.grouping.is_some() {
        // Zero padding with grouping pads the digits themselves, separators
        // included, up to the width.
        let mut digits = int_digits.to_string();
        loop {
            let grouped = group_digits(&digits, fs.grouping, every);
            let len = sign_prefix.chars().count() + grouped.chars().count() + tail.chars().count();
            if len >= fs.width {
                return format!("{sign_prefix}{grouped}{tail}");
            }
            digits.insert(0, '0');
        }
    }
    let body = format!("{}{tail}", group_digits(int_digits, fs.grouping, every));
    align(fs, sign_prefix, &body, '>')
}

pub(super) fn align(fs: &FormatSpec, sign_prefix: &str, body: &str, default: char) -> String {
    let len = sign_prefix.chars().count() + body.chars().count();
    let pad = fs.width.saturating_sub(len);
    let fill = |n: usize| fs.fill.to_string().repeat(n);
    match fs.align.unwrap_or(default) {
        '<' => format!("{sign_prefix}{body}{}", fill(pad)),
        '^' => format!(
            "{}{sign_prefix}{body}{}",
            fill(pad / 2),
            fill(pad - pad / 2)
        ),
        '=' => format!("{sign_prefix}{}{body}", fill(pad)),
        _ => format!("{}{sign_prefix}{body}", fill(pad)),
    }
}

// ---------------------------------------------------------------------------

/// The index just past the `close` that matches an `open` standing before
/// `i`, nested pairs counted; `None` when `chars` ends first.
fn past_closing(chars: &[char], mut i: usize, open: char, close: char) -> Option<usize> {
    let mut depth = 1;
    while depth > 0 {
        match *chars.get(i)? {
            c if c == open => depth += 1,
            c if c == close => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    Some(i)
}
