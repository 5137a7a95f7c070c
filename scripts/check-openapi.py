#!/usr/bin/env python3
"""Checks openapi.yaml, the contract: on its own (`spec`), and on the page `make docs` renders (`page`).

Usage: check-openapi.py spec OPENAPI_YAML
       check-openapi.py page OPENAPI_YAML PAGE_HTML

`spec`, with no server: the document, then its examples.
1. Schemathesis loads it and validates it against the OpenAPI 3.1 meta-schema (what
   `schemathesis run` would refuse to start on), and every operation must load.
2. Every example (request bodies, parameters, responses; `example` and each `examples` entry)
   must be valid for its schema, formats included (`uuid`, `date-time`), so that the documented
   examples are answers the API can give and requests it accepts as well-formed.

`page`: that the rendered API reference shows everything openapi.yaml documents.
Opens PAGE_HTML (from `make docs`) in headless Chromium and reads the text the browser rendered
(`--dump-dom`), so that what is checked is what a reader sees, not the HTML the build wrote.
Redoc 3 gives the overview, each tag and each operation a view of its own, reached by the
address's fragment (`#/conversions/createconversion`); the script follows the sidebar's links
from the overview to the tags and from the tags to the operations, and checks that:

- the overview shows every error message that the info description documents;
- each operation's page shows its summary, its method and path (`POST /conversions`), and
  every error message it documents: the `message` of every example of every response it
  answers (shared responses under components included), and those of its description.

A description documents a message as JSON (`"message": "..."`) or as a bullet
(`` - `message`: when ``) under a status heading (`**400 Validation error**`), as `MESSAGES` in
tests/dynamodb/helpers/openapi.rs reads them; it is looked for as written (`{id}` included).

Text is compared with white space removed from both sides, since the page splits text across
elements. The page must also load no script or style sheet from elsewhere.

CHROMIUM (default /usr/bin/chromium) names the browser. Each exits 1 naming each problem.
"""

import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema_rs
import schemathesis
import yaml
from schemathesis.config import SchemathesisConfig

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def verdict(check, problems, failed, passed):
    """Prints each problem and exits 1, or prints that the check passed."""
    if problems:
        print(f"check-openapi {check}: {failed}:")
        for problem in problems:
            print(f"  - {problem}")
        sys.exit(1)
    print(f"check-openapi {check}: {passed}")


