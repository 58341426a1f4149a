//! `deploy` end to end, against moto's S3 and STS through a counting (and, for
//! the fault test, failing) loopback proxy, and against a `file://` target.
//! The release is a small fake `dist/` with the real names of version 8.3.0;
//! an older 8.2.0 is already in the code area.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lava_config::{AccountError, Config, Deployable, Substitution};
use lava_deploy::{
    Action, Aws, Count, DeployError, Object, Options, Plan, Progress, Report, Request, Sources,
};
use lava_layout::{
    boot_binary_key, boot_script_key, cfn_doc_key, cfn_html_key, cfn_key, framework_key,
    lambda_key, oracle_key, pkg_key, Arch, CfnTemplate, Component, LambdaFunction, OraclePackage,
    PackageName, Version, ROOT_BOOT_SCRIPTS,
};
use lava_store::{Body, Location, PutMeta, Store, Tuning};
use lava_tests::moto::{self, command_sdk_loader, Moto, MOTO_ACCOUNT};
use lava_tests::proxy::{Fault, Proxy};
use sha2::{Digest, Sha256};

const BUCKET: &str = "lava-code";
/// Large enough to go multipart with the tests' tuning.
const BIG: usize = 12 << 20;

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Distinct, reproducible content for a key.
fn content(key: &str, size: usize) -> Vec<u8> {
    let line = format!("{key}\n");
    line.bytes().cycle().take(size.max(line.len())).collect()
}

fn bundle(version: &str, arch: &str) -> String {
    let name =
        PackageName::parse(&format!("lava-{version}-amzn2023-py3.11-{arch}.tar.bz2")).unwrap();
    pkg_key(&"amzn2023".parse().unwrap(), &name)
}

/// The seed's code-area layout for 8.3.0 with realms prod (core, batch) and
/// dev (core), written out rather than derived, as an operator reads it.
fn seed_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "_ami_/oracle/instantclient-basiclite-linux-arm64.zip",
        "_ami_/oracle/instantclient-basiclite-linux-x64.zip",
        "_ami_/oracle/instantclient-sqlplus-linux-arm64.zip",
        "_ami_/oracle/instantclient-sqlplus-linux-x64.zip",
        "_boot_/10-secupdate.sh",
        "_boot_/20-cloudwatch.sh",
        "_boot_/50-lava.sh",
        "_boot_/90-motd.sh",
        "_dist_/boot/lava-boot-x86_64",
        "_dist_/cfn/v8.3.0/lava-common.cfn.json",
        "_dist_/cfn/v8.3.0/lava-realm.cfn.json",
        "_dist_/cfn/v8.3.0/lava-worker.cfn.json",
        "_dist_/lambda/x86_64/dispatch-8.3.0.zip",
        "_dist_/lambda/x86_64/metrics-8.3.0.zip",
        "_dist_/lambda/x86_64/s3trigger-8.3.0.zip",
        "_dist_/lambda/x86_64/stop-8.3.0.zip",
        "_dist_/lambda/arm64/dispatch-8.3.0.zip",
        "_dist_/lambda/arm64/metrics-8.3.0.zip",
        "_dist_/lambda/arm64/s3trigger-8.3.0.zip",
        "_dist_/lambda/arm64/stop-8.3.0.zip",
        "_dist_/pkg/amzn2023/lava-8.3.0-amzn2023-py3.11-aarch64.tar.bz2",
        "_dist_/pkg/amzn2023/lava-8.3.0-amzn2023-py3.11-x86_64.tar.bz2",
    ]
    .map(String::from)
    .into();
    for (realm, worker) in [("prod", "core"), ("prod", "batch"), ("dev", "core")] {
        keys.push(format!("{realm}/{worker}/root.boot.sh"));
        keys.push(format!("{realm}/{worker}/root.boot0.sh"));
    }
    keys.into_iter().map(|k| format!("lava/{k}")).collect()
}

/// A built release, its workspace `misc/` and a deploy configuration.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// 8.3.0 complete, plus older 8.2.0 files that must never be deployed.
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let fixture = Fixture { dir };
        let version = v("8.3.0");
        let mut keys = vec![
            (bundle("8.3.0", "x86_64"), BIG),
            (bundle("8.3.0", "aarch64"), 3000),
            (bundle("8.2.0", "x86_64"), 2000),
            (framework_key(&version), 900),
            (
                lambda_key(LambdaFunction::Stop, &v("8.2.0"), Arch::X86_64),
                500,
            ),
            (cfn_key(CfnTemplate::Common, &v("8.2.0")), 400),
        ];
        for arch in Arch::ALL {
            keys.extend(LambdaFunction::ALL.map(|f| (lambda_key(f, &version, arch), 1500)));
        }
        keys.push((boot_binary_key(Arch::X86_64), 2500));
        for t in CfnTemplate::ALL {
            keys.push((cfn_key(t, &version), 800));
            keys.push((cfn_doc_key(t, &version), 300));
            keys.push((cfn_html_key(t, &version), 500));
        }
        for script in [
            "10-secupdate.sh",
            "20-cloudwatch.sh",
            "50-lava.sh",
            "90-motd.sh",
        ] {
            keys.push((boot_script_key(script), 200));
        }
        for p in [OraclePackage::Basiclite, OraclePackage::Sqlplus] {
            for a in Arch::ALL {
                keys.push((oracle_key(p, a), 1200));
            }
        }
        for (key, size) in keys {
            fixture.write(&key, &content(&key, size));
        }
        // dist's own checksum files are regenerated by deploy, never copied.
        fixture.write("_dist_/boot/SHA256SUMS", b"not what deploy uploads\n");
        for script in ROOT_BOOT_SCRIPTS {
            let path = fixture.misc().join(script);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content(script, 300)).unwrap();
        }
        fixture
    }

    fn dist(&self) -> PathBuf {
        self.dir.path().join("dist")
    }

    fn misc(&self) -> PathBuf {
        self.dir.path().join("misc")
    }

    fn write(&self, key: &str, bytes: &[u8]) {
        let path = self.dist().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// A configuration in upstream's format (plus root.realms) with
    /// locations relative to `s3base`.
    fn config(&self, name: &str, s3base: &str, account: &str) -> PathBuf {
        let yaml = format!(
            r#"# written by tests/deploy.rs
test:
  _:
    s3base: {s3base}
  account_id: "{account}"
  pkg:
    s3: lava/_dist_/pkg/
  boot:
    s3: lava/_boot_/
  framework:
    s3: lava/_dist_/framework/
  lambda:
    s3: lava/_dist_/lambda/
  cfn:
    s3: lava/_dist_/cfn/v${{version}}/
  other:
    s3:
  ami:
    s3: lava/_ami_/
    ip: public
    subnet: subnet-0
    sg: sg-0
    tz: UTC
    python:
      version: 3.11.13
  root:
    s3: lava/
    realms:
      prod: [core, batch]
      dev: [core]
"#
        );
        let path = self.dir.path().join(name);
        std::fs::write(&path, yaml).unwrap();
        path
    }
}

