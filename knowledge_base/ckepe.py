"""Clinical-knowledge-enhanced prompts (CKEPE), after MERL (Liu et al., "Zero-Shot ECG Classification
with Multimodal Learning and Test-time Clinical Knowledge Enhancement", ICML 2024).

MERL replaces a bare label ("sinus bradycardia") with a description grounded in clinical knowledge before
comparing it with a recording. Here the knowledge comes from the local corpus, never from an LLM:

- ``build_ckepe_prompt``: each candidate label is resolved to a corpus entry (id, SNOMED code, name,
  synonym/abbreviation, then retrieval), expanded with its definition and criteria, and checked against
  the measurements the tools produced with the explicit ``NUMERIC_RULES`` table below. The prompt carries
  numbered citations [n] and the matching ``Citation`` list, ready for the agent's answer.
- ``score_labels``: zero-shot ranking of labels by cosine similarity between a findings text and each
  label's enriched description (name + synonyms + definition + criteria), as MERL does at test time,
  plus (by default) the store's lexical and numeric search bonus.

The numeric rule table
----------------------
One ``NumericRule`` per (entry, measured quantity) criterion, adult values, taken from the entry's own
Criteria section so that the prompt never contradicts the text it cites; where the criterion is a limit of
the normal range (bradycardia, prolonged QTc) the number is the clinical vocabulary's, read from it
(``numeric_rules``). A rule states the range in which the criterion holds. A value inside it *supports* the
entry; a value outside it by more than ``grey`` (in the rule's unit) *contradicts* it; in between is
*borderline*. Rules whose criterion is only
typical ("usually", "often") set ``contradicts=False``: meeting them supports, missing them says nothing.
Rules speak only to the number: HR 48 bpm supports sinus bradycardia's rate criterion and says nothing
about whether P waves are sinus. A sex-specific limit (QTc) is checked against the person's sex; with the
sex unknown, the rules for both sexes give one verdict that holds whatever the sex (455 ms: borderline). To
add a rule, add a line to ``numeric_rules.build_rules``; a test checks that every ``entry_id`` exists in the
corpus.

Measurements are matched to quantities by name (``quantity_of``: "heart_rate", "HR", "QTc (Bazett)",
"PR interval", "QRS duration", "QRS axis", ...) and converted to the rule's unit (s -> ms, mm -> mV).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from cardioagent.knowledge_base.entries import KnowledgeEntry
from cardioagent.knowledge_base.numeric_rules import (
    UNITS,
    NumericRule,
    Verdict,
    rules_for,
    verdict_for_any_sex,
)
from cardioagent.knowledge_base.store import KnowledgeStore
from cardioagent.tools.contract import Measurement, Quality

# Labels resolved by retrieval below this cosine score are reported as unresolved rather than guessed.
RETRIEVAL_MIN_SCORE = 0.45


# ----- measurements -> quantities ----------------------------------------------------------------------


def quantity_of(m: Measurement) -> str | None:
    """The rule quantity a measurement reports: its typed ``Measurement.quantity`` (a vocabulary id), when
    the rules here know it."""
    return m.quantity if m.quantity in UNITS else None


def value_in(m: Measurement, quantity: str) -> float | None:
    """The measurement's value in the rule unit of ``quantity`` (None when it cannot be converted)."""
    if m.value is None or m.quality == Quality.UNUSABLE:
        return None
    unit = (m.unit or "").strip().lower()
    target = UNITS[quantity]
    v = float(m.value)
    if target == "ms" and unit in ("s", "sec", "seconds"):
        return v * 1000.0
    if target == "mV" and unit == "mm":
        return v / 10.0  # standard gain 10 mm/mV
    if target == "mV" and unit in ("uv", "µv", "μv"):
        return v / 1000.0
    if unit in ("", target.lower(), "deg", "degrees", "beats/min", "/min", "1/min", "msec"):
        return v
    return None


# ----- models -------------------------------------------------------------------------------------------


class Evidence(BaseModel):
    measurement: str = Field(description="the measurement as text, e.g. 'heart_rate: 48 bpm'")
    quantity: str
    value: float = Field(description="in the rule's unit")
    unit: str
    criterion: str
    verdict: Verdict
    poor_quality: bool = False

    def text(self) -> str:
        verb = {"supports": "meets", "contradicts": "does not meet", "borderline": "is borderline for"}[
            self.verdict
        ]
        flag = " (poor signal quality: weak evidence)" if self.poor_quality else ""
        return f'{self.verdict.upper()}: {self.measurement} {verb} "{self.criterion}"{flag}'


class Citation(BaseModel):
    n: int
    entry_id: str
    name: str
    sources: list[str]

    def text(self) -> str:
        return (
            f"[{self.n}] {self.name} — cardioagent knowledge base entry '{self.entry_id}'; sources: "
            + "; ".join(self.sources)
        )


