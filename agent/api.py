"""The public API: what the UI, the CLI and the evaluation harness all call.

    assistant = Assistant()                       # embedded model, ~/.cardioagent
    answer = assistant.ask("What is the heart rate?", ["E07500.hea", "E07500.mat"])
    for event in assistant.stream("And the HRV?", thread_id=answer.thread_id): ...
    assistant.ask("Which rhythm is it?", files, options=["sinus rhythm", "atrial fibrillation", "none"])

``options`` makes a closed question: the answer then ends with ``**Answer:** <option(s)>``, decided by
explicit rules from the turn's tool outputs (``agent/closed_question.py``); the evaluation harness uses it.

Conversations are kept by a SQLite checkpointer keyed by ``thread_id`` and uploaded recordings in a store on
disk keyed by content hash, so a thread survives a restart of the process.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver
from pydantic import BaseModel, Field

from cardioagent.agent.closed_question import ClosedAnswer
from cardioagent.agent.compose import Citation, KnowledgeBundle
from cardioagent.agent.config import AgentSettings
from cardioagent.agent.graph import build_graph
from cardioagent.agent.grounding import GroundingReport
from cardioagent.agent.knowledge import KnowledgeGatherer
from cardioagent.agent.nodes import Nodes
from cardioagent.agent.safe_paths import is_safe_thread_id
from cardioagent.agent.safety import EmergencyCheck
from cardioagent.agent.session_store import RecordingStore
from cardioagent.agent.state import ToolCallRecord
from cardioagent.agent.thread_lock import thread_turn
from cardioagent.tools.contract import ToolContext
from cardioagent.tools.errors import CardioAgentError, InputError
from cardioagent.tools.registry import ToolRegistry, default_registry
from cardioagent.tools.signal.loaders.names import clean_text
from cardioagent.tools.signal.recording import Demographics, Recording, RecordingSummary

QUALITY_TOOL = "signal_quality"  # the tool whose flag the upload card shows


class Answer(BaseModel):
    thread_id: str
    question: str
    text: str
    citations: list[Citation]
    trace: list[ToolCallRecord]
    figures: list[str]
    timings: dict[str, float]
    grounding: GroundingReport
    emergency: EmergencyCheck
    route: str
    recordings: list[RecordingSummary] = Field(default_factory=list)
    backend: str = ""
    options: list[str] = Field(default_factory=list, description="allowed answers, for a closed question")
    closed: ClosedAnswer | None = Field(
        default=None, description="the rule-based decision behind **Answer:**"
    )
    usage: dict[str, int] = Field(
        default_factory=dict, description="language-model calls and tokens of the turn"
    )


class AgentEvent(BaseModel):
    kind: Literal["recordings", "tool_started", "tool_finished", "answer"]
    tool: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    answer: Answer | None = None


class ThreadInfo(BaseModel):
    thread_id: str
    title: str
    turns: int


def describe(summary: RecordingSummary) -> str:
    if summary.modality.value == "ecg_image":
        w, h = summary.image_size or (0, 0)
        return f"ECG image, {w}x{h} px"
    kinds = {"ecg": "ECG", "ppg": "PPG", "mixed": "ECG+PPG", "wearable": "wearable heart rate + motion"}
    n = len(summary.channels)
    lead = f"{n}-lead " if summary.modality.value == "ecg" else f"{n}-channel "
    return f"{lead}{kinds[summary.modality.value]}, {summary.duration_s:.1f} s at {summary.sampling_rate_hz:g} Hz"


class Assistant:
    def __init__(
        self,
        backend: Any = None,
        settings: AgentSettings | None = None,
        *,
        chat_model: BaseChatModel | None = None,
        registry: ToolRegistry | None = None,
        knowledge: KnowledgeGatherer | None = None,
    ) -> None:
        from cardioagent.models.llm.spec import BackendSpec

        self.settings = settings or AgentSettings()
        self.settings.home.mkdir(parents=True, exist_ok=True)
        if isinstance(backend, str):
            backend = BackendSpec.parse(backend)
        self.backend = backend or BackendSpec.from_env()
        self._chat_model = chat_model
        self._chat_lock = threading.Lock()
        self.registry = registry or default_registry()
        self.recordings = RecordingStore(self.settings.recordings_dir)
        self.knowledge = knowledge or KnowledgeGatherer(self.settings.kb_dir)
        if self.settings.llm_summary is None:
            self.settings = self.settings.model_copy(update={"llm_summary": self.backend.kind != "embedded"})
        planner = self.settings.planner
        use_llm = planner == "llm" or (planner == "auto" and self.backend.kind != "embedded")
        # the embedded backend plans with the fine-tuned question parser when one ships (models.parser)
        use_parser = not use_llm and planner in ("auto", "parser")
        self._parser_model: BaseChatModel | None = None
        # timeout: another process writing another thread holds SQLite's write lock only briefly; wait for it.
        self._conn = sqlite3.connect(self.settings.checkpoint_db, check_same_thread=False, timeout=30)
        self.checkpointer = SqliteSaver(self._conn)
        nodes = Nodes(
            registry=self.registry,
            get_recording=self.recordings.get,
            gather_knowledge=self.knowledge.gather,
            get_chat_model=self.chat_model,
            settings=self.settings,
            use_llm_planner=use_llm,
            get_parser_model=self.parser_model if use_parser else None,
        )
        self.graph = build_graph(nodes, self.checkpointer)

    # -- models -----------------------------------------------------------------------------------------
    def chat_model(self) -> BaseChatModel | None:
        with self._chat_lock:
            if self._chat_model is None:
                from cardioagent.models.llm import load_chat_model

                self._chat_model = load_chat_model(self.backend)
            return self._chat_model

    def parser_model(self) -> BaseChatModel | None:
        """The fine-tuned question parser as a tool-calling chat model, or None when none ships."""
        with self._chat_lock:
            if self._parser_model is None:
                from cardioagent.models.parser import shipped_parser
                from cardioagent.models.parser.chat import ParserChatModel

                parser = shipped_parser()
                self._parser_model = ParserChatModel(parser=parser) if parser is not None else None
            return self._parser_model

    def warm_up(self) -> float:
        """Load the models now rather than on the first question; returns the seconds it took."""
        started = time.perf_counter()
        if self.settings.llm_summary or self.backend.kind != "embedded":
            self.chat_model()
        self.knowledge.warm_up()
        return time.perf_counter() - started

    # -- uploads ----------------------------------------------------------------------------------------
    def upload(
        self, paths: Sequence[str | Path], *, sampling_rate_hz: float | None = None
    ) -> list[Recording]:
        """Validate and keep uploaded files. Raises ``InputError`` with a specific message on bad input."""
        return self.recordings.add(list(paths), sampling_rate_hz=sampling_rate_hz)

    def recording(self, recording_id: str) -> Recording:
        """A stored recording by id (``InputError`` when there is none)."""
        return self.recordings.get(recording_id)

    def recording_quality(self, rec: Recording) -> str | None:
        """'good' / 'acceptable' / 'poor' / 'unusable' from the ``signal_quality`` tool, run the way the graph
        runs it (so an upload card and a later answer never disagree); None where it cannot be assessed (an
        ECG image, a registry without the tool, a tool error): the card then has no quality."""
        if QUALITY_TOOL not in self.registry.names():
            return None
        if rec.modality.value not in self.registry.get(QUALITY_TOOL).modalities:
            return None
        with tempfile.TemporaryDirectory(prefix="cardioagent-quality-") as tmp:
            ctx = ToolContext(get_recording=self.recordings.get, artifacts_dir=Path(tmp))
            try:
                result = self.registry.run(QUALITY_TOOL, {"recording_id": rec.id}, ctx, retries=0)
            except CardioAgentError:
                return None
        return result.quality.value

    # -- asking -----------------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        attachments: Sequence[str | Path] = (),
        thread_id: str | None = None,
        demographics: Demographics | dict[str, Any] | None = None,
        options: Sequence[str] | None = None,
        *,
        sampling_rate_hz: float | None = None,
    ) -> Answer:
        final = None
        for event in self.stream(
            question, attachments, thread_id, demographics, options=options, sampling_rate_hz=sampling_rate_hz
        ):
            if event.kind == "answer":
                final = event.answer
        assert final is not None, "the graph ended without an answer"
        return final

    def stream(
        self,
        question: str,
        attachments: Sequence[str | Path] = (),
        thread_id: str | None = None,
        demographics: Demographics | dict[str, Any] | None = None,
        options: Sequence[str] | None = None,
        *,
        sampling_rate_hz: float | None = None,  # for attachments that state no rate (.npy, CSV without time)
    ) -> Iterator[AgentEvent]:
        thread_id = thread_id or uuid.uuid4().hex[:12]
        if not is_safe_thread_id(thread_id):  # it names the thread's folder of figures: never a path
            raise InputError(
                clean_text(str(thread_id), 60),
                "this thread id has characters that cannot name a folder",
                "a thread id of letters, digits, '.', '_' and '-' (not starting with a dot), up to 128 characters",
            )
        recs = self.upload(attachments, sampling_rate_hz=sampling_rate_hz) if attachments else []
        refs = [
            {"id": r.id, "name": r.name, "modality": r.modality.value, "description": describe(r.summary())}
            for r in recs
        ]
        if recs:
            yield AgentEvent(
                kind="recordings", data={"recordings": [r.summary().model_dump(mode="json") for r in recs]}
            )
        if isinstance(demographics, Demographics):
            demographics = demographics.model_dump()
        inputs: dict[str, Any] = {
            "messages": [("user", question)],
            "question": question,
            "recordings": refs,
            "attached": [r["id"] for r in refs],
            "demographics": demographics or {},
            "options": [str(o) for o in options or []],
        }
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        # One turn at a time per thread, across processes: a concurrent turn would lose this one's messages.
        with thread_turn(self.settings.home / "locks", thread_id):
            # The ignore: LangGraph's stubs type a graph's input as its whole state (a total TypedDict), while a
            # turn's input is a partial update that the graph merges into the thread's state.
            for mode, chunk in self.graph.stream(
                inputs,
                config,  # type: ignore[call-overload]
                stream_mode=["custom", "updates"],
            ):
                if mode == "custom" and chunk.get("event") in ("tool_started", "tool_finished"):
                    yield AgentEvent(kind=chunk["event"], tool=chunk.get("tool"), data=chunk)
            answer = self._answer_from_state(thread_id, question)
        yield AgentEvent(kind="answer", answer=answer)

    def _answer_from_state(self, thread_id: str, question: str) -> Answer:
        state = self.graph.get_state({"configurable": {"thread_id": thread_id}}).values
        trace = [ToolCallRecord(**r) for r in state.get("results", [])]
        knowledge = KnowledgeBundle(**(state.get("knowledge") or {}))
        focus = state.get("focus", [])
        closed = state.get("closed") or None
        return Answer(
            thread_id=thread_id,
            question=question,
            text=str(state["messages"][-1].content),
            citations=knowledge.citations,
            trace=trace,
            figures=[f for r in trace for f in r.figures],
            timings=state.get("timings", {}),
            grounding=GroundingReport(**state["grounding"]),
            emergency=EmergencyCheck(**state["emergency"]),
            route=state.get("route", ""),
            recordings=[
                self.recordings.summary(rid) for rid in focus if (self.settings.recordings_dir / rid).is_dir()
            ],
            backend=self.backend.describe(),
            options=list(state.get("options") or []),
            closed=ClosedAnswer(**closed) if closed else None,
            usage=dict(state.get("usage") or {}),
        )

    # -- memory -----------------------------------------------------------------------------------------
    def threads(self) -> list[ThreadInfo]:
        """Conversations on disk, most recent first."""
        try:
            rows = self._conn.execute(
                "SELECT thread_id, MAX(rowid) FROM checkpoints GROUP BY thread_id ORDER BY MAX(rowid) DESC"
            ).fetchall()
        except sqlite3.OperationalError:  # no conversation yet: the table does not exist
            return []
        out = []
        for thread_id, _ in rows:
            history = self.history(thread_id)
            first = next((m["content"] for m in history if m["role"] == "user"), "")
            out.append(
                ThreadInfo(
                    thread_id=thread_id, title=first[:60], turns=sum(m["role"] == "user" for m in history)
                )
            )
        return out

    def history(self, thread_id: str) -> list[dict[str, str]]:
        state = self.graph.get_state({"configurable": {"thread_id": thread_id}}).values
        role = {"human": "user", "ai": "assistant"}
        return [
            {"role": role.get(m.type, m.type), "content": str(m.content)} for m in state.get("messages", [])
        ]

    def close(self) -> None:
        self._conn.close()
