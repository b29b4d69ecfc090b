"""Test and benchmark support: an httpx transport that runs an ASGI app in-process *and streams*.

httpx.ASGITransport collects the whole response body before returning, which would hide exactly
what the export tests check (that 100,000 rows are never held at once). This transport runs the app
in a task and hands body chunks over a small bounded queue, so a slow reader applies back-pressure
to the app, as a socket would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
from starlette.types import ASGIApp

_END = object()


class _QueueStream(httpx.AsyncByteStream):
    def __init__(
        self, queue: asyncio.Queue[Any], task: asyncio.Task[None], closed: asyncio.Event
    ) -> None:
        self._queue = queue
        self._task = task
        self._closed = closed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise httpx.ReadError(str(item)) from item
            yield item

    async def aclose(self) -> None:
        self._closed.set()
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


class StreamingASGITransport(httpx.AsyncBaseTransport):
    def __init__(self, app: ASGIApp, *, queue_size: int = 8) -> None:
        self.app = app
        self.queue_size = queue_size

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(key.lower(), value) for key, value in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": ("127.0.0.1", 123),
            "root_path": "",
        }
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=self.queue_size)
        started = asyncio.Event()
        closed = asyncio.Event()
        response: dict[str, Any] = {}
        body_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await closed.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["headers"] = message.get("headers", [])
                started.set()
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if chunk:
                    await queue.put(chunk)
                if not message.get("more_body", False):
                    await queue.put(_END)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except Exception as error:
                if not started.is_set():
                    response["error"] = error
                    started.set()
                else:
                    await queue.put(error)

        task = asyncio.create_task(run())
        await started.wait()
        if "error" in response:
            raise response["error"]
        return httpx.Response(
            response["status"],
            headers=response["headers"],
            stream=_QueueStream(queue, task, closed),
            request=request,
        )
