//! `cargo xtask dist merge` on shards written here, file by file, as dist
//! writes them (artefacts, a SHA256SUMS per directory, manifest.json): the
//! union is merged, and every kind of mismatch is refused with exit status 2
//! and nothing written. tests/dist.rs merges real shards and compares the
//! result with a single-machine dist.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lava_layout::{Sums, SHA256SUMS};
use serde_json::{json, Value};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// One artefact of a hand-made shard: key, component, arch and bytes.
type File = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [u8],
);

const SCRIPT: File = ("_boot_/50-lava.sh", "boot", None, b"#!/bin/sh\necho boot\n");
const BOOT_X86: File = (
    "_dist_/boot/lava-boot-x86_64",
    "boot",
    Some("x86_64"),
    b"x86_64 elf",
);
const BOOT_ARM: File = (
    "_dist_/boot/lava-boot-aarch64",
    "boot",
    Some("aarch64"),
    b"aarch64 elf",
);
const ZIP_X86: File = (
    "_dist_/lambda/x86_64/stop-8.3.0.zip",
    "lambda",
    Some("x86_64"),
    b"x86_64 zip",
);
const ZIP_ARM: File = (
    "_dist_/lambda/arm64/stop-8.3.0.zip",
    "lambda",
    Some("aarch64"),
    b"aarch64 zip",
);

fn sha256(bytes: &[u8]) -> String {
    lava_files::sha256_reader(bytes).unwrap().1
}

fn manifest_entry((key, component, arch, bytes): &File) -> Value {
    json!({
        "key": key,
        "component": component,
        "runtime": null,
        "arch": arch,
        "size": bytes.len(),
        "sha256": sha256(bytes),
    })
}

/// A shard as `dist --out` leaves it: the files, each directory's
/// SHA256SUMS, and manifest.json (artefacts sorted by key).
fn shard(root: &Path, name: &str, version: &str, files: &[File]) -> PathBuf {
    let dir = root.join(name);
    let mut sums: std::collections::BTreeMap<PathBuf, Sums> = Default::default();
    for (key, _, _, bytes) in files {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        if !lava_layout::has_sums(key.rsplit_once('/').unwrap().0) {
            continue;
        }
        sums.entry(path.parent().unwrap().to_path_buf())
            .or_default()
            .insert(path.file_name().unwrap().to_str().unwrap(), sha256(bytes));
    }
    for (dir, sums) in sums {
        std::fs::write(dir.join(SHA256SUMS), sums.render()).unwrap();
    }
    let mut sorted = files.to_vec();
    sorted.sort_by_key(|f| f.0);
    let manifest = json!({
        "version": version,
        "commit": COMMIT,
        "artefacts": sorted.iter().map(manifest_entry).collect::<Vec<_>>(),
    });
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap() + "\n",
    )
    .unwrap();
    dir
}

fn merge(shards: &[&Path], out: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(["dist", "merge"])
        .args(shards)
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("RUST_LOG", "warn");
    cmd.output().expect("run xtask")
}

