#!/usr/bin/env bash
# `make mutants`: cargo-mutants (pinned; installed into .tools/ on first use) over src/domain,
# src/service.rs, src/service/ and src/http (.cargo/mutants.toml). Results go to mutants.out/
# (missed.txt: the mutants no test caught; caught.txt, unviable.txt, timeout.txt).
#
# MUTANTS_SUITE says which tests judge each mutant:
#   all   (default) the whole suite, `cargo test --lib --bins --tests` against a dynalite and a
#         moto started for the run, as make test runs it;
#   fast  the tests that need no server (unit tests, properties, hostile events, the fuzz
#         corpus): a first pass. A mutant these catch, the whole suite catches too.
# Runs accumulate: a mutant caught (or unviable) in an earlier run is not tried again
# (--iterate), so `make mutants MUTANTS_SUITE=fast` then `make mutants` tries only what the
# fast pass missed with the servers. MUTANTS_ARGS passes more options, for example
#   make mutants MUTANTS_FILES=src/service.rs          one file
#   make mutants MUTANTS_ARGS="--shard 1/4"            a quarter of the mutants
#   make mutants MUTANTS_ARGS="--list"                 what would be tried
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
cargo_tool cargo-mutants "$CARGO_MUTANTS_VERSION"

case ${MUTANTS_SUITE:-all} in
  all)
    "$ROOT/scripts/tools.sh"
    tests=(--lib --bins --tests)
    run=("$ROOT/scripts/with-test-servers.sh")
    ;;
  fast)
    tests=(--lib --test offline)
    run=()
    ;;
  *) die "MUTANTS_SUITE is all or fast" ;;
esac
args=(--jobs 1)
for path in ${MUTANTS_FILES:-src/domain src/service.rs src/service src/http}; do
  if [ -d "$path" ]; then args+=(--file "$path/**/*.rs"); else args+=(--file "$path"); fi
done
for arg in "${tests[@]}"; do args+=(--cargo-test-arg="$arg"); done
[ -f mutants.out/outcomes.json ] && args+=(--iterate)
# Each mutant is built in a copy of the tree; the copies share this target folder (the
# `mutants` profile's part of it), so the dependencies are built once, not once per run.
export CARGO_TARGET_DIR="$ROOT/target"
# shellcheck disable=SC2086
"${run[@]}" cargo mutants "${args[@]}" ${MUTANTS_ARGS:-}
