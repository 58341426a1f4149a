//! Lava release versions: PEP 440 public versions in their canonical
//! (normalised) spelling, the only spelling upstream's tooling writes.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::names::NameError;

/// A PEP 440 public version: `N(.N)*[{a|b|rc}N][.postN][.devN]`, e.g. 8.3.0,
/// 8.3.0rc1, 8.3.0.post1, 8.3.1.dev2. Only the canonical form parses (no
/// epoch, local part, leading `v`, `-`, upper case or leading zeros), so none
/// contains `-` and the `-` separated artefact names stay unambiguous.
///
/// Display gives back the parsed text. Ordering is PEP 440's (8.10.0 > 8.9.1,
/// 8.3.1.dev2 < 8.3.1a1 < 8.3.1rc1 < 8.3.1 < 8.3.1.post1), and release
/// segments compare with trailing zeros ignored, so 8.3 == 8.3.0: equality and
/// hashing follow that ordering, not the text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version {
    // Boxed: errors carry versions, and clippy's result_large_err counts bytes.
    text: Box<str>,
    release: Box<[u64]>,
    pre: Option<(Phase, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Phase {
    Alpha,
    Beta,
    Rc,
}

/// Where a version stands against the other versions of its release, ranked
/// as PEP 440 does: a bare `.devN` release comes before every pre-release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Stage {
    DevOnly,
    Pre(Phase, u64),
    Final,
}

/// The fields PEP 440 compares, in order.
type Key<'a> = (&'a [u64], Stage, Option<u64>, (bool, u64));

impl Version {
    pub fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            text: format!("{major}.{minor}.{patch}").into(),
            release: [major, minor, patch].into(),
            pre: None,
            post: None,
            dev: None,
        }
    }

    pub fn major(&self) -> u64 {
        self.release[0]
    }

    /// The second release segment; 0 for a one-segment version (8 is 8.0).
    pub fn minor(&self) -> u64 {
        self.release.get(1).copied().unwrap_or(0)
    }

    fn key(&self) -> Key<'_> {
        let zeros = self.release.iter().rev().take_while(|&&n| n == 0).count();
        let stage = match (self.pre, self.post, self.dev) {
            (Some((phase, n)), _, _) => Stage::Pre(phase, n),
            (None, None, Some(_)) => Stage::DevOnly,
            (None, _, _) => Stage::Final,
        };
        // No `.devN` sorts after any `.devN` of the same version.
        let dev = (self.dev.is_none(), self.dev.unwrap_or(0));
        (
            &self.release[..self.release.len() - zeros],
            stage,
            self.post,
            dev,
        )
    }

    fn parse(s: &str) -> Option<Version> {
        let mut rest = s;
        let mut release = vec![number(&mut rest)?];
        while let Some(more) = rest.strip_prefix('.') {
            if !more.starts_with(|c: char| c.is_ascii_digit()) {
                break;
            }
            rest = more;
            release.push(number(&mut rest)?);
        }
        let mut pre = None;
        for (tag, phase) in [("a", Phase::Alpha), ("b", Phase::Beta), ("rc", Phase::Rc)] {
            if let Some(more) = rest.strip_prefix(tag) {
                rest = more;
                pre = Some((phase, number(&mut rest)?));
                break;
            }
        }
        let post = tagged(&mut rest, ".post")?;
        let dev = tagged(&mut rest, ".dev")?;
        rest.is_empty().then(|| Version {
            text: s.into(),
            release: release.into(),
            pre,
            post,
            dev,
        })
    }
}

/// A decimal number at the start of `rest`, consumed; `None` when there is
/// none, it has a leading zero (not canonical) or it overflows.
fn number(rest: &mut &str) -> Option<u64> {
    let len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (digits, after) = rest.split_at(len);
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    *rest = after;
    digits.parse().ok()
}

/// An optional `<tag>N` at the start of `rest`: `Some(None)` when absent,
/// `None` when the tag is there without a canonical number.
fn tagged(rest: &mut &str, tag: &str) -> Option<Option<u64>> {
    match rest.strip_prefix(tag) {
        Some(more) => {
            *rest = more;
            number(rest).map(Some)
        }
        None => Some(None),
    }
}

