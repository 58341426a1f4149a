//! `stack realm --lambda-version` against moto's CloudFormation, S3 and STS,
//! with a realm stack created from our own rendered `cfn/lava-realm.cfn.yaml`
//! running Lambda version 8.2.0. The code area holds the zips of 8.2.0 for
//! both architectures (moto's Lambda reads a function's code from S3 when it
//! creates it) and the x86_64 zips of 8.3.0.

use std::path::Path;

use lava_config::{AccountError, Config, Environment, Substitution};
use lava_layout::{lambda_key, Arch, LambdaFunction, Version};
use lava_stack::{Clients, Request, StackError, Update, Wait, LAMBDA_VERSION};
use lava_tests::cfn::{self, Described, Template};
use lava_tests::moto::{self, command_sdk_config, Moto, MOTO_ACCOUNT};
use lava_tests::workspace_root;

const CODE_BUCKET: &str = "lava-code";
const CODE_PREFIX: &str = "dist/lava";
const STACK: &str = "lava-test";
const REALM: &str = "test";
fn v(s: &str) -> Version {
    s.parse().unwrap()
}

/// moto, its clients and a realm stack at lambdaVersion 8.2.0.
struct Fixture {
    clients: Clients,
    _moto: Moto,
}

impl Fixture {
    async fn new() -> Fixture {
        Fixture::with_arch(Arch::X86_64).await
    }

    async fn with_arch(arch: Arch) -> Fixture {
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
        let fixture = Fixture {
            clients,
            _moto: moto,
        };
        for arch in Arch::ALL {
            fixture.put_zips("8.2.0", arch).await;
        }
        fixture.put_zips("8.3.0", Arch::X86_64).await;

        let source = std::fs::read_to_string(workspace_root().join("cfn/lava-realm.cfn.yaml"))
            .expect("realm template source");
        let template = lava_templates::render(&source, "lava-realm.cfn.yaml", "8.3.0")
            .expect("render the realm template")
            .json;
        let parameters = cfn::all_parameters(
            &serde_json::from_str(&template).unwrap(),
            &[
                ("realm", REALM),
                ("lavaGroupTag", "dev"),
                ("kmsKeyAdmin", "admin"),
                ("lavaBucketName", "lava-test-realm"),
                ("logBucketName", "lava-logs"),
                ("s3CodeBucket", CODE_BUCKET),
                ("s3CodePrefix", CODE_PREFIX),
                (LAMBDA_VERSION, "8.2.0"),
                ("lambdaArchitecture", arch.ami()),
            ],
        );
        cfn::create(
            &fixture.clients.cfn,
            STACK,
            Template::Body(&template),
            &parameters,
        )
        .await;
        fixture
    }

    async fn put_zips(&self, version: &str, arch: Arch) {
        for f in LambdaFunction::ALL {
            let key = format!("{CODE_PREFIX}/{}", lambda_key(f, &v(version), arch));
            self.clients
                .s3
                .put_object()
                .bucket(CODE_BUCKET)
                .key(key)
                .body(format!("{f} {version} {arch}").into_bytes().into())
                .send()
                .await
                .unwrap();
        }
    }

    async fn stack(&self) -> Described {
        cfn::describe(&self.clients.cfn, STACK).await
    }

    async fn events(&self) -> Vec<String> {
        cfn::events(&self.clients.cfn, STACK).await
    }

    async fn prepare(
        &self,
        env: &Environment,
        stack: Option<&str>,
        version: &str,
    ) -> Result<Update, StackError> {
        let request = Request {
            environment: env,
            realm: REALM,
            stack,
            version: v(version),
        };
        lava_stack::prepare(&self.clients, &request).await
    }
}

