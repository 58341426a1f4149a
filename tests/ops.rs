//! Operating releases on moto: a code area holding four releases for two
//! runtimes (8.0.0 and 8.1.0 for x86_64 only, 8.1.0 without its Lambda
//! zips), two realms in the realms table with their realm stacks, and worker
//! stacks on lava AMIs of both runtimes. `cargo xtask status`, `pin` and
//! `prune` as an operator runs them, and pin's conditional write against an
//! edit made between plan and write.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use lava_config::{Config, Substitution};
use lava_layout::{
    cfn_key, framework_key, lambda_key, pkg_key, Arch, CfnTemplate, LambdaFunction, PackageName,
    Runtime, Sums, Version, SHA256SUMS,
};
use lava_ops::pin::{self, Target};
use lava_ops::prune::{self, OnDeleted};
use lava_ops::{Clients, OpsError};
use lava_store::Location;
use lava_tests::cfn::{self, REALM_STACK, WORKER_STACK};
use lava_tests::moto::{self, command_sdk_config, Moto, MOTO_ACCOUNT};
use lava_tests::proxy::Proxy;
use lava_tests::realm::{create_realms_table, put_json, REALMS_TABLE};
use lava_tests::run;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const BUCKET: &str = "lava-code";
const X86: &str = "amzn2023-py3.11-x86_64";
const ARM: &str = "amzn2023-py3.12-aarch64";

/// The releases in the code area, and the runtimes each has bundles for.
const RELEASES: [(&str, &[&str]); 4] = [
    ("8.0.0", &[X86]),
    ("8.1.0", &[X86]),
    ("8.2.0", &[X86, ARM]),
    ("8.3.0", &[X86, ARM]),
];

/// The account: moto, its clients, and a directory with the deploy
/// configuration (environment `demo`, the code area `s3://lava-code/lava`).
struct Account {
    moto: Moto,
    clients: Clients,
    dynamodb: aws_sdk_dynamodb::Client,
    dir: tempfile::TempDir,
    /// The newest lava AMI of the x86_64 runtime, which prod-core lags.
    newest_x86: String,
}

/// An object of the code area, carrying its sha256 as deploy's do.
async fn put(s3: &aws_sdk_s3::Client, key: &str, body: Vec<u8>) {
    s3.put_object()
        .bucket(BUCKET)
        .key(format!("lava/{key}"))
        .metadata("sha256", hex::encode(Sha256::digest(&body)))
        .body(body.into())
        .send()
        .await
        .unwrap();
}

fn runtime(r: &str) -> Runtime {
    r.parse().unwrap()
}

fn bundle_key(version: &str, r: &str) -> String {
    let runtime = runtime(r);
    pkg_key(
        &runtime.os.clone(),
        &PackageName::New {
            version: version.parse().unwrap(),
            runtime,
        },
    )
}

impl Account {
    async fn new() -> Account {
        let moto = moto::start();
        let config = command_sdk_config(&moto.endpoint()).await;
        let clients = Clients::new(&config);
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);

        clients
            .s3
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap();
        let mut sums: BTreeMap<String, Sums> = BTreeMap::new();
        for (release, runtimes) in RELEASES {
            let version: Version = release.parse().unwrap();
            let mut keys: Vec<String> = runtimes.iter().map(|r| bundle_key(release, r)).collect();
            // 8.1.0's zips were never deployed: dev's lambdaVersion lacks them.
            if release != "8.1.0" {
                keys.extend(LambdaFunction::ALL.map(|f| lambda_key(f, &version, Arch::X86_64)));
            }
            keys.push(cfn_key(CfnTemplate::Realm, &version));
            keys.push(framework_key(&version));
            for key in keys {
                let body = format!("{key} of lava {release}").into_bytes();
                let (dir, name) = key.rsplit_once('/').unwrap();
                sums.entry(dir.to_string())
                    .or_default()
                    .insert(name, hex::encode(Sha256::digest(&body)));
                put(&clients.s3, &key, body).await;
            }
        }
        for (dir, sums) in sums {
            put(
                &clients.s3,
                &format!("{dir}/{SHA256SUMS}"),
                sums.render().into_bytes(),
            )
            .await;
        }

