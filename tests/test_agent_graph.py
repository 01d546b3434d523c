"""Graph wiring, driven by a scripted fake chat model and fake tools.

The LLM here is a fake (``ScriptedChatModel``: a FakeMessagesListChatModel whose ``bind_tools`` returns
itself) and the knowledge step is a stub returning one fixed citation: these tests check how the graph
routes, loops, records, grounds and remembers, not what a model or the knowledge base says. The recording
store, the loaders, the registry and the SQLite checkpointer are the real ones. End-to-end runs with the
real embedded model and knowledge base are in test_agent_e2e.py.
"""

from __future__ import annotations

import time
from typing import ClassVar

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage

from cardioagent.agent.api import Assistant
from cardioagent.agent.compose import Citation, KnowledgeBundle
from cardioagent.agent.config import AgentSettings
from cardioagent.tools.contract import Measurement, Quality, RecordingInput, Tool, ToolContext, ToolResult
from cardioagent.tools.registry import ToolRegistry


class ScriptedChatModel(FakeMessagesListChatModel):
    def bind_tools(self, tools, **kwargs):
        return self


class RateResult(ToolResult):
    heart_rate: Measurement


class FakeRateTool(Tool):
    name = "fake_rate"
    description = "Returns a fixed heart rate measured from the recording (test double)."
    modalities = ("ecg", "ppg", "mixed")
    output_model = RateResult
    keywords = (r"\brate\b",)
    default_for = ("ecg",)
    isolation = "thread"  # records its calls in this process's class attribute
    calls: ClassVar[list[str]] = []

    def run(self, args: RecordingInput, ctx: ToolContext) -> RateResult:
        rec = ctx.get_recording(args.recording_id)  # by reference, from the real store
        FakeRateTool.calls.append(rec.name)
        return RateResult(
            quality=Quality.GOOD,
            method="fixed",
            heart_rate=Measurement(name="heart rate", value=61.5, unit="bpm", uncertainty=1.5),
        )


class BrokenTool(Tool):
    name = "broken_intervals"
    description = "Always fails, to check that a failing tool is reported, not fatal."
    modalities = ("ecg",)
    keywords = (r"\bQT\b",)

    def run(self, args, ctx):
        raise RuntimeError("delineation exploded")


class SlowTool(Tool):
    name = "slow_tool"
    description = "Sleeps longer than its timeout, to check the timeout path."
    modalities = ("ecg",)
    keywords = (r"\bslow\b",)
    timeout_s = 0.2

    def run(self, args, ctx):
        time.sleep(1.0)


class StubKnowledge:
    """Stands in for the chromadb-backed gatherer in wiring tests (says so in the module docstring)."""

    def gather(self, question, records):
        return KnowledgeBundle(
            lines=["heart rate 61.5 bpm meets the criterion of **Resting heart rate**: 60-100 bpm [1]"],
            citations=[
                Citation(n=1, entry_id="resting_heart_rate", name="Resting heart rate", sources=["AHA"])
            ],
            passages=["a resting heart rate of 60-100 bpm"],
        )

    def warm_up(self):
        pass


def _registry() -> ToolRegistry:
    reg = ToolRegistry()
    for tool in (FakeRateTool, BrokenTool, SlowTool):
        assert reg.register(tool, plugin="test")
    return reg


def _assistant(home, responses=None, planner="rules", llm_summary=False) -> Assistant:
    settings = AgentSettings(home=home, planner=planner, llm_summary=llm_summary)
    model = ScriptedChatModel(responses=responses or [AIMessage(content="unused")])
    return Assistant("embedded", settings, chat_model=model, registry=_registry(), knowledge=StubKnowledge())


@pytest.fixture()
def record(tests_data):
    return [str(tests_data / "E07500.hea"), str(tests_data / "E07500.mat")]


def test_rules_planner_runs_the_matching_tool_and_cites(tmp_path, record):
    answer = _assistant(tmp_path).ask("What is the rate?", record)
    assert [s.tool for s in answer.trace] == ["fake_rate"]
    assert answer.trace[0].ok and "mentions 'rate'" in answer.trace[0].reason
    assert "61.5 ± 1.5 bpm" in answer.text or "62 ± 2 bpm" in answer.text
    assert "[1]" in answer.text and answer.citations[0].entry_id == "resting_heart_rate"
    assert "not a medical device" in answer.text
    assert answer.grounding.ok and answer.route == "signal"
    assert answer.recordings[0].name == "E07500"


