#!/usr/bin/env python3
"""Checks of a running API (or function) from outside, as its users meet it; one subcommand each.

Usage: check-api.py examples BASE_URL API_KEY FILE...       the documented curl examples
       check-api.py client BASE_URL API_KEY [DYNAMODB_PORT]  a client generated from openapi.yaml
       check-api.py smoke URL [LEAD_ID]                      make smoke (API_KEY in the environment)
       check-api.py schemathesis BASE_URL API_KEY            make schemathesis
       check-api.py fixtures LAMBDA_URL SAM_LOG              events/ through sam local start-lambda
`client` and `schemathesis` use .venv's tools (make tools); the rest needs only the standard library.

`examples`: Each example in the files is marked `<!-- example: NAME -->`, followed by a ```sh block with one
curl command and a ```json block with the response, whose status is written just before it as
(`201 Created`). The command runs with only its URL and key replaced (`$BASE` and `$KEY`, where
it uses them, are set to them). The response must equal the
documented one exactly, numbers compared as their exact text, except the values that differ on
every call: the event `id` and `created_at` (and `converted_at` where it defaults to now), of the
one event or of each listed one (or each event of a batch's results), and an adjustment's
`created_at` (and `adjusted_at` where it defaults to now), which must only have the right form. An example that sends an Idempotency-Key is run twice: the second
answer must be the first, byte for byte, with `Idempotent-Replayed: true`.

`client`: The contract as a client nobody here wrote uses it: generates a Python client from openapi.yaml
with openapi-python-client (pinned in requirements-dev.txt) and drives every operation through
it against a running API. Each success and each error the API answers is parsed into the
generated model its status names; the errors only API Gateway makes (429, its own 5xx, bodies of
`{"message": ...}`) are parsed from recorded bodies.

With DYNAMODB_PORT (the local DynamoDB the API runs on, in `conversions-local`), also a 503 (the
server paused while a request waits) and a 500 (an unreadable item, removed afterwards).

`fixtures`: Sends every events/ fixture, in name order, to `sam local start-lambda` and checks each answer
against events/expected.tsv (the rows the Rust fixture tests read too); then checks that SAM's log
of the run holds the function's JSON line for a create, which the template's metric filters count.

Each answer must have the status, the body keys in order, and for an error the `error` and
`message` of its row; `Content-Type: application/json`; and the fixture's API Gateway request id
as `X-Request-Id` (any id for an event that carries none).

`smoke` and `schemathesis`: below.
"""

import argparse
import csv
import datetime
import decimal
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
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


def ensure(condition, what):
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


