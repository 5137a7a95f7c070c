"""Checks openapi.yaml on its own, with no server: the document, then its examples.

Usage: check_openapi.py OPENAPI_YAML

1. Schemathesis loads it and validates it against the OpenAPI 3.1 meta-schema (what
   `schemathesis run` would refuse to start on), and every operation must load.
2. Every example (request bodies, parameters, responses; `example` and each `examples` entry)
   must be valid for its schema, formats included (`uuid`, `date-time`), so that the documented
   examples are answers the API can give and requests it accepts as well-formed.
3. The README's table of request fields names the fields of `NewConversion`, says which are
   required as its schema does, and states each of its limits.

Exits 1 naming each problem.
"""

import sys
from pathlib import Path

import jsonschema_rs
import schemathesis
import yaml

# Imported from beside this script, without writing bytecode into the repository (which
# `cargo lambda watch` would take for a change).
sys.dont_write_bytecode = True
from openapi_doc import METHODS, resolve  # noqa: E402
from schemathesis.config import SchemathesisConfig


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


def readme_problems(spec, readme):
    """What the README's request field table says differently from the `NewConversion` schema."""
    schema = spec["components"]["schemas"]["NewConversion"]
    rows = {}
    for line in readme.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4:
            rows[cells[0].strip("`")] = (cells[2], cells[3])
    problems = []
    if set(rows) != set(schema["properties"]):
        problems.append(f"README fields {sorted(rows)} are not NewConversion's {sorted(schema['properties'])}")
    for name, (required, notes) in rows.items():
        if (required == "yes") != (name in schema.get("required", [])):
            problems.append(f"README: {name} is required: {required}; openapi.yaml disagrees")
        limits = []

        def walk(node):
            if isinstance(node, dict):
                for key in ("maxLength", "maxProperties", "maximum", "exclusiveMaximum"):
                    if isinstance(node.get(key), int):
                        limits.append(node[key])
                for value in node.values():
                    walk(value)

        walk(schema["properties"].get(name, {}))
        for limit in limits:
            power = len(str(limit)) - 1
            spellings = {str(limit), f"{limit:,}", f"10^{power}" if limit == 10**power else str(limit)}
            if not any(spelling in notes for spelling in spellings):
                problems.append(f"README: {name}'s notes do not state its limit {limit:,}")
    return problems


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    path = Path(sys.argv[1])
    problems = []
    readme = path.parent / "README.md"

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

    problems += readme_problems(spec, readme.read_text(encoding="utf-8"))

    if problems:
        print(f"check_openapi: {len(problems)} problems in {path}:")
        for problem in problems:
            print(f"  - {problem}")
        sys.exit(1)
    print(f"check_openapi: {path} is valid OpenAPI; {operations} operations load; all {examples} examples match their schemas; the README's request fields agree")


if __name__ == "__main__":
    main()
