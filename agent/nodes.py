"""The graph's nodes. Each takes the state and returns the keys it changes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.types import StreamWriter

from cardioagent.agent.closed_answer import decide as decide_closed
from cardioagent.agent.comparison import difference_lines
from cardioagent.agent.compose import KnowledgeBundle, compose_answer
from cardioagent.agent.config import AgentSettings
from cardioagent.agent.grounding import check_answer, numbers_in
from cardioagent.agent.image_agreement import image_reading_agreement
from cardioagent.agent.language import detect_language, language_notice
from cardioagent.agent.planner import (
    GENERAL_REQUEST,
    PlannedCall,
    RecordingRef,
    invalid_reason,
    overview_calls,
    plan,
    prerequisite_calls,
    required_calls,
    route,
)
from cardioagent.agent.question import parse_question, with_context
from cardioagent.agent.safety import EmergencyCheck, check_emergency, soften_diagnosis_claims
from cardioagent.agent.state import AgentState, ToolCallRecord
from cardioagent.agent.untrusted import DATA_NOTE, as_data, inert_markdown
from cardioagent.tools.contract import ToolContext
from cardioagent.tools.errors import CardioAgentError, InputError, ToolError
from cardioagent.tools.registry import ToolRegistry
from cardioagent.tools.signal.recording import Demographics, DeviceReport, Recording

PLANNER_SYSTEM = (
    "You are cardioagent, an assistant that analyses ECG and PPG recordings with tools. Call the tools "
    "needed to answer the user's question about the listed recordings; pass recording ids exactly as given. "
    "When the tool results are enough, reply without calling tools. " + DATA_NOTE
)
PLAIN_WORDS_SYSTEM = (
    "You explain heart-signal findings to a non-specialist in two short sentences. Use only the facts "
    "given. Do not write any numbers. Do not give a diagnosis. " + DATA_NOTE
)


def _in_context(state: AgentState) -> str:
    """This turn's question, with the targets of earlier questions when it is a follow-up naming none."""
    earlier = [str(m.content) for m in state.get("messages", [])[:-1] if getattr(m, "type", "") == "human"]
    return with_context(state["question"], earlier)


