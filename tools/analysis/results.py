"""Typed results of the classical analyses. Every number is a ``Measurement`` (value, unit, uncertainty,
quality, channel); every result says how it was obtained (``method``) and how far to trust it
(``quality``). ``summary()`` gives the few lines a person reads; the full model stays in the trace."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from cardioagent.tools.contract import Measurement, Quality, ToolResult
from cardioagent.tools.signal.noise import NoiseKind


def _line(m: Measurement | None, digits: int = 0) -> str:
    if m is None:
        return ""
    note = "" if m.value is None or m.quality == Quality.GOOD else f" ({m.quality.value} quality)"
    return m.text(digits) + note


# ---------------------------------------------------------------------------------------------- quality


NOISE_LABELS = {
    "baseline_drift": "baseline drift",
    "static_noise": "static noise",
    "burst_noise": "burst noise",
    "electrodes_problems": "electrode problems",
}


class NoiseFinding(BaseModel):
    """One PTB-XL noise kind on one ECG lead (the kinds ECG-QA asks about)."""

    kind: NoiseKind
    present: bool | None = Field(description="probability >= the kind's threshold; None = undetermined")
    probability: float | None = Field(
        default=None, description="0-1; None when the lead could not be measured"
    )
    evidence: str = Field(
        default="", description="the measurement behind it, e.g. 'baseline excursion 0.62 mV'"
    )


class ChannelQuality(BaseModel):
    channel: str
    kind: str
    quality: Quality
    reason: str
    indices: list[Measurement] = Field(default_factory=list, description="the SQI numbers behind the flag")
    noise: list[NoiseFinding] = Field(
        default_factory=list,
        description="ECG channels only: baseline drift, static noise, burst noise, electrode problems",
    )


class QualityReport(ToolResult):
    recording: str
    channels: list[ChannelQuality]
    overall: Quality = Field(description="quality of the best channel usable for heart rate (ECG, else PPG)")
    best_channel: str | None = None
    usable_channels: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        # Per-channel reasons stay in the result (and the trace); the summary groups channels by flag.
        lines = [
            f"overall {self.overall.value}"
            + (f"; best channel {self.best_channel}" if self.best_channel else "")
        ]
        for flag in Quality:
            names = [c.channel for c in self.channels if c.quality == flag]
            if names:
                lines.append(f"{flag.value}: {', '.join(names)}")
        noisy = []
        for kind, label in NOISE_LABELS.items():
            names = [c.channel for c in self.channels for n in c.noise if n.kind == kind and n.present]
            if names:
                noisy.append(f"{label}: {', '.join(names)}")
        if noisy:
            lines.append("noise — " + "; ".join(noisy))
        lines += [f"note: {w}" for w in self.warnings]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ peaks


class DetectorAgreement(BaseModel):
    detector: str
    f1_vs_final: float = Field(
        description="F1 (150 ms tolerance) of this detector's peaks against the final peaks"
    )


class PeaksResult(ToolResult):
    recording: str
    channel: str
    kind: Literal["ecg", "ppg"]
    sampling_rate_hz: float
    samples: list[int] = Field(description="peak positions, sample indices")
    times_s: list[float]
    n_peaks: int
    detector: str = Field(description="the detector whose peaks were used, or 'consensus'")
    reason: str = Field(description="why this detector / channel was chosen")
    agreement: list[DetectorAgreement] = Field(default_factory=list)
    repairs: list[str] = Field(default_factory=list, description="beats removed or recovered by rhythm rules")
    evidence: dict[str, float] = Field(
        default_factory=dict,
        description="ECG: what the quality flag rests on (rate_agreement: share of detectors reaching the rate on "
        "their own; template_corr; mean_votes; thin_beats; n_repairs; n_gaps)",
    )

    def summary(self) -> str:
        return (
            f"{self.n_peaks} {'R' if self.kind == 'ecg' else 'systolic'} peaks on {self.channel} "
            f"({self.detector}; {self.quality.value} quality): {self.reason}"
        )


# ------------------------------------------------------------------------------------------- heart rate


class HrWindow(BaseModel):
    start_s: float
    end_s: float
    bpm: Measurement


class HeartRateResult(ToolResult):
    recording: str
    heart_rate: Measurement
    channels_used: list[str]
    per_channel: list[Measurement] = Field(default_factory=list, description="one estimate per channel tried")
    windows: list[HrWindow] = Field(default_factory=list, description="per-window trace")
    window_s: float
    step_s: float
    n_beats: int = 0
    reason: str = Field(default="", description="why no number was given, or how channels were combined")

    def summary(self) -> str:
        lines = [_line(self.heart_rate)]
        if self.heart_rate.value is None and self.reason:
            lines.append(self.reason)
        lines.append(f"from {', '.join(self.channels_used) or 'no channel'}; {self.method}")
        vals = [w.bpm.value for w in self.windows if w.bpm.value is not None]
        if len(vals) > 1:
            lines.append(
                f"{len(self.windows)} windows of {self.window_s:g} s: {min(vals):.0f}-{max(vals):.0f} bpm"
            )
        lines += [f"note: {w}" for w in self.warnings]
        return "\n".join(lines)


# -------------------------------------------------------------------------------------------------- HRV


class HrvResult(ToolResult):
    recording: str
    channel: str | None
    duration_s: float
    n_beats: int
    n_nn: int = Field(description="intervals kept as normal-to-normal")
    mean_nn: Measurement
    sdnn: Measurement
    rmssd: Measurement
    pnn50: Measurement
    frequency_domain_available: bool
    frequency_domain_note: str
    lf: Measurement | None = None
    hf: Measurement | None = None
    lf_hf: Measurement | None = None

    def summary(self) -> str:
        lines = [_line(m) for m in (self.mean_nn, self.sdnn, self.rmssd, self.pnn50)]
        if self.frequency_domain_available:
            lines += [
                _line(m, 2 if m is self.lf_hf else 0) for m in (self.lf, self.hf, self.lf_hf) if m is not None
            ]
        lines.append(self.frequency_domain_note)
        lines += [f"note: {w}" for w in self.warnings]
        return "\n".join(x for x in lines if x)


# ---------------------------------------------------------------------------------------------- intervals


class LeadQrsShape(BaseModel):
    """The waves of one lead inside the global QRS window (``tools.signal.qrs_morphology``); amplitudes in
    the signal's unit (mV) from the isoelectric level, durations in ms."""

    pattern: str = Field(
        description="wave sequence, e.g. rsR', qR, rS, QS (capital: >= half the largest wave)"
    )
    q_amplitude: float | None = None
    r_amplitude: float | None = None
    s_amplitude: float | None = None
    r_prime_amplitude: float | None = None
    q_ms: float | None = None
    r_ms: float | None = None
    s_ms: float | None = None
    r_prime_ms: float | None = None
    r_peak_time_ms: float | None = Field(
        default=None, description="global QRS onset to the peak of the last R wave"
    )
    terminal_s_ms: float = Field(
        default=0.0, description="duration of the last negative wave after an R wave"
    )
    notched_r: bool = False
    net_area: float = Field(default=0.0, description="net QRS area, mV x ms, over the global QRS window")
    max_amplitude: float | None = Field(
        default=None, description="largest positive deflection in the global QRS window, mV"
    )
    min_amplitude: float | None = Field(
        default=None, description="largest negative deflection in the global QRS window, mV (<= 0)"
    )


