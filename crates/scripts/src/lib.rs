//! The worker shell scripts as they ship. A worker fetches each script on its
//! own (a scriptlet from `_boot_/`, a root boot script from
//! `<REALM>/<WORKER>/`), so none can source a library there: the helpers they
//! share live once in `misc/lib/` and are copied into every script that names
//! one with a marker line,
//!
//! ```text
//! # @include lib/log.sh
//! ```
//!
//! which [`assemble`] replaces with the file's text. dist, deploy and the
//! tests all ship or run the assembled text, so it is the same bytes wherever
//! a script is produced.

use std::path::Path;

/// A marker line: this, then the helper's path below `misc/`.
pub const MARKER: &str = "# @include ";

/// What marks an include, anywhere on a line: outside a marker line of its
/// own it is a marker that would be left in the shipped script.
const KEYWORD: &str = "@include";

/// The directory of the helpers, below `misc/`.
const LIB: &str = "lib/";

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{script}:{line}: unknown include {name:?}: {reason}")]
    UnknownInclude {
        script: String,
        line: usize,
        name: String,
        reason: String,
    },
    #[error("{script}:{line}: {name} is included again (first at line {first})")]
    DuplicateInclude {
        script: String,
        line: usize,
        name: String,
        first: usize,
    },
    #[error(
        "{script}:{line}: {name} has an include marker of its own (its line {inner}): \
         helpers are included one level deep, by the script"
    )]
    NestedInclude {
        script: String,
        line: usize,
        name: String,
        inner: usize,
    },
    #[error(
        "{script}:{line}: leftover include marker {text:?}: a marker is a line of its own, \
         `{MARKER}{LIB}NAME.sh`"
    )]
    LeftoverMarker {
        script: String,
        line: usize,
        text: String,
    },
}

/// `text`, the script `script` (its name in errors), with each marker line
/// replaced by the text of the helper it names, as `read` returns it for that
/// name (`lib/NAME.sh`, relative to `misc/`). Every other byte is kept.
pub fn assemble(
    script: &str,
    text: &str,
    mut read: impl FnMut(&str) -> std::io::Result<String>,
) -> Result<String, ScriptError> {
    let mut out = String::with_capacity(text.len());
    let mut included: Vec<(&str, usize)> = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let content = line.strip_suffix('\n').unwrap_or(line);
        let Some(name) = content.strip_prefix(MARKER) else {
            if content.contains(KEYWORD) {
                return Err(ScriptError::LeftoverMarker {
                    script: script.to_string(),
                    line: number,
                    text: content.to_string(),
                });
            }
            out.push_str(line);
            continue;
        };
        let unknown = |reason: String| ScriptError::UnknownInclude {
            script: script.to_string(),
            line: number,
            name: name.to_string(),
            reason,
        };
        if !is_helper_name(name) {
            return Err(unknown(format!("a helper is named {LIB}NAME.sh")));
        }
        if let Some(&(_, first)) = included.iter().find(|(n, _)| *n == name) {
            return Err(ScriptError::DuplicateInclude {
                script: script.to_string(),
                line: number,
                name: name.to_string(),
                first,
            });
        }
        included.push((name, number));
        let helper = read(name).map_err(|e| unknown(e.to_string()))?;
        if let Some(inner) = helper.lines().position(|l| l.contains(KEYWORD)) {
            return Err(ScriptError::NestedInclude {
                script: script.to_string(),
                line: number,
                name: name.to_string(),
                inner: inner + 1,
            });
        }
        out.push_str(&helper);
        if !helper.is_empty() && !helper.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// The script `misc/<path>` assembled with the helpers of `misc/lib/`.
pub fn assemble_file(misc: &Path, path: &str) -> Result<String, ScriptError> {
    let file = misc.join(path);
    let text = std::fs::read_to_string(&file).map_err(|source| ScriptError::Read {
        path: file.display().to_string(),
        source,
    })?;
    assemble(&file.display().to_string(), &text, |name| {
        std::fs::read_to_string(misc.join(name))
    })
}

/// `lib/NAME.sh`, NAME a plain file name: an include never leaves `misc/lib/`.
fn is_helper_name(name: &str) -> bool {
    name.strip_prefix(LIB)
        .and_then(|file| file.strip_suffix(".sh"))
        .is_some_and(|stem| {
            !stem.is_empty()
                && !stem.starts_with('.')
                && stem
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    const LOG: &str = "log() { echo \"$*\" >&2; }\n";

    fn helpers(name: &str) -> std::io::Result<String> {
        match name {
            "lib/log.sh" => Ok(LOG.to_string()),
            "lib/bare.sh" => Ok("bare() { :; }".to_string()),
            "lib/nested.sh" => Ok("# a helper\n# @include lib/log.sh\n".to_string()),
            _ => Err(Error::new(ErrorKind::NotFound, "No such file")),
        }
    }

    #[test]
    fn a_marker_line_becomes_the_helper_text() {
        let script = "#!/bin/bash\nPROG=x\n# @include lib/log.sh\n# @include lib/bare.sh\nlog hi";
        let assembled = assemble("s.sh", script, helpers).unwrap();
        assert_eq!(
            assembled,
            format!("#!/bin/bash\nPROG=x\n{LOG}bare() {{ :; }}\nlog hi")
        );
        // A script without markers ships as it is.
        assert_eq!(assemble("s.sh", &assembled, helpers).unwrap(), assembled);
    }

    #[test]
    fn an_unknown_include_names_the_script_and_line() {
        let names = [
            "lib/missing.sh",
            "log.sh",
            "lib/../etc.sh",
            "lib/.sh",
            "lib/x",
            " lib/log.sh",
        ];
        for name in names {
            let script = format!("#!/bin/bash\n\n# @include {name}\n");
            let err = assemble("boot/s.sh", &script, helpers).unwrap_err();
            assert!(
                matches!(&err, ScriptError::UnknownInclude { line: 3, name: n, .. } if n == name),
                "{name}: {err:?}"
            );
            assert!(err.to_string().starts_with("boot/s.sh:3: "), "{err}");
        }
    }

    #[test]
    fn includes_are_one_level_deep() {
        let err = assemble("s.sh", "# @include lib/nested.sh\n", helpers).unwrap_err();
        assert!(
            matches!(&err, ScriptError::NestedInclude { line: 1, inner: 2, name, .. } if name == "lib/nested.sh"),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("s.sh:1: "), "{err}");
    }

    #[test]
    fn a_marker_not_on_a_line_of_its_own_is_left_over() {
        for line in [
            "  # @include lib/log.sh",
            "#@include lib/log.sh",
            "log hi # @include lib/log.sh",
        ] {
            let script = format!("#!/bin/bash\n{line}\n");
            let err = assemble("s.sh", &script, helpers).unwrap_err();
            assert!(
                matches!(&err, ScriptError::LeftoverMarker { line: 2, text, .. } if text == line),
                "{line:?}: {err:?}"
            );
            assert!(err.to_string().starts_with("s.sh:2: "), "{err}");
        }
    }

    #[test]
    fn a_helper_is_included_once() {
        let script = "# @include lib/log.sh\n\n# @include lib/log.sh\n";
        let err = assemble("s.sh", script, helpers).unwrap_err();
        assert!(
            matches!(
                err,
                ScriptError::DuplicateInclude {
                    line: 3,
                    first: 1,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