def run_client(base_url, key, dynamodb_port=None):
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
    ensure(any(str(t.id) == DEMO_TYPE for t in types.conversion_types), "the demo type is listed")

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
    ensure(again.conversion_event.id == first.conversion_event.id, "the replay is the first event")
    ensure(replay.headers.get("idempotent-replayed") == "true", "the replay says Idempotent-Replayed")
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
    ensure([r.status for r in done.results] == ["created", "created"], f"a batch: {done}")
    again = expect("the batch again", create_conversions.sync_detailed(client=client(), body=batch),
                   200, BatchResults)
    ensure([r.status for r in again.results] == ["replayed", "replayed"], f"the batch again: {again}")
    partial = expect("a batch with an invalid row", create_conversions.sync_detailed(
        client=client(), body=rows(3, -1)), 207, BatchResults)
    ensure([r.status for r in partial.results] == ["created", "invalid"],
          f"a batch with an invalid row: {partial}")
    expect("an empty batch", create_conversions.sync_detailed(
        client=client(), body=NewConversionBatch.from_dict({"events": []})), 400, ValidationError)

    page = expect("list", list_conversions.sync_detailed(client=client(), limit=1), 200,
                  ConversionEventList)
    ensure(page.next_cursor, "more than one event: a cursor")
    expect("the next page", list_conversions.sync_detailed(
        client=client(), limit=1, cursor=page.next_cursor), 200, ConversionEventList)
    expect("list by lead", list_conversions.sync_detailed(
        client=client(), lead_id=uuid.UUID(DEMO_LEAD)), 200, ConversionEventList)
    expect("a bad cursor", list_conversions.sync_detailed(client=client(), cursor="x"), 400,
           ValidationError)
    found = expect("get one", get_conversion.sync_detailed(event_id, client=client()), 200,
                   ConversionEventFound)
    ensure(found.conversion_event.id == event_id, "get one finds the event created")
    expect("an unknown id", get_conversion.sync_detailed(uuid.uuid4(), client=client()), 404, Error)

    from conversions_client.api.conversions import adjust_conversion
    from conversions_client.models import AdjustmentCreated, NewAdjustment

    def adjustment(**fields):
        return NewAdjustment.from_dict(fields)
    adjust_key = f"client-adjust-{uuid.uuid4()}"
    restated = expect("a restatement", adjust_conversion.sync_detailed(
        event_id, client=client(), body=adjustment(type="restatement", amount=10),
        idempotency_key=adjust_key), 201, AdjustmentCreated)
    ensure(restated.conversion_event.status == "restated", f"a restatement: {restated}")
    replayed = adjust_conversion.sync_detailed(
        event_id, client=client(), body=adjustment(type="restatement", amount=10),
        idempotency_key=adjust_key)
    expect("its replay", replayed, 201, AdjustmentCreated)
    ensure(replayed.headers.get("idempotent-replayed") == "true", "the adjustment's replay says so")
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
    ensure(not ahead.changes, "nothing recorded tomorrow yet")
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
    print(f"check-api client: the generated client read every answer ({len(checked)} requests, "
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

DEMO_KEY = "nxr_live_demo_local_only_key"


# `examples`

EXAMPLE = re.compile(
    r"<!-- example: (?P<name>[\w-]+) -->\s*```sh\n(?P<command>.*?)```"
    r".*?\(`(?P<status>\d{3})[^`]*`\):?\s*```json\n(?P<response>.*?)```",
    re.S,
)
DOC_URL = "http://127.0.0.1:9000"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def exact(text):
    """JSON with every number kept as its exact text."""
    return json.loads(text, parse_float=lambda s: ("number", s), parse_int=lambda s: ("number", s))


def curl(command, base_url, key):
    """Runs a documented curl command; returns its status, body and response headers."""
    with tempfile.NamedTemporaryFile("r") as headers:
        run = subprocess.run(
            ["bash", "-c", command.strip() + f" -sS -D {headers.name} -w '\\n%{{http_code}}'"],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "BASE": base_url, "KEY": key},
        )
        if run.returncode != 0:
            raise RuntimeError(f"curl exited {run.returncode}: {run.stderr}")
        body, _, status = run.stdout.rpartition("\n")
        return status, body, headers.read()


def run_examples(base_url, key, *paths):
    failures = 0
    for path in paths:
        examples = list(EXAMPLE.finditer(open(path, encoding="utf-8").read()))
        if len(examples) < 3:
            sys.exit(f"expected {path}'s examples, found {len(examples)}")
        for example in examples:
            failures += check_example(example, base_url, key)
    if failures:
        sys.exit(f"{failures} documented example(s) do not match the service")


