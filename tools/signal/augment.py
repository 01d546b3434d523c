"""Seeded, shape-preserving signal augmentations for training (pure functions).

Every random function takes a ``numpy.random.Generator``, so a seed reproduces an augmentation exactly.
Inputs are 1-D signals or (samples, channels) arrays; channels share the same time warp and amplitude
scale (a 12-lead record stays one heart), while additive noise and wander are drawn per channel.
Amplitudes are in the signal's own units (mV for ECG).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field, model_validator
from scipy.interpolate import CubicSpline


def _as_2d(x: np.ndarray) -> tuple[np.ndarray, bool]:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        return a[:, None], True
    if a.ndim == 2:
        return a, False
    raise ValueError(f"signal must be 1-D or (samples, channels), got shape {a.shape}")


def _back(a: np.ndarray, was_1d: bool) -> np.ndarray:
    return a[:, 0] if was_1d else a


def signal_power(x: np.ndarray) -> np.ndarray:
    """Mean power around the mean, per channel (a scalar array for 1-D input)."""
    a, one = _as_2d(x)
    p = np.nanvar(a, axis=0)
    return p[0] if one else p


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise at exactly ``snr_db`` per channel (signal power around its mean over the
    power of the noise actually added). A flat channel gets no noise: its SNR is undefined."""
    a, one = _as_2d(x)
    noise = rng.standard_normal(a.shape)
    noise -= noise.mean(axis=0)
    target = np.nanvar(a, axis=0) / 10.0 ** (snr_db / 10.0)
    noise *= np.sqrt(target / np.maximum(noise.var(axis=0), 1e-300))
    return _back(a + noise, one)


def add_baseline_wander(
    x: np.ndarray, fs: float, amplitude: float, freq_hz: float, rng: np.random.Generator
) -> np.ndarray:
    """Add a slow sinusoid (respiration-like wander) of peak ``amplitude`` at ``freq_hz``, random phase per
    channel."""
    a, one = _as_2d(x)
    t = np.arange(a.shape[0])[:, None] / fs
    phase = rng.uniform(0.0, 2 * np.pi, size=(1, a.shape[1]))
    return _back(a + amplitude * np.sin(2 * np.pi * freq_hz * t + phase), one)


def scale_amplitude(x: np.ndarray, factor: float | np.ndarray) -> np.ndarray:
    """Multiply by ``factor`` (a scalar, or one factor per channel)."""
    a, one = _as_2d(x)
    f = np.asarray(factor, dtype=np.float64)
    if f.ndim == 1 and f.shape[0] != a.shape[1]:
        raise ValueError(f"{f.shape[0]} factors for {a.shape[1]} channels")
    return _back(a * f, one)


def add_powerline(
    x: np.ndarray, fs: float, freq: float = 50.0, amplitude: float = 0.05, phase: float = 0.0
) -> np.ndarray:
    """Add mains interference: a sinusoid of peak ``amplitude`` at ``freq`` (50 or 60 Hz), same on every
    channel as mains pick-up is."""
    if freq >= fs / 2:
        raise ValueError(f"{freq} Hz mains cannot be represented at {fs} Hz sampling (Nyquist {fs / 2} Hz)")
    a, one = _as_2d(x)
    t = np.arange(a.shape[0])[:, None] / fs
    return _back(a + amplitude * np.sin(2 * np.pi * freq * t + phase), one)


def warp_path(
    n: int, fs: float, max_stretch: float, rng: np.random.Generator, knot_s: float = 1.0
) -> np.ndarray:
    """A smooth, strictly increasing map from output sample to input sample position, from 0 to n-1.

    The local speed is 1 + s(t) with s a cubic spline through random knots every ``knot_s`` seconds,
    bounded by ``max_stretch``; after normalising to the fixed length the speed stays within
    [(1 - m) / (1 + m), (1 + m) / (1 - m)] of 1."""
    if not 0.0 <= max_stretch < 1.0:
        raise ValueError(f"max_stretch must be in [0, 1), got {max_stretch}")
    if n < 2 or max_stretch == 0.0:
        return np.arange(n, dtype=np.float64)
    n_knots = max(4, int(np.ceil(n / fs / knot_s)) + 1)
    knots_x = np.linspace(0, n - 1, n_knots)
    spline = CubicSpline(knots_x, rng.uniform(-max_stretch, max_stretch, n_knots))
    speed = 1.0 + np.clip(spline(np.arange(n - 1) + 0.5), -max_stretch, max_stretch)
    path = np.concatenate(([0.0], np.cumsum(speed)))
    return path * ((n - 1) / path[-1])


