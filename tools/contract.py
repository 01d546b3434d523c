"""The tool contract every built-in and third-party tool follows.

A tool is a class with a name, a description the planner reads, the modalities it accepts, a pydantic
input model and a pydantic output model, and a ``run`` method. Large data never travels as text: inputs
name a recording by ``recording_id`` and the tool fetches it from ``ToolContext.get_recording``.

Outputs derive from ``ToolResult``: every number a tool reports is a ``Measurement`` with its unit and,
where the tool can say, an uncertainty; every result carries a quality flag and a one-line method. The
agent's grounding check accepts only numbers that appear in some tool's output of the same turn.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, Field, model_validator

from cardioagent.tools.signal.quality import (
    Quality as Quality,  # re-exported: tools and plugins import it here
)
from cardioagent.tools.signal.recording import Demographics, Recording

ISOLATIONS = ("process", "thread")


class Measurement(BaseModel):
    name: str
    value: float | None = Field(description="None when the quality did not allow an estimate")
    unit: str = ""
    uncertainty: float | None = Field(default=None, description="± in the same unit, when known")
    channel: str | None = None
    quality: Quality = Quality.GOOD
    quantity: str | None = Field(
        default=None,
        description="vocabulary id of what is measured (tools.vocabulary: 'qtc', 'heart_rate', ...); when a "
        "tool leaves it out it is read from the whole display name, so 'QTc dispersion' is no QTc",
    )

    @model_validator(mode="after")
    def _typed_quantity(self) -> Measurement:
        if self.quantity is None:
            from cardioagent.tools.vocabulary import vocabulary

            self.quantity = vocabulary().quantity_of(self.name, self.unit)
        return self

    def text(self, digits: int = 0) -> str:
        if self.value is None:
            return f"{self.name}: not estimated ({self.quality.value} signal)"
        if self.uncertainty is not None and 0 < self.uncertainty < 0.5 * 10 ** (-digits):
            digits += 1  # "57 ± 0 bpm" hides the uncertainty: show one more decimal
        v = f"{self.value:.{digits}f}"
        u = f" ± {self.uncertainty:.{digits}f}" if self.uncertainty is not None else ""
        return f"{self.name}: {v}{u} {self.unit}".rstrip()


class ToolResult(BaseModel):
    quality: Quality
    method: str = Field(description="one line: how the numbers were obtained")
    warnings: list[str] = Field(default_factory=list)
    figures: list[str] = Field(default_factory=list, description="paths of PNG figures this result made")

    def measurements(self) -> list[Measurement]:
        """Every Measurement anywhere in this result (fields, lists, dicts, nested results)."""
        return list(_walk_measurements(self))

    def summary(self) -> str:
        """A few lines a person can read: the headline numbers with their units, uncertainty and quality.

        Results with many numbers (per-lead intervals, per-window traces) should override this to show the
        ones that matter; the full result stays available in the trace.
        """
        shown = [m for m in self.measurements()][:8]
        lines = [m.text(digits=_digits(m)) + _quality_note(m) for m in shown]
        lines += [f"note: {w}" for w in self.warnings]
        return "\n".join(lines) if lines else f"no measurements ({self.quality.value} quality)"


def _digits(m: Measurement) -> int:
    if m.value is None:
        return 0
    return 0 if abs(m.value) >= 20 else (1 if abs(m.value) >= 1 else 2)


def _quality_note(m: Measurement) -> str:
    return "" if m.quality in (Quality.GOOD,) or m.value is None else f" ({m.quality.value} quality)"


def _walk_measurements(obj: Any) -> Iterator[Measurement]:
    if isinstance(obj, Measurement):
        yield obj
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from _walk_measurements(getattr(obj, name))
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _walk_measurements(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _walk_measurements(item)


class RecordingInput(BaseModel):
    """The input most signal tools need: which recording, and optionally which channel."""

    recording_id: str = Field(description="id of an uploaded recording in the session store")
    channel: str | None = Field(default=None, description="channel name; default: the tool picks the best")


class ToolContext(BaseModel):
    """What a tool may use besides its input: the session's recordings, the user's demographics and a
    folder for the figures it makes."""

    model_config = {"arbitrary_types_allowed": True}

    get_recording: Callable[[str], Recording]
    demographics: Demographics = Field(default_factory=Demographics)
    artifacts_dir: Path
    data_dir: Path | None = Field(default=None, description="root of stored data (knowledge store, caches)")
    question: str = ""


# Words a display title derived from a tool name writes in capitals ("ecg_intervals" -> "ECG intervals").
_ACRONYMS = {
    "ecg",
    "ppg",
    "hrv",
    "hr",
    "qt",
    "qtc",
    "qrs",
    "pr",
    "rr",
    "spo2",
    "af",
    "afib",
    "bp",
    "vlm",
    "llm",
}


def title_from_name(name: str) -> str:
    words = [w.upper() if w.lower() in _ACRONYMS else w for w in name.replace("_", " ").split()]
    if words and words[0] == words[0].lower():
        words[0] = words[0].capitalize()
    return " ".join(words)


# The input model a tool's ``run`` receives (an instance of its ``input_model``). A tool class that does not name
# it (``class MyTool(Tool):``) may narrow ``run``'s argument to its own model; one that does
# (``class MyTool(Tool[MyInput]):``) has it checked.
InputT = TypeVar("InputT", bound=BaseModel)


class Tool(ABC, Generic[InputT]):
    name: ClassVar[str]
    description: ClassVar[str]
    # What a person reads (tools list, answers); None: derived from the name ("qt_dispersion" -> "QT dispersion").
    title: ClassVar[str | None] = None
    modalities: ClassVar[tuple[str, ...]] = ("ecg",)  # any of: ecg, ppg, mixed, ecg_image, text
    input_model: ClassVar[type[BaseModel]] = RecordingInput
    output_model: ClassVar[type[ToolResult]] = ToolResult
    timeout_s: ClassVar[float] = 60.0
    # How the registry enforces timeout_s. "process": each call runs in a forked child that is killed at the
    # limit (the work really stops; the call sees this process's state as it was when the call started, and
    # what it changes in memory is lost). "thread": the call runs in this process, for tools that need what
    # it holds (a loaded store, model weights); at the limit it is asked to stop (see
    # cardioagent.tools.registry.check_cancelled) and no new call of the tool starts until it has.
    isolation: ClassVar[str] = "process"
    # What the deterministic planner reads (the embedded 135M model cannot pick tools itself):
    keywords: ClassVar[
        tuple[str, ...]
    ] = ()  # regexes naming what the tool answers ("heart ?rate", "\\bbpm\\b")
    examples: ClassVar[
        tuple[str, ...]
    ] = ()  # requests it answers; matched to questions by embedding similarity
    default_for: ClassVar[tuple[str, ...]] = ()  # modalities for which it runs when no tool is asked for
    prerequisite_for: ClassVar[tuple[str, ...]] = ()  # modalities for which it runs before any other tool

    @classmethod
    def display_title(cls) -> str:
        return cls.title or title_from_name(cls.name)

    def unavailable_reason(self) -> str | None:
        """Why this tool cannot run here (missing weights, missing optional dependency), or None."""
        return None

    @abstractmethod
    def run(self, args: InputT, ctx: ToolContext) -> ToolResult: ...


class ToolSpec(BaseModel):
    """The JSON-friendly description of a tool, as shown by ``cardioagent tools list`` and given to LLMs."""

    name: str
    title: str = Field(default="", description="display title (the tool's ``title``, else from its name)")
    description: str
    modalities: list[str]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    plugin: str
    available: bool
    unavailable_reason: str | None = None


ToolRegistrar = Callable[[type[Tool[Any]]], None]
