//! `utils.path` (Python's `os.path` on Linux, i.e. `posixpath`) and
//! `utils.uuid()` (a `uuid.UUID`) for trigger templates. Only the pure string
//! functions: templates render object keys, and nothing here may look at the
//! Lambda's file system.

use std::sync::Arc;

use minijinja::value::{from_args, Object, ObjectRepr, Rest, Value};
use minijinja::{Error, ErrorKind, State};

/// The `utils.path` module.
pub fn path_module() -> Value {
    minijinja::context! {
        basename => Value::from_function(|p: String| split(&p).1.to_string()),
        dirname => Value::from_function(|p: String| split(&p).0),
        split => Value::from_function(|p: String| {
            let (head, tail) = split(&p);
            vec![head, tail.to_string()]
        }),
        splitext => Value::from_function(|p: String| {
            let (root, ext) = splitext(&p);
            vec![root.to_string(), ext.to_string()]
        }),
        splitdrive => Value::from_function(|p: String| vec![String::new(), p]),
        join => Value::from_function(|first: String, rest: Rest<String>| join(&first, &rest)),
        normpath => Value::from_function(|p: String| normpath(&p)),
        normcase => Value::from_function(|p: String| p),
        isabs => Value::from_function(|p: String| p.starts_with('/')),
        commonprefix => Value::from_function(|paths: Vec<String>| commonprefix(&paths)),
        commonpath => Value::from_function(|paths: Vec<String>| commonpath(&paths)),
        sep => "/",
        altsep => Value::from(()),
        extsep => ".",
        pathsep => ":",
        curdir => ".",
        pardir => "..",
    }
}

/// posixpath.split: (head without trailing slashes unless all slashes, tail).
pub fn split(p: &str) -> (String, &str) {
    let i = p.rfind('/').map_or(0, |i| i + 1);
    let (head, tail) = p.split_at(i);
    let stripped = head.trim_end_matches('/');
    let head = if stripped.is_empty() { head } else { stripped };
    (head.to_string(), tail)
}

/// posixpath.splitext: the last dot of the last component, leading dots not counting.
fn splitext(p: &str) -> (&str, &str) {
    let base_start = p.rfind('/').map_or(0, |i| i + 1);
    let base = &p[base_start..];
    let leading = base.len() - base.trim_start_matches('.').len();
    match base.rfind('.') {
        Some(dot) if dot > leading => p.split_at(base_start + dot),
        _ => (p, ""),
    }
}

/// posixpath.join: an absolute component restarts the path.
fn join(first: &str, rest: &[String]) -> String {
    let mut out = first.to_string();
    for part in rest {
        if part.starts_with('/') {
            out.clear();
        } else if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(part);
    }
    out
}

/// posixpath.normpath: `.` and `x/..` resolved lexically; POSIX keeps exactly
/// two leading slashes, folds three or more into one.
fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let leading = match p.len() - p.trim_start_matches('/').len() {
        0 => "",
        2 => "//",
        _ => "/",
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." if !leading.is_empty() && parts.is_empty() => {}
            ".." if parts.last().is_some_and(|last| *last != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let joined = format!("{leading}{}", parts.join("/"));
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// os.path.commonprefix: character by character, not by component.
fn commonprefix(paths: &[String]) -> String {
    let Some(first) = paths.first() else {
        return String::new();
    };
    let mut end = first.len();
    for p in &paths[1..] {
        end = first
            .char_indices()
            .zip(p.chars())
            .find(|((_, a), b)| a != b)
            .map_or(end.min(p.len()).min(first.len()), |((i, _), _)| i)
            .min(end);
    }
    first[..end].to_string()
}

/// posixpath.commonpath: the longest common sequence of components.
fn commonpath(paths: &[String]) -> Result<String, Error> {
    let Some(first) = paths.first() else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "commonpath() arg is an empty sequence",
        ));
    };
    let absolute = first.starts_with('/');
    if paths.iter().any(|p| p.starts_with('/') != absolute) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "Can't mix absolute and relative paths",
        ));
    }
    let components = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_string)
            .collect()
    };
    let mut common = components(first);
    for p in &paths[1..] {
        let other = components(p);
        let same = common
            .iter()
            .zip(&other)
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(same);
    }
    let prefix = if absolute { "/" } else { "" };
    Ok(format!("{prefix}{}", common.join("/")))
}

/// The `utils.uuid` function: a random (version 4) `uuid.UUID`.
pub fn uuid4() -> Value {
    Value::from_object(PyUuid(uuid::Uuid::new_v4()))
}

