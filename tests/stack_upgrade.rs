//! Moving stacks off upstream's templates, against moto's CloudFormation, S3
//! and STS: a realm stack created from an upstream-like template (Python
//! functions on `lambdaRuntime`) is refused a native lambdaVersion, then
//! moved to our rendered realm template with `--template`; a worker stack
//! created from an upstream-like worker template moves to our worker
//! template. The upstream-like templates are built here from the parameter
//! facts in tests/fixtures/upstream-cfn-facts.json (names, types, defaults);
//! none of upstream's template text is in this repository.

use std::collections::BTreeMap;
use std::path::Path;

use lava_config::{Config, Environment, Substitution};
use lava_layout::{cfn_key, lambda_key, Arch, CfnTemplate, LambdaFunction, Version};
use lava_stack::{
    Clients, Request, StackError, Update, Value, Wait, WorkerRequest, LAMBDA_VERSION,
    NATIVE_RUNTIME, VERSION,
};
use lava_tests::cfn::{self, Template};
use lava_tests::moto::{self, command_sdk_config, Moto, MOTO_ACCOUNT, REGION};
use lava_tests::workspace_root;
use serde_json::{json, Map, Value as Json};

const CODE_BUCKET: &str = "lava-code";
const CODE_PREFIX: &str = "dist/lava";
const STACK: &str = "lava-test";
const WORKER_STACK: &str = "lava-test-core";
const REALM: &str = "test";
const WORKER: &str = "core";
const OLD: &str = "8.2.0";
const NEW: &str = "8.3.0";
const PYTHON: &str = "python3.11";

/// Upstream's four functions, by logical ID.
const FUNCTIONS: [(&str, LambdaFunction); 4] = [
    ("lambdaDispatch", LambdaFunction::Dispatch),
    ("lambdaS3Trigger", LambdaFunction::S3trigger),
    ("lambdaLavaStop", LambdaFunction::Stop),
    ("lambdaLavaMetrics", LambdaFunction::Metrics),
];

/// A parameter of ours that the upstream-like realm template leaves out and
/// one it has that ours does not, as an older upstream release would: the
/// move must list both.
const NOT_YET_UPSTREAM: &str = "autoscalingHeartbeatMinutes";
const RETIRED: &str = "retiredOption";

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn facts() -> Json {
    let path = workspace_root().join("tests/fixtures/upstream-cfn-facts.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("upstream facts")).unwrap()
}

/// The parameters of `template` in tests/fixtures/upstream-cfn-facts.json
/// ("realm" or "worker"), as a template's Parameters section: type and
/// default only.
fn upstream_parameters(template: &str) -> Map<String, Json> {
    facts()[template]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(fact, p)| {
            let name = fact.strip_prefix("parameter ")?;
            let mut out = Map::new();
            out.insert("Type".into(), p["Type"].clone());
            if let Some(default) = p.get("Default") {
                out.insert("Default".into(), default.clone());
            }
            Some((name.to_string(), Json::Object(out)))
        })
        .collect()
}

/// A realm template as upstream's runs its functions: Python on
/// `lambdaRuntime`, code at `${s3CodePrefix}/_dist_/lambda/<fn>-${lambdaVersion}.zip`.
fn upstream_realm_template() -> String {
    let mut parameters = upstream_parameters("realm");
    assert!(parameters.remove(NOT_YET_UPSTREAM).is_some());
    parameters.insert(RETIRED.into(), json!({"Type": "String", "Default": "on"}));
    let mut resources = Map::new();
    // The role keeps its name across the move: moto updates a role in place
    // and cannot replace one whose RoleName changes.
    resources.insert(
        "iamLavaDispatchLambdaRole".into(),
        json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": {"Fn::Sub": "lava-${realm}-dispatch-lambda"},
                "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                               "Action": "sts:AssumeRole"}]
                }
            }
        }),
    );
    for (id, function) in FUNCTIONS {
        let name = function.name();
        resources.insert(
            id.into(),
            json!({
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": {"Fn::Sub": format!("lava-${{realm}}-{name}")},
                    "Runtime": {"Ref": "lambdaRuntime"},
                    "Handler": format!("{name}.lambda_handler"),
                    "Role": {"Fn::GetAtt": ["iamLavaDispatchLambdaRole", "Arn"]},
                    "Code": {
                        "S3Bucket": {"Ref": "s3CodeBucket"},
                        "S3Key": {"Fn::Sub": format!("${{s3CodePrefix}}/_dist_/lambda/{name}-${{lambdaVersion}}.zip")}
                    }
                }
            }),
        );
    }
    // Upstream's exports, which upstream's worker stacks and ours import.
    let facts = facts();
    let outputs: Map<String, Json> = facts["realm"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(fact, o)| {
            let name = fact.strip_prefix("output ")?;
            let value = if name == "lambdaLavaStop" {
                json!({"Fn::GetAtt": [name, "Arn"]})
            } else {
                json!({"Fn::Sub": format!("upstream-${{realm}}-{name}")})
            };
            Some((
                name.to_string(),
                json!({"Value": value, "Export": {"Name": o["Export"]}}),
            ))
        })
        .collect();
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": outputs
    })
    .to_string()
}

