"""`@observe()`: runs, steps, tools and LLM calls as OpenTelemetry spans the traces service maps.

One object is both a decorator (sync and async functions, generators, async generators) and a
context manager (`with` / `async with`). Spans nest by the OpenTelemetry context, so an observed
function called inside another becomes its child, and so do the spans of provider
instrumentations (`aos_sdk.instrument()`). Attributes follow the OpenTelemetry GenAI semantic
conventions (see docs/sdk.md for the table); `user_id`, `session_id` and `feature` given to a
span are copied onto every span started inside it, so LLM spans made by an instrumentation carry
the user and feature their cost is attributed to.

Telemetry never breaks the application: the wrapped function's own exceptions propagate
unchanged (recorded on the span), and any failure of the tracing itself is swallowed.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Callable, Generator, Mapping
from typing import Any, Literal, TypeVar, cast

from opentelemetry import context, trace
from opentelemetry.trace import Span, Status, StatusCode

from aos_sdk.telemetry import INHERITED

logger = logging.getLogger("aos_sdk.observe")
Kind = Literal["run", "step", "tool", "llm"]
F = TypeVar("F", bound=Callable[..., Any])
MAX_VALUE_CHARS = 4096
TRACER_NAME = "aos_sdk"

OPERATION = {"run": "invoke_agent", "step": None, "tool": "execute_tool", "llm": "chat"}
"""`gen_ai.operation.name` per kind; a step has none in the conventions, so its OpenInference
kind (CHAIN) names it: the traces service maps it to the operation `chain` (docs/OTEL.md)."""
OPENINFERENCE_KIND = {"run": "AGENT", "step": "CHAIN", "tool": "TOOL", "llm": "LLM"}


def _safe(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except Exception:
        logger.debug("tracing step failed", exc_info=True)
        return None


def _text(value: Any) -> str:
    """A value as bounded text: JSON when it can be, with a visible cut marker."""
    try:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
    except Exception:
        text = repr(value)
    if len(text) > MAX_VALUE_CHARS:
        return text[:MAX_VALUE_CHARS] + f"…[truncated {len(text) - MAX_VALUE_CHARS} chars]"
    return text


class ObservedSpan:
    """The handle `with observe(...) as span` gives: record an output, usage or attributes."""

    def __init__(self, span: Span, kind: Kind, capture: bool) -> None:
        self.span = span
        self.kind = kind
        self._capture = capture

    def set_attribute(self, key: str, value: Any) -> None:
        _safe(lambda: self.span.set_attribute(key, value))

    def set_output(self, value: Any) -> None:
        """The result, as `output.value` (and `gen_ai.tool.call.result` for a tool)."""
        if not self._capture:
            return
        text = _text(value)
        self.set_attribute("output.value", text)
        if self.kind == "tool":
            self.set_attribute("gen_ai.tool.call.result", text)

    def record_usage(
        self,
        model: str,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_input_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
        provider: str | None = None,
        response_model: str | None = None,
    ) -> None:
        """An LLM call's usage, as the GenAI conventions count it: `input_tokens` includes the
        cached ones (read and written)."""
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
        }
        if cache_read_input_tokens:
            attributes["gen_ai.usage.cache_read.input_tokens"] = cache_read_input_tokens
        if cache_creation_input_tokens:
            attributes["gen_ai.usage.cache_creation.input_tokens"] = cache_creation_input_tokens
        if provider:
            attributes["gen_ai.provider.name"] = provider
        if response_model:
            attributes["gen_ai.response.model"] = response_model
        _safe(lambda: self.span.set_attributes(attributes))


class observe:
    """`@observe()` / `@observe(kind="tool")` / `with observe("plan") as span:`.

    `name` defaults to the function's qualified name; `kind` is "run", "step" (default), "tool"
    or "llm". With `capture=True` (default) arguments and results are recorded, as bounded
    JSON text (4,096 characters, cut with a marker)."""

    def __init__(
        self,
        name: str | None = None,
        *,
        kind: Kind = "step",
        capture: bool = True,
        run_id: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        feature: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        if kind not in OPERATION:
            raise ValueError(f"kind must be one of {', '.join(OPERATION)}, not {kind!r}")
        self.name = name
        self.kind: Kind = kind
        self.capture = capture
        self.attributes = dict(attributes or {})
        self.inherited = {
            key: value
            for key, value in (
                ("user.id", user_id),
                ("session.id", session_id),
                ("gen_ai.conversation.id", session_id),
                ("aos.feature", feature),
            )
            if value
        }
        if run_id:
            self.attributes["aos.run_id"] = run_id
        self._active: list[tuple[_Active, object]] = []

    # --- context manager ----------------------------------------------------------------------

    def __enter__(self) -> ObservedSpan:
        active = _Active(self, self.name or "observe", None)
        token = active.attach()
        self._active.append((active, token))
        return active.handle

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        active, token = self._active.pop()
        active.detach(token)
        active.end(error)

    async def __aenter__(self) -> ObservedSpan:
        return self.__enter__()

    async def __aexit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        self.__exit__(kind, error, tb)

    # --- decorator ----------------------------------------------------------------------------

    def __call__(self, function: F) -> F:
        name = self.name or getattr(function, "__qualname__", None) or repr(function)
        signature = _safe(lambda: inspect.signature(function))
        spec = self

        def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Active:
            return _Active(
                spec, name, _arguments(signature, args, kwargs) if spec.capture else None
            )

        if inspect.isasyncgenfunction(function):

            @functools.wraps(function)
            async def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                # An async generator cannot delegate (no `yield from`): the loop lives here.
                active = start(args, kwargs)
                token = active.attach()
                try:
                    inner = function(*args, **kwargs)
                finally:
                    active.detach(token)
                sent: Any = None
                thrown: BaseException | None = None
                count = 0
                try:
                    while True:
                        token = active.attach()
                        try:
                            if thrown is not None:
                                item = await inner.athrow(thrown)
                            else:
                                item = await inner.asend(sent)
                        except StopAsyncIteration:
                            active.handle.set_attribute("aos.output.items", count)
                            return
                        finally:
                            active.detach(token)
                        count += 1
                        sent, thrown = None, None
                        try:
                            sent = yield item
                        except GeneratorExit:
                            await inner.aclose()
                            raise
                        except BaseException as error:
                            thrown = error
                except BaseException as error:
                    active.end(error)
                    raise
                finally:
                    active.end(None)

            return cast(F, async_gen_wrapper)

        if inspect.isgeneratorfunction(function):

            @functools.wraps(function)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                active = start(args, kwargs)
                token = active.attach()
                try:
                    inner = function(*args, **kwargs)
                finally:
                    active.detach(token)
                return (yield from _gen(active, inner))

            return cast(F, gen_wrapper)

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                active = start(args, kwargs)
                token = active.attach()
                try:
                    result = await function(*args, **kwargs)
                except BaseException as error:
                    active.end(error)
                    raise
                finally:
                    active.detach(token)
                active.handle.set_output(result)
                active.end(None)
                return result

            return cast(F, async_wrapper)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            active = start(args, kwargs)
            token = active.attach()
            try:
                result = function(*args, **kwargs)
            except BaseException as error:
                active.end(error)
                raise
            finally:
                active.detach(token)
            active.handle.set_output(result)
            active.end(None)
            return result

        return cast(F, wrapper)


class _Active:
    """One started span and the context it is current in."""

    def __init__(self, spec: observe, name: str, arguments: Any) -> None:
        self.spec = spec
        self.span: Span = trace.INVALID_SPAN
        self.context: Any = None
        self.handle = ObservedSpan(trace.INVALID_SPAN, spec.kind, spec.capture)
        self._ended = False
        _safe(lambda: self._start(name, arguments))

    def _start(self, name: str, arguments: Any) -> None:
        spec = self.spec
        inherited = dict(context.get_value(INHERITED) or {})  # type: ignore[call-overload]
        inherited.update(spec.inherited)
        attributes: dict[str, Any] = {
            "openinference.span.kind": OPENINFERENCE_KIND[spec.kind],
            **inherited,
        }
        operation = OPERATION[spec.kind]
        if operation:
            attributes["gen_ai.operation.name"] = operation
        span_name = name
        if spec.kind == "run":
            attributes["gen_ai.agent.name"] = name
            span_name = f"invoke_agent {name}"
        elif spec.kind == "tool":
            attributes["gen_ai.tool.name"] = name
            span_name = f"execute_tool {name}"
        if arguments is not None:
            text = _text(arguments)
            attributes["input.value"] = text
            if spec.kind == "tool":
                attributes["gen_ai.tool.call.arguments"] = text
        attributes.update(spec.attributes)
        tracer = trace.get_tracer(TRACER_NAME)
        self.span = tracer.start_span(span_name, attributes=attributes)
        ctx = trace.set_span_in_context(self.span)
        self.context = context.set_value(INHERITED, inherited, ctx) if inherited else ctx
        self.handle = ObservedSpan(self.span, spec.kind, spec.capture)

    def attach(self) -> object:
        return _safe(lambda: context.attach(self.context)) if self.context is not None else None

    def detach(self, token: object) -> None:
        if token is not None:
            _safe(lambda: context.detach(token))  # type: ignore[arg-type]

    def end(self, error: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True

        def finish() -> None:
            if error is not None and not isinstance(error, GeneratorExit):
                self.span.record_exception(error)
                self.span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
                self.span.set_attribute("error.type", type(error).__qualname__)
            self.span.end()

        _safe(finish)


def current_span() -> ObservedSpan:
    """The span the code runs in (e.g. inside an `@observe(kind="llm")` function), to record
    usage or an output on it."""
    return ObservedSpan(trace.get_current_span(), "step", True)


def _arguments(
    signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if signature is None:
        return {"args": list(args), "kwargs": kwargs}
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}
    return {key: value for key, value in bound.arguments.items() if key not in ("self", "cls")}


def _gen(active: _Active, inner: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    """Drive `inner` with the span current only while it runs (never across a yield, where the
    caller's context must be its own)."""
    sent: Any = None
    thrown: BaseException | None = None
    count = 0
    try:
        while True:
            token = active.attach()
            try:
                item = inner.throw(thrown) if thrown is not None else inner.send(sent)
            except StopIteration as stop:
                active.handle.set_attribute("aos.output.items", count)
                return stop.value
            finally:
                active.detach(token)
            count += 1
            sent, thrown = None, None
            try:
                sent = yield item
            except GeneratorExit:
                inner.close()
                raise
            except BaseException as error:
                thrown = error
    except BaseException as error:
        active.end(error)
        raise
    finally:
        active.end(None)
