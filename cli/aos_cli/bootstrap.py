"""The demo tenant, its admin key and a console token, from the tenants package when it offers them.

`bootstrap_demo` (in `aos_tenants.cli` or `aos_tenants.tenants.bootstrap`) belongs to the tenants
service; it is imported lazily and called with whichever of the values `aos up` offers its
signature names, so `aos up` works before it exists (the credentials file then carries nulls for
the demo fields).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DemoCredentials:
    tenant_id: str | None = None
    admin_key: str | None = None
    console_token: str | None = None


MODULES = ("aos_tenants.cli", "aos_tenants.tenants.bootstrap")


def _load() -> Any | None:
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        function = getattr(module, "bootstrap_demo", None)
        if function is not None:
            return function
    return None


def available() -> bool:
    return _load() is not None


def _field(result: Any, name: str) -> str | None:
    value = result.get(name) if isinstance(result, Mapping) else getattr(result, name, None)
    return value if isinstance(value, str) and value else None


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _run(function: Any, kwargs: dict[str, Any]) -> Any:
    """Call sync or async; an awaitable result runs on its own loop in a thread."""
    result = function(**kwargs)
    if not inspect.isawaitable(result):
        return result
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(_await(result))
        except BaseException as error:
            box["error"] = error

    thread = threading.Thread(target=target, name="aos-bootstrap-demo")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("result")


def bootstrap_demo(values: Mapping[str, Any]) -> DemoCredentials | None:
    """Create or reuse the demo tenant; None when the tenants package does not offer it yet."""
    function = _load()
    if function is None:
        return None
    parameters = inspect.signature(function).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    kwargs = {name: value for name, value in values.items() if accepts_any or name in parameters}
    result = _run(function, kwargs)
    if result is None:
        return DemoCredentials()
    return DemoCredentials(
        tenant_id=_field(result, "tenant_id"),
        admin_key=_field(result, "admin_key"),
        console_token=_field(result, "console_token"),
    )
