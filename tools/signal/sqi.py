"""Signal-quality indices (SQIs) for one channel, and the rule that turns them into a ``Quality`` flag.

ECG indices follow Li, Mark & Clifford (2008) and Zhao & Zhang (2018): kurtosis (kSQI, a clean ECG
is spiky), the 5-15 Hz share of 5-40 Hz power (pSQI, QRS energy), the share of 0-40 Hz power above
0.5 Hz (basSQI, baseline wander) and the beat-by-beat agreement of two unrelated detectors (bSQI).
PPG indices follow Elgendi (2016): skewness (the best single PPG index there) and the share of
power in the cardiac band. Both get basic integrity checks (missing samples, flat stretches,
clipping). UNUSABLE is reserved for signals with nothing to measure; noisy signals are POOR, so
that callers still get a number, flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal as sps
from scipy import stats

from cardioagent.tools.signal.filters import bandpass, fill_gaps
from cardioagent.tools.signal.quality import QUALITY_RANK, Quality

NO_BEATS = "no heartbeats found"  # the verdict on an ECG channel where neither beat detector finds two beats

MIN_SECONDS = 2.0  # below this no index is meaningful


@dataclass
class ChannelSqi:
    kind: str
    indices: dict[str, float | None]
    quality: Quality
    reason: str
    notes: list[str] = field(default_factory=list)


def nan_fraction(x: np.ndarray) -> float:
    return float(np.mean(~np.isfinite(x))) if len(x) else 1.0


def flat_fraction(x: np.ndarray, fs: float, window_s: float = 1.0) -> float:
    """Share of 1-s windows whose range is under 1e-6 of the signal's overall range (disconnected lead)."""
    x = fill_gaps(x)
    w = max(int(window_s * fs), 2)
    n = len(x) // w
    if n == 0:
        return 1.0
    total = np.ptp(x)
    if not np.isfinite(total) or total == 0:
        return 1.0
    ranges = np.ptp(x[: n * w].reshape(n, w), axis=1)
    return float(np.mean(ranges <= 1e-6 * total))


def clipping_fraction(x: np.ndarray) -> float:
    """Share of samples sitting at the signal's extreme values in runs (an amplifier at its rail)."""
    x = x[np.isfinite(x)]
    if len(x) < 10:
        return 0.0
    lo, hi = x.min(), x.max()
    if hi == lo:
        return 1.0
    at_rail = (x == lo) | (x == hi)
    runs = at_rail[1:] & at_rail[:-1]  # isolated extremes are normal; repeated ones are clipping
    return float(runs.mean())


def band_power(x: np.ndarray, fs: float, lo: float, hi: float) -> float:
    f, p = sps.welch(x - np.mean(x), fs=fs, nperseg=min(len(x), int(4 * fs)))
    m = (f >= lo) & (f < min(hi, fs / 2))
    return float(np.trapezoid(p[m], f[m])) if m.any() else 0.0


def ecg_indices(
    x: np.ndarray, fs: float, peaks_a: np.ndarray | None = None, peaks_b: np.ndarray | None = None
) -> dict[str, float | None]:
    """kSQI (kurtosis of the 0.5-40 Hz signal), pSQI (5-15 Hz share of 5-40 Hz power), basSQI (share
    of 0-40 Hz power above 0.5 Hz) and, when two detectors' peaks are given, bSQI (their F1 at 150 ms)."""
    from cardioagent.tools.signal.ecg import peak_f1

    y = fill_gaps(x)
    hi = min(40.0, 0.45 * fs)
    total = band_power(y, fs, 0.5, hi)
    qrs = band_power(y, fs, 5.0, 15.0)
    wide = band_power(y, fs, 5.0, hi)
    low = band_power(y, fs, 0.0, 0.5)  # below any heart rate >= 30 bpm: only wander lives here
    clean = bandpass(y, fs, 0.5, hi)
    out: dict[str, float | None] = {
        "kSQI": float(stats.kurtosis(clean, fisher=False)) if np.std(clean) > 0 else None,
        "pSQI": qrs / wide if wide > 0 else None,
        "basSQI": total / (total + low) if total + low > 0 else None,
        "bSQI": None,
    }
    if peaks_a is not None and peaks_b is not None:
        out["bSQI"] = peak_f1(peaks_a, peaks_b, fs, tol_s=0.15)
    return out


def ppg_indices(x: np.ndarray, fs: float) -> dict[str, float | None]:
    """Skewness SQI of the 0.5-8 Hz signal and the share of its power in the 0.5-3.5 Hz cardiac band."""
    y = fill_gaps(x)
    clean = bandpass(y, fs, 0.5, min(8.0, 0.45 * fs))
    cardiac = band_power(clean, fs, 0.5, 3.5)
    total = band_power(clean, fs, 0.3, min(8.0, 0.45 * fs))
    return {
        "sSQI": float(stats.skew(clean)) if np.std(clean) > 0 else None,
        "cardiac_power_ratio": cardiac / total if total > 0 else None,
    }


