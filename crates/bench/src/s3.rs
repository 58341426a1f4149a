//! The loopback S3 servers the deploy figures are taken against: moto_server
//! (with its request log, from which requests are counted by kind) and, when
//! the bench could install it, s3s-fs (crates.io: an S3 server on a plain
//! directory, much faster than moto). STS always comes from moto: deploy
//! checks the account before its first S3 request.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use lava_local_aws::{Moto, S3sFs};

/// A loopback S3 server of the bench.
pub enum Server {
    /// With its request log.
    Moto(Moto),
    S3sFs(S3sFs),
}

/// The object files of an s3s-fs directory: path -> (inode, size, modified).
pub type Files = BTreeMap<PathBuf, (u64, u64, SystemTime)>;

impl Server {
    /// moto_server; with `log`, its request log goes to that file.
    pub fn moto(moto_server: &Path, log: Option<&Path>) -> anyhow::Result<Server> {
        Ok(Server::Moto(Moto::start(moto_server, log)?))
    }

    /// s3s-fs serving `root`, with STS from `sts` (a moto endpoint).
    pub fn s3s_fs(binary: &Path, root: &Path, sts: String) -> anyhow::Result<Server> {
        Ok(Server::S3sFs(S3sFs::start(binary, root, sts)?))
    }

    pub fn endpoint(&self) -> String {
        match self {
            Server::Moto(moto) => moto.endpoint(),
            Server::S3sFs(s3s) => s3s.endpoint(),
        }
    }

    /// The AWS environment of a process that must talk to this server only.
    pub fn env(&self) -> Vec<(String, String)> {
        match self {
            Server::Moto(moto) => moto.env(),
            Server::S3sFs(s3s) => s3s.env(),
        }
    }

    fn log(&self) -> Option<&Path> {
        match self {
            Server::Moto(moto) => moto.log(),
            Server::S3sFs(_) => None,
        }
    }

    /// Bytes of the request log so far: a mark to count from.
    pub fn log_mark(&self) -> Option<u64> {
        let log = self.log()?;
        std::fs::metadata(log).ok().map(|m| m.len())
    }

    /// Requests logged since `mark`, by kind. Waits briefly for the log's
    /// last lines (werkzeug writes each after its response).
    pub fn requests_since(&self, mark: Option<u64>) -> Option<Requests> {
        let (log, mark) = (self.log()?, mark?);
        std::thread::sleep(Duration::from_millis(300));
        let text = std::fs::read(log).ok()?;
        let text = String::from_utf8_lossy(&text[(mark as usize).min(text.len())..]).into_owned();
        let mut requests = Requests::default();
        for line in text.lines() {
            if let Some(kind) = classify(line) {
                *requests.by_kind.entry(kind).or_default() += 1;
            }
        }
        Some(requests)
    }

    /// The object files below `below` ("bucket/prefix") as they are now,
    /// for a server that keeps no request log (s3s-fs): a write there
    /// creates or replaces a file.
    pub fn files(&self, below: &str) -> anyhow::Result<Option<Files>> {
        let Server::S3sFs(s3s) = self else {
            return Ok(None);
        };
        let root = s3s.root();
        let root = root.join(below);
        // Bounded: s3s-fs nests a directory per key segment.
        const MAX_DEPTH: usize = 64;
        let mut files = Files::new();
        let mut pending = vec![(root, 0)];
        while let Some((dir, depth)) = pending.pop() {
            if depth > MAX_DEPTH {
                bail!("{}: more than {MAX_DEPTH} directories deep", dir.display());
            }
            let entries = std::fs::read_dir(&dir)
                .with_context(|| format!("cannot read {}", dir.display()))?;
            for entry in entries {
                let path = entry?.path();
                let meta = std::fs::symlink_metadata(&path)
                    .with_context(|| format!("cannot stat {}", path.display()))?;
                if meta.is_dir() {
                    pending.push((path, depth + 1));
                } else {
                    files.insert(path, (meta.ino(), meta.len(), meta.modified()?));
                }
            }
        }
        Ok(Some(files))
    }

    /// How many files below `below` were created or replaced since `before`
    /// was taken.
    pub fn files_written_since(&self, below: &str, before: &Files) -> anyhow::Result<Option<u64>> {
        let Some(now) = self.files(below)? else {
            return Ok(None);
        };
        let written = now
            .iter()
            .filter(|(path, state)| before.get(*path) != Some(state))
            .count();
        Ok(Some(written as u64))
    }
}

/// Requests counted at the server, by kind.
#[derive(Debug, Default, Clone)]
pub struct Requests {
    pub by_kind: BTreeMap<&'static str, u64>,
}

impl Requests {
    pub const WRITES: [&'static str; 5] = ["PUT", "CREATE-MPU", "PART", "COMPLETE-MPU", "DELETE"];

    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }

    pub fn writes(&self) -> u64 {
        Requests::WRITES
            .iter()
            .filter_map(|k| self.by_kind.get(k))
            .sum()
    }

    /// "LIST 1, GET 1, STS 1", in a fixed order.
    pub fn describe(&self) -> String {
        if self.by_kind.is_empty() {
            return "none".into();
        }
        self.by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The kind of a werkzeug log line's request:
/// `127.0.0.1 - - [date] "GET /bucket?list-type=2 HTTP/1.1" 200 -`.
fn classify(line: &str) -> Option<&'static str> {
    let request = line.split('"').nth(1)?;
    let mut parts = request.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    if !parts.next()?.starts_with("HTTP/") || target.starts_with("/moto-api") {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments = path.split('/').filter(|s| !s.is_empty()).count();
    let has = |q: &str| {
        query
            .split('&')
            .any(|p| p == q || p.starts_with(&format!("{q}=")))
    };
    Some(match method {
        // STS (and any other query API) is a form POST to "/".
        "POST" if segments == 0 => "STS",
        "POST" if has("uploads") => "CREATE-MPU",
        "POST" if has("uploadId") => "COMPLETE-MPU",
        "POST" if has("delete") => "DELETE",
        "PUT" if has("partNumber") => "PART",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        // A GET of the bucket itself: a listing (v1 or v2) or its location.
        "GET" if segments <= 1 => "LIST",
        "GET" => "GET",
        _ => "OTHER",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_classified() {
        let line = |r: &str| format!("127.0.0.1 - - [25/Nov/2025 21:44:27] \"{r}\" 200 -");
        assert_eq!(
            classify(&line("GET /b?list-type=2&prefix=x%2F HTTP/1.1")),
            Some("LIST")
        );
        assert_eq!(classify(&line("GET /b/k/SHA256SUMS HTTP/1.1")), Some("GET"));
        assert_eq!(
            classify(&line("PUT /b/k?partNumber=1&uploadId=u HTTP/1.1")),
            Some("PART")
        );
        assert_eq!(
            classify(&line("POST /b/k?uploads HTTP/1.1")),
            Some("CREATE-MPU")
        );
        assert_eq!(classify(&line("POST / HTTP/1.1")), Some("STS"));
        assert_eq!(classify("werkzeug: Running on http://127.0.0.1"), None);
    }
}
