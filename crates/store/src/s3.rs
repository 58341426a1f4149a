//! The S3 backend: ListObjectsV2, GetObject, HeadObject, PutObject and
//! concurrent multipart uploads, each retried by the SDK's retry policy.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use crate::{Body, Expect, Head, Listed, OnBytes, PutMeta, StoreError, Tuning, Versioned};

/// Our metadata key: S3 returns it as `x-amz-meta-sha256`.
const SHA256_META: &str = "sha256";

fn failed(op: &'static str, url: &str, err: impl std::error::Error) -> StoreError {
    StoreError::Request {
        op,
        url: url.to_string(),
        message: DisplayErrorContext(err).to_string(),
    }
}

/// The objects directly below `target.key`, a directory's prefix.
pub(crate) async fn list(target: &Target<'_>) -> Result<Vec<Listed>, StoreError> {
    Ok(list_below(target).await?.0)
}

/// The directories directly below `target.key`, a directory's prefix.
pub(crate) async fn list_dirs(target: &Target<'_>) -> Result<Vec<String>, StoreError> {
    Ok(list_below(target).await?.1)
}

/// The objects and the directories directly below a directory's prefix: one
/// delimited listing gives both.
async fn list_below(target: &Target<'_>) -> Result<(Vec<Listed>, Vec<String>), StoreError> {
    let (client, prefix, url) = (target.client, target.key.as_str(), &target.url);
    let (mut listed, mut dirs) = (Vec::new(), Vec::new());
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(target.bucket)
            .prefix(prefix)
            .delimiter("/")
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| failed("LIST", url, e))?;
        for object in page.contents() {
            let Some(name) = object.key().and_then(|k| k.strip_prefix(prefix)) else {
                continue;
            };
            listed.push(Listed {
                name: name.to_string(),
                size: object.size().unwrap_or(0).max(0) as u64,
            });
        }
        for common in page.common_prefixes() {
            if let Some(name) = common.prefix().and_then(|p| p.strip_prefix(prefix)) {
                dirs.push(name.trim_end_matches('/').to_string());
            }
        }
        match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
            _ => break,
        }
    }
    dirs.sort();
    Ok((listed, dirs))
}

pub(crate) async fn delete(target: &Target<'_>) -> Result<(), StoreError> {
    target
        .client
        .delete_object()
        .bucket(target.bucket)
        .key(&target.key)
        .send()
        .await
        .map_err(|e| failed("DELETE", &target.url, e))?;
    Ok(())
}

async fn get_object(target: &Target<'_>) -> Result<Option<GetObjectOutput>, StoreError> {
    match target
        .client
        .get_object()
        .bucket(target.bucket)
        .key(&target.key)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(failed("GET", &target.url, e)),
    }
}

pub(crate) async fn get(target: &Target<'_>) -> Result<Option<Versioned>, StoreError> {
    let url = &target.url;
    let Some(out) = get_object(target).await? else {
        return Ok(None);
    };
    let version = out.e_tag().unwrap_or_default().to_string();
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| failed("GET", url, e))?;
    Ok(Some(Versioned {
        bytes: bytes.into_bytes().to_vec(),
        version,
    }))
}

pub(crate) async fn download(
    target: &Target<'_>,
    to: &std::path::Path,
) -> Result<Option<u64>, StoreError> {
    let url = &target.url;
    let Some(out) = get_object(target).await? else {
        return Ok(None);
    };
    let io = |source| StoreError::Io {
        op: "GET",
        url: url.clone(),
        source,
    };
    let mut file = tokio::fs::File::create(to).await.map_err(io)?;
    let size = tokio::io::copy(&mut out.body.into_async_read(), &mut file)
        .await
        .map_err(io)?;
    file.sync_all().await.map_err(io)?;
    Ok(Some(size))
}

pub(crate) async fn head(target: &Target<'_>) -> Result<Option<Head>, StoreError> {
    let out = match target
        .client
        .head_object()
        .bucket(target.bucket)
        .key(&target.key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
        Err(e) => return Err(failed("HEAD", &target.url, e)),
    };
    Ok(Some(Head {
        size: out.content_length().unwrap_or(0).max(0) as u64,
        sha256: sha256_of(out.metadata(), out.checksum_sha256()),
    }))
}