def check_example(example, base_url, key):
    """Runs one example; returns how many of its checks failed."""
    failures = 0
    name = example["name"]
    command = example["command"].replace(DOC_URL, base_url).replace(DEMO_KEY, key)
    if DOC_URL not in example["command"] and "$BASE" not in example["command"]:
        sys.exit(f"{name}: the example uses neither {DOC_URL} nor $BASE")
    try:
        status, body, _ = curl(command, base_url, key)
    except RuntimeError as err:
        print(f"FAIL {name}: {err}")
        return 1
    expected = exact(example["response"])
    actual = exact(body)
    if isinstance(expected, dict):
        pairs = []
        if isinstance(expected.get("conversion_event"), dict):
            pairs.append((expected["conversion_event"], actual.get("conversion_event") or {}))
        if isinstance(expected.get("results"), list):
            pairs.extend((documented["conversion_event"], answered.get("conversion_event") or {})
                         for documented, answered in zip(expected["results"], actual.get("results") or [])
                         if isinstance(documented.get("conversion_event"), dict))
        if isinstance(expected.get("conversion_events"), list):
            answered_events = actual.get("conversion_events") or []
            pairs.extend(zip(expected["conversion_events"], answered_events))
        # An adjustment's instants, where and wherever its event lists it.
        adjustments = [(expected.get("adjustment"), actual.get("adjustment"))]
        for documented, answered in list(pairs):
            if isinstance(documented.get("adjustments"), list):
                adjustments.extend(zip(documented["adjustments"], answered.get("adjustments") or []))
        for documented, answered in adjustments:
            if isinstance(documented, dict) and isinstance(answered, dict):
                for field in ["created_at"] + (["adjusted_at"] if documented.get("adjusted_at") == documented.get("created_at") else []):
                    if not TIMESTAMP.match(str(answered.get(field, ""))):
                        print(f"FAIL {name}: {field} {answered.get(field)!r} is not of the documented form")
                        failures += 1
                    documented[field] = answered[field] = "<varies>"
        for documented, answered in pairs:
            if not isinstance(answered, dict):
                continue
            volatile = ["id", "created_at"]
            if documented.get("converted_at") == documented.get("created_at"):
                volatile.append("converted_at")
            if documented.get("id") is None:
                volatile.remove("id")
            for field in volatile:
                value = answered.get(field, "")
                pattern = UUID if field == "id" else TIMESTAMP
                if not pattern.match(str(value)):
                    print(f"FAIL {name}: {field} {value!r} is not of the documented form")
                    failures += 1
                documented[field] = answered[field] = "<varies>"
    if status != example["status"] or actual != expected:
        print(f"FAIL {name}: got {status} {body}\n  documented {example['status']} {example['response']}")
        failures += 1
    else:
        print(f"ok   {name}: {status}")
    if "Idempotency-Key:" in command:
        again_status, again_body, headers = curl(command, base_url, key)
        if (again_status, again_body) != (status, body) or "idempotent-replayed: true" not in headers.lower():
            print(f"FAIL {name}: the retry got {again_status} {again_body}\n{headers}")
            failures += 1
        else:
            print(f"ok   {name}: the retry replayed the same body")
    return failures


# `smoke`

SMOKE_HELP = """A short, safe end-to-end check of a deployed (or local) stack.

Usage: API_KEY=nxr_live_... check-api.py smoke URL [LEAD_ID]   (make smoke URL=... API_KEY=...)

URL is the API's base URL: the stack's ApiUrl output, a custom domain with its base path
(https://api.example.com/v1), or http://127.0.0.1:9000 for `make run`; requests go to
URL + "/conversions" and so on. The lead comes from LEAD_ID (the argument, else the environment
variable), else from the most recent event (GET /conversions?limit=1), else, with the demo key of
`make run`, the demo lead. The conversion type is the first one GET /conversion-types lists.

Eight steps, each one line, `ok   STEP (STATUS, request id ID)` or `FAIL STEP: WHAT (request id
ID)`: the account's conversion types; a dry run; a create with a fresh `Idempotency-Key`
(amount 0, marked as a smoke test in `metadata` and `notes`: the one event it records); its
replay; the event read back; a page of the list; a 400 (a dry run without `amount`); a 401 (an
invalid key). Every request has a 10 s time-out and follows no redirect. Exits 0 only if every
step passed. The API key is never printed.
"""

TIMEOUT = 10
USER_AGENT = "nexor-conversions-smoke"
# Any UUIDs: a body without `amount` is refused before any record is looked up.
INVALID_KEY = "nxr_live_smoke_invalid"
REQUIRED = "conversion_type_id, lead_id, and amount are required"
NO_TYPE = "the account has no conversion type; create one with conversions-admin create-conversion-type"
NO_LEAD = ("no lead id: {why}; give one as LEAD_ID (make smoke ... LEAD_ID=<a lead of the account>, "
           "or a third argument)")
