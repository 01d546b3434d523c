"""What the app keeps of each conversation beside the agent's checkpointer.

The checkpointer holds questions and answers, which is all the agent needs. A person reloading a
conversation also expects its tool steps and figures, so the app stores each thread's chat transcript
(messages as the Chatbot shows them, figures by their path in the agent's store) in
``<home>/ui/transcripts/<thread>.json``, and who owns which thread in ``<home>/ui/owners.json`` so that
with a login each user sees only their own conversations. Both are written atomically.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

_THREAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Transcript(BaseModel):
    thread_id: str
    owner: str
    title: str = ""
    messages: list[dict[str, Any]] = Field(default_factory=list)
    citations: list[dict[str, Any]] = Field(default_factory=list, description="the latest answer's citations")
    updated: float = Field(default_factory=time.time)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


class ConversationStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.transcripts_dir = self.root / "transcripts"
        self.transcripts_dir.mkdir(parents=True, exist_ok=True)
        self._owners_path = self.root / "owners.json"
        self._lock = threading.Lock()

    # -- owners ----------------------------------------------------------------------------------------
    def owners(self) -> dict[str, str]:
        try:
            return json.loads(self._owners_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def claim(self, thread_id: str, owner: str) -> None:
        with self._lock:
            owners = self.owners()
            if owners.get(thread_id) != owner:
                owners[thread_id] = owner
                _write_atomic(self._owners_path, json.dumps(owners, indent=1))

    def may_open(self, thread_id: str, owner: str) -> bool:
        """A thread is open to its owner; threads the app never saw (made with the CLI) only to the local
        user, i.e. when there is no login."""
        recorded = self.owners().get(thread_id)
        return recorded == owner or (recorded is None and owner == "local")

    # -- transcripts -----------------------------------------------------------------------------------
    def _path(self, thread_id: str) -> Path:
        if not _THREAD_ID.match(thread_id):
            raise ValueError(f"not a thread id: {thread_id!r}")
        return self.transcripts_dir / f"{thread_id}.json"

    def save(self, transcript: Transcript) -> None:
        transcript.updated = time.time()
        with self._lock:
            _write_atomic(self._path(transcript.thread_id), transcript.model_dump_json(indent=1))
        self.claim(transcript.thread_id, transcript.owner)

    def load(self, thread_id: str) -> Transcript | None:
        try:
            return Transcript.model_validate_json(self._path(thread_id).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def visible_threads(self, owner: str, agent_threads: list[Any]) -> list[Any]:
        """The agent's threads (ThreadInfo, most recent first) this owner may open."""
        owners = self.owners()
        return [
            t
            for t in agent_threads
            if owners.get(t.thread_id) == owner or (t.thread_id not in owners and owner == "local")
        ]
