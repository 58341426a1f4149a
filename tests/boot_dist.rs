//! A bundle built by `cargo xtask dist` boots with the lava-boot dist ships:
//! dist's output directory is a code area, so `_dist_/boot/lava-boot-<arch>
//! apply --root` installs from it as a worker would from S3, and the
//! installed lava-version runs. The aarch64 lava-boot runs under qemu and
//! installs the aarch64 bundle.

use aws_sdk_dynamodb::types::AttributeValue;
use std::process::Command;

use lava_boot::{Aws, Overrides, REALMS_TABLE};
use lava_builder::DistOptions;
use lava_layout::{boot_binary_key, boot_copy_key, Arch, Component, Runtime, Sums, SHA256SUMS};
use lava_tests::moto::{self, sdk_config};
use lava_tests::realm;
use lava_tests::{build_dist, command_for, run, worker_root};

#[tokio::test]
async fn a_dist_bundle_installs_and_its_lava_version_runs() {
    let root = worker_root();
    // Only this host's runtime: the bundle's Python must run here.
    let host: Runtime = lava_boot::platform::detect(root.path(), &Overrides::default()).unwrap();
    boot_from_dist(&root, &host).await;
}

#[tokio::test]
async fn the_aarch64_lava_boot_installs_the_aarch64_bundle_under_qemu() {
    let root = worker_root();
    // This host's Python, so that the installed lava-version runs here too
    // (it is pure Python; the bundle's compiled wheels are aarch64's).
    let host: Runtime = lava_boot::platform::detect(root.path(), &Overrides::default()).unwrap();
    let runtime: Runtime = format!("{}-py{}-aarch64", host.os, host.python)
        .parse()
        .unwrap();
    boot_from_dist(&root, &runtime).await;
    // The wheels installed are the aarch64 ones dist resolved.
    let pylib = root.path().join("opt/lava/pylib");
    let machines: std::collections::BTreeSet<Option<Arch>> = walkdir::WalkDir::new(&pylib)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".so"))
        .map(|e| Arch::of_elf(&std::fs::read(e.path()).unwrap()))
        .collect();
    assert_eq!(
        machines,
        [Some(Arch::Aarch64)].into(),
        "shared libraries in {}",
        pylib.display()
    );
}

/// Build `runtime`'s bundle and lava-boot with dist, then boot a worker of
/// that runtime from dist's output with the lava-boot dist shipped for its
/// architecture: `plan --json`, then `apply --root`.
async fn boot_from_dist(root: &tempfile::TempDir, runtime: &Runtime) {
    let (arch, host) = (runtime.arch, runtime);
    let (dist, built) = build_dist(DistOptions {
        only: vec![Component::Pkg, Component::Boot],
        runtimes: Some(vec![runtime.clone()]),
        ..Default::default()
    });
    let built = built.unwrap_or_else(|e| panic!("dist: {e}"));

    let moto = moto::start();
    let config = sdk_config(&moto.endpoint()).await;
    let aws = Aws::new(&config);
    realm::create_realms_table(&aws.dynamodb).await;
    aws.dynamodb
        .put_item()
        .table_name(REALMS_TABLE)
        .item("realm", AttributeValue::S("prod".into()))
        .send()
        .await
        .unwrap();

    // The shipped lava-boot, as a booting worker runs it: from the code area.
    let boot = dist.path().join(boot_binary_key(arch));
    let sums = std::fs::read_to_string(dist.path().join(boot_copy_key(SHA256SUMS))).unwrap();
    let (sums, malformed) = Sums::parse(&sums);
    assert!(malformed.is_empty(), "{malformed:?}");
    let shipped = built
        .iter()
        .find(|a| a.key == boot_binary_key(arch))
        .expect("dist reports lava-boot");
    assert_eq!(
        sums.get(&format!("lava-boot-{arch}")),
        Some(shipped.sha256.as_str())
    );
    assert_eq!(Arch::of_elf(&std::fs::read(&boot).unwrap()), Some(arch));
    let lava_boot = |command: &str, extra: &[&str]| {
        let out = run(command_for(arch, &boot)
            .arg(command)
            .args(["--code-area", &format!("file://{}", dist.path().display())])
            .args(["--realm", "prod", "--worker", "core"])
            .arg("--root")
            .arg(root.path())
            .args(["--platform", &host.to_string()])
            .args(extra)
            .envs(moto.env())
            .env_remove("LAVA_BOOT_ROOT"));
        assert!(
            out.status.success(),
            "lava-boot {command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let version = env!("CARGO_PKG_VERSION");
    let plan: serde_json::Value = serde_json::from_str(&lava_boot("plan", &["--json"])).unwrap();
    assert_eq!(
        plan["bundle"]["name"],
        format!("lava-{version}-{host}.tar.bz2")
    );
    let bundle = built
        .iter()
        .find(|a| a.key.ends_with(&format!("lava-{version}-{host}.tar.bz2")))
        .expect("dist reports the bundle");
    assert_eq!(
        plan["bundle"]["sha256"], bundle.sha256,
        "the plan's digest is not dist's SHA256SUMS entry: {plan}"
    );

    lava_boot("apply", &[]);
    let out =
        run(Command::new(root.path().join("usr/local/bin/lava-version")).env_remove("PYTHONPATH"));
    assert!(
        out.status.success(),
        "lava-version: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), version);
    assert!(root.path().join("home/lava-core/lava.start").is_file());
}
