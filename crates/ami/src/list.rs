//! Which lava AMIs the account has, and which of them the lava worker stacks
//! run.
//!
//! An image is a lava AMI when its name parses as
//! `lava-<version>-<os>-py<M.m>-<arch>-<build time>` (images owned by the
//! account only). Its Python is the image's Python tag when it has one
//! (`PYTHON_VERSION`, as upstream documents it, or `PythonVersion`, as
//! upstream's packer template writes it), else the name's. The newest image
//! of a runtime is the one built last (the name's build time), then the
//! highest lava version.
//!
//! A worker stack is a stack with the lava-worker template's `realm`,
//! `worker` and `amiId` parameters; one with a blank `amiId` starts no
//! instances of its own. A stack lags when its `amiId` is a lava AMI that is
//! not the newest of its runtime.

use std::collections::BTreeSet;

use aws_sdk_ec2::error::{DisplayErrorContext, SdkError};
use aws_sdk_ec2::types::Image as Ec2Image;
use lava_config::{check_account, Environment};
use lava_layout::{python_of_full_version, AmiName, Runtime};
use serde::Serialize;

use crate::AmiError;

/// The image tags that carry the Python version, in order of preference.
pub const PYTHON_TAGS: [&str; 2] = ["PYTHON_VERSION", "PythonVersion"];

/// The lava-worker template's parameters that make a stack a worker stack.
const REALM: &str = "realm";
const WORKER: &str = "worker";
const AMI_ID: &str = "amiId";

/// What the account id is for, when the environment has none: the images
/// listed are that account's own.
const ACCOUNT_NEEDED: &str = "it names the account whose AMIs are listed";

/// The clients: EC2 for the images, CloudFormation for the stacks, STS for
/// the account guard.
#[derive(Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub cfn: aws_sdk_cloudformation::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig) -> Clients {
        Clients {
            ec2: aws_sdk_ec2::Client::new(config),
            cfn: aws_sdk_cloudformation::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
        }
    }
}

/// Where an image's Python version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PythonFrom {
    Tag,
    Name,
}

/// A lava AMI.
#[derive(Debug, Clone, Serialize)]
pub struct Image {
    pub id: String,
    pub name: String,
    #[serde(serialize_with = "display")]
    pub version: lava_layout::Version,
    /// `<os>-py<M.m>-<arch>`, the Python from the tag when there is one.
    #[serde(serialize_with = "display")]
    pub runtime: Runtime,
    pub python_from: PythonFrom,
    /// The build time of the name, `YYYY-MM-DDTHH-MM-SSZ`.
    pub built: String,
    /// The newest image of its runtime.
    pub newest: bool,
}

/// How a worker stack's `amiId` compares with the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackState {
    /// The newest lava AMI of its runtime.
    Current,
    /// An older lava AMI than the newest of its runtime.
    Lagging,
    /// Not one of the account's lava AMIs (another owner's, deregistered, or
    /// not a lava AMI).
    Unknown,
    /// Blank `amiId`: the stack starts no instances.
    NoInstances,
}

/// A lava worker stack and the AMI it uses.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerStack {
    pub stack: String,
    pub realm: String,
    pub worker: String,
    pub ami_id: String,
    /// The runtime of its AMI, when that is a lava AMI.
    pub runtime: Option<String>,
    pub state: StackState,
    /// The newest AMI of its runtime, when the stack lags.
    pub newest: Option<String>,
}

/// What [`list`] found.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub account: String,
    /// By runtime, newest first within a runtime.
    pub images: Vec<Image>,
    /// By stack name.
    pub stacks: Vec<WorkerStack>,
    /// Images named `lava-...` whose names do not parse, with the reason.
    pub skipped: Vec<String>,
}

impl Listing {
    /// The `--json` form of the listing.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the listing serialises")
    }
}

fn display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn aws<E, R>(operation: &'static str) -> impl Fn(SdkError<E, R>) -> AmiError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    move |e| AmiError::Aws {
        operation,
        message: DisplayErrorContext(e).to_string(),
    }
}

