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