fn refused(shards: &[&Path], needles: &[&str]) {
    let out = shards[0].parent().unwrap().join("dist");
    let output = merge(shards, &out, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
    assert!(!out.exists(), "a refused merge wrote {}", out.display());
}

#[test]
fn shards_merge_into_their_union() {
    let tmp = tempfile::tempdir().unwrap();
    // The boot scriptlet is in both shards, as each shard builds it.
    let a = shard(tmp.path(), "a", "8.3.0", &[SCRIPT, BOOT_X86, ZIP_X86]);
    let b = shard(tmp.path(), "b", "8.3.0", &[SCRIPT, BOOT_ARM, ZIP_ARM]);
    let out = tmp.path().join("dist");

    let dry = merge(&[&a, &b], &out, &["--dry-run"]);
    assert!(dry.status.success(), "{dry:?}");
    let plan = String::from_utf8_lossy(&dry.stdout);
    assert!(plan.contains("5 artefacts of lava 8.3.0"), "{plan}");
    assert!(
        plan.contains("_dist_/boot/lava-boot-aarch64  <- "),
        "{plan}"
    );
    assert!(!out.exists(), "the dry run wrote {}", out.display());

    let output = merge(&[&a, &b], &out, &["--json"]);
    assert!(output.status.success(), "{output:?}");

    // What one machine would have written: the union, one SHA256SUMS per
    // directory listing all of it, and the union's manifest.
    let all = [SCRIPT, BOOT_X86, BOOT_ARM, ZIP_X86, ZIP_ARM];
    let expected = shard(tmp.path(), "one-machine", "8.3.0", &all);
    for (key, _, _, bytes) in all {
        assert_eq!(std::fs::read(out.join(key)).unwrap(), bytes, "{key}");
    }
    for key in [
        "manifest.json".to_string(),
        format!("_dist_/boot/{SHA256SUMS}"),
        format!("_dist_/lambda/x86_64/{SHA256SUMS}"),
        format!("_dist_/lambda/arm64/{SHA256SUMS}"),
    ] {
        assert_eq!(
            std::fs::read_to_string(out.join(&key)).unwrap(),
            std::fs::read_to_string(expected.join(&key)).unwrap(),
            "{key}"
        );
    }
    // dist's modes, whatever the shards' files have.
    use std::os::unix::fs::PermissionsExt;
    let mode = |key: &str| {
        std::fs::metadata(out.join(key))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(BOOT_ARM.0), 0o755);
    assert_eq!(mode(SCRIPT.0), 0o755);
    assert_eq!(mode(ZIP_ARM.0), 0o644);

    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["version"], "8.3.0");
    assert_eq!(report["commit"], COMMIT);
    assert_eq!(report["artefacts"].as_array().unwrap().len(), 5);
    assert_eq!(report["skipped"], json!([]));
}

#[test]
fn shards_of_different_versions_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = shard(tmp.path(), "a", "8.3.0", &[BOOT_X86]);
    let b = shard(tmp.path(), "b", "8.3.1", &[BOOT_ARM]);
    refused(&[&a, &b], &["/a has version 8.3.0", "/b has version 8.3.1"]);
}

#[test]
fn a_key_built_twice_with_different_bytes_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = shard(tmp.path(), "a", "8.3.0", &[SCRIPT, BOOT_X86]);
    let changed: File = (SCRIPT.0, SCRIPT.1, SCRIPT.2, b"#!/bin/sh\necho other\n");
    let b = shard(tmp.path(), "b", "8.3.0", &[changed, BOOT_ARM]);
    refused(
        &[&a, &b],
        &[
            "_boot_/50-lava.sh was built twice with different bytes",
            &sha256(SCRIPT.3),
            &sha256(changed.3),
        ],
    );
}

#[test]
fn a_shard_whose_files_do_not_match_its_sums_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = shard(tmp.path(), "a", "8.3.0", &[BOOT_X86, ZIP_X86]);
    let b = shard(tmp.path(), "b", "8.3.0", &[BOOT_ARM, ZIP_ARM]);
    // SHA256SUMS lists another digest for a file.
    let sums = b.join("_dist_/lambda/arm64").join(SHA256SUMS);
    let other = sha256(b"something else");
    std::fs::write(&sums, format!("{other}  stop-8.3.0.zip\n")).unwrap();
    refused(
        &[&a, &b],
        &[
            "_dist_/lambda/arm64/SHA256SUMS lists stop-8.3.0.zip",
            &other,
        ],
    );

    // A file changed after dist wrote it: neither its SHA256SUMS nor its
    // manifest matches.
    let b = shard(tmp.path(), "c", "8.3.0", &[BOOT_ARM, ZIP_ARM]);
    std::fs::write(b.join(ZIP_ARM.0), b"tampered").unwrap();
    refused(&[&a, &b], &[ZIP_ARM.0, &sha256(b"tampered")]);

    // A file the shard's manifest does not know (a leftover of another run).
    let b = shard(tmp.path(), "d", "8.3.0", &[BOOT_ARM]);
    std::fs::write(b.join("_dist_/boot/lava-boot-sparc"), b"?").unwrap();
    refused(
        &[&a, &b],
        &["_dist_/boot/lava-boot-sparc is not in its manifest.json"],
    );

    // No manifest: not a directory dist wrote.
    let b = tmp.path().join("empty");
    std::fs::create_dir(&b).unwrap();
    refused(&[&a, &b], &["empty/manifest.json"]);
}
