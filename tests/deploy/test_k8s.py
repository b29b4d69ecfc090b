"""k8s/ as an operator applies it: both overlays build with real kustomize, every built-in object
validates against the Kubernetes 1.30 schemas, every custom resource (Traefik, cert-manager, the
Prometheus Operator) validates against the models npm's @kubernetes-models packages generate from
those projects' own API types, unknown fields refused; the HPAs own replica counts, and a new
release re-applies without touching an immutable field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from aos_common.services import GATEWAY, SERVICES
from aos_gateway.k8s import render_tree

from .conftest import K8S, NAMESPACES, OVERLAYS, REPO, CrdValidator, Documents, of_kind

K8S_VERSION = "1.30.0"
WORKLOADS = tuple(spec.name for spec in (*SERVICES, GATEWAY))
BUILT_IN_GROUPS = ("v1", "apps/", "batch/", "policy/", "autoscaling/", "networking.k8s.io/")

# A misspelling per custom kind, at some depth: (path to the object, its field, the misspelling).
MISSPELLINGS: dict[str, tuple[tuple[str | int, ...], str, str]] = {
    "IngressRoute": (("spec", "routes", 0, "services", 0), "port", "prot"),
    "Middleware": (("spec", "buffering"), "maxRequestBodyBytes", "maxRequestBodyByte"),
    "Certificate": (("spec",), "dnsNames", "dnsName"),
    "ServiceMonitor": (("spec", "endpoints", 0), "path", "pth"),
}
# Fields Kubernetes refuses to change on an existing object (an apply would need a delete).
IMMUTABLE: dict[str, tuple[tuple[str, ...], ...]] = {
    "Deployment": (("spec", "selector"),),
    "StatefulSet": (
        ("spec", "selector"),
        ("spec", "volumeClaimTemplates"),
        ("spec", "serviceName"),
    ),
    "DaemonSet": (("spec", "selector"),),
    "Job": (("spec", "template"), ("spec", "selector"), ("spec", "completions")),
    "Service": (("spec", "clusterIP"), ("spec", "ipFamilies")),
    "PersistentVolumeClaim": (("spec", "storageClassName"), ("spec", "accessModes")),
    "Secret": (("type",),),
}


def _at(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = document
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _images(documents: Documents) -> set[str]:
    return {
        container["image"]
        for document in documents
        if document["kind"] == "Deployment"
        for key in ("initContainers", "containers")
        for container in document["spec"]["template"]["spec"].get(key, [])
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_built_in_kinds_validate_against_the_kubernetes_schemas(
    built: dict[str, Documents], overlay: str
) -> None:
    checked = 0
    for document in built[overlay]:
        if document["apiVersion"].startswith(BUILT_IN_GROUPS):
            kubernetes_validate.validate(document, K8S_VERSION, strict=True)
            checked += 1
    assert checked >= 30


def _custom_resources(documents: Documents) -> Documents:
    return [d for d in documents if not d["apiVersion"].startswith(BUILT_IN_GROUPS)]


def test_custom_resources_validate_against_their_projects_api_models(
    built: dict[str, Documents], validate_custom_resources: CrdValidator
) -> None:
    documents = [d for overlay in OVERLAYS for d in _custom_resources(built[overlay])]
    assert {d["kind"] for d in documents} == set(MISSPELLINGS)
    assert validate_custom_resources(documents) == []


def test_a_misspelt_field_in_any_custom_resource_is_refused(
    built: dict[str, Documents], validate_custom_resources: CrdValidator
) -> None:
    misspelt: dict[str, str] = {}  # document identity -> the misspelling it carries
    documents = []
    for kind, (path, field, misspelling) in MISSPELLINGS.items():
        document = copy.deepcopy(next(iter(of_kind(built["prod"], kind).values())))
        node: Any = document
        for part in path:
            node = node[part]
        node[misspelling] = node.pop(field)
        documents.append(document)
        misspelt[f"{kind}/{NAMESPACES['prod']}/{document['metadata']['name']}"] = misspelling
    errors = validate_custom_resources(documents)
    assert sorted(error["document"] for error in errors) == sorted(misspelt)
    for error in errors:
        assert f'"{misspelt[error["document"]]}"' in error["message"], error
        assert "does not exist" in error["message"], error


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_deployment_sets_replicas_because_its_hpa_owns_them(
    built: dict[str, Documents], overlay: str
) -> None:
    hpas = of_kind(built[overlay], "HorizontalPodAutoscaler")
    for name, deployment in of_kind(built[overlay], "Deployment").items():
        assert hpas[name]["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert "replicas" not in deployment["spec"], name


def test_every_multi_replica_workload_has_a_pdb_and_spreads_over_zones_and_nodes(
    built: dict[str, Documents],
) -> None:
    documents = built["prod"]
    pdbs = of_kind(documents, "PodDisruptionBudget")
    for name, hpa in of_kind(documents, "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["minReplicas"] >= 2
        assert 1 <= pdbs[name]["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
        pod = of_kind(documents, "Deployment")[name]["spec"]["template"]["spec"]
        spread = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert spread == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        for constraint in pod["topologySpreadConstraints"]:
            assert constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned_to_a_version_never_latest(
    built: dict[str, Documents], overlay: str
) -> None:
    images = _images(built[overlay])
    assert images
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name.startswith("aos/") and tag[:1].isdigit() and tag != "latest", image


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_reads_its_own_database_url_and_migrates_under_the_advisory_lock(
    built: dict[str, Documents], overlay: str
) -> None:
    deployments = of_kind(built[overlay], "Deployment")
    assert "gateway" in deployments and not deployments["gateway"]["spec"]["template"]["spec"].get(
        "initContainers"
    )
    for spec in SERVICES:
        pod = deployments[spec.name]["spec"]["template"]["spec"]
        (init,) = pod["initContainers"]
        assert init["command"] == ["python", "-m", "aos_common.migrations", spec.package]
        assert init["image"] == pod["containers"][0]["image"]
        key = spec.name.upper().replace("-", "_") + "_DATABASE_URL"
        for container in (init, pod["containers"][0]):
            database = next(e for e in container["env"] if e["name"] == "DATABASE_URL")
            assert database["valueFrom"]["secretKeyRef"] == {"name": "aos-secrets", "key": key}
    if overlay == "dev":
        secret = of_kind(built[overlay], "Secret")["aos-secrets"]
        for spec in SERVICES:
            assert spec.name.upper().replace("-", "_") + "_DATABASE_URL" in secret["data"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_ledger_mounts_the_signing_key_secret(
    built: dict[str, Documents], overlay: str
) -> None:
    for name, deployment in of_kind(built[overlay], "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        assert secrets == ({"aos-ledger-signing-key"} if name == "audit-ledger" else set())
    ledger = of_kind(built[overlay], "Deployment")["audit-ledger"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in ledger["containers"][0]["env"]}
    assert env["AOS_LEDGER_SIGNING_KEY_FILE"] == "/var/run/secrets/aos/ledger/signing-key"
    generated = of_kind(built[overlay], "Secret")
    if overlay == "dev":
        assert "signing-key" in generated["aos-ledger-signing-key"]["data"]
    else:
        assert not generated, "production secrets are provided by the operator, never generated"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_telemetry_goes_to_the_collector_and_every_process_is_scraped(
    built: dict[str, Documents], overlay: str
) -> None:
    config = of_kind(built[overlay], "ConfigMap")["aos-config"]["data"]
    assert config["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://otel-collector.monitoring.")
    monitors = of_kind(built[overlay], "ServiceMonitor")
    services = of_kind(built[overlay], "Service")
    assert set(monitors) == set(WORKLOADS)
    for name, monitor in monitors.items():
        labels = services[name]["metadata"]["labels"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {p["name"] for p in services[name]["spec"]["ports"]}


def test_a_new_release_changes_no_immutable_field(
    render_with_tag: Callable[[str, str], Documents],
) -> None:
    for overlay in OVERLAYS:
        current, following = render_with_tag(overlay, "0.1.0"), render_with_tag(overlay, "0.2.0")
        assert _images(current) != _images(following)
        assert all(image.endswith(":0.2.0") for image in _images(following))
        key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
        before = {key(d): d for d in current}
        after = {key(d): d for d in following}
        assert before.keys() == after.keys()
        for identity, document in before.items():
            for path in IMMUTABLE.get(identity[0], ()):
                assert _at(document, path) == _at(after[identity], path), (identity, path)
            if document["kind"] in ("Secret", "ConfigMap") and document.get("immutable"):
                assert document.get("data") == after[identity].get("data"), identity
        assert "Job" not in {kind for kind, _ in before}, "a Job's pod template is immutable"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_lands_in_the_overlay_namespace(
    built: dict[str, Documents], overlay: str
) -> None:
    for document in built[overlay]:
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == NAMESPACES[overlay], document["kind"]


def test_generated_files_are_up_to_date_with_dynamic_yml() -> None:
    stale = [
        str(path.relative_to(REPO))
        for path, content in render_tree(REPO / "gateway" / "dynamic.yml", K8S).items()
        if not path.exists() or path.read_text() != content
    ]
    assert not stale, f"run `aos gateway render-k8s --tree k8s`; stale: {stale}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_notifying_services_reach_public_https(
    built: dict[str, Documents], overlay: str
) -> None:
    outside = [
        policy
        for policy in of_kind(built[overlay], "NetworkPolicy").values()
        for rule in policy["spec"].get("egress", [])
        for peer in rule.get("to", [])
        if "ipBlock" in peer
    ]
    (policy,) = outside
    (selector,) = policy["spec"]["podSelector"]["matchExpressions"]
    assert sorted(selector["values"]) == ["cost-intel", "traces"]
    (rule,) = policy["spec"]["egress"]
    assert [p["port"] for p in rule["ports"]] == [443]
    assert "10.0.0.0/8" in rule["to"][0]["ipBlock"]["except"]
