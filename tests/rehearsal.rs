//! Release rehearsal: the whole chain, from sources to an installed worker,
//! against moto on 127.0.0.1, for two releases side by side. One test, in
//! phases that are the methods of `Rehearsal`, in this order:
//!
//! 1. `first_release`: dist builds lava 8.2.0 with the workspace's code (the
//!    worker source is jinlava 8.3.0 from PyPI relabelled 8.2.0, see
//!    `relabelled`), and deploy pushes it to `s3://lava-code/lava` in moto S3.
//! 2. `create_stacks`: the realm stack and one worker stack per worker, in
//!    moto CloudFormation from the deployed 8.2.0 templates (TemplateURL into
//!    the code area, as an operator does); the realm stack creates
//!    `lava.realms`.
//! 3. `pin_worker`: the realm's item pins worker `pinned` to 8.2.0;
//!    `floating` is unpinned.
//! 4. `boot_first_release`: `lava-boot`, fetched from the code area and
//!    checked as `50-lava.sh` does, plans both workers and installs `pinned`
//!    under a root directory; the installed `lava-version` says 8.2.0.
//! 5. `release_workflow`: the workspace release (8.3.0) goes through
//!    `.github/workflows/release.yml` and `deploy.yml`, their steps run as
//!    written (tag check, two dist shards, merge, deploy to staging and to
//!    prod, this code area), so the workflows and the product cannot drift
//!    apart; 8.2.0 stays byte for byte.
//! 6. `boot_next_release`: `floating` now boots 8.3.0 while `pinned` stays on
//!    8.2.0.
//! 7. `move_lambda_version`: the realm stack's Lambda functions move to 8.3.0
//!    through its `lambdaVersion` parameter alone.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use lava_boot::{Overrides, REALMS_TABLE};
use lava_builder::{Artefact, DistOptions, Manifest, Release, Step, WorkerSource};
use lava_config::{Config, Environment};
use lava_deploy::{Action, Count, Object, Options, Request, Sources};
use lava_layout::{
    boot_binary_key, cfn_key, cli_name, lambda_key, pkg_key, Arch, CfnTemplate, Component,
    LambdaFunction, PackageName, Runtime, Sums, Version, SHA256SUMS,
};
use lava_stack::{Clients, Wait, LAMBDA_VERSION};
use lava_store::{Location, Store, Tuning};
use lava_tests::cfn::{self, Described, Template};
use lava_tests::lava_version;
use lava_tests::moto::{self, command_sdk_config, Moto, MOTO_ACCOUNT};
use lava_tests::{assert_static_executable, run, workflow, workspace_root};
use sha2::{Digest, Sha256};

const BUCKET: &str = "lava-code";
/// The release workflow's staging environment's bucket.
const STAGING_BUCKET: &str = "lava-code-staging";
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
        .map(|manifest| manifest.artefacts)
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

/// The deploy configuration, in upstream's format, as an operator writes it:
/// the rehearsal's own environment, and the release workflow's staging (a
/// code area of its own) and prod (the rehearsal's code area), which also
/// take the job framework.
fn deploy_yaml() -> String {
    let env = |name: &str, bucket: &str, framework: bool| {
        let framework = if framework {
            "  framework: {s3: _dist_/framework/}\n"
        } else {
            ""
        };
        format!(
            r#"{name}:
  _: {{s3base: "s3://{bucket}/{PREFIX}"}}
  account_id: "{MOTO_ACCOUNT}"
  pkg: {{s3: _dist_/pkg/}}
  boot: {{s3: _boot_/}}
  lambda: {{s3: _dist_/lambda/}}
  cfn: {{s3: "_dist_/cfn/v${{version}}/"}}
{framework}  root:
    s3: "s3://{bucket}/{PREFIX}/"
    realms: {{{REALM}: [{PINNED}, {FLOATING}]}}
"#
        )
    };
    [
        env(ENV, BUCKET, false),
        env("staging", STAGING_BUCKET, true),
        env("prod", BUCKET, true),
    ]
    .concat()
}

