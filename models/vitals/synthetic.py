"""Synthetic labelled signals with a known ground truth (pure functions, seeded).

- ``wrist_ppg``: two PPG channels and a 3-axis accelerometer: a pulse wave at a (possibly drifting)
  heart rate plus an arm-swing artefact at the cadence that the accelerometer also records. Used by the
  tests and ``write_generic_folder`` to exercise the training pipeline without real data.
- ``aged_ppg``: PPG beats whose shape follows a known aging model (below), for validating the vascular-age
  estimator where no ground truth exists.

Aging model (a simplification of the second-derivative photoplethysmogram findings of Takazawa et al.,
Hypertension 1998, and Baek et al. 2007): each beat is a forward (systolic) Gaussian wave plus a reflected
wave. With age the arteries stiffen, so the reflected wave arrives earlier and stronger: the delay falls
linearly from 0.30 s at 20 years to 0.18 s at 80 years and its relative amplitude rises from 0.35 to 0.75.
In the second derivative this deepens the d wave and raises e relative to a, so the aging index
(b - c - d - e) / a rises with age, as Takazawa measured. The mapping is ours and only illustrates the
direction and rough size of the effect; it is not a physiological model to be measured against.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def wrist_ppg(
    hr_bpm, cadence_bpm: float, seconds: float, fs: float = 125.0, motion: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(ppg (n, 2), accel (n, 3)); ``hr_bpm`` a number or one value per sample."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    rate = np.broadcast_to(np.asarray(hr_bpm, dtype=float), (n,))
    ph = 2 * np.pi * np.cumsum(rate / 60.0) / fs
    t = np.arange(n) / fs
    swing = np.sin(2 * np.pi * cadence_bpm / 60.0 * t)
    ppg = np.column_stack(
        [
            np.sin(ph) + 0.4 * np.sin(2 * ph + 0.5) + motion * swing,
            np.sin(ph + 0.3) + 0.4 * np.sin(2 * ph + 0.8) + 0.8 * motion * swing,
        ]
    )
    ppg += 0.05 * rng.standard_normal(ppg.shape)
    acc = np.column_stack([swing, 0.5 * swing, 0.2 * np.cos(2 * np.pi * cadence_bpm / 60.0 * t)])
    return ppg, acc + 0.01 * rng.standard_normal(acc.shape)


def write_generic_folder(
    folder: str | Path, n_records: int = 4, seconds: float = 20.0, fs: float = 125.0, seed: int = 0
) -> Path:
    """A folder in the generic layout: ``recK.csv`` (PPG + accelerometer) and ``targets.csv`` labelling
    8-s windows every 2 s with the true (drifting) rate."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_records):
        start_hr, end_hr = rng.uniform(70, 150, size=2)
        n = int(seconds * fs)
        hr = np.linspace(start_hr, end_hr, n)
        ppg, acc = wrist_ppg(hr, rng.uniform(60, 90), seconds, fs, motion=0.5, seed=seed * 100 + k)
        path = folder / f"rec{k}.csv"
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["time_s", "ppg1", "ppg2", "acc_x", "acc_y", "acc_z"])
            for i in range(n):
                w.writerow([f"{i / fs:.4f}", *[f"{v:.4f}" for v in ppg[i]], *[f"{v:.4f}" for v in acc[i]]])
        for start in np.arange(0.0, seconds - 8.0 + 1e-9, 2.0):
            a, b = int(start * fs), int((start + 8.0) * fs)
            rows.append(
                {
                    "file": path.name,
                    "start_s": f"{start:g}",
                    "end_s": f"{start + 8:g}",
                    "value": f"{hr[a:b].mean():.2f}",
                }
            )
    with (folder / "targets.csv").open("w", newline="") as fh:
        dw = csv.DictWriter(fh, fieldnames=["file", "start_s", "end_s", "value"])
        dw.writeheader()
        dw.writerows(rows)
    return folder


def reflection_of_age(age: float) -> tuple[float, float]:
    """(reflected-wave delay in s, relative amplitude) of the aging model, clipped to 20-80 years."""
    a = (np.clip(age, 20.0, 80.0) - 20.0) / 60.0
    return 0.30 - 0.12 * a, 0.35 + 0.40 * a


def aged_ppg(
    age: float,
    seconds: float = 10.0,
    fs: float = 125.0,
    hr_bpm: float = 70.0,
    noise: float = 0.01,
    seed: int = 0,
) -> np.ndarray:
    """A PPG trace of ``seconds`` whose beats follow the aging model for ``age`` years."""
    rng = np.random.default_rng(seed)
    delay, amp = reflection_of_age(age)
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    period = 60.0 / hr_bpm
    onset = rng.uniform(0, period)
    while onset < seconds + period:
        jitter = rng.normal(0, 0.01)
        peak = onset + 0.12
        x += np.exp(-0.5 * ((t - peak) / 0.05) ** 2)
        x += amp * np.exp(-0.5 * ((t - peak - delay + jitter) / 0.08) ** 2)
        onset += period * (1 + rng.normal(0, 0.02))
    return x + noise * rng.standard_normal(len(x))


def aged_recordings(ages, seconds: float = 10.0, fs: float = 125.0, seed: int = 0):
    """One labelled PPG recording (``data.LabelledRecording``) per age, heart rate drawn in 55-95 bpm."""
    from cardioagent.models.vitals.data import LabelledRecording

    rng = np.random.default_rng(seed)
    out = []
    for k, age in enumerate(ages):
        x = aged_ppg(
            float(age), seconds, fs, hr_bpm=float(rng.uniform(55, 95)), noise=0.02, seed=seed * 1000 + k
        )
        out.append(
            LabelledRecording(
                name=f"synthetic-{k:03d}",
                modality="ppg",
                fs=fs,
                signal=x[:, None],
                window_s=seconds,
                step_s=seconds,
                targets={0.0: float(age)},
                source="synthetic aging model",
            )
        )
    return out
