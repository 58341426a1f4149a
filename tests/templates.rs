//! The rendered templates against upstream's, fact by fact.
//!
//! `fixtures/upstream-cfn-facts.json` holds what we read from upstream's
//! `cfn/lava-{common,realm,worker}.cfn.json`: each parameter's type, default,
//! allowed values and constraints (the Version parameter's default is the
//! release's), each resource's logical ID, type and condition, each of its
//! properties and other attributes (`DeletionPolicy`, `DependsOn` ...), each
//! condition, each output's export name, and each IAM policy as the
//! resources each of its actions is allowed on. The same facts are taken
//! from what `dist` renders from `cfn/`, and every fact that differs must be
//! listed, with its reason, in docs/compatibility.md's `cfn-differences`
//! block; a listed fact that no longer differs must leave the list.
//!
//! Values are compared as CloudFormation reads them: numbers and booleans as
//! text (`5`, `"5"` and `"5.0"` alike), and `${AWS::Partition}` as upstream's
//! `aws` (the only partition its templates run in), so `Fn::Sub` of a string
//! left without variables is that string. A property is one fact, except
//! `LaunchTemplateData`, which holds a whole instance configuration: each of
//! its keys is one. Policy documents are compared as policies (statement
//! IDs and grouping aside), so they are not property facts too.
//!
//! `write_upstream_facts` (ignored) writes the fixture from an upstream
//! checkout named by `LAVA_UPSTREAM`, e.g. from a bare mirror:
//! `git --git-dir=<mirror> archive HEAD cfn | tar -x -C <dir>`, then
//! `LAVA_UPSTREAM=<dir> cargo test -p lava-tests --test templates -- --ignored`.

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

const FIXTURE: &str = "tests/fixtures/upstream-cfn-facts.json";

/// A value as CloudFormation reads it (see the module comment).
fn normal(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(integral(&n.to_string())),
        Value::Bool(b) => json!(b.to_string()),
        Value::String(s) => json!(integral(s)),
        Value::Array(items) => Value::Array(items.iter().map(normal).collect()),
        Value::Object(map) => match map.get("Fn::Sub") {
            Some(Value::String(s)) if map.len() == 1 => {
                let s = s.replace("${AWS::Partition}", "aws");
                if s.contains("${") {
                    json!({"Fn::Sub": s})
                } else {
                    json!(s)
                }
            }
            _ => Value::Object(map.iter().map(|(k, v)| (k.clone(), normal(v))).collect()),
        },
        Value::Null => Value::Null,
    }
}

/// `"5.0"` as `"5"`: a number's text without a zero fraction.
fn integral(text: &str) -> String {
    match text.split_once('.') {
        Some((whole, fraction))
            if !whole.is_empty()
                && whole
                    .trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_digit())
                && !fraction.is_empty()
                && fraction.chars().all(|c| c == '0') =>
        {
            whole.to_string()
        }
        _ => text.to_string(),
    }
}

/// Properties compared key by key.
const NESTED: [&str; 1] = ["LaunchTemplateData"];

/// One value or a list of them, as a list.
fn listed(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    }
}

