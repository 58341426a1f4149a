//! strftime as glibc renders it, with Python's `%f`, `%z` and `%Z`.

use super::*;

// strftime

/// What Python builds the C `struct tm` from: it decides `tm_isdst`, which
/// glibc consults for the `%z`/`%Z` forms Python does not handle itself.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum TmKind {
    DateTime,
    Date,
    Time,
}

/// One glibc conversion spec: `%` flags width modifier conversion.
pub(super) struct Spec {
    pub(super) pad: Option<char>,
    pub(super) upper: bool,
    pub(super) swap: bool,
    pub(super) width: Option<usize>,
}

impl Spec {
    pub(super) fn num(&self, v: i64, width: usize, pad: char) -> String {
        let width = self
            .width
            .unwrap_or(if self.pad == Some('-') { 0 } else { width });
        let pad = match self.pad {
            Some('_' | '-') => ' ',
            Some('0') => '0',
            _ => pad,
        };
        // glibc pads in front of the sign, zeros included.
        let digits = v.to_string();
        let fill = width.saturating_sub(digits.len());
        format!("{}{digits}", pad.to_string().repeat(fill))
    }

    pub(super) fn text(&self, s: &str) -> String {
        let s = if self.upper {
            s.to_uppercase()
        } else {
            s.to_string()
        };
        let fill = self.width.unwrap_or(0).saturating_sub(s.chars().count());
        let pad = if self.pad == Some('0') { "0" } else { " " };
        format!("{}{s}", pad.repeat(fill))
    }
}

/// Python's `strftime` on Linux: `%z`, `%:z`, `%Z` and `%f` are Python's,
/// every other spec is glibc's in the C locale.
pub(super) fn strftime(fmt: &str, d: Date, t: Time, tz: Option<&Tz>, kind: TmKind) -> String {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        match (chars.get(i + 1), chars.get(i + 2)) {
            (Some('z'), _) => {
                out.push_str(&tz.map_or(String::new(), |z| fmt_offset(z.offset(), false)));
                i += 2;
                continue;
            }
            // Python 3.12 added %:z.
            (Some(':'), Some('z')) => {
                out.push_str(&tz.map_or(String::new(), |z| fmt_offset(z.offset(), true)));
                i += 3;
                continue;
            }
            (Some('Z'), _) => {
                out.push_str(&tz.and_then(Tz::name).unwrap_or_default());
                i += 2;
                continue;
            }
            (Some('f'), _) => {
                out.push_str(&format!("{:06}", t.microsecond()));
                i += 2;
                continue;
            }
            _ => {}
        }
        let start = i;
        i += 1;
        let mut spec = Spec {
            pad: None,
            upper: false,
            swap: false,
            width: None,
        };
        while let Some(&c) = chars.get(i) {
            match c {
                '^' => spec.upper = true,
                '#' => spec.swap = true,
                '_' | '-' | '0' => spec.pad = Some(c),
                _ => break,
            }
            i += 1;
        }
        let mut width = String::new();
        while let Some(c) = chars.get(i).filter(|c| c.is_ascii_digit()) {
            width.push(*c);
            i += 1;
        }
        spec.width = width.parse().ok();
        let modifier = chars.get(i).copied().filter(|c| *c == 'E' || *c == 'O');
        if modifier.is_some() {
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            // An unfinished spec is copied as it is.
            out.extend(&chars[start..]);
            break;
        };
        i += 1;
        let literal: String = chars[start..i].iter().collect();
        let ok_modifier = match modifier {
            Some('E') => "cCxXyYz".contains(conv),
            Some('O') => "deHIjklmMSuUVwWyz".contains(conv),
            _ => true,
        };
        let piece = if ok_modifier {
            glibc_conv(conv, &spec, d, t, tz, kind)
        } else {
            None
        };
        out.push_str(&piece.unwrap_or_else(|| spec.text(&literal)));
    }
    out
}

