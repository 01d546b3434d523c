"""The graph's state, as plain JSON-able data so the SQLite checkpointer can keep it.

``messages`` holds the conversation as people see it (questions and final answers). Everything else is
about the current turn and is reset when a turn starts, except ``recordings`` (every recording the thread
has seen) and ``focus`` (the recordings the latest questions are about, so "and the HRV?" needs no re-upload).
"""

from __future__ import annotations

from typing import Annotated, Any

from langgraph.graph import MessagesState
from pydantic import BaseModel, Field


def merge_recordings(
    old: list[dict[str, Any]] | None, new: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    seen = {r["id"] for r in old or []}
    return list(old or []) + [r for r in new or [] if r["id"] not in seen]


class AgentState(MessagesState):
    question: str
    recordings: Annotated[list[dict[str, Any]], merge_recordings]  # RecordingRef dicts (id, name, modality)
    attached: list[str]  # ids attached with this turn's question
    focus: list[str]  # ids this turn is about
    demographics: dict[str, Any]
    emergency: dict[str, Any]
    route: str
    pending: list[dict[str, Any]]  # PlannedCall dicts not yet run
    results: list[dict[str, Any]]  # ToolCallRecord dicts of this turn
    rounds: int
    knowledge: dict[str, Any]  # KnowledgeBundle of this turn
    draft: str
    grounding: dict[str, Any]
    timings: dict[str, float]
    options: list[str]  # allowed answers of a closed question (benchmarks); empty for an open question
    closed: dict[str, Any]  # ClosedAnswer of this turn, when options were given
    device: dict[str, Any]  # DeviceReport dicts by recording id: what the files' devices stated (shown apart)
    usage: dict[str, int]  # language-model calls and tokens of this turn


class ToolCallRecord(BaseModel):
    """One tool run, as shown in the trace."""

    tool: str
    args: dict[str, Any]
    reason: str
    ok: bool
    seconds: float
    result: dict[str, Any] | None = None
    summary: str = ""
    error: str | None = None
    error_kind: str | None = Field(default=None, description="input | tool | timeout")
    quality: str | None = None
    figures: list[str] = Field(default_factory=list)
