"""ECG signal math: cleaning and R-peak detection by consensus of several published detectors.

Why a consensus: on noisy single leads each published detector fails in its own way (one doubles on
tall T waves, one loses beats after an artefact, one locks onto baseline jumps). Their errors are
mostly independent, their hits coincide. So every detector runs, its peaks are moved onto the same
fiducial (the largest |QRS-band| sample nearby, so detectors with different filter delays agree on
*where* a beat is), and a beat is kept when at least half of the detectors found it. Physiological
rules then repair what voting cannot, one beat at a time, re-forming the median beat after each step:

- two beats closer than a refractory period (200 ms), or than 0.4 median RR: keep the stronger;
- T (or P) waves counted as beats: short-long alternation where the wave after the short interval is
  clearly less steep (10-40 Hz amplitude) than the beats around it;
- an extra detection splitting one normal interval into two short ones;
- a first or last detection that is close to its neighbour, unlike the median beat and weaker;
- a beat missed inside a gap over 1.6 median RR, recovered when some detectors saw a QRS-like
  deflection where the rhythm expects one (or, in a gap of 1.75 RR, a quarter of them saw anything:
  ectopic beats have another shape);
- beats missed at the recording's edges while detectors' adaptive thresholds settle.

"Strength" of a candidate is its vote share plus its correlation with the median beat. On a clean,
regular signal the first three detectors already agree beat for beat; the rest are then skipped and
the first detector's peaks are used (the fast path). No rule looks at reference annotations.
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

# Published detectors shipped with neurokit2, in the order they are tried. The first FAST_DETECTORS
# decide the fast path; the rest join only when those disagree.
DETECTORS: tuple[str, ...] = (
    "neurokit",
    "elgendi2010",
    "kalidas2017",
    "hamilton2002",
    "pantompkins1985",
    "manikandan2012",
    "rodrigues2021",
    "nabian2018",
    "gamboa2008",
    "zong2003",
    "christov2004",
)
FAST_DETECTORS = 3
# Detectors whose authors specify their own pre-filter; the others get neurokit's cleaning.
_OWN_CLEANING = {"pantompkins1985", "hamilton2002", "elgendi2010", "engzeemod2012"}

REFRACTORY_S = 0.2  # no two ventricular beats closer than this (300 bpm)
SNAP_WINDOW_S = 0.075
MATCH_TOL_S = 0.05
EDGE_S = 0.1  # peaks of different detectors within this are the same beat (after snapping)


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


def snap_peaks(peaks: np.ndarray, envelope: np.ndarray, fs: float, window_s: float = SNAP_WINDOW_S) -> np.ndarray:
    """Move each peak to the envelope maximum within ±window_s, so all detectors share one fiducial."""
    h = max(int(window_s * fs), 1)
    out = []
    for p in np.asarray(peaks, dtype=int):
        lo, hi = max(0, p - h), min(len(envelope), p + h + 1)
        if hi > lo:
            out.append(lo + int(np.argmax(envelope[lo:hi])))
    return np.unique(np.asarray(out, dtype=int))


def vote_peaks(candidates: list[np.ndarray], fs: float, tol_s: float = MATCH_TOL_S) -> tuple[np.ndarray, np.ndarray]:
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


def template_correlation(x: np.ndarray, positions: np.ndarray, reference: np.ndarray, fs: float) -> np.ndarray:
    """Pearson correlation of the ±80 ms window at each position with the median beat of ``reference``;
    0 where a window does not fit or no template can be formed."""
    h = int(0.08 * fs)
    ref = beat_windows(x, reference, fs, 0.08, 0.08)
    out = np.zeros(len(positions))
    if len(ref) < 2:
        return out
    tmpl = np.median(ref, axis=0)
    tmpl = tmpl - tmpl.mean()
    tn = np.linalg.norm(tmpl)
    if tn == 0:
        return out
    for i, p in enumerate(positions):
        if p - h < 0 or p + h >= len(x):
            continue
        w = x[p - h : p + h + 1]
        w = w - w.mean()
        wn = np.linalg.norm(w)
        out[i] = float(w @ tmpl / (wn * tn)) if wn > 0 else 0.0
    return out


@dataclass
class _Beats:
    """Candidate beats and their evidence; ``sel`` holds indices of the beats currently accepted."""

    pos: np.ndarray
    votes: np.ndarray
    amp: np.ndarray  # 10-40 Hz amplitude around the beat: QRS is steep, T and P waves are not
    corr: np.ndarray  # correlation with the median accepted beat
    fs: float
    sel: list[int] = field(default_factory=list)
    removed: set[int] = field(default_factory=set)
    recovered: set[int] = field(default_factory=set)  # added for rhythm evidence: not re-judged as T waves
    notes: list[str] = field(default_factory=list)

    def rr(self) -> np.ndarray:
        return np.diff(self.pos[self.sel])

    def median_rr(self) -> float:
        r = self.rr()
        return float(np.median(r)) if len(r) else 0.0

    def drop(self, i: int, why: str) -> None:
        self.sel.remove(i)
        self.removed.add(i)
        self.notes.append(why)

    def add(self, i: int, why: str) -> None:
        self.recovered.add(i)
        self.sel.append(i)
        self.sel.sort()
        self.notes.append(why)

    def strength(self, i: int) -> float:
        return float(self.votes[i] + self.corr[i])


def _drop_refractory(b: _Beats) -> bool:
    r = b.rr()
    for k in np.flatnonzero(r < REFRACTORY_S * b.fs):
        i, j = b.sel[k], b.sel[k + 1]
        b.drop(i if b.strength(i) < b.strength(j) else j, "refractory")
        return True
    return False


def _drop_close(b: _Beats) -> bool:
    """Two detections under 0.4 median RR apart cannot both be beats of this rhythm: keep the one
    with more votes and the more typical shape."""
    if len(b.sel) < 4:
        return False
    m = b.median_rr()
    r = b.rr()
    for k in np.flatnonzero(r < 0.4 * m):
        i, j = b.sel[k], b.sel[k + 1]
        b.drop(i if b.strength(i) < b.strength(j) else j, "detection too close to a stronger beat")
        return True
    return False


def _drop_t_waves(b: _Beats) -> bool:
    """T-wave (or P-wave) oversensing shows as short-long alternation: within each short interval
    (under 0.4 s and 0.6 of the neighbouring one) the weaker, less steep wave is the suspect. When
    the suspects as a group are clearly less steep than the rest they all go; a single suspect goes
    only when it is much weaker."""
    if len(b.sel) < 4:
        return False
    r = b.rr() / b.fs
    suspects: set[int] = set()
    for k in range(len(r)):
        neighbours = [r[q] for q in (k - 1, k + 1) if 0 <= q < len(r)]
        if r[k] < 0.4 and r[k] < 0.6 * max(neighbours):
            i, j = b.sel[k], b.sel[k + 1]
            weaker = i if b.amp[i] < b.amp[j] else j
            if weaker not in b.recovered:
                suspects.add(weaker)
    if not suspects:
        return False
    others = [i for i in b.sel if i not in suspects]
    if not others:
        return False
    ref_amp = np.median(b.amp[others])
    sus = sorted(suspects)
    if len(sus) >= 3 and np.median(b.amp[sus]) < 0.7 * ref_amp:
        for i in sus:
            b.drop(i, "T/P wave (alternating, less steep)")
        return True
    weakest = min(sus, key=lambda i: b.amp[i])
    if b.amp[weakest] < 0.4 * ref_amp:
        b.drop(weakest, "T/P wave (less steep)")
        return True
    return False


def _drop_odd_edges(b: _Beats) -> bool:
    """The first or last detection, closer than 0.75 median RR to its neighbour and unlike the median
    beat and less steep than its neighbour, is usually the tail of a wave cut by the recording's edge."""
    if len(b.sel) < 4:
        return False
    m = b.median_rr()
    for end, nb in ((b.sel[0], b.sel[1]), (b.sel[-1], b.sel[-2])):
        if abs(b.pos[end] - b.pos[nb]) < 0.75 * m and b.corr[end] < 0.5 and b.amp[end] < 0.6 * b.amp[nb]:
            b.drop(end, "edge detection unlike the median beat")
            return True
    return False


