//! Lambda runtime glue for `lava-<realm>-stop` (packaged as `bootstrap`).

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lava_stop::{StopSettings, Stopper, DOCUMENT};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lava_lambda::init_tracing()?;
    let realm = Arc::new(lava_lambda::realm_from_env()?);
    let config = lava_lambda::aws_config().await;
    let stopper = Arc::new(Stopper::new(&config, StopSettings::from_env()));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (stopper, realm) = (stopper.clone(), realm.clone());
        async move {
            let function = &event.context.env_config.function_name;
            let command_id = stopper.handle(&realm, function, &event.payload).await?;
            Ok::<Value, Error>(json!({"document": DOCUMENT, "command_id": command_id}))
        }
    }))
    .await
}
