"""What every chat backend shares: tools bound as OpenAI schemas, and langchain messages as role dicts.

``ToolBindingChatModel`` holds the bound ``tools`` / ``tool_choice`` and implements ``bind_tools`` once;
``role_dicts`` walks a conversation once, each backend saying only how it writes an assistant turn with
tool calls and a tool result (the local templates and the OpenAI wire format differ there and nowhere else).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field
from typing_extensions import Self


def text_of(content: Any) -> str:
    """Message content (a string or a list of content blocks) as plain text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    return "" if content is None else str(content)


def tool_schemas(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """BaseTools, pydantic models, functions or dicts -> OpenAI tool dicts ({"type": "function", ...})."""
    return [convert_to_openai_tool(t) for t in tools]


def role_dicts(
    messages: Sequence[BaseMessage],
    *,
    assistant: Callable[[AIMessage], dict[str, Any]],
    tool: Callable[[ToolMessage], dict[str, Any]],
) -> list[dict[str, Any]]:
    """``[{"role", "content", ...}]``: system, user and other roles alike for every backend; assistant
    turns and tool results as the backend writes them."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        if isinstance(msg, SystemMessage):
            out.append({"role": "system", "content": text_of(msg.content)})
        elif isinstance(msg, HumanMessage):
            out.append({"role": "user", "content": text_of(msg.content)})
        elif isinstance(msg, AIMessage):
            out.append(assistant(msg))
        elif isinstance(msg, ToolMessage):
            out.append(tool(msg))
        elif isinstance(msg, ChatMessage):
            out.append({"role": msg.role, "content": text_of(msg.content)})
        else:
            out.append({"role": "user", "content": text_of(msg.content)})
    return out


class ToolBindingChatModel(BaseChatModel):
    """A chat model whose bound tools travel with every request (``bind_tools`` returns a copy)."""

    temperature: float = 0.0
    tools: list[dict[str, Any]] = Field(default_factory=list)
    tool_choice: Any = None

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A new instance sharing everything else (for a local model: the weights) with ``tools`` bound."""
        return self.model_copy(update={"tools": tool_schemas(tools), "tool_choice": tool_choice})

    def tools_for_call(self, kwargs: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
        """The tools and tool choice of one call: those passed to it, else the bound ones."""
        tools = tool_schemas(kwargs["tools"]) if kwargs.get("tools") else self.tools
        return tools, kwargs.get("tool_choice", self.tool_choice)
