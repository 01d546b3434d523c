"""The ``hrv_stress_index`` tool: Baevsky's stress index of an ECG, PPG or mixed recording.

It uses only cardioagent's public API: the tool contract (``cardioagent.tools.contract``), the typed errors
(``cardioagent.tools.errors``) and the analysis functions (``cardioagent.tools.analysis.detect_peaks``), so
that it keeps working when the project's internals move.
"""

from __future__ import annotations

import numpy as np

from cardioagent.tools.analysis import detect_peaks
from cardioagent.tools.contract import Measurement, Quality, RecordingInput, Tool, ToolContext, ToolResult
from cardioagent.tools.errors import InputError
from cardioagent_hrv_stress.baevsky import baevsky_index, central_range_s, clean_rr

MIN_INTERVALS = 10  # below this the histogram has no mode worth the name: no number is given
FEW_INTERVALS = 30  # below this the number is given but flagged poor
# The index's published values come from 5-minute recordings at rest; a 5-minute file yields a little less
# than 300 s of intervals (the first beat comes after the start), hence 285.
REFERENCE_DURATION_S = 285.0
MAX_REJECTED_FRACTION = 0.20  # more rejected intervals than this: the rhythm or the peaks are not clean
# MxDMn more than twice the range of the central 98 % of intervals: a few extremes (artefacts the cleaning
# missed, or rare real events) set the index, so it is not to be trusted on its own.
MAX_RANGE_RATIO = 2.0
MIN_INTERVALS_FOR_RANGE_CHECK = 100  # with fewer, the 1st and 99th percentiles are the extremes themselves

_ORDER = [Quality.GOOD, Quality.ACCEPTABLE, Quality.POOR, Quality.UNUSABLE]


def _worst(*qualities: Quality) -> Quality:
    return max(qualities, key=_ORDER.index)


class StressIndexResult(ToolResult):
    stress_index: Measurement
    amplitude_mode: Measurement | None = None
    mode: Measurement | None = None
    variation_range: Measurement | None = None
    channel: str | None = None
    beats_detected: int = 0
    intervals_used: int = 0
    intervals_rejected: int = 0

    def summary(self) -> str:
        si = self.stress_index
        if si.value is None:
            head = f"Baevsky stress index: not estimated ({self.quality.value})"
        else:
            quality = "" if self.quality == Quality.GOOD else f", {self.quality.value} quality"
            head = (
                f"Baevsky stress index: {si.value:.0f} (conventional units{quality}) "
                f"from {self.intervals_used} RR intervals on {self.channel}"
            )
        lines = [head]
        if self.amplitude_mode and self.mode and self.variation_range:
            lines.append(
                f"AMo {self.amplitude_mode.value:.0f} %, Mo {self.mode.value:.3f} s, "
                f"MxDMn {self.variation_range.value:.3f} s; a higher index means less beat-to-beat variation"
            )
        lines += [f"note: {w}" for w in self.warnings]
        return "\n".join(lines)


