#!/usr/bin/env bash
# make deploy: the stack to AWS with the SAM CLI. Needs AWS credentials and a region, and neither
# Node.js nor a terminal: `sam build` (the arm64 release build), then `sam deploy` with
# samconfig.toml's defaults. GUIDED=1 runs `sam deploy --guided` instead, which asks (the first
# time, say).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/sam.sh"
cd "$ROOT"

"$ROOT/scripts/tools.sh" venv
# Credentials and region first: without them the deploy would fail only after a build of
# minutes. The region is AWS_REGION (as for the function and the admin CLI), else the SDK's
# (AWS_DEFAULT_REGION, the profile's), which is all the SAM CLI itself would read.
region=$("$VENV/bin/python" -c '
import os, sys, boto3
session = boto3.Session()
if session.get_credentials() is None:
    sys.exit("error: no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then run make deploy again")
region = os.environ.get("AWS_REGION") or session.region_name
if not region:
    sys.exit("error: no AWS region: set AWS_REGION (or a region in your AWS profile)")
print(region)')
"${SAM[@]}" build
if [ "${GUIDED:-}" = 1 ]; then
  "${SAM[@]}" deploy --guided --region "$region"
else
  "${SAM[@]}" deploy --region "$region"
fi
