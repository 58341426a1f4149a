//! `ami stage` on instant-client zips these tests build themselves (real ELF
//! headers for both architectures, no Oracle binaries), and `ami list`
//! against moto's EC2, CloudFormation and STS.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use lava_ami::list::{Clients, Listing};
use lava_ami::stage;
use lava_ami::AmiError;
use lava_config::{Config, Environment, Substitution};
use lava_layout::{oracle_key, Arch, OraclePackage, Sums, Version};
use lava_tests::cfn::{self, REALM_STACK, WORKER_STACK};
use lava_tests::files_under;
use lava_tests::moto::{self, command_sdk_config, Moto, MOTO_ACCOUNT};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

/// A 64-bit little-endian ELF header for `arch`.
fn elf(arch: Arch, kind: u16) -> Vec<u8> {
    let mut header = vec![0u8; 64];
    header[..4].copy_from_slice(b"\x7fELF");
    header[4] = 2;
    header[5] = 1;
    header[6] = 1;
    header[16..18].copy_from_slice(&kind.to_le_bytes());
    header[18..20].copy_from_slice(&arch.elf_machine().to_le_bytes());
    header.extend_from_slice(b"not really code");
    header
}

const SHARED: u16 = 3;
const EXECUTABLE: u16 = 2;

/// An instant-client zip of `package` for `arch` (the ELF machine inside),
/// version `major.minor`, shaped as Oracle's: everything under
/// `instantclient_<major>_<minor>/`, the libclntsh link a symlink entry.
fn oracle_zip(package: OraclePackage, arch: Arch, (major, minor): (u32, u32)) -> Vec<u8> {
    let top = format!("instantclient_{major}_{minor}");
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = SimpleFileOptions::default();
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.add_directory(format!("{top}/"), stored).unwrap();
    let file = |w: &mut zip::ZipWriter<_>, name: &str, bytes: &[u8], options| {
        w.start_file(format!("{top}/{name}"), options).unwrap();
        w.write_all(bytes).unwrap();
    };
    match package {
        OraclePackage::Basic | OraclePackage::Basiclite => {
            let lib = format!("libclntsh.so.{major}.1");
            file(&mut w, &lib, &elf(arch, SHARED), deflated);
            file(&mut w, "libnnz.so", &elf(arch, SHARED), deflated);
            w.add_symlink(format!("{top}/libclntsh.so"), &lib, stored)
                .unwrap();
            file(
                &mut w,
                "BASIC_LICENSE",
                b"license text: CHECKSUMMED",
                stored,
            );
        }
        OraclePackage::Sqlplus => {
            file(&mut w, "sqlplus", &elf(arch, EXECUTABLE), deflated);
            file(&mut w, "libsqlplus.so", &elf(arch, SHARED), deflated);
            file(&mut w, "glogin.sql", b"-- glogin: CHECKSUMMED", stored);
        }
    }
    w.finish().unwrap().into_inner()
}

