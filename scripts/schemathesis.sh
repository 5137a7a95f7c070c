#!/usr/bin/env bash
# Property-based tests of a running API against openapi.yaml, with schemathesis (pinned in
# requirements-dev.txt; its settings, and why, are in schemathesis.toml): a fixed seed, a bounded
# number of cases per operation, all four phases (examples, coverage, fuzzing, stateful) and every
# check. Exits non-zero on any failure; reports go to build/schemathesis/.
#
#   scripts/schemathesis.sh BASE_URL API_KEY
#   scripts/schemathesis.sh http://127.0.0.1:9000 nxr_live_demo_local_only_key   # with make run going
#
# The demo account's ids (schemathesis.toml) make creates succeed: against another account, most
# creates are answered 400 (unknown type or lead), which the checks accept but which tests less.
# REPORT_DIR=DIR writes the reports there instead of build/schemathesis/.
# MAX_EXAMPLES=N sets the cases per operation (default: schemathesis.toml's);
# PHASES=examples,coverage,fuzzing,stateful picks phases (default: all four).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

[ $# -eq 2 ] || die "usage: $0 BASE_URL API_KEY (for make run: $0 http://127.0.0.1:9000 nxr_live_demo_local_only_key)"
base_url=${1%/}
api_key=$2
[[ $base_url =~ ^https?:// ]] || die "BASE_URL must start with http:// or https://, not: $base_url"
[ -n "$api_key" ] || die "API_KEY is empty"
[ -x "$VENV/bin/schemathesis" ] || die "schemathesis is not installed: run make tools"

say "openapi.yaml on its own: valid OpenAPI 3.1, examples match their schemas"
"$VENV/bin/python" "$ROOT/scripts/check_openapi.py" openapi.yaml

# REPORT_DIR elsewhere when the API is `cargo lambda watch` on this tree, which restarts the
# function when files under it change.
reports=${REPORT_DIR:-$ROOT/build/schemathesis}
rm -rf "$reports"
mkdir -p "$reports"
args=(
  --config-file "$ROOT/schemathesis.toml"
  run "$ROOT/openapi.yaml"
  --url "$base_url"
  --checks all
  --phases "${PHASES:-examples,coverage,fuzzing,stateful}"
  --report junit,ndjson --report-dir "$reports"
  --report-junit-path "$reports/junit.xml" --report-ndjson-path "$reports/events.ndjson"
  --no-color
)
[ -z "${MAX_EXAMPLES:-}" ] || args+=(--max-examples "$MAX_EXAMPLES")

say "schemathesis against $base_url"
# The key goes in through the environment (schemathesis.toml reads it), not the command line.
status=0
# Run from the reports folder: Hypothesis keeps a folder in the working directory, and
# `cargo lambda watch` restarts the function (dropping the request in flight) when anything in
# the repository changes.
(cd "$reports" && NEXOR_API_KEY=$api_key "$VENV/bin/schemathesis" "${args[@]}") || status=$?

# One line a operation from the JUnit report: cases, failures, errors.
"$VENV/bin/python" - "$reports/junit.xml" <<'EOF' || true
import sys
import xml.etree.ElementTree as ET

try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    sys.exit(0)
print("\nsummary (from the JUnit report):")
for case in root.iter("testcase"):
    failures = len(case.findall("failure"))
    errors = len(case.findall("error"))
    skipped = len(case.findall("skipped"))
    state = "failed" if failures else "error" if errors else "skipped" if skipped else "passed"
    print(f"  {state:8} {case.get('name')}" + (f"  ({failures} failures)" if failures else ""))
EOF

if [ "$status" -ne 0 ]; then
  die "schemathesis found problems (exit $status); reports in ${reports#"$ROOT"/}/"
fi
say "schemathesis: no failures; reports in ${reports#"$ROOT"/}/"
