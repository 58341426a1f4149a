//! The `if_*` / `if_not_*` tests of an s3triggers entry, with the matching
//! rules upstream inherits from Python (`fnmatch`, `size_to_bytes`).
//! Upstream: `lambda/s3trigger/s3trigger.py` (event_condition functions),
//! `lava/lib/misc.py` (size_to_bytes).

use serde_json::Value;

use crate::event::S3Record;

/// The condition types; each is also available negated as `if_not_<type>`.
pub const CONDITION_TYPES: [&str; 3] = ["fnmatch", "size_gt", "event_type"];

/// Whether the trigger field is a condition this implementation knows.
pub fn is_condition_field(field: &str) -> bool {
    let name = field
        .strip_prefix("if_not_")
        .or_else(|| field.strip_prefix("if_"));
    name.is_some_and(|n| CONDITION_TYPES.contains(&n))
}

/// Evaluate one `if_*` field against the record. `Err` when the condition
/// argument (or the record) does not allow an answer.
pub fn evaluate(field: &str, arg: &Value, record: &S3Record) -> Result<bool, String> {
    let (negate, name) = match field.strip_prefix("if_not_") {
        Some(name) => (true, name),
        None => (false, field.strip_prefix("if_").unwrap_or(field)),
    };
    let result = match name {
        "fnmatch" => patterns(arg)?.iter().any(|p| fnmatch(&record.key, p)),
        "event_type" => patterns(arg)?
            .iter()
            .any(|p| fnmatch(&record.event_type, p)),
        "size_gt" => {
            let size = record.size.ok_or("the event has no object size")?;
            i128::from(size) > size_to_bytes(arg)?
        }
        _ => return Err(format!("{field}: Unknown condition type")),
    };
    Ok(result != negate)
}

fn patterns(arg: &Value) -> Result<Vec<&str>, String> {
    const MSG: &str = "glob patterns must be a string or list of strings";
    match arg {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(|| MSG.to_string()))
            .collect(),
        _ => Err(MSG.to_string()),
    }
}

/// A size as upstream accepts it: an integer, or a number with a unit
/// (case-sensitive: B, K/KB, M/MB, ... decimal; KiB, MiB, ... binary).
pub fn size_to_bytes(arg: &Value) -> Result<i128, String> {
    let text = match arg {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(i.into());
            }
            if let Some(u) = n.as_u64() {
                return Ok(u.into());
            }
            // Python's int() truncates a float towards zero.
            return Ok(n.as_f64().unwrap_or_default().trunc() as i128);
        }
        Value::String(s) => s.trim(),
        other => return Err(format!("Invalid size type: {other}")),
    };
    if let Ok(i) = text.parse::<i128>() {
        return Ok(i);
    }
    let bad = || format!("Invalid size: {text}");
    let split = text
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let multiplier: f64 = match unit.trim() {
        "B" => 1.0,
        "K" | "KB" => 1e3,
        "M" | "MB" => 1e6,
        "G" | "GB" => 1e9,
        "T" | "TB" => 1e12,
        "P" | "PB" => 1e15,
        "KiB" => 1024f64,
        "MiB" => 1024f64.powi(2),
        "GiB" => 1024f64.powi(3),
        "TiB" => 1024f64.powi(4),
        "PiB" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    let number = number.trim_end();
    if number.is_empty() || number.contains(char::is_whitespace) {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    Ok((value * multiplier).round() as i128)
}

enum Token {
    Any,
    One,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Lit(char),
}

/// Python `fnmatch.fnmatch` on POSIX: whole-string, case-sensitive; `*`
/// (crossing `/`), `?`, `[seq]`, `[!seq]`; an unclosed `[` is literal.
pub fn fnmatch(name: &str, pattern: &str) -> bool {
    let tokens = tokenize(pattern);
    let name: Vec<char> = name.chars().collect();
    // Iterative matching with backtracking to the last `*`.
    let (mut t, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match tokens.get(t) {
            Some(Token::Any) => {
                star = Some((t, n));
                t += 1;
                continue;
            }
            Some(Token::One) => true,
            Some(Token::Lit(c)) => *c == name[n],
            Some(Token::Class { negated, ranges }) => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&name[n])) != *negated
            }
            None => false,
        };
        if step {
            t += 1;
            n += 1;
        } else if let Some((st, sn)) = star {
            t = st + 1;
            n = sn + 1;
            star = Some((st, sn + 1));
        } else {
            return false;
        }
    }
    tokens[t..].iter().all(|tok| matches!(tok, Token::Any))
}

fn tokenize(pattern: &str) -> Vec<Token> {
    let p: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '*' => {
                if !matches!(tokens.last(), Some(Token::Any)) {
                    tokens.push(Token::Any);
                }
            }
            '?' => tokens.push(Token::One),
            '[' => {
                // A `]` right after `[` or `[!` is a member, not the end.
                let mut j = i + 1;
                if p.get(j) == Some(&'!') {
                    j += 1;
                }
                if p.get(j) == Some(&']') {
                    j += 1;
                }
                while j < p.len() && p[j] != ']' {
                    j += 1;
                }
                if j >= p.len() {
                    tokens.push(Token::Lit('['));
                } else {
                    let mut body = &p[i + 1..j];
                    let negated = body.first() == Some(&'!');
                    if negated {
                        body = &body[1..];
                    }
                    tokens.push(Token::Class {
                        negated,
                        ranges: ranges(body),
                    });
                    i = j;
                }
            }
            c => tokens.push(Token::Lit(c)),
        }
        i += 1;
    }
    tokens
}

fn ranges(body: &[char]) -> Vec<(char, char)> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < body.len() {
        if k + 2 < body.len() && body[k + 1] == '-' {
            // Python drops reversed ranges such as z-a.
            if body[k] <= body[k + 2] {
                out.push((body[k], body[k + 2]));
            }
            k += 3;
        } else {
            out.push((body[k], body[k]));
            k += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fnmatch_follows_python() {
        assert!(fnmatch("a/b/c.zip", "*.zip"));
        assert!(fnmatch("a/b/c.zip", "a/*"));
        assert!(!fnmatch("a/b/c.zip", "*.ZIP"));
        assert!(fnmatch("x1", "x?"));
        assert!(!fnmatch("x12", "x?"));
        assert!(fnmatch("b", "[abc]"));
        assert!(!fnmatch("b", "[!abc]"));
        assert!(fnmatch("]", "[]]"));
        assert!(fnmatch("m", "[a-z]"));
        assert!(fnmatch("[x", "[x"));
        assert!(fnmatch("ObjectCreated:Put", "ObjectCreated:*"));
        assert!(fnmatch("", "*"));
        assert!(!fnmatch("", "?"));
        assert!(fnmatch("data/ignore/me.csv", "*ignore*"));
    }

    #[test]
    fn sizes_follow_upstream() {
        assert_eq!(size_to_bytes(&json!(0)), Ok(0));
        assert_eq!(size_to_bytes(&json!("20")), Ok(20));
        assert_eq!(size_to_bytes(&json!("20K")), Ok(20_000));
        assert_eq!(size_to_bytes(&json!(" 1.5 KiB ")), Ok(1536));
        assert_eq!(size_to_bytes(&json!("2MB")), Ok(2_000_000));
        assert_eq!(size_to_bytes(&json!("1e3B")), Ok(1000));
        assert!(size_to_bytes(&json!("20k")).is_err());
        assert!(size_to_bytes(&json!("K")).is_err());
        assert!(size_to_bytes(&json!([1])).is_err());
    }
}
