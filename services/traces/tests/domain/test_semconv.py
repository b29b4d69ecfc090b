"""The mapping table: each convention's attributes land as the same steps, tokens, cost and
identity; the documented precedence decides ambiguous attribute sets."""

from __future__ import annotations

from typing import Any

import pytest

from aos_traces.domain import semconv
from aos_traces.domain.otlp import CONTENT_LIMIT, Span, cost_record, read, span_to_step


def make_span(attributes: dict[str, Any], resource: dict[str, Any] | None = None) -> Span:
    return Span(
        trace_id="ab" * 16,
        span_id="cd" * 8,
        parent_span_id="",
        name="call",
        start_ns=1_763_000_000_000_000_000,
        end_ns=1_763_000_001_000_000_000,
        status_code=0,
        status_message="",
        attributes=attributes,
        resource=resource or {},
    )


def priced(span: Span) -> dict[str, int]:
    record = cost_record(span, read(span), tenant_id="t", request_id="r", run_id="w", skill_id="s")
    return {
        key: record[key]
        for key in (
            "input_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "output_tokens",
            "reasoning_output_tokens",
        )
    }


OTEL_CURRENT = {
    "gen_ai.provider.name": "openai",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 80,
    "gen_ai.usage.cache_read.input_tokens": 1000,
    "gen_ai.usage.cache_creation.input_tokens": 100,
}
OTEL_DEPRECATED = {
    "gen_ai.system": "openai",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.prompt_tokens": 1200,
    "gen_ai.usage.completion_tokens": 80,
    "gen_ai.usage.cache_read_input_tokens": 1000,
    "gen_ai.usage.cache_creation_input_tokens": 100,
}
OPENINFERENCE = {
    "openinference.span.kind": "LLM",
    "llm.provider": "openai",
    "llm.system": "openai",
    "llm.model_name": "gpt-4o-2024-08-06",
    "llm.token_count.prompt": 1200,
    "llm.token_count.completion": 80,
    "llm.token_count.prompt_details.cache_read": 1000,
    "llm.token_count.prompt_details.cache_write": 100,
}
OPENLLMETRY = {
    "traceloop.span.kind": "task",
    "llm.request.type": "chat",
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 80,
    "gen_ai.usage.cache_read_input_tokens": 1000,
    "gen_ai.usage.cache_creation_input_tokens": 100,
    "llm.usage.total_tokens": 1280,
}


@pytest.mark.parametrize(
    "attributes",
    [OTEL_CURRENT, OTEL_DEPRECATED, OPENINFERENCE, OPENLLMETRY],
    ids=["otel-current", "otel-deprecated", "openinference", "openllmetry"],
)
def test_every_convention_gives_the_same_llm_call(attributes: dict[str, Any]) -> None:
    span = make_span(attributes)
    usage = read(span)
    assert span.is_step and usage.is_llm_call
    assert (usage.operation, usage.provider, usage.model) == ("chat", "openai", "gpt-4o-2024-08-06")
    assert priced(span) == {
        "input_tokens": 100,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 100,
        "output_tokens": 80,
        "reasoning_output_tokens": 0,
    }
    assert span_to_step(span, 0, "k")["skill_id"] == "gen_ai.chat"


@pytest.mark.parametrize(
    ("kind", "operation", "billed"),
    [
        ("LLM", "chat", True),
        ("EMBEDDING", "embeddings", True),
        ("TOOL", "execute_tool", False),
        ("AGENT", "invoke_agent", False),
        ("CHAIN", "chain", False),
        ("RETRIEVER", "retrieval", False),
        ("RERANKER", "rerank", False),
    ],
)
def test_openinference_span_kinds_map_to_operations(
    kind: str, operation: str, billed: bool
) -> None:
    span = make_span(
        {"openinference.span.kind": kind, "llm.model_name": "m", "llm.token_count.prompt": 5}
    )
    usage = read(span)
    assert span.is_step and usage.operation == operation and usage.is_llm_call is billed