INVALID = {"error": "Invalid API key", "message": "The provided API key is not valid"}
# What the one event this test records carries, so that it can be told from real ones.
MARK = {"metadata": {"nexor_smoke_test": "make smoke"},
        "notes": "Smoke test (make smoke); not a real conversion."}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as it is: the API key goes nowhere else."""

    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


class Answer:
    def __init__(self, status=None, headers=None, body=b"", error=None):
        self.status, self.headers, self.body, self.error = status, headers, body, error
        try:
            self.json = json.loads(body, parse_float=decimal.Decimal) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name) if self.headers is not None else None

    @property
    def request_id(self):
        return self.header("X-Request-Id") or "none"


class Smoke:
    def __init__(self, base_url, key):
        self.base_url, self.key = base_url, key
        self.steps = self.failures = 0

    def call(self, method, path, body=None, key=None, headers=()):
        request = urllib.request.Request(
            self.base_url + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json",
                     "Accept": "application/json", "X-API-Key": key or self.key, **dict(headers)},
        )
        try:
            with OPENER.open(request, timeout=TIMEOUT) as response:
                return Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as err:
            try:
                body = err.read()
            except (OSError, http.client.HTTPException):
                body = b""
            finally:
                err.close()
            return Answer(err.code, err.headers, body)
        except TimeoutError:
            return Answer(error=f"no answer within {TIMEOUT} s")
        except urllib.error.URLError as err:
            reason = err.reason
            if isinstance(reason, TimeoutError):
                return Answer(error=f"no answer within {TIMEOUT} s")
            return Answer(error=f"request failed: {reason}")
        except (OSError, http.client.HTTPException, ValueError) as err:
            return Answer(error=f"request failed: {type(err).__name__}: {err}")

    def excerpt(self, answer):
        text = " ".join(answer.body.decode("utf-8", "replace").split())
        if self.key:
            text = text.replace(self.key, "***")
        return (text[:200] + "...") if len(text) > 200 else (text or "an empty body")

    def expect(self, answer, status):
        """What is wrong with the answer's status and body kind, or None."""
        if answer.error:
            return f"expected {status}, {answer.error}"
        if answer.status != status:
            return f"expected {status}, got {answer.status}: {self.excerpt(answer)}"
        if not isinstance(answer.json, dict):
            return f"expected a JSON object, got: {self.excerpt(answer)}"
        return None

    def report(self, name, answer, problem):
        self.steps += 1
        request_id = answer.request_id if answer else "none"
        if problem:
            self.failures += 1
            print(f"FAIL {name}: {problem} (request id {request_id})", flush=True)
        else:
            print(f"ok   {name} ({answer.status}, request id {request_id})", flush=True)


def same_id(a, b):
    return isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()


def event_problem(body, type_id, lead_id, event_id_null=False):
    event = body.get("conversion_event")
    if body.get("success") is not True or not isinstance(event, dict):
        return "expected success: true and a conversion_event object"
    if event_id_null and event.get("id") is not None:
        return f"expected conversion_event.id null, got {event.get('id')!r}"
    if not event_id_null and not isinstance(event.get("id"), str):
        return f"expected a conversion_event.id, got {event.get('id')!r}"
    if not same_id(event.get("conversion_type_id"), type_id) or not same_id(event.get("lead_id"), lead_id):
        return (f"expected the event of type {type_id} and lead {lead_id}, got type "
                f"{event.get('conversion_type_id')!r} and lead {event.get('lead_id')!r}")
    return None


