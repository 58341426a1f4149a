//! `dist` end to end: the default release built from PyPI's jinlava, checked
//! with the tools an operator and a worker would use on it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lava_builder::binaries::{self, Shipped};
use lava_builder::{DistOptions, Release};
use lava_layout::{
    boot_binary_key, cli_name, Arch, Component, PackageName, Sums, Version, SHA256SUMS,
};
use lava_tests::{
    assert_static_executable, build_dist, command_for, default_dist, files_under, lavactl_built,
    run, tool, workspace_root,
};

fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[test]
fn layout_is_exactly_the_seed_code_area() {
    let (out, _) = default_dist();
    let v = version();
    let mut expected = vec![
        // _boot_/ holds only scriptlets (upstream's root.boot.sh runs every
        // file there); their copies and lava-boot are listed beside it.
        "_boot_/10-secupdate.sh".to_string(),
        "_boot_/20-cloudwatch.sh".into(),
        "_boot_/50-lava.sh".into(),
        "_boot_/90-motd.sh".into(),
        "_dist_/boot/10-secupdate.sh".into(),
        "_dist_/boot/20-cloudwatch.sh".into(),
        "_dist_/boot/50-lava.sh".into(),
        "_dist_/boot/90-motd.sh".into(),
        "_dist_/boot/SHA256SUMS".into(),
        "_dist_/boot/lava-boot-x86_64".into(),
        "_dist_/boot/lava-boot-aarch64".into(),
        format!("_dist_/cfn/v{v}/SHA256SUMS"),
        format!("_dist_/framework/SHA256SUMS"),
        format!("_dist_/framework/lava-job-framework-{v}.zip"),
        "_dist_/pkg/amzn2023/SHA256SUMS".into(),
        "manifest.json".into(),
    ];
    for dir in ["_dist_/lambda/x86_64", "_dist_/lambda/arm64"] {
        expected.push(format!("{dir}/SHA256SUMS"));
        for f in ["dispatch", "metrics", "s3trigger", "stop"] {
            expected.push(format!("{dir}/{f}-{v}.zip"));
        }
    }
    for t in ["common", "realm", "worker"] {
        expected.push(format!("_dist_/cfn/v{v}/lava-{t}.cfn.json"));
        expected.push(format!("_dist_/cfn/v{v}/lava-{t}.cfn.md"));
        expected.push(format!("_dist_/cfn/v{v}/lava-{t}.cfn.html"));
    }
    for py in ["3.11", "3.12"] {
        for arch in ["x86_64", "aarch64"] {
            expected.push(format!(
                "_dist_/pkg/amzn2023/lava-{v}-amzn2023-py{py}-{arch}.tar.bz2"
            ));
        }
    }
    expected.sort();
    assert_eq!(files_under(out.path()), expected);
}

/// Every file below `dir` with its mode and sha256.
fn snapshot(dir: &Path) -> BTreeMap<String, (u32, String)> {
    use std::os::unix::fs::PermissionsExt;
    files_under(dir)
        .into_iter()
        .map(|key| {
            let path = dir.join(&key);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            let (_, sha256) = lava_files::sha256_file(&path).unwrap();
            (key, (mode, sha256))
        })
        .collect()
}

/// The release built again as two shards, as the release workflow builds it
/// on two runners (everything x86_64 and the templates, framework and
/// scriptlets on one; the aarch64 zips, bundles and lava-boot on the other),
/// and merged: byte for byte, mode for mode, the single-machine dist. Every
/// artefact is rebuilt in one shard or both, so this also shows that
/// rebuilding gives identical bytes.
#[test]
fn shards_merged_are_the_single_machine_dist() {
    let (one, built) = default_dist();
    let (x86_64, result) = build_dist(DistOptions {
        skip_archs: vec![Arch::Aarch64],
        ..Default::default()
    });
    result.expect("the x86_64 shard");
    let (aarch64, result) = build_dist(DistOptions {
        only: vec![Component::Lambda, Component::Pkg, Component::Boot],
        skip_archs: vec![Arch::X86_64],
        ..Default::default()
    });
    result.expect("the aarch64 shard");
    let merged = tempfile::tempdir().unwrap();
    let out = merged.path().join("dist");
    let shards = [x86_64.path().to_path_buf(), aarch64.path().to_path_buf()];
    let plan = lava_builder::merge::plan(&shards, &out).expect("merge plan");
    lava_builder::merge::execute(&plan).expect("merge");

    assert_eq!(snapshot(&out), snapshot(one.path()));
    let manifest = lava_builder::Manifest::read(&out).unwrap();
    assert_eq!(manifest.artefacts.len(), built.len());
    assert_eq!(manifest.version, version());
}

