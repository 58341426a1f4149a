//! CloudFormation templates: from the readable YAML sources in `cfn/` to what
//! `dist` ships under `_dist_/cfn/v<VERSION>/`: the template as JSON with the
//! release version injected, and a reference generated from it, as Markdown
//! and as the same document rendered to a standalone HTML page (upstream's
//! cfdoc ships both).
//!
//! Sources use long-form intrinsic functions only (`Ref:`, `Fn::Sub:` ...).
//! Short-form tags (`!Ref`) are a CloudFormation extension of YAML with no JSON
//! equivalent, so they are rejected rather than guessed at.

use serde_json::{Map, Value as Json};
use serde_yaml::Value as Yaml;
use std::fmt::Write as _;

/// A rendered template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The deployable template: pretty JSON, 2-space indent, trailing newline.
    pub json: String,
    /// Reference documentation generated from the template.
    pub markdown: String,
    /// `markdown` as a standalone HTML page.
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CfnError {
    #[error("{source_name}:{line}:{column}: invalid YAML: {message}")]
    Syntax {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{source_name}: invalid YAML: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: the template is not a YAML mapping")]
    NotAMapping { source_name: String },
    #[error("{source_name}{}: {path}: short-form tag `{tag}` is not supported; use the long form `{long_form}:`", line.map(|l| format!(":{l}")).unwrap_or_default())]
    ShortFormTag {
        source_name: String,
        /// Best-effort source line of the first occurrence of the tag.
        line: Option<usize>,
        path: String,
        tag: String,
        long_form: String,
    },
    #[error("{source_name}: {path}: {message}")]
    Unsupported {
        source_name: String,
        path: String,
        message: String,
    },
    #[error("{source_name}: no `Parameters.Version` mapping (the build injects the release version there)")]
    MissingVersion { source_name: String },
    #[error("{source_name}: cannot inject version {version:?}: it must be non-empty and free of whitespace")]
    InvalidVersion {
        source_name: String,
        version: String,
    },
}

/// Renders one template source. `source_name` (usually the file name) names the
/// template in errors and gives the Markdown title.
pub fn render(source_yaml: &str, source_name: &str, version: &str) -> Result<Rendered, CfnError> {
    if version.is_empty() || version.chars().any(char::is_whitespace) {
        return Err(CfnError::InvalidVersion {
            source_name: source_name.to_owned(),
            version: version.to_owned(),
        });
    }
    let mut yaml: Yaml =
        serde_yaml::from_str(source_yaml).map_err(|e| yaml_error(source_name, e))?;
    // `<<: *anchor` merges are plain YAML; resolve them so the JSON has none.
    yaml.apply_merge().map_err(|e| yaml_error(source_name, e))?;

    let mut json = to_json(&yaml, &mut Vec::new(), source_name, source_yaml)?;
    let template = json.as_object_mut().ok_or_else(|| CfnError::NotAMapping {
        source_name: source_name.to_owned(),
    })?;
    inject_version(template, source_name, version)?;

    let mut text = serde_json::to_string_pretty(&json).expect("JSON values always serialise");
    text.push('\n');
    let markdown = markdown(json.as_object().expect("checked above"), source_name);
    let html = html(&markdown);
    Ok(Rendered {
        json: text,
        markdown,
        html,
    })
}

fn yaml_error(source_name: &str, e: serde_yaml::Error) -> CfnError {
    match e.location() {
        Some(loc) => CfnError::Syntax {
            source_name: source_name.to_owned(),
            line: loc.line(),
            column: loc.column(),
            message: e.to_string(),
        },
        None => CfnError::Invalid {
            source_name: source_name.to_owned(),
            message: e.to_string(),
        },
    }
}

/// `Parameters.Version` is read-only for operators: its only allowed value is
/// the release version, so a stack always says which release built it.
fn inject_version(
    template: &mut Map<String, Json>,
    source_name: &str,
    version: &str,
) -> Result<(), CfnError> {
    let param = template
        .get_mut("Parameters")
        .and_then(Json::as_object_mut)
        .and_then(|p| p.get_mut("Version"))
        .and_then(Json::as_object_mut)
        .ok_or_else(|| CfnError::MissingVersion {
            source_name: source_name.to_owned(),
        })?;
    // Replacing an existing key keeps its position (preserve_order).
    param.insert("Default".into(), Json::String(version.into()));
    param.insert(
        "AllowedValues".into(),
        Json::Array(vec![Json::String(version.into())]),
    );
    Ok(())
}

fn to_json(
    value: &Yaml,
    path: &mut Vec<String>,
    source_name: &str,
    source: &str,
) -> Result<Json, CfnError> {
    let unsupported = |path: &[String], message: String| CfnError::Unsupported {
        source_name: source_name.to_owned(),
        path: path_string(path),
        message,
    };
    Ok(match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Json::Number)
                    .ok_or_else(|| unsupported(path, format!("{n} has no JSON representation")))?
            }
        }
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(format!("[{i}]"));
                out.push(to_json(item, path, source_name, source)?);
                path.pop();
            }
            Json::Array(out)
        }
        Yaml::Mapping(mapping) => {
            let mut out = Map::with_capacity(mapping.len());
            for (key, item) in mapping {
                let Yaml::String(key) = key else {
                    return Err(unsupported(
                        path,
                        format!("mapping key {key:?} is not a string"),
                    ));
                };
                path.push(key.clone());
                out.insert(key.clone(), to_json(item, path, source_name, source)?);
                path.pop();
            }
            Json::Object(out)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let long_form = match name {
                "Ref" | "Condition" => name.to_owned(),
                _ => format!("Fn::{name}"),
            };
            return Err(CfnError::ShortFormTag {
                source_name: source_name.to_owned(),
                line: find_tag_line(source, &tag),
                path: path_string(path),
                tag,
                long_form,
            });
        }
    })
}