/// The content sha256 an object carries: our metadata, else S3's own checksum
/// when it is of the whole object (a multipart "checksum of checksums" ends
/// in `-<parts>` and is no content digest).
fn sha256_of(metadata: Option<&HashMap<String, String>>, checksum: Option<&str>) -> Option<String> {
    let is_hex_sha = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(sha) = metadata.and_then(|m| m.get(SHA256_META)) {
        if is_hex_sha(sha) {
            return Some(sha.to_ascii_lowercase());
        }
    }
    let checksum = checksum.filter(|c| !c.contains('-'))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(checksum)
        .ok()?;
    (raw.len() == 32).then(|| hex::encode(raw))
}

fn base64_of_hex(sha256: &str) -> Option<String> {
    let raw = hex::decode(sha256).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(raw))
}

/// An object (or a directory's prefix) of a bucket.
pub(crate) struct Target<'a> {
    pub client: &'a Client,
    pub bucket: &'a str,
    pub key: String,
    pub url: String,
}

pub(crate) async fn put(
    target: &Target<'_>,
    body: &Body,
    meta: &PutMeta,
    tuning: &Tuning,
    on_bytes: OnBytes<'_>,
) -> Result<(), StoreError> {
    match body {
        Body::File(path) if meta.size >= tuning.multipart_threshold => {
            put_multipart(target, path, meta, tuning, on_bytes).await
        }
        _ => {
            let stream = match body {
                Body::File(path) => ByteStream::read_from()
                    .path(path)
                    .build()
                    .await
                    .map_err(|e| failed("PUT", &target.url, e))?,
                Body::Bytes(bytes) => ByteStream::from(bytes.as_ref().clone()),
            };
            put_object(target, stream, meta, None).await?;
            on_bytes(meta.size);
            Ok(())
        }
    }
}

pub(crate) async fn put_if(
    target: &Target<'_>,
    bytes: Arc<Vec<u8>>,
    meta: &PutMeta,
    expect: &Expect,
) -> Result<bool, StoreError> {
    let stream = ByteStream::from(bytes.as_ref().clone());
    put_object(target, stream, meta, Some(expect)).await
}

/// One PutObject of a whole body; with `expect`, only over that version
/// (false when another write came first). S3 checks the body against
/// ChecksumSHA256, so a file that changed since it was planned is refused
/// rather than stored under a false digest; that check makes signing the
/// payload (one more pass over it) redundant.
async fn put_object(
    target: &Target<'_>,
    stream: ByteStream,
    meta: &PutMeta,
    expect: Option<&Expect>,
) -> Result<bool, StoreError> {
    let put = target
        .client
        .put_object()
        .bucket(target.bucket)
        .key(&target.key)
        .body(stream)
        .content_length(meta.size as i64)
        .content_type(&meta.content_type)
        .metadata(SHA256_META, &meta.sha256)
        .set_checksum_sha256(base64_of_hex(&meta.sha256));
    let put = match expect {
        None => put,
        Some(Expect::Absent) => put.if_none_match("*"),
        Some(Expect::Version(etag)) => put.if_match(etag),
    };
    match put.customize().disable_payload_signing().send().await {
        Ok(_) => Ok(true),
        // 412: another write came first; 409: one is in progress.
        Err(e)
            if expect.is_some()
                && matches!(
                    e.raw_response().map(|r| r.status().as_u16()),
                    Some(412 | 409)
                ) =>
        {
            Ok(false)
        }
        Err(e) => Err(failed("PUT", &target.url, e)),
    }
}

