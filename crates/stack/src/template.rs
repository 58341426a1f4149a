//! What this crate reads from a CloudFormation template: its parameters and
//! the runtimes of its Lambda functions. Templates come as JSON (ours, and
//! what GetTemplate returns for a stack created from JSON) or YAML, whose
//! short-form tags (`!Ref`) upstream's sources may use: YAML reads both.

use serde_yaml::Value;

/// The runtime our Lambda zips need.
pub const NATIVE_RUNTIME: &str = "provided.al2023";

#[derive(Debug, Clone, PartialEq)]
pub struct Template(Value);

impl Template {
    pub fn parse(body: &str) -> Result<Template, String> {
        let value: Value = serde_yaml::from_str(body).map_err(|e| e.to_string())?;
        if !value.is_mapping() {
            return Err("not a mapping".into());
        }
        Ok(Template(value))
    }

    fn section(&self, name: &str) -> impl Iterator<Item = (&str, &Value)> {
        self.0
            .get(name)
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }

    /// Every parameter with its default, in template order.
    pub fn parameters(&self) -> Vec<(String, Option<String>)> {
        self.section("Parameters")
            .map(|(name, p)| (name.to_string(), p.get("Default").map(scalar)))
            .collect()
    }

    /// The runtime of each `AWS::Lambda::Function` resource (logical ID,
    /// runtime), a `Ref` resolved from the stack's `parameters` (else the
    /// parameter's default). A runtime that cannot be resolved is described
    /// in its place, so that it is never taken for the native one.
    pub fn lambda_runtimes(&self, parameters: &[(String, String)]) -> Vec<(String, String)> {
        let defaults = self.parameters();
        let resolve = |name: &str| {
            parameters
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| defaults.iter().find(|(k, _)| k == name)?.1.clone())
                .unwrap_or_else(|| format!("an unresolved Ref {name}"))
        };
        self.section("Resources")
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::Lambda::Function"))
            .map(|(id, r)| {
                let runtime = r.get("Properties").and_then(|p| p.get("Runtime"));
                let runtime = match runtime.map(reference) {
                    Some(Reference::Literal(s)) => s.to_string(),
                    Some(Reference::Ref(name)) => resolve(name),
                    Some(Reference::Other) => "an expression".to_string(),
                    None => "no runtime".to_string(),
                };
                (id.to_string(), runtime)
            })
            .collect()
    }
}

enum Reference<'v> {
    Literal(&'v str),
    Ref(&'v str),
    Other,
}

/// `"x"`, `{"Ref": "p"}` or `!Ref p`.
fn reference(value: &Value) -> Reference<'_> {
    // Tags first: serde_yaml's accessors look through them.
    let target = match value {
        Value::String(s) => return Reference::Literal(s),
        Value::Tagged(t) if t.tag == "Ref" => Some(&t.value),
        Value::Mapping(m) if m.len() == 1 => m.get("Ref"),
        _ => None,
    };
    match target.and_then(Value::as_str) {
        Some(name) => Reference::Ref(name),
        None => Reference::Other,
    }
}

/// A parameter default as CloudFormation shows it: numbers and booleans as
/// their text, a list (CommaDelimitedList) joined with commas.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Sequence(items) => items.iter().map(scalar).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn runtimes_from_json_and_short_form_yaml() {
        let json = r#"{"Parameters": {"lambdaRuntime": {"Type": "String", "Default": "python3.12"},
            "n": {"Type": "Number", "Default": 5}},
          "Resources": {
            "a": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": {"Ref": "lambdaRuntime"}}},
            "b": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "provided.al2023"}},
            "c": {"Type": "AWS::SQS::Queue", "Properties": {}}}}"#;
        let t = Template::parse(json).unwrap();
        assert_eq!(
            t.parameters(),
            vec![
                ("lambdaRuntime".into(), Some("python3.12".into())),
                ("n".into(), Some("5".into()))
            ]
        );
        let found = t.lambda_runtimes(&params(&[("lambdaRuntime", "python3.11")]));
        assert_eq!(found, params(&[("a", "python3.11"), ("b", NATIVE_RUNTIME)]));
        // Without a stack value, the default.
        assert_eq!(t.lambda_runtimes(&[])[0].1, "python3.12");

        let yaml = "Parameters:\n  r: {Type: String}\nResources:\n  f:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: !Ref r\n  g:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: {\"Fn::If\": [c, a, b]}\n";
        let t = Template::parse(yaml).unwrap();
        assert_eq!(
            t.lambda_runtimes(&params(&[("r", "python3.13")])),
            params(&[("f", "python3.13"), ("g", "an expression")])
        );
        assert!(Template::parse("[1]").is_err());
    }
}
