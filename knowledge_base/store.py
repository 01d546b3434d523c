"""The searchable knowledge base: corpus sections (and the user's documents) in a local chromadb store.

Layout on disk: a chromadb ``PersistentClient`` at ``$CARDIOAGENT_HOME/kb`` (``~/.cardioagent/kb`` by
default) with two collections, ``corpus`` and ``user_docs``, both cosine, both embedded by the bundled
all-MiniLM-L6-v2 (``embedding.MiniLMEmbeddingFunction``).

Chunks: one per entry section, plus a short "Names" chunk with the name, every synonym and the first
sentence of the definition. Each section chunk starts with the entry's name and first synonyms
("Atrial fibrillation (AF, AFib, a-fib) — Criteria: ...") so that it makes sense on its own and a lay
query such as "afib" lands on it. ``build()`` is incremental: an entry is re-embedded only when its
content hash (file text + chunk format + model) changes.

Search is hybrid and entry-level. Dense: chunk hits are grouped per entry and an entry scores as its
best chunk (cosine), whose section is returned as the hit. Added to that score (``entry_bonus``):
- the query names the entry outright (name, synonym or abbreviation as whole words; when names overlap
  only the longest match counts, so "paroxysmal atrial fibrillation" does not boost atrial fibrillation);
- the query contains one of its SNOMED-CT codes (decisive);
- a value in the query ("QTc 490", "48 bpm") meets one of its numeric criteria (``numeric_rules.NUMERIC_RULES``);
- BM25 over the entry's names and text, scaled to the query's best entry.
User-document hits are merged in by cosine (see ``_merge_by_cosine``).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from cardioagent.knowledge_base.entries import (
    CORPUS_DIR,
    SECTION_ORDER,
    KnowledgeEntry,
    cached_corpus,
)
from cardioagent.knowledge_base.numeric_rules import NUMERIC_RULES
from cardioagent.tools.home import cardio_home

# Bump when chunk_texts() changes: every entry is then re-embedded on the next build.
CHUNK_FORMAT_VERSION = "3"
CORPUS_COLLECTION = "corpus"
USER_COLLECTION = "user_docs"
NAMES_SECTION = "Names"
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
MAX_FETCHED = 12
# Chunks longer than this many word pieces are split at bullet boundaries (the model reads 256).
MAX_CHUNK_TOKENS = 230
# Synonyms repeated in front of every section chunk (all of them go into the Names chunk).
HEADER_SYNONYMS = 3


def default_kb_path() -> Path:
    return cardio_home() / "kb"


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


class BuildReport(BaseModel):
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    path: str = ""

    def summary(self) -> str:
        return (
            f"knowledge base at {self.path}: {self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged ({self.chunks_embedded} chunks embedded, {self.seconds:.1f} s)"
        )


def corpus_citation(entry: KnowledgeEntry) -> str:
    return f"cardioagent knowledge base: {entry.name}"


def _normalize(text: str) -> str:
    """Lower case, every run of non-alphanumerics a single space, padded (for whole-word matching)."""
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()).strip() + " "


class KnowledgeStore:
    """The corpus entries (always available) and their chromadb index (built on demand)."""

    def __init__(self, path: Path | None = None, corpus_dir: Path | None = None) -> None:
        self.path = Path(path) if path else default_kb_path()
        self.corpus_dir = Path(corpus_dir) if corpus_dir else CORPUS_DIR
        self._client: Any = None
        self._collections: dict[str, Any] = {}
        self._checked = False
        self.lexical_boost = LEXICAL_BOOST
        self.numeric_boost = NUMERIC_BOOST
        self.bm25_weight = BM25_WEIGHT
        self._bm25_index: tuple[tuple[str, ...], Bm25] | None = None

    # ----- entries (no chromadb needed) -------------------------------------------------------------------

    def entries(self) -> list[KnowledgeEntry]:
        return cached_corpus(self.corpus_dir)

    def _by_id(self) -> dict[str, KnowledgeEntry]:
        return {e.id: e for e in self.entries()}

    def get_entry(self, entry_id: str) -> KnowledgeEntry | None:
        return self._by_id().get(entry_id)

    def by_snomed(self, code: str | int) -> KnowledgeEntry | None:
        code = str(code).strip()
        for e in self.entries():
            if code in e.snomed:
                return e
        return None

    def lookup(self, label: str) -> tuple[KnowledgeEntry, str] | None:
        """Resolve a label without retrieval: by id, SNOMED code, name, then synonym/abbreviation.

        Returns the entry and how it was found ('id', 'snomed', 'name', 'synonym'), or None.
        """
        label = label.strip()
        if not label:
            return None
        by_id = self._by_id()
        as_id = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
        if label in by_id or as_id in by_id:
            return by_id.get(label) or by_id[as_id], "id"
        if label.isdigit():
            e = self.by_snomed(label)
            return (e, "snomed") if e else None
        norm = _normalize(label)
        for e in self.entries():
            if _normalize(e.name) == norm:
                return e, "name"
        # Abbreviations are matched case-sensitively first ("SA" vs "sa") and then loosely.
        for e in self.entries():
            if label in e.synonyms:
                return e, "synonym"
        for e in self.entries():
            if any(_normalize(s) == norm for s in e.synonyms):
                return e, "synonym"
        return None

    # ----- chromadb -------------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            import chromadb
            from chromadb.config import Settings

            self.path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(
                path=str(self.path), settings=Settings(anonymized_telemetry=False)
            )
        return self._client

    def collection(self, name: str = CORPUS_COLLECTION) -> Any:
        """A collection of this store, always with the bundled embedding function (never chromadb's
        default, which would download a model)."""
        if name not in self._collections:
            from cardioagent.knowledge_base.embedding import MiniLMEmbeddingFunction

            self._collections[name] = self.client.get_or_create_collection(
                name=name,
                embedding_function=MiniLMEmbeddingFunction(),
                configuration={"hnsw": {"space": "cosine"}},
            )
        return self._collections[name]

    def _embed(self, texts: list[str]) -> np.ndarray:
        from cardioagent.knowledge_base.embedding import embed_texts

        return embed_texts(texts)

    # ----- build ---------------------------------------------------------------------------------------

    def build(self, rebuild: bool = False) -> BuildReport:
        """Bring the ``corpus`` collection in line with the corpus files.

        Only new or changed entries (by content hash) are embedded; entries whose file is gone are removed.
        A second build with no change embeds nothing. ``rebuild`` drops the collection first.
        """
        t0 = time.perf_counter()
        if rebuild and CORPUS_COLLECTION in {c.name for c in self.client.list_collections()}:
            self.client.delete_collection(CORPUS_COLLECTION)
            self._collections.pop(CORPUS_COLLECTION, None)
        col = self.collection()
        stored: dict[str, str] = {}
        existing = col.get(include=["metadatas"])
        for meta in existing["metadatas"] or []:
            stored[str(meta["entry_id"])] = str(meta["entry_hash"])

        report = BuildReport(path=str(self.path))
        entries = self.entries()
        current = {e.id: e for e in entries}
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict[str, Any]] = []
        stale: list[str] = []
        for e in entries:
            h = entry_hash(e)
            if stored.get(e.id) == h:
                report.unchanged += 1
                continue
            if e.id in stored:
                report.updated += 1
                stale.append(e.id)
            else:
                report.added += 1
            for n, (section, text) in enumerate(chunk_texts(e)):
                ids.append(f"{e.id}::{n:02d}")
                docs.append(text)
                metas.append(_chunk_metadata(e, section, h))
        removed = [i for i in stored if i not in current]
        report.removed = len(removed)
        if stale or removed:
            col.delete(where={"entry_id": {"$in": stale + removed}})
        if docs:
            vectors = self._embed(docs)
            for start in range(0, len(ids), 1000):  # stay under chromadb's max batch size
                sl = slice(start, start + 1000)
                col.add(ids=ids[sl], documents=docs[sl], metadatas=metas[sl], embeddings=vectors[sl])
        report.chunks_embedded = len(docs)
        report.seconds = time.perf_counter() - t0
        self._checked = True
        return report

    def ensure_built(self) -> None:
        """Build once per store object before the first search (cheap when nothing changed)."""
        if not self._checked:
            self.build()

    # ----- search --------------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 5,
        category: str | None = None,
        include_user_docs: bool = True,
        per_entry: bool = True,
    ) -> list[Hit]:
        """The ``k`` best hits for ``query``: one per entry (its best section) unless ``per_entry`` is off.

        ``category`` restricts corpus hits to one category (user documents have none and are then left
        out). User-document hits compete with corpus hits on the same cosine scale.
        """
        if not query.strip() or k <= 0:
            return []
        self.ensure_built()
        qvec = self._embed([query])[0]
        hits = self._search_corpus(query, qvec, k, category, per_entry)
        if include_user_docs and category is None:
            hits = _merge_by_cosine(hits, self._search_user_docs(qvec, k))
        return hits[:k]

    def _search_corpus(
        self, query: str, qvec: np.ndarray, k: int, category: str | None, per_entry: bool
    ) -> list[Hit]:
        col = self.collection()
        count = col.count()
        if count == 0:
            return []
        where = {"category": category} if category else None
        res = col.query(
            query_embeddings=[qvec],
            n_results=min(count, max(10 * k, 40)),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        chunks = list(zip(res["documents"][0], res["metadatas"][0], res["distances"][0], strict=False))
        bonus = self.entry_bonus(query, category)
        present = {str(m["entry_id"]) for _, m, _ in chunks}
        missing = sorted((i for i in bonus if i not in present), key=lambda i: -bonus[i])[:MAX_FETCHED]
        if missing:
            # An entry the query names (or that matches it lexically) can sit below the dense cut-off;
            # fetch its chunks so that its bonus can apply.
            more = col.query(
                query_embeddings=[qvec],
                n_results=min(count, 8 * len(missing)),
                where={"entry_id": {"$in": missing}},
                include=["documents", "metadatas", "distances"],
            )
            chunks += list(
                zip(more["documents"][0], more["metadatas"][0], more["distances"][0], strict=False)
            )

        by_id = self._by_id()
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

    def entry_bonus(self, query: str, category: str | None = None) -> dict[str, float]:
        """What is added to an entry's cosine score for this query, by entry id (see the module notes)."""
        entries = [e for e in self.entries() if not category or e.category == category]
        bonus: dict[str, float] = defaultdict(float)
        if self.lexical_boost:
            for eid in self._lexical_matches(query, entries):
                bonus[eid] += self.lexical_boost
        for e in entries:
            if any(re.search(rf"(?<!\d){code}(?!\d)", query) for code in e.snomed):
                bonus[e.id] += CODE_BOOST
        for eid in self._vocabulary_matches(query, entries):  # exact vocabulary match first
            bonus[eid] += VOCABULARY_BOOST
        if self.numeric_boost:
            for eid in _numeric_matches(query, {e.id for e in entries}):
                bonus[eid] += self.numeric_boost
        if self.bm25_weight:
            scores = self._bm25().scores(query)
            top = max((scores.get(e.id, 0.0) for e in entries), default=0.0)
            if top > 0:
                for e in entries:
                    if scores.get(e.id, 0.0) > 0:
                        bonus[e.id] += self.bm25_weight * scores[e.id] / top
        return {i: b for i, b in bonus.items() if b >= MIN_BONUS}

    def _vocabulary_matches(self, query: str, entries: list[KnowledgeEntry]) -> set[str]:
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
            names = {_normalize(n) for n in (term.name, *term.synonyms) if len(n) > 3}
            for e in entries:
                if (
                    e.id == term.id
                    or set(term.snomed) & set(e.snomed)
                    or _normalize(e.name) in names
                    or _normalize(e.id.replace("_", " ")) in names
                ):
                    out.add(e.id)
        return out

    def _bm25(self) -> Bm25:
        entries = self.entries()
        key = tuple(e.content_hash for e in entries)
        if self._bm25_index is None or self._bm25_index[0] != key:
            self._bm25_index = (key, Bm25({e.id: _lexical_document(e) for e in entries}))
        return self._bm25_index[1]

    def _lexical_matches(self, query: str, entries: list[KnowledgeEntry]) -> set[str]:
        """Entries the query names outright; overlapping names keep only the longest match.

        Short all-capital abbreviations (AF, SVT, AT, EAT) must appear in capitals, so that English words
        ("at", "eat") do not name an entry; abbreviations that are also the names of ECG measurements
        (PR, ST, RR, HR, QTc, bpm ...) never count, since in a query they mean the measurement.
        """
        q = _normalize(query)
        q_cased = " " + re.sub(r"[^A-Za-z0-9]+", " ", query).strip() + " "
        spans: list[tuple[int, int, str]] = []
        for e in entries:
            for alias in e.aliases():
                a = _normalize(alias)
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

    # ----- user documents ------------------------------------------------------------------------------

    def _search_user_docs(self, qvec: np.ndarray, k: int) -> list[Hit]:
        col = self.collection(USER_COLLECTION)
        count = col.count()
        if count == 0:
            return []
        res = col.query(
            query_embeddings=[qvec], n_results=min(count, k), include=["documents", "metadatas", "distances"]
        )
        hits = []
        for doc, meta, dist in zip(
            res["documents"][0], res["metadatas"][0], res["distances"][0], strict=False
        ):
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


