//! The dispatch Lambda function: SNS, SQS and raw JSON dispatch requests
//! become dispatch messages on the worker queues of the realm in `LAVA_REALM`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lava_lambda::dispatch::{handle_dispatch_event, Dispatcher};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lava_lambda::init_tracing();
    // Fail the init phase, not every invocation, when the realm is missing.
    let realm = lava_lambda::realm_from_env()?;
    let config = lava_lambda::aws_config().await;
    let dispatcher = Dispatcher::new(&config, &realm);
    let dispatcher = &dispatcher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let request_id = event.context.request_id;
        tracing::debug!("Received event: {}", event.payload);
        let summary = handle_dispatch_event(dispatcher, &event.payload).await;
        match summary.errors.len() {
            0 => tracing::info!("Event {request_id}: Completed"),
            n => tracing::error!("Event {request_id}: Completed with {n} errors"),
        }
        // Never an invocation error: SNS/SQS would redeliver and the requests
        // that succeeded would be dispatched twice.
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
