"""Merging the services' OpenAPI documents into the gateway's one document."""

from __future__ import annotations

from aos_gateway.openapi import merge_openapi


def _doc(paths: dict, schemas: dict) -> dict:
    return {"openapi": "3.1.0", "paths": paths, "components": {"schemas": schemas}}


def test_internal_paths_are_left_out_and_operation_ids_name_their_service() -> None:
    merged = merge_openapi(
        [
            (
                "tenants",
                _doc(
                    {
                        "/api/v1/tenant": {"get": {"operationId": "read"}},
                        "/internal/v1/auth/verify": {"get": {"operationId": "verify"}},
                    },
                    {},
                ),
            )
        ],
        version="1",
    )
    assert list(merged["paths"]) == ["/api/v1/tenant"]
    assert merged["paths"]["/api/v1/tenant"]["get"]["operationId"] == "tenants__read"


def test_a_schema_name_two_services_define_differently_is_prefixed_and_refs_follow() -> None:
    ref = {"$ref": "#/components/schemas/Item"}
    merged = merge_openapi(
        [
            (
                "traces",
                _doc({"/a": {"get": {"responses": {"200": ref}}}}, {"Item": {"type": "string"}}),
            ),
            (
                "cost-intel",
                _doc({"/b": {"get": {"responses": {"200": ref}}}}, {"Item": {"type": "integer"}}),
            ),
        ],
        version="1",
    )
    schemas = merged["components"]["schemas"]
    assert schemas["Item"] == {"type": "string"}
    assert schemas["CostIntelItem"] == {"type": "integer"}
    assert merged["paths"]["/b"]["get"]["responses"]["200"]["$ref"].endswith("/CostIntelItem")
    assert merged["paths"]["/a"]["get"]["responses"]["200"]["$ref"].endswith("/Item")


def test_identical_schemas_are_shared() -> None:
    same = {"Meta": {"type": "object"}}
    merged = merge_openapi([("a", _doc({}, same)), ("b", _doc({}, same))], version="1")
    assert list(merged["components"]["schemas"]) == ["Meta"]
