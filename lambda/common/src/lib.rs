//! What the realm's Lambda functions share: configuration from the environment,
//! logging, DynamoDB items as JSON, durations, event envelopes and job dispatch.
//!
//! Behaviour follows upstream lava (`lambda/*/`, `lava/lavacore.py`) so that a
//! real lava worker consumes what these functions send.

pub mod dispatch;
pub mod duration;
pub mod envelope;
mod log;
pub mod table;

use tracing_subscriber::EnvFilter;

/// Errors in a function's environment, raised at start-up.
#[derive(thiserror::Error)]
pub enum LambdaError {
    #[error("LAVA_REALM environment variable must be set")]
    MissingRealm,
    #[error("Bad log level: {0}")]
    BadLogLevel(String),
}

/// The message itself: `main` prints errors it returns with `Debug`.
impl std::fmt::Debug for LambdaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The realm the function serves, from `LAVA_REALM` (set by the realm template).
pub fn realm_from_env() -> Result<String, LambdaError> {
    match std::env::var("LAVA_REALM") {
        Ok(realm) if !realm.trim().is_empty() => Ok(realm.trim().to_string()),
        _ => Err(LambdaError::MissingRealm),
    }
}

/// The SDK configuration from the environment. The SDK honours
/// `AWS_ENDPOINT_URL`, which is how tests point the functions at a local endpoint.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The realm of a lava name `lava-<realm>-...`: its second `-` separated
/// part, as upstream's `realm_from_lava_id` takes it.
pub fn realm_of_lava_id(lava_id: &str) -> Option<&str> {
    let mut parts = lava_id.split('-');
    match (parts.next(), parts.next()) {
        (Some("lava"), Some(realm)) if !realm.is_empty() => Some(realm),
        _ => None,
    }
}

/// Python's truth test, which upstream applies to message bodies, `enabled`,
/// `jinja` and optional event fields.
pub fn truthy(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A tracing level from a Python logging level name, as upstream's
/// `get_log_level` takes them (case-insensitive, nothing trimmed); `None` if
/// the name is not one.
pub fn log_level(name: &str) -> Option<tracing::Level> {
    use tracing::Level;
    match name.to_ascii_uppercase().as_str() {
        "NOTSET" => Some(Level::TRACE),
        "DEBUG" => Some(Level::DEBUG),
        "INFO" => Some(Level::INFO),
        "WARNING" | "WARN" => Some(Level::WARN),
        "ERROR" | "CRITICAL" | "FATAL" => Some(Level::ERROR),
        _ => None,
    }
}

/// Logging for the function binaries: one line per event on stdout, which
/// Lambda sends to CloudWatch, in the format of the Python runtime upstream's
/// functions run on (see `log.rs`; JSON when the function's log format is JSON).
/// The level of our own crates comes from `LOGLEVEL`, else `LAVA_LOGLEVEL`, else
/// info, like upstream; other crates (the SDK is chatty at debug) stay at warn or
/// quieter. `RUST_LOG`, when set, overrides all of this.
///
/// A name that is not a level is an error: upstream fails every invocation
/// with it, so a misconfigured function must not look healthy.
pub fn init_tracing() -> Result<(), LambdaError> {
    use tracing_subscriber::filter::{filter_fn, FilterExt};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let name = std::env::var("LOGLEVEL")
        .or_else(|_| std::env::var("LAVA_LOGLEVEL"))
        .unwrap_or_else(|_| "info".into());
    let ours = log_level(&name).ok_or(LambdaError::BadLogLevel(name))?;
    // A Level compares greater when it is more verbose (TRACE > ERROR).
    let others = ours.min(tracing::Level::WARN);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let (ours, others) = (ours.as_str(), others.as_str());
        EnvFilter::new(format!("{others},lava={ours}"))
    });
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let layer = log::layer(json, time::OffsetDateTime::now_utc, std::io::stdout)
        .with_filter(filter.or(filter_fn(log::is_request_span)));
    // Only fails when a subscriber is already installed, which then logs.
    let _ = tracing_subscriber::registry().with(layer).try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_level_names() {
        assert_eq!(log_level("DEBUG"), Some(tracing::Level::DEBUG));
        assert_eq!(log_level("warning"), Some(tracing::Level::WARN));
        assert_eq!(log_level("critical"), Some(tracing::Level::ERROR));
        assert_eq!(log_level("Warn"), Some(tracing::Level::WARN));
        assert_eq!(log_level("loud"), None);
        // getattr(logging, " INFO") fails upstream.
        assert_eq!(log_level(" info"), None);
        assert_eq!(log_level(""), None);
    }

    #[test]
    fn realm_is_the_second_part() {
        assert_eq!(realm_of_lava_id("lava-dev-metrics"), Some("dev"));
        assert_eq!(realm_of_lava_id("lava-dev"), Some("dev"));
        assert_eq!(realm_of_lava_id("lava-dev-1-stop"), Some("dev"));
        assert_eq!(realm_of_lava_id("lava--x"), None);
        assert_eq!(realm_of_lava_id("metrics"), None);
        assert_eq!(realm_of_lava_id("Lava-dev-x"), None);
    }
}
