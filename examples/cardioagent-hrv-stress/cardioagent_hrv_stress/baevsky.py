"""Baevsky's stress index from RR intervals: pure functions, no I/O, no cardioagent imports.

    SI = AMo / (2 · Mo · MxDMn)

Baevsky R.M. & Chernikova A.G. (2017), "Heart rate variability analysis: physiological foundations and main
methods", Cardiometry 10, 66-76. The RR intervals are put in a histogram of 50-ms bins;

* Mo (mode, s) is the most frequent RR value, here the centre of the fullest bin;
* AMo (amplitude of the mode, %) is the share of all intervals that fall in that bin;
* MxDMn (variation range, s) is the longest minus the shortest interval.

A narrow, peaked histogram (little variability, strong sympathetic drive) gives a large index; a broad one
gives a small index. The index is conventionally reported without a unit ("conventional units"); strictly it
is %/s². Kubios HRV reports the square root of this number under the same name; this module does not.

Choices the paper leaves open, fixed here so results are reproducible:
* bins are aligned on multiples of 50 ms ([800, 850) ms, [850, 900) ms, ...) after rounding each interval to
  the millisecond, so float noise never moves an interval across a bin edge;
* when several bins are equally full, the one whose centre is nearest the median interval is the mode;
* the index is undefined (``ValueError``) when every interval is the same (MxDMn = 0).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

BIN_S = 0.050  # Baevsky's histogram bin width
MIN_RR_S = 0.25  # 240 bpm: shorter intervals are detection artefacts, not beats
MAX_RR_S = 2.0  # 30 bpm: longer intervals are missed beats or pauses, not normal-to-normal intervals
MAX_DEVIATION = 0.20  # an interval more than 20 % away from its neighbours' median is ectopic or an artefact
# A premature beat only 15-20 % early slips under that (MIT-BIH record 100 has several), and MxDMn, being a
# range, is ruined by a single one. Such a beat is recognised by its pattern instead: an interval more than
# 15 % short followed by one longer than the median (the pause). Sinus variation alone seldom does both.
PREMATURE_DEVIATION = 0.15
NEIGHBOURS = 5  # on each side, for that median
# A run of missed beats in a noisy stretch makes its doubled intervals agree with one another; compared with
# the median of a wider neighbourhood (about half a minute) they still stand out.
WIDE_NEIGHBOURS = 30
WIDE_DEVIATION = 0.30


class RrHistogram(NamedTuple):
    edges_s: np.ndarray  # bin edges, len(counts) + 1
    counts: np.ndarray  # intervals per bin
    mode_s: float  # Mo: centre of the fullest bin
    amplitude_mode_pct: float  # AMo: % of intervals in that bin
    variation_range_s: float  # MxDMn: longest minus shortest interval


class BaevskyIndex(NamedTuple):
    stress_index: float  # SI, conventional units (%/s²)
    amplitude_mode_pct: float
    mode_s: float
    variation_range_s: float
    n_intervals: int


def _as_rr(rr_s: np.ndarray | list[float]) -> np.ndarray:
    rr = np.asarray(rr_s, dtype=float).ravel()
    if rr.size == 0:
        raise ValueError("no RR intervals given")
    if not np.all(np.isfinite(rr)) or np.any(rr <= 0):
        raise ValueError("RR intervals must be finite, positive numbers of seconds")
    if np.median(rr) > 10:  # a common slip: milliseconds passed where seconds are expected
        raise ValueError(f"RR intervals look like milliseconds (median {np.median(rr):g}); pass seconds")
    return rr


def rr_histogram(rr_s: np.ndarray | list[float], bin_s: float = BIN_S) -> RrHistogram:
    """The RR histogram in ``bin_s`` bins aligned on multiples of ``bin_s``, with Mo, AMo and MxDMn."""
    rr = _as_rr(rr_s)
    bin_ms = round(bin_s * 1000)
    if bin_ms <= 0:
        raise ValueError(f"bin width must be at least 1 ms, got {bin_s} s")
    rr_ms = np.rint(rr * 1000).astype(np.int64)
    idx = rr_ms // bin_ms
    first, last = int(idx.min()), int(idx.max())
    counts = np.bincount(idx - first, minlength=last - first + 1)
    edges_ms = np.arange(first, last + 2) * bin_ms
    centres_s = (edges_ms[:-1] + bin_ms / 2) / 1000
    fullest = np.flatnonzero(counts == counts.max())
    mode_bin = fullest[np.argmin(np.abs(centres_s[fullest] - np.median(rr)))]
    return RrHistogram(
        edges_s=edges_ms / 1000,
        counts=counts,
        mode_s=float(centres_s[mode_bin]),
        amplitude_mode_pct=float(100.0 * counts[mode_bin] / rr.size),
        variation_range_s=float((rr_ms.max() - rr_ms.min()) / 1000),
    )


def baevsky_index(rr_s: np.ndarray | list[float], bin_s: float = BIN_S) -> BaevskyIndex:
    """SI with its three components. Raises ``ValueError`` when it is undefined (no variability)."""
    h = rr_histogram(rr_s, bin_s)
    if h.variation_range_s <= 0:
        raise ValueError("all RR intervals are equal (MxDMn = 0): the stress index is undefined")
    si = h.amplitude_mode_pct / (2.0 * h.mode_s * h.variation_range_s)
    return BaevskyIndex(si, h.amplitude_mode_pct, h.mode_s, h.variation_range_s, int(h.counts.sum()))


def stress_index(rr_s: np.ndarray | list[float], bin_s: float = BIN_S) -> float:
    """Baevsky's SI = AMo / (2 · Mo · MxDMn) of RR intervals given in seconds."""
    return baevsky_index(rr_s, bin_s).stress_index


