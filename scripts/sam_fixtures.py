"""Sends every events/ fixture, in name order, to `sam local start-lambda` and checks each answer
against events/expected.tsv (the rows the Rust fixture tests read too); then checks that SAM's log
of the run holds the function's JSON line for a create, which the template's metric filters count.

Usage: sam_fixtures.py LAMBDA_URL SAM_LOG

Each answer must have the status, the body keys in order, and for an error the `error` and
`message` of its row; `Content-Type: application/json`; and the fixture's API Gateway request id
as `X-Request-Id` (any id for an event that carries none).
"""

import csv
import json
import pathlib
import sys
import urllib.request

EVENTS = pathlib.Path(__file__).resolve().parent.parent / "events"


def invoke(lambda_url, payload):
    request = urllib.request.Request(
        f"{lambda_url}/2015-03-31/functions/ConversionsFunction/invocations", data=payload, method="POST"
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.load(answer)


def check(row, event, answer):
    problems = []
    headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
    body = json.loads(answer.get("body") or "null")
    if answer.get("statusCode") != int(row["status"]):
        problems.append(f"status {answer.get('statusCode')}, expected {row['status']}")
    if headers.get("content-type") != "application/json":
        problems.append(f"Content-Type {headers.get('content-type')!r}")
    request_id = (event.get("requestContext") or {}).get("requestId") if isinstance(event.get("requestContext"), dict) else None
    if not headers.get("x-request-id") or (request_id and headers["x-request-id"] != request_id):
        problems.append(f"X-Request-Id {headers.get('x-request-id')!r}, expected {request_id!r}")
    if not isinstance(body, dict) or list(body) != row["keys"].split(" "):
        problems.append(f"body keys {list(body) if isinstance(body, dict) else body!r}, expected {row['keys']!r}")
    elif row["error"] and (body["error"], body["message"]) != (row["error"], row["message"]):
        problems.append(f"error {body['error']!r}: {body['message']!r}, expected {row['error']!r}: {row['message']!r}")
    return problems


def main(lambda_url, sam_log):
    with open(EVENTS / "expected.tsv", newline="", encoding="utf-8") as rows:
        expected = list(csv.DictReader(rows, delimiter="\t", quoting=csv.QUOTE_NONE))
    names = sorted(path.stem for path in EVENTS.glob("*.json"))
    if names != [row["fixture"] for row in expected]:
        sys.exit("events/expected.tsv and events/*.json name different fixtures")
    failures = 0
    for row in expected:
        payload = (EVENTS / f"{row['fixture']}.json").read_bytes()
        problems = check(row, json.loads(payload), invoke(lambda_url, payload))
        failures += bool(problems)
        print(f"{'FAIL' if problems else 'ok  '} events/{row['fixture']}.json: {row['status']}"
              + "".join(f"\n       {p}" for p in problems))
    lines = [json.loads(line) for line in open(sam_log, encoding="utf-8", errors="replace")
             if line.startswith("{") and line.rstrip().endswith("}")]
    created = [line for line in lines if line.get("outcome") == "created" and line.get("status") == 201]
    failures += not created
    print(f"{'ok  ' if created else 'FAIL'} SAM's log holds the JSON line of a create")
    if failures:
        sys.exit(f"{failures} checks failed")


if __name__ == "__main__":
    main(*sys.argv[1:])