pub(super) fn glibc_conv(
    conv: char,
    spec: &Spec,
    d: Date,
    t: Time,
    tz: Option<&Tz>,
    kind: TmKind,
) -> Option<String> {
    let year = i64::from(d.year());
    let wd = weekday0(d);
    let yday = i64::from(d.ordinal()) - 1;
    let sunday_wd = ((wd + 1) % 7) as i64;
    let (iso_year, iso_week, _) = d.to_iso_week_date();
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => i64::from(h),
    };
    let am = t.hour() < 12;
    // glibc sees tm_isdst -1 for naive values and datetime.timezone (whose
    // dst() is None) and then prints no zone; otherwise the local zone, UTC.
    let has_zone = kind == TmKind::DateTime && tz.is_some_and(Tz::has_dst);
    let sub = |f: &str| strftime(f, d, t, tz, kind);
    let swap_upper = |s: &str| {
        if spec.swap {
            s.to_uppercase()
        } else {
            s.to_string()
        }
    };
    Some(match conv {
        'a' => spec.text(&swap_upper(&DAYS[wd][..3])),
        'A' => spec.text(&swap_upper(DAYS[wd])),
        'b' | 'h' => spec.text(&swap_upper(&MONTHS[month_num(d) as usize - 1][..3])),
        'B' => spec.text(&swap_upper(MONTHS[month_num(d) as usize - 1])),
        'p' if spec.swap => spec.text(if am { "am" } else { "pm" }),
        'p' => spec.text(if am { "AM" } else { "PM" }),
        'P' => Spec {
            upper: false,
            ..*spec
        }
        .text(if am { "am" } else { "pm" }),
        'c' => spec.text(&sub("%a %b %e %H:%M:%S %-Y")),
        'x' | 'D' => spec.text(&sub("%m/%d/%y")),
        'X' | 'T' => spec.text(&sub("%H:%M:%S")),
        'r' => spec.text(&sub("%I:%M:%S %p")),
        'R' => spec.text(&sub("%H:%M")),
        'F' => spec.text(&sub("%-Y-%m-%d")),
        'n' => spec.text("\n"),
        't' => spec.text("\t"),
        '%' => spec.text("%"),
        'C' => spec.num(year / 100, year_width(spec, 2), '0'),
        'd' => spec.num(i64::from(d.day()), 2, '0'),
        'e' => spec.num(i64::from(d.day()), 2, ' '),
        'g' => spec.num(i64::from(iso_year).rem_euclid(100), 2, '0'),
        'G' => spec.num(i64::from(iso_year), year_width(spec, 4), '0'),
        'Y' => spec.num(year, year_width(spec, 4), '0'),
        'y' => spec.num(year.rem_euclid(100), 2, '0'),
        'H' => spec.num(i64::from(t.hour()), 2, '0'),
        'I' => spec.num(hour12, 2, '0'),
        'k' => spec.num(i64::from(t.hour()), 2, ' '),
        'l' => spec.num(hour12, 2, ' '),
        'j' => spec.num(yday + 1, 3, '0'),
        'm' => spec.num(month_num(d), 2, '0'),
        'M' => spec.num(i64::from(t.minute()), 2, '0'),
        'S' => spec.num(i64::from(t.second()), 2, '0'),
        'u' => spec.num(wd as i64 + 1, 1, '0'),
        'w' => spec.num(sunday_wd, 1, '0'),
        'U' => spec.num((yday + 7 - sunday_wd) / 7, 2, '0'),
        'W' => spec.num((yday + 7 - wd as i64) / 7, 2, '0'),
        'V' => spec.num(i64::from(iso_week), 2, '0'),
        // mktime() of the wall time in the local zone, UTC.
        's' => spec.num(
            (ordinal(d) - EPOCH_ORDINAL) * 86_400 + (time_us(t) / US_PER_SEC) as i64,
            1,
            ' ',
        ),
        // Only flagged %z/%Z reach glibc, which knows the local zone only.
        'z' if has_zone => format!("+{}", spec.num(0, 4, '0')),
        'Z' if has_zone && spec.swap => spec.text("utc"),
        'Z' if has_zone => spec.text("UTC"),
        'z' | 'Z' => String::new(),
        _ => return None,
    })
}

/// glibc does not pad years (%Y, %G, %C) unless a flag asks; Python 3.12
/// writes a plain %Y or %G with four digits itself.
pub(super) fn year_width(spec: &Spec, digits: usize) -> usize {
    let plain = spec.pad.is_none() && spec.width.is_none() && !spec.upper && !spec.swap;
    match spec.pad {
        None if plain && digits == 4 => 4,
        Some('0' | '_') => digits,
        _ => 1,
    }
}

// ---------------------------------------------------------------------------