class LeadStT(BaseModel):
    """ST levels and T-wave amplitude of one lead's median beat, mV from the isoelectric (PR) level; the J
    point is the global QRS offset."""

    st_j: float
    st_60: float = Field(description="ST level 60 ms after the J point")
    st_80: float = Field(description="ST level 80 ms after the J point")
    t_amplitude: float = Field(description="signed largest deviation of the T wave")


Verdict = Literal["present", "absent", "undetermined"]
RhythmStatement = Literal["regular", "irregular", "irregularly irregular", "undetermined"]


class InterpretationStatement(BaseModel):
    """One interpretation statement of the 12-lead ECG, decided by published criteria."""

    id: str = Field(description="vocabulary id (tools.vocabulary), e.g. complete_right_bundle_branch_block")
    name: str = ""
    verdict: Verdict
    probability: float | None = Field(
        default=None,
        description="criteria score 0-1 (soft thresholds around the published limits; not calibrated)",
    )
    criteria: list[str] = Field(
        default_factory=list, description="the published criteria with their thresholds"
    )
    evidence: list[str] = Field(default_factory=list, description="what was measured, per lead")
    source: str = ""

    def text(self) -> str:
        p = "" if self.probability is None else f" (score {self.probability:.2f})"
        ev = f": {'; '.join(self.evidence[:4])}" if self.evidence else ""
        return f"{self.name or self.id.replace('_', ' ')}: {self.verdict}{p}{ev}"


