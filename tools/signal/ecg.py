"""ECG signal math: cleaning and R-peak detection by consensus of several published detectors, checked
beat by beat against the median beat and against the rhythm.

The method has three published parts and no rule written for a particular recording:

1. **Multi-detector consensus.** Eight detectors shipped with neurokit2 (Makowski et al. 2021) run on
   the lead: neurokit, Elgendi et al. (2010), Kalidas & Tamil (2017), Hamilton (2002), Pan & Tompkins
   (1985), Engelse & Zeelenberg (1979) as modified by Lourenco et al. (2012), Rodrigues et al. (2021)
   and Nabian et al. (2018). On noisy single leads each fails in its own way (doubling on tall T
   waves, losing beats after an artefact, locking onto baseline jumps); their errors are mostly
   independent, their hits coincide. Each detector's peaks are moved onto one fiducial (the largest
   |5-30 Hz| sample within 75 ms, so filter delays do not split a beat), peaks within 50 ms are one
   beat, and a beat is accepted when at least half of the detectors found it (a detector that raised
   or found fewer beats than 20 bpm gives abstains). Voting over detectors is the fusion of Johnson et
   al. (2015, Physiol Meas 36:1665) and the bSQI of Li, Mark & Clifford (2008, Physiol Meas 29:15),
   applied beat by beat.
2. **Template matching.** Every candidate is correlated with the median of the accepted beats, each
   window aligned within 20 ms (Orphanidou et al. 2015, IEEE JBHI 19:832: a beat correlating under
   0.66 with the template is not a typical beat). The template is re-formed after every change. A
   candidate found by a quarter of the detectors is accepted too when it passes both QRS tests (the
   template, and Pan & Tompkins' half steepness), because one artefact often throws several detectors.
3. **RR plausibility** (limits as fractions of the median RR of the strip). (a) No two beats within
   the 200 ms refractory period (Pan & Tompkins 1985): the one with less evidence (vote share +
   template correlation) goes. (b) An interval under 360 ms whose second (or first) wave has under half
   the steepness of the other is a T (or P) wave (Pan & Tompkins' T-wave discrimination). (c) Lipponen
   & Tarvainen's (2019, J Med Eng Technol 43:173) "extra beat", extended to runs: short intervals that
   together make fewer normal intervals than they are; the beat inside with least evidence goes (in an
   irregular rhythm only one failing the template test, so that true beats stay). (d) Pan & Tompkins'
   search-back: inside an interval over 166% of the median RR, the candidate (seen by any detector)
   that looks like a QRS (template correlation >= 0.66, or half the median steepness) is recovered; in
   any interval longer than normal, one that passes both tests. (e) An interval that still holds room
   for a missed beat (Lipponen & Tarvainen's "missed beat": about twice the median RR) while the rest of
   the rhythm is regular is reported (``gaps``), so that a rate leaves it out instead of counting one
   long interval (neurokit2's ``signal_fixpeaks`` would interpolate a beat there).

These replace the earlier rules written on all 25 shared CPSC-2019 records (T waves by short-long
alternation with 0.4 s / 0.6 / 0.7 ratios, "too close" at 0.4 median RR, the odd-edge rule, gap
filling from 15% or 25% of the votes at 1.6 / 1.75 median RR, and edge extension).

Published values are used as published (half the votes, the 0.66 correlation, Pan & Tompkins' 200 ms,
360 ms, half steepness and 166%). RR_TOL, the quarter-vote shape rule and the thresholds of
``detection_quality`` were chosen looking at the tune half of the CPSC-2019 records (with noise-burst
copies of them) and at MIT-BIH 100 strips with added noise, never at the reporting half (see
bench/ecg_heart_rate.py).

On a clean, regular signal the first three detectors agree beat for beat; the rest are then skipped
(the fast path). Nothing here looks at reference annotations.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from cardioagent.tools.signal.filters import (
    bandpass,
    fill_gaps,
    lowpass,
    remove_baseline,
    remove_powerline,
)
from cardioagent.tools.signal.quality import Quality

# Published detectors shipped with neurokit2, in the order they are tried. The first FAST_DETECTORS
# decide the fast path; the rest join only when those disagree.
DETECTORS: tuple[str, ...] = (
    "neurokit",
    "elgendi2010",
    "kalidas2017",
    "hamilton2002",
    "pantompkins1985",
    "engzeemod2012",
    "rodrigues2021",
    "nabian2018",
)
FAST_DETECTORS = 3
# Detectors whose authors specify their own pre-filter; the others get neurokit's cleaning.
_OWN_CLEANING = {"pantompkins1985", "hamilton2002", "elgendi2010", "engzeemod2012"}

REFRACTORY_S = 0.2  # Pan & Tompkins (1985): no two ventricular beats closer than 200 ms
SNAP_WINDOW_S = 0.075
MATCH_TOL_S = 0.05  # peaks of different detectors within this are the same beat (after snapping)
EDGE_S = 0.1  # a QRS cut by the recording's edge cannot be confirmed
MIN_VOTES = 0.5  # a beat needs half of the detectors (of those that did not fail: see MIN_BPM)
MIN_BPM = 20.0  # a detector finding fewer beats than this rate gives has failed on the lead and abstains
TEMPLATE_MIN_CORR = 0.66  # Orphanidou et al. (2015): correlation with the average beat of a typical beat
T_WAVE_RR_S = 0.36  # Pan & Tompkins (1985): intervals under 360 ms are checked for a T wave ...
T_WAVE_SLOPE = 0.5  # ... whose steepness is under half that of the QRS beside it
SEARCH_BACK_RR = 1.66  # Pan & Tompkins (1985): search back for a missed beat past 166% of the RR average
# Tolerance of the Lipponen-Tarvainen tests (c) and (e), as a fraction of the median RR (their adaptive
# threshold needs a long clean series, see _Beats.threshold). Chosen on the tune split.
RR_TOL = 0.2


def ecg_clean(x: np.ndarray, fs: float, powerline="auto") -> np.ndarray:
    """0.5 Hz baseline removal, mains notch (auto 50/60 Hz), 40 Hz low-pass. NaNs are interpolated."""
    y = fill_gaps(x)
    y = remove_baseline(y, fs, 0.5)
    y, _ = remove_powerline(y, fs, powerline)
    return lowpass(y, fs, 40.0)


def qrs_band(x: np.ndarray, fs: float) -> np.ndarray:
    """5-30 Hz band where QRS energy dominates P/T waves and baseline wander."""
    return bandpass(fill_gaps(x), fs, 5.0, 30.0, order=2)


def detector_peaks(x: np.ndarray, fs: float, method: str, _cache: dict | None = None) -> np.ndarray:
    """R-peaks (sample indices) from one neurokit2 detector on the raw signal ``x``; an empty array
    when the detector fails (several raise on short or flat input)."""
    import neurokit2 as nk

    clean_method = method if method in _OWN_CLEANING else "neurokit"
    cache = _cache if _cache is not None else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if clean_method not in cache:
                cache[clean_method] = nk.ecg_clean(fill_gaps(x), sampling_rate=fs, method=clean_method)
            info = nk.ecg_findpeaks(cache[clean_method], sampling_rate=fs, method=method)
        peaks = np.asarray(info["ECG_R_Peaks"], dtype=float)
    except Exception:  # noqa: BLE001 - a failing detector is simply out of the vote
        return np.array([], dtype=int)
    peaks = peaks[np.isfinite(peaks)].astype(int)
    return np.unique(peaks[(peaks >= 0) & (peaks < len(x))])


def snap_peaks(
    peaks: np.ndarray, envelope: np.ndarray, fs: float, window_s: float = SNAP_WINDOW_S
) -> np.ndarray:
    """Move each peak to the envelope maximum within ±window_s, so all detectors share one fiducial."""
    h = max(int(window_s * fs), 1)
    out = []
    for p in np.asarray(peaks, dtype=int):
        lo, hi = max(0, p - h), min(len(envelope), p + h + 1)
        if hi > lo:
            out.append(lo + int(np.argmax(envelope[lo:hi])))
    return np.unique(np.asarray(out, dtype=int))


def vote_peaks(
    candidates: list[np.ndarray], fs: float, tol_s: float = MATCH_TOL_S
) -> tuple[np.ndarray, np.ndarray]:
    """Group the peaks of all detectors into beats (single linkage within ``tol_s``) and return each
    beat's position (median of its members) and the fraction of detectors that found it."""
    pooled = sorted((int(p), k) for k, ps in enumerate(candidates) for p in ps)
    groups: list[tuple[list[int], set[int]]] = []
    for p, k in pooled:
        if groups and p - groups[-1][0][-1] <= tol_s * fs:
            groups[-1][0].append(p)
            groups[-1][1].add(k)
        else:
            groups.append(([p], {k}))
    n = max(len(candidates), 1)
    positions = np.array([int(np.median(ps)) for ps, _ in groups], dtype=int)
    votes = np.array([len(ks) / n for _, ks in groups], dtype=float)
    return positions, votes