@pytest.mark.parametrize(
    ("kind", "operation"),
    [
        ("workflow", "workflow"),
        ("task", "task"),
        ("agent", "invoke_agent"),
        ("tool", "execute_tool"),
    ],
)
def test_traceloop_span_kinds_map_to_operations(kind: str, operation: str) -> None:
    span = make_span({"traceloop.span.kind": kind, "traceloop.entity.name": "planner"})
    usage = read(span)
    assert span.is_step and usage.operation == operation and usage.name == "planner"
    assert usage.is_llm_call is False


def test_current_names_win_over_deprecated_and_other_conventions() -> None:
    span = make_span(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "m",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.prompt_tokens": 999,
            "llm.token_count.prompt": 888,
            "gen_ai.usage.output_tokens": 3,
            "gen_ai.usage.completion_tokens": 777,
        }
    )
    usage = read(span)
    assert (usage.provider, usage.tokens.input, usage.tokens.output) == ("anthropic", 10, 3)


def test_cached_tokens_above_input_mean_input_excluded_them() -> None:
    """Anthropic-style counts: input 20 uncached, 500 read from cache, 100 written to it."""
    span = make_span(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude",
            "gen_ai.usage.input_tokens": 20,
            "gen_ai.usage.cache_read.input_tokens": 500,
            "gen_ai.usage.cache_creation.input_tokens": 100,
            "gen_ai.usage.output_tokens": 7,
        }
    )
    assert read(span).tokens.input == 620
    assert priced(span)["input_tokens"] == 20
    assert sum(priced(span).values()) == 620 + 7


def test_reasoning_tokens_are_priced_once() -> None:
    span = make_span(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "o3",
            "gen_ai.usage.input_tokens": 50,
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.usage.reasoning.output_tokens": 200,
        }
    )
    assert priced(span)["output_tokens"] == 100
    assert priced(span)["reasoning_output_tokens"] == 200
    assert sum(priced(span).values()) == 350


def test_a_total_alone_is_input_and_a_total_with_output_fills_input() -> None:
    alone = make_span(
        {"llm.request.type": "chat", "llm.model_name": "m", "llm.usage.total_tokens": 90}
    )
    assert (read(alone).tokens.input, read(alone).tokens.output) == (90, 0)
    with_output = make_span(
        {
            "llm.request.type": "chat",
            "llm.model_name": "m",
            "llm.usage.total_tokens": 90,
            "gen_ai.usage.completion_tokens": 30,
        }
    )
    assert (read(with_output).tokens.input, read(with_output).tokens.output) == (60, 30)


def test_identity_comes_from_span_then_resource() -> None:
    span = make_span(
        {"gen_ai.operation.name": "chat", "enduser.id": "end-1", "session.id": "s-1"},
        resource={"user.id": "res-user", "aos.feature": "search", "service.name": "svc"},
    )
    usage = read(span)
    assert (usage.user_id, usage.feature, usage.conversation_id) == ("end-1", "search", "s-1")
    both = make_span(
        {"user.id": "u", "enduser.id": "e", "gen_ai.conversation.id": "c", "session.id": "s"}
    )
    assert (read(both).user_id, read(both).conversation_id) == ("u", "c")


def test_user_and_feature_reach_the_cost_record() -> None:
    span = make_span({**OTEL_CURRENT, "user.id": "alice"}, resource={"aos.feature": "checkout"})
    record = cost_record(span, read(span), tenant_id="t", request_id="r", run_id="w", skill_id="s")
    assert (record["user_id"], record["feature_tag"]) == ("alice", "checkout")


def test_a_reservation_id_reaches_the_cost_record() -> None:
    span = make_span({**OTEL_CURRENT, "aos.reservation_id": "res_0123456789abcdef"})
    record = cost_record(span, read(span), tenant_id="t", request_id="r", run_id="w", skill_id="s")
    assert record["reservation_id"] == "res_0123456789abcdef"
    plain = make_span(OTEL_CURRENT)
    unreserved = cost_record(
        plain, read(plain), tenant_id="t", request_id="r", run_id="w", skill_id="s"
    )
    assert "reservation_id" not in unreserved


