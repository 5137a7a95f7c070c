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

/// An error and its causes on one line, `outer: inner: innermost`: for logs and for the admin
/// CLI's stderr. Never for API responses.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.replace('\n', " ")
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
