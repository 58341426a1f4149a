//! Release rehearsal: the whole chain, from sources to an installed worker,
//! against moto on 127.0.0.1, for two releases side by side.
//!
//! 1. dist builds lava 8.2.0 with the workspace's code (the worker source is
//!    jinlava 8.3.0 from PyPI relabelled 8.2.0, see `relabelled`), and
//!    deploy pushes it to `s3://lava-code/lava` in moto S3.
//! 2. The realm stack and one worker stack per worker are created in moto
//!    CloudFormation from the deployed 8.2.0 templates (TemplateURL into the
//!    code area, as an operator does); the realm stack creates `lava.realms`.
//! 3. The realm's item pins worker `pinned` to 8.2.0; `floating` is unpinned.
//! 4. `lava-boot`, fetched from the code area and checked as `50-lava.sh`
//!    does, plans both workers and installs `pinned` under a root directory;
//!    the installed `lava-version` says 8.2.0.
//! 5. dist builds the workspace release (8.3.0) into the same directory, deploy
//!    pushes it beside 8.2.0 (which stays byte for byte), `floating` now boots
//!    8.3.0 while `pinned` stays on 8.2.0, and the realm stack's Lambda
//!    functions move to 8.3.0 through its `lambdaVersion` parameter.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, Parameter};
use aws_sdk_dynamodb::types::AttributeValue;
use lava_boot::{Overrides, REALMS_TABLE};
use lava_builder::{Artefact, DistOptions, Release, Step, WorkerSource};
use lava_config::{Config, Environment};
use lava_deploy::{Action, Count, Object, Options, Request, Sources};
use lava_layout::{
    boot_binary_key, cfn_key, lambda_key, pkg_key, Arch, CfnTemplate, Component, LambdaFunction,
    PackageName, Runtime, Sums, Version, SHA256SUMS,
};
use lava_stack::{Clients, Wait, LAMBDA_VERSION};
use lava_store::{Location, Store, Tuning};
use lava_tests::moto::{self, command_sdk_config, MOTO_ACCOUNT};
use lava_tests::{run, workspace_root};
use sha2::{Digest, Sha256};

const BUCKET: &str = "lava-code";
const PREFIX: &str = "lava";
const ENV: &str = "rehearsal";
const REALM: &str = "rehearsal";
const PINNED: &str = "pinned";
const FLOATING: &str = "floating";
const REALM_STACK: &str = "lava-rehearsal";
/// The older release, deployed first.
const OLD: &str = "8.2.0";

/// Silent for lava-builder and lava-deploy alike; the test prints its own steps.
struct Quiet;

impl lava_builder::Progress for Quiet {
    fn started(&self, _: &Step) {}
    fn finished(&self, _: &Step, _: &[Artefact]) {}
}

impl lava_deploy::Progress for Quiet {
    fn begin(&self, _: Count) {}
    fn started(&self, _: &Object) {}
    fn advanced(&self, _: u64) {}
    fn finished(&self, _: &Object) {}
}

fn say(start: Instant, what: &str) {
    println!("[{:>6.1} s] {what}", start.elapsed().as_secs_f64());
}

/// `cargo xtask dist --only cfn lambda pkg boot --runtime <host>` for
/// `version`, into `out` (earlier versions there stay).
fn dist(
    version: &Version,
    source: Option<WorkerSource>,
    host: &Runtime,
    out: &Path,
) -> Vec<Artefact> {
    let mut release = Release::load(&workspace_root()).expect("workspace release");
    release.version = version.clone();
    let options = DistOptions {
        only: vec![
            Component::Cfn,
            Component::Lambda,
            Component::Pkg,
            Component::Boot,
        ],
        runtimes: Some(vec![host.clone()]),
        worker_source: source,
        out: out.to_path_buf(),
        skip_archs: Vec::new(),
    };
    lava_builder::plan(&release, &options)
        .and_then(|plan| lava_builder::execute(&release, &plan, &Quiet))
        .unwrap_or_else(|e| panic!("dist {version}: {e}"))
}