/// Remembers the objects it saw start and finish.
#[derive(Default)]
struct Seen(std::sync::Mutex<Vec<String>>);

impl Progress for Seen {
    fn begin(&self, _: Count) {}
    fn started(&self, _: &Object) {}
    fn advanced(&self, _: u64) {}
    fn finished(&self, object: &Object) {
        self.0.lock().unwrap().push(object.url.clone());
    }
}

fn tuning() -> Tuning {
    Tuning {
        multipart_threshold: 8 << 20,
        part_size: 5 << 20,
        part_concurrency: 3,
    }
}

/// The product's retry policy (its attempts are what the dropped-request
/// tests count on), with a short first backoff to keep the tests quick.
async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    command_sdk_loader(endpoint)
        .retry_config(lava_config::retry_config().with_initial_backoff(Duration::from_millis(20)))
        .load()
        .await
}

/// Where a deploy lands: moto behind a proxy, or a directory.
enum Remote {
    S3 {
        proxy: Proxy,
        /// Straight to moto: inspecting the bucket is not counted.
        direct: aws_sdk_s3::Client,
        aws: Aws,
        _moto: Moto,
    },
    File {
        dir: tempfile::TempDir,
    },
}

/// Where the counting of writes started.
enum Mark {
    Log(usize),
    Files(BTreeMap<String, (u64, i64, i64)>),
}

impl Remote {
    async fn s3() -> Remote {
        let moto = moto::start();
        let proxy = Proxy::start(moto.port());
        let direct_config = sdk_config(&moto.endpoint()).await;
        let direct = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&direct_config)
                .force_path_style(true)
                .build(),
        );
        direct.create_bucket().bucket(BUCKET).send().await.unwrap();
        let aws = Aws::new(&sdk_config(&proxy.endpoint()).await);
        Remote::S3 {
            proxy,
            direct,
            aws,
            _moto: moto,
        }
    }

    fn file() -> Remote {
        Remote::File {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `_.s3base` for area `area`: a prefix of the bucket, or a directory.
    fn s3base(&self, area: &str) -> String {
        match self {
            Remote::S3 { .. } => format!("{BUCKET}/{area}"),
            Remote::File { dir } => format!("file://{}/{area}", dir.path().display()),
        }
    }

    fn location(&self, area: &str) -> Location {
        let base = self.s3base(area);
        Location::parse(&if base.contains("://") {
            base
        } else {
            format!("s3://{base}")
        })
        .unwrap()
    }

    /// A store that bypasses the proxy, to seed and inspect the area.
    fn store(&self, area: &str) -> Store {
        let client = match self {
            Remote::S3 { direct, .. } => Some(direct),
            Remote::File { .. } => None,
        };
        Store::new(self.location(area), client, Tuning::default())
    }

    fn aws(&self) -> Option<&Aws> {
        match self {
            Remote::S3 { aws, .. } => Some(aws),
            Remote::File { .. } => None,
        }
    }

    /// What is already there: an older release, deployed with its sums.
    async fn seed_older_release(&self, area: &str) {
        let store = self.store(area);
        let old = bundle("8.2.0", "x86_64");
        let mut sums = String::new();
        for key in [
            format!("lava/{old}"),
            format!(
                "lava/{}",
                lambda_key(LambdaFunction::Dispatch, &v("8.2.0"), Arch::X86_64)
            ),
            format!("lava/{}", cfn_key(CfnTemplate::Common, &v("8.2.0"))),
        ] {
            let bytes = content(&key.replace("lava/", "old "), 700);
            if key.ends_with(".tar.bz2") {
                let name = key.rsplit('/').next().unwrap();
                sums.push_str(&format!("{}  {name}\n", sha256(&bytes)));
            }
            put(&store, &key, bytes).await;
        }
        put(
            &store,
            "lava/_dist_/pkg/amzn2023/SHA256SUMS",
            sums.into_bytes(),
        )
        .await;
    }

    /// An object as `aws s3 cp`/`sync` leave it: no SHA-256 kept with it.
    async fn put_as_aws_cli(&self, area: &str, key: &str, bytes: Vec<u8>) {
        match self {
            Remote::S3 { direct, .. } => {
                direct
                    .put_object()
                    .bucket(BUCKET)
                    .key(format!("{area}/{key}"))
                    .body(bytes.into())
                    .send()
                    .await
                    .unwrap();
            }
            Remote::File { dir } => {
                let path = dir.path().join(area).join(key);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, bytes).unwrap();
            }
        }
    }

    /// Every object of the area, by key below it, with its content.
    async fn state(&self, area: &str) -> BTreeMap<String, Vec<u8>> {
        match self {
            Remote::S3 { direct, .. } => {
                let prefix = format!("{area}/");
                let mut state = BTreeMap::new();
                for o in moto::objects(direct, BUCKET, &prefix).await {
                    let key = o.key().unwrap();
                    let got = direct
                        .get_object()
                        .bucket(BUCKET)
                        .key(key)
                        .send()
                        .await
                        .unwrap();
                    let bytes = got.body.collect().await.unwrap().into_bytes().to_vec();
                    state.insert(key[prefix.len()..].to_string(), bytes);
                }
                state
            }
            Remote::File { dir } => {
                let root = dir.path().join(area);
                lava_tests::files_under(&root)
                    .into_iter()
                    .map(|k| {
                        let bytes = std::fs::read(root.join(&k)).unwrap();
                        (k, bytes)
                    })
                    .collect()
            }
        }
    }

    fn mark(&self, area: &str) -> Mark {
        match self {
            Remote::S3 { proxy, .. } => Mark::Log(proxy.log().len()),
            Remote::File { dir } => Mark::Files(file_stamps(&dir.path().join(area))),
        }
    }

    /// Keys (below `area`) of every write since `mark`, counted where they
    /// land: at the proxy in front of moto, or on the file system.
    fn written_since(&self, mark: &Mark, area: &str) -> BTreeSet<String> {
        match (self, mark) {
            (Remote::S3 { proxy, .. }, Mark::Log(from)) => {
                let prefix = format!("/{BUCKET}/{area}/");
                proxy.log()[*from..]
                    .iter()
                    .filter(|l| l.service == "s3" && l.is_write())
                    .map(|l| {
                        l.path()
                            .strip_prefix(&prefix)
                            .unwrap_or(l.path())
                            .to_string()
                    })
                    .collect()
            }
            (Remote::File { dir }, Mark::Files(before)) => {
                let after = file_stamps(&dir.path().join(area));
                after
                    .into_iter()
                    .filter(|(k, stamp)| before.get(k) != Some(stamp))
                    .map(|(k, _)| k)
                    .collect()
            }
            _ => unreachable!("a mark of this remote"),
        }
    }

    /// Requests since `mark` that could write (S3: any method but GET/HEAD).
    fn write_requests_since(&self, mark: &Mark, area: &str) -> usize {
        match (self, mark) {
            (Remote::S3 { proxy, .. }, Mark::Log(from)) => proxy.log()[*from..]
                .iter()
                .filter(|l| l.service == "s3" && l.is_write())
                .count(),
            _ => self.written_since(mark, area).len(),
        }
    }
}

