"""Epoch features as the published Apple Watch sleep pipeline computes them (pure functions, numpy only).

Walch O, Huang Y, Forger D, Goldstein C. Sleep stage prediction with raw acceleration and photoplethysmography
heart rate data derived from a consumer wearable device. SLEEP 2019;42(12):zsz180. doi:10.1093/sleep/zsz180.
Their code (github.com/ojwalch/sleep_classifiers, ``source/preprocessing``) was read to learn the feature
definitions; this module re-implements them:

* epochs are 30 s; each feature looks at a window from 285 s before the epoch's start to 285 s after its end
  (open interval), on series linearly interpolated onto a 1-s grid;
* **count**: activity counts, Gaussian-weighted mean over the window (sigma 50 s, centred on the window);
* **hr**: heart rate interpolated to 1 s, mean removed, convolved with a difference of Gaussians (sigma 120 s
  minus 0.75 x sigma 600 s, kernel 285 s long, ends padded by reflection), divided by the 90th percentile of
  its absolute value over the night, then the standard deviation over the window;
* **cosine**: -cos(2 pi (t - 5 h) / 24 h), t = seconds since the first epoch (a clock proxy that assumes the
  recording starts at lights-out);
* **time**: hours since the first epoch.

The published **circadian** feature comes from a limit-cycle clock model driven by weeks of step counts
(MATLAB, ``clock_proxy``); one night of data cannot drive it, it was switched off in the published defaults
(``INCLUDE_CIRCADIAN = False``), and the model shipped here does not use it.

Activity counts: the published counts come from the 50-Hz raw accelerometer (3-11 Hz band-pass, rectified,
binned, summed per 15 s). ``activity_counts`` implements that for accelerometers sampled at 32 Hz or more.
A 1-Hz export (x/y/z averaged per second) has lost that band, so its counts must come with the file (the
shared Apple Watch CSV has them in ``step_count``); see ``counts_from_low_rate_motion`` for the fallback.
"""

from __future__ import annotations

import numpy as np

EPOCH_S = 30.0
WINDOW_S = 10 * 30 - 15  # 285 s each side of the epoch, as published
COUNT_SIGMA_S = 50.0
DOG_SIGMA_SHORT_S, DOG_SIGMA_LONG_S, DOG_LONG_WEIGHT = 120.0, 600.0, 0.75
HR_SCALE_PERCENTILE = 90.0
COSINE_SHIFT_H = 5.0
FEATURE_NAMES = ("count", "hr", "cosine", "time")


