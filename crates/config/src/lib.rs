//! What every command that reaches AWS starts from: an environment of the
//! deploy configuration (upstream's `deploy.yaml`, every location resolved),
//! the SDK configuration with the product's retry policy, and the account
//! guard that runs before the first request that could change anything.
//!
//! Deploy, stack, ami and boot read environments only through this crate, so
//! a location, an account id or the code area means the same in each.

mod account;
mod component;
mod file;

pub use account::{check_account, load_sdk_config, retry_config, sdk_loader, AccountError};
pub use component::Deployable;
pub use file::{scalar, show, Config, Environment, Substitution};

/// The configuration is not what it must be: the message names the file, the
/// key and the value, and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);