/// (inode, mtime seconds, mtime nanoseconds) of every file: a rename or a
/// rewrite changes them.
fn file_stamps(root: &Path) -> BTreeMap<String, (u64, i64, i64)> {
    if !root.exists() {
        return BTreeMap::new();
    }
    lava_tests::files_under(root)
        .into_iter()
        .map(|k| {
            let m = std::fs::metadata(root.join(&k)).unwrap();
            (k, (m.ino(), m.mtime(), m.mtime_nsec()))
        })
        .collect()
}

async fn put(store: &Store, key: &str, bytes: Vec<u8>) {
    let meta = PutMeta {
        size: bytes.len() as u64,
        sha256: sha256(&bytes),
        content_type: "application/octet-stream".into(),
    };
    store
        .put(key, &Body::Bytes(Arc::new(bytes)), &meta, &|_| {})
        .await
        .unwrap();
}

/// Plan (and unless `dry_run`, execute) a deploy of 8.3.0 with `config`.
async fn deploy(
    fixture: &Fixture,
    remote: &Remote,
    config: &Path,
    components: &[Deployable],
    dry_run: bool,
) -> Result<(Plan, Option<Report>), DeployError> {
    deploy_with(fixture, remote, config, components, dry_run, false).await
}

/// `deploy`, with `replace` as `--replace` of the version sets it.
async fn deploy_with(
    fixture: &Fixture,
    remote: &Remote,
    config: &Path,
    components: &[Deployable],
    dry_run: bool,
    replace: bool,
) -> Result<(Plan, Option<Report>), DeployError> {
    let version = v("8.3.0");
    let config = Config::load(config)?;
    let no_env = |_: &str| None;
    let env = config.environment(
        "test",
        &Substitution {
            version: &version,
            env: &no_env,
        },
    )?;
    let prepared = lava_deploy::prepare(&Request {
        environment: &env,
        components,
        version,
        sources: Sources {
            dist: fixture.dist(),
            misc: fixture.misc(),
        },
    })?;
    let options = Options {
        jobs: 4,
        tuning: tuning(),
        replace,
    };
    let plan = prepared.plan(remote.aws(), &options).await?;
    if dry_run {
        return Ok((plan, None));
    }
    let seen = Arc::new(Seen::default());
    let report = lava_deploy::execute(&plan, seen.clone(), options.jobs).await?;
    // Every object the plan says to write was written, and nothing else.
    let mut planned: Vec<String> = plan
        .objects()
        .filter(|o| o.action != Action::Unchanged)
        .map(|o| o.url.clone())
        .collect();
    let mut done = seen.0.lock().unwrap().clone();
    planned.sort();
    done.sort();
    assert_eq!(done, planned, "the run did not execute exactly the plan");
    Ok((plan, Some(report)))
}

/// The seed keys with the bytes they must have: root boot scripts from
/// `misc/`, everything else from `dist/`.
fn local_state(fixture: &Fixture) -> BTreeMap<String, Vec<u8>> {
    seed_keys()
        .into_iter()
        .map(|key| {
            let name = key.rsplit('/').next().unwrap();
            let path = if ROOT_BOOT_SCRIPTS.contains(&name) {
                fixture.misc().join(name)
            } else {
                fixture.dist().join(&key["lava/".len()..])
            };
            (key, std::fs::read(path).unwrap())
        })
        .collect()
}

/// Every checksum file lists only objects that are there, with their digest.
fn check_sums(state: &BTreeMap<String, Vec<u8>>) {
    for (key, text) in state.iter().filter(|(k, _)| k.ends_with("/SHA256SUMS")) {
        let dir = &key[..key.len() - "SHA256SUMS".len()];
        for line in String::from_utf8_lossy(text).lines() {
            let (sha, name) = line.split_once("  ").expect("sha256sum format");
            let object = state
                .get(&format!("{dir}{name}"))
                .unwrap_or_else(|| panic!("{key} lists {name}, which is not there"));
            assert_eq!(sha256(object), sha, "{key}: wrong digest for {name}");
        }
    }
}

// The suite, run once against each kind of remote.

