"""One typed ``ReportContent`` per recording: every line a report shows, gathered from tool outputs.

Two sources give the same content: ``analyze_recording`` (what ``cardioagent analyze`` runs) and an agent
turn's trace (``Answer.trace``), whose tool names are mapped onto the analysis names. Nothing is computed
here: numbers come from the tools' ``Measurement``s with their quality flags, device statements from the
file (``Recording.device_report``), shown apart and compared, never mixed into the findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from cardioagent.agent.safety import NOT_A_MEDICAL_DEVICE
from cardioagent.agent.state import ToolCallRecord
from cardioagent.tools.report import AnalysisReport, analyze_recording
from cardioagent.tools.signal.loaders.device_statements import device_lines
from cardioagent.tools.signal.recording import Recording, RecordingSummary

if TYPE_CHECKING:  # the answer is only read here; agent.api builds on much more than a report needs
    from cardioagent.agent.api import Answer

# agent tool name -> analysis name of tools/report.py
TOOL_TO_ANALYSIS = {
    "signal_quality": "quality",
    "heart_rate": "heart_rate",
    "rhythm_analysis": "rhythm",
    "hrv_analysis": "hrv",
    "ecg_intervals": "intervals",
}
TITLES = {
    "quality": "Signal quality",
    "heart_rate": "Heart rate",
    "rhythm": "Rhythm",
    "hrv": "Heart rate variability",
    "intervals": "ECG intervals",
}
# measurements a report exports one by one (FHIR Observations): analysis, result key
EXPORTED = [
    ("heart_rate", "heart_rate"),
    ("intervals", "pr"),
    ("intervals", "qrs_global"),
    ("intervals", "qrs"),
    ("intervals", "qt"),
    ("intervals", "qtc_bazett"),
    ("intervals", "qtc_fridericia"),
    ("intervals", "rr"),
    ("intervals", "qrs_axis"),
]


class Finding(BaseModel):
    title: str
    quality: str = ""
    lines: list[str] = Field(default_factory=list)
    error: str | None = None


class StatementLine(BaseModel):
    name: str
    verdict: str
    criteria: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    source: str = ""


class MeasuredValue(BaseModel):
    key: str  # result key: pr, qrs_global, qtc_bazett, ...
    name: str
    value: float
    unit: str
    quality: str
    uncertainty: float | None = None
    method: str = ""


class ReportContent(BaseModel):
    recording: RecordingSummary
    generated_at: datetime
    findings: list[Finding]
    statements: list[StatementLine]
    measurements: list[MeasuredValue]
    citations: list[str]
    device_lines: list[str] = Field(default_factory=list)
    answer_text: str = Field(default="", description="the agent's answer, when the report is of a turn")
    notice: str = NOT_A_MEDICAL_DEVICE


def results_of_trace(trace: Iterable[ToolCallRecord]) -> dict[str, dict[str, Any]]:
    """Tool results of an agent turn (``Answer.trace``) keyed by analysis name; the last call wins."""
    out: dict[str, dict[str, Any]] = {}
    for rec in trace:
        name = TOOL_TO_ANALYSIS.get(rec.tool)
        if name and rec.ok and rec.result:
            out[name] = dict(rec.result, _summary=rec.summary)
    return out


def _results_of_report(report: AnalysisReport) -> tuple[dict[str, dict[str, Any]], list[Finding]]:
    results: dict[str, dict[str, Any]] = {}
    findings: list[Finding] = []
    for a in report.analyses:
        title = TITLES.get(a.name, a.name.replace("_", " ").capitalize())
        if a.error:
            findings.append(Finding(title=title, error=a.error))
            continue
        results[a.name] = dict(a.result or {}, _summary=a.summary)
    return results, findings


def _content(
    summary: RecordingSummary,
    results: dict[str, dict[str, Any]],
    failed: list[Finding],
    answer_text: str = "",
    extra_citations: list[str] | None = None,
) -> ReportContent:
    findings = list(failed)
    for name, res in results.items():
        findings.append(
            Finding(
                title=TITLES.get(name, name),
                quality=str(res.get("quality", "")),
                lines=[ln for ln in str(res.get("_summary", "")).splitlines() if ln.strip()],
            )
        )
    order = list(TITLES)
    findings.sort(key=lambda f: next((i for i, k in enumerate(order) if TITLES[k] == f.title), 99))
    statements = [
        StatementLine(
            name=s.get("name") or "",
            verdict=s.get("verdict") or "",
            criteria=s.get("criteria") or [],
            evidence=s.get("evidence") or [],
            source=s.get("source") or "",
        )
        for s in (results.get("intervals") or {}).get("statements") or []
        if s.get("verdict") in ("present", "undetermined")
    ]
    measurements = []
    for analysis, key in EXPORTED:
        res = results.get(analysis) or {}
        m = res.get(key)
        if isinstance(m, dict) and m.get("value") is not None:
            measurements.append(
                MeasuredValue(
                    key=key,
                    name=m.get("name") or key,
                    value=float(m["value"]),
                    unit=m.get("unit") or "",
                    quality=str(m.get("quality") or ""),
                    uncertainty=m.get("uncertainty"),
                    method=str(res.get("method", "")),
                )
            )
    citations = sorted({s.source for s in statements if s.source} | set(extra_citations or []))
    # a shallow copy typed as device_lines asks (dict[str, dict | None]; dict is invariant in its values)
    device_results: dict[str, dict[str, Any] | None] = dict(results)
    lines = device_lines(summary.device_report, device_results) if summary.device_report else []
    return ReportContent(
        recording=summary,
        generated_at=datetime.now().astimezone(),
        findings=findings,
        statements=statements,
        measurements=measurements,
        citations=citations,
        device_lines=lines,
        answer_text=answer_text,
    )


def content_of_recording(rec: Recording) -> ReportContent:
    """The report of ``rec`` by the analysis ``cardioagent analyze`` runs."""
    report = analyze_recording(rec)
    results, failed = _results_of_report(report)
    return _content(report.recording, results, failed)


def content_of_answer(answer: Answer, summary: RecordingSummary) -> ReportContent:
    """The report of one agent turn (``agent.api.Answer``) about the recording ``summary``."""
    trace = [r for r in answer.trace if r.args.get("recording_id") in (None, summary.id)]
    cites = [
        f"[{c.n}] {c.name}" + (f" (after {'; '.join(c.sources[:2])})" if c.sources else "")
        for c in answer.citations
    ]
    return _content(summary, results_of_trace(trace), [], answer_text=answer.text, extra_citations=cites)
