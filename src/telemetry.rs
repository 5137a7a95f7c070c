//! Logging set-up: JSON lines for CloudWatch, or plain text for a terminal.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. The level comes from `RUST_LOG` (default `info`). The
/// Lambda runtime's own span carries the Lambda request id; ours carries API Gateway's.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match format {
        // CloudWatch stamps every line itself.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .init(),
        LogFormat::Text => builder.with_ansi(false).init(),
    }
}
