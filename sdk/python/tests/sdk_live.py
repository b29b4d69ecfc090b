"""Real service apps under uvicorn in background threads, and a proxy that loses answers.

The sync SDK needs real sockets (httpx.ASGITransport is async-only), so each app runs under
uvicorn on a free port in its own thread. `LossyProxy` forwards every request to the real service
and, for the first N requests matching a rule, throws the real answer away and replies 503 with
`Retry-After: 0` instead: the server did the work, the client never heard, so the SDK retries
the same write, which is exactly the case idempotency keys exist for.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import uvicorn

_HOP_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "content-encoding",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UvicornThread:
    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)


class LossyProxy:
    """Forwards to `upstream`; `lose(method, path, n)` drops the answers of the next n matches."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.forwarded: list[tuple[str, str, dict[str, str]]] = []
        self._losses: list[tuple[Callable[[str, str], bool], list[int]]] = []
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=upstream, timeout=30.0)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                upstream = proxy._http.request(
                    self.command, self.path, content=body, headers=headers
                )
                lost = proxy._record(self.command, self.path, headers)
                status, content = (503, b"") if lost else (upstream.status_code, upstream.content)
                self.send_response(status)
                if lost:
                    self.send_header("Retry-After", "0")
                else:
                    for key, value in upstream.headers.items():
                        if key.lower() not in _HOP_HEADERS:
                            self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()

    def lose(self, method: str, path_prefix: str, times: int = 1, *, exact: bool = False) -> None:
        def match(m: str, p: str) -> bool:
            path = p.split("?", 1)[0]
            return m == method and (path == path_prefix if exact else path.startswith(path_prefix))

        with self._lock:
            self._losses.append((match, [times]))

    def _record(self, method: str, path: str, headers: dict[str, str]) -> bool:
        with self._lock:
            self.forwarded.append((method, path, headers))
            for match, left in self._losses:
                if match(method, path) and left[0] > 0:
                    left[0] -= 1
                    return True
        return False

    def seen(self, method: str, path_prefix: str, *, exact: bool = False) -> list[dict[str, str]]:
        def hit(p: str) -> bool:
            path = p.split("?", 1)[0]
            return path == path_prefix if exact else path.startswith(path_prefix)

        return [h for m, p, h in self.forwarded if m == method and hit(p)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()


class ServiceProcess:
    """A service app under uvicorn in its own process (`--factory`), configured by AOS_*
    variables: for tests whose process sets a global OpenTelemetry provider, which an in-process
    FastAPI app would report its own requests to."""

    def __init__(self, factory: str, port: int, settings: dict[str, Any]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        self._env = {
            **os.environ,
            **{f"AOS_{key.upper()}": str(value) for key, value in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.process = subprocess.Popen(self._command, env=self._env)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self._command[4]} did not start on {self.url}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
