#!/usr/bin/env bash
# make deploy: the stack to AWS with the SAM CLI. Needs AWS credentials, and neither Node.js nor
# a terminal: `sam build` (the arm64 release build), then `sam deploy` with samconfig.toml's
# defaults. GUIDED=1 runs `sam deploy --guided` instead, which asks (the first time, say).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/sam.sh"
cd "$ROOT"

"$ROOT/scripts/tools.sh" venv
# Credentials first: without them the deploy would fail only after a build of minutes.
"$VENV/bin/python" -c 'import boto3, sys; sys.exit(boto3.Session().get_credentials() is None)' ||
  die "no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then run make deploy again"
"${SAM[@]}" build
if [ "${GUIDED:-}" = 1 ]; then
  "${SAM[@]}" deploy --guided
else
  "${SAM[@]}" deploy
fi
