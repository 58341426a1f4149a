//! `timedelta` and dateutil's `relativedelta`: values, arithmetic, str().

use super::*;

// timedelta

/// A timedelta, in microseconds.
#[derive(Debug)]
pub(super) struct Delta(pub(super) i128);

pub(super) fn delta_value(us: i128) -> Result<Value, Error> {
    let days = us.div_euclid(US_PER_DAY);
    if days.abs() > MAX_DELTA_DAYS {
        return Err(err(format!(
            "days={days}; must have magnitude <= {MAX_DELTA_DAYS}"
        )));
    }
    Ok(Value::from_object(Delta(us)))
}

pub(super) fn timedelta_args(args: &[Value]) -> Result<Value, Error> {
    const UNITS: [(&str, i128); 7] = [
        ("days", US_PER_DAY),
        ("seconds", US_PER_SEC),
        ("microseconds", 1),
        ("milliseconds", 1000),
        ("minutes", 60 * US_PER_SEC),
        ("hours", 3600 * US_PER_SEC),
        ("weeks", 7 * US_PER_DAY),
    ];
    let a = bind("__new__", args, &UNITS.map(|u| u.0))?;
    // Whole parts add up exactly; fractions are summed and rounded once,
    // half to even, as Python does.
    let (mut whole, mut frac) = (0i128, 0f64);
    for (v, (name, unit)) in a.iter().zip(UNITS) {
        let Some(v) = v else { continue };
        if v.is_integer() {
            // Saturating: anything that large fails the range check anyway.
            whole = whole.saturating_add(i128::try_from(v.clone())?.saturating_mul(unit));
        } else if v.is_number() {
            let f = f64::try_from(v.clone())? * unit as f64;
            whole = whole.saturating_add(f.trunc() as i128);
            frac += f.fract();
        } else {
            return Err(err(format!(
                "unsupported type for timedelta {name} component: {}",
                type_name(v)
            )));
        }
    }
    let floor = frac.floor();
    let (base, rem) = (whole + floor as i128, frac - floor);
    let up = rem > 0.5 || (rem == 0.5 && base % 2 != 0);
    delta_value(base + i128::from(up))
}

impl Delta {
    pub(super) fn parts(&self) -> (i128, i128, i128) {
        let days = self.0.div_euclid(US_PER_DAY);
        let rest = self.0.rem_euclid(US_PER_DAY);
        (days, rest / US_PER_SEC, rest % US_PER_SEC)
    }
}

impl Object for Delta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let (d, s, us) = self.parts();
        Some(match key.as_str()? {
            "days" => Value::from(d as i64),
            "seconds" => Value::from(s as i64),
            "microseconds" => Value::from(us as i64),
            _ => return None,
        })
    }

    fn call_method(self: &Arc<Self>, _: &State, method: &str, _: &[Value]) -> Result<Value, Error> {
        match method {
            "total_seconds" => Ok(Value::from(self.0 as f64 / 1e6)),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn is_true(self: &Arc<Self>) -> bool {
        self.0 != 0
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<Self>()?.0))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, s, us) = self.parts();
        if d != 0 {
            let plural = if d.abs() == 1 { "" } else { "s" };
            write!(f, "{d} day{plural}, ")?;
        }
        write!(f, "{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)?;
        if us != 0 {
            write!(f, ".{us:06}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// dateutil.relativedelta

/// A dateutil weekday (`MO`, `MO(-1)`, ...).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Weekday {
    pub(super) wd: u8,
    pub(super) n: Option<i64>,
}

impl Object for Weekday {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "weekday" => Some(Value::from(self.wd)),
            "n" => Some(Value::from(self.n)),
            _ => None,
        }
    }

    fn call(self: &Arc<Self>, _: &State, args: &[Value]) -> Result<Value, Error> {
        let a = bind("weekday", args, &["n"])?;
        let n = match &a[0] {
            Some(v) if !v.is_none() => Some(int_arg(v)?),
            _ => None,
        };
        Ok(Value::from_object(Weekday { wd: self.wd, n }))
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let o = other.downcast_ref::<Self>()?;
        Some((self.wd, self.n).cmp(&(o.wd, o.n)))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = WEEKDAY_NAMES[usize::from(self.wd)];
        match self.n {
            Some(n) if n != 0 => write!(f, "{name}({n:+})"),
            _ => f.write_str(name),
        }
    }
}

