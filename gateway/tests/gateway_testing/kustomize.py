"""A small, strict subset of `kustomize build`: exactly the features k8s/ uses, so the overlays
can be built and validated in a test without the kustomize binary.

Supported: resources (files and directories), namespace, images (newName/newTag), replicas,
secretGenerator/configMapGenerator with literals (with generatorOptions.disableNameSuffixHash, which
k8s/ always sets), and inline JSON 6902 patches with a kind/name target. Anything else in a
kustomization is an error, so k8s/ cannot silently start depending on an unsupported feature.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "images",
    "replicas",
    "generatorOptions",
    "secretGenerator",
    "configMapGenerator",
    "patches",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def _load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _literals(literals: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in literals)


def _pointer(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for raw in path.lstrip("/").split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        parts.append(int(token) if token.isdigit() else token)
    return parts


def _apply(document: dict[str, Any], operation: dict[str, Any]) -> None:
    *parents, last = _pointer(operation["path"])
    node: Any = document
    for part in parents:
        node = node[part]
    if operation["op"] == "replace":
        node[last]
        node[last] = copy.deepcopy(operation["value"])
    elif operation["op"] == "add":
        if isinstance(node, list) and last == "-":
            node.append(copy.deepcopy(operation["value"]))
        else:
            node[last] = copy.deepcopy(operation["value"])
    elif operation["op"] == "remove":
        del node[last]
    else:
        raise ValueError(f"unsupported patch op {operation['op']!r}")


def _matches(document: dict[str, Any], target: dict[str, Any]) -> bool:
    return all(
        (document.get("kind") if key == "kind" else document["metadata"].get(key)) == value
        for key, value in target.items()
    )


def build(directory: Path) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise ValueError(f"{directory}: unsupported kustomization fields {sorted(unknown)}")
    documents: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        documents.extend(build(path) if path.is_dir() else _load(path))
    options = kustomization.get("generatorOptions", {})
    generators = [("Secret", g) for g in kustomization.get("secretGenerator", [])]
    generators += [("ConfigMap", g) for g in kustomization.get("configMapGenerator", [])]
    for kind, generator in generators:
        if not options.get("disableNameSuffixHash"):
            raise ValueError("generators must set generatorOptions.disableNameSuffixHash")
        if generator.get("behavior", "create") != "create":
            raise ValueError("only behavior: create is supported")
        data = _literals(generator.get("literals", []))
        resource: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": generator["name"]},
        }
        if kind == "Secret":
            resource["type"] = "Opaque"
            resource["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        else:
            resource["data"] = data
        documents.append(resource)
    for patch in kustomization.get("patches", []):
        operations = yaml.safe_load(patch["patch"])
        targets = [d for d in documents if _matches(d, patch["target"])]
        if not targets:
            raise ValueError(f"{directory}: patch target {patch['target']} matches nothing")
        for document in targets:
            for operation in operations:
                _apply(document, operation)
    replicas = {item["name"]: item["count"] for item in kustomization.get("replicas", [])}
    images = {item["name"]: item for item in kustomization.get("images", [])}
    namespace = kustomization.get("namespace")
    for document in documents:
        name = document["metadata"]["name"]
        if document["kind"] == "Deployment" and name in replicas:
            document["spec"]["replicas"] = replicas[name]
        if document["kind"] in ("Deployment", "Job"):
            for container in document["spec"]["template"]["spec"]["containers"]:
                image_name = container["image"].rsplit(":", 1)[0]
                if image_name in images:
                    rule = images[image_name]
                    container["image"] = (
                        f"{rule.get('newName', image_name)}:{rule.get('newTag', 'latest')}"
                    )
        if namespace and document["kind"] not in CLUSTER_SCOPED:
            document["metadata"]["namespace"] = namespace
    return documents
