//! Lambda runtime glue for `lava-<realm>-metrics` (packaged as `bootstrap`).

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lava_metrics::{check_function_name, namespace_from_env, Metrics};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lava_lambda::init_tracing()?;
    let realm = Arc::new(lava_lambda::realm_from_env()?);
    let config = lava_lambda::aws_config().await;
    // One handler for the life of the sandbox: the queue list cache lives in it.
    let metrics = Arc::new(Metrics::new(&config).with_namespace(namespace_from_env()));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (metrics, realm) = (metrics.clone(), realm.clone());
        async move {
            check_function_name(&realm, &event.context.env_config.function_name)?;
            Ok::<Value, Error>(metrics.handle(&realm, &event.payload).await?)
        }
    }))
    .await
}
