//! The lava CloudFormation stacks: selecting the version of a realm's Lambda
//! functions through its `lambdaVersion` parameter, as the seed prescribes
//! ("Lambda Functions"), either with the stack's own template or moving the
//! stack to this release's realm template in the same update; and moving a
//! worker stack to this release's worker template. Every other parameter
//! keeps its value.
//!
//! Three steps, so that nothing changes before every input has been checked:
//!
//! 1. [`prepare`] and [`prepare_with_template`] (realm), [`prepare_worker`]:
//!    the account guard (STS), the stack (found by its `realm` and `worker`
//!    parameters, or named), its parameters and template, a HEAD of each of
//!    the four zips of the version for the stack's `lambdaArchitecture` (realm),
//!    and the new template (when the stack moves to one), all in the code area
//!    the realm stack names (`s3CodeBucket`/`s3CodePrefix`). The [`Update`]
//!    they return is the whole plan: template and exact parameter list.
//!    Read-only.
//! 2. [`preview`] (dry run): a change set of that plan, described, then
//!    deleted; the stack is never touched.
//! 3. [`apply`]: UpdateStack with that plan, then the stack events as they
//!    come until the update completes or rolls back.

mod template;

use std::fmt;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::primitives::DateTimeFormat;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, Parameter, Stack, TemplateStage};
use lava_config::{check_account, AccountError, Environment};
use lava_layout::{cfn_key, lambda_key, Arch, CfnTemplate, LambdaFunction, Version};
use lava_store::{Location, Store, Tuning};

use template::Template;
pub use template::NATIVE_RUNTIME;

/// The template parameters this crate reads or sets.
pub const LAMBDA_VERSION: &str = "lambdaVersion";
pub const VERSION: &str = "Version";
const REALM: &str = "realm";
const WORKER: &str = "worker";
const CODE_BUCKET: &str = "s3CodeBucket";
const CODE_PREFIX: &str = "s3CodePrefix";
const ARCHITECTURE: &str = "lambdaArchitecture";

/// Why the stack was not updated, or the update did not succeed.
/// What the account id is for, when the environment has none.
const ACCOUNT_NEEDED: &str = "it is required to change a stack";

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
        // Boxed: every Result of this crate carries room for its largest error.
        version: Box<Version>,
        code_area: String,
        missing: Vec<String>,
    },
    #[error("{0}; nothing was changed")]
    Account(#[from] AccountError),
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
        match self {
            StackError::Input(_) | StackError::MissingZips { .. } => true,
            StackError::Account(e) => e.is_input(),
            _ => false,
        }
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

/// The clients: CloudFormation for the stack, S3 for the zips and templates,
/// STS for the account guard.
#[derive(Clone)]
pub struct Clients {
    pub cfn: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig) -> Clients {
        Clients {
            cfn: aws_sdk_cloudformation::Client::new(config),
            s3: lava_store::s3_client(config),
            sts: aws_sdk_sts::Client::new(config),
        }
    }
}

/// What to update: a realm stack.
pub struct Request<'a> {
    pub environment: &'a Environment,
    pub realm: &'a str,
    /// The stack's name; `None` finds the one stack whose `realm` parameter
    /// is `realm` (upstream names no convention, so names vary).
    pub stack: Option<&'a str>,
    pub version: Version,
}

/// What to update: a worker stack, moved to the worker template of `version`.
pub struct WorkerRequest<'a> {
    pub environment: &'a Environment,
    pub realm: &'a str,
    pub worker: &'a str,
    /// The worker stack's name; `None` finds the one stack whose `realm` and
    /// `worker` parameters are `realm` and `worker`.
    pub stack: Option<&'a str>,
    /// The realm stack's name (its parameters name the code area); `None`
    /// finds it as [`Request`] does.
    pub realm_stack: Option<&'a str>,
    pub version: Version,
}

/// What an update passes for one parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// UsePreviousValue: the stack's current value.
    Previous,
    Set(String),
}

