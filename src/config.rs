//! Typed configuration, read once from the environment at start-up.

use tracing_subscriber::filter::Targets;

/// No DynamoDB endpoint, region or credentials: the AWS SDK reads those from its own environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    pub log: LogSettings,
    /// `AWS_LAMBDA_MAX_CONCURRENCY` on Lambda Managed Instances, else 1 (a classic function).
    pub max_concurrency: u32,
    /// `DYNAMODB_WARM_UP` (default true): connect during init, so the first request need not.
    pub warm_up: bool,
    /// `EVENT_RETENTION_DAYS` (`template.yaml`'s `EventRetentionDays`); unset or 0 keeps events.
    pub retention_days: Option<u32>,
    /// `EVENT_BUS_NAME` (`template.yaml`'s `EventBusName`): where the stream's changes go; set
    /// on the publishing function only.
    pub event_bus: Option<String>,
}

/// Lambda's logging controls (`LoggingConfig` in `template.yaml`), else `RUST_LOG`, else `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is not set: it must be {expected}")]
    Missing {
        name: &'static str,
        expected: &'static str,
    },
    #[error("{name} is {value:?}: it must be {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// Unsets each variable set to "" (as `sam local` and some CI do for ones they lack), so this code,
/// the SDK and Lambda runtime see it unset; an empty `AWS_ENDPOINT_URL_DYNAMODB` panics the SDK.
/// # Safety
/// No other thread may use the environment meanwhile: call it first thing in `main`.
pub unsafe fn unset_empty_variables() {
    for (name, value) in std::env::vars_os() {
        // (An empty name, or one with `=`, cannot be removed: std would panic on it.)
        if value.is_empty() && !name.is_empty() && !name.as_encoded_bytes().contains(&b'=') {
            // SAFETY: the caller promises that no other thread uses the environment.
            unsafe { std::env::remove_var(name) };
        }
    }
}

pub(crate) fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

#[derive(Clone, Copy)]
enum Rule {
    Required(&'static str),
    Bool,
    WholeNumber,
    Days,
    /// The values, as the message lists them: `a, b or c`.
    OneOf(&'static str),
    Url,
    Region,
    RuntimeApi,
    TableName,
    EventBus,
    Directives,
}

impl Rule {
    fn expected(self) -> &'static str {
        match self {
            Self::Required(expected) | Self::OneOf(expected) => expected,
            Self::Bool => "true or false",
            Self::WholeNumber => "a whole number, 1 or more",
            Self::Days => "a number of days, 0 (keep) to 36500",
            Self::Url => "an http:// or https:// URL, such as http://127.0.0.1:8000",
            Self::Region => "an AWS region, such as us-east-1 (Lambda sets it)",
            Self::RuntimeApi => {
                "the Lambda Runtime API's host:port (or URL), which Lambda, sam local and cargo \
                 lambda set (the function runs under one of them)"
            }
            Self::TableName => "a DynamoDB table name: 3 to 255 of a-z A-Z 0-9 _ - .",
            Self::EventBus => {
                "an EventBridge bus's name or ARN: 1 to 1600 of a-z A-Z 0-9 . - _ / :"
            }
            Self::Directives => "tracing filter directives, such as info or conversions=debug",
        }
    }

    fn accepts(self, value: &str) -> bool {
        match self {
            Self::Required(_) => true,
            Self::Bool => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
            // The Lambda runtime reads its memory size as an `i32`.
            Self::WholeNumber => value.parse::<i32>().is_ok_and(|n| n >= 1),
            Self::Days => value.parse::<u32>().is_ok_and(|n| n <= 36_500),
            Self::OneOf(values) => values
                .split(" or ")
                .flat_map(|part| part.split(", "))
                .any(|v| value.eq_ignore_ascii_case(v)),
            Self::Url => value.parse::<http::Uri>().is_ok_and(|uri| {
                matches!(uri.scheme_str(), Some("http" | "https"))
                    && uri.host().is_some_and(|host| !host.is_empty())
                    && uri.query().is_none()
            }),
            // What the SDK's endpoint rules accept as a region: a host label.
            Self::Region => {
                (1..=63).contains(&value.len())
                    && !value.starts_with('-')
                    && !value.ends_with('-')
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            }
            // The runtime client panics unless it has a host: `host:port`, or cargo lambda's URL.
            Self::RuntimeApi => value
                .parse::<http::Uri>()
                .is_ok_and(|uri| uri.host().is_some_and(|host| !host.is_empty())),
            Self::TableName => {
                (3..=255).contains(&value.len())
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            }
            Self::EventBus => {
                (1..=1600).contains(&value.len())
                    && (value.bytes()).all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b':')
                    })
            }
            Self::Directives => value.parse::<Targets>().is_ok(),
        }
    }
}

