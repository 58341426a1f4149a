//! Running a function process for one invocation, as the Lambda service does
//! on a cold start: start it with the service's environment, hand it one event
//! through the Runtime API, wait for its answer, then stop it.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::server::{Outcome, RuntimeApi};
use crate::Error;

/// The account in the function ARN handed to the function: moto's default.
const ACCOUNT: &str = "123456789012";
/// How long past its timeout a function may take to answer before the
/// harness gives up: its start (Lambda's separate init phase) and slack.
const GRACE: Duration = Duration::from_secs(5);

/// One measured invocation of a freshly started function process.
#[derive(Debug)]
pub struct Run {
    pub outcome: Outcome,
    /// From starting the process to its first Runtime API request: its initialisation.
    pub init: Duration,
    /// From starting the process to its answer arriving: the cold start.
    pub cold_start: Duration,
    /// Peak resident set size (VmHWM) in KiB, read once the answer is in;
    /// `None` where /proc is unavailable.
    pub peak_rss_kib: Option<u64>,
    /// What the process wrote to stdout and stderr.
    pub output: String,
}

/// Start `command` as function `function_name` against a fresh local Runtime
/// API, invoke it once with `event` and a deadline `timeout` (the function's
/// timeout) later, and stop it once it has answered, or a little after the
/// deadline. `command` brings the function's own environment (AWS
/// endpoint, credentials, `LAVA_REALM`, ...); this adds what the Lambda
/// service provides: `AWS_LAMBDA_RUNTIME_API`, the function name, memory,
/// version and log names.
pub fn invoke_once(
    mut command: Command,
    function_name: &str,
    event: &[u8],
    timeout: Duration,
) -> Result<Run, Error> {
    let api = RuntimeApi::start().map_err(Error::Server)?;
    let region = command
        .get_envs()
        .find(|(k, _)| *k == "AWS_REGION")
        .and_then(|(_, v)| v)
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_else(|| "us-east-1".into());
    // Queued before the start, so the cold start never includes the harness.
    let request_id = api.enqueue(
        event,
        &format!("arn:aws:lambda:{region}:{ACCOUNT}:function:{function_name}"),
        timeout,
    );
    command
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function_name}"),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so `stop` ends what it started too.
        .process_group(0);

    let start = Instant::now();
    let mut child = command.spawn().map_err(|source| Error::Spawn {
        program: command.get_program().to_string_lossy().into_owned(),
        source,
    })?;
    let output = Output::capture(&mut child);
    let deadline = start + timeout + GRACE;
    let posted = loop {
        // Short waits, so a process that dies is noticed promptly.
        let until = deadline.min(Instant::now() + Duration::from_millis(50));
        if let Some(posted) = api.wait(&request_id, until) {
            break posted;
        }
        if let Ok(Some(status)) = child.try_wait() {
            // It may have answered (an init error, say) just before exiting.
            if let Some(posted) = api.wait(&request_id, Instant::now()) {
                break posted;
            }
            return Err(Error::Exited {
                function: function_name.to_string(),
                status,
                output: output.finish(),
            });
        }
        if Instant::now() >= deadline {
            stop(&mut child);
            return Err(Error::Timeout {
                function: function_name.to_string(),
                waited: timeout + GRACE,
                output: output.finish(),
            });
        }
    };
    // Still alive (polling for the next event), so VmHWM is this run's peak.
    let peak_rss_kib = peak_rss_kib(child.id());
    stop(&mut child);
    Ok(Run {
        outcome: posted.outcome,
        init: api.first_request().unwrap_or(posted.at) - start,
        cold_start: posted.at - start,
        peak_rss_kib,
        output: output.finish(),
    })
}