def match_peaks(a: np.ndarray, b: np.ndarray, tol: float) -> int:
    """Number of one-to-one matches between two sorted peak arrays within ``tol`` samples."""
    a, b = np.asarray(a), np.asarray(b)
    i = j = hits = 0
    while i < len(a) and j < len(b):
        d = a[i] - b[j]
        if abs(d) <= tol:
            hits += 1
            i += 1
            j += 1
        elif d < 0:
            i += 1
        else:
            j += 1
    return hits


def peak_f1(a: np.ndarray, b: np.ndarray, fs: float, tol_s: float = 0.15) -> float:
    if len(a) + len(b) == 0:
        return 1.0
    return 2.0 * match_peaks(np.sort(a), np.sort(b), tol_s * fs) / (len(a) + len(b))


def beat_windows(x: np.ndarray, peaks: np.ndarray, fs: float, before_s: float, after_s: float) -> np.ndarray:
    """Stack of x[p - before : p + after] for every peak whose window fits inside the signal."""
    b, a = int(before_s * fs), int(after_s * fs)
    rows = [x[p - b : p + a + 1] for p in np.asarray(peaks, dtype=int) if p - b >= 0 and p + a < len(x)]
    return np.array(rows) if rows else np.empty((0, a + b + 1))


ALIGN_S = 0.02  # a noisy beat's fiducial may sit on a neighbouring lobe: windows are aligned within ±20 ms