fn path_string(path: &[String]) -> String {
    if path.is_empty() {
        return "(top level)".into();
    }
    let mut out = String::new();
    for part in path {
        if !out.is_empty() && !part.starts_with('[') {
            out.push('.');
        }
        out.push_str(part);
    }
    out
}

/// The parsed YAML keeps no positions, so look for the tag as a token in the
/// text, skipping comment lines. Good enough to point an editor at it.
fn find_tag_line(source: &str, tag: &str) -> Option<usize> {
    source.lines().enumerate().find_map(|(n, line)| {
        if line.trim_start().starts_with('#') {
            return None;
        }
        line.match_indices(tag).find_map(|(at, _)| {
            let before = line[..at].chars().next_back();
            let after = line[at + tag.len()..].chars().next();
            let starts = before.is_none_or(|c| c.is_whitespace() || "[{,:-".contains(c));
            let ends = after.is_none_or(|c| c.is_whitespace() || "[{,]}".contains(c));
            (starts && ends).then_some(n + 1)
        })
    })
}

// ---------------------------------------------------------------- HTML

/// The Markdown document as a page. Template text reaches the Markdown, so
/// any HTML in it is shown as text, never passed through as markup.
fn html(markdown: &str) -> String {
    use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
    let mut title = String::new();
    let mut in_title = false;
    let events: Vec<Event> = Parser::new_ext(markdown, Options::ENABLE_TABLES)
        .map(|event| match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
            other => other,
        })
        .inspect(|event| match event {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H1,
                ..
            }) if title.is_empty() => in_title = true,
            Event::End(TagEnd::Heading(HeadingLevel::H1)) => in_title = false,
            Event::Text(t) | Event::Code(t) if in_title => title.push_str(t),
            _ => {}
        })
        .collect();
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, events.into_iter());
    let mut title_html = String::new();
    pulldown_cmark::html::push_html(&mut title_html, std::iter::once(Event::Text(title.into())));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title_html}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
}

