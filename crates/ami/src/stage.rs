//! Staging Oracle instant-client zips into `_ami_/oracle/`.
//!
//! The AMI build downloads `instantclient-basiclite-linux-<arch>.zip` and
//! `instantclient-sqlplus-linux-<arch>.zip` from there and unzips both into
//! one directory, so a zip with the wrong architecture, a damaged one, a
//! missing one or two versions side by side only shows when an AMI build
//! fails. [`verify`] finds all of that before anything is written; [`write`]
//! then replaces `_ami_/oracle/` as a whole.
//!
//! The rules:
//! - every `*.zip` in the source directory whose name is an Oracle download of
//!   basic, basiclite or sqlplus is staged (other packages, such as sdk, and
//!   other files are skipped and said so);
//! - each zip is read in full (every entry's CRC), all entries sit under one
//!   `instantclient_<major>_<minor>/` directory (the version; a version in the
//!   file name must agree), every ELF file in it is for the architecture the
//!   name claims and there is at least one ELF shared library (`.so*`);
//!   a basic or basiclite zip holds `libclntsh.so*`, a sqlplus zip `sqlplus`;
//! - each architecture staged has basiclite and sqlplus (what the AMI build
//!   installs; basic is optional), all of one version (they are unzipped into
//!   one directory); the architectures may differ in version;
//! - one zip per package and architecture.
//!
//! Zips are copied byte for byte, never re-packed: Oracle's files stay as
//! Oracle signed them, and staging the same inputs twice gives identical bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use lava_layout::{
    oracle_key, oracle_manifest_key, AmiNameError, Arch, OracleDownload, OraclePackage,
    OracleVersion, Sums, AMI_DIR, ORACLE_PREFIX, SHA256SUMS,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use lava_files::Hashing;

use crate::AmiError;

/// The packages the AMI build installs for each architecture.
pub const REQUIRED: [OraclePackage; 2] = [OraclePackage::Basiclite, OraclePackage::Sqlplus];

/// A verified zip and where it goes.
#[derive(Debug, Clone, Serialize)]
pub struct StagedZip {
    /// Its key in the code area, `_ami_/oracle/instantclient-<pkg>-linux-<arch>.zip`.
    pub key: String,
    #[serde(serialize_with = "package_name")]
    pub package: OraclePackage,
    /// Oracle's spelling (`x64`, `arm64`).
    #[serde(serialize_with = "oracle_arch")]
    pub arch: Arch,
    #[serde(serialize_with = "display")]
    pub version: OracleVersion,
    pub sha256: String,
    pub size: u64,
    /// The file name it was staged from.
    pub source: String,
    #[serde(skip)]
    pub path: PathBuf,
}

/// What [`verify`] found: the zips to stage, and the files it passed over.
#[derive(Debug, Clone)]
pub struct Staging {
    pub from: PathBuf,
    /// Sorted by key.
    pub zips: Vec<StagedZip>,
    /// `<file>: <why it is not staged>`.
    pub skipped: Vec<String>,
}

/// The manifest written beside the zips (`_ami_/oracle/manifest.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Manifest<'a> {
    pub zips: &'a [StagedZip],
}

impl Staging {
    pub fn manifest(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec_pretty(&Manifest { zips: &self.zips })
            .expect("the manifest serialises");
        json.push(b'\n');
        json
    }
}

fn package_name<S: serde::Serializer>(p: &OraclePackage, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.name())
}

fn oracle_arch<S: serde::Serializer>(a: &Arch, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a.oracle())
}