impl FromStr for Version {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s).ok_or_else(|| NameError::Version(s.to_string()))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Version {}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for Version {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn only_canonical_public_versions_parse() {
        let table: &[(&str, bool)] = &[
            ("8.3.0", true),
            ("8.3", true),
            ("8", true),
            ("8.3.0.1", true),
            ("0.0.0", true),
            ("8.10.0", true),
            ("8.3.0a1", true),
            ("8.3.0b2", true),
            ("8.3.0rc1", true),
            ("8.3.0rc0", true),
            ("8.3.0.post1", true),
            ("8.3.1.dev2", true),
            ("8.3.1rc1.post2.dev3", true),
            ("8.3.1.post1.dev1", true),
            ("8.3.1rc1.dev1", true),
            ("", false),
            ("1!2.0", false),
            ("8.3.0+abc", false),
            ("v8.3.0", false),
            ("8.3.0-rc1", false),
            ("8.3.0-1", false),
            ("8.3.0RC1", false),
            ("8.3.0.rc1", false),
            ("8.3.0_rc1", false),
            ("8.3.0c1", false),
            ("8.3.0alpha1", false),
            ("8.3.0rc", false),
            ("8.3.0rc01", false),
            ("8.3.0post1", false),
            ("8.3.0.post", false),
            ("8.3.0.dev", false),
            ("8.3.0.dev2.post1", false),
            ("8.3.0.post1rc1", false),
            ("8.3.0rc1b1", false),
            ("8.3.0.post1.post2", false),
            ("08.3.0", false),
            ("8.03.0", false),
            ("8.3.00", false),
            ("8..3", false),
            ("8.3.", false),
            (".8.3", false),
            ("8.x.0", false),
            (" 8.3.0", false),
            ("8.3.0 ", false),
            // Beyond u64: legal PEP 440 that no lava release will need.
            ("99999999999999999999.0", false),
        ];
        for &(input, accepted) in table {
            match input.parse::<Version>() {
                Ok(parsed) => {
                    assert!(accepted, "{input:?} accepted");
                    assert_eq!(parsed.to_string(), input, "round trip");
                }
                Err(e) => {
                    assert!(!accepted, "{input:?} refused: {e}");
                    assert_eq!(
                        e.to_string(),
                        format!("bad version {input:?}: expected a PEP 440 public version such as 8.3.0, 8.3.0rc1, 8.3.0.post1 or 8.3.1.dev2"),
                    );
                }
            }
        }
    }

    #[test]
    fn versions_sort_as_pep_440() {
        let sorted = [
            "0.9",
            "8.3.0",
            "8.3.0.post1",
            "8.3.1.dev1",
            "8.3.1.dev2",
            "8.3.1a1.dev1",
            "8.3.1a1",
            "8.3.1a1.post1",
            "8.3.1b1",
            "8.3.1b2",
            "8.3.1rc1.dev1",
            "8.3.1rc1",
            "8.3.1",
            "8.3.1.post1.dev1",
            "8.3.1.post1",
            "8.3.1.post2",
            "8.3.2",
            "8.9.1",
            "8.10.0",
            "9",
        ];
        let mut shuffled: Vec<Version> = sorted.iter().rev().map(|s| v(s)).collect();
        shuffled.swap(0, 7);
        shuffled.swap(3, 12);
        shuffled.sort();
        let got: Vec<String> = shuffled.iter().map(Version::to_string).collect();
        assert_eq!(got, sorted);
    }

    #[test]
    fn version_pairs_compare_as_pep_440() {
        use Ordering::*;
        let pairs = [
            ("8.3", "8.3.0", Equal),
            ("8.3.0.0", "8.3", Equal),
            ("8", "8.0.0", Equal),
            ("8.3rc1", "8.3.0rc1", Equal),
            ("8.3.0", "8.3.0", Equal),
            ("8.10.0", "8.9.1", Greater),
            ("9.0.0", "8.10.0", Greater),
            ("8.3.0.1", "8.3", Greater),
            ("8.3.1.dev2", "8.3.1a1", Less),
            ("8.3.1a1", "8.3.1b1", Less),
            ("8.3.1b1", "8.3.1rc1", Less),
            ("8.3.1rc1", "8.3.1", Less),
            ("8.3.1", "8.3.1.post1", Less),
            ("8.3.1.post1", "8.3.2", Less),
            ("8.3.1rc1.dev1", "8.3.1rc1", Less),
            ("8.3.1.post1.dev1", "8.3.1.post1", Less),
            ("8.3.1.post1.dev1", "8.3.1", Greater),
            ("8.3.1.dev2", "8.3.1", Less),
            ("8.3.1.dev2", "8.3.0.post1", Greater),
            ("8.3.1rc2", "8.3.1rc10", Less),
        ];
        for (a, b, want) in pairs {
            assert_eq!(v(a).cmp(&v(b)), want, "{a} vs {b}");
            assert_eq!(v(b).cmp(&v(a)), want.reverse(), "{b} vs {a}");
            assert_eq!(v(a) == v(b), want == Equal, "{a} == {b}");
        }
    }

    #[test]
    fn equal_versions_hash_alike_and_keep_their_text() {
        use std::collections::HashSet;
        let set: HashSet<Version> = ["8.3", "8.3.0", "8.3.0.0"].map(v).into();
        assert_eq!(set.len(), 1);
        assert!(set.contains(&Version::new(8, 3, 0)));
        assert_eq!(v("8.3").to_string(), "8.3");
        assert_eq!(v("8.3.0.0").to_string(), "8.3.0.0");
    }

    #[test]
    fn fields_and_serde() {
        use serde::de::{value, IntoDeserializer};
        assert_eq!(Version::new(8, 3, 0), v("8.3.0"));
        assert_eq!(Version::new(8, 3, 0).to_string(), "8.3.0");
        assert_eq!((v("8.3.1rc1").major(), v("8.3.1rc1").minor()), (8, 3));
        assert_eq!((v("9").major(), v("9").minor()), (9, 0));
        // Serialised through `into = "String"`: the text as parsed.
        assert_eq!(String::from(v("8.3.0rc1")), "8.3.0rc1");
        let de = |s: &str| {
            let de: value::StrDeserializer<value::Error> = s.into_deserializer();
            Version::deserialize(de)
        };
        assert_eq!(de("8.3.1.post1").unwrap().to_string(), "8.3.1.post1");
        let err = de("8.3.0-rc1").unwrap_err().to_string();
        assert!(
            err.contains("\"8.3.0-rc1\"") && err.contains("PEP 440"),
            "{err}"
        );
    }
}
