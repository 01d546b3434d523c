"""The ``sleep_stages`` tool: a wearable night (heart rate + wrist motion) -> 30-s stages, sleep figures and a
hypnogram. Numbers only from the shipped model; every one is a ``Measurement`` with its quality."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from cardioagent.tools.contract import Measurement, Quality, RecordingInput, Tool, ToolContext, ToolResult
from cardioagent.tools.errors import TooShortError
from cardioagent_sleep.errors import DaytimeRecordingError, GapError, NotANightError
from cardioagent_sleep.model import WEIGHTS, load_weights
from cardioagent_sleep.recording_series import ACCEPTED, series_of
from cardioagent_sleep.staging import NightProblem, Staged, night_from_series, sleep_figures, stage_features

Stage = Literal["wake", "n1", "n2", "n3", "rem"]
CITATION = (
    "Walch et al., SLEEP 2019, doi:10.1093/sleep/zsz180; data PhysioNet sleep-accel, "
    "doi:10.13026/hmhs-py35, ODC-By 1.0"
)
# Display names, units and the key of sleep_figures; the vocabulary reads the quantity from the name.
FIGURES = [
    ("total_sleep_time", "total sleep time", "min", "total_sleep_time_min"),
    ("time_in_bed", "time in bed", "min", "time_in_bed_min"),
    ("sleep_efficiency", "sleep efficiency", "%", "sleep_efficiency_pct"),
    ("sleep_onset_latency", "sleep onset latency", "min", "sleep_onset_latency_min"),
    ("wake_after_sleep_onset", "wake after sleep onset", "min", "waso_min"),
]
PERCENTS = [
    ("n1", "N1 % of sleep", "n1_pct_of_sleep"),
    ("n2", "N2 % of sleep", "n2_pct_of_sleep"),
    ("n3", "N3 % of sleep", "n3_pct_of_sleep"),
    ("rem", "REM % of sleep", "rem_pct_of_sleep"),
    ("wake", "wake % of time in bed", "wake_pct_of_bed"),
]


class SleepStagesResult(ToolResult):
    epoch_s: float = 30.0
    epochs: int
    start_s: float = Field(description="start of the first epoch on the recording's clock, in seconds")
    stages: list[Stage] = Field(description="one label per 30-s epoch (the model's five-class arg-max)")
    stages_wake_nrem_rem: list[Literal["wake", "nrem", "rem"]]
    stages_wake_light_deep_rem: list[Literal["wake", "light", "deep", "rem"]]
    stages_sleep_wake: list[Literal["sleep", "wake"]]
    probabilities: list[list[float]] = Field(description="per epoch P(wake, n1, n2, n3, rem)")
    total_sleep_time: Measurement
    time_in_bed: Measurement
    sleep_efficiency: Measurement
    sleep_onset_latency: Measurement
    wake_after_sleep_onset: Measurement
    stage_percentages: dict[str, Measurement]
    motion_source: str

    def summary(self) -> str:
        lines = [f"{self.epochs} epochs of 30 s staged ({self.motion_source})"]
        for key, *_ in FIGURES:
            m = getattr(self, key)
            lines.append(m.text(digits=0 if m.unit == "min" else 1))
        lines.append("stages: " + ", ".join(m.text(digits=1) for m in self.stage_percentages.values()))
        lines += [f"note: {w}" for w in self.warnings]
        return "\n".join(lines)


def _uncertainty(metric: str) -> float | None:
    """Mean absolute error of this figure per night in leave-subject-out cross-validation (weights metadata)."""
    try:
        mae = load_weights().metadata.get("cross_validation", {}).get("night_figures_mae", {})
    except Exception:
        return None
    v = mae.get(metric)
    return None if v is None else round(float(v), 1)


def build_result(
    staged: Staged, quality: Quality, motion_source: str, warnings: list[str]
) -> SleepStagesResult:
    figs = sleep_figures(staged.stages)
    w = load_weights()
    cv = w.metadata.get("cross_validation", {}).get("pooled", {})
    three = cv.get("three", {})
    method = (
        f"sleep stages per 30-s epoch from wrist motion and heart rate: features of Walch et al. 2019 "
        f"(activity counts, DoG-filtered heart rate, clock proxy), {w.metadata.get('model', 'model')} "
        f"trained on 21 Apple Watch nights ({CITATION})"
    )
    if three:
        method += (
            f"; leave-subject-out wake/NREM/REM accuracy {three['accuracy']:.2f}, kappa "
            f"{three['kappa']:.2f}; ± on night figures = their cross-validated mean absolute error"
        )
    meas = lambda name, unit, v, key: Measurement(  # noqa: E731
        name=name,
        value=None if v is None else round(float(v), 1),
        unit=unit,
        uncertainty=None if v is None else _uncertainty(key),
        quality=Quality.UNUSABLE if v is None else quality,
    )
    fields = {key: meas(name, unit, figs[fk], fk) for key, name, unit, fk in FIGURES}
    pcts = {st: meas(name, "%", figs[fk], fk) for st, name, fk in PERCENTS}
    warnings = list(warnings)
    if "n1" not in staged.stages:
        warnings.append(
            "the model rarely calls N1 from wrist data (N1 is hard to tell from wake and N2 even for "
            "scorers); N1 time is likely counted as wake or N2"
        )
    warnings.append(
        "an estimate from a consumer wearable, not polysomnography; single epochs are often wrong, "
        "the night's totals are more reliable than any one epoch"
    )
    return SleepStagesResult(
        quality=quality,
        method=method,
        warnings=warnings,
        epochs=len(staged.stages),
        start_s=float(staged.epoch_starts_s[0]) if len(staged.epoch_starts_s) else 0.0,
        stages=staged.stages,
        stages_wake_nrem_rem=staged.stages_three,
        stages_wake_light_deep_rem=staged.stages_four,
        stages_sleep_wake=staged.stages_two,
        probabilities=np.round(staged.proba, 3).tolist(),
        stage_percentages=pcts,
        motion_source=motion_source,
        **fields,
    )


def refuse(name: str, problem: NightProblem) -> Exception:
    cls = {
        "too_short": TooShortError,
        "too_long": NotANightError,
        "gaps": GapError,
        "daytime": DaytimeRecordingError,
    }[problem.kind]
    return cls(name, str(problem), ACCEPTED)


class SleepStagesTool(Tool):
    name = "sleep_stages"
    description = (
        "Sleep stages (wake, N1, N2, N3, REM) per 30-s epoch of a night recorded by a wearable (heart "
        "rate + wrist motion), with total sleep time, sleep efficiency, sleep onset latency, wake after "
        "sleep onset, stage percentages and a hypnogram."
    )
    modalities = ("wearable",)
    input_model = RecordingInput
    output_model = SleepStagesResult
    timeout_s = 60.0
    keywords = (
        r"\bsleep(ing|s)?\b",
        r"\bslept\b",
        r"\bhypnogram\b",
        r"\b(rem|n1|n2|n3|deep|light) sleep\b",
        r"\bsleep stag\w*",
        r"\bwaso\b",
        r"\bwake after sleep onset\b",
        r"\bnight\b",
    )
    examples = (
        "How did I sleep?",
        "How much deep sleep did I get last night?",
        "Show my hypnogram.",
        "What was my total sleep time and sleep efficiency?",
    )
    default_for = ("wearable",)

    def unavailable_reason(self) -> str | None:
        return None if WEIGHTS.exists() else f"weights not found at {WEIGHTS} (reinstall cardioagent-sleep)"

    def run(self, args: RecordingInput, ctx: ToolContext) -> SleepStagesResult:
        rec = ctx.get_recording(args.recording_id)
        night = series_of(rec)
        try:
            starts, feats, notes = night_from_series(
                night.t, night.hr, night.counts_t, night.counts, epoch_origin_s=float(night.t[0])
            )
        except NightProblem as problem:
            raise refuse(rec.name, problem) from None
        staged = stage_features(feats, starts)
        quality = Quality.POOR if night.low_rate_proxy else Quality.ACCEPTABLE
        warnings = list(notes)
        if night.low_rate_proxy:
            warnings.append(
                "motion counts were estimated from 1-Hz accelerometer means, which the model was not "
                "trained on: treat the stages as rough"
            )
        result = build_result(staged, quality, night.counts_source, warnings)
        try:
            from cardioagent_sleep.hypnogram import draw_hypnogram

            reference = None
            if night.reference is not None:
                idx = np.clip((starts + 15 - night.t[0]).astype(int), 0, len(night.reference) - 1)
                reference = [night.reference[i] for i in idx]
            out = ctx.artifacts_dir / f"{rec.name}-{rec.id[:8]}-hypnogram.png"
            ctx.artifacts_dir.mkdir(parents=True, exist_ok=True)
            draw_hypnogram(
                staged.stages,
                staged.proba,
                out,
                title=f"{rec.name}: estimated hypnogram",
                reference=reference,
            )
            result.figures.append(str(out))
        except Exception as exc:  # a figure is a courtesy
            result.warnings.append(f"hypnogram not drawn ({type(exc).__name__})")
        return result
