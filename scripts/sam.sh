#!/usr/bin/env bash
# Every use of the AWS SAM CLI and Docker: scripts/sam.sh test|invoke EVENT|start-api|deploy.
#
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
#
# make invoke-sam and make start-api: the function as `sam build` builds it, in Docker, against
# the table of a running `make run` (its dynalite on 127.0.0.1:$DYNAMODB_PORT, table $TABLE_NAME).
#   scripts/sam.sh invoke EVENT    one events/ fixture through `sam local invoke`
#   scripts/sam.sh start-api       SAM's API Gateway emulator on 127.0.0.1:$SAM_PORT, until Ctrl-C
# Starts Docker if none answers, and uses the Lambda base image or a stand-in for it
# (ensure_lambda_image says which, and why).
#
# make deploy: the stack to AWS with the SAM CLI. Needs AWS credentials and a region, and neither
# Node.js nor a terminal: `sam build` (the arm64 release build), then `sam deploy` with
# samconfig.toml's defaults. GUIDED=1 runs `sam deploy --guided` instead, which asks (the first
# time, say).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

# SAM: the SAM CLI as this project runs it, a command to put in front of its arguments. Pinned
# (requirements-dev.txt), so no telemetry and no update check (both would leave the machine);
# cargo-lambda and zig from the venv for `sam build`, whose Rust build method is a beta feature.
# (`env` execs SAM itself, so that a background run's pid is SAM's.)
mkdir -p "$ROOT/.local/sam-cli"
[ -f "$ROOT/.local/sam-cli/metadata.json" ] ||
  echo '{"telemetryEnabled": false, "lastVersionCheck": 4102444800}' > "$ROOT/.local/sam-cli/metadata.json"
SAM=(env "PATH=$VENV/bin:$PATH" SAM_CLI_TELEMETRY=0 "__SAM_CLI_APP_DIR=$ROOT/.local/sam-cli"
     SAM_CLI_BETA_RUST_CARGO_LAMBDA=1 "$VENV/bin/sam")

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install PACKAGE...: Debian's packages, when this machine has apt-get and root (or sudo).
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1 || return 1
  say "installing Debian's $*"
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ensure_docker LOG: a Docker engine that answers. When none does, starts dockerd (as root,
# installing Debian's docker.io first if need be) and sets STARTED_DOCKERD to its pid, for the
# caller to stop (stop_docker). Fails with what to do when it cannot.
STARTED_DOCKERD=
ensure_docker() {
  local log=$1 _
  docker info >/dev/null 2>&1 && return 0
  [ "$(id -u)" -eq 0 ] ||
    die "no Docker engine answers: start Docker, then run this again (make test SKIP_SAM=1 leaves the SAM checks out)"
  if ! command -v dockerd >/dev/null 2>&1; then
    apt_install docker.io ||
      die "no Docker engine answers and none can be installed here: install Docker (make test SKIP_SAM=1 leaves the SAM checks out)"
    # Where systemd runs, the package has started one.
    for _ in $(seq 1 20); do docker info >/dev/null 2>&1 && return 0; sleep 0.5; done
  fi
  say "starting dockerd (stopped again at the end)"
  dockerd > "$log" 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$STARTED_DOCKERD" 2>/dev/null || { cat "$log" >&2; die "dockerd exited"; }
    sleep 0.5
  done
  cat "$log" >&2
  die "dockerd did not answer within 30 s"
}

stop_docker() {
  [ -n "$STARTED_DOCKERD" ] || return 0
  kill "$STARTED_DOCKERD" 2>/dev/null || true
  wait "$STARTED_DOCKERD" 2>/dev/null || true
  STARTED_DOCKERD=
}

# lambda_arch: sets LAMBDA_ARCH, the architecture the SAM runs use: the template's arm64
# (natively, or under qemu-user-static registered with binfmt_misc's F flag, so that containers
# need no emulator of their own), else x86_64, saying why. SAM_ARCH=x86_64 or arm64 chooses.
lambda_arch() {
  case "${SAM_ARCH:-}" in
    arm64 | x86_64) LAMBDA_ARCH=$SAM_ARCH; return ;;
    "") ;;
    *) die "SAM_ARCH=$SAM_ARCH: it must be arm64 or x86_64" ;;
  esac
  LAMBDA_ARCH=arm64
  [ "$(uname -m)" = aarch64 ] && return
  local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64 why=
  if [ ! -f "$entry" ]; then
    [ -f /proc/sys/fs/binfmt_misc/register ] ||
      as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
    # Debian's qemu-user-static registers its interpreters with the F flag.
    [ -x /usr/bin/qemu-aarch64-static ] || apt_install qemu-user-static binfmt-support || true
    if command -v update-binfmts >/dev/null 2>&1; then
      as_root update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    fi
  fi
  if [ ! -f "$entry" ]; then
    why="the kernel has no binfmt_misc entry for aarch64 (qemu-user-static could not be registered)"
  elif ! grep -q '^enabled' "$entry"; then
    why="the binfmt_misc entry for aarch64 is disabled"
  elif ! grep -q '^flags:.*F' "$entry"; then
    why="the binfmt_misc entry for aarch64 lacks the F flag, so containers cannot find its interpreter (Debian's qemu-user-static registers it with F)"
  fi
  if [ -n "$why" ]; then
    say "x86_64 instead of the template's arm64: $why"
    LAMBDA_ARCH=x86_64
  fi
}

