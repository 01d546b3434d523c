"""The agent's public API: what ``cardioagent.agent`` exports is all the UI needs, and it works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import cardioagent.agent as agent_api

DATA = Path(__file__).resolve().parent / "data"


def test_every_public_name_resolves_and_importing_the_package_stays_cheap():
    for name in agent_api.__all__:
        assert getattr(agent_api, name) is not None, name
    code = "import sys, cardioagent.agent\nprint('cardioagent.agent.api' in sys.modules, 'langgraph' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "False"], "the package loads the graph only when a name is used"
    with pytest.raises(AttributeError):
        agent_api.NotAName  # noqa: B018


def test_recording_quality_runs_the_real_quality_tool(tmp_path):
    assistant = agent_api.Assistant("embedded", agent_api.AgentSettings(home=tmp_path, planner="rules"))
    try:
        [ecg] = assistant.upload([DATA / "E07500.hea", DATA / "E07500.mat"])
        assert assistant.recording(ecg.id).name == "E07500"
        assert assistant.recording_quality(ecg) in {"good", "acceptable", "poor", "unusable"}
    finally:
        assistant.close()


def test_knowledge_entry_and_backend_validation():
    entry = agent_api.knowledge_entry("sinus_bradycardia")
    assert entry is not None and entry.sources
    assert agent_api.knowledge_entry("no_such_entry") is None
    assert agent_api.validate_backend("embedded") == "embedded"
    with pytest.raises(agent_api.InputError):
        agent_api.validate_backend("telepathy:now")


def test_all_lists_exactly_the_exports():
    assert sorted(agent_api.__all__) == sorted(agent_api._EXPORTS)
