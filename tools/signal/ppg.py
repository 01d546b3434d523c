"""PPG signal math: cleaning, systolic-peak detection and a spectral heart-rate estimate that discounts
motion (accelerometer) frequencies for wrist PPG.

The spectral estimate is a simplified TROIKA (Zhang et al., IEEE TBME 2015): in each window the PPG
periodogram is taken in the 0.5-3.5 Hz band (30-210 bpm); frequencies where the accelerometer has
strong power (the cadence of running and its harmonics) are attenuated; and, when the previous
window's rate is known, peaks near it are preferred (heart rate changes little in 2 s). Without
accelerometer channels it is a plain periodogram peak pick.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

from cardioagent.tools.signal.filters import bandpass, fill_gaps

HR_BAND_HZ = (0.5, 3.5)


def ppg_clean(x: np.ndarray, fs: float) -> np.ndarray:
    """0.5-8 Hz band-pass (Elgendi 2013): keeps the pulse wave and its dicrotic notch, drops drift."""
    return bandpass(fill_gaps(x), fs, 0.5, 8.0, order=3)


def ppg_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    """Systolic peaks (sample indices) of a PPG signal, by Elgendi's two-moving-average method on the
    cleaned signal; falls back to a distance-constrained peak search if that method fails."""
    import neurokit2 as nk

    clean = ppg_clean(x, fs)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = nk.ppg_findpeaks(clean, sampling_rate=fs, method="elgendi")
        peaks = np.asarray(info["PPG_Peaks"], dtype=int)
    except Exception:  # noqa: BLE001 - fall back to a generic peak search below
        peaks = np.array([], dtype=int)
    if len(peaks) < 2:
        prom = 0.3 * np.std(clean) if np.std(clean) > 0 else None
        peaks, _ = sps.find_peaks(clean, distance=max(int(0.3 * fs), 1), prominence=prom)
    return np.unique(peaks[(peaks >= 0) & (peaks < len(x))])


def _spectrum(x: np.ndarray, fs: float, nfft: int) -> tuple[np.ndarray, np.ndarray]:
    y = x - np.mean(x)
    y = y * np.hanning(len(y))
    p = np.abs(np.fft.rfft(y, nfft)) ** 2
    f = np.fft.rfftfreq(nfft, 1.0 / fs)
    band = (f >= HR_BAND_HZ[0]) & (f <= HR_BAND_HZ[1])
    return f[band], p[band]


@dataclass
class SpectralHr:
    bpm: float | None
    peak_ratio: float  # spectral peak over the band's mean power: a confidence proxy
    motion_suppressed: bool
    note: str


def spectral_hr(
    ppg: np.ndarray,
    fs: float,
    accel: np.ndarray | None = None,
    previous_bpm: float | None = None,
    suppression: float = 1.0,
    track_sd_bpm: float = 12.0,
    track_floor: float = 0.2,
) -> SpectralHr:
    """Heart rate from the dominant PPG frequency in one window (typically 8 s).

    ``ppg`` may be (n,) or (n, k) (several PPG channels: their normalised spectra are averaged);
    ``accel`` is (n, 3) or None. Accelerometer power, normalised to its maximum, attenuates the PPG
    spectrum by up to ``suppression``; with ``previous_bpm`` a Gaussian prior (``track_sd_bpm``) on
    top of a floor (``track_floor``) favours nearby peaks without excluding far ones.
    """
    ppg = np.atleast_2d(np.asarray(ppg, dtype=float).T).T
    n = ppg.shape[0]
    if n < 4 * fs:
        return SpectralHr(
            None, 0.0, False, f"window of {n / fs:.1f} s is too short for a spectral estimate (4 s)"
        )
    nfft = int(2 ** np.ceil(np.log2(max(n, 60 * fs))))  # zero-padding to ~1/60 Hz = 1 bpm bins
    spec = None
    for k in range(ppg.shape[1]):
        col = fill_gaps(ppg[:, k])
        if np.ptp(col) == 0 or not np.isfinite(col).all():
            continue
        f, p = _spectrum(bandpass(col, fs, 0.4, 4.0), fs, nfft)
        p = p / p.max() if p.max() > 0 else p
        spec = p if spec is None else spec + p
    if spec is None:
        return SpectralHr(None, 0.0, False, "no usable PPG channel in this window")
    suppressed = False
    if accel is not None and np.asarray(accel).size:
        acc = np.atleast_2d(np.asarray(accel, dtype=float).T).T
        acc_spec = np.zeros_like(spec)
        for k in range(acc.shape[1]):
            col = fill_gaps(acc[:, k])
            if np.ptp(col) == 0 or not np.isfinite(col).all():
                continue
            _, pa = _spectrum(bandpass(col, fs, 0.4, 4.0), fs, nfft)
            acc_spec = np.maximum(acc_spec, pa / pa.max() if pa.max() > 0 else pa)
        if acc_spec.max() > 0:
            spec = spec * (1.0 - suppression * acc_spec)
            suppressed = True
    weighted = spec.copy()
    if previous_bpm is not None:
        # a floor keeps far peaks eligible, so one wrong window cannot lock the tracker onto cadence
        prior = np.exp(-0.5 * ((f * 60.0 - previous_bpm) / track_sd_bpm) ** 2)
        weighted = spec * (track_floor + (1.0 - track_floor) * prior)
    peaks, _ = sps.find_peaks(weighted)
    if len(peaks) == 0:
        return SpectralHr(None, 0.0, suppressed, "no spectral peak in 30-210 bpm")
    best = peaks[np.argmax(weighted[peaks])]
    ratio = float(spec[best] / max(np.mean(spec), 1e-12))
    note = "PPG periodogram peak" + (", accelerometer frequencies attenuated" if suppressed else "")
    note += ", tracked from the previous window" if previous_bpm is not None else ""
    return SpectralHr(float(f[best] * 60.0), ratio, suppressed, note)
