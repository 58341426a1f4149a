//! Lambda runtime glue for the s3trigger function (shipped as `bootstrap`).

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use lava_s3trigger::{Config, S3Trigger, Summary};
use serde_json::Value;
use tracing::{error, info};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lava_lambda::init_tracing()?;
    let config = Config::from_env()?;
    let sdk = lava_lambda::aws_config().await;
    // One handler for the process: its caches span warm invocations.
    let handler = Arc::new(S3Trigger::new(&sdk, config));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            let request_id = event.context.request_id.clone();
            // An unreadable event fails the invocation, as upstream's does.
            let summary: Summary = handler.handle(&event.payload).await.inspect_err(|e| {
                error!("Event {request_id}: {e}");
            })?;
            if summary.errors > 0 {
                error!(
                    "Event {request_id}: Completed with {} errors",
                    summary.errors
                );
            } else {
                info!("Event {request_id}: Completed");
            }
            Ok::<Summary, lambda_runtime::Error>(summary)
        }
    }))
    .await
}
