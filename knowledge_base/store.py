"""The searchable knowledge base: corpus sections (and the user's documents) in a local chromadb store.

``KnowledgeStore`` is a facade over three parts, one job each:
- ``lookup.Corpus``: the entries and their lookup by id, SNOMED-CT code, name or synonym;
- ``index.Index``: the chromadb client and collections, chunking and the incremental ``build()``;
- ``ranker.Ranker``: the hybrid, entry-level ranking (cosine + search bonus), see its module notes.

The names other modules import from here (``Hit``, ``BuildReport``, ``USER_COLLECTION``,
``default_kb_path`` ...) are re-exported from where they live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cardioagent.knowledge_base.entries import KnowledgeEntry
from cardioagent.knowledge_base.index import (
    CHUNK_FORMAT_VERSION,
    CORPUS_COLLECTION,
    HEADER_SYNONYMS,
    MAX_CHUNK_TOKENS,
    NAMES_SECTION,
    USER_COLLECTION,
    BuildReport,
    Index,
    chunk_texts,
    default_kb_path,
    entry_hash,
)
from cardioagent.knowledge_base.lookup import Corpus, corpus_citation
from cardioagent.knowledge_base.ranker import (
    BM25_WEIGHT,
    CODE_BOOST,
    LEXICAL_BOOST,
    MAX_FETCHED,
    MIN_BONUS,
    NUMERIC_BOOST,
    VOCABULARY_BOOST,
    Bm25,
    Hit,
    Ranker,
    merge_by_cosine,
    missing_entries,
    rank_corpus_hits,
    user_doc_hits,
)

__all__ = [
    "BM25_WEIGHT",
    "CHUNK_FORMAT_VERSION",
    "CODE_BOOST",
    "CORPUS_COLLECTION",
    "HEADER_SYNONYMS",
    "LEXICAL_BOOST",
    "MAX_CHUNK_TOKENS",
    "MAX_FETCHED",
    "MIN_BONUS",
    "NAMES_SECTION",
    "NUMERIC_BOOST",
    "USER_COLLECTION",
    "VOCABULARY_BOOST",
    "Bm25",
    "BuildReport",
    "Hit",
    "KnowledgeStore",
    "chunk_texts",
    "corpus_citation",
    "default_kb_path",
    "entry_hash",
]


class KnowledgeStore:
    """The corpus entries (always available) and their chromadb index (built on demand)."""

    def __init__(self, path: Path | None = None, corpus_dir: Path | None = None) -> None:
        self.corpus = Corpus(corpus_dir)
        self.index = Index(path)
        self.ranker = Ranker()

    @property
    def path(self) -> Path:
        return self.index.path

    @property
    def corpus_dir(self) -> Path:
        return self.corpus.corpus_dir

    # The bonus weights live on the ranker; settable here for ablations (bench/kb_retrieval.py).
    @property
    def lexical_boost(self) -> float:
        return self.ranker.lexical_boost

    @lexical_boost.setter
    def lexical_boost(self, value: float) -> None:
        self.ranker.lexical_boost = value

    @property
    def numeric_boost(self) -> float:
        return self.ranker.numeric_boost

    @numeric_boost.setter
    def numeric_boost(self, value: float) -> None:
        self.ranker.numeric_boost = value

    @property
    def bm25_weight(self) -> float:
        return self.ranker.bm25_weight

    @bm25_weight.setter
    def bm25_weight(self, value: float) -> None:
        self.ranker.bm25_weight = value

    # ----- entries (no chromadb needed) -------------------------------------------------------------------

    def entries(self) -> list[KnowledgeEntry]:
        return self.corpus.entries()

    def get_entry(self, entry_id: str) -> KnowledgeEntry | None:
        return self.corpus.get_entry(entry_id)

    def by_snomed(self, code: str | int) -> KnowledgeEntry | None:
        return self.corpus.by_snomed(code)

    def lookup(self, label: str) -> tuple[KnowledgeEntry, str] | None:
        """Resolve a label without retrieval: by id, SNOMED code, name, then synonym/abbreviation.

        Returns the entry and how it was found ('id', 'snomed', 'name', 'synonym'), or None.
        """
        return self.corpus.lookup(label)

    # ----- chromadb -------------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        return self.index.client

    def collection(self, name: str = CORPUS_COLLECTION) -> Any:
        """A collection of this store, always with the bundled embedding function."""
        return self.index.collection(name)

    def _embed(self, texts: list[str]) -> np.ndarray:
        from cardioagent.knowledge_base.embedding import embed_texts

        return embed_texts(texts)

    def build(self, rebuild: bool = False) -> BuildReport:
        """Bring the ``corpus`` collection in line with the corpus files (see ``index.Index.build``)."""
        return self.index.build(self.corpus, self._embed, rebuild)

    def ensure_built(self) -> None:
        """Build once per store object before the first search (cheap when nothing changed)."""
        if not self.index.checked:
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
            hits = merge_by_cosine(hits, self._search_user_docs(qvec, k))
        return hits[:k]

    def entry_bonus(self, query: str, category: str | None = None) -> dict[str, float]:
        """What is added to an entry's cosine score for this query, by entry id (see ``ranker``)."""
        return self.ranker.entry_bonus(query, self.entries(), category)

    def _search_corpus(
        self, query: str, qvec: np.ndarray, k: int, category: str | None, per_entry: bool
    ) -> list[Hit]:
        count = self.collection().count()
        if count == 0:
            return []
        where = {"category": category} if category else None
        chunks = self.index.query(qvec, min(count, max(10 * k, 40)), where)
        bonus = self.entry_bonus(query, category)
        missing = missing_entries(chunks, bonus)
        if missing:
            where_missing = {"entry_id": {"$in": missing}}
            chunks += self.index.query(qvec, min(count, 8 * len(missing)), where_missing)
        return rank_corpus_hits(chunks, bonus, self.corpus.by_id(), k, per_entry)

    def _search_user_docs(self, qvec: np.ndarray, k: int) -> list[Hit]:
        count = self.collection(USER_COLLECTION).count()
        if count == 0:
            return []
        return user_doc_hits(self.index.query(qvec, min(count, k), name=USER_COLLECTION))
