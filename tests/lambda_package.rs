//! The Lambda zips as `cargo xtask dist --only lambda` builds them, for x86_64
//! and arm64: exactly the four keys of each, `bootstrap` alone at the root
//! with mode 0755, a static executable of the zip's architecture that
//! starts (aarch64 under qemu), no machine-specific paths inside, the same
//! bytes when built again, and nothing written when the build fails.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use lava_builder::binaries;
use lava_builder::{Artefact, DistOptions, Progress, Release, Step, MANIFEST};
use lava_layout::{
    lambda_dir, lambda_key, Arch, Component, LambdaFunction, LAMBDA_PREFIX, SHA256SUMS,
};
use lava_tests::{
    assert_static_executable, build_dist, command_for, files_under, run, workspace_root,
};

fn build() -> (tempfile::TempDir, Vec<Artefact>) {
    let (out, result) = build_dist(DistOptions {
        only: vec![Component::Lambda],
        ..Default::default()
    });
    (
        out,
        result.unwrap_or_else(|e| panic!("dist --only lambda failed: {e}")),
    )
}

fn built() -> &'static (tempfile::TempDir, Vec<Artefact>) {
    static BUILT: OnceLock<(tempfile::TempDir, Vec<Artefact>)> = OnceLock::new();
    BUILT.get_or_init(build)
}

fn zip_path(function: LambdaFunction, arch: Arch) -> PathBuf {
    let version = Release::load(&workspace_root()).unwrap().version;
    built().0.path().join(lambda_key(function, &version, arch))
}

/// The entries of a zip: name, unix mode and contents of each.
fn entries(zip: &Path) -> Vec<(String, Option<u32>, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (entry.name().to_string(), entry.unix_mode(), bytes)
        })
        .collect()
}

fn bootstrap(function: LambdaFunction, arch: Arch) -> Vec<u8> {
    entries(&zip_path(function, arch)).remove(0).2
}

/// Every zip of the release: (function, architecture).
fn every_zip() -> impl Iterator<Item = (LambdaFunction, Arch)> {
    Arch::ALL
        .into_iter()
        .flat_map(|arch| LambdaFunction::ALL.map(|f| (f, arch)))
}

#[test]
fn exactly_the_four_keys_of_the_layout() {
    let (out, artefacts) = built();
    let version = Release::load(&workspace_root()).unwrap().version;
    let mut expected: Vec<String> = every_zip()
        .map(|(f, a)| lambda_key(f, &version, a))
        .collect();
    expected.sort();
    let keys: Vec<&str> = artefacts.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, expected, "the manifest lists artefacts sorted by key");
    assert!(keys.contains(&format!("_dist_/lambda/arm64/stop-{version}.zip").as_str()));
    for arch in Arch::ALL {
        expected.push(format!("{}/{SHA256SUMS}", lambda_dir(arch)));
    }
    expected.push(MANIFEST.to_string());
    expected.sort();
    assert_eq!(files_under(out.path()), expected);
}

#[test]
fn bootstrap_alone_at_the_root_executable() {
    for (function, arch) in every_zip() {
        let zip = zip_path(function, arch);
        let test = run(Command::new("unzip").arg("-t").arg(&zip));
        assert!(
            test.status.success(),
            "unzip -t {}: {}",
            zip.display(),
            String::from_utf8_lossy(&test.stdout)
        );
        let entries = entries(&zip);
        let names: Vec<(&str, Option<u32>)> =
            entries.iter().map(|(n, m, _)| (n.as_str(), *m)).collect();
        // A regular file (S_IFREG) with rwxr-xr-x in the external attributes.
        assert_eq!(names, [("bootstrap", Some(0o100755))], "{function} {arch}");
    }
}