def _merge_by_cosine(corpus: list[Hit], user: list[Hit]) -> list[Hit]:
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


def entry_hash(entry: KnowledgeEntry) -> str:
    from cardioagent.knowledge_base.embedding import MODEL_NAME

    key = f"{entry.content_hash}|{CHUNK_FORMAT_VERSION}|{MODEL_NAME}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _chunk_metadata(entry: KnowledgeEntry, section: str, h: str) -> dict[str, Any]:
    return {
        "entry_id": entry.id,
        "name": entry.name,
        "section": section,
        "category": entry.category,
        "urgency": entry.urgency,
        "snomed": ",".join(entry.snomed),
        "source_kind": "corpus",
        "citation": corpus_citation(entry),
        "entry_hash": h,
    }


def _section_text(entry: KnowledgeEntry, section: str, doc: str) -> str:
    """What a hit shows: the section body as written (the embedded text carries the name header)."""
    if section == NAMES_SECTION:
        return entry.section("Definition") or doc
    return entry.section(section) or doc


def _flatten(markdown: str) -> str:
    return re.sub(r"\s*\n\s*", " ", markdown).strip()


def chunk_texts(entry: KnowledgeEntry) -> list[tuple[str, str]]:
    """(section, text to embed) for every chunk of an entry: a Names chunk, then one per section.

    The Names chunk carries every synonym; section chunks carry the name and the first few synonyms
    only. Full synonym lists averaged 57 of the 141 word pieces of a chunk, and the bundled model's cost
    grows with length, so repeating them on every section made the build ~40% slower for no gain in
    recall (synonyms are also matched lexically). A section longer than the model's window is split at
    bullet boundaries; each part keeps the header.
    """
    short = f"{entry.name} ({', '.join(entry.synonyms[:HEADER_SYNONYMS])})" if entry.synonyms else entry.name
    chunks = [
        (NAMES_SECTION, f"{entry.title()}. {entry.name}: {entry.section('Definition').split('. ')[0]}.")
    ]
    ordered = sorted(entry.sections, key=lambda s: SECTION_ORDER.index(s) if s in SECTION_ORDER else 99)
    for section in ordered:
        for part in _split_long(entry.sections[section]):
            chunks.append((section, f"{short} — {section}: {_flatten(part)}"))
    return chunks


def _split_long(body: str, max_words: int = int(MAX_CHUNK_TOKENS * 0.6)) -> list[str]:
    """Split a section into parts of at most ~max_words words, at bullet or paragraph boundaries.

    Word count stands in for word pieces (clinical text runs ~1.6 pieces per word with its numbers and
    units); counting real tokens would need the model loaded just to plan the chunks.
    """
    if len(body.split()) <= max_words:
        return [body]
    blocks = re.split(r"\n(?=\s*(?:[-*+]|\d+[.)])\s)|\n\s*\n", body)
    parts: list[str] = []
    current: list[str] = []
    for block in blocks:
        if current and len(" ".join(current).split()) + len(block.split()) > max_words:
            parts.append("\n".join(current))
            current = []
        current.append(block)
    if current:
        parts.append("\n".join(current))
    return parts


# ----- lexical side ----------------------------------------------------------------------------------------

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


# Synonyms that are, in a query, the name of a measurement or a modality rather than of one entry.
_MEASUREMENT_TERMS = frozenset(["pr", "st", "rr", "hr", "qt", "qtc", "bpm", "ecg", "ekg", "ppg"])


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


def _numeric_matches(query: str, ids: set[str]) -> set[str]:
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
