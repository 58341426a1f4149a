//! The object store a release is deployed to: an S3 bucket (through the AWS
//! SDK) or a `file://` directory, behind one interface. Keys are relative to
//! the store's location and always use `/`.
//!
//! Every object appears whole or not at all: S3 PUTs and completed multipart
//! uploads are atomic, and files are written to a temporary name and renamed.
//! Every object we write carries its content sha256 (S3: `x-amz-meta-sha256`
//! and the S3 `ChecksumSHA256`, which S3 verifies on receipt), so "unchanged"
//! can be decided without downloading it, whatever the bucket's encryption.

pub mod bounded;
mod file;
mod location;
mod s3;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use location::{Location, LocationError};

/// A failed store operation, naming the object.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} {url}: {message}")]
    Request {
        op: &'static str,
        url: String,
        message: String,
    },
    #[error("{op} {url}: {source}")]
    Io {
        op: &'static str,
        url: String,
        source: std::io::Error,
    },
    /// The bytes sent are not the bytes planned: the source changed meanwhile.
    #[error(
        "{url}: the content changed since it was planned (sha256 {actual}, expected {expected})"
    )]
    Changed {
        url: String,
        expected: String,
        actual: String,
    },
}

/// An object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The name within the listed directory.
    pub name: String,
    pub size: u64,
}

/// What a HEAD tells about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    /// Hex sha256 of the content, when the store knows it without a download.
    pub sha256: Option<String>,
}

/// The content of an object to write.
#[derive(Debug, Clone)]
pub enum Body {
    File(PathBuf),
    Bytes(Arc<Vec<u8>>),
}

/// What is known of an object before it is written.
#[derive(Debug, Clone)]
pub struct PutMeta {
    pub size: u64,
    /// Hex sha256 of the content; the write fails if the bytes differ.
    pub sha256: String,
    pub content_type: String,
}

/// What a conditional write expects to find where it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// No object.
    Absent,
    /// The object as read, by its [`Versioned::version`].
    Version(String),
}

/// A small object's content and the version a conditional write can expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub bytes: Vec<u8>,
    /// S3: the ETag; `file://`: the content's sha256.
    pub version: String,
}

/// When and how large objects are split into concurrent multipart parts.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Objects of at least this size are uploaded in parts.
    pub multipart_threshold: u64,
    /// Part size; S3 requires at least 5 MiB for all parts but the last.
    pub part_size: u64,
    /// Parts of one object in flight at once.
    pub part_concurrency: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
            part_concurrency: 4,
        }
    }
}

/// Told how many bytes of an object have been written so far (increments).
pub type OnBytes<'a> = &'a (dyn Fn(u64) + Send + Sync);

/// An S3 client from a loaded SDK configuration. With an endpoint override
/// (`AWS_ENDPOINT_URL`: moto, LocalStack, MinIO, s3s-fs) buckets are
/// addressed path style, which such endpoints need; real S3 keeps virtual
/// hosts.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(config.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// A location and the means to reach it.
#[derive(Clone)]
pub struct Store {
    location: Location,
    backend: Backend,
    tuning: Tuning,
}

#[derive(Clone)]
enum Backend {
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
    File {
        dir: PathBuf,
    },
}

impl Store {
    /// A store at `location`; an S3 location needs `s3`, the client to reach it.
    ///
    /// # Panics
    /// If `location` is S3 and no client is given: callers decide up front
    /// whether they need AWS.
    pub fn new(location: Location, s3: Option<&aws_sdk_s3::Client>, tuning: Tuning) -> Store {
        let backend = match &location {
            Location::S3 { bucket, prefix } => Backend::S3 {
                client: s3.expect("an S3 location needs an S3 client").clone(),
                bucket: bucket.clone(),
                prefix: prefix.clone(),
            },
            Location::File { dir } => Backend::File { dir: dir.clone() },
        };
        Store {
            location,
            backend,
            tuning,
        }
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn url(&self, key: &str) -> String {
        self.location.url(key)
    }

    /// Where `key` is in the backend.
    fn at(&self, key: &str) -> At<'_> {
        let url = self.url(key);
        match &self.backend {
            Backend::S3 {
                client,
                bucket,
                prefix,
            } => At::S3(s3::Target {
                client,
                bucket,
                key: format!("{prefix}{key}"),
                url,
            }),
            Backend::File { dir } => At::File {
                path: lava_files::key_path(dir, key),
                url,
            },
        }
    }

