"""Wave delineation on a per-lead median beat: QRS onset and offset, T-wave end, P-wave onset.

Per-beat delineation on a 10-s lead is noisy; clinical ECG systems measure on a representative beat
instead. So: beats of the dominant rhythm (RR within 20% of the median on both sides, shape close
to the first median) are aligned on the common R fiducial and their sample-wise median is delineated:

- QRS onset/offset: where the smoothed absolute slope falls below 5% of its QRS maximum (or reaches a
  valley under 10%), searching outward from the R fiducial (polarity-free, works for QS and rS
  complexes).
- T end: tangent method - the tangent at the steepest point of the T wave's descending limb meets
  the isoelectric level (the PR segment).
- P onset: the same tangent construction on the ascending limb of the P wave, found as the largest
  deflection 60-300 ms before the QRS; the P wave counts as present only when it stands out from
  the beat-to-beat noise.

All times are seconds relative to the R fiducial; intervals are in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cardioagent.tools.signal.filters import (
    fill_gaps,
    lowpass,
    median_baseline,
    moving_average,
    remove_powerline,
)

BEFORE_S = 0.40
AFTER_S = 0.75
# A lead recorded over part of the recording only (each lead of a 3 x 4 page is printed for 2.5 s of the
# 10 s) is measured on that part when it holds at least this much: room for a median-beat window
# (BEFORE_S + AFTER_S = 1.15 s) around one beat or more.
MIN_PART_S = 2.0

# plausible ranges; a measurement outside them is reported as a failed delineation, not a number
PR_RANGE_MS = (60.0, 400.0)
P_RANGE_MS = (40.0, 200.0)  # physiologically possible P-wave durations; outside: a delineation error
QRS_RANGE_MS = (40.0, 250.0)
QT_RANGE_MS = (200.0, 700.0)


def clean_for_delineation(x: np.ndarray, fs: float) -> np.ndarray:
    """Baseline removed by two median filters (``median_baseline``), mains notch, 40 Hz low-pass. The median
    baseline leaves the slow T wave's shape and level intact, which the tangent method for the T end
    depends on."""
    y = fill_gaps(x)
    y, _ = remove_powerline(y - median_baseline(y, fs), fs)
    return lowpass(y, fs, 40.0)


@dataclass
class MedianBeat:
    beat: np.ndarray  # samples from -BEFORE_S to +AFTER_S around R
    r_index: int
    n_beats: int
    coherence: float  # mean correlation of the used beats with the median (1 = identical beats)
    noise: float  # median absolute deviation of beats from the median beat (signal units)


@dataclass
class BeatDelineation:
    qrs_onset_s: float | None = None
    qrs_offset_s: float | None = None
    t_peak_s: float | None = None
    t_end_s: float | None = None
    p_peak_s: float | None = None
    p_onset_s: float | None = None
    p_offset_s: float | None = None
    p_present: bool = False
    pr_ms: float | None = None
    qrs_ms: float | None = None
    qt_ms: float | None = None
    p_ms: float | None = None  # P-wave duration, onset to offset by the same tangent rule
    problems: tuple[str, ...] = ()


def dominant_beats(r_peaks: np.ndarray, fs: float, n_samples: int) -> tuple[np.ndarray, float | None]:
    """Beats whose preceding and following RR are within 20% of the median RR, and whose window fits
    inside the recording; with the median RR in seconds."""
    r = np.asarray(r_peaks, dtype=int)
    if len(r) < 3:
        return r[(r - BEFORE_S * fs >= 0) & (r + AFTER_S * fs < n_samples)], None
    rr = np.diff(r) / fs
    med = float(np.median(rr))
    ok = np.ones(len(r), dtype=bool)
    ok[1:] &= np.abs(rr - med) <= 0.2 * med
    ok[:-1] &= np.abs(rr - med) <= 0.2 * med
    fits = (r - BEFORE_S * fs >= 0) & (r + AFTER_S * fs < n_samples)
    chosen = r[ok & fits]
    if len(chosen) < 3:  # irregular rhythm: fall back to every beat that fits
        chosen = r[fits]
    return chosen, med


def median_beat(x: np.ndarray, beats: np.ndarray, fs: float) -> MedianBeat | None:
    b, a = int(BEFORE_S * fs), int(AFTER_S * fs)
    rows = np.array([x[p - b : p + a + 1] for p in beats if p - b >= 0 and p + a < len(x)])
    if len(rows) == 0:
        return None
    med = np.median(rows, axis=0)
    if len(rows) >= 4:
        # drop beats unlike the first median (ectopics that slipped through, artefacts)
        corr = np.array([_corr(r, med) for r in rows])
        keep = corr >= 0.8
        if keep.sum() >= 3:
            rows = rows[keep]
            med = np.median(rows, axis=0)
    corr = np.array([_corr(r, med) for r in rows])
    noise = float(np.median(np.abs(rows - med))) if len(rows) > 1 else 0.0
    return MedianBeat(med, b, len(rows), float(np.mean(corr)), noise)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / d) if d > 0 else 0.0


def _tangent_crossing(m: np.ndarray, i: int, slope: float, level: float) -> float | None:
    if slope == 0:
        return None
    return i + (level - m[i]) / slope


def delineate_beat(mb: MedianBeat, fs: float, rr_s: float | None) -> BeatDelineation:
    """Delineate one median beat (see module docstring): QRS, then T wave, then P wave, then plausibility."""
    m = mb.beat
    ms = fs / 1000.0
    d = np.gradient(m)
    env = moving_average(np.abs(d), max(int(16 * ms), 1))
    bounds = _qrs_bounds(env, mb.r_index, ms, len(m))
    if isinstance(bounds, str):
        return BeatDelineation(problems=(bounds,))
    on, off = bounds
    r = mb.r_index
    out = BeatDelineation(qrs_onset_s=(on - r) / fs, qrs_offset_s=(off - r) / fs, qrs_ms=(off - on) / ms)
    iso = float(np.median(m[max(0, on - int(30 * ms)) : max(1, on - int(8 * ms))]))
    problems = _delineate_t_wave(mb, fs, rr_s, on, off, iso, out)
    problems += _delineate_p_wave(mb, fs, rr_s, on, off, iso, d, out)
    problems += _discard_implausible(out)
    out.problems = tuple(problems)
    return out


def _qrs_bounds(env: np.ndarray, r: int, ms: float, n: int) -> tuple[int, int] | str:
    """QRS onset and offset indices, or the problem.

    Outward from R until the slope envelope drops below 5% of its QRS maximum, or, once it is under 10%,
    until it turns up again (a P wave close to the QRS, or an early steep T wave, keeps the slope above 5%;
    the valley between them is the boundary).
    """
    core = env[max(0, r - int(60 * ms)) : r + int(60 * ms) + 1]
    if core.size == 0 or core.max() <= 0:
        return "no QRS slope at the R fiducial"
    thr, valley = 0.05 * core.max(), 0.10 * core.max()
    lo_lim, hi_lim = max(1, r - int(150 * ms)), min(n - 2, r + int(200 * ms))
    on = r
    while on > lo_lim and env[on] >= thr and not (env[on] < valley and env[on - 1] > env[on]):
        on -= 1
    off = r
    while off < hi_lim and env[off] >= thr and not (env[off] < valley and env[off + 1] > env[off]):
        off += 1
    if on <= lo_lim or off >= hi_lim:
        return "QRS boundaries not found"
    return on, off


def _delineate_t_wave(
    mb: MedianBeat, fs: float, rr_s: float | None, on: int, off: int, iso: float, out: BeatDelineation
) -> list[str]:
    """T peak, T end and QT into ``out``: the largest deflection from the isoelectric level after the ST
    segment, its end by the tangent to the steepest point of the descending limb. Returns the problems."""
    m, r, ms = mb.beat, mb.r_index, fs / 1000.0
    rr = rr_s if rr_s else 1.0
    t_lo = off + int(60 * ms)
    t_hi = min(len(m) - 1, r + int(min(0.60, 0.65 * rr) * fs))
    if t_hi - t_lo <= int(40 * ms):
        return ["no room for a T wave before the next beat"]
    seg = m[t_lo:t_hi] - iso
    tp = t_lo + int(np.argmax(np.abs(seg)))
    amp = m[tp] - iso
    out.t_peak_s = (tp - r) / fs
    if abs(amp) < max(3 * mb.noise, 0.02 * np.ptp(m[on : off + 1]), 1e-9):
        return ["T wave too flat to find its end"]
    # the descending limb ends at the first turning point after the peak (beyond it lies the next P wave
    # at fast rates), and at most 150 ms after the peak
    end_lim = min(len(m) - 2, r + int(max(0.2, rr - 0.1) * fs), tp + int(150 * ms))
    ds = np.gradient(moving_average(m, max(int(20 * ms), 1)))
    k_end = tp + 1
    while k_end < end_lim and (ds[k_end] < 0 if amp > 0 else ds[k_end] > 0) or k_end < tp + int(20 * ms):
        k_end += 1
        if k_end >= end_lim:
            break
    limb = ds[tp:k_end]
    if limb.size < 3:
        return ["T wave runs past the beat window"]
    # the descending limb of a positive T has the most negative slope (and vice versa)
    k = tp + int(np.argmin(limb) if amp > 0 else np.argmax(limb))
    te = _tangent_crossing(m, k, ds[k], iso)
    if te is None or te <= tp:
        return ["T-wave tangent does not reach the baseline"]
    out.t_end_s = (te - r) / fs
    out.qt_ms = (te - on) / ms
    return []


def _delineate_p_wave(
    mb: MedianBeat,
    fs: float,
    rr_s: float | None,
    on: int,
    off: int,
    iso: float,
    d: np.ndarray,
    out: BeatDelineation,
) -> list[str]:
    """P presence, peak, onset (PR) and offset (P duration) into ``out``: the largest deflection
    60-300 ms before QRS onset, but after the previous beat's T wave. Returns the problems."""
    m, r, ms = mb.beat, mb.r_index, fs / 1000.0
    p_hi = on - int(40 * ms)
    p_lo = on - int(300 * ms)
    if out.t_end_s is not None and rr_s:
        p_lo = max(p_lo, int(r + (out.t_end_s - rr_s) * fs) + int(20 * ms))
    p_lo = max(p_lo, 1)
    if p_hi - p_lo <= int(40 * ms):
        return ["no room for a P wave after the previous T wave"]
    seg = m[p_lo:p_hi] - iso
    pp = p_lo + int(np.argmax(np.abs(seg)))
    pamp = m[pp] - iso
    # a P wave stands out from the noise, is not cut by the window edge, and is separated from the QRS by
    # a PR segment (the signal returns at least halfway to the baseline in between)
    between = np.abs(m[pp : on + 1] - iso)
    separated = between.size > 0 and between.min() <= 0.5 * abs(pamp)
    present = (
        abs(pamp) >= max(3 * mb.noise, 0.015 * np.ptp(m[on : off + 1]))
        and pp > p_lo + int(20 * ms)
        and separated
    )
    out.p_present = bool(present)
    if not present:
        return ["no P wave distinguishable from noise"]
    out.p_peak_s = (pp - r) / fs
    lim = max(p_lo, pp - int(80 * ms))
    limb = d[lim:pp]
    if limb.size >= 3:
        k = lim + int(np.argmax(limb) if pamp > 0 else np.argmin(limb))
        po = _tangent_crossing(m, k, d[k], iso)
        if po is not None and po < pp:
            out.p_onset_s = (po - r) / fs
            out.pr_ms = (on - po) / ms
    # P offset: the tangent at the steepest point of the descending limb meets the baseline (the rule used
    # for the onset, mirrored), searched between the P peak and the QRS onset.
    hi = min(on, pp + int(80 * ms))
    limb = d[pp + 1 : hi]
    if limb.size >= 3 and out.p_onset_s is not None:
        k = pp + 1 + int(np.argmin(limb) if pamp > 0 else np.argmax(limb))
        pe = _tangent_crossing(m, k, d[k], iso)
        if pe is not None and pp < pe <= on:
            out.p_offset_s = (pe - r) / fs
            out.p_ms = (out.p_offset_s - out.p_onset_s) * 1000.0
    return []


