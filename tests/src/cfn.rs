//! Stacks in moto's CloudFormation, for the stack, stack_upgrade, ami, ops
//! and rehearsal tests: create one (and show moto's events when it does not
//! complete), read it back.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::{Capability, Parameter};
use aws_sdk_cloudformation::Client;
use serde_json::Value as Json;

/// Where CloudFormation reads a new stack's template from.
pub enum Template<'a> {
    Body(&'a str),
    /// An S3 URL: moto reads it from its own S3.
    Url(&'a str),
}

/// A template's parameters with their defaults (`None` for none), as
/// CloudFormation shows values: strings as they are, numbers as text.
pub fn parameter_defaults(template: &Json) -> BTreeMap<String, Option<String>> {
    template["Parameters"]
        .as_object()
        .expect("the template has Parameters")
        .iter()
        .map(|(k, p)| {
            let default = match &p["Default"] {
                Json::Null => None,
                Json::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            (k.clone(), default)
        })
        .collect()
}

/// Every parameter `template` declares, `given` over the defaults ("" for
/// none). Tests give them all at creation: moto keeps only the parameters
/// given then, and a later update with UsePreviousValue for a defaulted one
/// fails inside moto (KeyError, HTTP 500). Real CloudFormation resolves
/// defaulted parameters too.
pub fn all_parameters(template: &Json, given: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut all: BTreeMap<String, String> = parameter_defaults(template)
        .into_iter()
        .map(|(k, d)| (k, d.unwrap_or_default()))
        .collect();
    for (k, v) in given {
        assert!(all.contains_key(*k), "the template has no parameter {k}");
        all.insert(k.to_string(), v.to_string());
    }
    all
}

/// Create stack `name` with IAM capabilities; panics with the stack's
/// events unless it reaches CREATE_COMPLETE.
pub async fn create(
    cfn: &Client,
    name: &str,
    template: Template<'_>,
    parameters: &BTreeMap<String, String>,
) {
    let request = cfn
        .create_stack()
        .stack_name(name)
        .set_parameters(Some(
            parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(k)
                        .parameter_value(v)
                        .build()
                })
                .collect(),
        ))
        .capabilities(Capability::CapabilityNamedIam);
    let request = match template {
        Template::Body(body) => request.template_body(body),
        Template::Url(url) => request.template_url(url),
    };
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("create stack {name}: {e:?}"));
    let status = describe(cfn, name).await.status;
    assert_eq!(
        status,
        "CREATE_COMPLETE",
        "moto did not create stack {name}:\n{}",
        events(cfn, name).await.join("\n")
    );
}

/// A stand-in for a lava-worker stack: only the parameters `ami list`,
/// `status` and `pin` recognise a worker stack by. moto creates the queue.
pub const WORKER_STACK: &str = r#"{
  "Parameters": {
    "realm": {"Type": "String"},
    "worker": {"Type": "String"},
    "amiId": {"Type": "String"}
  },
  "Resources": {"queue": {"Type": "AWS::SQS::Queue"}}
}"#;

/// A stand-in for a realm stack: `realm` and `lambdaVersion`, no `worker`,
/// and where its functions take their zips from.
pub const REALM_STACK: &str = r#"{
  "Parameters": {
    "realm": {"Type": "String"},
    "lambdaVersion": {"Type": "String"},
    "lambdaArchitecture": {"Type": "String"},
    "s3CodeBucket": {"Type": "String"},
    "s3CodePrefix": {"Type": "String"}
  },
  "Resources": {"queue": {"Type": "AWS::SQS::Queue"}}
}"#;

/// `create` from a template body, with `given` and "" for every other
/// parameter it declares.
pub async fn create_from_body(cfn: &Client, name: &str, body: &str, given: &[(&str, &str)]) {
    let template: Json = serde_json::from_str(body).expect("the template is JSON");
    let parameters = all_parameters(&template, given);
    create(cfn, name, Template::Body(body), &parameters).await;
}

/// What a stack shows: its status, parameters and outputs (by key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub status: String,
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
}

pub async fn describe(cfn: &Client, name: &str) -> Described {
    let out = cfn.describe_stacks().stack_name(name).send().await.unwrap();
    let stack = &out.stacks()[0];
    Described {
        status: stack.stack_status().unwrap().as_str().to_string(),
        parameters: stack
            .parameters()
            .iter()
            .map(|p| {
                (
                    p.parameter_key().unwrap().to_string(),
                    p.parameter_value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        outputs: stack
            .outputs()
            .iter()
            .map(|o| {
                (
                    o.output_key().unwrap().to_string(),
                    o.output_value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
    }
}

/// A stack's events, one line each: resource, type, status and reason.
pub async fn events(cfn: &Client, name: &str) -> Vec<String> {
    let out = cfn
        .describe_stack_events()
        .stack_name(name)
        .send()
        .await
        .unwrap();
    out.stack_events()
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}",
                e.logical_resource_id().unwrap_or_default(),
                e.resource_type().unwrap_or_default(),
                e.resource_status().map(|s| s.as_str()).unwrap_or_default(),
                e.resource_status_reason().unwrap_or_default()
            )
        })
        .collect()
}

/// The template a stack runs now.
pub async fn template(cfn: &Client, name: &str) -> Json {
    let out = cfn.get_template().stack_name(name).send().await.unwrap();
    serde_json::from_str(out.template_body().unwrap()).unwrap()
}
