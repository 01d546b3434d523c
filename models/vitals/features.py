"""Robust per-window features of PPG and ECG, the "context" an LLM estimator reads (pure functions).

The idea follows the LLM cuffless-BP work: instead of (or besides) raw samples, the prompt carries the few
numbers a signal-processing expert would look at. For wrist PPG these are the dominant frequencies of the
pulse signal and of the accelerometer (running cadence and arm swing show up in both), the rate from
pulse intervals, motion intensity and a spectral quality index. Because a single 8-s window cannot tell
a heart-rate peak from a cadence peak, the recording-level tracker ``track_rate`` (a Viterbi path through
the motion-attenuated spectra of all windows, in both time directions) adds the rate that is most
consistent with the neighbouring windows; the prompt carries it as one more feature.

For ECG the features are the R-peak rate from the consensus detector of ``cardioagent.tools.signal.ecg``,
RR statistics, the agreement of two detectors (bSQI) and the dominant QRS-band frequency.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import signal as sps
from scipy import stats

from cardioagent.tools.signal.filters import bandpass, fill_gaps

BPM_RANGE = (30.0, 210.0)
# 1 bpm bins need 60 s of (zero-padded) signal; 2**13 samples at 125 Hz is 65 s.
MIN_NFFT = 4096


@dataclass(frozen=True)
class Spectrum:
    bpm: np.ndarray  # frequency grid in beats (or cycles) per minute, inside BPM_RANGE
    power: np.ndarray  # normalised to a maximum of 1 (all zeros for a flat input)


def band_spectrum(x: np.ndarray, fs: float, nfft: int | None = None) -> Spectrum:
    """Periodogram of one channel in 30-210 cycles/min after a 0.4-4 Hz band-pass and a Hann taper."""
    x = fill_gaps(np.asarray(x, dtype=float))
    if nfft is None:
        nfft = max(MIN_NFFT, int(2 ** np.ceil(np.log2(60 * fs))))
    f = np.fft.rfftfreq(nfft, 1.0 / fs) * 60.0
    band = (f >= BPM_RANGE[0]) & (f <= BPM_RANGE[1])
    if not np.isfinite(x).all() or np.ptp(x) == 0 or len(x) < 8:
        return Spectrum(f[band], np.zeros(int(band.sum())))
    y = bandpass(x, fs, 0.4, 4.0)
    y = (y - y.mean()) * np.hanning(len(y))
    p = np.abs(np.fft.rfft(y, nfft))[band] ** 2
    top = p.max()
    return Spectrum(f[band], p / top if top > 0 else p)


def spectral_peaks(spec: Spectrum, k: int) -> list[tuple[float, float]]:
    """The ``k`` highest local maxima as (bpm, relative power), strongest first."""
    idx, _ = sps.find_peaks(spec.power)
    idx = idx[np.argsort(spec.power[idx])[::-1]][:k]
    return [(float(spec.bpm[i]), float(spec.power[i])) for i in idx]


def combined_spectrum(channels: np.ndarray, fs: float, how: str) -> Spectrum | None:
    """Mean (``how='mean'``) or maximum (``'max'``) of the normalised spectra of the columns; None if
    every column is flat or empty."""
    a = np.atleast_2d(np.asarray(channels, dtype=float).T).T
    specs = [band_spectrum(a[:, c], fs) for c in range(a.shape[1])]
    specs = [s for s in specs if s.power.max() > 0]
    if not specs:
        return None
    stack = np.stack([s.power for s in specs])
    p = stack.mean(0) if how == "mean" else stack.max(0)
    return Spectrum(specs[0].bpm, p / p.max())


@dataclass
class PpgWindowFeatures:
    ppg_peaks: list[tuple[float, float]]  # (bpm, relative power) of the pulse spectrum, strongest first
    acc_peaks: list[tuple[float, float]]  # same for the accelerometer (empty without one)
    motion_g: float | None  # summed standard deviation of the accelerometer axes; None without one
    pulse_interval_bpm: float | None  # 60 / median interval of detected systolic peaks
    spectral_bpm: float | None  # strongest peak of the motion-attenuated pulse spectrum
    peak_ratio: float  # that peak over the mean of the attenuated spectrum (a quality index)
    skewness: float | None  # Elgendi's best single PPG quality index (positive for a clean pulse)
    cardiac_power_ratio: float | None = None  # best channel's share of 0.3-8 Hz power in 0.5-3.5 Hz
    emission: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))  # attenuated spectrum
    grid_bpm: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    tracked_bpm: float | None = None  # filled in by ``track_rate`` over the whole recording


def ppg_window_features(
    ppg: np.ndarray, fs: float, acc: np.ndarray | None = None, suppression: float = 0.9, n_peaks: int = 4
) -> PpgWindowFeatures:
    """Features of one PPG window: ``ppg`` is (n,) or (n, k) PPG channels, ``acc`` (n, 3) or None."""
    from cardioagent.tools.signal import ppg as ppg_math

    p = np.atleast_2d(np.asarray(ppg, dtype=float).T).T
    pulse = combined_spectrum(p, fs, "mean")
    acc_spec = None
    motion = None
    if acc is not None and np.asarray(acc).size:
        a = np.atleast_2d(np.asarray(acc, dtype=float).T).T
        acc_spec = combined_spectrum(a, fs, "max")
        motion = float(np.sum(np.nanstd(a, axis=0)))
    if pulse is None:
        grid = band_spectrum(np.zeros(8), fs).bpm
        return PpgWindowFeatures([], [], motion, None, None, 0.0, None, None, np.zeros(len(grid)), grid)
    emission = pulse.power.copy()
    if acc_spec is not None:
        emission = np.clip(emission * (1.0 - suppression * acc_spec.power), 0.0, None)
    best = int(np.argmax(emission)) if emission.max() > 0 else None
    ratio = float(emission[best] / max(emission.mean(), 1e-12)) if best is not None else 0.0
    best_col = int(np.argmax(np.nanstd(p, axis=0)))
    x = fill_gaps(p[:, best_col])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peaks = ppg_math.ppg_peaks(x, fs) if np.ptp(x) > 0 else np.array([], int)
        clean = ppg_math.ppg_clean(x, fs) if np.ptp(x) > 0 else x
    ibi = np.diff(peaks) / fs
    ibi = ibi[(ibi > 0.28) & (ibi < 2.0)]
    return PpgWindowFeatures(
        ppg_peaks=spectral_peaks(pulse, n_peaks),
        acc_peaks=spectral_peaks(acc_spec, 2) if acc_spec is not None else [],
        motion_g=motion,
        pulse_interval_bpm=float(60.0 / np.median(ibi)) if len(ibi) >= 2 else None,
        spectral_bpm=float(pulse.bpm[best]) if best is not None else None,
        peak_ratio=ratio,
        skewness=float(stats.skew(clean)) if np.std(clean) > 0 else None,
        cardiac_power_ratio=_best_cardiac_ratio(p, fs),
        emission=emission / emission.max() if emission.max() > 0 else emission,
        grid_bpm=pulse.bpm,
    )


def _best_cardiac_ratio(p: np.ndarray, fs: float) -> float | None:
    from cardioagent.tools.signal.sqi import ppg_indices

    ratios = [
        ppg_indices(p[:, c], fs)["cardiac_power_ratio"] for c in range(p.shape[1]) if np.nanstd(p[:, c]) > 0
    ]
    found = [r for r in ratios if r is not None]
    return float(max(found)) if found else None


def track_rate(
    emissions: np.ndarray,
    grid_bpm: np.ndarray,
    step_s: float = 2.0,
    sd_bpm_per_2s: float = 3.0,
    floor: float = 0.05,
) -> np.ndarray:
    """Most likely rate sequence (Viterbi) through per-window spectra ``emissions`` (T, F).

    Emission log-likelihood is log(spectrum + ``floor``); a rate moves between windows with a Gaussian
    step of ``sd_bpm_per_2s`` (scaled with the square root of the step). The path uses past and future
    windows, so one window masked by motion takes the rate its neighbours agree on.
    """
    e = np.asarray(emissions, dtype=float)
    if e.ndim != 2 or e.shape[0] == 0:
        return np.zeros(0)
    sd = sd_bpm_per_2s * np.sqrt(step_s / 2.0)
    loge = np.log(e + floor)
    d = grid_bpm[:, None] - grid_bpm[None, :]
    log_t = -0.5 * (d / sd) ** 2
    score = loge[0].copy()
    back = np.zeros(e.shape, dtype=np.int32)
    rows = np.arange(len(grid_bpm))
    for t in range(1, e.shape[0]):
        cand = score[None, :] + log_t  # [to, from]
        back[t] = np.argmax(cand, axis=1)
        score = cand[rows, back[t]] + loge[t]
    path = [int(np.argmax(score))]
    for t in range(e.shape[0] - 1, 0, -1):
        path.append(int(back[t][path[-1]]))
    return grid_bpm[np.array(path[::-1])]


def track_windows(feats: list[PpgWindowFeatures], step_s: float, **kwargs) -> None:
    """Fill ``tracked_bpm`` of consecutive windows of one recording in place (nothing for an empty list)."""
    usable = [f for f in feats if len(f.emission)]
    if not usable:
        return
    rates = track_rate(np.stack([f.emission for f in usable]), usable[0].grid_bpm, step_s, **kwargs)
    for f, r in zip(usable, rates, strict=False):
        f.tracked_bpm = float(r)


@dataclass
class EcgWindowFeatures:
    rpeak_bpm: float | None  # 60 / mean RR of the consensus R-peaks (the CPSC reference definition)
    n_beats: int
    rr_median_ms: float | None
    rr_iqr_ms: float | None
    single_detector_bpm: float | None  # neurokit2's detector alone: disagreement hints at noise
    detector_agreement: float | None  # bSQI: F1 of two unrelated detectors
    spectral_bpm: float | None  # dominant frequency of the QRS-band envelope
    kurtosis: float | None


def ecg_window_features(x: np.ndarray, fs: float) -> EcgWindowFeatures:
    from cardioagent.tools.signal import ecg

    x = fill_gaps(np.asarray(x, dtype=float))
    if not np.isfinite(x).all() or np.ptp(x) == 0:
        return EcgWindowFeatures(None, 0, None, None, None, None, None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = ecg.ecg_peaks(x, fs)
        cache: dict = {}
        a = ecg.detector_peaks(x, fs, "neurokit", cache)
        b = ecg.detector_peaks(x, fs, "kalidas2017", cache)
    rr = np.diff(det.peaks) / fs
    rr = rr[(rr >= 0.2) & (rr <= 3.0)]
    rr_a = np.diff(a) / fs
    rr_a = rr_a[(rr_a >= 0.2) & (rr_a <= 3.0)]
    env = np.abs(ecg.qrs_band(x, fs))
    spec = band_spectrum(env, fs)
    clean = bandpass(x, fs, 0.5, min(40.0, 0.45 * fs))
    return EcgWindowFeatures(
        rpeak_bpm=float(60.0 / rr.mean()) if len(rr) >= 1 else None,
        n_beats=len(det.peaks),
        rr_median_ms=float(1000 * np.median(rr)) if len(rr) else None,
        rr_iqr_ms=float(1000 * np.subtract(*np.percentile(rr, [75, 25]))) if len(rr) >= 2 else None,
        single_detector_bpm=float(60.0 / rr_a.mean()) if len(rr_a) >= 1 else None,
        detector_agreement=ecg.peak_f1(a, b, fs, 0.15) if len(a) and len(b) else None,
        spectral_bpm=float(spec.bpm[np.argmax(spec.power)]) if spec.power.max() > 0 else None,
        kurtosis=float(stats.kurtosis(clean, fisher=False)) if np.std(clean) > 0 else None,
    )


# ------------------------------------------------------------------------------------- vascular age


@dataclass
class PpgAgeFeatures:
    """Second-derivative (SDPPG) wave ratios of the window's average beat (Takazawa et al. 1998)."""

    n_beats: int
    rate_bpm: float | None
    b_a: float | None
    c_a: float | None
    d_a: float | None
    e_a: float | None
    aging_index: float | None  # (b - c - d - e) / a: rises with age
    ok: bool


