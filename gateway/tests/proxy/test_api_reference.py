"""The merged OpenAPI document (`/openapi.json`) and the API reference page (`/docs`) of a real
gateway process in front of the five real services."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_testing.processes import DYNAMIC_YML, free_port, gateway
from gateway_testing.real import Real
from openapi_spec_validator import validate

from aos_gateway.console.static import CONTENT_SECURITY_POLICY

METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
CHROMIUM = Path("/usr/bin/chromium")


def _operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, item in document["paths"].items()
        if not path.startswith("/internal/")
        for method in item
        if method in METHODS
    ]


@pytest.fixture(scope="module")
def merged(real: Real) -> dict[str, Any]:
    response = httpx.get(real.url + "/openapi.json", timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def own_documents(real: Real) -> dict[str, dict[str, Any]]:
    return {
        name: httpx.get(process.url + "/openapi.json", timeout=30).json()
        for name, process in real.services.items()
    }


def test_openapi_json_lists_every_public_operation_of_every_service_once(
    merged: dict[str, Any], own_documents: dict[str, dict[str, Any]]
) -> None:
    expected = [op for document in own_documents.values() for op in _operations(document)]
    assert sorted(_operations(merged)) == sorted(expected)
    assert len(set(expected)) == len(expected), "two services define the same operation"


def test_operation_ids_are_unique_and_name_their_service(merged: dict[str, Any]) -> None:
    ids = [
        operation["operationId"]
        for item in merged["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(ids) == len(set(ids))
    services = ("tenants", "traces", "cost-intel", "audit-ledger", "guard-logs")
    assert all(operation_id.split("__")[0] in services for operation_id in ids)


def test_merged_document_validates_as_openapi_3_1(merged: dict[str, Any]) -> None:
    assert merged["openapi"].startswith("3.1")
    validate(merged)  # raises on any violation of the OpenAPI 3.1 schema


def test_merged_document_says_every_service_is_included(merged: dict[str, Any]) -> None:
    status = merged["info"]["x-aos-services"]
    assert status == dict.fromkeys(
        ["tenants", "traces", "cost-intel", "audit-ledger", "guard-logs"], "included"
    )
    assert "partial" not in merged["info"]["description"]


def test_a_service_that_is_down_is_left_out_and_named_in_the_description(
    real: Real, tmp_path: Path
) -> None:
    env = {**real.gateway_env, "AOS_GUARD_LOGS_URL": f"http://127.0.0.1:{free_port()}"}
    other = gateway(DYNAMIC_YML, tmp_path, env, name="gateway-guard-logs-down")
    other.start()
    try:
        other.wait_ready("/readyz", timeout=60)
        document = httpx.get(other.url + "/openapi.json", timeout=30).json()
    finally:
        other.stop()
    assert document["info"]["x-aos-services"]["guard-logs"].startswith("left out")
    assert document["info"]["x-aos-services"]["tenants"] == "included"
    assert "partial" in document["info"]["description"]
    assert "guard-logs" in document["info"]["description"]
    assert not [path for path in document["paths"] if path.startswith("/api/v1/guard/logs")]
    assert "/api/v1/tenant" in document["paths"]
    validate(document)


def test_docs_page_and_its_assets_are_served_under_the_content_security_policy(
    real: Real,
) -> None:
    page = httpx.get(real.url + "/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page.text)
    assert len(assets) == 4  # stylesheet, icon, Swagger UI, its starter
    assert "<script>" not in page.text  # no inline script: the policy would refuse it
    for asset in assets:
        response = httpx.get(real.url + asset)
        assert response.status_code == 200, asset
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_unknown_reference_asset_is_a_404_problem(real: Real) -> None:
    response = httpx.get(real.url + "/docs/assets/routes.py")  # on disk, not in the list
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "No API reference asset" in response.json()["detail"]


@pytest.mark.skipif(
    not CHROMIUM.exists() and shutil.which("chromium") is None,
    reason="the browser check needs Debian's chromium (apt-get install chromium)",
)
def test_docs_page_renders_the_reference_in_a_browser_with_no_policy_violation(
    real: Real,
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = str(CHROMIUM) if CHROMIUM.exists() else str(shutil.which("chromium"))
    messages: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.on("console", lambda message: messages.append(message.text))
            page.on("pageerror", lambda error: messages.append(str(error)))
            page.goto(real.url + "/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            title = page.inner_text(".swagger-ui .info .title")
            operations = page.locator(".opblock").count()
        finally:
            browser.close()
    assert "AOS platform API" in title
    assert operations > 20
    assert not [m for m in messages if "Content Security Policy" in m or "Refused" in m]
