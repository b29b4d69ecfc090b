"""A small real upstream for gateway tests, run under uvicorn in its own process.

It plays a service (echoing what it received), the tenants forward-auth endpoint and cost-intel's
budget guard, so gateway behaviour can be tested before/without the real services. Mode switches
(`/_mode?status=500`) let a test make it fail and recover.
"""

from __future__ import annotations

import asyncio
import os
import sys

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from aos_common.auth import Principal, sign_context

SECRET = os.environ.get("AOS_INTERNAL_SECRET", "aos-development-internal-secret-change-me")
NAME = os.environ.get("STANDIN_NAME", "standin")
KEYS = {
    "aos_good": Principal(
        tenant_id="tnt_a",
        principal_id="key_good",
        principal_type="api_key",
        roles=["developer"],
        key_id="key_good",
    ),
    "aos_limited": Principal(
        tenant_id="tnt_a",
        principal_id="key_limited",
        principal_type="api_key",
        roles=["developer"],
        key_id="key_limited",
        rate_limit_rpm=3,
    ),
    "aos_meter": Principal(
        tenant_id="tnt_meter",
        principal_id="key_meter",
        principal_type="api_key",
        roles=["developer"],
        key_id="key_meter",
    ),
    "aos_meter_limited": Principal(
        tenant_id="tnt_meter",
        principal_id="key_meter_limited",
        principal_type="api_key",
        roles=["developer"],
        key_id="key_meter_limited",
        rate_limit_rpm=4,
    ),
    "aos_noisy": Principal(
        tenant_id="tnt_noisy",
        principal_id="key_noisy",
        principal_type="api_key",
        roles=["developer"],
        key_id="key_noisy",
    ),
    "aos_broke": Principal(
        tenant_id="tnt_broke",
        principal_id="key_broke",
        principal_type="api_key",
        roles=["admin"],
        key_id="key_broke",
    ),
}


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _problem(status: int, detail: str, instance: str | None = None) -> Response:
    document = {"type": "about:blank", "title": "x", "status": status, "detail": detail}
    if instance is not None:  # as the tenants service writes it: its own (internal) route
        document["instance"] = instance
    return Response(
        orjson.dumps(document),
        status_code=status,
        media_type="application/problem+json",
    )


def make_app(name: str) -> Starlette:
    """One stand-in; every instance has its own mode switches and counters."""
    mode: dict[str, int] = {"status": 200}
    # `?hold=<seconds>` takes one of these slots for that long: an endpoint bounded by a finite
    # resource, as a real service is by its database pool.
    slots = asyncio.Semaphore(int(os.environ.get("STANDIN_SLOTS", "24")))
    stats: dict[str, int] = {"auth_calls": 0, "requests": 0, "usage_reported": 0}

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"}, 200 if mode.get("healthy", 1) else 503)

    async def set_mode(request: Request) -> Response:
        for key, value in request.query_params.items():
            mode[key] = int(value)
        return _json({"mode": mode, "stats": stats})

    async def echo(request: Request) -> Response:
        stats["requests"] += 1
        body = await request.body()
        delay = float(request.query_params.get("sleep", "0"))
        if delay:
            await asyncio.sleep(delay)
        hold = float(request.query_params.get("hold", "0"))
        if hold:
            async with slots:
                await asyncio.sleep(hold)
        status = int(request.query_params.get("status", mode["status"]))
        payload = {
            "service": name,
            "method": request.method,
            "path": request.url.path,
            "raw_path": request.scope["raw_path"].decode("latin-1"),
            "query": request.url.query,
            "headers": {k: v for k, v in request.headers.items()},
            "body_bytes": len(body),
            "client_port": request.client.port if request.client else None,
        }
        return _json(payload, status)

    async def stream(request: Request) -> Response:
        rows = int(request.query_params.get("rows", "1000"))
        delay = float(request.query_params.get("delay_ms", "0")) / 1000

        async def generate():  # type: ignore[no-untyped-def]
            batch = []
            for index in range(rows):
                batch.append(orjson.dumps({"row": index, "service": name, "pad": "x" * 40}) + b"\n")
                if len(batch) == 500:
                    yield b"".join(batch)
                    batch = []
                    await asyncio.sleep(delay)
            if batch:
                yield b"".join(batch)

        return StreamingResponse(generate(), media_type="application/x-ndjson")

    async def forward_auth(request: Request) -> Response:
        stats["auth_calls"] += 1
        credential = request.headers.get("x-aos-key") or ""
        if not credential:
            auth = request.headers.get("authorization", "")
            credential = auth.removeprefix("Bearer ").strip()
        if not credential:
            return _problem(401, "Authentication required", request.url.path)
        stats[f"auth:{credential}"] = stats.get(f"auth:{credential}", 0) + 1
        if credential == "aos_forbidden":
            return _problem(403, "Tenant is suspended")
        principal = KEYS.get(credential)
        if principal is None:
            return _problem(401, "Invalid API key")
        headers = {
            "X-AOS-Tenant-Id": principal.tenant_id or "",
            "X-AOS-Principal": principal.principal_id,
            "X-AOS-Roles": ",".join(principal.roles),
            **sign_context(principal, SECRET),
            "X-Seen-Forwarded-Uri": request.headers.get("x-forwarded-uri", ""),
        }
        return Response(status_code=200, headers=headers)

    async def usage(request: Request) -> Response:
        """The tenants service's usage route: the counts of requests served on cached grants."""
        if not request.headers.get("x-aos-context"):
            return _problem(401, "Internal route: a signed service context is required")
        if mode.get("usage_status", 200) != 200:
            return _problem(mode["usage_status"], "Usage reports are unavailable")
        report = orjson.loads(await request.body())
        for entry in report["entries"]:
            stats["usage_reported"] += entry["requests"]
            name = f"usage:{entry['tenant_id']}:{entry['key_id']}"
            stats[name] = stats.get(name, 0) + entry["requests"]
        return _json({"batch_id": report["batch_id"], "recorded": True})

    async def guard(request: Request) -> Response:
        tenant = request.query_params.get("tenant_id")
        if not request.headers.get("x-aos-context"):
            return _problem(401, "Internal route: a signed service context is required")
        if tenant == "tnt_broke":
            return _json(
                {
                    "allowed": False,
                    "reason": "Budget exhausted: cb_0123456789abcdef",
                    "budget_id": "cb_0123456789abcdef",
                    "remaining_cents": "0",
                }
            )
        return _json({"allowed": True, "reason": None, "budget_id": None, "remaining_cents": None})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/_mode", set_mode),
            Route("/internal/v1/auth/forward", forward_auth),
            Route("/internal/v1/auth/usage", usage, methods=["POST"]),
            Route("/internal/v1/cost/guard", guard),
            Route("/stream", stream),
            Route("/{path:path}", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
        ]
    )


app = make_app(NAME)


async def _serve_many(pairs: list[tuple[str, int]]) -> None:
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                make_app(n),
                host="127.0.0.1",
                port=p,
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
        )
        for n, p in pairs
    ]
    await asyncio.gather(*(server.serve() for server in servers))


if __name__ == "__main__":
    # `python standin.py tenants=8001 traces=8002 ...`: several stand-ins in one process.
    asyncio.run(_serve_many([(a.split("=")[0], int(a.split("=")[1])) for a in sys.argv[1:]]))
