//! The `file://` backend: a directory tree that behaves like a bucket. Objects
//! are written to a temporary file beside their final name and renamed, so a
//! reader never sees a partial object.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lava_files::{sha256_reader, Hashing, TEMP_PREFIX};
use sha2::{Digest, Sha256};

use crate::{Body, Expect, Head, Listed, OnBytes, PutMeta, StoreError, Versioned};

fn io<'a>(op: &'static str, url: &'a str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        url: url.to_string(),
        source,
    }
}

/// Run blocking file work off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("file work does not panic")
}

pub(crate) async fn list(dir: PathBuf, url: String) -> Result<Vec<Listed>, StoreError> {
    Ok(blocking(move || entries(&dir, &url)).await?.0)
}

pub(crate) async fn list_dirs(dir: PathBuf, url: String) -> Result<Vec<String>, StoreError> {
    Ok(blocking(move || entries(&dir, &url)).await?.1)
}

/// The files and the directories directly in `dir`, sorted; temporary
/// files of writes in progress are not objects yet.
fn entries(dir: &Path, url: &str) -> Result<(Vec<Listed>, Vec<String>), StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(io("LIST", url)(e)),
    };
    let (mut listed, mut dirs) = (Vec::new(), Vec::new());
    for entry in entries {
        let entry = entry.map_err(io("LIST", url))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(TEMP_PREFIX) {
            continue;
        }
        let meta = entry.metadata().map_err(io("LIST", url))?;
        if meta.is_file() {
            listed.push(Listed {
                name,
                size: meta.len(),
            });
        } else if meta.is_dir() {
            dirs.push(name);
        }
    }
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    dirs.sort();
    Ok((listed, dirs))
}

pub(crate) async fn delete(path: PathBuf, url: String) -> Result<(), StoreError> {
    blocking(move || match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("DELETE", &url)(e)),
    })
    .await
}

pub(crate) async fn get(path: PathBuf, url: String) -> Result<Option<Versioned>, StoreError> {
    blocking(move || read_versioned(&path, &url)).await
}

fn read_versioned(path: &Path, url: &str) -> Result<Option<Versioned>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(Versioned {
            version: hex::encode(Sha256::digest(&bytes)),
            bytes,
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("GET", url)(e)),
    }
}

/// The check and the rename happen under an exclusive `flock` of the
/// object's directory, which every conditional writer of that directory
/// takes: no lock file is left behind, and a crashed writer's lock goes
/// with its process.
pub(crate) async fn put_if(
    path: PathBuf,
    url: String,
    bytes: Arc<Vec<u8>>,
    meta: &PutMeta,
    expect: &Expect,
) -> Result<bool, StoreError> {
    let (expected, expect) = (meta.sha256.clone(), expect.clone());
    blocking(move || {
        let dir = path.parent().expect("an object path has a directory");
        std::fs::create_dir_all(dir).map_err(io("PUT", &url))?;
        let lock = std::fs::File::open(dir).map_err(io("LOCK", &url))?;
        lock.lock().map_err(io("LOCK", &url))?;
        let current = read_versioned(&path, &url)?.map(|v| v.version);
        let unchanged = match (&expect, current) {
            (Expect::Absent, None) => true,
            (Expect::Version(read), Some(now)) => *read == now,
            _ => false,
        };
        if unchanged {
            write_atomic(&path, &url, &Body::Bytes(bytes), &expected)?;
        }
        Ok(unchanged)
    })
    .await
}

pub(crate) async fn download(
    path: PathBuf,
    to: PathBuf,
    url: String,
) -> Result<Option<u64>, StoreError> {
    blocking(move || match std::fs::copy(&path, &to) {
        Ok(size) => Ok(Some(size)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !path.exists() => Ok(None),
        Err(e) => Err(io("GET", &url)(e)),
    })
    .await
}

/// A directory keeps no metadata, so the digest is computed: local reads are
/// cheap where a remote GET is not.
pub(crate) async fn head(path: PathBuf, url: String) -> Result<Option<Head>, StoreError> {
    blocking(move || {
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("HEAD", &url)(e)),
        };
        let (size, sha256) = sha256_reader(file).map_err(io("HEAD", &url))?;
        Ok(Some(Head {
            size,
            sha256: Some(sha256),
        }))
    })
    .await
}

pub(crate) async fn put(
    path: PathBuf,
    url: String,
    body: &Body,
    meta: &PutMeta,
    on_bytes: OnBytes<'_>,
) -> Result<(), StoreError> {
    let body = body.clone();
    let expected = meta.sha256.clone();
    let size = blocking(move || write_atomic(&path, &url, &body, &expected)).await?;
    on_bytes(size);
    Ok(())
}

