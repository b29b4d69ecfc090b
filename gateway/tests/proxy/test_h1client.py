"""The pooled HTTP/1.1 upstream client against tiny raw asyncio servers (real sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from aos_gateway.proxy.h1client import (
    H1Pool,
    Origin,
    UpstreamBusy,
    UpstreamConnectError,
    UpstreamTimeout,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    body = b""
    if b"transfer-encoding: chunked" in head.lower():
        while True:
            size = int((await reader.readline()).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                body = await reader.readexactly(int(line.split(b":")[1]))
    return head, body


def _pool() -> H1Pool:
    return H1Pool(connect_timeout=1.0, read_timeout=1.0)


async def test_a_connection_closed_while_idle_is_replaced_transparently() -> None:
    connections = 0

    async def close_after_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server, url = await _serve(close_after_each)
    pool = _pool()
    try:
        for _ in range(3):
            response = await pool.request("GET", url, "/", [("host", "x")], None)
            assert await response.read() == b"ok"
            await asyncio.sleep(0.05)
    finally:
        await pool.aclose()
        server.close()
    assert connections == 3


async def test_streamed_bodies_without_length_are_sent_chunked() -> None:
    received: list[bytes] = []

    async def echo_length(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, body = await _read_request(reader)
        received.append(body)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()

    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"abc", b"", b"defg"):
            yield part

    server, url = await _serve(echo_length)
    pool = _pool()
    try:
        response = await pool.request("POST", url, "/", [("host", "x")], chunks())
        assert response.status == 204
        await response.aclose()
    finally:
        await pool.aclose()
        server.close()
    assert received == [b"abcdefg"]


async def test_a_body_delimited_by_connection_close_is_read_to_the_end() -> None:
    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    server, url = await _serve(until_close)
    pool = _pool()
    try:
        response = await pool.request("GET", url, "/", [("host", "x")], None)
        assert await response.read() == b"all of it"
    finally:
        await pool.aclose()
        server.close()


async def test_no_response_head_in_time_is_a_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(3)

    server, url = await _serve(silent)
    pool = H1Pool(connect_timeout=1.0, read_timeout=0.2)
    try:
        with pytest.raises(UpstreamTimeout):
            await pool.request("GET", url, "/", [("host", "x")], None)
    finally:
        await pool.aclose()
        server.close()


async def test_refused_connection_is_a_connect_error() -> None:
    server, url = await _serve(lambda r, w: asyncio.sleep(0))
    server.close()
    await server.wait_closed()
    with pytest.raises(UpstreamConnectError):
        await _pool().request("GET", url, "/", [("host", "x")], None)


async def test_requests_past_the_connection_cap_wait_for_a_connection_and_are_served() -> None:
    connections = 0

    async def slow_keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            await asyncio.sleep(0.1)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()

    server, url = await _serve(slow_keep_alive)
    pool = H1Pool(
        connect_timeout=1.0, read_timeout=2.0, max_connections_per_origin=2, pool_wait=2.0
    )

    async def get() -> bytes:
        response = await pool.request("GET", url, "/", [("host", "x")], None)
        return await response.read()

    try:
        bodies = await asyncio.gather(*(get() for _ in range(6)))
        assert pool.open_connections(Origin.parse(url)) <= 2
    finally:
        await pool.aclose()
        server.close()
    assert bodies == [b"ok"] * 6
    assert connections == 2


async def test_a_request_past_the_cap_for_longer_than_the_wait_is_busy() -> None:
    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(3)

    server, url = await _serve(never_answers)
    pool = H1Pool(
        connect_timeout=1.0, read_timeout=3.0, max_connections_per_origin=1, pool_wait=0.2
    )
    holder = asyncio.create_task(pool.request("GET", url, "/", [("host", "x")], None))
    try:
        await asyncio.sleep(0.1)  # the one connection allowed is now in use
        started = asyncio.get_running_loop().time()
        with pytest.raises(UpstreamBusy):
            await pool.request("GET", url, "/", [("host", "x")], None)
        assert asyncio.get_running_loop().time() - started >= 0.2
    finally:
        holder.cancel()
        await pool.aclose()
        server.close()


async def test_a_closed_connection_frees_its_place_under_the_cap() -> None:
    async def close_after_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server, url = await _serve(close_after_each)
    pool = H1Pool(
        connect_timeout=1.0, read_timeout=1.0, max_connections_per_origin=1, pool_wait=0.5
    )
    try:
        for _ in range(3):  # each would be busy if a closed connection kept its place
            response = await pool.request("GET", url, "/", [("host", "x")], None)
            assert await response.read() == b"ok"
    finally:
        await pool.aclose()
        server.close()