def interpolate_1s(t: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation onto a 1-s grid from the first to (not including) the last time stamp."""
    t = np.asarray(t, dtype=float)
    grid = np.arange(t.min(), t.max(), 1.0)
    return grid, np.interp(grid, t, np.asarray(values, dtype=float))


def window_mask(grid: np.ndarray, epoch_start: float) -> np.ndarray:
    """Grid points strictly inside (start - 285 s, start + 30 s + 285 s)."""
    return (grid > epoch_start - WINDOW_S) & (grid < epoch_start + EPOCH_S + WINDOW_S)


def gaussian_weighted_mean(values: np.ndarray, sigma: float = COUNT_SIGMA_S) -> float:
    """Mean of ``values`` weighted by a Gaussian centred at index n // 2 (the published smoothing)."""
    n = len(values)
    if n == 0:
        return float("nan")
    k = np.arange(n)
    w = np.exp(-0.5 * ((k - n // 2) / sigma) ** 2)
    return float(np.dot(w / w.sum(), values))


def difference_of_gaussians(y: np.ndarray, length: int = WINDOW_S) -> np.ndarray:
    """Mean-removed ``y`` convolved with the published difference-of-Gaussians kernel, same length as ``y``.

    The ends are padded with the mirrored first/last ``length // 2`` samples. The published code inserts the
    tail padding one sample before the end (``np.insert(y, len(y) - 1, ...)``); that placement is kept so the
    features match the published ones at the end of the night too.
    """
    y = np.asarray(y, dtype=float)
    y = y - y.mean()
    k = np.arange(length)
    mu = length // 2
    kernel = np.exp(-0.5 * ((k - mu) / DOG_SIGMA_SHORT_S) ** 2) - DOG_LONG_WEIGHT * np.exp(
        -0.5 * ((k - mu) / DOG_SIGMA_LONG_S) ** 2
    )
    half = length // 2
    padded = np.insert(y, 0, y[:half][::-1])
    padded = np.insert(padded, len(padded) - 1, y[-half:][::-1])
    return np.convolve(padded, kernel, mode="valid")


def scaled_hr(grid_hr: np.ndarray) -> np.ndarray:
    """DoG-filtered heart rate divided by the 90th percentile of its absolute value."""
    filtered = difference_of_gaussians(grid_hr)
    scale = np.percentile(np.abs(filtered), HR_SCALE_PERCENTILE)
    return filtered / scale if scale > 0 else filtered * 0.0


def count_feature(grid: np.ndarray, grid_counts: np.ndarray, epoch_starts: np.ndarray) -> np.ndarray:
    return np.array([gaussian_weighted_mean(grid_counts[window_mask(grid, s)]) for s in epoch_starts])


def hr_feature(grid: np.ndarray, grid_scaled_hr: np.ndarray, epoch_starts: np.ndarray) -> np.ndarray:
    out = []
    for s in epoch_starts:
        vals = grid_scaled_hr[window_mask(grid, s)]
        out.append(float(np.std(vals)) if len(vals) else float("nan"))
    return np.array(out)


def cosine_feature(epoch_starts: np.ndarray) -> np.ndarray:
    t = np.asarray(epoch_starts, dtype=float) - float(epoch_starts[0])
    return -np.cos((t - COSINE_SHIFT_H * 3600.0) * 2.0 * np.pi / 86400.0)


def time_feature(epoch_starts: np.ndarray) -> np.ndarray:
    return (np.asarray(epoch_starts, dtype=float) - float(epoch_starts[0])) / 3600.0


def epoch_features(
    t_hr: np.ndarray, hr: np.ndarray, t_counts: np.ndarray, counts: np.ndarray, epoch_starts: np.ndarray
) -> np.ndarray:
    """Feature matrix (n_epochs, 4) in the order of ``FEATURE_NAMES`` for the given epoch start times.

    ``t_hr``/``hr`` may be irregular (the watch reports heart rate every few seconds); ``t_counts``/``counts``
    are activity counts at their own time stamps. Times are in seconds on one clock.
    """
    epoch_starts = np.asarray(epoch_starts, dtype=float)
    g_hr, v_hr = interpolate_1s(t_hr, hr)
    g_c, v_c = interpolate_1s(t_counts, counts)
    return np.column_stack(
        [
            count_feature(g_c, v_c, epoch_starts),
            hr_feature(g_hr, scaled_hr(v_hr), epoch_starts),
            cosine_feature(epoch_starts),
            time_feature(epoch_starts),
        ]
    )


def activity_counts(t: np.ndarray, z: np.ndarray, fs_out: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    """Activity counts per 15 s from a raw (>= 32 Hz) accelerometer axis, as the published Python port of the
    ActiGraph-style counts: resample to 50 Hz, 3-11 Hz Butterworth band-pass (order 5, zero phase), rectify,
    bin into 128 levels over 0-5 g, maximum per second, sum per 15 s, (sum - 18) x 3.07 floored at 0.
    Returns (time stamps spread from first to last sample, counts)."""
    from scipy.signal import butter, filtfilt

    t = np.asarray(t, dtype=float)
    fs = int(fs_out)
    grid = np.arange(t.min(), t.max(), 1.0 / fs)
    zz = np.interp(grid, t, np.asarray(z, dtype=float))
    b, a = butter(5, [3.0 / (fs / 2), 11.0 / (fs / 2)], "bandpass")
    rect = np.abs(filtfilt(b, a, zz))
    binned = np.digitize(rect, np.linspace(0.0, 5.0, 129))
    seconds = len(binned) // fs
    per_second = binned[: seconds * fs].reshape(seconds, fs).max(axis=1)
    n15 = seconds // 15
    counts = per_second[: n15 * 15].reshape(n15, 15).sum(axis=1).astype(float)
    counts = np.clip((counts - 18.0) * 3.07, 0.0, None)
    return np.linspace(t.min(), t.max(), n15), counts


# Scale from the per-second change of the 1-Hz mean acceleration (g) to activity counts: least-squares slope
# of the published count feature on the same feature computed from |delta acc|, subject 1066528 (one night;
# r = 0.89 between the two features). Only a fallback for 1-Hz exports without counts; results using it are
# flagged as poor quality.
LOW_RATE_COUNT_SCALE = 333.0


def counts_from_low_rate_motion(xyz: np.ndarray) -> np.ndarray:
    """Activity-count proxy per second from 1-Hz x/y/z means: |change of the acceleration vector| x scale."""
    xyz = np.asarray(xyz, dtype=float)
    step = np.linalg.norm(np.diff(xyz, axis=0), axis=1)
    return np.concatenate([[0.0], step]) * LOW_RATE_COUNT_SCALE
