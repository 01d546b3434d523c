"""How close a digitized lead is to the signal it was printed from, as the PhysioNet Challenge 2024 scores it.

The Challenge's waveform score is the signal-to-noise ratio ``10 log10(sum(x^2) / sum((y - x)^2))`` over a
lead, with missing samples counted as 0 (``helper_code.compute_snr`` of physionetchallenges/evaluation-2024).
A digitizer cannot know where on the paper the recording's first sample was nor the lead's DC level, so, as
the Challenge's later scoring (the 2025 Kaggle rerun) allows, the digitized lead is first shifted in time
(within ``max_shift_s``, by cross-correlation) and in level (the mean difference over the overlap). Pearson
correlation over the overlap is reported beside it.

Reference: Reyna MA et al. ECG digitization and classification: the George B. Moody PhysioNet Challenge
2024. Computing in Cardiology 2024;51.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel


class LeadScore(BaseModel):
    snr_db: float
    correlation: float
    shift_s: float
    overlap: float  # share of the reference's samples that the digitized lead covers after the shift


def _shifted(x: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(x, np.nan)
    if k >= 0:
        out[k:] = x[: len(x) - k]
    else:
        out[:k] = x[-k:]
    return out


def score_lead(
    reference: np.ndarray, digitized: np.ndarray, fs: float, max_shift_s: float = 0.5
) -> LeadScore:
    """SNR (dB) and correlation of ``digitized`` against ``reference`` after the allowed alignment."""
    n = min(len(reference), len(digitized))
    ref, dig = np.asarray(reference[:n], float), np.asarray(digitized[:n], float)
    best: tuple[float, int] = (-np.inf, 0)
    max_k = int(max_shift_s * fs)
    for k in range(-max_k, max_k + 1, 2):
        d = _shifted(dig, k)
        ok = np.isfinite(ref) & np.isfinite(d)
        if ok.sum() < fs:
            continue
        r = np.corrcoef(ref[ok], d[ok])[0, 1]
        if np.isfinite(r) and r > best[0]:
            best = (float(r), k)
    corr, k = best
    d = _shifted(dig, k)
    ok = np.isfinite(ref) & np.isfinite(d)
    if not ok.any():
        return LeadScore(snr_db=float("-inf"), correlation=float("nan"), shift_s=0.0, overlap=0.0)
    d = d - np.mean(d[ok] - ref[ok])
    x = np.where(np.isfinite(ref), ref, 0.0)
    y = np.where(np.isfinite(d), d, 0.0)
    noise = float(np.sum((y - x) ** 2))
    snr = float("inf") if noise == 0 else 10 * np.log10(float(np.sum(x**2)) / noise)
    return LeadScore(
        snr_db=snr,
        correlation=float(corr),
        shift_s=k / fs,
        overlap=float(ok.sum() / max(1, np.isfinite(ref).sum())),
    )
