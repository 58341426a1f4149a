//! The AWS side of an environment: one SDK configuration for every command,
//! and the check that its credentials are the environment's account.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_sdk_sts::error::DisplayErrorContext;

use crate::Environment;

/// The product's retry policy, the same for every command and in the tests:
/// more attempts than the SDK's default 3, because a release is many large
/// uploads and one throttled or dropped request should not fail it.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(5)
}

/// Credentials, region and endpoint from the usual places (AWS_PROFILE,
/// AWS_REGION, ~/.aws, instance roles, AWS_ENDPOINT_URL), with
/// [`retry_config`]; a test sets its endpoint and credentials on it.
pub fn sdk_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config())
}

pub async fn load_sdk_config() -> SdkConfig {
    sdk_loader().load().await
}

/// Why the account guard stopped a command.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The caller's to fix.
    #[error("{file}: {environment}.account_id is missing: {why}")]
    Missing {
        file: String,
        environment: String,
        why: &'static str,
    },
    #[error(
        "the AWS credentials are for account {actual}, but {file} says environment \
         {environment:?} is account {expected}"
    )]
    Wrong {
        file: String,
        environment: String,
        expected: String,
        actual: String,
    },
    #[error("cannot verify the AWS account (STS GetCallerIdentity): {0}")]
    Unverified(String),
}

impl AccountError {
    /// True when the fault is in what the caller gave us (exit status 2).
    pub fn is_input(&self) -> bool {
        matches!(self, AccountError::Missing { .. })
    }
}

/// The account of the credentials, which must be the environment's
/// `account_id`; `why` says what the account id is needed for when the
/// environment has none.
pub async fn check_account(
    sts: &aws_sdk_sts::Client,
    env: &Environment,
    why: &'static str,
) -> Result<String, AccountError> {
    let file = env.file.display().to_string();
    let Some(expected) = env.account_id.clone() else {
        return Err(AccountError::Missing {
            file,
            environment: env.name.clone(),
            why,
        });
    };
    let identity = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AccountError::Unverified(DisplayErrorContext(e).to_string()))?;
    let actual = identity
        .account()
        .ok_or_else(|| AccountError::Unverified("the answer names no account".into()))?
        .to_string();
    if actual != expected {
        return Err(AccountError::Wrong {
            file,
            environment: env.name.clone(),
            expected,
            actual,
        });
    }
    Ok(actual)
}