def _best_corr(x: np.ndarray, p: int, h: int, lag: int, tmpl: np.ndarray, tn: float) -> tuple[float, int]:
    """Highest Pearson correlation of x[q-h : q+h+1] with ``tmpl`` over q within p ± lag, and that q."""
    best, at = -np.inf, p
    for q in range(p - lag, p + lag + 1):
        if q - h < 0 or q + h >= len(x):
            continue
        w = x[q - h : q + h + 1]
        w = w - w.mean()
        wn = np.linalg.norm(w)
        c = float(w @ tmpl / (wn * tn)) if wn > 0 else 0.0
        if c > best:
            best, at = c, q
    if not np.isfinite(best):
        return 0.0, p
    return best, at


def template_correlation(
    x: np.ndarray, positions: np.ndarray, reference: np.ndarray, fs: float
) -> np.ndarray:
    """Correlation of the ±80 ms window at each position with the median beat of ``reference`` (the
    template matching of Orphanidou et al. 2015 / Li & Clifford), each window aligned within ±20 ms.
    The template is formed twice: from the windows as given, then from the windows aligned to that
    first median. 0 where a window does not fit or no template can be formed."""
    h = int(0.08 * fs)
    lag = int(ALIGN_S * fs)
    ref = beat_windows(x, reference, fs, 0.08, 0.08)
    out = np.zeros(len(positions))
    if len(ref) < 2:
        return out
    tmpl = np.median(ref, axis=0)
    tmpl = tmpl - tmpl.mean()
    tn = float(np.linalg.norm(tmpl))
    if tn == 0:
        return out
    aligned = [_best_corr(x, int(p), h, lag, tmpl, tn)[1] for p in np.asarray(reference, dtype=int)]
    ref2 = beat_windows(x, np.asarray(aligned, dtype=int), fs, 0.08, 0.08)
    if len(ref2) >= 2:
        t2 = np.median(ref2, axis=0)
        t2 = t2 - t2.mean()
        if np.linalg.norm(t2) > 0:
            tmpl, tn = t2, float(np.linalg.norm(t2))
    for i, p in enumerate(np.asarray(positions, dtype=int)):
        out[i] = _best_corr(x, int(p), h, lag, tmpl, tn)[0]
    return out