/// Kill the function's whole process group: a wrapper (qemu under `timeout`
/// for a foreign architecture) would otherwise leave the function running,
/// holding the output pipes open forever.
fn stop(child: &mut Child) {
    if let Some(group) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `VmHWM` of /proc/<pid>/status, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// stdout and stderr read as they come (a full pipe would stall the
/// function), into one buffer.
struct Output {
    buffer: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Output {
    fn capture(child: &mut Child) -> Output {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let pipes: [Option<Box<dyn Read + Send>>; 2] = [
            child.stdout.take().map(|p| Box::new(p) as _),
            child.stderr.take().map(|p| Box::new(p) as _),
        ];
        for mut pipe in pipes.into_iter().flatten() {
            let buffer = Arc::clone(&buffer);
            readers.push(std::thread::spawn(move || {
                let mut chunk = [0; 8192];
                while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                    buffer
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&chunk[..n]);
                }
            }));
        }
        Output { buffer, readers }
    }

    /// Everything captured; call once the process has ended.
    fn finish(self) -> String {
        for reader in self.readers {
            let _ = reader.join();
        }
        let bytes = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A custom runtime in bash over /dev/tcp: the protocol as the Lambda
    /// documentation shows it, without any Lambda client library.
    fn shell_function(script: &str) -> Command {
        let mut command = Command::new("bash");
        command.args(["-c", script]);
        command
    }

    const ECHO: &str = r#"
        host=${AWS_LAMBDA_RUNTIME_API%:*} port=${AWS_LAMBDA_RUNTIME_API#*:}
        exec 3<>/dev/tcp/$host/$port
        printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n' >&3
        while IFS= read -r line <&3; do
            line=${line%$'\r'}
            [ -z "$line" ] && break
            case ${line,,} in
                lambda-runtime-aws-request-id:*) id=${line#*: } ;;
                content-length:*) len=${line#*: } ;;
            esac
        done
        IFS= read -r -N "$len" event <&3
        echo "got $event"
        body="{\"echo\":$event}"
        printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s' \
            "$id" "${#body}" "$body" >&3
        # Replace the shell, so stopping the process closes the output pipes.
        exec sleep 30
    "#;

    #[test]
    fn a_custom_runtime_answers_and_is_measured() {
        let run = invoke_once(
            shell_function(ECHO),
            "echo",
            br#"{"n":1}"#,
            Duration::from_secs(20),
        )
        .unwrap();
        assert_eq!(
            run.outcome,
            Outcome::Response(br#"{"echo":{"n":1}}"#.to_vec())
        );
        assert!(run.init <= run.cold_start);
        assert!(run.peak_rss_kib.is_some_and(|kib| kib > 0));
        assert!(run.output.contains(r#"got {"n":1}"#), "{}", run.output);
    }

    #[test]
    fn stopping_a_function_ends_what_it_started() {
        // A wrapper's child, as qemu is under `timeout`.
        let script = format!("sleep 300 </dev/null >/dev/null 2>&1 & echo \"started $!\"\n{ECHO}");
        let run = invoke_once(
            shell_function(&script),
            "wrapped",
            b"{}",
            Duration::from_secs(20),
        )
        .unwrap();
        let pid = run
            .output
            .lines()
            .find_map(|l| l.strip_prefix("started "))
            .unwrap_or_else(|| panic!("no pid in {}", run.output));
        // Gone, or a zombie waiting for init to reap it.
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rsplit(") ").next().unwrap_or_default().chars().next());
        assert!(
            matches!(state, Err(_) | Ok(Some('Z'))),
            "process {pid} outlived its function: {state:?}"
        );
    }

    #[test]
    fn a_process_that_dies_or_hangs_is_reported_with_its_output() {
        let err = invoke_once(
            shell_function("echo boom >&2; exit 3"),
            "dies",
            b"{}",
            Duration::from_secs(20),
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Exited { output, .. } if output.contains("boom")),
            "{err}"
        );
        let err = invoke_once(
            shell_function("exec sleep 30"),
            "hangs",
            b"{}",
            Duration::ZERO,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
    }
}
