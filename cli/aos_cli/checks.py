"""Pre-flight checks for `aos up`: each failure is one sentence naming the problem.

They run before anything is started, so a bad configuration never leaves a process behind.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit, urlunsplit

from aos_cli.config import ProcessConfig
from aos_cli.errors import AosError

CONNECT_TIMEOUT_SECONDS = 5.0
# URL handling is plain urllib: importing SQLAlchemy only to parse a URL costs `aos up` a second.


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    return parts


def masked(url: str) -> str:
    """The URL with any password hidden (and an empty one dropped), for messages."""
    parts = _split(url)
    if parts is None or "@" not in parts.netloc:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    netloc = f"{user}:***@{hostinfo}" if password else f"{user}@{hostinfo}"
    return urlunsplit(parts._replace(netloc=netloc))


def validate_database_url(url: str, name: str = "DATABASE_URL") -> str:
    """Return the URL in plain `postgresql://` form, or raise naming the setting."""
    parts = _split(url)
    scheme = parts.scheme.split("+", 1)[0] if parts else ""
    if parts is None or scheme not in ("postgresql", "postgres") or not url.count("://"):
        raise AosError(
            f"{name} {masked(url)!r} is not a valid PostgreSQL URL; "
            "expected postgresql://user:password@host:port/database."
        )
    return urlunsplit(parts._replace(scheme="postgresql"))


def validate_redis_url(url: str, name: str = "REDIS_URL") -> str:
    parts = _split(url)
    if parts is None or parts.scheme not in ("redis", "rediss", "unix") or "://" not in url:
        raise AosError(
            f"{name} {masked(url)!r} is not a valid Redis URL; expected redis://host:port/db or "
            "unix:///path/to/socket."
        )
    return url


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # uvicorn sets SO_REUSEADDR too, so sockets in TIME_WAIT do not count as "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise AosError(f"Cannot listen on {host}:{port} ({error.strerror}).") from None
    return False


def check_ports_free(processes: Iterable[ProcessConfig]) -> None:
    for process in processes:
        if _port_in_use(process.host, process.port):
            raise AosError(
                f"Port {process.port} ({process.name}) is already in use on {process.host}; "
                "stop what is listening there or set another port."
            )


def _reason(error: BaseException) -> str:
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    text = str(error).strip().rstrip(".") or type(error).__name__
    return text.splitlines()[0]


async def _connect_postgres(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_SECONDS)
    await connection.close()


def check_database_reachable(url: str) -> None:
    try:
        asyncio.run(asyncio.wait_for(_connect_postgres(url), CONNECT_TIMEOUT_SECONDS + 1))
    except Exception as error:
        raise AosError(
            f"Cannot connect to PostgreSQL at {masked(url)} ({_reason(error)})."
        ) from None


def check_redis_reachable(url: str) -> None:
    import redis

    client = redis.Redis.from_url(
        url, socket_timeout=CONNECT_TIMEOUT_SECONDS, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except Exception as error:
        reason = (
            _reason(error.__cause__ or error)
            if isinstance(error, redis.RedisError)
            else (_reason(error))
        )
        raise AosError(f"Cannot connect to Redis at {masked(url)} ({reason}).") from None
    finally:
        client.close()
