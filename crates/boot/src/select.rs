//! Which worker bundle a booting worker installs: the seed's selection sequence,
//! with an old-style name meaning exactly `lava-<VERSION>.tar.bz2`.

use std::fmt;

use lava_layout::{PackageName, Runtime, Version, SHA256SUMS};

/// Why a bundle was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The pinned version, named for this platform.
    PinnedNew,
    /// The pinned version had no name for this platform; its old-style bundle.
    PinnedOld,
    /// Nothing pinned: the highest version named for this platform.
    HighestNew,
    /// Nothing pinned and nothing named for this platform: the highest old-style bundle.
    HighestOld,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::PinnedNew => "the pinned version, built for this platform",
            Reason::PinnedOld => "the pinned version has no bundle for this platform; using its old-style bundle",
            Reason::HighestNew => "no version pinned; the highest version built for this platform",
            Reason::HighestOld => "no version pinned and no bundle built for this platform; the highest old-style bundle",
        })
    }
}

/// The outcome of a successful selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The file name as listed (aliases kept, so it can be fetched as is).
    pub name: String,
    pub package: PackageName,
    pub reason: Reason,
}

/// Nothing fits: the boot must abort.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("lava {version} is pinned but there is no lava-{version}-{platform}.tar.bz2 nor lava-{version}.tar.bz2")]
    PinnedMissing { version: Version, platform: Runtime },
    #[error("no bundle for {platform}: no lava-<version>-{platform}.tar.bz2 and no old-style lava-<version>.tar.bz2")]
    NothingFits { platform: Runtime },
}

/// A listed name that is not a bundle name, skipped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

/// Choose from the file names of `_dist_/pkg/<os>/` for `platform`, honouring
/// `pin`. Names that do not parse are returned as skipped, never chosen.
pub fn select(
    listing: &[String],
    platform: &Runtime,
    pin: Option<&Version>,
) -> (Result<Selection, SelectError>, Vec<Skipped>) {
    let mut skipped = Vec::new();
    let mut new = Vec::new();
    let mut old = Vec::new();
    for name in listing {
        if name == SHA256SUMS {
            continue;
        }
        match PackageName::parse(name) {
            Ok(package @ PackageName::New { .. }) => {
                // Another platform's bundle is never a candidate, whatever its version.
                if matches!(&package, PackageName::New { runtime, .. } if runtime == platform) {
                    new.push((name, package));
                }
            }
            Ok(package @ PackageName::Old { .. }) => old.push((name, package)),
            Err(e) => skipped.push(Skipped {
                name: name.clone(),
                reason: e.to_string(),
            }),
        }
    }
    let chosen = |(name, package): (&String, PackageName), reason| Selection {
        name: name.clone(),
        package,
        reason,
    };
    let result = match pin {
        Some(version) => {
            let new = new.into_iter().find(|(_, p)| p.version() == version);
            let old = old.into_iter().find(|(_, p)| p.version() == version);
            match (new, old) {
                (Some(c), _) => Ok(chosen(c, Reason::PinnedNew)),
                (None, Some(c)) => Ok(chosen(c, Reason::PinnedOld)),
                (None, None) => Err(SelectError::PinnedMissing {
                    version: version.clone(),
                    platform: platform.clone(),
                }),
            }
        }
        None => {
            let new = new
                .into_iter()
                .max_by(|a, b| a.1.version().cmp(b.1.version()));
            let old = old
                .into_iter()
                .max_by(|a, b| a.1.version().cmp(b.1.version()));
            match (new, old) {
                (Some(c), _) => Ok(chosen(c, Reason::HighestNew)),
                (None, Some(c)) => Ok(chosen(c, Reason::HighestOld)),
                (None, None) => Err(SelectError::NothingFits {
                    platform: platform.clone(),
                }),
            }
        }
    };
    (result, skipped)
}