/// The move of a stack to a template of this release.
#[derive(Debug, Clone)]
pub struct TemplateMove {
    /// Where deploy put it: `s3://<bucket>/<prefix>/_dist_/cfn/v<VERSION>/...`.
    pub source: String,
    /// The same object as the update's TemplateURL:
    /// `https://s3.<region>.amazonaws.com/<bucket>/<key>`.
    pub url: String,
    /// Parameters of the new template that the stack lacks: their defaults apply.
    pub new_parameters: Vec<(String, String)>,
    /// Parameters of the stack that the new template lacks, with their values.
    pub dropped_parameters: Vec<(String, String)>,
    /// The stack runs this very template already.
    unchanged: bool,
}

/// A checked update, the whole plan: [`preview`] and [`apply`] pass exactly
/// this template and these parameters.
#[derive(Debug, Clone)]
pub struct Update {
    pub account: String,
    pub stack_name: String,
    pub status: String,
    /// The parameter that selects the version: lambdaVersion (realm) or
    /// Version (worker).
    pub selector: &'static str,
    /// Its current value ("" for a realm without Lambda functions).
    pub current: String,
    pub version: Version,
    /// The Lambda runtimes of the stack's current template other than
    /// provided.al2023 (only with a template move, which replaces them).
    pub foreign_runtimes: Vec<String>,
    /// The capabilities the update acknowledges.
    capabilities: Vec<Capability>,
    /// `s3://<s3CodeBucket>/<s3CodePrefix>/`.
    pub code_area: String,
    /// The four zips (realm), checked present.
    pub zips: Vec<String>,
    /// `None` keeps the stack's template.
    pub template: Option<TemplateMove>,
    /// Every parameter of the stack with its current value, in stack order.
    pub stack_parameters: Vec<(String, String)>,
    /// What the update passes, in order; a parameter not listed takes its
    /// template default.
    pub parameters: Vec<(String, Value)>,
}

impl Update {
    fn stack_value(&self, key: &str) -> Option<&str> {
        self.stack_parameters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// True when the stack already runs this template and these values:
    /// CloudFormation would refuse an update without changes.
    pub fn is_noop(&self) -> bool {
        self.template.as_ref().is_none_or(|t| t.unchanged)
            && self.parameters.iter().all(|(key, value)| match value {
                Value::Previous => true,
                Value::Set(v) => self.stack_value(key) == Some(v.as_str()),
            })
    }

    fn cfn_parameters(&self) -> Vec<Parameter> {
        self.parameters
            .iter()
            .map(|(key, value)| {
                let p = Parameter::builder().parameter_key(key);
                match value {
                    Value::Set(v) => p.parameter_value(v).build(),
                    Value::Previous => p.use_previous_value(true).build(),
                }
            })
            .collect()
    }
}

/// The plan, as both the dry run and the real run print it.
impl fmt::Display for Update {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: &str| {
            if v.is_empty() {
                "\"\"".to_string()
            } else {
                v.to_string()
            }
        };
        writeln!(
            f,
            "stack {} ({}, account {})",
            self.stack_name, self.status, self.account
        )?;
        for (key, value) in &self.parameters {
            if let Value::Set(new) = value {
                let old = self.stack_value(key).map_or("(none)".into(), shown);
                writeln!(f, "  {key} {old} -> {new}")?;
            }
        }
        match &self.template {
            None => writeln!(f, "  template: the stack's own")?,
            Some(t) => {
                writeln!(f, "  template: {}", t.source)?;
                if !self.foreign_runtimes.is_empty() {
                    writeln!(
                        f,
                        "  Lambda runtime {} -> {NATIVE_RUNTIME}",
                        self.foreign_runtimes.join(", ")
                    )?;
                }
                for (key, default) in &t.new_parameters {
                    writeln!(f, "  new parameter {key} (default {})", shown(default))?;
                }
                for (key, was) in &t.dropped_parameters {
                    writeln!(f, "  dropped parameter {key} (was {})", shown(was))?;
                }
            }
        }
        let kept = self
            .parameters
            .iter()
            .filter(|(_, v)| *v == Value::Previous)
            .count();
        writeln!(f, "  {kept} other parameters keep their values")?;
        for zip in &self.zips {
            writeln!(f, "  found {zip}")?;
        }
        Ok(())
    }
}

