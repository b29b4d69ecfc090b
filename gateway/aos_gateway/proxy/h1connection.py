"""One upstream HTTP/1.1 connection of the proxy's pool (h1client.H1Pool): an asyncio protocol
fed by the httptools parser (the one uvicorn uses), with flow control both ways, and the errors the
pool raises. Kept apart from the pool so each module does one thing.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import socket
from collections.abc import Callable
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


class UpstreamBusy(Exception):
    """Every connection the pool may open to the origin stayed in use for the whole wait."""


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


class Connection(asyncio.Protocol):
    def __init__(self, origin: Origin, on_gone: Callable[[Connection], None]) -> None:
        self.origin = origin
        self.on_gone = on_gone  # told once when the connection is closed or never opened
        self.counted = True
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
        self.on_gone(self)
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