/// A worker template with upstream's parameters and one cheap resource, the
/// worker's queue under upstream's logical ID and name.
fn upstream_worker_template() -> String {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": upstream_parameters("worker"),
        "Resources": {"sqsWorkerQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": {"Fn::Sub": "lava-${realm}-${worker}"}}
        }}
    })
    .to_string()
}

fn rendered(template: CfnTemplate) -> String {
    let name = template.source_name();
    let source = std::fs::read_to_string(workspace_root().join("cfn").join(&name)).unwrap();
    lava_templates::render(&source, &name, NEW).unwrap().json
}

/// moto, its clients, the code area (zips of OLD and NEW, our rendered
/// templates of NEW) and a realm stack on the upstream-like template.
struct Fixture {
    clients: Clients,
    moto: Moto,
}

impl Fixture {
    async fn new() -> Fixture {
        let moto = moto::start();
        let config = command_sdk_config(&moto.endpoint()).await;
        let clients = Clients::new(&config);
        for bucket in [CODE_BUCKET, "lava-logs"] {
            clients
                .s3
                .create_bucket()
                .bucket(bucket)
                .send()
                .await
                .unwrap();
        }
        let f = Fixture { clients, moto };
        // moto's Lambda reads a function's code from S3 when it creates or
        // updates it. Upstream's Python zips and ours share the code area.
        for version in [OLD, NEW] {
            for function in LambdaFunction::ALL {
                f.put(
                    &upstream_zip_key(function, version),
                    python_zip(function, version),
                )
                .await;
                let key = lambda_key(function, &v(version), Arch::X86_64);
                f.put(&key, native_zip(function, version)).await;
            }
        }
        for template in [CfnTemplate::Realm, CfnTemplate::Worker] {
            f.put(&cfn_key(template, &v(NEW)), rendered(template).into_bytes())
                .await;
        }

        let template = upstream_realm_template();
        let parameters = cfn::all_parameters(
            &serde_json::from_str(&template).unwrap(),
            &[
                ("realm", REALM),
                ("Version", OLD),
                ("lavaGroupTag", "dev"),
                ("kmsKeyAdmin", "admin"),
                ("lavaBucketName", "lava-test-realm"),
                ("logBucketName", "lava-logs"),
                ("s3CodeBucket", CODE_BUCKET),
                ("s3CodePrefix", CODE_PREFIX),
                (LAMBDA_VERSION, OLD),
                ("lambdaArchitecture", "x86_64"),
                ("lambdaRuntime", PYTHON),
            ],
        );
        f.create(STACK, &template, &parameters).await;
        f
    }
}

/// Where upstream's deploy.sh puts a Python zip (no architecture).
fn upstream_zip_key(function: LambdaFunction, version: &str) -> String {
    format!("_dist_/lambda/{}", function.zip_name(&v(version)))
}

fn python_zip(function: LambdaFunction, version: &str) -> Vec<u8> {
    format!("python {function} {version}").into_bytes()
}

fn native_zip(function: LambdaFunction, version: &str) -> Vec<u8> {
    format!("native {function} {version}").into_bytes()
}

