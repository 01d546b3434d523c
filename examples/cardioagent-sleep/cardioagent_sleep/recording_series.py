"""From a cardioagent ``Recording`` of modality ``wearable`` to the series the features need."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cardioagent.tools.signal.recording import ChannelKind, Recording
from cardioagent_sleep.errors import NoMotionError
from cardioagent_sleep.features import activity_counts, counts_from_low_rate_motion

_HR_NAMES = {"heart_rate", "hr", "heartrate", "pulse", "bpm"}
_COUNT_NAMES = {"activity_count", "counts", "count", "activity_counts"}
ACCEPTED = (
    "a night of wearable heart rate (bpm) with wrist motion: activity counts, or a 3-axis accelerometer "
    "(any rate; at 32 Hz or more the published counts are computed), e.g. a CSV with second, acc_x, acc_y, "
    "acc_z, heart_rate"
)


@dataclass
class NightSeries:
    t: np.ndarray  # seconds on the file's clock
    hr: np.ndarray
    counts: np.ndarray  # activity counts at the times t (NaN in gaps)
    counts_t: np.ndarray
    counts_source: str
    low_rate_proxy: bool
    reference: list[str] | None  # stage per second from a psg annotation set, if the file has one


def start_seconds(rec: Recording) -> float:
    for c in rec.header_comments:
        if c.startswith("start_s="):
            try:
                return float(c.split("=", 1)[1])
            except ValueError:
                break
    return 0.0


def _find(rec: Recording, names: set[str], unit: str | None = None) -> int | None:
    for i, c in enumerate(rec.channels):
        if c.name.lower() in names or (unit is not None and c.unit.lower() == unit):
            return i
    return None


def series_of(rec: Recording) -> NightSeries:
    if rec.signal is None or not rec.sampling_rate_hz:
        raise NoMotionError(rec.name, "it holds no signal", ACCEPTED)
    fs = float(rec.sampling_rate_hz)
    t = start_seconds(rec) + np.arange(rec.n_samples) / fs
    hr_i = _find(rec, _HR_NAMES, unit="bpm")
    if hr_i is None:
        raise NoMotionError(
            rec.name,
            "it has no heart-rate channel (channels: " + ", ".join(rec.channel_names) + ")",
            ACCEPTED,
        )
    hr = rec.signal[:, hr_i]
    c_i = _find(rec, _COUNT_NAMES)
    accel = rec.indices_of(ChannelKind.ACCEL)
    if c_i is not None:
        counts, counts_t, source, proxy = (
            rec.signal[:, c_i],
            t,
            f"activity counts from channel {rec.channels[c_i].name}",
            False,
        )
    elif len(accel) >= 1 and fs >= 32:
        z = rec.signal[:, accel[-1]]
        ok = np.isfinite(z)
        counts_t, counts = activity_counts(t[ok], z[ok])
        source, proxy = f"activity counts computed from {rec.channels[accel[-1]].name} at {fs:g} Hz", False
    elif len(accel) >= 3 and fs <= 2:
        counts = counts_from_low_rate_motion(rec.signal[:, accel[:3]])
        counts_t, source, proxy = (
            t,
            "activity-count proxy from the 1-Hz accelerometer means (no counts in the file)",
            True,
        )
    else:
        raise NoMotionError(
            rec.name,
            "it has no wrist-motion channel (activity counts or a 3-axis accelerometer); sleep staging "
            "cannot tell stillness from wake by heart rate alone",
            ACCEPTED,
        )
    reference = None
    psg = next((a for a in rec.annotations if a.source == "psg"), None)
    if psg is not None and psg.samples:
        codes = np.full(rec.n_samples, -1)
        for k, (s, sym) in enumerate(zip(psg.samples, psg.symbols, strict=True)):
            end = psg.samples[k + 1] if k + 1 < len(psg.samples) else rec.n_samples
            codes[s:end] = int(sym) if sym.lstrip("-").isdigit() else -1
        from cardioagent_sleep.stages import STAGES, stage_index_from_psg

        reference = [STAGES[i] if i >= 0 else "unscored" for i in stage_index_from_psg(codes)]
    return NightSeries(t, hr, counts, counts_t, source, proxy, reference)