/// The worker source of the first release: jinlava `from` from PyPI (fetched
/// as dist fetches it) with `lava/VERSION.json` saying `to`, handed to dist
/// as a local checkout (`--worker-source DIR`). The real jinlava 8.2.0 pins
/// cx_Oracle 8.3.0, which has no wheel for Python 3.11, the only Python here
/// (and none for the 3.11/3.12 of the release matrix): dist rightly refuses
/// to bundle it, and a bundle for another Python could not run here.
fn relabelled(from: &Version, to: &Version, work: &Path) -> WorkerSource {
    let tree = WorkerSource::Pypi
        .fetch(from, work)
        .unwrap_or_else(|e| panic!("jinlava {from} from PyPI: {e}"));
    let file = tree.root.join("lava/VERSION.json");
    let mut version: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    version["__version_num__"] = to.to_string().into();
    std::fs::write(&file, version.to_string()).unwrap();
    WorkerSource::Dir(tree.root)
}

/// The deploy configuration, in upstream's format, as an operator writes it.
fn environment(version: &Version) -> Environment {
    let text = format!(
        r#"{ENV}:
  _: {{s3base: "s3://{BUCKET}/{PREFIX}"}}
  account_id: "{MOTO_ACCOUNT}"
  pkg: {{s3: _dist_/pkg/}}
  boot: {{s3: _boot_/}}
  lambda: {{s3: _dist_/lambda/}}
  cfn: {{s3: "_dist_/cfn/v${{version}}/"}}
  root:
    s3: "s3://{BUCKET}/{PREFIX}/"
    realms: {{{REALM}: [{PINNED}, {FLOATING}]}}
"#
    );
    let config = Config::parse(Path::new("deploy.yaml"), &text).expect("deploy.yaml");
    let no_env = |_: &str| None;
    config
        .environment(
            ENV,
            &lava_config::Substitution {
                version,
                env: &no_env,
            },
        )
        .expect("environment")
}

/// `cargo xtask deploy -e rehearsal` for `version`: prepare, plan, execute.
/// Returns the keys written, below the code area.
async fn deploy(aws: &lava_deploy::Aws, dist: &Path, version: &Version) -> Vec<String> {
    let env = environment(version);
    let prepared = lava_deploy::prepare(&Request {
        environment: &env,
        components: &[],
        version: version.clone(),
        sources: Sources {
            dist: dist.to_path_buf(),
            misc: workspace_root().join("misc"),
        },
    })
    .unwrap_or_else(|e| panic!("deploy {version}: {e}"));
    let options = Options::default();
    let plan = prepared
        .plan(Some(aws), &options)
        .await
        .unwrap_or_else(|e| panic!("deploy {version}: {e}"));
    assert_eq!(plan.account.as_deref(), Some(MOTO_ACCOUNT));
    let report = lava_deploy::execute(&plan, Arc::new(Quiet), options.jobs)
        .await
        .unwrap_or_else(|e| panic!("deploy {version}: {e}"));
    assert_eq!(report.written, plan.to_write());
    let area = format!("s3://{BUCKET}/{PREFIX}/");
    plan.objects()
        .chain(plan.groups.iter().filter_map(|g| g.sums.as_ref()))
        .filter(|o| o.action != Action::Unchanged)
        .map(|o| {
            o.url
                .strip_prefix(&area)
                .expect("in the code area")
                .to_string()
        })
        .collect()
}

/// Every object of the bucket: key -> (size, ETag, last modified).
async fn bucket_state(s3: &aws_sdk_s3::Client) -> BTreeMap<String, (i64, String, String)> {
    let mut state = BTreeMap::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(BUCKET)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        for o in page.contents() {
            state.insert(
                o.key().unwrap().to_string(),
                (
                    o.size().unwrap_or_default(),
                    o.e_tag().unwrap_or_default().to_string(),
                    format!("{:?}", o.last_modified()),
                ),
            );
        }
        match page.next_continuation_token() {
            Some(t) => token = Some(t.to_string()),
            None => return state,
        }
    }
}

