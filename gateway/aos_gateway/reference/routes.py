"""`/openapi.json` (the merged document) and `/docs` (an API reference page) at the gateway.

The page is Swagger UI, with its assets taken from the `fastapi-offline` package: it ships
swagger-ui-dist's bundle and stylesheet inside a PyPI wheel (kept in step with Swagger UI
releases, depending only on FastAPI, which the gateway has anyway), so the gateway image serves
the page with no CDN, no Node build and no change to the console's bundle. Only its files are
used: its page starts Swagger UI with an inline script, which the gateway's Content-Security-
Policy (script-src 'self', the console's) forbids, so the page and its starter script are this
package's own files. Swagger UI rather than Redoc or Scalar: both of those inject `<style>`
elements at run time, which the same policy (style-src 'self') refuses.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse, JSONResponse, Response

from aos_common.errors import NotFound
from aos_gateway.console.static import SECURITY_HEADERS
from aos_gateway.state import GatewayStateDep

router = APIRouter(include_in_schema=False)
OWN_FILES = Path(__file__).resolve().parent / "static"
SWAGGER_FILES = Path(str(resources.files("fastapi_offline") / "static"))
ASSETS = {
    "init.js": OWN_FILES / "init.js",
    "swagger-ui-bundle.js": SWAGGER_FILES / "swagger-ui-bundle.js",
    "swagger-ui.css": SWAGGER_FILES / "swagger-ui.css",
    "favicon.png": SWAGGER_FILES / "favicon.png",
}
ASSET_CACHE = "public, max-age=3600"


@router.get("/openapi.json")
async def openapi_document(state: GatewayStateDep) -> Response:
    document = await state.require_live().reference.get()
    return JSONResponse(document, headers={"Cache-Control": "no-cache"})


@router.get("/docs")
async def reference_page() -> Response:
    return FileResponse(
        OWN_FILES / "index.html",
        media_type="text/html",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


@router.get("/docs/assets/{name}")
async def reference_asset(name: str) -> Response:
    """One of the page's few files (a fixed list: nothing else on disk is reachable)."""
    path = ASSETS.get(name)
    if path is None:
        raise NotFound(f"No API reference asset named {name!r}")
    return FileResponse(path, headers={**SECURITY_HEADERS, "Cache-Control": ASSET_CACHE})
