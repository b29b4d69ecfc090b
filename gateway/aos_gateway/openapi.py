"""One OpenAPI document for everything the gateway serves, merged from each service's own.

The console's typed client is generated from it (`console/scripts/gen-api.mjs` reads what
`python -m aos_gateway.openapi` prints), and the gateway can serve the same merge at run time from
the services' `/openapi.json`: the merge is a pure function over the documents, kept here once.

Only public paths are kept (`/internal/...` is never routed by the gateway). Component schemas
with the same name and the same content are shared; a name two services define differently is
prefixed with the service's name in the second document, and its references are rewritten.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

TITLE = "AOS platform API (through the gateway)"
SCHEMA_PREFIX = "#/components/schemas/"


def _rewrite_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(SCHEMA_PREFIX):
                name = value[len(SCHEMA_PREFIX) :]
                out[key] = SCHEMA_PREFIX + renames.get(name, name)
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _prefix(service: str) -> str:
    return "".join(part.capitalize() for part in service.replace("_", "-").split("-"))


def merge_openapi(documents: Iterable[tuple[str, Mapping[str, Any]]], *, version: str) -> dict:
    """Merge `(service name, OpenAPI document)` pairs into one document (public paths only)."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for service, document in documents:
        own_schemas: dict[str, Any] = dict(document.get("components", {}).get("schemas", {}))
        renames: dict[str, str] = {}
        for name, schema in own_schemas.items():
            if name in schemas and schemas[name] != schema:
                renames[name] = f"{_prefix(service)}{name}"
        for name, schema in own_schemas.items():
            schemas[renames.get(name, name)] = _rewrite_refs(schema, renames)
        for path, item in document.get("paths", {}).items():
            if path.startswith("/internal/"):
                continue
            rewritten = _rewrite_refs(item, renames)
            for operation in rewritten.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    operation["operationId"] = f"{service}__{operation['operationId']}"
            paths.setdefault(path, {}).update(rewritten)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def service_documents() -> list[tuple[str, dict]]:
    """Each service app's own document, built in process (no server, no database needed)."""
    from aos_audit_ledger.main import create_app as audit_ledger
    from aos_cost_intel.main import create_app as cost_intel
    from aos_guard_logs.main import create_app as guard_logs
    from aos_tenants.main import create_app as tenants
    from aos_traces.main import create_app as traces

    factories = {
        "tenants": tenants,
        "traces": traces,
        "cost-intel": cost_intel,
        "audit-ledger": audit_ledger,
        "guard-logs": guard_logs,
    }
    return [(name, factory().openapi()) for name, factory in factories.items()]


def main() -> None:
    """Print the merged document (sorted keys, so the generated client is stable)."""
    merged = merge_openapi(service_documents(), version="0.1.0")
    sys.stdout.write(json.dumps(merged, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
