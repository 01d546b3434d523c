"""Reading a question: its type, the vocabulary targets it names, the leads, which recordings it is about,
the change it asks for, and what in it was not understood.

    parse_question("Is the QTc of the second ECG longer than the first?", n_recordings=2)
    -> type "compare", targets [qtc], recordings [1, 0]

Targets are found in two steps. First the clinical vocabulary (``tools.vocabulary``): whole-word matches of
every name, abbreviation, lay word and misspelling it knows, longest first. When that finds no finding or
quantity, the question is linked to the closest vocabulary entry in the local sentence-embedding space
(all-MiniLM-L6-v2 over every entry's names), kept only above ``LINK_THRESHOLD`` — dense entity linking,
which carries paraphrases ("is my heart beating too fast?" -> tachycardia) that no word list holds.

The type comes from the allowed answers first (ECG-QA's semantics: {yes, no, not sure} verify; options named
in the question joined by "or" choose; other options query), else from the words: two recordings or
comparison words -> compare; an imperative to draw -> plot; "what is / what does ... mean / explain" with
no recording -> explain; a question opening with an auxiliary verb -> verify; anything else -> open.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from cardioagent.tools.vocabulary import Entry

QuestionType = Literal["verify", "choose", "query", "compare", "explain", "plot", "open"]
LINK_THRESHOLD = 0.75  # cosine similarity; checked on the tune template families of bench/question_parsing.py
LINK_KINDS = ("finding", "quantity", "noise")

AUXILIARY = re.compile(
    r"^\s*(is|are|does|do|did|can|could|has|have|was|were|should|would|will|am|any)\b", re.I
)
COMPARE = re.compile(
    r"\b(compar\w*|differen\w*|differ|changed?|chang\w+|versus|vs\.?|relative to|than (the )?"
    r"(first|second|earlier|later|previous|other)|between the (two|2)|both (ecgs|recordings|tracings))\b",
    re.I,
)
PLOT = re.compile(
    r"(?:^|[.?!,;:]\s*|\b(?:please|can you|could you|would you|you|to|and|then)\s+)"
    r"(show|draw|plot|render|display|visuali[sz]e)\b(?!\s+(any|signs?|evidence)\b)",
    re.I,
)
EXPLAIN = re.compile(
    r"^\s*(what('s| is| are| does| do)\b(?!.*\b(my|this|the) (ecg|ekg|recording|tracing|heart)\b)|"
    r"explain|define|tell me about|what does .* mean|meaning of)",
    re.I,
)
ORDINALS = {
    "first": 0,
    "1st": 0,
    "earlier": 0,
    "previous": 0,
    "older": 0,
    "baseline": 0,
    "second": 1,
    "2nd": 1,
    "later": 1,
    "latest": 1,
    "newer": 1,
    "follow-up": 1,
    "followup": 1,
    "third": 2,
    "3rd": 2,
}
ORDINAL = re.compile(
    r"\b(first|1st|second|2nd|third|3rd|earlier|previous|older|later|latest|newer|follow-?up)\s+"
    r"(ecg|ekg|recording|tracing|one|file|strip)s?\b|\b(ecg|ekg|recording|tracing) (#\s*)?([123])\b",
    re.I,
)
STOP = set(
    """a an the is are was were be been this that these those my your our of in on at to for with and or
