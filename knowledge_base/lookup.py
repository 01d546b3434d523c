"""The corpus as the store sees it: its entries and their lookup by id, SNOMED-CT code, name or synonym.

No chromadb here: lookups work before (and without) an index. ``normalize`` is the whole-word form that
both the lookup and the ranker's name matching compare (``ranker.lexical_matches``).
"""

from __future__ import annotations

import re
from pathlib import Path

from cardioagent.knowledge_base.entries import CORPUS_DIR, KnowledgeEntry, cached_corpus


def corpus_citation(entry: KnowledgeEntry) -> str:
    return f"cardioagent knowledge base: {entry.name}"


def normalize(text: str) -> str:
    """Lower case, every run of non-alphanumerics a single space, padded (for whole-word matching)."""
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()).strip() + " "


class Corpus:
    """The entries of one corpus folder (parsed once per content, see ``entries.cached_corpus``)."""

    def __init__(self, corpus_dir: Path | None = None) -> None:
        self.corpus_dir = Path(corpus_dir) if corpus_dir else CORPUS_DIR

    def entries(self) -> list[KnowledgeEntry]:
        return cached_corpus(self.corpus_dir)

    def by_id(self) -> dict[str, KnowledgeEntry]:
        return {e.id: e for e in self.entries()}

    def get_entry(self, entry_id: str) -> KnowledgeEntry | None:
        return self.by_id().get(entry_id)

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
        by_id = self.by_id()
        as_id = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
        if label in by_id or as_id in by_id:
            return by_id.get(label) or by_id[as_id], "id"
        if label.isdigit():
            e = self.by_snomed(label)
            return (e, "snomed") if e else None
        norm = normalize(label)
        for e in self.entries():
            if normalize(e.name) == norm:
                return e, "name"
        # Abbreviations are matched case-sensitively first ("SA" vs "sa") and then loosely.
        for e in self.entries():
            if label in e.synonyms:
                return e, "synonym"
        for e in self.entries():
            if any(normalize(s) == norm for s in e.synonyms):
                return e, "synonym"
        return None
