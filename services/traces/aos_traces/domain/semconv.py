"""The one mapping table from span attributes to AOS steps, tokens, cost and identity.

Three conventions are read: OpenTelemetry GenAI (current and deprecated names), OpenInference
(Arize Phoenix) and OpenLLMetry (Traceloop). Each field lists the attributes that carry it in
precedence order: the first one present wins (docs/OTEL.md shows the same table). Token
semantics follow the conventions: input tokens include cached tokens, output tokens include
reasoning tokens; where a sender's counts contradict that (cached > input), the documented rule
in `_tokens` decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

# --- the table ------------------------------------------------------------------------------------

MODEL = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name", "llm.response.model")
REQUEST_MODEL = ("gen_ai.request.model", "llm.request.model", "llm.model_name")
PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
OPERATION = ("gen_ai.operation.name", "llm.request.type")
INPUT_TOKENS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
)
OUTPUT_TOKENS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
CACHE_READ_TOKENS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
CACHE_CREATION_TOKENS = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
REASONING_TOKENS = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
)
TOTAL_TOKENS = ("gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total")
COST_CENTS = ("aos.cost_cents", "gen_ai.usage.cost_cents")
TOOL_NAME = ("gen_ai.tool.name", "tool.name")
AGENT = ("gen_ai.agent.name", "gen_ai.agent.id", "agent.name")
CONVERSATION = (
    "gen_ai.conversation.id",
    "session.id",
    "traceloop.association.properties.session_id",
)
USER = ("user.id", "enduser.id", "aos.user_id", "traceloop.association.properties.user_id")
FEATURE = ("aos.feature", "aos.feature_tag")
INPUT_CONTENT = ("gen_ai.input.messages", "gen_ai.prompt", "input.value")
OUTPUT_CONTENT = ("gen_ai.output.messages", "gen_ai.completion", "output.value")
# Attributes whose presence alone makes a span a step.
STEP_MARKERS = ("openinference.span.kind", "traceloop.span.kind", "llm.model_name")
STEP_PREFIXES = ("gen_ai.", "llm.token_count.", "llm.usage.")

# openinference.span.kind / traceloop.span.kind -> GenAI operation name.
OPENINFERENCE_KINDS = {
    "LLM": "chat",
    "EMBEDDING": "embeddings",
    "TOOL": "execute_tool",
    "AGENT": "invoke_agent",
    "CHAIN": "chain",
    "RETRIEVER": "retrieval",
    "RERANKER": "rerank",
    "GUARDRAIL": "guardrail",
    "EVALUATOR": "evaluate",
}
TRACELOOP_KINDS = {
    "workflow": "workflow",
    "task": "task",
    "agent": "invoke_agent",
    "tool": "execute_tool",
}
# OpenLLMetry's llm.request.type spells some operations its own way.
OPERATION_ALIASES = {"completion": "text_completion", "embedding": "embeddings"}
LLM_OPERATIONS = frozenset(
    {"chat", "text_completion", "generate_content", "completion", "embeddings"}
)
REQUEST_PREFIXES = ("gen_ai.request.", "llm.request.")
RESPONSE_PREFIXES = ("gen_ai.response.",)
INVOCATION_PARAMETERS = "llm.invocation_parameters"


# --- reading --------------------------------------------------------------------------------------


def first(attributes: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attributes.get(name)
        if value is not None and value != "":
            return value
    return None


def _text(attributes: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    value = first(attributes, names)
    return None if value is None else str(value)


def _count(attributes: Mapping[str, Any], names: tuple[str, ...]) -> int | None:
    value = first(attributes, names)
    if value is None or isinstance(value, bool):
        return None
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return None


def is_step(attributes: Mapping[str, Any]) -> bool:
    """A span is a step when any of the three conventions marks it as GenAI work."""
    return any(name in attributes for name in STEP_MARKERS) or any(
        key.startswith(STEP_PREFIXES) for key in attributes
    )


@dataclass(slots=True)
class Tokens:
    """Token counts by type, in the conventions' meaning: `input` includes `cache_read` and
    `cache_creation`, `output` includes `reasoning`."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_creation: int = 0
    reasoning: int = 0

    @property
    def uncached_input(self) -> int:
        return self.input - self.cache_read - self.cache_creation

    @property
    def visible_output(self) -> int:
        return self.output - self.reasoning


def _tokens(attributes: Mapping[str, Any]) -> Tokens:
    """Counts by the table; the precedence rules when counts are missing or contradict:

    1. A missing input (or output) count with a total present is the total minus the other
       count; with neither present, the whole total is input.
    2. Cached plus cache-creation tokens above the input count mean the sender counted input
       without them (as Anthropic's API does): they are added to input, never priced twice.
    3. Reasoning tokens above the output count likewise are added to output.
    """
    input_tokens = _count(attributes, INPUT_TOKENS)
    output_tokens = _count(attributes, OUTPUT_TOKENS)
    total = _count(attributes, TOTAL_TOKENS)
    if total is not None:
        if input_tokens is None:
            input_tokens = max(total - (output_tokens or 0), 0)
        if output_tokens is None:
            output_tokens = max(total - input_tokens, 0)
    tokens = Tokens(
        input=input_tokens or 0,
        output=output_tokens or 0,
        cache_read=_count(attributes, CACHE_READ_TOKENS) or 0,
        cache_creation=_count(attributes, CACHE_CREATION_TOKENS) or 0,
        reasoning=_count(attributes, REASONING_TOKENS) or 0,
    )
    if tokens.cache_read + tokens.cache_creation > tokens.input:
        tokens.input += tokens.cache_read + tokens.cache_creation
    if tokens.reasoning > tokens.output:
        tokens.output += tokens.reasoning
    return tokens


