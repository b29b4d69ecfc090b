"""The gateway's pipelined Redis connection: the RESP2 parser, and the client against real Redis."""

from __future__ import annotations

import asyncio
import secrets
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aos_gateway.redis_link import (
    ErrorReply,
    PipelinedRedis,
    ReplyParser,
    Script,
    encode_command,
    tls_context,
)

REPLIES = b"+OK\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*3\r\n:1\r\n*1\r\n$0\r\n\r\n-ERR inner\r\n*-1\r\n-ERR bad\r\n"
PARSED = [
    "OK",
    42,
    b"hello",
    None,
    [1, [b""], ErrorReply("ERR inner")],
    None,
    ErrorReply("ERR bad"),
]


def test_replies_parse_whatever_the_chunking() -> None:
    for size in (1, 2, 3, 7, len(REPLIES)):
        parser = ReplyParser()
        replies = []
        for start in range(0, len(REPLIES), size):
            replies.extend(parser.feed(REPLIES[start : start + size]))
        assert replies == PARSED, size


def test_commands_are_encoded_as_resp_arrays_of_bulk_strings() -> None:
    assert encode_command(["HINCRBY", "k", b"f", 1, 0.5]) == (
        b"*5\r\n$7\r\nHINCRBY\r\n$1\r\nk\r\n$1\r\nf\r\n$1\r\n1\r\n$3\r\n0.5\r\n"
    )


def test_tls_options_of_a_rediss_url_are_honoured() -> None:
    strict = tls_context(parse_url("rediss://h:6380/0"))
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    relaxed = tls_context(parse_url("rediss://h:6380/0?ssl_cert_reqs=none"))
    assert relaxed.verify_mode == ssl.CERT_NONE and not relaxed.check_hostname
    no_hostname = tls_context(parse_url("rediss://h:6380/0?ssl_check_hostname=false"))
    assert no_hostname.verify_mode == ssl.CERT_REQUIRED and not no_hostname.check_hostname


@pytest.fixture
async def link(redis_url: str) -> AsyncIterator[PipelinedRedis]:
    client = PipelinedRedis(redis_url)
    yield client
    await client.aclose()


async def test_concurrent_calls_each_get_their_own_reply(link: PipelinedRedis) -> None:
    key = f"aos:linktest:{secrets.token_hex(4)}"
    replies = await asyncio.gather(*(link.execute("HINCRBY", key, f"f{n}", n) for n in range(50)))
    assert replies == list(range(50))
    assert await link.execute("DEL", key) == 1


async def test_an_error_reply_raises_and_the_connection_stays_usable(link: PipelinedRedis) -> None:
    with pytest.raises(ResponseError, match="unknown command"):
        await link.execute("NO-SUCH-COMMAND")
    assert await link.execute("PING") == "PONG"


async def test_a_script_redis_does_not_know_is_sent_in_full(link: PipelinedRedis) -> None:
    script = Script(f"-- {secrets.token_hex(8)}\nreturn {{ARGV[1], #KEYS}}")
    assert await link.run_script(script, ["a", "b"], ["x"]) == [b"x", 2]
    assert await link.run_script(script, ["a"], ["y"]) == [b"y", 1]


async def test_a_killed_connection_is_replaced_on_the_next_call(
    link: PipelinedRedis, redis_url: str
) -> None:
    client_id = await link.execute("CLIENT", "ID")
    admin = Redis.from_url(redis_url)
    try:
        assert await admin.client_kill_filter(_id=str(client_id)) == 1
    finally:
        await admin.aclose()
    await asyncio.sleep(0.1)  # the close reaches the client
    assert await link.execute("PING") == "PONG"
    assert await link.execute("CLIENT", "ID") != client_id


async def test_the_database_in_the_url_is_selected(redis_url: str) -> None:
    key = f"aos:linktest:{secrets.token_hex(4)}"
    other_database = _with_database(redis_url, 5)
    link = PipelinedRedis(other_database)
    reader = Redis.from_url(other_database)
    try:
        await link.execute("SET", key, "v", "EX", 60)
        assert await reader.get(key) == b"v"
        assert await link.execute("EXISTS", key) == 1
    finally:
        await reader.delete(key)
        await reader.aclose()
        await link.aclose()


async def test_an_unreachable_redis_is_a_connection_error() -> None:
    link = PipelinedRedis(f"redis://127.0.0.1:{_closed_port()}/0", connect_timeout=0.5)
    with pytest.raises(RedisConnectionError, match="unreachable"):
        await link.execute("PING")


@dataclass
class SilentServer:
    """A TCP server that accepts connections and never answers."""

    port: int
    accepted: list[asyncio.StreamWriter]


@pytest.fixture
async def silent_server() -> AsyncIterator[SilentServer]:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    yield SilentServer(server.sockets[0].getsockname()[1], accepted)
    for writer in accepted:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_silent_server_times_out_and_the_connection_is_dropped(
    silent_server: SilentServer,
) -> None:
    link = PipelinedRedis(f"redis://127.0.0.1:{silent_server.port}/0", reply_timeout=0.2)
    try:
        first = asyncio.ensure_future(link.execute("PING"))
        second = asyncio.ensure_future(link.execute("PING"))
        with pytest.raises(RedisTimeoutError):
            await first
        with pytest.raises((RedisTimeoutError, RedisConnectionError)):
            await second
        with pytest.raises(RedisTimeoutError):  # a new connection, silent again
            await link.execute("PING")
        assert len(silent_server.accepted) == 2
    finally:
        await link.aclose()


async def test_callers_waiting_behind_a_failed_connect_fail_with_it(
    silent_server: SilentServer,
) -> None:
    """One attempt for them all, not one connect timeout after another."""
    link = PipelinedRedis(f"redis://:secret@127.0.0.1:{silent_server.port}/0", connect_timeout=0.3)
    try:
        outcomes = await asyncio.gather(
            *(link.execute("PING") for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(outcome, RedisTimeoutError) for outcome in outcomes)
        assert len(silent_server.accepted) == 1
        with pytest.raises(RedisTimeoutError):  # a later call tries again
            await link.execute("PING")
        assert len(silent_server.accepted) == 2
    finally:
        await link.aclose()


def _with_database(url: str, database: int) -> str:
    if url.startswith("unix://"):
        return f"{url.split('?')[0]}?db={database}"
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", "", ""))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