Resolution = Literal["id", "snomed", "name", "synonym", "retrieval", "unresolved"]


class CandidateKnowledge(BaseModel):
    label: str
    entry_id: str | None = None
    name: str | None = None
    resolved_by: Resolution
    urgency: str | None = None
    definition: str = ""
    criteria: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    citation: int | None = None

    @property
    def supported(self) -> int:
        return sum(e.verdict == "supports" for e in self.evidence)

    @property
    def contradicted(self) -> int:
        return sum(e.verdict == "contradicts" for e in self.evidence)


class CkepePrompt(BaseModel):
    text: str
    candidates: list[CandidateKnowledge]
    citations: list[Citation]
    measurements: list[str] = Field(default_factory=list, description="the measurements that were considered")


class LabelScore(BaseModel):
    label: str
    entry_id: str | None
    name: str
    score: float = Field(description="cosine + bonus; the ranking key")
    cosine: float = Field(description="cosine similarity of the findings text to the enriched description")
    bonus: float = Field(default=0.0, description="the store's lexical/numeric search bonus (hybrid mode)")


# ----- label resolution ----------------------------------------------------------------------------------


def resolve_label(label: str, store: KnowledgeStore) -> tuple[KnowledgeEntry | None, Resolution]:
    """Entry for a label by id, SNOMED code, name or synonym; else the best retrieval hit above a floor."""
    found = store.lookup(label)
    if found:
        return found[0], found[1]  # type: ignore[return-value]
    hits = store.search(label, k=1, include_user_docs=False)
    if hits and hits[0].score >= RETRIEVAL_MIN_SCORE:
        return store.get_entry(hits[0].entry_id), "retrieval"
    return None, "unresolved"


def evidence_for(
    entry_id: str, measurements: Sequence[Measurement], sex: str | None = None
) -> list[Evidence]:
    """Every rule of ``entry_id`` checked against every measurement of its quantity; a sex-specific rule
    only for ``sex``, or, with the sex unknown, the rules for each sex as one criterion."""
    out: list[Evidence] = []
    rules = rules_for(entry_id, sex)
    for m in measurements:
        q = quantity_of(m)
        if q is None:
            continue
        v = value_in(m, q)
        if v is None:
            continue
        on_q = [r for r in rules if r.quantity == q]
        by_sex = [r for r in on_q if r.sex is not None]
        groups: list[list[NumericRule]] = [[r] for r in on_q if r.sex is None]
        if by_sex:
            groups.append(by_sex)
        for group in groups:
            verdict = (
                group[0].verdict(v) if len(group) == 1 else verdict_for_any_sex([r.verdict(v) for r in group])
            )
            if verdict is None:
                continue
            out.append(
                Evidence(
                    measurement=measurement_text(m, v, q),
                    quantity=q,
                    value=v,
                    unit=UNITS[q],
                    criterion="; ".join(r.criterion for r in group)
                    + (" (sex unknown)" if len(group) > 1 else ""),
                    verdict=verdict,
                    poor_quality=m.quality == Quality.POOR,
                )
            )
    return out


def format_number(v: float) -> str:
    """Enough digits to be faithful at the value's size: 48, 48.5, 0.24."""
    digits = 0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2
    text = f"{v:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def measurement_text(m: Measurement, value: float | None = None, quantity: str | None = None) -> str:
    """'name: value unit [± u]', plus the value in the rule's unit when it was converted."""
    if m.value is None:
        return f"{m.name}: not estimated ({m.quality.value} signal)"
    u = f" ± {format_number(m.uncertainty)}" if m.uncertainty is not None else ""
    text = f"{m.name}: {format_number(m.value)}{u} {m.unit}".rstrip()
    if (
        quantity is not None
        and value is not None
        and value != m.value
        and (m.unit or "").strip() != UNITS[quantity]
    ):
        text += f" (= {format_number(value)} {UNITS[quantity]})"
    return text


# ----- the prompt -----------------------------------------------------------------------------------------