class HrvStressIndexTool(Tool):
    name = "hrv_stress_index"
    description = (
        "Baevsky's stress index (SI = AMo / (2 Mo MxDMn)) from the histogram of beat-to-beat (RR) intervals of "
        "an ECG or PPG recording: a single number that rises as heart rate variability narrows. Reports the "
        "index, its three components, the beats used and a quality flag."
    )
    modalities = ("ecg", "ppg", "mixed")
    input_model = RecordingInput
    output_model = StressIndexResult
    timeout_s = 30.0
    keywords = (
        r"\bstress(ed|ful)?\b(?!\s+(test|echo))",  # not an exercise or pharmacological stress test
        r"\bbaevsky\b",
        r"\bstress index\b",
        r"\btension index\b",  # the name of the same index in older translations
        r"\bsympathetic (tone|activity|activation)\b",
    )
    examples = (
        "What is my stress index?",
        "Compute Baevsky's stress index from this recording.",
        "Does my heart rate variability show stress?",
        "How tense is my autonomic nervous system in this recording?",
    )

    def run(self, args: RecordingInput, ctx: ToolContext) -> StressIndexResult:
        rec = ctx.get_recording(args.recording_id)
        if rec.signal is None or not rec.sampling_rate_hz:
            raise InputError(
                rec.name,
                "it is an ECG image, not a sampled signal: beat intervals cannot be measured",
                "an ECG or PPG recording (WFDB, EDF, CSV or NumPy)",
            )
        peaks = detect_peaks(rec, channel=args.channel)
        samples = np.asarray(peaks.samples, dtype=float)
        warnings = list(peaks.warnings)
        method = (
            f"Baevsky SI = AMo/(2·Mo·MxDMn) on a 50-ms RR histogram of NN intervals "
            f"({peaks.method}) — Baevsky & Chernikova 2017, Cardiometry 10"
        )

        def unusable(reason: str) -> StressIndexResult:
            return StressIndexResult(
                quality=Quality.UNUSABLE,
                method=method,
                warnings=[*warnings, reason],
                channel=peaks.channel,
                stress_index=Measurement(
                    name="stress index", value=None, channel=peaks.channel, quality=Quality.UNUSABLE
                ),
                beats_detected=int(samples.size),
                intervals_used=0,
                intervals_rejected=max(0, int(samples.size) - 1),
            )

        if peaks.quality == Quality.UNUSABLE:
            return unusable(f"the peaks on {peaks.channel} are unusable")
        if samples.size < MIN_INTERVALS + 1:
            return unusable(
                f"only {samples.size} beats were detected; at least {MIN_INTERVALS + 1} are needed"
            )
        nn, rejected = clean_rr(np.diff(samples) / peaks.sampling_rate_hz)
        if nn.size < MIN_INTERVALS:
            return unusable(
                f"only {nn.size} of {samples.size - 1} intervals look normal-to-normal; "
                f"at least {MIN_INTERVALS} are needed"
            )
        try:
            si = baevsky_index(nn)
        except ValueError as exc:
            return unusable(str(exc))

        quality = _worst(Quality.GOOD, peaks.quality)
        if nn.size < FEW_INTERVALS:
            quality = _worst(quality, Quality.POOR)
            warnings.append(f"only {nn.size} intervals: the histogram is too sparse for a reliable mode")
        if rejected:
            share = rejected / (nn.size + rejected)
            if share > MAX_REJECTED_FRACTION:
                quality = _worst(quality, Quality.POOR)
            warnings.append(
                f"{rejected} of {nn.size + rejected} intervals ({share:.0%}) were left out as "
                "ectopic beats or detection artefacts"
            )
        if nn.size >= MIN_INTERVALS_FOR_RANGE_CHECK:
            central = central_range_s(nn)
            if si.variation_range_s > MAX_RANGE_RATIO * central:
                quality = _worst(quality, Quality.POOR)
                warnings.append(
                    f"the variation range (MxDMn {si.variation_range_s:.3f} s) is set by a few extreme "
                    f"intervals (central 98 %: {central:.3f} s); the index depends on them"
                )
        if nn.sum() < REFERENCE_DURATION_S:
            quality = _worst(quality, Quality.ACCEPTABLE)
            warnings.append(
                f"{nn.sum():.0f} s of intervals: published values of the index come from "
                "5-minute recordings at rest, so compare with care"
            )

        def m(name: str, value: float, unit: str) -> Measurement:
            return Measurement(
                name=name, value=round(value, 4), unit=unit, channel=peaks.channel, quality=quality
            )

        return StressIndexResult(
            quality=quality,
            method=method,
            warnings=warnings,
            channel=peaks.channel,
            stress_index=m("stress index", round(si.stress_index, 1), ""),
            amplitude_mode=m("amplitude of the mode (AMo)", si.amplitude_mode_pct, "%"),
            mode=m("mode of RR intervals (Mo)", si.mode_s, "s"),
            variation_range=m("RR variation range (MxDMn)", si.variation_range_s, "s"),
            beats_detected=int(samples.size),
            intervals_used=int(nn.size),
            intervals_rejected=rejected,
        )
