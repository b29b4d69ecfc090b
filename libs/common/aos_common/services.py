"""The registry of AOS services: names, packages, schemas and default ports. Names only, no logic."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    package: str
    schema: str | None
    port: int

    @property
    def app_factory(self) -> str:
        return f"{self.package}.main:create_app"

    @property
    def url_env(self) -> str:
        return "AOS_" + self.name.upper().replace("-", "_") + "_URL"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("tenants", "aos_tenants", "tenants", 8001),
    ServiceSpec("traces", "aos_traces", "traces", 8002),
    ServiceSpec("cost-intel", "aos_cost_intel", "cost_intel", 8003),
    ServiceSpec("audit-ledger", "aos_audit_ledger", "audit", 8004),
    ServiceSpec("guard-logs", "aos_guard_logs", "guard_logs", 8005),
)
GATEWAY = ServiceSpec("gateway", "aos_gateway", None, 8080)


def service(name: str) -> ServiceSpec:
    for spec in (*SERVICES, GATEWAY):
        if spec.name == name:
            return spec
    raise KeyError(name)
