//! The selection rules as a table: listing x pin x platform -> choice or abort.

use lava_boot::{select, Reason, SelectError};
use lava_layout::Version;

/// What a case expects.
enum Want {
    Pick(&'static str, Reason),
    PinnedMissing,
    NothingFits,
}
use Want::*;

struct Case {
    name: &'static str,
    listing: &'static [&'static str],
    platform: &'static str,
    pin: Option<&'static str>,
    want: Want,
    /// How many names must be reported as skipped (malformed).
    skipped: usize,
}

const X11: &str = "amzn2023-py3.11-x86_64";
const A11: &str = "amzn2023-py3.11-aarch64";
const X12: &str = "amzn2023-py3.12-x86_64";

const MIXED: &[&str] = &[
    "lava-7.1.0.tar.bz2",
    "lava-8.0.0.tar.bz2",
    "lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2",
    "lava-8.1.0-amzn2023-py3.11-aarch64.tar.bz2",
    "lava-8.2.0-amzn2023-py3.12-x86_64.tar.bz2",
    "SHA256SUMS",
];

const ORDERING: &[&str] = &[
    "lava-8.9.1-amzn2023-py3.11-x86_64.tar.bz2",
    "lava-9.0.0-amzn2023-py3.11-x86_64.tar.bz2",
    "lava-8.10.0-amzn2023-py3.11-x86_64.tar.bz2",
];

/// PEP 440 pre-, post- and dev-releases of one platform.
const PEP440: &[&str] = &[
    "lava-8.3.0-amzn2023-py3.11-x86_64.tar.bz2",
    "lava-8.3.1rc1-amzn2023-py3.11-x86_64.tar.bz2",
    "lava-8.3.0.post1-amzn2023-py3.11-x86_64.tar.bz2",
];

