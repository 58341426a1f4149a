//! The realm's Lambda functions as the code area holds them: each function's
//! `bootstrap` (built by [`crate::binaries`]) zipped alone at the root.

use std::path::Path;

use crate::BuildError;

/// Zip `binary` as `bootstrap` (mode 0755) at the root of `out`, stamped with
/// `mtime`: the shape `provided.al2023` runs.
pub fn zip(binary: &Path, mtime: u64, out: &Path) -> Result<(), BuildError> {
    let mut tree = lava_archive::Tree::new();
    tree.add_file("bootstrap", binary, true)?;
    lava_archive::write_zip(&tree, mtime, out)?;
    Ok(())
}
