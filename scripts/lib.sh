# Shared shell helpers, sourced by the other scripts. Not meant to be run on its own.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed: $2"
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_for_port PORT PID NAME LOG [SECONDS]: until PORT accepts connections, or PID died, or
# SECONDS (30) passed.
wait_for_port() {
  local port=$1 pid=$2 name=$3 log=$4 seconds=${5:-30} i
  for i in $(seq 1 $((seconds * 10))); do
    port_in_use "$port" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$log" >&2 || true
      die "$name exited before it listened on 127.0.0.1:$port"
    fi
    sleep 0.1
  done
  cat "$log" >&2 || true
  die "$name did not listen on 127.0.0.1:$port within $seconds s"
}

# start_dynalite PORT LOG [DATA_DIR]: sets STARTED_PID. In memory unless DATA_DIR is given.
start_dynalite() {
  local port=$1 log=$2 data=${3:-}
  local args=(--host 127.0.0.1 --port "$port" --createTableMs 0 --deleteTableMs 0 --updateTableMs 0)
  [ -n "$data" ] && args+=(--path "$data")
  node "$ROOT/node_modules/dynalite/cli.js" "${args[@]}" >"$log" 2>&1 &
  STARTED_PID=$!
}

# start_moto PORT LOG: sets STARTED_PID. Always in memory.
start_moto() {
  local port=$1 log=$2
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  STARTED_PID=$!
}

# Dummy credentials and a region: local servers accept anything, the SDK needs something.
local_aws_env() {
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
  unset AWS_PROFILE AWS_SESSION_TOKEN
}