def build_ckepe_prompt(
    labels: Sequence[str],
    measurements: Sequence[Measurement],
    store: KnowledgeStore,
    sex: str | None = None,
) -> CkepePrompt:
    """The knowledge-enhanced prompt for a set of candidate labels and the measurements at hand (``sex``:
    the person's, for sex-specific limits)."""
    citations: dict[str, Citation] = {}
    candidates: list[CandidateKnowledge] = []
    for label in labels:
        entry, how = resolve_label(label, store)
        if entry is None:
            candidates.append(CandidateKnowledge(label=label, resolved_by="unresolved"))
            continue
        if entry.id not in citations:
            citations[entry.id] = Citation(
                n=len(citations) + 1, entry_id=entry.id, name=entry.name, sources=entry.sources
            )
        candidates.append(
            CandidateKnowledge(
                label=label,
                entry_id=entry.id,
                name=entry.name,
                resolved_by=how,
                urgency=entry.urgency,
                definition=_first_sentences(entry.section("Definition"), 2),
                criteria=entry.criteria_items(),
                evidence=evidence_for(entry.id, measurements, sex),
                citation=citations[entry.id].n,
            )
        )
    used = [measurement_text(m) for m in measurements if m.value is not None]
    return CkepePrompt(
        text=_render(candidates, list(citations.values()), used),
        candidates=candidates,
        citations=list(citations.values()),
        measurements=used,
    )


def _first_sentences(text: str, n: int) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z])", flat)
    return " ".join(parts[:n])


def _render(candidates: list[CandidateKnowledge], citations: list[Citation], measurements: list[str]) -> str:
    lines = [
        "Clinical knowledge for the candidate findings below, from the cardioagent knowledge base (numbered",
        "references at the end). Measured evidence was checked against numeric criteria by fixed rules; a",
        "number speaks only to the criterion it is checked against.",
        "",
        "Measurements: " + ("; ".join(measurements) if measurements else "none"),
    ]
    for i, c in enumerate(candidates, 1):
        lines.append("")
        if c.entry_id is None:
            lines.append(f"Candidate {i}: {c.label} — no knowledge-base entry found; no criteria available.")
            continue
        shown = c.name if c.name and c.name.lower() == c.label.lower() else f"{c.label} -> {c.name}"
        lines.append(f"Candidate {i}: {shown} [{c.citation}] (urgency: {c.urgency})")
        lines.append(f"Definition: {c.definition} [{c.citation}]")
        lines.append("Criteria:")
        lines += [f"- {item}" for item in c.criteria]
        if c.evidence:
            lines.append("Measured evidence:")
            lines += [f"- {e.text()}" for e in c.evidence]
        else:
            lines.append("Measured evidence: no measurement bears on a numeric criterion of this finding.")
    lines += ["", "References:"]
    lines += [c.text() for c in citations]
    return "\n".join(lines)


# ----- zero-shot label scoring ---------------------------------------------------------------------------

_description_vectors: dict[tuple[str, str], np.ndarray] = {}


def enriched_description(entry: KnowledgeEntry) -> str:
    """Name + synonyms + definition + criteria: the text a label is compared through (MERL's CKEPE)."""
    criteria = " ".join(entry.criteria_items())
    definition = re.sub(r"\s+", " ", entry.section("Definition")).strip()
    return f"{entry.title()}. {definition} Criteria: {criteria}"


def score_labels(
    findings_text: str, labels: Sequence[str], store: KnowledgeStore, hybrid: bool = True
) -> list[LabelScore]:
    """Labels ranked for a findings text, best first (zero-shot, MERL-style).

    The base score is the cosine similarity of ``findings_text`` to each label's enriched description
    (name + synonyms + definition + criteria); a label with no entry is compared through its own words.
    With ``hybrid`` (default) the store's search bonus is added, the same one ``search`` uses: names
    typed in the findings, numbers that meet the label's numeric criteria ("PR 280 ms"), and BM25 over
    the entry text. The small embedding model on its own reads "no P waves" close to "P waves": on ten
    hand-written findings/label cases the cosine alone ranked the right label first 4 times, the hybrid
    7 times.
    """
    from cardioagent.knowledge_base.embedding import embed_texts

    resolved = [(label, *resolve_label(label, store)) for label in labels]
    missing: list[tuple[tuple[str, str], str]] = []
    for label, entry, _ in resolved:
        key = (entry.id, entry.content_hash) if entry else ("label", label)
        if key not in _description_vectors and all(key != m[0] for m in missing):
            missing.append((key, enriched_description(entry) if entry else label))
    if missing:
        vectors = embed_texts([text for _, text in missing])
        for (key, _), vec in zip(missing, vectors, strict=False):
            _description_vectors[key] = vec
    query = embed_texts([findings_text])[0]
    bonus = store.entry_bonus(findings_text) if hybrid else {}
    scores = []
    for label, entry, _ in resolved:
        key = (entry.id, entry.content_hash) if entry else ("label", label)
        cosine = float(np.dot(query, _description_vectors[key]))
        extra = bonus.get(entry.id, 0.0) if entry else 0.0
        scores.append(
            LabelScore(
                label=label,
                entry_id=entry.id if entry else None,
                name=entry.name if entry else label,
                score=round(cosine + extra, 4),
                cosine=round(cosine, 4),
                bonus=round(extra, 4),
            )
        )
    return sorted(scores, key=lambda s: s.score, reverse=True)