fn environment(account_id: &str) -> Environment {
    let text = format!(
        "dev:\n  account_id: \"{account_id}\"\n  _: {{s3base: s3://{CODE_BUCKET}/{CODE_PREFIX}}}\n"
    );
    let config = Config::parse(Path::new("deploy.yaml"), &text).unwrap();
    let env_var = |_: &str| None;
    let version = v("8.3.0");
    config
        .environment(
            "dev",
            &Substitution {
                version: &version,
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

#[tokio::test]
async fn update_sets_lambda_version_and_keeps_every_other_parameter() {
    let f = Fixture::new().await;
    let before = f.stack().await.parameters;
    assert_eq!(before[LAMBDA_VERSION], "8.2.0");
    let env = environment(MOTO_ACCOUNT);

    // Found by its realm parameter, without a name.
    let update = f.prepare(&env, None, "8.3.0").await.unwrap();
    assert_eq!(update.stack_name, STACK);
    assert_eq!(update.current, "8.2.0");
    assert!(!update.is_noop());
    assert_eq!(update.zips.len(), 4);
    assert_eq!(
        update.code_area,
        format!("s3://{CODE_BUCKET}/{CODE_PREFIX}/")
    );

    let mut seen = Vec::new();
    let status = lava_stack::apply(&f.clients, &update, &fast(), &mut |e| {
        seen.push(e.to_string())
    })
    .await
    .unwrap();
    assert_eq!(status, "UPDATE_COMPLETE");
    assert!(
        seen.iter().any(|e| e.contains("UPDATE_COMPLETE")),
        "new events are streamed: {seen:?}"
    );

    let Described {
        status,
        parameters: after,
        ..
    } = f.stack().await;
    assert_eq!(status, "UPDATE_COMPLETE");
    assert_eq!(after[LAMBDA_VERSION], "8.3.0");
    let mut expected = before.clone();
    expected.insert(LAMBDA_VERSION.into(), "8.3.0".into());
    assert_eq!(after, expected, "every other parameter is unchanged");

    // Running it again is recognised as nothing to do.
    let again = f.prepare(&env, Some(STACK), "8.3.0").await.unwrap();
    assert!(again.is_noop());
}

#[tokio::test]
async fn dry_run_shows_a_change_set_and_changes_nothing() {
    let f = Fixture::new().await;
    let before = f.stack().await;
    let events_before = f.events().await;
    let env = environment(MOTO_ACCOUNT);

    let update = f.prepare(&env, Some(STACK), "8.3.0").await.unwrap();
    let changes = lava_stack::preview(&f.clients, &update, &fast())
        .await
        .unwrap();
    println!("changes: {changes:#?}");

    assert_eq!(
        f.stack().await,
        before,
        "status, parameters and outputs untouched"
    );
    assert_eq!(f.events().await, events_before, "no stack operation ran");
    let sets = f
        .clients
        .cfn
        .list_change_sets()
        .stack_name(STACK)
        .send()
        .await
        .unwrap();
    assert!(sets.summaries().is_empty(), "the change set was deleted");
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let f = Fixture::new().await;
    let before = f.stack().await;
    let env = environment(MOTO_ACCOUNT);

    // No zips of 9.9.9: each missing key is named.
    let err = f.prepare(&env, None, "9.9.9").await.unwrap_err();
    assert!(err.is_input(), "{err}");
    let StackError::MissingZips { missing, .. } = &err else {
        panic!("expected missing zips, got {err}");
    };
    let expected: Vec<String> = LambdaFunction::ALL
        .iter()
        .map(|f| {
            format!(
                "s3://{CODE_BUCKET}/{CODE_PREFIX}/{}",
                lambda_key(*f, &v("9.9.9"), Arch::X86_64)
            )
        })
        .collect();
    assert_eq!(missing, &expected);
    assert!(err.to_string().contains("dispatch-9.9.9.zip"), "{err}");

    // A stack that does not exist is named.
    let err = f
        .prepare(&env, Some("lava-nope"), "8.3.0")
        .await
        .unwrap_err();
    assert!(
        err.is_input() && err.to_string().contains("lava-nope"),
        "{err}"
    );

    // A realm without a stack.
    let request = Request {
        environment: &env,
        realm: "other",
        stack: None,
        version: v("8.3.0"),
    };
    let err = lava_stack::prepare(&f.clients, &request).await.unwrap_err();
    assert!(
        err.is_input() && err.to_string().contains("\"other\""),
        "{err}"
    );

    // Another realm's stack, named.
    let request = Request {
        stack: Some(STACK),
        ..request
    };
    let err = lava_stack::prepare(&f.clients, &request).await.unwrap_err();
    assert!(err.is_input(), "{err}");

    // Credentials of another account: refused before any stack request.
    let err = f
        .prepare(&environment("000000000000"), None, "8.3.0")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StackError::Account(AccountError::Wrong { .. })),
        "{err}"
    );

    assert_eq!(f.stack().await, before);
}

#[tokio::test]
async fn an_arm64_stack_needs_the_arm64_zips() {
    let f = Fixture::with_arch(Arch::Aarch64).await;
    let env = environment(MOTO_ACCOUNT);

    // 8.3.0 has only x86_64 zips: the arm64 keys are the ones missing.
    let err = f.prepare(&env, None, "8.3.0").await.unwrap_err();
    let StackError::MissingZips { missing, .. } = &err else {
        panic!("expected missing zips, got {err}");
    };
    let expected: Vec<String> = LambdaFunction::ALL
        .iter()
        .map(|f| {
            format!(
                "s3://{CODE_BUCKET}/{CODE_PREFIX}/_dist_/lambda/arm64/{}",
                f.zip_name(&v("8.3.0"))
            )
        })
        .collect();
    assert_eq!(missing, &expected);

    f.put_zips("8.3.0", Arch::Aarch64).await;
    let update = f.prepare(&env, None, "8.3.0").await.unwrap();
    let status = lava_stack::apply(&f.clients, &update, &fast(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(status, "UPDATE_COMPLETE");
    let after = f.stack().await.parameters;
    assert_eq!(after[LAMBDA_VERSION], "8.3.0");
    assert_eq!(after["lambdaArchitecture"], "arm64");
}
