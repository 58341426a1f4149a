//! The dispatch Lambda function: SNS, SQS and raw JSON dispatch requests
//! become dispatch messages on the worker queues of the realm in `LAVA_REALM`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lava_lambda::dispatch::{handle_dispatch_event, Dispatcher, MaxDelay};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lava_lambda::init_tracing()?;
    // Fail the init phase, not every invocation, when the realm is missing.
    let realm = lava_lambda::realm_from_env()?;
    let max_delay = MaxDelay::from_env();
    if let MaxDelay::Invalid(text) = &max_delay {
        tracing::error!(
            "{}={text:?} is not an integer: every text line fails",
            MaxDelay::VAR
        );
    }
    let config = lava_lambda::aws_config().await;
    let dispatcher = Dispatcher::new(&config, &realm);
    let (dispatcher, max_delay) = (&dispatcher, &max_delay);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let request_id = event.context.request_id;
        tracing::debug!("Received event: {}", event.payload);
        // An unreadable event fails the invocation, as upstream's does; a bad
        // request is counted and the invocation succeeds, as upstream's does.
        let summary = handle_dispatch_event(dispatcher, max_delay, &event.payload)
            .await
            .inspect_err(|e| tracing::error!("Event {request_id}: {e}"))?;
        match summary.errors.len() {
            0 => tracing::info!("Event {request_id}: Completed"),
            n => tracing::error!("Event {request_id}: Completed with {n} errors"),
        }
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
