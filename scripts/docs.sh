#!/usr/bin/env bash
# The API reference: built from openapi.yaml (make docs) and checked (make docs-check).
#   scripts/docs.sh          build, with the pinned Redocly CLI (package.json; options: redocly.yaml)
#   scripts/docs.sh check    openapi.yaml on its own (valid OpenAPI 3.1, every example valid for
#                            its schema), then the built page in headless Chromium (every
#                            operation and error message shown; Debian's chromium installed if missing)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
page=build/docs/api.html

build() {
  local redocly="$ROOT/node_modules/.bin/redocly"
  [ -x "$redocly" ] || die "the Redocly CLI is not installed: run make tools"
  # No usage reports from the CLI, no update notices, no page telemetry (redocly.yaml says so too).
  export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
  # The CLI frames a notice on Node.js 20 (supported, but not by its future releases) in blank
  # lines on stderr: that is dropped, the rest is kept.
  quiet() { "$@" 2> >(grep -v -e '[║╔╚]' -e '^[[:space:]]*$' >&2); }

  say "redocly lint openapi.yaml"
  quiet "$redocly" lint --format=stylish openapi.yaml
  mkdir -p "$(dirname "$page")"
  say "rendering openapi.yaml into $page"
  # --inlineBundle: Redoc's scripts go into the page instead of being loaded from a CDN.
  quiet "$redocly" build-docs openapi.yaml --inlineBundle --output "$page" >/dev/null
  say "API reference: $ROOT/$page (open it in a browser)"
}

check() {
  [ -f "$page" ] || die "$page does not exist: run make docs first"
  [ -x "$VENV/bin/python" ] || die "$VENV is missing: run make tools"
  CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
  if [ ! -x "$CHROMIUM" ]; then
    command -v apt-get >/dev/null 2>&1 ||
      die "$CHROMIUM is missing and there is no apt-get to install it: install Chromium and set CHROMIUM=/path/to/it"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing Debian's chromium (the docs check renders the page in it)"
    # (the odd expansion keeps an empty list safe under set -u in older bash)
    ${sudo[@]+"${sudo[@]}"} apt-get update -qq
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    [ -x "$CHROMIUM" ] || die "apt-get installed chromium, but $CHROMIUM is still missing"
  fi
  export CHROMIUM
  say "openapi.yaml on its own: valid OpenAPI 3.1, examples match their schemas"
  "$VENV/bin/python" scripts/check-openapi.py spec openapi.yaml
  say "checking $page against openapi.yaml in headless Chromium"
  "$VENV/bin/python" scripts/check-openapi.py page openapi.yaml "$page"
}

case "${1:-build}" in
  build) build ;;
  check) check ;;
  *) die "usage: $0 [build|check]" ;;
esac
