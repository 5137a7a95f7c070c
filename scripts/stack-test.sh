#!/usr/bin/env bash
# The stack as `make run` starts it, checked from outside (a part of make test).
# Starts it exactly as `make run` does (on free ports, with a scratch data folder), then:
#   - runs the curl examples of README.md and docs/integrating.md and checks the documented answers;
#   - drives every operation through a Python client generated from openapi.yaml;
#   - sends events/ fixtures through `cargo lambda invoke`;
#   - runs schemathesis on every operation of openapi.yaml (scripts/check-api.py schemathesis);
#   - checks that a port in use is refused with a clear message;
#   - stops it as Ctrl-C would, checks that every process it started has exited and nothing is
#     left listening, restarts it on the same data and checks that the events recorded before
#     are still there, unchanged.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

scratch=$(mktemp -d)
run_pid=
# Ctrl-C: SIGINT to the foreground process group, which run.sh leads here.
stop_stack() {
  [ -n "$run_pid" ] || return 0
  kill -INT -- "-$run_pid" 2>/dev/null || true
  wait "$run_pid" 2>/dev/null || true
  run_pid=
}

# Every process started under PID, at any depth (the function runs in a process group of its own).
descendants() {
  local children
  children=$(ps -eo pid=,ppid= | awk -v parent="$1" '$2 == parent { print $1 }')
  for child in $children; do
    echo "$child"
    descendants "$child"
  done
}
front_pid=
trap 'stop_stack; [ -z "$front_pid" ] || kill "$front_pid" 2>/dev/null; rm -rf "$scratch"' EXIT

port=$(free_port)
dynamodb_port=$(free_port)
export PORT=$port DYNAMODB_PORT=$dynamodb_port DATA_DIR="$scratch/data" TABLE_NAME=conversions-local

start_stack() {
  : > "$scratch/run.log"
  # Job control gives it its own process group, where SIGINT reaches it as Ctrl-C would.
  set -m
  scripts/run.sh > "$scratch/run.log" 2>&1 &
  run_pid=$!
  set +m
  for _ in $(seq 1 1200); do
    grep -q '^Demo API key: ' "$scratch/run.log" && break
    kill -0 "$run_pid" 2>/dev/null || { cat "$scratch/run.log"; die "make run exited early"; }
    sleep 0.5
  done
  grep -q '^Demo API key: ' "$scratch/run.log" || { cat "$scratch/run.log"; die "make run did not start in 10 min"; }
  base_url=$(sed -n 's/^Local API: //p' "$scratch/run.log")
  key=$(sed -n 's/^Demo API key: //p' "$scratch/run.log")
  [ "$base_url" = "http://127.0.0.1:$port" ] || die "make run printed 'Local API: $base_url'"
}

# Every stored event, whole (its DynamoDB attributes), one JSON line each in byte order (for
# comm): a count would not see one event lost and another gained. Paginated: a scan stops at 1 MB.
dump_events() {
  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 "$VENV/bin/python" - "$dynamodb_port" <<'PY'
import json, sys, boto3
pages = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}") \
    .get_paginator("scan").paginate(TableName="conversions-local", FilterExpression="entity = :e",
                                    ExpressionAttributeValues={":e": {"S": "conversion_event"}})
sys.stdout.writelines(f"{line}\n" for line in sorted(json.dumps(item, sort_keys=True) for page in pages for item in page["Items"]))
PY
}

say "starting the stack as make run does (API :$port, DynamoDB :$dynamodb_port)"
start_stack

say "the table make run created has template.yaml's key schema and indexes; Query is granted on exactly those"
AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "$VENV/bin/python" - "$dynamodb_port" <<'PY'
import sys, boto3
from cfnlint.decode import decode
template, _ = decode("template.yaml")
declared = template["Resources"]["ConversionsTable"]["Properties"]
actual = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}") \
    .describe_table(TableName="conversions-local")["Table"]
def attributes(defs): return sorted((d["AttributeName"], d["AttributeType"]) for d in defs)
def keys(schema): return [(k["AttributeName"], k["KeyType"]) for k in schema]
def indexes(gsis): return sorted((g["IndexName"], tuple(keys(g["KeySchema"])), g["Projection"]["ProjectionType"],
                                  tuple(sorted(g["Projection"].get("NonKeyAttributes", [])))) for g in gsis)
statements = template["Resources"]["ConversionsFunction"]["Properties"]["Policies"][0]["Statement"]
query = [s for s in statements if "dynamodb:Query" in s["Action"]]
granted = sorted(r["Fn::Sub"].split("/index/")[1] for s in query for r in s["Resource"] if "Fn::Sub" in r)
checks = {
    "attributes": (attributes(declared["AttributeDefinitions"]), attributes(actual["AttributeDefinitions"])),
    "key schema": (keys(declared["KeySchema"]), keys(actual["KeySchema"])),
    "indexes": (indexes(declared["GlobalSecondaryIndexes"]), indexes(actual["GlobalSecondaryIndexes"])),
    "billing": (declared["BillingMode"], actual["BillingModeSummary"]["BillingMode"]),
    "Query grant": (sorted(g["IndexName"] for g in actual["GlobalSecondaryIndexes"]), granted),
}
for name, (want, got) in checks.items():
    if want != got:
        sys.exit(f"{name}: template.yaml says {want}, create-tables made {got}")
    print(f"ok   {name}: {got}")
