"""How precisely a digitized page times its beats, measured on the page itself.

A printed page shows each beat more than once: on a 3 x 4 page every instant is printed in three short leads
(one per row) and again in the rhythm strip, and every row was read with its own trace and its own time
axis. The same QRS complex must fall at the same time in all of them, so the scatter of the time offsets
between a beat in the rhythm strip and the same beat in another row measures the timing error of the
digitization (a sheet crumpled or curled, a grid ruler a pixel off, a trace followed a few columns late),
in the way that duplicate measurements give a measurement error (Bland & Altman 1986, Lancet 1:307-10:
the within-subject SD from repeated measurements).

The QRS complex is located in each trace by its steepest strokes (the QRS has the steepest of the cycle;
Pan & Tompkins 1985), which every lead shows at nearly the same time. Each
printed window's own constant offset (its row's start, and the lead's own QRS shape) cancels in the
difference of the offsets of successive beats of the window, which is the sum of four independent beat
timing errors: its SD is twice that of one beat.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SEARCH_S = 0.1  # the same QRS within +-100 ms in another row (a QRS lasts 80-120 ms)
MIN_PAIRS = 6  # fewer offsets than this measure no spread


def _qrs_time(x: np.ndarray, centre: int, half: int, fs: float) -> float | None:
    """The QRS's time near sample ``centre``: the centroid of the squared slope over the 40 ms around its
    peak (a centroid, not the peak itself, so that an R and an S stroke of like steepness do not make it
    jump by the width of the QRS from one beat to the next)."""
    lo, hi = max(1, centre - half), min(len(x) - 1, centre + half + 1)
    seg = x[lo - 1 : hi + 1]
    if hi - lo < half or not np.isfinite(seg).all():
        return None
    energy = np.diff(seg)[:-1] ** 2
    peak = int(np.argmax(ndimage.uniform_filter1d(energy, max(1, int(0.02 * fs)))))
    w = max(1, int(0.02 * fs))
    a, b = max(0, peak - w), min(len(energy), peak + w + 1)
    if energy[a:b].sum() <= 0:
        return None
    return lo + float(np.sum(np.arange(a, b) * energy[a:b]) / energy[a:b].sum())


def beat_timing_sd(
    signal: np.ndarray, fs: float, rhythm_lead: int, beats: np.ndarray, window_s: float = 2.5
) -> tuple[float | None, int]:
    """(SD in seconds of one beat's time in the digitized ``rhythm_lead``, number of offsets it rests on).

    ``signal``: (n, leads) mV with NaN where a lead was not printed; ``beats``: sample indices of the beats
    found in ``rhythm_lead``. None when fewer than ``MIN_PAIRS`` beats are seen in another lead as well."""
    half = int(SEARCH_S * fs)
    n = signal.shape[0]
    window = max(1, int(round(window_s * fs)))
    residuals: list[float] = []  # differences of successive offsets within one printed window
    for lead in range(signal.shape[1]):
        if lead == rhythm_lead:
            continue
        per_window: dict[int, list[float]] = {}
        for b in np.asarray(beats, dtype=int):
            if not 0 <= b < n:
                continue
            here = _qrs_time(signal[:, rhythm_lead], int(b), half, fs)
            there = _qrs_time(signal[:, lead], int(b), half, fs)
            if here is None or there is None:
                continue
            per_window.setdefault(int(b) // window, []).append((there - here) / fs)
        for offsets in per_window.values():
            residuals += list(np.diff(offsets))  # successive beats of one window: its constant offset cancels
    if len(residuals) < MIN_PAIRS:
        return None, len(residuals)
    r = np.asarray(residuals)
    # a robust SD (1.4826 MAD about 0), so that a beat mislocated in one trace does not rule the spread.
    # Each difference is (a - b) - (a' - b') of four independent beat times: SD 2 sigma.
    return 1.4826 * float(np.median(np.abs(r))) / 2.0, len(residuals)
