"""What check_docs.py and check_openapi.py both need of openapi.yaml: the HTTP methods a path
item may hold, and following local `$ref`s."""

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


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