/// A directory of Oracle downloads: (file name, bytes).
fn downloads(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

fn good_set() -> Vec<(&'static str, Vec<u8>)> {
    use OraclePackage::*;
    vec![
        (
            "instantclient-basiclite-linuxx64.zip",
            oracle_zip(Basiclite, Arch::X86_64, (21, 13)),
        ),
        (
            "instantclient-sqlplus-linux.x64-21.13.0.0.0dbru.zip",
            oracle_zip(Sqlplus, Arch::X86_64, (21, 13)),
        ),
        (
            "instantclient-basic-linux.x64-21.13.0.0.0dbru.zip",
            oracle_zip(Basic, Arch::X86_64, (21, 13)),
        ),
        (
            "instantclient-basiclite-linux-arm64.zip",
            oracle_zip(Basiclite, Arch::Aarch64, (19, 19)),
        ),
        (
            "instantclient-sqlplus-linux.arm64-19.19.0.0.0dbru.zip",
            oracle_zip(Sqlplus, Arch::Aarch64, (19, 19)),
        ),
    ]
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn stage_into(from: &Path, out: &Path) -> Result<Vec<stage::Written>, AmiError> {
    let staging = stage::verify(from)?;
    stage::write(&staging, out)
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

#[test]
fn stages_every_spelling_under_the_layout_names_with_a_manifest() {
    let mut files = good_set();
    files.push(("instantclient-sdk-linuxx64.zip", b"not even a zip".to_vec()));
    files.push(("README.txt", b"downloaded from oracle.com".to_vec()));
    let from = downloads(&files);
    let out = tempfile::tempdir().unwrap();

    let staging = stage::verify(from.path()).unwrap();
    assert!(
        staging
            .skipped
            .iter()
            .any(|s| s.contains("instantclient-sdk-linuxx64.zip")),
        "{:?}",
        staging.skipped
    );
    let written = stage::write(&staging, out.path()).unwrap();

    // Exactly the layout's keys, the manifest and SHA256SUMS.
    let expected_zips = [
        (
            OraclePackage::Basic,
            Arch::X86_64,
            "instantclient-basic-linux.x64-21.13.0.0.0dbru.zip",
        ),
        (
            OraclePackage::Basiclite,
            Arch::X86_64,
            "instantclient-basiclite-linuxx64.zip",
        ),
        (
            OraclePackage::Sqlplus,
            Arch::X86_64,
            "instantclient-sqlplus-linux.x64-21.13.0.0.0dbru.zip",
        ),
        (
            OraclePackage::Basiclite,
            Arch::Aarch64,
            "instantclient-basiclite-linux-arm64.zip",
        ),
        (
            OraclePackage::Sqlplus,
            Arch::Aarch64,
            "instantclient-sqlplus-linux.arm64-19.19.0.0.0dbru.zip",
        ),
    ];
    let mut keys: Vec<String> = expected_zips
        .iter()
        .map(|(p, a, _)| oracle_key(*p, *a))
        .collect();
    keys.extend([
        "_ami_/oracle/SHA256SUMS".into(),
        "_ami_/oracle/manifest.json".into(),
    ]);
    keys.sort();
    assert_eq!(files_under(out.path()), keys);

    // Oracle's bytes, unchanged.
    for (package, arch, source) in expected_zips {
        let staged = std::fs::read(out.path().join(oracle_key(package, arch))).unwrap();
        let original = std::fs::read(from.path().join(source)).unwrap();
        assert!(staged == original, "{source} was not copied unchanged");
    }

    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.path().join("_ami_/oracle/manifest.json")).unwrap(),
    )
    .unwrap();
    let rows: Vec<String> = manifest["zips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| {
            let key = z["key"].as_str().unwrap();
            let bytes = std::fs::read(out.path().join(key)).unwrap();
            assert_eq!(z["sha256"], sha256(&bytes), "{key}");
            assert_eq!(z["size"], bytes.len() as u64, "{key}");
            format!(
                "{} {} {} {} <- {}",
                key, z["package"], z["arch"], z["version"], z["source"]
            )
            .replace('"', "")
        })
        .collect();
    assert_eq!(
        rows,
        [
            "_ami_/oracle/instantclient-basic-linux-x64.zip basic x64 21.13 <- instantclient-basic-linux.x64-21.13.0.0.0dbru.zip",
            "_ami_/oracle/instantclient-basiclite-linux-arm64.zip basiclite arm64 19.19 <- instantclient-basiclite-linux-arm64.zip",
            "_ami_/oracle/instantclient-basiclite-linux-x64.zip basiclite x64 21.13 <- instantclient-basiclite-linuxx64.zip",
            "_ami_/oracle/instantclient-sqlplus-linux-arm64.zip sqlplus arm64 19.19 <- instantclient-sqlplus-linux.arm64-19.19.0.0.0dbru.zip",
            "_ami_/oracle/instantclient-sqlplus-linux-x64.zip sqlplus x64 21.13 <- instantclient-sqlplus-linux.x64-21.13.0.0.0dbru.zip",
        ]
    );

    // SHA256SUMS covers every other file of the directory, as dist's do.
    let text = std::fs::read_to_string(out.path().join("_ami_/oracle/SHA256SUMS")).unwrap();
    let (sums, malformed) = Sums::parse(&text);
    assert!(malformed.is_empty(), "{text}");
    assert_eq!(sums.0.len(), 6, "{text}");
    for (name, sha) in &sums.0 {
        let bytes = std::fs::read(out.path().join("_ami_/oracle").join(name)).unwrap();
        assert_eq!(sha, &sha256(&bytes), "{name}");
    }
    assert_eq!(written.len(), 6);
    assert!(written
        .iter()
        .all(|w| sums.0.values().any(|s| s == &w.sha256)));
}

