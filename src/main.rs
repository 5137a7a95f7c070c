//! The Lambda function: wiring only. Everything else lives in the library.

use conversions::config::Config;
use conversions::http::{App, Incoming};
use conversions::store::DynamoStore;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    conversions::telemetry::init(&config.log)?;
    let sdk_config = conversions::config::load_sdk_config().await;
    let app = App::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk_config),
        config.table_name,
    ));
    let app = &app;
    run(service_fn(move |event: LambdaEvent<Incoming>| async move {
        // Boxed: the request's future is deep (SDK calls inside the handler), and the runtime's
        // loop need not carry its layout.
        let answer = Box::pin(app.invoke(event.payload, &event.context.request_id));
        Ok::<_, Error>(answer.await)
    }))
    .await
}
