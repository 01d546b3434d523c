"""The PDF report, written with reportlab (BSD): header, the 12-lead page (or a strip for fewer leads or a
PPG), the findings with their quality flags, the interpretation statements with their criteria, what the
recording device stated beside what was measured here, the citations, and the not-a-medical-device notice.

Every text that comes from a file (names, device statements) is escaped before it reaches reportlab's
paragraph markup, so a file cannot inject markup, links or images into the report.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer

from cardioagent.agent.reporting.content import ReportContent
from cardioagent.tools.signal.recording import Modality, Recording

_MARGIN = 15 * mm


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": base["Title"],
        "h2": base["Heading2"],
        "body": base["BodyText"],
        "small": ParagraphStyle("small", parent=base["BodyText"], fontSize=8, leading=10),
        "item": ParagraphStyle("item", parent=base["BodyText"], leftIndent=10, fontSize=9, leading=11),
        "notice": ParagraphStyle("notice", parent=base["BodyText"], textColor=colors.darkred, fontSize=9),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def render_figure(rec: Recording, folder: Path) -> Path | None:
    """The 12-lead page for an ECG of 3 leads or more, else a strip of up to six channels; None for an image."""
    if rec.signal is None or not rec.sampling_rate_hz:
        return None
    out = folder / "ecg.png"
    if rec.modality == Modality.ECG and len(rec.channels) >= 3:
        from cardioagent.tools.signal.render import render_12lead

        render_12lead(rec, out, dpi=100)
    else:
        from cardioagent.tools.signal.render import plot_recording

        plot_recording(rec, out, seconds=10.0)
    return out


def _header_lines(c: ReportContent) -> list[str]:
    r = c.recording
    head = f"{r.name} — {r.format}, {len(r.channels)} channel(s)"
    if r.sampling_rate_hz and r.duration_s:
        head += f", {r.duration_s:.1f} s at {r.sampling_rate_hz:g} Hz"
    lines = [head]
    if r.acquired_at:
        lines.append(f"acquired (as stated by the file): {r.acquired_at.isoformat(sep=' ')}")
    demo = [f"age {r.demographics.age:g}" if r.demographics.age is not None else "", r.demographics.sex or ""]
    if any(demo):
        lines.append("from the file header: " + ", ".join(d for d in demo if d))
    lines.append(f"report generated {c.generated_at.isoformat(sep=' ', timespec='seconds')} by cardioagent")
    return lines


def write_pdf(content: ReportContent, out_path: str | Path, recording: Recording | None = None) -> Path:
    """Write the report to ``out_path``; the figure is drawn when the ``recording`` (with samples) is given."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    st = _styles()
    story: list[Flowable] = [_p("ECG report", st["title"])]
    story += [_p(line, st["small"]) for line in _header_lines(content)]
    story.append(_p(content.notice, st["notice"]))
    with tempfile.TemporaryDirectory(prefix="cardioagent-report-") as tmp:
        fig = render_figure(recording, Path(tmp)) if recording is not None else None
        if fig is not None:
            width = A4[0] - 2 * _MARGIN
            img = Image(str(fig))
            img.drawHeight = width * img.imageHeight / img.imageWidth
            img.drawWidth = width
            story += [Spacer(1, 4 * mm), img]
        story.append(_p("Findings (measured by cardioagent)", st["h2"]))
        for f in content.findings:
            flag = f" — quality: {f.quality}" if f.quality else ""
            block = [_p(f"{f.title}{flag}", st["body"])]
            if f.error:
                block.append(_p(f"not available: {f.error}", st["item"]))
            block += [_p(line, st["item"]) for line in f.lines[:12]]
            story.append(KeepTogether(block))
        if content.statements:
            story.append(_p("Interpretation statements (by published criteria)", st["h2"]))
            for s in content.statements:
                block = [_p(f"{s.name}: {s.verdict}", st["body"])]
                block += [_p(f"criterion: {c}", st["item"]) for c in s.criteria]
                block += [_p(f"measured: {e}", st["item"]) for e in s.evidence[:6]]
                if s.source:
                    block.append(_p(f"source: {s.source}", st["item"]))
                story.append(KeepTogether(block))
        if content.device_lines:
            story.append(_p("Stated by the recording device (from the file; not measured here)", st["h2"]))
            story += [_p(line, st["item"]) for line in content.device_lines]
        if content.answer_text:
            story.append(_p("Assistant answer", st["h2"]))
            story += [_p(line, st["item"]) for line in content.answer_text.splitlines() if line.strip()]
        if content.citations:
            story.append(_p("Citations", st["h2"]))
            story += [_p(c, st["item"]) for c in content.citations]
        story += [Spacer(1, 6 * mm), _p(content.notice, st["notice"])]
        doc = SimpleDocTemplate(
            str(out),
            pagesize=A4,
            leftMargin=_MARGIN,
            rightMargin=_MARGIN,
            topMargin=_MARGIN,
            bottomMargin=_MARGIN,
            title=f"ECG report {content.recording.name}",
            author="cardioagent",
        )
        doc.build(story)  # the figure must still exist while reportlab reads it
    return out