def time_warp(x: np.ndarray, fs: float, max_stretch: float, rng: np.random.Generator) -> np.ndarray:
    """Stretch and compress time smoothly (e.g. +/- 10 % with ``max_stretch=0.1``), keeping the length;
    all channels share the warp."""
    a, one = _as_2d(x)
    path = warp_path(a.shape[0], fs, max_stretch, rng)
    grid = np.arange(a.shape[0], dtype=np.float64)
    out = np.empty_like(a)
    for c in range(a.shape[1]):
        out[:, c] = np.interp(path, grid, a[:, c])
    return _back(out, one)


class AugmentConfig(BaseModel):
    """Which augmentations ``augment`` applies, with what probability and over what ranges (uniform)."""

    p_time_warp: float = Field(0.5, ge=0, le=1)
    max_stretch: float = Field(0.1, ge=0, lt=1)
    p_scale: float = Field(0.5, ge=0, le=1)
    scale_range: tuple[float, float] = (0.8, 1.2)
    p_baseline_wander: float = Field(0.5, ge=0, le=1)
    wander_amplitude_range: tuple[float, float] = Field((0.05, 0.3), description="peak, signal units")
    wander_freq_range_hz: tuple[float, float] = (0.1, 0.5)
    p_powerline: float = Field(0.2, ge=0, le=1)
    powerline_freqs_hz: tuple[float, ...] = (50.0, 60.0)
    powerline_amplitude_range: tuple[float, float] = Field((0.01, 0.05), description="peak, signal units")
    p_noise: float = Field(0.5, ge=0, le=1)
    snr_db_range: tuple[float, float] = (15.0, 35.0)

    @model_validator(mode="after")
    def _ranges_ordered(self) -> AugmentConfig:
        for name in (
            "scale_range",
            "wander_amplitude_range",
            "wander_freq_range_hz",
            "powerline_amplitude_range",
            "snr_db_range",
        ):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name}: low end {lo} is above high end {hi}")
        if self.scale_range[0] <= 0:
            raise ValueError("scale_range must be positive")
        return self


def augment(
    x: np.ndarray, fs: float, rng: np.random.Generator, config: AugmentConfig | None = None
) -> np.ndarray:
    """Apply a random subset of the augmentations in a fixed order (warp, scale, wander, mains, noise) so
    that the noise's SNR refers to the signal as it finally is."""
    cfg = config or AugmentConfig()
    y = np.array(x, dtype=np.float64, copy=True)
    if rng.random() < cfg.p_time_warp:
        y = time_warp(y, fs, cfg.max_stretch, rng)
    if rng.random() < cfg.p_scale:
        y = scale_amplitude(y, rng.uniform(*cfg.scale_range))
    if rng.random() < cfg.p_baseline_wander:
        y = add_baseline_wander(
            y, fs, rng.uniform(*cfg.wander_amplitude_range), rng.uniform(*cfg.wander_freq_range_hz), rng
        )
    usable_mains = [f for f in cfg.powerline_freqs_hz if f < fs / 2]
    if usable_mains and rng.random() < cfg.p_powerline:
        y = add_powerline(
            y,
            fs,
            float(rng.choice(usable_mains)),
            rng.uniform(*cfg.powerline_amplitude_range),
            rng.uniform(0, 2 * np.pi),
        )
    if rng.random() < cfg.p_noise:
        y = add_noise(y, rng.uniform(*cfg.snr_db_range), rng)
    return y