const CASES: &[Case] = &[
    // Pinned.
    Case {
        name: "pinned new style",
        listing: MIXED,
        platform: X11,
        pin: Some("8.1.0"),
        want: Pick(
            "lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::PinnedNew,
        ),
        skipped: 0,
    },
    Case {
        name: "pinned new style other arch",
        listing: MIXED,
        platform: A11,
        pin: Some("8.1.0"),
        want: Pick(
            "lava-8.1.0-amzn2023-py3.11-aarch64.tar.bz2",
            Reason::PinnedNew,
        ),
        skipped: 0,
    },
    Case {
        name: "pinned old-style fallback",
        listing: MIXED,
        platform: X11,
        pin: Some("8.0.0"),
        want: Pick("lava-8.0.0.tar.bz2", Reason::PinnedOld),
        skipped: 0,
    },
    Case {
        name: "pinned old-style for any platform",
        listing: MIXED,
        platform: A11,
        pin: Some("7.1.0"),
        want: Pick("lava-7.1.0.tar.bz2", Reason::PinnedOld),
        skipped: 0,
    },
    Case {
        name: "pinned but missing",
        listing: MIXED,
        platform: X11,
        pin: Some("8.5.0"),
        want: PinnedMissing,
        skipped: 0,
    },
    Case {
        name: "pinned version exists only for another python",
        listing: MIXED,
        platform: X11,
        pin: Some("8.2.0"),
        want: PinnedMissing,
        skipped: 0,
    },
    Case {
        name: "pinned version exists only for another arch",
        listing: &["lava-8.1.0-amzn2023-py3.11-aarch64.tar.bz2"],
        platform: X11,
        pin: Some("8.1.0"),
        want: PinnedMissing,
        skipped: 0,
    },
    Case {
        name: "pinned new preferred over old of same version",
        listing: &[
            "lava-8.1.0.tar.bz2",
            "lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2",
        ],
        platform: X11,
        pin: Some("8.1.0"),
        want: Pick(
            "lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::PinnedNew,
        ),
        skipped: 0,
    },
    Case {
        name: "pinned ignores higher versions",
        listing: ORDERING,
        platform: X11,
        pin: Some("8.9.1"),
        want: Pick(
            "lava-8.9.1-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::PinnedNew,
        ),
        skipped: 0,
    },
    Case {
        name: "pinned on empty prefix",
        listing: &[],
        platform: X11,
        pin: Some("8.1.0"),
        want: PinnedMissing,
        skipped: 0,
    },
    // Unpinned.
    Case {
        name: "unpinned highest is numeric not lexical",
        listing: ORDERING,
        platform: X11,
        pin: None,
        want: Pick(
            "lava-9.0.0-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    // PEP 440 ordering. Upstream's `sort -r --version-sort` on the file names
    // agrees on these new-style names...
    Case {
        name: "unpinned rc of the next release beats a post-release",
        listing: PEP440,
        platform: X11,
        pin: None,
        want: Pick(
            "lava-8.3.1rc1-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    Case {
        name: "unpinned post-release beats its release",
        listing: &[
            "lava-8.3.0.post1-amzn2023-py3.11-x86_64.tar.bz2",
            "lava-8.3.0-amzn2023-py3.11-x86_64.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick(
            "lava-8.3.0.post1-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    Case {
        name: "unpinned release beats its pre-releases",
        listing: &[
            "lava-8.3.1b1-amzn2023-py3.11-x86_64.tar.bz2",
            "lava-8.3.1-amzn2023-py3.11-x86_64.tar.bz2",
            "lava-8.3.1rc1-amzn2023-py3.11-x86_64.tar.bz2",
            "lava-8.3.1a1-amzn2023-py3.11-x86_64.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick(
            "lava-8.3.1-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    // ...but not on these: `sort -V` ranks 8.3.1.dev2 above 8.3.1 (and
    // 8.3.1rc1.dev1 above 8.3.1rc1), and in old-style names 8.3.1rc1 above 8.3.1.
    Case {
        name: "unpinned dev release loses to its release",
        listing: &[
            "lava-8.3.1.dev2-amzn2023-py3.11-x86_64.tar.bz2",
            "lava-8.3.1-amzn2023-py3.11-x86_64.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick(
            "lava-8.3.1-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    Case {
        name: "unpinned dev release of an rc loses to the rc",
        listing: &[
            "lava-8.3.1rc1-amzn2023-py3.11-x86_64.tar.bz2",
            "lava-8.3.1rc1.dev1-amzn2023-py3.11-x86_64.tar.bz2",
            "lava-8.3.1.dev2-amzn2023-py3.11-x86_64.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick(
            "lava-8.3.1rc1-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    Case {
        name: "unpinned old-style release beats its rc",
        listing: &[
            "lava-8.3.1rc1.tar.bz2",
            "lava-8.3.1.tar.bz2",
            "lava-8.3.0.post1.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick("lava-8.3.1.tar.bz2", Reason::HighestOld),
        skipped: 0,
    },
    Case {
        name: "pinned rc is that rc, not its release",
        listing: &[
            "lava-8.3.1-amzn2023-py3.11-x86_64.tar.bz2",
            "lava-8.3.1rc1-amzn2023-py3.11-x86_64.tar.bz2",
        ],
        platform: X11,
        pin: Some("8.3.1rc1"),
        want: Pick(
            "lava-8.3.1rc1-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::PinnedNew,
        ),
        skipped: 0,
    },
    Case {
        name: "pinned post-release missing",
        listing: PEP440,
        platform: X11,
        pin: Some("8.3.0.post2"),
        want: PinnedMissing,
        skipped: 0,
    },
    // PEP 440 equality: 8.3 is 8.3.0 (upstream looks the pin up by exact name).
    Case {
        name: "pinned 8.3 is 8.3.0",
        listing: PEP440,
        platform: X11,
        pin: Some("8.3"),
        want: Pick(
            "lava-8.3.0-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::PinnedNew,
        ),
        skipped: 0,
    },
    Case {
        name: "unpinned single bundle",
        listing: &["lava-8.9.1-amzn2023-py3.11-x86_64.tar.bz2"],
        platform: X11,
        pin: None,
        want: Pick(
            "lava-8.9.1-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    Case {
        name: "unpinned 8.10.0 beats 8.9.1",
        listing: &[
            "lava-8.9.1-amzn2023-py3.11-x86_64.tar.bz2",
            "lava-8.10.0-amzn2023-py3.11-x86_64.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick(
            "lava-8.10.0-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    Case {
        name: "unpinned new style beats higher old style",
        listing: &[
            "lava-9.9.9.tar.bz2",
            "lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick(
            "lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    Case {
        name: "unpinned mixed listing x86_64 py3.11",
        listing: MIXED,
        platform: X11,
        pin: None,
        want: Pick(
            "lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    Case {
        name: "unpinned mixed listing py3.12",
        listing: MIXED,
        platform: X12,
        pin: None,
        want: Pick(
            "lava-8.2.0-amzn2023-py3.12-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    Case {
        name: "unpinned old-style fallback picks highest old",
        listing: &[
            "lava-7.1.0.tar.bz2",
            "lava-8.0.0.tar.bz2",
            "lava-7.10.0.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick("lava-8.0.0.tar.bz2", Reason::HighestOld),
        skipped: 0,
    },
    Case {
        name: "unpinned other platforms only -> old style",
        listing: &[
            "lava-8.0.0.tar.bz2",
            "lava-9.0.0-amzn2023-py3.12-aarch64.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick("lava-8.0.0.tar.bz2", Reason::HighestOld),
        skipped: 0,
    },
    Case {
        name: "old-style never shadowed by another platform's new-style name",
        listing: &[
            "lava-7.1.0.tar.bz2",
            "lava-9.0.0-amzn2023-py3.11-aarch64.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick("lava-7.1.0.tar.bz2", Reason::HighestOld),
        skipped: 0,
    },
    Case {
        name: "other platforms only, no old style -> abort",
        listing: &[
            "lava-9.0.0-amzn2023-py3.11-aarch64.tar.bz2",
            "lava-9.0.0-amzn2023-py3.12-x86_64.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: NothingFits,
        skipped: 0,
    },
    Case {
        name: "other os never chosen",
        listing: &[
            "lava-9.0.0-amzn2-py3.11-x86_64.tar.bz2",
            "lava-8.0.0-amzn2023-py3.11-x86_64.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick(
            "lava-8.0.0-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    Case {
        name: "other os only -> abort",
        listing: &["lava-9.0.0-rocky9-py3.11-x86_64.tar.bz2"],
        platform: X11,
        pin: None,
        want: NothingFits,
        skipped: 0,
    },
    Case {
        name: "pinned other os only -> abort",
        listing: &["lava-9.0.0-rocky9-py3.11-x86_64.tar.bz2"],
        platform: X11,
        pin: Some("9.0.0"),
        want: PinnedMissing,
        skipped: 0,
    },
    Case {
        name: "empty prefix -> abort",
        listing: &[],
        platform: X11,
        pin: None,
        want: NothingFits,
        skipped: 0,
    },
    Case {
        name: "only SHA256SUMS -> abort",
        listing: &["SHA256SUMS"],
        platform: X11,
        pin: None,
        want: NothingFits,
        skipped: 0,
    },
    // Arch aliases, both ways.
    Case {
        name: "arm64 name chosen for aarch64 worker",
        listing: &["lava-8.1.0-amzn2023-py3.11-arm64.tar.bz2"],
        platform: A11,
        pin: None,
        want: Pick(
            "lava-8.1.0-amzn2023-py3.11-arm64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    Case {
        name: "aarch64 name chosen for arm64 worker",
        listing: &["lava-8.1.0-amzn2023-py3.11-aarch64.tar.bz2"],
        platform: "amzn2023-py3.11-arm64",
        pin: Some("8.1.0"),
        want: Pick(
            "lava-8.1.0-amzn2023-py3.11-aarch64.tar.bz2",
            Reason::PinnedNew,
        ),
        skipped: 0,
    },
    Case {
        name: "x64 name chosen for x86_64 worker",
        listing: &["lava-8.1.0-amzn2023-py3.11-x64.tar.bz2"],
        platform: X11,
        pin: None,
        want: Pick("lava-8.1.0-amzn2023-py3.11-x64.tar.bz2", Reason::HighestNew),
        skipped: 0,
    },
    Case {
        name: "x86_64 name chosen for amd64 worker",
        listing: &["lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2"],
        platform: "amzn2023-py3.11-amd64",
        pin: None,
        want: Pick(
            "lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 0,
    },
    Case {
        name: "alias does not cross architectures",
        listing: &["lava-8.1.0-amzn2023-py3.11-arm64.tar.bz2"],
        platform: X11,
        pin: None,
        want: NothingFits,
        skipped: 0,
    },
    // Malformed names are skipped with a warning, never chosen.
    Case {
        name: "malformed names skipped",
        listing: &[
            "lava-latest.tar.bz2",
            "lava-08.1.0.tar.bz2",
            "README.md",
            "lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick(
            "lava-8.1.0-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 3,
    },
    Case {
        name: "malformed high version never wins",
        listing: &[
            "lava-99.0.0-amzn2023-py3.11-sparc.tar.bz2",
            "lava-8.0.0.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick("lava-8.0.0.tar.bz2", Reason::HighestOld),
        skipped: 1,
    },
    Case {
        name: "dash pre-release spelling is malformed",
        listing: &["lava-9.0.0-rc1.tar.bz2", "lava-8.0.0.tar.bz2"],
        platform: X11,
        pin: None,
        want: Pick("lava-8.0.0.tar.bz2", Reason::HighestOld),
        skipped: 1,
    },
    Case {
        name: "non-canonical pre-release spellings are malformed",
        listing: &[
            "lava-9.0.0RC1-amzn2023-py3.11-x86_64.tar.bz2",
            "lava-9.0.0.rc1-amzn2023-py3.11-x86_64.tar.bz2",
            "lava-9.0.0c1-amzn2023-py3.11-x86_64.tar.bz2",
            "lava-8.0.0-amzn2023-py3.11-x86_64.tar.bz2",
        ],
        platform: X11,
        pin: None,
        want: Pick(
            "lava-8.0.0-amzn2023-py3.11-x86_64.tar.bz2",
            Reason::HighestNew,
        ),
        skipped: 3,
    },
    Case {
        name: "only malformed -> abort",
        listing: &["lava-x.tar.bz2", "lava-1.2.3.zip"],
        platform: X11,
        pin: None,
        want: NothingFits,
        skipped: 2,
    },
    Case {
        name: "old style with tar.gz is not a bundle",
        listing: &["lava-8.0.0.tar.gz"],
        platform: X11,
        pin: Some("8.0.0"),
        want: PinnedMissing,
        skipped: 1,
    },
];

#[test]
fn selection_table() {
    assert!(CASES.len() >= 30, "only {} cases", CASES.len());
    for case in CASES {
        let listing: Vec<String> = case.listing.iter().map(|s| s.to_string()).collect();
        let platform = case.platform.parse().unwrap();
        let pin: Option<Version> = case.pin.map(|p| p.parse().unwrap());
        let (result, skipped) = select(&listing, &platform, pin.as_ref());
        assert_eq!(
            skipped.len(),
            case.skipped,
            "{}: skipped {skipped:?}",
            case.name
        );
        match (&case.want, result) {
            (Pick(name, reason), Ok(sel)) => {
                assert_eq!(
                    (sel.name.as_str(), sel.reason),
                    (*name, *reason),
                    "{}",
                    case.name
                );
            }
            (PinnedMissing, Err(SelectError::PinnedMissing { version, .. })) => {
                assert_eq!(Some(version), pin, "{}", case.name);
            }
            (NothingFits, Err(SelectError::NothingFits { .. })) => {}
            (_, other) => panic!("{}: got {other:?}", case.name),
        }
    }
}

#[test]
fn abort_messages_name_the_platform_and_version() {
    let platform = X11.parse().unwrap();
    let (result, _) = select(&[], &platform, Some(&"8.5.0".parse().unwrap()));
    let msg = result.unwrap_err().to_string();
    assert!(msg.contains("8.5.0") && msg.contains(X11), "{msg}");
}
