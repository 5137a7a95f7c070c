"""Runs the documented curl examples against a running `make run` and checks the answers.

Usage: check_readme.py BASE_URL API_KEY FILE...   (README.md docs/integrating.md)

Each example in the files is marked `<!-- example: NAME -->`, followed by a ```sh block with one
curl command and a ```json block with the response, whose status is written just before it as
(`201 Created`). The command runs with only its URL and key replaced (`$BASE` and `$KEY`, where
it uses them, are set to them). The response must equal the
documented one exactly, numbers compared as their exact text, except the values that differ on
every call: the event `id` and `created_at` (and `converted_at` where it defaults to now), of the
one event or of each listed one (or each event of a batch's results), and an adjustment's
`created_at` (and `adjusted_at` where it defaults to now), which must only have the right form. An example that sends an Idempotency-Key is run twice: the second
answer must be the first, byte for byte, with `Idempotent-Replayed: true`.
"""

import decimal
import json
import os
import re
import subprocess
import sys
import tempfile

EXAMPLE = re.compile(
    r"<!-- example: (?P<name>[\w-]+) -->\s*```sh\n(?P<command>.*?)```"
    r".*?\(`(?P<status>\d{3})[^`]*`\):?\s*```json\n(?P<response>.*?)```",
    re.S,
)
DOC_URL = "http://127.0.0.1:9000"
DOC_KEY = "nxr_live_demo_local_only_key"
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


def main(base_url, key, *paths):
    failures = 0
    for path in paths:
        examples = list(EXAMPLE.finditer(open(path, encoding="utf-8").read()))
        if len(examples) < 3:
            sys.exit(f"expected {path}'s examples, found {len(examples)}")
        for example in examples:
            failures += check(example, base_url, key)
    if failures:
        sys.exit(f"{failures} documented example(s) do not match the service")


def check(example, base_url, key):
    """Runs one example; returns how many of its checks failed."""
    failures = 0
    name = example["name"]
    command = example["command"].replace(DOC_URL, base_url).replace(DOC_KEY, key)
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


if __name__ == "__main__":
    main(*sys.argv[1:])