def _average_beat(x: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray | None:
    """Mean of beats from 0.3 s before to 0.6 s after each systolic peak (beats that fit)."""
    b, a = int(0.3 * fs), int(0.6 * fs)
    rows = [x[p - b : p + a] for p in peaks if p - b >= 0 and p + a <= len(x)]
    return np.mean(rows, axis=0) if len(rows) >= 2 else None


def sdppg_waves(beat: np.ndarray, fs: float) -> dict[str, float] | None:
    """a-e waves of the second derivative of one average beat (peak at 0.3 s): a is the largest maximum
    before the systolic peak, then b (minimum), c (maximum), d (minimum), e (maximum) in turn."""
    from scipy.ndimage import uniform_filter1d

    k = max(int(0.03 * fs), 1)
    d2 = np.gradient(np.gradient(uniform_filter1d(beat, k)))
    d2 = uniform_filter1d(d2, k)
    peak = int(0.3 * fs)
    start = max(peak - int(0.25 * fs), 0)
    seg = d2[start:peak]
    if len(seg) < 3:
        return None
    ia = start + int(np.argmax(seg))
    maxima, _ = sps.find_peaks(d2)
    minima, _ = sps.find_peaks(-d2)
    out = {"a": float(d2[ia])}
    pos = ia
    for name, pool in (("b", minima), ("c", maxima), ("d", minima), ("e", maxima)):
        nxt = pool[(pool > pos) & (pool < pos + int(0.45 * fs))]
        if len(nxt) == 0:
            return None
        pos = int(nxt[0])
        out[name] = float(d2[pos])
    return out if out["a"] > 0 else None


def ppg_age_features(x: np.ndarray, fs: float) -> PpgAgeFeatures:
    from cardioagent.tools.signal import ppg as ppg_math

    x = fill_gaps(np.asarray(x, dtype=float))
    if not np.isfinite(x).all() or np.ptp(x) == 0:
        return PpgAgeFeatures(0, None, None, None, None, None, None, False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean = ppg_math.ppg_clean(x, fs)
        peaks = ppg_math.ppg_peaks(x, fs)
    ibi = np.diff(peaks) / fs
    rate = float(60.0 / np.median(ibi)) if len(ibi) >= 2 else None
    beat = _average_beat(clean, peaks, fs)
    w = sdppg_waves(beat, fs) if beat is not None else None
    if w is None:
        return PpgAgeFeatures(len(peaks), rate, None, None, None, None, None, False)
    a = w["a"]
    return PpgAgeFeatures(
        len(peaks),
        rate,
        w["b"] / a,
        w["c"] / a,
        w["d"] / a,
        w["e"] / a,
        (w["b"] - w["c"] - w["d"] - w["e"]) / a,
        True,
    )


@dataclass
class EcgAgeFeatures:
    """Intervals and amplitudes of the median beat of one ECG lead (ages show in all of them)."""

    rate_bpm: float | None
    pr_ms: float | None
    qrs_ms: float | None
    qtc_ms: float | None
    r_mv: float | None
    t_mv: float | None
    rr_sd_ms: float | None
    ok: bool


def ecg_age_features(x: np.ndarray, fs: float) -> EcgAgeFeatures:
    from cardioagent.tools.signal import delineation as dl
    from cardioagent.tools.signal import ecg

    x = fill_gaps(np.asarray(x, dtype=float))
    if not np.isfinite(x).all() or np.ptp(x) == 0:
        return EcgAgeFeatures(None, None, None, None, None, None, None, False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peaks = ecg.ecg_peaks(x, fs).peaks
        clean = dl.clean_for_delineation(x, fs)
        beats, rr = dl.dominant_beats(peaks, fs, len(x))
        mb = dl.median_beat(clean, beats, fs) if len(beats) else None
        d = dl.delineate_beat(mb, fs, rr) if mb is not None else None
    rrs = np.diff(peaks) / fs
    rate = float(60.0 / np.mean(rrs)) if len(rrs) else None
    if d is None or mb is None:  # d is only delineated from a median beat
        return EcgAgeFeatures(rate, None, None, None, None, None, None, False)
    t_mv = None
    if d.t_peak_s is not None:
        i = mb.r_index + round(d.t_peak_s * fs)
        t_mv = float(mb.beat[i]) if 0 <= i < len(mb.beat) else None
    qtc = dl.qtc_bazett(d.qt_ms, rr) if d.qt_ms is not None and rr else None
    return EcgAgeFeatures(
        rate,
        d.pr_ms,
        d.qrs_ms,
        qtc,
        float(mb.beat[mb.r_index]),
        t_mv,
        float(1000 * np.std(rrs)) if len(rrs) >= 2 else None,
        True,
    )
