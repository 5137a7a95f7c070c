#!/usr/bin/env bash
# `make fuzz`: every fuzz target (fuzz/fuzz_targets/) for FUZZ_SECONDS each (default 60), with
# libFuzzer under cargo-fuzz on the nightly toolchain (FUZZ_TOOLCHAIN, default nightly), from
# the committed corpus (fuzz/corpus/<target>/). New inputs go to fuzz/.found/<target>/ and stay
# out of the repository until `make fuzz-cmin` merges and minimises them into the corpus.
# A broken oracle or a crash stops the run and names the input (fuzz/artifacts/<target>/).
#
# `scripts/fuzz.sh cmin` is `make fuzz-cmin`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT/fuzz"

toolchain=${FUZZ_TOOLCHAIN:-nightly}
rustup run "$toolchain" rustc --version >/dev/null 2>&1 ||
  die "cargo fuzz needs a nightly toolchain: rustup toolchain install nightly (or name one in FUZZ_TOOLCHAIN)"
cargo_tool cargo-fuzz "$CARGO_FUZZ_VERSION"
fuzz() { cargo "+$toolchain" fuzz "$@"; }
targets=${FUZZ_TARGETS:-$(fuzz list)}

if [ "${1:-}" = cmin ]; then
  for t in $targets; do
    before=$(find "corpus/$t" -type f | wc -l)
    [ -d ".found/$t" ] && find ".found/$t" -type f -exec cp -n {} "corpus/$t/" \;
    say "minimising corpus/$t"
    fuzz cmin "$t" "corpus/$t" >".cmin-$t.log" 2>&1 || { tail -20 ".cmin-$t.log"; die "cmin $t failed"; }
    rm -rf ".found/$t" ".cmin-$t.log"
    echo "$t: $before inputs before, $(find "corpus/$t" -type f | wc -l) after"
  done
  exit 0
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