def _operation(attributes: Mapping[str, Any]) -> str | None:
    operation = _text(attributes, OPERATION)
    if operation is not None:
        return OPERATION_ALIASES.get(operation, operation)
    kind = attributes.get("openinference.span.kind")
    if isinstance(kind, str) and kind.upper() in OPENINFERENCE_KINDS:
        return OPENINFERENCE_KINDS[kind.upper()]
    kind = attributes.get("traceloop.span.kind")
    if isinstance(kind, str) and kind.lower() in TRACELOOP_KINDS:
        return TRACELOOP_KINDS[kind.lower()]
    return None


def identity(
    attributes: Mapping[str, Any], resource: Mapping[str, Any], names: tuple[str, ...]
) -> str | None:
    """An identity attribute from the span, else from its resource."""
    value = first(attributes, names)
    if value is None:
        value = first(resource, names)
    return None if value is None else str(value)


@dataclass(slots=True)
class GenAiSpan:
    """What one span says, in AOS terms, whichever convention it was written in."""

    operation: str | None
    model: str | None
    request_model: str | None
    provider: str | None
    tokens: Tokens
    cost_cents: float | None
    tool_name: str | None
    name: str | None
    user_id: str | None
    feature: str | None
    conversation_id: str | None

    @property
    def is_llm_call(self) -> bool:
        """A model call worth a cost record: a model and an LLM operation (or no operation but
        token counts). Agent, chain and tool spans carry aggregate or no usage: not billed."""
        if not self.model:
            return False
        if self.operation is None:
            return self.tokens.input + self.tokens.output > 0
        return self.operation in LLM_OPERATIONS


def read_span(attributes: Mapping[str, Any], resource: Mapping[str, Any]) -> GenAiSpan:
    cost = first(attributes, COST_CENTS)
    cost_cents = None
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0:
        cost_cents = float(cost)
    return GenAiSpan(
        operation=_operation(attributes),
        model=_text(attributes, MODEL),
        request_model=_text(attributes, REQUEST_MODEL),
        provider=_text(attributes, PROVIDER),
        tokens=_tokens(attributes),
        cost_cents=cost_cents,
        tool_name=_text(attributes, TOOL_NAME),
        name=_text(attributes, ("traceloop.entity.name",)),
        user_id=identity(attributes, resource, USER),
        feature=identity(attributes, resource, FEATURE),
        conversation_id=identity(attributes, resource, CONVERSATION),
    )


def request_params(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Request parameters as sent (GenAI and OpenLLMetry `*.request.*`, OpenInference's
    invocation parameters)."""
    params = {k: v for k, v in attributes.items() if k.startswith(REQUEST_PREFIXES)}
    invocation = attributes.get(INVOCATION_PARAMETERS)
    if invocation is not None:
        params[INVOCATION_PARAMETERS] = invocation
    return params


def response_fields(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if k.startswith(RESPONSE_PREFIXES)}


def content(attributes: Mapping[str, Any], names: tuple[str, ...], indexed: tuple[str, ...]) -> Any:
    """Message content: the whole-value attributes of the table, else the indexed ones
    (`gen_ai.prompt.0.content`, `llm.input_messages.0.message.content`) gathered in order."""
    value = first(attributes, names)
    if value is not None:
        return value
    gathered = {k: v for k, v in attributes.items() if k.startswith(indexed)}
    return dict(sorted(gathered.items())) or None


INPUT_INDEXED = ("gen_ai.prompt.", "llm.input_messages.")
OUTPUT_INDEXED = ("gen_ai.completion.", "llm.output_messages.")


# GenAI events carrying message content, when an instrumentation records them on the span:
# the current single event with whole-message attributes, the older per-message events, and
# OpenLLMetry's prompt/completion events.
EVENT_PREFIX = "gen_ai."
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
INPUT_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
OUTPUT_EVENTS = {"gen_ai.choice": "assistant"}
CONTENT_EVENTS = {"gen_ai.content.prompt": "gen_ai.prompt", "gen_ai.content.completion": None}


def event_content(events: list[tuple[str, dict[str, Any]]]) -> tuple[Any, Any]:
    """(prompt, completion) content found in GenAI span events, None where there is none."""
    prompt: list[Any] = []
    completion: list[Any] = []
    for name, attributes in events:
        if name == DETAILS_EVENT:
            prompt.extend(_listed(attributes.get("gen_ai.input.messages")))
            completion.extend(_listed(attributes.get("gen_ai.output.messages")))
        elif name in INPUT_EVENTS:
            prompt.append({"role": INPUT_EVENTS[name], **attributes})
        elif name in OUTPUT_EVENTS:
            completion.append({"role": OUTPUT_EVENTS[name], **attributes})
        elif name == "gen_ai.content.prompt" and "gen_ai.prompt" in attributes:
            prompt.append(attributes["gen_ai.prompt"])
        elif name == "gen_ai.content.completion" and "gen_ai.completion" in attributes:
            completion.append(attributes["gen_ai.completion"])
    return prompt or None, completion or None


def _listed(value: Any) -> list[Any]:
    """Messages as a list: JSON text (as attributes carry it) parsed, a single one wrapped."""
    if isinstance(value, str) and value.startswith("["):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