        create_realms_table(&dynamodb).await;
        put_json(
            &dynamodb,
            REALMS_TABLE,
            &json!({
                "realm": "prod",
                "owner": "ops",
                "x-workers": {"core": {"version": "8.2.0", "threads": 4}}
            }),
        )
        .await;
        // dev pins 8.1.0, which has no bundle for its worker's runtime.
        put_json(
            &dynamodb,
            REALMS_TABLE,
            &json!({"realm": "dev", "x-workers": {"_": {"version": "8.1.0"}}}),
        )
        .await;

        let ec2 = &clients.ami.ec2;
        let mut images = HashMap::new();
        for (what, name) in [
            (
                "x86 old",
                "lava-8.2.0-amzn2023-py3.11-x86_64-2025-01-01T00-00-00Z",
            ),
            (
                X86,
                "lava-8.3.0-amzn2023-py3.11-x86_64-2025-03-01T00-00-00Z",
            ),
            (ARM, "lava-8.3.0-amzn2023-py3.12-arm64-2025-03-01T00-00-00Z"),
        ] {
            images.insert(what, moto::register_image(ec2, name, &[]).await);
        }
        let cfn = &clients.ami.cfn;
        // prod-core runs an older AMI than the newest of its runtime.
        for (name, realm, worker, image) in [
            ("prod-core", "prod", "core", "x86 old"),
            ("prod-batch", "prod", "batch", ARM),
            ("dev-core", "dev", "core", ARM),
        ] {
            let parameters = [
                ("realm", realm),
                ("worker", worker),
                ("amiId", &images[image]),
            ];
            cfn::create_from_body(cfn, name, WORKER_STACK, &parameters).await;
        }
        for (name, realm, lambda_version) in
            [("lava-prod", "prod", "8.3.0"), ("lava-dev", "dev", "8.1.0")]
        {
            let parameters = [
                ("realm", realm),
                ("lambdaVersion", lambda_version),
                ("lambdaArchitecture", "x86_64"),
                ("s3CodeBucket", BUCKET),
                ("s3CodePrefix", "lava"),
            ];
            cfn::create_from_body(cfn, name, REALM_STACK, &parameters).await;
        }
        let newest_x86 = images[X86].clone();

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("deploy.yaml"),
            format!(
                "demo:\n  _: {{s3base: \"s3://{BUCKET}/lava\"}}\n  account_id: \"{MOTO_ACCOUNT}\"\n  \
                 pkg: {{s3: _dist_/pkg/}}\n"
            ),
        )
        .unwrap();
        Account {
            moto,
            clients,
            dynamodb,
            dir,
            newest_x86,
        }
    }

    /// `cargo xtask <args>` in the configuration's directory, against moto.
    fn xtask(&self, args: &[&str]) -> Output {
        run(Command::new(lava_tests::xtask())
            .args(args)
            .current_dir(self.dir.path())
            .envs(self.moto.env())
            .env_remove("RUST_LOG"))
    }

    /// The prebuilt `lavactl` of this machine's architecture, as `cargo
    /// xtask dist cli` built it, run as [`Account::xtask`] runs xtask.
    fn lavactl(&self, args: &[&str]) -> Output {
        let (dir, artefacts) = lava_tests::lavactl_built();
        let host = Arch::host().expect("tests run on a release architecture");
        let binary = artefacts
            .iter()
            .find(|a| a.arch.as_deref() == Some(host.uname()))
            .expect("a lavactl for this machine");
        run(Command::new(dir.path().join(&binary.key))
            .args(args)
            .current_dir(self.dir.path())
            .envs(self.moto.env())
            .env_remove("RUST_LOG"))
    }

    /// `cargo xtask pin -e demo <args> --json`: its exit status and JSON (or
    /// stderr, when it failed).
    fn pin(&self, args: &[&str]) -> (i32, Value, String) {
        let out = self.xtask(&[&["pin", "-e", "demo"], args, &["--json"]].concat());
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code().unwrap_or(-1), json, stderr)
    }

    async fn item(&self, realm: &str) -> HashMap<String, AttributeValue> {
        self.dynamodb
            .get_item()
            .table_name(REALMS_TABLE)
            .key("realm", AttributeValue::S(realm.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    fn environment(&self) -> lava_config::Environment {
        let path = self.dir.path().join("deploy.yaml");
        let version: Version = "8.3.0".parse().unwrap();
        let no_env = |_: &str| None;
        Config::load(&path)
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
}

/// A worker's entry in a plan: (worker, bundle key before, after).
fn moves(plan: &Value) -> Vec<(String, String, String)> {
    plan["workers"]
        .as_array()
        .unwrap_or_else(|| panic!("no workers in {plan:#}"))
        .iter()
        .map(|w| {
            let key = |b: &Value| b["bundle"]["key"].as_str().unwrap_or_default().to_string();
            (
                w["worker"].as_str().unwrap().to_string(),
                key(&w["before"]),
                key(&w["after"]),
            )
        })
        .collect()
}

fn m(entries: &[(&str, AttributeValue)]) -> AttributeValue {
    AttributeValue::M(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn pin_plans_then_writes_only_the_version() {
    let account = Account::new().await;
    let before = account.item("prod").await;

    // The plan: core (x86_64) moves from its pin 8.2.0 to 8.3.0; -n writes nothing.
    let (status, plan, stderr) =
        account.pin(&["--realm", "prod", "--worker", "core", "8.3.0", "-n"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(plan["attribute"], "x-workers.core.version");
    assert_eq!(
        (&plan["before"], &plan["after"]),
        (&json!("8.2.0"), &json!("8.3.0"))
    );
    assert_eq!(
        moves(&plan),
        [(
            "core".to_string(),
            bundle_key("8.2.0", X86),
            bundle_key("8.3.0", X86)
        )]
    );
    assert_eq!(
        plan["workers"][0]["after"]["bundle"]["reason"],
        "pinned-new"
    );
    assert_eq!(plan["written"], false);
    let out = account.xtask(&[
        "pin", "-e", "demo", "--realm", "prod", "--worker", "core", "8.3.0", "-n",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "x-workers.core.version 8.2.0 -> 8.3.0",
        "lava-8.3.0-amzn2023-py3.11-x86_64.tar.bz2",
        "dry run: nothing written",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    assert_eq!(account.item("prod").await, before, "-n wrote");

    // The write: x-workers.core.version only; threads and every other
    // attribute as they were.
    let (status, plan, stderr) = account.pin(&["--realm", "prod", "--worker", "core", "8.3.0"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(plan["written"], true);
    let after = account.item("prod").await;
    let mut expected = before.clone();
    expected.insert(
        "x-workers".into(),
        m(&[(
            "core",
            m(&[
                ("version", AttributeValue::S("8.3.0".into())),
                ("threads", AttributeValue::N("4".into())),
            ]),
        )]),
    );
    assert_eq!(after, expected);

    // Again: nothing to write.
    let (status, plan, _) = account.pin(&["--realm", "prod", "--worker", "core", "8.3.0"]);
    assert_eq!((status, &plan["written"]), (0, &json!(false)));

    // `_` reaches batch (no pin of its own), not core: from the highest
    // (8.3.0) to 8.2.0.
    let (status, plan, stderr) = account.pin(&["--realm", "prod", "--worker", "_", "8.2.0"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(
        moves(&plan),
        [(
            "batch".to_string(),
            bundle_key("8.3.0", ARM),
            bundle_key("8.2.0", ARM)
        )]
    );

    // Unset: core falls back to `_`'s 8.2.0; its threads stay.
    let (status, plan, stderr) = account.pin(&["--realm", "prod", "--worker", "core", "--unset"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(plan["after"], Value::Null);
    assert_eq!(
        moves(&plan),
        [(
            "core".to_string(),
            bundle_key("8.3.0", X86),
            bundle_key("8.2.0", X86)
        )]
    );
    let xw = account.item("prod").await["x-workers"].clone();
    assert_eq!(
        xw,
        m(&[
            ("core", m(&[("threads", AttributeValue::N("4".into()))])),
            ("_", m(&[("version", AttributeValue::S("8.2.0".into()))])),
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pin_refuses_a_version_a_worker_has_no_bundle_for() {
    let account = Account::new().await;
    let before = account.item("prod").await;
    // 8.1.0 has no bundle for batch's runtime (aarch64, Python 3.12).
    let (status, _, stderr) = account.pin(&["--realm", "prod", "--worker", "_", "8.1.0"]);
    assert_eq!(status, 2, "{stderr}");
    for needle in ["batch", "prod-batch", "8.1.0", ARM, "nothing was written"] {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
    // A worker the realm has no stack for.
    let (status, _, stderr) = account.pin(&["--realm", "prod", "--worker", "cor", "8.3.0"]);
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains("\"cor\"") && stderr.contains("core"),
        "{stderr}"
    );
    // A realm the table does not hold.
    let (status, _, stderr) = account.pin(&["--realm", "stage", "8.3.0"]);
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("stage"), "{stderr}");
    assert_eq!(account.item("prod").await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn pin_loses_no_edit_made_between_plan_and_write() {
    let account = Account::new().await;
    let env = account.environment();
    let code_area = Location::parse(&format!("s3://{BUCKET}/lava")).unwrap();
    let request = pin::Request {
        environment: &env,
        code_area: &code_area,
        realm: "prod",
        target: Target::Worker("core".into()),
        version: Some("8.3.0".parse().unwrap()),
    };
    let plan = pin::plan(&account.clients, &request).await.unwrap();
    // Someone else changes core's threads meanwhile.
    account
        .dynamodb
        .update_item()
        .table_name(REALMS_TABLE)
        .key("realm", AttributeValue::S("prod".into()))
        .update_expression("SET #xw.#core.#threads = :eight")
        .expression_attribute_names("#xw", "x-workers")
        .expression_attribute_names("#core", "core")
        .expression_attribute_names("#threads", "threads")
        .expression_attribute_values(":eight", AttributeValue::N("8".into()))
        .send()
        .await
        .unwrap();
    let edited = account.item("prod").await;
    let err = pin::apply(&account.clients, &plan).await.unwrap_err();
    assert!(matches!(err, OpsError::Concurrent { .. }), "{err}");
    assert!(err.to_string().contains("run the command again"), "{err}");
    assert_eq!(account.item("prod").await, edited, "the edit was lost");
    // Planned again, it writes over the edit it now knows.
    let plan = pin::plan(&account.clients, &request).await.unwrap();
    pin::apply(&account.clients, &plan).await.unwrap();
    assert_eq!(
        account.item("prod").await["x-workers"],
        m(&[(
            "core",
            m(&[
                ("version", AttributeValue::S("8.3.0".into())),
                ("threads", AttributeValue::N("8".into())),
            ]),
        )])
    );
}

/// Every key of the code bucket.
async fn keys(s3: &aws_sdk_s3::Client) -> BTreeSet<String> {
    moto::objects(s3, BUCKET, "")
        .await
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

fn directory<'a>(status: &'a Value, dir: &str) -> &'a Value {
    status["directories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dir"] == dir)
        .unwrap_or_else(|| panic!("no {dir} in {status:#}"))
}

fn realm<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["realms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["realm"] == name)
        .unwrap_or_else(|| panic!("no realm {name} in {status:#}"))
}

fn worker<'a>(realm: &'a Value, name: &str) -> &'a Value {
    realm["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["worker"] == name)
        .unwrap_or_else(|| panic!("no worker {name} in {realm:#}"))
}

/// `cargo xtask status -e demo --json <args>`: exit status and the status.
fn status_json(account: &Account, args: &[&str]) -> (i32, Value) {
    let out = account.xtask(&[&["status", "-e", "demo", "--json"], args].concat());
    let status = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), status)
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_what_each_worker_boots_and_flags_problems() {
    let account = Account::new().await;
    // The 8.3.0 framework replaced behind SHA256SUMS's back.
    let framework = framework_key(&"8.3.0".parse().unwrap());
    put(
        &account.clients.s3,
        &framework,
        b"rebuilt elsewhere".to_vec(),
    )
    .await;

    let (code, status) = status_json(&account, &[]);
    assert_eq!(code, 1, "problems make the exit status 1: {status:#}");
    let pkg = directory(&status, "_dist_/pkg/amzn2023");
    assert_eq!(pkg["releases"], json!(["8.3.0", "8.2.0", "8.1.0", "8.0.0"]));
    assert_eq!(pkg["files"], 6);
    assert_eq!(
        (&pkg["sums"]["present"], &pkg["sums"]["mismatched"]),
        (&json!(true), &json!([]))
    );
    assert_eq!(
        directory(&status, "_dist_/cfn/v8.0.0")["releases"],
        json!(["8.0.0"])
    );
    assert_eq!(
        directory(&status, "_dist_/framework")["sums"]["mismatched"],
        json!(["lava-job-framework-8.3.0.zip"])
    );

    let prod = realm(&status, "prod");
    assert_eq!(
        (
            &prod["stack"],
            &prod["lambda_version"],
            &prod["lambda_architecture"]
        ),
        (&json!("lava-prod"), &json!("8.3.0"), &json!("x86_64"))
    );
    assert_eq!(prod["missing_zips"], json!([]));
    let core = worker(prod, "core");
    assert_eq!(
        core["pin"],
        json!({"version": "8.2.0", "from": "x-workers.core"})
    );
    assert_eq!(core["boots"]["bundle"]["key"], bundle_key("8.2.0", X86));
    assert_eq!(core["runtime"], X86);
    assert_eq!(
        (&core["ami"], &core["newest_ami"]),
        (&json!("lagging"), &json!(account.newest_x86))
    );
    let batch = worker(prod, "batch");
    assert_eq!(batch["pin"], Value::Null);
    assert_eq!(batch["boots"]["bundle"]["key"], bundle_key("8.3.0", ARM));
    assert_eq!(batch["boots"]["bundle"]["reason"], "highest-new");
    assert_eq!(batch["ami"], "current");

    let dev = realm(&status, "dev");
    assert_eq!(dev["missing_zips"].as_array().unwrap().len(), 4, "{dev:#}");
    let dev_core = worker(dev, "core");
    assert_eq!(
        dev_core["pin"],
        json!({"version": "8.1.0", "from": "x-workers._"})
    );
    assert!(dev_core["boots"]["aborts"]["error"]
        .as_str()
        .unwrap()
        .contains("8.1.0"));

    let problems: Vec<&str> = status["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    for needles in [
        &["realm dev", "worker core", "8.1.0"][..],
        &["realm dev", "lambdaVersion 8.1.0", "dispatch-8.1.0.zip"],
        &[
            "_dist_/framework/SHA256SUMS",
            "lava-job-framework-8.3.0.zip",
        ],
    ] {
        assert!(
            problems
                .iter()
                .any(|p| needles.iter().all(|n| p.contains(n))),
            "no problem names {needles:?}: {problems:#?}"
        );
    }

    // The same for people.
    let out = account.xtask(&["status", "-e", "demo"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    for needle in [
        "_dist_/framework",
        "SHA256SUMS does not match",
        "realm prod (lava-prod) lambdaVersion 8.3.0 (x86_64)",
        "core (prod-core, amzn2023-py3.11-x86_64): pinned 8.2.0 by x-workers.core",
        "LAGGING",
        "problems:",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }

    // One realm: dev's problems are not prod's.
    let (code, status) = status_json(&account, &["--realm", "prod"]);
    assert_eq!(code, 1);
    assert_eq!(status["realms"].as_array().unwrap().len(), 1);
    assert_eq!(
        status["problems"].as_array().unwrap().len(),
        1,
        "{status:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_keeps_what_is_in_use_and_deletes_the_rest_only_with_yes() {
    let account = Account::new().await;
    let before = keys(&account.clients.s3).await;
    let old: Vec<String> = before
        .iter()
        .filter(|k| k.contains("8.0.0"))
        .cloned()
        .collect();
    assert_eq!(
        old.len(),
        8,
        "bundle, 4 zips, cfn template and its SHA256SUMS, framework: {old:?}"
    );

    // 8.3.0 is the newest; prod pins 8.2.0; dev pins 8.1.0 and runs its
    // functions at 8.1.0. Only 8.0.0 goes; the plan deletes nothing.
    let prune = |yes: bool| {
        let mut args = vec!["prune", "-e", "demo", "--keep", "1", "--json"];
        if yes {
            args.push("--yes");
        }
        let out = account.xtask(&args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        (
            serde_json::from_slice::<Value>(&out.stdout).unwrap(),
            stderr,
        )
    };
    let out = account.xtask(&["prune", "-e", "demo", "--keep", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["prune   8.0.0", "keep    8.2.0", "dry run: nothing deleted"] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    let (plan, _) = prune(false);
    assert_eq!(plan["pruned"], json!(["8.0.0"]));
    let kept: Vec<(&str, String)> = plan["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["release"].as_str().unwrap(), k["why"].to_string()))
        .collect();
    assert_eq!(
        kept.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
        ["8.3.0", "8.2.0", "8.1.0"]
    );
    assert!(kept[0].1.contains("the newest"), "{kept:?}");
    assert!(kept[1].1.contains("pinned by x-workers.core"), "{kept:?}");
    assert!(
        kept[2].1.contains("lambdaVersion") && kept[2].1.contains("x-workers._"),
        "{kept:?}"
    );
    let planned: BTreeSet<String> = plan["delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("lava/{}", d["key"].as_str().unwrap()))
        .collect();
    assert_eq!(planned, old.iter().cloned().collect());
    assert_eq!(plan["report"], Value::Null);
    assert_eq!(
        keys(&account.clients.s3).await,
        before,
        "the dry run deleted"
    );

    let (done, progress) = prune(true);
    assert_eq!(done["report"]["deleted"], 8);
    // Off a terminal, a plain line per deleted object.
    let lines: BTreeSet<String> = progress
        .lines()
        .filter_map(|l| l.strip_prefix("deleted "))
        .map(|k| format!("lava/{k}"))
        .collect();
    assert_eq!(lines, planned, "{progress}");
    let after = keys(&account.clients.s3).await;
    let expected: BTreeSet<String> = before.difference(&planned).cloned().collect();
    assert_eq!(after, expected);

    // Every SHA256SUMS lists exactly its directory's files with their digests.
    let (_, status) = status_json(&account, &[]);
    for dir in status["directories"].as_array().unwrap() {
        let sums = &dir["sums"];
        assert_eq!(
            (
                &sums["present"],
                &sums["unlisted"],
                &sums["missing"],
                &sums["mismatched"]
            ),
            (&json!(true), &json!([]), &json!([]), &json!([])),
            "{dir:#}"
        );
    }
    assert!(status["directories"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["dir"] != "_dist_/cfn/v8.0.0"));

    // Nothing left to prune.
    let (again, _) = prune(true);
    assert_eq!(
        (&again["pruned"], &again["report"]),
        (&json!([]), &Value::Null)
    );
}

/// Every request for the 8.0.0 bundle fails: the prune stops with that
/// error after deleting everything else, no `SHA256SUMS` lists a file that
/// is gone, and a second prune finishes the job.
#[tokio::test(flavor = "multi_thread")]
async fn a_prune_that_fails_midway_lists_no_file_that_is_gone() {
    let account = Account::new().await;
    let before = keys(&account.clients.s3).await;
    let proxy = Proxy::start(account.moto.port());
    let clients = Clients::new(&command_sdk_config(&proxy.endpoint()).await);
    let env = account.environment();
    let code_area = Location::parse(&format!("s3://{BUCKET}/lava")).unwrap();
    let request = prune::Request {
        environment: &env,
        code_area: &code_area,
        keep: 1,
    };
    let plan = prune::plan(&clients, &request).await.unwrap();
    assert_eq!(plan.delete.len(), 8, "{:?}", plan.delete);
    let bundle = plan
        .delete
        .iter()
        .find(|d| d.key.starts_with("_dist_/pkg/"))
        .map(|d| d.key.clone())
        .unwrap();
    proxy.fail_path(Some(bundle.rsplit('/').next().unwrap()));
    let deleted = Arc::new(Mutex::new(BTreeSet::new()));
    let on_deleted: OnDeleted = {
        let deleted = Arc::clone(&deleted);
        Arc::new(move |d: &prune::Deletion| {
            deleted.lock().unwrap().insert(d.key.clone());
        })
    };
    let err = prune::apply(&clients, &plan, &code_area, 4, &on_deleted)
        .await
        .unwrap_err();
    proxy.fail_path(None);
    assert!(err.to_string().contains(&bundle), "{err}");
    let others: BTreeSet<String> = plan
        .delete
        .iter()
        .map(|d| d.key.clone())
        .filter(|k| *k != bundle)
        .collect();
    assert_eq!(*deleted.lock().unwrap(), others);

    let (_, status) = status_json(&account, &[]);
    for dir in status["directories"].as_array().unwrap() {
        assert_eq!(
            (&dir["sums"]["missing"], &dir["sums"]["mismatched"]),
            (&json!([]), &json!([])),
            "{dir:#}"
        );
    }

    let out = account.xtask(&["prune", "-e", "demo", "--keep", "1", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let planned: BTreeSet<String> = plan
        .delete
        .iter()
        .map(|d| format!("lava/{}", d.key))
        .collect();
    let expected: BTreeSet<String> = before.difference(&planned).cloned().collect();
    assert_eq!(keys(&account.clients.s3).await, expected);
    let (code, status) = status_json(&account, &[]);
    for dir in status["directories"].as_array().unwrap() {
        assert_eq!(dir["sums"]["present"], json!(true), "{dir:#}");
        assert_eq!(dir["sums"]["unlisted"], json!([]), "{dir:#}");
        assert_eq!(dir["sums"]["missing"], json!([]), "{dir:#}");
    }
    // What is left are the fixture's own problems (see the status test).
    assert_eq!(code, 1, "{status:#}");
}

/// Both outputs' exit status and stdout as JSON, asserted equal.
fn same_json(what: &str, xtask: Output, lavactl: Output) -> (i32, Value) {
    let json = |out: &Output, who: &str| -> Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{who} {what}: {e}: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };
    let (x, l) = (json(&xtask, "cargo xtask"), json(&lavactl, "lavactl"));
    assert_eq!(l, x, "{what}: lavactl and cargo xtask differ");
    assert_eq!(lavactl.status.code(), xtask.status.code(), "{what}");
    (lavactl.status.code().unwrap_or(-1), l)
}

/// lavactl, the operator commands as a release ships them (the static binary
/// `cargo xtask dist cli` built, not `cargo run`), run where an operator runs
/// it: a directory outside the repository holding a deploy configuration
/// and an unpacked dist/. It reads and plans exactly as `cargo xtask` does,
/// for the release it was built from, with the root boot scripts and
/// optional scriptlets of that release built in; its dry runs write nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_prebuilt_lavactl_plans_and_reads_as_cargo_xtask_from_anywhere() {
    let account = Account::new().await;
    let dir = account.dir.path();
    let workspace = lava_tests::workspace_root().canonicalize().unwrap();
    assert!(!dir.canonicalize().unwrap().starts_with(&workspace));
    let before = (keys(&account.clients.s3).await, account.item("prod").await);

    let (status, report) = same_json(
        "status",
        account.xtask(&["status", "-e", "demo", "--json"]),
        account.lavactl(&["status", "-e", "demo", "--json"]),
    );
    // dev pins 8.1.0, which has no bundle for its worker: a problem, exit 1.
    assert_eq!(status, 1);
    assert_eq!(
        worker(realm(&report, "prod"), "core")["pin"]["version"],
        "8.2.0"
    );

    let pin = [
        "pin", "-e", "demo", "--realm", "prod", "--worker", "core", "8.3.0", "-n", "--json",
    ];
    let (status, plan) = same_json("pin -n", account.xtask(&pin), account.lavactl(&pin));
    assert_eq!(status, 0);
    assert_eq!(
        (&plan["before"], &plan["after"]),
        (&json!("8.2.0"), &json!("8.3.0"))
    );

    // A release unpacked into ./dist: a bundle and a boot scriptlet.
    let release: Version = env!("CARGO_PKG_VERSION").parse().unwrap();
    let bundle = PackageName::New {
        version: release.clone(),
        runtime: runtime("amzn2023-py3.12-x86_64"),
    };
    for key in [
        pkg_key(&"amzn2023".parse().unwrap(), &bundle),
        lava_layout::boot_script_key("50-lava.sh"),
    ] {
        let path = dir.join("dist").join(&key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, key.as_bytes()).unwrap();
    }
    std::fs::write(
        dir.join("lavactl.yaml"),
        format!(
            "demo:\n  _: {{s3base: \"s3://{BUCKET}\"}}\n  account_id: \"{MOTO_ACCOUNT}\"\n  \
             pkg: {{s3: lava/_dist_/pkg/}}\n  boot: {{s3: lava/_boot_/, optional: [30-oracle.sh]}}\n  \
             root: {{s3: lava/, realms: {{prod: [core]}}}}\n"
        ),
    )
    .unwrap();
    // Without -v: the release lavactl was built from; without --dist: ./dist.
    let (status, plan) = same_json(
        "deploy -n",
        account.xtask(&[
            "deploy",
            "-n",
            "-e",
            "demo",
            "-f",
            "lavactl.yaml",
            "--dist",
            "dist",
            "--json",
        ]),
        account.lavactl(&["deploy", "-n", "-e", "demo", "-f", "lavactl.yaml", "--json"]),
    );
    assert_eq!(status, 0);
    assert_eq!(plan["version"], release.to_string());
    // What deploy ships for misc/<path>: assembled with the helpers it includes.
    let sha256 = |path: &str| {
        let bytes = std::fs::read(lava_tests::shipped_scripts().join(path)).unwrap();
        hex::encode(Sha256::digest(bytes))
    };
    let planned: BTreeMap<String, (String, String)> = plan["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let url = o["url"].as_str().unwrap().to_string();
            let what = (
                o["action"].as_str().unwrap().to_string(),
                o["sha256"].as_str().unwrap().to_string(),
            );
            (url, what)
        })
        .collect();
    for (url, source) in [
        ("lava/prod/core/root.boot.sh", "root.boot.sh"),
        ("lava/prod/core/root.boot0.sh", "root.boot0.sh"),
        ("lava/_boot_/30-oracle.sh", "boot.optional/30-oracle.sh"),
    ] {
        let url = format!("s3://{BUCKET}/{url}");
        assert_eq!(
            planned.get(&url),
            Some(&("new".to_string(), sha256(source))),
            "{url} in {plan:#}"
        );
    }
    let bundle_url = format!(
        "s3://{BUCKET}/lava/{}",
        pkg_key(&"amzn2023".parse().unwrap(), &bundle)
    );
    assert_eq!(planned[&bundle_url].0, "new");

    assert_eq!(
        (keys(&account.clients.s3).await, account.item("prod").await),
        before,
        "the dry runs wrote nothing"
    );
}