# ensure_lambda_image ARCH: sets LAMBDA_IMAGE_OPTIONS, what `sam local` needs to run the
# function, and says which image that is: public.ecr.aws/lambda/provided:al2023-ARCH when it is
# here or can be pulled; else a stand-in, a Debian bookworm root file system (debootstrap), under
# a name of this project's own (so no other SAM project takes it for the real one).
ensure_lambda_image() {
  local arch=$1 real="public.ecr.aws/lambda/provided:al2023-$1"
  local stand_in="nexor-conversions/lambda-stand-in:al2023-$1" platform
  platform=linux/$([ "$arch" = x86_64 ] && echo amd64 || echo arm64)
  if docker image inspect "$real" >/dev/null 2>&1 ||
     timeout 120 docker pull -q --platform "$platform" "$real" >/dev/null 2>&1; then
    LAMBDA_IMAGE_OPTIONS=()
    say "function image: $real (the real Lambda base image), $arch"
    return
  fi
  LAMBDA_IMAGE_OPTIONS=(--invoke-image "$stand_in")
  if ! docker image inspect "$stand_in" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap ||
      die "$real cannot be pulled, and debootstrap (to build a stand-in) cannot be installed"
    say "$real cannot be pulled: building a stand-in from Debian bookworm (debootstrap, a few minutes)"
    local build
    build=$(mktemp -d)
    as_root debootstrap --variant=minbase --arch="${platform#linux/}" bookworm "$build/rootfs" \
      http://deb.debian.org/debian > "$build/debootstrap.log" 2>&1 ||
      { tail -20 "$build/debootstrap.log" >&2; as_root rm -rf "$build"; die "debootstrap failed"; }
    mkdir -p "$build/context"
    as_root mkdir -p "$build/rootfs/var/task" "$build/rootfs/var/runtime" "$build/rootfs/opt"
    as_root tar -C "$build/rootfs" -cf "$build/context/rootfs.tar" .
    # `docker import` would record amd64 whatever the files are; a build records the platform.
    printf '%s\n' 'FROM scratch' 'ADD rootfs.tar /' \
      'ENV LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime' 'WORKDIR /var/task' \
      > "$build/context/Dockerfile"
    docker build -q --platform "$platform" -t "$stand_in" "$build/context" >/dev/null 2>&1 ||
      { as_root rm -rf "$build"; die "docker build of the stand-in image failed"; }
    as_root rm -rf "$build"
  fi
  say "function image: $stand_in, a stand-in for $real (Debian bookworm, debootstrap): the real one cannot be pulled here; $arch"
}

# function_containers: the containers SAM runs this function in.
function_containers() {
  docker ps -aq --filter label=sam.cli.container.type=lambda \
    --filter label=sam.cli.function.name=ConversionsFunction 2>/dev/null
}

# remove_function_containers: what SAM leaves behind when it is stopped before it could clean
# up (its signal handler comes after its warm containers).
remove_function_containers() {
  function_containers | xargs -r docker rm -f >/dev/null 2>&1 || true
}

# sam_template ARCH: the template SAM runs: template.yaml, or for x86_64 a copy of it built for
# x86_64 (in .aws-sam/, which sam build owns).
sam_template() {
  if [ "$1" = arm64 ]; then echo template.yaml; return; fi
  mkdir -p .aws-sam
  # (CodeUri is relative to the template's folder.)
  sed -e 's/^        - arm64$/        - x86_64/' -e 's/^      CodeUri: \.$/      CodeUri: ../' \
    template.yaml > .aws-sam/template-x86_64.yaml
  grep -q '^        - x86_64$' .aws-sam/template-x86_64.yaml && grep -q '^      CodeUri: \.\.$' .aws-sam/template-x86_64.yaml ||
    die "template.yaml's Architectures or CodeUri line moved: scripts/sam.sh cannot make its x86_64 copy"
  echo .aws-sam/template-x86_64.yaml
}

# The address a container reaches the host at (host.docker.internal, mapped to host-gateway):
# Docker's bridge gateway on Linux. Empty elsewhere (Docker Desktop forwards it to the host's
# loopback itself).
bridge_gateway() {
  [ "$(uname -s)" = Linux ] || return 0
  local gateway
  gateway=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
  # Older engines record no gateway: it is the address of the bridge's interface.
  [ -n "$gateway" ] || gateway=$(ip -4 -o addr show docker0 | awk '{ split($4, a, "/"); print a[1] }')
  [ -n "$gateway" ] || die "cannot tell the address of Docker's bridge (docker0)"
  echo "$gateway"
}

