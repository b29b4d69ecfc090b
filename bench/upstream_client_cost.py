"""CPU per upstream request of the gateway's HTTP/1.1 client (aos_gateway.proxy.h1client) against
the well-kept async clients it could be replaced by: httpx, httpcore (httpx's transport alone)
and aiohttp, all pooled keep-alive, interleaved in one run.

Why it exists: every proxied request makes one upstream request (two on a forward-auth cache
miss), and keeping a hand-written client rests on this figure (issue 18: keep it only if it stays
clearly ahead). CPU is this process's user + system time per request (getrusage), which does not
depend on how busy the shared machine is; the server runs in a process of its own (a minimal
asyncio HTTP/1.1 responder) and is not counted. A GET with a small JSON answer and a POST of 1 KiB,
each sequential and with 8 callers at once as under load.

    uv run python bench/upstream_client_cost.py [--requests 5000 --rounds 3]

Writes the "upstream_client_cost" section of docs/PERFORMANCE.md unless --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import httpcore
import httpx
import uvloop
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "gateway"))

from _support import PERFORMANCE, free_port, write_performance_section  # noqa: E402

from aos_gateway.proxy.h1client import H1Pool  # noqa: E402

console = Console()
Call = Callable[[], Awaitable[bytes]]
ANSWER = b'{"data": {"id": "trc_0123456789abcdef", "status": "ok"}, "meta": {}}'
BODY = b'{"payload": "' + b"x" * 1000 + b'"}'
HEADERS = [("host", "bench"), ("accept", "application/json"), ("x-request-id", "req_bench")]
SHAPES = ("GET", "POST 1 KiB")
CLEARLY_AHEAD = 0.67  # at most two thirds of the best library's CPU, or the library wins


# --- the server (its own process) ----------------------------------------------------------------


class _Responder(asyncio.Protocol):
    """Answers every request on a keep-alive connection with the same small JSON body."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            length = 0
            for line in head.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER)
            )


async def _serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Responder, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


# --- the clients ---------------------------------------------------------------------------------


async def _clients(stack: AsyncExitStack, url: str) -> dict[str, dict[str, Call]]:
    """For each client, one call per request shape; each reads the whole answer."""
    h1 = H1Pool(connect_timeout=2.0, read_timeout=10.0, max_idle_per_origin=64)
    stack.push_async_callback(h1.aclose)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    hx = await stack.enter_async_context(httpx.AsyncClient(limits=limits, timeout=10.0))
    core = await stack.enter_async_context(
        httpcore.AsyncConnectionPool(max_connections=64, max_keepalive_connections=64)
    )
    session = await stack.enter_async_context(
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64), auto_decompress=False)
    )
    plain = dict(HEADERS[1:])
    post_headers = [*HEADERS, ("content-type", "application/json")]

    async def h1_get() -> bytes:
        return await (await h1.request("GET", url, "/x", HEADERS, None)).read()

    async def h1_post() -> bytes:
        return await (await h1.request("POST", url, "/x", post_headers, BODY)).read()

    async def httpx_get() -> bytes:
        return (await hx.get(url + "/x", headers=plain)).content

    async def httpx_post() -> bytes:
        return (await hx.post(url + "/x", headers=plain, content=BODY)).content

    core_headers = [(k.encode(), v.encode()) for k, v in HEADERS[1:]]

    async def httpcore_get() -> bytes:
        return (await core.request("GET", url + "/x", headers=core_headers)).content

    async def httpcore_post() -> bytes:
        response = await core.request("POST", url + "/x", headers=core_headers, content=BODY)
        return response.content

    async def aiohttp_get() -> bytes:
        async with session.get(url + "/x", headers=plain) as response:
            return await response.read()

    async def aiohttp_post() -> bytes:
        async with session.post(url + "/x", headers=plain, data=BODY) as response:
            return await response.read()

    return {
        "aos_gateway h1client": {"GET": h1_get, "POST 1 KiB": h1_post},
        f"httpx {httpx.__version__}": {"GET": httpx_get, "POST 1 KiB": httpx_post},
        f"httpcore {httpcore.__version__}": {"GET": httpcore_get, "POST 1 KiB": httpcore_post},
        f"aiohttp {aiohttp.__version__}": {"GET": aiohttp_get, "POST 1 KiB": aiohttp_post},
    }


# --- measuring -----------------------------------------------------------------------------------


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def cost_per_request(call: Call, requests: int, concurrency: int) -> float:
    """Microseconds of this process's CPU per request."""

    async def caller(count: int) -> None:
        for _ in range(count):
            assert await call() == ANSWER

    await asyncio.gather(*(call() for _ in range(concurrency)))  # connections open beforehand
    before = cpu_seconds()
    await asyncio.gather(*(caller(requests // concurrency) for _ in range(concurrency)))
    return (cpu_seconds() - before) / (requests // concurrency * concurrency) * 1e6


Results = dict[tuple[str, str, int], list[float]]


async def measure(url: str, requests: int, rounds: int) -> Results:
    results: Results = {}
    async with AsyncExitStack() as stack:
        clients = await _clients(stack, url)
        for round_index in range(rounds):
            names = list(clients) if round_index % 2 == 0 else list(reversed(clients))
            for shape in SHAPES:
                for concurrency in (1, 8):
                    for name in names:
                        cost = await cost_per_request(clients[name][shape], requests, concurrency)
                        results.setdefault((name, shape, concurrency), []).append(cost)
            console.print(f"round {round_index + 1} of {rounds} done")
    return results


def render(results: Results, command: str) -> str:
    names = list(dict.fromkeys(name for name, _, _ in results))
    median = {key: statistics.median(values) for key, values in results.items()}
    lines = [
        "## upstream_client_cost",
        "",
        f"Command: `{command}` (run {datetime.date.today().isoformat()}; machine: "
        f"{platform.machine()}, {os.cpu_count()} cores shared with other work, Python "
        f"{platform.python_version()}, uvloop; load average {os.getloadavg()[0]:.1f} when it "
        "finished).",
        "",
        "Client CPU per request to a local keep-alive HTTP/1.1 server (its own process, not "
        "counted), median of the interleaved rounds:",
        "",
        "| client | GET | GET, 8 at once | POST 1 KiB | POST 1 KiB, 8 at once |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in names:
        row = [f"{median[(name, shape, c)]:.1f} µs" for shape in SHAPES for c in (1, 8)]
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    shares = [
        median[(names[0], shape, c)] / min(median[(name, shape, c)] for name in names[1:])
        for shape in SHAPES
        for c in (1, 8)
    ]
    share = statistics.median(shares)
    verdict = (
        "clearly ahead: it stays the gateway's upstream client"
        if share <= CLEARLY_AHEAD
        else "not clearly ahead: issue 18 asks for the library instead"
    )
    lines += [
        "",
        f"The gateway's client costs {share:.0%} of the cheapest library's CPU per request "
        f"(median over the four columns; {min(shares):.0%} to {max(shares):.0%}): {verdict} "
        f"(kept while at most {CLEARLY_AHEAD:.0%}).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args()
    if args.serve:
        uvloop.run(_serve(args.serve))
        return
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        results = uvloop.run(measure(f"http://127.0.0.1:{port}", args.requests, args.rounds))
    finally:
        server.terminate()
        server.wait(timeout=10)
    command = "uv run python bench/upstream_client_cost.py " + " ".join(sys.argv[1:])
    section = render(results, command.strip())
    console.print(section)
    if not args.no_write:
        write_performance_section(section)
        console.print(f"wrote the upstream_client_cost section of {PERFORMANCE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