/// A policy document as what each action is allowed on: its resources, each
/// with the statement's condition (or effect, if not Allow) when it has one.
/// The actions of a statement under `Fn::If` read `<action> if <condition>`.
fn policy(document: &Value) -> Value {
    let mut all: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for statement in document["Statement"].as_array().into_iter().flatten() {
        let (statement, suffix) = match statement.get("Fn::If") {
            Some(branches) => (
                &branches[1],
                format!(" if {}", branches[0].as_str().unwrap_or_default()),
            ),
            None => (statement, String::new()),
        };
        let mut terms = statement.as_object().cloned().unwrap_or_default();
        for key in ["Sid", "Action", "Resource"] {
            terms.remove(key);
        }
        if terms.get("Effect") == Some(&json!("Allow")) {
            terms.remove("Effect");
        }
        let resources: Vec<Value> = listed(&statement["Resource"])
            .into_iter()
            .map(|r| {
                if terms.is_empty() {
                    return normal(r);
                }
                let mut entry = terms.clone();
                entry.insert("Resource".into(), r.clone());
                normal(&Value::Object(entry))
            })
            .collect();
        for action in listed(&statement["Action"])
            .into_iter()
            .filter_map(Value::as_str)
        {
            all.entry(format!("{action}{suffix}"))
                .or_default()
                .extend(resources.iter().cloned());
        }
    }
    for resources in all.values_mut() {
        resources.sort_by_key(Value::to_string);
        resources.dedup();
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
        for (attribute, value) in r.as_object().into_iter().flatten() {
            if !["Type", "Condition", "Metadata", "Properties"].contains(&attribute.as_str()) {
                facts.insert(format!("resource {name} {attribute}"), normal(value));
            }
        }
        let props = &r["Properties"];
        let is_policy = kind == "AWS::IAM::ManagedPolicy" || kind == "AWS::IAM::Policy";
        for (property, value) in props.as_object().into_iter().flatten() {
            // Compared as policies below.
            if (is_policy && property == "PolicyDocument")
                || (kind == "AWS::IAM::Role" && property == "Policies")
            {
                continue;
            }
            match value
                .as_object()
                .filter(|_| NESTED.contains(&property.as_str()))
            {
                Some(fields) => {
                    for (field, v) in fields {
                        facts.insert(
                            format!("resource {name} property {property}.{field}"),
                            normal(v),
                        );
                    }
                }
                None => {
                    facts.insert(
                        format!("resource {name} property {property}"),
                        normal(value),
                    );
                }
            }
        }
        if is_policy {
            facts.insert(format!("policy {name}"), policy(&props["PolicyDocument"]));
        }
        if kind == "AWS::IAM::Role" {
            for p in props["Policies"].as_array().into_iter().flatten() {
                let policy_name = p["PolicyName"].as_str().unwrap_or_default();
                facts.insert(
                    format!("policy {name}/{policy_name}"),
                    policy(&p["PolicyDocument"]),
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

/// `<template> <fact>` lines of docs/compatibility.md's `cfn-differences`
/// block (`#` starts a comment).
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
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(workspace_root().join(FIXTURE)).unwrap())
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

/// Properties and policy resources are facts: what once slipped through
/// unlisted (IMDSv2 forced on workers, a resource dropped from a worker
/// policy statement) is a difference.
#[test]
fn a_changed_property_or_policy_resource_is_a_difference() {
    let mut worker = rendered("worker");
    let key = "resource launchtemplateLavaWorker property LaunchTemplateData.MetadataOptions";
    assert!(!facts(&worker).contains_key(key));
    worker["Resources"]["launchtemplateLavaWorker"]["Properties"]["LaunchTemplateData"]
        ["MetadataOptions"] = json!({"HttpTokens": "required", "HttpPutResponseHopLimit": 2});
    assert_eq!(facts(&worker)[key]["HttpPutResponseHopLimit"], "2");

    let mut realm = rendered("realm");
    let before = facts(&realm)["policy iamLavaWorkerPolicy"]["sns:Publish"].clone();
    let statements = realm["Resources"]["iamLavaWorkerPolicy"]["Properties"]["PolicyDocument"]
        ["Statement"]
        .as_array_mut()
        .unwrap();
    let publish = statements
        .iter_mut()
        .find(|s| s["Action"] == "sns:Publish")
        .unwrap();
    publish["Resource"] = json!({"Ref": "snsLavaNotices"});
    let after = facts(&realm)["policy iamLavaWorkerPolicy"]["sns:Publish"].clone();
    assert_eq!(before.as_array().unwrap().len(), 2);
    assert_eq!(after, json!([{"Ref": "snsLavaNotices"}]));
}

/// Writes the fixture from upstream's templates (see the module comment).
#[test]
#[ignore = "needs an upstream checkout in LAVA_UPSTREAM"]
fn write_upstream_facts() {
    let upstream = std::path::PathBuf::from(
        std::env::var_os("LAVA_UPSTREAM").expect("LAVA_UPSTREAM names an upstream checkout"),
    );
    let mut all = Map::new();
    for template in TEMPLATES {
        let path = upstream.join(format!("cfn/lava-{template}.cfn.json"));
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        all.insert(template.into(), json!(facts(&json)));
    }
    let mut all = Value::Object(all);
    all.sort_all_objects();
    // Indented by one space a level, as the fixture always was: pretty JSON
    // indents by two, and only indents start its lines with spaces.
    let pretty = serde_json::to_string_pretty(&all).unwrap();
    let lines: Vec<String> = pretty
        .lines()
        .map(|l| {
            let text = l.trim_start_matches(' ');
            format!("{}{text}", " ".repeat((l.len() - text.len()) / 2))
        })
        .collect();
    std::fs::write(workspace_root().join(FIXTURE), lines.join("\n")).unwrap();
}