    /// The objects directly in directory `dir` ("" for the location itself),
    /// not those in directories below it. A missing directory is empty.
    pub async fn list(&self, dir: &str) -> Result<Vec<Listed>, StoreError> {
        match self.at(&dir_prefix(dir)) {
            At::S3(target) => s3::list(&target).await,
            At::File { path, url } => file::list(path, url).await,
        }
    }

    /// The directories directly in directory `dir` ("" for the location
    /// itself), by name, sorted.
    pub async fn list_dirs(&self, dir: &str) -> Result<Vec<String>, StoreError> {
        match self.at(&dir_prefix(dir)) {
            At::S3(target) => s3::list_dirs(&target).await,
            At::File { path, url } => file::list_dirs(path, url).await,
        }
    }

    /// Remove an object; one already gone is no error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.at(key) {
            At::S3(target) => s3::delete(&target).await,
            At::File { path, url } => file::delete(path, url).await,
        }
    }

    /// The content of a small object (a checksum file), `None` if absent.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get_versioned(key).await?.map(|v| v.bytes))
    }

    /// [`Store::get`] with the version a later [`Store::put_if`] can expect.
    pub async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        match self.at(key) {
            At::S3(target) => s3::get(&target).await,
            At::File { path, url } => file::get(path, url).await,
        }
    }

    /// Stream an object into the file `to` (created or truncated), returning
    /// its size, `None` if absent: bundles are too large to hold in memory.
    pub async fn download(&self, key: &str, to: &Path) -> Result<Option<u64>, StoreError> {
        match self.at(key) {
            At::S3(target) => s3::download(&target, to).await,
            At::File { path, url } => file::download(path, to.to_path_buf(), url).await,
        }
    }

    /// Size and (where known) sha256 of an object, `None` if absent.
    pub async fn head(&self, key: &str) -> Result<Option<Head>, StoreError> {
        match self.at(key) {
            At::S3(target) => s3::head(&target).await,
            At::File { path, url } => file::head(path, url).await,
        }
    }

    /// Write an object atomically: readers see the old object or the new one.
    pub async fn put(
        &self,
        key: &str,
        body: &Body,
        meta: &PutMeta,
        on_bytes: OnBytes<'_>,
    ) -> Result<(), StoreError> {
        match self.at(key) {
            At::S3(target) => s3::put(&target, body, meta, &self.tuning, on_bytes).await,
            At::File { path, url } => file::put(path, url, body, meta, on_bytes).await,
        }
    }

    /// Write a small object only if it is still as `expect` says, so two
    /// writers that read the same version cannot both replace it (S3:
    /// conditional writes, `If-Match` / `If-None-Match: *`; `file://`: the
    /// check and the rename under an exclusive lock of the directory).
    /// `Ok(false)`: it changed since it was read, and nothing was written.
    pub async fn put_if(
        &self,
        key: &str,
        bytes: Arc<Vec<u8>>,
        meta: &PutMeta,
        expect: &Expect,
    ) -> Result<bool, StoreError> {
        match self.at(key) {
            At::S3(target) => s3::put_if(&target, bytes, meta, expect).await,
            At::File { path, url } => file::put_if(path, url, bytes, meta, expect).await,
        }
    }
}

/// One key's address in its backend.
enum At<'a> {
    S3(s3::Target<'a>),
    File { path: PathBuf, url: String },
}

fn dir_prefix(dir: &str) -> String {
    let dir = dir.trim_matches('/');
    if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    }
}
