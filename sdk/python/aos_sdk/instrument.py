"""`instrument()`: turn on the provider instrumentations that are installed.

One instrumentation per provider library, in a fixed preference (the official OpenTelemetry
GenAI one, then OpenLLMetry's, then OpenInference's): two instrumentations of the same client
would record every call twice, and AOS would bill it twice. Nothing here imports a provider
library that is not installed, and a failing instrumentation is logged and skipped.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any

logger = logging.getLogger("aos_sdk.instrument")

# library module → [(instrumentation module, instrumentor class)], preferred first.
INSTRUMENTATIONS: dict[str, list[tuple[str, str]]] = {
    "openai": [
        ("opentelemetry.instrumentation.openai_v2", "OpenAIInstrumentor"),
        ("opentelemetry.instrumentation.openai", "OpenAIInstrumentor"),
        ("openinference.instrumentation.openai", "OpenAIInstrumentor"),
    ],
    "anthropic": [
        ("opentelemetry.instrumentation.anthropic", "AnthropicInstrumentor"),
        ("openinference.instrumentation.anthropic", "AnthropicInstrumentor"),
    ],
    "google.genai": [
        ("opentelemetry.instrumentation.google_genai", "GoogleGenAiSdkInstrumentor"),
        ("openinference.instrumentation.google_genai", "GoogleGenAIInstrumentor"),
    ],
    "mistralai": [
        ("opentelemetry.instrumentation.mistralai", "MistralAiInstrumentor"),
        ("openinference.instrumentation.mistralai", "MistralAIInstrumentor"),
    ],
    "boto3": [
        ("opentelemetry.instrumentation.bedrock", "BedrockInstrumentor"),
        ("openinference.instrumentation.bedrock", "BedrockInstrumentor"),
    ],
    "langchain_core": [
        ("opentelemetry.instrumentation.langchain", "LangchainInstrumentor"),
        ("openinference.instrumentation.langchain", "LangChainInstrumentor"),
    ],
    "llama_index.core": [
        ("opentelemetry.instrumentation.llamaindex", "LlamaIndexInstrumentor"),
        ("openinference.instrumentation.llama_index", "LlamaIndexInstrumentor"),
    ],
    "litellm": [("openinference.instrumentation.litellm", "LiteLLMInstrumentor")],
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _instrumentor(module: str, name: str) -> Any | None:
    if not _installed(module):
        return None
    try:
        return getattr(importlib.import_module(module), name)()
    except Exception:
        logger.warning("could not load %s.%s", module, name, exc_info=True)
        return None


def instrument(*, tracer_provider: Any = None) -> list[str]:
    """Instrument every installed provider library with the preferred installed instrumentation;
    returns the instrumentations turned on (as `module.Class`). Safe to call twice."""
    turned_on: list[str] = []
    for library, candidates in INSTRUMENTATIONS.items():
        if not _installed(library):
            continue
        for module, name in candidates:
            instrumentor = _instrumentor(module, name)
            if instrumentor is None:
                continue
            try:
                if not getattr(instrumentor, "is_instrumented_by_opentelemetry", False):
                    options = {"tracer_provider": tracer_provider} if tracer_provider else {}
                    instrumentor.instrument(**options)
            except Exception:
                logger.warning("could not turn on %s.%s", module, name, exc_info=True)
                continue
            turned_on.append(f"{module}.{name}")
            break
    return turned_on
