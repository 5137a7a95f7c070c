#!/usr/bin/env bash
# make test: everything CI checks, from a fresh clone.
# Pinned tools, formatting, lints, every test against dynalite and moto, the whole stack as
# `make run` starts it (schemathesis included), the rendered API reference, the SAM template,
# and the function as SAM runs it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/tools.sh"

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

say "cargo test (dynalite and moto started on free ports)"
"$ROOT/scripts/with-test-servers.sh" cargo test --lib --bins --tests --locked

say "the stack as make run starts it: the documented examples, cargo lambda invoke, restart"
"$ROOT/scripts/stack-test.sh"

say "API reference: openapi.yaml linted and rendered; every operation and error message on the page (headless Chromium)"
"$ROOT/scripts/docs.sh"
"$ROOT/scripts/docs.sh" check

say "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml

say "the function as AWS SAM builds and runs it, in Docker"
"$ROOT/scripts/sam.sh" test

say "all checks passed"