async fn full_deploy_lands_every_seed_key(remote: Remote) {
    let fixture = Fixture::new();
    remote.seed_older_release("code").await;
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    let (plan, report) = deploy(&fixture, &remote, &config, &[], false)
        .await
        .unwrap();
    let state = remote.state("code").await;

    // The seed layout, with exactly the local bytes.
    for (key, bytes) in local_state(&fixture) {
        let got = state
            .get(&key)
            .unwrap_or_else(|| panic!("{key} was not deployed"));
        assert!(got == &bytes, "{key}: content differs");
    }
    // Beside it: documents, the framework, checksum files and the older
    // release, untouched; no 8.2.0 file of dist/ and no dist SHA256SUMS.
    let mut expected: BTreeSet<String> = seed_keys().into_iter().collect();
    for extra in [
        "lava/_dist_/cfn/v8.3.0/lava-common.cfn.md",
        "lava/_dist_/cfn/v8.3.0/lava-common.cfn.html",
        "lava/_dist_/cfn/v8.3.0/lava-realm.cfn.md",
        "lava/_dist_/cfn/v8.3.0/lava-realm.cfn.html",
        "lava/_dist_/cfn/v8.3.0/lava-worker.cfn.md",
        "lava/_dist_/cfn/v8.3.0/lava-worker.cfn.html",
        "lava/_dist_/framework/lava-job-framework-8.3.0.zip",
        "lava/_ami_/oracle/SHA256SUMS",
        "lava/_dist_/cfn/v8.3.0/SHA256SUMS",
        "lava/_dist_/framework/SHA256SUMS",
        "lava/_dist_/lambda/x86_64/SHA256SUMS",
        "lava/_dist_/lambda/arm64/SHA256SUMS",
        "lava/_dist_/boot/SHA256SUMS",
        "lava/_dist_/pkg/amzn2023/SHA256SUMS",
        "lava/_dist_/pkg/amzn2023/lava-8.2.0-amzn2023-py3.11-x86_64.tar.bz2",
        "lava/_dist_/lambda/x86_64/dispatch-8.2.0.zip",
        "lava/_dist_/cfn/v8.2.0/lava-common.cfn.json",
    ] {
        expected.insert(extra.to_string());
    }
    let keys: BTreeSet<String> = state.keys().cloned().collect();
    assert_eq!(keys, expected);
    check_sums(&state);
    let pkg_sums =
        String::from_utf8_lossy(&state["lava/_dist_/pkg/amzn2023/SHA256SUMS"]).to_string();
    assert!(
        pkg_sums.contains("lava-8.2.0-amzn2023-py3.11-x86_64.tar.bz2"),
        "{pkg_sums}"
    );
    assert_eq!(pkg_sums.lines().count(), 3, "{pkg_sums}");

    let report = report.unwrap();
    assert_eq!(report.written, plan.to_write());
    assert_eq!(
        plan.count(Action::Changed).objects,
        1,
        "only the pkg sums existed"
    );
    // `other` is ignored; every component was configured.
    assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);

    if let Remote::S3 { direct, proxy, .. } = &remote {
        // The large bundle went up in concurrent parts.
        let big = format!("/{BUCKET}/code/lava/{}", bundle("8.3.0", "x86_64"));
        let log = proxy.log();
        let parts = log
            .iter()
            .filter(|l| l.path() == big && l.target.contains("partNumber="))
            .count();
        assert_eq!(parts, 3, "12 MiB in 5 MiB parts");
        assert!(log
            .iter()
            .any(|l| l.path() == big && l.method == "POST" && l.target.contains("?uploads")));
        // Each object carries its digest and the Content-Type of its kind.
        for (key, bytes) in state.iter().filter(|(k, _)| !k.contains("8.2.0")) {
            let head = direct
                .head_object()
                .bucket(BUCKET)
                .key(format!("code/{key}"))
                .send()
                .await
                .unwrap();
            let meta = head.metadata().and_then(|m| m.get("sha256")).cloned();
            assert_eq!(meta.as_deref(), Some(sha256(bytes).as_str()), "{key}");
            let name = key.rsplit('/').next().unwrap();
            let expected_type = match name.rsplit_once('.').map(|(_, kind)| kind) {
                Some("json") => "application/json",
                Some("md") => "text/markdown; charset=utf-8",
                Some("html") => "text/html; charset=utf-8",
                Some("zip") => "application/zip",
                Some("bz2") => "application/x-bzip2",
                Some("sh") => "text/x-shellscript",
                _ if name == "SHA256SUMS" => "text/plain; charset=utf-8",
                _ if name.starts_with("lava-boot-") => "application/octet-stream",
                _ => panic!("{key}: no Content-Type expected"),
            };
            assert_eq!(head.content_type(), Some(expected_type), "{key}");
        }
    }
}

async fn redeploy_writes_nothing(remote: Remote) {
    let fixture = Fixture::new();
    remote.seed_older_release("code").await;
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    deploy(&fixture, &remote, &config, &[], false)
        .await
        .unwrap();
    let before = remote.state("code").await;
    let mark = remote.mark("code");
    let (plan, report) = deploy(&fixture, &remote, &config, &[], false)
        .await
        .unwrap();
    assert_eq!(report.unwrap().written.objects, 0);
    assert_eq!(plan.to_write().objects, 0);
    assert_eq!(remote.write_requests_since(&mark, "code"), 0);
    assert_eq!(remote.state("code").await, before);

    if let (Remote::S3 { proxy, .. }, Mark::Log(from)) = (&remote, &mark) {
        // Never a GET of an artefact: listings and checksum files only; HEAD
        // only for the root boot scripts and _boot_/'s scriptlets, whose
        // directories have no checksum file (another tool may have replaced
        // a scriptlet since: its copy's entry cannot say).
        for l in &proxy.log()[*from..] {
            match l.method.as_str() {
                "GET" => assert!(
                    l.target.contains("list-type=2") || l.path().ends_with("/SHA256SUMS"),
                    "{l:?}"
                ),
                "HEAD" => assert!(
                    l.path().contains("/root.boot") || l.path().contains("/_boot_/"),
                    "{l:?}"
                ),
                _ => assert_eq!(l.service, "sts", "{l:?}"),
            }
        }
    }
}

/// A released version is immutable: other bytes under a key the code area
/// holds are refused, by the dry run as by the run, each object named, and
/// nothing is written.
async fn changed_artefacts_of_a_released_version_are_refused(remote: Remote) {
    let fixture = Fixture::new();
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    deploy(&fixture, &remote, &config, &[], false)
        .await
        .unwrap();
    let before = remote.state("code").await;
    let zip = lambda_key(LambdaFunction::Dispatch, &v("8.3.0"), Arch::X86_64);
    for key in [bundle("8.3.0", "aarch64"), zip.clone()] {
        fixture.write(&key, &content(&format!("rebuilt {key}"), 3100));
    }
    // A new file of the version is no replacement: it alone would deploy.
    let added =
        lambda_key(LambdaFunction::Stop, &v("8.3.0"), Arch::X86_64).replace("stop", "extra");
    fixture.write(&added, b"a file the code area does not have");
    for dry_run in [true, false] {
        let mark = remote.mark("code");
        let err = deploy(&fixture, &remote, &config, &[], dry_run)
            .await
            .err()
            .expect("a changed artefact of 8.3.0 is refused");
        assert!(err.is_input(), "{err}");
        let msg = err.to_string();
        for key in [bundle("8.3.0", "aarch64"), zip.clone()] {
            assert!(
                msg.contains(&remote.store("code").url(&format!("lava/{key}"))),
                "{key}: {msg}"
            );
        }
        assert!(!msg.contains("extra-"), "{msg}");
        assert!(
            msg.contains("--replace 8.3.0") && msg.contains("nothing was written"),
            "{msg}"
        );
        assert_eq!(
            remote.write_requests_since(&mark, "code"),
            0,
            "dry run {dry_run}"
        );
        assert_eq!(remote.state("code").await, before, "dry run {dry_run}");
    }
}

/// Files upstream's deploy.sh put in a directory (no SHA256SUMS entry, no
/// SHA-256 kept by S3, as `aws s3 sync` uploads them) are listed by the
/// first deploy that writes the directory's SHA256SUMS, with the digest of
/// their bytes; the next deploy finds them listed and reads nothing.
async fn files_other_tools_wrote_are_listed_with_their_digest(remote: Remote) {
    let fixture = Fixture::new();
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    let upstream = [
        (
            "lava/_dist_/pkg/amzn2023/lava-8.2.0-amzn2023-py3.13-x86_64.tar.bz2",
            content("an upstream bundle", 5000),
        ),
        (
            "lava/_dist_/framework/lava-job-framework-8.2.0.zip",
            content("an upstream framework", 900),
        ),
    ];
    for (key, bytes) in &upstream {
        remote.put_as_aws_cli("code", key, bytes.clone()).await;
    }
    let (plan, _) = deploy(&fixture, &remote, &config, &[], false)
        .await
        .unwrap();
    let adopted: BTreeMap<String, String> = plan
        .adopted()
        .map(|a| (a.name.clone(), a.sha256.clone()))
        .collect();
    let state = remote.state("code").await;
    check_sums(&state);
    for (key, bytes) in &upstream {
        let (dir, name) = key.rsplit_once('/').unwrap();
        assert_eq!(adopted.get(name), Some(&sha256(bytes)), "{key}");
        let (sums, _) = lava_layout::Sums::parse(&String::from_utf8_lossy(
            &state[&format!("{dir}/SHA256SUMS")],
        ));
        assert_eq!(sums.get(name), Some(sha256(bytes).as_str()), "{key}");
        assert_eq!(&state[*key], bytes, "an adopted file is never rewritten");
    }
    let (again, _) = deploy(&fixture, &remote, &config, &[], true).await.unwrap();
    assert_eq!(again.adopted().count(), 0);
    assert_eq!(again.to_write().objects, 0);
}