/// The account's lava AMIs and the worker stacks, after checking that the
/// credentials are the environment's account. Read-only.
pub async fn list(clients: &Clients, env: &Environment) -> Result<Listing, AmiError> {
    let account = check_account(&clients.sts, env, ACCOUNT_NEEDED).await?;

    let mut raw = Vec::new();
    let mut token = None;
    loop {
        let page = clients
            .ec2
            .describe_images()
            .owners("self")
            .set_next_token(token)
            .send()
            .await
            .map_err(aws("EC2 DescribeImages"))?;
        raw.extend(page.images().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let (images, skipped) = images(&raw);

    let mut stacks = Vec::new();
    let mut token = None;
    loop {
        let page = clients
            .cfn
            .describe_stacks()
            .set_next_token(token)
            .send()
            .await
            .map_err(aws("CloudFormation DescribeStacks"))?;
        for stack in page.stacks() {
            let param = |key: &str| {
                stack
                    .parameters()
                    .iter()
                    .find(|p| p.parameter_key() == Some(key))
                    .map(|p| p.parameter_value().unwrap_or_default().to_string())
            };
            if let (Some(realm), Some(worker), Some(ami_id)) =
                (param(REALM), param(WORKER), param(AMI_ID))
            {
                stacks.push(worker_stack(
                    stack.stack_name().unwrap_or_default(),
                    realm,
                    worker,
                    ami_id,
                    &images,
                ));
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    stacks.sort_by(|a, b| a.stack.cmp(&b.stack));
    Ok(Listing {
        account,
        images,
        stacks,
        skipped,
    })
}

/// The lava AMIs among `raw`, sorted, each runtime's newest marked.
fn images(raw: &[Ec2Image]) -> (Vec<Image>, Vec<String>) {
    let mut images = Vec::new();
    let mut skipped = Vec::new();
    for image in raw {
        let (Some(id), Some(name)) = (image.image_id(), image.name()) else {
            continue;
        };
        let parsed = match AmiName::parse(name) {
            Ok(parsed) => parsed,
            Err(e) => {
                if name.starts_with("lava-") {
                    tracing::warn!("{id}: {e}; skipped");
                    skipped.push(format!("{id}: {e}"));
                }
                continue;
            }
        };
        let mut runtime = parsed.runtime.clone();
        let mut python_from = PythonFrom::Name;
        let tag = PYTHON_TAGS.iter().find_map(|key| {
            image
                .tags()
                .iter()
                .find(|t| t.key() == Some(key))
                .and_then(|t| Some((*key, t.value()?)))
        });
        if let Some((key, value)) = tag {
            match python_of_full_version(value) {
                Ok(python) => {
                    runtime.python = python;
                    python_from = PythonFrom::Tag;
                }
                Err(e) => tracing::warn!("{id}: tag {key}: {e}; the name's Python is used"),
            }
        }
        images.push(Image {
            id: id.to_string(),
            name: name.to_string(),
            version: parsed.version,
            runtime,
            python_from,
            built: parsed.built.to_string(),
            newest: false,
        });
    }
    // Newest first within a runtime; the id makes the order total.
    images.sort_by(|a, b| {
        a.runtime
            .cmp(&b.runtime)
            .then_with(|| b.built.cmp(&a.built))
            .then_with(|| b.version.cmp(&a.version))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut seen = BTreeSet::new();
    for image in &mut images {
        image.newest = seen.insert(image.runtime.clone());
    }
    (images, skipped)
}

fn worker_stack(
    stack: &str,
    realm: String,
    worker: String,
    ami_id: String,
    images: &[Image],
) -> WorkerStack {
    let used = images.iter().find(|i| i.id == ami_id);
    let newest = used.and_then(|u| images.iter().find(|i| i.newest && i.runtime == u.runtime));
    let state = match (ami_id.trim().is_empty(), used, newest) {
        (true, _, _) => StackState::NoInstances,
        (false, Some(u), Some(n)) if u.id == n.id => StackState::Current,
        (false, Some(_), Some(_)) => StackState::Lagging,
        _ => StackState::Unknown,
    };
    WorkerStack {
        stack: stack.to_string(),
        realm,
        worker,
        runtime: used.map(|u| u.runtime.to_string()),
        newest: (state == StackState::Lagging)
            .then(|| newest.map(|n| n.id.clone()))
            .flatten(),
        ami_id,
        state,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::Tag;

    use super::*;

    fn image(id: &str, name: &str, python_tag: Option<(&str, &str)>) -> Ec2Image {
        let mut b = Ec2Image::builder().image_id(id).name(name);
        if let Some((k, v)) = python_tag {
            b = b.tags(Tag::builder().key(k).value(v).build());
        }
        b.build()
    }

    #[test]
    fn newest_per_runtime_and_tags_over_names() {
        let raw = [
            image(
                "ami-1",
                "lava-8.2.0-amzn2023-py3.11-x86_64-2025-01-01T00-00-00Z",
                None,
            ),
            image(
                "ami-2",
                "lava-8.1.0-amzn2023-py3.11-x86_64-2025-06-01T00-00-00Z",
                None,
            ),
            image(
                "ami-3",
                "lava-8.2.0-amzn2023-py3.11-arm64-2025-01-01T00-00-00Z",
                None,
            ),
            // The tag says 3.12, whatever the name says.
            image(
                "ami-4",
                "lava-8.2.0-amzn2023-py3.11-x86_64-2025-02-01T00-00-00Z",
                Some(("PythonVersion", "3.12.4")),
            ),
            image("ami-5", "lava-8.2.x-broken", None),
            image("ami-6", "ubuntu-24.04", None),
        ];
        let (images, skipped) = images(&raw);
        let rows: Vec<String> = images
            .iter()
            .map(|i| format!("{} {} {} {:?}", i.id, i.runtime, i.newest, i.python_from))
            .collect();
        // By runtime (x86_64 before aarch64), newest first.
        assert_eq!(
            rows,
            [
                "ami-2 amzn2023-py3.11-x86_64 true Name",
                "ami-1 amzn2023-py3.11-x86_64 false Name",
                "ami-3 amzn2023-py3.11-aarch64 true Name",
                "ami-4 amzn2023-py3.12-x86_64 true Tag",
            ]
        );
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].starts_with("ami-5"), "{skipped:?}");

        let state = |ami: &str| worker_stack("s", "r".into(), "w".into(), ami.into(), &images);
        assert_eq!(state("ami-2").state, StackState::Current);
        let lagging = state("ami-1");
        assert_eq!(lagging.state, StackState::Lagging);
        assert_eq!(lagging.newest.as_deref(), Some("ami-2"));
        assert_eq!(state("ami-9").state, StackState::Unknown);
        assert_eq!(state("").state, StackState::NoInstances);
    }
}
