//! The Lambda function: wiring only. Everything else lives in the library.

use std::process::ExitCode;
use std::sync::Arc;

use conversions::config::Config;
use conversions::http::{App, Incoming};
use conversions::publish::{BatchResponse, EventBridge, Publisher};
use conversions::store::{DynamoStore, is_stream_event};
use conversions::telemetry::error_chain;
use lambda_runtime::{Error, LambdaEvent, run_concurrent, service_fn};
use serde_json::value::RawValue;

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
    // The table's stream in: template.yaml's ChangesPublisher, the one with EVENT_BUS_NAME.
    let bus = (config.event_bus)
        .map(|bus| EventBridge::new(aws_sdk_eventbridge::Client::new(&sdk_config), bus));
    let publisher = Arc::new(Publisher::new(store.clone(), bus));
    let app = Arc::new(App::new(store));
    // `AWS_LAMBDA_MAX_CONCURRENCY` (read by the runtime too) says how many at once.
    run_concurrent(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let (app, publisher) = (Arc::clone(&app), Arc::clone(&publisher));
        async move {
            let payload = event.payload.get();
            // A look for the stream's mark first: an HTTP event is parsed once, by Incoming.
            if payload.contains("aws:dynamodb")
                && let Ok(stream) = serde_json::from_str::<serde_json::Value>(payload)
                && is_stream_event(&stream)
            {
                let answer = Box::pin(publisher.publish(&stream)).await;
                return Ok(Answer::Batch(answer));
            }
            let incoming = Incoming::from_json(payload);
            // Boxed: the request's future is deep (SDK calls inside the handler), and the
            // runtime's loop need not carry its layout.
            let answer = Box::pin(app.invoke(incoming, &event.context.request_id));
            Ok::<_, Error>(Answer::Http(answer.await))
        }
    }))
    .await
    .map_err(|err| format!("the Lambda Runtime API: {}", error_chain(err.as_ref())).into())
}

/// An HTTP response, or a stream batch's partial failures.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Answer {
    Http(conversions::http::Response),
    Batch(BatchResponse),
}