/// Read by the Lambda runtime with `expect` (a panic at start if missing or malformed), and the
/// region every DynamoDB call is signed for. Lambda, `sam local` and `cargo lambda` set them all.
const LAMBDA_VARIABLES: &[(&str, Rule)] = &[
    ("AWS_LAMBDA_RUNTIME_API", Rule::RuntimeApi),
    (
        "AWS_LAMBDA_FUNCTION_NAME",
        Rule::Required("the function's name (Lambda sets it)"),
    ),
    (
        "AWS_LAMBDA_FUNCTION_VERSION",
        Rule::Required("the function's version (Lambda sets it)"),
    ),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", Rule::WholeNumber),
    ("AWS_REGION", Rule::Region),
];

/// Optional SDK variables that change a DynamoDB call, checked before it loads: if malformed, some
/// panic (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`), an endpoint fails every call, a switch is ignored.
const SDK_VARIABLES: &[(&str, Rule)] = &[
    ("AWS_REGION", Rule::Region),
    ("AWS_ENDPOINT_URL", Rule::Url),
    ("AWS_ENDPOINT_URL_DYNAMODB", Rule::Url),
    ("AWS_ENDPOINT_URL_EVENTBRIDGE", Rule::Url),
    ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", Rule::Bool),
    ("AWS_USE_FIPS_ENDPOINT", Rule::Bool),
    ("AWS_USE_DUALSTACK_ENDPOINT", Rule::Bool),
    ("AWS_MAX_ATTEMPTS", Rule::WholeNumber),
    ("AWS_RETRY_MODE", Rule::OneOf("standard or adaptive")),
    (
        "AWS_ACCOUNT_ID_ENDPOINT_MODE",
        Rule::OneOf("preferred, disabled or required"),
    ),
    (
        "AWS_REQUEST_CHECKSUM_CALCULATION",
        Rule::OneOf("when_supported or when_required"),
    ),
    (
        "AWS_RESPONSE_CHECKSUM_VALIDATION",
        Rule::OneOf("when_supported or when_required"),
    ),
];

fn read(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    rule: Rule,
) -> Result<Option<String>, ConfigError> {
    match lookup(name).filter(|value| !value.is_empty()) {
        Some(value) if !rule.accepts(&value) => Err(ConfigError::Invalid {
            name,
            value,
            expected: rule.expected(),
        }),
        value => Ok(value),
    }
}

pub(crate) fn check_sdk_variables() -> Result<(), ConfigError> {
    check(SDK_VARIABLES, false, &env_lookup)
}

