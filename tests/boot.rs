//! The worker boot against moto (S3 + DynamoDB): plan and apply under a root
//! directory, bundles that must be refused before anything is installed, the
//! boot runner, and the shipped shell callers driving the real command line.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use lava_archive::Tree;
use lava_boot::bundle::BundleError;
use lava_boot::{Applied, Aws, BootError, Overrides, Plan, Reason, Request, REALMS_TABLE};
use lava_layout::Runtime;
use lava_store::Location;
use lava_tests::lava_version;
use lava_tests::moto::{self, sdk_config, Moto};
use lava_tests::realm;
use lava_tests::{run, shipped_scripts, tool, worker_root, workspace_root};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const BUCKET: &str = "lava-code";
const REALM: &str = "prod";

/// A bundle's `bin/lava-version`: installed as a link to lava-run, which puts
/// the bundle root on PYTHONPATH.
const LAVA_VERSION: &str =
    "#!/usr/bin/env python3\nfrom lava.version import __version__\nprint(__version__)\n";

/// moto with the code bucket and the realms table.
struct Env {
    moto: Moto,
    aws: Aws,
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

impl Env {
    async fn start() -> Env {
        let moto = moto::start();
        let config = sdk_config(&moto.endpoint()).await;
        let aws = Aws::new(&config);
        let env = Env {
            s3: aws.s3.clone(),
            dynamodb: aws.dynamodb.clone(),
            aws,
            moto,
        };
        env.s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        realm::create_realms_table(&env.dynamodb).await;
        env
    }

    fn area(&self, prefix: &str) -> Location {
        Location::parse(&format!("s3://{BUCKET}/{prefix}")).unwrap()
    }

    async fn put(&self, key: &str, bytes: impl Into<Vec<u8>>) {
        self.s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from(bytes.into()))
            .send()
            .await
            .unwrap();
    }

    /// Bundles into `<prefix>/_dist_/pkg/<os>/`, with a SHA256SUMS of `sums`
    /// (name, content digested) unless `None`.
    async fn publish(
        &self,
        prefix: &str,
        os: &str,
        bundles: &[(String, Vec<u8>)],
        sums: Option<&[(String, Vec<u8>)]>,
    ) {
        let dir = format!("{prefix}/_dist_/pkg/{os}");
        for (name, bytes) in bundles {
            self.put(&format!("{dir}/{name}"), bytes.clone()).await;
        }
        if let Some(sums) = sums {
            self.put(&format!("{dir}/SHA256SUMS"), sums_text(sums))
                .await;
        }
    }

