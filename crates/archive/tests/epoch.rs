//! `source_date_epoch`, in its own test binary because it sets the process's
//! environment, which tests running in parallel would otherwise share.

use std::process::Command;

use lava_archive::{source_date_epoch, Error};

fn git(repo: &std::path::Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .env("GIT_COMMITTER_DATE", "1600000000 +0200")
        .env("GIT_AUTHOR_DATE", "1500000000 +0000")
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[test]
fn env_var_wins_over_git_and_must_be_an_integer() {
    let repo = tempfile::TempDir::new().unwrap();
    std::env::remove_var("SOURCE_DATE_EPOCH");

    // Not a repository yet: no source of a date at all.
    let err = source_date_epoch(repo.path()).unwrap_err();
    assert!(matches!(err, Error::NoEpoch { .. }), "{err}");
    assert!(
        err.to_string().contains(&*repo.path().to_string_lossy()),
        "{err}"
    );

    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["commit", "-q", "--allow-empty", "-m", "c"]);
    // The committer time, not the author time.
    assert_eq!(source_date_epoch(repo.path()).unwrap(), 1_600_000_000);

    std::env::set_var("SOURCE_DATE_EPOCH", "1234567890");
    assert_eq!(source_date_epoch(repo.path()).unwrap(), 1_234_567_890);

    std::env::set_var("SOURCE_DATE_EPOCH", "yesterday");
    let err = source_date_epoch(repo.path()).unwrap_err();
    assert!(
        matches!(err, Error::BadEpoch(ref v) if v == "yesterday"),
        "{err}"
    );
    assert!(err.to_string().contains("yesterday"), "{err}");
    std::env::remove_var("SOURCE_DATE_EPOCH");
}
