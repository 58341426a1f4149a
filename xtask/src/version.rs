//! `cargo xtask version`: the release version, and whether a tag names it.

use clap::Args;
use lava_builder::Release;

use crate::{workspace_root, Failure};

/// Print the release version: [workspace.metadata.lava] version in
/// Cargo.toml when set, else [workspace.package] version.
///
/// With --tag, first check that a release tag names this version
/// (v<VERSION>, exactly); when it does not, exit 2 naming both. The release
/// workflow runs this before it builds anything.
///
/// Examples:
///   cargo xtask version
///   cargo xtask version --tag v8.3.0
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct VersionArgs {
    /// A release tag that must name this version, as pushed (v8.3.0).
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
}

pub fn run(args: VersionArgs) -> Result<(), Failure> {
    let release = Release::load(&workspace_root())?;
    if let Some(tag) = &args.tag {
        release.check_tag(tag)?;
    }
    println!("{}", release.version);
    Ok(())
}
