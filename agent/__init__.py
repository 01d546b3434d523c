"""agent/ — the LangGraph agent and its public API.

Lives here: the graph (routing by modality, planning, tool execution, answer assembly), the state, the
grounding check, safety (emergency advice, no diagnosis claims), memory (SQLite checkpointer and the session
store of uploaded recordings), the ``Assistant`` API used alike by the UI, the CLI and the evaluation
harness, the scripted evaluation harness (``evaluation/``), batch analysis (``batch/``), reports out
(``reporting/``: PDF, FHIR) and training code nothing at run time imports (``training/``).

May import: ``cardioagent.tools``, ``cardioagent.models``, ``cardioagent.knowledge_base`` and third-party
libraries. Never ``cardioagent.ui``.

**The public API** is what this package exports (``__all__`` below). The UI uses nothing else — the import
contract in ``.importlinter`` checks it — so everything else in the room may change without breaking it.
Names load on first use (PEP 562), so ``import cardioagent.agent`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # asking
    "Assistant": "cardioagent.agent.api",
    "Answer": "cardioagent.agent.api",
    "AgentEvent": "cardioagent.agent.api",
    "ThreadInfo": "cardioagent.agent.api",
    "describe": "cardioagent.agent.api",
    "Citation": "cardioagent.agent.compose",
    "title_of": "cardioagent.agent.compose",
    "knowledge_entry": "cardioagent.agent.knowledge",
    # settings
    "AgentSettings": "cardioagent.agent.config",
    "cardio_home": "cardioagent.agent.config",
    "validate_backend": "cardioagent.agent.config",
    # safety and showing untrusted text
    "EMERGENCY_ADVICE": "cardioagent.agent.safety",
    "NOT_A_MEDICAL_DEVICE": "cardioagent.agent.safety",
    "defang_markdown": "cardioagent.agent.untrusted",
    "drop_remote_images": "cardioagent.agent.untrusted",
    "inert_markdown": "cardioagent.agent.untrusted",
    "one_line": "cardioagent.agent.untrusted",
    # reports out
    "content_of_recording": "cardioagent.agent.reporting.content",
    "write_pdf": "cardioagent.agent.reporting.pdf",
    "fhir_bundle_json": "cardioagent.agent.reporting.fhir",
    # the data and errors the API speaks in (defined by the tool layer)
    "Recording": "cardioagent.tools.signal.recording",
    "RecordingSummary": "cardioagent.tools.signal.recording",
    "DeviceReport": "cardioagent.tools.signal.recording",
    "CardioAgentError": "cardioagent.tools.errors",
    "InputError": "cardioagent.tools.errors",
    "safe_file_name": "cardioagent.tools.signal.loaders.names",
    # the command line's output conventions (shared with the rooms' own sub-commands)
    "configure_output": "cardioagent.tools.progress",
    "DefaultsHelpFormatter": "cardioagent.tools.cli_help",
    "add_llm_summary_options": "cardioagent.tools.cli_help",
}
_RENAMED = {"fhir_bundle_json": "bundle_json"}

__all__ = [
    "add_llm_summary_options",
    "AgentEvent",
    "AgentSettings",
    "Answer",
    "Assistant",
    "CardioAgentError",
    "Citation",
    "DefaultsHelpFormatter",
    "DeviceReport",
    "EMERGENCY_ADVICE",
    "InputError",
    "NOT_A_MEDICAL_DEVICE",
    "Recording",
    "RecordingSummary",
    "ThreadInfo",
    "cardio_home",
    "configure_output",
    "content_of_recording",
    "defang_markdown",
    "describe",
    "drop_remote_images",
    "fhir_bundle_json",
    "inert_markdown",
    "knowledge_entry",
    "one_line",
    "safe_file_name",
    "title_of",
    "validate_backend",
    "write_pdf",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cardioagent.agent' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), _RENAMED.get(name, name))
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from cardioagent.agent.api import AgentEvent, Answer, Assistant, ThreadInfo, describe
    from cardioagent.agent.compose import Citation, title_of
    from cardioagent.agent.config import AgentSettings, cardio_home, validate_backend
    from cardioagent.agent.knowledge import knowledge_entry
    from cardioagent.agent.reporting.content import content_of_recording
    from cardioagent.agent.reporting.fhir import bundle_json as fhir_bundle_json
    from cardioagent.agent.reporting.pdf import write_pdf
    from cardioagent.agent.safety import EMERGENCY_ADVICE, NOT_A_MEDICAL_DEVICE
    from cardioagent.agent.untrusted import defang_markdown, drop_remote_images, inert_markdown, one_line
    from cardioagent.tools.cli_help import DefaultsHelpFormatter, add_llm_summary_options
    from cardioagent.tools.errors import CardioAgentError, InputError
    from cardioagent.tools.progress import configure_output
    from cardioagent.tools.signal.loaders.names import safe_file_name
    from cardioagent.tools.signal.recording import DeviceReport, Recording, RecordingSummary
