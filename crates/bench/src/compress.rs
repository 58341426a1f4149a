//! Compression of the host bundle's tar: lava-archive's parallel bzip2 (what
//! every bundle is written with, on libbz2-rs-sys) beside the same chunks
//! through the C libbzip2 (bzip2-sys), `bzip2 -9` and `lbzip2 -9`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use serde_json::json;

use super::bundle::{bundle_path, host_runtime};
use super::{median, paired_ratio, times, Ctx, Goal, Section};

/// One level-9 stream through the C libbzip2, as lava-archive wrote them
/// before bzip2 0.6.
fn c_libbzip2(chunk: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = bzip2_c::write::BzEncoder::new(Vec::new(), bzip2_c::Compression::best());
    encoder
        .write_all(chunk)
        .expect("compressing into memory cannot fail");
    encoder
        .finish()
        .expect("compressing into memory cannot fail")
}

/// Compress `input` with `program args`, stdout to `out`: (seconds, bytes).
fn tool(program: &Path, args: &[String], input: &Path, out: &Path) -> anyhow::Result<(f64, u64)> {
    let stdout = std::fs::File::create(out)?;
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .arg(input)
        .stdin(Stdio::null())
        .stdout(stdout)
        .status()
        .with_context(|| format!("cannot run {}", program.display()))?;
    let t = start.elapsed().as_secs_f64();
    if !status.success() {
        bail!("{} failed ({status})", program.display());
    }
    Ok((t, std::fs::metadata(out)?.len()))
}

pub fn bench(ctx: &Ctx) -> anyhow::Result<Vec<Section>> {
    let runtime = host_runtime(ctx)?;
    let bundle = bundle_path(ctx, &ctx.reference_dist()?, &runtime)?;
    let work = tempfile::tempdir()?;
    let tar = work.path().join("bundle.tar");
    let stdout = std::fs::File::create(&tar)?;
    let status = Command::new("bzip2")
        .arg("-dc")
        .arg(&bundle)
        .stdout(stdout)
        .status()
        .context("cannot run bzip2 -dc")?;
    if !status.success() {
        bail!("bzip2 -dc {} failed", bundle.display());
    }
    let data = std::fs::read(&tar)?;
    let mb = data.len() as f64 / 1e6;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let out = work.path().join("out.bz2");

    let peers = &ctx.peers;
    let mut ours = (Vec::new(), Vec::new());
    let mut c = (Vec::new(), Vec::new());
    let mut identical = true;
    let mut bzip2 = (Vec::new(), Vec::new());
    let mut lbzip2 = (Vec::new(), Vec::new());
    let mut lbzip2_error = None;
    for run in 0..=ctx.runs {
        let start = Instant::now();
        let compressed = lava_archive::bzip2_parallel(&data, threads);
        let t = start.elapsed().as_secs_f64();
        let size = compressed.len() as f64;
        let start = Instant::now();
        let with_c = lava_archive::bzip2_parallel_with(&data, threads, c_libbzip2);
        let tc = start.elapsed().as_secs_f64();
        identical &= with_c == compressed;
        let size_c = with_c.len() as f64;
        drop((compressed, with_c));
        let b = match peers.bzip2.get() {
            Ok(p) => Some(tool(p, &["-9".into(), "-c".into()], &tar, &out)?),
            Err(_) => None,
        };
        let l = match peers.lbzip2.get() {
            Ok(p) => Some(tool(
                p,
                &["-9".into(), "-n".into(), threads.to_string(), "-c".into()],
                &tar,
                &out,
            )?),
            Err(why) => {
                lbzip2_error = Some(why);
                None
            }
        };
        eprintln!("bench: compress run {run}: ours {t:.2} s");
        if run == 0 {
            continue;
        }
        ours.0.push(t);
        ours.1.push(size);
        c.0.push(tc);
        c.1.push(size_c);
        for (acc, r) in [(&mut bzip2, b), (&mut lbzip2, l)] {
            if let Some((t, s)) = r {
                acc.0.push(t);
                acc.1.push(s as f64);
            }
        }
    }
    // Throughput ratio ours / peer = peer's time / ours, run by run.
    let speedup_c = paired_ratio(&c.0, &ours.0);
    let speedup_bzip2 = paired_ratio(&bzip2.0, &ours.0);
    let speedup_lbzip2 = paired_ratio(&lbzip2.0, &ours.0);
    let row = |name: &str,
               (t, s): &(Vec<f64>, Vec<f64>),
               speedup: Option<f64>,
               missing: Option<&String>| {
        if let Some(why) = missing {
            return vec![
                name.to_string(),
                why.clone(),
                String::new(),
                String::new(),
                String::new(),
            ];
        }
        let tm = median(t);
        vec![
            name.to_string(),
            tm.map_or("n/a".into(), |t| format!("{t:.2} s")),
            tm.map_or("n/a".into(), |t| format!("{:.1} MB/s", mb / t)),
            median(s).map_or("n/a".into(), |s| format!("{:.2} MiB", s / (1 << 20) as f64)),
            speedup.map_or("-".into(), |r| times(Some(r))),
        ]
    };
    let bzip2_missing = peers.bzip2.get().err();
    Ok(vec![Section {
        title: "Compression (bzip2)".into(),
        method: format!(
            "The host bundle's tar ({runtime}, {mb:.1} MB uncompressed), from the page cache. \
             **Ours**: `lava_archive::bzip2_parallel` with {threads} threads (one per core: \
             independent level-9 streams of 900 kB, in memory, encoded by libbz2-rs-sys, \
             bzip2 0.6's Rust port of libbzip2). **C libbzip2**: the same chunks and \
             threads through bzip2-sys (bzip2 0.5, what lava-archive used before). \
             **bzip2**: `bzip2 -9 -c`. \
             **lbzip2**: `lbzip2 -9 -n {threads} -c`; both write to a file. Throughput is \
             uncompressed MB/s; the ratio is ours / peer, run by run."
        ),
        header: ["", "time", "throughput", "size", "ours / peer (throughput)"]
            .map(String::from)
            .into(),
        rows: vec![
            row("ours (lava-archive)", &ours, None, None),
            row("C libbzip2, same chunks", &c, speedup_c, None),
            row("bzip2 -9", &bzip2, speedup_bzip2, bzip2_missing.as_ref()),
            row("lbzip2 -9", &lbzip2, speedup_lbzip2, lbzip2_error.as_ref()),
        ],
        goals: vec![
            Goal::check(
                &format!("compression: >= 1.8x bzip2's throughput ({threads} cores)"),
                speedup_bzip2,
                1.8,
                true,
                |r| times(Some(r)),
            ),
            Goal::check(
                "compression: >= 0.9x lbzip2's throughput",
                speedup_lbzip2,
                0.9,
                true,
                |r| times(Some(r)),
            ),
        ],
        notes: vec![format!(
            "libbz2-rs-sys and the C libbzip2 wrote {} bytes.",
            if identical { "identical" } else { "DIFFERENT" }
        )],
        json: json!({
            "group": "compress", "input_bytes": data.len(), "threads": threads,
            "ours": {"s": ours.0, "bytes": ours.1},
            "c_libbzip2": {"s": c.0, "bytes": c.1, "identical": identical},
            "bzip2": {"s": bzip2.0, "bytes": bzip2.1},
            "lbzip2": {"s": lbzip2.0, "bytes": lbzip2.1},
            "speedup_over_bzip2": speedup_bzip2, "speedup_over_lbzip2": speedup_lbzip2,
        }),
    }])
}
