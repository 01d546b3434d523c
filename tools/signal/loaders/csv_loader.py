"""CSV files: one column per lead or channel, optionally a time column.

* Delimiter: comma, semicolon or tab, whichever the first data line uses most (whitespace otherwise).
* Leading lines starting with ``#`` are kept as header comments.
* Header: a first row with any non-numeric field gives the channel names; otherwise the channels are
  named ch1..chN.
* Sampling rate: from a time column, i.e. one named time / t / time_s / seconds / timestamp (``time_ms``
  or a "(ms)" unit for milliseconds), or an unnamed first column that rises by a constant step. A column
  of sample numbers (named index/sample, or 0,1,2,...) is dropped and says nothing about the rate; then
  ``sampling_rate_hz`` must be given.
* A unit in brackets in a column name ("ecg (mV)") becomes the channel's unit.
* Rows and columns are counted before parsing and refused over ``CARDIOAGENT_MAX_CSV_ROWS`` /
  ``CARDIOAGENT_MAX_CSV_COLUMNS``; the parser never reads more rows than the limit.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd

from cardioagent.tools.errors import CorruptFileError, FileTooLargeError, SamplingRateError
from cardioagent.tools.signal.loaders.assemble import build_signal_recording, pick_rate
from cardioagent.tools.signal.loaders.channel_kinds import ChannelKind, guess_channel_kind, split_unit
from cardioagent.tools.signal.loaders.grouping import RecordGroup
from cardioagent.tools.signal.loaders.limits import ENV_OF
from cardioagent.tools.signal.loaders.names import clean_text
from cardioagent.tools.signal.loaders.validate import HOW_TO_GIVE_RATE, check_sample_count, limits
from cardioagent.tools.signal.recording import Recording

_ACCEPTED = (
    "a CSV file of numbers, one column per channel, with an optional header row and an optional "
    "time column in seconds (time_s)"
)
_TIME_NAMES = {"t", "seconds", "sec", "secs", "elapsed", "elapsedtime", "ms", "milliseconds", "millis"}
_INDEX_NAMES = {"index", "idx", "sample", "samples", "samplenumber", "sampleindex", "samplenr", "n", "nr"}
_UNIT_SCALE = {"s": 1.0, "sec": 1.0, "seconds": 1.0, "ms": 1e-3, "milliseconds": 1e-3, "us": 1e-6, "µs": 1e-6}


def _squash(name: str) -> str:
    return re.sub(r"[\s\-_.:/]+", "", name.strip().lower())


def _is_number(field: str) -> bool:
    try:
        float(field)
        return True
    except ValueError:
        return field.strip() == ""


def _delimiter(line: str) -> str | None:
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None  # None: split on whitespace


def _time_scale(raw_name: str) -> float:
    """Seconds per unit of a time column, from its unit or its name (``time_ms``)."""
    base, unit = split_unit(raw_name)
    if unit.lower() in _UNIT_SCALE:
        return _UNIT_SCALE[unit.lower()]
    squashed = _squash(base)
    if squashed.endswith(("ms", "millis", "milliseconds")):
        return 1e-3
    if squashed.endswith("us"):
        return 1e-6
    return 1.0


def _rate_from_time(values: np.ndarray, strict: bool) -> float | None:
    """Rate of an evenly spaced, rising time column in seconds; None if it is not one.

    ``strict`` (an unnamed column) demands a constant step within 1 %; a named time column may jitter
    (phone and BLE timestamps do) as long as it rises, and its mean step gives the rate.
    """
    v = values[np.isfinite(values)]
    if len(v) < 3:
        return None
    d = np.diff(v)
    if np.any(d <= 0):
        return None
    step = float(np.median(d))
    if strict and np.max(np.abs(d - step)) > 0.01 * step:
        return None
    if not strict:
        step = float((v[-1] - v[0]) / (len(v) - 1))
    return float(f"{1.0 / step:.6g}")


def _is_sample_index(values: np.ndarray) -> bool:
    v = values[np.isfinite(values)]
    return len(v) > 2 and bool(np.all(np.diff(v) == 1)) and float(v[0]).is_integer()


def load_csv(group: RecordGroup, sampling_rate_hz: float | None = None) -> Recording:
    """A CSV recording: optional ``#`` comments, an optional header, an optional time or sample-index column,
    one column per signal. Each step below raises a specific error naming what is wrong."""
    label = group.main.label
    try:
        text = group.main.path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CorruptFileError(label, "the file is not UTF-8 text", _ACCEPTED) from None
    comments, skip, first_line = _preamble(text, label)
    sep = _delimiter(first_line)
    first = first_line.split(sep) if sep else first_line.split()
    has_header = not all(_is_number(f) for f in first)
    _check_announced_size(text, label, skip, has_header, len(first))
    frame = _read_frame(text, label, sep, skip, has_header)
    time_values, time_col = _find_time(frame, has_header)
    numeric = _signal_columns(frame, label, time_col, skip, has_header)
    file_rate = None
    rate_source = "as given"
    if time_values is not None and time_col is not None:  # _find_time finds both or neither
        strict = not _is_named_time(time_col)
        file_rate = _rate_from_time(time_values, strict=strict)
        if file_rate is None and not strict:
            raise SamplingRateError(
                label,
                f"the time column {clean_text(time_col, 60)!r} does not rise steadily",
                HOW_TO_GIVE_RATE,
            )
        if file_rate is not None:
            rate_source = f"from the time column {clean_text(time_col, 60)!r}"
    fs = pick_rate(file_rate, sampling_rate_hz, comments)
    if fs is None:
        raise SamplingRateError(
            label, "the file has no time column and no sampling rate was given", HOW_TO_GIVE_RATE
        )
    names, units = zip(*(split_unit(col) for col in numeric), strict=False)
    return build_signal_recording(
        group,
        signal=np.column_stack(list(numeric.values())),
        names=list(names),
        units=list(units),
        sampling_rate_hz=fs,
        rate_source=rate_source,
        names_given=has_header,
        comments=comments,
    )


def _preamble(text: str, label: str) -> tuple[list[str], int, str]:
    """Leading ``#`` comments, how many lines precede the first row, and that row.

    Read line by line: splitting a large file into a list of lines would cost many times its size.
    """
    comments: list[str] = []
    skip = 0
    for line in io.StringIO(text, newline=None):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            if stripped:
                comments.append(stripped[1:].strip())
            skip += 1
            continue
        return comments, skip, line.rstrip("\r\n")
    raise CorruptFileError(label, "the file holds no rows", _ACCEPTED)


def _check_announced_size(text: str, label: str, skip: int, has_header: bool, n_columns: int) -> None:
    """Rows and columns within the limits, counted before pandas reads anything."""
    lim = limits()
    n_lines = max(text.count("\n"), text.count("\r")) + (0 if text.endswith(("\n", "\r")) else 1)
    n_rows = n_lines - skip - (1 if has_header else 0)
    if n_columns > lim.max_csv_columns:
        raise FileTooLargeError(
            label,
            f"the file has {n_columns:,} columns, over the limit of {lim.max_csv_columns:,}",
            f"CSV files of up to {lim.max_csv_columns:,} columns (set by {ENV_OF['max_csv_columns']})",
        )
    if n_rows > lim.max_csv_rows:
        raise FileTooLargeError(
            label,
            f"the file has {n_rows:,} rows, over the limit of {lim.max_csv_rows:,}",
            f"CSV files of up to {lim.max_csv_rows:,} rows (set by {ENV_OF['max_csv_rows']}); cut the recording "
            "shorter",
        )
    check_sample_count(label, n_rows, n_columns, source="rows x columns")


def _read_frame(text: str, label: str, sep: str | None, skip: int, has_header: bool) -> pd.DataFrame:
    """The rows as a DataFrame with stripped column names (``ch1``... without a header), empty trailing
    columns dropped."""
    lim = limits()
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep if sep else r"\s+",
            header=0 if has_header else None,
            skiprows=skip,
            skipinitialspace=True,
            engine="c" if sep else "python",
            nrows=lim.max_csv_rows + 1,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        raise CorruptFileError(
            label, f"the rows cannot be parsed as CSV ({clean_text(str(e), 200)})", _ACCEPTED
        ) from e
    if len(frame) > lim.max_csv_rows or frame.shape[1] > lim.max_csv_columns:
        raise FileTooLargeError(
            label,
            f"the file has more than {lim.max_csv_rows:,} rows or {lim.max_csv_columns:,} columns",
            f"CSV files within the limits set by {ENV_OF['max_csv_rows']} and {ENV_OF['max_csv_columns']}",
        )
    if not has_header:
        frame.columns = [f"ch{i + 1}" for i in range(frame.shape[1])]
    frame.columns = [str(c).strip() for c in frame.columns]
    # Trailing delimiters make empty "Unnamed: k" columns.
    frame = frame[[c for c in frame.columns if not (c.startswith("Unnamed:") and frame[c].isna().all())]]
    if len(frame) == 0:
        raise CorruptFileError(label, "the file has a header but no data rows", _ACCEPTED)
    return frame


def _signal_columns(
    frame: pd.DataFrame, label: str, time_col: str | None, skip: int, has_header: bool
) -> dict[str, np.ndarray]:
    """Every column but time and sample index, as float arrays; a non-numeric cell is an error naming its
    line."""
    numeric = {}
    for col in frame.columns:
        if col == time_col:
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy())) + skip + 1 + (1 if has_header else 0)
            raise CorruptFileError(
                label,
                f"column {clean_text(col, 60)!r} has a non-numeric value "
                f"{clean_text(str(frame[col][bad].iloc[0]), 40)!r} on line {row}",
                _ACCEPTED,
            )
        numeric[col] = values.to_numpy(dtype=np.float64)
    index_cols = [c for c in numeric if _squash(split_unit(c)[0]) in _INDEX_NAMES or c.startswith("Unnamed:")]
    if time_col is None and not index_cols and has_header is False and len(numeric) > 1:
        first_col = next(iter(numeric))
        if _is_sample_index(numeric[first_col]):
            index_cols.append(first_col)
    for c in index_cols:
        numeric.pop(c)
    if not numeric:
        raise CorruptFileError(label, "the file has no signal column besides time/index", _ACCEPTED)
    if not has_header:  # number the signal columns, not the time or index column
        numeric = {f"ch{i + 1}": v for i, v in enumerate(numeric.values())}
    return numeric


def _is_named_time(col: str) -> bool:
    squashed = _squash(split_unit(col)[0])
    return squashed in _TIME_NAMES or squashed.startswith("time")


def _find_time(frame: pd.DataFrame, has_header: bool) -> tuple[np.ndarray | None, str | None]:
    """The time column's values in seconds and its name, or (None, None)."""
    for col in frame.columns:
        if has_header and _is_named_time(col):
            return _time_seconds(frame[col], col), col
    first = frame.columns[0]
    if frame.shape[1] < 2:
        return None, None
    if has_header and guess_channel_kind(split_unit(first)[0]) != ChannelKind.OTHER:
        return None, None
    if has_header and _squash(split_unit(first)[0]) in _INDEX_NAMES:
        return None, None
    values = pd.to_numeric(frame[first], errors="coerce").to_numpy(dtype=np.float64)
    if _is_sample_index(values) or np.isnan(values).any():
        return None, None
    if _rate_from_time(values, strict=True) is None:
        return None, None
    return values * _time_scale(first), first


def _time_seconds(column: pd.Series, name: str) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce")
    if values.isna().all() and column.notna().any():
        # Date-time text ("2024-01-01 10:00:00.004")
        stamps = pd.to_datetime(column, errors="coerce")
        return (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy(dtype=np.float64)
    v = values.to_numpy(dtype=np.float64)
    scale = _time_scale(name)
    if scale == 1.0 and _squash(name).startswith("timestamp") and np.nanmax(np.abs(v)) > 1e11:
        scale = 1e-3  # epoch milliseconds
    return v * scale
