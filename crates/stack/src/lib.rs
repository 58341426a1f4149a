//! The realm CloudFormation stack: selecting the version of the realm's Lambda
//! functions through its `lambdaVersion` parameter, as the seed prescribes
//! ("Lambda Functions"), with every other parameter and the template kept.
//!
//! Three steps, so that nothing changes before every input has been checked:
//!
//! 1. [`prepare`]: the account guard (STS), the realm stack (found by its
//!    `realm` parameter, or named), its parameters, and a HEAD of each of the
//!    four zips of the version, for the stack's `lambdaArchitecture`, in the
//!    code area the stack itself names (`s3CodeBucket`/`s3CodePrefix`).
//!    Read-only.
//! 2. [`preview`] (dry run): a change set, described, then deleted; the stack
//!    is never touched.
//! 3. [`apply`]: UpdateStack, then the stack events as they come until the
//!    update completes or rolls back.

use std::fmt;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::primitives::DateTimeFormat;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, Parameter, Stack};
use lava_deploy::Environment;
use lava_layout::{lambda_key, Arch, LambdaFunction, Version};
use lava_store::{Location, Store, Tuning};

/// The realm template's parameters this crate reads or sets.
pub const LAMBDA_VERSION: &str = "lambdaVersion";
const REALM: &str = "realm";
const CODE_BUCKET: &str = "s3CodeBucket";
const CODE_PREFIX: &str = "s3CodePrefix";
const ARCHITECTURE: &str = "lambdaArchitecture";

/// Why the stack was not updated, or the update did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The caller's to fix (environment, realm, stack, version); raised
    /// before anything changed.
    #[error("{0}")]
    Input(String),
    #[error(
        "the Lambda zips of version {version} are not all in the code area {code_area} \
         (deploy them first: cargo xtask deploy -e ENV lambda -v {version}); missing:\n  {}",
        missing.join("\n  ")
    )]
    MissingZips {
        version: Version,
        code_area: String,
        missing: Vec<String>,
    },
    #[error(
        "the AWS credentials are for account {actual}, but {file} says environment \
         {environment:?} is account {expected}: nothing was changed"
    )]
    WrongAccount {
        file: String,
        environment: String,
        expected: String,
        actual: String,
    },
    #[error("cannot verify the AWS account (STS GetCallerIdentity): {0}; nothing was changed")]
    Account(String),
    #[error("stack {stack} is {status}: wait until it is stable, then retry")]
    Busy { stack: String, status: String },
    #[error("CloudFormation {operation}: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] lava_store::StoreError),
    #[error("the change set for stack {stack} failed: {reason}")]
    ChangeSet { stack: String, reason: String },
    #[error("the update of stack {stack} ended in {status}{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Failed {
        stack: String,
        status: String,
        reason: Option<String>,
    },
    #[error(
        "stack {stack} was still {status} after {}s; the update goes on: follow it in the \
         CloudFormation console or with `aws cloudformation describe-stack-events`",
        waited.as_secs()
    )]
    TimedOut {
        stack: String,
        status: String,
        waited: Duration,
    },
}

impl StackError {
    /// True when the fault is in what the caller gave us (exit status 2).
    pub fn is_input(&self) -> bool {
        matches!(self, StackError::Input(_) | StackError::MissingZips { .. })
    }
}

fn aws<E, R>(operation: &'static str) -> impl Fn(SdkError<E, R>) -> StackError
where
    E: std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    move |e| StackError::Aws {
        operation,
        message: DisplayErrorContext(e).to_string(),
    }
}

/// The clients: CloudFormation for the stack, S3 for the zips, STS for the
/// account guard.
#[derive(Clone)]
pub struct Clients {
    pub cfn: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig) -> Clients {
        // Deploy's clients: S3 path style behind an endpoint override (moto).
        let deploy = lava_deploy::Aws::new(config);
        Clients {
            cfn: aws_sdk_cloudformation::Client::new(config),
            s3: deploy.s3,
            sts: deploy.sts,
        }
    }
}

/// What to update.
pub struct Request<'a> {
    pub environment: &'a Environment,
    pub realm: &'a str,
    /// The stack's name; `None` finds the one stack whose `realm` parameter
    /// is `realm` (upstream names no convention, so names vary).
    pub stack: Option<&'a str>,
    pub version: Version,
}

/// A checked update: the stack exists, is this realm's, and the zips are there.
#[derive(Debug, Clone)]
pub struct Update {
    pub account: String,
    pub stack_name: String,
    pub status: String,
    /// Every parameter of the stack with its current value, in stack order.
    pub parameters: Vec<(String, String)>,
    /// The current `lambdaVersion` ("" means no Lambda functions).
    pub current: String,
    pub version: Version,
    /// The capabilities the update acknowledges.
    capabilities: Vec<Capability>,
    /// `s3://<s3CodeBucket>/<s3CodePrefix>/`.
    pub code_area: String,
    /// The four zips, checked present.
    pub zips: Vec<String>,
}

