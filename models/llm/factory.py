"""``load_chat_model(spec)``: the one entry point the agent uses to get an LLM.

Loaded weights are cached per process, keyed by (weights folder, 4-bit): two specs that differ only in
temperature or token budget share one copy in memory. Chat models are cheap wrappers and cached per spec.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from cardioagent.models.llm.spec import BackendSpec, BackendSpecError, LLMBackendError
from cardioagent.models.llm.weights import ensure_embedded_hf_copy, load_causal_lm

_LOCK = threading.Lock()
_WEIGHTS: dict[tuple[str, bool], tuple[Any, Any]] = {}
_MODELS: dict[BackendSpec, BaseChatModel] = {}


def load_chat_model(spec: BackendSpec | None = None) -> BaseChatModel:
    """The chat model a spec names (default: ``BackendSpec.from_env()``), loaded once per process.

    Raises ``LLMBackendError`` when a local model cannot be loaded (the reason is user-readable) and
    ``BackendSpecError`` for a spec that names no usable backend. An OpenAI-compatible server is not
    contacted here; an unreachable one fails on the first call, naming its URL.
    """
    spec = spec or BackendSpec.from_env()
    with _LOCK:
        cached = _MODELS.get(spec)
        if cached is not None:
            return cached
        model = _build(spec)
        _MODELS[spec] = model
        return model


def clear_model_cache() -> None:
    """Forget every loaded model (tests; switching backends in a long-lived process)."""
    with _LOCK:
        _MODELS.clear()
        _WEIGHTS.clear()


def _build(spec: BackendSpec) -> BaseChatModel:
    if spec.kind == "openai":
        from pydantic import SecretStr

        from cardioagent.models.llm.openai_compat import OpenAICompatChatModel

        if spec.base_url is None:  # BackendSpec's validator refuses kind 'openai' without one
            raise LLMBackendError("an 'openai' backend needs a base URL")
        api_key = SecretStr(spec.api_key) if spec.api_key is not None else None
        return OpenAICompatChatModel(
            base_url=spec.base_url,
            model=spec.model,
            api_key=api_key,
            temperature=spec.temperature,
            max_tokens=spec.max_new_tokens,
            timeout_s=spec.timeout_s,
        )
    from cardioagent.models.llm.local_chat import LocalChatModel

    if spec.kind == "embedded":
        folder = ensure_embedded_hf_copy()
        name = "SmolLM2-135M-Instruct"
    else:
        folder = Path(spec.model_path or "").expanduser()
        if not folder.is_dir():
            raise BackendSpecError(f"hf:{spec.model_path}", f"{folder} is not a folder")
        name = folder.name
    key = (str(folder.resolve()), spec.quantize_4bit)
    if key not in _WEIGHTS:
        _WEIGHTS[key] = load_causal_lm(folder, quantize_4bit=spec.quantize_4bit)
    hf_model, tokenizer = _WEIGHTS[key]
    if spec.quantize_4bit:
        name += " (4-bit NF4)"
    return LocalChatModel(
        hf_model=hf_model,
        tokenizer=tokenizer,
        model_name=name,
        max_new_tokens=spec.max_new_tokens,
        temperature=spec.temperature,
    )


__all__ = ["LLMBackendError", "clear_model_cache", "load_chat_model"]