/// The rehearsal's environment of `deploy_yaml` for `version`.
fn environment(version: &Version) -> Environment {
    let config = Config::parse(Path::new("deploy.yaml"), &deploy_yaml()).expect("deploy.yaml");
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

/// Every object of the code bucket: key -> (size, ETag, last modified).
async fn bucket_state(s3: &aws_sdk_s3::Client) -> BTreeMap<String, (i64, String, String)> {
    moto::objects(s3, BUCKET, "")
        .await
        .iter()
        .map(|o| {
            let state = (
                o.size().unwrap_or_default(),
                o.e_tag().unwrap_or_default().to_string(),
                format!("{:?}", o.last_modified()),
            );
            (o.key().unwrap().to_string(), state)
        })
        .collect()
}

/// Every artefact dist built is in the code area with the sha256 dist gave
/// it, and its directory's `SHA256SUMS` (if it has one) lists it with that
/// digest.
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
        // _boot_/'s scriptlets are vouched for by their copies' entries.
        if !lava_layout::has_sums(dir) {
            continue;
        }
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

/// `_dist_/boot/lava-boot-x86_64` from the code area to `to`, checked against
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

/// Create a stack from a template in the code area, every parameter given
/// (see `cfn::all_parameters`), and return what it shows.
async fn create_stack(
    cfn: &aws_sdk_cloudformation::Client,
    code: &Store,
    name: &str,
    template_key: &str,
    given: &[(&str, &str)],
) -> Described {
    let template = code
        .get(template_key)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{template_key} is not in the code area"));
    let parameters = cfn::all_parameters(&serde_json::from_slice(&template).unwrap(), given);
    // The S3 URL of the template, as CloudFormation takes it: moto reads it
    // from its own S3, so the stack is made from exactly what deploy pushed.
    let url = format!("https://{BUCKET}.s3.amazonaws.com/{PREFIX}/{template_key}");
    cfn::create(cfn, name, Template::Url(&url), &parameters).await;
    cfn::describe(cfn, name).await
}

/// Everything the phases share: this machine's runtime, the dist directory
/// both releases are built into, moto with the code bucket, and the
/// `lava-boot` fetched from the code area.
struct Rehearsal {
    start: Instant,
    old: Version,
    new: Version,
    host: Runtime,
    dist_dir: tempfile::TempDir,
    moto: Moto,
    aws: lava_deploy::Aws,
    clients: Clients,
    code: Store,
    boot_dir: tempfile::TempDir,
    _os_root: tempfile::TempDir,
}

impl Rehearsal {
    async fn new() -> Rehearsal {
        let old: Version = OLD.parse().unwrap();
        let new: Version = env!("CARGO_PKG_VERSION").parse().unwrap();
        assert!(old < new, "the workspace release must be newer than {OLD}");
        // One runtime keeps the builds short: this machine's Python and arch
        // (the installed bundle must run here) on amzn2023.
        let os_root = lava_tests::worker_root();
        let host = lava_boot::platform::detect(os_root.path(), &Overrides::default()).unwrap();
        let moto = moto::start();
        let config = command_sdk_config(&moto.endpoint()).await;
        let aws = lava_deploy::Aws::new(&config);
        for bucket in [BUCKET, STAGING_BUCKET, "lava-logs"] {
            aws.s3.create_bucket().bucket(bucket).send().await.unwrap();
        }
        let code = Store::new(
            Location::parse(&format!("s3://{BUCKET}/{PREFIX}")).unwrap(),
            Some(&aws.s3),
            Tuning::default(),
        );
        Rehearsal {
            start: Instant::now(),
            old,
            new,
            host,
            dist_dir: tempfile::tempdir().unwrap(),
            clients: Clients::new(&config),
            moto,
            aws,
            code,
            boot_dir: tempfile::tempdir().unwrap(),
            _os_root: os_root,
        }
    }

    fn say(&self, what: &str) {
        println!("[{:>6.1} s] {what}", self.start.elapsed().as_secs_f64());
    }

    fn bundle_key(&self, version: &Version) -> String {
        pkg_key(
            &self.host.os,
            &PackageName::New {
                version: version.clone(),
                runtime: self.host.clone(),
            },
        )
    }

    fn lava_boot(&self) -> PathBuf {
        self.boot_dir.path().join("lava-boot")
    }

    /// Phase 1: dist and deploy the first release to an empty code area: every
    /// artefact lands with its digest, with the boot scriptlets and the
    /// workers' `root.boot.sh`.
    async fn first_release(&self) -> Vec<Artefact> {
        let old = &self.old;
        self.say(&format!("dist {old} ({})", self.host));
        let source_dir = tempfile::tempdir().unwrap();
        let source = relabelled(&self.new, old, source_dir.path());
        let built = dist(old, Some(source), &self.host, self.dist_dir.path());

        self.say(&format!("deploy {old}"));
        let written = deploy(&self.aws, self.dist_dir.path(), old).await;
        assert_deployed(&self.code, &built).await;
        for key in [
            self.bundle_key(old),
            lambda_key(LambdaFunction::Dispatch, old, Arch::X86_64),
            cfn_key(CfnTemplate::Worker, old),
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
        built
    }

    /// Phase 2: the realm stack from the deployed realm template (Lambda functions
    /// at the first release, creating the realms table) and one worker stack
    /// per worker; the realm exports the code area deploy wrote to.
    async fn create_stacks(&self) {
        self.say("create the realm and worker stacks");
        let cfn = &self.clients.cfn;
        let realm = create_stack(
            cfn,
            &self.code,
            REALM_STACK,
            &cfn_key(CfnTemplate::Realm, &self.old),
            &[
                ("realm", REALM),
                ("lavaGroupTag", "rehearsal"),
                ("kmsKeyAdmin", "admin"),
                ("createRealmsTable", "Yes"),
                ("lavaBucketName", "lava-rehearsal-realm"),
                ("logBucketName", "lava-logs"),
                ("s3CodeBucket", BUCKET),
                ("s3CodePrefix", PREFIX),
                (LAMBDA_VERSION, OLD),
            ],
        )
        .await;
        assert_eq!(
            realm.parameters["Version"], OLD,
            "the template dist rendered for {OLD}"
        );

        // EC2 workers on moto's default VPC and one of its images. moto does
        // not model AWS::CloudWatch::Alarm (nor, in the realm stack,
        // AWS::IAM::Group and AWS::SNS::Subscription): it skips them with a
        // warning and completes the stack. Everything a booting worker
        // depends on is modelled: queue, role, instance profile, launch
        // template, auto scaling group, and the realm's tables, keys,
        // functions and exports.
        let (image, subnets, group) = self.network().await;
        let notices = format!("lava-{REALM}-notices");
        for worker in [PINNED, FLOATING] {
            let stack = create_stack(
                cfn,
                &self.code,
                &format!("lava-{REALM}-{worker}"),
                &cfn_key(CfnTemplate::Worker, &self.old),
                &[
                    ("realm", REALM),
                    ("worker", worker),
                    ("alarmTopic", &notices),
                    ("amiId", &image),
                    ("subnets", &subnets),
                    ("secGroups", &group),
                    ("workerInstanceType", "m7i.large"),
                ],
            )
            .await;
            let outputs = &stack.outputs;
            assert!(
                outputs["sqsWorkerQueueUrl"].ends_with(&format!("/lava-{REALM}-{worker}")),
                "{outputs:?}"
            );
            assert_eq!(outputs["asgLavaWorker"], format!("lava-{REALM}-{worker}"));
        }
        // The workers' user data boots from the code area the realm stack
        // exports.
        let exports: BTreeMap<String, String> = cfn
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
    }

    /// moto's x86_64 image, its default VPC's subnets (comma-separated) and
    /// default security group.
    async fn network(&self) -> (String, String, String) {
        let ec2 = aws_sdk_ec2::Client::new(&command_sdk_config(&self.moto.endpoint()).await);
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
        (image, subnets.join(","), group)
    }

    /// Phase 3: the realm's item pins `pinned` to the first release, in the table
    /// the realm stack created.
    async fn pin_worker(&self) {
        let dynamodb =
            aws_sdk_dynamodb::Client::new(&command_sdk_config(&self.moto.endpoint()).await);
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
    }

    /// Phase 4: the deployed `lava-boot` plans both workers on the first release
    /// (`pinned` by its pin, `floating` as the highest) and installs
    /// `pinned`.
    async fn boot_first_release(&self, built: &[Artefact]) {
        self.say(&format!(
            "boot {PINNED} and plan {FLOATING} on {}",
            self.old
        ));
        fetch_lava_boot(&self.code, &self.lava_boot()).await;
        let old_bundle = self.bundle_key(&self.old);
        let pinned_root = tempfile::tempdir().unwrap();
        let p = self.plan(PINNED, pinned_root.path());
        assert_eq!(
            chosen(&p),
            (
                old_bundle.clone(),
                OLD.to_string(),
                "pinned-new".to_string(),
                sha256_of(built, &old_bundle).to_string()
            ),
            "{p:#}"
        );
        assert_eq!(p["pin"]["version"], OLD);
        assert_eq!(p["pin"]["from"], format!("x-workers.{PINNED}.version"));
        let f = self.plan(FLOATING, tempfile::tempdir().unwrap().path());
        assert_eq!(
            (chosen(&f).0, chosen(&f).2),
            (old_bundle, "highest-new".to_string()),
            "{f:#}"
        );
        assert!(f["pin"].is_null(), "{f:#}");

        self.boot("apply", PINNED, pinned_root.path());
        assert_eq!(lava_version(pinned_root.path()), OLD);
        assert!(pinned_root
            .path()
            .join(format!("home/lava-{PINNED}/lava.start"))
            .is_file());
    }

    /// Phase 5: the workspace release through the release pipeline, the
    /// `run:` steps of release.yml and deploy.yml as written there
    /// (`lava_tests::workflow`) on the tag `v<new>`: the version check, both
    /// shards, the merge, then deploy to staging and to prod, this code area,
    /// where the first release stays byte for byte. Returns the merged
    /// release's artefacts.
    async fn release_workflow(&self, built_old: &[Artefact]) -> Vec<Artefact> {
        let new = &self.new;
        self.say(&format!("release.yml on tag v{new}"));
        let before = bucket_state(&self.aws.s3).await;
        let values = [
            ("github.ref_name", format!("v{new}")),
            ("github.repository", "example-org/lava-dist".to_string()),
            (
                "vars.LAVA_DEPLOY_ROLE_ARN",
                format!("arn:aws:iam::{MOTO_ACCOUNT}:role/lava-deploy"),
            ),
            ("vars.AWS_REGION", "us-east-1".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut runner = workflow::Runner::new(workflow::Context {
            values,
            aws_env: self.moto.env(),
            skip_jobs: vec![("publish", "gh release create: GitHub's API")],
        });
        let record = runner.run("release.yml", |checkout| {
            std::fs::write(checkout.join("deploy.yaml"), deploy_yaml()).unwrap()
        });
        assert_eq!(
            record.xtask_steps_not_run(&["release.yml", "deploy.yml"]),
            Vec::<String>::new()
        );
        assert_eq!(record.skipped.len(), 1, "{:?}", record.skipped);
        assert_eq!(
            record.xtask[0],
            ["version", "--tag", &format!("v{new}")],
            "{:?}",
            record.xtask
        );

        // The merge is the whole release: every runtime's bundle and both
        // architectures' zips and lava-boot, from two shards.
        let merged = Manifest::read(&runner.job_dir("merge-the-shards").join("dist"))
            .unwrap_or_else(|e| panic!("the merged dist/: {e}"));
        assert_eq!(merged.version, new.to_string());
        let release = Release::load(&workspace_root()).unwrap();
        let keys: Vec<&str> = merged.artefacts.iter().map(|a| a.key.as_str()).collect();
        for runtime in &release.runtimes {
            let key = pkg_key(
                &runtime.os,
                &PackageName::New {
                    version: new.clone(),
                    runtime: runtime.clone(),
                },
            );
            assert!(keys.contains(&key.as_str()), "{key} not merged: {keys:?}");
        }
        for arch in Arch::ALL {
            for key in [
                lambda_key(LambdaFunction::Stop, new, arch),
                boot_binary_key(arch),
            ] {
                assert!(keys.contains(&key.as_str()), "{key} not merged: {keys:?}");
            }
        }

        // The release carries lavactl of each architecture, built by the
        // shards, in the release's SHA256SUMS.
        let published = runner.job_dir("merge-the-shards").join("release");
        let (sums, _) = Sums::parse(&std::fs::read_to_string(published.join(SHA256SUMS)).unwrap());
        for arch in Arch::ALL {
            let name = cli_name(new, arch);
            let bytes =
                std::fs::read(published.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_static_executable(&bytes, arch, &name);
            assert_eq!(
                sums.get(&name),
                Some(hex::encode(Sha256::digest(&bytes)).as_str()),
                "{name} in the release's SHA256SUMS"
            );
        }

        // Staging, then prod: each deploy's --json result (the job summary)
        // wrote the release, and each code area holds it.
        let staging = Store::new(
            Location::parse(&format!("s3://{STAGING_BUCKET}/{PREFIX}")).unwrap(),
            Some(&self.aws.s3),
            Tuning::default(),
        );
        for (env, code) in [("staging", &staging), ("prod", &self.code)] {
            let result: serde_json::Value = serde_json::from_slice(
                &std::fs::read(
                    runner
                        .job_dir(&format!("deploy-{env}"))
                        .join("deployed.json"),
                )
                .unwrap(),
            )
            .unwrap();
            assert_eq!(
                (result["environment"].as_str(), result["version"].as_str()),
                (Some(env), Some(new.to_string().as_str())),
                "{result:#}"
            );
            assert!(
                result["written"]["objects"].as_u64() > Some(0),
                "{result:#}"
            );
            assert!(
                record.ran.iter().any(|r| r.job == format!("deploy {env}")
                    && r.summary
                        .contains(&format!("## deployed: lava {new} to {env}"))),
                "deploy {env} wrote no summary"
            );
            assert_deployed(code, &merged.artefacts).await;
        }

        // The first release is untouched.
        let after = bucket_state(&self.aws.s3).await;
        for (key, was) in &before {
            let now = after
                .get(key)
                .unwrap_or_else(|| panic!("deploy {new} removed {key}"));
            if key.contains(OLD) {
                assert_eq!(now, was, "deploy {new} changed {key}");
            }
        }
        assert_deployed(&self.code, built_old).await;
        merged.artefacts
    }

    /// Phase 6: `floating` now boots the workspace release; `pinned` stays on the
    /// first.
    async fn boot_next_release(&self, built: &[Artefact]) {
        let new = &self.new;
        self.say(&format!("boot {FLOATING} on {new}, plan {PINNED}"));
        fetch_lava_boot(&self.code, &self.lava_boot()).await;
        let new_bundle = self.bundle_key(new);
        let floating_root = tempfile::tempdir().unwrap();
        let f = self.plan(FLOATING, floating_root.path());
        assert_eq!(
            chosen(&f),
            (
                new_bundle.clone(),
                new.to_string(),
                "highest-new".to_string(),
                sha256_of(built, &new_bundle).to_string()
            ),
            "{f:#}"
        );
        self.boot("apply", FLOATING, floating_root.path());
        assert_eq!(lava_version(floating_root.path()), new.to_string());
        let p = self.plan(PINNED, tempfile::tempdir().unwrap().path());
        assert_eq!(
            (chosen(&p).0, chosen(&p).2),
            (self.bundle_key(&self.old), "pinned-new".to_string()),
            "{p:#}"
        );
    }

    /// Phase 7: the realm's Lambda functions follow to the workspace release,
    /// through `lambdaVersion` only.
    async fn move_lambda_version(&self) {
        let new = &self.new;
        self.say(&format!("realm stack lambdaVersion {OLD} -> {new}"));
        let env = environment(new);
        let update = lava_stack::prepare(
            &self.clients,
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
        let before = cfn::describe(&self.clients.cfn, REALM_STACK).await;
        let wait = Wait {
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(120),
        };
        let status = lava_stack::apply(&self.clients, &update, &wait, &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("stack apply: {e}"));
        assert_eq!(status, "UPDATE_COMPLETE");
        let after = cfn::describe(&self.clients.cfn, REALM_STACK).await;
        let mut expected = before.parameters;
        expected.insert(LAMBDA_VERSION.into(), new.to_string());
        assert_eq!(after.parameters, expected, "only lambdaVersion changed");
        assert_eq!(after.outputs, before.outputs);
    }

    /// `lava-boot <command>` for `worker` under `root`, as 50-lava.sh runs
    /// it; its stdout.
    fn boot(&self, command: &str, worker: &str, root: &Path) -> String {
        let mut cmd = Command::new(self.lava_boot());
        cmd.arg(command)
            .args(["--code-area", &format!("s3://{BUCKET}/{PREFIX}")])
            .args(["--realm", REALM, "--worker", worker])
            .arg("--root")
            .arg(root)
            .args(["--platform", &self.host.to_string()])
            .envs(self.moto.env())
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
    }

    fn plan(&self, worker: &str, root: &Path) -> serde_json::Value {
        serde_json::from_str(&self.boot("plan", worker, root)).unwrap()
    }
}

/// The bundle a plan chose: its key, version, reason and digest.
fn chosen(plan: &serde_json::Value) -> (String, String, String, String) {
    let b = &plan["bundle"];
    let field = |k: &str| b[k].as_str().unwrap_or_default().to_string();
    (
        field("key"),
        field("version"),
        field("reason"),
        field("sha256"),
    )
}

#[tokio::test]
async fn a_release_goes_from_dist_to_a_booted_worker_and_the_next_one_lands_beside_it() {
    let r = Rehearsal::new().await;
    let built_old = r.first_release().await;
    r.create_stacks().await;
    r.pin_worker().await;
    r.boot_first_release(&built_old).await;
    let built_new = r.release_workflow(&built_old).await;
    r.boot_next_release(&built_new).await;
    r.move_lambda_version().await;
    r.say("done");
}
