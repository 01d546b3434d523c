"""Fixed-length windows over a signal, for training and for per-window estimates.

Window ``k`` starts at sample ``k * step`` with ``window = round(window_s * fs)`` and
``step = round(step_s * fs)`` samples; a tail shorter than a window is dropped. This is the convention of
the reference heart rates in the shared data (8-s windows starting at 0, 2, 4 ... s).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    index: int
    start_sample: int
    start_s: float
    data: np.ndarray  # a view into the signal: (window,) or (window, channels)

    @property
    def stop_sample(self) -> int:
        return self.start_sample + int(self.data.shape[0])


def window_lengths(fs: float, window_s: float, step_s: float) -> tuple[int, int]:
    """(window, step) in samples; raises ValueError for lengths that are not at least one sample."""
    if not fs or not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"sampling rate must be a positive number of Hz, got {fs!r}")
    window = round(window_s * fs)
    step = round(step_s * fs)
    if window < 1:
        raise ValueError(f"window of {window_s} s at {fs} Hz is shorter than one sample")
    if step < 1:
        raise ValueError(f"step of {step_s} s at {fs} Hz is shorter than one sample")
    return window, step


def n_windows(n_samples: int, fs: float, window_s: float, step_s: float) -> int:
    """How many complete windows fit in ``n_samples``."""
    window, step = window_lengths(fs, window_s, step_s)
    return 0 if n_samples < window else (n_samples - window) // step + 1


def windows(signal: np.ndarray, fs: float, window_s: float, step_s: float) -> Iterator[Window]:
    """Complete windows of ``signal`` (1-D, or samples along axis 0), as views, in time order."""
    x = np.asarray(signal)
    if x.ndim not in (1, 2):
        raise ValueError(f"signal must be 1-D or (samples, channels), got shape {x.shape}")
    window, step = window_lengths(fs, window_s, step_s)
    for k in range(n_windows(x.shape[0], fs, window_s, step_s)):
        start = k * step
        yield Window(index=k, start_sample=start, start_s=start / fs, data=x[start : start + window])


def window_array(
    signal: np.ndarray, fs: float, window_s: float, step_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """All complete windows at once: ``(batch, starts_s)`` with batch of shape (n, window) for a 1-D signal
    or (n, window, channels) for a 2-D one. ``batch`` is a read-only strided view (copy it to modify)."""
    x = np.asarray(signal)
    if x.ndim not in (1, 2):
        raise ValueError(f"signal must be 1-D or (samples, channels), got shape {x.shape}")
    window, step = window_lengths(fs, window_s, step_s)
    n = n_windows(x.shape[0], fs, window_s, step_s)
    starts = np.arange(n) * step
    if n == 0:
        return np.empty((0, window) + x.shape[1:], dtype=x.dtype), starts / fs
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)[::step][:n]
    if x.ndim == 2:
        view = np.moveaxis(view, -1, 1)  # sliding_window_view puts the window axis last
    return view, starts / fs