const STYLE: &str =
    "body { font-family: sans-serif; max-width: 72em; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
code { font-size: 0.9em; }
";

// ---------------------------------------------------------------- Markdown

fn markdown(template: &Map<String, Json>, source_name: &str) -> String {
    let mut md = String::new();
    let file = source_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(source_name);
    let title = [
        ".cfn.yaml",
        ".cfn.yml",
        ".cfn.json",
        ".yaml",
        ".yml",
        ".json",
    ]
    .iter()
    .find_map(|ext| file.strip_suffix(ext))
    .unwrap_or(file);
    let _ = writeln!(md, "# {title}\n");
    if let Some(description) = template.get("Description").and_then(Json::as_str) {
        let _ = writeln!(md, "{}\n", text(description));
    }
    let version = template
        .get("Parameters")
        .and_then(|p| p.pointer("/Version/Default"))
        .and_then(Json::as_str)
        .unwrap_or_default();
    let _ = writeln!(md, "Generated from `{file}` for lava version {version}. Deploy the JSON template, not the source.");

    let empty = Map::new();
    let section = |name: &str| {
        template
            .get(name)
            .and_then(Json::as_object)
            .unwrap_or(&empty)
    };
    parameters_section(&mut md, section("Parameters"), template);
    rules_section(&mut md, section("Rules"));
    conditions_section(&mut md, section("Conditions"));
    resources_section(&mut md, section("Resources"));
    outputs_section(&mut md, section("Outputs"));
    md
}

type ParamRow<'a> = (&'a String, &'a Json);