def integrity(x: np.ndarray, fs: float) -> tuple[dict[str, float], str | None]:
    """Missing, flat and clipped shares; the reason the channel is unusable, or None."""
    ind = {
        "nan_fraction": nan_fraction(x),
        "flat_fraction": flat_fraction(x, fs) if np.isfinite(x).any() else 1.0,
        "clipping_fraction": clipping_fraction(x),
    }
    if len(x) < MIN_SECONDS * fs:
        return ind, f"only {len(x) / fs:.1f} s of signal (at least {MIN_SECONDS:.0f} s needed)"
    if ind["nan_fraction"] > 0.5:
        return ind, f"{ind['nan_fraction']:.0%} of samples are missing"
    if ind["flat_fraction"] > 0.5:
        return ind, f"flat (no signal) in {ind['flat_fraction']:.0%} of the recording"
    if ind["clipping_fraction"] > 0.3:
        return ind, f"clipped (amplifier at its limit) in {ind['clipping_fraction']:.0%} of samples"
    return ind, None


def grade_ecg(ind: dict[str, float | None]) -> tuple[Quality, str]:
    """Detector agreement decides first, because it is what every beat-based number depends on:
    bSQI < 0.85 is POOR. Otherwise three shape checks (kSQI > 5, pSQI 0.4-0.95, basSQI > 0.8):
    all pass with bSQI >= 0.95 is GOOD, two or more failing is POOR, anything between ACCEPTABLE.
    Missing indices count as failed."""
    b, k, p, bas = ind.get("bSQI"), ind.get("kSQI"), ind.get("pSQI"), ind.get("basSQI")
    checks = {
        "spiky QRS (kSQI > 5)": k is not None and k > 5,
        "QRS power share (pSQI 0.4-0.95)": p is not None and 0.4 <= p <= 0.95,
        "little baseline wander (basSQI > 0.8)": bas is not None and bas > 0.8,
    }
    failed = [k for k, ok in checks.items() if not ok]
    if b is None or b < 0.85:
        failed.insert(0, "detectors agree (bSQI >= 0.85)")
        q = Quality.POOR
    elif len(failed) >= 2:
        q = Quality.POOR
    elif not failed and b >= 0.95:
        q = Quality.GOOD
    else:
        if b < 0.95:
            failed.insert(0, "detectors agree closely (bSQI >= 0.95)")
        q = Quality.ACCEPTABLE
    reason = "all ECG quality checks pass" if not failed else "failed: " + "; ".join(failed)
    return q, reason


def grade_ppg(ind: dict[str, float | None]) -> tuple[Quality, str]:
    """Skewness > 0 (systolic upstroke sharper than the decay) and cardiac-band power share > 0.6."""
    s, c = ind.get("sSQI"), ind.get("cardiac_power_ratio")
    checks = {
        "pulse shape (sSQI > 0)": s is not None and s > 0,
        "cardiac-band power (> 0.6)": c is not None and c > 0.6,
    }
    failed = [k for k, ok in checks.items() if not ok]
    q = (
        Quality.GOOD
        if not failed
        else Quality.ACCEPTABLE
        if len(failed) == 1 and c is not None and c > 0.4
        else Quality.POOR
    )
    reason = "all PPG quality checks pass" if not failed else "failed: " + "; ".join(failed)
    return q, reason


def assess_channel(x: np.ndarray, fs: float, kind: str) -> ChannelSqi:
    """Indices and grade for one channel of ``kind`` ('ecg', 'ppg' or anything else: integrity only)."""
    x = np.asarray(x, dtype=float)
    shares, unusable = integrity(x, fs)
    ind: dict[str, float | None] = dict(shares)  # the detectors' and shape indices join these
    if unusable:
        return ChannelSqi(kind, dict(ind), Quality.UNUSABLE, unusable)
    if kind == "ecg":
        from cardioagent.tools.signal.ecg import detector_peaks

        cache: dict = {}
        # two detectors built on different principles: a gradient threshold and a wavelet transform
        a = detector_peaks(x, fs, "neurokit", cache)
        b = detector_peaks(x, fs, "kalidas2017", cache)
        ind.update(ecg_indices(x, fs, a, b))
        if len(a) < 2 and len(b) < 2:
            return ChannelSqi(kind, dict(ind), Quality.UNUSABLE, NO_BEATS)
        q, reason = grade_ecg(ind)
    elif kind == "ppg":
        ind.update(ppg_indices(x, fs))
        q, reason = grade_ppg(ind)
    else:
        return ChannelSqi(kind, dict(ind), Quality.ACCEPTABLE, "integrity checks only for this channel kind")
    if shares["nan_fraction"] > 0.05 and q in (Quality.GOOD, Quality.ACCEPTABLE):
        q, reason = Quality.POOR, f"{reason}; {shares['nan_fraction']:.0%} of samples missing"
    elif shares["nan_fraction"] > 0.01 and q == Quality.GOOD:
        q, reason = Quality.ACCEPTABLE, f"{shares['nan_fraction']:.0%} of samples missing"
    return ChannelSqi(kind, dict(ind), q, reason)


def rank_score(c: ChannelSqi) -> float:
    """Sort key: the quality flag first, then detector agreement and kurtosis within the same flag."""
    b = c.indices.get("bSQI") or 0.0
    k = min(c.indices.get("kSQI") or 0.0, 30.0) / 30.0
    s = c.indices.get("cardiac_power_ratio") or 0.0
    return QUALITY_RANK[c.quality] + 0.5 * b + 0.3 * k + 0.3 * s