impl Update {
    /// True when the stack already runs this version: CloudFormation would
    /// refuse an update without changes.
    pub fn is_noop(&self) -> bool {
        self.current == self.version.to_string()
    }

    /// `lambdaVersion` set, every other parameter its previous value.
    fn parameters(&self) -> Vec<Parameter> {
        self.parameters
            .iter()
            .map(|(key, _)| {
                let p = Parameter::builder().parameter_key(key);
                if key == LAMBDA_VERSION {
                    p.parameter_value(self.version.to_string()).build()
                } else {
                    p.use_previous_value(true).build()
                }
            })
            .collect()
    }
}

/// Check everything, change nothing. See the crate documentation.
pub async fn prepare(clients: &Clients, request: &Request<'_>) -> Result<Update, StackError> {
    let account = check_account(clients, request.environment).await?;
    let stack = find_stack(clients, request.realm, request.stack).await?;
    let stack_name = stack.stack_name().unwrap_or_default().to_string();
    let parameters: Vec<(String, String)> = stack
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let get = |key: &str| {
        parameters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let (Some(current), Some(bucket), Some(prefix)) =
        (get(LAMBDA_VERSION), get(CODE_BUCKET), get(CODE_PREFIX))
    else {
        return Err(StackError::Input(format!(
            "stack {stack_name} has no {LAMBDA_VERSION}, {CODE_BUCKET} and {CODE_PREFIX} \
             parameters: it is not a lava realm stack"
        )));
    };
    // Stacks created before the parameter existed run x86_64, its default.
    let arch = match get(ARCHITECTURE) {
        None => Arch::X86_64,
        Some(value) => value.parse::<Arch>().map_err(|e| {
            StackError::Input(format!("stack {stack_name}: parameter {ARCHITECTURE}: {e}"))
        })?,
    };
    let status = stack
        .stack_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    // ROLLBACK_COMPLETE is a failed creation: it can only be deleted.
    if status.ends_with("_IN_PROGRESS") || status == "ROLLBACK_COMPLETE" {
        return Err(StackError::Busy {
            stack: stack_name,
            status,
        });
    }

    let location = Location::parse(&format!("s3://{bucket}/{prefix}")).map_err(|e| {
        StackError::Input(format!(
            "stack {stack_name}: the code area its parameters name is not usable: {e}"
        ))
    })?;
    let store = Store::new(location, Some(&clients.s3), Tuning::default());
    let mut zips = Vec::new();
    let mut missing = Vec::new();
    for function in LambdaFunction::ALL {
        let key = lambda_key(function, &request.version, arch);
        match store.head(&key).await? {
            Some(_) => zips.push(store.url(&key)),
            None => missing.push(store.url(&key)),
        }
    }
    if !missing.is_empty() {
        return Err(StackError::MissingZips {
            version: request.version.clone(),
            code_area: store.location().to_string(),
            missing,
        });
    }

    // The realm template names IAM resources; keep whatever else the stack
    // was created with acknowledged.
    let mut capabilities = stack.capabilities().to_vec();
    if !capabilities.contains(&Capability::CapabilityNamedIam) {
        capabilities.push(Capability::CapabilityNamedIam);
    }
    Ok(Update {
        account,
        stack_name,
        status,
        current: current.to_string(),
        version: request.version.clone(),
        capabilities,
        code_area: store.location().to_string(),
        zips,
        parameters,
    })
}

/// The STS caller account must be the environment's `account_id`.
async fn check_account(clients: &Clients, env: &Environment) -> Result<String, StackError> {
    let file = env.file.display().to_string();
    let Some(expected) = env.account_id.clone() else {
        return Err(StackError::Input(format!(
            "{file}: environment {:?} has no account_id; it is required to change a stack",
            env.name
        )));
    };
    let identity = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| StackError::Account(DisplayErrorContext(e).to_string()))?;
    let actual = identity
        .account()
        .ok_or_else(|| StackError::Account("the answer names no account".into()))?
        .to_string();
    if actual != expected {
        return Err(StackError::WrongAccount {
            file,
            environment: env.name.clone(),
            expected,
            actual,
        });
    }
    Ok(actual)
}

fn parameter<'s>(stack: &'s Stack, key: &str) -> Option<&'s str> {
    stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .and_then(|p| p.parameter_value())
}

fn is_realm_stack(stack: &Stack) -> bool {
    parameter(stack, LAMBDA_VERSION).is_some() && parameter(stack, CODE_BUCKET).is_some()
}