#[test]
fn staging_twice_gives_identical_bytes_and_replaces_the_directory() {
    let from = downloads(&good_set());
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    stage_into(from.path(), a.path()).unwrap();
    let first = snapshot(a.path());
    stage_into(from.path(), a.path()).unwrap();
    stage_into(from.path(), b.path()).unwrap();
    assert_eq!(snapshot(a.path()), first, "restaging changed the output");
    assert_eq!(
        snapshot(b.path()),
        first,
        "another output directory differs"
    );

    // Staging x64 alone afterwards leaves no arm64 zip of the earlier run.
    let x64_only: Vec<_> = good_set()
        .into_iter()
        .filter(|(name, _)| name.contains("x64"))
        .collect();
    let from = downloads(&x64_only);
    stage_into(from.path(), a.path()).unwrap();
    let files = files_under(a.path());
    assert!(files.iter().all(|f| !f.contains("arm64")), "{files:?}");
    assert_eq!(files.len(), 5, "{files:?}");
}

/// A zip whose stored `CHECKSUMMED` text has one byte changed: it still
/// opens, and only reading the entry to its end finds the bad CRC.
fn with_bad_crc(mut zip: Vec<u8>) -> Vec<u8> {
    let at = zip
        .windows(11)
        .position(|w| w == b"CHECKSUMMED")
        .expect("stored marker");
    zip[at] ^= 0x20;
    zip
}

/// Verify `files`, which must fail, and check that staging wrote nothing
/// over an earlier good staging.
fn problems(files: &[(&str, Vec<u8>)]) -> Vec<String> {
    let out = tempfile::tempdir().unwrap();
    stage_into(downloads(&good_set()).path(), out.path()).unwrap();
    let before = snapshot(out.path());
    let from = downloads(files);
    let err = stage_into(from.path(), out.path()).unwrap_err();
    assert!(err.is_input(), "{err}");
    assert_eq!(
        snapshot(out.path()),
        before,
        "a failed staging wrote something"
    );
    assert_eq!(
        std::fs::read_dir(out.path().join("_ami_")).unwrap().count(),
        1,
        "leftovers beside _ami_/oracle"
    );
    let message = err.to_string();
    assert!(message.contains("nothing was written"), "{message}");
    match err {
        AmiError::Stage { problems, .. } => problems,
        other => panic!("{other}"),
    }
}

fn assert_named(problems: &[String], needles: &[&[&str]]) {
    assert_eq!(problems.len(), needles.len(), "{problems:#?}");
    for words in needles {
        assert!(
            problems.iter().any(|p| words.iter().all(|w| p.contains(w))),
            "no problem names all of {words:?}: {problems:#?}"
        );
    }
}

#[test]
fn every_problem_is_named_in_one_error_and_nothing_is_written() {
    use OraclePackage::*;
    let found = problems(&[
        // x64 claimed, aarch64 inside.
        (
            "instantclient-basiclite-linuxx64.zip",
            oracle_zip(Basiclite, Arch::Aarch64, (21, 13)),
        ),
        // A flipped byte: bad CRC.
        (
            "instantclient-sqlplus-linuxx64.zip",
            with_bad_crc(oracle_zip(Sqlplus, Arch::X86_64, (21, 13))),
        ),
        // arm64: basiclite 19.19 beside sqlplus 23.7.
        (
            "instantclient-basiclite-linux-arm64.zip",
            oracle_zip(Basiclite, Arch::Aarch64, (19, 19)),
        ),
        (
            "instantclient-sqlplus-linux-arm64.zip",
            oracle_zip(Sqlplus, Arch::Aarch64, (23, 7)),
        ),
        // The name's version is not the zip's.
        (
            "instantclient-basic-linux-arm64-21.13.zip",
            oracle_zip(Basic, Arch::Aarch64, (19, 19)),
        ),
        // Not a zip at all.
        (
            "instantclient-basic-linux.x64-21.13.0.0.0dbru.zip",
            b"<html>login</html>".to_vec(),
        ),
    ]);
    assert_named(
        &found,
        &[
            &[
                "instantclient-basiclite-linuxx64.zip",
                "says x64",
                "aarch64",
                "libclntsh.so.21.1",
            ],
            &[
                "instantclient-sqlplus-linuxx64.zip",
                "glogin.sql",
                "damaged",
            ],
            &["arm64: mixed versions", "basiclite 19.19", "sqlplus 23.7"],
            &[
                "instantclient-basic-linux-arm64-21.13.zip",
                "says version 21.13",
                "instantclient_19_19/",
            ],
            &[
                "instantclient-basic-linux.x64-21.13.0.0.0dbru.zip",
                "not a readable zip",
            ],
        ],
    );
}

