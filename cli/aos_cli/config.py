"""What `aos up` runs, read from the environment once: data directory, ports, database and Redis.

Ports default to API.md's and are overridden per process by `AOS_<NAME>_PORT` (for example
`AOS_GATEWAY_PORT`, `AOS_COST_INTEL_PORT`). `DATABASE_URL`/`REDIS_URL` (or their `AOS_` forms)
switch from the embedded servers to existing ones; each is independent of the other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aos_cli.errors import AosError
from aos_common.services import GATEWAY, SERVICES, ServiceSpec

PROCESSES: tuple[ServiceSpec, ...] = (*SERVICES, GATEWAY)
OTLP_GRPC_PORT_ENV = "AOS_OTLP_GRPC_PORT"


def port_env(spec: ServiceSpec) -> str:
    return "AOS_" + spec.name.upper().replace("-", "_") + "_PORT"


@dataclass(frozen=True)
class ProcessConfig:
    spec: ServiceSpec
    port: int
    host: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class PlatformConfig:
    data_dir: Path
    host: str
    processes: tuple[ProcessConfig, ...]
    database_url: str | None
    redis_url: str | None
    ready_timeout: float
    otlp_grpc_port: int = 4317

    @property
    def otlp_grpc_endpoint(self) -> str:
        """Where the traces service serves OTLP/gRPC (`AOS_OTLP_GRPC_PORT`, default 4317)."""
        return f"{self.host}:{self.otlp_grpc_port}"

    @property
    def gateway(self) -> ProcessConfig:
        return self.process("gateway")

    @property
    def services(self) -> tuple[ProcessConfig, ...]:
        return tuple(p for p in self.processes if p.name != "gateway")

    def process(self, name: str) -> ProcessConfig:
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(name)

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials.json"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def run_file(self) -> Path:
        return self.data_dir / "run.json"


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def parse_port(name: str, raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise AosError(f"{name} must be a port number between 1 and 65535, not {raw!r}.")
    return port


def load_config(env: Mapping[str, str] | None = None) -> PlatformConfig:
    """Read the platform configuration; raises AosError naming the first bad setting."""
    env = os.environ if env is None else env
    host = _first(env, "AOS_HOST") or "127.0.0.1"
    processes = []
    for spec in PROCESSES:
        raw = _first(env, port_env(spec))
        port = parse_port(port_env(spec), raw) if raw is not None else spec.port
        processes.append(ProcessConfig(spec=spec, port=port, host=host))
    raw_grpc = _first(env, OTLP_GRPC_PORT_ENV)
    otlp_grpc_port = parse_port(OTLP_GRPC_PORT_ENV, raw_grpc) if raw_grpc is not None else 4317
    seen: dict[int, str] = {otlp_grpc_port: "traces OTLP/gRPC"}
    for process in processes:
        if process.port in seen:
            raise AosError(
                f"The {seen[process.port]} and {process.name} processes are both configured "
                f"for port {process.port}; give each its own port."
            )
        seen[process.port] = process.name
    raw_timeout = _first(env, "AOS_UP_TIMEOUT") or "60"
    try:
        ready_timeout = float(raw_timeout)
    except ValueError:
        raise AosError(
            f"AOS_UP_TIMEOUT must be a number of seconds, not {raw_timeout!r}."
        ) from None
    data_dir = Path(_first(env, "AOS_DATA_DIR") or ".aos").expanduser().resolve()
    return PlatformConfig(
        data_dir=data_dir,
        host=host,
        processes=tuple(processes),
        database_url=_first(env, "AOS_DATABASE_URL", "DATABASE_URL"),
        redis_url=_first(env, "AOS_REDIS_URL", "REDIS_URL"),
        ready_timeout=ready_timeout,
        otlp_grpc_port=otlp_grpc_port,
    )