def central_range_s(rr_s: np.ndarray | list[float], share: float = 0.98) -> float:
    """Range of the central ``share`` of the intervals: what MxDMn would be without its few extremes."""
    rr = _as_rr(rr_s)
    tail = 100 * (1 - share) / 2
    return float(np.percentile(rr, 100 - tail) - np.percentile(rr, tail))


def clean_rr(
    rr_s: np.ndarray | list[float],
    min_s: float = MIN_RR_S,
    max_s: float = MAX_RR_S,
    max_deviation: float = MAX_DEVIATION,
    premature_deviation: float = PREMATURE_DEVIATION,
    neighbours: int = NEIGHBOURS,
    wide_neighbours: int = WIDE_NEIGHBOURS,
    wide_deviation: float = WIDE_DEVIATION,
) -> tuple[np.ndarray, int]:
    """Keep the intervals that look normal-to-normal; return them and how many were dropped.

    The index needs NN intervals: one missed beat doubles an interval and, through MxDMn, can divide the
    index by three. Intervals outside [min_s, max_s] go first; then each interval is compared with the median
    of up to ``neighbours`` plausible intervals on each side (itself excluded) and dropped when it differs
    by more than ``max_deviation`` of that median, or by more than ``wide_deviation`` of the median of up to
    ``wide_neighbours`` on each side (runs of missed beats agree locally but not over half a minute). An
    interval more than ``premature_deviation`` short and followed by one longer than the local median is a
    premature beat with its pause. An interval dropped for being short ends on a premature beat, so the
    interval after it, which starts on that beat, is not normal-to-normal either and goes too.
    """
    rr = _as_rr(rr_s)
    plausible = (rr >= min_s) & (rr <= max_s)
    keep = plausible.copy()
    good = np.flatnonzero(plausible)
    for pos, i in enumerate(good):
        for n, tolerance in ((neighbours, max_deviation), (wide_neighbours, wide_deviation)):
            around = np.concatenate([good[max(0, pos - n) : pos], good[pos + 1 : pos + 1 + n]])
            if around.size == 0:
                continue
            ref = np.median(rr[around])
            deviation = (rr[i] - ref) / ref
            followed_by_pause = i + 1 < rr.size and rr[i + 1] > ref
            premature = n == neighbours and deviation < -premature_deviation and followed_by_pause
            if abs(deviation) > tolerance or premature:
                keep[i] = False
                if deviation < 0 and i + 1 < rr.size:
                    keep[i + 1] = False
                break
    return rr[keep], int(rr.size - keep.sum())