#[derive(Debug)]
struct PyUuid(uuid::Uuid);

impl Object for PyUuid {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let u = self.0;
        Some(match key.as_str()? {
            "hex" => Value::from(u.simple().to_string()),
            "int" => Value::from(u.as_u128()),
            "urn" => Value::from(u.urn().to_string()),
            "version" => Value::from(u.get_version_num()),
            "variant" => Value::from("specified in RFC 4122"),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "__str__" => {
                let () = from_args(args)?;
                Ok(Value::from(self.0.to_string()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str) -> Result<String, Error> {
        let mut env = minijinja::Environment::new();
        env.add_global("path", path_module());
        env.add_global("uuid", Value::from_function(uuid4));
        env.render_str(template, ())
    }

    /// Rows: template, and what Jinja2 renders with `path = os.path`.
    #[test]
    fn os_path_as_python() {
        let rows = [
            ("{{ path.basename('a/b/c.csv') }}", "c.csv"),
            ("{{ path.basename('a/b/') }}", ""),
            ("{{ path.dirname('a/b/c.csv') }}", "a/b"),
            ("{{ path.dirname('/c') }}", "/"),
            ("{{ path.dirname('c') }}", ""),
            (
                "{{ path.split('a//b')[0] }}|{{ path.split('a//b')[1] }}",
                "a|b",
            ),
            (
                "{{ path.splitext('a/b.tar.gz')[0] }}|{{ path.splitext('a/b.tar.gz')[1] }}",
                "a/b.tar|.gz",
            ),
            ("{{ path.splitext('a/.profile')[1] }}|", "|"),
            ("{{ path.splitext('a.b/c')[1] }}|", "|"),
            ("{{ path.splitdrive('/a/b')[1] }}", "/a/b"),
            ("{{ path.join('a', 'b', 'c.csv') }}", "a/b/c.csv"),
            ("{{ path.join('a/', 'b') }}", "a/b"),
            ("{{ path.join('a', '/b', 'c') }}", "/b/c"),
            ("{{ path.join('a', '') }}", "a/"),
            ("{{ path.join('a') }}", "a"),
            ("{{ path.normpath('a//b/./c/../d/') }}", "a/b/d"),
            ("{{ path.normpath('/../a') }}", "/a"),
            ("{{ path.normpath('../a/../../b') }}", "../../b"),
            ("{{ path.normpath('//a/b') }}", "//a/b"),
            ("{{ path.normpath('///a/b') }}", "/a/b"),
            ("{{ path.normpath('') }}", "."),
            ("{{ path.normpath('a/..') }}", "."),
            (
                "{{ path.isabs('/a') }}|{{ path.isabs('a/b') }}",
                "True|False",
            ),
            (
                "{{ path.commonprefix(['in/2024/a', 'in/2023/b']) }}",
                "in/202",
            ),
            ("{{ path.commonprefix(['abc', 'ab']) }}", "ab"),
            ("{{ path.commonprefix([]) }}|", "|"),
            ("{{ path.commonpath(['in/2024/a', 'in/2024b/b']) }}", "in"),
            ("{{ path.commonpath(['/x/./y/z', '/x/y']) }}", "/x/y"),
            ("{{ path.normcase('A/B') }}", "A/B"),
            (
                "{{ path.sep }}{{ path.extsep }}{{ path.curdir }}{{ path.pardir }}",
                "/....",
            ),
        ];
        for (template, python) in rows {
            assert_eq!(render(template).unwrap(), python, "{template}");
        }
        for bad in [
            "{{ path.commonpath([]) }}",
            "{{ path.commonpath(['/a', 'b']) }}",
            "{{ path.basename() }}",
        ] {
            assert!(render(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uuid_as_python() {
        let out = render(
            "{% set u = uuid() %}{{ u }} {{ u.hex }} {{ u.version }} {{ u.urn }} {{ u.variant }}",
        )
        .unwrap();
        let parts: Vec<&str> = out.split(' ').collect();
        let (text, hex) = (parts[0], parts[1]);
        assert_eq!(text.len(), 36);
        assert_eq!(text.replace('-', ""), hex);
        assert_eq!(&text[14..15], "4", "{text}: version 4");
        assert_eq!(parts[2], "4");
        assert_eq!(parts[3], format!("urn:uuid:{text}"));
        assert_eq!(parts[4..].join(" "), "specified in RFC 4122");
        assert_ne!(
            render("{{ uuid() }}").unwrap(),
            render("{{ uuid() }}").unwrap()
        );
    }
}
