//! Typed configuration, read once from the environment at start-up.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// What the function needs to know about where it runs. The DynamoDB endpoint, region and
/// credentials are not here: the AWS SDK reads them from its standard environment
/// (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    pub log: LogSettings,
    /// How many invocations Lambda may hand this process at once: `AWS_LAMBDA_MAX_CONCURRENCY`
    /// on Lambda Managed Instances, else 1 (a classic function, one invocation at a time).
    pub max_concurrency: u32,
    /// Whether init opens the connection to DynamoDB, with one read of nothing, so that the
    /// first request does not pay for it (`DYNAMODB_WARM_UP`, `true` unless `false`).
    pub warm_up: bool,
    /// How many days events are kept after they are recorded (`EVENT_RETENTION_DAYS`, which
    /// `template.yaml` sets from `EventRetentionDays`); `None` (unset or 0) keeps them.
    pub retention_days: Option<u32>,
}

/// How the function logs, from Lambda's own logging controls (`LoggingConfig` in
/// `template.yaml`): `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`, default text) and
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    /// `tracing` filter directives, a level per target (`info`, `conversions=debug,warn`, ...).
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

/// Removes every variable set to the empty string, so that it reads as unset to this code, the
/// AWS SDK and the Lambda runtime alike: SAM's local runner and some CI systems set variables
/// they have no value for to "" (an empty `AWS_ENDPOINT_URL_DYNAMODB` would panic in the SDK).
///
/// # Safety
///
/// No other thread may read or write the environment meanwhile: call it first thing in `main`.
pub unsafe fn unset_empty_variables() {
    for (name, value) in std::env::vars_os() {
        // (An empty name, or one with `=`, cannot be removed: std would panic on it.)
        if value.is_empty() && !name.is_empty() && !name.as_encoded_bytes().contains(&b'=') {
            // SAFETY: the caller promises that no other thread uses the environment.
            unsafe { std::env::remove_var(name) };
        }
    }
}