/// The named stack (which must be the realm's), or the one realm stack
/// whose `realm` parameter is `realm`.
async fn find_stack(
    clients: &Clients,
    realm: &str,
    name: Option<&str>,
) -> Result<Stack, StackError> {
    if let Some(name) = name {
        let answer = clients.cfn.describe_stacks().stack_name(name).send().await;
        let stack = match answer {
            Ok(out) => out.stacks().first().cloned(),
            // CloudFormation answers a missing stack with a ValidationError.
            Err(e)
                if e.as_service_error()
                    .and_then(|s| s.message())
                    .is_some_and(|m| m.contains("does not exist")) =>
            {
                None
            }
            Err(e) => return Err(aws("DescribeStacks")(e)),
        };
        let Some(stack) = stack else {
            return Err(StackError::Input(format!(
                "no stack {name:?} in this account and region"
            )));
        };
        let stack_realm = parameter(&stack, REALM);
        if !is_realm_stack(&stack) || stack_realm != Some(realm) {
            return Err(StackError::Input(format!(
                "stack {name:?} is not the realm stack of realm {realm:?} (its realm parameter \
                 is {stack_realm:?})"
            )));
        }
        return Ok(stack);
    }
    let mut found = Vec::new();
    let mut pages = clients.cfn.describe_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws("DescribeStacks"))?;
        found.extend(
            page.stacks()
                .iter()
                .filter(|s| is_realm_stack(s) && parameter(s, REALM) == Some(realm))
                .cloned(),
        );
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(StackError::Input(format!(
            "no realm stack for realm {realm:?} in this account and region (a stack with \
             parameters realm={realm}, {LAMBDA_VERSION} and {CODE_BUCKET}); name it with --stack"
        ))),
        _ => Err(StackError::Input(format!(
            "several realm stacks for realm {realm:?}: {}; choose one with --stack",
            found
                .iter()
                .filter_map(Stack::stack_name)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// One resource change of a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    /// Add, Modify, Remove, ...
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// True, False or Conditional (Modify only).
    pub replacement: Option<String>,
}

impl fmt::Display for ResourceChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<8} {:<28} {}",
            self.action, self.logical_id, self.resource_type
        )?;
        match self.replacement.as_deref() {
            Some("True") => write!(f, " (replaced)"),
            Some("Conditional") => write!(f, " (may be replaced)"),
            _ => Ok(()),
        }
    }
}

/// How long and how often to wait for CloudFormation.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub interval: Duration,
    pub timeout: Duration,
}

impl Default for Wait {
    fn default() -> Wait {
        // CloudFormation's own default stack timeout is unbounded; an hour is
        // far beyond what replacing four functions takes.
        Wait {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(3600),
        }
    }
}

/// The dry run: the changes CloudFormation would make, from a change set that
/// is deleted again (also when describing it fails). The stack is untouched.
pub async fn preview(
    clients: &Clients,
    update: &Update,
    wait: &Wait,
) -> Result<Vec<ResourceChange>, StackError> {
    // Change set names: a letter, then letters, digits and dashes.
    let name = format!(
        "lava-lambda-{}-{}",
        update.version.to_string().replace('.', "-"),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    );
    let created = clients
        .cfn
        .create_change_set()
        .stack_name(&update.stack_name)
        .change_set_name(&name)
        .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Update)
        .use_previous_template(true)
        .set_parameters(Some(update.parameters()))
        .set_capabilities(Some(update.capabilities.clone()))
        .description(format!(
            "dry run of cargo xtask stack realm: lambdaVersion {} -> {}",
            update.current, update.version
        ))
        .send()
        .await
        .map_err(aws("CreateChangeSet"))?;
    let id = created.id().unwrap_or(&name).to_string();
    let changes = describe_change_set(clients, update, &id, wait).await;
    let deleted = clients
        .cfn
        .delete_change_set()
        .change_set_name(&id)
        .send()
        .await
        .map_err(aws("DeleteChangeSet"));
    let changes = changes?;
    deleted?;
    Ok(changes)
}

async fn describe_change_set(
    clients: &Clients,
    update: &Update,
    id: &str,
    wait: &Wait,
) -> Result<Vec<ResourceChange>, StackError> {
    let started = Instant::now();
    let mut changes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = clients
            .cfn
            .describe_change_set()
            .change_set_name(id)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(aws("DescribeChangeSet"))?;
        match out.status() {
            Some(ChangeSetStatus::CreateComplete) => {}
            Some(ChangeSetStatus::Failed) => {
                let reason = out.status_reason().unwrap_or("no reason given");
                // What CloudFormation says when the parameters change nothing.
                if reason.contains("didn't contain changes") || reason.contains("No updates") {
                    return Ok(Vec::new());
                }
                return Err(StackError::ChangeSet {
                    stack: update.stack_name.clone(),
                    reason: reason.to_string(),
                });
            }
            status => {
                if started.elapsed() > wait.timeout {
                    return Err(StackError::TimedOut {
                        stack: format!("{} (change set)", update.stack_name),
                        status: status.map(|s| s.as_str().to_string()).unwrap_or_default(),
                        waited: started.elapsed(),
                    });
                }
                tokio::time::sleep(wait.interval).await;
                continue;
            }
        }
        changes.extend(out.changes().iter().filter_map(|c| {
            let r = c.resource_change()?;
            Some(ResourceChange {
                action: r
                    .action()
                    .map(|a| a.as_str().to_string())
                    .unwrap_or_default(),
                logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                resource_type: r.resource_type().unwrap_or_default().to_string(),
                replacement: r.replacement().map(|x| x.as_str().to_string()),
            })
        }));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(changes);
        }
    }
}

