//! `lava-boot`: the worker boot, run by `_boot_/50-lava.sh` and `root.boot.sh`.

fn main() -> std::process::ExitCode {
    lava_boot::cli::main()
}
