//! A bundle built by `cargo xtask dist` boots: dist's output directory is a
//! code area, so `lava-boot apply --root` installs from it as a worker would
//! from S3, and the installed lava-version runs.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_s3::config::Credentials;
use lava_boot::{Aws, Overrides, Reason, Request, REALMS_TABLE};
use lava_build::DistOptions;
use lava_layout::{Component, Runtime};
use lava_store::Location;
use lava_tests::moto::{Moto, ACCESS_KEY, REGION};
use lava_tests::{build_dist, run};

#[tokio::test]
async fn a_dist_bundle_installs_and_its_lava_version_runs() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    std::fs::write(
        root.path().join("etc/os-release"),
        "ID=\"amzn\"\nVERSION_ID=\"2023\"\n",
    )
    .unwrap();
    // Only this host's runtime: the bundle's Python must run here.
    let host: Runtime = lava_boot::platform::detect(root.path(), &Overrides::default()).unwrap();
    let (dist, built) = build_dist(DistOptions {
        only: vec![Component::Pkg],
        runtimes: Some(vec![host.clone()]),
        ..Default::default()
    });
    built.unwrap_or_else(|e| panic!("dist: {e}"));

    let moto = Moto::start();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new(ACCESS_KEY, ACCESS_KEY, None, None, "moto"))
        .load()
        .await;
    let aws = Aws::new(&config);
    aws.dynamodb
        .create_table()
        .table_name(REALMS_TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("realm")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("realm")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    aws.dynamodb
        .put_item()
        .table_name(REALMS_TABLE)
        .item("realm", AttributeValue::S("prod".into()))
        .send()
        .await
        .unwrap();

    let request = Request {
        code_area: Location::parse(&format!("file://{}", dist.path().display())).unwrap(),
        realm: "prod".into(),
        worker: "core".into(),
        platform: host.clone(),
        root: Some(root.path().to_path_buf()),
        verify: true,
    };
    let plan = lava_boot::plan(&request, &aws).await.unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(plan.bundle.name, format!("lava-{version}-{host}.tar.bz2"));
    assert_eq!(plan.bundle.reason, Reason::HighestNew);
    assert!(
        plan.bundle.sha256.is_some(),
        "dist wrote no SHA256SUMS entry"
    );

    let applied = lava_boot::apply(&plan, &aws).await.unwrap();
    assert_eq!(applied.installed.to_string(), version);
    let out = run(
        std::process::Command::new(root.path().join("usr/local/bin/lava-version"))
            .env_remove("PYTHONPATH"),
    );
    assert!(
        out.status.success(),
        "lava-version: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), version);
    assert!(root.path().join("home/lava-core/lava.start").is_file());
}
