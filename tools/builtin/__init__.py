"""The built-in signal tools: thin wrappers that expose ``cardioagent.tools.analysis`` to the agent.

They are registered through the same entry point third-party plugins use (``cardioagent.tools`` in
pyproject.toml points at ``register_tools``), so the registry has one code path for both.
"""

from __future__ import annotations

from cardioagent.tools.builtin.image_tools import EcgImageDigitizeTool
from cardioagent.tools.builtin.signal_tools import (
    EcgIntervalsTool,
    HeartRateTool,
    HrvTool,
    RecordingSummaryTool,
    RenderEcgTool,
    RhythmTool,
    SignalQualityTool,
)
from cardioagent.tools.contract import Tool, ToolRegistrar

BUILTIN_TOOLS: list[type[Tool]] = [
    RecordingSummaryTool,
    SignalQualityTool,
    HeartRateTool,
    RhythmTool,
    HrvTool,
    EcgIntervalsTool,
    RenderEcgTool,
    EcgImageDigitizeTool,
]


def register_tools(register: ToolRegistrar) -> None:
    for tool in BUILTIN_TOOLS:
        register(tool)
