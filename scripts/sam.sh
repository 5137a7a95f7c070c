# Docker and the AWS SAM CLI, for make test-sam, make invoke-sam and make start-api. Sourced
# after lib.sh; not meant to be run on its own.
# shellcheck shell=bash

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
# PORT to 127.0.0.1:PORT (scripts/relay.py says why).
start_relay() {
  local port=$1 log=$2 gateway
  STARTED_PID=
  gateway=$(bridge_gateway)
  [ -n "$gateway" ] || return 0
  python3 "$ROOT/scripts/relay.py" "$gateway" "$port" > "$log" 2>&1 &
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
