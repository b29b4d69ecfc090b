"""A lean HTTP/1.1 client for the proxy's hot path: asyncio protocols, the httptools parser (the
one uvicorn uses), pooled keep-alive connections, streaming both ways with flow control.

Why not httpx here: on this project's hardware httpx's AsyncClient costs ~2 ms of CPU per request
(anyio, pool bookkeeping), more than the whole latency budget of the gateway. httpx stays for the
gateway's cold paths (health checks, the budget guard through aos_common's ServiceClient).
bench/upstream_client_cost.py compares it with httpx, httpcore and aiohttp.

Connections per origin are capped (`max_connections_per_origin`): past the cap a request waits
for one to be released, at most `pool_wait` seconds, then fails with `UpstreamBusy` (a 503), so
a flood of slow requests cannot open sockets to a service without bound.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import AsyncIterator

import httptools

from aos_gateway.proxy.h1connection import (
    HIGH_WATER,
    Connection,
    Origin,
    UpstreamBusy,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from aos_gateway.proxy.slots import OriginSlots

__all__ = [
    "H1Pool",
    "Origin",
    "UpstreamBusy",
    "UpstreamConnectError",
    "UpstreamProtocolError",
    "UpstreamResponse",
    "UpstreamTimeout",
]


class UpstreamResponse:
    def __init__(
        self, pool: H1Pool, connection: Connection, reusable: bool, timeout: float
    ) -> None:
        self.status = connection.status
        self.headers = connection.headers
        self._pool = pool
        self._connection = connection
        self._reusable = reusable
        self._timeout = timeout
        self._released = False

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        try:
            while (chunk := await self._connection.next_chunk(self._timeout)) is not None:
                yield chunk
        finally:
            await self.aclose()

    @property
    def has_length(self) -> bool:
        return self._connection.has_length

    async def read(self) -> bytes:
        body = await self.take_arrived_body()
        if body is not None:
            return body
        return b"".join([chunk async for chunk in self.aiter_raw()])

    async def take_arrived_body(self) -> bytes | None:
        """The whole body if it has already arrived (a small answer usually comes in the read that
        brought its head), the connection released at once; None when it must be streamed."""
        connection = self._connection
        if (
            self._released
            or not connection.complete
            or connection.error is not None
            or connection.buffered > HIGH_WATER  # reading was paused: leave it to the stream
        ):
            return None
        body = b"".join(connection.chunks)
        connection.chunks.clear()
        connection.buffered = 0
        await self.aclose()
        return body

    async def aclose(self) -> None:
        if self._released:
            return
        self._released = True
        connection = self._connection
        if self._reusable and connection.complete and not connection.closed:
            self._pool.release(connection)
        elif connection.transport is not None:
            connection.transport.close()


class H1Pool:
    """Keep-alive connections per origin, most recently used first, at most
    `max_connections_per_origin` open (idle or in use) to each origin."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_idle_per_origin: int = 64,
        idle_expiry: float = 30.0,
        max_connections_per_origin: int = 256,
        pool_wait: float = 5.0,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = max_idle_per_origin
        self.idle_expiry = idle_expiry
        self.max_connections = max_connections_per_origin
        self.pool_wait = pool_wait
        self._idle: dict[Origin, list[Connection]] = collections.defaultdict(list)
        self._slots = OriginSlots(max_connections_per_origin)
        self._ssl: ssl.SSLContext | None = None

    def open_connections(self, origin: Origin) -> int:
        """Connections open or opening to `origin`, idle ones included."""
        return self._slots.count(origin)

    def release(self, connection: Connection) -> None:
        idle = self._idle[connection.origin]
        if len(idle) >= self.max_idle:
            assert connection.transport is not None
            connection.transport.close()
            return
        connection.idle_since = time.monotonic()
        connection.reused = True
        idle.append(connection)
        if self._slots.waiters:
            self._slots.notify(connection.origin)

    def _gone(self, connection: Connection) -> None:
        """A connection closed (or never opened): its place under the cap is free again."""
        if connection.counted:
            connection.counted = False
            self._slots.give_back(connection.origin)

    async def _connect(self, origin: Origin) -> Connection:
        loop = asyncio.get_running_loop()
        context = None
        if origin.scheme == "https":
            self._ssl = self._ssl or ssl.create_default_context()
            context = self._ssl
        connection = Connection(origin, self._gone)  # its place under the cap is taken
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: connection, origin.host, origin.port, ssl=context),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as error:
            self._gone(connection)
            raise UpstreamConnectError(f"{origin.host}:{origin.port}: {error}") from None
        except BaseException:
            self._gone(connection)
            raise
        return connection

    def _take_idle(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.closed or now - connection.idle_since > self.idle_expiry:
                if connection.transport is not None:
                    connection.transport.close()
                self._gone(connection)  # free its place now, not when the loop reports it closed
                continue
            connection._reset()
            connection.parser = httptools.HttpResponseParser(connection)
            return connection
        return None

    async def _acquire(self, origin: Origin) -> Connection:
        connection = self._take_idle(origin)
        if connection is not None:
            return connection
        if self._slots.try_take(origin):
            return await self._connect(origin)
        return await self._wait_for_connection(origin)

    async def _wait_for_connection(self, origin: Origin) -> Connection:
        """At the cap: wait for a connection to go idle or close, within `pool_wait`."""
        deadline = asyncio.get_running_loop().time() + self.pool_wait
        while True:
            try:
                await self._slots.wait(origin, deadline)
            except TimeoutError:
                raise UpstreamBusy(
                    f"{origin.host}:{origin.port}: all {self.max_connections} connections "
                    f"stayed in use for {self.pool_wait:g}s"
                ) from None
            connection = self._take_idle(origin)
            if connection is not None:
                return connection
            if self._slots.try_take(origin):
                return await self._connect(origin)

    async def request(
        self,
        method: str,
        url: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | AsyncIterator[bytes] | None,
        *,
        read_seconds: float | None = None,
    ) -> UpstreamResponse:
        """Send one request; the response head is awaited, its body streamed by the caller."""
        origin = Origin.parse(url)
        read_timeout = read_seconds or self.read_timeout
        replayable = not isinstance(body, AsyncIterator)
        for attempt in range(2):
            connection = await self._acquire(origin)
            try:
                await self._send(connection, method, target, headers, body)
                async with asyncio.timeout(read_timeout):
                    await asyncio.shield(connection.head_done)
            except TimeoutError:
                connection.transport and connection.transport.close()  # type: ignore[func-returns-value]
                raise UpstreamTimeout(f"no response head within {read_timeout:g}s") from None
            except UpstreamProtocolError:
                stale = connection.reused and not connection.got_bytes
                if stale and replayable and attempt == 0:
                    continue  # a kept-alive connection the upstream had closed: try a fresh one
                raise
            except BaseException:
                # Cancelled, or the client's body broke off: the exchange cannot be finished, so
                # the connection is closed (and its place under the cap freed), never left open.
                if connection.transport is not None:
                    connection.transport.close()
                raise
            reusable = method != "HEAD" and connection.keep_alive
            if method == "HEAD":
                connection.complete = True
            return UpstreamResponse(self, connection, reusable, read_timeout)
        raise UpstreamProtocolError("unreachable")

    async def _send(
        self,
        connection: Connection,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | AsyncIterator[bytes] | None,
    ) -> None:
        lines = [f"{method} {target} HTTP/1.1"]
        has_length = any(name == "content-length" for name, _ in headers)
        streaming = isinstance(body, AsyncIterator)
        lines.extend(f"{name}: {value}" for name, value in headers)
        if (
            isinstance(body, bytes)
            and not has_length
            and (body or method in ("POST", "PUT", "PATCH"))
        ):
            lines.append(f"content-length: {len(body)}")
        if streaming and not has_length:
            lines.append("transfer-encoding: chunked")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if not streaming:
            await connection.write(head + (body or b""))  # type: ignore[operator]
            return
        await connection.write(head)
        assert isinstance(body, AsyncIterator)
        async for chunk in body:
            if not chunk:
                continue
            if has_length:
                await connection.write(chunk)
            else:
                await connection.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if not has_length:
            await connection.write(b"0\r\n\r\n")

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                if connection.transport is not None:
                    connection.transport.close()
        self._idle.clear()
