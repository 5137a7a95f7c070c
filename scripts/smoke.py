#!/usr/bin/env python3
"""A short, safe end-to-end check of a deployed (or local) stack.

Usage: API_KEY=nxr_live_... smoke.py URL [LEAD_ID]

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

import argparse
import decimal
import http.client
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

TIMEOUT = 10
USER_AGENT = "nexor-conversions-smoke"
DEMO_KEY = "nxr_live_demo_local_only_key"
DEMO_LEAD = "123e4567-e89b-12d3-a456-426614174200"
# Any UUIDs: a body without `amount` is refused before any record is looked up.
PLACEHOLDER_TYPE = "123e4567-e89b-12d3-a456-426614174100"
INVALID_KEY = "nxr_live_smoke_invalid"
REQUIRED = "conversion_type_id, lead_id, and amount are required"
NO_TYPE = "the account has no conversion type; create one with conversions-admin create-conversion-type"
NO_LEAD = ("no lead id: {why}; give one as LEAD_ID (make smoke ... LEAD_ID=<a lead of the account>, "
           "or a third argument)")
INVALID = {"error": "Invalid API key", "message": "The provided API key is not valid"}
# What the one event this test records carries, so that it can be told from real ones.
MARK = {"metadata": {"nexor_smoke_test": "scripts/smoke.py"},
        "notes": "Smoke test (scripts/smoke.py); not a real conversion."}


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", metavar="URL", help="the API's base URL (the stack's ApiUrl output)")
    parser.add_argument("lead_id", metavar="LEAD_ID", nargs="?", default=os.environ.get("LEAD_ID") or None,
                        help="a lead of the account (default: $LEAD_ID, else the lead of the most recent event)")
    args = parser.parse_args()
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
                        {"conversion_type_id": type_id or PLACEHOLDER_TYPE, "lead_id": lead_id or DEMO_LEAD})
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


if __name__ == "__main__":
    main()
