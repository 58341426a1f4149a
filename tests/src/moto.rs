//! A moto server on a free loopback port, one per `Moto` value, stopped on drop.
//! Code under test reaches it through the real AWS SDK clients.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

use crate::tool;

pub struct Moto {
    child: Child,
    port: u16,
}

/// Credentials moto accepts; never real ones.
pub const ACCESS_KEY: &str = "testing";
pub const REGION: &str = "us-east-1";

/// The SDK configuration of a test talking to `endpoint` (a moto server or a
/// proxy in front of one): its region, its fake credentials, nothing from the
/// machine's own AWS configuration.
pub fn sdk_loader(endpoint: &str) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(ACCESS_KEY, ACCESS_KEY, None, None, "moto"))
}

pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    sdk_loader(endpoint).load().await
}

impl Moto {
    /// Start moto_server and wait (at most 30 s) until it answers. The free
    /// port is released before moto binds it, so another test's moto may take
    /// it first: then ours dies and that one answers; a start whose own
    /// process does not hold the port is retried on another (3 tries).
    pub fn start() -> Moto {
        for _ in 0..3 {
            let moto = Moto::start_once();
            if moto.holds_its_port() {
                return moto;
            }
        }
        panic!("moto_server lost its port to another process three times");
    }

    fn start_once() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(tool("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while moto.get("/moto-api/data.json").is_none() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
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

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`, for AWS_ENDPOINT_URL or an SDK endpoint override.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for a child process that must talk to this moto only.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", ACCESS_KEY.into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// A plain HTTP GET on the server, `None` until it is up.
    pub fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        (head.split(' ').nth(1) == Some("200")).then(|| body.to_string())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
