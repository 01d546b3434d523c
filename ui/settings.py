"""How the Gradio app is deployed: where it listens, who may log in, how large an upload may be.

Defaults are the safe ones: loopback only, no public share link, analytics off, a size limit on uploads
and no login (a login is asked for only when ``CARDIOAGENT_AUTH`` says so).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from cardioagent.agent import cardio_home
from cardioagent.ui.auth import parse_auth

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MAX_UPLOAD_MB = 50.0


def _max_upload_mb() -> float:
    raw = os.environ.get("CARDIOAGENT_MAX_UPLOAD_MB")
    try:
        return float(raw) if raw else DEFAULT_MAX_UPLOAD_MB
    except ValueError:
        return DEFAULT_MAX_UPLOAD_MB


class UISettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 7860
    backend: str | None = Field(
        default=None, description="embedded | hf:/path | openai:URL#model; None: $CARDIOAGENT_BACKEND"
    )
    home: Path = Field(
        default_factory=cardio_home, description="the agent's store (conversations, recordings)"
    )
    llm_summary: bool | None = Field(
        default=None,
        description="the language model's plain-words paragraph; None: the agent's default "
        "(on for a configured model, off for the embedded one)",
    )
    max_upload_mb: float = Field(default_factory=_max_upload_mb, gt=0)
    auth: list[tuple[str, str]] = Field(
        default_factory=lambda: parse_auth(os.environ.get("CARDIOAGENT_AUTH"))
    )
    samples_dir: Path = Field(
        default=REPO_ROOT / "tests" / "data", description="where the example recordings live"
    )
    work_dir: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "cardioagent-ui",
        description="per-session uploads and the copies of figures handed to the browser; under the system "
        "temp dir because Gradio only hands out files from there",
    )
    warm_up: bool = Field(
        default=True, description="load the models when the server starts, not on the first question"
    )

    @property
    def ui_dir(self) -> Path:
        """What the app keeps beside the agent's store: transcripts (with figures) and thread owners."""
        return self.home / "ui"
