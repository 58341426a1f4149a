//! Operating releases in a running account, each command planned before it
//! acts: `status` reports what the code area holds and what every realm runs
//! from it; `pin` sets or removes a worker's (or every worker's) lava version
//! in the realms table, after showing which bundle each affected worker
//! boots before and after, with the selection code `lava-boot` itself runs;
//! `prune` deletes releases nothing uses any more.

pub mod pin;
pub mod prune;
pub mod status;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use lava_ami::list::WorkerStack;
use lava_boot::{select, typed_realm_item, SelectError, Selection, REALMS_TABLE};
use lava_layout::{pkg_dir, Runtime, Version, PKG_PREFIX};
use lava_store::Store;
use serde::Serialize;
use status::Directory;

/// Why a command could not run or refused to act.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The request cannot be done as asked: exit 2, nothing changed.
    #[error("{0}")]
    Input(String),
    /// The realm's item changed between the plan and the write.
    #[error("realm {realm}: its item in the realms table changed since the plan was made (another edit?); nothing written: run the command again")]
    Concurrent { realm: String },
    #[error("{operation}: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
    #[error(transparent)]
    Ami(#[from] lava_ami::AmiError),
    #[error(transparent)]
    Store(#[from] lava_store::StoreError),
}

impl OpsError {
    /// Bad input (exit 2) rather than a failure of the outside world.
    pub fn is_input(&self) -> bool {
        match self {
            OpsError::Input(_) => true,
            OpsError::Ami(e) => e.is_input(),
            _ => false,
        }
    }
}

pub(crate) fn aws<E: std::error::Error>(operation: &'static str) -> impl FnOnce(E) -> OpsError {
    move |e| OpsError::Aws {
        operation,
        message: DisplayErrorContext(e).to_string(),
    }
}

/// The clients of every command here.
#[derive(Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub ami: lava_ami::list::Clients,
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig) -> Clients {
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            s3: lava_store::s3_client(config),
            ami: lava_ami::list::Clients::new(config),
        }
    }
}

/// The bundle a worker boots, or why it would not boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Boots {
    /// The bundle (its key below the code area) and why it was chosen.
    Bundle {
        key: String,
        version: String,
        reason: lava_boot::Reason,
    },
    /// No bundle fits: the worker's boot would abort.
    Aborts { error: String },
    /// The worker's runtime is unknown (its AMI is not a lava AMI of this
    /// account), so neither is its bundle.
    UnknownRuntime,
}

/// The package listings of the code area, one per os, read once.
pub(crate) struct Packages<'a> {
    code: &'a Store,
    listings: BTreeMap<String, Vec<String>>,
}

impl<'a> Packages<'a> {
    pub(crate) fn new(code: &'a Store) -> Packages<'a> {
        Packages {
            code,
            listings: BTreeMap::new(),
        }
    }

    /// Starting from the package directories `status` has already listed.
    pub(crate) fn listed(code: &'a Store, directories: &[Directory]) -> Packages<'a> {
        let listings = directories
            .iter()
            .filter(|d| d.dir.starts_with(&format!("{PKG_PREFIX}/")))
            .map(|d| {
                let names = d.listing.iter().map(|l| l.name.clone()).collect();
                (d.dir.clone(), names)
            })
            .collect();
        Packages { code, listings }
    }

    /// What `lava-boot` would choose for `runtime` with `pin`.
    pub(crate) async fn boots(
        &mut self,
        runtime: Option<&Runtime>,
        pin: Option<&Version>,
    ) -> Result<Boots, OpsError> {
        let Some(runtime) = runtime else {
            return Ok(Boots::UnknownRuntime);
        };
        let dir = pkg_dir(&runtime.os);
        if !self.listings.contains_key(&dir) {
            let names = self
                .code
                .list(&dir)
                .await?
                .into_iter()
                .map(|l| l.name)
                .collect();
            self.listings.insert(dir.clone(), names);
        }
        let (chosen, _) = select(&self.listings[&dir], runtime, pin);
        Ok(boots(&dir, chosen))
    }
}

fn boots(dir: &str, chosen: Result<Selection, SelectError>) -> Boots {
    match chosen {
        Ok(s) => Boots::Bundle {
            key: format!("{dir}/{}", s.name),
            version: s.package.version().to_string(),
            reason: s.reason,
        },
        Err(e) => Boots::Aborts {
            error: e.to_string(),
        },
    }
}

/// The worker stacks of `realm` in the account (lava-worker template
/// parameters), with the runtime of each one's AMI.
pub(crate) async fn worker_stacks(
    clients: &Clients,
    env: &lava_config::Environment,
    realm: &str,
) -> Result<(String, Vec<WorkerStack>), OpsError> {
    let listing = lava_ami::list::list(&clients.ami, env).await?;
    let stacks = listing
        .stacks
        .into_iter()
        .filter(|s| s.realm == realm)
        .collect();
    Ok((listing.account, stacks))
}

/// The realm's item in the realms table, as typed.
pub(crate) async fn realm_item(
    clients: &Clients,
    realm: &str,
) -> Result<HashMap<String, AttributeValue>, OpsError> {
    typed_realm_item(&clients.dynamodb, realm)
        .await
        .map_err(|message| OpsError::Aws {
            operation: "DynamoDB GetItem",
            message,
        })?
        .ok_or_else(|| OpsError::Input(format!("no realm {realm:?} in the {REALMS_TABLE} table")))
}