def test_llm_planner_loops_through_tool_calls_and_grounding_drops_invented_numbers(tmp_path, record):
    probe = _assistant(tmp_path / "probe")
    rec_id = probe.upload(record)[0].id
    responses = [
        AIMessage(
            content="", tool_calls=[{"name": "fake_rate", "args": {"recording_id": rec_id}, "id": "c1"}]
        ),
        AIMessage(content="That is enough."),
        AIMessage(content="The heart beats at a normal pace. Blood pressure is 180 over 95."),
    ]
    assistant = _assistant(tmp_path, responses, planner="llm", llm_summary=True)
    answer = assistant.ask("How fast is it?", record)
    assert [s.tool for s in answer.trace] == ["fake_rate"]
    assert answer.trace[0].reason == "chosen by the language model"
    assert "normal pace" in answer.text and "180" not in answer.text
    assert {r.number for r in answer.grounding.removed} == {"180", "95"}


def test_failing_and_slow_tools_are_reported_not_fatal(tmp_path, record):
    answer = _assistant(tmp_path).ask("rate, QT and something slow", record)
    by_tool = {s.tool: s for s in answer.trace}
    assert by_tool["fake_rate"].ok
    assert not by_tool["broken_intervals"].ok and "delineation exploded" in by_tool["broken_intervals"].error
    assert by_tool["broken_intervals"].error_kind == "tool"
    assert not by_tool["slow_tool"].ok and by_tool["slow_tool"].error_kind == "timeout"
    assert "could not be measured" in answer.text


def test_emergency_advice_comes_first(tmp_path, record):
    answer = _assistant(tmp_path).ask("I have chest pain, what is the rate?", record)
    assert answer.emergency.emergency
    assert answer.text.startswith("**If you have these symptoms now, seek emergency care")


def test_stream_yields_tool_steps_before_the_answer(tmp_path, record):
    events = list(_assistant(tmp_path).stream("What is the rate?", record))
    kinds = [e.kind for e in events]
    assert kinds[0] == "recordings"
    assert (
        kinds.index("tool_started") < kinds.index("tool_finished") < kinds.index("answer") == len(kinds) - 1
    )


def test_conversation_and_recordings_survive_a_restart(tmp_path, record):
    first = _assistant(tmp_path)
    a1 = first.ask("What is the rate?", record)
    first.close()
    FakeRateTool.calls.clear()
    second = _assistant(tmp_path)  # a new process would see the same files
    a2 = second.ask("and the rate again?", thread_id=a1.thread_id)  # no re-upload: the thread remembers
    assert FakeRateTool.calls == ["E07500"]
    assert [s.tool for s in a2.trace] == ["fake_rate"]
    history = second.history(a1.thread_id)
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert second.threads()[0].thread_id == a1.thread_id and second.threads()[0].turns == 2


def test_invalid_model_calls_are_dropped_with_the_reason_in_the_trace(tmp_path, record):
    """The deterministic planner validates a configured model's plan: an unknown tool and a call naming a
    recording that is not in the conversation never run, and the trace says why."""
    probe = _assistant(tmp_path / "probe")
    rec_id = probe.upload(record)[0].id
    responses = [
        AIMessage(
            content="",
            tool_calls=[
                {"name": "made_up_tool", "args": {"recording_id": rec_id}, "id": "c1"},
                {"name": "fake_rate", "args": {"recording_id": "../../etc"}, "id": "c2"},
                {"name": "fake_rate", "args": {"recording_id": rec_id}, "id": "c3"},
            ],
        ),
        AIMessage(content="That is enough."),
    ]
    answer = _assistant(tmp_path, responses, planner="llm").ask("How fast is it?", record)
    dropped = [s for s in answer.trace if not s.ok and "dropped before running" in (s.error or "")]
    assert {s.tool for s in dropped} == {"made_up_tool", "fake_rate"}
    assert any("no tool named" in s.error for s in dropped)
    assert any("not a recording of this conversation" in s.error for s in dropped)
    ran = [s for s in answer.trace if s.ok]
    assert [s.tool for s in ran] == ["fake_rate"] and FakeRateTool.calls[-1] == "E07500"
