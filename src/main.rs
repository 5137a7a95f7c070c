//! The Lambda function: wiring only. Everything else lives in the library.

use std::process::ExitCode;
use std::sync::Arc;

use conversions::config::Config;
use conversions::http::{App, Incoming};
use conversions::store::DynamoStore;
use conversions::telemetry::error_chain;
use lambda_runtime::{Error, LambdaEvent, run_concurrent, service_fn};

fn main() -> ExitCode {
    // SAFETY: the first thing the process does; no other thread exists yet.
    unsafe { conversions::config::unset_empty_variables() };
    match start() {
        Ok(()) => ExitCode::SUCCESS,
        // One line that names what is wrong, before the first `/next` when it is the
        // configuration: Lambda reports the init failure with it.
        Err(err) => {
            eprintln!("error: {}", error_chain(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn start() -> Result<(), Error> {
    let config = Config::from_env()?;
    conversions::telemetry::init(&config.log)?;
    if config.log.drops_info() {
        tracing::warn!(
            "the template's metrics are counted from the INFO line of each request: with an \
             ApplicationLogLevel above INFO there are none"
        );
    }
    // One invocation at a time (a classic function) runs on one thread: no cross-thread wake-ups
    // for work that never overlaps. Several at once (Managed Instances) get a worker per core.
    let runtime = if config.max_concurrency > 1 {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build()?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> Result<(), Error> {
    let sdk_config = conversions::sdk::load_sdk_config().await?;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk_config),
        config.table_name,
    )
    .with_retention(config.retention_days);
    if config.warm_up
        && let Err(err) = store.warm_up().await
    {
        // The first request opens the connection instead.
        tracing::warn!(error = %error_chain(&err), "could not reach DynamoDB during init");
    }
    let app = Arc::new(App::new(store));
    // `AWS_LAMBDA_MAX_CONCURRENCY` (read by the runtime too) says how many at once.
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
    .map_err(|err| format!("the Lambda Runtime API: {}", error_chain(err.as_ref())).into())
}