def test_plain_spans_are_not_steps() -> None:
    assert not make_span({"http.method": "GET", "llm_like": 1}).is_step


def test_message_content_is_stored_redacted() -> None:
    span = make_span(
        {
            **OTEL_CURRENT,
            "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", '
            '"content": "card 4111 1111 1111 1111"}], "api_key": "sk-live"}]',
            "gen_ai.output.messages": '[{"role": "assistant", "parts": []}]',
        }
    )
    step = span_to_step(span, 0, "k")
    (message,) = step["params"]["gen_ai.input.messages"]
    assert message["api_key"] == "<REDACTED>"
    assert "4111 1111 1111 1111" not in str(message)
    assert step["outcome_data"]["gen_ai.output.messages"] == [{"role": "assistant", "parts": []}]


def test_openinference_indexed_messages_are_gathered() -> None:
    span = make_span(
        {
            **OPENINFERENCE,
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "hi",
            "llm.output_messages.0.message.content": "hello",
        }
    )
    step = span_to_step(span, 0, "k")
    assert step["params"]["gen_ai.input.messages"] == {
        "llm.input_messages.0.message.content": "hi",
        "llm.input_messages.0.message.role": "user",
    }
    assert step["outcome_data"]["gen_ai.output.messages"] == {
        "llm.output_messages.0.message.content": "hello"
    }


def test_oversized_content_is_cut_with_a_visible_marker() -> None:
    span = make_span({**OPENINFERENCE, "input.value": "x" * (CONTENT_LIMIT + 500)})
    stored = span_to_step(span, 0, "k")["params"]["gen_ai.input.messages"]
    assert stored.startswith("x" * CONTENT_LIMIT)
    assert stored.endswith("[truncated by AOS: 500 of 16884 characters dropped]")


def test_the_table_lists_every_named_attribute() -> None:
    named = {
        *semconv.PROVIDER,
        *semconv.INPUT_TOKENS,
        *semconv.OUTPUT_TOKENS,
        *semconv.CACHE_READ_TOKENS,
        *semconv.CACHE_CREATION_TOKENS,
        *semconv.TOOL_NAME,
        *semconv.AGENT,
        *semconv.CONVERSATION,
        *semconv.USER,
        *semconv.FEATURE,
        *semconv.INPUT_CONTENT,
        *semconv.OUTPUT_CONTENT,
        *semconv.TOTAL_TOKENS,
    }
    assert {
        "gen_ai.provider.name",
        "gen_ai.system",
        "llm.provider",
        "llm.system",
        "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.prompt_details.cache_read",
        "llm.token_count.prompt_details.cache_write",
        "gen_ai.tool.name",
        "tool.name",
        "gen_ai.agent.name",
        "gen_ai.conversation.id",
        "session.id",
        "user.id",
        "enduser.id",
        "aos.feature",
        "input.value",
        "output.value",
        "llm.usage.total_tokens",
    } <= named


def test_message_content_from_genai_events_when_attributes_have_none() -> None:
    span = make_span(OTEL_CURRENT)
    span.events = [
        ("gen_ai.system.message", {"content": "be brief"}),
        ("gen_ai.user.message", {"content": "capital of France?"}),
        ("gen_ai.choice", {"index": 0, "message": '{"content": "Paris"}'}),
    ]
    step = span_to_step(span, 0, "k")
    assert step["params"]["gen_ai.input.messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "capital of France?"},
    ]
    assert step["outcome_data"]["gen_ai.output.messages"][0]["role"] == "assistant"


def test_message_content_from_the_operation_details_event() -> None:
    span = make_span(OTEL_CURRENT)
    span.events = [
        (
            "gen_ai.client.inference.operation.details",
            {
                "gen_ai.input.messages": '[{"role": "user", "parts": []}]',
                "gen_ai.output.messages": '[{"role": "assistant", "parts": []}]',
            },
        )
    ]
    step = span_to_step(span, 0, "k")
    assert step["params"]["gen_ai.input.messages"] == [{"role": "user", "parts": []}]
    assert step["outcome_data"]["gen_ai.output.messages"] == [{"role": "assistant", "parts": []}]
