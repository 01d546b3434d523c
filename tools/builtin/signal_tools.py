"""Built-in signal tools. Each is a thin wrapper over one analysis function, plus the keywords and example
requests the deterministic planner matches questions against."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from cardioagent.tools import analysis
from cardioagent.tools.contract import Measurement, Quality, RecordingInput, Tool, ToolContext, ToolResult
from cardioagent.tools.signal.recording import Modality, Recording

SIGNALS = ("ecg", "ppg", "mixed")


def _recording(args: RecordingInput, ctx: ToolContext) -> Recording:
    return ctx.get_recording(args.recording_id)


class RecordingInfo(ToolResult):
    name: str
    modality: str
    channels: list[str]
    sampling_rate: Measurement | None = None
    duration: Measurement | None = None
    age: Measurement | None = None
    sex: str | None = None

    def summary(self) -> str:
        parts = [
            f"{self.name}: {self.modality.upper()}, {len(self.channels)} channel(s) ({', '.join(self.channels[:12])})"
        ]
        if self.duration and self.sampling_rate:
            parts.append(f"{self.duration.value:.1f} s at {self.sampling_rate.value:g} Hz")
        if self.age is not None:
            parts.append(f"age {self.age.value:g} years (from the file header)")
        if self.sex:
            parts.append(f"sex {self.sex} (from the file header)")
        return "; ".join(parts)


class RecordingSummaryTool(Tool):
    name = "recording_summary"
    description = (
        "Describe an uploaded recording: modality, leads or channels, sampling rate, duration, and the age and "
        "sex stated in its header. Diagnoses written in headers are deliberately not shown: they are labels, "
        "not measurements."
    )
    modalities = (*SIGNALS, "ecg_image")
    output_model = RecordingInfo
    keywords = (
        r"\bhow old\b",
        r"\bage\b",
        r"\bsex\b",
        r"\bgender\b",
        r"\b(male|female|man|woman)\b",
        r"\bsampl\w* (rate|frequency)\b",
        r"\bhow long\b",
        r"\bduration of the (recording|file|record)\b",
        r"\b(which|what|how many) (leads|channels) (does|do|are there|is there|are in|in)\b",
    )
    examples = (
        "How old is the patient in this recording?",
        "What leads does this file contain?",
        "How long is the recording and at what sampling rate?",
    )

    def run(self, args: RecordingInput, ctx: ToolContext) -> RecordingInfo:
        rec = _recording(args, ctx)
        info = RecordingInfo(
            quality=Quality.GOOD,
            method="read from the file header by the loader",
            name=rec.name,
            modality=rec.modality.value,
            channels=rec.channel_names,
            sex=rec.demographics.sex,
        )
        if rec.sampling_rate_hz:
            info.sampling_rate = Measurement(name="sampling rate", value=rec.sampling_rate_hz, unit="Hz")
            info.duration = Measurement(name="duration", value=round(rec.duration_s or 0, 2), unit="s")
        if rec.demographics.age is not None:
            info.age = Measurement(name="age", value=rec.demographics.age, unit="years")
        return info


class _AnalysisTool(Tool):
    """A tool that calls ``analysis.<function>(recording, channel=...)``."""

    function: ClassVar[str]
    takes_channel: ClassVar[bool] = True

    def run(self, args: RecordingInput, ctx: ToolContext) -> ToolResult:
        rec = _recording(args, ctx)
        fn = getattr(analysis, self.function)
        return fn(rec, channel=args.channel) if self.takes_channel and args.channel else fn(rec)


class SignalQualityTool(_AnalysisTool):
    name = "signal_quality"
    description = (
        "Assess the quality of every channel (noise, flat segments, clipping, artefacts) "
        "and say which channels are usable."
    )
    modalities = SIGNALS
    output_model = analysis.QualityReport
    function = "assess_quality"
    takes_channel = False
    prerequisite_for = SIGNALS
    keywords = (
        r"\bquality\b",
        r"\bnois[ey]\w*",
        r"\bgood enough\b",
        r"\b(analy[sz]able|readable|interpretable)\b",
        r"\bartefact\w*|\bartifact\w*",
        r"\busable\b",
        r"\bclean\b",
        r"\binterference\b",
        r"\bbaseline wander\b",
    )
    examples = ("Is this recording good enough to analyse?", "How noisy is this signal?")


class HeartRateTool(_AnalysisTool):
    name = "heart_rate"
    description = (
        "Measure the heart rate (bpm) from ECG R-peaks or PPG pulse peaks, with an uncertainty, a per-window trend "
        "and a figure of the signal with the detected peaks."
    )
    modalities = SIGNALS
    output_model = analysis.HeartRateResult
    function = "heart_rate"
    default_for = SIGNALS
    keywords = (
        r"\bheart ?rate\b",
        r"\bpulse( rate)?\b",
        r"\bbpm\b",
        r"\bbeats? (per|a) minute\b",
        r"\bhow fast\b",
        r"\bhow slow\b",
        r"\bHR\b",
        r"\btachycardi\w*",
        r"\bbradycardi\w*",
        r"\b(too|very) (fast|slow)\b",
        r"\bheart ?beat (speed|rate)\b",
        r"\bracing\b",
        r"\brate\b",
    )
    examples = ("What is the heart rate?", "How many beats per minute?", "Is my pulse too fast?")

    def run(self, args: RecordingInput, ctx: ToolContext) -> ToolResult:
        result = super().run(args, ctx)
        try:
            result.figures.append(str(_peaks_figure(_recording(args, ctx), ctx, args.channel)))
        except Exception as exc:  # a figure is a courtesy; the measurement stands without it
            result.warnings.append(f"figure not drawn: {exc}")
        return result


class RhythmTool(_AnalysisTool):
    name = "rhythm_analysis"
    description = (
        "Judge whether the rhythm is regular, irregular or irregularly irregular from beat-to-beat intervals, "
        "and count premature beats."
    )
    modalities = SIGNALS
    output_model = analysis.RhythmResult
    function = "rhythm"
    default_for = SIGNALS
    keywords = (
        r"\brhythm\w*",
        r"\bregular\w*",
        r"\birregular\w*",
        r"\barrhythmi\w*",
        r"\ba-?fib\b",
        r"\bAF\b",
        r"\batrial fibrillation\b",
        r"\bskip\w* beats?\b",
        r"\bextra beats?\b",
        r"\bectop\w*",
        r"\bpalpitation\w*",
        r"\bP[AV]Cs?\b",
        r"\bpremature\b",
        r"\bsinus\b",
        r"\bmissed beats?\b",
        r"\bflutter\w*",
        r"\b(pulse|heart ?beat|heart ?rate|rhythm)\s+(is\s+|was\s+|feels\s+)?(ir)?regular\w*",
        r"\b(ir)?regular\w*\s+(pulse|heart ?beat|heart ?rate)",
    )
    examples = (
        "Is the rhythm regular?",
        "Are there any skipped or extra beats?",
        "Could this be atrial fibrillation?",
    )


class HrvTool(_AnalysisTool):
    name = "hrv_analysis"
    description = (
        "Heart rate variability: time domain (mean NN, SDNN, RMSSD, pNN50) and, "
        "when the recording is long enough, frequency domain (LF, HF, LF/HF)."
    )
    modalities = SIGNALS
    output_model = analysis.HrvResult
    function = "hrv"
    keywords = (
        r"\bHRV\b",
        r"\bheart ?rate variability\b",
        r"\bvariability\b",
        r"\bSDNN\b",
        r"\bRMSSD\b",
        r"\bpNN ?50\b",
        r"\bLF ?/ ?HF\b",
        r"\b(LF|HF) power\b",
        r"\bvariab\w*",
        r"\bbeat[- ]to[- ]beat (intervals?|variation|variability|differences?)\b",
    )
    examples = ("What is my heart rate variability?", "Compute SDNN and RMSSD.")


class EcgIntervalsTool(_AnalysisTool):
    name = "ecg_intervals"
    description = (
        "Delineate ECG waves and measure PR, QRS, QT and QTc (Bazett and Fridericia) "
        "per lead and as a median across leads."
    )
    modalities = ("ecg", "mixed")
    output_model = analysis.IntervalsResult
    function = "intervals"
    takes_channel = False
    default_for = ("ecg",)
    keywords = (
        r"\bintervals?\b",
        r"\bQTc?\b",
        r"\bPR\b",
        r"\bQRS\b",
        r"\bdelineat\w*",
        r"\bP[- ]waves?\b",
        r"\bT[- ]waves?\b",
        r"\b(bundle branch|av) block\b",
        r"\bconduction\b",
        r"\bwide complex\b",
    )
    examples = ("How long is the QT interval?", "Measure PR and QRS duration.", "Is the QTc prolonged?")


class RenderInput(BaseModel):
    recording_id: str = Field(description="id of an uploaded recording in the session store")


class RenderedFigure(ToolResult):
    leads_drawn: list[str] = []
    leads_missing: list[str] = []

    def summary(self) -> str:
        missing = (
            f"; missing leads drawn empty: {', '.join(self.leads_missing)}" if self.leads_missing else ""
        )
        return f"paper-style ECG drawn (25 mm/s, 10 mm/mV) with leads {', '.join(self.leads_drawn)}{missing}"


class RenderEcgTool(Tool):
    name = "render_ecg_paper"
    description = (
        "Draw the recording as a standard paper ECG (3x4 leads plus a lead II rhythm strip, "
        "25 mm/s, 10 mm/mV, grid, calibration pulse)."
    )
    modalities = ("ecg", "mixed")
    input_model = RenderInput
    output_model = RenderedFigure
    keywords = (
        # an imperative ("show me", "can you plot"), not the verb of a question ("does this ECG show noise?")
        r"(?:^|[.?!,;:]\s*|\b(?:please|can you|could you|would you|you|to|and|then)\s+)"
        r"(show|draw|plot|render|display|print|visuali[sz]e)\b(?:\s+\w+){0,3}?\s+"
        r"(ecg|ekg|tracing|trace|recording|signal|leads?|strip|printout|layout|paper|it)\b",
        r"\becg paper\b",
        r"\bprintout\b",
        r"\b(picture|image|figure|graph|chart) of (the|this|my) (ecg|ekg|recording|tracing)\b",
    )
    examples = ("Draw the 12-lead tracing on ECG paper.", "Render a printout of all twelve leads.")

    def run(self, args: RenderInput, ctx: ToolContext) -> RenderedFigure:
        from cardioagent.tools.signal.render import plot_recording, render_12lead

        rec = ctx.get_recording(args.recording_id)
        out = ctx.artifacts_dir / f"{rec.name}-{rec.id[:8]}-paper.png"
        if rec.modality == Modality.ECG and len(rec.channels) >= 3:
            drawn = render_12lead(rec, out)
            return RenderedFigure(
                quality=Quality.GOOD,
                method="12-lead paper layout renderer",
                figures=[str(out)],
                leads_drawn=list(drawn.leads_drawn),
                leads_missing=list(drawn.leads_missing),
            )
        plot_recording(rec, out)
        return RenderedFigure(
            quality=Quality.GOOD,
            method="signal plot (fewer than 3 ECG leads)",
            figures=[str(out)],
            leads_drawn=rec.channel_names,
        )


def _peaks_figure(rec: Recording, ctx: ToolContext, channel: str | None):
    from cardioagent.tools.signal.render import plot_recording

    peaks = analysis.detect_peaks(rec, channel=channel)
    out = ctx.artifacts_dir / f"{rec.name}-{rec.id[:8]}-peaks.png"
    shown = [peaks.channel] + [c for c in rec.channel_names if c != peaks.channel][:2]
    plot_recording(
        rec,
        out,
        peaks={peaks.channel: peaks.samples},
        channels=shown,
        title=f"{rec.name}: detected peaks on {peaks.channel}",
    )
    return out
