//! The AWS clients a deploy needs, and the account guard.

use aws_sdk_s3::error::DisplayErrorContext;

use crate::DeployError;

/// S3 for the objects, STS for the account check.
#[derive(Clone)]
pub struct Aws {
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Aws {
    /// Clients from a loaded SDK configuration (credentials, region, retry
    /// policy). With an endpoint override (`AWS_ENDPOINT_URL`: moto,
    /// LocalStack, MinIO) S3 is addressed path style, which such endpoints
    /// need; real S3 keeps virtual hosts.
    pub fn new(config: &aws_config::SdkConfig) -> Aws {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Aws {
            s3: aws_sdk_s3::Client::from_conf(s3),
            sts: aws_sdk_sts::Client::new(config),
        }
    }

    /// The account the credentials belong to.
    pub(crate) async fn account(&self) -> Result<String, DeployError> {
        let identity = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| DeployError::Account(DisplayErrorContext(e).to_string()))?;
        identity
            .account()
            .map(str::to_string)
            .ok_or_else(|| DeployError::Account("the answer names no account".into()))
    }
}
