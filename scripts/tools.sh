#!/usr/bin/env bash
# make tools: installs the pinned local tools, when they are missing or their pins changed.
#   - dynalite and the Redocly CLI (make docs), from package-lock.json, into node_modules/
#   - moto's server, cfn-lint, cargo-lambda, schemathesis and the SAM CLI, from
#     requirements-dev.txt, into .venv/
# `tools.sh venv` installs the second only: what make deploy needs, without Node.js.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

require cargo "install Rust from https://rustup.rs (the toolchain in Cargo.toml's rust-version or newer)"
require python3 "install Python 3.10 or newer (for moto, cfn-lint, cargo-lambda and the SAM CLI)"

cd "$ROOT"
if command -v sha256sum >/dev/null 2>&1; then hash_files() { sha256sum "$@"; }; else hash_files() { shasum -a 256 "$@"; }; fi
stamp() { hash_files "$@" | hash_files | cut -c1-16; }

npm_stamp=$(stamp package.json package-lock.json)
if [ "${1:-}" != venv ] && [ "$(cat node_modules/.installed 2>/dev/null)" != "$npm_stamp" ]; then
  require node "install Node.js 20 or newer (for dynalite, the local DynamoDB)"
  require npm "install npm (it comes with Node.js)"
  say "installing dynalite and the Redocly CLI from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_stamp" > node_modules/.installed
fi

py_stamp=$(stamp requirements-dev.txt)
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$py_stamp" ]; then
  say "installing moto, cfn-lint, cargo-lambda, schemathesis and the SAM CLI from requirements-dev.txt into .venv"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" ||
    die "python3 could not create a virtual environment in .venv (on Debian/Ubuntu: apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$py_stamp" > "$VENV/.installed"
fi
