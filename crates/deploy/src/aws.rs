//! The AWS clients a deploy needs.

/// S3 for the objects, STS for the account check.
#[derive(Clone)]
pub struct Aws {
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Aws {
    pub fn new(config: &aws_config::SdkConfig) -> Aws {
        Aws {
            s3: lava_store::s3_client(config),
            sts: aws_sdk_sts::Client::new(config),
        }
    }
}