fn display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Check every zip in `from`; write nothing. Every problem found is in the
/// one [`AmiError::Stage`] error.
pub fn verify(from: &Path) -> Result<Staging, AmiError> {
    let mut problems = Vec::new();
    let mut skipped = Vec::new();
    // Upstream's oracle-pkg-sync.sh links the plain name to the versioned
    // file: one file under two names is one zip.
    let mut candidates: BTreeMap<PathBuf, Vec<(String, OracleDownload)>> = BTreeMap::new();
    for name in zip_files(from)? {
        let path = from.join(&name);
        match OracleDownload::parse(&name) {
            Ok(download) => {
                let real = path.canonicalize().map_err(|e| AmiError::io(&path, e))?;
                candidates.entry(real).or_default().push((name, download));
            }
            Err(e @ AmiNameError::OtherOraclePackage { .. }) => skipped.push(e.to_string()),
            Err(e) if name.starts_with("instantclient-") => problems.push(e.to_string()),
            Err(_) => skipped.push(format!("{name}: not an Oracle instant-client zip")),
        }
    }

    // A zip that fails its checks is reported as such, not as missing too.
    let claimed: BTreeSet<(Arch, OraclePackage)> = candidates
        .values()
        .flatten()
        .map(|(_, d)| (d.arch, d.package))
        .collect();
    let mut zips: BTreeMap<(Arch, OraclePackage), Vec<StagedZip>> = BTreeMap::new();
    for (path, mut names) in candidates {
        // The versioned name says the most, so it is checked against the contents.
        names.sort_by_key(|(name, d)| (d.version.is_none(), name.clone()));
        let (name, download) = names.swap_remove(0);
        for (other, d) in &names {
            if (d.package, d.arch) != (download.package, download.arch) {
                problems.push(format!(
                    "{other} and {name} are the same file but name different packages"
                ));
            }
        }
        match inspect(&path, &name, &download) {
            Ok(zip) => zips
                .entry((download.arch, download.package))
                .or_default()
                .push(zip),
            Err(found) => problems.extend(found),
        }
    }

    for ((arch, package), found) in &zips {
        if found.len() > 1 {
            let names: Vec<_> = found.iter().map(|z| z.source.as_str()).collect();
            problems.push(format!(
                "{} zips for {} {}: {}; keep one",
                found.len(),
                package.name(),
                arch.oracle(),
                names.join(", ")
            ));
        }
    }
    let archs: BTreeSet<Arch> = claimed.iter().map(|(a, _)| *a).collect();
    if archs.is_empty() && problems.is_empty() {
        problems.push(format!(
            "no Oracle instant-client zips (instantclient-{{basiclite,sqlplus}}-linux*-{{x64,arm64}}*.zip) in {}",
            from.display()
        ));
    }
    for arch in &archs {
        for package in REQUIRED {
            if !claimed.contains(&(*arch, package)) {
                problems.push(format!(
                    "{}: no {} zip: the AMI build installs {} and {} for each architecture",
                    arch.oracle(),
                    package.name(),
                    REQUIRED[0].name(),
                    REQUIRED[1].name()
                ));
            }
        }
        let of_arch: Vec<&StagedZip> = zips
            .iter()
            .filter(|((a, _), _)| a == arch)
            .flat_map(|(_, z)| z)
            .collect();
        let versions: BTreeSet<OracleVersion> = of_arch.iter().map(|z| z.version).collect();
        if versions.len() > 1 {
            let each: Vec<_> = of_arch
                .iter()
                .map(|z| format!("{} {} ({})", z.package.name(), z.version, z.source))
                .collect();
            problems.push(format!(
                "{}: mixed versions: {}; the AMI build unzips them into one directory",
                arch.oracle(),
                each.join(", ")
            ));
        }
    }

    if !problems.is_empty() {
        return Err(AmiError::Stage {
            from: from.to_path_buf(),
            problems,
        });
    }
    let mut zips: Vec<StagedZip> = zips.into_values().flatten().collect();
    zips.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Staging {
        from: from.to_path_buf(),
        zips,
        skipped,
    })
}

