#!/usr/bin/env bash
# Runs a command beside fresh dynalite and moto servers on free ports (make test, bench, load).
# Both are in memory, on 127.0.0.1. The command sees them as
#   TEST_DYNAMODB_ENDPOINTS=dynalite=http://127.0.0.1:P1,moto=http://127.0.0.1:P2
# Both are stopped when the command ends, however it ends.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -gt 0 ] || die "usage: $0 COMMAND [ARGS...]"

logs=$(mktemp -d)
pids=()
cleanup() {
  # (the odd expansion keeps an empty list safe under set -u in older bash)
  for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dynalite_port=$(free_port)
start_dynalite "$dynalite_port" "$logs/dynalite.log"; pids+=("$STARTED_PID")
wait_for_port "$dynalite_port" "$STARTED_PID" dynalite "$logs/dynalite.log"

moto_port=$(free_port)
start_moto "$moto_port" "$logs/moto.log"; pids+=("$STARTED_PID")
wait_for_port "$moto_port" "$STARTED_PID" "moto_server" "$logs/moto.log"

say "dynalite on 127.0.0.1:$dynalite_port, moto on 127.0.0.1:$moto_port"
local_aws_env
export TEST_DYNAMODB_ENDPOINTS="dynalite=http://127.0.0.1:$dynalite_port,moto=http://127.0.0.1:$moto_port"
"$@"