def resolve(spec, node):
    """Follows local `$ref`s (`#/components/...`) until the node is not one."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise SystemExit(f"cannot follow $ref {ref!r} in the OpenAPI document")
        seen.add(ref)
        node = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def examples_of(spec, holder):
    """(name, value) of the `example` and every `examples` entry of a media type or parameter."""
    if "example" in holder:
        yield "example", holder["example"]
    for name, example in (holder.get("examples") or {}).items():
        example = resolve(spec, example)
        if "value" in example:
            yield name, example["value"]


def cases(spec):
    """(where, schema, value) for every example of the document."""
    for path, item in (spec.get("paths") or {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            label = f"{method.upper()} {path}"
            for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
                parameter = resolve(spec, parameter)
                for name, value in examples_of(spec, parameter):
                    yield f"{label} parameter {parameter['name']} {name}", parameter["schema"], value
            body = resolve(spec, operation.get("requestBody") or {})
            for media_type, media in (body.get("content") or {}).items():
                for name, value in examples_of(spec, media):
                    yield f"{label} request {media_type} {name}", media["schema"], value
            for status, response in (operation.get("responses") or {}).items():
                response = resolve(spec, response)
                for media_type, media in (response.get("content") or {}).items():
                    for name, value in examples_of(spec, media):
                        yield f"{label} {status} {media_type} {name}", media["schema"], value


def check_spec(path):
    path = Path(path)
    problems = []

    # Default settings: this checks the document, not schemathesis.toml (nor its API key).
    loaded = schemathesis.openapi.from_path(str(path), config=SchemathesisConfig())
    try:
        loaded.validate()
    except jsonschema_rs.ValidationError as exc:
        problems.append(f"not a valid OpenAPI document: {exc}")
    operations = 0
    for result in loaded.get_all_operations():
        try:
            result.ok()
            operations += 1
        except Exception as exc:  # an operation schemathesis cannot load
            problems.append(f"an operation does not load: {exc}")

    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples = 0
    for where, schema, value in cases(spec):
        examples += 1
        # The schema is checked within the document, so that its `$ref`s resolve.
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": spec.get("components", {}), "allOf": [schema]}
        validator = jsonschema_rs.validator_for(root, validate_formats=True)
        for error in validator.iter_errors(value):
            location = "/".join(map(str, error.instance_path)) or "(the whole value)"
            problems.append(f"{where}: at {location}: {error.message}")

    verdict("spec", problems, f"{len(problems)} problems in {path}",
            f"{path} is valid OpenAPI; {operations} operations load; all {examples} examples match their schemas")


# `"message": "..."` in JSON shown in Markdown.
JSON_MESSAGE = re.compile(r'"message"\s*:\s*("(?:[^"\\]|\\.)*")')
# `` - `message`: when `` in a Markdown list.
BULLET_MESSAGE = re.compile(r"- `([^`]+)`")
# Flags that work on this project's machines (headless, no network but loopback, as root).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Redoc renders in the browser after the page loads: let its scripts finish first.
    "--virtual-time-budget=15000",
]


def messages_in_value(value):
    """Every string under a `message` key, at any depth (an error body and its `errors`)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "message" and isinstance(item, str):
                found.append(item)
            else:
                found.extend(messages_in_value(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(messages_in_value(item))
    return found


def messages_in_markdown(text):
    found = [json.loads(literal) for literal in JSON_MESSAGE.findall(text or "")]
    # Bullets count under a `**4xx ...**` or `**5xx ...**` heading only: others list fields.
    under_status = False
    for line in (text or "").splitlines():
        line = line.lstrip()
        if line.startswith("**"):
            under_status = line[2:3] in ("4", "5")
        bullet = under_status and BULLET_MESSAGE.match(line)
        if bullet:
            found.append(bullet[1])
    return found


def operation_messages(spec, operation):
    found = messages_in_markdown(operation.get("description"))
    for response in (operation.get("responses") or {}).values():
        response = resolve(spec, response)
        for media in (response.get("content") or {}).values():
            if "example" in media:
                found.extend(messages_in_value(media["example"]))
            for example in (media.get("examples") or {}).values():
                example = resolve(spec, example)
                found.extend(messages_in_value(example.get("value")))
    return list(dict.fromkeys(found))


def operations(spec):
    for path, item in (spec.get("paths") or {}).items():
        for method in METHODS:
            if method in item:
                operation = item[method]
                if "operationId" not in operation or "summary" not in operation:
                    raise SystemExit(f"check-openapi page: {method.upper()} {path} needs an operationId and a summary")
                yield method.upper(), path, operation


class MainText(html.parser.HTMLParser):
    """The text inside <main> (the page's content, without the sidebar), and every link."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.main_depth = 0
        self.skip_depth = 0
        self.parts = []
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.extend(value for name, value in attrs if name == "href" and value)
        if tag in ("script", "style"):
            self.skip_depth += 1
        if tag == "main" or self.main_depth:
            self.main_depth += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip_depth:
            self.skip_depth -= 1
        if self.main_depth:
            self.main_depth -= 1

    def handle_data(self, data):
        if self.main_depth and not self.skip_depth:
            self.parts.append(data)


def route_of(link):
    """`/conversions` for a link `/conversions` or `#/conversions`; None for any other link."""
    route = link[1:] if link.startswith("#/") else link
    route = route.split("#", 1)[0].split("?", 1)[0]
    if not route.startswith("/") or route.startswith("//") or route == "/" or route.startswith("/section/"):
        return None
    return route.rstrip("/")


def squeeze(text):
    return re.sub(r"\s+", "", text)


def render(chromium, url):
    """The DOM Chromium rendered for a URL: (text of <main> without white space, links)."""
    profile = tempfile.mkdtemp(prefix="check-openapi-chromium-")
    try:
        result = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if result.returncode != 0 or "<main" not in result.stdout:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"check-openapi page: Chromium rendered no page for {url} (exit {result.returncode})")
    parser = MainText()
    parser.feed(result.stdout)
    return squeeze(" ".join(parser.parts)), parser.links


def loads_nothing_from_elsewhere(page):
    html_text = page.read_text(encoding="utf-8")
    remote = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["\']?(?:https?:)?//[^>]*>', html_text)
    return [tag[:120] for tag in remote]


def check_page(spec_path, page):
    spec = yaml.safe_load(Path(spec_path).read_text(encoding="utf-8"))
    page = Path(page).resolve()
    if not page.is_file():
        raise SystemExit(f"check-openapi page: {page} does not exist: run make docs first")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    base = page.as_uri()
    missing = [f"the page loads {tag}" for tag in loads_nothing_from_elsewhere(page)]
    checked = 0

    overview, links = render(chromium, base + "#/")
    for message in messages_in_markdown(spec["info"].get("description")):
        checked += 1
        if squeeze(message) not in overview:
            missing.append(f"overview: message {message!r}")

    # The sidebar lists the tags; a tag's view lists its operations.
    routes = set()
    for tag in {route for route in map(route_of, links) if route and route.count("/") == 1}:
        routes.add(tag)
        routes.update(filter(None, map(route_of, render(chromium, f"{base}#{tag}")[1])))

    for method, path, operation in operations(spec):
        operation_id = operation["operationId"]
        label = f"{method} {path} ({operation_id})"
        found = sorted(route for route in routes if route.endswith("/" + operation_id.lower()))
        if not found:
            missing.append(f"{label}: no view of it is linked from the sidebar (views: {sorted(routes)})")
            continue
        text, _ = render(chromium, f"{base}#{found[0]}")
        expected = [
            ("summary", operation["summary"]),
            ("method and path", f"{method} {path}"),
            *(("message", message) for message in operation_messages(spec, operation)),
        ]
        for what, value in expected:
            checked += 1
            if squeeze(value) not in text:
                missing.append(f"{label}: {what} {value!r}")

    verdict("page", missing, f"{len(missing)} of {checked} documented items are not on the rendered page",
            f"the rendered page shows all {checked} documented items")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "spec":
        check_spec(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "page":
        check_page(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
