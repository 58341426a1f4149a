//! The tests' moto: the shared loopback launcher (`lava-local-aws`) running
//! the harness's moto_server. Code under test reaches it through the real AWS
//! SDK clients.

use aws_config::SdkConfig;
pub use lava_local_aws::{command_sdk_loader, sdk_loader, Moto, ACCESS_KEY, MOTO_ACCOUNT, REGION};

use crate::tool;

/// A moto_server of its own for the calling test, stopped when dropped.
pub fn start() -> Moto {
    Moto::start(&tool("moto_server"), None).unwrap_or_else(|e| panic!("{e}"))
}

pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    sdk_loader(endpoint).load().await
}

pub async fn command_sdk_config(endpoint: &str) -> SdkConfig {
    command_sdk_loader(endpoint).load().await
}

/// Every object of `bucket` below `prefix` (all of it for ""), in key order,
/// read page by page as a test inspects what the code under test wrote.
pub async fn objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Vec<aws_sdk_s3::types::Object> {
    let mut objects = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("listing s3://{bucket}/{prefix}: {e:?}"));
        objects.extend(page.contents().iter().cloned());
        match page.next_continuation_token() {
            Some(t) => token = Some(t.to_string()),
            None => return objects,
        }
    }
}

/// Register an AMI called `name` with `tags`; its id.
pub async fn register_image(
    ec2: &aws_sdk_ec2::Client,
    name: &str,
    tags: &[(&str, &str)],
) -> String {
    let id = ec2
        .register_image()
        .name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("register image {name}: {e:?}"))
        .image_id()
        .unwrap()
        .to_string();
    if !tags.is_empty() {
        let tags = tags
            .iter()
            .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(*k).value(*v).build());
        ec2.create_tags()
            .resources(&id)
            .set_tags(Some(tags.collect()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("tag image {name}: {e:?}"));
    }
    id
}
