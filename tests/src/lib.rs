//! The test harness: where the harness's tools are, and a release built once
//! per test binary for the tests that inspect `dist/`.

pub mod cfn;
pub mod moto;
pub mod proxy;
pub mod realm;
pub mod runtime_api;
pub mod workflow;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use lava_builder::{Artefact, DistOptions, Progress, Release, Step};
use lava_layout::{Arch, ROOT_BOOT_SCRIPTS};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The workspace's xtask binary (`cargo xtask` as an operator runs it),
/// beside the test binary's directory (`target/debug/deps/..`): `cargo test
/// --workspace` builds it for xtask's own tests.
pub fn xtask() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/debug/deps")
        .join("xtask");
    assert!(path.is_file(), "{} is not built", path.display());
    path
}

/// A tool from the venv `cargo xtask test` provisions.
pub fn tool(name: &str) -> PathBuf {
    let bin = std::env::var_os("LAVA_TOOLS").expect(
        "LAVA_TOOLS is not set: run the tests with `cargo xtask test`, which installs the tools",
    );
    let path = PathBuf::from(bin).join(name);
    assert!(
        path.is_file(),
        "{} is missing from LAVA_TOOLS",
        path.display()
    );
    path
}

/// The worker shell scripts that ship assembled, as paths below `misc/`: the
/// root boot scripts and the optional scriptlets (deploy), the `_boot_`
/// scriptlets (dist).
pub fn shipped_script_names() -> Vec<String> {
    let misc = workspace_root().join("misc");
    let mut names: Vec<String> = ROOT_BOOT_SCRIPTS.map(String::from).to_vec();
    for dir in ["boot", "boot.optional"] {
        let mut scripts: Vec<String> = std::fs::read_dir(misc.join(dir))
            .expect("misc/ of the workspace")
            .map(|e| e.expect("a readable directory").file_name())
            .map(|name| format!("{dir}/{}", name.to_string_lossy()))
            .filter(|name| name.ends_with(".sh"))
            .collect();
        scripts.sort();
        names.extend(scripts);
    }
    names
}

/// A directory laid out as `misc/` with each of [`shipped_script_names`] as
/// it ships (assembled with the helpers it includes, executable), written
/// once per test binary: the tests run what a worker runs, never `misc/`'s
/// source.
pub fn shipped_scripts() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let misc = workspace_root().join("misc");
        let dir = process_tempdir();
        for name in shipped_script_names() {
            let text = lava_scripts::assemble_file(&misc, &name).unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join(&name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        dir
    })
    .path()
}

/// A worker's root directory as the lava AMI leaves it for the boot:
/// Amazon Linux 2023 (`etc/os-release`) with the AMI's marker
/// (`usr/local/etc/ami-info`, which 50-lava.sh checks).
pub fn worker_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    let write = |path: &str, text: &str| {
        let path = root.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(
        "etc/os-release",
        "NAME=\"Amazon Linux\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\n",
    );
    write("usr/local/etc/ami-info", "AMI_TYPE=lava\n");
    root
}