#[test]
fn a_missing_package_is_named() {
    let mut files = good_set();
    files.retain(|(name, _)| !name.contains("sqlplus-linux.arm64"));
    let found = problems(&files);
    assert_named(
        &found,
        &[&["arm64: no sqlplus zip", "basiclite and sqlplus"]],
    );

    let found = problems(&[]);
    assert_named(&found, &[&["no Oracle instant-client zips"]]);
}

#[test]
fn mislabelled_packages_and_duplicates_are_named() {
    use OraclePackage::*;
    let mut files = good_set();
    // basiclite contents under the sqlplus name, and a second basiclite x64.
    files[1].1 = oracle_zip(Basiclite, Arch::X86_64, (21, 13));
    files.push((
        "instantclient-basiclite-linux-x64-21.13.zip",
        oracle_zip(Basiclite, Arch::X86_64, (21, 13)),
    ));
    let found = problems(&files);
    assert_named(
        &found,
        &[
            &[
                "instantclient-sqlplus-linux.x64-21.13.0.0.0dbru.zip",
                "instantclient_21_13/sqlplus",
                "not the sqlplus package",
            ],
            &[
                "2 zips for basiclite x64",
                "instantclient-basiclite-linuxx64.zip",
                "instantclient-basiclite-linux-x64-21.13.zip",
            ],
        ],
    );
}

#[test]
fn a_link_to_the_versioned_download_is_one_zip() {
    // Upstream's oracle-pkg-sync.sh keeps versioned files and links the plain names to them.
    let from = downloads(&good_set());
    let versioned = "instantclient-basiclite-linux-x64-21.13.zip";
    std::fs::rename(
        from.path().join("instantclient-basiclite-linuxx64.zip"),
        from.path().join(versioned),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        versioned,
        from.path().join("instantclient-basiclite-linux-x64.zip"),
    )
    .unwrap();
    let staging = stage::verify(from.path()).unwrap();
    let sources: Vec<&str> = staging.zips.iter().map(|z| z.source.as_str()).collect();
    assert!(sources.contains(&versioned), "{sources:?}");
    assert_eq!(staging.zips.len(), 5);
}

// ---------------------------------------------------------------------------
// ami list against moto

fn environment(account: &str) -> Environment {
    let yaml = format!("demo:\n  account_id: \"{account}\"\n");
    let version: Version = "8.3.0".parse().unwrap();
    let no_env = |_: &str| None;
    Config::parse(&PathBuf::from("deploy.yaml"), &yaml)
        .unwrap()
        .environment(
            "demo",
            &Substitution {
                version: &version,
                env: &no_env,
            },
        )
        .unwrap()
}

struct Aws {
    clients: Clients,
    _moto: Moto,
}

impl Aws {
    async fn start() -> Aws {
        let moto = moto::start();
        let config = command_sdk_config(&moto.endpoint()).await;
        Aws {
            clients: Clients::new(&config),
            _moto: moto,
        }
    }

    async fn image(&self, name: &str, tags: &[(&str, &str)]) -> String {
        moto::register_image(&self.clients.ec2, name, tags).await
    }

