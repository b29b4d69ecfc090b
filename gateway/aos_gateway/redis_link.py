"""One pipelined Redis connection for the gateway's per-request calls (token buckets, usage counts).

Written by hand because the libraries cost too much CPU on this path: with 8 callers at once,
redis-py spends four to six times this connection's client CPU per EVALSHA of the token-bucket
script (its connection pool, retry wrapper, timeouts and stream-reader parser; 116 to 176 µs
against 21 to 41 µs per call across the runs of bench/redis_client_cost.py, docs/PERFORMANCE.md);
coredis measured slower than redis-py. With one such call on every proxied request, redis-py was
the largest single item of the gateway's CPU. This module speaks only what that path needs: RESP2
commands, the five reply types, replies in order on one connection (so concurrent requests
pipeline on it without a pool), a lazy reconnect and a reply deadline. Everything else (the usage
reporter, readiness, tests' inspection) keeps using redis-py.

Failures are raised as redis-py's exception classes (`ConnectionError`, `TimeoutError`,
`ResponseError`), so callers handle both clients with one `except RedisError`.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias, cast

from redis.asyncio.connection import parse_url
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
)
from redis.exceptions import (
    NoScriptError,
    RedisError,
    ResponseError,
)
from redis.exceptions import (
    TimeoutError as RedisTimeoutError,
)


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A `-ERR …` reply; raised at the top level, kept as a value inside an array."""

    message: str


Argument: TypeAlias = str | bytes | int | float
Reply: TypeAlias = "str | bytes | int | list[Reply] | ErrorReply | None"


@dataclass(frozen=True)
class Script:
    """A Lua script, called by its SHA-1 and sent in full once when Redis does not know it yet."""

    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


class _Incomplete(Exception):
    """The buffer ends inside a reply; wait for more bytes."""