/// Largest relative value taken: 10^17 microseconds is over 3000 years.
pub(super) const REL_LIMIT: i64 = 100_000_000_000_000_000;

pub(super) const REL_NAMES: [&str; 8] = [
    "years",
    "months",
    "days",
    "leapdays",
    "hours",
    "minutes",
    "seconds",
    "microseconds",
];
pub(super) const ABS_NAMES: [&str; 7] = [
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "microsecond",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct RelDelta {
    /// years, months, days, leapdays, hours, minutes, seconds, microseconds.
    pub(super) rel: [i64; 8],
    /// year, month, day, hour, minute, second, microsecond.
    pub(super) abs: [Option<i64>; 7],
    pub(super) weekday: Option<Weekday>,
}

impl RelDelta {
    pub(super) fn new(args: &[Value]) -> Result<RelDelta, Error> {
        const NAMES: [&str; 19] = [
            "dt1",
            "dt2",
            "years",
            "months",
            "days",
            "leapdays",
            "weeks",
            "hours",
            "minutes",
            "seconds",
            "microseconds",
            "year",
            "month",
            "day",
            "weekday",
            "hour",
            "minute",
            "second",
            "microsecond",
        ];
        let a = bind("relativedelta", args, &NAMES)?;
        // As dateutil: with both dt1 and dt2 the other arguments are ignored,
        // and so is a lone dt1 or dt2.
        if let (Some(x), Some(y)) = (&a[0], &a[1]) {
            return RelDelta::between(&as_datetime(x)?, &as_datetime(y)?);
        }
        let rel_int = |slot: usize| -> Result<i64, Error> {
            match &a[slot] {
                Some(v) if v.is_number() && !v.is_integer() => Err(err(if slot < 4 {
                    "Non-integer years and months are ambiguous and not currently supported."
                } else {
                    "relativedelta: non-integer days, hours, ... are not supported"
                })),
                // Beyond this no result is a valid date; it keeps the i64
                // arithmetic below from overflowing.
                v => match opt_int(v, 0)? {
                    n if n.abs() > REL_LIMIT => Err(err("relativedelta value out of range")),
                    n => Ok(n),
                },
            }
        };
        let mut rd = RelDelta::default();
        for (i, slot) in [2, 3, 4, 5, 7, 8, 9, 10].into_iter().enumerate() {
            rd.rel[i] = rel_int(slot)?;
        }
        rd.rel[2] += rel_int(6)? * 7;
        for (i, slot) in [11, 12, 13, 15, 16, 17, 18].into_iter().enumerate() {
            rd.abs[i] = match &a[slot] {
                Some(v) if !v.is_none() => Some(int_arg(v)?),
                _ => None,
            };
        }
        rd.weekday = match &a[14] {
            Some(v) if v.is_integer() => {
                let wd = usize::try_from(int_arg(v)?)
                    .ok()
                    .filter(|w| *w < 7)
                    .ok_or_else(|| err("tuple index out of range"))?;
                Some(Weekday {
                    wd: wd as u8,
                    n: None,
                })
            }
            Some(v) if !v.is_none() => Some(
                *v.downcast_object_ref::<Weekday>()
                    .ok_or_else(|| err("weekday must be an int or a dateutil weekday"))?,
            ),
            _ => None,
        };
        Ok(rd.fixed())
    }

    /// dateutil's `relativedelta(dt1, dt2)`: whole months first, then the rest.
    pub(super) fn between(dt1: &DateTime, dt2: &DateTime) -> Result<RelDelta, Error> {
        let mut months = (i64::from(dt1.d.year()) - i64::from(dt2.d.year())) * 12
            + month_num(dt1.d)
            - month_num(dt2.d);
        let with_months = |months: i64| {
            let mut rd = RelDelta::default();
            rd.rel[0] = months.signum() * (months.abs() / 12);
            rd.rel[1] = months.signum() * (months.abs() % 12);
            rd
        };
        let mut rd = with_months(months);
        let mut dtm = rd.apply_datetime(dt2)?;
        // dateutil steps the month count back while it overshoots dt1.
        let before = dt1.sub(dt2)? < 0;
        let step = if before { 1 } else { -1 };
        loop {
            let diff = dt1.sub(&dtm)?;
            if !(if before { diff > 0 } else { diff < 0 }) {
                break;
            }
            months += step;
            rd = with_months(months);
            dtm = rd.apply_datetime(dt2)?;
        }
        let delta = dt1.sub(&dtm)?;
        rd.rel[6] = i64::try_from(delta.div_euclid(US_PER_SEC)).map_err(|_| err("overflow"))?;
        rd.rel[7] = (delta.rem_euclid(US_PER_SEC)) as i64;
        Ok(rd.fixed())
    }

    /// dateutil's `_fix`: carry each relative unit into the next, keeping signs.
    pub(super) fn fixed(mut self) -> RelDelta {
        // (index, limit, next index): microseconds, seconds, minutes, hours, months.
        for (i, limit, next) in [
            (7, 1_000_000, 6),
            (6, 60, 5),
            (5, 60, 4),
            (4, 24, 2),
            (1, 12, 0),
        ] {
            let v = self.rel[i];
            if v.abs() >= limit {
                let s = v.signum();
                let (div, m) = ((v * s) / limit, (v * s) % limit);
                self.rel[i] = m * s;
                self.rel[next] += div * s;
            }
        }
        self
    }

    pub(super) fn neg(&self) -> RelDelta {
        let mut rd = self.clone();
        for v in &mut rd.rel {
            *v = -*v;
        }
        rd
    }

    /// `self + other` (sign 1) or `self - other` (sign -1), as dateutil.
    pub(super) fn combine(&self, other: &RelDelta, sign: i64) -> RelDelta {
        let mut rd = RelDelta::default();
        for i in 0..8 {
            rd.rel[i] = self.rel[i] + sign * other.rel[i];
        }
        // Adding prefers the right side's absolute values, subtracting the left's.
        let (first, second) = if sign > 0 {
            (other, self)
        } else {
            (self, other)
        };
        for i in 0..7 {
            rd.abs[i] = first.abs[i].or(second.abs[i]);
        }
        rd.weekday = first.weekday.or(second.weekday);
        rd.fixed()
    }

    pub(super) fn plus_delta(&self, us: i128) -> RelDelta {
        let mut rd = self.clone();
        let (days, secs, micros) = Delta(us).parts();
        rd.rel[2] += days as i64;
        rd.rel[6] += secs as i64;
        rd.rel[7] += micros as i64;
        rd.fixed()
    }

    pub(super) fn scale(&self, f: f64) -> RelDelta {
        let mut rd = self.clone();
        for v in &mut rd.rel {
            *v = (*v as f64 * f).clamp(-REL_LIMIT as f64, REL_LIMIT as f64) as i64;
        }
        rd.fixed()
    }

    /// dateutil's `__add__` to a datetime: absolute fields, then months
    /// (clipping the day), then the rest, then the weekday jump.
    pub(super) fn apply_datetime(&self, dt: &DateTime) -> Result<DateTime, Error> {
        let (d, rest) = self.apply_calendar(dt.d)?;
        let t = make_time(
            self.abs[3].unwrap_or(i64::from(dt.t.hour())),
            self.abs[4].unwrap_or(i64::from(dt.t.minute())),
            self.abs[5].unwrap_or(i64::from(dt.t.second())),
            self.abs[6].unwrap_or(i64::from(dt.t.microsecond())),
        )?;
        let ret = DateTime {
            d,
            t,
            tz: dt.tz.clone(),
        }
        .add(rest)?;
        let jump = self.weekday_jump(ret.d);
        ret.add(i128::from(jump) * US_PER_DAY)
    }

    pub(super) fn apply_date(&self, d: Date) -> Result<Value, Error> {
        // dateutil turns the date into a datetime when there is a time part.
        if self.abs[3..].iter().any(Option::is_some) || self.rel[4..].iter().any(|v| *v != 0) {
            let dt = DateTime {
                d,
                t: Time::MIDNIGHT,
                tz: None,
            };
            return self.apply_datetime(&dt).map(Value::from_object);
        }
        let (d, rest) = self.apply_calendar(d)?;
        // A date takes only the whole days of the remaining timedelta.
        let d = from_ordinal(
            ordinal(d)
                + i64::try_from(rest.div_euclid(US_PER_DAY))
                    .map_err(|_| err("date value out of range"))?,
        )?;
        let jump = self.weekday_jump(d);
        date_add_days(d, i128::from(jump))
    }

    /// The replaced date and the relative part still to add, in microseconds.
    pub(super) fn apply_calendar(&self, d: Date) -> Result<(Date, i128), Error> {
        let mut year = self.abs[0].unwrap_or(i64::from(d.year())) + self.rel[0];
        let mut month = self.abs[1].unwrap_or(month_num(d));
        if self.rel[1] != 0 {
            month += self.rel[1];
            if month > 12 {
                year += 1;
                month -= 12;
            } else if month < 1 {
                year -= 1;
                month += 12;
            }
        }
        if !(1..=9999).contains(&year) {
            return Err(err(format!("year {year} is out of range")));
        }
        if !(1..=12).contains(&month) {
            return Err(err("month must be in 1..12"));
        }
        let day = days_in_month(year, month).min(self.abs[2].unwrap_or(i64::from(d.day())));
        let d = make_date(year, month, day)?;
        let mut days = self.rel[2];
        if self.rel[3] != 0 && month > 2 && is_leap(year) {
            days += self.rel[3];
        }
        let rest = i128::from(days) * US_PER_DAY
            + (i128::from(self.rel[4]) * 3600
                + i128::from(self.rel[5]) * 60
                + i128::from(self.rel[6]))
                * US_PER_SEC
            + i128::from(self.rel[7]);
        Ok((d, rest))
    }

    pub(super) fn weekday_jump(&self, d: Date) -> i64 {
        let Some(w) = self.weekday else { return 0 };
        // dateutil treats n=None and n=0 alike.
        let nth = w.n.filter(|n| *n != 0).unwrap_or(1);
        let (cur, target) = (weekday0(d) as i64, i64::from(w.wd));
        let mut jump = (nth.abs() - 1) * 7;
        if nth > 0 {
            jump + (7 - cur + target).rem_euclid(7)
        } else {
            jump += (cur - target).rem_euclid(7);
            -jump
        }
    }
}

pub(super) fn as_datetime(v: &Value) -> Result<DateTime, Error> {
    if let Some(dt) = v.downcast_object_ref::<DateTime>() {
        Ok(dt.clone())
    } else if let Some(d) = v.downcast_object_ref::<PyDate>() {
        Ok(DateTime {
            d: d.0,
            t: Time::MIDNIGHT,
            tz: None,
        })
    } else {
        Err(err("relativedelta only diffs datetime/date"))
    }
}

/// Python's `format(x, '+g')` for the integers relativedelta holds.
pub(super) fn fmt_plus_g(v: i64) -> String {
    let s = if v.unsigned_abs() < 1_000_000 {
        v.abs().to_string()
    } else {
        let digits = v.unsigned_abs().to_string();
        let exp = digits.len() - 1;
        // Six significant digits, rounded half to even as C's printf does.
        let mantissa = format!("{:.5}", v.unsigned_abs() as f64 / 10f64.powi(exp as i32));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        format!("{mantissa}e+{exp:02}")
    };
    format!("{}{s}", if v < 0 { '-' } else { '+' })
}

impl Object for RelDelta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if let Some(i) = REL_NAMES.iter().position(|n| *n == name) {
            return Some(Value::from(self.rel[i]));
        }
        if let Some(i) = ABS_NAMES.iter().position(|n| *n == name) {
            return Some(Value::from(self.abs[i]));
        }
        match name {
            "weeks" => Some(Value::from(self.rel[2] / 7)),
            "weekday" => Some(self.weekday.map_or(Value::from(()), Value::from_object)),
            _ => None,
        }
    }

    fn is_true(self: &Arc<Self>) -> bool {
        **self != RelDelta::default()
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<Self>()?;
        if **self == *other {
            Some(Ordering::Equal)
        } else {
            Some(format!("{self:?}").cmp(&format!("{other:?}")))
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (name, v) in REL_NAMES.iter().zip(self.rel) {
            if v != 0 {
                parts.push(format!("{name}={}", fmt_plus_g(v)));
            }
        }
        for (name, v) in ABS_NAMES.iter().zip(self.abs).take(3) {
            if let Some(v) = v {
                parts.push(format!("{name}={v}"));
            }
        }
        if let Some(w) = self.weekday {
            parts.push(format!("weekday={}", Value::from_object(w)));
        }
        for (name, v) in ABS_NAMES.iter().zip(self.abs).skip(3) {
            if let Some(v) = v {
                parts.push(format!("{name}={v}"));
            }
        }
        write!(f, "relativedelta({})", parts.join(", "))
    }
}

// ---------------------------------------------------------------------------
