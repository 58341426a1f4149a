//! The Runtime API (version 2018-06-01) as the Lambda service serves it to a
//! custom runtime: `GET /runtime/invocation/next` long-polls for an event;
//! the function answers with `POST /runtime/invocation/<id>/response` or
//! `/error`, or reports a failed start with `POST /runtime/init/error`.

use std::collections::VecDeque;
use std::io::BufReader;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::http::{read_request, write_response, Request};

const PREFIX: &str = "/2018-06-01/runtime";

/// How the function answered an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The handler's result (`/response`), usually JSON.
    Response(Vec<u8>),
    /// The handler failed (`/error`): `Lambda-Runtime-Function-Error-Type`
    /// and the body, a JSON `{errorType, errorMessage}` from lambda_runtime.
    Error {
        error_type: Option<String>,
        body: Vec<u8>,
    },
    /// The function failed before asking for an event (`/init/error`).
    InitError {
        error_type: Option<String>,
        body: Vec<u8>,
    },
}

/// An answer the server received, and when.
#[derive(Debug, Clone)]
pub struct Posted {
    pub outcome: Outcome,
    pub at: Instant,
}

struct Event {
    request_id: String,
    function_arn: String,
    timeout: Duration,
    body: Vec<u8>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Event>,
    first_request: Option<Instant>,
    /// Answers by request id; the init error under `None`.
    posted: Vec<(Option<String>, Posted)>,
    enqueued: usize,
    closing: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking connection thread cannot leave the state inconsistent:
        // every update is a single push or pop.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A Runtime API on a free loopback port, stopped on drop.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl RuntimeApi {
    pub fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept(listener, shared))
        };
        Ok(RuntimeApi {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queue an event for the next `GET .../next`; returns its request id.
    /// Its deadline is `timeout` (the function's) after it is handed out.
    pub fn enqueue(&self, body: &[u8], function_arn: &str, timeout: Duration) -> String {
        let mut state = self.shared.lock();
        state.enqueued += 1;
        let request_id = request_id(state.enqueued);
        state.queue.push_back(Event {
            request_id: request_id.clone(),
            function_arn: function_arn.to_string(),
            timeout,
            body: body.to_vec(),
        });
        self.shared.changed.notify_all();
        request_id
    }

    /// When the function first called the API (its initialisation was over).
    pub fn first_request(&self) -> Option<Instant> {
        self.shared.lock().first_request
    }

    /// The answer to `request_id` (or an init error), waiting until `until`.
    pub fn wait(&self, request_id: &str, until: Instant) -> Option<Posted> {
        let mut state = self.shared.lock();
        loop {
            let found = state
                .posted
                .iter()
                .find(|(id, p)| {
                    id.as_deref() == Some(request_id)
                        || matches!(p.outcome, Outcome::InitError { .. })
                })
                .map(|(_, p)| p.clone());
            let now = Instant::now();
            if found.is_some() || now >= until {
                return found;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.changed.notify_all();
        // Wake the acceptor blocked in accept(); it sees `closing` and ends.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// A UUID-shaped id, unique per server, as the service sends.
fn request_id(n: usize) -> String {
    format!("8476a536-e9f4-11e8-9739-{n:012x}")
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.lock().closing {
            return;
        }
        let Ok(stream) = stream else { continue };
        let shared = Arc::clone(&shared);
        // One thread per connection: a long-polling `next` must not block
        // another connection's answer.
        std::thread::spawn(move || serve(stream, &shared));
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    // Ends when the client hangs up, sends garbage, or the server closes.
    while let Ok(Some(request)) = read_request(&mut reader) {
        let now = Instant::now();
        shared.lock().first_request.get_or_insert(now);
        let written = match route(&request) {
            Route::Next => match next_event(shared) {
                Some(event) => {
                    let deadline = SystemTime::now() + event.timeout;
                    let deadline = deadline
                        .duration_since(UNIX_EPOCH)
                        .expect("after 1970")
                        .as_millis()
                        .to_string();
                    write_response(
                        &mut writer,
                        "200 OK",
                        &[
                            ("Content-Type", "application/json"),
                            ("Lambda-Runtime-Aws-Request-Id", &event.request_id),
                            ("Lambda-Runtime-Deadline-Ms", &deadline),
                            ("Lambda-Runtime-Invoked-Function-Arn", &event.function_arn),
                            (
                                "Lambda-Runtime-Trace-Id",
                                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
                            ),
                        ],
                        &event.body,
                    )
                }
                None => return,
            },
            Route::Answer(request_id, make) => {
                let error_type = request
                    .header("Lambda-Runtime-Function-Error-Type")
                    .map(str::to_string);
                let outcome = make(request.body, error_type);
                let mut state = shared.lock();
                state.posted.push((request_id, Posted { outcome, at: now }));
                shared.changed.notify_all();
                drop(state);
                write_response(
                    &mut writer,
                    "202 Accepted",
                    &[("Content-Type", "application/json")],
                    br#"{"status":"OK"}"#,
                )
            }
            Route::Unknown => write_response(
                &mut writer,
                "404 Not Found",
                &[("Content-Type", "application/json")],
                br#"{"errorType":"InvalidRequest","errorMessage":"unknown Runtime API path"}"#,
            ),
        };
        if written.is_err() {
            return;
        }
    }
}

type MakeOutcome = fn(Vec<u8>, Option<String>) -> Outcome;

enum Route {
    Next,
    Answer(Option<String>, MakeOutcome),
    Unknown,
}

fn route(request: &Request) -> Route {
    let Some(path) = request.path.strip_prefix(PREFIX) else {
        return Route::Unknown;
    };
    match (request.method.as_str(), path) {
        ("GET", "/invocation/next") => Route::Next,
        ("POST", "/init/error") => Route::Answer(None, |body, error_type| Outcome::InitError {
            error_type,
            body,
        }),
        ("POST", path) => {
            let Some(rest) = path.strip_prefix("/invocation/") else {
                return Route::Unknown;
            };
            match rest.rsplit_once('/') {
                Some((id, "response")) => {
                    Route::Answer(Some(id.to_string()), |body, _| Outcome::Response(body))
                }
                Some((id, "error")) => Route::Answer(Some(id.to_string()), |body, error_type| {
                    Outcome::Error { error_type, body }
                }),
                _ => Route::Unknown,
            }
        }
        _ => Route::Unknown,
    }
}

/// Block until an event is queued; `None` once the server is closing.
fn next_event(shared: &Shared) -> Option<Event> {
    let mut state = shared.lock();
    loop {
        if state.closing {
            return None;
        }
        if let Some(event) = state.queue.pop_front() {
            return Some(event);
        }
        state = shared
            .changed
            .wait(state)
            .unwrap_or_else(|e| e.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, Read, Write};

    use super::*;

    /// One HTTP/1.1 exchange on a kept-alive connection: the status line,
    /// the headers and the body.
    fn exchange(
        reader: &mut BufReader<TcpStream>,
        request: &str,
    ) -> (String, Vec<(String, String)>, Vec<u8>) {
        reader.get_mut().write_all(request.as_bytes()).unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            match line.trim_end().split_once(": ") {
                Some((n, v)) => headers.push((n.to_lowercase(), v.to_string())),
                None => break,
            }
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .unwrap()
            .1
            .parse()
            .unwrap();
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (status.trim_end().to_string(), headers, body)
    }

    #[test]
    fn serves_an_event_and_records_the_answers() {
        let api = RuntimeApi::start().unwrap();
        let id = api.enqueue(
            br#"{"a":1}"#,
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            Duration::from_secs(60),
        );
        let mut conn = BufReader::new(TcpStream::connect(api.address()).unwrap());

        let (status, headers, body) = exchange(
            &mut conn,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n",
        );
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body, br#"{"a":1}"#);
        let header = |n: &str| headers.iter().find(|(h, _)| h == n).map(|(_, v)| v.clone());
        assert_eq!(header("lambda-runtime-aws-request-id"), Some(id.clone()));
        let deadline: u128 = header("lambda-runtime-deadline-ms")
            .unwrap()
            .parse()
            .unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        assert!(
            (now + 55_000..=now + 60_000).contains(&deadline),
            "{deadline} {now}"
        );
        assert!(header("lambda-runtime-invoked-function-arn")
            .unwrap()
            .ends_with(":f"));
        assert!(header("lambda-runtime-trace-id").is_some());

        let post = format!(
            "POST /2018-06-01/runtime/invocation/{id}/error HTTP/1.1\r\n\
             Lambda-Runtime-Function-Error-Type: unhandled\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        let (status, _, _) = exchange(&mut conn, &post);
        assert_eq!(status, "HTTP/1.1 202 Accepted");
        let posted = api.wait(&id, Instant::now()).unwrap();
        assert_eq!(
            posted.outcome,
            Outcome::Error {
                error_type: Some("unhandled".into()),
                body: b"{}".to_vec()
            }
        );
        assert!(api.first_request().unwrap() <= posted.at);

        let (status, _, _) = exchange(&mut conn, "GET /nowhere HTTP/1.1\r\n\r\n");
        assert_eq!(status, "HTTP/1.1 404 Not Found");
    }

    #[test]
    fn an_init_error_answers_every_wait_and_drop_ends_a_pending_poll() {
        let api = RuntimeApi::start().unwrap();
        let mut poller = TcpStream::connect(api.address()).unwrap();
        poller
            .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
            .unwrap();
        let mut conn = BufReader::new(TcpStream::connect(api.address()).unwrap());
        let (status, _, _) = exchange(
            &mut conn,
            "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(status, "HTTP/1.1 202 Accepted");
        let posted = api.wait("never-sent", Instant::now()).unwrap();
        assert!(matches!(posted.outcome, Outcome::InitError { .. }));
        drop(api);
        // The long poll was answered by closing the connection.
        let mut rest = Vec::new();
        poller.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
}