#[test]
fn the_manifest_lists_every_artefact_and_follows_its_schema() {
    let (out, built) = default_dist();
    let text = std::fs::read_to_string(out.path().join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    lava_tests::assert_valid("manifest.schema.json", &manifest);
    // What `dist --json` prints for it.
    let parsed = lava_builder::Manifest::read(out.path()).unwrap();
    let report = lava_builder::Report {
        manifest: &parsed,
        out: out.path(),
        skipped: &[],
    };
    lava_tests::assert_valid(
        "dist-report.schema.json",
        &serde_json::to_value(&report).unwrap(),
    );
    assert_eq!(manifest["version"], version());
    let commit = manifest["commit"]
        .as_str()
        .expect("built in a git checkout");
    let head = run(Command::new("git")
        .arg("-C")
        .arg(workspace_root())
        .args(["rev-parse", "HEAD"]));
    assert!(
        commit.starts_with(String::from_utf8_lossy(&head.stdout).trim()),
        "{commit}"
    );
    // Every file but the checksum files and the manifest itself, with the
    // size and digest on disk, sorted by key.
    let listed: Vec<String> = manifest["artefacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap().to_string())
        .collect();
    let on_disk: Vec<String> = files_under(out.path())
        .into_iter()
        .filter(|k| !k.ends_with("SHA256SUMS") && k != "manifest.json")
        .collect();
    assert_eq!(listed, on_disk);
    assert_eq!(listed.len(), built.len());
    for a in manifest["artefacts"].as_array().unwrap() {
        let key = a["key"].as_str().unwrap();
        let (size, sha256) = lava_files::sha256_file(&out.path().join(key)).unwrap();
        assert_eq!(
            (a["size"].as_u64(), a["sha256"].as_str()),
            (Some(size), Some(sha256.as_str())),
            "{key}"
        );
    }
    // Runtime and arch as the names say: a bundle has both, a zip of the
    // arm64 directory is aarch64, a template neither.
    let entry = |key: &str| {
        manifest["artefacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .unwrap_or_else(|| panic!("{key} is not in the manifest"))
            .clone()
    };
    let v = version();
    let bundle = entry(&format!(
        "_dist_/pkg/amzn2023/lava-{v}-amzn2023-py3.12-aarch64.tar.bz2"
    ));
    assert_eq!(
        (&bundle["component"], &bundle["runtime"], &bundle["arch"]),
        (
            &"pkg".into(),
            &"amzn2023-py3.12-aarch64".into(),
            &"aarch64".into()
        )
    );
    let zip = entry(&format!("_dist_/lambda/arm64/stop-{v}.zip"));
    assert_eq!(
        (&zip["component"], &zip["arch"]),
        (&"lambda".into(), &"aarch64".into())
    );
    let template = entry(&format!("_dist_/cfn/v{v}/lava-realm.cfn.json"));
    assert_eq!(
        (
            &template["component"],
            &template["runtime"],
            &template["arch"]
        ),
        (
            &"cfn".into(),
            &serde_json::Value::Null,
            &serde_json::Value::Null
        )
    );
}

#[test]
fn sha256sums_verify_every_file() {
    let (out, _) = default_dist();
    for sums in files_under(out.path())
        .iter()
        .filter(|f| f.ends_with("SHA256SUMS"))
    {
        let dir = out.path().join(sums).parent().unwrap().to_path_buf();
        let listed = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
        let files = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_type().unwrap().is_file())
            .count()
            - 1;
        assert_eq!(
            listed.lines().count(),
            files,
            "{sums} does not list every file"
        );
        let check = run(Command::new("sha256sum")
            .arg("--check")
            .arg("--strict")
            .arg("SHA256SUMS")
            .current_dir(&dir));
        assert!(
            check.status.success(),
            "{sums}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
}

#[test]
fn templates_pass_cfn_lint_and_carry_the_version() {
    let (out, _) = default_dist();
    let dir = out.path().join(format!("_dist_/cfn/v{}", version()));
    for t in ["common", "realm", "worker"] {
        let path = dir.join(format!("lava-{t}.cfn.json"));
        let lint = run(Command::new(tool("cfn-lint")).arg(&path));
        assert!(
            lint.status.success(),
            "cfn-lint {t}:\n{}{}",
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let param = &json["Parameters"]["Version"];
        assert_eq!(param["Default"], version(), "{t}");
        assert_eq!(
            param["AllowedValues"],
            serde_json::json!([version()]),
            "{t}"
        );
    }
}

#[test]
fn archives_pass_the_stock_tools() {
    let (out, _) = default_dist();
    let files = files_under(out.path());
    let bundles: Vec<_> = files.iter().filter(|f| f.ends_with(".tar.bz2")).collect();
    assert_eq!(bundles.len(), 4);
    for b in bundles {
        let path = out.path().join(b);
        assert!(
            run(Command::new("bzip2").arg("-t").arg(&path))
                .status
                .success(),
            "bzip2 -t {b}"
        );
        let list = run(Command::new("tar").arg("-tjf").arg(&path));
        assert!(list.status.success(), "tar -tjf {b}");
        let names = String::from_utf8_lossy(&list.stdout);
        for required in [
            "install.sh",
            "lava-run",
            "lava/version.py",
            "bin/lava-version",
            "pylib/boto3/__init__.py",
            "etc/jinja",
            "etc/dyn-put-item",
            "etc/yaml2json",
        ] {
            assert!(names.lines().any(|l| l == required), "{b} lacks {required}");
        }
    }
    for z in files.iter().filter(|f| f.ends_with(".zip")) {
        let test = run(Command::new("unzip").arg("-t").arg(out.path().join(z)));
        assert!(
            test.status.success(),
            "unzip -t {z}: {}",
            String::from_utf8_lossy(&test.stdout)
        );
    }
}

/// Every shared library of every bundle (ours, the wheels', those built
/// from sdists) is an ELF of the bundle's architecture needing no glibc
/// newer than its os's.
#[test]
fn shared_libraries_match_the_bundle_architecture_and_glibc() {
    let (out, _) = default_dist();
    for bundle in files_under(out.path())
        .iter()
        .filter(|f| f.ends_with(".tar.bz2"))
    {
        let name = Path::new(bundle).file_name().unwrap().to_str().unwrap();
        let PackageName::New { runtime, .. } = PackageName::parse(name).unwrap() else {
            panic!("{name}")
        };
        let runs_on = binaries::Glibc::of(&runtime.os, &runtime.os.to_string());
        let dir = tempfile::tempdir().unwrap();
        let untar = run(Command::new("tar")
            .arg("-xjf")
            .arg(out.path().join(bundle))
            .arg("-C")
            .arg(dir.path()));
        assert!(untar.status.success());
        let libraries: Vec<String> = files_under(dir.path())
            .into_iter()
            .filter(|f| f.ends_with(".so") || f.contains(".so."))
            .collect();
        for file in &libraries {
            let bytes = std::fs::read(dir.path().join(file)).unwrap();
            if let Err(why) = binaries::check_elf(&bytes, runtime.arch, &runs_on) {
                panic!("{name}: {file}: {why}");
            }
        }
        // PyGreSQL's extension, built from its sdist for this runtime, and
        // pyarrow's, from its wheel.
        let tag = format!(
            "cpython-{}-{}-linux-gnu.so",
            runtime.python.to_string().replace('.', ""),
            runtime.arch.uname()
        );
        for expected in [
            format!("pylib/pg/_pg.{tag}"),
            format!("pylib/pyarrow/lib.{tag}"),
        ] {
            assert!(libraries.contains(&expected), "{name}: no {expected}");
        }
        assert!(
            libraries.len() > 10,
            "{name}: only {} shared libraries",
            libraries.len()
        );
    }
}

/// The host's bundle in `out`.
fn host_bundle(out: &Path) -> PathBuf {
    let python = run(Command::new("python3").args([
        "-c",
        "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
    ]));
    let python = String::from_utf8(python.stdout).unwrap().trim().to_string();
    let arch = Arch::host().expect("known host arch");
    let bundle = out.join(format!(
        "_dist_/pkg/amzn2023/lava-{}-amzn2023-py{python}-{arch}.tar.bz2",
        version()
    ));
    assert!(
        bundle.is_file(),
        "no bundle for the host: {}",
        bundle.display()
    );
    bundle
}

/// The bundle's own install.sh, extracted into `work`, installing it into
/// `work/opt/lava` with its links in `work/bin`.
fn run_installer(work: &Path, bundle: &Path, clean: bool) -> std::process::Output {
    let mut cmd = Command::new(work.join("install.sh"));
    if clean {
        cmd.arg("-c");
    }
    run(cmd
        .arg("-b")
        .arg(work.join("bin"))
        .arg("-d")
        .arg(work.join("opt/lava"))
        .arg(bundle))
}

/// The host's bundle installed as a booting worker installs it: install.sh
/// taken out of the bundle and run with `-b <dir>/bin -d <dir>/opt/lava`.
fn install_host_bundle(out: &Path, clean: bool) -> tempfile::TempDir {
    let bundle = host_bundle(out);
    let work = tempfile::tempdir().unwrap();
    let extract = run(Command::new("tar")
        .arg("-xjf")
        .arg(&bundle)
        .arg("-C")
        .arg(work.path())
        .arg("install.sh"));
    assert!(extract.status.success());
    let first = run_installer(work.path(), &bundle, false);
    assert!(
        first.status.success(),
        "install.sh: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    if clean {
        let again = run_installer(work.path(), &bundle, true);
        assert!(
            again.status.success(),
            "install.sh -c: {}",
            String::from_utf8_lossy(&again.stderr)
        );
    }
    work
}

#[test]
fn host_bundle_installs_with_its_own_installer() {
    let (out, _) = default_dist();
    let work = install_host_bundle(out.path(), true);
    let lava_version =
        run(Command::new(work.path().join("bin/lava-version")).env_remove("PYTHONPATH"));
    assert!(
        lava_version.status.success(),
        "lava-version: {}",
        String::from_utf8_lossy(&lava_version.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&lava_version.stdout).trim(),
        version()
    );

    // A file in the way of a link is warned about and left, and the install
    // succeeds, as upstream's installer goes on past a failed ln.
    let blocked = work.path().join("bin/lava-worker");
    std::fs::remove_file(&blocked).unwrap();
    std::fs::write(&blocked, b"an operator's own lava-worker").unwrap();
    let again = run_installer(work.path(), &host_bundle(out.path()), false);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(
        stderr.contains("lava-worker exists and is not a link"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&blocked).unwrap(),
        b"an operator's own lava-worker"
    );
}

/// `name==version` pins (and bare names) of a requirements file, with the
/// name normalised as wheels spell it (PEP 503, lowercase, `_`); lines whose
/// `python_version` marker excludes `python` are left out.
fn requirements(text: &str, python: (u32, u32)) -> Vec<(String, Option<String>)> {
    let mut pins = Vec::new();
    for line in text.lines().map(|l| l.split('#').next().unwrap().trim()) {
        if line.is_empty() {
            continue;
        }
        let (spec, marker) = match line.split_once(';') {
            Some((spec, marker)) => (spec.trim(), Some(marker.trim())),
            None => (line, None),
        };
        if let Some(marker) = marker {
            let parts: Vec<&str> = marker.split_whitespace().collect();
            let ["python_version", op, version] = parts[..] else {
                panic!("unexpected marker in {line:?}")
            };
            let (major, minor) = version.trim_matches(['\'', '"']).split_once('.').unwrap();
            let bound = (major.parse().unwrap(), minor.parse().unwrap());
            let applies = match op {
                "<" => python < bound,
                "<=" => python <= bound,
                ">" => python > bound,
                ">=" => python >= bound,
                "==" => python == bound,
                _ => panic!("unexpected operator in {line:?}"),
            };
            if !applies {
                continue;
            }
        }
        let end = spec
            .find(['=', '<', '>', '!', '~', '['])
            .unwrap_or(spec.len());
        let name = spec[..end].trim().to_lowercase().replace(['-', '.'], "_");
        let version = spec.split_once("==").map(|(_, v)| v.trim().to_string());
        pins.push((name, version));
    }
    pins
}

/// Every requirement of both files of the worker source is in the host
/// bundle's `pylib/` at its pinned version, and the extras (one of them
/// built from its sdist) import with the PYTHONPATH `lava-run` gives,
/// without the host's site-packages.
#[test]
fn both_requirement_files_are_installed_and_the_extras_import() {
    let (out, _) = default_dist();
    let work = install_host_bundle(out.path(), false);
    let root = std::fs::canonicalize(work.path().join("bin/lava-version"))
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let pylib = root.join("pylib");
    let mut installed = BTreeMap::new();
    for entry in std::fs::read_dir(&pylib).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "dist-info") {
            continue;
        }
        let metadata = std::fs::read_to_string(path.join("METADATA")).unwrap();
        let field = |key: &str| {
            metadata
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("{}: no {key}", path.display()))
                .trim()
                .to_string()
        };
        installed.insert(
            field("Name:").to_lowercase().replace(['-', '.'], "_"),
            field("Version:"),
        );
    }
    let python = run(Command::new("python3").args([
        "-c",
        "import sys; print(sys.version_info[0], sys.version_info[1])",
    ]));
    let python = String::from_utf8(python.stdout).unwrap();
    let (major, minor) = python.trim().split_once(' ').unwrap();
    let python = (major.parse().unwrap(), minor.parse().unwrap());
    let mut checked = 0;
    for file in ["requirements.txt", "requirements-extra.txt"] {
        let text = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("the bundle has no {file}: {e}"));
        for (name, pinned) in requirements(&text, python) {
            let found = installed
                .get(&name)
                .unwrap_or_else(|| panic!("{file}: {name} is not in pylib/"));
            if let Some(pinned) = pinned {
                assert_eq!(found, &pinned, "{file}: {name}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} requirements");

    // pyodbc needs unixODBC's libodbc.so.2 and pgdb libpq.so.5, as on a
    // worker (the AMI installs them); `cargo xtask test` provides both.
    let imports = "import pyarrow, redshift_connector, pyodbc, pgdb\n\
                   for m in (pyarrow, redshift_connector, pyodbc, pgdb): print(m.__file__)";
    let python = run(Command::new("python3").args(["-S", "-c", imports]).env(
        "PYTHONPATH",
        format!("{}:{}", root.display(), pylib.display()),
    ));
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let files = String::from_utf8(python.stdout).unwrap();
    assert_eq!(files.lines().count(), 4, "{files}");
    for file in files.lines() {
        assert!(
            Path::new(file).starts_with(&pylib),
            "{file} is not from the bundle"
        );
    }
}

/// One run of a helper: `(arguments, stdin, exit status, stdout, part of
/// stderr)`, the expected values those of upstream's helper on the same
/// input but where docs/compatibility.md says otherwise.
type HelperRow = (
    &'static [&'static str],
    &'static str,
    i32,
    &'static str,
    &'static str,
);

/// Upstream's `etc/` helpers, ours, run from the installed bundle by a
/// Python without site-packages (`python3 -S`): jinja2, PyYAML and boto3
/// can only come from the bundle's `pylib/`; dyn-put-item against moto.
#[test]
fn bundle_helpers_run_from_the_installed_bundle() {
    let (out, _) = default_dist();
    let work = install_host_bundle(out.path(), false);
    let etc = work.path().join("opt/lava/etc");
    let fixtures = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("p.yaml", "a: fromfile\nb: 2\n"),
        ("p.json", "{\"b\": \"json\"}\n"),
        ("t1.j2", "T1 {{a}}\n"),
        ("bad.j2", "{{ a \n"),
        ("list.txt", "l1\n l2 \n"),
        (
            "item.json",
            "{\"job_id\": \"x\", \"n\": 1.5, \"l\": [1, {\"a\": null}]}\n",
        ),
        ("empty.json", "{}\n"),
        ("nokey.json", "{\"nokey\": 1}\n"),
    ] {
        std::fs::write(fixtures.path().join(name), text).unwrap();
    }
    let moto = lava_tests::moto::start();
    let create = run(Command::new(tool("aws"))
        .envs(moto.env())
        .args(["dynamodb", "create-table", "--table-name", "jobs"])
        .args([
            "--attribute-definitions",
            "AttributeName=job_id,AttributeType=S",
        ])
        .args(["--key-schema", "AttributeName=job_id,KeyType=HASH"])
        .args(["--billing-mode", "PAY_PER_REQUEST"]));
    assert!(
        create.status.success(),
        "{}",
        String::from_utf8_lossy(&create.stderr)
    );

    let rows: &[(&str, HelperRow)] = &[
        ("yaml2json", (&[], "b: 1\na: [x, 2.5, true, null]\n", 0,
            "{\n    \"a\": [\n        \"x\",\n        2.5,\n        true,\n        null\n    ],\n    \"b\": 1\n}\n", "")),
        ("yaml2json", (&[], "name: café\n", 0, "{\n    \"name\": \"caf\\u00e9\"\n}\n", "")),
        ("yaml2json", (&[], "", 0, "null\n", "")),
        ("yaml2json", (&[], "x: 1\n---\ny: 2\n", 2, "", "yaml2json: Bad YAML")),
        ("yaml2json", (&[], "d: 2024-05-01\n", 3, "", "yaml2json: Cannot convert to JSON")),
        ("yaml2json", (&["x"], "", 1, "", "unrecognized arguments: x")),
        ("jinja", (&[], "Hello {{ name }}!\n", 0, "Hello !\n", "")),
        ("jinja", (&["-p", "a=1", "-p", "a=2", "-p", "b=x=y"], "{{a}} {{b}} {{ a is string }}\n", 0, "2 x=y True\n", "")),
        ("jinja", (&["-f", "p.yaml", "-f", "p.json"], "{{a}} {{b}}\n", 0, "fromfile json\n", "")),
        ("jinja", (&["-p", "l=cli", "-l", "l=list.txt"], "{{ l }}\n", 0, "['l1', 'l2']\n", "")),
        ("jinja", (&["-p", "a=A", "t1.j2", "-"], "S {{a}}", 0, "T1 A\nS A\n", "")),
        ("jinja", (&["-d", "<", "-p", "x=1"], "<{ x }> {{ x }} <% if x %>yes<% endif %><# c #>\n", 0, "1 {{ x }} yes\n", "")),
        ("jinja", (&["-a", "-p", "x=<b>&"], "{{ x }}\n", 0, "&lt;b&gt;&amp;\n", "")),
        ("jinja", (&["-B", "-E"], "[{{ jinja }}{{ environ }}]\n", 0, "[]\n", "")),
        ("jinja", (&["-p", "a=A", "t1.j2", "bad.j2"], "", 1, "", "jinja: bad.j2: unexpected end of template")),
        ("jinja", (&["-p", "novalue"], "x\n", 2, "", "expected name=VALUE, got 'novalue'")),
        ("dyn-put-item", (&["-v"], "", 0, "2.0.1\n", "")),
        ("dyn-put-item", (&["item.json"], "", 2, "", "the following arguments are required: -t/--table")),
        ("dyn-put-item", (&["-t", "jobs", "item.json", "empty.json"], "", 0,
            "Deploy item.json\nDeploy empty.json\n", "dyn-put-item: empty.json: Skipping null file")),
        ("dyn-put-item", (&["-t", "jobs", "nokey.json"], "", 1, "Deploy nokey.json\n", "Missing the key job_id in the item")),
        ("dyn-put-item", (&["-t", "nosuchtable", "item.json"], "", 1, "Deploy item.json\n", "ResourceNotFoundException")),
    ];
    for (helper, (args, stdin, status, stdout, stderr)) in rows {
        let mut command = Command::new("python3");
        command
            .arg("-S")
            .arg(etc.join(helper))
            .args(*args)
            .current_dir(fixtures.path())
            .envs(moto.env())
            .env("JINJAPATH", "")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let what = format!("{helper} {args:?} < {stdin:?}");
        let got_err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(*status), "{what}: {got_err}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            *stdout,
            "{what}: {got_err}"
        );
        assert!(got_err.contains(stderr), "{what}: {got_err}");
    }

    // The item as DynamoDB holds it: the fraction exact, nested types kept.
    let get = run(Command::new(tool("aws"))
        .envs(moto.env())
        .args(["dynamodb", "get-item", "--table-name", "jobs"])
        .args(["--key", r#"{"job_id": {"S": "x"}}"#]));
    let item: serde_json::Value = serde_json::from_slice(&get.stdout).unwrap();
    assert_eq!(
        item["Item"],
        serde_json::json!({"job_id": {"S": "x"}, "n": {"N": "1.5"},
            "l": {"L": [{"N": "1"}, {"M": {"a": {"NULL": true}}}]}})
    );
}

#[test]
fn a_dependency_without_a_wheel_fails_naming_package_and_target() {
    let checkout = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(checkout.path().join("lava")).unwrap();
    std::fs::create_dir_all(checkout.path().join("bin")).unwrap();
    std::fs::write(
        checkout.path().join("lava/VERSION.json"),
        format!("{{\"__version_num__\": \"{}\"}}", version()),
    )
    .unwrap();
    // mysqlclient publishes no Linux wheels, and its sdist does not build
    // without MySQL's client library, which nothing here provides.
    std::fs::write(
        checkout.path().join("requirements.txt"),
        "mysqlclient==2.2.7\n",
    )
    .unwrap();
    std::fs::write(checkout.path().join("requirements-extra.txt"), "").unwrap();
    // The templates are built before the bundle fails: they must not land either.
    let options = DistOptions {
        only: vec![Component::Cfn, Component::Pkg],
        runtimes: Some(vec!["amzn2023-py3.11-aarch64".parse().unwrap()]),
        worker_source: Some(lava_builder::WorkerSource::Dir(
            checkout.path().to_path_buf(),
        )),
        ..Default::default()
    };
    let (out, result) = build_dist(options);
    let err = result.unwrap_err();
    let msg = err.to_string();
    assert!(
        files_under(out.path()).is_empty(),
        "left behind: {:?}",
        files_under(out.path())
    );
    assert!(err.is_input(), "{msg}");
    assert!(
        msg.contains("mysqlclient 2.2.7") && msg.contains("amzn2023-py3.11-aarch64"),
        "{msg}"
    );
}

#[test]
fn worker_scripts_are_shellcheck_clean() {
    let misc = workspace_root().join("misc");
    let scripts: Vec<_> = files_under(&misc)
        .into_iter()
        .filter(|f| f.ends_with(".sh") || f == "lava-run")
        .map(|f| misc.join(f))
        .collect();
    assert!(scripts.len() >= 7, "{scripts:?}");
    let check = run(Command::new(tool("shellcheck")).arg("-x").args(&scripts));
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

/// lava-boot serves every worker of a code area (`_boot_/` is shared),
/// amzn2's glibc 2.26 included: a static executable, which runs (aarch64
/// under qemu, with no C library of that architecture here).
#[test]
fn lava_boot_of_each_arch_is_static_and_runs() {
    let (out, _) = default_dist();
    let bound = Shipped::Boot.runs_on(&Release::load(&workspace_root()).unwrap());
    assert_eq!(
        (bound.version, bound.system.as_str()),
        ((2, 26), "amzn2 workers")
    );
    for arch in Arch::ALL {
        let path = out.path().join(boot_binary_key(arch));
        let bytes = std::fs::read(&path).unwrap();
        assert_static_executable(&bytes, arch, &format!("lava-boot-{arch}"));
        for here in [
            binaries::cargo_home().unwrap(),
            workspace_root().canonicalize().unwrap(),
        ] {
            let needle = here.to_string_lossy();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "lava-boot-{arch} embeds {needle}"
            );
        }
        let mode = std::fs::metadata(&path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o755
        );
        let help = run(command_for(arch, &path).arg("--help"));
        assert!(help.status.success(), "lava-boot-{arch} --help");
        assert!(String::from_utf8_lossy(&help.stdout).contains("run-scripts"));
        let version = run(command_for(arch, &path).arg("--version"));
        assert_eq!(
            String::from_utf8_lossy(&version.stdout).trim(),
            format!("lava-boot {}", env!("CARGO_PKG_VERSION")),
            "lava-boot-{arch} --version"
        );
    }
}

/// lavactl, the operator commands as the release ships them: one static
/// executable per architecture beside a SHA256SUMS that lists them, named
/// for the release; each runs (aarch64 under qemu), says its release's
/// version and offers every operator command.
#[test]
fn lavactl_of_each_arch_is_static_and_runs() {
    let (out, artefacts) = lavactl_built();
    let version: Version = version().parse().unwrap();
    let names: Vec<&str> = artefacts.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        names,
        Arch::ALL.map(|arch| cli_name(&version, arch)),
        "one lavactl per architecture"
    );
    let (sums, bad) = Sums::parse(&std::fs::read_to_string(out.path().join(SHA256SUMS)).unwrap());
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(
        sums.0.len(),
        artefacts.len(),
        "SHA256SUMS lists only lavactl"
    );
    for (arch, artefact) in Arch::ALL.into_iter().zip(artefacts) {
        let path = out.path().join(&artefact.key);
        let bytes = std::fs::read(&path).unwrap();
        assert_static_executable(&bytes, arch, &artefact.key);
        assert_eq!(artefact.arch.as_deref(), Some(arch.uname()));
        assert_eq!(
            sums.get(&artefact.key),
            Some(lava_files::sha256_reader(&bytes[..]).unwrap().1.as_str()),
            "SHA256SUMS lists {}",
            artefact.key
        );
        let version_out = run(command_for(arch, &path).arg("--version"));
        assert_eq!(
            String::from_utf8_lossy(&version_out.stdout).trim(),
            format!("lavactl {version}"),
            "{} --version",
            artefact.key
        );
        let help = run(command_for(arch, &path).arg("--help"));
        assert!(help.status.success(), "{} --help", artefact.key);
        let help = String::from_utf8_lossy(&help.stdout);
        for command in ["ami", "boot", "deploy", "pin", "prune", "stack", "status"] {
            assert!(
                help.lines().any(|l| l.trim_start().starts_with(command)),
                "{} --help lists {command}:\n{help}",
                artefact.key
            );
        }
        assert!(!help.contains("cargo xtask"), "{help}");
    }
}