    /// The realm's item in `lava.realms`, given as plain JSON.
    async fn realm(&self, item: Value) {
        realm::put_json(&self.dynamodb, REALMS_TABLE, &item).await;
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn sums_text(entries: &[(String, Vec<u8>)]) -> String {
    entries
        .iter()
        .map(|(name, bytes)| format!("{}  {name}\n", sha256(bytes)))
        .collect()
}

/// A small bundle as dist lays them out, with the real installer and launcher.
fn fake_bundle(version: &str) -> Vec<u8> {
    let misc = workspace_root().join("misc");
    let mut tree = Tree::new();
    tree.add_file("install.sh", &misc.join("install.sh"), true)
        .unwrap();
    tree.add_file("lava-run", &misc.join("lava-run"), true)
        .unwrap();
    tree.add_bytes("lava/__init__.py", "", false).unwrap();
    tree.add_bytes(
        "lava/version.py",
        format!("__version__ = \"{version}\"\n"),
        false,
    )
    .unwrap();
    tree.add_bytes("bin/lava-version", LAVA_VERSION, true)
        .unwrap();
    tree.add_dir("pylib").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle.tar.bz2");
    lava_archive::write_tar_bz2(&tree, 0, &out).unwrap();
    std::fs::read(out).unwrap()
}

/// A bundle that would install, plus one entry whose name (or link target)
/// is written raw, as a hostile archive has it.
fn hostile_bundle(name: &str, symlink_to: Option<&str>) -> Vec<u8> {
    use std::io::Write;
    let misc = workspace_root().join("misc");
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_path(path).unwrap();
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_cksum();
        tar.append(&h, data).unwrap();
    };
    add(
        "install.sh",
        &std::fs::read(misc.join("install.sh")).unwrap(),
        0o755,
    );
    add(
        "lava-run",
        &std::fs::read(misc.join("lava-run")).unwrap(),
        0o755,
    );
    add("lava/version.py", b"__version__ = \"8.3.0\"\n", 0o644);
    add("bin/lava-version", LAVA_VERSION.as_bytes(), 0o755);
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    match symlink_to {
        Some(target) => {
            h.set_entry_type(tar::EntryType::Symlink);
            h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        }
        None => h.set_entry_type(tar::EntryType::Regular),
    }
    h.set_mode(0o644);
    h.set_size(0);
    h.set_cksum();
    tar.append(&h, &b""[..]).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(&tar.into_inner().unwrap()).unwrap();
    bz.finish().unwrap()
}

/// The platform a boot under `root` detects: amzn2023 with this host's
/// python3 and architecture.
fn platform(root: &Path) -> Runtime {
    lava_boot::platform::detect(root, &Overrides::default()).unwrap()
}

fn bundle_name(version: &str, platform: &Runtime) -> String {
    format!("lava-{version}-{platform}.tar.bz2")
}

fn request(area: Location, root: &Path, worker: &str) -> Request {
    Request {
        code_area: area,
        realm: REALM.to_string(),
        worker: worker.to_string(),
        platform: platform(root),
        root: Some(root.to_path_buf()),
        verify: true,
    }
}

async fn boot(request: &Request, aws: &Aws) -> Result<(Plan, Applied), BootError> {
    let plan = lava_boot::plan(request, aws).await?;
    let applied = lava_boot::apply(&plan, aws).await?;
    Ok((plan, applied))
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn start_script(root: &Path, worker: &str, threads: u32) -> String {
    format!(
        "#!/bin/bash\n# Written by lava-boot: starts one lava-worker daemon.\n\n\
         export PATH='{}/usr/local/bin:/usr/bin'\n\
         export AWS_MAX_ATTEMPTS='10'\nexport AWS_RETRY_MODE='adaptive'\n\n\
         exec lava-worker --realm 'prod' --worker '{worker}' --jump-start --daemon \
         --heartbeat 60 --tag 'lava-prod-{worker}' --log @local0 --level info \
         --log-json --threads {threads}\n",
        root.display()
    )
}

/// `core` hosts the parasitic `core-bulk` (two daemons); `_` pins 8.2.0 and
/// gives both the environment.
fn parasitic_realm(pin: &str) -> Value {
    json!({"realm": REALM, "x-workers": {
        "core": {"threads": 6, "workers": "core core-bulk"},
        "core-bulk": {"daemons": 2, "threads": "8"},
        "_": {"version": pin, "env": {"AWS_MAX_ATTEMPTS": 10, "AWS_RETRY_MODE": "adaptive"}},
    }})
}

#[tokio::test]
async fn plan_then_apply_under_root_for_a_parasitic_worker() {
    let env = Env::start().await;
    let root = worker_root();
    let r = root.path();
    let host = platform(r);
    let mut bundles: Vec<(String, Vec<u8>)> = ["8.1.0", "8.2.0", "8.3.0"]
        .iter()
        .map(|v| (bundle_name(v, &host), fake_bundle(v)))
        .collect();
    bundles.push((
        "lava-9.0.0-amzn2-py3.7-aarch64.tar.bz2".into(),
        fake_bundle("9.0.0"),
    ));
    bundles.push(("lava-7.0.0.tar.bz2".into(), fake_bundle("7.0.0")));
    bundles.push(("lava-notes.txt".into(), b"not a bundle".to_vec()));
    env.publish("lava", "amzn2023", &bundles, Some(&bundles))
        .await;
    env.realm(parasitic_realm("8.2.0")).await;

    let request = request(env.area("lava"), r, "core");
    let plan = lava_boot::plan(&request, &env.aws).await.unwrap();
    let chosen = bundle_name("8.2.0", &host);
    assert_eq!(plan.bundle.name, chosen);
    assert_eq!(plan.bundle.reason, Reason::PinnedNew);
    assert_eq!(
        plan.bundle.url,
        format!("s3://{BUCKET}/lava/_dist_/pkg/amzn2023/{chosen}")
    );
    assert_eq!(plan.bundle.sha256, Some(sha256(&bundles[1].1)));
    assert_eq!(plan.pin.as_ref().unwrap().from, "x-workers._.version");
    let skipped: Vec<_> = plan.skipped.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(skipped, ["lava-notes.txt"]);
    let (base, bindir) = (r.join("opt/lava"), r.join("usr/local/bin"));
    assert_eq!(plan.install.base, base);
    assert_eq!(plan.install.bindir, bindir);
    let show = |p: &Path| p.display().to_string();
    assert_eq!(
        plan.install.args,
        ["-c", "-d", &show(&base), "-b", &show(&bindir), &chosen]
    );
    let accounts: Vec<_> = plan
        .accounts
        .iter()
        .map(|a| (a.user.as_str(), a.home.clone(), a.comment.as_str()))
        .collect();
    assert_eq!(
        accounts,
        [
            ("lava-core", r.join("home/lava-core"), "Lava Worker core"),
            (
                "lava-core-bulk",
                r.join("home/lava-core-bulk"),
                "Lava Worker core-bulk"
            ),
        ]
    );
    let daemons: Vec<_> = plan
        .daemons
        .iter()
        .map(|d| (d.worker.as_str(), d.count, d.threads))
        .collect();
    assert_eq!(daemons, [("core", 1, Some(6)), ("core-bulk", 2, Some(8))]);
    let env_of_bulk: BTreeMap<_, _> = [
        ("AWS_MAX_ATTEMPTS".to_string(), "10".to_string()),
        ("AWS_RETRY_MODE".to_string(), "adaptive".to_string()),
    ]
    .into();
    assert_eq!(plan.daemons[1].env, env_of_bulk);
    assert_eq!(plan.tmp_dir, r.join("tmp/lava/prod"));

    let as_json = serde_json::to_value(&plan).unwrap();
    assert_eq!(as_json["bundle"]["reason"], "pinned-new");
    assert_eq!(as_json["platform"], host.to_string());
    assert_eq!(as_json["code_area"], format!("s3://{BUCKET}/lava/"));
    assert_eq!(as_json["daemons"][1]["count"], 2);
    let text = plan.to_string();
    for needle in [
        &chosen,
        "why",
        "lava-core-bulk",
        "lava-notes.txt",
        "--threads 8",
    ] {
        assert!(text.contains(needle), "plan text lacks {needle}:\n{text}");
    }
    assert_eq!(names_in(r), ["etc", "usr"], "plan changed something");

    let applied = lava_boot::apply(&plan, &env.aws).await.unwrap();
    assert_eq!(applied.installed.to_string(), "8.2.0");
    assert!(applied.started.is_empty(), "daemons started under --root");
    assert_eq!(lava_version(r), "8.2.0");
    assert!(base.join("lava/version.py").is_file());
    for (worker, threads) in [("core", 6), ("core-bulk", 8)] {
        let script = r.join(format!("home/lava-{worker}/lava.start"));
        assert_eq!(
            std::fs::read_to_string(&script).unwrap(),
            start_script(r, worker, threads)
        );
        assert_eq!(mode(&script), 0o750);
    }
    assert_eq!(mode(&r.join("tmp/lava/prod")), 0o1770);
    assert_eq!(
        names_in(&r.join("tmp")),
        ["lava"],
        "the download was not removed"
    );

    // A new pin: the next boot replaces the install (install.sh -c).
    env.realm(parasitic_realm("8.3.0")).await;
    let (plan, applied) = boot(&request, &env.aws).await.unwrap();
    assert_eq!(plan.bundle.name, bundle_name("8.3.0", &host));
    assert_eq!(applied.installed.to_string(), "8.3.0");
    assert_eq!(lava_version(r), "8.3.0");

    // Unpinned: the highest version built for this platform, never another
    // platform's 9.0.0 nor the old-style name.
    env.realm(json!({"realm": REALM})).await;
    let plan = lava_boot::plan(&request, &env.aws).await.unwrap();
    assert_eq!(
        (plan.bundle.name.as_str(), plan.bundle.reason),
        (bundle_name("8.3.0", &host).as_str(), Reason::HighestNew)
    );
    assert_eq!(plan.daemons.len(), 1);
    assert!(plan.daemons[0].env.is_empty());

    // Before 8.0 lava installed into /usr/local; --log-json came with 7.1.
    env.realm(json!({"realm": REALM, "x-workers": {"core": {"version": "7.0.0"}}}))
        .await;
    let plan = lava_boot::plan(&request, &env.aws).await.unwrap();
    assert_eq!(plan.bundle.reason, Reason::PinnedOld);
    assert_eq!(plan.install.base, r.join("usr/local"));
    assert!(plan.daemons[0].script.ends_with("--level info\n"));
}

#[tokio::test]
async fn bad_bundles_abort_before_anything_is_installed() {
    let env = Env::start().await;
    env.realm(json!({"realm": REALM, "x-workers": {"_": {"verify": "required"}}}))
        .await;
    let host = platform(worker_root().path());
    let name = bundle_name("8.3.0", &host);
    let good = fake_bundle("8.3.0");
    let truncated = good[..good.len() / 2].to_vec();
    type Check = fn(&BootError) -> bool;
    // What SHA256SUMS says of the bundle. Hostile bundles carry their true
    // digest: the scan must catch them.
    enum Sums {
        True,
        Of(Vec<u8>),
        Missing,
    }
    let cases: Vec<(&str, Vec<u8>, Sums, Check)> = vec![
        (
            "checksum mismatch",
            good.clone(),
            Sums::Of(b"other bytes".to_vec()),
            |e| matches!(e, BootError::Mismatch { .. }),
        ),
        (
            "no SHA256SUMS, verify required",
            good.clone(),
            Sums::Missing,
            |e| matches!(e, BootError::NoSums { setting, .. } if setting == "x-workers._.verify"),
        ),
        ("truncated", truncated, Sums::True, |e| {
            matches!(
                e,
                BootError::Bundle {
                    source: BundleError::Corrupt(_),
                    ..
                }
            )
        }),
        (
            "parent directory",
            hostile_bundle("../escape", None),
            Sums::True,
            |e| matches!(e, BootError::Bundle { source: BundleError::Unsafe { entry, .. }, .. } if entry == "../escape"),
        ),
        (
            "absolute path",
            hostile_bundle("/tmp/lava-boot-escape", None),
            Sums::True,
            |e| {
                matches!(
                    e,
                    BootError::Bundle {
                        source: BundleError::Unsafe { .. },
                        ..
                    }
                )
            },
        ),
        (
            "escaping symlink",
            hostile_bundle("lava/escape", Some("../../../etc")),
            Sums::True,
            |e| matches!(e, BootError::Bundle { source: BundleError::Unsafe { entry, .. }, .. } if entry == "lava/escape"),
        ),
    ];
    for (i, (case, bundle, digested, check)) in cases.into_iter().enumerate() {
        let prefix = format!("case-{i}");
        let sums = match digested {
            Sums::True => Some(vec![(name.clone(), bundle.clone())]),
            Sums::Of(bytes) => Some(vec![(name.clone(), bytes)]),
            Sums::Missing => None,
        };
        env.publish(
            &prefix,
            "amzn2023",
            &[(name.clone(), bundle)],
            sums.as_deref(),
        )
        .await;
        let root = worker_root();
        let err = boot(&request(env.area(&prefix), root.path(), "core"), &env.aws)
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(check(&err), "{case}: unexpected error {err:?}");
        let message = err.to_string();
        assert!(message.contains(&name), "{case}: {message}");
        assert_eq!(
            names_in(root.path()).first().map(String::as_str),
            Some("etc")
        );
        for untouched in ["opt", "usr/local/bin", "home"] {
            assert!(
                !root.path().join(untouched).exists(),
                "{case}: {untouched} created"
            );
        }
        assert!(
            names_in(&root.path().join("tmp")).is_empty(),
            "{case}: leftovers"
        );
    }

    // A missing entry is refused, unless verification is waived.
    let other = vec![("lava-8.2.0.tar.bz2".to_string(), good.clone())];
    env.publish(
        "unlisted",
        "amzn2023",
        &[(name.clone(), good.clone())],
        Some(&other),
    )
    .await;
    let root = worker_root();
    let mut unlisted = request(env.area("unlisted"), root.path(), "core");
    let err = boot(&unlisted, &env.aws).await.map(|_| ()).unwrap_err();
    assert!(
        matches!(&err, BootError::NotListed { setting, .. } if setting == "x-workers._.verify"),
        "{err:?}"
    );
    unlisted.verify = false;
    let (plan, _) = boot(&unlisted, &env.aws).await.unwrap();
    assert_eq!(plan.bundle.sha256, None);
    assert!(
        plan.to_string()
            .contains("NOT VERIFIED: s3://lava-code/unlisted/_dist_/pkg/amzn2023/SHA256SUMS has no entry for it"),
        "{plan}"
    );
    assert_eq!(lava_version(root.path()), "8.3.0");

    // A realm that requires nothing boots as upstream would, whatever the
    // sums say: a bundle another tool put there (no entry) or replaced (a
    // stale entry) is installed, with the warning in the plan.
    env.realm(json!({"realm": REALM})).await;
    env.publish(
        "stale",
        "amzn2023",
        &[(name.clone(), good)],
        Some(&[(name.clone(), b"what our deploy wrote".to_vec())]),
    )
    .await;
    for prefix in ["unlisted", "stale"] {
        let root = worker_root();
        let (plan, applied) = boot(&request(env.area(prefix), root.path(), "core"), &env.aws)
            .await
            .unwrap();
        assert_eq!(plan.bundle.policy.required, None, "{prefix}");
        assert!(plan.to_string().contains("used with a warning"), "{plan}");
        assert_eq!(applied.installed.to_string(), "8.3.0", "{prefix}");
        assert_eq!(lava_version(root.path()), "8.3.0", "{prefix}");
    }
}

#[tokio::test]
async fn nothing_to_boot_aborts_naming_the_cause() {
    let env = Env::start().await;
    let root = worker_root();
    let host = platform(root.path());
    let bundles = vec![(bundle_name("8.3.0", &host), fake_bundle("8.3.0"))];
    env.publish("lava", "amzn2023", &bundles, Some(&bundles))
        .await;
    let plan = |worker: &'static str, prefix: &'static str| {
        let request = request(env.area(prefix), root.path(), worker);
        let aws = env.aws.clone();
        async move { lava_boot::plan(&request, &aws).await.unwrap_err() }
    };

    let err = plan("core", "lava").await;
    assert!(matches!(err, BootError::NoSuchRealm { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "prod: no such realm in the lava.realms table"
    );

    env.realm(json!({"realm": REALM, "x-workers": {"_": {"version": "9.9.9"}}}))
        .await;
    let message = plan("core", "lava").await.to_string();
    assert!(
        message.contains("9.9.9") && message.contains(&host.to_string()),
        "{message}"
    );

    env.realm(json!({"realm": REALM, "x-workers": {"core": {"workers": "core bulk", "threads": 2}, "bulk": {"daemons": "two"}}}))
        .await;
    let message = plan("core", "lava").await.to_string();
    assert!(message.contains("x-workers.bulk.daemons"), "{message}");

    env.realm(json!({"realm": REALM, "x-workers": {"core": {"workers": "core ../x"}}}))
        .await;
    let err = plan("core", "lava").await;
    assert!(
        matches!(&err, BootError::Name { name, .. } if name == "../x"),
        "{err:?}"
    );

    env.realm(json!({"realm": REALM})).await;
    let err = plan("core", "empty").await;
    assert!(
        matches!(
            err,
            BootError::Select(lava_boot::SelectError::NothingFits { .. })
        ),
        "{err:?}"
    );
    assert_eq!(names_in(root.path()), ["etc", "usr"]);
}

/// A scriptlet that records its name, arguments and `LAVA_BOOT`, then exits.
fn scriptlet(log: &Path, status: u8) -> String {
    format!(
        "#!/bin/bash\nprintf '%s %s %s\\n' \"${{0##*/}}\" \"$*\" \"${{LAVA_BOOT:-unset}}\" >>'{}'\nexit {status}\n",
        log.display()
    )
}

#[tokio::test]
async fn boot_scripts_run_in_order_until_one_exits_1() {
    let env = Env::start().await;
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("log");
    let listed = [
        ("10-first.sh", scriptlet(&log, 0)),
        ("20-fails.sh", scriptlet(&log, 3)),
        ("30-abort.sh", scriptlet(&log, 1)),
        ("40-never.sh", scriptlet(&log, 0)),
    ];
    let sums: Vec<(String, Vec<u8>)> = listed
        .iter()
        .map(|(n, s)| (n.to_string(), s.clone().into_bytes()))
        .collect();
    for (name, text) in &listed {
        env.put(&format!("lava/_boot_/{name}"), text.clone()).await;
    }
    // Not scriptlets: skipped. A local addition missing from SHA256SUMS runs.
    for (name, text) in [
        ("README.md", scriptlet(&log, 1)),
        (".hidden", scriptlet(&log, 1)),
        ("bin/lava-boot-x86_64", scriptlet(&log, 1)),
        ("15-local.sh", scriptlet(&log, 0)),
    ] {
        env.put(&format!("lava/_boot_/{name}"), text).await;
    }
    env.put("lava/_dist_/boot/SHA256SUMS", sums_text(&sums))
        .await;

    let area = env.area("lava");
    let lava_boot = Path::new("/opt/x/lava-boot");
    let err = lava_boot::run_scripts(&area, REALM, "core", &env.aws, Some(lava_boot))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BootError::ScriptAborted { name } if name == "30-abort.sh"),
        "{err:?}"
    );
    let args = format!("s3://{BUCKET}/lava prod core /opt/x/lava-boot");
    let expected: String = ["10-first.sh", "15-local.sh", "20-fails.sh", "30-abort.sh"]
        .iter()
        .map(|n| format!("{n} {args}\n"))
        .collect();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), expected);

