"""The fine-tuned question parser (models.parser): its answer format, its CPU speed-up, the chat adapter that
turns its reading into native tool calls, and the graph validating those calls.

The wiring tests stand a fixed reader in for the model (a fake for an LLM in graph-wiring tests, as the
project's rules allow); the tests marked ``shipped`` run the real adapter when one ships.
"""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

from cardioagent.agent.api import Assistant
from cardioagent.agent.config import AgentSettings
from cardioagent.models.parser import (
    TOOL_ORDER,
    TYPES,
    ParsedPlan,
    allowed_answers,
    answer_text,
    prompt,
    read_answer,
    shipped,
)
from cardioagent.models.parser.chat import ParserChatModel, read_request
from cardioagent.tools.contract import Quality, RecordingInput, Tool, ToolContext, ToolResult
from cardioagent.tools.registry import ToolRegistry
from tests.test_agent_graph import FakeRateTool, StubKnowledge


class FixedReader:
    """Reads every question the same way (stands in for the model in wiring tests)."""

    def __init__(self, qtype: str, tools: list[str]) -> None:
        self.plan = ParsedPlan(type=qtype, type_probability=0.93, tools=tools, text=answer_text(qtype, tools))
        self.seen: list[tuple[str, list[str], list[str]]] = []

    def read(self, question, modalities, options=(), tools=TOOL_ORDER):
        self.seen.append((question, list(modalities), list(tools)))
        return self.plan.model_copy(update={"tools": [t for t in self.plan.tools if t in tools]})


def test_every_allowed_answer_reads_back_as_a_type_and_bound_tools():
    tools = ["heart_rate", "rhythm_analysis", "ecg_intervals", "signal_quality"]
    answers = allowed_answers(tools)
    assert len(answers) == len(set(answers)) == len(TYPES) * (1 + 4 + 6 + 4)  # up to three of four tools
    for text in answers:
        qtype, chosen = read_answer(text)
        assert qtype in TYPES and set(chosen) <= set(tools) and len(chosen) <= 3
    assert read_answer(answer_text("verify", ["rhythm_analysis", "heart_rate"])) == (
        "verify",
        ["heart_rate", "rhythm_analysis"],  # one canonical order, whatever order they were given in
    )
    assert prompt("Is there  AF?\n", ["ecg", "ecg_image"], ["yes", "no"]) == (
        "Recordings: 1 ECG, 2 ECG image\nQuestion: Is there AF?\nOptions: yes / no\nPlan:"
    )


def test_dequantised_4bit_layers_give_the_same_numbers():
    import bitsandbytes as bnb  # required dependencies (pyproject), not optional
    import torch

    from cardioagent.models.parser.model import dequantize_4bit_layers

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        bnb.nn.Linear4bit(64, 32, bias=True, quant_type="nf4", compute_dtype=torch.float32)
    ).to("cpu")
    x = torch.randn(5, 64)
    with torch.no_grad():
        before = net(x)
    assert dequantize_4bit_layers(net) == 1 and isinstance(net[0], torch.nn.Linear)
    with torch.no_grad():
        after = net(x)
    assert torch.equal(before, after)


REQUEST = (
    "Recordings:\n- recording_id=rec_a (name <data>E07500</data>, ecg)\n"
    "- recording_id=rec_b (name <data>later, (copy)</data>, ecg)\n\nQuestion: Did the QT change?"
)


def test_the_planner_request_is_read_back():
    assert read_request(REQUEST) == ([("rec_a", "ecg"), ("rec_b", "ecg")], "Did the QT change?")


def test_adapter_turns_the_reading_into_native_tool_calls_for_each_recording():
    reader = FixedReader("compare", ["ecg_intervals", "knowledge_search"])
    schemas = [
        {"type": "function", "function": {"name": n, "parameters": {"properties": props}}}
        for n, props in (
            ("ecg_intervals", {"recording_id": {}}),
            ("heart_rate", {"recording_id": {}}),
            ("knowledge_search", {"query": {}}),
        )
    ]
    chat = ParserChatModel(parser=reader).bind_tools(schemas)
    reply = chat.invoke([SystemMessage("plan"), HumanMessage(REQUEST)])
    calls = [(c["name"], c["args"]) for c in reply.tool_calls]
    assert calls == [
        ("ecg_intervals", {"recording_id": "rec_a"}),
        ("ecg_intervals", {"recording_id": "rec_b"}),
        ("knowledge_search", {"query": "Did the QT change?"}),
    ]
    assert reader.seen[-1][:2] == ("Did the QT change?", ["ecg", "ecg"])
    assert set(reader.seen[-1][2]) == {"ecg_intervals", "heart_rate", "knowledge_search"}  # bound ones only
    assert reply.response_metadata["parser"]["type"] == "compare"
    after = chat.invoke(
        [
            HumanMessage(REQUEST),
            reply,
            ToolMessage(content="QT 400 ms", tool_call_id=reply.tool_calls[0]["id"]),
        ]
    )
    assert after.tool_calls == [] and after.content == ""  # it plans one round


class QualityResult(ToolResult):
    pass


class FakeQualityTool(Tool):
    name = "signal_quality"
    description = "Says the signal is good (test double)."
    modalities = ("ecg", "ppg", "mixed")
    output_model = QualityResult
    prerequisite_for = ("ecg", "ppg", "mixed")
    isolation = "thread"

    def run(self, args: RecordingInput, ctx: ToolContext) -> QualityResult:
        return QualityResult(quality=Quality.GOOD, method="fixed")


