"""Typed application state: what a service keeps on `app.state`, declared once as one object.

Starlette's `app.state` is an untyped bag, so `request.app.state.engine` reads as `Any` and a
typo or a wrong type surfaces only at run time. `create_service_app` stores one `ServiceState`
as `app.state.service` instead, and `service_state(app)` returns it typed, so mypy checks every
use. A service with objects of its own subclasses it (narrowing `settings` to its settings class
and declaring its fields), passes the class as `create_service_app(state_class=...)`, and reads
it with `service_state(app, ItsState)`.

`settings`, `metrics` and `readiness` exist from the moment the app is built; the engine, Redis
and the clients only while the lifespan runs (reading one before it raises AttributeError).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
    from starlette.applications import Starlette

    from aos_common.auth import Authenticator
    from aos_common.http_client import ServiceClient
    from aos_common.idempotency import IdempotencyStore
    from aos_common.metrics import Metrics
    from aos_common.outbox import OutboxRelay
    from aos_common.periodic import PeriodicTask
    from aos_common.readiness import ReadinessProbes
    from aos_common.revocation import RevocationWatch
    from aos_common.settings import ServiceSettings


class ServiceState:
    """The objects every service shares (aos_common.app builds them)."""

    settings: ServiceSettings
    metrics: Metrics
    readiness: ReadinessProbes
    # Set by the lifespan:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    idempotency: IdempotencyStore
    http: ServiceClient
    authenticator: Authenticator
    # None when the service has no such table, relay or revocation source:
    idempotency_table: Table | None = None
    idempotency_purge: PeriodicTask | None = None
    outbox_relay: OutboxRelay | None = None
    revocations: RevocationWatch | None = None

    def __init__(
        self, settings: ServiceSettings, metrics: Metrics, readiness: ReadinessProbes
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.readiness = readiness


StateT = TypeVar("StateT", bound=ServiceState)


@overload
def service_state(app: Starlette) -> ServiceState: ...


@overload
def service_state(app: Starlette, kind: type[StateT]) -> StateT: ...


def service_state(app: Starlette, kind: type[Any] = ServiceState) -> Any:
    """The app's state as `kind` (a TypeError names the mix-up if the app holds another)."""
    state = app.state.service
    if not isinstance(state, kind):
        raise TypeError(f"the app's state is {type(state).__name__}, not {kind.__name__}")
    return state
