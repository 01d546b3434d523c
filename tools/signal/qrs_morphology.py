"""QRS morphology on aligned median beats: global QRS bounds across leads, the waves of one lead's QRS
(Q, R, S, R', S'), their amplitudes and durations, notching, R-peak time, net area and the frontal axis.

Pure functions on numpy arrays (in the spirit of neurokit2's ``ecg_*`` helpers): no recording, no
quality flags. Every median beat of a record shares one time base (the beats of all leads are aligned on
the R fiducials of one lead), so one global QRS window applies to every lead, as in interpretation
programs (e.g. GE 12SL, Glasgow): onset = earliest onset, offset = latest offset across leads (here the
3rd earliest and 3rd latest, against outlying leads), and each lead's waves are read inside that window.

Wave recognition: the QRS minus the isoelectric level is cut at its zero crossings; a part whose peak
reaches ``min_amp`` is a wave, smaller parts are ignored (a wiggle on the baseline is no wave), adjacent
waves of one sign are merged (their dip is a notch). Positive waves are R, R', ..., negative ones Q
(before the first R), S (after it), S'. Letters follow the convention: capital when the wave reaches half
the largest wave of the lead, small otherwise (``rsR'``, ``qR``, ``rS``, ``QS``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Wave:
    name: str  # Q, R, S, R', S', R'', ...
    sign: int  # +1 or -1
    start: int  # sample index in the beat
    end: int
    peak: int
    amplitude: float  # signed, signal units relative to the isoelectric level
    notched: bool = False  # two peaks inside one deflection (a dip that does not cross the baseline)

    def duration_ms(self, fs: float) -> float:
        return (self.end - self.start) * 1000.0 / fs


@dataclass
class QrsShape:
    waves: list[Wave] = field(default_factory=list)
    pattern: str = ""  # "rsR'", "qR", "rS", "QS", ...
    iso: float = 0.0
    min_amp: float = 0.0
    net_area: float = 0.0  # signal units x ms over the QRS window
    qrs_ms: float = 0.0

    def first(self, name: str) -> Wave | None:
        return next((w for w in self.waves if w.name == name), None)

    @property
    def positives(self) -> list[Wave]:
        return [w for w in self.waves if w.sign > 0]

    @property
    def negatives(self) -> list[Wave]:
        return [w for w in self.waves if w.sign < 0]


def global_qrs_bounds(onsets: list[int], offsets: list[int], k: int = 3) -> tuple[int | None, int | None]:
    """Global QRS onset and offset (sample indices on the shared time base) from per-lead bounds: the
    k-th earliest onset and the k-th latest offset, i.e. the span during which at least ``k`` leads show
    the QRS under way. One or two leads whose delineation ran into the P or T wave cannot stretch the QRS,
    while a wide QRS seen in a few leads (V1-V3 and I in right bundle branch block) is kept. With fewer than
    ``k`` leads, the median bounds."""
    on = sorted(int(x) for x in onsets)
    off = sorted((int(x) for x in offsets), reverse=True)
    if not on or not off:
        return None, None
    if len(on) < k or len(off) < k:
        return int(np.median(on)), int(np.median(off))
    return on[k - 1], off[k - 1]


def isoelectric_level(beat: np.ndarray, onset: int, fs: float) -> float:
    """Median of the PR segment just before the QRS onset (30 to 8 ms before it)."""
    a, b = max(0, onset - int(0.030 * fs)), max(1, onset - int(0.008 * fs))
    return float(np.median(beat[a:b])) if b > a else float(beat[max(0, onset)])


def _notched(seg: np.ndarray, sign: int, fs: float) -> bool:
    """Two peaks of one deflection, each >= 30% of its peak, >= 20 ms apart, with a dip below 85% of the
    smaller one between them."""
    y = sign * seg
    if y.size < 5:
        return False
    top = y.max()
    idx = [i for i in range(1, y.size - 1) if y[i] >= y[i - 1] and y[i] > y[i + 1] and y[i] >= 0.3 * top]
    gap = int(0.020 * fs)
    for a in range(len(idx)):
        for b in range(a + 1, len(idx)):
            i, j = idx[a], idx[b]
            if j - i >= gap and y[i : j + 1].min() <= 0.85 * min(y[i], y[j]):
                return True
    return False


def qrs_waves(
    beat: np.ndarray, onset: int, offset: int, fs: float, min_amp: float, iso: float | None = None
) -> QrsShape:
    """The waves of one lead inside the QRS window ``[onset, offset]`` (see the module docstring)."""
    iso = isoelectric_level(beat, onset, fs) if iso is None else iso
    x = beat[onset : offset + 1] - iso
    shape = QrsShape(
        iso=iso,
        min_amp=min_amp,
        qrs_ms=(offset - onset) * 1000.0 / fs,
        net_area=float(np.sum(x)) * 1000.0 / fs if x.size else 0.0,
    )
    if x.size < 3:
        return shape
    sgn = np.sign(x)
    sgn[sgn == 0] = 1
    cuts = [0] + [i for i in range(1, x.size) if sgn[i] != sgn[i - 1]] + [x.size]
    parts: list[tuple[int, int, int]] = []  # (sign, start, end) relative to onset
    for a, b in itertools.pairwise(cuts):
        s = int(sgn[a])
        if np.max(s * x[a:b]) >= min_amp:
            if parts and parts[-1][0] == s:  # a sub-threshold dip between two waves of one sign: one wave
                parts[-1] = (s, parts[-1][1], b)
            else:
                parts.append((s, a, b))
    waves: list[Wave] = []
    n_pos = n_neg = 0
    for s, a, b in parts:
        seg = x[a:b]
        k = a + int(np.argmax(s * seg))
        if s > 0:
            name = "R" + "'" * n_pos
            n_pos += 1
        elif n_pos == 0:
            name = "Q"
        else:
            name = "S" + "'" * (n_neg - (1 if any(w.name == "Q" for w in waves) else 0))
        if s < 0:
            n_neg += 1
        waves.append(
            Wave(
                name=name,
                sign=s,
                start=onset + a,
                end=onset + b,
                peak=onset + k,
                amplitude=float(x[k]),
                notched=_notched(seg, s, fs),
            )
        )
    # a QS complex: one negative wave and nothing positive
    if len(waves) == 1 and waves[0].sign < 0:
        waves[0].name = "QS"
    shape.waves = waves
    big = max((abs(w.amplitude) for w in waves), default=0.0)
    shape.pattern = "".join(
        (w.name if abs(w.amplitude) >= 0.5 * big else w.name[0].lower() + w.name[1:]) for w in waves
    )
    return shape


def r_peak_time_ms(shape: QrsShape, onset: int, fs: float) -> float | None:
    """Onset of the QRS to the peak of its last R wave (R' when present), the 'R-peak time' of the AHA
    recommendations; None without an R wave."""
    pos = shape.positives
    return None if not pos else (pos[-1].peak - onset) * 1000.0 / fs


def terminal_s_ms(shape: QrsShape, fs: float) -> float:
    """Duration of the last negative wave that follows an R wave (0 when there is none)."""
    pos = shape.positives
    if not pos:
        return 0.0
    after = [w for w in shape.negatives if w.start >= pos[0].end]
    return after[-1].duration_ms(fs) if after else 0.0


def frontal_axis(area_i: float, area_avf: float) -> float | None:
    """Mean frontal QRS axis in degrees (-180..180] from the net QRS areas of leads I (0°) and aVF (+90°),
    which are perpendicular on the hexaxial reference system.

    The two leads do not read the heart's vector with the same gain: on Einthoven's triangle lead I is the
    vector's projection E·cos θ, while Goldberger's augmented aVF = II - I/2 is (√3/2)·E·sin θ. So the
    tangent of the axis is 2·aVF / (√3·I), the textbook formula; the plain ratio aVF / I pulls every axis
    towards 0° or 180° by up to 4° (a -45° axis read as -41°), which moves records across the -30° and -45°
    limits of left axis deviation and left anterior fascicular block."""
    if area_i == 0 and area_avf == 0:
        return None
    return float(np.degrees(np.arctan2(area_avf * 2.0 / np.sqrt(3.0), area_i)))


def sigmoid(x: float, centre: float, scale: float) -> float:
    """Soft threshold: 0.5 at ``centre``, rising with ``x`` (falling when ``scale`` < 0)."""
    return float(1.0 / (1.0 + np.exp(np.clip(-(x - centre) / scale, -500.0, 500.0))))


# ----- ST segment and T wave on a median beat ----------------------------------------------------------


@dataclass
class StT:
    """ST level at the J point and J+60 / J+80 ms, and the T-wave amplitude, from the isoelectric level
    (signal units)."""

    st_j: float
    st_60: float
    st_80: float
    t_amplitude: float


def st_t_levels(beat: np.ndarray, onset: int, j: int, fs: float, t_until: int) -> StT | None:
    """ST levels and T amplitude of one lead's median beat. ``onset``: global QRS onset (the isoelectric
    level is the PR segment before it); ``j``: global QRS offset, the J point; ``t_until``: last sample of
    the T-wave search. The ST level is the mean of 10 ms around each instant (against a single noisy
    sample); the T amplitude is the signed largest deviation 100 ms after J to ``t_until``. None when the
    beat is too short."""
    iso = isoelectric_level(beat, onset, fs)
    h = max(1, int(0.005 * fs))

    def level(i: int) -> float:
        return float(np.mean(beat[max(0, i - h) : i + h + 1]) - iso)

    i60, i80, t0 = j + int(0.060 * fs), j + int(0.080 * fs), j + int(0.100 * fs)
    t1 = min(len(beat) - 1, t_until)
    if t1 - t0 < int(0.040 * fs) or i80 + h >= len(beat):
        return None
    seg = beat[t0 : t1 + 1] - iso
    k = int(np.argmax(np.abs(seg)))
    return StT(st_j=level(j), st_60=level(i60), st_80=level(i80), t_amplitude=float(seg[k]))


# ----- beat-by-beat: premature complexes ----------------------------------------------------------------


EDGE_S = 0.3  # beats this close to either end are not judged
# chosen on PTB-XL folds 1-8 among 0 / 0.2 / 0.3 / 0.5 s: 6 / 2 / 1 / 1 false ventricular premature complexes


@dataclass
class BeatFeature:
    """One beat of a lead against the dominant (median) beat: prematurity and shape."""

    sample: int  # R fiducial
    rr_ratio: float | None  # preceding RR / median of the up to 8 RRs before it (None: first beat)
    correlation: float  # best correlation of its QRS (-80..+120 ms) with the median beat's, lags up to 30 ms
    qrs_ms: float | None = None  # filled by the caller when the beat is delineated


def _best_corr(x: np.ndarray, r: int, template: np.ndarray, t_r: int, fs: float) -> float:
    a, b, lag = int(0.080 * fs), int(0.120 * fs), int(0.030 * fs)
    ref = template[t_r - a : t_r + b + 1]
    best = -1.0
    for s in range(-lag, lag + 1, max(1, int(0.004 * fs))):
        lo, hi = r + s - a, r + s + b + 1
        if lo < 0 or hi > len(x) or ref.size != hi - lo:
            continue
        seg, rr = x[lo:hi] - np.mean(x[lo:hi]), ref - np.mean(ref)
        d = float(np.linalg.norm(seg) * np.linalg.norm(rr))
        if d > 0:
            best = max(best, float(seg @ rr / d))
    return best


def beat_features(
    x: np.ndarray, peaks: np.ndarray, fs: float, template: np.ndarray, t_r: int, edge_s: float = EDGE_S
) -> list[BeatFeature]:
    """Every beat's prematurity (its RR over the median of the up to 8 RRs before it, the first beats
    against the record's median RR) and QRS shape correlation with the dominant beat ``template``
    (R fiducial at ``t_r``), for the ventricular-premature-complex statement. Beats within ``edge_s`` of
    either end are left out: there the filters' edge effects and a cut-off QRS distort shape and R timing."""
    r = np.asarray(peaks, dtype=int)
    rr = np.diff(r).astype(float)
    med_all = float(np.median(rr)) if rr.size else 0.0
    out = []
    for i, p in enumerate(r):
        if p < edge_s * fs or p > len(x) - edge_s * fs:
            continue
        ratio = None
        if i > 0 and med_all > 0:
            prev = rr[max(0, i - 9) : i - 1]
            base = float(np.median(prev)) if prev.size >= 2 else med_all
            ratio = float(rr[i - 1] / base)
        out.append(BeatFeature(int(p), ratio, _best_corr(x, int(p), template, t_r, fs)))
    return out


def q_duration_ms(beat: np.ndarray, wave: Wave, iso: float, fs: float, lead_in: float) -> float:
    """Duration of an initial negative wave (Q or QS) from where it leaves the baseline, not from the
    global QRS onset: the global onset is the earliest across leads, so in a lead whose QRS starts later the
    stretch before its own onset sits on the baseline, and its noise below the isoelectric level would join
    the Q wave and lengthen it. The Q wave starts at the last sample before its peak within ``lead_in`` x
    its depth of the baseline (0: the zero crossing, as ``qrs_waves``)."""
    x = beat[wave.start : wave.peak + 1] - iso
    near = np.flatnonzero(np.abs(x) <= lead_in * abs(wave.amplitude))
    start = wave.start + (int(near[-1]) if near.size and lead_in > 0 else 0)
    return (wave.end - start) * 1000.0 / fs
