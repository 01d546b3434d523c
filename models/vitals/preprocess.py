"""The data pipeline's signal steps (pure functions): baseline correction, denoising, standardisation,
segmentation into windows and label-preserving augmentation.

Segmentation and the augmentations themselves are the shared ones of ``cardioagent.tools.signal``
(``segment.window_array``, ``augment.augment``); this module fixes how the vitals estimators use them.
Time warping is switched off for every vitals task: it changes beat-to-beat timing, hence the heart rate
a window's label states, and the pulse-wave timing a vascular-age label rests on.
"""

from __future__ import annotations

import numpy as np

from cardioagent.tools.signal.augment import AugmentConfig, augment
from cardioagent.tools.signal.filters import fill_gaps, lowpass, remove_baseline
from cardioagent.tools.signal.segment import window_array

# Label-preserving: amplitude scale, baseline wander, mains hum and white noise (SNR 15-35 dB), no warp.
VITALS_AUGMENT = AugmentConfig(
    p_time_warp=0.0, p_scale=0.5, p_baseline_wander=0.5, p_powerline=0.2, p_noise=0.7
)
DENOISE_HZ = {"ppg": 8.0, "ecg": 40.0, "accel": 8.0}


def baseline_correct(x: np.ndarray, fs: float) -> np.ndarray:
    """Remove wander below 0.5 Hz (zero-phase), gaps filled first."""
    return remove_baseline(fill_gaps(np.asarray(x, dtype=float)), fs)


def denoise(x: np.ndarray, fs: float, kind: str) -> np.ndarray:
    """Zero-phase low-pass at the top of the channel kind's useful band (8 Hz PPG, 40 Hz ECG)."""
    return lowpass(np.asarray(x, dtype=float), fs, DENOISE_HZ.get(kind, 40.0))


def standardise(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit standard deviation per column; a flat column stays zero."""
    a = np.asarray(x, dtype=float)
    sd = np.nanstd(a, axis=0)
    return (a - np.nanmean(a, axis=0)) / np.where(sd > 0, sd, 1.0)


def clean_channels(signal: np.ndarray, fs: float, kind: str) -> np.ndarray:
    """Baseline correction, denoising and standardisation of every column of ``signal`` (n, k)."""
    a = np.atleast_2d(np.asarray(signal, dtype=float).T).T
    out = np.column_stack([denoise(baseline_correct(a[:, c], fs), fs, kind) for c in range(a.shape[1])])
    return standardise(out)


def segment(signal: np.ndarray, fs: float, window_s: float, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(windows, start times in s): windows (n, window, k), copied so callers may modify them."""
    batch, starts = window_array(np.atleast_2d(np.asarray(signal).T).T, fs, window_s, step_s)
    return np.array(batch, copy=True), starts


def augmented_copy(signal: np.ndarray, fs: float, rng: np.random.Generator) -> np.ndarray:
    """One label-preserving augmented copy of a standardised recording (all channels share the scale)."""
    return augment(standardise(signal), fs, rng, VITALS_AUGMENT)
