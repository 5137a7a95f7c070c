#!/usr/bin/env bash
# make invoke-sam and make start-api: the function as `sam build` builds it, in Docker, against
# the table of a running `make run` (its dynalite on 127.0.0.1:$DYNAMODB_PORT, table $TABLE_NAME).
#   scripts/sam-local.sh invoke EVENT    one events/ fixture through `sam local invoke`
#   scripts/sam-local.sh start-api       SAM's API Gateway emulator on 127.0.0.1:$SAM_PORT, until Ctrl-C
# Starts Docker if none answers, and uses the Lambda base image or a stand-in for it
# (scripts/sam.sh says which, and why).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/sam.sh"
cd "$ROOT"

DYNAMODB_PORT=${DYNAMODB_PORT:-8000}
TABLE_NAME=${TABLE_NAME:-conversions-local}
SAM_PORT=${SAM_PORT:-3000}
command=${1:-}
case "$command" in
  invoke) event=${2:-}; [ -f "$event" ] || die "usage: make invoke-sam EVENT=events/<fixture>.json (got '${event}')" ;;
  start-api) port_in_use "$SAM_PORT" && die "port $SAM_PORT is already in use; choose another: make start-api SAM_PORT=3001" ;;
  *) die "usage: $0 invoke EVENT | start-api" ;;
esac
port_in_use "$DYNAMODB_PORT" ||
  die "nothing listens on 127.0.0.1:$DYNAMODB_PORT: start make run first (its local DynamoDB and demo data), or set DYNAMODB_PORT"

"$ROOT/scripts/tools.sh"
scratch=$(mktemp -d)
pids=()
cleanup() {
  for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" 2>/dev/null || true; done
  remove_function_containers
  stop_docker
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_docker "$scratch/dockerd.log"
lambda_arch
ensure_lambda_image "$LAMBDA_ARCH"
"${SAM[@]}" build --template "$(sam_template "$LAMBDA_ARCH")" >&2
start_relay "$DYNAMODB_PORT" "$scratch/relay.log"; [ -z "$STARTED_PID" ] || pids+=("$STARTED_PID")
sam_env_vars "$TABLE_NAME" "$DYNAMODB_PORT" "$scratch/env.json"
# Dummy credentials, as make run's: a local DynamoDB takes any.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local} \
  AWS_REGION=${AWS_REGION:-us-east-1} AWS_DEFAULT_REGION=${AWS_REGION:-us-east-1}
options=(--env-vars "$scratch/env.json" --skip-pull-image --add-host host.docker.internal:host-gateway
         ${LAMBDA_IMAGE_OPTIONS[@]+"${LAMBDA_IMAGE_OPTIONS[@]}"})
if [ "$command" = invoke ]; then
  "${SAM[@]}" local invoke ConversionsFunction --event "$event" "${options[@]}"
else
  say "SAM's API Gateway emulator on http://127.0.0.1:$SAM_PORT (Ctrl-C stops it)"
  "${SAM[@]}" local start-api --host 127.0.0.1 --port "$SAM_PORT" --warm-containers EAGER "${options[@]}"
fi
