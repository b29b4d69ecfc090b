"""A lean HTTP/1.1 client for the proxy's hot path: asyncio protocols, the httptools parser (the
one uvicorn uses), pooled keep-alive connections, streaming both ways with flow control.

Why not httpx here: on this project's hardware httpx's AsyncClient costs ~2 ms of CPU per request
(anyio, pool bookkeeping), more than the whole latency budget of the gateway. httpx stays for the
gateway's cold paths (health checks, the budget guard through aos_common's ServiceClient).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

HIGH_WATER = 1 << 20


class UpstreamConnectError(Exception):
    """No connection could be made (refused, unreachable, connect timeout)."""


class UpstreamTimeout(Exception):
    """The upstream did not answer within the read timeout."""


class UpstreamProtocolError(Exception):
    """The upstream broke the exchange (closed early, sent something unparseable)."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Origin:
        return _origin(url)


@functools.lru_cache(maxsize=256)
def _origin(url: str) -> Origin:
    """Parsed once per server URL, not once per request."""
    parts = urlsplit(url)
    scheme = parts.scheme or "http"
    port = parts.port or (443 if scheme == "https" else 80)
    return Origin(scheme, parts.hostname or "127.0.0.1", port)


class _Connection(asyncio.Protocol):
    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._reset()

    # --- exchange state -------------------------------------------------------------------------

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.error: Exception | None = None
        self.got_bytes = False
        self.until_eof = False
        self.has_length = False
        self.keep_alive = False
        self._wakeup: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    # --- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(UpstreamProtocolError(f"invalid response: {error}"))
            return
        if self.buffered > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._can_write.set()
        if self.until_eof and self.head_done.done() and self.error is None and not self.complete:
            self.complete = True  # a body delimited by the end of the connection
            self._wake()
        elif not self.complete:
            self._fail(UpstreamProtocolError(f"connection closed by upstream: {exc or 'EOF'}"))

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # --- httptools callbacks --------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if 100 <= self.status < 200 and self.status != 101:
            self.headers = []
            return
        self.keep_alive = self.parser.should_keep_alive()
        names = {name.lower() for name, _ in self.headers}
        self.has_length = b"content-length" in names
        self.until_eof = not self.has_length and b"transfer-encoding" not in names
        if not self.head_done.done():
            self.head_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        self._wake()

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200 and self.status != 101:
            self.parser = httptools.HttpResponseParser(self)
            return
        self.complete = True
        if not self.head_done.done():
            self.head_done.set_result(None)
        self._wake()

    def _fail(self, error: Exception) -> None:
        self.error = error
        if not self.head_done.done():
            self.head_done.set_exception(error)
        self._wake()
        if self.transport is not None:
            self.transport.close()

    # --- used by the pool -----------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            raise UpstreamProtocolError("connection closed by upstream before the request was sent")
        self.transport.write(data)
        if not self._can_write.is_set():
            await self._can_write.wait()

    async def next_chunk(self, stall_seconds: float) -> bytes | None:
        while True:
            if self.chunks:
                chunk = self.chunks.popleft()
                self.buffered -= len(chunk)
                if (
                    self.buffered <= HIGH_WATER // 2
                    and self.transport is not None
                    and not self.closed
                ):
                    self.transport.resume_reading()
                return chunk
            if self.complete:
                return None
            if self.error is not None:
                raise self.error
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                # asyncio.timeout, not wait_for: no extra future per wait on the hot path.
                async with asyncio.timeout(stall_seconds):
                    await self._wakeup
            except TimeoutError:
                raise UpstreamTimeout("upstream body stalled") from None


class UpstreamResponse:
    def __init__(
        self, pool: H1Pool, connection: _Connection, reusable: bool, timeout: float
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
    """Keep-alive connections per origin, most recently used first."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_idle_per_origin: int = 64,
        idle_expiry: float = 30.0,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = max_idle_per_origin
        self.idle_expiry = idle_expiry
        self._idle: dict[Origin, list[_Connection]] = collections.defaultdict(list)
        self._ssl: ssl.SSLContext | None = None

    def release(self, connection: _Connection) -> None:
        idle = self._idle[connection.origin]
        if len(idle) >= self.max_idle:
            assert connection.transport is not None
            connection.transport.close()
            return
        connection.idle_since = time.monotonic()
        connection.reused = True
        idle.append(connection)

    async def _connect(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        context = None
        if origin.scheme == "https":
            self._ssl = self._ssl or ssl.create_default_context()
            context = self._ssl
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(origin), origin.host, origin.port, ssl=context
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as error:
            raise UpstreamConnectError(f"{origin.host}:{origin.port}: {error}") from None
        return protocol

    async def _acquire(self, origin: Origin) -> _Connection:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.closed or now - connection.idle_since > self.idle_expiry:
                if connection.transport is not None:
                    connection.transport.close()
                continue
            connection._reset()
            connection.parser = httptools.HttpResponseParser(connection)
            return connection
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
            reusable = method != "HEAD" and connection.keep_alive
            if method == "HEAD":
                connection.complete = True
            return UpstreamResponse(self, connection, reusable, read_timeout)
        raise UpstreamProtocolError("unreachable")

    async def _send(
        self,
        connection: _Connection,
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
