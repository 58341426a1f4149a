//! `dist`: plan which artefacts a release needs, then build exactly that plan
//! into a directory laid out as the S3 code area.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use lava_layout::{
    boot_binary_key, boot_copy_key, boot_script_key, cfn_keys, framework_key, has_sums, lambda_key,
    pkg_key, Arch, CfnTemplate, Component, LambdaFunction, PackageName, Runtime, Sums, Version,
    SHA256SUMS,
};
use serde::{Deserialize, Serialize};

use crate::binaries::{self, Binaries, Shipped};
use crate::manifest::{self, Manifest};
use crate::release::Release;
use crate::source::{SourceTree, WorkerSource};
use crate::toolchain::{self, Missing, Toolchain};
use crate::{bundle, lambda, BuildError};

/// Components `dist` builds; the others have their own commands.
pub const DIST_COMPONENTS: [Component; 5] = [
    Component::Cfn,
    Component::Lambda,
    Component::Pkg,
    Component::Framework,
    Component::Boot,
];

/// What the caller asked for; `None`/empty means the release defaults.
#[derive(Debug, Default)]
pub struct DistOptions {
    pub only: Vec<Component>,
    pub runtimes: Option<Vec<Runtime>>,
    pub worker_source: Option<WorkerSource>,
    pub out: PathBuf,
    /// Architectures deliberately left out of the release (`--skip-arch`):
    /// their bundles, Lambda zips and lava-boot.
    pub skip_archs: Vec<Arch>,
}

/// One unit of work of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Cfn(CfnTemplate),
    /// The four Lambda zips for an architecture.
    Lambda(Arch),
    Bundle(Runtime),
    Framework,
    BootScripts(Vec<String>),
    /// `lava-boot` for workers of an architecture.
    BootBinary(Arch),
}

impl Step {
    pub fn component(&self) -> Component {
        match self {
            Step::Cfn(_) => Component::Cfn,
            Step::Lambda(_) => Component::Lambda,
            Step::Bundle(_) => Component::Pkg,
            Step::Framework => Component::Framework,
            Step::BootScripts(_) | Step::BootBinary(_) => Component::Boot,
        }
    }

    /// The architecture of what the step builds, if it is for one.
    pub fn arch(&self) -> Option<Arch> {
        match self {
            Step::Bundle(runtime) => Some(runtime.arch),
            _ => self.binary_arch(),
        }
    }

    /// The architecture whose Rust binaries the step ships, if it ships any.
    fn binary_arch(&self) -> Option<Arch> {
        match self {
            Step::Lambda(arch) | Step::BootBinary(arch) => Some(*arch),
            _ => None,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Cfn(t) => write!(f, "cfn {}", t.stem()),
            Step::Lambda(arch) => write!(f, "lambda functions ({})", arch.ami()),
            Step::Bundle(r) => write!(f, "pkg {r}"),
            Step::Framework => f.write_str("framework"),
            Step::BootScripts(_) => f.write_str("boot scriptlets"),
            Step::BootBinary(arch) => write!(f, "boot lava-boot ({arch})"),
        }
    }
}

/// Everything a dist run will do, decided before anything is written.
#[derive(Debug)]
pub struct Plan {
    pub version: Version,
    pub out: PathBuf,
    pub source: WorkerSource,
    pub steps: Vec<Step>,
    /// How each architecture's binaries are built: a toolchain found here, or
    /// what `execute` installs first.
    pub toolchains: BTreeMap<Arch, Result<Toolchain, Missing>>,
    /// Artefacts deliberately left out, each with why: reported, not errors.
    pub skipped: Vec<String>,
}

impl Plan {
    /// The code-area keys each step writes, in step order.
    pub fn outputs(&self, step: &Step) -> Vec<String> {
        let v = &self.version;
        match step {
            Step::Cfn(t) => cfn_keys(*t, v).to_vec(),
            Step::Lambda(arch) => LambdaFunction::ALL
                .into_iter()
                .map(|f| lambda_key(f, v, *arch))
                .collect(),
            Step::Bundle(r) => {
                let name = PackageName::New {
                    version: v.clone(),
                    runtime: r.clone(),
                };
                vec![pkg_key(&r.os, &name)]
            }
            Step::Framework => vec![framework_key(v)],
            // Each scriptlet where root.boot.sh runs it, and its copy beside
            // lava-boot, which that directory's SHA256SUMS lists.
            Step::BootScripts(names) => names
                .iter()
                .flat_map(|n| [boot_script_key(n), boot_copy_key(n)])
                .collect(),
            Step::BootBinary(arch) => vec![boot_binary_key(*arch)],
        }
    }

