//! The class and module values templates call: `utils.datetime(...)`, `utils.dateutil.parser`, ...

use super::*;

// Classes and modules

/// The classes that read the time (`now`, `today`) carry the clock they read.
#[derive(Debug, Clone)]
pub(super) enum Class {
    DateTime(WallClock),
    Date(WallClock),
    Time,
    TimeDelta,
    RelativeDelta,
    TzUtc,
    TzOffset,
}

impl Class {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Class::DateTime(_) => "datetime.datetime",
            Class::Date(_) => "datetime.date",
            Class::Time => "datetime.time",
            Class::TimeDelta => "datetime.timedelta",
            Class::RelativeDelta => "dateutil.relativedelta.relativedelta",
            Class::TzUtc => "dateutil.tz.tz.tzutc",
            Class::TzOffset => "dateutil.tz.tz.tzoffset",
        }
    }
}

pub(super) fn dt_value(dt: DateTime) -> Value {
    Value::from_object(dt)
}

impl Object for Class {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let max_date = Date::from_calendar_date(9999, Month::December, 31).ok()?;
        let min_date = Date::from_calendar_date(1, Month::January, 1).ok()?;
        let max_time = Time::from_hms_micro(23, 59, 59, 999_999).ok()?;
        Some(match (&**self, key.as_str()?) {
            (Class::DateTime(_), "min") => dt_value(DateTime {
                d: min_date,
                t: Time::MIDNIGHT,
                tz: None,
            }),
            (Class::DateTime(_), "max") => dt_value(DateTime {
                d: max_date,
                t: max_time,
                tz: None,
            }),
            (Class::Date(_), "min") => Value::from_object(PyDate(min_date)),
            (Class::Date(_), "max") => Value::from_object(PyDate(max_date)),
            (Class::Time, "min") => Value::from_object(PyTime {
                t: Time::MIDNIGHT,
                tz: None,
            }),
            (Class::Time, "max") => Value::from_object(PyTime {
                t: max_time,
                tz: None,
            }),
            (Class::TimeDelta, "min") => Value::from_object(Delta(-MAX_DELTA_DAYS * US_PER_DAY)),
            (Class::TimeDelta, "max") => {
                Value::from_object(Delta((MAX_DELTA_DAYS + 1) * US_PER_DAY - 1))
            }
            (Class::TimeDelta, "resolution") => Value::from_object(Delta(1)),
            _ => return None,
        })
    }

    fn call(self: &Arc<Self>, _: &State, args: &[Value]) -> Result<Value, Error> {
        match &**self {
            Class::DateTime(_) => Ok(dt_value(datetime_args("datetime", args)?)),
            Class::Date(_) => {
                let a = bind("date", args, &["year", "month", "day"])?;
                Ok(Value::from_object(PyDate(make_date(
                    int_arg(&required(&a[0], "year", 1)?)?,
                    int_arg(&required(&a[1], "month", 2)?)?,
                    int_arg(&required(&a[2], "day", 3)?)?,
                )?)))
            }
            Class::Time => Ok(Value::from_object(time_args("time", args, None)?)),
            Class::TimeDelta => timedelta_args(args),
            Class::RelativeDelta => Ok(Value::from_object(RelDelta::new(args)?)),
            Class::TzUtc => {
                bind("tzutc", args, &[])?;
                Ok(Value::from_object(TzInfo(Tz::Utc)))
            }
            Class::TzOffset => {
                let a = bind("tzoffset", args, &["name", "offset"])?;
                let name = match &a[0] {
                    Some(v) if !v.is_none() => Some(Arc::from(str_arg(v, "tzoffset")?)),
                    _ => None,
                };
                let offset = required(&a[1], "offset", 2)?;
                let secs = match offset.downcast_object_ref::<Delta>() {
                    Some(d) => (d.0.div_euclid(US_PER_SEC)) as i32,
                    None => int_arg(&offset)? as i32,
                };
                Ok(Value::from_object(TzInfo(Tz::Offset(name, secs))))
            }
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (pos, _) = split_kwargs(args);
        let first = || pos.first().cloned().unwrap_or(Value::UNDEFINED);
        match (&**self, method) {
            (Class::DateTime(clock), "now") => {
                let a = bind("now", args, &["tz"])?;
                let tz = a[0].as_ref().map_or(Ok(None), tz_arg)?;
                Ok(dt_value(DateTime::now(clock, tz)?))
            }
            (Class::DateTime(clock), "utcnow" | "today") => {
                bind(method, args, &[])?;
                Ok(dt_value(DateTime::now(clock, None)?))
            }
            (Class::DateTime(_), "fromisoformat") => {
                Ok(dt_value(fromisoformat(one_str_arg(method, args)?)?))
            }
            (Class::DateTime(_), "strptime") => match pos {
                [s, f] => Ok(dt_value(strptime(
                    str_arg(s, method)?,
                    str_arg(f, method)?,
                )?)),
                _ => Err(err(format!(
                    "strptime() takes exactly 2 arguments ({} given)",
                    pos.len()
                ))),
            },
            (Class::DateTime(_), "fromtimestamp") => {
                let a = bind(method, args, &["t", "tz"])?;
                let tz = a[1].as_ref().map_or(Ok(None), tz_arg)?;
                Ok(dt_value(DateTime::from_unix(
                    &required(&a[0], "t", 1)?,
                    tz,
                )?))
            }
            (Class::DateTime(_), "utcfromtimestamp") => {
                Ok(dt_value(DateTime::from_unix(&first(), None)?))
            }
            (Class::DateTime(_), "combine") => {
                let a = bind(method, args, &["date", "time", "tzinfo"])?;
                let d = required(&a[0], "date", 1)?;
                let t = required(&a[1], "time", 2)?;
                let d = d
                    .downcast_object_ref::<DateTime>()
                    .map(|x| x.d)
                    .or_else(|| d.downcast_object_ref::<PyDate>().map(|x| x.0))
                    .ok_or_else(|| err("combine() argument 1 must be datetime.date"))?;
                let t = t
                    .downcast_object_ref::<PyTime>()
                    .ok_or_else(|| err("combine() argument 2 must be datetime.time"))?;
                let tz = match &a[2] {
                    Some(v) => tz_arg(v)?,
                    None => t.tz.clone(),
                };
                Ok(dt_value(DateTime { d, t: t.t, tz }))
            }
            (Class::Date(clock), "today") => {
                Ok(Value::from_object(PyDate(DateTime::now(clock, None)?.d)))
            }
            (Class::Date(_), "fromisoformat") => Ok(Value::from_object(PyDate(
                date_fromisoformat(one_str_arg(method, args)?)?,
            ))),
            (Class::Date(_), "fromordinal") => Ok(Value::from_object(PyDate(from_ordinal(
                int_arg(&first())?,
            )?))),
            (Class::Time, "fromisoformat") => Ok(Value::from_object(time_fromisoformat(
                one_str_arg(method, args)?,
            )?)),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<class '{}'>", self.name())
    }
}

/// The Python modules reachable from `utils`; the parser (and dateutil,
/// which leads to it) carries the clock its missing date fields come from.
#[derive(Debug, Clone)]
pub(super) enum Module {
    Dateutil(WallClock),
    RelativeDelta,
    Parser(WallClock),
    Tz,
}

fn parse_fn(clock: &WallClock, s: &str, kw: Kwargs) -> Result<Value, Error> {
    let dayfirst = kw.get::<Option<bool>>("dayfirst")?.unwrap_or(false);
    let yearfirst = kw.get::<Option<bool>>("yearfirst")?.unwrap_or(false);
    kw.assert_all_used()?;
    let today = clock.now().date();
    Ok(dt_value(du_parse(s, dayfirst, yearfirst, today)?))
}

pub(super) fn gettz(name: Option<&str>) -> Result<Value, Error> {
    match name {
        Some("UTC") => Ok(Value::from_object(TzInfo(Tz::UtcFile))),
        other => Err(err(format!(
            "gettz({}): only gettz('UTC') is supported; use tz.UTC or tz.tzoffset(name, seconds)",
            other.map_or("None".into(), py_repr_str)
        ))),
    }
}

impl Object for Module {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        Some(match (&**self, name) {
            (Module::Dateutil(_), "relativedelta") => Value::from_object(Module::RelativeDelta),
            (Module::Dateutil(clock), "parser") => {
                Value::from_object(Module::Parser(clock.clone()))
            }
            (Module::Dateutil(_), "tz") => Value::from_object(Module::Tz),
            (Module::RelativeDelta, "relativedelta") => Value::from_object(Class::RelativeDelta),
            (Module::RelativeDelta, _) => {
                let wd = WEEKDAY_NAMES.iter().position(|n| *n == name)?;
                Value::from_object(Weekday {
                    wd: wd as u8,
                    n: None,
                })
            }
            (Module::Parser(clock), "parse") => {
                let clock = clock.clone();
                Value::from_function(move |s: &str, kw: Kwargs| parse_fn(&clock, s, kw))
            }
            (Module::Parser(_), "isoparse") => {
                Value::from_function(|s: &str| isoparse(s).map(dt_value))
            }
            (Module::Tz, "UTC") => Value::from_object(TzInfo(Tz::Utc)),
            (Module::Tz, "tzutc") => Value::from_object(Class::TzUtc),
            (Module::Tz, "tzoffset") => Value::from_object(Class::TzOffset),
            (Module::Tz, "gettz") => Value::from_function(|name: Option<&str>| gettz(name)),
            _ => return None,
        })
    }

    fn call(self: &Arc<Self>, _: &State, _: &[Value]) -> Result<Value, Error> {
        Err(err("'module' object is not callable"))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &**self {
            Module::Dateutil(_) => "dateutil",
            Module::RelativeDelta => "dateutil.relativedelta",
            Module::Parser(_) => "dateutil.parser",
            Module::Tz => "dateutil.tz",
        };
        write!(f, "<module '{name}'>")
    }
}