not no yes it its from by as do does did can could should would will any some there here what which who how
when why me i you we they he she please tell show ecg ekg recording tracing heart signal lead leads file
about have has had than then so if into over under between both each other much many more less very too
normal abnormal range value values feature features numeric numerical measurement measurements now still""".split()
)


class Target(BaseModel):
    id: str
    kind: str
    text: str = Field(description="the words of the question that named it ('' for a linked target)")
    how: Literal["exact", "linked"] = "exact"
    score: float | None = None


class ParsedQuestion(BaseModel):
    question: str
    type: QuestionType
    targets: list[Target] = Field(default_factory=list)
    leads: list[str] = Field(default_factory=list)
    recordings: list[int] = Field(
        default_factory=list, description="0-based ordinals of the recordings named"
    )
    options: list[str] = Field(default_factory=list)
    unmapped: list[str] = Field(default_factory=list, description="content words no target accounts for")

    def target_ids(self, kinds: tuple[str, ...] | None = None) -> list[str]:
        return [t.id for t in self.targets if kinds is None or t.kind in kinds]


def parse_question(
    question: str, options: list[str] | tuple[str, ...] = (), n_recordings: int = 0, link: bool = True
) -> ParsedQuestion:
    from cardioagent.tools.vocabulary import vocabulary

    voc = vocabulary()
    found = voc.find(question)
    targets = [Target(id=m.id, kind=m.kind, text=m.text) for m in found if m.kind != "lead"]
    leads = [voc.terms[m.id].name.split(" ", 1)[1] for m in found if m.kind == "lead"]
    if link and not any(t.kind in LINK_KINDS for t in targets):
        best = link_target(question)
        if best is not None:
            targets.append(best)
    recordings = _ordinals(question)
    covered = {w for m in found for w in re.findall(r"[a-z0-9]+", m.text.lower())}
    unmapped = [
        w
        for w in re.findall(r"[a-z][a-z0-9'-]+", question.lower())
        if w not in STOP and w not in covered and len(w) > 2
    ]
    if any(t.how == "linked" for t in targets):
        unmapped = []  # the linked entry stands for the words; what it did not cover cannot be told apart
    return ParsedQuestion(
        question=question,
        type=_type(question, list(options), n_recordings, recordings),
        targets=targets,
        leads=leads,
        recordings=recordings,
        options=list(options),
        unmapped=unmapped,
    )


FOLLOW_UP = re.compile(r"\b(that|this|it|those|these|them|same)\b|^\s*(and|what about|how about)\b", re.I)


def with_context(question: str, earlier: list[str]) -> str:
    """The question to plan and judge: a follow-up that names no finding or quantity of its own ("is that
    normal for a 70-year-old?", "and in the second one?") is read with the targets of the latest earlier
    question that named some, so the same measurement is looked at again."""
    from cardioagent.tools.vocabulary import vocabulary

    kinds = {"finding", "quantity", "noise", "superclass"}
    if vocabulary().find(question, kinds=kinds) or not FOLLOW_UP.search(question):
        return question
    for previous in reversed(earlier):
        named = vocabulary().find(previous, kinds=kinds)
        if named:
            return f"{question} ({', '.join(m.text for m in named)})"
    return question


def _type(question: str, options: list[str], n_recordings: int, recordings: list[int]) -> QuestionType:
    """Allowed answers and two recordings decide by definition; otherwise the fine-tuned parser
    (``agent.question_type``) when it ships and is confident, else the word rules."""
    if not options and n_recordings < 2 and len(set(recordings)) < 2:
        from cardioagent.agent.question_type import MIN_PROBABILITY, predict

        learned = predict(question, n_recordings)
        if learned is not None and learned[1] >= MIN_PROBABILITY:
            return learned[0]  # type: ignore[return-value]
    return rule_type(question, options, n_recordings, recordings)


def rule_type(question: str, options: list[str], n_recordings: int, recordings: list[int]) -> QuestionType:
    """The type by the word rules of the module docstring."""
    opts = {o.strip().lower() for o in options if o.strip()}
    if opts:
        if opts <= {"yes", "no", "not sure"}:
            return "verify"
        named = [o for o in opts if o not in ("none", "not sure") and _names(question, o)]
        if len(named) >= 2 and re.search(r"\bor\b", question, re.I):
            return "choose"
        return "compare" if (n_recordings >= 2 or len(set(recordings)) >= 2) else "query"
    if n_recordings >= 2 or len(set(recordings)) >= 2 or (COMPARE.search(question) and recordings):
        return "compare"
    if PLOT.search(question):
        return "plot"
    if n_recordings == 0 and EXPLAIN.search(question):
        return "explain"
    if AUXILIARY.search(question):
        return "verify"
    return "open"


def _names(question: str, option: str) -> bool:
    """Whether the question names the option, in its words or as the same vocabulary entry."""
    from cardioagent.tools.vocabulary import vocabulary

    if option in question.lower():
        return True
    entry = vocabulary().resolve(option)
    return entry is not None and entry.id in {m.id for m in vocabulary().find(question)}


def _ordinals(question: str) -> list[int]:
    out = []
    for m in ORDINAL.finditer(question):
        word = (m.group(1) or "").lower().replace("follow up", "follow-up")
        idx = ORDINALS.get(word) if word else int(m.group(5)) - 1
        if idx is not None and idx not in out:
            out.append(idx)
    return out


# ----- dense linking ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _entry_index() -> tuple[list[str], list[str], np.ndarray]:
    """(entry ids, surface texts, unit vectors) of every finding, quantity and noise kind's names."""
    from cardioagent.knowledge_base.embedding import embed_texts
    from cardioagent.tools.vocabulary import vocabulary

    voc = vocabulary()
    ids, texts = [], []
    entries: list[Entry] = [
        *voc.quantities.values(),
        *(t for t in voc.terms.values() if t.kind in ("finding", "noise")),
    ]
    for e in entries:
        for s in {e.name, *[s for s in e.synonyms if len(s) > 5]}:
            ids.append(e.id)
            texts.append(s)
    vectors = np.asarray(embed_texts(texts), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    return ids, texts, vectors


def link_target(question: str, threshold: float = LINK_THRESHOLD) -> Target | None:
    """The vocabulary entry closest to the question in embedding space, when close enough; else None."""
    from cardioagent.tools.vocabulary import Term, vocabulary

    try:
        from cardioagent.knowledge_base.embedding import embed_texts

        ids, texts, vectors = _entry_index()
        q = np.asarray(embed_texts([question]), dtype=np.float32)[0]
    except Exception:  # no embedding model installed: exact vocabulary matches still work
        return None
    q /= np.linalg.norm(q) + 1e-9
    sims = vectors @ q
    best = int(np.argmax(sims))
    if float(sims[best]) < threshold:
        return None
    entry = vocabulary().get(ids[best])
    if entry is None:  # the index is built from the vocabulary: every id in it names an entry
        raise KeyError(f"{ids[best]!r} is not an entry of the clinical vocabulary")
    kind = entry.kind if isinstance(entry, Term) else "quantity"  # a Quantity has no kind of its own
    return Target(id=ids[best], kind=kind, text="", how="linked", score=round(float(sims[best]), 3))
