//! Every test that needs a DynamoDB-compatible server: one binary, run by `make test` with
//! dynalite and moto started on free ports (`scripts/with-test-servers.sh`).

mod adapter;
mod adjustments;
mod admin;
mod api;
mod batch;
mod capacity;
mod changes;
mod contract;
mod erasure;
mod events;
mod faults;
mod helpers;
mod iam;
mod idempotency;
mod import;
mod import_hostile;
mod isolation;
mod load;
mod logging;
#[path = "../support/memory.rs"]
mod memory;
mod metrics;
mod publish;
mod reads;
mod secrets;
mod stored;