    // Without the aborting one every scriptlet runs, failures included.
    env.s3
        .delete_object()
        .bucket(BUCKET)
        .key("lava/_boot_/30-abort.sh")
        .send()
        .await
        .unwrap();
    std::fs::remove_file(&log).unwrap();
    let ran = lava_boot::run_scripts(&area, REALM, "core", &env.aws, None)
        .await
        .unwrap();
    let codes: Vec<_> = ran.iter().map(|r| (r.name.as_str(), r.code)).collect();
    assert_eq!(
        codes,
        [
            ("10-first.sh", Some(0)),
            ("15-local.sh", Some(0)),
            ("20-fails.sh", Some(3)),
            ("40-never.sh", Some(0)),
        ]
    );
    assert!(std::fs::read_to_string(&log).unwrap().contains(" unset\n"));

    // A listed scriptlet another tool replaced (upstream's `deploy.sh boot`
    // rolling back) runs, as upstream's root.boot.sh runs what it finds.
    env.put(
        "lava/_boot_/40-never.sh",
        scriptlet(&log, 0).replace("exit 0", "exit 0 # rolled back"),
    )
    .await;
    std::fs::remove_file(&log).unwrap();
    let ran = lava_boot::run_scripts(&area, REALM, "core", &env.aws, None)
        .await
        .unwrap();
    assert_eq!(ran.len(), 4);
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 4);

    // A realm that requires verification runs nothing unverified: not an
    // unlisted local addition, not a stale entry.
    env.realm(json!({"realm": REALM, "x-workers": {"_": {"verify": "required"}}}))
        .await;
    std::fs::remove_file(&log).unwrap();
    let err = lava_boot::run_scripts(&area, REALM, "core", &env.aws, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BootError::NotListed { name, setting, .. } if name == "15-local.sh" && setting == "x-workers._.verify"),
        "{err:?}"
    );
    env.s3
        .delete_object()
        .bucket(BUCKET)
        .key("lava/_boot_/15-local.sh")
        .send()
        .await
        .unwrap();
    let err = lava_boot::run_scripts(&area, REALM, "core", &env.aws, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BootError::Mismatch { url, .. } if url.ends_with("/_boot_/40-never.sh")),
        "{err:?}"
    );
    assert!(!log.exists());

    // 10-secupdate.sh's settings come from the realm's x-workers, as the
    // variables the scriptlet reads.
    env.realm(json!({"realm": REALM, "x-workers": {
        "_": {"secupdate": "no", "secupdate_fail_exit": "1"},
        "core": {"secupdate_reboot": "yes"},
    }}))
    .await;
    let seen = work.path().join("env");
    env.put(
        "settings/_boot_/10-env.sh",
        format!(
            "#!/bin/bash\nenv | grep '^LAVA_SECUPDATE' | sort >'{}'\n",
            seen.display()
        ),
    )
    .await;
    lava_boot::run_scripts(&env.area("settings"), REALM, "core", &env.aws, None)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        "LAVA_SECUPDATE=no\nLAVA_SECUPDATE_FAIL_EXIT=1\nLAVA_SECUPDATE_REBOOT=yes\n"
    );

    let err = lava_boot::run_scripts(&env.area("nothing"), REALM, "core", &env.aws, None)
        .await
        .unwrap_err();
    assert!(matches!(err, BootError::NoScripts { .. }), "{err:?}");
}