PY

say "README and docs/integrating.md examples"
python3 scripts/check-api.py examples "$base_url" "$key" README.md docs/integrating.md

say "a Python client generated from openapi.yaml: every operation, each success and error parsed into its models"
"$VENV/bin/python" scripts/check-api.py client "$base_url" "$key" "$dynamodb_port"

say "make smoke against the local stack"
make --no-print-directory smoke URL="$base_url" API_KEY="$key"

say "a method a path does not serve, over HTTP: 405 with Allow"
python3 - "$base_url" "$key" <<'PY'
import sys, urllib.error, urllib.request
base, key = sys.argv[1:]
for method, path, allow in [("DELETE", "/conversions", "GET, POST"), ("GET", "/conversions/batch", "POST"),
                            ("POST", "/conversion-types", "GET")]:
    try:
        urllib.request.urlopen(urllib.request.Request(base + path, method=method, headers={"X-API-Key": key}))
        sys.exit(f"{method} {path}: answered, not refused")
    except urllib.error.HTTPError as e:
        if (e.code, e.headers.get("Allow")) != (405, allow):
            sys.exit(f"{method} {path}: {e.code} with Allow {e.headers.get('Allow')!r}, not 405 with {allow!r}")
    print(f"ok   {method} {path}: 405, Allow: {allow}")
PY

say "cargo lambda invoke with events/ fixtures"
for name in create-minimal missing-api-key unknown-lead unknown-route list-conversion-types list-conversions \
    get-conversion-not-found list-conversions-invalid-limit create-behind-custom-domain query-with-odd-characters \
    invalid-base64-body rest-api-event; do
  want=$(awk -F'\t' -v name="$name" '$1 == name { print $2 }' events/expected.tsv)
  got=$("$VENV/bin/cargo-lambda" lambda invoke conversions --invoke-address 127.0.0.1 --invoke-port "$port" \
        --data-file "events/$name.json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["statusCode"])')
  [ "$got" = "$want" ] || die "cargo lambda invoke events/$name.json: status $got, expected $want"
  echo "ok   events/$name.json: $got"
done

say "schemathesis: every operation of openapi.yaml, generated requests, all checks"
# Through a stand-in for API Gateway (scripts/proxy.py front): cargo lambda watch itself answers
# a 500 to a header or body that is not UTF-8, where API Gateway passes them on.
front_port=$(free_port)
"$VENV/bin/python" scripts/proxy.py front "$front_port" "$port" > "$scratch/front.log" 2>&1 &
front_pid=$!
wait_for_port "$front_port" "$front_pid" "the API Gateway stand-in" "$scratch/front.log"
REPORT_DIR="$scratch/schemathesis" "$VENV/bin/python" scripts/check-api.py schemathesis "http://127.0.0.1:$front_port" "$key"
kill "$front_pid"; wait "$front_pid" 2>/dev/null || true; front_pid=

say "a port in use is refused"
if PORT=$dynamodb_port DYNAMODB_PORT=$(free_port) scripts/run.sh > "$scratch/busy.log" 2>&1; then
  die "make run started on a busy port"
fi
grep -q "port $dynamodb_port is already in use" "$scratch/busy.log" || { cat "$scratch/busy.log"; die "no clear message for a busy port"; }
echo "ok   $(cat "$scratch/busy.log")"

dump_events > "$scratch/events-before"
before=$(wc -l < "$scratch/events-before")
started=$(descendants "$run_pid" | tr '\n' ' ')
[ "$(echo "$started" | wc -w)" -ge 3 ] || die "expected dynalite, cargo lambda watch and the function under make run, found: $started"
say "stopping with Ctrl-C ($before events recorded; processes $started)"
stop_stack
for pid in $started; do
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then die "process $pid ($(ps -o args= -p "$pid")) outlived Ctrl-C"; fi
done
echo "ok   every process make run started has exited"
for p in "$port" "$dynamodb_port"; do
  for _ in $(seq 1 50); do port_in_use "$p" || break; sleep 0.1; done
  port_in_use "$p" && die "port $p still in use after Ctrl-C"
done
echo "ok   nothing listens on :$port or :$dynamodb_port"

say "restarting on the same data"
start_stack
dump_events > "$scratch/events-after"
LC_ALL=C comm -23 "$scratch/events-before" "$scratch/events-after" > "$scratch/events-lost"
[ "$before" -gt 0 ] && [ ! -s "$scratch/events-lost" ] ||
  die "events before restart: $before; lost or changed by it: $(wc -l < "$scratch/events-lost"), the first: $(head -n 1 "$scratch/events-lost")"
echo "ok   the $before events recorded before the restart are all there, unchanged"
say "stack test passed"
