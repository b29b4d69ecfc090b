"""Serving the built console (`console/dist`, made by `npm run build` or `aos up`).

`index.html` is never cached (it names the current hashed bundles); files under `assets/` carry a
content hash in their names, so they are immutable for a year. Every console response carries a
strict Content-Security-Policy: scripts, styles, images and API calls from this origin only, no
inline script, no framing.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, HTMLResponse, Response

from aos_common.errors import NotFound

router = APIRouter(include_in_schema=False)
REPO_DIST = Path(__file__).resolve().parents[3] / "console" / "dist"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
IMMUTABLE = "public, max-age=31536000, immutable"
NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>AOS console</title>
</head><body><main><h1>The AOS console is not built</h1><p>Run <code>make up</code> (it builds
the console when Node is available) or <code>npm ci &amp;&amp; npm run build</code> in
<code>console/</code>. The API answers under <code>/api/v1</code> meanwhile.</p></main></body></html>
"""


def dist_dir() -> Path:
    """Where the built console is: `AOS_CONSOLE_DIST`, else `console/dist` of this checkout."""
    configured = os.environ.get("AOS_CONSOLE_DIST")
    return Path(configured) if configured else REPO_DIST


@router.get("/")
async def index() -> Response:
    page = dist_dir() / "index.html"
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    if not page.is_file():
        return HTMLResponse(NOT_BUILT, headers=headers)
    return FileResponse(page, media_type="text/html", headers=headers)


@router.get("/console/assets/{name}")
async def asset(name: str, request: Request) -> Response:
    """A hashed bundle file; names are plain file names (no directories), anything else is 404."""
    assets = dist_dir() / "assets"
    path = assets / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise NotFound(f"No console asset named {name!r}")
    return FileResponse(path, headers={**SECURITY_HEADERS, "Cache-Control": IMMUTABLE})
