#!/usr/bin/env bash
# make run: the whole API on this machine.
#   1. installs the pinned tools if missing (dynalite, cargo-lambda);
#   2. starts dynalite on 127.0.0.1:$DYNAMODB_PORT, data kept in $DATA_DIR across restarts;
#   3. creates the table and seeds the demo account (idempotent);
#   4. serves the function with `cargo lambda watch` on 127.0.0.1:$PORT (rebuilt on change);
#   5. on Ctrl-C, stops what it started, and nothing else.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

PORT=${PORT:-9000}
DYNAMODB_PORT=${DYNAMODB_PORT:-8000}
TABLE_NAME=${TABLE_NAME:-conversions-local}
DATA_DIR=${DATA_DIR:-$ROOT/.local/dynalite}

for var in PORT DYNAMODB_PORT; do
  [[ ${!var} =~ ^[0-9]+$ ]] && (( ${!var} > 0 && ${!var} < 65536 )) || die "$var=${!var} is not a TCP port"
done
[ "$PORT" != "$DYNAMODB_PORT" ] || die "PORT and DYNAMODB_PORT must differ"
port_in_use "$PORT" && die "port $PORT is already in use; choose another: make run PORT=9001"
port_in_use "$DYNAMODB_PORT" && die "port $DYNAMODB_PORT (local DynamoDB) is already in use; choose another: make run DYNAMODB_PORT=8001"

"$ROOT/scripts/tools.sh"

say "building the function and the admin CLI"
cargo build --locked --quiet --bin conversions --bin conversions-admin
admin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/conversions-admin"

pids=()
cleanup() {
  trap - EXIT INT TERM
  # (the odd expansion keeps an empty list safe under set -u in older bash)
  for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" 2>/dev/null || true; done
  say "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$DATA_DIR"
say "starting dynalite on 127.0.0.1:$DYNAMODB_PORT (data in ${DATA_DIR#"$ROOT"/})"
start_dynalite "$DYNAMODB_PORT" "$DATA_DIR/../dynalite.log" "$DATA_DIR"; pids+=("$STARTED_PID")
wait_for_port "$DYNAMODB_PORT" "$STARTED_PID" dynalite "$DATA_DIR/../dynalite.log"

local_aws_env
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT" TABLE_NAME
say "creating table $TABLE_NAME and seeding the demo account"
"$admin" create-tables >/dev/null
demo_key=$("$admin" seed-demo | python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')

say "starting the function with cargo lambda watch on 127.0.0.1:$PORT"
"$VENV/bin/cargo-lambda" lambda watch --quiet --bin conversions \
  --invoke-address 127.0.0.1 --invoke-port "$PORT" \
  --env-var "TABLE_NAME=$TABLE_NAME,AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB" \
  --env-var "AWS_ACCESS_KEY_ID=local,AWS_SECRET_ACCESS_KEY=local,AWS_REGION=us-east-1" &
watch_pid=$!
pids+=("$watch_pid")
wait_for_port "$PORT" "$watch_pid" "cargo lambda watch" /dev/null

echo "Local API: http://127.0.0.1:$PORT"
echo "Demo API key: $demo_key"
say "try: curl -X POST http://127.0.0.1:$PORT/conversions -H 'X-API-Key: $demo_key' -d '{\"conversion_type_id\": \"123e4567-e89b-12d3-a456-426614174100\", \"lead_id\": \"123e4567-e89b-12d3-a456-426614174200\", \"amount\": 85000.00}'"
say "Ctrl-C stops it"
wait "$watch_pid"
