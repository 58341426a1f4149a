//! `cargo xtask dist` as an operator runs it, on a machine that cannot build
//! aarch64 binaries (`LAVA_TOOLCHAIN_AARCH64=none` says so): without
//! `--skip-arch` it fails before writing anything and names what to install;
//! with it, it builds the x86_64 half and says what it left out.

use std::path::Path;
use std::process::{Command, Output};

fn dist(out: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("dist")
        .arg("--out")
        .arg(out)
        .args(args)
        .env("LAVA_TOOLCHAIN_AARCH64", "none")
        .env_remove("RUST_LOG")
        .output()
        .expect("run xtask")
}

#[test]
fn no_aarch64_toolchain_fails_dist_naming_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dist");
    let run = dist(&out, &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    for expected in [
        "no aarch64 toolchain: LAVA_TOOLCHAIN_AARCH64=none",
        "rustup target add aarch64-unknown-linux-musl",
        "--skip-arch aarch64",
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in:\n{stderr}");
    }
    // Nothing written: no output directory, no staging directory beside it.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn skip_arch_builds_the_x86_64_half_and_says_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dist");
    // An earlier release in the same directory stays, listed in SHA256SUMS.
    let lambda = out.join("_dist_/lambda/x86_64");
    std::fs::create_dir_all(&lambda).unwrap();
    std::fs::write(lambda.join("dispatch-8.2.0.zip"), b"an older zip").unwrap();
    let older =
        "d335e0850bd5dd8986a5b6204a461101ed45fccf6d42a8392ee916557ddffbb7  dispatch-8.2.0.zip\n";
    std::fs::write(lambda.join("SHA256SUMS"), older).unwrap();
    let run = dist(
        &out,
        &[
            "--only",
            "lambda",
            "boot",
            "--skip-arch",
            "aarch64",
            "--json",
        ],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let keys: Vec<&str> = report["artefacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"_dist_/boot/lava-boot-x86_64"), "{keys:?}");
    assert!(
        keys.iter()
            .any(|k| k.starts_with("_dist_/lambda/x86_64/dispatch-")),
        "{keys:?}"
    );
    assert!(
        !keys
            .iter()
            .any(|k| k.contains("arm64") || k.contains("aarch64")),
        "{keys:?}"
    );
    assert!(!out.join("_dist_/lambda/arm64").exists());
    assert_eq!(
        std::fs::read(lambda.join("dispatch-8.2.0.zip")).unwrap(),
        b"an older zip"
    );
    let sums = std::fs::read_to_string(lambda.join("SHA256SUMS")).unwrap();
    assert!(sums.contains(older), "{sums}");
    let new = format!("  dispatch-{}.zip\n", env!("CARGO_PKG_VERSION"));
    assert!(sums.contains(&new), "{sums}");
    assert_eq!(
        report["skipped"],
        serde_json::json!([
            "aarch64 left out (--skip-arch aarch64): arm64 Lambda zips, lava-boot-aarch64"
        ])
    );

    // The table says it too.
    let run = dist(&out, &["--only", "boot", "--skip-arch", "aarch64"]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("skipped: aarch64 left out (--skip-arch aarch64): lava-boot-aarch64"),
        "{stdout}"
    );
}
