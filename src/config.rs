//! Typed configuration, read once from the environment at start-up.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;

/// What the function needs to know about where it runs. The DynamoDB endpoint, region and
/// credentials are not here: the AWS SDK reads them from its standard environment
/// (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    pub log: LogSettings,
}

/// How the function logs, from Lambda's own logging controls (`LoggingConfig` in
/// `template.yaml`): `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`, default text) and
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    /// `tracing` filter directives (`info`, `conversions=debug,warn`, ...).
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line, for CloudWatch.
    Json,
    /// Plain text, for a terminal.
    Text,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is not set: it must name the DynamoDB table (template.yaml sets it)")]
    Missing(&'static str),
    #[error("{name} is {value:?}: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads from any source of variables (for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("TABLE_NAME")
            .filter(|t| !t.trim().is_empty())
            .ok_or(ConfigError::Missing("TABLE_NAME"))?;
        if !(3..=255).contains(&table_name.len())
            || !table_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(ConfigError::Invalid {
                name: "TABLE_NAME",
                value: table_name,
                expected: "a DynamoDB table name: 3 to 255 of a-z A-Z 0-9 _ - .",
            });
        }
        Ok(Self {
            table_name,
            log: LogSettings::from_lookup(&lookup)?,
        })
    }
}

impl LogSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name| lookup(name).filter(|value| !value.trim().is_empty());
        let format = match set("AWS_LAMBDA_LOG_FORMAT") {
            None => LogFormat::Text,
            Some(value) if value.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(value) if value.eq_ignore_ascii_case("text") => LogFormat::Text,
            Some(value) => {
                return Err(ConfigError::Invalid {
                    name: "AWS_LAMBDA_LOG_FORMAT",
                    value,
                    expected: "JSON or Text",
                });
            }
        };
        let filter = if let Some(level) = set("AWS_LAMBDA_LOG_LEVEL") {
            match level.to_ascii_lowercase().as_str() {
                level @ ("trace" | "debug" | "info" | "warn" | "error") => level.to_owned(),
                // Lambda's most severe level; `tracing` has none above error.
                "fatal" => "error".to_owned(),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "AWS_LAMBDA_LOG_LEVEL",
                        value: level,
                        expected: "TRACE, DEBUG, INFO, WARN, ERROR or FATAL",
                    });
                }
            }
        } else if let Some(directives) = set("RUST_LOG") {
            if tracing_subscriber::EnvFilter::try_new(&directives).is_err() {
                return Err(ConfigError::Invalid {
                    name: "RUST_LOG",
                    value: directives,
                    expected: "tracing filter directives, such as info or conversions=debug",
                });
            }
            directives
        } else {
            "info".to_owned()
        };
        Ok(Self { format, filter })
    }
}

/// How long one DynamoDB call may take: a connection 1 s, each attempt 2 s, the whole
/// operation with the SDK's standard retries (3 attempts with backoff) 6 s. Well inside the
/// function's 10 s timeout, so a slow DynamoDB becomes a 503 the client can retry rather than a
/// Lambda timeout.
pub const DYNAMODB_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const DYNAMODB_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DYNAMODB_OPERATION_TIMEOUT: Duration = Duration::from_secs(6);

/// The AWS SDK's configuration from its standard environment (region, credentials,
/// `AWS_ENDPOINT_URL_DYNAMODB`, ...), with the timeouts above.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(DYNAMODB_CONNECT_TIMEOUT)
        .operation_attempt_timeout(DYNAMODB_ATTEMPT_TIMEOUT)
        .operation_timeout(DYNAMODB_OPERATION_TIMEOUT)
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn the_table_name_is_required_and_logs_default_to_text_at_info() {
        assert_eq!(config(&[]), Err(ConfigError::Missing("TABLE_NAME")));
        assert_eq!(
            config(&[("TABLE_NAME", "conversions")]).unwrap().log,
            LogSettings {
                format: LogFormat::Text,
                filter: "info".into()
            }
        );
    }

    #[test]
    fn lambdas_logging_controls_choose_the_format_and_level() {
        let log = config(&[
            ("TABLE_NAME", "t1x"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ("RUST_LOG", "debug"),
        ])
        .unwrap()
        .log;
        assert_eq!(log.format, LogFormat::Json);
        assert_eq!(log.filter, "warn", "Lambda's level wins over RUST_LOG");
        let log = config(&[("TABLE_NAME", "t1x"), ("RUST_LOG", "conversions=debug")])
            .unwrap()
            .log;
        assert_eq!(log.filter, "conversions=debug");
        let log = config(&[("TABLE_NAME", "t1x"), ("AWS_LAMBDA_LOG_LEVEL", "FATAL")])
            .unwrap()
            .log;
        assert_eq!(log.filter, "error");
    }

    #[test]
    fn a_malformed_table_name_or_log_setting_is_refused_with_its_value() {
        assert!(matches!(
            config(&[("TABLE_NAME", "ab")]),
            Err(ConfigError::Invalid {
                name: "TABLE_NAME",
                ..
            })
        ));
        assert!(matches!(
            config(&[("TABLE_NAME", "a b c")]),
            Err(ConfigError::Invalid { .. })
        ));
        let err = config(&[
            ("TABLE_NAME", "conversions"),
            ("AWS_LAMBDA_LOG_FORMAT", "xml"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("\"xml\""));
        for (name, value) in [("AWS_LAMBDA_LOG_LEVEL", "loud"), ("RUST_LOG", "=[")] {
            let err = config(&[("TABLE_NAME", "conversions"), (name, value)]).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { name: n, .. } if n == name),
                "{err}"
            );
        }
    }
}
