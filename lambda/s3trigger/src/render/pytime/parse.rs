//! Reading dates and times: ISO 8601 (`fromisoformat`, `isoparse`), `strptime`, dateutil's `parser.parse`.

use super::*;

// Parsing: ISO 8601 (fromisoformat, isoparse), strptime, dateutil's parser

/// A byte cursor over ASCII-ish input.
pub(super) struct Cursor<'a> {
    pub(super) s: &'a [u8],
    pub(super) i: usize,
}

impl Cursor<'_> {
    pub(super) fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    pub(super) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` digits.
    pub(super) fn digits(&mut self, n: usize) -> Option<i64> {
        let part = self.s.get(self.i..self.i + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(part.iter().fold(0, |a, b| a * 10 + i64::from(b - b'0')))
    }

    /// Between `min` and `max` digits, as many as there are.
    pub(super) fn digits_upto(&mut self, min: usize, max: usize) -> Option<(i64, usize)> {
        let n = self.s[self.i..]
            .iter()
            .take(max)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n < min {
            return None;
        }
        self.digits(n).map(|v| (v, n))
    }

    pub(super) fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum IsoFlavour {
    /// `datetime.fromisoformat` and friends (CPython 3.11+).
    Python,
    /// `dateutil.parser.isoparse`.
    Dateutil,
}

/// The date part: `YYYY-MM-DD` or `YYYYMMDD`; dateutil also takes `YYYY`
/// and `YYYY-MM`.
pub(super) fn iso_date(c: &mut Cursor, flavour: IsoFlavour) -> Option<(i64, i64, i64)> {
    let y = c.digits(4)?;
    let (m, d) = if c.eat(b'-') {
        let m = c.digits(2)?;
        if c.eat(b'-') {
            (m, c.digits(2)?)
        } else if flavour == IsoFlavour::Dateutil {
            (m, 1)
        } else {
            return None;
        }
    } else if let Some(m) = c.digits(2) {
        (m, c.digits(2)?)
    } else if flavour == IsoFlavour::Dateutil {
        (1, 1)
    } else {
        return None;
    };
    Some((y, m, d))
}

/// `HH[:MM[:SS[.ffffff]]]` or `HHMM[SS]`, then an optional zone; the zone
/// is `Some(seconds)`, with `Z` as zero.
pub(super) fn iso_time(c: &mut Cursor) -> Option<(i64, i64, i64, i64, Option<i32>)> {
    let h = c.digits(2)?;
    let (mut m, mut s, mut us) = (0, 0, 0);
    let extended = c.peek() == Some(b':');
    let next = |c: &mut Cursor| -> Option<Option<i64>> {
        if extended {
            if !c.eat(b':') {
                return Some(None);
            }
            c.digits(2).map(Some)
        } else {
            Some(c.digits(2))
        }
    };
    if let Some(v) = next(c)? {
        m = v;
        if let Some(v) = next(c)? {
            s = v;
            if c.eat(b'.') || c.eat(b',') {
                let (v, n) = c.digits_upto(1, 64)?;
                let v = if n > 6 {
                    v / 10i64.pow(n as u32 - 6)
                } else {
                    v * 10i64.pow(6 - n as u32)
                };
                // Digits beyond six are dropped.
                while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                    c.i += 1;
                }
                us = v;
            }
        }
    }
    let tz = match c.peek() {
        Some(b'Z') | Some(b'z') => {
            c.i += 1;
            Some(0)
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.digits(2)?;
            c.eat(b':');
            let om = c.digits(2).unwrap_or(0);
            let os = if c.eat(b':') { c.digits(2)? } else { 0 };
            let secs = (oh * 3600 + om * 60 + os) as i32;
            Some(if sign == b'-' { -secs } else { secs })
        }
        _ => None,
    };
    Some((h, m, s, us, tz))
}

/// `Ok(None)` when `s` is not ISO 8601; `Err` when a field is out of range.
pub(super) fn iso_datetime(s: &str, flavour: IsoFlavour) -> Result<Option<DateTime>, Error> {
    let mut c = Cursor {
        s: s.as_bytes(),
        i: 0,
    };
    let Some((y, mo, d)) = iso_date(&mut c, flavour) else {
        return Ok(None);
    };
    let d = make_date(y, mo, d)?;
    if c.at_end() {
        return Ok(Some(DateTime {
            d,
            t: Time::MIDNIGHT,
            tz: None,
        }));
    }
    // Any one character separates the date from the time.
    c.i += s[c.i..].chars().next().map_or(0, char::len_utf8);
    let Some((h, m, sec, us, tz)) = iso_time(&mut c).filter(|_| c.at_end()) else {
        return Ok(None);
    };
    let tz = tz.map(|secs| match (flavour, secs) {
        (IsoFlavour::Python, _) => Tz::Fixed(secs),
        (IsoFlavour::Dateutil, 0) => Tz::Utc,
        (IsoFlavour::Dateutil, _) => Tz::Offset(None, secs),
    });
    // dateutil reads 24:00 as midnight of the next day.
    if flavour == IsoFlavour::Dateutil && h == 24 && m == 0 && sec == 0 && us == 0 {
        return DateTime {
            d,
            t: Time::MIDNIGHT,
            tz,
        }
        .add(US_PER_DAY)
        .map(Some);
    }
    Ok(Some(DateTime {
        d,
        t: make_time(h, m, sec, us)?,
        tz,
    }))
}

pub(super) fn fromisoformat(s: &str) -> Result<DateTime, Error> {
    iso_datetime(s, IsoFlavour::Python)?
        .ok_or_else(|| err(format!("Invalid isoformat string: {}", py_repr_str(s))))
}

pub(super) fn isoparse(s: &str) -> Result<DateTime, Error> {
    iso_datetime(s, IsoFlavour::Dateutil)?.ok_or_else(|| {
        err(format!(
            "ISO string is not a valid date or datetime: {}",
            py_repr_str(s)
        ))
    })
}

pub(super) fn time_fromisoformat(s: &str) -> Result<PyTime, Error> {
    let bad = || err(format!("Invalid isoformat string: {}", py_repr_str(s)));
    let mut c = Cursor {
        s: s.strip_prefix('T').unwrap_or(s).as_bytes(),
        i: 0,
    };
    let (h, m, sec, us, tz) = iso_time(&mut c).ok_or_else(bad)?;
    if !c.at_end() {
        return Err(bad());
    }
    Ok(PyTime {
        t: make_time(h, m, sec, us)?,
        tz: tz.map(Tz::Fixed),
    })
}

pub(super) fn date_fromisoformat(s: &str) -> Result<Date, Error> {
    let mut c = Cursor {
        s: s.as_bytes(),
        i: 0,
    };
    match iso_date(&mut c, IsoFlavour::Python) {
        Some((y, m, d)) if c.at_end() => make_date(y, m, d),
        _ => Err(err(format!("Invalid isoformat string: {}", py_repr_str(s)))),
    }
}

pub(super) fn name_index(c: &mut Cursor, names: &[&str]) -> Option<usize> {
    let rest = &c.s[c.i..];
    // Full names first, so that "March" is not read as "Mar" + "ch".
    for full in [true, false] {
        for (i, n) in names.iter().enumerate() {
            let n = if full { *n } else { n.get(..3).unwrap_or(n) };
            if rest.len() >= n.len() && rest[..n.len()].eq_ignore_ascii_case(n.as_bytes()) {
                c.i += n.len();
                return Some(i);
            }
        }
    }
    None
}

/// `datetime.strptime` for the directives of Python's `_strptime`.
pub(super) fn strptime(s: &str, fmt: &str) -> Result<DateTime, Error> {
    let mismatch = || {
        err(format!(
            "time data {} does not match format {}",
            py_repr_str(s),
            py_repr_str(fmt)
        ))
    };
    let mut c = Cursor {
        s: s.as_bytes(),
        i: 0,
    };
    let (mut y, mut mo, mut d, mut h, mut mi, mut sec, mut us) = (1900, 1, 1, 0, 0, 0, 0);
    let mut pm: Option<bool> = None;
    let mut tz = None;
    let mut f = fmt.chars();
    while let Some(fc) = f.next() {
        if fc.is_whitespace() {
            while c.peek().is_some_and(|b| b.is_ascii_whitespace()) {
                c.i += 1;
            }
            continue;
        }
        if fc != '%' {
            let mut buf = [0u8; 4];
            for b in fc.encode_utf8(&mut buf).bytes() {
                if !c.eat(b) {
                    return Err(mismatch());
                }
            }
            continue;
        }
        let dir = f.next().ok_or_else(|| err("stray % in format ''"))?;
        let num =
            |c: &mut Cursor, max: usize| c.digits_upto(1, max).map(|v| v.0).ok_or_else(mismatch);
        match dir {
            'Y' => y = c.digits(4).ok_or_else(mismatch)?,
            'y' => {
                let v = c.digits(2).ok_or_else(mismatch)?;
                y = if v < 69 { 2000 + v } else { 1900 + v };
            }
            'm' => mo = num(&mut c, 2)?,
            // Python's %d and %I also take a space-padded digit.
            'd' | 'I' if c.peek() == Some(b' ') => {
                c.i += 1;
                let v = c.digits(1).ok_or_else(mismatch)?;
                if dir == 'd' {
                    d = v
                } else {
                    h = v
                }
            }
            'd' => d = num(&mut c, 2)?,
            'H' => h = num(&mut c, 2)?,
            'I' => h = num(&mut c, 2)?,
            'M' => mi = num(&mut c, 2)?,
            'S' => sec = num(&mut c, 2)?,
            'f' => {
                let (v, n) = c.digits_upto(1, 6).ok_or_else(mismatch)?;
                us = v * 10i64.pow(6 - n as u32);
            }
            'b' | 'B' | 'h' => mo = name_index(&mut c, &MONTHS).ok_or_else(mismatch)? as i64 + 1,
            'a' | 'A' => {
                name_index(&mut c, &DAYS).ok_or_else(mismatch)?;
            }
            'p' => {
                pm = Some(match name_index(&mut c, &["AM", "PM"]) {
                    Some(i) => i == 1,
                    None => return Err(mismatch()),
                })
            }
            'j' => {
                let n = num(&mut c, 3)?;
                let dt = from_ordinal(ordinal(make_date(y, 1, 1)?) + n - 1)?;
                (mo, d) = (month_num(dt), i64::from(dt.day()));
            }
            'z' => {
                if c.eat(b'Z') {
                    tz = Some(Tz::Fixed(0));
                } else {
                    let neg = match c.peek() {
                        Some(b'+') => false,
                        Some(b'-') => true,
                        _ => return Err(mismatch()),
                    };
                    c.i += 1;
                    let oh = c.digits(2).ok_or_else(mismatch)?;
                    c.eat(b':');
                    let om = c.digits(2).ok_or_else(mismatch)?;
                    let os = if c.peek().is_some_and(|b| b == b':' || b.is_ascii_digit()) {
                        c.eat(b':');
                        c.digits(2).ok_or_else(mismatch)?
                    } else {
                        0
                    };
                    let secs = (oh * 3600 + om * 60 + os) as i32;
                    tz = Some(Tz::Fixed(if neg { -secs } else { secs }));
                }
            }
            // Python matches the zone name but keeps the result naive.
            'Z' => {
                name_index(&mut c, &["UTC", "GMT"]).ok_or_else(mismatch)?;
            }
            '%' => {
                if !c.eat(b'%') {
                    return Err(mismatch());
                }
            }
            other => {
                return Err(err(format!(
                    "'{other}' is a bad directive in format {}",
                    py_repr_str(fmt)
                )))
            }
        }
    }
    if !c.at_end() {
        return Err(err(format!(
            "unconverted data remains: {}",
            String::from_utf8_lossy(&c.s[c.i..])
        )));
    }
    if let Some(pm) = pm {
        h = match (pm, h) {
            (false, 12) => 0,
            (true, h) if h < 12 => h + 12,
            (_, h) => h,
        };
    }
    Ok(DateTime {
        d: make_date(y, mo, d)?,
        t: make_time(h, mi, sec, us)?,
        tz,
    })
}

/// `dateutil.parser.parse` for the usual formats: numeric and named-month
/// dates in any order (resolved as dateutil does, with `dayfirst` and
/// `yearfirst`), `HH:MM[:SS[.f]]` with am/pm, and a zone of Z/UTC/GMT or a
/// numeric offset. Missing date fields come from `today`, time fields are 0.
pub(super) fn du_parse(
    s: &str,
    dayfirst: bool,
    yearfirst: bool,
    today: Date,
) -> Result<DateTime, Error> {
    let unknown = || err(format!("Unknown string format: {s}"));
    // Tokens: digit runs, letter runs, and single other characters.
    let mut toks: Vec<&str> = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let class = |c: u8| {
            if c.is_ascii_digit() {
                0
            } else if c.is_ascii_alphabetic() {
                1
            } else {
                2
            }
        };
        let k = class(b[i]);
        i += 1;
        if k != 2 {
            while i < b.len() && class(b[i]) == k {
                i += 1;
            }
        }
        if !b[start].is_ascii_whitespace() {
            toks.push(&s[start..i]);
        }
    }
    if toks.is_empty() {
        return Err(err(format!("String does not contain a date: {s}")));
    }
    let num = |t: &str| t.parse::<i64>().ok();
    let mut ymd = YmdList::default();
    let (mut h, mut mi, mut sec, mut us) = (None, 0, 0, 0);
    let mut pm = None;
    let mut tzname: Option<String> = None;
    let mut offset: Option<i32> = None;
    let mut k = 0;
    let tok = |k: usize| toks.get(k).copied().unwrap_or("");
    while k < toks.len() {
        let t = toks[k];
        if t.as_bytes()[0].is_ascii_digit() {
            if tok(k + 1) == ":" && h.is_none() {
                // HH:MM[:SS[.ffffff]]
                h = num(t);
                mi = num(tok(k + 2)).ok_or_else(unknown)?;
                k += 3;
                if tok(k) == ":" {
                    sec = num(tok(k + 1)).ok_or_else(unknown)?;
                    k += 2;
                    if tok(k) == "." || tok(k) == "," {
                        let f = tok(k + 1);
                        if f.is_empty() || !f.as_bytes()[0].is_ascii_digit() {
                            return Err(unknown());
                        }
                        let f6 = format!("{f:0<6}");
                        us = num(&f6[..6]).ok_or_else(unknown)?;
                        k += 2;
                    }
                }
                continue;
            }
            let sep = tok(k + 1);
            if ["-", "/", "."].contains(&sep) && !tok(k + 2).is_empty() {
                // 2024-01-31, 31/01/2024, 31-Jan-2024: up to three parts.
                ymd.push_num(t).ok_or_else(unknown)?;
                ymd.push_part(tok(k + 2)).ok_or_else(unknown)?;
                k += 3;
                if tok(k) == sep && !tok(k + 1).is_empty() {
                    ymd.push_part(tok(k + 1)).ok_or_else(unknown)?;
                    k += 2;
                }
                continue;
            }
            if t.len() == 8 && ymd.vals.is_empty() {
                // YYYYMMDD
                for part in [&t[..4], &t[4..6], &t[6..]] {
                    ymd.push_num(part).ok_or_else(unknown)?;
                }
            } else if matches!(sep.to_ascii_lowercase().as_str(), "am" | "pm") && h.is_none() {
                h = num(t);
            } else {
                ymd.push_num(t).ok_or_else(unknown)?;
            }
            k += 1;
            continue;
        }
        if (t == "+" || t == "-")
            && h.is_some()
            && offset.is_none()
            && tok(k + 1)
                .as_bytes()
                .first()
                .is_some_and(u8::is_ascii_digit)
        {
            // +HHMM, +HH:MM or +HH
            let n = tok(k + 1);
            let (oh, om, used) = match n.len() {
                4 => (num(&n[..2]), num(&n[2..]), 2),
                1 | 2 if tok(k + 2) == ":" => (num(n), num(tok(k + 3)), 4),
                1 | 2 => (num(n), Some(0), 2),
                _ => return Err(unknown()),
            };
            let secs = (oh.ok_or_else(unknown)? * 3600 + om.ok_or_else(unknown)? * 60) as i32;
            // "GMT+3" means the zone whose time +3 is GMT: dateutil flips it.
            let flip = tzname.take().is_some();
            let neg = (t == "-") != flip;
            offset = Some(if neg { -secs } else { secs });
            k += used;
            continue;
        }
        if t.as_bytes()[0].is_ascii_alphabetic() {
            let lower = t.to_ascii_lowercase();
            if month_name(t).is_some() {
                ymd.push_part(t).ok_or_else(unknown)?;
            } else if DAYS.iter().any(|n| {
                let n = n.to_ascii_lowercase();
                lower == n || (lower.len() >= 3 && lower == n[..3])
            }) || [
                "at", "on", "and", "ad", "m", "t", "of", "st", "nd", "rd", "th",
            ]
            .contains(&lower.as_str())
            {
                // weekday names and dateutil's filler words
            } else if lower == "am" || lower == "pm" || lower == "a" || lower == "p" {
                pm = Some(lower.starts_with('p'));
            } else if h.is_some()
                && tzname.is_none()
                && offset.is_none()
                && t.len() <= 5
                && t.bytes().all(|c| c.is_ascii_uppercase())
                || t == "Z"
                || t == "z"
            {
                tzname = Some(if t == "Z" || t == "z" {
                    "UTC".into()
                } else {
                    t.to_string()
                });
            } else {
                return Err(unknown());
            }
            k += 1;
            continue;
        }
        if [",", "/", "-", ".", ":", ";", "'", "(", ")"].contains(&t) {
            k += 1;
            continue;
        }
        return Err(unknown());
    }
    if let Some(p) = pm {
        let hv = h.ok_or_else(unknown)?;
        h = Some(match (p, hv) {
            (false, 12) => 0,
            (true, hv) if hv < 12 => hv + 12,
            (_, hv) => hv,
        });
    }
    let (y, m, d) =
        resolve_ymd(&ymd.vals, ymd.mstr, ymd.ystr, dayfirst, yearfirst).ok_or_else(unknown)?;
    let y = y.map(|(v, len)| {
        if len <= 2 && v < 100 {
            century(v, today.year())
        } else {
            v
        }
    });
    let y = y.unwrap_or(i64::from(today.year()));
    let m = m.unwrap_or(month_num(today));
    let d = d.unwrap_or(i64::from(today.day()));
    let date =
        make_date(y, m, d).map_err(|e| err(format!("{}: {s}", e.detail().unwrap_or_default())))?;
    let t = make_time(h.unwrap_or(0), mi, sec, us)
        .map_err(|e| err(format!("{}: {s}", e.detail().unwrap_or_default())))?;
    let tz = match (tzname.as_deref(), offset) {
        // The Lambda's local zone is UTC, and dateutil gives tzlocal() for
        // names of the local zone and for a zero offset.
        (Some("UTC"), _) | (None, Some(0)) => Some(Tz::Local),
        (Some("GMT"), _) => Some(Tz::Utc),
        (name, Some(secs)) => Some(Tz::Offset(name.map(Arc::from), secs)),
        // Other names are unknown to dateutil, which warns and stays naive.
        _ => None,
    };
    Ok(DateTime { d: date, t, tz })
}

pub(super) fn month_name(word: &str) -> Option<i64> {
    let lower = word.to_ascii_lowercase();
    let i = MONTHS.iter().position(|n| {
        let n = n.to_ascii_lowercase();
        lower == n || (lower.len() == 3 && lower == n[..3]) || (lower == "sept" && n == "september")
    })?;
    Some(i as i64 + 1)
}

/// The date numbers dateutil's parser collects: (value, digits), with the
/// positions of a month name and of a year (more than two digits).
#[derive(Default)]
pub(super) struct YmdList {
    pub(super) vals: Vec<(i64, usize)>,
    pub(super) mstr: Option<usize>,
    pub(super) ystr: Option<usize>,
}

impl YmdList {
    pub(super) fn push_num(&mut self, t: &str) -> Option<()> {
        if self.vals.len() == 3 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if t.len() > 2 {
            self.ystr = Some(self.vals.len());
        }
        self.vals.push((t.parse().ok()?, t.len()));
        Some(())
    }

    /// A number or a month name.
    pub(super) fn push_part(&mut self, t: &str) -> Option<()> {
        let Some(m) = month_name(t) else {
            return self.push_num(t);
        };
        if self.vals.len() == 3 || self.mstr.is_some() {
            return None;
        }
        self.mstr = Some(self.vals.len());
        self.vals.push((m, 0));
        Some(())
    }
}

/// dateutil's two-digit years: the one within 50 years of now.
pub(super) fn century(v: i64, this_year: i32) -> i64 {
    let this_year = i64::from(this_year);
    let mut y = v + this_year / 100 * 100;
    if y >= this_year + 50 {
        y -= 100;
    } else if y < this_year - 50 {
        y += 100;
    }
    y
}

pub(super) type Ymd = (Option<(i64, usize)>, Option<i64>, Option<i64>);

/// dateutil's `_ymd.resolve_ymd`: which number is the year, month and day.
pub(super) fn resolve_ymd(
    ymd: &[(i64, usize)],
    mstr: Option<usize>,
    ystr: Option<usize>,
    dayfirst: bool,
    yearfirst: bool,
) -> Option<Ymd> {
    let v = |i: usize| ymd[i].0;
    let year = |i: usize| Some(ymd[i]);
    let strids = usize::from(mstr.is_some()) + usize::from(ystr.is_some());
    if ymd.len() == 3 && strids == 2 || (ymd.len() == strids && strids > 0) {
        let (mi, yi) = (mstr, ystr);
        let di = (0..ymd.len()).find(|i| Some(*i) != mi && Some(*i) != yi);
        return Some((yi.and_then(year), mi.map(v), di.map(v)));
    }
    Some(match (ymd.len(), mstr) {
        (0, _) => (None, None, None),
        (1, Some(_)) => (None, Some(v(0)), None),
        (1, None) if v(0) > 31 => (year(0), None, None),
        (1, None) => (None, None, Some(v(0))),
        (2, Some(0)) if v(1) > 31 => (year(1), Some(v(0)), None),
        (2, Some(0)) => (None, Some(v(0)), Some(v(1))),
        (2, Some(_)) if v(0) > 31 => (year(0), Some(v(1)), None),
        (2, Some(_)) => (None, Some(v(1)), Some(v(0))),
        (2, None) if v(0) > 31 => (year(0), Some(v(1)), None),
        (2, None) if v(1) > 31 => (year(1), Some(v(0)), None),
        (2, None) if dayfirst && v(1) <= 12 => (None, Some(v(1)), Some(v(0))),
        (2, None) => (None, Some(v(0)), Some(v(1))),
        (3, Some(0)) if v(1) > 31 => (year(1), Some(v(0)), Some(v(2))),
        (3, Some(0)) => (year(2), Some(v(0)), Some(v(1))),
        (3, Some(1)) if v(0) > 31 || (yearfirst && v(2) <= 31) => (year(0), Some(v(1)), Some(v(2))),
        (3, Some(1)) => (year(2), Some(v(1)), Some(v(0))),
        (3, Some(_)) if v(1) > 31 => (year(1), Some(v(2)), Some(v(0))),
        (3, Some(_)) => (year(0), Some(v(2)), Some(v(1))),
        (3, None) if v(0) > 31 || ystr == Some(0) || (yearfirst && v(1) <= 12 && v(2) <= 31) => {
            if dayfirst && v(2) <= 12 {
                (year(0), Some(v(2)), Some(v(1)))
            } else {
                (year(0), Some(v(1)), Some(v(2)))
            }
        }
        (3, None) if v(0) > 12 || (dayfirst && v(1) <= 12) => (year(2), Some(v(1)), Some(v(0))),
        (3, None) => (year(2), Some(v(0)), Some(v(1))),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