/// With the override the changed objects and their directory's sums are
/// written, nothing else.
async fn replace_overrides_immutability_for_the_changed_objects(remote: Remote) {
    let fixture = Fixture::new();
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    deploy(&fixture, &remote, &config, &[], false)
        .await
        .unwrap();
    for (arch, size) in [("aarch64", 3100), ("x86_64", BIG + 1)] {
        let key = bundle("8.3.0", arch);
        fixture.write(&key, &content(&format!("rebuilt {key}"), size));
        let mark = remote.mark("code");
        let (plan, _) = deploy_with(&fixture, &remote, &config, &[], false, true)
            .await
            .unwrap();
        let written = remote.written_since(&mark, "code");
        let expected: BTreeSet<String> = [
            format!("lava/{key}"),
            "lava/_dist_/pkg/amzn2023/SHA256SUMS".to_string(),
        ]
        .into();
        assert_eq!(written, expected, "{arch}");
        assert_eq!(plan.count(Action::Changed).objects, 2, "{arch}");
        assert_eq!(plan.count(Action::New).objects, 0, "{arch}");
        let state = remote.state("code").await;
        check_sums(&state);
        assert!(state[&format!("lava/{key}")].starts_with(b"rebuilt"));
    }
}

async fn dry_run_writes_nothing_and_the_run_executes_the_plan(remote: Remote) {
    let fixture = Fixture::new();
    remote.seed_older_release("code").await;
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    let before = remote.state("code").await;
    let mark = remote.mark("code");
    let (dry, report) = deploy(&fixture, &remote, &config, &[], true).await.unwrap();
    assert!(report.is_none());
    assert_eq!(remote.write_requests_since(&mark, "code"), 0);
    assert_eq!(remote.state("code").await, before);
    assert!(dry.to_write().objects > 20);

    let mark = remote.mark("code");
    let (real, _) = deploy(&fixture, &remote, &config, &[], false)
        .await
        .unwrap();
    let plan_of = |p: &Plan| -> Vec<(String, Action, u64)> {
        p.objects()
            .map(|o| (o.url.clone(), o.action, o.size))
            .collect()
    };
    assert_eq!(
        plan_of(&real),
        plan_of(&dry),
        "the run planned something else"
    );
    let planned: BTreeSet<String> = dry
        .objects()
        .filter(|o| o.action != Action::Unchanged)
        .map(|o| o.url.rsplit_once("/code/").unwrap().1.to_string())
        .collect();
    assert_eq!(remote.written_since(&mark, "code"), planned);
}

async fn only_the_named_components(remote: Remote) {
    let fixture = Fixture::new();
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    let components = ["lambda".parse().unwrap(), "root".parse().unwrap()];
    deploy(&fixture, &remote, &config, &components, false)
        .await
        .unwrap();
    let keys: Vec<String> = remote.state("code").await.into_keys().collect();
    assert!(
        keys.iter()
            .all(|k| k.starts_with("lava/_dist_/lambda/") || k.contains("/root.boot")),
        "{keys:?}"
    );
    // 4 zips of each architecture and their SHA256SUMS; 2 scripts x 3 workers.
    assert_eq!(keys.len(), 2 * (4 + 1) + 6);
}

/// The ami component syncs all of `_ami_/`, as upstream's `aws s3 sync
/// --exclude '*/.*'` of ami/resources.s3: any file at any depth, through
/// symlinks, but nothing below a hidden name and never dist's own sums.
async fn ami_deploys_every_resource_but_hidden_ones(remote: Remote) {
    let fixture = Fixture::new();
    for key in ["_ami_/other/tool.rpm", "_ami_/extras/x/y.bin"] {
        fixture.write(key, &content(key, 600));
    }
    for hidden in ["_ami_/.DS_Store", "_ami_/oracle/.hidden/z"] {
        fixture.write(hidden, b"hidden");
    }
    // Hidden first: a hidden name needs no key, UTF-8 or not.
    let hidden_non_utf8 = fixture.dist().join(OsStr::from_bytes(b"_ami_/.\xff"));
    std::fs::write(hidden_non_utf8, b"hidden").unwrap();
    fixture.write("_ami_/oracle/SHA256SUMS", b"not what deploy uploads\n");
    let outside = fixture.dir.path().join("outside");
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::write(outside.join("real.bin"), content("real.bin", 700)).unwrap();
    std::fs::write(outside.join("dir/w.txt"), content("w.txt", 50)).unwrap();
    let ami = fixture.dist().join("_ami_");
    std::os::unix::fs::symlink(outside.join("real.bin"), ami.join("linked.bin")).unwrap();
    std::os::unix::fs::symlink(outside.join("dir"), ami.join("extras/linked")).unwrap();

    let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    let components = ["ami".parse().unwrap()];
    deploy(&fixture, &remote, &config, &components, false)
        .await
        .unwrap();
    let state = remote.state("code").await;
    let mut expected: BTreeMap<String, Vec<u8>> = local_state(&fixture)
        .into_iter()
        .filter(|(k, _)| k.starts_with("lava/_ami_/"))
        .collect();
    assert_eq!(expected.len(), 4, "the staged Oracle zips");
    for key in ["_ami_/other/tool.rpm", "_ami_/extras/x/y.bin"] {
        expected.insert(format!("lava/{key}"), content(key, 600));
    }
    expected.insert("lava/_ami_/linked.bin".into(), content("real.bin", 700));
    expected.insert(
        "lava/_ami_/extras/linked/w.txt".into(),
        content("w.txt", 50),
    );
    for (key, bytes) in &expected {
        assert!(state.get(key) == Some(bytes), "{key}: missing or wrong");
    }
    let sums: BTreeSet<String> = ["", "oracle/", "other/", "extras/x/", "extras/linked/"]
        .map(|dir| format!("lava/_ami_/{dir}SHA256SUMS"))
        .into();
    let keys: BTreeSet<String> = state.keys().cloned().collect();
    let objects: BTreeSet<String> = expected.keys().cloned().collect();
    assert_eq!(keys, &objects | &sums, "hidden files or extra keys");
    // Merged sums, not dist's file; check_sums would fail on its text too.
    let oracle_sums = String::from_utf8_lossy(&state["lava/_ami_/oracle/SHA256SUMS"]).into_owned();
    assert_eq!(oracle_sums.lines().count(), 4, "{oracle_sums}");
    check_sums(&state);

    let mark = remote.mark("code");
    let (plan, _) = deploy(&fixture, &remote, &config, &components, false)
        .await
        .unwrap();
    assert_eq!(plan.to_write().objects, 0);
    assert_eq!(remote.write_requests_since(&mark, "code"), 0);
}

