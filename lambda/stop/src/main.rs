//! Lambda runtime glue for `lava-<realm>-stop` (packaged as `bootstrap`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lava_stop::{check_function_name, StopSettings, Stopper};
use serde_json::Value;

/// Kept back from the invocation deadline to complete the lifecycle action
/// and return the response.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lava_lambda::init_tracing();
    let realm = Arc::new(lava_lambda::realm_from_env()?);
    let settings = StopSettings::from_env()?;
    let config = lava_lambda::aws_config().await;
    let stopper = Arc::new(Stopper::new(&config, settings));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (stopper, realm) = (stopper.clone(), realm.clone());
        async move {
            check_function_name(&realm, &event.context.env_config.function_name)?;
            let budget = budget(event.context.deadline);
            Ok::<Value, Error>(stopper.handle(&realm, &event.payload, budget).await?)
        }
    }))
    .await
}

/// What is left of the invocation (deadline in ms since the epoch), less the
/// margin; None when the runtime gave no deadline.
fn budget(deadline_ms: u64) -> Option<Duration> {
    if deadline_ms == 0 {
        return None;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Some(
        Duration::from_millis(deadline_ms)
            .saturating_sub(now)
            .saturating_sub(DEADLINE_MARGIN),
    )
}
