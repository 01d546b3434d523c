"""Analysis plots with matplotlib: stacked channels with detected peaks, and heart-rate trends.

Figures are built on ``matplotlib.figure.Figure`` with an Agg canvas, never through pyplot, so nothing
here touches matplotlib's global state (current figure, backend) that other code may rely on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cardioagent.tools.errors import InputError, SamplingRateError
from cardioagent.tools.signal.recording import Recording

MAX_CHANNELS = 6
_MARKER_STYLES = ["v", "^", "s", "D", "P", "X", "*", "<", ">"]
QUALITY_COLOURS = {"good": "#2ca02c", "acceptable": "#1f77b4", "poor": "#ff7f0e", "unusable": "#d62728"}


def _new_figure(width_in: float, height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, out_path: str | Path) -> Path:
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def plot_recording(
    rec: Recording,
    out_path: str | Path,
    *,
    peaks: Mapping[str, np.ndarray | Sequence[int]] | None = None,
    channels: list[str] | None = None,
    start_s: float = 0.0,
    seconds: float | None = 10.0,
    title: str | None = None,
    markers: dict[str, dict[str, np.ndarray]] | None = None,
) -> Path:
    """Stack up to six channels of ``rec`` over a shared time axis (seconds) and save the figure.

    ``peaks`` maps a channel name to sample indices (of the whole recording) drawn as dots on the trace;
    ``markers`` maps a channel name to named sample-index sets (e.g. ``{"P onset": ..., "T offset": ...}``)
    drawn with their own symbols and a legend. Channel names match ignoring case. ``seconds=None`` plots
    to the end of the recording.
    """
    if rec.signal is None or rec.signal.ndim != 2 or rec.signal.shape[0] == 0:
        raise InputError(
            rec.name, "has no signal samples to plot", "a recording with a (samples, channels) signal"
        )
    fs = rec.sampling_rate_hz
    if not fs or fs <= 0:
        raise SamplingRateError(
            rec.name, f"sampling rate {fs!r} cannot give a time axis", "a positive rate in Hz"
        )
    names = channels if channels is not None else rec.channel_names[:MAX_CHANNELS]
    if not names:
        raise InputError(rec.name, "no channels were chosen to plot", f"some of {rec.channel_names}")
    if len(names) > MAX_CHANNELS:
        raise InputError(rec.name, f"{len(names)} channels asked for in one plot", f"at most {MAX_CHANNELS}")
    indices = []
    for name in names:
        try:
            indices.append(rec.channel_index(name))
        except KeyError:
            raise InputError(rec.name, f"has no channel {name!r}", f"one of {rec.channel_names}") from None
    i0 = max(0, round(start_s * fs))
    i1 = rec.n_samples if seconds is None else min(rec.n_samples, i0 + round(seconds * fs))
    if i1 <= i0:
        raise InputError(
            rec.name,
            f"the window from {start_s:g} s is past the end of the recording ({rec.duration_s:g} s)",
            "a start time inside the recording",
        )
    t = np.arange(i0, i1) / fs
    peaks_by = {k.lower(): np.asarray(v, dtype=np.int64) for k, v in (peaks or {}).items()}
    markers_by = {k.lower(): v for k, v in (markers or {}).items()}

    fig = _new_figure(11.0, 1.0 + 1.7 * len(indices))
    axes = fig.subplots(len(indices), 1, sharex=True, squeeze=False)[:, 0]
    for ax, idx in zip(axes, indices, strict=False):
        ch = rec.channels[idx]
        y = rec.signal[i0:i1, idx]
        ax.plot(t, y, color="black", linewidth=0.7)
        key = ch.name.lower()
        if key in peaks_by:
            p = peaks_by[key]
            p = p[(p >= i0) & (p < i1)]
            ax.plot(p / fs, rec.signal[p, idx], "o", color="#d62728", markersize=4, label="peaks")
        for style, (label, samples) in zip(_MARKER_STYLES, markers_by.get(key, {}).items(), strict=False):
            s = np.asarray(samples, dtype=np.float64)
            s = s[np.isfinite(s)].astype(np.int64)  # neurokit marks undetected waves with NaN
            s = s[(s >= i0) & (s < i1)]
            ax.plot(s / fs, rec.signal[s, idx], style, markersize=5, label=label)
        ax.set_ylabel(f"{ch.name} ({ch.unit})" if ch.unit else ch.name)
        ax.grid(True, alpha=0.3)
        if key in peaks_by or markers_by.get(key):
            # Outside the axes: inside, it would hide the very peaks it explains.
            ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(t[0], t[-1] if len(t) > 1 else t[0] + 1.0 / fs)
    fig.suptitle(title if title is not None else f"{rec.name} ({fs:g} Hz)")
    return _save(fig, out_path)


def plot_heart_rate_trend(
    times_s: np.ndarray,
    bpm: np.ndarray,
    out_path: str | Path,
    *,
    quality: list[str] | None = None,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
) -> Path:
    """Heart rate over time. Points are coloured by their quality flag (good/acceptable/poor/unusable)
    when given; ``reference`` is (times_s, bpm) of a reference, drawn dashed for comparison."""
    t = np.asarray(times_s, dtype=np.float64)
    hr = np.asarray(bpm, dtype=np.float64)
    if t.shape != hr.shape or t.ndim != 1:
        raise InputError(
            "heart-rate trend",
            f"times ({t.shape}) and rates ({hr.shape}) differ",
            "two 1-D arrays of one length",
        )
    if quality is not None and len(quality) != len(t):
        raise InputError(
            "heart-rate trend", f"{len(quality)} quality flags for {len(t)} rates", "one flag per rate"
        )

    fig = _new_figure(10.0, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(t, hr, "-", color="#444444", linewidth=1.0, label="estimate")
    if quality is None:
        ax.plot(t, hr, "o", color="#1f77b4", markersize=3)
    else:
        flags = np.asarray([str(q).lower() for q in quality])
        for flag in dict.fromkeys(flags.tolist()):
            sel = flags == flag
            ax.plot(
                t[sel], hr[sel], "o", markersize=4, color=QUALITY_COLOURS.get(flag, "#7f7f7f"), label=flag
            )
    if reference is not None:
        rt, rh = (np.asarray(a, dtype=np.float64) for a in reference)
        if rt.shape != rh.shape:
            raise InputError(
                "heart-rate reference",
                f"times ({rt.shape}) and rates ({rh.shape}) differ",
                "two 1-D arrays of one length",
            )
        ax.plot(rt, rh, "--", color="#d62728", linewidth=1.2, label="reference")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("heart rate (bpm)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, out_path)
