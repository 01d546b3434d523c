"""From this turn's measurements and question to cited interpretation lines (CKEPE).

Which concepts are even considered is decided here, conservatively: a heart rate of 110 bpm meets the rate
criterion of ventricular tachycardia too, but nobody should read "ventricular tachycardia" next to a sinus
recording. So each measured quantity brings a short list of everyday candidates, the CKEPE rule table
(knowledge_base/ckepe.py) says which of them the numbers support, and only supported or borderline ones
are shown, each with the criterion it was checked against and its citation. Entries the question itself
names (by retrieval) are added with their definition, so "what does a long QT mean?" gets an answer
even when no QT was measured.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardioagent.agent.compose import Citation, KnowledgeBundle
from cardioagent.agent.state import ToolCallRecord
from cardioagent.knowledge_base.entries import CorpusError, KnowledgeEntry, load_corpus
from cardioagent.tools.contract import Measurement

if TYPE_CHECKING:  # the store (chromadb) and the prompt builder are imported when knowledge is gathered
    from cardioagent.knowledge_base.ckepe import CandidateKnowledge
    from cardioagent.knowledge_base.store import KnowledgeStore

# quantity (as knowledge_base.ckepe.quantity_of names it) -> everyday candidate concepts
CANDIDATES_BY_QUANTITY: dict[str, list[str]] = {
    "heart_rate": ["sinus_bradycardia", "sinus_tachycardia", "resting_heart_rate"],
    "pr": ["first_degree_av_block", "short_pr_interval"],
    "qrs": ["bundle_branch_block", "nonspecific_intraventricular_conduction_delay"],
    "qtc": ["prolonged_qt_interval", "marked_qt_prolongation", "short_qt_interval"],
    "qrs_axis": ["left_axis_deviation", "right_axis_deviation"],
}
# tool -> concept explained whenever the tool ran (what its numbers mean), cited
CONTEXT_BY_TOOL: dict[str, str] = {
    "rhythm_analysis": "regular_vs_irregular_rhythm",
    "hrv_analysis": "heart_rate_variability",
    "sleep_stages": "sleep_quality_normal_values",  # cardioagent-sleep plugin: normal sleep figures, cited
}
QUESTION_HIT_MIN_SCORE = 0.55
MAX_QUESTION_HITS = 2


def measurements_of(records: list[ToolCallRecord]) -> list[Measurement]:
    out: list[Measurement] = []
    for rec in records:
        if rec.ok and rec.result:
            _collect(rec.result, out)
    return out


def _collect(obj: Any, out: list[Measurement]) -> None:
    if isinstance(obj, dict):
        if {"name", "value", "unit"} <= obj.keys() and isinstance(obj.get("name"), str):
            try:
                out.append(Measurement.model_validate(obj))
                return
            except ValueError:
                pass
        for v in obj.values():
            _collect(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _collect(v, out)


def headline(
    measurements: list[Measurement], quantity_of: Callable[[Measurement], str | None]
) -> list[Measurement]:
    """The measurements that speak for the recording: for each quantity, the aggregate ones (no channel:
    the median across leads, the overall rate) when there are any, else every per-channel one."""
    measured = [m for m in measurements if m.value is not None]
    aggregate = {quantity_of(m) for m in measured if m.channel is None}
    return [m for m in measured if m.channel is None or quantity_of(m) not in aggregate]


def _statements(records: list[ToolCallRecord]) -> dict[str, str]:
    """vocabulary id -> verdict of the interpretation statements of this turn (ecg_intervals)."""
    out: dict[str, str] = {}
    for rec in records:
        if rec.ok and rec.tool == "ecg_intervals":
            for st in (rec.result or {}).get("statements") or []:
                if st.get("id"):
                    out[st["id"]] = st.get("verdict", "undetermined")
    return out


def _stated_entries(stated: dict[str, str], store: KnowledgeStore) -> dict[str, str]:
    """knowledge entry id -> verdict, for the entries naming a stated finding (via the vocabulary)."""
    if not stated:
        return {}
    from cardioagent.tools.vocabulary import vocabulary

    voc = vocabulary()
    by_code = {code: tid for tid in stated if (t := voc.terms.get(tid)) is not None for code in t.snomed}
    out = {}
    for entry in store.entries():
        hit = next((by_code[c] for c in entry.snomed if c in by_code), None)
        for name in (entry.id.replace("_", " "), entry.name):
            if hit is None and (term := voc.resolve(name)) is not None and term.id in stated:
                hit = term.id
        if hit is not None:
            out[entry.id] = stated[hit]
    return out


def _renumber(lines: list[str]) -> tuple[list[str], dict[int, int]]:
    """Citations numbered 1, 2, 3 in order of first use; entries no line cites are not listed."""
    mapping: dict[int, int] = {}
    for line in lines:
        for n in re.findall(r"\[(\d+)\]", line):
            mapping.setdefault(int(n), len(mapping) + 1)
    fixed = [re.sub(r"\[(\d+)\]", lambda m: f"[{mapping[int(m.group(1))]}]", line) for line in lines]
    return fixed, mapping


class KnowledgeGatherer:
    def __init__(self, kb_dir: Path) -> None:
        self.kb_dir = Path(kb_dir)

    def store(self) -> KnowledgeStore:
        from cardioagent.knowledge_base.tool import shared_store

        store: KnowledgeStore = shared_store(self.kb_dir)  # shared_store states no return type
        return store

    def warm_up(self) -> None:
        self.store().search("heart rate", k=1)

    def gather(self, question: str, records: list[ToolCallRecord]) -> KnowledgeBundle:
        from cardioagent.agent.closed_question import facts_of, range_lines
        from cardioagent.knowledge_base.ckepe import build_ckepe_prompt, evidence_for, quantity_of

        store = self.store()
        # "is that normal (for a 70-year-old)?": the measured values against the vocabulary's range, first
        ranges = range_lines(question, records)
        sex = facts_of(records).sex  # sex-specific limits (QTc) for the person's sex
        measurements = headline(measurements_of(records), quantity_of)
        quantities = {quantity_of(m) for m in measurements}
        decided = _stated_entries(_statements(records), store)
        # the interpretation statements decided these: cite the knowledge entry of each one present
        labels: list[str] = [entry_id for entry_id, verdict in decided.items() if verdict == "present"]
        for q in quantities:
            for entry_id in CANDIDATES_BY_QUANTITY.get(q or "", []):
                if decided.get(entry_id) == "absent":
                    continue  # a number meeting a necessary criterion is no evidence against the statement
                verdicts = {e.verdict for e in evidence_for(entry_id, measurements, sex)}
                if (
                    verdicts & {"supports", "borderline"}
                    and entry_id not in labels
                    and store.get_entry(entry_id)
                ):
                    labels.append(entry_id)
        for rec in records:
            concept = CONTEXT_BY_TOOL.get(rec.tool)
            if rec.ok and concept and concept not in labels and store.get_entry(concept):
                labels.append(concept)
        passages: list[str] = list(ranges)
        hits = [
            h
            for r in records
            if r.ok and r.tool == "knowledge_search"
            for h in (r.result or {}).get("hits", [])
        ]
        if not hits:
            hits = [
                h.model_dump()
                for h in store.search(question, k=MAX_QUESTION_HITS)
                if h.cosine >= QUESTION_HIT_MIN_SCORE
            ]
        question_entries = []
        for h in hits[:MAX_QUESTION_HITS]:
            passages.append(h["text"])
            if h.get("source_kind", "corpus") == "corpus" and h["entry_id"] not in labels:
                labels.append(h["entry_id"])
                question_entries.append(h["entry_id"])
        if not labels:
            return KnowledgeBundle(lines=ranges, passages=passages)
        prompt = build_ckepe_prompt(labels, measurements, store, sex)
        lines = ranges + self._evidence_lines(prompt.candidates, set(question_entries))
        for cand in prompt.candidates:
            if cand.entry_id is not None:
                passages.append(cand.definition)
                passages.extend(cand.criteria)
        lines, renumber = _renumber(lines)
        citations = [
            Citation(n=renumber[c.n], entry_id=c.entry_id, name=c.name, sources=list(c.sources))
            for c in prompt.citations
            if c.n in renumber
        ]
        citations.sort(key=lambda c: c.n)
        return KnowledgeBundle(lines=lines, citations=citations, prompt=prompt.text, passages=passages)

    @staticmethod
    def _evidence_lines(candidates: list[CandidateKnowledge], asked: set[str]) -> list[str]:
        """One line per candidate and quantity, from the first headline measurement. Borderline lines are
        dropped for a quantity where another candidate's criterion is met outright ("57 bpm meets sinus
        bradycardia" says it already). For concepts the question asked about, a criterion the numbers do
        not meet is said too: "is the QTc prolonged?" deserves "410 ms does not meet QTc >= 450 ms (men)"."""
        firsts = []  # (candidate, evidence)
        for cand in candidates:
            if cand.entry_id is None:
                continue
            seen = set()
            shown = (
                ("supports", "borderline", "contradicts")
                if cand.entry_id in asked
                else ("supports", "borderline")
            )
            for e in cand.evidence:
                if e.verdict in shown and e.quantity not in seen:
                    seen.add(e.quantity)
                    firsts.append((cand, e))
        met = {e.quantity for _, e in firsts if e.verdict == "supports"}
        lines, explained = [], set()
        for cand, e in firsts:
            if e.verdict == "borderline" and e.quantity in met:
                continue
            verb = {"supports": "meets", "borderline": "is borderline for", "contradicts": "does not meet"}[
                e.verdict
            ]
            caveat = " (from a poor-quality signal)" if e.poor_quality else ""
            lines.append(
                f"{e.measurement}{caveat} {verb} the criterion of **{cand.name}**: {e.criterion} [{cand.citation}]"
            )
            explained.add(cand.entry_id)
        for cand in candidates:
            if cand.entry_id and cand.entry_id not in explained and not cand.evidence and cand.definition:
                lines.append(f"**{cand.name}**: {cand.definition} [{cand.citation}]")
                explained.add(cand.entry_id)
        return lines


@lru_cache(maxsize=1)
def _entries_by_id() -> dict[str, KnowledgeEntry]:
    try:
        return {e.id: e for e in load_corpus(strict=False)}
    except CorpusError:
        return {}  # a corpus being edited: callers show the citation's own fields instead


def knowledge_entry(entry_id: str) -> KnowledgeEntry | None:
    """The shipped knowledge entry with this id (definition, criteria, sources), read from its Markdown file
    (no vector store needed); None when there is none."""
    return _entries_by_id().get(entry_id)
