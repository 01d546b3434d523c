"""The chromadb index of the knowledge base: client, collections, chunking and the incremental build.

Layout on disk: a chromadb ``PersistentClient`` at ``$CARDIOAGENT_HOME/kb`` (``~/.cardioagent/kb`` by
default) with two collections, ``corpus`` and ``user_docs``, both cosine, both embedded by the bundled
all-MiniLM-L6-v2 (``embedding.MiniLMEmbeddingFunction``).

Chunks: one per entry section, plus a short "Names" chunk with the name, every synonym and the first
sentence of the definition. Each section chunk starts with the entry's name and first synonyms
("Atrial fibrillation (AF, AFib, a-fib) — Criteria: ...") so that it makes sense on its own and a lay
query such as "afib" lands on it. ``build()`` is incremental: an entry is re-embedded only when its
content hash (file text + chunk format + model) changes.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from cardioagent.knowledge_base.entries import SECTION_ORDER, KnowledgeEntry
from cardioagent.knowledge_base.lookup import Corpus, corpus_citation
from cardioagent.tools.home import cardio_home

# Bump when chunk_texts() changes: every entry is then re-embedded on the next build.
CHUNK_FORMAT_VERSION = "3"
CORPUS_COLLECTION = "corpus"
USER_COLLECTION = "user_docs"
NAMES_SECTION = "Names"
# Chunks longer than this many word pieces are split at bullet boundaries (the model reads 256).
MAX_CHUNK_TOKENS = 230
# Synonyms repeated in front of every section chunk (all of them go into the Names chunk).
HEADER_SYNONYMS = 3
# chromadb refuses larger batches in one add().
ADD_BATCH = 1000

# (document, metadata, cosine distance) of one chunk returned by a query.
Chunk = tuple[str, dict[str, Any], float]


def default_kb_path() -> Path:
    return cardio_home() / "kb"


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


class Index:
    """A chromadb ``PersistentClient`` folder, opened on first use, and the collections in it."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else default_kb_path()
        self._client: Any = None
        self._collections: dict[str, Any] = {}
        # Set by build(): a store checks the corpus against the index once, before its first search.
        self.checked = False

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

    def query(
        self,
        qvec: np.ndarray,
        n_results: int,
        where: dict[str, Any] | None = None,
        name: str = CORPUS_COLLECTION,
    ) -> list[Chunk]:
        """The ``n_results`` chunks of a collection nearest to ``qvec``, best first."""
        res = self.collection(name).query(
            query_embeddings=[qvec],
            n_results=n_results,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return list(zip(res["documents"][0], res["metadatas"][0], res["distances"][0], strict=False))

    def build(
        self, corpus: Corpus, embed: Callable[[list[str]], np.ndarray], rebuild: bool = False
    ) -> BuildReport:
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
        entries = corpus.entries()
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
            vectors = embed(docs)
            for start in range(0, len(ids), ADD_BATCH):
                sl = slice(start, start + ADD_BATCH)
                col.add(ids=ids[sl], documents=docs[sl], metadatas=metas[sl], embeddings=vectors[sl])
        report.chunks_embedded = len(docs)
        report.seconds = time.perf_counter() - t0
        self.checked = True
        return report


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