/// The realm stack's `lambdaVersion` set to the request's version, with the
/// stack's own template, every other parameter kept. Refused when the
/// template runs the functions on a runtime other than provided.al2023
/// (upstream's Python): the native zips cannot run there. Read-only.
pub async fn prepare(clients: &Clients, request: &Request<'_>) -> Result<Update, StackError> {
    prepare_realm(clients, request, false).await
}

/// As [`prepare`], and the same update moves the stack to the realm template
/// of the version (from the code area the stack names), with `Version` set
/// too: the way off upstream's Python template. Read-only.
pub async fn prepare_with_template(
    clients: &Clients,
    request: &Request<'_>,
) -> Result<Update, StackError> {
    prepare_realm(clients, request, true).await
}

async fn prepare_realm(
    clients: &Clients,
    request: &Request<'_>,
    move_template: bool,
) -> Result<Update, StackError> {
    let account = check_account(&clients.sts, request.environment, ACCOUNT_NEEDED).await?;
    let wanted = Wanted::Realm {
        realm: request.realm,
    };
    let stack = find_stack(clients, &wanted, request.stack, "--stack").await?;
    let stack_name = stack.stack_name().unwrap_or_default().to_string();
    let parameters = parameters_of(&stack);
    let get = |key: &str| value_of(&parameters, key);
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
    let status = stable_status(&stack)?;
    let version = &request.version;

    let current_template = current_template(clients, &stack_name).await?;
    let mut foreign_runtimes: Vec<String> = Vec::new();
    for (_, runtime) in current_template.lambda_runtimes(&parameters) {
        if runtime != NATIVE_RUNTIME && !foreign_runtimes.contains(&runtime) {
            foreign_runtimes.push(runtime);
        }
    }
    if !foreign_runtimes.is_empty() && !move_template {
        let upstream = if foreign_runtimes.iter().all(|r| r.starts_with("python")) {
            " (upstream's template)"
        } else {
            ""
        };
        let named = request
            .stack
            .map(|s| format!(" --stack {s}"))
            .unwrap_or_default();
        return Err(StackError::Input(format!(
            "stack {stack_name} runs its Lambda functions on {}{upstream}; the zips of \
             {version} are native ({NATIVE_RUNTIME}) and cannot run there. Move the stack to \
             this release's template and select the version in one update: cargo xtask stack \
             realm -e {} --realm {}{named} --lambda-version {version} --template (preview with -n)",
            foreign_runtimes.join(", "),
            request.environment.name,
            request.realm,
        )));
    }

    let store = code_area(&stack_name, bucket, prefix, clients)?;
    let mut zips = Vec::new();
    let mut missing = Vec::new();
    for function in LambdaFunction::ALL {
        let key = lambda_key(function, version, arch);
        match store.head(&key).await? {
            Some(_) => zips.push(store.url(&key)),
            None => missing.push(store.url(&key)),
        }
    }
    if !missing.is_empty() {
        return Err(StackError::MissingZips {
            version: Box::new(version.clone()),
            code_area: store.location().to_string(),
            missing,
        });
    }

    let (template, passed) = if move_template {
        let target = Target {
            store: &store,
            template: CfnTemplate::Realm,
            version,
            environment: request.environment,
        };
        let (template, passed) = move_to(
            clients,
            &target,
            &stack_name,
            &parameters,
            &current_template,
            &[VERSION, LAMBDA_VERSION],
        )
        .await?;
        (Some(template), passed)
    } else {
        let passed = parameters
            .iter()
            .map(|(key, _)| {
                let value = if key == LAMBDA_VERSION {
                    Value::Set(version.to_string())
                } else {
                    Value::Previous
                };
                (key.clone(), value)
            })
            .collect();
        (None, passed)
    };
    Ok(Update {
        account,
        stack_name,
        status,
        selector: LAMBDA_VERSION,
        current: current.to_string(),
        version: version.clone(),
        foreign_runtimes,
        capabilities: capabilities(&stack),
        code_area: store.location().to_string(),
        zips,
        template,
        stack_parameters: parameters,
        parameters: passed,
    })
}

