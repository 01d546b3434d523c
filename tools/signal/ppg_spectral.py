"""Wrist-PPG heart rate during motion: a periodogram per window, the accelerometer's spectrum removed, and
the heart-rate peak tracked from window to window with a bounded jump.

``ppg_spectral_rate(ppg, acc, fs, method="schaeck2017")`` follows Schäck, Muma & Zoubir (2017): the PPG
and accelerometer channels are band-passed to 0.5-4 Hz (30-240 bpm); in each window (8 s, 2-s step on
the IEEE SPC-2015 recordings) the periodogram of every PPG channel, normalised to its maximum, has the
normalised accelerometer spectra subtracted (spectral subtraction) and is clipped at zero; the channels'
spectra are averaged; the rate is the highest spectral peak within a bounded distance of the previous
window's rate (heart rate changes little in one step), and a window with no peak in that range keeps
the previous rate. When the tracker has held for several windows, or a peak outside the range
dominates for several windows, the whole band is searched again (re-acquisition). ``method="temko2017"``
replaces the subtraction by the Wiener filter of Temko (2017), whose noise estimate is the
accelerometer spectrum averaged over recent windows.

Each window gets a quality flag from what the spectrum itself shows: is the tracked peak also the
strongest peak in the band (agreement of tracking and a free search), how far it stands above the
strongest competing peak (prominence), do the PPG channels put their own peak there, and does it sit on
an accelerometer (cadence) peak, where the subtraction can neither confirm nor rule it out. A window
with no usable signal is refused with a reason.

References
----------
* Schäck T, Muma M, Zoubir AM. Computationally efficient heart rate estimation during physical exercise
  using photoplethysmographic signals. EUSIPCO 2017, 2478-2481.
* Zhang Z, Pi Z, Liu B. TROIKA: a general framework for heart rate monitoring using wrist-type
  photoplethysmographic signals during intensive physical exercise. IEEE TBME 2015; 62(2):522-531.
* Temko A. Accurate heart rate monitoring during physical exercises using PPG. IEEE TBME 2017;
  64(9):2016-2024.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import signal as sps

from cardioagent.tools.signal.filters import bandpass, fill_gaps
from cardioagent.tools.signal.quality import Quality

Method = Literal["schaeck2017", "temko2017"]
BAND_HZ = (0.5, 4.0)  # 30-240 bpm: the pre-filter and the spectral search band
INIT_BPM = (40.0, 200.0)  # where the first window's rate is searched
MAX_MISSING = 0.25  # a channel missing more of a window than this is left out of that window
MIN_WINDOW_S = 4.0  # below this one period at 30 bpm barely fits twice: no spectral estimate


@dataclass(frozen=True)
class TrackerSettings:
    """Settings of the tracker; the defaults were chosen on the development recordings only."""

    max_jump_bpm_per_s: float = 5.0  # +-10 bpm per 2-s step (Schäck 2017 uses a comparable range)
    subtraction: float = 1.0  # weight of the accelerometer spectrum subtracted (schaeck2017)
    noise_gain: float = 3.0  # weight of the motion noise in the Wiener gain (temko2017)
    gain_power: float = 1.0  # Wiener gain raised to this power (temko2017)
    history: int = 4  # windows averaged for the Wiener noise estimate (temko2017)
    tracking: Literal["greedy", "viterbi"] = "viterbi"
    jump_penalty: float = 1.0  # viterbi: log-spectrum units lost by a jump of the full range
    floor: float = 1e-3  # viterbi: spectrum floor, so a window without the peak costs a bounded amount
    absent: float = 0.05  # viterbi: spectrum below this on the path = no peak observed there
    prior_sd: float = 1.0  # Gaussian preference for nearby peaks, SD as a fraction of the range
    max_search_bpm: float = 30.0  # the widest range searched while the tracker is lost
    dominance: float = 2.0  # a peak outside the range this many times higher ...
    dominance_windows: int = 4  # ... for this many windows in a row makes the tracker re-acquire
    agree_bpm: float = 5.0  # two peaks within this distance are "the same" peak
    good_prominence: float = 1.5  # tracked peak over the strongest competitor for a "good" flag


@dataclass(frozen=True)
class WindowRate:
    start_s: float
    end_s: float
    bpm: float | None
    quality: Quality
    reason: str  # why the window was refused, or what lowered its flag ("" when nothing did)
    prominence: float = 0.0
    held: bool = False


@dataclass
class PpgSpectralRate:
    method: str
    windows: list[WindowRate] = field(default_factory=list)

    @property
    def bpm(self) -> np.ndarray:
        return np.array([np.nan if w.bpm is None else w.bpm for w in self.windows])


def _columns(x: np.ndarray | None, n: int) -> np.ndarray:
    if x is None:
        return np.zeros((n, 0))
    x = np.asarray(x, dtype=float)
    return x.reshape(n, -1) if x.size else np.zeros((n, 0))


def _prefilter(x: np.ndarray, fs: float) -> np.ndarray:
    """0.5-4 Hz band-pass of each usable column; flat or empty columns become all-NaN (skipped later)."""
    out = np.full_like(x, np.nan)
    for k in range(x.shape[1]):
        col = fill_gaps(x[:, k])
        if np.isfinite(col).all() and np.ptp(col) > 0:
            out[:, k] = bandpass(col, fs, BAND_HZ[0], BAND_HZ[1], order=2)
            out[~np.isfinite(x[:, k]), k] = np.nan  # missing samples stay missing: windows decide below
    return out


def _spectra(seg: np.ndarray, fs: float, nfft: int, band: np.ndarray) -> np.ndarray:
    """Hann-windowed periodogram of each column in the band, normalised to its maximum; (k, n_band).
    Columns without signal in this window are dropped."""
    out = []
    for k in range(seg.shape[1]):
        col = seg[:, k]
        if np.mean(~np.isfinite(col)) > MAX_MISSING or np.isfinite(col).sum() < 2:
            continue
        col = fill_gaps(col)  # a short dropout is bridged; a long one drops the channel from the window
        if np.std(col) == 0:
            continue
        y = (col - col.mean()) / col.std() * np.hanning(len(col))
        p = np.abs(np.fft.rfft(y, nfft))[band] ** 2
        if p.max() > 0:
            out.append(p / p.max())
    return np.array(out).reshape(len(out), int(band.sum()))


def _peaks(spec: np.ndarray) -> np.ndarray:
    idx, _ = sps.find_peaks(spec)
    return idx


class _Tracker:
    """Bounded-jump tracking of the heart-rate peak with hold and re-acquisition (Schäck 2017)."""

    def __init__(self, bpm_axis: np.ndarray, jump_bpm: float, s: TrackerSettings):
        self.f, self.jump, self.s = bpm_axis, jump_bpm, s
        self.prev: float | None = None
        self.held = 0
        self.dominated = 0

    def _free(self, spec: np.ndarray, lo: float, hi: float, weight: np.ndarray | None = None) -> int | None:
        score = spec if weight is None else spec * weight
        pk = [i for i in _peaks(spec) if lo <= self.f[i] <= hi]
        return max(pk, key=lambda i: score[i]) if pk else None

    def step(self, spec: np.ndarray) -> tuple[float | None, bool]:
        """The rate for this window and whether it is a held (not observed) value."""
        if self.prev is None or self.dominated >= self.s.dominance_windows:
            lo, hi = INIT_BPM if self.prev is None else (self.f[0], self.f[-1])
            best = self._free(spec, lo, hi)
            if best is None:
                return self.prev, self.prev is not None
            self.prev, self.held, self.dominated = float(self.f[best]), 0, 0
            return self.prev, False
        # while lost the range widens by one step's jump per window held, as the rate may have moved on
        jump = min(self.jump * (1 + self.held), self.s.max_search_bpm)
        prior = np.exp(-0.5 * ((self.f - self.prev) / (self.s.prior_sd * jump)) ** 2)
        inside = self._free(spec, self.prev - jump, self.prev + jump, prior)
        glob = self._free(spec, self.f[0], self.f[-1])
        far = glob is not None and abs(self.f[glob] - self.prev) > jump
        ref = spec[inside] if inside is not None else 0.0
        self.dominated = self.dominated + 1 if far and spec[glob] > self.s.dominance * ref else 0
        if inside is None:
            self.held += 1
            return self.prev, True
        self.prev, self.held = float(self.f[inside]), 0
        return self.prev, False


def _viterbi(specs: list[np.ndarray], f: np.ndarray, jump_bpm: float, s: TrackerSettings) -> np.ndarray:
    """The frequency path through the windows' spectra that maximises the summed log spectrum under a
    bounded jump between windows and a quadratic penalty on the jump: the dynamic-programming ridge
    tracking of pitch trackers (Talkin 1995, RAPT), decoded by the Viterbi algorithm."""
    res = float(f[1] - f[0])
    J = max(int(round(jump_bpm / res)), 1)
    shifts = np.arange(-J, J + 1)
    penalty = s.jump_penalty * (shifts * res / jump_bpm) ** 2
    emis = [np.log(np.maximum(sp, s.floor)) for sp in specs]
    init = np.where((f >= INIT_BPM[0]) & (f <= INIT_BPM[1]), 0.0, -np.inf)
    score = emis[0] + init
    back = np.zeros((len(specs), len(f)), dtype=np.int32)
    idx = np.arange(len(f))
    for t in range(1, len(specs)):
        cand = np.full((len(shifts), len(f)), -np.inf)
        for k, d in enumerate(shifts):  # cand[k, j]: arriving at j from j - d
            src = idx - d
            ok = (src >= 0) & (src < len(f))
            cand[k, ok] = score[src[ok]] - penalty[k]
        best = np.argmax(cand, axis=0)
        back[t] = idx - shifts[best]
        score = cand[best, idx] + emis[t]
    path = np.zeros(len(specs), dtype=int)
    path[-1] = int(np.argmax(score))
    for t in range(len(specs) - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return f[path]


def _suppress(
    ppg_spec: np.ndarray, acc_spec: np.ndarray, method: Method, s: TrackerSettings, hist: list[np.ndarray]
) -> np.ndarray:
    """Per-channel PPG spectra with the motion spectrum removed; rows renormalised to their maximum."""
    if acc_spec.shape[0] == 0:
        return ppg_spec
    if method == "schaeck2017":
        out = np.clip(ppg_spec - s.subtraction * acc_spec.max(axis=0), 0.0, None)
    else:  # temko2017: Wiener gain from the PPG and accelerometer spectra averaged over recent windows
        hist.append(acc_spec.mean(axis=0))
        del hist[: -s.history]
        noise = np.mean(hist, axis=0)
        noise = noise / max(noise.max(), 1e-12)
        out = ppg_spec * (ppg_spec / (ppg_spec + s.noise_gain * noise + 1e-12)) ** s.gain_power
    peak = out.max(axis=1, keepdims=True)
    return np.divide(out, peak, out=np.zeros_like(out), where=peak > 0)


def _motion_bpm(acc_spec: np.ndarray, f: np.ndarray, per_axis: int = 2) -> list[float]:
    """The strongest spectral peaks of each accelerometer axis (cadence and its harmonics), in bpm."""
    out: list[float] = []
    for row in acc_spec:
        pk = _peaks(row)
        out += [float(f[j]) for j in pk[np.argsort(row[pk])[-per_axis:]]]
    return out


def _flag(
    spec: np.ndarray,
    per_channel: np.ndarray,
    acc_spec: np.ndarray,
    f: np.ndarray,
    bpm: float,
    held: bool,
    s: TrackerSettings,
) -> tuple[Quality, str, float]:
    """Quality of one tracked window from its spectrum: free-search agreement, prominence, channel
    agreement and coincidence with a motion peak."""
    i = int(np.argmin(np.abs(f - bpm)))
    near = np.abs(f - bpm) <= s.agree_bpm
    pk = _peaks(spec)
    rivals = [spec[j] for j in pk if not near[j]]
    prominence = float(spec[i] / max(max(rivals, default=0.0), 1e-3))
    if held:
        return Quality.POOR, "no spectral peak near the previous rate: previous rate held", prominence
    glob = pk[np.argmax(spec[pk])] if len(pk) else i
    agree_free = abs(f[glob] - bpm) <= s.agree_bpm
    agree_ch = all(near[int(np.argmax(row * near))] and (row * near).max() > 0 for row in per_channel)
    on_motion = any(abs(m - bpm) <= s.agree_bpm for m in _motion_bpm(acc_spec, f))
    problems = [
        txt
        for bad, txt in (
            (not agree_free, "a stronger spectral peak lies elsewhere"),
            (prominence < s.good_prominence, "the peak barely stands out"),
            (not agree_ch, "the PPG channels disagree"),
            (on_motion, "the peak coincides with a motion frequency"),
        )
        if bad
    ]
    if not problems:
        return Quality.GOOD, "", prominence
    if agree_free or (agree_ch and not on_motion):
        return Quality.ACCEPTABLE, "; ".join(problems), prominence
    return Quality.POOR, "; ".join(problems), prominence


def _frame(
    p_all: np.ndarray,
    a_all: np.ndarray,
    fs: float,
    nfft: int,
    band: np.ndarray,
    start: float,
    end: float,
    method: Method,
    s: TrackerSettings,
    hist: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | str:
    """One window's combined motion-suppressed spectrum, its per-channel rows and the accelerometer
    spectra; or the reason the window is refused."""
    a, b = int(round(start * fs)), int(round(end * fs))
    if (b - a) < MIN_WINDOW_S * fs:
        return f"window shorter than {MIN_WINDOW_S:g} s"
    ps = _spectra(p_all[a:b], fs, nfft, band)
    if ps.shape[0] == 0:
        return (
            f"no PPG channel with signal in this window (flat, or over {MAX_MISSING:.0%} of samples missing)"
        )
    acs = _spectra(a_all[a:b], fs, nfft, band)
    clean = _suppress(ps, acs, method, s, hist)
    spec = clean.mean(axis=0)
    if spec.max() <= 0:
        return "nothing left of the PPG spectrum once motion frequencies are removed"
    return spec, clean, acs


def _track(
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]], f: np.ndarray, jump: float, s: TrackerSettings
) -> list[tuple[float | None, bool]]:
    """(rate, held) per usable window, by greedy bounded-jump tracking or by Viterbi decoding."""
    if not frames:
        return []
    specs = [fr[0] for fr in frames]
    if s.tracking == "viterbi":
        path = _viterbi(specs, f, jump, s)
        # a path point where this window's spectrum has no peak is an interpolation, not an observation
        return [
            (float(b), bool(sp[int(np.argmin(np.abs(f - b)))] < s.absent))
            for b, sp in zip(path, specs, strict=True)
        ]
    tracker = _Tracker(f, jump, s)
    return [tracker.step(sp) for sp in specs]


def _spans(n: int, fs: float, window_s: float, step_s: float) -> list[tuple[float, float]]:
    duration = n / fs
    if duration <= window_s:
        return [(0.0, duration)]
    starts = np.arange(0.0, duration - window_s + 1e-9, step_s)
    return [(float(a), float(a + window_s)) for a in starts]


def ppg_spectral_rate(
    ppg: np.ndarray,
    acc: np.ndarray | None,
    fs: float,
    method: Method = "temko2017",
    window_s: float = 8.0,
    step_s: float = 2.0,
    spans: list[tuple[float, float]] | None = None,
    settings: TrackerSettings | None = None,
) -> PpgSpectralRate:
    """Heart rate per window of a wrist PPG, motion removed with the accelerometer, tracked.

    Parameters
    ----------
    ppg : (n,) or (n, k) array, one column per PPG channel (wavelengths / photodiodes).
    acc : (n, m) array of accelerometer axes, or None (then no motion suppression).
    fs : sampling rate in Hz, shared by all channels.
    method : "schaeck2017" (spectral subtraction) or "temko2017" (Wiener filter).
    window_s, step_s : window length and step in seconds; ``spans`` (start, end) overrides them.
    settings : tracker settings (:class:`TrackerSettings`).

    Returns
    -------
    PpgSpectralRate
        one :class:`WindowRate` per window: the rate (None when refused), the quality flag and its reason.
    """
    s = settings or TrackerSettings()
    x = np.asarray(ppg, dtype=float)
    n = x.shape[0]
    p_all, a_all = _prefilter(_columns(x, n), fs), _prefilter(_columns(acc, n), fs)
    spans = spans if spans is not None else _spans(n, fs, window_s, step_s)
    nfft = int(2 ** np.ceil(np.log2(240 * fs)))  # zero-padding to 1/240 Hz = 0.25 bpm bins
    freqs = np.fft.rfftfreq(nfft, 1.0 / fs)
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    f = freqs[band] * 60.0
    step = spans[1][0] - spans[0][0] if len(spans) > 1 else step_s
    hist: list[np.ndarray] = []
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray] | str] = []
    for start, end in spans:
        frames.append(_frame(p_all, a_all, fs, nfft, band, start, end, method, s, hist))
    usable = [k for k, fr in enumerate(frames) if not isinstance(fr, str)]
    spectra = [fr for fr in frames if not isinstance(fr, str)]
    track = _track(spectra, f, s.max_jump_bpm_per_s * step, s)
    by_window = dict(zip(usable, track, strict=True))
    out = PpgSpectralRate(method=f"{method} spectrum, {s.tracking} tracking")
    for k, ((start, end), fr) in enumerate(zip(spans, frames, strict=True)):
        bpm, held = by_window.get(k, (None, False))
        if isinstance(fr, str) or bpm is None:
            why = fr if isinstance(fr, str) else "no spectral peak in 40-200 bpm to start tracking from"
            out.windows.append(WindowRate(start, end, None, Quality.UNUSABLE, why))
            continue
        spec, clean, acs = fr
        q, why, prom = _flag(spec, clean, acs, f, bpm, held, s)
        out.windows.append(WindowRate(start, end, round(bpm, 2), q, why, round(prom, 2), held))
    return out