    /// What `execute` installs before it builds, one line per architecture.
    pub fn provisions(&self) -> Vec<String> {
        self.toolchains
            .values()
            .filter_map(|t| t.as_ref().err())
            .map(|m| format!("{}: dist installs it before building", m.why()))
            .collect()
    }

    fn needs_source(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Bundle(_) | Step::Framework))
    }
}

/// A file dist wrote, as the summary, `--json` and `manifest.json` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artefact {
    /// Its key below the code area (its path below `dist/`).
    pub key: String,
    /// cfn, lambda, pkg, framework or boot; cli for `lavactl`, which is
    /// not in the code area (its key is its name in its own directory).
    pub component: String,
    /// A worker bundle's runtime (`amzn2023-py3.11-x86_64`).
    pub runtime: Option<String>,
    /// The architecture of a bundle, a Lambda zip, lava-boot or lavactl
    /// (`uname -m`).
    pub arch: Option<String>,
    pub size: u64,
    pub sha256: String,
}

/// Told about each step as it runs (progress bars or plain lines).
pub trait Progress {
    fn started(&self, step: &Step);
    fn finished(&self, step: &Step, artefacts: &[Artefact]);
}

/// Decide the steps; reads only the workspace, never the network.
pub fn plan(release: &Release, options: &DistOptions) -> Result<Plan, BuildError> {
    for c in &options.only {
        if !DIST_COMPONENTS.contains(c) {
            // Only ami is left out: it has its own command.
            return Err(BuildError::Input(format!(
                "dist cannot build component {c:?}: the Oracle zips are staged by `cargo xtask ami stage`",
                c = c.name()
            )));
        }
    }
    let wanted = |c: Component| options.only.is_empty() || options.only.contains(&c);
    let skip = |arch: Arch| options.skip_archs.contains(&arch);
    let runtimes = match &options.runtimes {
        Some(chosen) => {
            if let Some(r) = chosen.iter().find(|r| skip(r.arch)) {
                return Err(BuildError::Input(format!(
                    "--runtime {r} is for {}, which --skip-arch leaves out",
                    r.arch
                )));
            }
            chosen.clone()
        }
        None => release.runtimes.clone(),
    };
    let (runtimes, left_out): (Vec<Runtime>, Vec<Runtime>) =
        runtimes.into_iter().partition(|r| !skip(r.arch));
    let mut steps = Vec::new();
    if wanted(Component::Cfn) {
        steps.extend(CfnTemplate::ALL.into_iter().map(Step::Cfn));
    }
    // Every realm picks its functions' architecture (lambdaArchitecture),
    // whatever its workers run: the zips are built for both.
    if wanted(Component::Lambda) {
        steps.extend(
            Arch::ALL
                .into_iter()
                .filter(|a| !skip(*a))
                .map(Step::Lambda),
        );
    }
    if wanted(Component::Pkg) {
        for r in &runtimes {
            r.wheel_platform()
                .map_err(|e| BuildError::Input(format!("runtime {r}: {e}")))?;
        }
        steps.extend(runtimes.iter().cloned().map(Step::Bundle));
    }
    if wanted(Component::Framework) {
        steps.push(Step::Framework);
    }
    if wanted(Component::Boot) {
        steps.push(Step::BootScripts(boot_scripts(
            &release.root.join("misc/boot"),
        )?));
        let archs: BTreeSet<Arch> = runtimes.iter().map(|r| r.arch).collect();
        steps.extend(archs.into_iter().map(Step::BootBinary));
    }
    let skipped = options
        .skip_archs
        .iter()
        .map(|arch| {
            let mut what = Vec::new();
            if wanted(Component::Lambda) {
                what.push(format!("{} Lambda zips", arch.ami()));
            }
            if wanted(Component::Boot) {
                what.push(format!("lava-boot-{arch}"));
            }
            if wanted(Component::Pkg) {
                what.extend(
                    left_out
                        .iter()
                        .filter(|r| r.arch == *arch)
                        .map(|r| format!("bundle {r}")),
                );
            }
            format!("{arch} left out (--skip-arch {arch}): {}", what.join(", "))
        })
        .collect();
    // Finding a toolchain reads only this machine; installing one waits for
    // `execute`. One this machine cannot install fails the plan.
    let toolchains =
        toolchain::find_all(&release.root, steps.iter().filter_map(Step::binary_arch))?;
    Ok(Plan {
        version: release.version.clone(),
        out: options.out.clone(),
        source: options
            .worker_source
            .clone()
            .unwrap_or_else(|| release.worker_source.clone()),
        steps,
        toolchains,
        skipped,
    })
}