/// What the installed bundle's `lava-version` under a worker's `root` prints.
pub fn lava_version(root: &Path) -> String {
    let out = run(Command::new(root.join("usr/local/bin/lava-version")).env_remove("PYTHONPATH"));
    assert!(
        out.status.success(),
        "lava-version: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run a command, panicking with its output if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// `bytes` (named `name` in failures) is a static ELF executable for
/// `arch`: no program interpreter and no glibc symbol version, so it runs
/// on every worker and on Lambda whatever their C library.
pub fn assert_static_executable(bytes: &[u8], arch: Arch, name: &str) {
    use lava_builder::binaries;
    assert_eq!(Arch::of_elf(bytes), Some(arch), "{name}");
    assert_eq!(binaries::interpreter(bytes).unwrap(), None, "{name}");
    assert_eq!(binaries::glibc_needs(bytes).unwrap(), None, "{name}");
}

/// A command running `program`, a static executable built for `arch`:
/// itself on this host's architecture, else under qemu's user-mode emulator
/// (installed by `cargo xtask test`), killed after ten minutes.
pub fn command_for(arch: Arch, program: impl AsRef<OsStr>) -> Command {
    if Arch::host() == Some(arch) {
        return Command::new(program);
    }
    // Bounded: an emulated program that spins fails its test instead of
    // hanging the run.
    let mut command = Command::new("timeout");
    command
        .args(["--kill-after=10", "600"])
        .arg(format!("qemu-{}-static", arch.uname()))
        .arg(program);
    command
}

struct Quiet;

impl Progress for Quiet {
    fn started(&self, _: &Step) {}
    fn finished(&self, _: &Step, _: &[Artefact]) {}
}

/// Build the release with `options` into a fresh temporary directory (its
/// `out` is replaced) and return that directory with the outcome.
pub fn build_dist(
    mut options: DistOptions,
) -> (
    tempfile::TempDir,
    Result<Vec<Artefact>, lava_builder::BuildError>,
) {
    let release = Release::load(&workspace_root()).expect("workspace release");
    let out = process_tempdir();
    options.out = out.path().to_path_buf();
    let result = lava_builder::plan(&release, &options)
        .and_then(|plan| lava_builder::execute(&release, &plan, &Quiet))
        .map(|manifest| manifest.artefacts);
    (out, result)
}

/// The full default release, built once per test binary.
pub fn default_dist() -> &'static (tempfile::TempDir, Vec<Artefact>) {
    static DIST: OnceLock<(tempfile::TempDir, Vec<Artefact>)> = OnceLock::new();
    DIST.get_or_init(|| {
        let (out, result) = build_dist(DistOptions::default());
        (out, result.unwrap_or_else(|e| panic!("dist failed: {e}")))
    })
}

/// `lavactl` of each architecture, as `cargo xtask dist cli` builds it for
/// a release (its directory, with SHA256SUMS, and what it reported), built
/// once per test binary.
pub fn lavactl_built() -> &'static (tempfile::TempDir, Vec<Artefact>) {
    static BUILT: OnceLock<(tempfile::TempDir, Vec<Artefact>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = process_tempdir();
        let output = run(Command::new(xtask())
            .args(["dist", "cli", "--json", "--out"])
            .arg(out.path()));
        assert!(
            output.status.success(),
            "cargo xtask dist cli: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("dist cli --json prints JSON");
        let artefacts = serde_json::from_value(report["artefacts"].clone())
            .expect("dist cli --json lists artefacts");
        (out, artefacts)
    })
}

/// Temporary directories of [`process_tempdir`]: `<tmp>/lava-tests-<pid>-*`.
const PROCESS_DIR_PREFIX: &str = "lava-tests-";

/// A temporary directory named after this process. What a test binary keeps
/// in a static (a release, half a GiB) is never dropped, so its directory
/// outlives the process: the first call removes those of processes that have
/// ended.
pub fn process_tempdir() -> tempfile::TempDir {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| remove_ended_process_dirs(&std::env::temp_dir()));
    tempfile::Builder::new()
        .prefix(&format!("{PROCESS_DIR_PREFIX}{}-", std::process::id()))
        .tempdir()
        .expect("temp dir")
}

/// Remove the [`process_tempdir`] directories in `tmp` whose process is gone.
fn remove_ended_process_dirs(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(PROCESS_DIR_PREFIX)
            .and_then(|rest| rest.split('-').next()?.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Every file under `dir`, as `/`-separated relative paths, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    files
}

/// The JSON Schema `docs/schema/<name>`; its `$ref`s to the others there are
/// resolved by their `$id`, never over the network.
pub fn schema(name: &str) -> jsonschema::Validator {
    let dir = workspace_root().join("docs/schema");
    let schema = read_schema(&dir.join(name));
    jsonschema::options()
        .with_retriever(LocalSchemas(dir))
        .build(&schema)
        .unwrap_or_else(|e| panic!("docs/schema/{name}: {e}"))
}

fn read_schema(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The schemas of `docs/schema`, found by their `$id`.
struct LocalSchemas(PathBuf);

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        for entry in std::fs::read_dir(&self.0)? {
            let schema = read_schema(&entry?.path());
            if schema["$id"].as_str() == Some(uri.as_str()) {
                return Ok(schema);
            }
        }
        Err(format!("no schema in {} has $id {uri}", self.0.display()).into())
    }
}

/// Panics listing every way `instance` breaks the schema `docs/schema/<name>`.
pub fn assert_valid(name: &str, instance: &serde_json::Value) {
    let validator = schema(name);
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid {name}:\n{}",
        errors.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_directories_of_ended_processes_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let ended = format!("{PROCESS_DIR_PREFIX}4294967295-abc");
        let running = format!("{PROCESS_DIR_PREFIX}{}-abc", std::process::id());
        for dir in [&ended, &running, &"lava-other-4294967295".to_string()] {
            std::fs::create_dir_all(tmp.path().join(dir).join("_dist_")).unwrap();
        }
        remove_ended_process_dirs(tmp.path());
        let mut left: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec!["lava-other-4294967295".to_string(), running]);
    }
}
