//! The `lava-boot` command line, built in this package so that the boot tests
//! can run it (`CARGO_BIN_EXE_boot-cli`): the same `lava_boot::cli::main`
//! that crates/boot/src/main.rs runs.

fn main() -> std::process::ExitCode {
    lava_boot::cli::main()
}
