"""k8s/: the overlays build, every built-in object validates with kubernetes-validate, the
Traefik CRDs use only documented fields, and the generated files match dynamic.yml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from gateway_testing.kustomize import build

from aos_gateway.k8s import render_tree

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ("dev", "prod")
K8S_VERSION = "1.30.0"
WORKLOADS = ("tenants", "traces", "cost-intel", "audit-ledger", "guard-logs", "gateway")

ROUTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "traefik.io/v1alpha1"},
        "kind": {"const": "IngressRoute"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["routes"],
            "properties": {
                "entryPoints": {"type": "array", "items": {"type": "string"}},
                "tls": {"type": "object"},
                "parentRefs": {"type": "array"},
                "routes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["match"],
                        "properties": {
                            "kind": {"enum": ["Rule"]},
                            "match": {"type": "string"},
                            "priority": {"type": "integer"},
                            "syntax": {"type": "string"},
                            "observability": {"type": "object"},
                            "middlewares": {"type": "array", "items": {"$ref": "#/$defs/ref"}},
                            "services": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["name"],
                                    "properties": {
                                        k: {}
                                        for k in (
                                            "healthCheck",
                                            "kind",
                                            "name",
                                            "namespace",
                                            "nativeLB",
                                            "nodePortLB",
                                            "passHostHeader",
                                            "port",
                                            "responseForwarding",
                                            "scheme",
                                            "serversTransport",
                                            "sticky",
                                            "strategy",
                                            "weight",
                                        )
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "ref": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}},
        }
    },
}


@pytest.fixture(scope="module")
def built() -> dict[str, list[dict[str, Any]]]:
    return {overlay: build(K8S / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def middleware_validator(official_schemas_dir: Path) -> jsonschema.Draft7Validator:
    """Traefik's Middleware CRD spec has the file provider's per-kind fields, except that a chain
    lists MiddlewareRef objects; reuse the file-provider schema's definitions."""
    file_provider = json.loads(
        (official_schemas_dir / "traefik-v3-file-provider.json").read_text()
    )
    definitions = file_provider["definitions"]
    definitions["chainMiddleware"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"middlewares": {"type": "array", "items": ROUTE_SCHEMA["$defs"]["ref"]}},
    }
    return jsonschema.Draft7Validator(
        {"definitions": definitions, "$ref": "#/definitions/httpMiddleware"}
    )


def _of(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_built_in_kinds_validate_with_kubernetes_validate(
    built: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    checked = 0
    for document in built[overlay]:
        if document["apiVersion"].startswith("traefik.io/"):
            continue
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)
        checked += 1
    assert checked >= 30


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_traefik_resources_use_only_documented_fields(
    built: dict[str, list[dict[str, Any]]],
    overlay: str,
    middleware_validator: jsonschema.Draft7Validator,
) -> None:
    routes = _of(built[overlay], "IngressRoute")
    middlewares = _of(built[overlay], "Middleware")
    assert routes and middlewares
    for route in routes.values():
        jsonschema.validate(route, ROUTE_SCHEMA)
    for middleware in middlewares.values():
        assert middleware["apiVersion"] == "traefik.io/v1alpha1"
        middleware_validator.validate(middleware["spec"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_has_service_hpa_pdb_probes_and_hardening(
    built: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    documents = built[overlay]
    deployments = _of(documents, "Deployment")
    assert set(deployments) == set(WORKLOADS)
    for name, deployment in deployments.items():
        assert name in _of(documents, "Service")
        assert (
            _of(documents, "HorizontalPodAutoscaler")[name]["spec"]["scaleTargetRef"]["name"]
            == name
        )
        assert name in _of(documents, "PodDisruptionBudget")
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert {"configMapRef": {"name": "aos-config"}} in container["envFrom"]
        assert {"secretRef": {"name": "aos-secrets"}} in container["envFrom"]
        assert deployment["metadata"]["namespace"] == {"dev": "aos-dev", "prod": "aos"}[overlay]


def test_dev_generates_its_secret_and_prod_expects_it(
    built: dict[str, list[dict[str, Any]]],
) -> None:
    assert "aos-secrets" in _of(built["dev"], "Secret")
    assert "aos-secrets" not in _of(built["prod"], "Secret")


def test_migration_job_runs_aos_migrate(built: dict[str, list[dict[str, Any]]]) -> None:
    job = _of(built["prod"], "Job")["aos-migrate"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["aos", "migrate"]
    assert container["image"] == "aos/cli:0.1.0"


def test_network_policies_deny_by_default_and_admit_only_the_edge_to_services(
    built: dict[str, list[dict[str, Any]]],
) -> None:
    policies = _of(built["prod"], "NetworkPolicy")
    assert policies["aos-default-deny"]["spec"]["podSelector"] == {}
    sources = policies["aos-services"]["spec"]["ingress"][0]["from"]
    components = {
        s["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for s in sources
        if "podSelector" in s
    }
    assert components == {"gateway", "service"}
    egress_ports = {
        p["port"] for rule in policies["aos-services"]["spec"]["egress"] for p in rule["ports"]
    }
    assert {5432, 6379} <= egress_ports


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_routes_point_at_existing_services_and_middlewares(
    built: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    services = _of(built[overlay], "Service")
    middlewares = _of(built[overlay], "Middleware")
    for route in _of(built[overlay], "IngressRoute")["aos"]["spec"]["routes"]:
        for target in route["services"]:
            ports = [p["port"] for p in services[target["name"]]["spec"]["ports"]]
            assert target["port"] in ports
        for reference in route.get("middlewares", []):
            assert reference["name"] in middlewares
    forward = middlewares["auth"]["spec"]["forwardAuth"]["address"]
    namespace = {"dev": "aos-dev", "prod": "aos"}[overlay]
    assert forward == f"http://tenants.{namespace}.svc.cluster.local:8001/internal/v1/auth/forward"


def test_generated_files_are_up_to_date_with_dynamic_yml() -> None:
    stale = [
        str(path.relative_to(REPO))
        for path, content in render_tree(REPO / "gateway" / "dynamic.yml", K8S).items()
        if not path.exists() or path.read_text() != content
    ]
    assert not stale, f"run `aos gateway render-k8s --tree k8s`; stale: {stale}"