/// Parts are read in order (hashing the whole object on the way) and uploaded
/// concurrently; nothing is visible until CompleteMultipartUpload, which is
/// only sent when every part is in and the digest is the planned one.
async fn put_multipart(
    target: &Target<'_>,
    path: &std::path::Path,
    meta: &PutMeta,
    tuning: &Tuning,
    on_bytes: OnBytes<'_>,
) -> Result<(), StoreError> {
    let url = &target.url;
    let created = target
        .client
        .create_multipart_upload()
        .bucket(target.bucket)
        .key(&target.key)
        .content_type(&meta.content_type)
        .metadata(SHA256_META, &meta.sha256)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .map_err(|e| failed("CREATE MULTIPART", url, e))?;
    let upload_id = created.upload_id().unwrap_or_default().to_string();
    let result = upload_parts(target, &upload_id, path, meta, tuning, on_bytes).await;
    let parts = match result {
        Ok(parts) => parts,
        Err(e) => {
            // Best effort: an upload left behind is invisible and expires with
            // the bucket's lifecycle rules; the error that matters is `e`.
            if let Err(abort) = target
                .client
                .abort_multipart_upload()
                .bucket(target.bucket)
                .key(&target.key)
                .upload_id(&upload_id)
                .send()
                .await
            {
                tracing::warn!(
                    "{url}: cannot abort the multipart upload: {}",
                    DisplayErrorContext(abort)
                );
            }
            return Err(e);
        }
    };
    target
        .client
        .complete_multipart_upload()
        .bucket(target.bucket)
        .key(&target.key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| failed("COMPLETE MULTIPART", url, e))?;
    Ok(())
}

async fn upload_parts(
    target: &Target<'_>,
    upload_id: &str,
    path: &std::path::Path,
    meta: &PutMeta,
    tuning: &Tuning,
    on_bytes: OnBytes<'_>,
) -> Result<Vec<CompletedPart>, StoreError> {
    let url = target.url.clone();
    let io = |e| StoreError::Io {
        op: "READ",
        url: url.clone(),
        source: e,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut whole = Sha256::new();
    let mut in_flight: JoinSet<Result<(CompletedPart, u64), StoreError>> = JoinSet::new();
    let mut parts = Vec::new();
    let mut part_number = 0;
    let mut remaining = meta.size;
    while remaining > 0 || !in_flight.is_empty() {
        if remaining > 0 && in_flight.len() < tuning.part_concurrency.max(1) {
            let len = remaining.min(tuning.part_size);
            // Reading and hashing block: off the runtime's threads, which
            // keep the other parts' requests moving meanwhile.
            let (back_file, back_whole, read) = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0; len as usize];
                let read = file.read_exact(&mut buf).map(|()| {
                    whole.update(&buf);
                    let part = Sha256::digest(&buf);
                    (buf, part)
                });
                (file, whole, read)
            })
            .await
            .expect("reading a part does not panic");
            (file, whole) = (back_file, back_whole);
            let (buf, part_sha256) = read.map_err(io)?;
            remaining -= len;
            part_number += 1;
            let checksum = base64::engine::general_purpose::STANDARD.encode(part_sha256);
            let upload = target
                .client
                .upload_part()
                .bucket(target.bucket)
                .key(&target.key)
                .upload_id(upload_id)
                .part_number(part_number)
                .content_length(len as i64)
                .checksum_sha256(&checksum)
                .body(ByteStream::from(buf))
                .customize()
                .disable_payload_signing();
            let url = url.clone();
            in_flight.spawn(async move {
                let out = upload
                    .send()
                    .await
                    .map_err(|e| failed("UPLOAD PART", &url, e))?;
                let part = CompletedPart::builder()
                    .part_number(part_number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .checksum_sha256(checksum)
                    .build();
                Ok((part, len))
            });
            continue;
        }
        let done = in_flight
            .join_next()
            .await
            .expect("a part is in flight")
            .expect("a part upload does not panic");
        match done {
            Ok((part, len)) => {
                on_bytes(len);
                parts.push(part);
            }
            Err(e) => {
                in_flight.abort_all();
                return Err(e);
            }
        }
    }
    let actual = hex::encode(whole.finalize());
    if actual != meta.sha256 {
        return Err(StoreError::Changed {
            url,
            expected: meta.sha256.clone(),
            actual,
        });
    }
    parts.sort_by_key(|p| p.part_number());
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_from_metadata_or_whole_object_checksum() {
        let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let meta: HashMap<_, _> = [(SHA256_META.to_string(), sha.to_string())].into();
        assert_eq!(sha256_of(Some(&meta), None).as_deref(), Some(sha));
        let b64 = base64_of_hex(sha).unwrap();
        assert_eq!(sha256_of(None, Some(&b64)).as_deref(), Some(sha));
        // A multipart checksum of checksums says nothing about the content.
        assert_eq!(sha256_of(None, Some(&format!("{b64}-3"))), None);
        assert_eq!(sha256_of(None, None), None);
    }
}
