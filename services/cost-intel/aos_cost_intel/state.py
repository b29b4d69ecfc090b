"""The cost-intel service's typed application state (aos_common.state): its settings class, the
price book cache, the reservation pool and its batchers, and the webhook client, each set by a
lifespan hook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aos_common.state import ServiceState, service_state

if TYPE_CHECKING:
    import asyncpg
    import httpx
    from starlette.applications import Starlette

    from aos_cost_intel.prices.service import PriceBookCache
    from aos_cost_intel.reservations.batcher import ReserveBatcher
    from aos_cost_intel.reservations.closing import CloseBatcher
    from aos_cost_intel.settings import CostIntelSettings


class CostIntelState(ServiceState):
    settings: CostIntelSettings
    prices: PriceBookCache  # prices.service.price_book
    reservation_pool: asyncpg.Pool  # reservations.pool, with the two batchers
    reservation_batcher: ReserveBatcher
    close_batcher: CloseBatcher
    webhook_http: httpx.AsyncClient  # alerts.relay


def cost_intel_state(app: Starlette) -> CostIntelState:
    return service_state(app, CostIntelState)
