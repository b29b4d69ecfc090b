"""A local OpenAI-compatible HTTP server for the instrumentation tests: chat completions with
usage (cached tokens included), streamed completions with usage in the last chunk, tool calls,
and the Responses API (`/v1/responses`, plain and streamed, usage in `response.completed`)."""

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

    def as_responses(self) -> dict[str, Any]:
        """The Responses API's usage shape: input/output tokens, cached tokens in details."""
        return {
            "input_tokens": self.prompt_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_tokens},
            "output_tokens": self.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


CHAT_USAGE = Usage(prompt_tokens=1200, completion_tokens=80, cached_tokens=1024)
STREAM_USAGE = Usage(prompt_tokens=300, completion_tokens=42, cached_tokens=128)
TOOL_USAGE = Usage(prompt_tokens=150, completion_tokens=25)
RESPONSES_USAGE = Usage(prompt_tokens=2100, completion_tokens=64, cached_tokens=1536)
RESPONSES_STREAM_USAGE = Usage(prompt_tokens=700, completion_tokens=36, cached_tokens=512)
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


def _response(text: str, usage: Usage | None, status: str = "completed") -> dict[str, Any]:
    """A Responses API `response` object; in progress it has no output and no usage yet."""
    message = {
        "type": "message",
        "id": "msg_fake",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": 1763000000,
        "status": status,
        "model": MODEL,
        "output": [message] if status == "completed" else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "usage": usage.as_responses() if usage is not None else None,
    }


def _response_events() -> Iterator[dict[str, Any]]:
    """A streamed Responses API answer: created, text deltas, then completed with usage."""
    text = "".join(STREAM_PIECES)
    yield {"type": "response.created", "response": _response("", None, "in_progress")}
    for piece in STREAM_PIECES:
        yield {
            "type": "response.output_text.delta",
            "item_id": "msg_fake",
            "output_index": 0,
            "content_index": 0,
            "delta": piece,
            "logprobs": [],
        }
    yield {"type": "response.completed", "response": _response(text, RESPONSES_STREAM_USAGE)}


def _event_stream() -> Iterator[bytes]:
    for number, event in enumerate(_response_events()):
        payload = orjson.dumps({**event, "sequence_number": number})
        yield b"event: " + event["type"].encode() + b"\ndata: " + payload + b"\n\n"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        request = orjson.loads(self.rfile.read(length) or b"{}")
        if self.path.endswith("/responses"):
            self._responses(request)
            return
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
        self._json(_completion(request))

    def _responses(self, request: dict[str, Any]) -> None:
        if request.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for frame in _event_stream():
                self.wfile.write(frame)
            return
        self._json(_response(CHAT_TEXT, RESPONSES_USAGE))

    def _json(self, document: dict[str, Any]) -> None:
        body = orjson.dumps(document)
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
