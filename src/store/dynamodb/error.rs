//! SDK errors as [`StoreError`]s: which failures are worth retrying later and which are not.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::store::{BoxError, StoreError};

/// Error codes DynamoDB uses for throttling; the SDK has already retried these.
pub(super) const THROTTLING_CODES: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
];

pub(super) fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let throttled = err
        .code()
        .is_some_and(|code| THROTTLING_CODES.contains(&code));
    // A timeout of the whole call or of one attempt, a connect timeout, or no connection at all.
    let unreachable = match &err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(failure) => failure.is_timeout() || failure.is_io(),
        _ => false,
    };
    let source: BoxError = Box::new(err);
    match (throttled, unreachable) {
        (true, _) => StoreError::Throttled(source),
        (_, true) => StoreError::Unreachable(source),
        _ => StoreError::Failed(source),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::put_item::PutItemError;

    use super::*;

    fn put_error(code: &str) -> StoreError {
        use aws_sdk_dynamodb::error::ErrorMetadata;
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("detail")
            .build();
        store_error(SdkError::service_error(PutItemError::generic(meta), ()))
    }

    #[test]
    fn a_timeout_is_told_apart_from_other_failures() {
        // (Connect timeouts and refused connections are dispatch failures: see the fault tests.)
        let err = store_error(SdkError::<PutItemError, ()>::timeout_error(
            "no answer in 2 s",
        ));
        assert!(matches!(err, StoreError::Unreachable(_)), "{err:?}");
    }

    #[test]
    fn throttling_codes_are_told_apart_from_other_failures() {
        for code in THROTTLING_CODES {
            assert!(
                matches!(put_error(code), StoreError::Throttled(_)),
                "{code}"
            );
        }
        for code in [
            "ValidationException",
            "ResourceNotFoundException",
            "InternalServerError",
        ] {
            assert!(matches!(put_error(code), StoreError::Failed(_)), "{code}");
        }
    }
}