fn check(
    variables: &[(&'static str, Rule)],
    required: bool,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for &(name, rule) in variables {
        if read(lookup, name, rule)?.is_none() && required {
            return Err(ConfigError::Missing {
                name,
                expected: rule.expected(),
            });
        }
    }
    Ok(())
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        check(LAMBDA_VARIABLES, true, &env_lookup)?;
        Self::from_lookup(env_lookup)
    }

    /// Reads from any source of variables (for tests). An empty value is an unset one.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name =
            read(&lookup, "TABLE_NAME", Rule::TableName)?.ok_or(ConfigError::Missing {
                name: "TABLE_NAME",
                expected: "the DynamoDB table's name (template.yaml sets it)",
            })?;
        let max_concurrency = read(&lookup, "AWS_LAMBDA_MAX_CONCURRENCY", Rule::WholeNumber)?
            .map_or(1, |n| n.parse().unwrap_or(1));
        let warm_up = read(&lookup, "DYNAMODB_WARM_UP", Rule::Bool)?
            .is_none_or(|value| value.eq_ignore_ascii_case("true"));
        let retention_days = read(&lookup, "EVENT_RETENTION_DAYS", Rule::Days)?
            .and_then(|days| days.parse().ok())
            .filter(|days| *days > 0);
        let event_bus = read(&lookup, "EVENT_BUS_NAME", Rule::EventBus)?;
        Ok(Self {
            table_name,
            log: LogSettings::from_lookup(lookup)?,
            max_concurrency,
            warm_up,
            retention_days,
            event_bus,
        })
    }
}

impl LogSettings {
    /// Whether INFO lines, the request lines the template's metric filters count, are dropped.
    pub fn drops_info(&self) -> bool {
        self.filter
            .parse::<Targets>()
            .is_ok_and(|targets| !targets.would_enable("conversions", &tracing::Level::INFO))
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let format = match read(&set, "AWS_LAMBDA_LOG_FORMAT", Rule::OneOf("JSON or Text"))? {
            Some(format) if format.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let levels = Rule::OneOf("TRACE, DEBUG, INFO, WARN, ERROR or FATAL");
        let filter = match read(&set, "AWS_LAMBDA_LOG_LEVEL", levels)? {
            // Lambda's most severe level; `tracing` has none above error.
            Some(level) if level.eq_ignore_ascii_case("fatal") => "error".to_owned(),
            Some(level) => level.to_ascii_lowercase(),
            None => read(&set, "RUST_LOG", Rule::Directives)?.unwrap_or_else(|| "info".into()),
        };
        Ok(Self { format, filter })
    }
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
        assert!(matches!(
            config(&[]),
            Err(ConfigError::Missing {
                name: "TABLE_NAME",
                ..
            })
        ));
        assert_eq!(
            config(&[]).unwrap_err().to_string(),
            "TABLE_NAME is not set: it must be the DynamoDB table's name (template.yaml sets it)"
        );
        assert_eq!(
            config(&[("TABLE_NAME", "conversions")]).unwrap().log,
            LogSettings {
                format: LogFormat::Text,
                filter: "info".into()
            }
        );
    }

    #[test]
    fn a_level_above_info_is_known_to_drop_info_lines() {
        let log = |level| {
            LogSettings::from_lookup(|name| {
                (name == "AWS_LAMBDA_LOG_LEVEL").then(|| String::from(level))
            })
            .unwrap()
        };
        for level in ["TRACE", "DEBUG", "INFO"] {
            assert!(!log(level).drops_info(), "{level}");
        }
        for level in ["WARN", "ERROR", "FATAL"] {
            assert!(log(level).drops_info(), "{level}");
        }
    }

    #[test]
    fn one_invocation_at_a_time_and_a_warm_connection_unless_told_otherwise() {
        let defaults = config(&[("TABLE_NAME", "conversions")]).unwrap();
        assert_eq!((defaults.max_concurrency, defaults.warm_up), (1, true));
        let set = config(&[
            ("TABLE_NAME", "conversions"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "32"),
            ("DYNAMODB_WARM_UP", "FALSE"),
        ])
        .unwrap();
        assert_eq!((set.max_concurrency, set.warm_up), (32, false));
        for (name, value) in [
            ("AWS_LAMBDA_MAX_CONCURRENCY", "0"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "many"),
            ("DYNAMODB_WARM_UP", "yes"),
        ] {
            let err = config(&[("TABLE_NAME", "conversions"), (name, value)]).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}={value}: {err}"
            );
        }
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