/// A stack event, as `describe-stack-events` shows it.
#[derive(Debug, Clone)]
pub struct Event {
    pub time: String,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  {:<28} {:<28} {}",
            self.time, self.logical_id, self.resource_type, self.status
        )?;
        match &self.reason {
            Some(r) if !r.is_empty() => write!(f, ": {r}"),
            _ => Ok(()),
        }
    }
}

/// Pages of events read per poll at most: a poll only needs those since the
/// previous one, and a stack's history can be thousands of events long.
const EVENT_PAGES_PER_POLL: usize = 10;

/// Update the stack and wait for the outcome, passing each new stack event to
/// `on_event` (oldest first). Returns the final status, UPDATE_COMPLETE; a
/// rollback or failure is an error.
pub async fn apply(
    clients: &Clients,
    update: &Update,
    wait: &Wait,
    on_event: &mut (dyn FnMut(&Event) + Send),
) -> Result<String, StackError> {
    // Events already there are history: only later ones are shown.
    let mut seen = clients
        .cfn
        .describe_stack_events()
        .stack_name(&update.stack_name)
        .send()
        .await
        .map_err(aws("DescribeStackEvents"))?
        .stack_events()
        .first()
        .and_then(|e| e.event_id())
        .map(str::to_string);
    clients
        .cfn
        .update_stack()
        .stack_name(&update.stack_name)
        .use_previous_template(true)
        .set_parameters(Some(update.parameters()))
        .set_capabilities(Some(update.capabilities.clone()))
        .send()
        .await
        .map_err(aws("UpdateStack"))?;
    let started = Instant::now();
    loop {
        let (events, newest) = events_since(clients, update, seen.as_deref()).await?;
        for e in &events {
            on_event(e);
        }
        seen = newest.or(seen);
        let out = clients
            .cfn
            .describe_stacks()
            .stack_name(&update.stack_name)
            .send()
            .await
            .map_err(aws("DescribeStacks"))?;
        let stack = out.stacks().first().ok_or_else(|| StackError::Aws {
            operation: "DescribeStacks",
            message: format!("stack {} vanished during the update", update.stack_name),
        })?;
        let status = stack
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if !status.ends_with("_IN_PROGRESS") {
            if status == "UPDATE_COMPLETE" {
                return Ok(status);
            }
            // The first failure explains the rollback better than the stack's
            // own reason ("resources failed to update").
            let reason = events
                .iter()
                .find(|e| e.status.ends_with("_FAILED"))
                .and_then(|e| e.reason.clone())
                .or_else(|| stack.stack_status_reason().map(str::to_string));
            return Err(StackError::Failed {
                stack: update.stack_name.clone(),
                status,
                reason,
            });
        }
        if started.elapsed() > wait.timeout {
            return Err(StackError::TimedOut {
                stack: update.stack_name.clone(),
                status,
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(wait.interval).await;
    }
}

/// The events newer than event id `after` (every event if `None`), oldest
/// first, and the newest id.
async fn events_since(
    clients: &Clients,
    update: &Update,
    after: Option<&str>,
) -> Result<(Vec<Event>, Option<String>), StackError> {
    let mut newer = Vec::new();
    let mut newest = None;
    let mut token: Option<String> = None;
    'pages: for _ in 0..EVENT_PAGES_PER_POLL {
        let out = clients
            .cfn
            .describe_stack_events()
            .stack_name(&update.stack_name)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(aws("DescribeStackEvents"))?;
        // Newest first.
        for e in out.stack_events() {
            let id = e.event_id().unwrap_or_default();
            if after == Some(id) {
                break 'pages;
            }
            if newest.is_none() {
                newest = Some(id.to_string());
            }
            newer.push(Event {
                time: e
                    .timestamp()
                    .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
                    .unwrap_or_default(),
                logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
                resource_type: e.resource_type().unwrap_or_default().to_string(),
                status: e
                    .resource_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                reason: e.resource_status_reason().map(str::to_string),
            });
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    newer.reverse();
    Ok((newer, newest))
}