/// Static: no program interpreter and no glibc symbol version, so
/// provided.al2023 (glibc 2.34) runs them as any Linux would; started here
/// (aarch64 under qemu, with no C library of that architecture), each
/// reaches its own start-up check.
#[test]
fn bootstraps_are_static_executables_of_their_arch_that_start() {
    let readelf = lava_tools::on_path("readelf").is_some();
    let dir = tempfile::tempdir().unwrap();
    for (function, arch) in every_zip() {
        let bytes = bootstrap(function, arch);
        assert_static_executable(&bytes, arch, &format!("{function} {arch}"));
        let path = dir.path().join(format!("{function}-{arch}"));
        std::fs::write(&path, &bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        // binutils, where installed, must see no interpreter either.
        if readelf {
            let out = run(Command::new("readelf").arg("-lW").arg(&path));
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && !text.contains("INTERP"),
                "{function} {arch}: {text}"
            );
        }
        let started = run(command_for(arch, &path).env_clear());
        let stderr = String::from_utf8_lossy(&started.stderr);
        assert!(
            !started.status.success()
                && stderr.contains("LAVA_REALM environment variable must be set"),
            "{function} {arch}: {:?} {stderr}",
            started.status
        );
    }
}

#[test]
fn no_paths_of_this_machine_inside() {
    let home = binaries::cargo_home().expect("cargo home");
    let root = workspace_root().canonicalize().unwrap();
    for (function, arch) in every_zip() {
        let bytes = bootstrap(function, arch);
        for path in [&home, &root] {
            let needle = path.to_string_lossy();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{function} {arch} embeds {needle}: the zip would differ on another machine"
            );
        }
    }
}

#[test]
fn rebuilding_gives_identical_zips() {
    let (first, _) = built();
    let (second, _) = build();
    let version = Release::load(&workspace_root()).unwrap().version;
    for (function, arch) in every_zip() {
        let key = lambda_key(function, &version, arch);
        let (a, b) = (
            std::fs::read(first.path().join(&key)).unwrap(),
            std::fs::read(second.path().join(&key)).unwrap(),
        );
        assert!(a == b, "{key} differs between two builds");
    }
}

struct Quiet;

impl Progress for Quiet {
    fn started(&self, _: &Step) {}
    fn finished(&self, _: &Step, _: &[Artefact]) {}
}

/// A copy of the workspace sources in which cargo cannot build the Lambda
/// functions: a manifest error fails cargo before it compiles anything, the
/// same path a compile error takes without a full build of the copy.
fn broken_workspace() -> tempfile::TempDir {
    let root = workspace_root();
    let copy = tempfile::tempdir().unwrap();
    let top_level_skipped = |e: &walkdir::DirEntry| {
        e.depth() == 1 && ["target", ".git", "dist"].contains(&e.file_name().to_str().unwrap_or(""))
    };
    let walk = walkdir::WalkDir::new(&root)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !top_level_skipped(e));
    for entry in walk {
        let entry = entry.unwrap();
        let to = copy.path().join(entry.path().strip_prefix(&root).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    let manifest = copy.path().join("lambda/dispatch/Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str("\nthis is not TOML\n");
    std::fs::write(&manifest, text).unwrap();
    // The archives' timestamp is the HEAD commit's.
    for args in [
        &["init", "-q"][..],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "t",
        ],
    ] {
        assert!(
            run(Command::new("git").arg("-C").arg(copy.path()).args(args))
                .status
                .success()
        );
    }
    copy
}

#[test]
fn a_failed_build_fails_dist_before_anything_is_written() {
    let copy = broken_workspace();
    let release = Release::load(copy.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let older = out.path().join(LAMBDA_PREFIX).join("dispatch-8.2.0.zip");
    std::fs::create_dir_all(older.parent().unwrap()).unwrap();
    std::fs::write(&older, b"an older release").unwrap();
    let options = DistOptions {
        only: vec![Component::Lambda],
        out: out.path().to_path_buf(),
        ..Default::default()
    };
    let plan = lava_builder::plan(&release, &options).unwrap();
    let err = lava_builder::execute(&release, &plan, &Quiet).unwrap_err();
    let message = err.to_string();
    assert!(err.is_input(), "{message}");
    assert!(
        message.starts_with("cargo zigbuild of lava-dispatch, ")
            && message.contains("lambda/dispatch/Cargo.toml"),
        "{message}"
    );
    assert_eq!(
        files_under(out.path()),
        [format!("{LAMBDA_PREFIX}/dispatch-8.2.0.zip")]
    );
}