class LeadIntervals(BaseModel):
    lead: str
    quality: Quality
    reason: str
    n_beats: int = 0
    pr: Measurement
    qrs: Measurement
    qt: Measurement
    qtc_bazett: Measurement
    qtc_fridericia: Measurement
    p_wave_present: bool | None = None
    p_duration: Measurement | None = None
    qrs_shape: LeadQrsShape | None = Field(default=None, description="waves inside the global QRS window")
    st_t: LeadStT | None = Field(default=None, description="ST levels and T amplitude")


class IntervalsResult(ToolResult):
    recording: str
    rr: Measurement = Field(description="median RR of the beats used, the basis of QTc")
    heart_rate: Measurement
    leads: list[LeadIntervals]
    pr: Measurement = Field(description="median across leads")
    qrs: Measurement
    qt: Measurement
    qtc_bazett: Measurement
    qtc_fridericia: Measurement
    p_duration: Measurement | None = Field(default=None, description="P-wave duration, median across leads")
    fiducial_channel: str = Field(description="lead whose R-peaks aligned the beats of every lead")
    qrs_global: Measurement | None = Field(
        default=None,
        description="global QRS duration: earliest onset to latest offset across leads (outlier-guarded)",
    )
    qrs_axis: Measurement | None = Field(
        default=None, description="frontal QRS axis from the net QRS areas of I and aVF, atan2(2·aVF/√3, I)"
    )
    statements: list[InterpretationStatement] = Field(
        default_factory=list,
        description="interpretation statements (conduction, axis) with criteria and evidence",
    )

    def summary(self) -> str:
        # What a reader needs first (the answer shows the first lines): the statements, then the whole-ECG
        # QRS and axis, then the per-lead medians.
        n = sum(1 for lead in self.leads if lead.quality != Quality.UNUSABLE)
        present = [s for s in self.statements if s.verdict == "present"]
        # a generic statement ("bundle branch block") a more specific present one implies is not repeated
        shown = [s for s in present if not any(o.id != s.id and o.id.endswith(s.id) for o in present)]
        lines = [
            f"{n} lead{'' if n == 1 else 's'} measured"
            + (": " + "; ".join(s.text() for s in shown) if shown else "")
        ]
        lines += [_line(m) for m in (self.qrs_global, self.qrs_axis) if m is not None]
        lines += [
            _line(m)
            for m in (self.pr, self.qrs, self.qt, self.qtc_bazett, self.qtc_fridericia, self.p_duration)
            if m is not None
        ]
        bad = [lead.lead for lead in self.leads if lead.quality == Quality.UNUSABLE]
        if bad:
            lines.append(f"not measured in: {', '.join(bad)}")
        lines += [f"note: {w}" for w in self.warnings]
        return "\n".join(x for x in lines if x)


# ------------------------------------------------------------------------------------------------ rhythm


class RhythmResult(ToolResult):
    recording: str
    channel: str | None
    n_beats: int
    heart_rate: Measurement
    rr_cv: Measurement
    rmssd: Measurement
    successive_irregularity: Measurement = Field(
        description="share of successive RR differences larger than 10% of the median RR"
    )
    normalized_rmssd: Measurement = Field(description="RMSSD divided by mean RR")
    premature_fraction: Measurement
    p_wave_presence: Measurement | None = None
    rr_range: Measurement | None = Field(
        default=None, description="longest minus shortest RR interval, ms (the sinus arrhythmia criterion)"
    )
    statement: RhythmStatement
    rule: str = Field(description="the rule that produced the statement, with the numbers it compared")

    def summary(self) -> str:
        lines = [f"rhythm: {self.statement} — {self.rule}"]
        lines += [_line(m, 2) for m in (self.rr_cv, self.successive_irregularity, self.premature_fraction)]
        lines.append(_line(self.rmssd))
        if self.p_wave_presence is not None:
            lines.append(_line(self.p_wave_presence, 2))
        lines += [f"note: {w}" for w in self.warnings]
        return "\n".join(x for x in lines if x)
