//! The Lambda zips' `bootstrap`s run end to end: each is started against the
//! local Runtime API of `lava-lambda-harness` (the one `cargo xtask bench`
//! times), with its AWS endpoint pointed at a moto, and invoked once.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use lava_builder::DistOptions;
use lava_lambda::dispatch::MaxDelay;
pub use lava_lambda_harness::{Error, Outcome, Run};
use lava_layout::{lambda_key, Arch, Component, LambdaFunction};
use serde_json::Value;

use crate::moto::Moto;

/// Ample for a cold start on a loaded machine: a function that hangs fails
/// its test instead of hanging it.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The `bootstrap` of `function` for `arch`, unpacked from the zip `dist
/// --only lambda` builds (both architectures, once per test binary).
pub fn bootstrap(function: LambdaFunction, arch: Arch) -> PathBuf {
    static UNPACKED: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = UNPACKED.get_or_init(|| {
        let (dist, result) = crate::build_dist(DistOptions {
            only: vec![Component::Lambda],
            ..Default::default()
        });
        result.unwrap_or_else(|e| panic!("dist --only lambda failed: {e}"));
        let dir = crate::process_tempdir();
        let version = lava_builder::Release::load(&crate::workspace_root())
            .expect("workspace release")
            .version;
        for arch in Arch::ALL {
            std::fs::create_dir(dir.path().join(arch.uname())).expect("mkdir");
            for function in LambdaFunction::ALL {
                let zip = dist.path().join(lambda_key(function, &version, arch));
                let out = dir.path().join(arch.uname()).join(function.name());
                std::fs::write(&out, read_bootstrap(&zip)).expect("write bootstrap");
                std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod bootstrap");
            }
        }
        dir
    });
    dir.path().join(arch.uname()).join(function.name())
}

fn read_bootstrap(zip: &Path) -> Vec<u8> {
    let file = std::fs::File::open(zip).unwrap_or_else(|e| panic!("{}: {e}", zip.display()));
    let mut archive = zip::ZipArchive::new(file).expect("a zip file");
    let mut entry = archive.by_name("bootstrap").expect("bootstrap in the zip");
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).expect("read bootstrap");
    bytes
}

/// The name the realm template gives `function` of `realm`:
/// `lava-<realm>-<function>` (stop and metrics check it).
pub fn function_name(realm: &str, function: LambdaFunction) -> String {
    format!("lava-{realm}-{function}")
}

/// Invoke `function`'s bootstrap of this host's architecture once with
/// `event`, as realm `realm`'s function (`LAVA_REALM` set as the template sets
/// it), talking to `moto`; `env` adds or overrides variables.
pub fn invoke(
    function: LambdaFunction,
    realm: &str,
    moto: &Moto,
    event: &Value,
    env: &[(&str, &str)],
) -> Result<Run, Error> {
    let host = Arch::host().expect("a supported host");
    invoke_on(host, function, realm, moto, event, env)
}

/// One row of the dispatch and s3trigger tables: `invoke` with
/// `LAVA_SQS_MAX_DELAY_MINS` set to `max_delay_mins` when given (both
/// functions bound their delays by it), then what the function answered.
/// `what` names the row when the invocation itself fails.
pub fn invoke_row(
    function: LambdaFunction,
    realm: &str,
    moto: &Moto,
    event: &Value,
    max_delay_mins: Option<&str>,
    what: &str,
) -> (Run, Result<Value, String>) {
    let env: Vec<(&str, &str)> = max_delay_mins
        .map(|mins| (MaxDelay::VAR, mins))
        .into_iter()
        .collect();
    let run = invoke(function, realm, moto, event, &env).unwrap_or_else(|e| panic!("{what}: {e}"));
    let answered = answer(&run);
    (run, answered)
}

/// `invoke` with the bootstrap built for `arch` (under qemu when foreign).
pub fn invoke_on(
    arch: Arch,
    function: LambdaFunction,
    realm: &str,
    moto: &Moto,
    event: &Value,
    env: &[(&str, &str)],
) -> Result<Run, Error> {
    let mut command = crate::command_for(arch, bootstrap(function, arch));
    command
        .env_clear()
        .envs(moto.env())
        .env("LAVA_REALM", realm);
    command.envs(env.iter().copied());
    lava_lambda_harness::invoke_once(
        command,
        &function_name(realm, function),
        event.to_string().as_bytes(),
        TIMEOUT,
    )
}

/// What the invocation gave Lambda: the JSON of its `/response`, or the
/// `errorMessage` of its `/error` (Lambda records an error, retries an
/// asynchronous invocation and sends it to the dead-letter queue); panics,
/// showing the function's output, when it failed its start.
pub fn answer(run: &Run) -> Result<Value, String> {
    match &run.outcome {
        Outcome::Response(_) => Ok(response(run)),
        Outcome::Error { body, .. } => {
            let body: Value = serde_json::from_slice(body)
                .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {}", run.output));
            Err(body["errorMessage"]
                .as_str()
                .unwrap_or_else(|| panic!("no errorMessage in {body}"))
                .to_string())
        }
        other => panic!("the start failed: {other:?}; output:\n{}", run.output),
    }
}

/// The JSON of a `/response`; panics, showing the function's output, on
/// anything else.
pub fn response(run: &Run) -> Value {
    match &run.outcome {
        Outcome::Response(body) => serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", run.output)),
        other => panic!(
            "expected a response, got {other:?}; output:\n{}",
            run.output
        ),
    }
}
