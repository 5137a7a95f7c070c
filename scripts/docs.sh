#!/usr/bin/env bash
# make docs: lints openapi.yaml and renders it into one self-contained HTML page,
# build/docs/api.html, with the pinned Redocly CLI (package.json). Options: redocly.yaml.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

redocly="$ROOT/node_modules/.bin/redocly"
[ -x "$redocly" ] || die "the Redocly CLI is not installed: run make tools"
# No usage reports from the CLI, no update notices, no page telemetry (redocly.yaml says so too).
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

# The CLI frames a notice on Node.js 20 (supported, but not by its future releases) in blank
# lines on stderr: that is dropped, the rest is kept.
quiet() { "$@" 2> >(grep -v -e '[║╔╚]' -e '^[[:space:]]*$' >&2); }

say "redocly lint openapi.yaml"
quiet "$redocly" lint --format=stylish openapi.yaml

out="$ROOT/build/docs/api.html"
mkdir -p "$(dirname "$out")"
say "rendering openapi.yaml into ${out#"$ROOT"/}"
# --inlineBundle: Redoc's scripts go into the page instead of being loaded from a CDN.
quiet "$redocly" build-docs openapi.yaml --inlineBundle --output "$out" >/dev/null
say "API reference: $out (open it in a browser)"
