"""The ``knowledge_search`` tool: the knowledge base offered to the agent like any other tool.

Registered through the ``cardioagent.tools`` entry point (see pyproject.toml), the same way third-party
plugins are. Text-only questions are routed here.
"""

from __future__ import annotations

import threading
from pathlib import Path

from pydantic import BaseModel, Field

from cardioagent.tools.contract import Quality, Tool, ToolContext, ToolRegistrar, ToolResult


class KnowledgeQuery(BaseModel):
    query: str = Field(description="what to look up, in the user's words")
    k: int = Field(default=3, ge=1, le=10)
    category: str | None = Field(default=None, description="restrict to one corpus category")


class KnowledgeHit(BaseModel):
    entry_id: str
    name: str
    section: str
    text: str
    score: float
    urgency: str | None = None
    source_kind: str = "corpus"
    citation: str = ""


class KnowledgeResult(ToolResult):
    hits: list[KnowledgeHit] = Field(default_factory=list)

    def summary(self) -> str:
        if not self.hits:
            return "nothing relevant found in the knowledge base"
        return "; ".join(f"{h.name} ({h.section})" for h in self.hits)


class KnowledgeSearchTool(Tool):
    name = "knowledge_search"
    description = (
        "Search the local clinical knowledge base (ECG/PPG concepts with criteria, normal ranges, significance "
        "and named sources) and the user's own documents."
    )
    modalities = ("text",)
    input_model = KnowledgeQuery
    output_model = KnowledgeResult
    default_for = ("text",)
    timeout_s = 120.0  # the first call may build the store
    isolation = "thread"  # searches the store this process has loaded (and shares with the agent)

    def unavailable_reason(self) -> str | None:
        from cardioagent.knowledge_base.embedding import model_dir

        try:
            model_dir()
        except Exception as exc:
            return f"no local embedding model: {exc}"
        return None

    def run(self, args: KnowledgeQuery, ctx: ToolContext) -> KnowledgeResult:
        store = shared_store(ctx.data_dir / "kb" if ctx.data_dir else None)
        hits = store.search(args.query, k=args.k, category=args.category)
        return KnowledgeResult(
            quality=Quality.GOOD if hits else Quality.POOR,
            method="semantic search (all-MiniLM-L6-v2, chromadb) over corpus sections, best section per entry",
            hits=[KnowledgeHit(**h.model_dump(include=set(KnowledgeHit.model_fields))) for h in hits],
        )


_STORES: dict = {}
_LOCK = threading.Lock()


def shared_store(path: Path | None = None):
    """One built ``KnowledgeStore`` per folder per process (the agent and this tool share it)."""
    from cardioagent.knowledge_base.store import KnowledgeStore, default_kb_path

    path = Path(path or default_kb_path())
    with _LOCK:
        if path not in _STORES:
            store = KnowledgeStore(path)
            store.ensure_built()
            _STORES[path] = store
        return _STORES[path]


def register_tools(register: ToolRegistrar) -> None:
    register(KnowledgeSearchTool)