/// `*.zip` files (or links to files) directly in `dir`, sorted.
fn zip_files(dir: &Path) -> Result<Vec<String>, AmiError> {
    let read = std::fs::read_dir(dir).map_err(|e| {
        AmiError::Input(format!(
            "cannot read the Oracle zips directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut names = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| AmiError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".zip") && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// What reading a zip entry by entry found.
#[derive(Default)]
struct Contents {
    top_dirs: BTreeSet<String>,
    files: BTreeSet<String>,
    /// ELF files of another machine, with what they are for.
    foreign: Vec<(String, String)>,
    shared_libraries: usize,
}

/// Check one zip against what its name claims, reading every byte once.
fn inspect(path: &Path, name: &str, claim: &OracleDownload) -> Result<StagedZip, Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| vec![format!("{name}: cannot read: {e}")])?;
    let contents = read_entries(&bytes, claim.arch).map_err(|e| vec![format!("{name}: {e}")])?;
    let mut problems = Vec::new();
    let arch = claim.arch;

    let version = match contents.top_dirs.iter().collect::<Vec<_>>()[..] {
        [dir] => OracleVersion::from_top_dir(dir),
        _ => None,
    };
    let Some(version) = version else {
        let found: Vec<_> = contents.top_dirs.iter().map(|d| format!("{d}/")).collect();
        return Err(vec![format!(
            "{name}: the entries are not all under one instantclient_<major>_<minor>/ \
             directory (found {})",
            found.join(", ")
        )]);
    };
    if let Some(named) = claim.version.filter(|v| *v != version) {
        problems.push(format!(
            "{name}: the name says version {named}, but the zip holds {}/ (version {version})",
            version.top_dir()
        ));
    }

    if !contents.foreign.is_empty() {
        let shown: Vec<_> = contents
            .foreign
            .iter()
            .take(3)
            .map(|(entry, machine)| format!("{entry} ({machine})"))
            .collect();
        let more = contents.foreign.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        problems.push(format!(
            "{name}: the name says {}, but {} ELF file(s) are for another machine: {}{more}",
            arch.oracle(),
            contents.foreign.len(),
            shown.join(", ")
        ));
    } else if contents.shared_libraries == 0 {
        problems.push(format!(
            "{name}: no ELF shared library (.so): cannot confirm it is for {}",
            arch.oracle()
        ));
    }

    let top = version.top_dir();
    let holds = |want: &dyn Fn(&str) -> bool| {
        contents
            .files
            .iter()
            .filter_map(|f| f.strip_prefix(&format!("{top}/")))
            .any(want)
    };
    let (expected, found) = match claim.package {
        OraclePackage::Sqlplus => ("sqlplus", holds(&|f| f == "sqlplus")),
        OraclePackage::Basic | OraclePackage::Basiclite => (
            "libclntsh.so*",
            holds(&|f| !f.contains('/') && f.starts_with("libclntsh.so")),
        ),
    };
    if !found {
        problems.push(format!(
            "{name}: no {top}/{expected}: it is not the {} package",
            claim.package.name()
        ));
    }

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(StagedZip {
        key: oracle_key(claim.package, arch),
        package: claim.package,
        arch,
        version,
        sha256: hex::encode(Sha256::digest(&bytes)),
        size: bytes.len() as u64,
        source: name.to_string(),
        path: path.to_path_buf(),
    })
}

/// Read every entry to its end, so the zip library checks each CRC, and
/// note the top directories, the files and each ELF file not for `arch`.
fn read_entries(bytes: &[u8], arch: Arch) -> Result<Contents, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a readable zip: {e}"))?;
    let mut contents = Contents::default();
    let mut header = Vec::with_capacity(20);
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("entry {i} is damaged: {e}"))?;
        let entry_name = entry.name().to_string();
        let top = entry_name.split('/').next().unwrap_or_default();
        contents.top_dirs.insert(top.to_string());
        if entry.is_dir() {
            continue;
        }
        let symlink = entry.is_symlink();
        header.clear();
        (&mut entry)
            .take(20)
            .read_to_end(&mut header)
            .and_then(|_| std::io::copy(&mut entry, &mut std::io::sink()))
            .map_err(|e| format!("{entry_name}: {e} (the zip is damaged)"))?;
        contents.files.insert(entry_name.clone());
        if symlink || !header.starts_with(b"\x7fELF") {
            continue;
        }
        match Arch::of_elf(&header) {
            Some(a) if a == arch => {
                let file = entry_name.rsplit('/').next().unwrap_or_default();
                if file.ends_with(".so") || file.contains(".so.") {
                    contents.shared_libraries += 1;
                }
            }
            Some(a) => contents.foreign.push((entry_name, a.to_string())),
            None => contents
                .foreign
                .push((entry_name, "neither x86_64 nor aarch64".into())),
        }
    }
    Ok(contents)
}

