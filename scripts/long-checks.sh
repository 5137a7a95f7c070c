#!/usr/bin/env bash
# The long checks outside make test: fuzzing (make fuzz, fuzz-cmin) and mutants (make mutants).
#   scripts/long-checks.sh fuzz|fuzz-cmin|mutants
#
# `make fuzz`: every fuzz target (fuzz/fuzz_targets/) for FUZZ_SECONDS each (default 60), with
# libFuzzer under cargo-fuzz on the nightly toolchain (FUZZ_TOOLCHAIN, default nightly), from
# the committed corpus (fuzz/corpus/<target>/). New inputs go to fuzz/.found/<target>/ and stay
# out of the repository until `make fuzz-cmin` merges and minimises them into the corpus.
# A broken oracle or a crash stops the run and names the input (fuzz/artifacts/<target>/).
#
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

# The cargo subcommands, pinned; installed into .tools/ (not ~/.cargo) on first use, with the
# lock files they were released with.
CARGO_FUZZ_VERSION=0.13.2
CARGO_MUTANTS_VERSION=27.1.0
TOOLS="$ROOT/.tools"

# cargo_tool CRATE VERSION: installs the crate's binaries into .tools/bin unless that version is
# there, and puts .tools/bin first on PATH.
cargo_tool() {
  local crate=$1 version=$2 stamp="$TOOLS/.$1-version"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$version" ]; then
    say "installing $crate $version into .tools/"
    cargo install --quiet --locked --force --root "$TOOLS" "$crate" --version "$version"
    echo "$version" >"$stamp"
  fi
  export PATH="$TOOLS/bin:$PATH"
}

fuzz_targets() {
  cd "$ROOT/fuzz"
  toolchain=${FUZZ_TOOLCHAIN:-nightly}
  rustup run "$toolchain" rustc --version >/dev/null 2>&1 ||
    die "cargo fuzz needs a nightly toolchain: rustup toolchain install nightly (or name one in FUZZ_TOOLCHAIN)"
  cargo_tool cargo-fuzz "$CARGO_FUZZ_VERSION"
  fuzz() { cargo "+$toolchain" fuzz "$@"; }
  targets=${FUZZ_TARGETS:-$(fuzz list)}

  if [ "$1" = fuzz-cmin ]; then
    for t in $targets; do
      before=$(find "corpus/$t" -type f | wc -l)
      [ -d ".found/$t" ] && find ".found/$t" -type f -exec cp -n {} "corpus/$t/" \;
      say "minimising corpus/$t"
      fuzz cmin "$t" "corpus/$t" >".cmin-$t.log" 2>&1 || { tail -20 ".cmin-$t.log"; die "cmin $t failed"; }
      rm -rf ".found/$t" ".cmin-$t.log"
      echo "$t: $before inputs before, $(find "corpus/$t" -type f | wc -l) after"
    done
    return
  fi

  seconds=${FUZZ_SECONDS:-60}
  say "building the fuzz targets with $(rustup run "$toolchain" rustc --version)"
  fuzz build
  report=()
  for t in $targets; do
    mkdir -p ".found/$t"
    log=".found/$t.log"
    say "fuzzing $t for $seconds s"
    dirs=(".found/$t" "corpus/$t")
    [ -d "regressions/$t" ] && dirs+=("regressions/$t")
    if ! fuzz run "$t" "${dirs[@]}" -- -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 >"$log" 2>&1; then
      { grep -A2 'panicked at' "$log" | head -6; grep -v '^ *[0-9]*: \|^ *at ' "$log" | tail -12; } >&2
      die "$t: the failure above; its input is in fuzz/artifacts/$t/ (once fixed, add it to fuzz/regressions/$t/ under a name that says what it broke)"
    fi
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 \2/p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    read -r n s <<<"$runs"
    report+=("$(printf '%-13s %12s %6s s %9s/s %7s %6s + %s' "$t" "$n" "$s" "$((n / (s > 0 ? s : 1)))" \
      "$cov" "$(find "corpus/$t" -type f | wc -l)" "$(find ".found/$t" -type f | wc -l)")")
  done
  printf '\n%-13s %12s %8s %11s %7s %s\n' target executions time rate edges 'corpus + new'
  printf '%s\n' "${report[@]}"
  echo "no oracle broken. New inputs are in fuzz/.found/; make fuzz-cmin merges them into fuzz/corpus/."
}

mutants() {
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
}

case "${1:-}" in
  fuzz | fuzz-cmin) fuzz_targets "$1" ;;
  mutants) mutants ;;
  *) die "usage: $0 fuzz|fuzz-cmin|mutants" ;;
esac
