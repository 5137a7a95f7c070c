"""The contract as a client nobody here wrote uses it: generates a Python client from openapi.yaml
with openapi-python-client (pinned in requirements-dev.txt) and drives every operation through
it against a running API. Each success and each error the API answers is parsed into the
generated model its status names; the errors only API Gateway makes (429, its own 5xx, bodies of
`{"message": ...}`) are parsed from recorded bodies.

Usage: client_check.py BASE_URL API_KEY [DYNAMODB_PORT]

With DYNAMODB_PORT (the local DynamoDB the API runs on, in `conversions-local`), also a 503 (the
server paused while a request waits) and a 500 (an unreadable item, removed afterwards).
"""

import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
DEMO_TYPE = "123e4567-e89b-12d3-a456-426614174100"
DEMO_LEAD = "123e4567-e89b-12d3-a456-426614174200"
DEMO_RUN = "123e4567-e89b-12d3-a456-426614174400"
DEMO_ACCOUNT = "123e4567-e89b-12d3-a456-426614174000"
# What API Gateway answers by itself, as it writes it.
GATEWAY_BODIES = {
    429: b'{"message":"Too Many Requests"}',
    500: b'{"message":"Internal Server Error"}',
    503: b'{"message":"Service Unavailable"}',
    413: b'{"message":"Request Entity Too Large"}',
}


def generate():
    out = ROOT / "build" / "client"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    config = out / "config.yaml"
    config.write_text("post_hooks: []\n")
    subprocess.run(
        [VENV / "openapi-python-client", "generate", "--path", ROOT / "openapi.yaml",
         "--meta", "none", "--output-path", out / "conversions_client", "--config", config],
        check=True, stdout=subprocess.DEVNULL,
    )
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(out))


checked = []


def check(condition, what):
    """An `assert` that `python -O` keeps."""
    if not condition:
        sys.exit(f"FAIL {what}")


def expect(what, response, status, model):
    """The answer has `status` and parses into `model`."""
    if response.status_code != status or not isinstance(response.parsed, model):
        sys.exit(f"FAIL {what}: {response.status_code} {type(response.parsed).__name__}: "
                 f"{response.content[:300]!r}; expected {status} {model.__name__}")
    if "x-request-id" not in response.headers:
        sys.exit(f"FAIL {what}: no X-Request-Id")
    checked.append(status)
    print(f"ok   {what}: {status} {model.__name__}")
    return response.parsed


