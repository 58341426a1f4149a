//! The host platform's worker bundle, warm caches: ours (`dist --only pkg
//! --runtime <host>`) beside upstream's approach, `pip install --target` of
//! both requirement files, as `etc/pkg.sh` runs it, and `tar cjf` of the
//! same files.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use lava_layout::{pkg_key, Arch, PackageName, Runtime};
use serde_json::json;

use super::{median, paired_ratio, secs, timed, times, Ctx, Goal, Section};

/// The first runtime of the release matrix this machine runs natively.
pub fn host_runtime(ctx: &Ctx) -> anyhow::Result<Runtime> {
    let arch = Arch::host().context("unknown host architecture")?;
    ctx.release
        .runtimes
        .iter()
        .find(|r| r.arch == arch)
        .cloned()
        .with_context(|| format!("the release matrix has no {arch} runtime"))
}

/// Where `dist` writes the bundle of `runtime` under `out`.
pub fn bundle_path(ctx: &Ctx, out: &Path, runtime: &Runtime) -> anyhow::Result<PathBuf> {
    let package = PackageName::New {
        version: ctx.release.version.clone(),
        runtime: runtime.clone(),
    };
    Ok(lava_files::key_path(out, &pkg_key(&runtime.os, &package)))
}

pub fn bench(ctx: &Ctx) -> anyhow::Result<Vec<Section>> {
    let runtime = host_runtime(ctx)?;
    let python = ctx.peers.python.get().map_err(anyhow::Error::msg)?;
    let ours_out = ctx.cache.join("bundle-ours");
    let exe = &ctx.xtask;
    let ours = || -> anyhow::Result<(f64, u64)> {
        let t = timed(
            Command::new(exe)
                .args([
                    "dist",
                    "--only",
                    "pkg",
                    "--runtime",
                    &runtime.to_string(),
                    "--out",
                ])
                .arg(&ours_out),
        )?;
        let size = std::fs::metadata(bundle_path(ctx, &ours_out, &runtime)?)?.len();
        Ok((t, size))
    };

    // Upstream's inputs: the same worker source, requirements and root
    // scripts, taken from our bundle once (untimed), without pylib/.
    let work = tempfile::tempdir()?;
    let src = work.path().join("src");
    ours()?;
    std::fs::create_dir_all(&src)?;
    timed(
        Command::new("tar")
            .arg("xjf")
            .arg(bundle_path(ctx, &ours_out, &runtime)?)
            .arg("-C")
            .arg(&src),
    )?;
    std::fs::remove_dir_all(src.join("pylib")).context("our bundle has no pylib/")?;
    let mut top: Vec<String> = std::fs::read_dir(&src)?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<anyhow::Result<_>>()?;
    top.sort();
    let upstream = || -> anyhow::Result<(f64, u64)> {
        let target = work.path().join("target");
        let _ = std::fs::remove_dir_all(&target);
        let out = work.path().join("upstream.tar.bz2");
        let pip = timed(
            Command::new(python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg("--target")
                .arg(target.join("pylib"))
                .arg("-r")
                .arg(src.join("requirements.txt"))
                .arg("-r")
                .arg(src.join("requirements-extra.txt")),
        )?;
        let tar = timed(
            Command::new("tar")
                .arg("cjf")
                .arg(&out)
                .arg("-C")
                .arg(&src)
                .args(&top)
                .arg("-C")
                .arg(&target)
                .arg("pylib"),
        )?;
        Ok((pip + tar, std::fs::metadata(&out)?.len()))
    };

    let (mut ot, mut os, mut ut, mut us) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..=ctx.runs {
        let (t1, s1) = ours()?;
        let (t2, s2) = upstream()?;
        eprintln!("bench: bundle run {run}: ours {t1:.1} s, upstream {t2:.1} s");
        if run > 0 {
            ot.push(t1);
            os.push(s1 as f64);
            ut.push(t2);
            us.push(s2 as f64);
        }
    }
    let time_ratio = paired_ratio(&ot, &ut);
    let size_ratio = paired_ratio(&os, &us);
    let mib =
        |v: Option<f64>| v.map_or("n/a".into(), |b| format!("{:.2} MiB", b / (1 << 20) as f64));
    Ok(vec![Section {
        title: format!("Bundle build ({runtime})"),
        method: format!(
            "**Ours**: `xtask dist --only pkg --runtime {runtime}` (worker source from the \
             cache, wheels resolved by uv for the target platform, a reproducible tar with \
             parallel bzip2; PyGreSQL's wheel built from its sdist on the first, untimed run \
             and cached). **Upstream's approach**: `pip install --target pylib -r \
             requirements.txt -r requirements-extra.txt` (the bench venv: {}; warm pip \
             cache, which also keeps the wheel pip built of PyGreSQL) then \
             `tar cjf` of the same top-level entries ({}) and `pylib/`; the inputs are taken \
             from our bundle once, untimed. Upstream ran this inside a Docker builder image, \
             which is not counted here (in its favour). Warm caches: one untimed run of each \
             first. Ratios are ours / upstream, run by run.",
            ctx.peers.python.version.as_deref().unwrap_or("?"),
            top.join(", ")
        ),
        header: ["", "ours", "upstream", "ours / upstream"]
            .map(String::from)
            .into(),
        rows: vec![
            vec![
                "time".into(),
                secs(median(&ot)),
                secs(median(&ut)),
                times(time_ratio),
            ],
            vec![
                "size".into(),
                mib(median(&os)),
                mib(median(&us)),
                times(size_ratio),
            ],
        ],
        goals: vec![
            Goal::check(
                "bundle build: <= 0.33x upstream's time",
                time_ratio,
                0.33,
                false,
                |r| times(Some(r)),
            ),
            Goal::check(
                "bundle size: <= 1.0x upstream's",
                size_ratio,
                1.0,
                false,
                |r| times(Some(r)),
            ),
        ],
        notes: Vec::new(),
        json: json!({
            "group": "bundle", "runtime": runtime.to_string(),
            "ours_s": ot, "upstream_s": ut, "ours_bytes": os, "upstream_bytes": us,
            "time_ratio": time_ratio, "size_ratio": size_ratio,
        }),
    }])
}
