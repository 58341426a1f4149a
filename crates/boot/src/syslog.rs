//! The worker's log as upstream's boot scripts write it: each message goes to
//! syslog as it happens, facility local0, under the tag of the script whose
//! job lava-boot does (`root.boot.sh`, `50-lava.sh`), as `INFO: <message>`,
//! `WARNING: ...` or `ERROR: ...` (warnings at priority error, as upstream's
//! `warning` function logs them). CloudWatch agents and operators' searches
//! of /var/log/messages find the same lines as before.

use std::fmt::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// Where syslog listens; the variable that moves it (tests).
pub const DEFAULT_SOCKET: &str = "/dev/log";
pub const SOCKET_ENV: &str = "LAVA_BOOT_SYSLOG";

const LOCAL0: u8 = 16;
const ERR: u8 = 3;
const INFO: u8 = 6;
const DEBUG: u8 = 7;

/// A tracing layer that writes every event as upstream's scripts log a
/// line: to a syslog socket, or to stderr (the boot's console log).
pub struct Lines {
    sink: Sink,
    tag: &'static str,
}

enum Sink {
    Syslog(UnixDatagram),
    Stderr,
}

impl Lines {
    /// `<tag>: LEVEL: message` on stderr.
    pub fn stderr(tag: &'static str) -> Lines {
        Lines {
            sink: Sink::Stderr,
            tag,
        }
    }

    /// Connected to the syslog socket at `path`; `None` where none listens
    /// (a container, a test without one): stderr still has every line.
    pub fn syslog(path: &Path, tag: &'static str) -> Option<Lines> {
        let socket = UnixDatagram::unbound().ok()?;
        socket.connect(path).ok()?;
        // A syslog that stops reading must not stop the boot: a line it
        // finds no room for within a second is dropped (stderr has every
        // line). Its queue holds only a few lines (net.unix.max_dgram_qlen),
        // so a daemon that reads, however busy, must get that second.
        socket
            .set_write_timeout(Some(std::time::Duration::from_secs(1)))
            .ok()?;
        Some(Lines {
            sink: Sink::Syslog(socket),
            tag,
        })
    }
}

/// The line upstream's scripts log for an event, without the tag.
pub fn line(level: Level, message: &str) -> String {
    let label = match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    };
    format!("{label}: {message}")
}

/// The datagram for one line: `<PRI>TAG: LINE`. No timestamp: the syslog
/// daemon stamps what it receives.
pub fn datagram(tag: &str, level: Level, message: &str) -> String {
    let severity = match level {
        Level::ERROR | Level::WARN => ERR,
        Level::INFO => INFO,
        _ => DEBUG,
    };
    format!("<{}>{tag}: {}", LOCAL0 * 8 + severity, line(level, message))
}

impl<S: Subscriber> Layer<S> for Lines {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut text = Text::default();
        event.record(&mut text);
        let level = *event.metadata().level();
        match &self.sink {
            Sink::Syslog(socket) => {
                // A full or vanished syslog must not stop the boot.
                let _ = socket.send(datagram(self.tag, level, &text.0).as_bytes());
            }
            Sink::Stderr => eprintln!("{}: {}", self.tag, line(level, &text.0)),
        }
    }
}

/// The message, then any other fields as `name=value`.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}{rest}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_as_upstreams_logger_calls_send_them() {
        // logger -t 50-lava.sh -p local0.info "INFO: ..." is priority 134;
        // local0.error is 131.
        let table = [
            (
                Level::INFO,
                "Installed lava v8.3.0",
                "<134>50-lava.sh: INFO: Installed lava v8.3.0",
            ),
            (Level::WARN, "x", "<131>50-lava.sh: WARNING: x"),
            (Level::ERROR, "ABORT y", "<131>50-lava.sh: ERROR: ABORT y"),
            (Level::DEBUG, "z", "<135>50-lava.sh: DEBUG: z"),
        ];
        for (level, message, expected) in table {
            assert_eq!(datagram("50-lava.sh", level, message), expected);
        }
    }

    #[test]
    fn events_reach_the_socket_as_they_happen() {
        use tracing_subscriber::layer::SubscriberExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let server = UnixDatagram::bind(&path).unwrap();
        server.set_nonblocking(true).unwrap();
        let layer = Lines::syslog(&path, "root.boot.sh").unwrap();
        let subscriber = tracing_subscriber::registry().with(layer);
        let mut buf = [0u8; 512];
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("Running boot script {}", "10-secupdate.sh");
            let n = server.recv(&mut buf).expect("sent before the next event");
            assert_eq!(
                std::str::from_utf8(&buf[..n]).unwrap(),
                "<134>root.boot.sh: INFO: Running boot script 10-secupdate.sh"
            );
            tracing::warn!(name = "x", "odd");
        });
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "<131>root.boot.sh: WARNING: odd name=x"
        );
        assert!(Lines::syslog(&dir.path().join("none"), "t").is_none());
    }
}