class ReplyParser:
    """Incremental RESP2 parser: feed bytes, take the complete replies."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Reply]:
        self._buffer += data
        replies: list[Reply] = []
        position = 0
        while position < len(self._buffer):
            try:
                reply, position_after = self._parse(position)
            except _Incomplete:
                break
            replies.append(reply)
            position = position_after
        if position:
            del self._buffer[:position]
        return replies

    def _parse(self, start: int) -> tuple[Reply, int]:
        buffer = self._buffer
        line_end = buffer.find(b"\r\n", start)
        if line_end < 0:
            raise _Incomplete
        kind = buffer[start]
        payload = bytes(buffer[start + 1 : line_end])
        after = line_end + 2
        if kind == 0x2B:  # +
            return payload.decode(), after
        if kind == 0x2D:  # -
            return ErrorReply(payload.decode(errors="replace")), after
        if kind == 0x3A:  # :
            return int(payload), after
        if kind == 0x24:  # $
            length = int(payload)
            if length < 0:
                return None, after
            end = after + length
            if len(buffer) < end + 2:
                raise _Incomplete
            return bytes(buffer[after:end]), end + 2
        if kind == 0x2A:  # *
            count = int(payload)
            if count < 0:
                return None, after
            items: list[Reply] = []
            position = after
            for _ in range(count):
                item, position = self._parse(position)
                items.append(item)
            return items, position
        raise ValueError(f"not a RESP2 reply: {bytes(buffer[start : start + 16])!r}")


def encode_command(arguments: Sequence[Argument]) -> bytes:
    parts = [b"*%d\r\n" % len(arguments)]
    for argument in arguments:
        if isinstance(argument, bytes):
            data = argument
        elif isinstance(argument, str):
            data = argument.encode()
        elif isinstance(argument, float):
            data = repr(argument).encode()
        else:
            data = b"%d" % argument
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _raised(reply: ErrorReply) -> ResponseError:
    if reply.message.startswith("NOSCRIPT"):
        return NoScriptError(reply.message)
    return ResponseError(reply.message)


class _RedisProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending: deque[asyncio.Future[Reply]] = deque()
        self.parser = ReplyParser()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        try:
            replies = self.parser.feed(data)
        except ValueError:
            self.close()
            return
        for reply in replies:
            if not self.pending:  # a reply nobody asked for: the stream cannot be trusted
                self.close()
                return
            future = self.pending.popleft()
            if future.done():  # its caller timed out or was cancelled
                continue
            if isinstance(reply, ErrorReply):
                future.set_exception(_raised(reply))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_exception(RedisConnectionError("Redis closed the connection"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class PipelinedRedis:
    """`execute` and `run_script` over one connection, opened on first use and after a loss.

    A reply later than `reply_timeout` fails its caller with TimeoutError and closes the connection
    (a Redis that stopped answering fails every waiting call at once instead of each in turn); the
    next call connects anew.
    """

    def __init__(
        self, url: str, *, connect_timeout: float = 1.0, reply_timeout: float = 1.0
    ) -> None:
        options = parse_url(url)
        self._path: str | None = options.get("path")
        self._host: str = options.get("host", "localhost")
        self._port = int(options.get("port", 6379))
        self._db = int(options.get("db", 0))
        self._username: str | None = options.get("username")
        self._password: str | None = options.get("password")
        self._ssl: ssl.SSLContext | None = None
        if url.startswith("rediss://"):
            self._ssl = tls_context(options)
        self._connect_timeout = connect_timeout
        self._reply_timeout = reply_timeout
        self._protocol: _RedisProtocol | None = None
        self._lock = asyncio.Lock()
        self._failures = 0
        self._last_failure: RedisError | None = None

    async def execute(self, *arguments: Argument) -> Reply:
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        return await self._send(protocol, arguments)

    async def run_script(
        self, script: Script, keys: Sequence[str], arguments: Sequence[Argument]
    ) -> Reply:
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *arguments)
        except NoScriptError:
            return await self.execute("EVAL", script.source, len(keys), *keys, *arguments)

    async def aclose(self) -> None:
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None

    async def _send(self, protocol: _RedisProtocol, arguments: Sequence[Argument]) -> Reply:
        if protocol.transport is None or protocol.closed:
            raise RedisConnectionError("Redis closed the connection")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        protocol.pending.append(future)
        protocol.transport.write(encode_command(arguments))
        timer = loop.call_later(self._reply_timeout, _expire, protocol, future)
        try:
            return await future
        finally:
            timer.cancel()

    async def _connect(self) -> _RedisProtocol:
        """Open the connection, one attempt at a time. Callers that waited behind an attempt that
        failed fail with it instead of each trying again in turn (with Redis unreachable behind a
        firewall, the n-th waiting request would otherwise wait n connect timeouts)."""
        failures_seen = self._failures
        async with self._lock:
            if self._protocol is not None and not self._protocol.closed:
                return self._protocol
            if self._failures != failures_seen and self._last_failure is not None:
                raise type(self._last_failure)(str(self._last_failure))
            try:
                protocol = await self._open()
            except RedisError as error:
                self._failures += 1
                self._last_failure = error
                raise
            self._last_failure = None
            self._protocol = protocol
            return protocol

    async def _open(self) -> _RedisProtocol:
        loop = asyncio.get_running_loop()
        protocol: _RedisProtocol | None = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                if self._path is not None:
                    _, protocol = await loop.create_unix_connection(_RedisProtocol, self._path)
                else:
                    _, protocol = await loop.create_connection(
                        _RedisProtocol, self._host, self._port, ssl=self._ssl
                    )
                if self._password is not None:
                    credentials = [self._username] if self._username else []
                    await self._send(protocol, ["AUTH", *credentials, self._password])
                if self._db:
                    await self._send(protocol, ["SELECT", self._db])
        except BaseException as error:
            if protocol is not None:
                protocol.close()
            if isinstance(error, TimeoutError):
                raise RedisTimeoutError("Redis did not accept the connection in time") from error
            if isinstance(error, OSError):
                raise RedisConnectionError(f"Redis is unreachable: {error}") from error
            raise
        return protocol


def tls_context(options: Mapping[str, object]) -> ssl.SSLContext:
    """TLS for `rediss://` URLs, reading the query options redis-py reads: `ssl_ca_certs`,
    `ssl_cert_reqs` (`none` turns verification off) and `ssl_check_hostname`."""
    ca_file = options.get("ssl_ca_certs")
    context = ssl.create_default_context(cafile=ca_file if isinstance(ca_file, str) else None)
    if options.get("ssl_check_hostname") is False:
        context.check_hostname = False
    if options.get("ssl_cert_reqs") == "none":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _expire(protocol: _RedisProtocol, future: asyncio.Future[Reply]) -> None:
    if not future.done():
        future.set_exception(RedisTimeoutError("Redis did not answer in time"))
        protocol.close()