def main(base_url, key, dynamodb_port=None):
    generate()
    from conversions_client import AuthenticatedClient, Client
    from conversions_client.api.conversion_types import list_conversion_types
    from conversions_client.api.conversions import create_conversion, get_conversion, list_conversions
    from conversions_client.models import (
        ConversionEventCreated, ConversionEventDryRun, ConversionEventFound, ConversionEventList,
        ConversionTypeList, Error, GatewayError, NewConversion, ValidationError,
    )

    def client(api_key=key, timeout=30.0):
        return AuthenticatedClient(base_url=base_url, token=api_key, prefix="",
                                   auth_header_name="X-API-Key", timeout=timeout)

    def body(**fields):
        return NewConversion.from_dict({"conversion_type_id": DEMO_TYPE, "lead_id": DEMO_LEAD,
                                        "amount": 12.5, **fields})

    types = expect("list the conversion types", list_conversion_types.sync_detailed(client=client()),
                   200, ConversionTypeList)
    check(any(str(t.id) == DEMO_TYPE for t in types.conversion_types), "the demo type is listed")

    created = expect("create", create_conversion.sync_detailed(client=client(), body=body()),
                     201, ConversionEventCreated)
    event_id = created.conversion_event.id
    expect("dry run", create_conversion.sync_detailed(client=client(), body=body(), dry_run=True),
           200, ConversionEventDryRun)
    idempotency_key = f"client-{uuid.uuid4()}"
    first = expect("keyed create", create_conversion.sync_detailed(
        client=client(), body=body(workflow_run_id=DEMO_RUN), idempotency_key=idempotency_key),
        201, ConversionEventCreated)
    replay = create_conversion.sync_detailed(
        client=client(), body=body(workflow_run_id=DEMO_RUN), idempotency_key=idempotency_key)
    again = expect("its replay", replay, 201, ConversionEventCreated)
    check(again.conversion_event.id == first.conversion_event.id, "the replay is the first event")
    check(replay.headers.get("idempotent-replayed") == "true", "the replay says Idempotent-Replayed")
    expect("the key with another body", create_conversion.sync_detailed(
        client=client(), body=body(amount=13), idempotency_key=idempotency_key), 422, Error)
    expect("an unknown lead", create_conversion.sync_detailed(
        client=client(), body=body(lead_id=str(uuid.uuid4()))), 400, ValidationError)
    expect("an unknown key", create_conversion.sync_detailed(
        client=client("nxr_live_unknown"), body=body()), 401, Error)
    no_key = Client(base_url=base_url, timeout=30.0)
    expect("no key", list_conversion_types.sync_detailed(client=no_key), 401, Error)
    expect("a body too large", create_conversion.sync_detailed(
        client=client(), body=body(notes="n" * 70_000)), 413, Error)

    from conversions_client.api.conversions import create_conversions
    from conversions_client.models import BatchResults, NewConversionBatch

    def rows(*amounts):
        return NewConversionBatch.from_dict({"events": [
            {"idempotency_key": f"client-batch-{uuid.uuid4()}", "conversion_type_id": DEMO_TYPE,
             "lead_id": DEMO_LEAD, "amount": amount} for amount in amounts]})
    batch = rows(1, 2)
    done = expect("a batch", create_conversions.sync_detailed(client=client(), body=batch), 200,
                  BatchResults)
    check([r.status for r in done.results] == ["created", "created"], f"a batch: {done}")
    again = expect("the batch again", create_conversions.sync_detailed(client=client(), body=batch),
                   200, BatchResults)
    check([r.status for r in again.results] == ["replayed", "replayed"], f"the batch again: {again}")
    partial = expect("a batch with an invalid row", create_conversions.sync_detailed(
        client=client(), body=rows(3, -1)), 207, BatchResults)
    check([r.status for r in partial.results] == ["created", "invalid"],
          f"a batch with an invalid row: {partial}")
    expect("an empty batch", create_conversions.sync_detailed(
        client=client(), body=NewConversionBatch.from_dict({"events": []})), 400, ValidationError)

    page = expect("list", list_conversions.sync_detailed(client=client(), limit=1), 200,
                  ConversionEventList)
    check(page.next_cursor, "more than one event: a cursor")
    expect("the next page", list_conversions.sync_detailed(
        client=client(), limit=1, cursor=page.next_cursor), 200, ConversionEventList)
    expect("list by lead", list_conversions.sync_detailed(
        client=client(), lead_id=uuid.UUID(DEMO_LEAD)), 200, ConversionEventList)
    expect("a bad cursor", list_conversions.sync_detailed(client=client(), cursor="x"), 400,
           ValidationError)
    found = expect("get one", get_conversion.sync_detailed(event_id, client=client()), 200,
                   ConversionEventFound)
    check(found.conversion_event.id == event_id, "get one finds the event created")
    expect("an unknown id", get_conversion.sync_detailed(uuid.uuid4(), client=client()), 404, Error)

    from conversions_client.api.conversions import adjust_conversion
    from conversions_client.models import AdjustmentCreated, NewAdjustment

    def adjustment(**fields):
        return NewAdjustment.from_dict(fields)
    adjust_key = f"client-adjust-{uuid.uuid4()}"
    restated = expect("a restatement", adjust_conversion.sync_detailed(
        event_id, client=client(), body=adjustment(type="restatement", amount=10),
        idempotency_key=adjust_key), 201, AdjustmentCreated)
    check(restated.conversion_event.status == "restated", f"a restatement: {restated}")
    replayed = adjust_conversion.sync_detailed(
        event_id, client=client(), body=adjustment(type="restatement", amount=10),
        idempotency_key=adjust_key)
    expect("its replay", replayed, 201, AdjustmentCreated)
    check(replayed.headers.get("idempotent-replayed") == "true", "the adjustment's replay says so")
    expect("a retraction", adjust_conversion.sync_detailed(
        event_id, client=client(), body=adjustment(type="retraction")), 201, AdjustmentCreated)
    expect("after a retraction", adjust_conversion.sync_detailed(
        event_id, client=client(), body=adjustment(type="retraction")), 409, Error)
    expect("a restatement without amount", adjust_conversion.sync_detailed(
        event_id, client=client(), body=adjustment(type="restatement")), 400, ValidationError)
    expect("the state as of its creation", get_conversion.sync_detailed(
        event_id, client=client(), as_of=created.conversion_event.created_at), 200,
        ConversionEventFound)

    from conversions_client.api.conversions import list_changes
    from conversions_client.models import ChangePage

    # A minute passes before a change is served: the first page may be empty, and its cursor
    # resumes either way.
    feed = expect("the feed", list_changes.sync_detailed(client=client(), limit=5), 200, ChangePage)
    expect("the feed resumed", list_changes.sync_detailed(
        client=client(), after=feed.next_cursor), 200, ChangePage)
    ahead = expect("the feed from tomorrow", list_changes.sync_detailed(
        client=client(), since=datetime.datetime.now(datetime.timezone.utc)
        + datetime.timedelta(days=1)), 200, ChangePage)
    check(not ahead.changes, "nothing recorded tomorrow yet")
    expect("an edited cursor", list_changes.sync_detailed(
        client=client(), after=feed.next_cursor + "x"), 400, ValidationError)

    if dynamodb_port:
        faults(int(dynamodb_port), client, expect, list_conversion_types, get_conversion, Error)

    # What API Gateway answers itself never reaches the function: its recorded bodies, parsed the
    # way the generated client parses an answer.
    import httpx
    from conversions_client.api.conversions import create_conversion as operation
    for status, content in GATEWAY_BODIES.items():
        parsed = operation._parse_response(client=client(), response=httpx.Response(status, content=content))
        if not isinstance(parsed, (GatewayError, Error)) or not parsed.message:
            sys.exit(f"FAIL API Gateway's {status}: {parsed!r}")
        print(f"ok   API Gateway's own {status}: {type(parsed).__name__}")
    print(f"client_check: the generated client read every answer ({len(checked)} requests, "
          f"statuses {sorted(set(checked))})")


def listening_pid(port):
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    match = re.search(r"pid=(\d+)", out)
    if not match:
        sys.exit(f"nothing listens on {port}")
    return int(match.group(1))


def faults(port, client, expect, list_conversion_types, get_conversion, Error):
    # 503: the server paused, every attempt times out, and the function answers before its
    # deadline.
    pid = listening_pid(port)
    os.kill(pid, signal.SIGSTOP)
    try:
        expect("DynamoDB not answering", list_conversion_types.sync_detailed(client=client()),
               503, Error)
    finally:
        os.kill(pid, signal.SIGCONT)
    # 500: an item the function cannot read.
    import boto3
    table = boto3.resource("dynamodb", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                           aws_access_key_id="local", aws_secret_access_key="local").Table("conversions-local")
    broken = uuid.uuid4()
    key = {"pk": f"ACCOUNT#{DEMO_ACCOUNT}", "sk": f"CONVERSION_EVENT#{broken}"}
    table.put_item(Item={**key, "entity": "conversion_event", "id": str(broken)})
    try:
        expect("an unreadable item", get_conversion.sync_detailed(broken, client=client()), 500, Error)
    finally:
        table.delete_item(Key=key)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(*sys.argv[1:])
