//! The log subscriber, built here so tests check the format that ships (JSON lines or plain
//! text). `template.yaml`'s metric filters count metrics from the JSON lines: none are sent.

mod json;

use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{FilterExt as _, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use crate::config::{LogFormat, LogSettings};

pub use json::JsonLines;

pub fn subscriber<W>(
    settings: &LogSettings,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // `LogSettings` holds only directives that parse (config.rs checks them).
    let asked: Targets = settings
        .filter
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO));
    let filter = asked.and(others_at_most_info());
    let registry = tracing_subscriber::registry();
    match settings.format {
        LogFormat::Json => Box::new(registry.with(JsonLines::new(writer).with_filter(filter))),
        LogFormat::Text => {
            let text = tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_writer(writer)
                .with_ansi(false);
            Box::new(registry.with(text.with_filter(filter)))
        }
    }
}

/// Other crates stop at INFO, whatever is asked: below, the runtime prints raw events (API keys,
/// bodies), the SDK requests (`notes`, `metadata`) and signed data (session token). Ours have none.
fn others_at_most_info() -> Targets {
    Targets::new()
        .with_target(env!("CARGO_CRATE_NAME"), LevelFilter::TRACE)
        .with_target("conversions_admin", LevelFilter::TRACE)
        .with_default(LevelFilter::INFO)
}

pub fn init(settings: &LogSettings) -> Result<(), tracing::subscriber::SetGlobalDefaultError> {
    tracing::subscriber::set_global_default(subscriber(settings, std::io::stdout))
}

/// `outer: inner: innermost` on one line, for logs and the admin CLI's stderr; never for responses.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let chain: Vec<String> = std::iter::successors(Some(err), |e| e.source())
        .map(ToString::to_string)
        .collect();
    chain.join(": ").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause_on_one_line() {
        let err = Outer(std::io::Error::other("inner\nsecond line"));
        assert_eq!(error_chain(&err), "outer: inner second line");
    }
}