/// A name below `_ami_/` that has no S3 key is bad input naming it, before
/// anything is written.
#[tokio::test]
async fn ami_names_without_a_key_are_bad_input() {
    let remote = Remote::file();
    let mark = remote.mark("code");
    for (name, shown) in [
        (
            &b"_ami_/other/bad\xff.rpm"[..],
            "_ami_/other/bad\u{fffd}.rpm",
        ),
        (b"_ami_/line\nbreak", "_ami_/line\nbreak"),
    ] {
        let fixture = Fixture::new();
        let path = fixture.dist().join(OsStr::from_bytes(name));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"x").unwrap();
        let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
        let Err(err) = deploy(&fixture, &remote, &config, &[], false).await else {
            panic!("{shown}: deployed");
        };
        assert!(err.is_input(), "{err}");
        assert!(err.to_string().contains(shown), "{err}");
        assert!(
            remote.written_since(&mark, "code").is_empty(),
            "bad input wrote"
        );
    }

    // A directory symlink to its parent is a loop, not an endless walk.
    let fixture = Fixture::new();
    let dir = fixture.dist().join("_ami_/other");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink("..", dir.join("up")).unwrap();
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    let Err(err) = deploy(&fixture, &remote, &config, &[], false).await else {
        panic!("a symlink loop deployed");
    };
    assert!(
        err.is_input() && err.to_string().contains("symlink loop"),
        "{err}"
    );
    assert!(remote.written_since(&mark, "code").is_empty());
}

/// Optional scriptlets named in `boot.optional` join `_boot_/` from
/// misc/boot.optional, their copies in `_dist_/boot/` listed in its
/// SHA256SUMS; a name that is not there is
/// bad input naming what is.
#[tokio::test]
async fn optional_scriptlets_join_boot_with_their_sums() {
    let remote = Remote::file();
    let fixture = Fixture::new();
    let optional = fixture.misc().join("boot.optional");
    std::fs::create_dir_all(&optional).unwrap();
    std::fs::write(optional.join("30-oracle.sh"), content("30-oracle.sh", 400)).unwrap();
    std::fs::write(optional.join("40-extras.sh"), content("40-extras.sh", 400)).unwrap();
    let with = |list: &str| {
        let path = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
        let yaml = std::fs::read_to_string(&path).unwrap().replace(
            "  boot:\n    s3: lava/_boot_/\n",
            &format!("  boot:\n    s3: lava/_boot_/\n    optional: {list}\n"),
        );
        std::fs::write(&path, yaml).unwrap();
        path
    };
    let boot = ["boot".parse().unwrap()];

    deploy(&fixture, &remote, &with("[30-oracle.sh]"), &boot, false)
        .await
        .unwrap();
    let state = remote.state("code").await;
    assert_eq!(
        state["lava/_boot_/30-oracle.sh"],
        content("30-oracle.sh", 400)
    );
    assert!(!state.contains_key("lava/_boot_/40-extras.sh"));
    // Its copy beside lava-boot is what that directory's sums list: _boot_/
    // holds nothing but scriptlets.
    assert_eq!(
        state["lava/_dist_/boot/30-oracle.sh"],
        content("30-oracle.sh", 400)
    );
    assert!(!state.contains_key("lava/_boot_/SHA256SUMS"));
    let sums = String::from_utf8_lossy(&state["lava/_dist_/boot/SHA256SUMS"]).into_owned();
    assert!(sums.contains("  30-oracle.sh\n"), "{sums}");
    check_sums(&state);

    let Err(err) = deploy(&fixture, &remote, &with("[50-oracle.sh]"), &boot, false).await else {
        panic!("a missing optional scriptlet deployed");
    };
    let err = err.to_string();
    assert!(
        err.contains("50-oracle.sh") && err.contains("30-oracle.sh, 40-extras.sh"),
        "{err}"
    );
    assert_eq!(
        remote.state("code").await,
        state,
        "bad input wrote something"
    );
}

/// Deploys of different versions' bundles into one directory, run at once
/// (as two CI pipelines would), each planned before any of them writes: every
/// deploy read the same `SHA256SUMS`, so each write of it must merge into
/// what another wrote meanwhile. Repeated in rounds over the growing file.
async fn concurrent_deploys_keep_every_checksum(remote: Remote) {
    const DEPLOYS: usize = 4;
    const ROUNDS: usize = 3;
    let fixture = Fixture::new();
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    let config = Config::load(&config).unwrap();
    let remote = Arc::new(remote);
    let mut deployed = BTreeMap::new();
    for round in 0..ROUNDS {
        let mut plans = Vec::new();
        for i in 0..DEPLOYS {
            let version = v(&format!("9.{round}.{i}"));
            let dist = fixture.dir.path().join(format!("dist-{version}"));
            let key = bundle(&version.to_string(), "x86_64");
            let bytes = content(&format!("{key} round {round}"), 2000);
            std::fs::create_dir_all(dist.join(&key).parent().unwrap()).unwrap();
            std::fs::write(dist.join(&key), &bytes).unwrap();
            deployed.insert(key.rsplit('/').next().unwrap().to_string(), sha256(&bytes));
            let no_env = |_: &str| None;
            let env = config
                .environment(
                    "test",
                    &Substitution {
                        version: &version,
                        env: &no_env,
                    },
                )
                .unwrap();
            let prepared = lava_deploy::prepare(&Request {
                environment: &env,
                components: &[Deployable::Area(Component::Pkg)],
                version,
                sources: Sources {
                    dist,
                    misc: fixture.misc(),
                },
            })
            .unwrap();
            let options = Options {
                jobs: 4,
                tuning: tuning(),
                replace: false,
            };
            plans.push(prepared.plan(remote.aws(), &options).await.unwrap());
        }
        let mut pushes = tokio::task::JoinSet::new();
        for plan in plans {
            pushes.spawn(
                async move { lava_deploy::execute(&plan, Arc::new(Seen::default()), 4).await },
            );
        }
        while let Some(pushed) = pushes.join_next().await {
            pushed.unwrap().unwrap();
        }
        let state = remote.state("code").await;
        check_sums(&state);
        let sums = state
            .get("lava/_dist_/pkg/amzn2023/SHA256SUMS")
            .expect("the bundles' SHA256SUMS");
        let (listed, malformed) = lava_layout::Sums::parse(&String::from_utf8_lossy(sums));
        assert!(malformed.is_empty(), "{malformed:?}");
        let missing: Vec<&String> = deployed
            .iter()
            .filter(|(name, sha)| listed.get(name) != Some(sha.as_str()))
            .map(|(name, _)| name)
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: SHA256SUMS lost {} of {} bundles: {missing:?}",
            missing.len(),
            deployed.len()
        );
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod s3 {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Remote::s3().await).await
                }
            )*
        }
        mod file {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Remote::file()).await
                }
            )*
        }
    };
}

