"""The ECG-image digitizer as a tool: a photo or scan of a printed ECG read by the same measurement and
interpretation code as an uploaded signal (heart rate, rhythm, intervals), every number flagged with the
worse of the signal's quality and the digitization's confidence in the lead it came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from cardioagent.tools import analysis
from cardioagent.tools.analysis.peaks import beats_of, pick_beat_channel
from cardioagent.tools.analysis.results import IntervalsResult, RhythmResult
from cardioagent.tools.contract import Measurement, Quality, RecordingInput, Tool, ToolContext, ToolResult
from cardioagent.tools.errors import InputError
from cardioagent.tools.signal.digitize import (
    Digitization,
    DigitizedEcg,
    NotAnEcgPageError,
    digitize_ecg_image,
)
from cardioagent.tools.signal.digitize.export import as_recording, write_csv, write_wfdb
from cardioagent.tools.signal.digitize.timing import beat_timing_sd
from cardioagent.tools.signal.quality import QUALITY_RANK, worse
from cardioagent.tools.signal.recording import STANDARD_12_LEADS, Demographics, Recording

ACCEPTED = "a photo, scan or screenshot of a printed ECG (12-lead page or single-lead strip) on ECG paper"


class DigitizedEcgResult(ToolResult):
    recording: str
    digitization: Digitization
    leads_analysed: list[str] = Field(
        description="the full-length digitized leads the measurements come from"
    )
    heart_rate: Measurement | None = None
    rhythm: str | None = Field(default=None, description="the rhythm statement of the rhythm tool")
    rhythm_rule: str = ""
    beat_timing_sd_ms: float | None = Field(
        default=None,
        description="the digitization's timing error of one beat, from the same beats printed in other rows",
    )
    interval_leads: list[str] = Field(
        default_factory=list,
        description="the leads the intervals and statements come from: the full-length leads and each lead "
        "printed for 2.5 s of a 3 x 4 page, measured inside its window",
    )
    pr: Measurement | None = None
    qrs: Measurement | None = None
    qtc_bazett: Measurement | None = None
    qrs_axis: Measurement | None = None
    statements: list[str] = Field(
        default_factory=list, description="interpretation statements, as the text shows"
    )
    downloads: list[str] = Field(default_factory=list, description="the digitized signal as CSV and WFDB")

    def summary(self) -> str:
        d = self.digitization
        lead_q = ", ".join(f"{x.lead} {x.quality.value}" for x in d.leads if x.lead in self.leads_analysed)
        lines = [
            f"digitized from the image ({d.layout}; confidence: {lead_q or 'no full-length lead'}); "
            "measured with the same tools as a signal recording"
        ]
        for m in (self.heart_rate, self.pr, self.qrs, self.qtc_bazett, self.qrs_axis):
            if m is not None and m.value is not None:
                lines.append(f"{m.text(digits=0)} [{m.quality.value}] (digitized)")
        if self.rhythm:
            lines.append(f"rhythm: {self.rhythm} [{self.quality.value}] (digitized) — {self.rhythm_rule}")
        lines += [f"statement: {s}" for s in self.statements[:4]]
        lines += [f"note: {w}" for w in self.warnings]
        return "\n".join(lines)


def _flagged(m: Measurement | None, confidence: Quality) -> Measurement | None:
    if m is None:
        return None
    return m.model_copy(update={"quality": worse(m.quality, confidence), "name": m.name})


def _figures(dig: DigitizedEcg, stem: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    page = stem.with_name(stem.name + "-page.png")
    Image.fromarray(dig.rectified).save(page)
    strip = stem.with_name(stem.name + "-strip.png")
    keep = [i for i in range(dig.signal.shape[1]) if np.isfinite(dig.signal[:, i]).any()]
    fig, axes = plt.subplots(len(keep), 1, figsize=(12, 0.9 * len(keep) + 0.6), sharex=True, squeeze=False)
    t = np.arange(len(dig.signal)) / dig.report.sampling_rate_hz
    for ax, i in zip(axes[:, 0], keep, strict=True):
        ax.plot(t, dig.signal[:, i], lw=0.7, color="k")
        ax.set_ylabel(dig.leads[i], rotation=0, labelpad=14)
        ax.set_yticks([])
    axes[-1, 0].set_xlabel("s")
    fig.suptitle("Digitized from the image (mV, 25 mm/s reading)")
    fig.tight_layout()
    fig.savefig(strip, dpi=80)
    plt.close(fig)
    return [str(page), str(strip)]


class EcgImageDigitizeTool(Tool):
    name = "ecg_image_digitize"
    description = (
        "Digitize a photo, scan or screenshot of a printed ECG: find the page, undo the perspective, read each "
        "lead's trace in mV, then measure heart rate, rhythm and intervals with the same tools as an uploaded "
        "signal. Each number carries the digitization's confidence in the lead it came from; the digitized "
        "signal is offered as CSV and WFDB."
    )
    modalities = ("ecg_image",)
    input_model = RecordingInput
    output_model = DigitizedEcgResult
    timeout_s = 120.0
    default_for = ("ecg_image",)
    keywords = (
        r"\bdigiti[sz]\w*",
        r"\b(ECG|EKG)\s+(image|photo|picture|scan|screenshot|printout|strip|tracing)s?\b",
        r"\bheart ?rate\b",
        r"\bbpm\b",
        r"\bpulse\b",
        r"\brhythm\w*",
        r"\b(ir)?regular\w*",
        r"\bsinus\b",
        r"\bbrady\w*",
        r"\btachy\w*",
        r"\bfibrillat\w*|\ba-?fib\b|\bAF\b",
        r"\bflutter\w*",
        r"\bP[AV]Cs?\b|\bpremature\b|\bectop\w*",
        r"\bQRS\b",
        r"\bQTc?\b",
        r"\bPR\b",
        r"\binterval\w*",
        r"\b(csv|wfdb|signal) (from|of) (the|this) (image|photo|picture)\b",
    )
    examples = (
        "Digitize this ECG photo.",
        "What is the heart rate on this printout?",
        "Turn this ECG picture into a signal I can download.",
    )

    def run(self, args: RecordingInput, ctx: ToolContext) -> ToolResult:
        rec = ctx.get_recording(args.recording_id)
        if rec.image is None:
            raise InputError(rec.name, "is not an image", ACCEPTED)
        try:
            dig = digitize_ecg_image(rec.image)
        except NotAnEcgPageError as exc:
            raise InputError(rec.name, f"it could not be read as an ECG ({exc})", ACCEPTED) from exc
        warnings = list(dig.report.warnings)
        stem = ctx.artifacts_dir / f"{rec.name}-{rec.id[:8]}-digitized"
        stem.parent.mkdir(parents=True, exist_ok=True)
        downloads = [str(write_csv(dig, stem.with_suffix(".csv")))]
        downloads += [str(p) for p in write_wfdb(dig, stem.parent, stem.name)]
        try:
            figures = _figures(dig, stem)
        except Exception as exc:  # a figure is a courtesy; the measurements stand without it
            figures, warnings = [], [*warnings, f"figure not drawn: {exc}"]
        try:
            signal_rec = as_recording(dig, rec.name, rec.id)
        except ValueError as exc:
            return DigitizedEcgResult(
                quality=Quality.UNUSABLE,
                method=_METHOD,
                warnings=[*warnings, f"nothing measured: {exc}"],
                recording=rec.name,
                digitization=dig.report,
                leads_analysed=[],
                downloads=downloads,
                figures=figures,
            )
        leads = signal_rec.channel_names
        confidence = digitization_confidence(dig, leads)
        fields = _measure(signal_rec, confidence, warnings, dig, rec.id)
        return DigitizedEcgResult(
            quality=worse(fields.pop("quality"), confidence),
            method=_METHOD,
            warnings=warnings,
            recording=rec.name,
            digitization=dig.report,
            leads_analysed=leads,
            downloads=downloads,
            figures=figures,
            **fields,
        )


_METHOD = (
    "page found and rectified (homography), grid-calibrated trace following (ECGScan-style), then the "
    "heart-rate, rhythm and interval tools on the full-length digitized leads"
)


def digitization_confidence(dig: DigitizedEcg, leads: list[str]) -> Quality:
    """The worst digitization flag of the leads measured: every number from them is flagged no better."""
    return min(
        (d.quality for d in dig.report.leads if d.lead in leads),
        key=QUALITY_RANK.__getitem__,
        default=Quality.POOR,
    )


MIN_STATEMENT_LEADS = 3  # as for a global interval (``intervals._across``): three leads or more decide


def statements_withheld(intervals: IntervalsResult, confidence: Quality) -> str | None:
    """Why the interpretation statements are not shown, or None: the intervals they rest on are poor, the
    digitization of the leads measured is poor, or fewer than three leads were measured better than poor (a
    lead printed for 2.5 s holds one or two beats, and a median beat of fewer than three is flagged poor:
    on PTB-XL pages drawn and digitized, the statements made from such leads agreed with the source's in
    under half the cases, bench/ecg_render_statements.py)."""
    if QUALITY_RANK[worse(intervals.quality, confidence)] <= QUALITY_RANK[Quality.POOR]:
        return "the digitized intervals they rest on, or the digitization itself, are poor"
    better = [
        lead.lead for lead in intervals.leads if QUALITY_RANK[lead.quality] > QUALITY_RANK[Quality.POOR]
    ]
    if len(better) < MIN_STATEMENT_LEADS:
        return (
            f"only {len(better)} lead(s) measured better than poor ({', '.join(better) or 'none'}); the others "
            "are printed for 2.5 s and hold fewer than 3 beats each"
        )
    return None


def digitized_rhythm(
    dig: DigitizedEcg, signal_rec: Recording, channel: str | None = None
) -> tuple[RhythmResult, float | None]:
    """The rhythm tool on a digitized lead, told what digitization does to beat times: the beat timing
    error measured on the page (``digitize.timing``), inside which an interval difference is no evidence of
    irregularity, and intervals with room for a whole missed beat left out (a beat the trace lost is far
    likelier on a photo than a pause in a rhythm otherwise regular). Returns the result and the timing SD."""
    idx = pick_beat_channel(signal_rec, channel)
    name = signal_rec.channel_names[idx]
    beats = beats_of(signal_rec, idx)
    sd, _ = beat_timing_sd(dig.signal, dig.report.sampling_rate_hz, dig.leads.index(name), beats.peaks)
    result = analysis.rhythm(signal_rec, name, beat_timing_sd_s=sd or 0.0, missed_beats_as_gaps=True)
    lead = dig.report.lead(name)
    if (
        result.statement in ("irregular", "irregularly irregular")
        and lead is not None
        and lead.quality == Quality.POOR
        and beats.quality == Quality.POOR
    ):
        # The rhythm tool's own caveat ("missed or false beats may look like irregularity") with a trace the
        # digitization itself flags poor: irregular beats are then no evidence of an irregular rhythm.
        result = result.model_copy(
            update={
                "statement": "undetermined",
                "rule": f"{result.rule}; but the trace (digitization poor) and its beats (detection poor) "
                "are too unsure for false or lost beats to be told from an irregular rhythm",
            }
        )
    return result, sd


def digitized_intervals(
    dig: DigitizedEcg, name: str, source_id: str, demographics: Demographics | None = None
) -> tuple[IntervalsResult, list[str]]:
    """The interval tool and its statements on every lead the page prints: the full-length leads, and each
    lead printed for 2.5 s of a 3 x 4 page measured inside its window on the full-length lead's beats (the
    12 leads were recorded at once). Returns the result and the leads measured."""
    rec = as_recording(dig, name, source_id, printed_windows=True)
    if demographics is not None:
        rec.demographics = demographics
    return analysis.intervals(rec), rec.channel_names


def _measure(
    signal_rec: Recording, confidence: Quality, warnings: list[str], dig: DigitizedEcg, source_id: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"quality": Quality.UNUSABLE}
    try:
        hr = analysis.heart_rate(signal_rec)
        out["heart_rate"] = _flagged(hr.heart_rate, confidence)
        out["quality"] = hr.quality
    except Exception as exc:  # each measurement stands or falls alone
        warnings.append(f"heart rate not measured on the digitized signal: {exc}")
    try:
        rh, sd = digitized_rhythm(dig, signal_rec)
        out["rhythm"], out["rhythm_rule"] = str(rh.statement), rh.rule
        out["beat_timing_sd_ms"] = None if sd is None else round(sd * 1000.0, 1)
    except Exception as exc:
        warnings.append(f"rhythm not judged on the digitized signal: {exc}")
    try:
        iv, measured = digitized_intervals(dig, signal_rec.name, source_id, signal_rec.demographics)
        confidence = digitization_confidence(dig, measured)  # the full-length leads are among them
        why = statements_withheld(iv, confidence)
        if why:  # the global QRS and the axis rest on the same leads as the statements
            confidence = worse(confidence, Quality.POOR)
        out.update(
            interval_leads=measured,
            pr=_flagged(iv.pr, confidence),
            qrs=_flagged(iv.qrs_global or iv.qrs, confidence),
            qtc_bazett=_flagged(iv.qtc_bazett, confidence),
            qrs_axis=_flagged(iv.qrs_axis, confidence),
            # only those found present: one found absent may rest on a lead the page did not print
            statements=[s.text() for s in iv.statements if s.verdict == "present"],
        )
        if why and out["statements"]:
            warnings.append(f"interpretation statements withheld: {why}")
            out["statements"] = []
        missing = [lead for lead in STANDARD_12_LEADS if lead not in measured]
        if len(missing) > len(measured):
            warnings.append(
                f"interpretation statements from the digitized leads {', '.join(measured)} only: those found "
                "absent there are not reported"
            )
        elif missing:
            warnings.append(
                f"not printed long enough to measure: {', '.join(missing)}; statements that rest on these "
                "leads and were found absent are not reported"
            )
    except Exception as exc:
        warnings.append(f"intervals not measured on the digitized signal: {exc}")
    return out