/// Execute `plan`. Inputs that can be wrong (the worker source, uv, the
/// templates, the scriptlets' includes, the Rust code) are checked before the
/// first artefact is built, and the artefacts move into `out` only when every
/// one is built, so a failed run leaves `out` as it was. Returns what
/// `out/manifest.json` now says: the artefacts of this run.
pub fn execute(
    release: &Release,
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<Manifest, BuildError> {
    let mtime = lava_archive::source_date_epoch(&release.root)?;
    let work =
        tempfile::tempdir().map_err(|e| BuildError::io(Path::new("temporary directory"), e))?;
    let source = if plan.needs_source() {
        Some(plan.source.fetch(&plan.version, work.path())?)
    } else {
        None
    };
    let uv = if plan.steps.iter().any(|s| matches!(s, Step::Bundle(_))) {
        Some(lava_tools::uv()?)
    } else {
        None
    };
    let rendered = render_templates(release, plan)?;
    let scriptlets = assemble_scriptlets(release, plan)?;
    // Last of the checks, being the slowest: a compile error leaves `out` untouched.
    // Every missing toolchain is installed before the first (long) build.
    let toolchains = plan
        .toolchains
        .values()
        .map(|found| match found {
            Ok(toolchain) => Ok(toolchain.clone()),
            Err(missing) => toolchain::provision(&release.root, missing),
        })
        .collect::<Result<Vec<Toolchain>, BuildError>>()?;
    let binaries = toolchains
        .iter()
        .map(|toolchain| Ok((toolchain.arch, binaries::build(release, toolchain)?)))
        .collect::<Result<BTreeMap<Arch, Binaries>, BuildError>>()?;

    // Artefacts are built in a staging directory and move in only once all
    // are built: a step failing late (a missing wheel) leaves `out` as it was.
    let stage = staging_beside(&plan.out)?;
    let mut artefacts = Vec::new();
    for step in &plan.steps {
        progress.started(step);
        let keys = plan.outputs(step);
        let dest = |key: &str| stage.path().join(key);
        for key in &keys {
            let dir = dest(key)
                .parent()
                .expect("keys have a directory")
                .to_path_buf();
            std::fs::create_dir_all(&dir).map_err(|e| BuildError::io(&dir, e))?;
        }
        match step {
            Step::Cfn(t) => {
                let r = &rendered[t];
                write_file(&dest(&keys[0]), r.json.as_bytes(), false)?;
                write_file(&dest(&keys[1]), r.markdown.as_bytes(), false)?;
                write_file(&dest(&keys[2]), r.html.as_bytes(), false)?;
            }
            Step::Lambda(arch) => {
                for (function, key) in LambdaFunction::ALL.into_iter().zip(&keys) {
                    let binary = binaries[arch].path(Shipped::Lambda(function));
                    lambda::zip(binary, mtime, &dest(key))?;
                }
            }
            Step::Bundle(runtime) => {
                let (uv, source) = (
                    uv.as_ref().expect("uv found"),
                    source.as_ref().expect("source fetched"),
                );
                bundle::build(
                    uv,
                    source,
                    &release.root.join("misc"),
                    runtime,
                    mtime,
                    &dest(&keys[0]),
                )?;
            }
            Step::Framework => framework(
                source.as_ref().expect("source fetched"),
                mtime,
                &dest(&keys[0]),
            )?,
            Step::BootScripts(names) => {
                for name in names {
                    for key in [boot_script_key(name), boot_copy_key(name)] {
                        write_file(&dest(&key), scriptlets[name].as_bytes(), true)?;
                    }
                }
            }
            Step::BootBinary(arch) => {
                let src = binaries[arch].path(Shipped::Boot);
                let bytes = std::fs::read(src).map_err(|e| BuildError::io(src, e))?;
                write_file(&dest(&keys[0]), &bytes, true)?;
            }
        }
        let made = keys
            .iter()
            .map(|k| describe(stage.path(), k, step))
            .collect::<Result<Vec<_>, _>>()?;
        progress.finished(step, &made);
        artefacts.extend(made);
    }
    let manifest = Manifest::new(&plan.version, manifest::commit(&release.root), &artefacts);
    publish(stage.path(), &plan.out, &manifest)?;
    Ok(manifest)
}

/// Move the artefacts of `manifest`, built or copied into `stage` (on the
/// file system of `out`), into `out`; then rewrite `SHA256SUMS` where they
/// landed and write the manifest. dist and `dist merge` end here, so one
/// machine's `dist/` and merged shards come out the same.
pub(crate) fn publish(stage: &Path, out: &Path, manifest: &Manifest) -> Result<(), BuildError> {
    for artefact in &manifest.artefacts {
        let (from, to) = (stage.join(&artefact.key), out.join(&artefact.key));
        let dir = to.parent().expect("keys have a directory");
        std::fs::create_dir_all(dir).map_err(|e| BuildError::io(dir, e))?;
        std::fs::rename(&from, &to).map_err(|e| BuildError::io(&to, e))?;
    }
    write_sums(out, &manifest.artefacts)?;
    manifest.write(out)
}

/// The staging directory of a run that writes into `out`: beside it, on the
/// same file system, so moving artefacts in is a rename.
pub(crate) fn staging_beside(out: &Path) -> Result<tempfile::TempDir, BuildError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| BuildError::io(&parent, e))?;
    tempfile::Builder::new()
        .prefix(".dist-staging-")
        .tempdir_in(&parent)
        .map_err(|e| BuildError::io(&parent, e))
}