@dataclass
class _Beats:
    """Candidate beats and their evidence; ``sel`` holds indices of the beats currently accepted."""

    pos: np.ndarray
    votes: np.ndarray
    amp: np.ndarray  # 10-40 Hz amplitude around the beat (steepness): QRS is steep, T and P waves are not
    corr: np.ndarray  # correlation with the median accepted beat
    fs: float
    sel: list[int] = field(default_factory=list)
    removed: set[int] = field(default_factory=set)  # never re-added: every step is final, so no cycles
    notes: list[str] = field(default_factory=list)

    def rr(self) -> np.ndarray:
        return np.diff(self.pos[self.sel])

    def median_rr(self) -> float:
        r = self.rr()
        return float(np.median(r)) if len(r) else 0.0

    def threshold(self) -> float:
        """Limit for "this interval is not normal", in samples: RR_TOL of the median RR. (Lipponen &
        Tarvainen's adaptive limit, 5.2 quartile deviations, needs a long and mostly clean series: in a
        10-s strip the artefacts themselves inflate it beyond the median RR.)"""
        return RR_TOL * float(np.median(self.rr()))

    def drop(self, i: int, why: str) -> None:
        self.sel.remove(i)
        self.removed.add(i)
        self.notes.append(f"{why} at {self.pos[i] / self.fs:.2f} s")

    def add(self, i: int, why: str) -> None:
        self.sel.append(i)
        self.sel.sort()
        self.notes.append(f"{why} at {self.pos[i] / self.fs:.2f} s")

    def strength(self, i: int) -> float:
        """Evidence that candidate ``i`` is a beat: its vote share plus its correlation with the median beat."""
        return float(self.votes[i] + self.corr[i])


def _drop_refractory(b: _Beats) -> bool:
    """(a) Two beats within the 200 ms refractory period: the one with less evidence goes."""
    r = b.rr()
    for k in np.flatnonzero(r < REFRACTORY_S * b.fs):
        i, j = b.sel[k], b.sel[k + 1]
        b.drop(i if b.strength(i) < b.strength(j) else j, "refractory")
        return True
    return False


def _drop_t_waves(b: _Beats) -> bool:
    """(b) Pan & Tompkins' T-wave discrimination: in an interval under 360 ms, a wave with under half
    the steepness of the beat beside it is a T (or P) wave. The clearest case goes first."""
    r = b.rr()
    worst, ratio = None, T_WAVE_SLOPE
    for k in np.flatnonzero(r < T_WAVE_RR_S * b.fs):
        i, j = b.sel[k], b.sel[k + 1]
        weak, strong = (i, j) if b.amp[i] < b.amp[j] else (j, i)
        q = b.amp[weak] / b.amp[strong] if b.amp[strong] > 0 else 1.0
        if q < ratio:
            worst, ratio = weak, q
    if worst is None:
        return False
    b.drop(worst, "T/P wave (under half the steepness of the beat beside it)")
    return True


def _template_like(b: _Beats, i: int) -> bool:
    """Orphanidou et al.'s template test: correlation with the median beat of at least 0.66."""
    return bool(b.corr[i] >= TEMPLATE_MIN_CORR)


def _steep(b: _Beats, i: int, amp_ref: float) -> bool:
    """Pan & Tompkins' steepness test: at least half the median beat's steepness."""
    return bool(b.amp[i] >= T_WAVE_SLOPE * amp_ref)


def regular_rhythm(rr: np.ndarray) -> bool:
    """A robust regularity test: the median successive RR difference is under half the tolerance
    (RR_TOL / 2 of the median RR). Successive differences are what AF detectors measure (e.g. the
    normalised RMSSD of Dash et al. 2009); the median keeps a noise burst or two from deciding."""
    r = np.asarray(rr, dtype=float)
    if len(r) < 4:
        return False
    return bool(np.median(np.abs(np.diff(r))) < 0.5 * RR_TOL * np.median(r))


