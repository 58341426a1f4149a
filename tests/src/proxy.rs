//! A loopback HTTP proxy in front of a local server (moto): it logs every
//! request (method, path, AWS service) so tests count requests at the wire,
//! and it can fail a share of them the ways networks and S3 do: 503 SlowDown
//! before the request arrives, a connection reset mid-body, a 500 or a dropped
//! connection after the server has applied it.
//!
//! S3 applies a conditional PUT (`If-Match`, `If-None-Match`) atomically;
//! moto checks the condition and writes in two steps, which its threaded
//! server can interleave, so two writers over one version could both win.
//! The proxy forwards conditional PUTs one at a time, which gives S3's
//! guarantee back.
//!
//! One request per connection: every response says `Connection: close`.
//! Bounded: it serves only this process's clients and stops on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How a request was failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503 SlowDown; the server never sees the request.
    SlowDown,
    /// The connection is closed with the request half read (a reset).
    ResetMidBody,
    /// The server applies the request; the client gets a 500.
    ErrorAfterApply,
    /// The server applies the request; the connection closes without an answer.
    DropAfterApply,
}

const FAULTS: [Fault; 4] = [
    Fault::SlowDown,
    Fault::ResetMidBody,
    Fault::ErrorAfterApply,
    Fault::DropAfterApply,
];

/// A request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// The service of the SigV4 credential scope (`s3`, `sts`), or "".
    pub service: String,
    pub fault: Option<Fault>,
}

impl Logged {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// Whether the request can change server state.
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD")
    }
}

struct Shared {
    upstream: u16,
    log: Mutex<Vec<Logged>>,
    faults: Mutex<Faults>,
    /// Held while a conditional PUT is forwarded.
    conditional: Mutex<()>,
}

struct Faults {
    /// Share of requests failed, per mille.
    per_mille: u32,
    /// xorshift64* state choosing which, and how.
    state: u64,
    /// Requests whose path contains this always fail.
    path: Option<String>,
}

pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listen on a free loopback port and forward to `127.0.0.1:<upstream>`.
    pub fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(Shared {
            upstream,
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Faults {
                per_mille: 0,
                state: 1,
                path: None,
            }),
            conditional: Mutex::new(()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let shared = shared.clone();
                    std::thread::spawn(move || {
                        let _ = serve(conn, &shared);
                    });
                }
            })
        };
        Proxy {
            port,
            shared,
            stop,
            accept: Some(accept),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Fail `per_mille` of the requests from now on, chosen by a generator
    /// seeded with `seed` (0 per mille: none).
    pub fn fail(&self, per_mille: u32, seed: u64) {
        let mut faults = self.shared.faults.lock().unwrap();
        faults.per_mille = per_mille;
        faults.state = seed.max(1);
    }

    /// Fail every request whose path contains `needle` (`None`: stop), so a
    /// test can count on a run that fails part way.
    pub fn fail_path(&self, needle: Option<&str>) {
        self.shared.faults.lock().unwrap().path = needle.map(str::to_string);
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Logged> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// Requests to `service` that can change its state.
    pub fn writes(&self, service: &str) -> Vec<Logged> {
        self.log()
            .into_iter()
            .filter(|l| l.service == service && l.is_write())
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// The fault for a request to `path`, if it is to fail.
fn draw(shared: &Shared, path: &str) -> Option<Fault> {
    let mut faults = shared.faults.lock().unwrap();
    let sticky = faults.path.as_deref().is_some_and(|p| path.contains(p));
    if faults.per_mille == 0 && !sticky {
        return None;
    }
    let state = &mut faults.state;
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
    let chosen = sticky || (r >> 33) % 1000 < u64::from(faults.per_mille);
    chosen.then(|| FAULTS[(r % 4) as usize])
}

struct Request {
    line: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn serve(client: TcpStream, shared: &Shared) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let Some(request) = read_head(&mut reader)? else {
        return Ok(());
    };
    let mut parts = request.line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let service = request
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or_default()
        .to_string();
    let conditional = method == "PUT"
        && (request.header("if-match").is_some() || request.header("if-none-match").is_some());
    let fault = draw(shared, target.split('?').next().unwrap_or_default());
    shared.log.lock().unwrap().push(Logged {
        method,
        target,
        service,
        fault,
    });

    if request
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let length: usize = request
        .header("content-length")
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"));

    if fault == Some(Fault::ResetMidBody) {
        // Closing with unread bytes makes the kernel send a reset.
        let mut half = vec![0; length / 2];
        reader.read_exact(&mut half)?;
        return Ok(());
    }
    let body = if chunked {
        read_chunked(&mut reader)?
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    if fault == Some(Fault::SlowDown) {
        return respond(
            &mut client,
            503,
            "SlowDown",
            "Please reduce your request rate.",
        );
    }
    let response = {
        let _one_at_a_time = conditional.then(|| shared.conditional.lock().unwrap());
        forward(shared.upstream, &request, &body)?
    };
    match fault {
        Some(Fault::ErrorAfterApply) => respond(
            &mut client,
            500,
            "InternalError",
            "We encountered an internal error.",
        ),
        Some(Fault::DropAfterApply) => client.shutdown(Shutdown::Both),
        _ => {
            client.write_all(&response)?;
            client.shutdown(Shutdown::Both)
        }
    }
}

fn read_head(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Ok(Some(Request {
        line: line.trim_end().to_string(),
        headers,
    }))
}

/// A chunked body, kept encoded: it is forwarded as it came.
fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        body.extend_from_slice(size_line.as_bytes());
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut trailer = String::new();
                reader.read_line(&mut trailer)?;
                body.extend_from_slice(trailer.as_bytes());
                if trailer.trim_end().is_empty() {
                    return Ok(body);
                }
            }
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        body.extend_from_slice(&chunk);
    }
}

/// Send the request upstream on a fresh connection; the whole response, its
/// head rewritten to close the client's connection.
fn forward(upstream: u16, request: &Request, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{}\r\n", request.line);
    for (name, value) in &request.headers {
        if !name.eq_ignore_ascii_case("connection") && !name.eq_ignore_ascii_case("expect") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    server.write_all(head.as_bytes())?;
    server.write_all(body)?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no response head"))?;
    let head = String::from_utf8_lossy(&response[..split]);
    let mut rewritten: String = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    rewritten.push_str("Connection: close\r\n\r\n");
    let mut out = rewritten.into_bytes();
    out.extend_from_slice(&response[split + 4..]);
    Ok(out)
}

fn respond(client: &mut TcpStream, status: u16, code: &str, message: &str) -> std::io::Result<()> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let reason = if status == 503 {
        "Service Unavailable"
    } else {
        "Internal Server Error"
    };
    write!(
        client,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    client.shutdown(Shutdown::Both)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot HTTP server answering every request with its method.
    fn echo_server() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in listener.incoming().take(64) {
                let mut conn = conn.unwrap();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let request = read_head(&mut reader).unwrap().unwrap();
                let length: usize = request
                    .header("content-length")
                    .map_or(0, |l| l.parse().unwrap());
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let answer = format!("{} {}", request.line, body.len());
                write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{answer}",
                    answer.len()
                )
                .unwrap();
            }
        });
        port
    }

    fn send(port: u16, request: &str) -> String {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        let _ = conn.read_to_string(&mut response);
        response
    }

    #[test]
    fn forwards_logs_and_fails_on_demand() {
        let proxy = Proxy::start(echo_server());
        let auth = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
        let response = send(
            proxy.port,
            &format!("PUT /b/k?x=1 HTTP/1.1\r\nHost: h\r\n{auth}\r\nContent-Length: 3\r\n\r\nabc"),
        );
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("Connection: close") && !response.contains("keep-alive"));
        assert!(response.ends_with("PUT /b/k?x=1 HTTP/1.1 3"), "{response}");
        let log = proxy.log();
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].path(), log[0].service.as_str()), ("/b/k", "s3"));
        assert_eq!(proxy.writes("s3").len(), 1);

        proxy.fail(1000, 7);
        let mut seen = Vec::new();
        for _ in 0..24 {
            let response = send(proxy.port, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
            let fault = proxy.log().last().unwrap().fault.unwrap();
            match fault {
                Fault::SlowDown => assert!(response.starts_with("HTTP/1.1 503"), "{response}"),
                Fault::ErrorAfterApply => assert!(response.starts_with("HTTP/1.1 500")),
                Fault::ResetMidBody | Fault::DropAfterApply => assert_eq!(response, ""),
            }
            seen.push(fault);
        }
        assert!(FAULTS.iter().all(|f| seen.contains(f)), "{seen:?}");
        proxy.fail(0, 0);
        assert!(send(proxy.port, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n").starts_with("HTTP/1.1 200"));
        proxy.fail_path(Some("/b/x"));
        assert!(
            !send(proxy.port, "GET /b/x HTTP/1.1\r\nHost: h\r\n\r\n").starts_with("HTTP/1.1 200")
        );
        assert!(
            send(proxy.port, "GET /b/y HTTP/1.1\r\nHost: h\r\n\r\n").starts_with("HTTP/1.1 200")
        );
    }
}
