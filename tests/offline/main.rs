//! Every test that needs no server, in one binary: `make test-unit` runs it with `--lib`. The
//! tests that need a DynamoDB-compatible server are the other binary, `tests/dynamodb/`.

mod fuzz_corpus;
mod hostile;
mod operations;
mod properties;
mod startup;