def _drop_extra(b: _Beats) -> bool:
    """(c) Lipponen & Tarvainen's extra beat, extended to runs: a short interval that, with its
    neighbours, makes fewer normal intervals than it has (two short intervals making one, three making
    one or two, ...). One beat inside the run is extra. For a pair of short intervals the beat between
    goes whatever its shape (noise in a burst can resemble a QRS). Otherwise, in a regular rhythm the
    beat with least evidence inside the run goes; in an irregular one only a beat that fails the
    template test may go, so that true beats of an irregular rhythm stay. At the recording's edges,
    where there is no outer neighbour, a beat bounding a short interval goes only when it fails both
    the template and the steepness test."""
    if len(b.sel) < 4:
        return False
    r = b.rr()
    m = float(np.median(r))
    th = b.threshold()
    regular = regular_rhythm(r)
    amp_ref = float(np.median(b.amp[b.sel]))
    suspects: set[int] = set()
    for n in (2, 3, 4):
        for k in range(len(r) - n + 1):
            run = r[k : k + n]
            total = float(run.sum())
            q = round(total / m)
            if run.min() >= m - th or not 1 <= q < n or abs(total - q * m) >= th:
                continue
            inside = b.sel[k + 1 : k + n]
            if (n == 2 and run.max() < m - th) or regular:
                suspects.update(inside)
            else:
                suspects.update(i for i in inside if not _template_like(b, i))
        if suspects:
            break
    if not suspects:
        for k, end in ((0, b.sel[0]), (len(r) - 1, b.sel[-1])):
            if r[k] < m - th and not _template_like(b, end) and not _steep(b, end, amp_ref):
                suspects.add(end)
    if not suspects:
        return False
    b.drop(min(suspects, key=b.strength), "extra detection (more beats than the rhythm allows)")
    return True


def _search_back(b: _Beats) -> bool:
    """(d) Pan & Tompkins' search-back: inside an interval over 166% of the median RR, recover the
    candidate (found by any detector) that looks like a QRS (template correlation >= 0.66, or at least
    half the median steepness) and leaves two intervals the rhythm allows (each over the median RR less
    the tolerance). In any interval longer than normal (over the median RR plus the tolerance, as
    Lipponen & Tarvainen's "long" beat), a candidate that passes both QRS tests is recovered when it
    leaves two intervals over half the median RR: an irregular rhythm has no fixed place for the beat.
    Among several, the most evidence nearest to where the rhythm expects the beat wins."""
    if len(b.sel) < 3:
        return False
    r = b.rr()
    m = float(np.median(r))
    th = b.threshold()
    amp_ref = float(np.median(b.amp[b.sel]))
    for k in np.flatnonzero(r > m + th):
        start, end = b.pos[b.sel[k]], b.pos[b.sel[k + 1]]
        search_back = r[k] > SEARCH_BACK_RR * m
        inside = []
        for i in range(len(b.pos)):
            if i in b.removed or i in b.sel or not start < b.pos[i] < end:
                continue
            template, steep = _template_like(b, i), _steep(b, i, amp_ref)
            in_rhythm = start + (m - th) <= b.pos[i] <= end - (m - th)
            in_long = start + 0.5 * m <= b.pos[i] <= end - 0.5 * m
            if (search_back and in_rhythm and (template or steep)) or (in_long and template and steep):
                inside.append(i)
        if inside:
            best = max(
                inside,
                key=lambda i: b.strength(i) - min(abs(b.pos[i] - start - m), abs(end - m - b.pos[i])) / m,
            )
            b.add(best, "missed beat recovered (search-back)")
            return True
    return False


def missed_beat_gaps(peaks: np.ndarray, fs: float) -> np.ndarray:
    """(e) Start samples of the intervals that hold room for whole missed beats: Lipponen & Tarvainen's
    "missed" (the interval is about an integer multiple >= 2 of the median RR, within RR_TOL), inferred
    only when the rest of the rhythm is regular (``regular_rhythm``): in an irregular rhythm a long
    interval is a long interval. A rate leaves these out rather than
    count one long interval."""
    p = np.asarray(peaks, dtype=int)
    if len(p) < 4:
        return np.array([], dtype=int)
    r = np.diff(p).astype(float)
    m = float(np.median(r))
    n = np.round(r / m)
    missed = (r > SEARCH_BACK_RR * m) & (n >= 2) & (np.abs(r / np.maximum(n, 1) - m) < RR_TOL * m)
    if not missed.any() or not regular_rhythm(r[~missed]):
        return np.array([], dtype=int)
    return p[:-1][missed]


def rate_bpm(peaks: np.ndarray, fs: float, gaps: np.ndarray | None = None) -> float | None:
    """60 / mean RR over intervals inside 0.2-3 s that do not start at one of ``gaps``."""
    p = np.asarray(peaks, dtype=int)
    if len(p) < 3:
        return None
    r = np.diff(p) / fs
    keep = (r >= 0.2) & (r <= 3.0)
    if gaps is not None and len(gaps):
        keep &= ~np.isin(p[:-1], gaps)
    return 60.0 / float(np.mean(r[keep])) if keep.sum() >= 2 else None


