#!/usr/bin/env bash
# make docs-check: checks openapi.yaml on its own (valid OpenAPI 3.1 for schemathesis's loader,
# every example valid for its schema: scripts/check_openapi.py), then opens the page `make docs`
# built in headless Chromium and checks that it shows every operation (summary, method and path)
# and every error message openapi.yaml documents (scripts/check_docs.py says exactly what).
# Installs Debian's chromium when it is missing.
#   scripts/check-docs.sh [OPENAPI_YAML [PAGE_HTML]]   (default: openapi.yaml build/docs/api.html)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

spec=${1:-openapi.yaml}
page=${2:-build/docs/api.html}
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

say "$spec on its own: valid OpenAPI 3.1, examples match their schemas"
"$VENV/bin/python" "$ROOT/scripts/check_openapi.py" "$spec"

say "checking $page against $spec in headless Chromium"
"$VENV/bin/python" "$ROOT/scripts/check_docs.py" "$spec" "$page"
