//! SDK errors as [`StoreError`]s: [`StoreError::Throttled`] or [`StoreError::Unavailable`] when a
//! later retry may help (the SDK's own are spent), [`StoreError::Failed`] when none can (our
//! mistake, access denied, no table), as the SDK's standard retry classifiers judge a final error.

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::retry::{ErrorKind, ProvideErrorKind};

use crate::store::{BoxError, StoreError};

/// The HTTP statuses the SDK's `HttpStatusCodeClassifier` retries.
const TRANSIENT_STATUS_CODES: [u16; 4] = [500, 502, 503, 504];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Throttling,
    Transient,
    Permanent,
}

fn classify<E>(err: &SdkError<E, HttpResponse>) -> Class
where
    E: ProvideErrorKind + ProvideErrorMetadata,
{
    match err {
        // No answer in time (an attempt or the whole operation), or one that could not be read (a
        // connection cut mid-response).
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Class::Transient,
        SdkError::DispatchFailure(f) if f.is_timeout() || f.is_io() => Class::Transient,
        SdkError::DispatchFailure(failure) => match failure.as_other() {
            Some(ErrorKind::ThrottlingError) => Class::Throttling,
            Some(_) => Class::Transient,
            None => Class::Permanent,
        },
        SdkError::ServiceError(context) => {
            let service = context.err();
            let code = ProvideErrorMetadata::code(service).unwrap_or_default();
            if THROTTLING_ERRORS.contains(&code) {
                Class::Throttling
            } else if TRANSIENT_ERRORS.contains(&code)
                || service.retryable_error_kind().is_some()
                || TRANSIENT_STATUS_CODES.contains(&context.raw().status().as_u16())
            {
                Class::Transient
            } else {
                Class::Permanent
            }
        }
        // The request could not be built: our own mistake.
        _ => Class::Permanent,
    }
}

pub(super) fn store_error<E>(err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorKind + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let class = classify(&err);
    let source: BoxError = Box::new(err);
    match class {
        Class::Throttling => StoreError::Throttled(source),
        Class::Transient => StoreError::Unavailable(source),
        Class::Permanent => StoreError::Failed(source),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn service_error(status: u16, code: &str) -> StoreError {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("detail")
            .build();
        let raw = HttpResponse::try_from(
            http::Response::builder()
                .status(status)
                .body(SdkBody::empty())
                .unwrap(),
        )
        .unwrap();
        store_error(SdkError::service_error(PutItemError::generic(meta), raw))
    }

    #[test]
    fn throttling_codes_are_throttles() {
        for code in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
        ] {
            assert!(
                matches!(service_error(400, code), StoreError::Throttled(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn server_errors_and_timeouts_are_unavailable() {
        for (status, code) in [
            (500, "InternalServerError"),
            (503, "ServiceUnavailable"),
            (400, "RequestTimeoutException"),
            (502, ""),
        ] {
            assert!(
                matches!(service_error(status, code), StoreError::Unavailable(_)),
                "{status} {code}"
            );
        }
        let timeout = store_error(SdkError::<PutItemError, HttpResponse>::timeout_error(
            "no answer in 2 s",
        ));
        assert!(matches!(timeout, StoreError::Unavailable(_)), "{timeout:?}");
    }

    #[test]
    fn errors_no_retry_can_fix_are_failures() {
        for code in [
            "ValidationException",
            "ResourceNotFoundException",
            "AccessDeniedException",
            "UnrecognizedClientException",
        ] {
            assert!(
                matches!(service_error(400, code), StoreError::Failed(_)),
                "{code}"
            );
        }
    }
}