def _drop_extra(b: _Beats) -> bool:
    """A detection that splits one normal RR interval into two short ones is an artefact."""
    if len(b.sel) < 5:
        return False
    m = b.median_rr()
    r = b.rr()
    bad = [
        b.sel[k + 1]
        for k in range(len(r) - 1)
        if r[k] < 0.7 * m and r[k + 1] < 0.7 * m and abs(r[k] + r[k + 1] - m) < 0.25 * m
    ]
    if not bad:
        return False
    b.drop(min(bad, key=b.strength), "extra beat inside a normal interval")
    return True


def _fill_gap(b: _Beats, min_votes: float) -> bool:
    """Inside an interval over 1.6 median RR, accept the best candidate that some detectors saw and
    that splits the gap into two plausible intervals (each over 0.55 median RR). It must look like a
    QRS (correlates with the median beat, or is as steep as the accepted beats) or, in a gap of 1.75
    median RR or more (where a beat is almost surely missing), have been seen by a quarter of the
    detectors: that admits ectopic beats of another shape. Among several, the one with most evidence
    nearest to where the rhythm expects a beat wins."""
    if len(b.sel) < 3:
        return False
    m = b.median_rr()
    r = b.rr()
    amp_ref = np.median(b.amp[b.sel])
    for k in np.flatnonzero(r > 1.6 * m):
        start, end = b.pos[b.sel[k]], b.pos[b.sel[k + 1]]
        long_gap = r[k] >= 1.75 * m
        inside = [i for i in range(len(b.pos)) if _gap_candidate(b, i, start, end, m, long_gap, min_votes, amp_ref)]
        if inside:
            best = max(inside, key=lambda i: b.strength(i) - _off_rhythm(b.pos[i], start, end, m))
            b.add(best, "missed beat recovered in a long gap")
            return True
    return False


