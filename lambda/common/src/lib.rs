//! What the realm's Lambda functions share: configuration from the environment,
//! logging, DynamoDB items as JSON, durations, event envelopes and job dispatch.
//!
//! Behaviour follows upstream lava (`lambda/*/`, `lava/lavacore.py`) so that a
//! real lava worker consumes what these functions send.

pub mod dispatch;
pub mod duration;
pub mod envelope;
pub mod table;

use tracing_subscriber::EnvFilter;

/// Errors in a function's environment, raised at start-up.
#[derive(thiserror::Error)]
pub enum LambdaError {
    #[error("LAVA_REALM environment variable must be set")]
    MissingRealm,
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

/// A tracing level from a Python logging level name, as upstream's `LOGLEVEL`
/// takes them (case-insensitive); `None` if the name is not one.
pub fn log_level(name: &str) -> Option<tracing::Level> {
    use tracing::Level;
    match name.trim().to_ascii_lowercase().as_str() {
        "notset" => Some(Level::TRACE),
        "debug" => Some(Level::DEBUG),
        "info" => Some(Level::INFO),
        "warning" | "warn" => Some(Level::WARN),
        "error" | "critical" | "fatal" => Some(Level::ERROR),
        _ => None,
    }
}

/// Logging for the function binaries: one line per event on stdout, which
/// Lambda sends to CloudWatch (JSON when the function's log format is JSON).
/// The level of our own crates comes from `LOGLEVEL`, else `LAVA_LOGLEVEL`, else
/// info, like upstream; other crates (the SDK is chatty at debug) stay at warn or
/// quieter. `RUST_LOG`, when set, overrides all of this.
pub fn init_tracing() {
    let name = std::env::var("LOGLEVEL")
        .or_else(|_| std::env::var("LAVA_LOGLEVEL"))
        .unwrap_or_else(|_| "info".into());
    let level = log_level(&name);
    let ours = level.unwrap_or(tracing::Level::INFO);
    // A Level compares greater when it is less verbose.
    let others = ours.max(tracing::Level::WARN);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let (ours, others) = (ours.as_str(), others.as_str());
        EnvFilter::new(format!("{others},lava={ours}"))
    });
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // CloudWatch stamps each line itself.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .with_target(false);
    let installed = if json {
        builder.json().flatten_event(true).try_init().is_ok()
    } else {
        builder.try_init().is_ok()
    };
    if installed && level.is_none() {
        tracing::warn!("Bad log level: {name}: using info");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_level_names() {
        assert_eq!(log_level("DEBUG"), Some(tracing::Level::DEBUG));
        assert_eq!(log_level("warning"), Some(tracing::Level::WARN));
        assert_eq!(log_level("critical"), Some(tracing::Level::ERROR));
        assert_eq!(log_level("loud"), None);
    }
}