class Nodes:
    def __init__(
        self,
        *,
        registry: ToolRegistry,
        get_recording: Callable[[str], Recording],
        gather_knowledge: Callable[[str, list[ToolCallRecord]], KnowledgeBundle],
        get_chat_model: Callable[[], BaseChatModel | None],
        settings: AgentSettings,
        use_llm_planner: bool,
        get_parser_model: Callable[[], BaseChatModel | None] | None = None,
    ) -> None:
        self.registry = registry
        self.get_recording = get_recording
        self.gather_knowledge = gather_knowledge
        self.get_chat_model = get_chat_model
        self.settings = settings
        self.use_llm_planner = use_llm_planner
        # the fine-tuned question parser (models.parser) that plans for the embedded backend through the same
        # tool-calling path as a configured model; None, or a getter returning None: the rules plan
        self.get_parser_model = get_parser_model

    # -- triage ------------------------------------------------------------------------------------------
    def triage(self, state: AgentState) -> dict[str, Any]:
        emergency = check_emergency(state["question"])
        focus = state.get("attached") or state.get("focus") or []
        refs = [r for r in state.get("recordings", []) if r["id"] in focus]
        return {
            "emergency": emergency.model_dump(),
            "focus": focus,
            "route": route([RecordingRef(**r) for r in refs]),
            "pending": [],
            "results": [],
            "rounds": 0,
            "knowledge": {},
            "draft": "",
            "grounding": {},
            "timings": {"started": time.time()},
            "closed": {},
            "device": {},
            "usage": {},
        }

    # -- plan --------------------------------------------------------------------------------------------
    def plan(self, state: AgentState) -> dict[str, Any]:
        rounds = state.get("rounds", 0)
        if rounds >= self.settings.max_tool_rounds:
            return {"pending": []}
        refs = [RecordingRef(**r) for r in state.get("recordings", []) if r["id"] in state.get("focus", [])]
        calls: list[PlannedCall] = []
        usage = state.get("usage") or {}
        dropped: list[dict[str, Any]] = []
        parser = None
        if not self.use_llm_planner and self.get_parser_model is not None and rounds == 0:
            from cardioagent.models.parser import TRAINED_MODALITIES

            if {r.modality for r in refs} <= TRAINED_MODALITIES:  # else the rules: it never saw those
                parser = self.get_parser_model()
        if self.use_llm_planner or parser is not None:
            # the parser, like the rules, reads a follow-up with the targets of the earlier questions
            question = _in_context(state) if parser is not None else state["question"]
            calls, reply = self._llm_plan(state, refs, question, parser)
            usage = _add_usage(usage, reply)
            # The deterministic planner validates the model's plan: invalid calls are dropped (the trace says
            # why) and the tool that measures each target the question names is added when missing.
            for c in list(calls):
                if (why := invalid_reason(c, refs, self.registry)) is not None:
                    calls.remove(c)
                    dropped.append(
                        ToolCallRecord(
                            tool=c.tool,
                            args=c.args,
                            reason=c.reason,
                            ok=False,
                            seconds=0.0,
                            error=f"dropped before running: {why}",
                            error_kind="input",
                        ).model_dump()
                    )
            if calls and rounds == 0:
                calls += required_calls(question, refs, self.registry, calls)
                read = (getattr(reply, "response_metadata", None) or {}).get("parser") or {}
                if read.get("type") == "open":  # the parser read an open question: a target-less one
                    calls += overview_calls(question, refs, self.registry, calls)  # gets the overview
                calls = prerequisite_calls(refs, self.registry, calls) + calls
            if not calls and refs and not state.get("results"):
                # A question about a recording is answered from this turn's measurements, never from the
                # model's word alone: when it measured nothing, the deterministic planner's tools run.
                calls = plan(question, refs, self.registry)
                for c in calls:
                    c.reason += " (the language model called no tool; the deterministic planner chose this)"
        elif rounds == 0:
            calls = plan(_in_context(state), refs, self.registry)
        update = {"pending": [c.model_dump() for c in calls], "rounds": rounds + 1, "usage": usage}
        if dropped:
            update["results"] = list(state.get("results", [])) + dropped
        return update

    def _llm_plan(
        self, state: AgentState, refs: list[RecordingRef], question: str, parser: BaseChatModel | None = None
    ) -> tuple[list[PlannedCall], Any]:
        llm = parser or self.get_chat_model()
        modalities = {r.modality for r in refs} or {"text"}
        tools = [t for t in self.registry.names() if modalities & set(self.registry.get(t).modalities)]
        schemas = [
            {
                "type": "function",
                "function": {
                    "name": n,
                    "description": self.registry.get(n).description,
                    "parameters": self.registry.get(n).input_model.model_json_schema(),
                },
            }
            for n in tools
        ]
        listing = (
            "\n".join(
                f"- recording_id={r.id} (name {as_data(r.name, max_chars=200)}, {r.modality})" for r in refs
            )
            or "- none"
        )
        messages: list[Any] = [
            SystemMessage(PLANNER_SYSTEM),
            HumanMessage(f"Recordings:\n{listing}\n\nQuestion: {question}"),
        ]
        for i, rec in enumerate(ToolCallRecord(**r) for r in state.get("results", [])):
            call_id = f"call_{i}"
            messages.append(
                AIMessage(content="", tool_calls=[{"name": rec.tool, "args": rec.args, "id": call_id}])
            )
            text = rec.summary if rec.ok else f"error: {rec.error}"  # holds channel and file names: data
            messages.append(ToolMessage(content=as_data(text, multiline=True), tool_call_id=call_id))
        try:
            if llm is None:  # no chat model for this backend: the fallback below plans by the rules
                raise RuntimeError("no language model is available")
            reply = llm.bind_tools(schemas).invoke(messages)
        except Exception as exc:  # an unreachable endpoint must not end the turn: fall back to the rules
            if state.get("results"):
                return [], None
            fallback = plan(state["question"], refs, self.registry)
            for c in fallback:
                c.reason += f" (language-model planner failed: {exc}; deterministic planner used)"
            return fallback, None
        already = {(r["tool"], json.dumps(r["args"], sort_keys=True)) for r in state.get("results", [])}
        read = (getattr(reply, "response_metadata", None) or {}).get("parser")
        chooser = (
            f"chosen by the fine-tuned question parser (read as a {read['type']} question, "
            f"p={read['type_probability']:.2f})"
            if read
            else "chosen by the language model"
        )
        calls = []
        for tc in getattr(reply, "tool_calls", []) or []:
            key = (tc["name"], json.dumps(tc.get("args", {}), sort_keys=True))
            if key not in already:  # unknown or unfit tools are dropped by the validator, with the reason
                calls.append(PlannedCall(tool=tc["name"], args=tc.get("args", {}), reason=chooser))
        return calls, reply

    # -- act ---------------------------------------------------------------------------------------------
    def act(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        write = _stream_writer()
        ctx = ToolContext(
            get_recording=self.get_recording,
            demographics=Demographics(**(state.get("demographics") or {})),
            artifacts_dir=self._figures_dir(config),
            data_dir=self.settings.home,
            question=state["question"],
        )
        ctx.artifacts_dir.mkdir(parents=True, exist_ok=True)
        records = list(state.get("results", []))
        for call in (PlannedCall(**c) for c in state.get("pending", [])):
            write({"event": "tool_started", "tool": call.tool, "args": call.args, "reason": call.reason})
            record = self._run_one(call, ctx)
            write({"event": "tool_finished", **record.model_dump(mode="json")})
            records.append(record.model_dump(mode="json"))
        return {"results": records, "pending": []}

    def _run_one(self, call: PlannedCall, ctx: ToolContext) -> ToolCallRecord:
        started = time.perf_counter()
        try:
            result = self.registry.run(call.tool, call.args, ctx, retries=self.settings.tool_retries)
        except (InputError, ToolError) as exc:
            kind = (
                "input" if isinstance(exc, InputError) else ("timeout" if "timed out" in str(exc) else "tool")
            )
            return ToolCallRecord(
                tool=call.tool,
                args=call.args,
                reason=call.reason,
                ok=False,
                seconds=time.perf_counter() - started,
                error=str(exc),
                error_kind=kind,
            )
        return ToolCallRecord(
            tool=call.tool,
            args=call.args,
            reason=call.reason,
            ok=True,
            seconds=time.perf_counter() - started,
            result=result.model_dump(mode="json"),
            summary=result.summary(),
            quality=result.quality.value,
            figures=list(result.figures),
        )

    def _figures_dir(self, config: RunnableConfig) -> Path:
        thread = (config or {}).get("configurable", {}).get("thread_id", "default")
        return self.settings.threads_dir / str(thread) / "figures"

    # -- answer ------------------------------------------------------------------------------------------
    def answer(self, state: AgentState) -> dict[str, Any]:
        records = [ToolCallRecord(**r) for r in state.get("results", [])]
        knowledge = self.gather_knowledge(_in_context(state), records)
        refs = [r for r in state.get("recordings", []) if r["id"] in state.get("focus", [])]
        measured = any(r.ok and r.tool != "knowledge_search" for r in records)
        plain, reply = (None, None)
        if self.settings.llm_summary and (measured or not refs):  # no unmeasured words about a recording
            plain, reply = self._plain_words(state["question"], records, knowledge)
        note = None
        if not refs and state.get("route") == "text" and not any(r.ok for r in records):
            note = "No recording is attached, and the knowledge base had nothing on this question."
        elif refs and not measured:
            note = (
                "Nothing was measured on the recording this turn, so this answer says nothing about what "
                "it shows."
            )
        parsed = parse_question(
            state["question"], state.get("options") or [], n_recordings=len(refs), link=False
        )
        comparison = None
        if len(refs) >= 2 and not state.get(
            "options"
        ):  # two recordings: say what differs, labelled by record
            comparison = "\n".join(difference_lines(records, refs, parsed.target_ids(("quantity",)))) or None
        comparison = "\n\n".join(x for x in (comparison, image_reading_agreement(records)) if x) or None
        draft = compose_answer(
            recordings_line=_recordings_line(refs),
            records=records,
            knowledge=knowledge,
            emergency=EmergencyCheck(**state["emergency"]),
            plain_words=plain,
            note=note,
            recording_names={r["id"]: r["name"] for r in refs},
            after_findings=comparison,
            device_reports=(device := self._device_reports(refs)),
        )
        # A question not in English: say plainly that the answer is in English (the tools its clinical terms
        # point to still ran); the "did not recognise" note would only list its foreign words.
        if (
            language := language_notice(state["question"], model_answers_in_kind=self.use_llm_planner)
        ) is not None:
            # first thing read, unless emergency advice is (that stays first)
            draft = (
                draft + "\n\n" + language if state["emergency"]["emergency"] else f"_{language}_\n\n" + draft
            )
        elif (
            refs
            and measured
            and not parsed.targets
            and parsed.unmapped
            and not GENERAL_REQUEST.search(state["question"])
        ):
            words = ", ".join(inert_markdown(w) for w in parsed.unmapped[:5])
            draft += (
                f"\n\nI did not recognise a finding or measurement in your question ({words}); the "
                "findings above are what was measured. Ask about a finding or a measurement by name for a "
                "direct answer."
            )
        closed = {}
        if state.get("options"):  # a closed question: one explicit, rule-based step ends the answer with it
            decision = decide_closed(
                state["question"], state["options"], records, self.settings.range_profile
            )
            draft, closed = draft + "\n\n" + decision.render(), decision.model_dump()
        usage = _add_usage(state.get("usage") or {}, reply)
        return {
            "draft": draft,
            "knowledge": knowledge.model_dump(),
            "closed": closed,
            "usage": usage,
            "device": {rid: d.model_dump(mode="json") for rid, d in device.items()},
        }

    def _device_reports(self, refs: list[dict[str, Any]]) -> dict[str, DeviceReport]:
        """What the devices that made the recordings stated in their files (a cart's intervals and
        statements, a watch's classification): shown apart from the measurements, never used to decide."""
        reports = {}
        for ref in refs:
            try:
                report = self.get_recording(ref["id"]).device_report
            except CardioAgentError:
                continue  # a recording that can no longer be read has no device lines; the tools said why
            if report is not None:
                reports[ref["id"]] = report
        return reports

    def _plain_words(
        self, question: str, records: list[ToolCallRecord], knowledge: KnowledgeBundle
    ) -> tuple[str | None, Any]:
        facts = [
            f"{r.tool.replace('_', ' ')}: {r.summary.splitlines()[0]}"
            for r in records
            if r.ok and r.summary and r.tool != "knowledge_search"
        ]
        facts += [_plain(line) for line in knowledge.lines[:4]]
        if not facts:
            return None, None
        llm = self.get_chat_model()
        if llm is None:
            return None, None
        try:
            language = detect_language(question)
            # a configured model may write the question's language; the embedded one knows English only
            system = PLAIN_WORDS_SYSTEM + (
                f" Write in {language.name}." if self.use_llm_planner and not language.is_english else ""
            )
            reply = _brief(llm).invoke(
                [
                    SystemMessage(system),
                    HumanMessage(
                        f"Question: {question}\nFacts:\n" + "\n".join(f"- {as_data(f)}" for f in facts)
                    ),
                ]
            )
        except Exception:
            return None, None  # the findings stand on their own; a failed paraphrase is not worth an error
        text = _first_sentences(_plain(re.sub(r"</?data>", "", str(reply.content))), PLAIN_WORDS_SENTENCES)
        return soften_diagnosis_claims(text).strip() or None, reply

    # -- ground ------------------------------------------------------------------------------------------
    def ground(self, state: AgentState) -> dict[str, Any]:
        sources = set(numbers_in([r for r in state.get("results", [])]))
        sources |= numbers_in([r for r in state.get("recordings", []) if r["id"] in state.get("focus", [])])
        sources |= numbers_in(state.get("knowledge", {}).get("passages", []))
        sources |= numbers_in(state["question"])
        # Citations (numbers, entry names, sources with years and pages) are references, not claims.
        sources |= numbers_in(state.get("knowledge", {}).get("citations", []))
        sources |= numbers_in(state.get("options") or [])  # the allowed answers are the user's own words
        sources |= numbers_in(
            (state.get("closed") or {}).get("criteria", [])
        )  # rule thresholds, like passages
        sources |= numbers_in(
            list((state.get("device") or {}).values())
        )  # the file's own values, labelled so
        text, report = check_answer(state["draft"], sources)
        timings = dict(state.get("timings", {}))
        timings["total_s"] = round(time.time() - timings.pop("started", time.time()), 3)
        return {"messages": [AIMessage(content=text)], "grounding": report.model_dump(), "timings": timings}


PLAIN_WORDS_SENTENCES = 2
PLAIN_WORDS_TOKENS = 48  # two short sentences; at ~12 tokens/s on two cores this keeps the answer under 5 s


def _add_usage(usage: dict[str, int], reply: Any) -> dict[str, int]:
    """This turn's language-model calls and tokens, from the reply's ``usage_metadata`` when it has one."""
    if reply is None:
        return usage
    meta = getattr(reply, "usage_metadata", None) or {}
    out = dict(usage)
    out["llm_calls"] = out.get("llm_calls", 0) + 1
    for key in ("input_tokens", "output_tokens"):
        out[key] = out.get(key, 0) + int(meta.get(key) or 0)
    return out


def _brief(llm: BaseChatModel) -> BaseChatModel:
    """The same model with a short generation budget (local models and OpenAI-compatible ones alike)."""
    for field in ("max_new_tokens", "max_tokens"):
        if field in getattr(type(llm), "model_fields", {}):
            return llm.model_copy(update={field: PLAIN_WORDS_TOKENS})
    return llm


def _plain(text: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", text.replace("**", "")).strip()


def _first_sentences(text: str, n: int) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    return " ".join(sentences[:n])


def _recordings_line(refs: list[dict[str, Any]]) -> str:
    if not refs:
        return ""
    return (
        "("
        + "; ".join(f"{inert_markdown(r['name'])}: {r.get('description') or r['modality']}" for r in refs)
        + ")"
    )


def _stream_writer() -> StreamWriter:
    try:
        return get_stream_writer()
    except Exception:  # invoked outside a streaming run
        return lambda _event: None
