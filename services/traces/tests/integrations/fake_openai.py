"""A local OpenAI-compatible HTTP server for the instrumentation tests: chat completions with
usage (cached tokens included), streamed completions with usage in the last chunk, tool calls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

MODEL = "gpt-4o-mini-2024-07-18"


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    def as_openai(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


CHAT_USAGE = Usage(prompt_tokens=1200, completion_tokens=80, cached_tokens=1024)
STREAM_USAGE = Usage(prompt_tokens=300, completion_tokens=42, cached_tokens=128)
TOOL_USAGE = Usage(prompt_tokens=150, completion_tokens=25)
CHAT_TEXT = "Paris is the capital of France."
STREAM_PIECES = ["The ", "answer ", "is ", "42."]


def _completion(request: dict[str, Any]) -> dict[str, Any]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 1763000000}
    if request.get("tools"):
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        }
        return {
            **base,
            "model": MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            "usage": TOOL_USAGE.as_openai(),
        }
    message = {"role": "assistant", "content": CHAT_TEXT}
    return {
        **base,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": CHAT_USAGE.as_openai(),
    }


def _stream_chunks() -> Iterator[dict[str, Any]]:
    base = {"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": 1763000000}
    for index, piece in enumerate(STREAM_PIECES):
        delta: dict[str, Any] = {"content": piece}
        if index == 0:
            delta["role"] = "assistant"
        yield {**base, "model": MODEL, "choices": [{"index": 0, "delta": delta}]}
    yield {
        **base,
        "model": MODEL,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    yield {**base, "model": MODEL, "choices": [], "usage": STREAM_USAGE.as_openai()}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        request = orjson.loads(self.rfile.read(length) or b"{}")
        if not self.path.endswith("/chat/completions"):
            self.send_response(404)
            self.end_headers()
            return
        if request.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for chunk in _stream_chunks():
                self.wfile.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            return
        body = orjson.dumps(_completion(request))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def fake_openai_server() -> Iterator[str]:
    """Serve on a free port; yields the base URL the openai client takes (`.../v1`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