def run_smoke():
    parser = argparse.ArgumentParser(prog="check-api.py smoke", description=SMOKE_HELP.split("\n\n")[0], epilog=SMOKE_HELP.split("\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", metavar="URL", help="the API's base URL (the stack's ApiUrl output)")
    parser.add_argument("lead_id", metavar="LEAD_ID", nargs="?", default=os.environ.get("LEAD_ID") or None,
                        help="a lead of the account (default: $LEAD_ID, else the lead of the most recent event)")
    args = parser.parse_args(sys.argv[2:])
    # From the environment, not the command line, where `ps` would show it.
    args.api_key = os.environ.get("API_KEY", "").strip()
    url = urllib.parse.urlsplit(args.url.strip())
    if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
        parser.error("URL must be the API's base URL, http(s)://host[/base path], without a query")
    if not args.api_key:
        parser.error("set API_KEY to the account's API key, nxr_live_...")
    base_url = urllib.parse.urlunsplit((url.scheme, url.netloc, url.path.rstrip("/"), "", ""))
    smoke = Smoke(base_url, args.api_key)
    masked = "nxr_live_***" if args.api_key.startswith("nxr_live_") else "***"
    print(f"smoke test of {base_url} (API key {masked})", flush=True)

    # 1. The account's conversion types; the first one is used below.
    name = "GET /conversion-types"
    answer = smoke.call("GET", "/conversion-types")
    problem = smoke.expect(answer, 200)
    type_id, type_problem = None, "no conversion type to use: GET /conversion-types failed"
    if not problem:
        types = answer.json.get("conversion_types")
        if answer.json.get("success") is not True or not isinstance(types, list):
            problem = f"expected success: true and a conversion_types array, got: {smoke.excerpt(answer)}"
        elif types and not (isinstance(types[0], dict) and isinstance(types[0].get("id"), str)):
            problem = f"expected each conversion type to have an id, got: {smoke.excerpt(answer)}"
        elif not types:
            type_problem = NO_TYPE
        else:
            type_id, type_problem = types[0]["id"], None
    smoke.report(name, answer, problem)

    # The lead: given, else the most recent event's, else the demo lead with the demo key.
    lead_id, lead_problem, lead_source = args.lead_id, None, "LEAD_ID"
    if not lead_id:
        latest = smoke.call("GET", "/conversions?limit=1")
        events = latest.json.get("conversion_events") if isinstance(latest.json, dict) else None
        if (latest.status == 200 and events and isinstance(events[0], dict)
                and isinstance(events[0].get("lead_id"), str)):
            lead_id, lead_source = events[0]["lead_id"], "the most recent event"
        elif args.api_key == DEMO_KEY:
            lead_id, lead_source = DEMO_LEAD, "the demo data of make run"
        elif latest.error or latest.status != 200:
            lead_problem = NO_LEAD.format(why=f"GET /conversions?limit=1 answered {latest.status or latest.error}")
        else:
            lead_problem = NO_LEAD.format(why="LEAD_ID is not set and the account has no event to take one from")
    if type_id and lead_id:
        print(f"     conversion type {type_id}, lead {lead_id} (from {lead_source})", flush=True)
    needs = type_problem or lead_problem

    # 2. A dry run: every check, including the lookups, and nothing written.
    name = "POST /conversions?dry_run=true"
    answer, problem = None, needs
    if not needs:
        body = {"conversion_type_id": type_id, "lead_id": lead_id, "amount": 1, **MARK}
        answer = smoke.call("POST", "/conversions?dry_run=true", body)
        problem = smoke.expect(answer, 200)
        if not problem and answer.json.get("dry_run") is not True:
            problem = f"expected dry_run: true, got: {smoke.excerpt(answer)}"
        problem = problem or event_problem(answer.json, type_id, lead_id, event_id_null=True)
    smoke.report(name, answer, problem)

    # 3. A create with a fresh Idempotency-Key: the one event this test records.
    name = "POST /conversions with an Idempotency-Key"
    answer, problem, created, event_id = None, needs, None, None
    body = {"conversion_type_id": type_id, "lead_id": lead_id, "amount": 0, **MARK}
    keyed = {"Idempotency-Key": f"smoke-{uuid.uuid4()}"}
    if not needs:
        answer = smoke.call("POST", "/conversions", body, headers=keyed)
        problem = smoke.expect(answer, 201) or event_problem(answer.json, type_id, lead_id)
        if not problem and answer.json["conversion_event"].get("amount") != 0:
            problem = f"expected amount 0, got {answer.json['conversion_event'].get('amount')}"
        if not problem and (answer.header("Idempotent-Replayed") or "").lower() == "true":
            problem = "a fresh Idempotency-Key was answered Idempotent-Replayed: true"
        if not problem:
            created, event_id = answer.body, answer.json["conversion_event"]["id"]
    smoke.report(name, answer, problem)
    no_event = needs or "no event to work with: the create above failed"

    # 4. The same request again: the first answer, replayed.
    name = "the same POST again (replay)"
    answer, problem = None, no_event
    if event_id:
        answer = smoke.call("POST", "/conversions", body, headers=keyed)
        problem = smoke.expect(answer, 201)
        if not problem and (answer.header("Idempotent-Replayed") or "").lower() != "true":
            problem = f"expected Idempotent-Replayed: true, got {answer.header('Idempotent-Replayed')!r}"
        if not problem:
            replayed_id = (answer.json.get("conversion_event") or {}).get("id")
            if replayed_id != event_id:
                problem = f"expected event {event_id}, got {replayed_id!r}"
            elif answer.body != created:
                problem = "expected the first answer byte for byte, got a different body"
    smoke.report(name, answer, problem)

    # 5. The event read back.
    name = "GET /conversions/{id}"
    answer, problem = None, no_event
    if event_id:
        answer = smoke.call("GET", f"/conversions/{urllib.parse.quote(event_id, safe='')}")
        problem = smoke.expect(answer, 200) or event_problem(answer.json, type_id, lead_id)
        if not problem and answer.json["conversion_event"]["id"] != event_id:
            problem = f"expected event {event_id}, got {answer.json['conversion_event']['id']!r}"
        if not problem and not isinstance(answer.json["conversion_event"].get("conversion_types"), dict):
            problem = "expected the event's conversion_types object"
    smoke.report(name, answer, problem)

    # 6. A page of the list.
    name = "GET /conversions?limit=1"
    answer = smoke.call("GET", "/conversions?limit=1")
    problem = smoke.expect(answer, 200)
    if not problem:
        page = answer.json
        if (page.get("success") is not True or not isinstance(page.get("conversion_events"), list)
                or len(page["conversion_events"]) > 1 or not isinstance(page.get("total_at_least"), int)
                or "total" not in page or "next_cursor" not in page or "cut_short" not in page):
            problem = ("expected success: true, conversion_events (at most 1), total, total_at_least, "
                       "next_cursor and cut_short, "
                       f"got: {smoke.excerpt(answer)}")
    smoke.report(name, answer, problem)

    # 7. A 400: a body without amount (as a dry run, so that nothing could be written anyway).
    name = "POST /conversions without amount: 400"
    answer = smoke.call("POST", "/conversions?dry_run=true",
                        {"conversion_type_id": type_id or DEMO_TYPE, "lead_id": lead_id or DEMO_LEAD})
    problem = smoke.expect(answer, 400)
    if not problem:
        error = answer.json
        errors = error.get("errors")
        if error.get("error") != "Validation error" or error.get("message") != REQUIRED:
            problem = f'expected "Validation error", "{REQUIRED}", got: {smoke.excerpt(answer)}'
        elif not isinstance(errors, list) or {"field": "amount", "message": REQUIRED} not in errors:
            problem = (f'expected errors[] with {{"field": "amount", "message": "{REQUIRED}"}}, '
                       f"got: {smoke.excerpt(answer)}")
    smoke.report(name, answer, problem)

    # 8. A 401: a key that is not the account's.
    name = "GET /conversion-types with an invalid key: 401"
    answer = smoke.call("GET", "/conversion-types", key=INVALID_KEY)
    problem = smoke.expect(answer, 401)
    if not problem and answer.json != INVALID:
        problem = f"expected {json.dumps(INVALID)}, got: {smoke.excerpt(answer)}"
    smoke.report(name, answer, problem)

    if smoke.failures:
        print(f"smoke test FAILED: {smoke.failures} of {smoke.steps} steps")
        sys.exit(1)
    print(f"smoke test passed: {smoke.steps} steps")


# `fixtures`

EVENTS = ROOT / "events"


def invoke(lambda_url, payload):
    request = urllib.request.Request(
        f"{lambda_url}/2015-03-31/functions/ConversionsFunction/invocations", data=payload, method="POST"
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.load(answer)


def check_fixture(row, event, answer):
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


def run_fixtures(lambda_url, sam_log):
    with open(EVENTS / "expected.tsv", newline="", encoding="utf-8") as rows:
        expected = list(csv.DictReader(rows, delimiter="\t", quoting=csv.QUOTE_NONE))
    names = sorted(path.stem for path in EVENTS.glob("*.json"))
    if names != [row["fixture"] for row in expected]:
        sys.exit("events/expected.tsv and events/*.json name different fixtures")
    failures = 0
    for row in expected:
        payload = (EVENTS / f"{row['fixture']}.json").read_bytes()
        problems = check_fixture(row, json.loads(payload), invoke(lambda_url, payload))
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


# `schemathesis`


def run_schemathesis(base_url, key):
    """schemathesis (pinned in requirements-dev.txt; its settings, and why, in schemathesis.toml)
    against a running API: a fixed seed, a bounded number of cases per operation, all four phases
    (examples, coverage, fuzzing, stateful) and every check. The demo account's ids
    (schemathesis.toml) make creates succeed; against another account most creates are answered
    400 (unknown type or lead), which the checks accept but which tests less. Reports go to
    build/schemathesis/ (REPORT_DIR elsewhere); MAX_EXAMPLES=N sets the cases per operation,
    PHASES=examples,coverage,... the phases."""
    import xml.etree.ElementTree as ET

    base_url = base_url.rstrip("/")
    if not re.match(r"^https?://", base_url):
        sys.exit(f"BASE_URL must start with http:// or https://, not: {base_url}")
    if not key:
        sys.exit("API_KEY is empty")
    if not (VENV / "schemathesis").exists():
        sys.exit("schemathesis is not installed: run make tools")
    if subprocess.run([VENV / "python", ROOT / "scripts" / "check-openapi.py", "spec", ROOT / "openapi.yaml"]).returncode:
        sys.exit("openapi.yaml does not pass check-openapi.py spec")
    # REPORT_DIR elsewhere when the API is `cargo lambda watch` on this tree, which restarts the
    # function (dropping the request in flight) when files under it change; schemathesis runs in
    # the reports folder, where Hypothesis keeps its own.
    reports = Path(os.environ.get("REPORT_DIR") or ROOT / "build" / "schemathesis").resolve()
    shutil.rmtree(reports, ignore_errors=True)
    reports.mkdir(parents=True)
    args = [
        VENV / "schemathesis", "--config-file", ROOT / "schemathesis.toml",
        "run", ROOT / "openapi.yaml", "--url", base_url, "--checks", "all",
        "--phases", os.environ.get("PHASES") or "examples,coverage,fuzzing,stateful",
        "--report", "junit,ndjson", "--report-dir", reports,
        "--report-junit-path", reports / "junit.xml", "--report-ndjson-path", reports / "events.ndjson",
        "--no-color",
    ]
    if os.environ.get("MAX_EXAMPLES"):
        args += ["--max-examples", os.environ["MAX_EXAMPLES"]]
    print(f"==> schemathesis against {base_url}", file=sys.stderr, flush=True)
    # The key goes in through the environment (schemathesis.toml reads it), not the command line.
    status = subprocess.run(args, cwd=reports, env={**os.environ, "NEXOR_API_KEY": key}).returncode
    try:
        cases = ET.parse(reports / "junit.xml").getroot().iter("testcase")
        print("\nsummary (from the JUnit report):")
        for case in cases:
            failures = len(case.findall("failure"))
            state = ("failed" if failures else "error" if case.findall("error")
                     else "skipped" if case.findall("skipped") else "passed")
            print(f"  {state:8} {case.get('name')}" + (f"  ({failures} failures)" if failures else ""))
    except (OSError, ET.ParseError):
        pass
    sys.stdout.flush()
    if status:
        sys.exit(f"schemathesis found problems (exit {status}); reports in {reports}/")
    print(f"==> schemathesis: no failures; reports in {reports}/", file=sys.stderr)


COMMANDS = {
    "examples": (run_examples, 3, None),
    "client": (run_client, 2, 3),
    "smoke": (run_smoke, 0, None),
    "schemathesis": (run_schemathesis, 2, 2),
    "fixtures": (run_fixtures, 2, 2),
}

if __name__ == "__main__":
    command, low, high = COMMANDS.get(sys.argv[1] if len(sys.argv) > 1 else "", (None, 0, 0))
    arguments = sys.argv[2:]
    if command is None or len(arguments) < low or (high is not None and len(arguments) > high):
        sys.exit(__doc__)
    command() if command is run_smoke else command(*arguments)