# start_relay PORT LOG: sets STARTED_PID (or nothing where no relay is needed): the bridge's
# PORT to 127.0.0.1:PORT (scripts/proxy.py says why).
start_relay() {
  local port=$1 log=$2 gateway
  STARTED_PID=
  gateway=$(bridge_gateway)
  [ -n "$gateway" ] || return 0
  python3 "$ROOT/scripts/proxy.py" relay "$gateway" "$port" > "$log" 2>&1 &
  STARTED_PID=$!
  local _
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/$gateway/$port") 2>/dev/null && return 0
    kill -0 "$STARTED_PID" 2>/dev/null || { cat "$log" >&2; die "the relay to 127.0.0.1:$port did not start"; }
    sleep 0.1
  done
  die "the relay on $gateway:$port did not listen within 5 s"
}

# sam_env_vars TABLE DYNAMODB_PORT FILE: the --env-vars file of the SAM runs (it can set only
# variables the template declares).
sam_env_vars() {
  printf '{"ConversionsFunction": {"TABLE_NAME": "%s", "AWS_ENDPOINT_URL_DYNAMODB": "http://host.docker.internal:%s"}}\n' \
    "$1" "$2" > "$3"
}

# make invoke-sam, make start-api.
local_run() {
  DYNAMODB_PORT=${DYNAMODB_PORT:-8000}
  TABLE_NAME=${TABLE_NAME:-conversions-local}
  SAM_PORT=${SAM_PORT:-3000}
  command=$1
  case "$command" in
    invoke) event=${2:-}; [ -f "$event" ] || die "usage: make invoke-sam EVENT=events/<fixture>.json (got '${event}')" ;;
    start-api) port_in_use "$SAM_PORT" && die "port $SAM_PORT is already in use; choose another: make start-api SAM_PORT=3001" ;;
  esac
  port_in_use "$DYNAMODB_PORT" ||
    die "nothing listens on 127.0.0.1:$DYNAMODB_PORT: start make run first (its local DynamoDB and demo data), or set DYNAMODB_PORT"

  "$ROOT/scripts/tools.sh"
  scratch=$(mktemp -d)
  pids=()
  cleanup_local() {
    for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
    for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" 2>/dev/null || true; done
    remove_function_containers
    stop_docker
    rm -rf "$scratch"
  }
  trap cleanup_local EXIT
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
}

deploy() {
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
}

test_sam() {
  if [ "${SKIP_SAM:-}" = 1 ]; then
    say "SKIP_SAM=1: the SAM checks are skipped"
    return
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
  cleanup_test() {
    # make start-api leads a process group of its own, as under a terminal: Ctrl-C to all of it.
    [ -z "$api_pid" ] || kill -INT -- "-$api_pid" 2>/dev/null || true
    stop $lambda_pid $relay_pid $api_pid $dynalite_pid
    remove_function_containers
    stop_docker
    rm -rf "$scratch"
  }
  trap cleanup_test EXIT
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
  "$VENV/bin/python" scripts/check-api.py fixtures "http://127.0.0.1:$lambda_port" "$scratch/start-lambda.log" ||
    { tail -50 "$scratch/start-lambda.log"; die "fixtures through SAM"; }
  stop "$lambda_pid" $relay_pid; lambda_pid= relay_pid=

  say "the sam local invoke line of docs/deploying.md, as written"
  grep -q '^make invoke-sam EVENT=events/create-minimal.json$' docs/deploying.md || die "docs/deploying.md no longer has its invoke-sam line"
  invoke_sam() {
    # Under emulation on a loaded machine the one invocation can time out before the function
    # starts, and `sam local invoke` then prints no answer (and exits 0): say so, and try again,
    # up to three times.
    local attempt
    for attempt in 1 2 3; do
      make --no-print-directory invoke-sam EVENT="$1" > "$scratch/invoke.json" 2> "$scratch/invoke.log" ||
        { cat "$scratch/invoke.log"; die "make invoke-sam failed"; }
      [ -s "$scratch/invoke.json" ] && return
      echo "make invoke-sam printed no answer (attempt $attempt); its log:"; cat "$scratch/invoke.log"
    done
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
  SAM_PORT=$sam_port scripts/sam.sh start-api > "$scratch/start-api.log" 2>&1 &
  api_pid=$!
  set +m
  # (make start-api runs sam build first.)
  wait_for_port "$sam_port" "$api_pid" "make start-api" "$scratch/start-api.log" 600
  key=nxr_live_demo_local_only_key
  python3 scripts/check-api.py examples "http://127.0.0.1:$sam_port" "$key" README.md docs/integrating.md ||
    { tail -50 "$scratch/start-api.log"; die "the examples through make start-api"; }
  make --no-print-directory smoke URL="http://127.0.0.1:$sam_port" API_KEY="$key"
  "$VENV/bin/python" scripts/check-api.py client "http://127.0.0.1:$sam_port" "$key" ||
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
}

case "${1:-}" in
  test) test_sam ;;
  invoke | start-api) local_run "$@" ;;
  deploy) deploy ;;
  *) die "usage: $0 test | invoke EVENT | start-api | deploy" ;;
esac