fn write_atomic(path: &Path, url: &str, body: &Body, expected: &str) -> Result<u64, StoreError> {
    let dir = path.parent().expect("an object path has a directory");
    std::fs::create_dir_all(dir).map_err(io("PUT", url))?;
    // Readable like an object in a bucket, durable before it gets its name.
    lava_files::write_atomic(
        path,
        0o644,
        |e| io("PUT", url)(e),
        |file| {
            let mut hashing = Hashing::new(&mut *file);
            match body {
                Body::File(source) => {
                    let mut source = std::fs::File::open(source).map_err(io("READ", url))?;
                    std::io::copy(&mut source, &mut hashing).map_err(io("PUT", url))?;
                }
                Body::Bytes(bytes) => hashing.write_all(bytes).map_err(io("PUT", url))?,
            }
            let (_, size, actual) = hashing.finish();
            if actual != expected {
                return Err(StoreError::Changed {
                    url: url.to_string(),
                    expected: expected.to_string(),
                    actual,
                });
            }
            file.sync_all().map_err(io("PUT", url))?;
            Ok(size)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Expect, Location, Store, Tuning};

    fn meta(bytes: &[u8]) -> PutMeta {
        PutMeta {
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
            content_type: "text/plain".into(),
        }
    }

    #[tokio::test]
    async fn writes_list_head_and_get() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::parse(&format!("file://{}", dir.path().display())).unwrap();
        let store = Store::new(location, None, Tuning::default());
        assert_eq!(store.list("a").await.unwrap(), vec![]);
        assert_eq!(store.head("a/x").await.unwrap(), None);
        let bytes = b"hello".to_vec();
        let meta = meta(&bytes);
        store
            .put("a/x", &Body::Bytes(Arc::new(bytes.clone())), &meta, &|_| {})
            .await
            .unwrap();
        assert_eq!(
            store.list("a").await.unwrap(),
            vec![Listed {
                name: "x".into(),
                size: 5
            }]
        );
        assert_eq!(
            store.head("a/x").await.unwrap(),
            Some(Head {
                size: 5,
                sha256: Some(meta.sha256.clone())
            })
        );
        assert_eq!(store.get("a/x").await.unwrap(), Some(bytes.clone()));
        let elsewhere = tempfile::tempdir().unwrap();
        let to = elsewhere.path().join("copy");
        assert_eq!(store.download("a/x", &to).await.unwrap(), Some(5));
        assert_eq!(std::fs::read(&to).unwrap(), bytes);
        assert_eq!(store.download("a/y", &to).await.unwrap(), None);
        // Only objects directly in the directory.
        assert_eq!(store.list("").await.unwrap(), vec![]);
    }

    #[tokio::test]
    async fn content_that_differs_from_the_plan_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::parse(&format!("file://{}", dir.path().display())).unwrap();
        let store = Store::new(location, None, Tuning::default());
        let err = store
            .put(
                "x",
                &Body::Bytes(Arc::new(b"new".to_vec())),
                &meta(b"old"),
                &|_| {},
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Changed { .. }), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_conditional_write_replaces_only_the_version_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::parse(&format!("file://{}", dir.path().display())).unwrap();
        let store = Store::new(location, None, Tuning::default());
        let put_if = |bytes: &[u8], expect: Expect| {
            let (store, bytes) = (store.clone(), Arc::new(bytes.to_vec()));
            async move {
                let meta = meta(&bytes);
                store.put_if("d/SUMS", bytes, &meta, &expect).await.unwrap()
            }
        };
        assert!(put_if(b"one", Expect::Absent).await);
        assert!(!put_if(b"two", Expect::Absent).await, "it exists");
        let read = store.get_versioned("d/SUMS").await.unwrap().unwrap();
        assert_eq!(read.bytes, b"one");
        assert!(!put_if(b"two", Expect::Version("0".repeat(64))).await);
        assert!(put_if(b"two", Expect::Version(read.version.clone())).await);
        assert!(
            !put_if(b"three", Expect::Version(read.version)).await,
            "the version read is gone"
        );
        assert_eq!(store.get("d/SUMS").await.unwrap().unwrap(), b"two");
        // Only the object: no lock file, no temporary left.
        assert_eq!(std::fs::read_dir(dir.path().join("d")).unwrap().count(), 1);
    }
}
