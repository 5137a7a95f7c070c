//! Logging set-up: the subscriber the function installs, built here so that tests check the
//! very format that ships (JSON lines for CloudWatch, or plain text for a terminal).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogFormat, LogSettings};

/// The subscriber the function logs through, writing to `writer`. The Lambda runtime's own span
/// carries the Lambda request id; ours carries API Gateway's.
pub fn subscriber<W>(
    settings: &LogSettings,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(&settings.filter))
        .with_target(false)
        .with_writer(writer);
    match settings.format {
        // CloudWatch stamps every line itself.
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .without_time()
                .finish(),
        ),
        LogFormat::Text => Box::new(builder.with_ansi(false).finish()),
    }
}

/// Installs [`subscriber`] on standard output for the whole process.
pub fn init(settings: &LogSettings) -> Result<(), tracing::subscriber::SetGlobalDefaultError> {
    tracing::subscriber::set_global_default(subscriber(settings, std::io::stdout))
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
