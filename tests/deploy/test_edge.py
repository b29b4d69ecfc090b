"""One policy edge on Kubernetes: walking the rendered IngressRoute and NetworkPolicies proves that
from the ingress (Traefik) every API path reaches a service only through the gateway, except the
documented direct ingest routes of the traces service, which authenticate API keys themselves."""

from __future__ import annotations

import re
from typing import Any

import pytest

from aos_gateway.k8s import OTLP_GRPC_PATH, OTLP_GRPC_PORT

from .conftest import NAMESPACES, OVERLAYS, Documents, of_kind

DIRECT_INGEST_PATHS = {"/api/v1/traces/batch", "/v1/traces"}
TRAEFIK_NAMESPACE = {"kubernetes.io/metadata.name": "traefik"}
TRAEFIK_POD = {"app.kubernetes.io/name": "traefik"}
MATCHER = re.compile(r"(Path|PathPrefix)\(`([^`]*)`\)")


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector with matchLabels only (all k8s/ uses; anything else fails the test)."""
    if selector is None:
        return True
    assert set(selector) <= {"matchLabels"}, selector
    return selector.get("matchLabels", {}).items() <= labels.items()


def _peer_admits(
    peer: dict[str, Any], namespace: str, source: tuple[dict[str, str], dict[str, str]]
) -> bool:
    source_namespace, source_pod = source
    if "ipBlock" in peer:
        return True  # an address range may hold the ingress: counts as open
    if "namespaceSelector" not in peer:  # a pod selector alone means this namespace only
        return source_namespace.get("kubernetes.io/metadata.name") == namespace and _selects(
            peer.get("podSelector"), source_pod
        )
    return _selects(peer["namespaceSelector"], source_namespace) and _selects(
        peer.get("podSelector"), source_pod
    )


def _port_admits(rule: dict[str, Any], port: int) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return any(p["port"] <= port <= p.get("endPort", p["port"]) for p in ports)


def reachable_from(
    documents: Documents, namespace: str, source: tuple[dict[str, str], dict[str, str]]
) -> set[tuple[str, int]]:
    """(deployment, container port) pairs a pod with these labels may open, by NetworkPolicy
    semantics: a pod selected by any ingress policy admits only what one of them allows."""
    policies = [
        p for p in of_kind(documents, "NetworkPolicy").values()
        if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
    ]  # fmt: skip
    open_ports = set()
    for name, deployment in of_kind(documents, "Deployment").items():
        template = deployment["spec"]["template"]
        labels = template["metadata"]["labels"]
        selecting = [p for p in policies if _selects(p["spec"]["podSelector"], labels)]
        assert selecting, f"{name} is selected by no ingress policy (not isolated)"
        for container in template["spec"]["containers"]:
            for port in (p["containerPort"] for p in container.get("ports", [])):
                if any(
                    _port_admits(rule, port)
                    and (
                        "from" not in rule
                        or any(_peer_admits(peer, namespace, source) for peer in rule["from"])
                    )
                    for policy in selecting
                    for rule in policy["spec"].get("ingress", [])
                ):
                    open_ports.add((name, port))
    return open_ports


def _backend(documents: Documents, service_name: str, port: int) -> tuple[str, int]:
    """The (deployment, container port) behind a Service port."""
    service = of_kind(documents, "Service")[service_name]
    (service_port,) = [p for p in service["spec"]["ports"] if p["port"] == port]
    for name, deployment in of_kind(documents, "Deployment").items():
        template = deployment["spec"]["template"]
        if _selects({"matchLabels": service["spec"]["selector"]}, template["metadata"]["labels"]):
            for container in template["spec"]["containers"]:
                for container_port in container["ports"]:
                    if service_port["targetPort"] in (
                        container_port["name"],
                        container_port["containerPort"],
                    ):
                        return name, container_port["containerPort"]
    raise AssertionError(f"Service {service_name}:{port} reaches no container port")


def _routes(documents: Documents) -> list[dict[str, Any]]:
    assert not of_kind(documents, "Ingress"), "only the IngressRoute may expose AOS"
    return [
        r for route in of_kind(documents, "IngressRoute").values() for r in route["spec"]["routes"]
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_route_goes_to_the_gateway_except_the_documented_direct_ingest(
    built: dict[str, Documents], overlay: str
) -> None:
    direct: set[tuple[str, str, int]] = set()
    for route in _routes(built[overlay]):
        for target in route["services"]:
            backend = _backend(built[overlay], target["name"], target["port"])
            if backend == ("gateway", 8080):
                continue
            matchers = MATCHER.findall(route["match"])
            assert matchers and "&&" not in route["match"], route["match"]
            for kind, path in matchers:
                direct.add((kind, path, backend[1]))
            assert backend[0] == "traces", route
    assert direct == {
        *(("Path", path, 8002) for path in DIRECT_INGEST_PATHS),
        ("PathPrefix", OTLP_GRPC_PATH, OTLP_GRPC_PORT),
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_from_the_ingress_only_the_gateway_and_the_ingest_ports_are_open(
    built: dict[str, Documents], overlay: str
) -> None:
    documents = built[overlay]
    opened = reachable_from(documents, NAMESPACES[overlay], (TRAEFIK_NAMESPACE, TRAEFIK_POD))
    assert opened == {("gateway", 8080), ("traces", 8002), ("traces", OTLP_GRPC_PORT)}
    routed = {
        _backend(documents, target["name"], target["port"])
        for route in _routes(documents)
        for target in route["services"]
    }
    assert routed == opened  # every open port is a routed one, and routed only as above


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_pod_in_any_other_namespace_reaches_nothing(
    built: dict[str, Documents], overlay: str
) -> None:
    stranger = ({"kubernetes.io/metadata.name": "default"}, {"app": "anything"})
    assert reachable_from(built[overlay], NAMESPACES[overlay], stranger) == set()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_edge_serves_tls_from_the_cert_manager_certificate_only(
    built: dict[str, Documents], overlay: str
) -> None:
    certificates = of_kind(built[overlay], "Certificate")
    for route in of_kind(built[overlay], "IngressRoute").values():
        assert route["spec"]["entryPoints"] == ["websecure"]
        secret = route["spec"]["tls"]["secretName"]
        assert secret in {c["spec"]["secretName"] for c in certificates.values()}