/// A file [`write`] wrote, by its key below the output directory.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub key: String,
    pub size: u64,
    pub sha256: String,
}

/// Replace `<out>/_ami_/oracle/` with the verified zips, the manifest and
/// `SHA256SUMS`. The new directory is assembled beside the old one and
/// renamed into place, so a failure leaves the old one as it was; a zip that
/// changed since [`verify`] read it is an error.
pub fn write(staging: &Staging, out: &Path) -> Result<Vec<Written>, AmiError> {
    let ami_dir = out.join(AMI_DIR);
    let target = lava_files::key_path(out, ORACLE_PREFIX);
    std::fs::create_dir_all(&ami_dir).map_err(|e| AmiError::io(&ami_dir, e))?;
    let new = tempfile::Builder::new()
        .prefix(".oracle.new-")
        .tempdir_in(&ami_dir)
        .map_err(|e| AmiError::io(&ami_dir, e))?;
    // A temporary directory is private; the staged one is not.
    std::fs::set_permissions(new.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| AmiError::io(new.path(), e))?;

    let mut written = Vec::new();
    let mut sums = Sums::default();
    for zip in &staging.zips {
        let name = file_name(&zip.key);
        let sha256 = copy_hashed(&zip.path, &new.path().join(name))?;
        if sha256 != zip.sha256 {
            return Err(AmiError::Input(format!(
                "{}: changed while being staged (sha256 {} when verified, {sha256} now); \
                 nothing was written",
                zip.path.display(),
                zip.sha256
            )));
        }
        sums.insert(name, &sha256);
        written.push(Written {
            key: zip.key.clone(),
            size: zip.size,
            sha256,
        });
    }
    let manifest = staging.manifest();
    let manifest_key = oracle_manifest_key();
    let sha256 = hex::encode(Sha256::digest(&manifest));
    write_file(&new.path().join(file_name(&manifest_key)), &manifest)?;
    sums.insert(file_name(&manifest_key), &sha256);
    written.push(Written {
        key: manifest_key,
        size: manifest.len() as u64,
        sha256,
    });
    write_file(&new.path().join(SHA256SUMS), sums.render().as_bytes())?;

    // Swap: the old directory moves into a temporary one that is removed.
    let old = tempfile::Builder::new()
        .prefix(".oracle.old-")
        .tempdir_in(&ami_dir)
        .map_err(|e| AmiError::io(&ami_dir, e))?;
    let parked = old.path().join("oracle");
    let had_old = target.exists();
    if had_old {
        std::fs::rename(&target, &parked).map_err(|e| AmiError::io(&target, e))?;
    }
    if let Err(e) = std::fs::rename(new.path(), &target) {
        if had_old {
            // Put the previous staging back; the error is the rename's.
            let _ = std::fs::rename(&parked, &target);
        }
        return Err(AmiError::io(&target, e));
    }
    // Renamed into place: nothing is left to remove.
    let _ = new.keep();
    Ok(written)
}

fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// Copy `from` to `to`, returning the sha256 of what was copied.
fn copy_hashed(from: &Path, to: &Path) -> Result<String, AmiError> {
    let mut input = File::open(from).map_err(|e| AmiError::io(from, e))?;
    let output = File::create(to).map_err(|e| AmiError::io(to, e))?;
    let mut hashing = Hashing::new(output);
    std::io::copy(&mut input, &mut hashing).map_err(|e| AmiError::io(from, e))?;
    let (output, _, sha256) = hashing.finish();
    output.sync_all().map_err(|e| AmiError::io(to, e))?;
    Ok(sha256)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), AmiError> {
    std::fs::write(path, bytes).map_err(|e| AmiError::io(path, e))
}