fn render_templates(
    release: &Release,
    plan: &Plan,
) -> Result<BTreeMap<CfnTemplate, lava_templates::Rendered>, BuildError> {
    let mut rendered = BTreeMap::new();
    for step in &plan.steps {
        if let Step::Cfn(t) = step {
            let path = release.root.join("cfn").join(t.source_name());
            let text = std::fs::read_to_string(&path).map_err(|e| BuildError::io(&path, e))?;
            let r = lava_templates::render(
                &text,
                &path.display().to_string(),
                &plan.version.to_string(),
            )
            .map_err(|e| BuildError::Input(e.to_string()))?;
            rendered.insert(*t, r);
        }
    }
    Ok(rendered)
}

/// The boot scriptlets of `plan` as they ship, by name: with the helpers of
/// misc/lib they include.
fn assemble_scriptlets(
    release: &Release,
    plan: &Plan,
) -> Result<BTreeMap<String, String>, BuildError> {
    let misc = release.root.join("misc");
    let mut assembled = BTreeMap::new();
    for step in &plan.steps {
        if let Step::BootScripts(names) = step {
            for name in names {
                let text = lava_scripts::assemble_file(&misc, &format!("boot/{name}"))
                    .map_err(|e| BuildError::Input(e.to_string()))?;
                assembled.insert(name.clone(), text);
            }
        }
    }
    Ok(assembled)
}

/// The boot scriptlets: every `*.sh` directly in `misc/boot`, in run order.
fn boot_scripts(dir: &Path) -> Result<Vec<String>, BuildError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| BuildError::io(dir, e))? {
        let entry = entry.map_err(|e| BuildError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_file() && name.ends_with(".sh") {
            names.push(name);
        }
    }
    names.sort();
    if names.is_empty() {
        return Err(BuildError::Input(format!(
            "{}: no boot scriptlets (*.sh)",
            dir.display()
        )));
    }
    Ok(names)
}

