"""Where the agent keeps its state on disk, and the knobs a deployment may turn."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from cardioagent.tools.home import cardio_home

__all__ = ["AgentSettings", "cardio_home", "validate_backend"]


class AgentSettings(BaseModel):
    home: Path = Field(default_factory=cardio_home)
    planner: str = Field(
        default="auto",
        description="'rules' (deterministic), 'llm' (native tool calling by the configured model), 'parser' "
        "(native tool calls from the fine-tuned question parser, models.parser) or 'auto': the parser for "
        "the embedded model when one ships (else the rules), llm for anything configured by the user",
    )
    llm_summary: bool | None = Field(
        default=None,
        description="let the LLM add a short plain-language paragraph (grounding-checked). None: on for a "
        "configured model, off for the embedded 135M model, whose paraphrases were measured to misstate "
        "findings (e.g. a borderline QTc retold as 'beating faster')",
    )
    range_profile: str = Field(
        default="clinical",
        description="normal ranges closed questions judge quantities against: 'clinical' (published, the "
        "default) or a benchmark's estimated convention such as 'ecgqa' (tools/vocabulary/data/range_profiles.json)",
    )
    max_tool_rounds: int = 3
    tool_retries: int = 1

    @property
    def checkpoint_db(self) -> Path:
        return self.home / "conversations.sqlite"

    @property
    def recordings_dir(self) -> Path:
        return self.home / "recordings"

    @property
    def threads_dir(self) -> Path:
        return self.home / "threads"

    @property
    def kb_dir(self) -> Path:
        return self.home / "kb"


def validate_backend(spec: str) -> str:
    """``spec`` if it names a chat backend this install can use ("embedded", "hf:PATH", "openai:URL#MODEL",
    ...); otherwise an ``InputError`` (``BackendSpecError``) saying what is wrong and what is accepted."""
    from cardioagent.models.llm import BackendSpec

    BackendSpec.parse(spec)
    return spec