def _discard_implausible(out: BeatDelineation) -> list[str]:
    """Intervals outside physiological ranges are set to None; returns what was discarded."""
    problems = []
    for name, lo, hi in (
        ("pr_ms", *PR_RANGE_MS),
        ("qrs_ms", *QRS_RANGE_MS),
        ("qt_ms", *QT_RANGE_MS),
        ("p_ms", *P_RANGE_MS),
    ):
        v = getattr(out, name)
        if v is not None and not lo <= v <= hi:
            problems.append(f"{name[:-3].upper()} {v:.0f} ms outside {lo:.0f}-{hi:.0f} ms, discarded")
            setattr(out, name, None)
    return problems


def qtc_bazett(qt_ms: float, rr_s: float) -> float:
    return qt_ms / np.sqrt(rr_s)


def qtc_fridericia(qt_ms: float, rr_s: float) -> float:
    return qt_ms / np.cbrt(rr_s)


def p_wave_presence(
    x_clean: np.ndarray, r_peaks: np.ndarray, fs: float, mb: MedianBeat, d: BeatDelineation
) -> tuple[float | None, int]:
    """Share of beats with a P wave like the median beat's: the ±60 ms window around the median P peak
    must correlate >= 0.5 with the median's and reach 40% of its amplitude. Returns (share, beats
    tested); the share is 0.0 when the median beat itself has no distinguishable P wave, and None when
    no beat could be tested."""
    half = int(0.06 * fs)
    if not d.p_present or d.p_peak_s is None:
        tested = int(np.sum(r_peaks - BEFORE_S * fs >= 0))
        return (0.0, tested) if tested else (None, 0)
    c = mb.r_index + round(d.p_peak_s * fs)
    tmpl = mb.beat[c - half : c + half + 1]
    if len(tmpl) < 2 * half + 1 or np.ptp(tmpl) == 0:
        return None, 0
    off = c - mb.r_index
    present = tested = 0
    for r in np.asarray(r_peaks, dtype=int):
        a, b = r + off - half, r + off + half + 1
        if a < 0 or b > len(x_clean):
            continue
        seg = x_clean[a:b]
        tested += 1
        if _corr(seg, tmpl) >= 0.5 and np.ptp(seg) >= 0.4 * np.ptp(tmpl):
            present += 1
    return (present / tested if tested else None), tested
