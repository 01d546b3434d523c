"""One report of every classical analysis of a recording, as ``cardioagent analyze`` prints it.

Each analysis runs on its own: one that cannot apply (intervals of a PPG, HRV of a 6-s strip) is reported
with its reason and the others still run.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from cardioagent.tools.contract import ToolResult
from cardioagent.tools.errors import CardioAgentError
from cardioagent.tools.signal.recording import Modality, Recording, RecordingSummary


class AnalysisOutcome(BaseModel):
    name: str
    result: dict | None = None
    summary: str = ""
    error: str | None = None


class AnalysisReport(BaseModel):
    recording: RecordingSummary
    analyses: list[AnalysisOutcome] = Field(default_factory=list)

    def get(self, name: str) -> AnalysisOutcome | None:
        return next((a for a in self.analyses if a.name == name), None)

    def results(self) -> dict[str, dict | None]:
        return {a.name: a.result for a in self.analyses}


def _analyses(rec: Recording) -> list[tuple[str, Callable[[Recording], ToolResult]]]:
    from cardioagent.tools import analysis

    steps: list[tuple[str, Callable[[Recording], ToolResult]]] = [
        ("quality", analysis.assess_quality),
        ("heart_rate", analysis.heart_rate),
        ("rhythm", analysis.rhythm),
        ("hrv", analysis.hrv),
    ]
    if rec.modality in (Modality.ECG, Modality.MIXED):
        steps.append(("intervals", analysis.intervals))
    return steps


def analyze_recording(rec: Recording) -> AnalysisReport:
    report = AnalysisReport(recording=rec.summary())
    if rec.modality == Modality.ECG_IMAGE:
        report.analyses.append(
            AnalysisOutcome(
                name="image",
                error="this is an ECG image: signal analyses need a recording (ask the agent instead)",
            )
        )
        return report
    for name, fn in _analyses(rec):
        try:
            result = fn(rec)
        except CardioAgentError as exc:
            report.analyses.append(AnalysisOutcome(name=name, error=str(exc)))
            continue
        report.analyses.append(
            AnalysisOutcome(name=name, result=result.model_dump(mode="json"), summary=result.summary())
        )
    return report


TITLES = {"hrv": "HRV", "heart_rate": "Heart rate", "intervals": "Intervals (medians across leads)"}


def format_report(report: AnalysisReport) -> str:
    r = report.recording
    head = f"{r.name} — {r.format.upper()}, {r.modality.value.upper()}"
    if r.sampling_rate_hz:
        head += f", {len(r.channels)} channel(s), {r.duration_s:.1f} s at {r.sampling_rate_hz:g} Hz"
    demo = [f"age {r.demographics.age:g}" if r.demographics.age is not None else "", r.demographics.sex or ""]
    if any(demo):
        head += "; " + ", ".join(d for d in demo if d)
    lines = [head, "=" * min(len(head), 100)]
    for a in report.analyses:
        title = TITLES.get(a.name, a.name.replace("_", " ").capitalize())
        if a.error:
            lines.append(f"{title}: not available — {a.error}")
        else:
            body = a.summary.strip().splitlines()
            lines.append(f"{title}:")
            lines.extend(f"  {line}" for line in body)
    if r.device_report is not None:  # what the file states, apart from what was measured here
        from cardioagent.tools.signal.loaders.device_statements import device_lines

        lines.append(
            "Stated by the recording device (from the file; not measured here, not used as findings):"
        )
        lines.extend(f"  {line}" for line in device_lines(r.device_report, report.results()))
    lines.append("")
    lines.append("Not a medical device: these are signal measurements, not a diagnosis.")
    return "\n".join(lines)