suite!(
    full_deploy_lands_every_seed_key,
    redeploy_writes_nothing,
    changed_artefacts_of_a_released_version_are_refused,
    files_other_tools_wrote_are_listed_with_their_digest,
    replace_overrides_immutability_for_the_changed_objects,
    dry_run_writes_nothing_and_the_run_executes_the_plan,
    only_the_named_components,
    ami_deploys_every_resource_but_hidden_ones,
    concurrent_deploys_keep_every_checksum,
);

/// At the command line the refusal is bad input (exit status 2) naming the
/// override, which must name the version deployed; with it the bundle is
/// replaced.
#[tokio::test]
async fn deploy_command_replaces_a_released_version_only_when_told_which() {
    let remote = Remote::file();
    let fixture = Fixture::new();
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(lava_tests::xtask())
            .args(["deploy", "-e", "test", "-v", "8.3.0", "pkg", "-f"])
            .arg(&config)
            .arg("--dist")
            .arg(fixture.dist())
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(run(&[]).0, Some(0));
    let key = bundle("8.3.0", "aarch64");
    fixture.write(&key, &content(&format!("rebuilt {key}"), 3100));
    let before = remote.state("code").await;
    for (extra, says) in [
        (&[][..], "--replace 8.3.0"),
        (
            &["--replace", "8.2.0"][..],
            "--replace 8.2.0 names another version",
        ),
        (&["-n"][..], "--replace 8.3.0"),
    ] {
        let (status, stderr) = run(extra);
        assert_eq!(status, Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(says), "{extra:?}: {stderr}");
        assert_eq!(remote.state("code").await, before, "{extra:?}");
    }
    let (status, stderr) = run(&["--replace", "8.3.0"]);
    assert_eq!(status, Some(0), "{stderr}");
    let state = remote.state("code").await;
    check_sums(&state);
    assert!(state[&format!("lava/{key}")].starts_with(b"rebuilt"));
}

/// Workers still on upstream's root.boot.sh sync all of `_boot_/` and run
/// every file in it but README*: after our deploy that directory holds our
/// scriptlets and nothing else (no checksum file that would run and fail, no
/// lava-boot binaries to download on every boot).
#[tokio::test]
async fn upstreams_root_boot_sh_finds_only_scriptlets() {
    let remote = Remote::s3().await;
    let fixture = Fixture::new();
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    deploy(&fixture, &remote, &config, &[], false)
        .await
        .unwrap();
    let Remote::S3 { _moto: moto, .. } = &remote else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(lava_tests::tool("aws"))
        .envs(moto.env())
        .args([
            "s3",
            "sync",
            &format!("s3://{BUCKET}/code/lava/_boot_/"),
            ".",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let synced: Vec<String> = walkdir(dir.path());
    assert_eq!(
        synced,
        [
            "10-secupdate.sh",
            "20-cloudwatch.sh",
            "50-lava.sh",
            "90-motd.sh"
        ]
    );
}

/// Every file below `dir`, as paths relative to it, sorted.
fn walkdir(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                found.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// lava-boot and the scriptlets' checksums go beside `_boot_/`, in the code
/// area the boot location is in: a boot location elsewhere is bad input,
/// named by its key, before anything is written.
#[tokio::test]
async fn a_boot_location_outside_boot_is_bad_input() {
    let remote = Remote::file();
    let fixture = Fixture::new();
    let path = fixture.config("deploy.yaml", &remote.s3base("code"), MOTO_ACCOUNT);
    let yaml = std::fs::read_to_string(&path)
        .unwrap()
        .replace("    s3: lava/_boot_/\n", "    s3: lava/scripts/\n");
    std::fs::write(&path, yaml).unwrap();
    let err = deploy(&fixture, &remote, &path, &["boot".parse().unwrap()], false)
        .await
        .err()
        .expect("a boot location not ending in _boot_/");
    let msg = err.to_string();
    assert!(err.is_input(), "{msg}");
    assert!(
        msg.contains("deploy.yaml: test.boot.s3") && msg.contains("must end with _boot_/"),
        "{msg}"
    );
    let Remote::File { dir } = &remote else {
        unreachable!()
    };
    assert!(!dir.path().join("code").exists(), "something was written");
}

#[tokio::test]
async fn wrong_account_writes_nothing() {
    let remote = Remote::s3().await;
    let fixture = Fixture::new();
    let Remote::S3 { proxy, .. } = &remote else {
        unreachable!()
    };
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), "999999999999");
    let err = deploy(&fixture, &remote, &config, &[], false)
        .await
        .err()
        .expect("a deploy to the wrong account");
    assert!(
        matches!(err, DeployError::Account(AccountError::Wrong { .. })),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("999999999999") && msg.contains(MOTO_ACCOUNT) && msg.contains("nothing"),
        "{msg}"
    );
    // Not a single S3 request: the guard comes first.
    let log = proxy.log();
    assert!(log.iter().all(|l| l.service == "sts"), "{log:?}");
    assert_eq!(log.len(), 1);
    assert!(remote.state("code").await.is_empty());
}

#[tokio::test]
async fn missing_account_id_is_bad_input_before_any_request() {
    let remote = Remote::s3().await;
    let fixture = Fixture::new();
    let Remote::S3 { proxy, .. } = &remote else {
        unreachable!()
    };
    let config = fixture.config("deploy.yaml", &remote.s3base("code"), "x");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("  account_id: \"x\"\n", "")).unwrap();
    let err = deploy(&fixture, &remote, &config, &[], false)
        .await
        .err()
        .unwrap();
    assert!(
        err.is_input() && err.to_string().contains("test.account_id"),
        "{err}"
    );
    assert!(proxy.log().is_empty());
}

/// No object is ever partial: each one is absent or complete, and a checksum
/// file never lists what is not there.
fn check_no_partial(state: &BTreeMap<String, Vec<u8>>, reference: &BTreeMap<String, Vec<u8>>) {
    for (key, bytes) in state {
        if key.ends_with("SHA256SUMS") {
            continue;
        }
        let expected = reference
            .get(key)
            .unwrap_or_else(|| panic!("{key} is not in the reference deploy"));
        assert!(
            bytes == expected,
            "{key} is partial or wrong ({} bytes)",
            bytes.len()
        );
    }
    check_sums(state);
}

