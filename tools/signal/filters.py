"""Pure filtering steps shared by the ECG and PPG pipelines.

Every function takes a 1-D float array and its sampling rate and returns a new array of the same length.
Filters are zero-phase (``sosfiltfilt``) so that fiducial points (R-peaks, wave onsets) do not shift.
Cut-offs above the Nyquist frequency are clipped rather than rejected, so low-rate recordings (e.g.
125 Hz PPG) go through the same code.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import signal as sps

PowerlineSetting = Literal["auto", 50, 60] | None


def fill_gaps(x: np.ndarray) -> np.ndarray:
    """Linearly interpolate NaN/inf samples so filters can run; all-NaN input comes back unchanged."""
    x = np.asarray(x, dtype=float)
    bad = ~np.isfinite(x)
    if not bad.any() or bad.all():
        return x.copy()
    idx = np.arange(len(x))
    out = x.copy()
    out[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    return out


def recorded_span(x: np.ndarray) -> tuple[int, int] | None:
    """``(start, stop)`` of the samples a lead holds when it is missing (NaN) only before and after them, as a
    lead printed for 2.5 s on a 3 x 4 page and digitized on the page's 10-s time base is; None when the lead
    holds no sample. Gaps inside the span are left to ``fill_gaps``."""
    ok = np.flatnonzero(np.isfinite(np.asarray(x, dtype=float)))
    if ok.size == 0:
        return None
    return int(ok[0]), int(ok[-1]) + 1


def _padlen_ok(x: np.ndarray, sos: np.ndarray) -> bool:
    # sosfiltfilt needs the signal longer than its padding (3 * number of taps)
    return len(x) > 3 * (2 * len(sos) + 1)


def highpass(x: np.ndarray, fs: float, cutoff_hz: float, order: int = 2) -> np.ndarray:
    sos = sps.butter(order, cutoff_hz, btype="highpass", fs=fs, output="sos")
    return sps.sosfiltfilt(sos, x) if _padlen_ok(x, sos) else x - np.mean(x)


def lowpass(x: np.ndarray, fs: float, cutoff_hz: float, order: int = 4) -> np.ndarray:
    cutoff_hz = min(cutoff_hz, 0.45 * fs)
    sos = sps.butter(order, cutoff_hz, btype="lowpass", fs=fs, output="sos")
    return sps.sosfiltfilt(sos, x) if _padlen_ok(x, sos) else x.copy()


def bandpass(x: np.ndarray, fs: float, low_hz: float, high_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth band-pass; ``high_hz`` is clipped to 0.45 fs."""
    high_hz = min(high_hz, 0.45 * fs)
    if low_hz >= high_hz:
        raise ValueError(f"band {low_hz}-{high_hz} Hz is empty at fs={fs} Hz")
    sos = sps.butter(order, [low_hz, high_hz], btype="bandpass", fs=fs, output="sos")
    return sps.sosfiltfilt(sos, x) if _padlen_ok(x, sos) else x - np.mean(x)


def remove_baseline(x: np.ndarray, fs: float, cutoff_hz: float = 0.5) -> np.ndarray:
    """Baseline-wander removal: a zero-phase high-pass at 0.5 Hz (below the lowest plausible heart rate
    of 30 bpm, above breathing and motion drift)."""
    return highpass(x, fs, cutoff_hz, order=2)


def median_baseline(x: np.ndarray, fs: float) -> np.ndarray:
    """The baseline as two median filters trace it, 200 ms then 600 ms (de Chazal, O'Dwyer & Reilly 2004,
    IEEE Trans Biomed Eng 51:1196). Unlike a 0.5 Hz high-pass it leaves the slow T wave's shape and level
    intact. ``x`` must be finite."""
    from scipy.ndimage import median_filter

    k1, k2 = int(0.2 * fs) | 1, int(0.6 * fs) | 1
    return median_filter(median_filter(x, size=k1, mode="nearest"), size=k2, mode="nearest")


def detect_powerline(x: np.ndarray, fs: float, min_ratio: float = 4.0) -> int | None:
    """50 or 60 when a narrow spectral line at that frequency stands out from its neighbourhood by
    ``min_ratio`` (power ratio), else None. Only frequencies below Nyquist are considered."""
    if len(x) < fs:  # under a second there is no spectral resolution to tell 50 from 60
        return None
    nperseg = int(min(len(x), 2 * fs))
    f, p = sps.welch(x - np.mean(x), fs=fs, nperseg=nperseg)
    best, best_ratio = None, min_ratio
    for line in (50, 60):
        if line >= 0.5 * fs - 1:
            continue
        at = (f > line - 1) & (f < line + 1)
        around = ((f > line - 6) & (f < line - 2)) | ((f > line + 2) & (f < line + 6))
        if not at.any() or not around.any():
            continue
        ratio = p[at].max() / max(np.median(p[around]), 1e-20)
        if ratio > best_ratio:
            best, best_ratio = line, ratio
    return best


def notch(x: np.ndarray, fs: float, freq_hz: float, quality: float = 30.0) -> np.ndarray:
    if freq_hz >= 0.5 * fs:
        return x.copy()
    b, a = sps.iirnotch(freq_hz, quality, fs=fs)
    if len(x) <= 3 * max(len(a), len(b)):
        return x.copy()
    return sps.filtfilt(b, a, x)


def remove_powerline(
    x: np.ndarray, fs: float, powerline: PowerlineSetting = "auto"
) -> tuple[np.ndarray, int | None]:
    """Notch the mains frequency (and its first harmonic when below Nyquist). With ``"auto"`` the
    frequency is detected from the spectrum; returns the filtered signal and the frequency used."""
    freq = detect_powerline(x, fs) if powerline == "auto" else powerline
    if freq is None:
        return x.copy(), None
    y = notch(x, fs, freq)
    if 2 * freq < 0.45 * fs:
        y = notch(y, fs, 2 * freq)
    return y, int(freq)


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    width = max(int(width), 1)
    if width == 1:
        return np.asarray(x, dtype=float).copy()
    return np.convolve(x, np.ones(width) / width, mode="same")
