"""Ranking of knowledge-base search results: dense cosine plus a per-entry search bonus.

Search is hybrid and entry-level. Dense: chunk hits are grouped per entry and an entry scores as its
best chunk (cosine), whose section is returned as the hit. Added to that score (``Ranker.entry_bonus``):
- the query names the entry outright (name, synonym or abbreviation as whole words; when names overlap
  only the longest match counts, so "paroxysmal atrial fibrillation" does not boost atrial fibrillation);
- the query contains one of its SNOMED-CT codes (decisive);
- the query names a finding of the clinical vocabulary (``tools.vocabulary``) that the entry is about;
- a value in the query ("QTc 490", "48 bpm") meets one of its numeric criteria (``numeric_rules.NUMERIC_RULES``);
- BM25 (Robertson & Zaragoza 2009, "The probabilistic relevance framework: BM25 and beyond") over the
  entry's names and text, scaled to the query's best entry.
User-document hits are merged in by cosine (see ``merge_by_cosine``).

Nothing here talks to chromadb: the ranker gets the chunks a query returned and the corpus entries.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from typing import Literal

from pydantic import BaseModel, Field

from cardioagent.knowledge_base.entries import KnowledgeEntry
from cardioagent.knowledge_base.index import NAMES_SECTION, Chunk
from cardioagent.knowledge_base.lookup import corpus_citation, normalize
from cardioagent.knowledge_base.numeric_rules import NUMERIC_RULES

# Added to an entry's cosine score when the query names it outright (name, synonym, abbreviation).
LEXICAL_BOOST = 0.12
# ... when the query contains one of its SNOMED-CT codes: a code is unambiguous, so this decides.
CODE_BOOST = 1.0
VOCABULARY_BOOST = 0.15  # an entry about a finding the query names exactly; less than a code, more than words
# ... when a value in the query ("QTc 490", "48 bpm") meets one of its numeric criteria (ckepe rules).
NUMERIC_BOOST = 0.06
# ... times its BM25 score over name, synonyms and text, scaled so the query's best entry gets the full
# weight: rare exact terms ("coved", "Sokolow", "compensatory") that the small embedding model blurs.
# The three weights were picked on the even-numbered half of bench/kb_queries.yaml (grid of a few
# values, near-ties resolved towards smaller changes); bench/kb_retrieval.py reports the other half.
BM25_WEIGHT = 0.40
MIN_BONUS = 0.01
# At most this many bonus-holding entries missing from the dense cut-off get their chunks fetched.
MAX_FETCHED = 12


class Hit(BaseModel):
    """One search result: the best-matching chunk of an entry (or of a user document)."""

    entry_id: str = Field(description="corpus entry id, or 'user:<filename>' for a user document")
    name: str
    section: str
    text: str
    score: float = Field(
        description="corpus: cosine + search bonus (the ranking key); user documents: cosine"
    )
    cosine: float = Field(default=0.0, description="cosine similarity of the chunk to the query")
    category: str | None = None
    urgency: str | None = None
    source_kind: Literal["corpus", "user"] = "corpus"
    citation: str
    sources: list[str] = Field(default_factory=list)


class Ranker:
    """The bonus weights (settable, for ablations) and the BM25 index over the current entries."""

    def __init__(self) -> None:
        self.lexical_boost = LEXICAL_BOOST
        self.numeric_boost = NUMERIC_BOOST
        self.bm25_weight = BM25_WEIGHT
        self._bm25_index: tuple[tuple[str, ...], Bm25] | None = None

    def entry_bonus(
        self, query: str, entries: list[KnowledgeEntry], category: str | None = None
    ) -> dict[str, float]:
        """What is added to an entry's cosine score for this query, by entry id (see the module notes).

        ``entries`` is the whole corpus (BM25's statistics are over all of it); only entries of
        ``category``, when given, get a bonus.
        """
        chosen = [e for e in entries if not category or e.category == category]
        bonus: dict[str, float] = defaultdict(float)
        if self.lexical_boost:
            for eid in lexical_matches(query, chosen):
                bonus[eid] += self.lexical_boost
        for e in chosen:
            if any(re.search(rf"(?<!\d){code}(?!\d)", query) for code in e.snomed):
                bonus[e.id] += CODE_BOOST
        for eid in vocabulary_matches(query, chosen):  # exact vocabulary match first
            bonus[eid] += VOCABULARY_BOOST
        if self.numeric_boost:
            for eid in numeric_matches(query, {e.id for e in chosen}):
                bonus[eid] += self.numeric_boost
        if self.bm25_weight:
            self._add_bm25(bonus, query, entries, chosen)
        return {i: b for i, b in bonus.items() if b >= MIN_BONUS}

    def _add_bm25(
        self,
        bonus: dict[str, float],
        query: str,
        entries: list[KnowledgeEntry],
        chosen: list[KnowledgeEntry],
    ) -> None:
        scores = self._bm25(entries).scores(query)
        top = max((scores.get(e.id, 0.0) for e in chosen), default=0.0)
        if top > 0:
            for e in chosen:
                if scores.get(e.id, 0.0) > 0:
                    bonus[e.id] += self.bm25_weight * scores[e.id] / top

    def _bm25(self, entries: list[KnowledgeEntry]) -> Bm25:
        key = tuple(e.content_hash for e in entries)
        if self._bm25_index is None or self._bm25_index[0] != key:
            self._bm25_index = (key, Bm25({e.id: _lexical_document(e) for e in entries}))
        return self._bm25_index[1]


def missing_entries(chunks: list[Chunk], bonus: dict[str, float]) -> list[str]:
    """Entries with a bonus but no chunk among the dense results, largest bonus first.

    An entry the query names (or that matches it lexically) can sit below the dense cut-off; the
    store fetches their chunks so that the bonus can apply.
    """
    present = {str(m["entry_id"]) for _, m, _ in chunks}
    return sorted((i for i in bonus if i not in present), key=lambda i: -bonus[i])[:MAX_FETCHED]


def rank_corpus_hits(
    chunks: list[Chunk],
    bonus: dict[str, float],
    by_id: dict[str, KnowledgeEntry],
    k: int,
    per_entry: bool,
) -> list[Hit]:
    """The ``k`` best corpus hits by cosine + bonus: one per entry (its best chunk) when ``per_entry``."""
    hits: list[Hit] = []
    for doc, meta, dist in chunks:
        entry = by_id.get(str(meta["entry_id"]))
        if entry is None:  # the index is older than the files; a build will drop it
            continue
        cosine = 1.0 - float(dist)
        score = cosine + bonus.get(entry.id, 0.0)
        hits.append(
            Hit(
                entry_id=entry.id,
                name=entry.name,
                section=str(meta["section"]),
                text=_section_text(entry, str(meta["section"]), doc),
                score=round(score, 4),
                cosine=round(cosine, 4),
                category=entry.category,
                urgency=entry.urgency,
                source_kind="corpus",
                citation=corpus_citation(entry),
                sources=entry.sources,
            )
        )
    hits.sort(key=lambda h: h.score, reverse=True)
    if per_entry:
        best: dict[str, Hit] = {}
        for h in hits:
            best.setdefault(h.entry_id, h)
        hits = list(best.values())
    return hits[:k]


def user_doc_hits(chunks: list[Chunk]) -> list[Hit]:
    """User-document chunks as hits, scored by cosine alone (they have no entry to earn a bonus)."""
    hits = []
    for doc, meta, dist in chunks:
        hits.append(
            Hit(
                entry_id=f"user:{meta['doc_name']}",
                name=str(meta["doc_name"]),
                section=str(meta.get("heading") or ""),
                text=doc,
                score=round(1.0 - float(dist), 4),
                cosine=round(1.0 - float(dist), 4),
                source_kind="user",
                citation=str(meta["citation"]),
            )
        )
    return hits


def merge_by_cosine(corpus: list[Hit], user: list[Hit]) -> list[Hit]:
    """Interleave user-document hits into the corpus ranking.

    Corpus hits are ranked by cosine + bonus, but the bonus (names, BM25 over entries) has no counterpart
    for user documents, so the two sources are compared on cosine alone while each keeps its own order.
    """
    out: list[Hit] = []
    i = j = 0
    while i < len(corpus) or j < len(user):
        if j >= len(user) or (i < len(corpus) and corpus[i].cosine >= user[j].cosine):
            out.append(corpus[i])
            i += 1
        else:
            out.append(user[j])
            j += 1
    return out


def _section_text(entry: KnowledgeEntry, section: str, doc: str) -> str:
    """What a hit shows: the section body as written (the embedded text carries the name header)."""
    if section == NAMES_SECTION:
        return entry.section("Definition") or doc
    return entry.section(section) or doc


# ----- matches that earn a bonus ---------------------------------------------------------------------------

# Synonyms that are, in a query, the name of a measurement or a modality rather than of one entry.
_MEASUREMENT_TERMS = frozenset(["pr", "st", "rr", "hr", "qt", "qtc", "bpm", "ecg", "ekg", "ppg"])


def lexical_matches(query: str, entries: list[KnowledgeEntry]) -> set[str]:
    """Entries the query names outright; overlapping names keep only the longest match.

    Short all-capital abbreviations (AF, SVT, AT, EAT) must appear in capitals, so that English words
    ("at", "eat") do not name an entry; abbreviations that are also the names of ECG measurements
    (PR, ST, RR, HR, QTc, bpm ...) never count, since in a query they mean the measurement.
    """
    q = normalize(query)
    q_cased = " " + re.sub(r"[^A-Za-z0-9]+", " ", query).strip() + " "
    spans: list[tuple[int, int, str]] = []
    for e in entries:
        for alias in e.aliases():
            a = normalize(alias)
            if len(a.strip()) < 2 or a.strip() in _MEASUREMENT_TERMS:
                continue
            cased = alias.isupper() and len(alias) <= 3
            haystack, needle = (q_cased, f" {alias} ") if cased else (q, a)
            start = haystack.find(needle)
            while start >= 0:
                spans.append((start, start + len(needle), e.id))
                start = haystack.find(needle, start + 1)
    keep = set()
    for s, t, eid in spans:
        if not any(s2 <= s and t <= t2 and (t2 - s2) > (t - s) for s2, t2, _ in spans):
            keep.add(eid)
    return keep


def vocabulary_matches(query: str, entries: list[KnowledgeEntry]) -> set[str]:
    """Entries about a finding the query names in the clinical vocabulary's words (a name, abbreviation,
    lay word or misspelling): the entry with the same id, the same SNOMED code, or the same name."""
    from cardioagent.tools.vocabulary import vocabulary

    voc = vocabulary()
    # These kinds are Terms (only kind "quantity" is a Quantity), so the terms table holds every match.
    found = [voc.terms[m.id] for m in voc.find(query, kinds={"finding", "noise", "superclass"})]
    if not found:
        return set()
    out = set()
    for term in found:
        names = {normalize(n) for n in (term.name, *term.synonyms) if len(n) > 3}
        for e in entries:
            if (
                e.id == term.id
                or set(term.snomed) & set(e.snomed)
                or normalize(e.name) in names
                or normalize(e.id.replace("_", " ")) in names
            ):
                out.add(e.id)
    return out


_NUMBER = r"(\d+(?:\.\d+)?)"
# (quantity, pattern with one number group): values typed in a query, e.g. "QTc 490", "48 bpm", "PR of 260 ms".
_QUERY_VALUES: list[tuple[str, re.Pattern[str]]] = [
    ("qtc", re.compile(rf"\bqtc\b\D{{0,12}}?{_NUMBER}")),
    ("qt", re.compile(rf"\bqt\b(?!c)\D{{0,12}}?{_NUMBER}")),
    ("pr", re.compile(rf"\bpr\b\D{{0,15}}?{_NUMBER}")),
    ("qrs", re.compile(rf"\bqrs\b\D{{0,15}}?{_NUMBER}\s*ms")),
    ("heart_rate", re.compile(rf"{_NUMBER}\s*(?:bpm|beats? (?:a|per) min)")),
    ("heart_rate", re.compile(rf"\b(?:heart rate|pulse|hr)\b\D{{0,12}}?{_NUMBER}")),
]


def numeric_matches(query: str, ids: set[str]) -> set[str]:
    """Entries with a numeric criterion (``numeric_rules.NUMERIC_RULES``) that a value in the query meets."""
    q = query.lower()
    found: set[str] = set()
    for quantity, pattern in _QUERY_VALUES:
        for m in pattern.finditer(q):
            v = float(m.group(1))
            found |= {
                r.entry_id
                for r in NUMERIC_RULES
                if r.quantity == quantity and r.entry_id in ids and r.holds(v)
            }
    return found


# ----- BM25 ------------------------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "so",
        "than",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "too",
        "was",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "with",
        "without",
        "you",
        "your",
        "ecg",
        "ekg",
        "heart",
    ]
)


def _tokens(text: str) -> list[str]:
    out = []
    for t in re.findall(r"[a-z0-9]+", text.lower()):
        if t in _STOPWORDS:
            continue
        if len(t) > 4 and t.endswith("s") and not t.endswith("ss"):
            t = t[:-1]  # crude plural folding: waves -> wave, beats -> beat
        out.append(t)
    return out


def _lexical_document(entry: KnowledgeEntry) -> list[str]:
    """Name and synonyms twice (they are what people type), then the entry's text."""
    names = " ".join(entry.aliases())
    return _tokens(f"{names} {names} " + " ".join(entry.sections.values()))


class Bm25:
    """Okapi BM25 over one document per entry (k1=1.2, b=0.75); a few hundred documents, so plain dicts."""

    def __init__(self, docs: dict[str, list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tf = {i: Counter(toks) for i, toks in docs.items()}
        self.len = {i: len(toks) for i, toks in docs.items()}
        self.avg = sum(self.len.values()) / max(len(docs), 1)
        df: Counter[str] = Counter()
        for tf in self.tf.values():
            df.update(tf.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def scores(self, query: str) -> dict[str, float]:
        terms = set(_tokens(query)) & self.idf.keys()
        out: dict[str, float] = {}
        for i, tf in self.tf.items():
            s = 0.0
            norm = self.k1 * (1 - self.b + self.b * self.len[i] / self.avg)
            for t in terms:
                f = tf.get(t, 0)
                if f:
                    s += self.idf[t] * f * (self.k1 + 1) / (f + norm)
            if s:
                out[i] = s
        return out