/// The job framework zip: the worker source's cookiecutter template under one
/// top directory, the shape cookiecutter accepts a zipped template in.
fn framework(source: &SourceTree, mtime: u64, out: &Path) -> Result<(), BuildError> {
    let dir = source.framework_dir();
    if !dir.join("cookiecutter.json").is_file() {
        return Err(BuildError::Input(format!(
            "worker source has no job framework template: {} is missing",
            dir.join("cookiecutter.json").display()
        )));
    }
    let mut tree = lava_archive::Tree::new();
    tree.add_dir_all(&dir, "lava-job-framework")?;
    tree.remove_where(|p| {
        p.ends_with(".pyc") || p.split('/').any(|s| s == "__pycache__" || s == ".DS_Store")
    });
    lava_archive::write_zip(&tree, mtime, out)?;
    Ok(())
}

pub(crate) fn write_file(path: &Path, bytes: &[u8], executable: bool) -> Result<(), BuildError> {
    let mode = if executable { 0o755 } else { 0o644 };
    lava_files::write_bytes_atomic(path, mode, bytes).map_err(|e| BuildError::io(path, e))
}

fn sha256_file(path: &Path) -> Result<(u64, String), BuildError> {
    lava_files::sha256_file(path).map_err(|e| BuildError::io(path, e))
}

fn describe(out: &Path, key: &str, step: &Step) -> Result<Artefact, BuildError> {
    let (size, sha256) = sha256_file(&out.join(key))?;
    Ok(Artefact {
        key: key.to_string(),
        component: step.component().to_string(),
        runtime: match step {
            Step::Bundle(runtime) => Some(runtime.to_string()),
            _ => None,
        },
        arch: step.arch().map(|a| a.to_string()),
        size,
        sha256,
    })
}