/// A file:// code area as deploy would leave it: the shipped 50-lava.sh,
/// lava-boot (this package's build of its command line) for this host, and a
/// bundle.
fn file_area(host: &Runtime) -> tempfile::TempDir {
    let area = tempfile::tempdir().unwrap();
    let put = |key: &str, bytes: &[u8]| {
        let path = area.path().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let sums = |key: &str, entries: &[(&str, &[u8])]| {
        let owned: Vec<(String, Vec<u8>)> = entries
            .iter()
            .map(|(n, b)| (n.to_string(), b.to_vec()))
            .collect();
        put(key, sums_text(&owned).as_bytes());
    };
    let lava_50 = std::fs::read(shipped_scripts().join("boot/50-lava.sh")).unwrap();
    put("_boot_/50-lava.sh", &lava_50);
    put("_dist_/boot/50-lava.sh", &lava_50);
    let binary = std::fs::read(env!("CARGO_BIN_EXE_boot-cli")).unwrap();
    let name = format!("lava-boot-{}", host.arch);
    let path = put(&format!("_dist_/boot/{name}"), &binary);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    sums(
        "_dist_/boot/SHA256SUMS",
        &[("50-lava.sh", &lava_50), (&name, &binary)],
    );
    let bundle = fake_bundle("8.3.0");
    let bundle_name = bundle_name("8.3.0", host);
    put(&format!("_dist_/pkg/amzn2023/{bundle_name}"), &bundle);
    sums("_dist_/pkg/amzn2023/SHA256SUMS", &[(&bundle_name, &bundle)]);
    area
}

/// `script` (its path below `misc/`) as it ships.
fn shell(script: &str, env: &Env, root: &Path) -> Command {
    let mut cmd = Command::new(shipped_scripts().join(script));
    cmd.envs(env.moto.env())
        .env("LAVA_BOOT_ROOT", root)
        .env_remove("LAVA_BOOT");
    cmd
}

#[tokio::test]
async fn root_boot_sh_boots_a_worker_through_lava_boot() {
    let env = Env::start().await;
    env.realm(parasitic_realm("8.3.0")).await;
    let root = worker_root();
    let host = platform(root.path());
    let area = file_area(&host);
    let url = format!("file://{}", area.path().display());

    // The command line: plan --json changes nothing.
    let out = run(Command::new(env!("CARGO_BIN_EXE_boot-cli"))
        .envs(env.moto.env())
        .args([
            "plan",
            "--json",
            "--code-area",
            &url,
            "--realm",
            REALM,
            "--worker",
            "core",
        ])
        .arg("--root")
        .arg(root.path()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["bundle"]["name"], bundle_name("8.3.0", &host));
    assert_eq!(plan["accounts"][1]["user"], "lava-core-bulk");
    assert_eq!(names_in(root.path()), ["etc", "usr"]);

    // The boot as an instance runs it: root.boot.sh -> lava-boot run-scripts
    // -> 50-lava.sh -> lava-boot apply (LAVA_BOOT_ROOT keeps it in the root).
    let out = run(shell("root.boot.sh", &env, root.path()).args([&url, REALM, "core"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "root.boot.sh: {stderr}");
    assert!(
        stderr.contains("Running boot script 50-lava.sh"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("50-lava.sh: INFO: fetching"),
        "50-lava.sh fetched lava-boot again: {stderr}"
    );
    assert_eq!(lava_version(root.path()), "8.3.0");
    assert_eq!(
        std::fs::read_to_string(root.path().join("home/lava-core-bulk/lava.start")).unwrap(),
        start_script(root.path(), "core-bulk", 8)
    );

    // 50-lava.sh on its own fetches lava-boot itself; an unknown realm aborts (1).
    let out = run(shell("boot/50-lava.sh", &env, root.path()).args([&url, "nope", "core"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("50-lava.sh: INFO: fetching") && stderr.contains("nope: no such realm"),
        "{stderr}"
    );

    // Not a lava AMI (nor a SAK one): 50-lava.sh aborts, as upstream's does.
    let marker = root.path().join("usr/local/etc/ami-info");
    std::fs::write(&marker, "AMI_TYPE=other\n").unwrap();
    let out = run(shell("boot/50-lava.sh", &env, root.path()).args([&url, REALM, "core"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("AMI type is 'other'"), "{stderr}");
    std::fs::remove_file(&marker).unwrap();
    let rc_d = root.path().join("usr/local/etc/rc.d");
    std::fs::create_dir_all(&rc_d).unwrap();
    std::fs::write(rc_d.join("00_shell.sh"), "").unwrap();
    let out = run(shell("boot/50-lava.sh", &env, root.path()).args([&url, REALM, "core"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("AMI type is SAK"), "{stderr}");

    // A lava-boot that does not match its SHA256SUMS is never run.
    let binary = area
        .path()
        .join(format!("_dist_/boot/lava-boot-{}", host.arch));
    let mut tampered = std::fs::read(&binary).unwrap();
    tampered.push(0);
    std::fs::write(&binary, tampered).unwrap();
    let out = run(shell("root.boot.sh", &env, root.path()).args([&url, REALM, "core"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not match SHA256SUMS"), "{stderr}");
}

#[tokio::test]
async fn a_code_area_without_sha256sums_boots_with_a_warning_unless_the_realm_requires_it() {
    // As upstream's deploy.sh leaves a package directory: bundles, no SHA256SUMS.
    let env = Env::start().await;
    let root = worker_root();
    let host = platform(root.path());
    let area = file_area(&host);
    std::fs::remove_file(area.path().join("_dist_/pkg/amzn2023/SHA256SUMS")).unwrap();
    let url = format!("file://{}", area.path().display());

    env.realm(json!({"realm": REALM})).await;
    let out = run(shell("root.boot.sh", &env, root.path()).args([&url, REALM, "core"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "root.boot.sh: {stderr}");
    let sums_url = format!("{url}/_dist_/pkg/amzn2023/SHA256SUMS");
    assert!(
        stderr.contains(&format!("UNVERIFIED: {sums_url} is missing"))
            && stderr.contains("WARNING"),
        "{stderr}"
    );
    assert!(stderr.contains("NOT VERIFIED"), "{stderr}");
    assert_eq!(lava_version(root.path()), "8.3.0");

    // The realm's setting turns the warning into an abort, before any change.
    env.realm(json!({"realm": REALM, "x-workers": {"_": {"verify": "required"}}}))
        .await;
    let root = worker_root();
    let out = run(shell("root.boot.sh", &env, root.path()).args([&url, REALM, "core"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{sums_url} is missing"))
            && stderr.contains("x-workers._.verify is \"required\""),
        "{stderr}"
    );
    for untouched in ["opt", "home", "usr/local/bin/lava-version"] {
        assert!(!root.path().join(untouched).exists(), "{untouched} created");
    }
}

/// The launch template's user data as the instance receives it: the worker
/// template rendered by dist, its intrinsic functions resolved with
/// `params` and the realm stack's `exports`.
fn user_data(params: &BTreeMap<&str, String>, exports: &BTreeMap<String, String>) -> Value {
    let source =
        std::fs::read_to_string(workspace_root().join("cfn/lava-worker.cfn.yaml")).unwrap();
    let rendered = lava_templates::render(&source, "lava-worker.cfn.yaml", "8.3.0").unwrap();
    let template: Value = serde_json::from_str(&rendered.json).unwrap();
    let templates: Vec<&Value> = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::EC2::LaunchTemplate")
        .collect();
    assert_eq!(templates.len(), 1, "one launch template");
    let data = &templates[0]["Properties"]["LaunchTemplateData"]["UserData"];
    let text = resolve(data, params, exports);
    serde_json::from_str(text.as_str().unwrap())
        .unwrap_or_else(|e| panic!("user data is not the AMI's JSON ({e}):\n{text}"))
}

/// The intrinsic functions the user data uses (Base64 is left undone: the
/// instance sees the decoded text).
fn resolve(
    value: &Value,
    params: &BTreeMap<&str, String>,
    exports: &BTreeMap<String, String>,
) -> Value {
    let sub = |text: &str, vars: &BTreeMap<String, String>| -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let end = start + rest[start..].find('}').expect("closed ${");
            let name = &rest[start + 2..end];
            let value = vars
                .get(name)
                .cloned()
                .or_else(|| params.get(name).cloned())
                .unwrap_or_else(|| panic!("${{{name}}} has no value"));
            out.push_str(&rest[..start]);
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out + rest
    };
    let Some((function, arg)) = value.as_object().and_then(|o| o.iter().next()) else {
        return value.clone();
    };
    match function.as_str() {
        "Fn::Base64" => resolve(arg, params, exports),
        "Ref" => json!(params[arg.as_str().unwrap()]),
        "Fn::ImportValue" => {
            let name = resolve(arg, params, exports);
            json!(exports
                .get(name.as_str().unwrap())
                .unwrap_or_else(|| panic!("no export {name}")))
        }
        "Fn::Sub" => match arg {
            Value::String(text) => json!(sub(text, &BTreeMap::new())),
            Value::Array(parts) => {
                let vars = parts[1]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| {
                        let v = resolve(v, params, exports);
                        (k.clone(), v.as_str().unwrap().to_string())
                    })
                    .collect();
                json!(sub(parts[0].as_str().unwrap(), &vars))
            }
            other => panic!("Fn::Sub of {other}"),
        },
        other => panic!("unexpected {other} in the user data"),
    }
}

/// Upload every file under `dir` to `<prefix>/<its path>`.
async fn upload(env: &Env, dir: &Path, prefix: &str) {
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let key = entry.path().strip_prefix(dir).unwrap().to_str().unwrap();
            env.put(
                &format!("{prefix}/{key}"),
                std::fs::read(entry.path()).unwrap(),
            )
            .await;
        }
    }
}

/// One start of an instance of the lava AMI: its rc.d runs the user data's
/// `shell0`, then (after its own steps) `shell`, each through s3run, which
/// fetches the script named by its first argument and runs it with the rest.
/// Returns each command's stderr.
async fn ami_start(env: &Env, user_data: &Value, root: &Path) -> Vec<String> {
    let mut logs = Vec::new();
    for key in ["shell0", "shell"] {
        let command = user_data[key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key}"));
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words[0], "/usr/local/bin/s3run", "{key}: {command}");
        let (bucket, key_path) = words[1]
            .strip_prefix("s3://")
            .and_then(|s| s.split_once('/'))
            .unwrap_or_else(|| panic!("{key}: not an S3 location: {}", words[1]));
        let script = env
            .s3
            .get_object()
            .bucket(bucket)
            .key(key_path)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: s3run cannot fetch {}: {e:?}", words[1]))
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(key_path.rsplit('/').next().unwrap());
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        let tools = tool("aws").parent().unwrap().to_path_buf();
        let path_var = format!("{}:{}", tools.display(), std::env::var("PATH").unwrap());
        let out = run(Command::new(&path)
            .args(&words[2..])
            .envs(env.moto.env())
            .env("PATH", path_var)
            .env("LAVA_BOOT_ROOT", root)
            .env_remove("LAVA_BOOT")
            // No extra volumes on this instance.
            .env("LAVA_TMP_VOL", root.join("dev/xvdb"))
            .env("LAVA_DOCKER_VOL", root.join("dev/xvdc")));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{key} ({command}) failed: {stderr}");
        logs.push(stderr);
    }
    logs
}

#[tokio::test]
async fn user_data_boots_the_worker_on_every_start_of_the_instance() {
    let env = Env::start().await;
    env.realm(parasitic_realm("8.3.0")).await;
    let root = worker_root();
    let host = platform(root.path());
    let area = file_area(&host);
    upload(&env, area.path(), "lava").await;
    for script in ["root.boot0.sh", "root.boot.sh"] {
        let bytes = std::fs::read(shipped_scripts().join(script)).unwrap();
        env.put(&format!("lava/{REALM}/core/{script}"), bytes).await;
    }

    let params = BTreeMap::from([
        ("realm", REALM.to_string()),
        ("worker", "core".to_string()),
        ("swapSize", "2".to_string()),
    ]);
    let exports = BTreeMap::from([
        (format!("lava:{REALM}:s3CodeBucket"), BUCKET.to_string()),
        (format!("lava:{REALM}:s3CodePrefix"), "lava".to_string()),
    ]);
    let data = user_data(&params, &exports);
    // The AMI's own steps: the realm's admins and the swap file.
    assert_eq!(
        data["import-users"],
        json!({"users": "lava-prod-admin", "sudoers": "lava-prod-admin"})
    );
    assert_eq!(data["swap"], json!({"size": 2}));

    // The first start, then a reboot (a security update, the common stack's
    // reboot document): /tmp is gone and the AMI runs the user data again.
    for start in ["first start", "after a reboot"] {
        let logs = ami_start(&env, &data, root.path()).await;
        assert!(
            logs[0].contains("no ") && logs[0].contains("stays on the root volume"),
            "{start}: root.boot0.sh: {}",
            logs[0]
        );
        assert!(
            logs[1].contains("Running boot script 50-lava.sh")
                && logs[1].contains("lava-boot apply"),
            "{start}: root.boot.sh: {}",
            logs[1]
        );
        assert_eq!(lava_version(root.path()), "8.3.0", "{start}");
        assert_eq!(
            std::fs::read_to_string(root.path().join("home/lava-core-bulk/lava.start")).unwrap(),
            start_script(root.path(), "core-bulk", 8),
            "{start}"
        );
        std::fs::remove_dir_all(root.path().join("tmp")).unwrap();
    }
}

/// Migration rehearsal, the worker's side: a code area laid out as
/// upstream's deploy.sh leaves it (bundles without SHA256SUMS, one for a
/// Python only upstream built, Python Lambda zips, its boot scriptlets), then
/// our deploy of a version upstream already deployed (refused: released
/// versions are immutable) and of a newer one. Workers pinned to upstream's
/// version, on a platform only upstream built, after a `deploy.sh boot`
/// rollback of 50-lava.sh, and still on upstream's root.boot.sh all keep
/// booting. (Realm stacks moved to our template, and left on upstream's, are
/// rehearsed in stack_upgrade.rs.)
#[tokio::test]
async fn a_code_area_shared_with_upstreams_tooling_keeps_every_worker_booting() {
    let env = Env::start().await;
    let root = worker_root();
    let host = platform(root.path());
    let only_upstream: Runtime = format!("amzn2023-py3.13-{}", host.arch).parse().unwrap();

    // Upstream's layout, as deploy.sh syncs it: no SHA256SUMS anywhere.
    let area = tempfile::tempdir().unwrap();
    let put = |key: &str, bytes: &[u8]| {
        let path = area.path().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    let upstream_bundle = fake_bundle("8.2.0");
    for platform in [&host, &only_upstream] {
        put(
            &format!("_dist_/pkg/amzn2023/{}", bundle_name("8.2.0", platform)),
            &upstream_bundle,
        );
    }
    for function in ["dispatch", "metrics", "s3trigger", "stop"] {
        put(
            &format!("_dist_/lambda/{function}-8.2.0.zip"),
            format!("python {function}").as_bytes(),
        );
    }
    put("_boot_/10-secupdate.sh", b"#!/bin/bash\nexit 0\n");
    let url = format!("file://{}", area.path().display());

    // Our release: what dist leaves (scriptlets, lava-boot, an 8.3.0 bundle),
    // and a rebuild of upstream's 8.2.0 bundle.
    let dist = file_area(&host);
    let ours_820 = format!("_dist_/pkg/amzn2023/{}", bundle_name("8.2.0", &host));
    std::fs::write(
        dist.path().join(&ours_820),
        [fake_bundle("8.2.0"), b"rebuilt".to_vec()].concat(),
    )
    .unwrap();
    let config = dist.path().join("deploy.yaml");
    std::fs::write(
        &config,
        format!("mig:\n  _: {{s3base: \"{url}\"}}\n  pkg: {{s3: _dist_/pkg/}}\n  boot: {{s3: _boot_/}}\n"),
    )
    .unwrap();
    let deploy = |version: &str| {
        run(Command::new(lava_tests::xtask())
            .args(["deploy", "-e", "mig", "-v", version, "pkg", "boot", "-f"])
            .arg(&config)
            .arg("--dist")
            .arg(dist.path()))
    };
    // The same version as upstream's, other bytes: refused, nothing written.
    let out = deploy("8.2.0");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&ours_820) && stderr.contains("--replace 8.2.0"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(area.path().join(&ours_820)).unwrap(),
        upstream_bundle
    );
    let out = deploy("8.3.0");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Upstream's root.boot.sh syncs all of _boot_/ and runs every file:
    // scriptlets only, ours and upstream's, nothing to fail or to download.
    assert_eq!(
        names_in(&area.path().join("_boot_")),
        ["10-secupdate.sh", "50-lava.sh"]
    );

    // Each boot's syslog lines (local0, upstream's tags), read from a socket
    // of the test's.
    let logs = tempfile::tempdir().unwrap();
    let socket = logs.path().join("log");
    let boots = |worker: &'static str| {
        let root = worker_root();
        let syslog = Syslog::listen(&socket);
        let out = run(shell("root.boot.sh", &env, root.path())
            .env(lava_boot::syslog::SOCKET_ENV, &socket)
            .args([&url, REALM, worker]));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{worker}: {stderr}");
        (lava_version(root.path()), stderr, syslog.lines())
    };
    // A worker pinned to upstream's version gets upstream's bundle; the
    // others the newest.
    env.realm(json!({"realm": REALM, "x-workers": {"pinned": {"version": "8.2.0"}}}))
        .await;
    let (version, _, lines) = boots("pinned");
    assert_eq!(version, "8.2.0");
    // The worker's log has upstream's lines, as each step happens, and no
    // failed boot script.
    for line in [
        "<134>root.boot.sh: INFO: Running boot script 10-secupdate.sh",
        "<134>root.boot.sh: INFO: Boot script 10-secupdate.sh : OK",
        "<134>root.boot.sh: INFO: Running boot script 50-lava.sh",
        "<134>50-lava.sh: INFO: Installed lava v8.2.0",
        "<134>50-lava.sh: INFO: Starting lava worker for realm=prod worker=pinned",
        "<134>root.boot.sh: INFO: Boot script 50-lava.sh : OK",
    ] {
        assert!(lines.iter().any(|l| l == line), "{line} not in {lines:#?}");
    }
    assert!(!lines.iter().any(|l| l.contains("failed")), "{lines:#?}");
    assert_eq!(boots("core").0, "8.3.0");

    // A platform only upstream built: its bundle, which our deploy listed.
    let other = worker_root();
    let request = Request {
        platform: only_upstream.clone(),
        ..request(Location::parse(&url).unwrap(), other.path(), "core")
    };
    let (plan, applied) = boot(&request, &env.aws).await.unwrap();
    assert_eq!(plan.bundle.name, bundle_name("8.2.0", &only_upstream));
    assert_eq!(applied.installed.to_string(), "8.2.0");

    // `deploy.sh boot` rolls 50-lava.sh back: the next boot runs it, warning.
    let ours = std::fs::read(area.path().join("_boot_/50-lava.sh")).unwrap();
    let rolled_back = [&ours[..], b"# rolled back by upstream's deploy.sh\n"].concat();
    std::fs::write(area.path().join("_boot_/50-lava.sh"), rolled_back).unwrap();
    let (version, stderr, _) = boots("core");
    assert_eq!(version, "8.3.0");
    assert!(
        stderr.contains("_boot_/50-lava.sh: sha256") && stderr.contains("used anyway"),
        "{stderr}"
    );
}

/// A syslog socket read as a daemon reads it, while the boot runs (a socket
/// nobody reads fills after a few lines and drops the rest).
struct Syslog {
    path: std::path::PathBuf,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    reader: std::thread::JoinHandle<Vec<String>>,
}

impl Syslog {
    fn listen(path: &Path) -> Syslog {
        let _ = std::fs::remove_file(path);
        let socket = std::os::unix::net::UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .unwrap();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = done.clone();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match socket.recv(&mut buf) {
                    Ok(n) => lines.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    // Nothing more came, and the boot is over.
                    Err(_) if stop.load(std::sync::atomic::Ordering::SeqCst) => return lines,
                    Err(_) => {}
                }
            }
        });
        Syslog {
            path: path.to_path_buf(),
            done,
            reader,
        }
    }

    /// Every line received, once the boot has ended.
    fn lines(self) -> Vec<String> {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        let lines = self.reader.join().unwrap();
        let _ = std::fs::remove_file(&self.path);
        lines
    }
}
