//! The AWS SDK's configuration: its standard environment, the time-outs of a DynamoDB call, and
//! an HTTPS client that trusts the roots of AWS endpoints only.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::{ConfigError, check_sdk_variables, env_lookup};

/// Connect 1 s, attempt 2 s, operation with the SDK's standard 3 attempts (backoff) 6 s: inside the
/// function's 10 s timeout, so a slow DynamoDB is a 503 the client can retry, not a Lambda timeout.
pub const DYNAMODB_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const DYNAMODB_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DYNAMODB_OPERATION_TIMEOUT: Duration = Duration::from_secs(6);

pub async fn load_sdk_config() -> Result<aws_config::SdkConfig, ConfigError> {
    check_sdk_variables()?;
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

/// The DynamoDB endpoint as the SDK reads it (`AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`,
/// unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`); `None` for DynamoDB's regional endpoint.
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

/// On this machine or its private network: demo data (public key) goes nowhere else unless asked.
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

/// Amazon Trust Services issues the certificates of every AWS endpoint (FIPS and VPC included).
pub const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("amazon-trust-services.pem");

/// Built-in roots, or `AWS_CA_BUNDLE`'s PEM file (as for the AWS CLI, behind a re-signing proxy):
/// the system store costs each cold start a read of `/etc/ssl/certs`, for CAs AWS never uses.
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

/// `None` if a certificate does not parse: the SDK's connector would panic on it later.
fn count_roots(pem: &[u8]) -> Option<usize> {
    let mut store = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(pem) {
        store.add(certificate.ok()?).ok()?;
    }
    Some(store.len())
}

/// The SDK's own client (hyper, rustls with ring) trusting `roots` only, for every DynamoDB client.
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
}
