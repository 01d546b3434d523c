"""The card shown as soon as a recording is uploaded: what it is, and whether its signal is usable.

The quality comes from the registry's ``signal_quality`` tool, run the way the agent runs it (through
``ToolRegistry.run`` with a ``ToolContext``), so the card and a later answer never disagree.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from cardioagent.tools.contract import ToolContext
from cardioagent.tools.errors import CardioAgentError
from cardioagent.tools.signal.recording import Recording

QUALITY_TOOL = "signal_quality"


def quality_of(assistant: Any, rec: Recording) -> str | None:
    """'good' / 'acceptable' / 'poor' / 'unusable', or None when it cannot be assessed here (an ECG image,
    a registry without the tool, a tool error); the card then simply has no quality."""
    registry = getattr(assistant, "registry", None)
    store = getattr(assistant, "recordings", None)
    if registry is None or store is None or QUALITY_TOOL not in registry.names():
        return None
    if rec.modality.value not in registry.get(QUALITY_TOOL).modalities:
        return None
    with tempfile.TemporaryDirectory(prefix="cardioagent-quality-") as tmp:
        ctx = ToolContext(get_recording=store.get, artifacts_dir=Path(tmp))
        try:
            result = registry.run(QUALITY_TOOL, {"recording_id": rec.id}, ctx, retries=0)
        except CardioAgentError:
            return None
    return result.quality.value


def summarise_uploads(assistant: Any, recordings: list[Recording]) -> tuple[list[dict], dict[str, str]]:
    """The summaries (as dicts) and qualities by recording id."""
    summaries = [r.summary().model_dump(mode="json") for r in recordings]
    qualities = {}
    for rec in recordings:
        q = quality_of(assistant, rec)
        if q:
            qualities[rec.id] = q
    return summaries, qualities
