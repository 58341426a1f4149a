//! `SHA256SUMS` files, one per directory of the code area: the `sha256sum`
//! format, one `<hex>  <name>` line per file, sorted by name.

use std::collections::BTreeMap;

/// File name -> lowercase hex sha256.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums(pub BTreeMap<String, String>);

impl Sums {
    /// Read a checksum file. Lines that are not `<64 hex> <space>[ *]<name>`
    /// are returned apart, so one bad line costs one entry, not the file.
    pub fn parse(text: &str) -> (Sums, Vec<String>) {
        let mut sums = BTreeMap::new();
        let mut malformed = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let entry = line.split_once(' ').and_then(|(sha, rest)| {
                let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*'))?;
                let ok = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
                (ok && !name.is_empty()).then(|| (name.to_string(), sha.to_ascii_lowercase()))
            });
            match entry {
                Some((name, sha)) => {
                    sums.insert(name, sha);
                }
                None => malformed.push(line.to_string()),
            }
        }
        (Sums(sums), malformed)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn insert(&mut self, name: impl Into<String>, sha256: impl Into<String>) {
        self.0.insert(name.into(), sha256.into());
    }

    pub fn render(&self) -> String {
        self.0
            .iter()
            .map(|(name, sha)| format!("{sha}  {name}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_sha256sum_writes() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let text = format!("{a}  x.zip\n{b} *y.zip\nnonsense\n\n");
        let (sums, malformed) = Sums::parse(&text);
        assert_eq!(sums.get("x.zip"), Some(a.as_str()));
        assert_eq!(sums.get("y.zip"), Some("b".repeat(64).as_str()));
        assert_eq!(malformed, vec!["nonsense".to_string()]);
        assert_eq!(
            sums.render(),
            format!("{a}  x.zip\n{}  y.zip\n", "b".repeat(64))
        );
        assert_eq!(Sums::parse(&sums.render()).0, sums);
    }

    #[test]
    fn two_spaces_then_star_is_part_of_the_name() {
        let text = format!("{}  *y.tar.bz2\n", "c".repeat(64));
        let (sums, _) = Sums::parse(&text);
        assert_eq!(sums.get("y.tar.bz2"), None);
        assert!(sums.get("*y.tar.bz2").is_some());
    }
}