/// A function's runtime and the code-area key of its code, as moto's
/// Lambda gives them (`Code.Location` names the key it loaded), read with
/// the AWS CLI.
fn function_code(moto: &Moto, function: &str) -> (String, String) {
    let out = std::process::Command::new(lava_tests::tool("aws"))
        .envs(moto.env())
        .args(["lambda", "get-function", "--function-name", function])
        .args(["--output", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Json = serde_json::from_slice(&out.stdout).unwrap();
    let location = got["Code"]["Location"].as_str().unwrap_or_default();
    let key = location
        .split_once(".amazonaws.com/")
        .map_or(location, |(_, key)| key);
    (
        got["Configuration"]["Runtime"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        key.to_string(),
    )
}

impl Fixture {
    /// A subnet and a security group, which moto's auto scaling checks.
    async fn network(&self) -> (String, String) {
        let ec2 = aws_sdk_ec2::Client::new(&command_sdk_config(&self.moto.endpoint()).await);
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap();
        let subnet = ec2
            .create_subnet()
            .vpc_id(vpc)
            .cidr_block("10.0.1.0/24")
            .send()
            .await
            .unwrap();
        let group = ec2
            .create_security_group()
            .vpc_id(vpc)
            .group_name("lava-worker")
            .description("lava worker")
            .send()
            .await
            .unwrap();
        (
            subnet.subnet().unwrap().subnet_id().unwrap().to_string(),
            group.group_id().unwrap().to_string(),
        )
    }

    async fn resources(&self, name: &str) -> Vec<String> {
        let out = self
            .clients
            .cfn
            .list_stack_resources()
            .stack_name(name)
            .send()
            .await
            .unwrap();
        out.stack_resource_summaries()
            .iter()
            .filter_map(|r| r.logical_resource_id().map(str::to_string))
            .collect()
    }

    async fn put(&self, key: &str, body: Vec<u8>) {
        self.clients
            .s3
            .put_object()
            .bucket(CODE_BUCKET)
            .key(format!("{CODE_PREFIX}/{key}"))
            .body(body.into())
            .send()
            .await
            .unwrap();
    }

    async fn create(&self, name: &str, template: &str, parameters: &BTreeMap<String, String>) {
        cfn::create(
            &self.clients.cfn,
            name,
            Template::Body(template),
            parameters,
        )
        .await;
    }

    /// Status, parameters and template: what "unchanged" means.
    async fn snapshot(&self, name: &str) -> (String, BTreeMap<String, String>, Json) {
        let stack = cfn::describe(&self.clients.cfn, name).await;
        let template = cfn::template(&self.clients.cfn, name).await;
        (stack.status, stack.parameters, template)
    }

    async fn events(&self, name: &str) -> Vec<String> {
        cfn::events(&self.clients.cfn, name).await
    }

    async fn change_sets(&self, name: &str) -> usize {
        self.clients
            .cfn
            .list_change_sets()
            .stack_name(name)
            .send()
            .await
            .unwrap()
            .summaries()
            .len()
    }

    fn request<'a>(&self, env: &'a Environment, version: &str) -> Request<'a> {
        Request {
            environment: env,
            realm: REALM,
            stack: None,
            version: v(version),
        }
    }

    async fn apply(&self, update: &Update) -> String {
        lava_stack::apply(&self.clients, update, &fast(), &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

fn environment() -> Environment {
    let text = format!(
        "dev:\n  account_id: \"{MOTO_ACCOUNT}\"\n  _: {{s3base: s3://{CODE_BUCKET}/{CODE_PREFIX}}}\n"
    );
    let config = Config::parse(Path::new("deploy.yaml"), &text).unwrap();
    let env_var = |_: &str| None;
    config
        .environment(
            "dev",
            &Substitution {
                version: &v(NEW),
                env: &env_var,
            },
        )
        .unwrap()
}

fn fast() -> Wait {
    Wait {
        interval: std::time::Duration::from_millis(100),
        timeout: std::time::Duration::from_secs(60),
    }
}

fn template_url(template: CfnTemplate) -> String {
    format!(
        "https://s3.{REGION}.amazonaws.com/{CODE_BUCKET}/{CODE_PREFIX}/{}",
        cfn_key(template, &v(NEW))
    )
}

/// The runtime of each Lambda function of a template.
fn runtimes(template: &Json) -> BTreeMap<String, Json> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::Function")
        .map(|(id, r)| (id.clone(), r["Properties"]["Runtime"].clone()))
        .collect()
}

/// The parameters a move from template `old` to `new` keeps, adds (with
/// their defaults) and drops (with the stack's values).
#[allow(clippy::type_complexity)]
fn expected_move(
    old: &str,
    new: &str,
    stack: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<(String, String)>, Vec<(String, String)>) {
    let old = cfn::parameter_defaults(&serde_json::from_str(old).unwrap());
    let new = cfn::parameter_defaults(&serde_json::from_str(new).unwrap());
    let kept = new
        .keys()
        .filter(|k| old.contains_key(*k))
        .cloned()
        .collect();
    let added = new
        .iter()
        .filter(|(k, _)| !old.contains_key(*k))
        .map(|(k, d)| (k.clone(), d.clone().expect("a new parameter has a default")))
        .collect();
    let dropped = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(|k| (k.clone(), stack[k].clone()))
        .collect();
    (kept, added, dropped)
}

fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
    let mut items = items.to_vec();
    items.sort();
    items
}

#[tokio::test]
async fn a_native_version_on_a_python_template_is_refused() {
    let f = Fixture::new().await;
    let before = f.snapshot(STACK).await;
    let env = environment();

    let err = lava_stack::prepare(&f.clients, &f.request(&env, NEW))
        .await
        .unwrap_err();
    assert!(matches!(err, StackError::Input(_)), "{err:?}");
    let message = err.to_string();
    for part in [
        STACK,
        PYTHON,
        NATIVE_RUNTIME,
        "--template",
        "cargo xtask stack realm -e dev --realm test --lambda-version 8.3.0 --template",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
    assert_eq!(f.snapshot(STACK).await, before, "nothing changed");
}

#[tokio::test]
async fn template_dry_run_shows_the_functions_modified_and_changes_nothing() {
    let f = Fixture::new().await;
    let before = f.snapshot(STACK).await;
    let events_before = f.events(STACK).await;
    let env = environment();

    let update = lava_stack::prepare_with_template(&f.clients, &f.request(&env, NEW))
        .await
        .unwrap();
    assert_eq!(
        update.template.as_ref().unwrap().url,
        template_url(CfnTemplate::Realm)
    );
    assert_eq!(update.foreign_runtimes, [PYTHON]);
    assert!(!update.is_noop());
    let changes = lava_stack::preview(&f.clients, &update, &fast())
        .await
        .unwrap();
    println!("{update}changes:\n{changes:#?}");
    for (id, _) in FUNCTIONS {
        assert!(
            changes.iter().any(|c| c.logical_id == id
                && c.action == "Modify"
                && c.resource_type == "AWS::Lambda::Function"),
            "{id} is not modified: {changes:#?}"
        );
    }

    assert_eq!(f.snapshot(STACK).await, before, "the stack is unchanged");
    assert_eq!(
        f.events(STACK).await,
        events_before,
        "no stack operation ran"
    );
    assert_eq!(f.change_sets(STACK).await, 0, "the change set was deleted");
}

#[tokio::test]
async fn template_moves_the_stack_to_native_functions_keeping_its_parameters() {
    let f = Fixture::new().await;
    let code = |realm: &str| -> Vec<(String, String)> {
        FUNCTIONS
            .iter()
            .map(|(_, function)| {
                function_code(&f.moto, &format!("lava-{realm}-{}", function.name()))
            })
            .collect()
    };
    let python = |version: &str| -> Vec<(String, String)> {
        FUNCTIONS
            .iter()
            .map(|(_, function)| {
                (
                    PYTHON.to_string(),
                    format!("{CODE_PREFIX}/{}", upstream_zip_key(*function, version)),
                )
            })
            .collect()
    };
    assert_eq!(code(REALM), python(OLD), "upstream's realm runs Python");
    let (_, before, old_template) = f.snapshot(STACK).await;
    assert!(runtimes(&old_template)
        .values()
        .all(|r| r == &json!({"Ref": "lambdaRuntime"})));
    let ours = rendered(CfnTemplate::Realm);
    // Why TemplateURL: TemplateBody takes at most 51,200 bytes.
    assert!(ours.len() > 51_200, "{} bytes", ours.len());
    let env = environment();

    let update = lava_stack::prepare_with_template(&f.clients, &f.request(&env, NEW))
        .await
        .unwrap();
    let plan = update.to_string();
    println!("{plan}");
    let (kept, added, dropped) = expected_move(&upstream_realm_template(), &ours, &before);
    assert!(
        !added.is_empty() && !dropped.is_empty(),
        "the test templates differ"
    );
    let moved = update.template.as_ref().unwrap();
    assert_eq!(sorted(&moved.new_parameters), added);
    assert_eq!(sorted(&moved.dropped_parameters), dropped);
    for (k, d) in &added {
        assert!(
            plan.contains(&format!("new parameter {k} (default {d})")),
            "{plan}"
        );
    }
    for (k, was) in &dropped {
        assert!(
            plan.contains(&format!("dropped parameter {k} (was {was})")),
            "{plan}"
        );
    }
    // What UpdateStack gets: the version set, the rest kept, nothing else.
    let expected_passed: Vec<(String, Value)> = kept
        .iter()
        .map(|k| {
            let value = if k == VERSION || k == LAMBDA_VERSION {
                Value::Set(NEW.into())
            } else {
                Value::Previous
            };
            (k.clone(), value)
        })
        .collect();
    let mut passed = update.parameters.clone();
    passed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(passed, expected_passed);

    assert_eq!(f.apply(&update).await, "UPDATE_COMPLETE");
    let (status, after, new_template) = f.snapshot(STACK).await;
    assert_eq!(status, "UPDATE_COMPLETE");
    assert_eq!(new_template, serde_json::from_str::<Json>(&ours).unwrap());
    let found = runtimes(&new_template);
    assert_eq!(found.len(), 4, "{found:?}");
    for (id, _) in FUNCTIONS {
        assert_eq!(found[id], NATIVE_RUNTIME, "{id}");
    }
    for k in &kept {
        let expected = if k == VERSION || k == LAMBDA_VERSION {
            NEW
        } else {
            &before[k]
        };
        assert_eq!(&after[k], expected, "parameter {k}");
    }
    for (k, default) in &added {
        assert_eq!(&after[k], default, "new parameter {k} takes its default");
    }
    // Our code on our runtime: the keys name the architecture, so they
    // changed even where the version would not have.
    let native: Vec<(String, String)> = FUNCTIONS
        .iter()
        .map(|(_, function)| {
            let key = lambda_key(*function, &v(NEW), Arch::X86_64);
            (NATIVE_RUNTIME.to_string(), format!("{CODE_PREFIX}/{key}"))
        })
        .collect();
    assert_eq!(code(REALM), native);

    // A realm left on upstream's template in the same code area, at the
    // same version, keeps its Python code.
    let template = upstream_realm_template();
    let parameters = cfn::all_parameters(
        &serde_json::from_str(&template).unwrap(),
        &[
            ("realm", "other"),
            ("Version", NEW),
            ("lavaGroupTag", "dev"),
            ("kmsKeyAdmin", "admin"),
            ("lavaBucketName", "lava-other-realm"),
            ("logBucketName", "lava-logs"),
            ("s3CodeBucket", CODE_BUCKET),
            ("s3CodePrefix", CODE_PREFIX),
            (LAMBDA_VERSION, NEW),
            ("lambdaArchitecture", "x86_64"),
            ("lambdaRuntime", PYTHON),
        ],
    );
    f.create("lava-other", &template, &parameters).await;
    assert_eq!(code("other"), python(NEW));
    for (_, function) in FUNCTIONS {
        let key = format!("{CODE_PREFIX}/{}", upstream_zip_key(function, NEW));
        let object = f
            .clients
            .s3
            .get_object()
            .bucket(CODE_BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap();
        let bytes = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(
            bytes.as_ref(),
            python_zip(function, NEW),
            "{key} holds upstream's Python zip"
        );
    }

    // Done: running it again has nothing to do.
    let again = lava_stack::prepare_with_template(&f.clients, &f.request(&env, NEW))
        .await
        .unwrap();
    assert!(again.is_noop(), "{again}");
    // And the stack's own template is native now: no refusal.
    lava_stack::prepare(&f.clients, &f.request(&env, NEW))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_template_missing_from_the_code_area_is_named() {
    let f = Fixture::new().await;
    let before = f.snapshot(STACK).await;
    let env = environment();
    // The zips of 8.4.0 are there, its templates are not.
    for function in LambdaFunction::ALL {
        let key = lambda_key(function, &v("8.4.0"), Arch::X86_64);
        f.put(&key, b"zip".to_vec()).await;
    }

    let err = lava_stack::prepare_with_template(&f.clients, &f.request(&env, "8.4.0"))
        .await
        .unwrap_err();
    assert!(matches!(err, StackError::Input(_)), "{err:?}");
    let message = err.to_string();
    let url = format!(
        "s3://{CODE_BUCKET}/{CODE_PREFIX}/{}",
        cfn_key(CfnTemplate::Realm, &v("8.4.0"))
    );
    for part in [
        url.as_str(),
        "deploy it first: cargo xtask deploy -e dev cfn -v 8.4.0",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
    assert_eq!(f.snapshot(STACK).await, before, "nothing changed");
    assert_eq!(f.change_sets(STACK).await, 0);
}

#[tokio::test]
async fn a_worker_stack_moves_to_our_worker_template() {
    let f = Fixture::new().await;
    let env = environment();
    let template = upstream_worker_template();
    let (subnet, group) = f.network().await;
    // An EC2 worker (no instances) choosing its instance type by capability:
    // our template adds its role, launch template and auto scaling group.
    let parameters = cfn::all_parameters(
        &serde_json::from_str(&template).unwrap(),
        &[
            ("realm", REALM),
            ("worker", WORKER),
            ("Version", OLD),
            ("alarmTopic", "lava-alarms"),
            ("createWorkerInstance", "Yes"),
            ("amiId", "ami-0123456789abcdef0"),
            ("autoscalingActionTopic", ""),
            ("keyPairName", "lava-key"),
            ("subnets", &subnet),
            ("secGroups", &group),
            ("workerInstanceType", ""),
            ("workerAllowedInstances", "m6i.large,m7i.large"),
        ],
    );
    // Our worker template imports the realm stack's exports, which the
    // upstream-like realm stack has. (Moving the realm first would not do:
    // moto registers a stack's exports when it creates it, not on updates.)
    f.create(WORKER_STACK, &template, &parameters).await;

    let request = WorkerRequest {
        environment: &env,
        realm: REALM,
        worker: WORKER,
        stack: None,
        realm_stack: None,
        version: v(NEW),
    };
    let update = lava_stack::prepare_worker(&f.clients, &request)
        .await
        .unwrap();
    println!("{update}");
    assert_eq!(update.stack_name, WORKER_STACK);
    assert_eq!(update.current, OLD);
    assert_eq!(
        update.template.as_ref().unwrap().url,
        template_url(CfnTemplate::Worker)
    );
    let ours = rendered(CfnTemplate::Worker);
    let before = f.snapshot(WORKER_STACK).await;
    let (kept, added, dropped) = expected_move(&template, &ours, &before.1);
    let moved = update.template.as_ref().unwrap();
    assert_eq!(sorted(&moved.new_parameters), added);
    assert_eq!(sorted(&moved.dropped_parameters), dropped);

    // The dry run leaves it as it was.
    let changes = lava_stack::preview(&f.clients, &update, &fast())
        .await
        .unwrap();
    println!("{changes:#?}");
    assert!(
        changes
            .iter()
            .any(|c| c.logical_id == "sqsWorkerQueue" && c.action == "Modify"),
        "{changes:#?}"
    );
    assert_eq!(f.snapshot(WORKER_STACK).await, before);
    assert_eq!(f.change_sets(WORKER_STACK).await, 0);

    assert_eq!(f.apply(&update).await, "UPDATE_COMPLETE");
    let (status, after, new_template) = f.snapshot(WORKER_STACK).await;
    assert_eq!(status, "UPDATE_COMPLETE");
    assert_eq!(new_template, serde_json::from_str::<Json>(&ours).unwrap());
    for k in &kept {
        let expected = if k == VERSION { NEW } else { &before.1[k] };
        assert_eq!(&after[k], expected, "parameter {k}");
    }
    let resources = f.resources(WORKER_STACK).await;
    for id in [
        "sqsWorkerQueue",
        "launchtemplateLavaWorker",
        "asgLavaWorker",
    ] {
        assert!(
            resources.iter().any(|r| r == id),
            "{id} missing: {resources:?}"
        );
    }

    // The worker stack named, the wrong worker, another realm: refused.
    let named = WorkerRequest {
        stack: Some(WORKER_STACK),
        ..request
    };
    assert!(lava_stack::prepare_worker(&f.clients, &named)
        .await
        .unwrap()
        .is_noop());
    for (worker, stack) in [("other", None), ("other", Some(WORKER_STACK))] {
        let wrong = WorkerRequest {
            worker,
            stack,
            realm_stack: None,
            version: v(NEW),
            ..named
        };
        let err = lava_stack::prepare_worker(&f.clients, &wrong)
            .await
            .unwrap_err();
        assert!(
            err.is_input() && err.to_string().contains("\"other\""),
            "{err}"
        );
    }
}
