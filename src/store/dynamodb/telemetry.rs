//! The DynamoDB figures of the function's metrics, from an SDK interceptor: how long each
//! operation took (its retries included) and how many of its attempts DynamoDB throttled (the
//! ones the SDK retried too, which never reach the function as errors).

use std::time::Instant;

use aws_runtime::retries::classifiers::THROTTLING_ERRORS;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::{BoxError, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemError;
use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::QueryError;
use aws_smithy_runtime_api::client::interceptors::context::Error;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

use crate::telemetry::metrics;

/// The operations the function calls, as the `Operation` dimension names them; any other (the
/// admin CLI's) is `other`.
const OPERATIONS: [&str; 4] = ["GetItem", "BatchGetItem", "PutItem", "Query"];

#[derive(Debug)]
pub(super) struct CallMetrics;

/// When the operation started, and how many of its attempts were throttled so far.
#[derive(Debug, Clone)]
struct Call {
    started: Instant,
    throttles: u64,
}

impl Storable for Call {
    type Storer = StoreReplace<Self>;
}

impl Intercept for CallMetrics {
    fn name(&self) -> &'static str {
        "CallMetrics"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Call {
            started: Instant::now(),
            throttles: 0,
        });
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let throttled = match context.output_or_error() {
            Some(Err(err)) => err
                .as_operation_error()
                .and_then(error_code)
                .is_some_and(|code| THROTTLING_ERRORS.contains(&code)),
            _ => false,
        };
        if throttled && let Some(call) = cfg.load::<Call>() {
            let call = Call {
                throttles: call.throttles + 1,
                ..call.clone()
            };
            cfg.interceptor_state().store_put(call);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or("other", |m| {
            OPERATIONS
                .into_iter()
                .find(|&known| known == m.name())
                .unwrap_or("other")
        });
        if let Some(call) = cfg.load::<Call>() {
            let latency = call.started.elapsed();
            let throttles = call.throttles;
            metrics::record(|m| m.dynamodb_call(operation, latency, throttles));
        }
        Ok(())
    }
}

/// The error code of a failed attempt of one of the function's operations.
fn error_code(err: &Error) -> Option<&str> {
    if let Some(err) = err.downcast_ref::<GetItemError>() {
        err.code()
    } else if let Some(err) = err.downcast_ref::<BatchGetItemError>() {
        err.code()
    } else if let Some(err) = err.downcast_ref::<PutItemError>() {
        err.code()
    } else {
        err.downcast_ref::<QueryError>().and_then(|err| err.code())
    }
}