# Detection-quality thresholds, chosen on the tune split of the CPSC-2019 records only (bench/ecg_heart_rate.py).
RATE_AGREE_TOL = 0.05  # a detector "agrees" when its own rate is within 5% of the final rate
ACCEPTABLE_RATE_AGREEMENT = 0.5  # ACCEPTABLE needs half of the detectors to reach the rate on their own;
GOOD_RATE_AGREEMENT = 0.5  # GOOD as well ...
STRONG_VOTES = 0.75  # ... and every beat found by three quarters of them. Anything less is POOR.


@dataclass
class RPeakDetection:
    peaks: np.ndarray  # sample indices
    detector: str  # "neurokit" on the fast path, "consensus" otherwise
    reason: str
    agreement: dict[str, float]  # F1 (150 ms) of each detector's peaks against the final peaks
    n_detectors: int
    votes: np.ndarray  # fraction of detectors behind each final peak
    repairs: list[str] = field(default_factory=list)
    gaps: np.ndarray = field(
        default_factory=lambda: np.array([], dtype=int)
    )  # starts of missed-beat intervals
    # evidence behind the detection: rate_agreement (share of detectors whose own rate is within
    # RATE_AGREE_TOL of the final rate), template_corr (mean correlation of the beats with the median
    # beat), mean_votes, thin_beats (share of beats found by under STRONG_VOTES of the detectors),
    # n_repairs, n_gaps
    evidence: dict[str, float] = field(default_factory=dict)


def detection_quality(det: RPeakDetection) -> tuple[Quality, str]:
    """GOOD, ACCEPTABLE or POOR for the beats themselves, and why. ACCEPTABLE: half of the detectors
    reach the rate on their own (the same majority a beat needs) and the beats match the median beat
    (Orphanidou's mean correlation 0.66). GOOD: in addition every beat was found by three quarters of
    the detectors. Else POOR: the rate rests on the consensus's repairs, not on the detectors.
    Missed-beat gaps in over 1% of the intervals also cap the flag at ACCEPTABLE."""
    e = det.evidence
    if len(det.peaks) < 3 or not e:
        return Quality.POOR, "fewer than 3 beats"
    agree, corr = e.get("rate_agreement", 0.0), e.get("template_corr", 0.0)
    gappy = e.get("n_gaps", 0.0) > 0.01 * max(len(det.peaks) - 1, 1)
    why = f"{agree:.0%} of detectors reach the rate on their own; beats correlate {corr:.2f} with the median beat"
    thin = e.get("thin_beats", 1.0)
    if thin > 0:
        why += f"; {thin:.0%} of beats found by under {STRONG_VOTES:.0%} of detectors"
    if agree >= GOOD_RATE_AGREEMENT and thin == 0 and corr >= TEMPLATE_MIN_CORR and not gappy:
        return Quality.GOOD, why
    if agree >= ACCEPTABLE_RATE_AGREEMENT and corr >= TEMPLATE_MIN_CORR:
        return Quality.ACCEPTABLE, why + ("; missed-beat gaps left out of the rate" if gappy else "")
    return Quality.POOR, why


def _evidence(
    raw: dict[str, np.ndarray],
    final: np.ndarray,
    corr: np.ndarray,
    votes: np.ndarray,
    fs: float,
    gaps: np.ndarray,
    n_repairs: int,
) -> dict[str, float]:
    rate = rate_bpm(final, fs, gaps)
    rates = [rate_bpm(p, fs) for p in raw.values()]
    agree = (
        float(np.mean([r is not None and abs(r - rate) <= RATE_AGREE_TOL * rate for r in rates]))
        if rate is not None and rates
        else 0.0
    )
    return {
        "rate_agreement": round(agree, 3),
        "template_corr": round(float(np.mean(corr)), 3) if len(corr) else 0.0,
        "mean_votes": round(float(np.mean(votes)), 3) if len(votes) else 0.0,
        "thin_beats": round(float(np.mean(np.asarray(votes) < STRONG_VOTES)), 3) if len(votes) else 1.0,
        "n_repairs": float(n_repairs),
        "n_gaps": float(len(gaps)),
        "n_beats": float(len(final)),
    }


