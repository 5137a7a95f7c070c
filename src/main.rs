//! The Lambda function: wiring only. Everything else lives in the library.

use std::sync::Arc;

use conversions::config::Config;
use conversions::http::{App, Incoming};
use conversions::store::DynamoStore;
use lambda_runtime::{Error, LambdaEvent, run_concurrent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    conversions::telemetry::init(&config.log)?;
    let sdk_config = conversions::config::load_sdk_config().await;
    let app = Arc::new(App::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk_config),
        config.table_name,
    )));
    // One invocation at a time, as Lambda runs a classic function; several at once in one
    // process when `AWS_LAMBDA_MAX_CONCURRENCY` says so (Lambda Managed Instances).
    run_concurrent(service_fn(move |event: LambdaEvent<Incoming>| {
        let app = Arc::clone(&app);
        async move {
            // Boxed: the request's future is deep (SDK calls inside the handler), and the
            // runtime's loop need not carry its layout.
            let answer = Box::pin(app.invoke(event.payload, &event.context.request_id));
            Ok::<_, Error>(answer.await)
        }
    }))
    .await
}
