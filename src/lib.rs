//! Nexor's public Conversions API: `POST /conversions` on AWS Lambda and DynamoDB.
//!
//! - [`domain`]: validated types and the rules of a conversion event.
//! - [`service`]: the use case, written against the [`store::Store`] port.
//! - [`store`]: the port and its DynamoDB adapter.
//! - [`http`]: API Gateway request in, response out; the one place errors become status codes.
//! - [`admin`]: the operators' CLI (`conversions-admin`) on the same store code.
//! - [`config`]: the function's own settings; [`sdk`]: the AWS SDK's, and its HTTPS client.

// Lets `tests/support/memory.rs` name this crate the same way in its unit tests and elsewhere.
extern crate self as conversions;

pub mod admin;
pub mod config;
pub mod domain;
pub mod http;
pub mod publish;
pub mod sdk;
pub mod seed;
pub mod service;
pub mod store;
pub mod telemetry;