def _gap_candidate(b: _Beats, i: int, start: int, end: int, m: float, long_gap: bool, min_votes: float,
                   amp_ref: float) -> bool:
    if not (start + 0.55 * m <= b.pos[i] <= end - 0.55 * m) or i in b.removed or i in b.sel:
        return False
    qrs_like = b.corr[i] >= 0.4 or b.amp[i] >= 0.7 * amp_ref
    return (b.votes[i] >= min_votes and qrs_like) or (long_gap and b.votes[i] >= 0.25)


def _off_rhythm(p: int, start: int, end: int, m: float) -> float:
    """Distance (in median RRs) from where the rhythm expects the missed beat, one RR after the gap's
    start or before its end."""
    return min(abs(p - start - m), abs(end - m - p)) / m


def _extend_edges(b: _Beats, min_votes: float) -> None:
    """Detectors often start late or stop early (adaptive thresholds need a few beats); accept a
    candidate before the first or after the last beat when it fits the rhythm and looks like the
    median beat, or is as steep as the accepted beats and seen by 30% of the detectors (ectopic)."""
    if len(b.sel) < 3:
        return
    m = b.median_rr()
    amp_ref = np.median(b.amp[b.sel])

    def ok(i: int) -> bool:
        if i in b.removed or b.votes[i] < min_votes:
            return False
        typical = b.corr[i] >= 0.7 and b.amp[i] >= 0.5 * amp_ref
        ectopic = b.votes[i] >= 0.3 and b.amp[i] >= 0.8 * amp_ref
        return typical or ectopic

    for _ in range(3):
        first = b.sel[0]
        pre = [i for i in range(first) if ok(i) and 0.6 * m <= b.pos[first] - b.pos[i] <= 1.5 * m]
        if not pre:
            break
        b.add(max(pre, key=b.strength), "edge beat recovered")
    for _ in range(3):
        last = b.sel[-1]
        post = [i for i in range(last + 1, len(b.pos)) if ok(i) and 0.6 * m <= b.pos[i] - b.pos[last] <= 1.5 * m]
        if not post:
            break
        b.add(max(post, key=b.strength), "edge beat recovered")


@dataclass
class RPeakDetection:
    peaks: np.ndarray  # sample indices
    detector: str  # "neurokit" on the fast path, "consensus" otherwise
    reason: str
    agreement: dict[str, float]  # F1 (150 ms) of each detector's peaks against the final peaks
    n_detectors: int
    votes: np.ndarray  # fraction of detectors behind each final peak
    repairs: list[str] = field(default_factory=list)


