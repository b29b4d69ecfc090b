"""`aos prices load FILE` against a real cost-intel server (uvicorn in a thread)."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from aos_cost_intel.cli import prices_app
from aos_cost_intel.domain.pricing import price_book_document, shipped_price_book
from aos_cost_intel.main import create_app
from aos_cost_intel.settings import CostIntelSettings

from .conftest import OPERATOR_KEY  # type: ignore[import-not-found]

runner = CliRunner()


@pytest.fixture(scope="module")
def server_url(settings: CostIntelSettings) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def test_load_puts_a_new_version_and_it_becomes_current(server_url: str, tmp_path: Path) -> None:
    version = "cli-" + secrets.token_hex(4)
    book = {"version": version, "prices": [{"pattern": "cli-model", "input": "1", "output": "2"}]}
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(book))
    result = runner.invoke(
        prices_app, ["load", str(path), "--url", server_url, "--key", OPERATOR_KEY]
    )
    assert result.exit_code == 0, result.output
    assert f"Loaded price version {version}" in result.output
    shown = runner.invoke(prices_app, ["show", "--url", server_url, "--key", OPERATOR_KEY])
    assert version in shown.output
    path.write_text(json.dumps(price_book_document(shipped_price_book())))
    restored = runner.invoke(
        prices_app, ["load", str(path), "--url", server_url, "--key", OPERATOR_KEY]
    )
    assert "Re-activated price version 2025.11.0" in restored.output


def test_an_invalid_file_is_refused_before_any_request(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps({"version": "x", "prices": [{"pattern": "(", "input": 1, "output": 1}]})
    )
    result = runner.invoke(
        prices_app, ["load", str(path), "--url", "http://127.0.0.1:9", "--key", OPERATOR_KEY]
    )
    assert result.exit_code == 2
    assert "prices[0].pattern" in result.output


def test_a_tenant_key_is_refused(server_url: str, tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(price_book_document(shipped_price_book())))
    result = runner.invoke(
        prices_app, ["load", str(path), "--url", server_url, "--key", "aos_not_a_key"]
    )
    assert result.exit_code == 1


def test_shipped_prints_a_loadable_document(tmp_path: Path) -> None:
    out = tmp_path / "shipped.json"
    assert runner.invoke(prices_app, ["shipped", "--output", str(out)]).exit_code == 0
    assert json.loads(out.read_text())["version"] == "2025.11.0"