/// The worker stack moved to the worker template of the request's version
/// (from the code area the realm stack names), `Version` set, every other
/// parameter kept. Read-only.
pub async fn prepare_worker(
    clients: &Clients,
    request: &WorkerRequest<'_>,
) -> Result<Update, StackError> {
    let account = check_account(&clients.sts, request.environment, ACCOUNT_NEEDED).await?;
    let realm = Wanted::Realm {
        realm: request.realm,
    };
    let realm_stack = find_stack(clients, &realm, request.realm_stack, "--realm-stack").await?;
    let realm_name = realm_stack.stack_name().unwrap_or_default();
    let (Some(bucket), Some(prefix)) = (
        parameter(&realm_stack, CODE_BUCKET),
        parameter(&realm_stack, CODE_PREFIX),
    ) else {
        return Err(StackError::Input(format!(
            "realm stack {realm_name} has no {CODE_BUCKET} and {CODE_PREFIX} parameters"
        )));
    };
    let store = code_area(realm_name, bucket, prefix, clients)?;

    let wanted = Wanted::Worker {
        realm: request.realm,
        worker: request.worker,
    };
    let stack = find_stack(clients, &wanted, request.stack, "--stack").await?;
    let stack_name = stack.stack_name().unwrap_or_default().to_string();
    let parameters = parameters_of(&stack);
    let status = stable_status(&stack)?;
    let current_template = current_template(clients, &stack_name).await?;
    let target = Target {
        store: &store,
        template: CfnTemplate::Worker,
        version: &request.version,
        environment: request.environment,
    };
    let (template, passed) = move_to(
        clients,
        &target,
        &stack_name,
        &parameters,
        &current_template,
        &[VERSION],
    )
    .await?;
    Ok(Update {
        account,
        current: value_of(&parameters, VERSION)
            .unwrap_or_default()
            .to_string(),
        stack_name,
        status,
        selector: VERSION,
        version: request.version.clone(),
        foreign_runtimes: Vec::new(),
        capabilities: capabilities(&stack),
        code_area: store.location().to_string(),
        zips: Vec::new(),
        template: Some(template),
        stack_parameters: parameters,
        parameters: passed,
    })
}

fn parameters_of(stack: &Stack) -> Vec<(String, String)> {
    stack
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn value_of<'p>(parameters: &'p [(String, String)], key: &str) -> Option<&'p str> {
    parameters
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The stack's status, if an update can start from it.
fn stable_status(stack: &Stack) -> Result<String, StackError> {
    let status = stack
        .stack_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    // ROLLBACK_COMPLETE is a failed creation: it can only be deleted.
    if status.ends_with("_IN_PROGRESS") || status == "ROLLBACK_COMPLETE" {
        return Err(StackError::Busy {
            stack: stack.stack_name().unwrap_or_default().to_string(),
            status,
        });
    }
    Ok(status)
}

/// Our templates name IAM resources; whatever else the stack was created
/// with stays acknowledged.
fn capabilities(stack: &Stack) -> Vec<Capability> {
    let mut capabilities = stack.capabilities().to_vec();
    if !capabilities.contains(&Capability::CapabilityNamedIam) {
        capabilities.push(Capability::CapabilityNamedIam);
    }
    capabilities
}