/// Every artefact dist built is in the code area with the sha256 dist gave
/// it, and its directory's `SHA256SUMS` lists it with that digest.
async fn assert_deployed(code: &Store, built: &[Artefact]) {
    for a in built {
        let head = code
            .head(&a.key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} was built but not deployed", a.key));
        assert_eq!(head.size, a.size, "{}", a.key);
        assert_eq!(head.sha256.as_deref(), Some(a.sha256.as_str()), "{}", a.key);
        let (dir, name) = a
            .key
            .rsplit_once('/')
            .expect("artefacts are in directories");
        let sums_key = format!("{dir}/{SHA256SUMS}");
        let sums = code.get(&sums_key).await.unwrap().unwrap_or_default();
        let (sums, _) = Sums::parse(&String::from_utf8_lossy(&sums));
        assert_eq!(
            sums.get(name),
            Some(a.sha256.as_str()),
            "{sums_key} does not list {name} with its digest"
        );
    }
}

/// `_boot_/bin/lava-boot-x86_64` from the code area to `to`, checked against
/// that directory's `SHA256SUMS`, as `fetch_lava_boot` in `50-lava.sh` does.
async fn fetch_lava_boot(code: &Store, to: &Path) {
    let key = boot_binary_key(Arch::X86_64);
    code.download(&key, to)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{key} is not in the code area"));
    let (dir, name) = key.rsplit_once('/').unwrap();
    let sums = code
        .get(&format!("{dir}/{SHA256SUMS}"))
        .await
        .unwrap()
        .unwrap_or_default();
    let (sums, _) = Sums::parse(&String::from_utf8_lossy(&sums));
    let digest = hex::encode(Sha256::digest(std::fs::read(to).unwrap()));
    assert_eq!(sums.get(name), Some(digest.as_str()), "{key}");
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn sha256_of<'a>(built: &'a [Artefact], key: &str) -> &'a str {
    &built
        .iter()
        .find(|a| a.key == key)
        .unwrap_or_else(|| panic!("dist did not build {key}"))
        .sha256
}

/// Create a stack from a template in the code area and check it completed.
/// Every parameter is given, defaults included: moto keeps only the
/// parameters given at creation, and a later update with UsePreviousValue
/// for a defaulted one fails inside moto (see tests/stack.rs).
async fn create_stack(
    cfn: &aws_sdk_cloudformation::Client,
    code: &Store,
    name: &str,
    template_key: &str,
    given: &[(&str, String)],
) -> BTreeMap<String, String> {
    let template = code
        .get(template_key)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{template_key} is not in the code area"));
    let template: serde_json::Value = serde_json::from_slice(&template).unwrap();
    let declared = template["Parameters"].as_object().unwrap();
    let mut parameters: BTreeMap<String, String> = declared
        .iter()
        .map(|(k, p)| {
            let default = match &p["Default"] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.clone(), default)
        })
        .collect();
    for (k, v) in given {
        assert!(
            declared.contains_key(*k),
            "{template_key} has no parameter {k}"
        );
        parameters.insert(k.to_string(), v.clone());
    }
    // The S3 URL of the template, as CloudFormation takes it: moto reads it
    // from its own S3, so the stack is made from exactly what deploy pushed.
    let url = format!("https://{BUCKET}.s3.amazonaws.com/{PREFIX}/{template_key}");
    cfn.create_stack()
        .stack_name(name)
        .template_url(url)
        .set_parameters(Some(
            parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(k)
                        .parameter_value(v)
                        .build()
                })
                .collect(),
        ))
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create stack {name}: {e:?}"));
    let (status, outputs) = stack(cfn, name).await;
    if status != "CREATE_COMPLETE" {
        let events = cfn
            .describe_stack_events()
            .stack_name(name)
            .send()
            .await
            .unwrap();
        let events: Vec<String> = events
            .stack_events()
            .iter()
            .map(|e| {
                format!(
                    "{} {} {:?} {}",
                    e.logical_resource_id().unwrap_or_default(),
                    e.resource_type().unwrap_or_default(),
                    e.resource_status(),
                    e.resource_status_reason().unwrap_or_default()
                )
            })
            .collect();
        panic!(
            "moto did not create stack {name} ({status}):\n{}",
            events.join("\n")
        );
    }
    outputs
}

