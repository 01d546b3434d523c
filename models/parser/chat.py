"""The fine-tuned parser as a langchain chat model with native tool calls, so the agent's graph drives it
exactly as it drives a configured model (``bind_tools`` -> ``invoke`` -> ``AIMessage.tool_calls``).

It reads the planner's request (the attached recordings as ``recording_id=... (name ..., modality)`` lines
and the ``Question:``), asks the parser model for the question's type and tools among the bound ones, and
returns one call per chosen tool and recording. It plans one round: once tool results are in the
conversation it calls nothing more (its reply is then empty, and the agent composes the answer from the
results). The type it read travels in ``response_metadata["parser"]``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

from cardioagent.models.llm.chat_base import ToolBindingChatModel, text_of

RECORDING_LINE = re.compile(r"recording_id=(\S+) \(name .*, (\w+)\)\s*$", re.M)
QUESTION = re.compile(r"^Question:\s*(.*)\Z", re.M | re.S)


def read_request(text: str) -> tuple[list[tuple[str, str]], str]:
    """((recording id, modality) in order, question) from the planner's request message."""
    recordings = [(m.group(1), m.group(2)) for m in RECORDING_LINE.finditer(text)]
    m = QUESTION.search(text)
    return recordings, (m.group(1).strip() if m else text.strip())


class ParserChatModel(ToolBindingChatModel):
    """Tool calls from the fine-tuned question parser (module docstring)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    parser: Any = Field(description="a ParserModel, or anything with its read() (wiring tests)")

    @property
    def _llm_type(self) -> str:
        return "cardioagent-parser"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools, _ = self.tools_for_call(kwargs)
        if any(isinstance(m, ToolMessage) for m in messages):
            return _result(AIMessage(content=""))  # one planning round: the results are in
        request = next((text_of(m.content) for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        recordings, question = read_request(request)
        schemas = {t["function"]["name"]: t["function"].get("parameters", {}) for t in tools}
        plan = self.parser.read(question, [mod for _, mod in recordings], tools=list(schemas))
        calls = []
        for name in plan.tools:
            fields = schemas.get(name, {}).get("properties", {})
            extra = {key: question for key in ("question", "query") if key in fields}
            targets = [rid for rid, _ in recordings] if "recording_id" in fields else [None]
            for rid in targets:
                args = {**({"recording_id": rid} if rid is not None else {}), **extra}
                calls.append({"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}"})
        meta = {"parser": plan.model_dump()}
        return _result(AIMessage(content="", tool_calls=calls, response_metadata=meta))


def _result(message: AIMessage) -> ChatResult:
    return ChatResult(generations=[ChatGeneration(message=message)])
