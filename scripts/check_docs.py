"""Checks that the rendered API reference shows everything openapi.yaml documents.

Usage: check_docs.py OPENAPI_YAML PAGE_HTML

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
elements. The page must also load no script or style sheet from elsewhere. Exits 1 naming
everything missing.

CHROMIUM (default /usr/bin/chromium) names the browser.
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

import yaml

# Imported from beside this script, without writing bytecode into the repository (which
# `cargo lambda watch` would take for a change).
sys.dont_write_bytecode = True
from openapi_doc import METHODS, resolve  # noqa: E402

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
                    raise SystemExit(f"check_docs: {method.upper()} {path} needs an operationId and a summary")
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
    profile = tempfile.mkdtemp(prefix="check-docs-chromium-")
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
        raise SystemExit(f"check_docs: Chromium rendered no page for {url} (exit {result.returncode})")
    parser = MainText()
    parser.feed(result.stdout)
    return squeeze(" ".join(parser.parts)), parser.links


def loads_nothing_from_elsewhere(page):
    html_text = page.read_text(encoding="utf-8")
    remote = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["\']?(?:https?:)?//[^>]*>', html_text)
    return [tag[:120] for tag in remote]


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    spec = yaml.safe_load(Path(sys.argv[1]).read_text(encoding="utf-8"))
    page = Path(sys.argv[2]).resolve()
    if not page.is_file():
        raise SystemExit(f"check_docs: {page} does not exist: run make docs first")
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

    if missing:
        print(f"check_docs: {len(missing)} of {checked} documented items are not on the rendered page:")
        for item in missing:
            print(f"  - {item}")
        sys.exit(1)
    print(f"check_docs: the rendered page shows all {checked} documented items")


if __name__ == "__main__":
    main()