/// A stack's status and its parameters and outputs (by key).
async fn stack(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
) -> (String, BTreeMap<String, String>) {
    let out = cfn.describe_stacks().stack_name(name).send().await.unwrap();
    let stack = &out.stacks()[0];
    let mut values: BTreeMap<String, String> = stack
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for o in stack.outputs() {
        values.insert(
            format!("output:{}", o.output_key().unwrap()),
            o.output_value().unwrap_or_default().to_string(),
        );
    }
    (stack.stack_status().unwrap().as_str().to_string(), values)
}

#[tokio::test]
async fn a_release_goes_from_dist_to_a_booted_worker_and_the_next_one_lands_beside_it() {
    let start = Instant::now();
    let old: Version = OLD.parse().unwrap();
    let new: Version = env!("CARGO_PKG_VERSION").parse().unwrap();
    assert!(old < new, "the workspace release must be newer than {OLD}");

    // One runtime keeps the builds short: this machine's Python and arch
    // (the installed bundle must run here) on amzn2023.
    let os_root = lava_tests::worker_root();
    let host: Runtime = lava_boot::platform::detect(os_root.path(), &Overrides::default()).unwrap();
    let bundle_key = |v: &Version| {
        pkg_key(
            &host.os,
            &PackageName::New {
                version: v.clone(),
                runtime: host.clone(),
            },
        )
    };

    let dist_dir = tempfile::tempdir().unwrap();
    say(start, &format!("dist {old} ({host})"));
    let source_dir = tempfile::tempdir().unwrap();
    let source = relabelled(&new, &old, source_dir.path());
    let built_old = dist(&old, Some(source), &host, dist_dir.path());

    let moto = moto::start();
    let config = command_sdk_config(&moto.endpoint()).await;
    let aws = lava_deploy::Aws::new(&config);
    let clients = Clients::new(&config);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    for bucket in [BUCKET, "lava-logs"] {
        aws.s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    let code = Store::new(
        Location::parse(&format!("s3://{BUCKET}/{PREFIX}")).unwrap(),
        Some(&aws.s3),
        Tuning::default(),
    );

    // 1. Deploy the first release to an empty code area.
    say(start, &format!("deploy {old}"));
    let written = deploy(&aws, dist_dir.path(), &old).await;
    assert_deployed(&code, &built_old).await;
    for key in [
        bundle_key(&old),
        lambda_key(LambdaFunction::Dispatch, &old, Arch::X86_64),
        cfn_key(CfnTemplate::Worker, &old),
        boot_binary_key(Arch::X86_64),
        "_boot_/50-lava.sh".to_string(),
        format!("{REALM}/{PINNED}/root.boot.sh"),
        format!("{REALM}/{FLOATING}/root.boot.sh"),
    ] {
        assert!(
            written.contains(&key),
            "deploy {old} did not write {key}: {written:?}"
        );
    }

    // 2. The realm stack from the deployed realm template, Lambda functions
    // at the first release, creating the realms table.
    say(start, "create the realm and worker stacks");
    let realm = create_stack(
        &clients.cfn,
        &code,
        REALM_STACK,
        &cfn_key(CfnTemplate::Realm, &old),
        &[
            ("realm", REALM.into()),
            ("lavaGroupTag", "rehearsal".into()),
            ("kmsKeyAdmin", "admin".into()),
            ("createRealmsTable", "Yes".into()),
            ("lavaBucketName", "lava-rehearsal-realm".into()),
            ("logBucketName", "lava-logs".into()),
            ("s3CodeBucket", BUCKET.into()),
            ("s3CodePrefix", PREFIX.into()),
            (LAMBDA_VERSION, OLD.into()),
        ],
    )
    .await;
    assert_eq!(
        realm["Version"], OLD,
        "the template dist rendered for {OLD}"
    );

    // Worker stacks from the deployed worker template: EC2 workers on
    // moto's default VPC and one of its images. moto does not model
    // AWS::CloudWatch::Alarm (nor, in the realm stack, AWS::IAM::Group and
    // AWS::SNS::Subscription): it skips them with a warning and completes
    // the stack. Everything a booting worker depends on is modelled: queue,
    // role, instance profile, launch template, auto scaling group, and the
    // realm's tables, keys, functions and exports.
    let image = ec2
        .describe_images()
        .owners("amazon")
        .send()
        .await
        .unwrap()
        .images()
        .iter()
        .find(|i| i.architecture().map(|a| a.as_str()) == Some("x86_64"))
        .and_then(|i| i.image_id())
        .expect("moto has an x86_64 image")
        .to_string();
    let subnets: Vec<String> = ec2
        .describe_subnets()
        .send()
        .await
        .unwrap()
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    let group = ec2
        .describe_security_groups()
        .group_names("default")
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .group_id()
        .unwrap()
        .to_string();
    for worker in [PINNED, FLOATING] {
        let outputs = create_stack(
            &clients.cfn,
            &code,
            &format!("lava-{REALM}-{worker}"),
            &cfn_key(CfnTemplate::Worker, &old),
            &[
                ("realm", REALM.into()),
                ("worker", worker.into()),
                ("alarmTopic", format!("lava-{REALM}-notices")),
                ("amiId", image.clone()),
                ("subnets", subnets.join(",")),
                ("secGroups", group.clone()),
                ("workerInstanceType", "m7i.large".into()),
            ],
        )
        .await;
        assert!(
            outputs["output:sqsWorkerQueueUrl"].ends_with(&format!("/lava-{REALM}-{worker}")),
            "{outputs:?}"
        );
        assert_eq!(
            outputs["output:asgLavaWorker"],
            format!("lava-{REALM}-{worker}")
        );
    }
    // The workers' user data boots from the code area the realm stack
    // exports: the one deploy wrote to.
    let exports: BTreeMap<String, String> = clients
        .cfn
        .list_exports()
        .send()
        .await
        .unwrap()
        .exports()
        .iter()
        .map(|e| {
            (
                e.name().unwrap_or_default().to_string(),
                e.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(exports[&format!("lava:{REALM}:s3CodeBucket")], BUCKET);
    assert_eq!(exports[&format!("lava:{REALM}:s3CodePrefix")], PREFIX);

    // 3. The realm's item: `pinned` pinned to the first release.
    let x_workers = AttributeValue::M(
        [(
            PINNED.to_string(),
            AttributeValue::M([("version".to_string(), AttributeValue::S(OLD.into()))].into()),
        )]
        .into(),
    );
    dynamodb
        .put_item()
        .table_name(REALMS_TABLE)
        .item("realm", AttributeValue::S(REALM.into()))
        .item("x-workers", x_workers)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the realm stack made no {REALMS_TABLE} table: {e:?}"));

    // 4. Boot the workers with the deployed lava-boot.
    let boot_dir = tempfile::tempdir().unwrap();
    let lava_boot = boot_dir.path().join("lava-boot");
    fetch_lava_boot(&code, &lava_boot).await;
    let boot = |command: &str, worker: &str, root: &Path| {
        let mut cmd = Command::new(&lava_boot);
        cmd.arg(command)
            .args(["--code-area", &format!("s3://{BUCKET}/{PREFIX}")])
            .args(["--realm", REALM, "--worker", worker])
            .arg("--root")
            .arg(root)
            .args(["--platform", &host.to_string()])
            .envs(moto.env())
            .env_remove("LAVA_BOOT_ROOT");
        if command == "plan" {
            cmd.arg("--json");
        }
        let out = run(&mut cmd);
        assert!(
            out.status.success(),
            "lava-boot {command} --worker {worker}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let plan = |worker: &str, root: &Path| -> serde_json::Value {
        serde_json::from_str(&boot("plan", worker, root)).unwrap()
    };
    let lava_version = |root: &Path| {
        let out =
            run(Command::new(root.join("usr/local/bin/lava-version")).env_remove("PYTHONPATH"));
        assert!(
            out.status.success(),
            "lava-version: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // The bundle a plan chose: its key, version, reason and digest.
    let chosen = |plan: &serde_json::Value| {
        let b = &plan["bundle"];
        (
            b["key"].as_str().unwrap_or_default().to_string(),
            b["version"].as_str().unwrap_or_default().to_string(),
            b["reason"].as_str().unwrap_or_default().to_string(),
            b["sha256"].as_str().unwrap_or_default().to_string(),
        )
    };

    say(
        start,
        &format!("boot {PINNED} and plan {FLOATING} on {old}"),
    );
    let pinned_root = tempfile::tempdir().unwrap();
    let p = plan(PINNED, pinned_root.path());
    assert_eq!(
        chosen(&p),
        (
            bundle_key(&old),
            OLD.to_string(),
            "pinned-new".to_string(),
            sha256_of(&built_old, &bundle_key(&old)).to_string()
        ),
        "{p:#}"
    );
    assert_eq!(p["pin"]["version"], OLD);
    assert_eq!(p["pin"]["from"], format!("x-workers.{PINNED}.version"));
    let f = plan(FLOATING, tempfile::tempdir().unwrap().path());
    assert_eq!(
        (chosen(&f).0, chosen(&f).2),
        (bundle_key(&old), "highest-new".to_string()),
        "{f:#}"
    );
    assert!(f["pin"].is_null(), "{f:#}");

    boot("apply", PINNED, pinned_root.path());
    assert_eq!(lava_version(pinned_root.path()), OLD);
    assert!(pinned_root
        .path()
        .join(format!("home/lava-{PINNED}/lava.start"))
        .is_file());

    // 5. The workspace release, built beside the first and deployed beside it.
    say(start, &format!("dist {new}"));
    let built_new = dist(&new, None, &host, dist_dir.path());
    assert!(
        dist_dir.path().join(bundle_key(&old)).is_file(),
        "dist {new} removed the {OLD} bundle"
    );
    let before = bucket_state(&aws.s3).await;
    say(start, &format!("deploy {new}"));
    let written = deploy(&aws, dist_dir.path(), &new).await;
    assert_deployed(&code, &built_new).await;
    assert!(written.contains(&bundle_key(&new)), "{written:?}");
    assert!(
        !written.iter().any(|k| k.contains(OLD)),
        "deploy {new} rewrote objects of {OLD}: {written:?}"
    );
    let after = bucket_state(&aws.s3).await;
    for (key, was) in &before {
        let now = after
            .get(key)
            .unwrap_or_else(|| panic!("deploy {new} removed {key}"));
        if key.contains(OLD) {
            assert_eq!(now, was, "deploy {new} changed {key}");
        }
    }
    assert_deployed(&code, &built_old).await;

    say(start, &format!("boot {FLOATING} on {new}, plan {PINNED}"));
    fetch_lava_boot(&code, &lava_boot).await;
    let floating_root = tempfile::tempdir().unwrap();
    let f = plan(FLOATING, floating_root.path());
    assert_eq!(
        chosen(&f),
        (
            bundle_key(&new),
            new.to_string(),
            "highest-new".to_string(),
            sha256_of(&built_new, &bundle_key(&new)).to_string()
        ),
        "{f:#}"
    );
    boot("apply", FLOATING, floating_root.path());
    assert_eq!(lava_version(floating_root.path()), new.to_string());
    let p = plan(PINNED, tempfile::tempdir().unwrap().path());
    assert_eq!(
        (chosen(&p).0, chosen(&p).2),
        (bundle_key(&old), "pinned-new".to_string()),
        "{p:#}"
    );

    // The realm's Lambda functions follow, through lambdaVersion only.
    say(start, &format!("realm stack lambdaVersion {OLD} -> {new}"));
    let env = environment(&new);
    let update = lava_stack::prepare(
        &clients,
        &lava_stack::Request {
            environment: &env,
            realm: REALM,
            stack: None,
            version: new.clone(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("stack prepare: {e}"));
    assert_eq!(update.stack_name, REALM_STACK);
    assert_eq!(update.current, OLD);
    assert_eq!(update.code_area, format!("s3://{BUCKET}/{PREFIX}/"));
    assert_eq!(update.zips.len(), LambdaFunction::ALL.len());
    let (_, before) = stack(&clients.cfn, REALM_STACK).await;
    let wait = Wait {
        interval: Duration::from_millis(200),
        timeout: Duration::from_secs(120),
    };
    let status = lava_stack::apply(&clients, &update, &wait, &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("stack apply: {e}"));
    assert_eq!(status, "UPDATE_COMPLETE");
    let (_, after) = stack(&clients.cfn, REALM_STACK).await;
    let mut expected = before;
    expected.insert(LAMBDA_VERSION.into(), new.to_string());
    assert_eq!(after, expected, "only lambdaVersion changed");
    say(start, "done");
}
