"""Serialising one window into the text prompt an LLM estimator reads (pure functions).

Three ways, as in the studies this follows:

- ``signal``: the samples themselves (the seed study's "signal-only" setting). A 135M model cannot read
  thousands of numbers, so the window is low-pass filtered, resampled to a few Hz (8 Hz for PPG, enough
  for rates up to 240 bpm) and quantised to ten levels written as one digit each with no separator: the
  SmolLM2 tokenizer gives one token per digit, so an 8-s window costs 64 tokens. An accelerometer, when
  present, is added as its magnitude at 4 Hz.
- ``context``: the robust features of ``features.py`` (spectral peaks of PPG and accelerometer, pulse or
  R-peak intervals, quality indices, the tracked rate), as in the LLM cuffless-BP work; a few dozen tokens.
- either of them ``+ demographics``: age, sex, height and weight where known. For a vascular-age task the
  age is never written (it is the target); "not recorded" is written when nothing is known, so that the
  two settings differ only by the facts themselves.

Every prompt ends with a fixed answer cue (``ANSWER_CUES``) after which the model writes the number.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import signal as sps

from cardioagent.models.vitals.features import (
    EcgAgeFeatures,
    EcgWindowFeatures,
    PpgAgeFeatures,
    PpgWindowFeatures,
)
from cardioagent.tools.signal.filters import bandpass, fill_gaps
from cardioagent.tools.signal.recording import Demographics

Task = Literal["hr", "vascular_age"]
Modality = Literal["ppg", "ecg"]
Setting = Literal["signal", "context"]

ANSWER_CUES = {"hr": "Heart rate (bpm):", "vascular_age": "Vascular age (years):"}
TASK_WORDS = {"hr": "heart rate", "vascular_age": "vascular age"}
SIGNAL_HZ = {"ppg": 8.0, "ecg": 25.0}
ACCEL_HZ = 4.0
LEVELS = 10


def quantise_digits(x: np.ndarray, levels: int = LEVELS) -> str:
    """Min-max scale to 0..levels-1 and write one digit per sample (a flat window is all zeros)."""
    if levels < 2 or levels > 10:
        raise ValueError("levels must be 2-10 so that every sample is one digit")
    x = np.asarray(x, dtype=float)
    lo, hi = float(np.min(x)), float(np.max(x))
    if not np.isfinite(lo) or hi - lo <= 0:
        return "0" * len(x)
    q = np.clip(np.round((x - lo) / (hi - lo) * (levels - 1)), 0, levels - 1).astype(int)
    return "".join(map(str, q))


def resample_to(x: np.ndarray, fs: float, target_hz: float) -> np.ndarray:
    """Anti-aliased resampling of a 1-D signal to ``target_hz`` (length rounds to whole samples)."""
    x = fill_gaps(np.asarray(x, dtype=float))
    n = max(round(len(x) * target_hz / fs), 1)
    if target_hz < fs:
        x = bandpass(x, fs, 0.3, 0.45 * target_hz) if 0.45 * target_hz > 0.3 else x
    return sps.resample(x, n) if n != len(x) else x


def samples_text(x: np.ndarray, fs: float, modality: Modality, accel: np.ndarray | None = None) -> str:
    """The signal-only serialisation of one (already baseline-corrected) window."""
    target = SIGNAL_HZ[modality]
    parts = [f"{modality.upper()} at {target:g} Hz: {quantise_digits(resample_to(x, fs, target))}"]
    if accel is not None and np.asarray(accel).size:
        a = np.atleast_2d(np.asarray(accel, dtype=float).T).T
        mag = np.sqrt(np.sum((a - np.nanmean(a, axis=0)) ** 2, axis=1))
        parts.append(f"Motion at {ACCEL_HZ:g} Hz: {quantise_digits(resample_to(mag, fs, ACCEL_HZ))}")
    return "\n".join(parts)


def demographics_text(d: Demographics | None, include_age: bool = True) -> str:
    d = d or Demographics()
    facts = []
    if include_age and d.age is not None:
        facts.append(f"age {d.age:.0f} y")
    if d.sex:
        facts.append(d.sex)
    if d.height_cm is not None:
        facts.append(f"{d.height_cm:.0f} cm")
    if d.weight_kg is not None:
        facts.append(f"{d.weight_kg:.0f} kg")
    return "Subject: " + (", ".join(facts) if facts else "not recorded") + "."


def _bpm(v: float | None) -> str:
    return "none" if v is None else f"{v:.0f}"


def ppg_context_text(f: PpgWindowFeatures) -> str:
    lines = []
    if f.motion_g is not None:
        acc = ", ".join(f"{b:.0f}" for b, _ in f.acc_peaks) or "none"
        lines.append(f"Motion {f.motion_g:.1f} g; accelerometer peaks {acc}.")
    peaks = " ".join(f"{b:.0f}:{round(100 * p)}" for b, p in f.ppg_peaks) or "none"
    lines.append(f"PPG peaks (bpm:power) {peaks}.")
    lines.append(
        f"Pulse intervals {_bpm(f.pulse_interval_bpm)}. Attenuated peak {_bpm(f.spectral_bpm)}"
        f" (quality {f.peak_ratio:.0f})."
    )
    if f.tracked_bpm is not None:
        lines.append(f"Tracked rate {_bpm(f.tracked_bpm)}.")
    return "\n".join(lines)


def _one(v: float | None, digits: int = 1) -> str:
    return "none" if v is None else f"{v:.{digits}f}"


def ecg_context_text(f: EcgWindowFeatures) -> str:
    return (
        f"R-peaks {f.n_beats}; R-peak rate {_one(f.rpeak_bpm)}; single detector {_one(f.single_detector_bpm)}.\n"
        f"RR median {_one(f.rr_median_ms, 0)} ms, IQR {_one(f.rr_iqr_ms, 0)} ms; detector agreement "
        f"{_one(f.detector_agreement, 2)}; QRS envelope peak {_one(f.spectral_bpm, 0)}."
    )


def ppg_age_text(f: PpgAgeFeatures) -> str:
    return (
        f"Pulse rate {_bpm(f.rate_bpm)}; beats {f.n_beats}.\n"
        f"Second derivative b/a {_one(f.b_a, 2)}, c/a {_one(f.c_a, 2)}, d/a {_one(f.d_a, 2)}, "
        f"e/a {_one(f.e_a, 2)}; aging index {_one(f.aging_index, 2)}."
    )


def ecg_age_text(f: EcgAgeFeatures) -> str:
    return (
        f"Heart rate {_bpm(f.rate_bpm)}; RR SD {_one(f.rr_sd_ms, 0)} ms.\n"
        f"PR {_one(f.pr_ms, 0)} ms, QRS {_one(f.qrs_ms, 0)} ms, QTc {_one(f.qtc_ms, 0)} ms; "
        f"R {_one(f.r_mv, 2)} mV, T {_one(f.t_mv, 2)} mV."
    )


def build_prompt(
    task: Task,
    modality: Modality,
    setting: Setting,
    window_s: float,
    body: str,
    demographics: Demographics | None = None,
    with_demographics: bool = False,
) -> str:
    """The whole prompt: a task line, the serialised window (``body`` from ``samples_text`` or a
    ``*_context_text``), optionally the demographics line, and the answer cue."""
    if task not in ANSWER_CUES:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(ANSWER_CUES)}")
    if setting not in ("signal", "context"):
        raise ValueError(f"unknown setting {setting!r}; known: signal, context")
    head = f"Estimate the {TASK_WORDS[task]} from a {window_s:g} s {modality.upper()} window."
    lines = [head, body]
    if with_demographics:
        lines.append(demographics_text(demographics, include_age=task != "vascular_age"))
    lines.append(ANSWER_CUES[task])
    return "\n".join(lines)


def anchor_of(
    task: Task, modality: Modality, features: PpgWindowFeatures | EcgWindowFeatures | None
) -> float | None:
    """The classical estimate a regression head corrects (None when there is none, e.g. signal-only)."""
    if task != "hr" or features is None:
        return None
    if isinstance(features, PpgWindowFeatures):
        return features.tracked_bpm if features.tracked_bpm is not None else features.spectral_bpm
    return features.rpeak_bpm
