"""Budget reservations: hold an estimated cost on every hard budget before the work, settle the
actual cost after it (docs/RESERVATIONS.md).

    with client.reserve(estimated_cost_cents=250, feature="support.chat") as hold:
        answer = call_the_model()
        hold.settle(actual_cost_cents=212.5)          # or records=[{...token counts...}]

    async with async_client.reserve(estimated_cost_cents=250) as hold:
        ...
        await hold.settle(actual_cost_cents=212.5)

Entering raises `BudgetExceededError` (402) when a hard budget would be exceeded, before any
work is done. Leaving the block without settling releases the hold (no charge), also when the
block raised. OpenTelemetry users may instead take the hold with `client.reserve(...).open()`
and put `hold.attributes` (`aos.reservation_id`) on the LLM span: the span's cost record
settles the reservation when it reaches cost-intel (an unsettled hold expires by its TTL).
Each call carries an Idempotency-Key, so the client's retries never hold or charge twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aos_sdk._http import Call
from aos_sdk.errors import AOSError

if TYPE_CHECKING:
    from aos_sdk.aio import AsyncAOSClient
    from aos_sdk.client import AOSClient

PATH = "/api/v1/cost/reservations"
RESERVATION_ATTRIBUTE = "aos.reservation_id"
Cents = int | float | str | Decimal


def _cents(value: Cents) -> str:
    """Cents as the decimal string cost-intel reads exactly (a float goes through its repr)."""
    return str(value) if not isinstance(value, float) else repr(value)


def reserve_call(
    estimated_cost_cents: Cents,
    *,
    feature: str | None = None,
    user_id: str | None = None,
    model: str | None = None,
    run_id: str | None = None,
    ttl_seconds: int | None = None,
) -> Call:
    body: dict[str, Any] = {"estimated_cost_cents": _cents(estimated_cost_cents)}
    optional = {
        "feature_tag": feature,
        "user_id": user_id,
        "model": model,
        "run_id": run_id,
        "ttl_seconds": ttl_seconds,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return Call.write("POST", PATH, body)


def settle_call(
    reservation_id: str,
    actual_cost_cents: Cents | None,
    records: Sequence[Mapping[str, Any]] | None,
) -> Call:
    if (actual_cost_cents is None) == (records is None):
        raise ValueError("settle takes either actual_cost_cents or records")
    if records is not None:
        body: dict[str, Any] = {"records": [dict(record) for record in records]}
    else:
        body = {"actual_cost_cents": _cents(actual_cost_cents)}  # type: ignore[arg-type]
    return Call.write("POST", f"{PATH}/{reservation_id}/settle", body)


def release_call(reservation_id: str) -> Call:
    return Call.write("POST", f"{PATH}/{reservation_id}/release")


class _HoldState:
    """What cost-intel answered about the reservation, updated by each call."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.payload: dict[str, Any] = dict(payload)

    @property
    def id(self) -> str:
        return str(self.payload["id"])

    @property
    def status(self) -> str:
        return str(self.payload["status"])

    @property
    def held_cents(self) -> Decimal:
        return Decimal(self.payload["held_cents"])

    @property
    def charged_cents(self) -> Decimal | None:
        charged = self.payload.get("charged_cents")
        return None if charged is None else Decimal(charged)

    @property
    def budgets(self) -> list[dict[str, Any]]:
        return list(self.payload.get("budgets") or [])

    @property
    def attributes(self) -> dict[str, str]:
        """Span attributes that make the span's cost record settle this reservation."""
        return {RESERVATION_ATTRIBUTE: self.id}

    @property
    def open(self) -> bool:
        return self.status == "held"


class Hold(_HoldState):
    def __init__(self, client: AOSClient, payload: Mapping[str, Any]) -> None:
        super().__init__(payload)
        self._client = client

    def settle(
        self,
        actual_cost_cents: Cents | None = None,
        *,
        records: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Record the actual cost (in full, even above the hold) and take the hold off."""
        self.payload = self._client.send(settle_call(self.id, actual_cost_cents, records))
        return self.payload

    def release(self) -> dict[str, Any]:
        self.payload = self._client.send(release_call(self.id))
        return self.payload


class AsyncHold(_HoldState):
    def __init__(self, client: AsyncAOSClient, payload: Mapping[str, Any]) -> None:
        super().__init__(payload)
        self._client = client

    async def settle(
        self,
        actual_cost_cents: Cents | None = None,
        *,
        records: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        self.payload = await self._client.send(settle_call(self.id, actual_cost_cents, records))
        return self.payload

    async def release(self) -> dict[str, Any]:
        self.payload = await self._client.send(release_call(self.id))
        return self.payload


class Reservation:
    """`with client.reserve(...) as hold:` — held on entry, released on exit unless settled."""

    def __init__(self, client: AOSClient, call: Call) -> None:
        self._client = client
        self._call = call
        self.hold: Hold | None = None

    def open(self) -> Hold:
        """Hold without the block: nothing releases it but a settle, a release or its expiry
        (what a span tagged with `hold.attributes` needs, since its cost arrives later)."""
        self.hold = Hold(self._client, self._client.send(self._call))
        return self.hold

    def __enter__(self) -> Hold:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.hold is None or not self.hold.open:
            return
        try:
            self.hold.release()
        except AOSError:
            if exc is None:
                raise  # otherwise the block's own exception is the one to see


class AsyncReservation:
    """`async with client.reserve(...) as hold:` — the same, for AsyncAOSClient."""

    def __init__(self, client: AsyncAOSClient, call: Call) -> None:
        self._client = client
        self._call = call
        self.hold: AsyncHold | None = None

    async def open(self) -> AsyncHold:
        """Hold without the block (see Reservation.open)."""
        self.hold = AsyncHold(self._client, await self._client.send(self._call))
        return self.hold

    async def __aenter__(self) -> AsyncHold:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.hold is None or not self.hold.open:
            return
        try:
            await self.hold.release()
        except AOSError:
            if exc is None:
                raise