def ecg_peaks(
    x: np.ndarray,
    fs: float,
    detectors: tuple[str, ...] = DETECTORS,
    fast_path: bool = True,
    min_votes: float = 0.5,
) -> RPeakDetection:
    """R-peaks of one ECG lead (raw or cleaned, in any units) by consensus of ``detectors``."""
    x = fill_gaps(np.asarray(x, dtype=float))
    if not np.isfinite(x).all() or np.ptp(x) == 0:
        return RPeakDetection(np.array([], int), "none", "flat or empty signal", {}, 0, np.array([]))
    qrs = qrs_band(x, fs)
    env = np.abs(qrs)
    cache: dict = {}
    raw = {}
    for name in detectors[:FAST_DETECTORS]:
        raw[name] = snap_peaks(detector_peaks(x, fs, name, cache), env, fs)

    if fast_path and len(detectors) > FAST_DETECTORS:
        first = raw[detectors[0]]
        pairs = [peak_f1(first, raw[d], fs, MATCH_TOL_S) for d in detectors[1:FAST_DETECTORS]]
        rr = np.diff(first) / fs
        plausible = len(rr) >= 2 and 0.25 < np.median(rr) < 2.0 and rr.min() >= REFRACTORY_S
        regular = plausible and np.std(rr) / np.mean(rr) < 0.15
        if pairs and min(pairs) >= 0.95 and regular:
            agreement = {d: round(peak_f1(raw[d], first, fs), 3) for d in raw}
            return RPeakDetection(
                first,
                detectors[0],
                f"clean signal: the first {len(raw)} detectors agree beat for beat (F1 >= 0.95) on a regular rhythm",
                agreement,
                len(raw),
                np.ones(len(first)),
            )

    for name in detectors[FAST_DETECTORS:]:
        raw[name] = snap_peaks(detector_peaks(x, fs, name, cache), env, fs)
    cands = [raw[d] for d in detectors]
    pos, votes = vote_peaks(cands, fs)
    # a QRS cut by the recording's edge cannot be confirmed (filters and the snap window are blind there)
    inner = (pos >= EDGE_S * fs) & (pos < len(x) - EDGE_S * fs)
    pos, votes = pos[inner], votes[inner]
    if len(pos) == 0:
        return RPeakDetection(np.array([], int), "consensus", "no detector found a beat", {}, len(cands), np.array([]))

    hf = np.abs(bandpass(x, fs, 10.0, 40.0))
    h = int(0.05 * fs)
    amp = np.array([hf[max(0, p - h) : p + h + 1].max() for p in pos])
    clean = ecg_clean(x, fs)
    strong = pos[votes >= max(min_votes, 0.7)]
    corr = template_correlation(clean, pos, strong if len(strong) >= 3 else pos[votes >= min_votes], fs)
    beats = _Beats(pos, votes, amp, corr, fs, sel=list(np.flatnonzero(votes >= min_votes)))

    for _ in range(4 * len(pos)):  # every step removes or adds one beat; the bound guards against cycles
        if not (
            _drop_refractory(beats)
            or _drop_t_waves(beats)
            or _drop_close(beats)
            or _drop_extra(beats)
            or _drop_odd_edges(beats)
            or _fill_gap(beats, 0.15)
        ):
            break
        # the median beat is re-formed from the beats accepted so far, so that T waves or artefacts
        # voted in at the start stop shaping it
        beats.corr = template_correlation(clean, pos, pos[beats.sel], fs)
    _extend_edges(beats, 0.25)

    final = beats.pos[beats.sel]
    agreement = {d: round(peak_f1(raw[d], final, fs), 3) for d in detectors}
    best = max(agreement, key=agreement.get)
    reason = (
        f"the first {FAST_DETECTORS} detectors disagreed, so {len(cands)} detectors voted; a beat needs "
        f"{min_votes:.0%} of them; closest single detector: {best} (F1 {agreement[best]:.2f})"
    )
    return RPeakDetection(
        final, "consensus", reason, agreement, len(cands), beats.votes[beats.sel], repairs=beats.notes
    )


# Detectors for long recordings: the two slowest (pure-Python loops, ~20x the others) are left out.
LONG_RECORDING_DETECTORS = tuple(d for d in DETECTORS if d not in ("zong2003", "christov2004"))


def ecg_peaks_chunked(x: np.ndarray, fs: float, chunk_s: float = 10.0, margin_s: float = 1.0) -> RPeakDetection:
    """``ecg_peaks`` on consecutive chunks (each padded by ``margin_s`` on both sides so that no beat
    sits at a chunk edge), for recordings longer than two chunks. The rhythm rules then act on local
    medians, which suits rate changes over minutes. Recordings over 60 s use the faster detector set."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    step = int(chunk_s * fs)
    if n <= 2 * step:
        return ecg_peaks(x, fs)
    detectors = LONG_RECORDING_DETECTORS if n > 60 * fs else DETECTORS
    margin = int(margin_s * fs)
    peaks, votes, repairs = [], [], []
    agree: dict[str, list[float]] = {}
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
        repairs += det.repairs
        fast += det.detector != "consensus"
        for k, v in det.agreement.items():
            agree.setdefault(k, []).append(v)
    allp = np.concatenate(peaks) if peaks else np.array([], int)
    allv = np.concatenate(votes) if votes else np.array([])
    # beats found on both sides of a chunk boundary: keep one
    keep = np.ones(len(allp), dtype=bool)
    keep[1:] = np.diff(allp) >= REFRACTORY_S * fs
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
    )