/// A variable's value, `None` when it is unset or empty (see [`unset_empty_variables`]).
fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// What a variable of the platform (the Lambda runtime's, the AWS SDK's) must hold.
#[derive(Clone, Copy)]
enum Rule {
    /// Any text, but it must be there.
    Required(&'static str),
    Bool,
    WholeNumber,
    Days,
    OneOf(&'static str, &'static [&'static str]),
    Url,
    Region,
    RuntimeApi,
}

impl Rule {
    fn expected(self) -> &'static str {
        match self {
            Self::Required(expected) => expected,
            Self::Bool => "true or false",
            Self::WholeNumber => "a whole number, 1 or more",
            Self::Days => "a number of days, 0 (keep) to 36500",
            Self::OneOf(expected, _) => expected,
            Self::Url => "an http:// or https:// URL, such as http://127.0.0.1:8000",
            Self::Region => "an AWS region, such as us-east-1 (Lambda sets it)",
            Self::RuntimeApi => {
                "the Lambda Runtime API's host:port (or URL), which Lambda, sam local and cargo \
                 lambda set (the function runs under one of them)"
            }
        }
    }

    fn accepts(self, value: &str) -> bool {
        match self {
            Self::Required(_) => true,
            Self::Bool => ["true", "false"]
                .iter()
                .any(|b| value.eq_ignore_ascii_case(b)),
            // The Lambda runtime reads its memory size as an `i32`.
            Self::WholeNumber => value.parse::<i32>().is_ok_and(|n| n >= 1),
            Self::Days => value.parse::<u32>().is_ok_and(|n| n <= 36_500),
            Self::OneOf(_, values) => values.iter().any(|v| value.eq_ignore_ascii_case(v)),
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
            // The runtime client's own reading of it (`host:port` from Lambda, a URL with a path
            // from cargo lambda), which panics on what does not parse or names no host.
            Self::RuntimeApi => value
                .parse::<http::Uri>()
                .is_ok_and(|uri| uri.host().is_some_and(|host| !host.is_empty())),
        }
    }
}

/// The Lambda runtime's variables, which it reads with `expect` (a panic at start when one is
/// missing or malformed), and the region every DynamoDB call is signed for. Lambda, `sam local`
/// and `cargo lambda` set them all.
const LAMBDA_VARIABLES: &[(&str, Rule, bool)] = &[
    ("AWS_LAMBDA_RUNTIME_API", Rule::RuntimeApi, true),
    (
        "AWS_LAMBDA_FUNCTION_NAME",
        Rule::Required("the function's name (Lambda sets it)"),
        true,
    ),
    (
        "AWS_LAMBDA_FUNCTION_VERSION",
        Rule::Required("the function's version (Lambda sets it)"),
        true,
    ),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", Rule::WholeNumber, true),
    ("AWS_REGION", Rule::Region, true),
];

/// The AWS SDK's variables that change a DynamoDB call, checked before it loads: on some
/// malformed values it panics (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`), on others every call fails
/// (an endpoint) or it goes on without the setting (the switches). All optional.
const SDK_VARIABLES: &[(&str, Rule, bool)] = &[
    ("AWS_REGION", Rule::Region, false),
    ("AWS_ENDPOINT_URL", Rule::Url, false),
    ("AWS_ENDPOINT_URL_DYNAMODB", Rule::Url, false),
    ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", Rule::Bool, false),
    ("AWS_USE_FIPS_ENDPOINT", Rule::Bool, false),
    ("AWS_USE_DUALSTACK_ENDPOINT", Rule::Bool, false),
    ("AWS_MAX_ATTEMPTS", Rule::WholeNumber, false),
    (
        "AWS_RETRY_MODE",
        Rule::OneOf("standard or adaptive", &["standard", "adaptive"]),
        false,
    ),
    (
        "AWS_ACCOUNT_ID_ENDPOINT_MODE",
        Rule::OneOf(
            "preferred, disabled or required",
            &["preferred", "disabled", "required"],
        ),
        false,
    ),
    (
        "AWS_REQUEST_CHECKSUM_CALCULATION",
        Rule::OneOf(
            "when_supported or when_required",
            &["when_supported", "when_required"],
        ),
        false,
    ),
    (
        "AWS_RESPONSE_CHECKSUM_VALIDATION",
        Rule::OneOf(
            "when_supported or when_required",
            &["when_supported", "when_required"],
        ),
        false,
    ),
];

/// A variable's value, if set, once `rule` accepts it.
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

fn check(
    variables: &[(&'static str, Rule, bool)],
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for &(name, rule, required) in variables {
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
    /// The function's configuration, after checking what the Lambda runtime will read.
    pub fn from_env() -> Result<Self, ConfigError> {
        check(LAMBDA_VARIABLES, &env_lookup)?;
        Self::from_lookup(env_lookup)
    }

    /// Reads from any source of variables (for tests). An empty value is an unset one.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let lookup = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let table_name = lookup("TABLE_NAME").ok_or(ConfigError::Missing {
            name: "TABLE_NAME",
            expected: "the DynamoDB table's name (template.yaml sets it)",
        })?;
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
        let max_concurrency = read(&lookup, "AWS_LAMBDA_MAX_CONCURRENCY", Rule::WholeNumber)?
            .map_or(1, |n| n.parse().unwrap_or(1));
        let warm_up = read(&lookup, "DYNAMODB_WARM_UP", Rule::Bool)?
            .is_none_or(|value| value.eq_ignore_ascii_case("true"));
        let retention_days = read(&lookup, "EVENT_RETENTION_DAYS", Rule::Days)?
            .and_then(|days| days.parse().ok())
            .filter(|days| *days > 0);
        Ok(Self {
            table_name,
            log: LogSettings::from_lookup(lookup)?,
            max_concurrency,
            warm_up,
            retention_days,
        })
    }
}

impl LogSettings {
    /// Whether the function's INFO lines are filtered out: the request lines the template's
    /// metric filters count, with them.
    pub fn drops_info(&self) -> bool {
        self.filter
            .parse::<tracing_subscriber::filter::Targets>()
            .is_ok_and(|targets| !targets.would_enable("conversions", &tracing::Level::INFO))
    }

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
            if directives
                .parse::<tracing_subscriber::filter::Targets>()
                .is_err()
            {
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
/// `AWS_ENDPOINT_URL_DYNAMODB`, ...), with the timeouts above and an HTTPS client that trusts
/// [`trusted_roots`].
pub async fn load_sdk_config() -> Result<aws_config::SdkConfig, ConfigError> {
    check(SDK_VARIABLES, &env_lookup)?;
    let roots = trusted_roots(env_lookup("AWS_CA_BUNDLE").map(std::path::PathBuf::from))?;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(DYNAMODB_CONNECT_TIMEOUT)
        .operation_attempt_timeout(DYNAMODB_ATTEMPT_TIMEOUT)
        .operation_timeout(DYNAMODB_OPERATION_TIMEOUT)
        .build();
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .http_client(https_client(roots))
        .load()
        .await)
}

/// The DynamoDB endpoint a client of `sdk_config` calls, read as the SDK reads it
/// (`AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`, unless
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`); `None` for DynamoDB's own regional endpoint.
pub fn dynamodb_endpoint(sdk_config: &aws_config::SdkConfig) -> Option<String> {
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("DynamoDB")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("a key with all three parts builds");
    sdk_config
        .service_config()
        .and_then(|config| config.load_config(key))
        .or_else(|| sdk_config.endpoint_url().map(str::to_owned))
}

/// Whether an endpoint is a DynamoDB on this machine or its private network: `http://` on a
/// loopback or private address, `localhost` or `host.docker.internal`. Demo data, with its
/// public key, goes nowhere else unless asked.
pub fn is_local_endpoint(endpoint: &str) -> bool {
    let Ok(uri) = endpoint.parse::<http::Uri>() else {
        return false;
    };
    let host = uri.host().unwrap_or_default();
    uri.scheme_str() == Some("http")
        && (matches!(host, "localhost" | "host.docker.internal")
            || match host.trim_start_matches('[').trim_end_matches(']').parse() {
                Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private(),
                Ok(std::net::IpAddr::V6(ip)) => ip.is_loopback() || ip.is_unique_local(),
                Err(_) => false,
            })
}

/// The root certificates of Amazon Trust Services, which issue the certificates of every AWS
/// endpoint (DynamoDB's, FIPS and VPC endpoints included).
pub const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("amazon-trust-services.pem");

/// The roots the HTTPS client trusts: those of Amazon Trust Services, compiled in; or, when
/// `AWS_CA_BUNDLE` names a PEM file (as for the AWS CLI, behind a proxy that re-signs TLS),
/// that file's certificates instead. Reading the operating system's store would cost each cold
/// start a read of every file under `/etc/ssl/certs`, to trust a hundred authorities no AWS
/// endpoint uses.
pub fn trusted_roots(bundle: Option<std::path::PathBuf>) -> Result<Vec<u8>, ConfigError> {
    let Some(path) = bundle else {
        return Ok(AMAZON_TRUST_SERVICES_ROOTS.to_vec());
    };
    let invalid = || ConfigError::Invalid {
        name: "AWS_CA_BUNDLE",
        value: path.display().to_string(),
        expected: "a readable file of PEM-encoded CA certificates",
    };
    let pem = std::fs::read(&path).map_err(|_| invalid())?;
    if count_roots(&pem).is_none_or(|n| n == 0) {
        return Err(invalid());
    }
    Ok(pem)
}

/// How many CA certificates a PEM text holds, or `None` if one of them does not parse (the
/// SDK's connector would panic on it when it opens its first connection).
fn count_roots(pem: &[u8]) -> Option<usize> {
    let mut store = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(pem) {
        store.add(certificate.ok()?).ok()?;
    }
    Some(store.len())
}

/// The SDK's own HTTPS client (hyper and rustls with ring), trusting `roots` (PEM) only: the
/// one every DynamoDB client of this crate uses (`load_sdk_config`, and the tests' clients).
pub fn https_client(roots: Vec<u8>) -> SharedHttpClient {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(roots);
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context of a trust store always builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https()
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
    fn the_client_trusts_the_five_amazon_trust_services_roots_or_a_bundle_named() {
        assert_eq!(count_roots(AMAZON_TRUST_SERVICES_ROOTS), Some(5));
        assert_eq!(trusted_roots(None).unwrap(), AMAZON_TRUST_SERVICES_ROOTS);

        let dir = std::env::temp_dir().join(format!("ca-bundle-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let bundle = dir.join("bundle.pem");
        let first = AMAZON_TRUST_SERVICES_ROOTS
            .split(|b| *b == b'#')
            .find(|part| part.windows(5).any(|w| w == b"BEGIN"))
            .unwrap();
        std::fs::write(&bundle, first).unwrap();
        assert_eq!(trusted_roots(Some(bundle.clone())).unwrap(), first);

        let refused = |contents: &[u8]| {
            std::fs::write(&bundle, contents).unwrap();
            trusted_roots(Some(bundle.clone())).unwrap_err()
        };
        for contents in [
            &b""[..],
            b"not a certificate",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            assert!(matches!(
                refused(contents),
                ConfigError::Invalid {
                    name: "AWS_CA_BUNDLE",
                    ..
                }
            ));
        }
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            trusted_roots(Some(bundle)).is_err(),
            "a file that is not there"
        );
    }

    #[test]
    fn only_plain_http_on_this_machine_or_its_private_network_is_local() {
        for local in [
            "http://127.0.0.1:8000",
            "http://localhost:8000",
            "http://host.docker.internal:8000",
            "http://10.0.0.5:8000",
            "http://172.17.0.1:8000",
            "http://192.168.1.2",
            "http://[::1]:8000",
            "http://[fd00::1]:8000",
        ] {
            assert!(is_local_endpoint(local), "{local}");
        }
        for remote in [
            "https://127.0.0.1:8000",
            "https://dynamodb.us-east-1.amazonaws.com",
            "http://dynamodb.us-east-1.amazonaws.com",
            "http://8.8.8.8:8000",
            "http://172.32.0.1:8000",
            "http://localhost.example.com",
            "not a url",
        ] {
            assert!(!is_local_endpoint(remote), "{remote}");
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
