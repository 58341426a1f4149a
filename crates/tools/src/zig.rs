//! zig: the C compiler and linker of everything the release ships as
//! native code. The Rust binaries are static musl executables linked by
//! `cargo zigbuild`, so no glibc of the build host reaches them; a compiled
//! Python extension is built with `zig cc -target <arch>-linux-gnu.<floor>`,
//! whose glibc stubs stop at the worker's version. Both come from PyPI
//! (`ziglang`, `cargo-zigbuild`), pinned: the compiler is an input of the
//! bytes, so every machine uses the same one.

use std::path::PathBuf;
use std::process::Command;

use crate::{as_from_a_shell, cache_dir, cargo_program, venv, ToolError};

/// The pins; a change makes a fresh venv.
pub const ZIG_PINS: [&str; 2] = ["ziglang==0.17.1", "cargo-zigbuild==0.24.1"];

/// A provisioned zig and cargo-zigbuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zig {
    venv: PathBuf,
}

impl Zig {
    /// `~/.cache/lava-dist/zig` (remade when the pins change).
    fn dir() -> Result<PathBuf, ToolError> {
        let cache = cache_dir()
            .ok_or_else(|| ToolError("no cache directory for zig (HOME is not set)".into()))?;
        Ok(cache.join("zig"))
    }

    /// The zig venv if it is already made: nothing is installed.
    pub fn find() -> Option<Zig> {
        let venv = Zig::dir().ok()?;
        crate::venv::is_made(&venv, &ZIG_PINS).then_some(Zig { venv })
    }

    /// The zig venv, made first (pip, from PyPI) if it is missing.
    pub fn provision() -> Result<Zig, ToolError> {
        let venv = venv(&Zig::dir()?, &ZIG_PINS)?;
        let zig = Zig { venv };
        zig.zig()?;
        Ok(zig)
    }

    /// The zig executable that `ziglang` carries in its package directory.
    pub fn zig(&self) -> Result<PathBuf, ToolError> {
        let lib = self.venv.join("lib");
        std::fs::read_dir(&lib)
            .map_err(|e| ToolError(format!("cannot read {}: {e}", lib.display())))?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("site-packages/ziglang/zig"))
            .find(|p| p.is_file())
            .ok_or_else(|| ToolError(format!("{} holds no ziglang/zig", self.venv.display())))
    }

    /// `cargo zigbuild`: cargo (with a shell's environment, see [`crate::cargo`])
    /// whose C compiler and linker for `--target` is this zig.
    pub fn cargo_zigbuild(&self) -> Result<Command, ToolError> {
        let mut command = as_from_a_shell(Command::new(self.venv.join("bin/cargo-zigbuild")));
        command
            .arg("zigbuild")
            .env("CARGO", cargo_program())
            .env("CARGO_ZIGBUILD_ZIG_PATH", self.zig()?)
            .env("CARGO_ZIGBUILD_CACHE_DIR", self.venv.join("cargo-zigbuild"));
        Ok(command)
    }

    /// A C compiler command line for `CC`: `zig cc` for `target` (a zig
    /// target such as `aarch64-linux-gnu.2.34`).
    pub fn cc(&self, target: &str) -> Result<String, ToolError> {
        Ok(format!("{} cc -target {target}", self.zig()?.display()))
    }
}
