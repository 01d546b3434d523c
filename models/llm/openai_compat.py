"""A langchain chat model that talks to an OpenAI-compatible ``/chat/completions`` endpoint.

vLLM, llama.cpp's server and Ollama all speak this wire format. Only the non-streaming subset is used:
one POST with ``messages``, ``tools`` (OpenAI function schemas), ``temperature`` and ``max_tokens``; the
reply's ``choices[0].message`` becomes an ``AIMessage`` whose ``tool_calls`` carry decoded arguments
(they arrive as JSON strings; unreadable ones become ``invalid_tool_calls``). Servers that return calls as
text in ``content`` instead (llama.cpp without ``--jinja``, some Ollama models) are parsed with the same
text parser as local models.

Every failure the user can meet (server down, timeout, HTTP error, a reply that is not OpenAI-shaped)
raises ``LLMBackendError`` with the URL in the message and no traceback text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import httpx
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, SecretStr

from cardioagent.models.llm.chat_base import ToolBindingChatModel, role_dicts, text_of
from cardioagent.models.llm.spec import LLMBackendError
from cardioagent.models.llm.tool_calls import load_json_lenient, new_call_id, parse_tool_calls


class OpenAICompatChatModel(ToolBindingChatModel):
    """Chat model for ``{base_url}/chat/completions``."""

    model_config = ConfigDict(protected_namespaces=())

    base_url: str
    model: str | None = Field(default=None, description="sent as 'model'; servers with one model ignore it")
    api_key: SecretStr | None = Field(default=None, repr=False)
    max_tokens: int = 256
    timeout_s: float = 120.0

    @property
    def _llm_type(self) -> str:
        return "cardioagent-openai-compatible"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    def request_body(
        self,
        messages: Sequence[BaseMessage],
        stop: list[str] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
    ) -> dict[str, Any]:
        tools = self.tools if tools is None else tools
        tool_choice = self.tool_choice if tool_choice is None else tool_choice
        body: dict[str, Any] = {
            "messages": to_openai_messages(messages),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream": False,
        }
        if self.model:
            body["model"] = self.model
        if stop:
            body["stop"] = list(stop)
        if tools:
            body["tools"] = tools
            if tool_choice is not None:
                body["tool_choice"] = _wire_tool_choice(tool_choice)
        return body

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools, tool_choice = self.tools_for_call(kwargs)
        body = self.request_body(messages, stop, tools, tool_choice)
        started = time.perf_counter()
        reply = self._post(body)
        seconds = time.perf_counter() - started
        message = parse_completion(reply, [t["function"]["name"] for t in tools], self.endpoint)
        message.response_metadata["generation_seconds"] = round(seconds, 3)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.api_key is not None and self.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        url = self.endpoint
        try:
            with httpx.Client(timeout=self.timeout_s) as client:
                response = client.post(url, json=body, headers=headers)
        except httpx.ConnectError:
            raise LLMBackendError(
                f"cannot reach the OpenAI-compatible server at {url} (connection refused or host unknown); "
                "start the server or choose another backend",
                retryable=True,
            ) from None
        except httpx.TimeoutException:
            raise LLMBackendError(
                f"the server at {url} did not answer within {self.timeout_s:g} s", retryable=True
            ) from None
        except httpx.HTTPError as err:
            raise LLMBackendError(f"request to {url} failed: {type(err).__name__}", retryable=True) from None
        if response.status_code >= 400:
            raise LLMBackendError(
                f"the server at {url} answered HTTP {response.status_code}: {_error_text(response)}",
                retryable=response.status_code >= 500 or response.status_code == 429,
            )
        try:
            data = response.json()
        except ValueError:
            raise LLMBackendError(f"the server at {url} did not answer with JSON") from None
        if not isinstance(data, dict):
            raise LLMBackendError(f"the server at {url} answered JSON that is not an object")
        return data


def parse_completion(data: dict[str, Any], tool_names: list[str], url: str = "the server") -> AIMessage:
    """An OpenAI chat-completion JSON reply -> AIMessage (tool calls decoded, usage recorded)."""
    try:
        choice = data["choices"][0]
        wire = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise LLMBackendError(f"the reply from {url} has no choices[0].message") from None
    content = text_of(wire.get("content"))
    calls: list[Any] = []
    invalid: list[Any] = []
    for raw in wire.get("tool_calls") or []:
        fn = raw.get("function") or {}
        name, arguments = fn.get("name"), fn.get("arguments")
        call_id = raw.get("id") or new_call_id()
        if isinstance(arguments, dict):
            args: Any = arguments
        else:
            try:
                args = load_json_lenient(arguments) if arguments and str(arguments).strip() else {}
            except ValueError as err:
                invalid.append(invalid_tool_call(name=name, args=str(arguments), id=call_id, error=str(err)))
                continue
        if not isinstance(name, str) or not name or not isinstance(args, dict):
            invalid.append(
                invalid_tool_call(
                    name=name if isinstance(name, str) else None,
                    args=json.dumps(args) if not isinstance(args, str) else args,
                    id=call_id,
                    error="tool call needs a name and object arguments",
                )
            )
            continue
        calls.append(tool_call(name=name, args=args, id=call_id))
    if not calls and not invalid and tool_names and content:
        parsed = parse_tool_calls(content, tool_names)
        content, calls, invalid = parsed.content, parsed.tool_calls, parsed.invalid_tool_calls
    usage = data.get("usage") or {}
    n_in, n_out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    finish = choice.get("finish_reason") or ("tool_calls" if calls else "stop")
    return AIMessage(
        content=content,
        tool_calls=calls,
        invalid_tool_calls=invalid,
        usage_metadata={
            "input_tokens": n_in,
            "output_tokens": n_out,
            "total_tokens": int(usage.get("total_tokens") or n_in + n_out),
        },
        response_metadata={
            "model_name": data.get("model"),
            "finish_reason": finish,
            "input_tokens": n_in,
            "output_tokens": n_out,
        },
        id=data.get("id"),
    )


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Langchain messages in the OpenAI wire format (tool-call arguments as JSON strings)."""
    return role_dicts(
        messages,
        assistant=_assistant_wire,
        tool=lambda msg: {"role": "tool", "tool_call_id": msg.tool_call_id, "content": text_of(msg.content)},
    )


def _assistant_wire(msg: AIMessage) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": "assistant", "content": text_of(msg.content) or None}
    if msg.tool_calls:
        entry["tool_calls"] = [
            {
                "id": c.get("id") or new_call_id(),
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["args"], ensure_ascii=False)},
            }
            for c in msg.tool_calls
        ]
    elif entry["content"] is None:
        entry["content"] = ""
    return entry


def _wire_tool_choice(tool_choice: Any) -> Any:
    if isinstance(tool_choice, dict):
        return tool_choice
    if tool_choice in ("auto", "none", "required"):
        return tool_choice
    if tool_choice == "any" or tool_choice is True:
        return "required"
    return {"type": "function", "function": {"name": str(tool_choice)}}


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict) and err.get("message"):
        return str(err["message"])[:200]
    if isinstance(err, str):
        return err[:200]
    return json.dumps(data)[:200]
