//! Where objects live: `s3://bucket/prefix/` or `file:///directory/`.

use std::fmt;
use std::path::PathBuf;

/// Why a location is not one we can write to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url:?}: {reason}")]
pub struct LocationError {
    pub url: String,
    pub reason: String,
}

/// A directory-like place for objects. Keys below it always use `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// `prefix` is empty or ends with `/`.
    S3 {
        bucket: String,
        prefix: String,
    },
    File {
        dir: PathBuf,
    },
}

impl Location {
    /// Parse `s3://bucket[/prefix][/]` or `file:///absolute/dir[/]`.
    pub fn parse(url: &str) -> Result<Location, LocationError> {
        let bad = |reason: &str| LocationError {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            check_bucket(bucket).map_err(|r| bad(&r))?;
            let segments = segments(prefix).map_err(|r| bad(&r))?;
            Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: segments.iter().map(|s| format!("{s}/")).collect(),
            })
        } else if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad(
                    "a file location needs an absolute path: file:///absolute/dir",
                ));
            }
            let segments = segments(&path[1..]).map_err(|r| bad(&r))?;
            let mut dir = PathBuf::from("/");
            dir.extend(segments);
            Ok(Location::File { dir })
        } else {
            Err(bad("expected s3://bucket/prefix or file:///directory"))
        }
    }

    /// The location `rel` (a relative `a/b` path) below this one.
    pub fn join(&self, rel: &str) -> Result<Location, LocationError> {
        let segments = segments(rel).map_err(|reason| LocationError {
            url: format!("{self}{rel}"),
            reason,
        })?;
        Ok(match self {
            Location::S3 { bucket, prefix } => Location::S3 {
                bucket: bucket.clone(),
                prefix: segments
                    .iter()
                    .fold(prefix.clone(), |p, s| format!("{p}{s}/")),
            },
            Location::File { dir } => Location::File {
                dir: segments.iter().fold(dir.clone(), |d, s| d.join(s)),
            },
        })
    }

    /// The location whose `join(rel)` this is, if this one ends with the
    /// segments of `rel`.
    pub fn strip_suffix(&self, rel: &str) -> Option<Location> {
        let tail = segments(rel).ok()?;
        match self {
            Location::S3 { bucket, prefix } => {
                let rest = prefix
                    .strip_suffix(&tail.iter().map(|s| format!("{s}/")).collect::<String>())?;
                (rest.is_empty() || rest.ends_with('/')).then(|| Location::S3 {
                    bucket: bucket.clone(),
                    prefix: rest.to_string(),
                })
            }
            Location::File { dir } => {
                let mut dir = dir.clone();
                for segment in tail.iter().rev() {
                    if dir.file_name()? != *segment {
                        return None;
                    }
                    dir.pop();
                }
                Some(Location::File { dir })
            }
        }
    }

    pub fn is_s3(&self) -> bool {
        matches!(self, Location::S3 { .. })
    }

    /// The URL of `key` below this location.
    pub fn url(&self, key: &str) -> String {
        format!("{self}{key}")
    }
}

impl fmt::Display for Location {
    /// Always ends with `/`, so `url + key` is the object's URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Location::File { dir } => {
                let dir = dir.to_string_lossy();
                write!(f, "file://{}/", dir.trim_end_matches('/'))
            }
        }
    }
}

/// The `/`-separated segments of a relative path; a trailing `/` is allowed,
/// a leading one, empty, `.` and `..` segments are not (they would escape or
/// alias).
fn segments(path: &str) -> Result<Vec<&str>, String> {
    let path = path.strip_suffix('/').unwrap_or(path);
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err("a path may not contain empty, \".\" or \"..\" segments".into());
    }
    Ok(segments)
}

/// S3's bucket naming rules, so a typo fails before any request.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let ends = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if bucket.is_empty() {
        Err("no bucket name".into())
    } else if !(3..=63).contains(&bucket.len())
        || !ok_chars
        || !ends(bucket.bytes().next())
        || !ends(bucket.bytes().last())
    {
        Err(format!(
            "{bucket:?} is not a valid bucket name (3-63 lowercase letters, digits, '.' or '-')"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_suffix_undoes_join() {
        let table = [
            ("s3://code/lava/_boot_/", "_boot_", Some("s3://code/lava/")),
            ("s3://code/_boot_", "_boot_", Some("s3://code/")),
            ("s3://code/lava/x_boot_/", "_boot_", None),
            ("s3://code/lava/boot/", "_boot_", None),
            ("file:///tmp/a/_boot_", "_boot_", Some("file:///tmp/a/")),
            ("file:///tmp/a/v8/cfn", "v8/cfn", Some("file:///tmp/a/")),
            ("file:///tmp/a/boot", "_boot_", None),
        ];
        for (location, rel, expected) in table {
            let location = Location::parse(location).unwrap();
            let got = location.strip_suffix(rel);
            assert_eq!(
                got.as_ref().map(ToString::to_string).as_deref(),
                expected,
                "{location} - {rel}"
            );
            if let Some(parent) = got {
                assert_eq!(parent.join(rel).unwrap(), location);
            }
        }
    }

    #[test]
    fn s3_locations_round_trip() {
        let l = Location::parse("s3://my-bucket/some/prefix").unwrap();
        assert_eq!(
            l,
            Location::S3 {
                bucket: "my-bucket".into(),
                prefix: "some/prefix/".into()
            }
        );
        assert_eq!(l.to_string(), "s3://my-bucket/some/prefix/");
        assert_eq!(
            Location::parse("s3://my-bucket").unwrap().to_string(),
            "s3://my-bucket/"
        );
        let joined = l.join("lava/_dist_/pkg/").unwrap();
        assert_eq!(
            joined.to_string(),
            "s3://my-bucket/some/prefix/lava/_dist_/pkg/"
        );
        assert_eq!(
            joined.url("amzn2023/SHA256SUMS"),
            "s3://my-bucket/some/prefix/lava/_dist_/pkg/amzn2023/SHA256SUMS"
        );
    }

    #[test]
    fn file_locations_round_trip() {
        let l = Location::parse("file:///srv/mirror/").unwrap();
        assert_eq!(
            l,
            Location::File {
                dir: "/srv/mirror".into()
            }
        );
        assert_eq!(l.to_string(), "file:///srv/mirror/");
        assert_eq!(
            l.join("lava").unwrap().to_string(),
            "file:///srv/mirror/lava/"
        );
    }

    #[test]
    fn malformed_locations_say_why() {
        for (url, needle) in [
            ("s3://", "no bucket"),
            ("s3:///prefix", "no bucket"),
            ("s3://My_Bucket/x", "valid bucket name"),
            ("s3://ab/x", "valid bucket name"),
            ("s3://bucket//x", "empty"),
            ("s3://bucket/a/../b", "\"..\""),
            ("file://relative/dir", "absolute"),
            ("https://bucket/x", "expected s3://"),
            ("bucket/x", "expected s3://"),
        ] {
            let err = Location::parse(url).unwrap_err();
            assert!(err.to_string().contains(needle), "{url}: {err}");
        }
        let base = Location::parse("s3://bucket").unwrap();
        assert!(base.join("a/../../b").is_err());
    }
}
