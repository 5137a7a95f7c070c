//! The Lambda function: wiring only. Everything else lives in the library.

use conversions::config::Config;
use conversions::http::App;
use conversions::store::DynamoStore;
use lambda_http::{Error, Request, run, service_fn};

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
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(app.handle(request).await)
    }))
    .await
}
