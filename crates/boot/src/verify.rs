//! What a `SHA256SUMS` entry means on a worker.
//!
//! The checksum file sits beside the files it lists and can be written by
//! whoever can write them, so it cannot stop someone with write access to
//! the code area. What it does show is a file our deploy did not write:
//! one upstream's `deploy.sh` or a hand copy put there, or replaced after
//! our deploy listed it. That is the normal state of a code area during a
//! migration, and upstream's boot installs and runs whatever it finds, so by
//! default we do the same with a loud warning. Corruption in transit needs no
//! checksum file: S3 checks what it sends, and a bundle is read whole
//! (bzip2's block CRCs, every tar header) before its installer runs. A realm
//! whose code area only our deploy writes opts in to refusal with
//! `x-workers.<worker|_>.verify: required`.

use serde::Serialize;

use crate::settings::WorkerSettings;
use crate::{BootError, REALMS_TABLE};

/// Whether a file `SHA256SUMS` does not vouch for is used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// The setting that requires verification (e.g. `x-workers._.verify`);
    /// `None`: warn and go on, as upstream's boot would.
    pub required: Option<String>,
}

/// Why a file has no digest to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unverifiable {
    /// The directory has no `SHA256SUMS` (upstream's deploy.sh writes none).
    NoSums,
    /// `SHA256SUMS` has no entry for the file.
    Unlisted,
}

impl Policy {
    /// The realm's policy for the booting worker; `enforce` false
    /// (`--no-verify`) lifts a requirement.
    pub fn of(settings: &WorkerSettings, enforce: bool) -> Policy {
        Policy {
            required: settings
                .require_sums
                .as_ref()
                .filter(|_| enforce)
                .map(|from| format!("x-workers.{from}.verify")),
        }
    }

    /// A file without a digest: the refusal when verification is required,
    /// else the warning logged and the reason it is used unverified.
    pub fn unverifiable(
        &self,
        why: Unverifiable,
        name: &str,
        sums_url: &str,
    ) -> Result<String, BootError> {
        let (name, url) = (name.to_string(), sums_url.to_string());
        if let Some(setting) = self.required.clone() {
            return Err(match why {
                Unverifiable::NoSums => BootError::NoSums { url, name, setting },
                Unverifiable::Unlisted => BootError::NotListed { url, name, setting },
            });
        }
        let reason = match why {
            Unverifiable::NoSums => format!("{sums_url} is missing"),
            Unverifiable::Unlisted => format!("{sums_url} has no entry for it"),
        };
        tracing::warn!(
            "{name} is used UNVERIFIED: {reason} (another tool, such as upstream's \
             deploy.sh, put it there). {}",
            advice()
        );
        Ok(reason)
    }

    /// A file whose digest is not its entry's: refused when verification is
    /// required, else used with a warning.
    pub fn mismatch(&self, url: &str, expected: &str, actual: &str) -> Result<(), BootError> {
        if let Some(setting) = self.required.clone() {
            return Err(BootError::Mismatch {
                url: url.to_string(),
                expected: expected.to_string(),
                actual: actual.to_string(),
                setting,
            });
        }
        tracing::warn!(
            "{url}: sha256 {actual}, but SHA256SUMS says {expected}: another tool \
             replaced it after SHA256SUMS was written; it is used anyway, as upstream's boot \
             would. {}",
            advice()
        );
        Ok(())
    }
}

fn advice() -> String {
    format!(
        "Deploy the release with lavactl (or cargo xtask) deploy, which lists every file, and \
         set x-workers._.verify to \"required\" in the realm's {REALMS_TABLE} item to refuse \
         such files."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_by_default_refusals_when_required() {
        let lenient = Policy::default();
        let strict = Policy {
            required: Some("x-workers.core.verify".into()),
        };
        let sums = "file:///a/_boot_/SHA256SUMS";
        for why in [Unverifiable::NoSums, Unverifiable::Unlisted] {
            assert!(lenient.unverifiable(why, "50-lava.sh", sums).is_ok());
            let err = strict.unverifiable(why, "50-lava.sh", sums).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("50-lava.sh") && msg.contains("x-workers.core.verify"),
                "{msg}"
            );
        }
        assert!(lenient.mismatch("file:///a/x", "aa", "bb").is_ok());
        let msg = strict
            .mismatch("file:///a/x", "aa", "bb")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("file:///a/x") && msg.contains("aa") && msg.contains("bb"));
        assert!(msg.contains("x-workers.core.verify"), "{msg}");
    }

    #[test]
    fn no_verify_lifts_the_requirement() {
        let item = serde_json::json!({"x-workers": {"_": {"verify": "required"}}});
        let settings = WorkerSettings::resolve(&item, "core").unwrap();
        assert_eq!(
            Policy::of(&settings, true).required.as_deref(),
            Some("x-workers._.verify")
        );
        assert_eq!(Policy::of(&settings, false), Policy::default());
    }
}