/// The code area a realm stack's `s3CodeBucket`/`s3CodePrefix` name.
fn code_area(
    stack_name: &str,
    bucket: &str,
    prefix: &str,
    clients: &Clients,
) -> Result<Store, StackError> {
    let location = Location::parse(&format!("s3://{bucket}/{prefix}")).map_err(|e| {
        StackError::Input(format!(
            "stack {stack_name}: the code area its parameters name is not usable: {e}"
        ))
    })?;
    Ok(Store::new(location, Some(&clients.s3), Tuning::default()))
}

/// The template the stack was created or last updated with.
async fn current_template(clients: &Clients, stack_name: &str) -> Result<Template, StackError> {
    let out = clients
        .cfn
        .get_template()
        .stack_name(stack_name)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(aws("GetTemplate"))?;
    Template::parse(out.template_body().unwrap_or_default()).map_err(|e| StackError::Aws {
        operation: "GetTemplate",
        message: format!("the template of stack {stack_name} cannot be read: {e}"),
    })
}

/// A template of this release in a code area.
struct Target<'a> {
    store: &'a Store,
    template: CfnTemplate,
    version: &'a Version,
    environment: &'a Environment,
}

/// The move of a stack to `target`: the template checked present and read,
/// and the parameters the update passes (`set` to the version, the others
/// kept where the new template has them).
async fn move_to(
    clients: &Clients,
    target: &Target<'_>,
    stack_name: &str,
    parameters: &[(String, String)],
    current: &Template,
    set: &[&str],
) -> Result<(TemplateMove, Vec<(String, Value)>), StackError> {
    let version = target.version;
    let key = cfn_key(target.template, version);
    let source = target.store.url(&key);
    let missing = || {
        StackError::Input(format!(
            "the {} template of {version} is not in the code area: {source} is missing \
             (deploy it first: cargo xtask deploy -e {} cfn -v {version})",
            target.template.stem(),
            target.environment.name
        ))
    };
    if target.store.head(&key).await?.is_none() {
        return Err(missing());
    }
    let body = target.store.get(&key).await?.ok_or_else(missing)?;
    let new = std::str::from_utf8(&body)
        .map_err(|e| e.to_string())
        .and_then(Template::parse)
        .map_err(|e| StackError::Input(format!("{source} is not a template: {e}")))?;

    let mut passed = Vec::new();
    let mut new_parameters = Vec::new();
    let mut no_default = Vec::new();
    for (key, default) in new.parameters() {
        if set.contains(&key.as_str()) {
            passed.push((key, Value::Set(version.to_string())));
        } else if value_of(parameters, &key).is_some() {
            passed.push((key, Value::Previous));
        } else {
            match default {
                Some(default) => new_parameters.push((key, default)),
                None => no_default.push(key),
            }
        }
    }
    // CloudFormation would fail the update for want of a value.
    if !no_default.is_empty() {
        return Err(StackError::Input(format!(
            "{source} has parameters without a default that stack {stack_name} lacks: {}; \
             nothing was changed",
            no_default.join(", ")
        )));
    }
    let dropped_parameters = parameters
        .iter()
        .filter(|(key, _)| !passed.iter().any(|(k, _)| k == key))
        .cloned()
        .collect();
    let url = template_url(clients, target.store, &key)?;
    Ok((
        TemplateMove {
            source,
            url,
            new_parameters,
            dropped_parameters,
            unchanged: *current == new,
        },
        passed,
    ))
}

/// The path-style HTTPS URL of `key` in the code area: TemplateURL takes no
/// s3:// URL, and our templates exceed TemplateBody's 51,200 bytes.
fn template_url(clients: &Clients, store: &Store, key: &str) -> Result<String, StackError> {
    let Some(region) = clients.cfn.config().region() else {
        return Err(StackError::Input(
            "no AWS region configured (AWS_REGION or the profile's region): the template's \
             URL needs one"
                .into(),
        ));
    };
    let Location::S3 { bucket, prefix } = store.location() else {
        unreachable!("a code area named by a stack is in S3");
    };
    // Unreserved characters and `/` stand for themselves in the path.
    let path: String = format!("{prefix}{key}")
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Ok(format!("https://s3.{region}.amazonaws.com/{bucket}/{path}"))
}