    async fn stack(&self, name: &str, template: &str, parameters: &[(&str, &str)]) {
        cfn::create_from_body(&self.clients.cfn, name, template, parameters).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_marks_the_newest_per_runtime_and_the_stacks_that_lag() {
    let aws = Aws::start().await;
    let old = aws
        .image(
            "lava-8.2.0-amzn2023-py3.11-x86_64-2025-01-10T04-05-06Z",
            &[],
        )
        .await;
    let newest_x86 = aws
        .image(
            "lava-8.3.0-amzn2023-py3.11-x86_64-2025-03-01T00-00-00Z",
            &[("PythonVersion", "3.11.13")],
        )
        .await;
    let newest_arm = aws
        .image("lava-8.3.0-amzn2023-py3.11-arm64-2025-03-01T00-00-00Z", &[])
        .await;
    // Built last, but its tag says Python 3.12: another runtime, so the
    // 3.11 image above stays the newest of its own.
    let py312 = aws
        .image(
            "lava-8.3.0-amzn2023-py3.11-x86_64-2025-04-01T00-00-00Z",
            &[("PYTHON_VERSION", "3.12.8")],
        )
        .await;
    aws.image("lava-8.x-broken", &[]).await;
    aws.image("ubuntu-24.04-base", &[]).await;

    let worker = |realm, worker, ami| [("realm", realm), ("worker", worker), ("amiId", ami)];
    aws.stack("prod-core", WORKER_STACK, &worker("prod", "core", &old))
        .await;
    aws.stack(
        "prod-batch",
        WORKER_STACK,
        &worker("prod", "batch", &newest_x86),
    )
    .await;
    aws.stack(
        "prod-arm",
        WORKER_STACK,
        &worker("prod", "arm", &newest_arm),
    )
    .await;
    aws.stack(
        "dev-core",
        WORKER_STACK,
        &worker("dev", "core", "ami-0123456789abcdef0"),
    )
    .await;
    aws.stack("prod-guest", WORKER_STACK, &worker("prod", "guest", ""))
        .await;
    aws.stack(
        "prod-realm",
        REALM_STACK,
        &[("realm", "prod"), ("lambdaVersion", "8.3.0")],
    )
    .await;

    let listing: Listing = lava_ami::list::list(&aws.clients, &environment(MOTO_ACCOUNT))
        .await
        .unwrap();
    // What `cargo xtask ami list --json` prints.
    let json: serde_json::Value = serde_json::from_str(&listing.to_json()).unwrap();
    assert_eq!(json["account"], MOTO_ACCOUNT);

    let images: Vec<String> = json["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{} {} {} {}",
                i["id"].as_str().unwrap(),
                i["runtime"].as_str().unwrap(),
                i["python_from"].as_str().unwrap(),
                if i["newest"] == true { "newest" } else { "-" }
            )
        })
        .collect();
    assert_eq!(
        images,
        [
            format!("{newest_x86} amzn2023-py3.11-x86_64 tag newest"),
            format!("{old} amzn2023-py3.11-x86_64 name -"),
            format!("{newest_arm} amzn2023-py3.11-aarch64 name newest"),
            format!("{py312} amzn2023-py3.12-x86_64 tag newest"),
        ]
    );
    let skipped = json["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].as_str().unwrap().contains("lava-8.x-broken"));

    let stacks: Vec<String> = json["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}/{} {} {} {}",
                s["stack"].as_str().unwrap(),
                s["realm"].as_str().unwrap(),
                s["worker"].as_str().unwrap(),
                s["ami_id"].as_str().unwrap(),
                s["state"].as_str().unwrap(),
                s["newest"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        stacks,
        [
            "dev-core dev/core ami-0123456789abcdef0 unknown -".to_string(),
            format!("prod-arm prod/arm {newest_arm} current -"),
            format!("prod-batch prod/batch {newest_x86} current -"),
            format!("prod-core prod/core {old} lagging {newest_x86}"),
            "prod-guest prod/guest  no_instances -".to_string(),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_refuses_another_account() {
    let aws = Aws::start().await;
    let err = lava_ami::list::list(&aws.clients, &environment("210987654321"))
        .await
        .unwrap_err();
    assert!(!err.is_input(), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("210987654321") && message.contains(MOTO_ACCOUNT),
        "{message}"
    );
}
