//! The rendered templates against upstream's, fact by fact.
//!
//! `fixtures/upstream-cfn-facts.json` holds what we read from upstream's
//! `cfn/lava-{common,realm,worker}.cfn.json`: each parameter's type, default,
//! allowed values and constraints (numbers as text, as CloudFormation takes
//! them; the Version parameter's default is the release's), each resource's
//! logical ID, type and condition, each condition, each output's export
//! name, and the IAM actions of each policy. The same facts are taken from
//! what `dist` renders from `cfn/`, and every fact that differs must be
//! listed, with its reason, in docs/compatibility.md's `cfn-differences`
//! block; a listed fact that no longer differs must leave the list.

use std::collections::{BTreeMap, BTreeSet};

use lava_tests::workspace_root;
use serde_json::{json, Map, Value};

const TEMPLATES: [&str; 3] = ["common", "realm", "worker"];
const CONSTRAINTS: [&str; 8] = [
    "Type",
    "Default",
    "AllowedValues",
    "AllowedPattern",
    "MinValue",
    "MaxValue",
    "MinLength",
    "MaxLength",
];

/// Numbers as text: CloudFormation reads `5` and `"5"` alike.
fn normal(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.to_string()),
        Value::Array(items) => Value::Array(items.iter().map(normal).collect()),
        other => other.clone(),
    }
}

/// The actions of a policy document; those of a statement under `Fn::If`
/// read `<action> if <condition>`.
fn actions(document: &Value) -> Value {
    let mut all = BTreeSet::new();
    for statement in document["Statement"].as_array().into_iter().flatten() {
        let (statement, suffix) = match statement.get("Fn::If") {
            Some(branches) => (
                &branches[1],
                format!(" if {}", branches[0].as_str().unwrap_or_default()),
            ),
            None => (statement, String::new()),
        };
        let named = match &statement["Action"] {
            Value::String(a) => vec![a.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        all.extend(named.into_iter().map(|a| format!("{a}{suffix}")));
    }
    json!(all)
}

/// The facts of one template, keyed `<kind> <name>`.
fn facts(template: &Value) -> BTreeMap<String, Value> {
    let mut facts = BTreeMap::new();
    let empty = Map::new();
    let section = |name: &str| template[name].as_object().unwrap_or(&empty).clone();
    for (name, p) in section("Parameters") {
        let mut c = Map::new();
        for key in CONSTRAINTS {
            let release_version = name == "Version" && key == "Default";
            if let Some(v) = p.get(key).filter(|_| !release_version) {
                c.insert(key.to_string(), normal(v));
            }
        }
        facts.insert(format!("parameter {name}"), Value::Object(c));
    }
    for (name, r) in section("Resources") {
        let kind = r["Type"].as_str().unwrap_or_default();
        facts.insert(
            format!("resource {name}"),
            json!({"Type": kind, "Condition": r.get("Condition")}),
        );
        let props = &r["Properties"];
        if kind == "AWS::IAM::ManagedPolicy" || kind == "AWS::IAM::Policy" {
            facts.insert(format!("policy {name}"), actions(&props["PolicyDocument"]));
        }
        if kind == "AWS::IAM::Role" {
            for policy in props["Policies"].as_array().into_iter().flatten() {
                let policy_name = policy["PolicyName"].as_str().unwrap_or_default();
                facts.insert(
                    format!("policy {name}/{policy_name}"),
                    actions(&policy["PolicyDocument"]),
                );
            }
        }
    }
    for (name, c) in section("Conditions") {
        facts.insert(format!("condition {name}"), c);
    }
    for (name, o) in section("Outputs") {
        facts.insert(
            format!("output {name}"),
            json!({"Export": o.get("Export").map(|e| e["Name"].clone())}),
        );
    }
    facts
}

/// `<template> <kind> <name>` lines of docs/compatibility.md's
/// `cfn-differences` block.
fn listed_differences() -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace_root().join("docs/compatibility.md")).unwrap();
    let start = text
        .find("```cfn-differences\n")
        .expect("docs/compatibility.md has a ```cfn-differences block");
    let block = &text[start + "```cfn-differences\n".len()..];
    let block = &block[..block.find("```").expect("the block is closed")];
    block
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn rendered(template: &str) -> Value {
    let name = format!("lava-{template}.cfn.yaml");
    let source = std::fs::read_to_string(workspace_root().join("cfn").join(&name)).unwrap();
    let out = lava_templates::render(&source, &name, "8.3.0").unwrap();
    serde_json::from_str(&out.json).unwrap()
}

#[test]
fn templates_differ_from_upstreams_only_where_documented() {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("tests/fixtures/upstream-cfn-facts.json"))
            .unwrap(),
    )
    .unwrap();
    let listed = listed_differences();
    let mut differing = BTreeSet::new();
    let mut unlisted = Vec::new();
    for template in TEMPLATES {
        let upstream: BTreeMap<String, Value> = fixture[template]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let ours = facts(&rendered(template));
        let keys: BTreeSet<&String> = upstream.keys().chain(ours.keys()).collect();
        for key in keys {
            let (up, here) = (upstream.get(key), ours.get(key));
            if up != here {
                let id = format!("{template} {key}");
                if !listed.contains(&id) {
                    unlisted.push(format!(
                        "{id}\n    upstream: {}\n    ours:     {}",
                        up.map_or("(none)".into(), Value::to_string),
                        here.map_or("(none)".into(), Value::to_string)
                    ));
                }
                differing.insert(id);
            }
        }
    }
    let stale: Vec<&String> = listed.difference(&differing).collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "differences from upstream's templates not in docs/compatibility.md:\n{}\n\
         listed there but no longer different: {stale:?}",
        unlisted.join("\n")
    );
}

/// The facts are read as upstream's deploy pipeline would see them: a changed
/// default is a difference (what the closing note of issue 13 shows).
#[test]
fn a_changed_default_is_a_difference() {
    let mut template = rendered("realm");
    let before = facts(&template)["parameter lambdaMemory"].clone();
    template["Parameters"]["lambdaMemory"]["Default"] = json!(128);
    let after = facts(&template)["parameter lambdaMemory"].clone();
    assert_ne!(before, after);
    assert_eq!(after["Default"], "128");
}