fn parameter<'s>(stack: &'s Stack, key: &str) -> Option<&'s str> {
    stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .and_then(|p| p.parameter_value())
}

/// The stack a command is after.
enum Wanted<'a> {
    Realm { realm: &'a str },
    Worker { realm: &'a str, worker: &'a str },
}

impl Wanted<'_> {
    fn matches(&self, stack: &Stack) -> bool {
        let realm_is = |realm: &str| parameter(stack, REALM) == Some(realm);
        match *self {
            Wanted::Realm { realm } => {
                realm_is(realm)
                    && parameter(stack, LAMBDA_VERSION).is_some()
                    && parameter(stack, CODE_BUCKET).is_some()
            }
            Wanted::Worker { realm, worker } => {
                realm_is(realm) && parameter(stack, WORKER) == Some(worker)
            }
        }
    }

    /// How a stack is recognised, for the error that finds none.
    fn recognised_by(&self) -> String {
        match self {
            Wanted::Realm { realm } => {
                format!("a stack with parameters realm={realm}, {LAMBDA_VERSION} and {CODE_BUCKET}")
            }
            Wanted::Worker { realm, worker } => {
                format!("a stack with parameters realm={realm} and worker={worker}")
            }
        }
    }

    /// What the named `stack` is instead.
    fn mismatch(&self, stack: &Stack) -> String {
        match self {
            Wanted::Realm { .. } => format!("its realm parameter is {:?}", parameter(stack, REALM)),
            Wanted::Worker { .. } => format!(
                "its realm and worker parameters are {:?} and {:?}",
                parameter(stack, REALM),
                parameter(stack, WORKER)
            ),
        }
    }
}

impl fmt::Display for Wanted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wanted::Realm { realm } => write!(f, "realm stack of realm {realm:?}"),
            Wanted::Worker { realm, worker } => {
                write!(f, "worker stack of realm {realm:?}, worker {worker:?}")
            }
        }
    }
}

/// The named stack (which must be the one wanted), or the one stack that
/// is; `flag` is the option that names it.
async fn find_stack(
    clients: &Clients,
    wanted: &Wanted<'_>,
    name: Option<&str>,
    flag: &str,
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
        if !wanted.matches(&stack) {
            return Err(StackError::Input(format!(
                "stack {name:?} is not the {wanted} ({})",
                wanted.mismatch(&stack)
            )));
        }
        return Ok(stack);
    }
    let mut found = Vec::new();
    let mut pages = clients.cfn.describe_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws("DescribeStacks"))?;
        found.extend(page.stacks().iter().filter(|s| wanted.matches(s)).cloned());
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(StackError::Input(format!(
            "no {wanted} in this account and region ({}); name it with {flag}",
            wanted.recognised_by()
        ))),
        _ => Err(StackError::Input(format!(
            "several stacks are the {wanted}: {}; choose one with {flag}",
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
        "lava-update-{}-{}",
        update
            .version
            .to_string()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
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
        .set_use_previous_template(update.template.is_none().then_some(true))
        .set_template_url(update.template.as_ref().map(|t| t.url.clone()))
        .set_parameters(Some(update.cfn_parameters()))
        .set_capabilities(Some(update.capabilities.clone()))
        .description(format!(
            "dry run of cargo xtask stack: {} {} -> {}{}",
            update.selector,
            update.current,
            update.version,
            if update.template.is_some() {
                " with the release's template"
            } else {
                ""
            }
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
        .set_use_previous_template(update.template.is_none().then_some(true))
        .set_template_url(update.template.as_ref().map(|t| t.url.clone()))
        .set_parameters(Some(update.cfn_parameters()))
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
