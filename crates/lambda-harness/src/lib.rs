//! The Lambda service's side of a function, run locally: the Runtime API a
//! `bootstrap` (or any custom-runtime client) polls, on a free 127.0.0.1 port,
//! and [`invoke_once`], which starts a function process against it, feeds it
//! one event and measures it. The end-to-end tests and `cargo xtask bench` both
//! use it, so what the bench times is the protocol the tests check.

mod http;
mod run;
mod server;

pub use run::{invoke_once, Run};
pub use server::Outcome;

/// Why an invocation could not be observed to its end.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start the local Runtime API: {0}")]
    Server(std::io::Error),
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error(
        "{function} exited ({status}) without answering the invocation; its output:\n{output}"
    )]
    Exited {
        function: String,
        status: std::process::ExitStatus,
        output: String,
    },
    #[error("{function} did not answer within {waited:?}; its output:\n{output}")]
    Timeout {
        function: String,
        waited: std::time::Duration,
        output: String,
    },
}