def ecg_peaks(
    x: np.ndarray,
    fs: float,
    detectors: tuple[str, ...] = DETECTORS,
    fast_path: bool = True,
    min_votes: float = MIN_VOTES,
) -> RPeakDetection:
    """R-peaks of one ECG lead (raw or cleaned, in any units) by consensus of ``detectors``, checked
    against the median beat and the rhythm (see the module docstring)."""
    x = fill_gaps(np.asarray(x, dtype=float))
    if not np.isfinite(x).all() or np.ptp(x) == 0:
        return RPeakDetection(np.array([], int), "none", "flat or empty signal", {}, 0, np.array([]))
    qrs = qrs_band(x, fs)
    env = np.abs(qrs)
    cache: dict = {}
    raw = {}
    for name in detectors[:FAST_DETECTORS]:
        raw[name] = snap_peaks(detector_peaks(x, fs, name, cache), env, fs)
    clean = ecg_clean(x, fs)

    if fast_path and len(detectors) > FAST_DETECTORS:
        first = raw[detectors[0]]
        pairs = [peak_f1(first, raw[d], fs, MATCH_TOL_S) for d in detectors[1:FAST_DETECTORS]]
        rr = np.diff(first) / fs
        plausible = len(rr) >= 2 and 0.25 < np.median(rr) < 2.0 and rr.min() >= REFRACTORY_S
        regular = plausible and np.std(rr) / np.mean(rr) < 0.15
        if pairs and min(pairs) >= 0.95 and regular:
            agreement = {d: round(peak_f1(raw[d], first, fs), 3) for d in raw}
            ones = np.ones(len(first))
            corr = template_correlation(clean, first, first, fs)
            return RPeakDetection(
                first,
                detectors[0],
                f"clean signal: the first {len(raw)} detectors agree beat for beat (F1 >= 0.95) on a regular rhythm",
                agreement,
                len(raw),
                ones,
                evidence=_evidence(raw, first, corr, ones, fs, np.array([], int), 0),
            )

    for name in detectors[FAST_DETECTORS:]:
        raw[name] = snap_peaks(detector_peaks(x, fs, name, cache), env, fs)
    # a detector that failed on this lead (raised, or found fewer beats than 20 bpm would give) abstains
    min_beats = max(2, int(MIN_BPM / 60.0 * len(x) / fs))
    cands = [raw[d] for d in detectors if len(raw[d]) >= min_beats] or [raw[d] for d in detectors]
    pos, votes = vote_peaks(cands, fs)
    inner = (pos >= EDGE_S * fs) & (pos < len(x) - EDGE_S * fs)
    pos, votes = pos[inner], votes[inner]
    if len(pos) == 0:
        return RPeakDetection(
            np.array([], int), "consensus", "no detector found a beat", {}, len(cands), np.array([])
        )

    hf = np.abs(bandpass(x, fs, 10.0, 40.0))
    h = int(0.05 * fs)
    amp = np.array([hf[max(0, p - h) : p + h + 1].max() for p in pos])
    strong = pos[votes >= max(min_votes, 0.7)]
    corr = template_correlation(clean, pos, strong if len(strong) >= 3 else pos[votes >= min_votes], fs)
    # a beat needs half of the detectors, or a quarter of them when it also passes both QRS tests
    # (template and steepness): when several detectors are thrown by the same artefact, the shape
    # still says what the vote cannot
    amp_ref = (
        float(np.median(amp[votes >= min_votes])) if (votes >= min_votes).any() else float(np.median(amp))
    )
    shaped = (corr >= TEMPLATE_MIN_CORR) & (amp >= T_WAVE_SLOPE * amp_ref) & (votes >= 0.5 * min_votes)
    beats = _Beats(pos, votes, amp, corr, fs, sel=list(np.flatnonzero((votes >= min_votes) | shaped)))

    for _ in range(2 * len(pos) + 2):  # every step removes or adds one beat, and a removed one never returns
        if len(beats.sel) < 2 or not (
            _drop_refractory(beats) or _drop_t_waves(beats) or _drop_extra(beats) or _search_back(beats)
        ):
            break
        # the median beat is re-formed from the beats accepted so far, so that T waves or artefacts
        # voted in at the start stop shaping it
        beats.corr = template_correlation(clean, pos, pos[beats.sel], fs)

    final = beats.pos[beats.sel]
    gaps = missed_beat_gaps(final, fs)
    if len(gaps):
        beats.notes += [
            f"interval from {g / fs:.2f} s holds a missed beat no detector saw: left out of the rate"
            for g in gaps
        ]
    agreement = {d: round(peak_f1(raw[d], final, fs), 3) for d in detectors}
    best = max(agreement, key=agreement.__getitem__)
    reason = (
        f"the first {FAST_DETECTORS} detectors disagreed, so {len(cands)} detectors voted; a beat needs "
        f"{min_votes:.0%} of them, then template and RR checks; closest single detector: {best} "
        f"(F1 {agreement[best]:.2f})"
    )
    sel_votes = beats.votes[beats.sel]
    return RPeakDetection(
        final,
        "consensus",
        reason,
        agreement,
        len(cands),
        sel_votes,
        repairs=beats.notes,
        gaps=gaps,
        evidence=_evidence(raw, final, beats.corr[beats.sel], sel_votes, fs, gaps, len(beats.notes)),
    )


