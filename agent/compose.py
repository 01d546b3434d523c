"""Answer assembly: the findings block is written from tool outputs, never by a model.

Every number in the findings comes straight from a ``Measurement`` (with its unit, uncertainty and quality
flag); interpretations come from the knowledge bundle with numbered citations. A language model, when
enabled, only adds an "In plain words" paragraph written from the same facts, and that paragraph goes
through the grounding check like everything else. A stronger model therefore makes the answer better to
read, not different in what it claims. Text from files (names, channel names in summaries) stays inert: the
assembled Markdown has no live image, link or HTML (``agent/untrusted.py``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cardioagent.agent.safety import EMERGENCY_ADVICE, NOT_A_MEDICAL_DEVICE, EmergencyCheck
from cardioagent.agent.state import ToolCallRecord
from cardioagent.agent.untrusted import defang_markdown, inert_markdown
from cardioagent.tools.signal.loaders.device_statements import device_lines
from cardioagent.tools.signal.recording import DeviceReport


class Citation(BaseModel):
    n: int
    entry_id: str
    name: str
    sources: list[str] = []
    source_kind: str = "corpus"  # corpus | user


class KnowledgeBundle(BaseModel):
    """What retrieval contributed this turn: interpretation lines citing [n], the citations, and the
    CKEPE prompt block a capable model writes from."""

    lines: list[str] = []
    citations: list[Citation] = []
    prompt: str = ""
    passages: list[str] = []  # retrieved text, a source of allowed numbers for the grounding check


TOOL_TITLES = {
    "recording_summary": "Recording",
    "signal_quality": "Signal quality",
    "heart_rate": "Heart rate",
    "hrv_analysis": "Heart rate variability",
    "ecg_intervals": "ECG intervals",
    "rhythm_analysis": "Rhythm",
    "render_ecg_paper": "12-lead ECG figure",
    "knowledge_search": "Knowledge",
    "ecg_image_interpret": "ECG image reading",
    "ecg_image_digitize": "ECG image, digitized",
    "vitals_estimate": "QLoRA vitals estimate",
}


MAX_DETAIL_LINES = 6  # the full result is in the trace; the answer shows what a reader needs


def title_of(tool: str) -> str:
    """The heading of a tool's findings: ours by name, else the tool's own display title (a plugin's
    ``title``, or one derived from its name)."""
    if tool in TOOL_TITLES:
        return TOOL_TITLES[tool]
    from cardioagent.tools.contract import title_from_name
    from cardioagent.tools.errors import ToolError
    from cardioagent.tools.registry import default_registry

    try:
        return default_registry().get(tool).display_title()
    except ToolError:  # not installed here (an old conversation) or unavailable: derived from the name
        return title_from_name(tool)


def findings_block(records: list[ToolCallRecord], names: dict[str, str] | None = None) -> str:
    """The tools' findings; with several recordings, grouped under the name of the recording they are of."""
    lines = []
    several = len({r.args.get("recording_id") for r in records if r.args.get("recording_id")}) > 1
    current = None
    for rec in records:
        if rec.tool == "knowledge_search":
            continue
        rid = rec.args.get("recording_id")
        if several and rid and rid != current:
            current = rid
            lines.append(f"- _Recording {(names or {}).get(rid, rid)}_")
        if rec.ok:
            head, *rest = (rec.summary.strip() or "done").splitlines()
            flag = f" _(quality: {rec.quality})_" if rec.quality and "quality" not in head else ""
            lines.append(f"- **{title_of(rec.tool)}**: {head}{flag}")
            lines.extend(f"  - {line}" for line in rest[:MAX_DETAIL_LINES] if line.strip())
        else:
            lines.append(f"- **{title_of(rec.tool)}** could not be measured: {rec.error}")
    return "\n".join(lines)


def compose_answer(
    *,
    recordings_line: str,
    records: list[ToolCallRecord],
    knowledge: KnowledgeBundle,
    emergency: EmergencyCheck,
    plain_words: str | None = None,
    note: str | None = None,
    recording_names: dict[str, str] | None = None,
    after_findings: str | None = None,
    device_reports: dict[str, DeviceReport] | None = None,
) -> str:
    parts: list[str] = []
    if emergency.emergency:
        parts.append(EMERGENCY_ADVICE + f" (You mentioned: {', '.join(emergency.triggers)}.)")
    if note:
        parts.append(note)
    findings = findings_block(records, recording_names)
    if findings:
        parts.append(f"**Findings** {recordings_line}".rstrip() + "\n" + findings)
    if after_findings:
        parts.append(after_findings)
    device = device_block(device_reports or {}, records, recording_names)
    if device:
        parts.append(device)
    if knowledge.lines:
        parts.append("**What this may indicate**\n" + "\n".join(f"- {line}" for line in knowledge.lines))
    if plain_words:
        parts.append("**In plain words**\n" + plain_words.strip())
    if knowledge.citations:
        parts.append("**Sources**\n" + "\n".join(_citation_line(c) for c in knowledge.citations))
    parts.append(f"_{NOT_A_MEDICAL_DEVICE}_")
    # Tool summaries and errors quote channel and file names, and the plain-words paragraph is a model's:
    # whatever markup they carry is disarmed (no image, link or HTML survives into the chat or an export).
    return defang_markdown("\n\n".join(parts))


# agent tool -> the analysis name ``device_statements.compare_with_measured`` reads its result under
_COMPARED_TOOLS = {"heart_rate": "heart_rate", "ecg_intervals": "intervals"}


def device_block(
    reports: dict[str, DeviceReport], records: list[ToolCallRecord], names: dict[str, str] | None = None
) -> str | None:
    """What each recording's device stated (a cart's measurements and statements, a watch's classification),
    apart from the findings and beside this turn's measurements: "QTc: the device reported 443 ms; measured
    here 434 ms". The numbers are the file's, so the caller adds them to the grounding sources."""
    lines = []
    for rid, report in reports.items():
        if report is None:
            continue
        # typed as device_lines asks for (dict is invariant in its value type)
        results: dict[str, dict[str, Any] | None] = {
            _COMPARED_TOOLS[r.tool]: r.result
            for r in records
            if r.tool in _COMPARED_TOOLS and r.ok and r.result and r.args.get("recording_id") in (None, rid)
        }
        indent = ""
        if len(reports) > 1:  # several recordings: each device's lines under the recording's name
            lines.append(f"- _Recording {inert_markdown((names or {}).get(rid, rid), max_chars=120)}_")
            indent = "  "
        lines += [
            f"{indent}- {inert_markdown(line, max_chars=400)}" for line in device_lines(report, results)
        ]
    if not lines:
        return None
    return (
        "**Stated by the recording device** (from the file; not measured here, not used for the answer)\n"
        + "\n".join(lines)
    )


def _citation_line(c: Citation) -> str:
    if c.source_kind == "user":
        return f"[{c.n}] {inert_markdown(c.name)} (user-provided document)"
    srcs = "; ".join(c.sources[:2])
    return f"[{c.n}] {c.name} — knowledge entry `{c.entry_id}`" + (f" (after {srcs})" if srcs else "")