#[tokio::test]
async fn s3_faults_leave_no_partial_object_and_a_rerun_converges() {
    let remote = Remote::s3().await;
    let fixture = Fixture::new();
    let Remote::S3 { proxy, .. } = &remote else {
        unreachable!()
    };
    for area in ["reference", "faulty"] {
        remote.seed_older_release(area).await;
    }
    let reference_config =
        fixture.config("reference.yaml", &remote.s3base("reference"), MOTO_ACCOUNT);
    deploy(&fixture, &remote, &reference_config, &[], false)
        .await
        .unwrap();
    let reference = remote.state("reference").await;

    let config = fixture.config("faulty.yaml", &remote.s3base("faulty"), MOTO_ACCOUNT);
    // First a share of all requests fails and one Lambda zip cannot be
    // written at all: the run fails part way. Then only the random faults:
    // runs complete, or fail and are re-run.
    let mut failed_push = false;
    let mut converged = false;
    for run in 0..10 {
        proxy.fail(300, 1 + run);
        proxy.fail_path((run < 2).then_some("/stop-8.3.0.zip"));
        match deploy(&fixture, &remote, &config, &[], false).await {
            Ok(_) => {
                converged = true;
                break;
            }
            Err(e) => {
                assert!(!e.is_input(), "a fault is not bad input: {e}");
                let msg = e.to_string();
                assert!(
                    msg.contains("s3://") || msg.contains("STS"),
                    "unclear error: {msg}"
                );
                if let DeployError::Push { .. } = e {
                    assert!(msg.contains("re-run"), "{msg}");
                    failed_push |= msg.contains("stop-8.3.0.zip");
                }
                eprintln!("run {run} failed, as it may: {msg}");
            }
        }
        let state = remote.state("faulty").await;
        check_no_partial(&state, &reference);
        if run < 2 {
            // Later waves wait: no template names a zip that failed.
            assert!(!state.keys().any(|k| k.contains("/v8.3.0/")), "{state:?}");
        }
    }
    assert!(failed_push, "no run failed while pushing");
    let faults = proxy.log().iter().filter(|l| l.fault.is_some()).count();
    assert!(faults > 10, "only {faults} faults were injected");
    assert!(
        proxy
            .log()
            .iter()
            .any(|l| l.fault == Some(Fault::ErrorAfterApply)),
        "no request was applied and then failed"
    );
    assert!(converged, "10 runs under faults did not complete");

    proxy.fail(0, 0);
    let mark = remote.mark("faulty");
    deploy(&fixture, &remote, &config, &[], false)
        .await
        .unwrap();
    assert_eq!(remote.written_since(&mark, "faulty").len(), 0);
    assert_eq!(remote.state("faulty").await, reference);
}

#[tokio::test]
async fn file_failed_write_leaves_no_partial_object_and_a_rerun_converges() {
    let remote = Remote::file();
    let fixture = Fixture::new();
    let reference_config =
        fixture.config("reference.yaml", &remote.s3base("reference"), MOTO_ACCOUNT);
    deploy(&fixture, &remote, &reference_config, &[], false)
        .await
        .unwrap();
    let reference = remote.state("reference").await;

    // A directory where an object must go makes that one write fail.
    let Remote::File { dir } = &remote else {
        unreachable!()
    };
    let blocker = dir
        .path()
        .join("faulty/lava/_dist_/lambda/x86_64/stop-8.3.0.zip");
    std::fs::create_dir_all(blocker.join("in-the-way")).unwrap();
    let config = fixture.config("faulty.yaml", &remote.s3base("faulty"), MOTO_ACCOUNT);
    let err = deploy(&fixture, &remote, &config, &[], false)
        .await
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(
        msg.contains("stop-8.3.0.zip") && msg.contains("re-run"),
        "{msg}"
    );
    let state = remote.state("faulty").await;
    assert!(
        !state.contains_key("lava/_dist_/lambda/SHA256SUMS"),
        "sums of a failed directory"
    );
    // Later waves wait for the earlier ones: nothing references a failed upload.
    assert!(
        !state
            .keys()
            .any(|k| k.contains("/cfn/") || k.contains("_boot_")),
        "{state:?}"
    );
    let leftovers: Vec<_> = lava_tests::files_under(dir.path())
        .into_iter()
        .filter(|f| f.rsplit('/').next().unwrap().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    check_no_partial(&state, &reference);

    std::fs::remove_dir_all(&blocker).unwrap();
    deploy(&fixture, &remote, &config, &[], false)
        .await
        .unwrap();
    assert_eq!(remote.state("faulty").await, reference);
}

/// `deploy/sample.yaml` is a working configuration, and the JSON Schema
/// accepts it and refuses what deploy refuses.
#[test]
fn sample_configuration_resolves_and_matches_the_schema() {
    let root = lava_tests::workspace_root();
    let sample = root.join("deploy/sample.yaml");
    let version = v("8.3.0");
    let no_env = |_: &str| None;
    let env = Config::load(&sample)
        .unwrap()
        .environment(
            "demo",
            &Substitution {
                version: &version,
                env: &no_env,
            },
        )
        .unwrap();
    let url = |c: &str| env.targets[&c.parse::<Deployable>().unwrap()].to_string();
    let base = "s3://my-deploy-bucket/some-optional-prefix/lava";
    assert_eq!(url("cfn"), format!("{base}/_dist_/cfn/v8.3.0/"));
    assert_eq!(url("root"), format!("{base}/"));
    assert_eq!(env.realms["prod"], ["core", "batch"]);
    assert_eq!(env.account_id.as_deref(), Some("123456789012"));

    let text = std::fs::read_to_string(&sample).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut docs = vec![("sample", serde_json::to_value(&doc).unwrap(), true)];
    for (what, yaml) in [
        ("short account", "e:\n  account_id: '12345'\n"),
        ("https location", "e:\n  pkg:\n    s3: https://bucket/x\n"),
        ("absolute location", "e:\n  pkg:\n    s3: /srv/x\n"),
        (
            "reserved worker",
            "e:\n  root:\n    s3: lava/\n    realms:\n      prod: [_boot_]\n",
        ),
        (
            "nested realm",
            "e:\n  root:\n    realms:\n      prod: [a/b]\n",
        ),
    ] {
        let doc: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
        docs.push((what, serde_json::to_value(&doc).unwrap(), false));
    }
    let script = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
for what, doc, valid in json.load(sys.stdin):
    errors = [e.message for e in validator.iter_errors(doc)]
    if bool(errors) == valid:
        sys.exit(f"{what}: expected {'valid' if valid else 'invalid'}, got {errors}")
"#;
    let mut child = std::process::Command::new(lava_tests::tool("python3"))
        .arg("-c")
        .arg(script)
        .arg(root.join("deploy/deploy.schema.json"))
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(&docs).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
