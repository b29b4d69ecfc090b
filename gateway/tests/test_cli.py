"""`aos gateway render-k8s` and `aos gateway check` (the Typer sub-app the CLI mounts)."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from aos_gateway.cli import gateway_app

DYNAMIC_YML = Path(__file__).resolve().parents[1] / "dynamic.yml"
runner = CliRunner()


def test_render_k8s_prints_the_tls_edge_to_the_gateway_and_the_ingest_body_limit() -> None:
    result = runner.invoke(gateway_app, ["render-k8s", "--namespace", "staging"])
    assert result.exit_code == 0, result.output
    documents = [d for d in yaml.safe_load_all(result.output) if d]
    assert [d["kind"] for d in documents] == ["IngressRoute", "Middleware"]
    route = documents[0]["spec"]
    assert route["tls"] == {"secretName": "aos-tls"}
    assert route["routes"][-1]["services"] == [{"name": "gateway", "port": 8080}]
    limit = yaml.safe_load(DYNAMIC_YML.read_text())["http"]["middlewares"]["body-limit-ingest"]
    assert documents[1]["spec"] == limit
    assert all(d["metadata"]["namespace"] == "staging" for d in documents)


def test_render_k8s_tree_writes_the_generated_files(tmp_path: Path) -> None:
    result = runner.invoke(gateway_app, ["render-k8s", "--tree", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "base" / "gateway-dynamic.yaml").exists()
    assert (tmp_path / "overlays" / "prod" / "traefik.yaml").exists()


def test_render_k8s_refuses_a_broken_document(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("http:\n  middlewares:\n    z: {compress: {}}\n")
    result = runner.invoke(gateway_app, ["render-k8s", "--document", str(broken)])
    assert result.exit_code == 2
    assert "unknown middleware kind 'compress'" in result.output


def test_check_lists_routers_in_priority_order_and_marks_budget_routes() -> None:
    result = runner.invoke(gateway_app, ["check", "--document", str(DYNAMIC_YML)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "tenants-health" in lines[0]
    assert any("runs-start" in line and "[budget]" in line for line in lines)