# Detectors for long recordings: all eight are fast enough (the slow pure-Python ones are no longer used).
LONG_RECORDING_DETECTORS = DETECTORS


def ecg_peaks_chunked(
    x: np.ndarray, fs: float, chunk_s: float = 10.0, margin_s: float = 1.0
) -> RPeakDetection:
    """``ecg_peaks`` on consecutive chunks (each padded by ``margin_s`` on both sides so that no beat
    sits at a chunk edge), for recordings longer than two chunks. The rhythm checks then act on local
    medians, which suits rate changes over minutes. Evidence is averaged over chunks, weighted by beats."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    step = int(chunk_s * fs)
    if n <= 2 * step:
        return ecg_peaks(x, fs)
    detectors = LONG_RECORDING_DETECTORS if n > 60 * fs else DETECTORS
    margin = int(margin_s * fs)
    peaks, votes, repairs, gaps = [], [], [], []
    agree: dict[str, list[float]] = {}
    ev: list[tuple[float, dict[str, float]]] = []
    fast = 0
    chunks = list(range(0, n, step))
    if n - chunks[-1] < 2 * fs and len(chunks) > 1:  # fold a tail under 2 s into the previous chunk
        chunks.pop()
    for c, start in enumerate(chunks):
        stop = chunks[c + 1] if c + 1 < len(chunks) else n
        a, b = max(0, start - margin), min(n, stop + margin)
        det = ecg_peaks(x[a:b], fs, detectors=detectors)
        p = det.peaks + a
        keep = (p >= start) & (p < stop)
        peaks.append(p[keep])
        votes.append(det.votes[keep] if len(det.votes) == len(det.peaks) else np.ones(keep.sum()))
        g = det.gaps + a
        gaps.append(g[(g >= start) & (g < stop)])
        repairs += det.repairs
        fast += det.detector != "consensus"
        if det.evidence:
            ev.append((float(keep.sum()), det.evidence))
        for k, v in det.agreement.items():
            agree.setdefault(k, []).append(v)
    allp = np.concatenate(peaks) if peaks else np.array([], int)
    allv = np.concatenate(votes) if votes else np.array([])
    # beats found on both sides of a chunk boundary: keep one
    keep = np.ones(len(allp), dtype=bool)
    keep[1:] = np.diff(allp) >= REFRACTORY_S * fs
    allg = np.concatenate(gaps) if gaps else np.array([], int)
    evidence: dict[str, float] = {}
    if ev:
        w = np.array([max(k, 1.0) for k, _ in ev])
        for key in ("rate_agreement", "template_corr", "mean_votes", "thin_beats"):
            evidence[key] = round(float(np.average([e.get(key, 0.0) for _, e in ev], weights=w)), 3)
        for key in ("n_repairs", "n_gaps"):
            evidence[key] = float(sum(e.get(key, 0.0) for _, e in ev))
        evidence["n_beats"] = float(keep.sum())
    reason = (
        f"{len(chunks)} chunks of {chunk_s:g} s: {fast} on the fast path (detectors agree), "
        f"{len(chunks) - fast} by consensus of {len(detectors)} detectors"
    )
    return RPeakDetection(
        allp[keep],
        "consensus" if fast < len(chunks) else detectors[0],
        reason,
        {k: round(float(np.mean(v)), 3) for k, v in agree.items()},
        len(detectors),
        allv[keep],
        repairs,
        np.intersect1d(allg, allp[keep]),
        evidence,
    )