fn parameters_section(md: &mut String, params: &Map<String, Json>, template: &Map<String, Json>) {
    md.push_str("\n## Parameters\n");
    if params.is_empty() {
        md.push_str("\nNone.\n");
        return;
    }
    // (label, members) in ParameterGroups order; each parameter goes to the
    // first group naming it, members keep template order.
    let groups: Vec<(String, Vec<&str>)> = template
        .get("Metadata")
        .and_then(|m| m.get("AWS::CloudFormation::Interface"))
        .and_then(|i| i.get("ParameterGroups"))
        .and_then(Json::as_array)
        .map(|groups| {
            groups
                .iter()
                .map(|g| {
                    let label = g
                        .pointer("/Label/default")
                        .and_then(Json::as_str)
                        .unwrap_or("Parameters");
                    let names = g
                        .get("Parameters")
                        .and_then(Json::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    (
                        label.to_owned(),
                        names.iter().filter_map(Json::as_str).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let group_of = |name: &str| {
        groups
            .iter()
            .position(|(_, members)| members.contains(&name))
    };

    // (group label, rows); no label when the template has no groups.
    let mut tables: Vec<(Option<&str>, Vec<ParamRow>)> = Vec::new();
    if groups.is_empty() {
        tables.push((None, params.iter().collect()));
    } else {
        for (i, (label, _)) in groups.iter().enumerate() {
            tables.push((
                Some(label),
                params
                    .iter()
                    .filter(|(n, _)| group_of(n) == Some(i))
                    .collect(),
            ));
        }
        tables.push((
            Some("Other parameters"),
            params
                .iter()
                .filter(|(n, _)| group_of(n).is_none())
                .collect(),
        ));
    }
    for (label, rows) in tables.into_iter().filter(|(_, rows)| !rows.is_empty()) {
        if let Some(label) = label {
            let _ = writeln!(md, "\n### {}", cell(label));
        }
        md.push_str("\n| Name | Type | Default | Allowed values | Description |\n| --- | --- | --- | --- | --- |\n");
        for (name, spec) in rows {
            let field = |key: &str| spec.get(key);
            let default = field("Default").map(value_cell).unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                code(name),
                field("Type")
                    .map(summary)
                    .map(|t| code(&t))
                    .unwrap_or_default(),
                default,
                constraints(spec),
                field("Description")
                    .map(summary)
                    .map(|d| cell(&d))
                    .unwrap_or_default(),
            );
        }
    }
}

/// AllowedValues plus any other constraint, so the column answers "what may I
/// pass here?".
fn constraints(spec: &Json) -> String {
    let mut parts = Vec::new();
    if let Some(values) = spec.get("AllowedValues").and_then(Json::as_array) {
        parts.push(values.iter().map(value_cell).collect::<Vec<_>>().join(", "));
    }
    if let Some(pattern) = spec.get("AllowedPattern") {
        parts.push(format!("pattern {}", value_cell(pattern)));
    }
    for (key, label) in [
        ("MinValue", "min"),
        ("MaxValue", "max"),
        ("MinLength", "min length"),
        ("MaxLength", "max length"),
    ] {
        if let Some(v) = spec.get(key) {
            parts.push(format!("{label} {}", value_cell(v)));
        }
    }
    parts.join("; ")
}

fn rules_section(md: &mut String, rules: &Map<String, Json>) {
    if rules.is_empty() {
        return;
    }
    md.push_str("\n## Rules\n\n| Name | Applies when | Assertions |\n| --- | --- | --- |\n");
    for (name, rule) in rules {
        let when = rule
            .get("RuleCondition")
            .map(|c| code(&compact(c)))
            .unwrap_or_else(|| "always".into());
        let asserts: Vec<String> = rule
            .get("Assertions")
            .and_then(Json::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(
                |a| match a.get("AssertDescription").and_then(Json::as_str) {
                    Some(d) => cell(d),
                    None => a
                        .get("Assert")
                        .map(|x| code(&compact(x)))
                        .unwrap_or_default(),
                },
            )
            .collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            code(name),
            when,
            asserts.join("<br>")
        );
    }
}

fn conditions_section(md: &mut String, conditions: &Map<String, Json>) {
    if conditions.is_empty() {
        return;
    }
    md.push_str("\n## Conditions\n\n| Name | Condition |\n| --- | --- |\n");
    for (name, condition) in conditions {
        let _ = writeln!(md, "| {} | {} |", code(name), code(&compact(condition)));
    }
}

fn resources_section(md: &mut String, resources: &Map<String, Json>) {
    md.push_str("\n## Resources\n");
    if resources.is_empty() {
        md.push_str("\nNone.\n");
        return;
    }
    md.push_str("\n| Logical ID | Type | Condition | Description |\n| --- | --- | --- | --- |\n");
    for (id, resource) in resources {
        let description = resource
            .pointer("/Metadata/Description")
            .or_else(|| resource.pointer("/Properties/Description"))
            .map(summary)
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            code(id),
            resource
                .get("Type")
                .map(summary)
                .map(|t| code(&t))
                .unwrap_or_default(),
            resource
                .get("Condition")
                .map(summary)
                .map(|c| code(&c))
                .unwrap_or_default(),
            cell(&description),
        );
    }
}

fn outputs_section(md: &mut String, outputs: &Map<String, Json>) {
    if outputs.is_empty() {
        return;
    }
    md.push_str("\n## Outputs\n\n| Name | Description | Export name | Condition |\n| --- | --- | --- | --- |\n");
    for (name, output) in outputs {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            code(name),
            output
                .get("Description")
                .map(summary)
                .map(|d| cell(&d))
                .unwrap_or_default(),
            output
                .pointer("/Export/Name")
                .map(summary)
                .map(|e| code(&e))
                .unwrap_or_default(),
            output
                .get("Condition")
                .map(summary)
                .map(|c| code(&c))
                .unwrap_or_default(),
        );
    }
}

/// Human reading of a value that may be an intrinsic: a `Fn::Sub` shows its
/// template string, a `Ref` shows as `${name}`, a list of strings is joined
/// (multi-line descriptions), anything else is compact JSON.
fn summary(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Array(items) if items.iter().all(Json::is_string) => items
            .iter()
            .filter_map(Json::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        Json::Object(map) if map.len() == 1 => match (map.get("Fn::Sub"), map.get("Ref")) {
            (Some(Json::String(s)), _) => s.clone(),
            (Some(Json::Array(args)), _) if args.first().is_some_and(Json::is_string) => {
                args[0].as_str().unwrap_or_default().to_owned()
            }
            (_, Some(Json::String(name))) => format!("${{{name}}}"),
            _ => compact(value),
        },
        _ => compact(value),
    }
}

/// A parameter value (default, allowed value, bound) as inline code.
fn value_cell(value: &Json) -> String {
    match value {
        Json::String(s) if s.is_empty() => code("\"\""),
        Json::String(s) => code(s),
        other => code(&compact(other)),
    }
}

fn compact(value: &Json) -> String {
    serde_json::to_string(value).expect("JSON values always serialise")
}

/// Prose: `<realm>` and the like would otherwise be taken for HTML tags.
fn text(text: &str) -> String {
    text.trim()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Prose in a table cell: `|` would end the cell and a newline the row.
fn cell(prose: &str) -> String {
    text(prose)
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

/// Inline code in a table cell. Code spans are literal, except that GFM still
/// ends the cell at `|`; text containing backticks gets a longer fence.
fn code(literal: &str) -> String {
    let literal = literal
        .trim()
        .replace('|', "\\|")
        .replace("\r\n", " ")
        .replace('\n', " ");
    if literal.contains('`') {
        format!("`` {literal} ``")
    } else {
        format!("`{literal}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const TEMPLATES: [&str; 3] = [
        "lava-common.cfn.yaml",
        "lava-realm.cfn.yaml",
        "lava-worker.cfn.yaml",
    ];

    fn cfn_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../cfn")
    }

    fn source(name: &str) -> String {
        std::fs::read_to_string(cfn_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn render_real(name: &str) -> (Rendered, Json) {
        let rendered = render(&source(name), name, "8.3.0").unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::from_str(&rendered.json).unwrap();
        (rendered, json)
    }

    fn yaml_keys(value: &Yaml) -> Vec<String> {
        value
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect()
    }

    fn json_keys(value: &Json) -> Vec<String> {
        value.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn version_is_injected() {
        for name in TEMPLATES {
            let (rendered, json) = render_real(name);
            let version = &json["Parameters"]["Version"];
            assert_eq!(version["Default"], "8.3.0", "{name}");
            assert_eq!(
                version["AllowedValues"],
                serde_json::json!(["8.3.0"]),
                "{name}"
            );
            assert_eq!(version["Type"], "String", "{name}");
            assert!(
                rendered.json.ends_with("}\n") && !rendered.json.ends_with("\n\n"),
                "{name}"
            );
            assert!(
                rendered.json.starts_with("{\n  \""),
                "{name}: 2-space indent"
            );
        }
    }

    #[test]
    fn key_order_is_preserved() {
        for name in TEMPLATES {
            let (_, json) = render_real(name);
            let yaml: Yaml = serde_yaml::from_str(&source(name)).unwrap();
            assert_eq!(json_keys(&json), yaml_keys(&yaml), "{name}: top level");
            for section in ["Parameters", "Conditions", "Resources", "Outputs"] {
                if let Some(y) = yaml.get(section) {
                    assert_eq!(json_keys(&json[section]), yaml_keys(y), "{name}: {section}");
                }
            }
            // Injection replaces Default in place and appends AllowedValues.
            let version = json_keys(&json["Parameters"]["Version"]);
            assert_eq!(
                version,
                ["Type", "Description", "Default", "AllowedValues"],
                "{name}"
            );
        }
    }

    #[test]
    fn rendering_is_deterministic() {
        for name in TEMPLATES {
            assert_eq!(render_real(name).0, render_real(name).0, "{name}");
        }
    }

    #[test]
    fn markdown_lists_every_parameter_and_resource() {
        for name in TEMPLATES {
            let (rendered, json) = render_real(name);
            let md = &rendered.markdown;
            let title = name.trim_end_matches(".cfn.yaml");
            assert!(
                md.starts_with(&format!(
                    "# {title}\n\n{}\n",
                    json["Description"].as_str().unwrap()
                )),
                "{name}"
            );
            for section in ["Parameters", "Resources"] {
                for key in json_keys(&json[section]) {
                    assert!(
                        md.contains(&format!("\n| `{key}` | ")),
                        "{name}: {section} {key} missing"
                    );
                }
            }
            if let Some(outputs) = json.get("Outputs") {
                for key in json_keys(outputs) {
                    assert!(
                        md.contains(&format!("\n| `{key}` | ")),
                        "{name}: output {key} missing"
                    );
                }
            }
            assert!(md.ends_with("|\n"), "{name}");
        }
    }

    #[test]
    fn html_page_has_every_parameter_and_resource_in_tables() {
        for name in TEMPLATES {
            let (rendered, json) = render_real(name);
            let page = &rendered.html;
            let title = name.trim_end_matches(".cfn.yaml");
            assert!(page.starts_with("<!DOCTYPE html>\n"), "{name}");
            assert!(page.contains(&format!("<title>{title}</title>")), "{name}");
            assert!(page.contains(&format!("<h1>{title}</h1>")), "{name}");
            assert!(page.ends_with("</html>\n"), "{name}");
            assert!(page.contains("<table>"), "{name}");
            for section in ["Parameters", "Resources"] {
                for key in json_keys(&json[section]) {
                    assert!(
                        page.contains(&format!("<td><code>{key}</code></td>")),
                        "{name}: {section} {key} missing"
                    );
                }
            }
        }
    }

    #[test]
    fn html_in_template_text_is_shown_not_interpreted() {
        let src = "Description: 'Uses <script>alert(1)</script> & more'\nParameters:\n  Version: {Type: String}\nResources: {}\n";
        let page = render(src, "t<x>.cfn.yaml", "1.0.0").unwrap().html;
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
            "{page}"
        );
        assert!(page.contains("<title>t&lt;x&gt;</title>"), "{page}");
    }

    #[test]
    fn markdown_follows_parameter_groups() {
        let (rendered, _) = render_real("lava-worker.cfn.yaml");
        let md = &rendered.markdown;
        let at = |s: &str| md.find(s).unwrap_or_else(|| panic!("{s} missing"));
        assert!(at("### Core worker") < at("| `realm` |"));
        assert!(at("| `realm` |") < at("### EC2 worker\n"));
        assert!(at("### EC2 worker\n") < at("| `amiId` |"));
        assert!(at("### EC2 instance selection") < at("| `workerVCpuMax` |"));
        assert!(
            !md.contains("### Other parameters"),
            "every worker parameter is grouped"
        );
        assert!(md.contains("| `Version` | `String` | `8.3.0` | `8.3.0` | lava version |"));
        let (realm, _) = render_real("lava-realm.cfn.yaml");
        assert!(realm
            .markdown
            .contains("| `lambdaDispatch` | `AWS::Lambda::Function` | `ifCreateLambdas` |"));
        assert!(realm.markdown.contains("| `ifCreateLambdas` | `{\"Fn::Not\":[{\"Fn::Equals\":[{\"Ref\":\"lambdaVersion\"},\"\"]}]}` |"));
        assert!(realm
            .markdown
            .contains("| `Version` | lava version of the realm stack | `lava:${realm}:version` |"));
    }

    #[test]
    fn markdown_escapes_pipes_newlines_and_html() {
        let src = "Description: lava-<realm> & a|b\nParameters:\n  Version: {Type: String, Description: \"x|y\\nz <w>\"}\n  p:\n    Type: String\n    Default: \"<x>\"\n    AllowedPattern: \"a|b\"\nResources: {}\n";
        let md = render(src, "t.yaml", "1.0.0").unwrap().markdown;
        // A paragraph, not a table cell: only HTML is escaped.
        assert!(md.contains("# t\n\nlava-&lt;realm&gt; &amp; a|b\n"), "{md}");
        assert!(md.contains("| x\\|y<br>z &lt;w&gt; |"), "{md}");
        // Code spans stay literal apart from the cell-ending pipe.
        assert!(
            md.contains("| `p` | `String` | `<x>` | pattern `a\\|b` |  |"),
            "{md}"
        );
    }

    #[test]
    fn bad_yaml_reports_line() {
        let src = "Parameters:\n  Version:\n    Type: String\n  broken: [unclosed\nResources: {}\n";
        let err = render(src, "bad.cfn.yaml", "1.0.0").unwrap_err();
        match &err {
            CfnError::Syntax { line, .. } => assert!((4..=5).contains(line), "line {line}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().starts_with("bad.cfn.yaml:"), "{err}");
    }

    #[test]
    fn missing_version_is_rejected() {
        for src in [
            "Resources: {}\n",
            "Parameters:\n  realm: {Type: String}\n",
            "Parameters:\n  Version: 1\n",
        ] {
            let err = render(src, "nover.yaml", "1.0.0").unwrap_err();
            assert!(
                matches!(err, CfnError::MissingVersion { .. }),
                "{src}: {err:?}"
            );
            assert!(err.to_string().contains("nover.yaml"));
        }
    }

    #[test]
    fn short_form_tags_are_rejected() {
        let src = "Parameters:\n  Version: {Type: String}\nResources:\n  # uses !Ref below\n  topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      Tags:\n        - Value: !Sub \"x-${Version}\"\n";
        let err = render(src, "short.yaml", "1.0.0").unwrap_err();
        match &err {
            CfnError::ShortFormTag {
                line,
                path,
                tag,
                long_form,
                ..
            } => {
                assert_eq!(*line, Some(9));
                assert_eq!(path, "Resources.topic.Properties.Tags[0].Value");
                assert_eq!(tag, "!Sub");
                assert_eq!(long_form, "Fn::Sub");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().starts_with("short.yaml:9: "), "{err}");
    }

    #[test]
    fn other_invalid_input_is_rejected() {
        let not_mapping = render("- a\n- b\n", "list.yaml", "1.0.0").unwrap_err();
        assert!(matches!(not_mapping, CfnError::NotAMapping { .. }));
        let key = render(
            "Parameters:\n  Version: {Type: String}\n  1: {Type: String}\n",
            "k.yaml",
            "1.0.0",
        )
        .unwrap_err();
        assert!(matches!(key, CfnError::Unsupported { .. }), "{key:?}");
        let nan = render(
            "Parameters:\n  Version: {Type: String, Default: .nan}\n",
            "n.yaml",
            "1.0.0",
        )
        .unwrap_err();
        assert!(matches!(nan, CfnError::Unsupported { .. }), "{nan:?}");
        let version = render("Parameters:\n  Version: {Type: String}\n", "v.yaml", "").unwrap_err();
        assert!(matches!(version, CfnError::InvalidVersion { .. }));
    }

    #[test]
    fn merge_keys_are_resolved() {
        let src = "Parameters:\n  Version: {Type: String}\n  a: &base {Type: Number, MinValue: 0}\n  b:\n    <<: *base\n    MaxValue: 9\n";
        let rendered = render(src, "m.yaml", "1.0.0").unwrap();
        let json: Json = serde_json::from_str(&rendered.json).unwrap();
        assert_eq!(
            json["Parameters"]["b"],
            serde_json::json!({"Type": "Number", "MinValue": 0, "MaxValue": 9})
        );
    }
}
