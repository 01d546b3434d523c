"""Heart-rate-variability math on RR intervals (milliseconds), following the Task Force of the ESC/NASPE
(1996) definitions.

NN intervals are RR intervals between normal beats; here an RR is kept as NN when it lies in
300-2000 ms and within 20% of the median of its neighbours (the usual ectopic/artefact filter).
Successive differences are only taken between two kept intervals that are adjacent in time.

Frequency-domain measures need enough data to contain several cycles of the slowest rhythm: the
Task Force gives about 1 min for HF (0.15-0.4 Hz) and 2 min for LF (0.04-0.15 Hz); shorter
recordings get no LF/HF numbers, with that reason, rather than a meaningless estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

MIN_HF_SECONDS = 60.0
MIN_LF_SECONDS = 120.0
LF_BAND = (0.04, 0.15)
HF_BAND = (0.15, 0.40)
RESAMPLE_HZ = 4.0


def nn_mask(rr_ms: np.ndarray, window: int = 5, tolerance: float = 0.2) -> np.ndarray:
    """True for RR intervals accepted as NN: physiological range and within ``tolerance`` of the
    median of the ``window`` intervals centred on them."""
    rr = np.asarray(rr_ms, dtype=float)
    ok = np.isfinite(rr) & (rr >= 300) & (rr <= 2000)
    if len(rr) < 3:
        return ok
    h = window // 2
    local = np.array(
        [
            np.median(rr[max(0, i - h) : i + h + 1][ok[max(0, i - h) : i + h + 1]])
            if ok[max(0, i - h) : i + h + 1].any()
            else np.nan
            for i in range(len(rr))
        ]
    )
    return ok & (np.abs(rr - local) <= tolerance * local)


@dataclass
class TimeDomain:
    mean_nn_ms: float | None
    sdnn_ms: float | None
    rmssd_ms: float | None
    pnn50_pct: float | None
    n_nn: int
    n_successive: int


def time_domain(rr_ms: np.ndarray, mask: np.ndarray | None = None) -> TimeDomain:
    """Mean NN, SDNN (sample SD), RMSSD and pNN50 over the intervals in ``mask`` (default: ``nn_mask``)."""
    rr = np.asarray(rr_ms, dtype=float)
    mask = nn_mask(rr) if mask is None else np.asarray(mask, dtype=bool)
    nn = rr[mask]
    pair = mask[1:] & mask[:-1]  # successive differences only between two adjacent kept intervals
    sd = np.diff(rr)[pair]
    return TimeDomain(
        mean_nn_ms=float(np.mean(nn)) if len(nn) else None,
        sdnn_ms=float(np.std(nn, ddof=1)) if len(nn) > 1 else None,
        rmssd_ms=float(np.sqrt(np.mean(sd**2))) if len(sd) else None,
        pnn50_pct=float(100.0 * np.mean(np.abs(sd) > 50.0)) if len(sd) else None,
        n_nn=len(nn),
        n_successive=len(sd),
    )


@dataclass
class FrequencyDomain:
    lf_ms2: float | None
    hf_ms2: float | None
    lf_hf: float | None
    lf_nu: float | None
    hf_nu: float | None
    duration_s: float
    note: str  # why a band is missing, or how it was computed


def frequency_domain(
    beat_times_s: np.ndarray, rr_ms: np.ndarray, mask: np.ndarray | None = None
) -> FrequencyDomain:
    """LF and HF power (ms^2) of the NN tachogram, resampled at 4 Hz (cubic) and analysed with Welch's
    method (detrended, Hann windows of up to 256 s). ``beat_times_s[i]`` is the time at which
    ``rr_ms[i]`` ends. Bands that the duration cannot support are None, with the reason in ``note``."""
    t = np.asarray(beat_times_s, dtype=float)
    rr = np.asarray(rr_ms, dtype=float)
    mask = nn_mask(rr) if mask is None else np.asarray(mask, dtype=bool)
    duration = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    if duration < MIN_HF_SECONDS or mask.sum() < 10:
        return FrequencyDomain(
            None,
            None,
            None,
            None,
            None,
            duration,
            f"not enough data for frequency-domain HRV: {duration:.0f} s of beats; HF needs at least "
            f"{MIN_HF_SECONDS:.0f} s and LF (and LF/HF) {MIN_LF_SECONDS:.0f} s (Task Force 1996)",
        )
    from scipy.interpolate import CubicSpline

    tk, rk = t[mask], rr[mask]
    grid = np.arange(tk[0], tk[-1], 1.0 / RESAMPLE_HZ)
    series = CubicSpline(tk, rk)(grid) if len(tk) >= 4 else np.interp(grid, tk, rk)
    nper = int(min(len(series), 256 * RESAMPLE_HZ))
    f, p = sps.welch(series, fs=RESAMPLE_HZ, nperseg=nper, detrend="linear", window="hann")

    def power(band: tuple[float, float]) -> float:
        m = (f >= band[0]) & (f < band[1])
        return float(np.trapezoid(p[m], f[m])) if m.sum() >= 2 else float(np.sum(p[m]) * (f[1] - f[0]))

    hf = power(HF_BAND)
    if duration < MIN_LF_SECONDS:
        return FrequencyDomain(
            None,
            hf,
            None,
            None,
            None,
            duration,
            f"HF only: {duration:.0f} s of beats; LF and LF/HF need at least {MIN_LF_SECONDS:.0f} s (Task Force 1996)",
        )
    lf = power(LF_BAND)
    total = lf + hf
    return FrequencyDomain(
        lf,
        hf,
        lf / hf if hf > 0 else None,
        100 * lf / total if total > 0 else None,
        100 * hf / total if total > 0 else None,
        duration,
        "Welch PSD of the NN series resampled at 4 Hz",
    )
