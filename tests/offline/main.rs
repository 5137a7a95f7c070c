//! Every test that needs no server, in one binary: `make test-unit` runs it with `--lib`. The
//! tests that need a DynamoDB-compatible server are the other binary, `tests/dynamodb/`.

mod fixtures;
mod fuzz_corpus;
mod hostile;
mod names;
mod operations;
mod properties;
mod startup;

// The `events/` fixtures and `openapi.yaml` as an oracle, shared with the server tests.
#[path = "../dynamodb/helpers/fixtures.rs"]
mod events;
#[path = "../support/memory.rs"]
mod memory;
// What each fuzz target checks, replayed on its corpus and on the properties' inputs.
#[path = "../dynamodb/helpers/openapi.rs"]
mod openapi;
#[path = "../../fuzz/oracles.rs"]
mod oracles;
