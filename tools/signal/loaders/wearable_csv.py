"""Wearable exports: heart rate (1 Hz or irregular) with wrist motion, as a CSV with a time column.

    second,x_move,y_move,z_move,heart_rate,step_count,psg_status      (Walch et al. 2019 Apple Watch night)
    time_s,acc_x,acc_y,acc_z,hr

Recognised by the header (``is_wearable_csv``): a time column (second/seconds/time/time_s/timestamp), a
heart-rate column (heart_rate/hr/heartrate/bpm/pulse) and no ECG or PPG column. Such a file is not a waveform
(the ECG/PPG loader would refuse its 1-Hz rate), so it becomes a ``Recording`` of modality ``wearable`` on a
1-s grid, channels ``heart_rate`` (bpm), ``acc_x/acc_y/acc_z`` (g, when present) and ``activity_count`` (when
the file has counts: ``activity_count``/``counts``, or ``step_count`` as in the Walch et al. export, whose
README defines it as activity counts).

Rows are sorted by time and repeated time stamps dropped (the Walch export has a backwards jump). Each channel
is linearly interpolated onto whole seconds from the first to the last time stamp; seconds farther than
``MAX_BRIDGE_S`` from any sample of the channel stay NaN, so gaps remain visible to the tools. A ``psg_status``
/ ``sleep_stage`` column (reference stages, 0 W 1 N1 2 N2 3 N3 4 N4 5 REM, -1 unscored) becomes an
annotation set ``psg`` with one entry per change of stage. ``header_comments`` keep ``start_s=<first time>``
so that tools can place epochs on the file's clock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from cardioagent.tools.errors import CorruptFileError, FileTooLargeError
from cardioagent.tools.signal.loaders.assemble import content_id
from cardioagent.tools.signal.loaders.grouping import RecordGroup
from cardioagent.tools.signal.loaders.limits import ENV_OF, limits
from cardioagent.tools.signal.loaders.names import clean_text
from cardioagent.tools.signal.recording import AnnotationSet, Channel, ChannelKind, Modality, Recording

MAX_BRIDGE_S = 60.0
_ACCEPTED = (
    "a wearable CSV with a time column in seconds (second, time_s), a heart_rate column in bpm and, for "
    "sleep staging, accelerometer columns (acc_x/acc_y/acc_z or x_move/y_move/z_move, in g)"
)
_ACCEPTED_ANY = (
    "a wearable night as CSV, EDF or .npz: a heart-rate series in bpm (heart_rate/hr) with its time base and, "
    "for sleep staging, accelerometer channels (acc_x/acc_y/acc_z or x_move/y_move/z_move, in g) or counts"
)
_TIME = {"second", "seconds", "time", "times", "timesec", "timeseconds", "timestamp", "t"}
_HR = {"heartrate", "hr", "bpm", "pulse", "pulserate", "heartratebpm"}
_AXES = {
    "x": {"accx", "xmove", "ax", "x", "accelx", "accelerationx"},
    "y": {"accy", "ymove", "ay", "y", "accely", "accelerationy"},
    "z": {"accz", "zmove", "az", "z", "accelz", "accelerationz"},
}
_COUNTS = {"activitycount", "activitycounts", "counts", "count", "stepcount"}
_STAGES = {"psgstatus", "sleepstage", "psgstage", "stage"}
_CARDIAC = re.compile(r"^(ecg|ekg|ppg|pleth|bvp|lead|ii|iii|v\d|avr|avl|avf)")


def _squash(name: str) -> str:
    """Lower case, a trailing bracketed unit removed, separators removed: "Heart Rate (bpm)" -> "heartrate"."""
    name = re.sub(r"\s*[\(\[].*?[\)\]]\s*$", "", str(name).strip().lower())
    return re.sub(r"[\s\-_.:/]+", "", name)


def _header(path) -> list[str] | None:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            s = line.strip()
            if s and not s.startswith("#"):
                return [c.strip() for c in re.split(r"[,;\t]", s)]
    return None


def is_wearable_names(names) -> bool:
    """True when the column/channel names hold a heart rate and no ECG/PPG (a wearable night, not a waveform)."""
    cols = [_squash(c) for c in names]
    return any(c in _HR for c in cols) and not any(_CARDIAC.match(c) for c in cols)


def wanted_column(name) -> bool:
    """A column/channel a wearable recording is built from: heart rate, an accelerometer axis, counts, stages."""
    c = _squash(name)
    return c in _HR or c in _COUNTS or c in _STAGES or any(c in names for names in _AXES.values())


def is_wearable_csv(path) -> bool:
    """True for a CSV whose header has a time column and a heart-rate column and no ECG/PPG column."""
    try:
        header = _header(path) or []
    except OSError:
        return False
    return any(_squash(c) in _TIME for c in header) and is_wearable_names(header)


def _on_grid(t: np.ndarray, v: np.ndarray, grid: np.ndarray) -> np.ndarray:
    ok = np.isfinite(v)
    t, v = t[ok], v[ok]
    if len(t) == 0:
        return np.full(len(grid), np.nan)
    out = np.interp(grid, t, v)
    # distance from each grid second to the nearest sample of this channel: beyond MAX_BRIDGE_S it is a gap
    after = np.clip(np.searchsorted(t, grid), 0, len(t) - 1)
    before = np.clip(after - 1, 0, len(t) - 1)
    near = np.minimum(np.abs(grid - t[before]), np.abs(grid - t[after]))
    out[near > MAX_BRIDGE_S] = np.nan
    return out


def load_wearable_csv(group: RecordGroup) -> Recording:
    label = group.main.label
    lim = limits()
    try:
        frame = pd.read_csv(
            group.main.path,
            comment="#",
            sep=None,
            engine="python",
            nrows=lim.max_csv_rows + 1,
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, UnicodeDecodeError) as e:
        raise CorruptFileError(
            label, f"the rows cannot be parsed as CSV ({clean_text(str(e), 200)})", _ACCEPTED
        ) from e
    if len(frame) > lim.max_csv_rows:
        raise FileTooLargeError(
            label,
            f"the file has more than {lim.max_csv_rows:,} rows",
            f"CSV files of up to {lim.max_csv_rows:,} rows (set by {ENV_OF['max_csv_rows']})",
        )
    cols = {_squash(c): c for c in frame.columns}
    time_col = next((cols[n] for n in cols if n in _TIME), None)
    # is_wearable_csv sniffed the first header line; pandas may read another (sep=None guesses the separator).
    # A missing heart-rate column is reported by wearable_recording.
    if time_col is None:
        raise CorruptFileError(
            label, f"no time column among {', '.join(map(str, frame.columns[:20]))}", _ACCEPTED
        )
    t = pd.to_numeric(frame[time_col], errors="coerce").to_numpy(float)
    if not np.isfinite(t).any():
        raise CorruptFileError(
            label, f"the time column {clean_text(time_col, 40)!r} holds no numbers", _ACCEPTED
        )
    # only the columns a wearable night uses are converted: a wide export can have hundreds of others
    columns = {
        str(c): pd.to_numeric(frame[c], errors="coerce").to_numpy(float)
        for c in frame.columns
        if wanted_column(c)
    }
    return wearable_recording(group, t, columns, "csv")


_WHAT = {
    "csv": ("wearable CSV", "rows"),
    "edf": ("wearable EDF", "samples"),
    "numpy": ("wearable .npz", "samples"),
}


def wearable_recording(
    group: RecordGroup,
    t: np.ndarray,
    columns: dict[str, np.ndarray],
    fmt: Literal["csv", "edf", "numpy"],
    notes: Sequence[str] = (),
) -> Recording:
    """Time stamps (s, any order, may repeat) and named numeric columns of the same length -> a wearable
    ``Recording`` on a 1-s grid. Columns are recognised by name (heart rate, acc x/y/z, counts, stages);
    the others are ignored. ``fmt`` is the source format; ``notes`` go to ``header_comments``."""
    label = group.main.label
    accepted = _ACCEPTED if fmt == "csv" else _ACCEPTED_ANY
    what, unit = _WHAT[fmt]
    cols = {_squash(c): c for c in columns}
    pick = lambda names: next((cols[n] for n in cols if n in names), None)  # noqa: E731
    hr_col = pick(_HR)
    if hr_col is None:
        raise CorruptFileError(
            label,
            f"no heart-rate {'column' if fmt == 'csv' else 'channel'} among {', '.join(columns)}",
            accepted,
        )
    t = np.asarray(t, dtype=float)
    if not np.isfinite(t).any():
        raise CorruptFileError(label, "the time stamps hold no numbers", accepted)
    order = np.argsort(t, kind="stable")
    t = t[order]
    keep = np.isfinite(t) & np.concatenate([[True], np.diff(t) > 0])  # repeated stamps: keep the first
    t = t[keep]
    if len(t) < 2:
        raise CorruptFileError(label, "the file has fewer than two time stamps", accepted)
    grid = np.arange(np.ceil(t[0]), np.floor(t[-1]) + 1.0, 1.0)
    comments = [
        f"start_s={grid[0]:g}",
        f"loader: {what}; {len(t)} {unit} from {t[0]:g} s to {t[-1]:g} s "
        f"placed on a 1-s grid; gaps over {MAX_BRIDGE_S:g} s left empty (NaN)",
        *notes,
    ]
    dropped = int((~keep).sum())
    if dropped:
        comments.append(
            f"loader: {dropped} {unit} with a repeated or missing time stamp dropped after sorting"
        )

    def numeric(col) -> np.ndarray:
        return np.asarray(columns[col], dtype=float)[order][keep]

    series, channels = (
        [_on_grid(t, numeric(hr_col), grid)],
        [Channel(name="heart_rate", kind=ChannelKind.OTHER, unit="bpm")],
    )
    for axis, names in _AXES.items():
        col = pick(names)
        if col is not None:
            series.append(_on_grid(t, numeric(col), grid))
            channels.append(Channel(name=f"acc_{axis}", kind=ChannelKind.ACCEL, unit="g"))
    count_col = pick(_COUNTS)
    if count_col is not None:
        series.append(_on_grid(t, numeric(count_col), grid))
        channels.append(Channel(name="activity_count", kind=ChannelKind.OTHER, unit="counts"))
        kind = "column" if fmt == "csv" else "channel"
        comments.append(f"loader: {kind} {clean_text(count_col, 40)!r} taken as activity counts")
    annotations = []
    stage_col = pick(_STAGES)
    if stage_col is not None:
        s = (
            np.interp(grid, t, numeric(stage_col)).round().astype(int)
        )  # nearest-ish: stages are piecewise constant
        change = np.flatnonzero(np.concatenate([[True], np.diff(s) != 0]))
        annotations.append(
            AnnotationSet(source="psg", samples=change.tolist(), symbols=[str(v) for v in s[change]])
        )
    signal = np.column_stack(series)
    if not np.isfinite(signal[:, 0]).any():
        raise CorruptFileError(
            label, f"the heart-rate {'column' if fmt == 'csv' else 'channel'} holds no numbers", accepted
        )
    return Recording(
        id=content_id(group.files),
        name=clean_text(group.name, max_len=120) or "recording",
        source_files=[f.label for f in group.files],
        format=fmt,
        modality=Modality.WEARABLE,
        sampling_rate_hz=1.0,
        channels=channels,
        signal=signal,
        annotations=annotations,
        header_comments=comments,
    )
