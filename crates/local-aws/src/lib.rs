//! AWS on loopback, for the tests and the bench: moto_server (every service
//! the product calls) and s3s-fs (a fast S3 on a plain directory), each a
//! process on a free 127.0.0.1 port that is stopped when its value is
//! dropped, and the SDK configuration or process environment of a client
//! that must talk to it and nothing else.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_sdk_s3::config::Credentials;

/// Credentials moto accepts; never real ones.
pub const ACCESS_KEY: &str = "testing";
pub const REGION: &str = "us-east-1";
/// moto's account, which STS GetCallerIdentity answers.
pub const MOTO_ACCOUNT: &str = "123456789012";
/// How long a server may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A server that did not start.
#[derive(Debug, thiserror::Error)]
#[error("{program}: {message}")]
pub struct StartError {
    pub program: String,
    pub message: String,
}

/// A server process on a loopback port, killed on drop.
struct Process {
    child: Child,
    port: u16,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Start `command` (which is given the port by `args`) and wait until
    /// `ready` says it answers. The free port is released before the server
    /// binds it, so another process may take it first: then ours dies or
    /// another answers, and a start whose own process does not hold the port
    /// is retried on another (3 tries).
    fn start(
        program: &Path,
        args: impl Fn(u16) -> Command,
        ready: impl Fn(u16) -> bool,
    ) -> Result<Process, StartError> {
        let fail = |message: String| StartError {
            program: program.display().to_string(),
            message,
        };
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| fail(format!("no free loopback port: {e}")))?
                .port();
            let child = args(port)
                .spawn()
                .map_err(|e| fail(format!("cannot start it: {e}")))?;
            let mut process = Process { child, port };
            let deadline = Instant::now() + START_TIMEOUT;
            while !ready(port) {
                if let Ok(Some(status)) = process.child.try_wait() {
                    return Err(fail(format!(
                        "exited ({status}) before answering on port {port}"
                    )));
                }
                if Instant::now() > deadline {
                    return Err(fail(format!(
                        "did not answer on port {port} within {}s",
                        START_TIMEOUT.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if process.holds_its_port() {
                return Ok(process);
            }
        }
        Err(fail("lost its port to another process three times".into()))
    }

    /// Whether the listening socket on the port is one of the child's open
    /// files (Linux: /proc/net/tcp's inode among /proc/<pid>/fd's links).
    fn holds_its_port(&self) -> bool {
        let local = format!("0100007F:{:04X}", self.port);
        let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
            return false;
        };
        let inodes: Vec<String> = table
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() > 9 && f[1] == local && f[3] == "0A")
            .map(|f| format!("socket:[{}]", f[9]))
            .collect();
        let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", self.child.id())) else {
            return false;
        };
        fds.filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .any(|link| inodes.iter().any(|i| link.to_str() == Some(i)))
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A plain HTTP GET on a loopback port: the body of a 200, else `None`.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    (head.split(' ').nth(1) == Some("200")).then(|| body.to_string())
}

/// A moto_server.
pub struct Moto {
    process: Process,
    log: Option<PathBuf>,
}

impl Moto {
    /// Start `moto_server`; with `log`, its request log (werkzeug writes a
    /// line per request to stderr) goes to that file.
    pub fn start(moto_server: &Path, log: Option<&Path>) -> Result<Moto, StartError> {
        let log_file = log
            .map(|path| {
                std::fs::File::create(path).map_err(|e| StartError {
                    program: moto_server.display().to_string(),
                    message: format!("cannot create its log {}: {e}", path.display()),
                })
            })
            .transpose()?;
        let args = |port: u16| {
            let mut command = Command::new(moto_server);
            command
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null());
            match log_file.as_ref().and_then(|f| f.try_clone().ok()) {
                Some(file) => command.stderr(file),
                None => command.stderr(Stdio::null()),
            };
            command
        };
        let process = Process::start(moto_server, args, |port| {
            http_get(port, "/moto-api/data.json").is_some()
        })?;
        Ok(Moto {
            process,
            log: log.map(Path::to_path_buf),
        })
    }

    pub fn port(&self) -> u16 {
        self.process.port
    }

    /// `http://127.0.0.1:<port>`, for AWS_ENDPOINT_URL or an SDK endpoint override.
    pub fn endpoint(&self) -> String {
        self.process.endpoint()
    }

    /// The request log, when started with one.
    pub fn log(&self) -> Option<&Path> {
        self.log.as_deref()
    }

    /// Environment for a child process that must talk to this moto only.
    pub fn env(&self) -> Vec<(String, String)> {
        client_env(&self.endpoint(), &[])
    }

    /// A plain HTTP GET on the server (moto's own API), `None` unless 200.
    pub fn get(&self, path: &str) -> Option<String> {
        http_get(self.process.port, path)
    }
}

/// An s3s-fs server: S3 on a directory, every object a file below it. It
/// has no STS, so its clients take STS from a moto.
pub struct S3sFs {
    process: Process,
    root: PathBuf,
    sts: String,
}

impl S3sFs {
    /// Serve `root` (created if missing); `sts` is a moto endpoint.
    pub fn start(s3s_fs: &Path, root: &Path, sts: String) -> Result<S3sFs, StartError> {
        std::fs::create_dir_all(root).map_err(|e| StartError {
            program: s3s_fs.display().to_string(),
            message: format!("cannot create {}: {e}", root.display()),
        })?;
        let args = |port: u16| {
            let mut command = Command::new(s3s_fs);
            command
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", ACCESS_KEY])
                .arg(root)
                .env("RUST_LOG", "error")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            command
        };
        let process = Process::start(s3s_fs, args, |port| {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })?;
        Ok(S3sFs {
            process,
            root: root.to_path_buf(),
            sts,
        })
    }

    pub fn endpoint(&self) -> String {
        self.process.endpoint()
    }

    /// The directory it serves: bucket `b`'s key `k` is `root/b/k`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Environment for a child process: S3 here, STS at the moto.
    pub fn env(&self) -> Vec<(String, String)> {
        let s3 = self.endpoint();
        client_env(
            &s3,
            &[
                ("AWS_ENDPOINT_URL_S3", s3.clone()),
                ("AWS_ENDPOINT_URL_STS", self.sts.clone()),
            ],
        )
    }
}

/// The AWS environment of a process that talks to `endpoint` (and the
/// per-service `extra` endpoints) only, with the fake credentials.
fn client_env(endpoint: &str, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", ACCESS_KEY),
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    env
}

/// The SDK configuration of a client of `endpoint` (a moto server or a
/// proxy in front of one): its region, the fake credentials, nothing from
/// the machine's own AWS configuration. Otherwise the SDK's defaults, which
/// the Lambda functions and lava-boot load.
pub fn sdk_loader(endpoint: &str) -> ConfigLoader {
    at(aws_config::defaults(BehaviorVersion::latest()), endpoint)
}

/// The same for the release commands (deploy, stack, ami): their own SDK
/// configuration, retry policy included, so that tests run the product's.
pub fn command_sdk_loader(endpoint: &str) -> ConfigLoader {
    at(lava_config::sdk_loader(), endpoint)
}

fn at(loader: ConfigLoader, endpoint: &str) -> ConfigLoader {
    loader
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(ACCESS_KEY, ACCESS_KEY, None, None, "moto"))
}
