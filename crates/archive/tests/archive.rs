//! Behaviour of the archive writers, checked with the stock `bzip2`, `tar`
//! and `unzip` tools wherever they are the ones that must accept the output.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use lava_archive::{
    bzip2_parallel, read_tar_bz2_entries, write_tar_bz2, write_zip, EntryKind, Error, Tree,
    BZIP2_CHUNK_SIZE,
};
use tempfile::TempDir;

/// 2023-11-14 22:13:20 UTC; even, so DOS time keeps it exactly.
const MTIME: u64 = 1_700_000_000;

fn long_path() -> String {
    format!("pkg/site-packages/{}/{}.py", "d".repeat(60), "m".repeat(60))
}

/// A tree mixing every kind of entry and both content sources, as a bundle has.
fn fixture() -> (TempDir, Tree) {
    let src = TempDir::new().unwrap();
    let root = src.path();
    for dir in ["bin", "lib/__pycache__", "empty"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    fs::write(root.join("bin/tool"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("bin/tool"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(root.join("lib/data.txt"), "data\n").unwrap();
    fs::write(root.join("lib/__pycache__/data.cpython-312.pyc"), "junk").unwrap();
    fs::write(root.join("lib/stray.pyc"), "junk").unwrap();
    symlink("data.txt", root.join("lib/link")).unwrap();

    let mut tree = Tree::from_dir(root, "pkg").unwrap();
    tree.remove_where(|p| p.ends_with("/__pycache__") || p.ends_with(".pyc"));
    tree.add_bytes(&long_path(), "print('long')\n", false)
        .unwrap();
    tree.add_bytes("pkg/bootstrap", "#!/bin/sh\n", true)
        .unwrap();
    (src, tree)
}

fn expected_paths() -> Vec<String> {
    let long = long_path();
    let long_dir = &long[..long.rfind('/').unwrap()];
    let mut paths: Vec<String> = [
        "pkg",
        "pkg/bin",
        "pkg/bin/tool",
        "pkg/bootstrap",
        "pkg/empty",
        "pkg/lib",
        "pkg/lib/data.txt",
        "pkg/lib/link",
        "pkg/site-packages",
        long_dir,
        &long,
    ]
    .map(String::from)
    .into();
    paths.sort();
    paths
}

/// Runs a stock tool, which must succeed without so much as a warning.
fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

/// Deterministic, compressible text: bzip2's speed on it resembles real data.
fn text(len: usize) -> Vec<u8> {
    let words = [
        "lava ",
        "job ",
        "worker ",
        "dispatch ",
        "queue ",
        "s3 ",
        "\n",
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.extend_from_slice(words[(state >> 33) as usize % words.len()].as_bytes());
        out.extend_from_slice(&state.to_le_bytes()[..(state >> 60) as usize % 3]);
    }
    out.truncate(len);
    out
}

#[test]
fn tree_adds_parents_sorts_and_filters() {
    let (_src, tree) = fixture();
    assert_eq!(tree.paths().collect::<Vec<_>>(), expected_paths());
}

#[test]
fn tree_rejects_bad_paths_and_kind_conflicts() {
    let mut tree = Tree::new();
    for bad in ["", "/abs", "a/../b", "a//b", "./a", "a/", "a\0b"] {
        let err = tree.add_bytes(bad, "", false).unwrap_err();
        assert!(
            matches!(err, Error::InvalidPath(ref p) if p == bad),
            "{bad:?}: {err}"
        );
    }
    tree.add_bytes("a/b", "", false).unwrap();
    assert!(matches!(tree.add_bytes("a", "", false), Err(Error::Conflict(p)) if p == "a"));
    assert!(matches!(tree.add_dir("a/b"), Err(Error::Conflict(p)) if p == "a/b"));
    assert!(matches!(tree.add_bytes("a/b/c", "", false), Err(Error::Conflict(p)) if p == "a/b"));
    tree.add_dir("a").unwrap();
    tree.add_symlink("a/b", "elsewhere").unwrap();
}

#[test]
fn same_tree_in_any_insertion_order_gives_identical_bytes() {
    let files = ["z.txt", "a/b/c.txt", "a/b-c.txt", "a.txt", "bin/run"];
    let build = |order: &mut dyn Iterator<Item = &&str>| {
        let mut tree = Tree::new();
        for path in order {
            tree.add_bytes(path, path.as_bytes(), path.starts_with("bin/"))
                .unwrap();
        }
        tree
    };
    let forward = build(&mut files.iter());
    let backward = build(&mut files.iter().rev());
    let dir = TempDir::new().unwrap();
    for write in [write_tar_bz2, write_zip] {
        let bytes: Vec<Vec<u8>> = [&forward, &forward, &backward]
            .iter()
            .enumerate()
            .map(|(i, tree)| {
                let out = dir.path().join(i.to_string());
                write(tree, MTIME, &out).unwrap();
                fs::read(out).unwrap()
            })
            .collect();
        assert_eq!(bytes[0], bytes[1]);
        assert_eq!(bytes[0], bytes[2]);
    }
}

#[test]
fn tar_bz2_is_accepted_and_listed_by_stock_tools() {
    let (_src, tree) = fixture();
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("pkg.tar.bz2");
    write_tar_bz2(&tree, MTIME, &out).unwrap();
    assert_eq!(mode(&out), 0o644);

    run(Command::new("bzip2").arg("-t").arg(&out));
    let listing = run(Command::new("tar")
        .args(["--full-time", "-tvjf"])
        .arg(&out)
        .env("TZ", "UTC"));
    let mut names = Vec::new();
    for line in listing.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let name = fields[5].trim_end_matches('/');
        let want_perms = match name {
            "pkg/bin/tool" | "pkg/bootstrap" => "-rwxr-xr-x",
            "pkg/lib/link" => "lrwxrwxrwx",
            _ if line.starts_with('d') => "drwxr-xr-x",
            _ => "-rw-r--r--",
        };
        assert_eq!(fields[0], want_perms, "{line}");
        // Without owner names tar shows the numeric ids.
        assert_eq!(fields[1], "0/0", "{line}");
        assert_eq!(fields[3..5], ["2023-11-14", "22:13:20"], "{line}");
        names.push(name.to_owned());
    }
    assert_eq!(names, expected_paths());
    assert!(listing.contains("pkg/lib/link -> data.txt"));

    let listed = read_tar_bz2_entries(&out).unwrap();
    let paths: Vec<_> = listed.iter().map(|e| e.path.clone()).collect();
    assert_eq!(paths, expected_paths());
    let link = listed.iter().find(|e| e.path == "pkg/lib/link").unwrap();
    assert_eq!(
        (&link.kind, link.mode),
        (&EntryKind::Symlink("data.txt".into()), 0o777)
    );
}

#[test]
fn tar_bz2_extracts_with_modes_long_paths_and_symlinks() {
    let (_src, tree) = fixture();
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("pkg.tar.bz2");
    write_tar_bz2(&tree, MTIME, &out).unwrap();
    let x = dir.path().join("x");
    fs::create_dir(&x).unwrap();
    run(Command::new("tar").arg("-xjf").arg(&out).arg("-C").arg(&x));

    assert_eq!(mode(&x.join("pkg/bin/tool")), 0o755);
    assert_eq!(mode(&x.join("pkg/lib/data.txt")), 0o644);
    assert_eq!(
        fs::read_link(x.join("pkg/lib/link")).unwrap(),
        Path::new("data.txt")
    );
    assert_eq!(
        fs::read_to_string(x.join(long_path())).unwrap(),
        "print('long')\n"
    );
    let mtime = fs::metadata(x.join("pkg/bin/tool"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        mtime
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        MTIME
    );
}

#[test]
fn bzip2_parallel_ignores_thread_count_and_writes_concatenated_streams() {
    let input = text(2 * BZIP2_CHUNK_SIZE + 12_345);
    let one = bzip2_parallel(&input, 1);
    assert_eq!(one, bzip2_parallel(&input, 2));
    // More threads than chunks: the spare ones find the queue empty.
    assert_eq!(one, bzip2_parallel(&input, 7));

    // A single-stream decoder stops after the first chunk: there are several streams.
    let mut first = Vec::new();
    bzip2::read::BzDecoder::new(&one[..])
        .read_to_end(&mut first)
        .unwrap();
    assert_eq!(first, input[..BZIP2_CHUNK_SIZE]);

    let dir = TempDir::new().unwrap();
    let file = dir.path().join("data.bz2");
    fs::write(&file, &one).unwrap();
    run(Command::new("bzip2").arg("-t").arg(&file));
    let decoded = Command::new("bzip2")
        .arg("-dc")
        .arg(&file)
        .output()
        .unwrap();
    assert!(decoded.status.success());
    assert!(
        decoded.stdout == input,
        "bzip2 -d did not give back the input"
    );

    assert!(
        !bzip2_parallel(b"", 2).is_empty(),
        "empty input still needs a stream"
    );
}

#[test]
fn read_tar_bz2_entries_reads_past_the_first_stream() {
    let mut tree = Tree::new();
    tree.add_bytes("a-big", text(BZIP2_CHUNK_SIZE + 1000), false)
        .unwrap();
    tree.add_bytes("b/run", "#!/bin/sh\n", true).unwrap();
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("big.tar.bz2");
    write_tar_bz2(&tree, MTIME, &out).unwrap();

    let listed = read_tar_bz2_entries(&out).unwrap();
    let summary: Vec<_> = listed
        .iter()
        .map(|e| (e.path.as_str(), &e.kind, e.mode))
        .collect();
    assert_eq!(
        summary,
        [
            ("a-big", &EntryKind::File, 0o644),
            ("b", &EntryKind::Dir, 0o755),
            ("b/run", &EntryKind::File, 0o755),
        ]
    );
}

#[test]
fn zip_passes_unzip_and_keeps_modes_times_and_order() {
    let (_src, tree) = fixture();
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("pkg.zip");
    write_zip(&tree, MTIME, &out).unwrap();

    run(Command::new("unzip").arg("-tq").arg(&out));
    let x = dir.path().join("x");
    run(Command::new("unzip").arg("-q").arg(&out).arg("-d").arg(&x));
    assert_eq!(mode(&x.join("pkg/bootstrap")), 0o755);
    assert_eq!(mode(&x.join("pkg/bin/tool")), 0o755);
    assert_eq!(mode(&x.join("pkg/lib/data.txt")), 0o644);
    assert_eq!(
        fs::read_link(x.join("pkg/lib/link")).unwrap(),
        Path::new("data.txt")
    );
    assert_eq!(
        fs::read_to_string(x.join(long_path())).unwrap(),
        "print('long')\n"
    );

    let mut zip = zip::ZipArchive::new(fs::File::open(&out).unwrap()).unwrap();
    let mut names = Vec::new();
    for i in 0..zip.len() {
        let entry = zip.by_index(i).unwrap();
        let time = entry.last_modified().unwrap();
        let parts = (
            time.year(),
            time.month(),
            time.day(),
            time.hour(),
            time.minute(),
            time.second(),
        );
        assert_eq!(parts, (2023, 11, 14, 22, 13, 20), "{}", entry.name());
        assert!(
            entry.extra_data().is_none_or(<[u8]>::is_empty),
            "{}",
            entry.name()
        );
        names.push(entry.name().trim_end_matches('/').to_owned());
    }
    assert_eq!(names, expected_paths());
}

/// Files in `dir` after a failed write: neither the output nor a temp file.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn failed_writes_leave_nothing_behind() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("missing-source");
    let mut broken = Tree::new();
    broken.add_bytes("ok", "fine", false).unwrap();
    broken.add_file("gone", &missing, false).unwrap();

    for write in [write_tar_bz2, write_zip] {
        let nowhere = dir.path().join("no-such-dir/out");
        let err = write(&Tree::new(), MTIME, &nowhere).unwrap_err();
        assert!(
            err.to_string().contains(&*nowhere.to_string_lossy()),
            "{err}"
        );
        assert!(leftovers(dir.path()).is_empty());

        let out = dir.path().join("out");
        let err = write(&broken, MTIME, &out).unwrap_err();
        assert!(
            err.to_string().contains(&*missing.to_string_lossy()),
            "{err}"
        );
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
    }
}

#[test]
fn failed_write_keeps_the_previous_archive() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("out.zip");
    fs::write(&out, "previous").unwrap();
    let mut broken = Tree::new();
    broken
        .add_file("gone", &dir.path().join("missing"), false)
        .unwrap();
    write_zip(&broken, MTIME, &out).unwrap_err();
    assert_eq!(fs::read_to_string(&out).unwrap(), "previous");
    assert_eq!(leftovers(dir.path()), [out]);
}
