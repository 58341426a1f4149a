//! Build into `lavactl` what its deploy takes from the workspace's `misc/`
//! (the root boot scripts, the optional boot scriptlets and the helpers of
//! `lib/` they include, which deploy puts in as it does in the workspace)
//! and the workspace `Cargo.toml` that says which release it belongs to: a
//! prebuilt binary has no workspace to read them from.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest.join("../..");
    let misc = workspace.join("misc");
    let mut files = vec![misc.join("root.boot.sh"), misc.join("root.boot0.sh")];
    let optional = misc.join("boot.optional");
    files.extend(shell_scripts(&optional));
    files.extend(shell_scripts(&misc.join("lib")));

    let mut code = String::from("pub const MISC: &[(&str, &[u8])] = &[\n");
    for file in &files {
        let name = file.strip_prefix(&misc).expect("below misc/");
        writeln!(
            code,
            "    ({:?}, include_bytes!({:?})),",
            name.to_str().expect("a UTF-8 name"),
            absolute(file)
        )
        .expect("writing to a String");
    }
    code.push_str("];\n");
    writeln!(
        code,
        "pub const WORKSPACE_MANIFEST: &str = include_str!({:?});",
        absolute(&workspace.join("Cargo.toml"))
    )
    .expect("writing to a String");

    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("embedded.rs"), code).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed={}", misc.display());
    println!("cargo:rerun-if-changed={}", optional.display());
}

/// The `*.sh` files directly in `dir`, sorted.
fn shell_scripts(dir: &Path) -> Vec<PathBuf> {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    scripts.sort();
    scripts
}

fn absolute(path: &Path) -> String {
    path.canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_str()
        .expect("a UTF-8 path")
        .to_string()
}
