"""A scripted local HTTP server standing in for AOS in the SDK's unit tests.

Each test queues answers per (method, path prefix); the server records every request it got
(headers and JSON body) so tests can check what the SDK actually sent on the wire.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""


class StubServer:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._scripts: list[tuple[str, str, list[Answer]]] = []
        self._defaults: list[tuple[str, str, Any]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    raw,
                )
                answer = stub._answer(seen)
                if answer.drop_connection:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                ctype = "application/problem+json" if answer.status >= 400 else "application/json"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )

    def script(self, method: str, path: str, *answers: Answer) -> None:
        """Answers given in order to requests matching method and path prefix."""
        with self._lock:
            self._scripts.append((method, path, list(answers)))

    def default(self, method: str, path: str, body: Any, status: int = 200) -> None:
        with self._lock:
            self._defaults.append((method, path, (status, body)))

    def _answer(self, seen: Seen) -> Answer:
        with self._lock:
            self.requests.append(seen)
            for method, path, answers in self._scripts:
                if seen.method == method and seen.path.startswith(path) and answers:
                    return answers.pop(0)
            for method, path, (status, body) in self._defaults:
                if seen.method == method and seen.path.startswith(path):
                    return Answer(status, body(seen) if callable(body) else body)
        return Answer(404, {"title": "Not Found", "status": 404, "detail": "no script"})

    def sent(self, method: str, path: str) -> list[Seen]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path)]


def envelope(data: Any) -> dict[str, Any]:
    return {
        "success": True,
        "data": data,
        "meta": {"timestamp": "2026-01-01T00:00:00Z", "request_id": "req-000000000000"},
    }


def problem(status: int, detail: str, request_id: str = "req-abcdefabcdef") -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": "Error",
        "status": status,
        "detail": detail,
        "instance": "/",
        "request_id": request_id,
    }