/// Rewrite `SHA256SUMS` in every directory this run wrote to. It lists every
/// file of the directory, so versions built earlier and kept side by side stay
/// verifiable.
pub(crate) fn write_sums(out: &Path, artefacts: &[Artefact]) -> Result<(), BuildError> {
    let dirs: BTreeSet<PathBuf> = artefacts
        .iter()
        .filter(|a| has_sums(a.key.rsplit_once('/').map_or("", |(dir, _)| dir)))
        .map(|a| {
            out.join(&a.key)
                .parent()
                .expect("artefact in a directory")
                .to_path_buf()
        })
        .collect();
    for dir in dirs {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| BuildError::io(&dir, e))? {
            let entry = entry.map_err(|e| BuildError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Skip leftovers of a concurrent or interrupted atomic write.
            if entry.path().is_file()
                && name != SHA256SUMS
                && !name.starts_with(lava_files::TEMP_PREFIX)
            {
                names.push(name);
            }
        }
        let mut sums = Sums::default();
        for name in names {
            let (_, sha) = sha256_file(&dir.join(&name))?;
            sums.insert(name, sha);
        }
        write_file(&dir.join(SHA256SUMS), sums.render().as_bytes(), false)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release() -> Release {
        Release::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap()
    }

    #[test]
    fn default_plan_covers_the_release() {
        let release = release();
        let plan = plan(
            &release,
            &DistOptions {
                out: "dist".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let keys: Vec<String> = plan.steps.iter().flat_map(|s| plan.outputs(s)).collect();
        let v = &release.version;
        for expected in [
            format!("_dist_/cfn/v{v}/lava-realm.cfn.json"),
            format!("_dist_/cfn/v{v}/lava-worker.cfn.md"),
            format!("_dist_/cfn/v{v}/lava-worker.cfn.html"),
            format!("_dist_/pkg/amzn2023/lava-{v}-amzn2023-py3.11-aarch64.tar.bz2"),
            format!("_dist_/pkg/amzn2023/lava-{v}-amzn2023-py3.12-x86_64.tar.bz2"),
            format!("_dist_/framework/lava-job-framework-{v}.zip"),
            format!("_dist_/lambda/x86_64/dispatch-{v}.zip"),
            "_boot_/50-lava.sh".to_string(),
        ] {
            assert!(keys.contains(&expected), "{expected} not in {keys:?}");
        }
    }

    #[test]
    fn only_and_runtime_narrow_the_plan() {
        let options = DistOptions {
            only: vec![Component::Pkg],
            runtimes: Some(vec!["amzn2023-py3.11-x86_64".parse().unwrap()]),
            out: "dist".into(),
            ..Default::default()
        };
        let plan = plan(&release(), &options).unwrap();
        assert_eq!(
            plan.steps,
            vec![Step::Bundle("amzn2023-py3.11-x86_64".parse().unwrap())]
        );
    }

    #[test]
    fn only_lambda_plans_the_zips_of_both_architectures() {
        let options = DistOptions {
            only: vec![Component::Lambda],
            out: "dist".into(),
            ..Default::default()
        };
        let release = release();
        let plan = plan(&release, &options).unwrap();
        let v = &release.version;
        assert_eq!(
            plan.steps,
            [Step::Lambda(Arch::X86_64), Step::Lambda(Arch::Aarch64)]
        );
        assert_eq!(
            plan.outputs(&plan.steps[0]),
            ["dispatch", "metrics", "s3trigger", "stop"]
                .map(|f| format!("_dist_/lambda/x86_64/{f}-{v}.zip"))
        );
        assert_eq!(
            plan.outputs(&plan.steps[1])[0],
            format!("_dist_/lambda/arm64/dispatch-{v}.zip")
        );
        assert_eq!(
            plan.toolchains.keys().copied().collect::<Vec<_>>(),
            Arch::ALL
        );
        assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);
    }

    #[test]
    fn only_boot_plans_the_scriptlets_and_lava_boot_of_each_matrix_arch() {
        let options = DistOptions {
            only: vec![Component::Boot],
            out: "dist".into(),
            ..Default::default()
        };
        let plan = plan(&release(), &options).unwrap();
        assert!(
            matches!(&plan.steps[0], Step::BootScripts(names) if names.contains(&"50-lava.sh".to_string()))
        );
        assert_eq!(
            plan.steps[1..],
            [
                Step::BootBinary(Arch::X86_64),
                Step::BootBinary(Arch::Aarch64)
            ]
        );
        assert_eq!(
            plan.outputs(&plan.steps[2]),
            ["_dist_/boot/lava-boot-aarch64"]
        );
        // An x86_64-only matrix ships x86_64's lava-boot alone.
        let plan = super::plan(
            &release(),
            &DistOptions {
                runtimes: Some(vec!["amzn2023-py3.12-x86_64".parse().unwrap()]),
                ..options
            },
        )
        .unwrap();
        assert_eq!(plan.steps[1..], [Step::BootBinary(Arch::X86_64)]);
    }

    #[test]
    fn skip_arch_leaves_out_every_artefact_of_the_arch_and_says_so() {
        let release = release();
        let plan = plan(
            &release,
            &DistOptions {
                out: "dist".into(),
                skip_archs: vec![Arch::Aarch64],
                ..Default::default()
            },
        )
        .unwrap();
        let keys: Vec<String> = plan.steps.iter().flat_map(|s| plan.outputs(s)).collect();
        assert!(
            !keys
                .iter()
                .any(|k| k.contains("aarch64") || k.contains("arm64")),
            "{keys:?}"
        );
        assert!(keys.contains(&"_dist_/boot/lava-boot-x86_64".to_string()));
        assert_eq!(
            plan.toolchains.keys().copied().collect::<Vec<_>>(),
            [Arch::X86_64]
        );
        assert_eq!(
            plan.skipped,
            [
                "aarch64 left out (--skip-arch aarch64): arm64 Lambda zips, lava-boot-aarch64, \
              bundle amzn2023-py3.11-aarch64, bundle amzn2023-py3.12-aarch64"
            ]
        );
        let err = super::plan(
            &release,
            &DistOptions {
                runtimes: Some(vec!["amzn2023-py3.11-arm64".parse().unwrap()]),
                skip_archs: vec![Arch::Aarch64],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            err.is_input()
                && err
                    .to_string()
                    .contains("--runtime amzn2023-py3.11-aarch64 is for aarch64"),
            "{err}"
        );
    }

    #[test]
    fn components_dist_does_not_build_are_refused_with_a_reason() {
        let options = DistOptions {
            only: vec![Component::Ami],
            out: "dist".into(),
            ..Default::default()
        };
        let err = plan(&release(), &options).unwrap_err();
        assert!(
            err.is_input() && err.to_string().contains("ami stage"),
            "{err}"
        );
    }
}
