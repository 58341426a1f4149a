//! Durations as lava writes them (upstream `duration_to_seconds` in
//! `lava/lib/datetime.py`): a number with an optional sign, decimals and
//! exponent, then an optional case-sensitive unit `s`, `m`, `h`, `d` or `w`
//! (seconds when absent). Whitespace around the number and unit is ignored:
//! `90`, `1.5m`, ` 2 h `, `1e2s`, `.5d`.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("Invalid duration: {0:?}")]
    Invalid(String),
    #[error("Negative duration: {0:?}")]
    Negative(String),
    #[error("Duration out of range: {0:?}")]
    OutOfRange(String),
}

/// Seconds per unit letter; the empty unit is seconds.
fn unit_seconds(unit: char) -> Option<f64> {
    Some(match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86400.0,
        'w' => 604800.0,
        _ => return None,
    })
}

/// The grammar upstream's regex accepts: `[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?`.
/// Checked by hand so that Rust's wider float syntax (`inf`, `NaN`) stays out.
fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int = digits(&mut i);
    let mut frac = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac = digits(&mut i);
    }
    if int == 0 && frac == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The duration in seconds exactly as upstream computes it (a float, possibly
/// negative or fractional).
pub fn duration_seconds(s: &str) -> Result<f64, DurationError> {
    let invalid = || DurationError::Invalid(s.to_string());
    let trimmed = s.trim();
    let (number, factor) = match trimmed.chars().last().and_then(unit_seconds) {
        Some(factor) => (trimmed[..trimmed.len() - 1].trim_end(), factor),
        None => (trimmed, 1.0),
    };
    if !is_number(number) {
        return Err(invalid());
    }
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let seconds = value * factor;
    if seconds.is_finite() {
        Ok(seconds)
    } else {
        Err(DurationError::OutOfRange(s.to_string()))
    }
}

/// Whole seconds, rounded half to even like Python's `round()` (which upstream's
/// dispatch helper applies); negative durations are errors.
pub fn parse_duration(s: &str) -> Result<u64, DurationError> {
    whole_seconds(duration_seconds(s)?, s, f64::round_ties_even)
}

/// Whole seconds from a float with the given rounding; `what` names the input
/// in errors.
pub(crate) fn whole_seconds(
    seconds: f64,
    what: &str,
    round: fn(f64) -> f64,
) -> Result<u64, DurationError> {
    let rounded = round(seconds);
    if rounded < 0.0 {
        Err(DurationError::Negative(what.to_string()))
    } else if !rounded.is_finite() || rounded >= u64::MAX as f64 {
        Err(DurationError::OutOfRange(what.to_string()))
    } else {
        Ok(rounded as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_units() {
        for (text, seconds) in [
            ("0", 0),
            ("90", 90),
            ("90s", 90),
            ("3m", 180),
            ("1.5m", 90),
            ("2h", 7200),
            ("1d", 86400),
            ("1w", 604800),
            (" 15 m ", 900),
            ("\t5\n", 5),
            ("+10", 10),
            ("1e2", 100),
            ("1E2s", 100),
            ("2.5e-1m", 15),
            (".5m", 30),
            ("5.", 5),
            ("-0", 0),
        ] {
            assert_eq!(parse_duration(text), Ok(seconds), "{text:?}");
        }
    }

    #[test]
    fn rounds_half_to_even_like_python() {
        assert_eq!(parse_duration("2.5"), Ok(2));
        assert_eq!(parse_duration("3.5"), Ok(4));
        assert_eq!(parse_duration("0.4"), Ok(0));
        assert_eq!(parse_duration("-0.4"), Ok(0));
        assert_eq!(duration_seconds("1.25m"), Ok(75.0));
        assert_eq!(duration_seconds("-1m"), Ok(-60.0));
    }

    #[test]
    fn rejects_what_upstream_rejects() {
        for text in [
            "", " ", "m", "x", "5x", "5 mm", "5M", "5 S", "1m2s", "inf", "nan", "1e", "1e+", ".",
            "-", "+.e1", "5 m s", "1_000", "0x10",
        ] {
            assert!(
                matches!(parse_duration(text), Err(DurationError::Invalid(_))),
                "{text:?}"
            );
        }
        assert!(matches!(
            parse_duration("-1"),
            Err(DurationError::Negative(_))
        ));
        assert!(matches!(
            parse_duration("-1m"),
            Err(DurationError::Negative(_))
        ));
        assert!(matches!(
            parse_duration("1e400"),
            Err(DurationError::OutOfRange(_))
        ));
        assert!(matches!(
            parse_duration("1e30w"),
            Err(DurationError::OutOfRange(_))
        ));
    }
}