def test_graph_runs_the_parsers_calls_and_the_validator_completes_them(tmp_path, tests_data):
    """The parser's calls go through the same validation as a configured model's: a tool this registry
    lacks is dropped with the reason, the quality prerequisite is added, and the trace names the parser."""
    reg = ToolRegistry()
    for tool in (FakeRateTool, FakeQualityTool):
        assert reg.register(tool, plugin="test")
    settings = AgentSettings(home=tmp_path, planner="parser", llm_summary=False)
    assistant = Assistant("embedded", settings, registry=reg, knowledge=StubKnowledge())
    reader = FixedReader("verify", ["fake_rate", "rhythm_analysis"])
    assistant._parser_model = ParserChatModel(parser=reader)  # stands in for the shipped adapter
    answer = assistant.ask(
        "My doctor says my pulse is racing, is it?",
        [str(tests_data / "E07500.hea"), str(tests_data / "E07500.mat")],
    )
    ran = {s.tool: s for s in answer.trace if s.ok}
    assert set(ran) == {"fake_rate", "signal_quality"}
    assert "fine-tuned question parser" in ran["fake_rate"].reason and "verify" in ran["fake_rate"].reason
    assert "added by the validator" in ran["signal_quality"].reason
    # the reader was offered only the registry's tools for an ECG, so it could not name rhythm_analysis
    assert set(reader.seen[0][2]) == {"fake_rate", "signal_quality"}
    assert "61.5" in answer.text


def test_without_a_shipped_parser_the_rules_plan(tmp_path, tests_data, monkeypatch):
    monkeypatch.setenv("CARDIOAGENT_PARSER", "off")
    assert not shipped()
    reg = ToolRegistry()
    assert reg.register(FakeRateTool, plugin="test")
    settings = AgentSettings(home=tmp_path, planner="auto", llm_summary=False)
    assistant = Assistant("embedded", settings, registry=reg, knowledge=StubKnowledge())
    answer = assistant.ask(
        "What is the rate?", [str(tests_data / "E07500.hea"), str(tests_data / "E07500.mat")]
    )
    assert [s.tool for s in answer.trace if s.ok] == ["fake_rate"]
    assert "fine-tuned" not in answer.trace[0].reason


# Paraphrases written for this test, after the parser was trained, in none of its template families.
UNSEEN = [
    ("Hey, quick one: is there any atrial fibrillation going on?", 1, "verify"),
    ("I'd love to know my QTc.", 1, "open"),
    ("Sketch lead V1 for me", 1, "plot"),
    ("Explain to a layperson what a bundle branch block is.", 0, "explain"),
    ("The nurse said bradycardia. True?", 1, "verify"),
    ("Summarise what this tracing shows", 1, "open"),
    ("What's a PR interval, in plain terms?", 0, "explain"),
    ("Could there be a left bundle branch block here?", 1, "verify"),
]


@pytest.mark.skipif(not shipped(), reason="no parser adapter ships (it did not beat the rules)")
def test_shipped_parser_reads_unseen_paraphrases():
    from cardioagent.models.parser import shipped_parser

    parser = shipped_parser()
    assert parser is not None
    got = [parser.read(q, ["ecg"] * n) for q, n, _ in UNSEEN]
    right = sum(p.type == want for p, (_, _, want) in zip(got, UNSEEN, strict=True))
    assert right >= 7, [(q, p.type) for p, (q, _, _) in zip(got, UNSEEN, strict=True)]
    af = got[0]
    assert "rhythm_analysis" in af.tools


@pytest.mark.skipif(not shipped(), reason="no parser adapter ships (it did not beat the rules)")
def test_embedded_backend_plans_with_the_shipped_parser_through_the_graph(tmp_path, tests_data):
    """The default (auto) planner of the embedded backend: the fine-tuned parser's native tool calls run,
    the validator adds the quality prerequisite, and the trace names who chose each call."""
    assistant = Assistant("embedded", AgentSettings(home=tmp_path, llm_summary=False))
    files = [str(tests_data / "E07500.hea"), str(tests_data / "E07500.mat")]
    answer = assistant.ask("My cardiologist mentioned atrial fibrillation. Is that what this shows?", files)
    reasons = {s.tool: s.reason for s in answer.trace if s.ok}
    # every step, failed ones with their error: a run where the quality step did not complete says why
    steps = [(s.tool, s.ok, s.reason, s.error) for s in answer.trace]
    assert "rhythm_analysis" in reasons and "fine-tuned question parser" in reasons["rhythm_analysis"], steps
    assert "signal_quality" in reasons, steps
    assert "atrial fibrillation" in answer.text.lower()


def test_an_open_question_naming_nothing_gets_the_whole_overview(tmp_path, tests_data):
    """The parser read "go through this tracing" as open but planned one tool: the validator completes the
    overview with the default tools, as the planner does for such a request; a verify question is left as
    planned (only its prerequisite is added)."""
    files = [str(tests_data / "E07500.hea"), str(tests_data / "E07500.mat")]
    settings = AgentSettings(home=tmp_path, planner="parser", llm_summary=False)
    assistant = Assistant("embedded", settings, knowledge=StubKnowledge())
    assistant._parser_model = ParserChatModel(parser=FixedReader("open", ["heart_rate"]))
    ran = {s.tool: s.reason for s in assistant.ask("Go through this tracing for me.", files).trace if s.ok}
    assert {"heart_rate", "rhythm_analysis", "ecg_intervals", "signal_quality"} <= set(ran)
    assert "open question naming no measurement" in ran["rhythm_analysis"]
    assert "fine-tuned question parser" in ran["heart_rate"]

    assistant._parser_model = ParserChatModel(parser=FixedReader("verify", ["heart_rate"]))
    ran = {s.tool for s in assistant.ask("Is the heart racing?", files).trace if s.ok}
    assert ran == {"heart_rate", "signal_quality"}
