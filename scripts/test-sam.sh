#!/usr/bin/env bash
# make test-sam: the function as AWS SAM builds and runs it, in Docker, from nothing:
#   - Docker (dockerd started if none answers, and stopped again), the Lambda base image or a
#     stand-in for it, arm64 under qemu-user-static as deployed (x86_64 where the kernel refuses
#     the emulator, with the reason);
#   - sam validate --lint, and sam build with the template's own build method (as make deploy);
#   - every events/ fixture through `sam local start-lambda`, each answer checked against
#     events/expected.tsv, and the function's JSON line of a create in SAM's log;
#   - the SAM lines of docs/deploying.md as written: make invoke-sam, then make start-api with the README's
#     examples and make smoke through it.
# SKIP_SAM=1 skips it all (for a machine without Docker; CI never sets it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/sam.sh"
cd "$ROOT"

if [ "${SKIP_SAM:-}" = 1 ]; then
  say "SKIP_SAM=1: the SAM checks are skipped"
  exit 0
fi
"$ROOT/scripts/tools.sh"

scratch=$(mktemp -d)
# What runs now, stopped (SIGTERM, on which SAM removes its containers) on every way out.
lambda_pid= relay_pid= api_pid= dynalite_pid=
stop() {
  local pid
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}
cleanup() {
  # make start-api leads a process group of its own, as under a terminal: Ctrl-C to all of it.
  [ -z "$api_pid" ] || kill -INT -- "-$api_pid" 2>/dev/null || true
  stop $lambda_pid $relay_pid $api_pid $dynalite_pid
  remove_function_containers
  stop_docker
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_docker "$scratch/dockerd.log"
lambda_arch
arch=$LAMBDA_ARCH
ensure_lambda_image "$arch"
template=$(sam_template "$arch")

say "sam validate --lint"
AWS_DEFAULT_REGION=us-east-1 "${SAM[@]}" validate --lint --template "$template"
say "sam build (the template's rust-cargolambda build method, release, $arch)"
"${SAM[@]}" build --template "$template"

cargo build --locked --quiet --bin conversions-admin
dynamodb_port=$(free_port)
# fresh_dynamodb: a new, empty dynalite on $dynamodb_port with make run's table and demo data.
fresh_dynamodb() {
  say "a fresh local DynamoDB with the demo data, as make run has"
  if [ -n "$dynalite_pid" ]; then
    stop "$dynalite_pid"
    for _ in $(seq 1 50); do port_in_use "$dynamodb_port" || break; sleep 0.1; done
  fi
  start_dynalite "$dynamodb_port" "$scratch/dynalite.log"; dynalite_pid=$STARTED_PID
  wait_for_port "$dynamodb_port" "$STARTED_PID" dynalite "$scratch/dynalite.log"
  local admin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/conversions-admin"
  AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$dynamodb_port" "$admin" create-tables >/dev/null
  AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$dynamodb_port" "$admin" seed-demo >/dev/null
}
local_aws_env
export AWS_DEFAULT_REGION=$AWS_REGION DYNAMODB_PORT=$dynamodb_port TABLE_NAME=conversions-local
fresh_dynamodb

say "every events/ fixture through sam local start-lambda"
start_relay "$dynamodb_port" "$scratch/relay.log"; relay_pid=$STARTED_PID
sam_env_vars conversions-local "$dynamodb_port" "$scratch/env.json"
lambda_port=$(free_port)
"${SAM[@]}" local start-lambda --host 127.0.0.1 --port "$lambda_port" --warm-containers EAGER \
  --env-vars "$scratch/env.json" --skip-pull-image --add-host host.docker.internal:host-gateway \
  ${LAMBDA_IMAGE_OPTIONS[@]+"${LAMBDA_IMAGE_OPTIONS[@]}"} > "$scratch/start-lambda.log" 2>&1 &
lambda_pid=$!
wait_for_port "$lambda_port" "$lambda_pid" "sam local start-lambda" "$scratch/start-lambda.log" 120
"$VENV/bin/python" scripts/sam_fixtures.py "http://127.0.0.1:$lambda_port" "$scratch/start-lambda.log" ||
  { tail -50 "$scratch/start-lambda.log"; die "fixtures through SAM"; }
stop "$lambda_pid" $relay_pid; lambda_pid= relay_pid=

say "the sam local invoke line of docs/deploying.md, as written"
grep -q '^make invoke-sam EVENT=events/create-minimal.json$' docs/deploying.md || die "docs/deploying.md no longer has its invoke-sam line"
invoke_sam() {
  make --no-print-directory invoke-sam EVENT="$1" > "$scratch/invoke.json" 2> "$scratch/invoke.log" ||
    { cat "$scratch/invoke.log"; die "make invoke-sam failed"; }
  # Under emulation on a loaded machine the one invocation can time out, and `sam local invoke`
  # then prints no answer (and exits 0): once, say so and try again.
  if [ ! -s "$scratch/invoke.json" ]; then
    echo "make invoke-sam printed no answer; its log:"; cat "$scratch/invoke.log"
    make --no-print-directory invoke-sam EVENT="$1" > "$scratch/invoke.json" 2> "$scratch/invoke.log" ||
      { cat "$scratch/invoke.log"; die "make invoke-sam failed"; }
  fi
}
# answer EXPRESSION: the Python expression, of the answer `a`, printed.
answer() {
  python3 -c "import json, sys; a = json.load(open(sys.argv[1])); print($1)" "$scratch/invoke.json" ||
    { cat "$scratch/invoke.json" "$scratch/invoke.log"; die "make invoke-sam: no JSON answer"; }
}
invoke_sam events/create-minimal.json
status=$(answer 'a["statusCode"]')
[ "$status" = 201 ] || { cat "$scratch/invoke.json" "$scratch/invoke.log"; die "make invoke-sam: status $status, expected 201"; }
echo "ok   make invoke-sam EVENT=events/create-minimal.json: 201"
# A batch of the table's stream (the same binary tells it from a request): nothing in it to
# publish, so no bus is needed.
invoke_sam events/stream/nothing-to-publish.json
failures=$(answer 'a["batchItemFailures"]')
[ "$failures" = "[]" ] || { cat "$scratch/invoke.json" "$scratch/invoke.log"; die "the stream fixture: $failures"; }
echo "ok   make invoke-sam EVENT=events/stream/nothing-to-publish.json: no failures"

say "make start-api: the documented examples, make smoke and the generated client through SAM's API Gateway emulator"
fresh_dynamodb
sam_port=$(free_port)
set -m
SAM_PORT=$sam_port scripts/sam-local.sh start-api > "$scratch/start-api.log" 2>&1 &
api_pid=$!
set +m
# (make start-api runs sam build first.)
wait_for_port "$sam_port" "$api_pid" "make start-api" "$scratch/start-api.log" 600
key=nxr_live_demo_local_only_key
python3 scripts/check_readme.py "http://127.0.0.1:$sam_port" "$key" README.md docs/integrating.md ||
  { tail -50 "$scratch/start-api.log"; die "the examples through make start-api"; }
make --no-print-directory smoke URL="http://127.0.0.1:$sam_port" API_KEY="$key"
"$VENV/bin/python" scripts/client_check.py "http://127.0.0.1:$sam_port" "$key" ||
  { tail -50 "$scratch/start-api.log"; die "the generated client through make start-api"; }
kill -INT -- "-$api_pid"; wait "$api_pid" 2>/dev/null || true; api_pid=
for _ in $(seq 1 100); do [ -z "$(function_containers)" ] && break; sleep 0.1; done
[ -z "$(function_containers)" ] || die "SAM left function containers behind: $(function_containers)"
echo "ok   no function container left running"
say "make deploy with no AWS credentials, standard input closed and no Node.js: it fails on the credentials, at once"
mkdir "$scratch/no-node"
for tool in node npm npx; do
  printf '#!/bin/sh\necho "$0" >> %s/node-ran\nexit 97\n' "$scratch" > "$scratch/no-node/$tool"
  chmod +x "$scratch/no-node/$tool"
done
mkdir "$scratch/home"
if env -i PATH="$scratch/no-node:$PATH" HOME="$scratch/home" AWS_EC2_METADATA_DISABLED=true \
     timeout 120 make --no-print-directory deploy < /dev/null > "$scratch/deploy.log" 2>&1; then
  cat "$scratch/deploy.log"; die "make deploy succeeded without credentials"
fi
grep -q '^error: no AWS credentials' "$scratch/deploy.log" || { cat "$scratch/deploy.log"; die "make deploy did not say the credentials are missing"; }
[ ! -e "$scratch/node-ran" ] || die "make deploy ran $(cat "$scratch/node-ran")"
echo "ok   $(grep '^error:' "$scratch/deploy.log")"

say "SAM checks passed ($arch)"
