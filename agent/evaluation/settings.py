"""Where an evaluation keeps the agent's conversations: beside the run, not in the user's home.

An evaluation asks hundreds or thousands of questions, each in its own thread, and every thread leaves a
conversation (SQLite checkpoints, ~0.1 MB each), figures and an uploaded copy of its recording. Kept in
``CARDIOAGENT_HOME`` they would fill the app's conversation list and the disk, so ``EvalSettings`` moves
conversations, figures and uploads to a run folder (temporary, removed after the run, unless the threads are
kept for inspection); only the knowledge store is shared with the user's home, built once.
"""

from __future__ import annotations

from pathlib import Path

from cardioagent.agent.config import AgentSettings


class EvalSettings(AgentSettings):
    run_dir: Path

    @property
    def checkpoint_db(self) -> Path:
        return self.run_dir / "conversations.sqlite"

    @property
    def recordings_dir(self) -> Path:
        return self.run_dir / "recordings"

    @property
    def threads_dir(self) -> Path:
        return self.run_dir / "threads"
