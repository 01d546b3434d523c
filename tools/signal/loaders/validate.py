"""Checks on uploads, each failing with its own ``InputError`` that names the file, the problem and what
would be accepted.

Decisions (documented here because the loaders rely on them):

* Size is checked from the file system before a byte of content is read; for a ``.zip`` (and a ``.npz``)
  the declared size of every member and their total must also fit the limit (so a small archive cannot
  unpack into gigabytes), and what is unpacked is counted as it comes (declared sizes can lie).
* What a file announces (samples x channels from a header or an array's shape, CSV rows and columns, image
  pixels) is checked against ``limits.LoaderLimits`` before the content is read or decoded.
* The sampling rate must lie in 50 Hz .. 10 kHz: below 50 Hz a QRS complex is not resolved, above 10 kHz the
  file is almost certainly mislabelled (e.g. a rate given in samples per minute or a time column in ms).
* A channel that is all NaN, more than half NaN, or flat (constant) is dropped, and a line saying so is
  added to ``header_comments``; the recording loads with the channels that remain. Only when no channel
  remains is it an ``EmptyChannelError``. Isolated NaNs (and +-inf) in a kept channel are linearly
  interpolated, also with a note. Rationale: a 12-lead ECG with one lead off is still a useful ECG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cardioagent.tools.errors import (
    EmptyChannelError,
    FileTooLargeError,
    HeaderMismatchError,
    SamplingRateError,
    UnsupportedFormatError,
)
from cardioagent.tools.signal.loaders.limits import (
    DEFAULT_MAX_BYTES,
    ENV_OF,
    MAX_UPLOAD_ENV,
    LoaderLimits,
    limits,
    resolve_max_bytes,
)
from cardioagent.tools.signal.recording import Channel, SourceFormat

__all__ = ["DEFAULT_MAX_BYTES", "MAX_UPLOAD_ENV", "LoaderLimits", "limits", "resolve_max_bytes"]

SUPPORTED_FORMATS = (
    "WFDB (.hea with .dat or .mat), EDF/EDF+ (.edf), CSV (.csv), NumPy (.npy/.npz), "
    "ECG image (.png/.jpg/.jpeg/.pdf), or a .zip of these; and, read by their content, DICOM ECG waveforms, "
    "HL7 aECG, Philips Sierra/PageWriter XML, GE MUSE XML, SCP-ECG and Apple Health ECG CSV exports"
)

MIN_SAMPLING_RATE_HZ = 50.0
MAX_SAMPLING_RATE_HZ = 10_000.0

# The format each extension stands for. WFDB parts other than the header are only valid beside a header.
FORMAT_OF_EXTENSION: dict[str, SourceFormat] = {
    ".hea": "wfdb",
    ".edf": "edf",
    ".csv": "csv",
    ".npy": "numpy",
    ".npz": "numpy",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".pdf": "image",
}
WFDB_DATA_EXTENSIONS = {".dat", ".mat"}
WFDB_ANNOTATION_EXTENSIONS = {".atr", ".qrs"}
ZIP_EXTENSION = ".zip"

HOW_TO_GIVE_RATE = (
    "a sampling rate between 50 and 10000 Hz, given with sampling_rate_hz (the app's sampling-rate field), "
    "or a time column in seconds named time_s"
)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def check_file_size(path: Path, label: str, max_bytes: int) -> int:
    size = path.stat().st_size
    if size > max_bytes:
        raise FileTooLargeError(
            label,
            f"the file is {_mb(size)}, over the upload limit of {_mb(max_bytes)}",
            f"files up to {_mb(max_bytes)} (the limit is set by {MAX_UPLOAD_ENV}); cut the recording shorter",
        )
    return size


def check_unpacked_size(label: str, member: str | None, size: int, max_bytes: int) -> None:
    what = f"member {member} would unpack to" if member else "its members would unpack to"
    if size > max_bytes:
        raise FileTooLargeError(
            label,
            f"{what} {_mb(size)}, over the upload limit of {_mb(max_bytes)}",
            f"archives whose unpacked content is up to {_mb(max_bytes)} (set by {MAX_UPLOAD_ENV})",
        )


def check_sample_count(label: str, n_samples: int, n_channels: int, *, source: str = "") -> None:
    """Refuse a recording whose samples x channels (as announced, before reading) is over the limit."""
    lim = limits()
    where = f" ({source})" if source else ""
    if n_channels > lim.max_channels:
        raise FileTooLargeError(
            label,
            f"the recording has {n_channels:,} channels{where}, over the limit of {lim.max_channels:,}",
            f"recordings of up to {lim.max_channels:,} channels (set by {ENV_OF['max_channels']})",
        )
    total = int(n_samples) * max(1, int(n_channels))
    if total > lim.max_samples:
        raise FileTooLargeError(
            label,
            f"the recording holds {n_samples:,} samples x {n_channels:,} channel(s) = {total:,} values{where}, "
            f"over the limit of {lim.max_samples:,}",
            f"recordings of up to {lim.max_samples:,} values (samples x channels, set by "
            f"{ENV_OF['max_samples']}); cut the recording shorter or upload fewer channels",
        )


def unsupported_extension(label: str, suffix: str) -> UnsupportedFormatError:
    shown = f"'{suffix}' files are" if suffix else "files without an extension are"
    return UnsupportedFormatError(label, f"{shown} not a format cardioagent reads", SUPPORTED_FORMATS)


def check_sampling_rate(label: str, fs: float | None, *, source: str = "") -> float:
    where = f" ({source})" if source else ""
    if fs is None:
        raise SamplingRateError(label, "the sampling rate is not given in the file", HOW_TO_GIVE_RATE)
    fs = float(fs)
    if not np.isfinite(fs) or fs < MIN_SAMPLING_RATE_HZ:
        hint = ""
        if np.isfinite(fs) and 0 < fs < 1:
            hint = "; if the time column is in milliseconds, name it time_ms"
        raise SamplingRateError(
            label,
            f"the sampling rate{where} is {fs:g} Hz, below the minimum of 50 Hz{hint}",
            HOW_TO_GIVE_RATE,
        )
    if fs > MAX_SAMPLING_RATE_HZ:
        raise SamplingRateError(
            label, f"the sampling rate{where} is {fs:g} Hz, above the maximum of 10000 Hz", HOW_TO_GIVE_RATE
        )
    return fs


# Bytes per sample of the WFDB storage formats whose size is fixed (the FLAC formats 5xx are not).
WFDB_BYTES_PER_SAMPLE = {
    "8": 1.0,
    "16": 2.0,
    "24": 3.0,
    "32": 4.0,
    "61": 2.0,
    "80": 1.0,
    "160": 2.0,
    "212": 1.5,
    "310": 4 / 3,
    "311": 4 / 3,
}


def check_wfdb_data_sizes(label: str, header, data_sizes: dict[str, int]) -> None:
    """Compare each data file's size with what the header (a ``wfdb.Record`` from ``rdheader``) promises.

    Catches what wfdb reports only as a cryptic ValueError: a truncated file, and a header listing more
    leads than the file holds.
    """
    if not header.sig_len:
        return  # length not in the header: wfdb infers it from the file size
    per_file: dict[str, list[int]] = {}
    for i, fname in enumerate(header.file_name):
        per_file.setdefault(fname, []).append(i)
    for fname, idx in per_file.items():
        if fname not in data_sizes:
            continue
        fmts = {header.fmt[i] for i in idx}
        if len(fmts) != 1 or next(iter(fmts)) not in WFDB_BYTES_PER_SAMPLE:
            continue
        bps = WFDB_BYTES_PER_SAMPLE[next(iter(fmts))]
        offset = int((header.byte_offset or [0] * header.n_sig)[idx[0]] or 0)
        spf = [int((header.samps_per_frame or [1] * header.n_sig)[i] or 1) for i in idx]
        frame_bytes = sum(spf) * bps
        expected = offset + int(np.ceil(header.sig_len * frame_bytes))
        actual = data_sizes[fname]
        if actual >= expected:
            continue
        payload = actual - offset
        per_lead = header.sig_len * bps
        leads_held = payload / per_lead if per_lead else 0
        accepted = f"the .hea together with the complete data file it was written with ({fname})"
        if len(idx) > 1 and leads_held >= 1 and float(leads_held).is_integer() and leads_held < len(idx):
            raise HeaderMismatchError(
                label,
                f"the header lists {len(idx)} leads of {header.sig_len:,} samples in {fname}, "
                f"but {fname} holds data for only {int(leads_held)} lead(s) ({actual:,} bytes)",
                accepted,
            )
        held = max(0, int(payload // frame_bytes)) if frame_bytes else 0
        raise HeaderMismatchError(
            label,
            f"{fname} is shorter than the header says: it holds {held:,} of {header.sig_len:,} samples per "
            f"lead ({actual:,} bytes, {expected:,} expected); the file looks truncated",
            accepted,
        )


def clean_channels(
    label: str, signal: np.ndarray, channels: list[Channel]
) -> tuple[np.ndarray, list[Channel], list[str]]:
    """Drop empty or flat channels and interpolate isolated NaNs; return the notes to keep.

    ``signal`` is float64 (n_samples, n_channels). Raises EmptyChannelError when no channel is left.
    """
    signal = np.where(np.isfinite(signal), signal, np.nan)
    keep: list[int] = []
    notes: list[str] = []
    problems: list[str] = []
    n = signal.shape[0]
    for j, ch in enumerate(channels):
        x = signal[:, j]
        nan = np.isnan(x)
        n_nan = int(nan.sum())
        if n_nan == n:
            problems.append(f"{ch.name} (all NaN)")
        elif n_nan > n / 2:
            problems.append(f"{ch.name} ({n_nan / n:.0%} NaN)")
        elif np.nanmax(x) - np.nanmin(x) <= 1e-12 * max(1.0, float(np.nanmax(np.abs(x)))):
            problems.append(f"{ch.name} (flat at {float(np.nanmax(x)):g})")
        else:
            if n_nan:
                good = ~nan
                pos = np.arange(n)
                signal[nan, j] = np.interp(pos[nan], pos[good], x[good])
                notes.append(f"loader: interpolated {n_nan} missing sample(s) in {ch.name}")
            keep.append(j)
    if not keep:
        raise EmptyChannelError(
            label,
            "no channel holds a usable signal: " + ", ".join(problems),
            "a recording with at least one channel of finite, varying values",
        )
    if problems:
        notes.insert(0, "loader: dropped empty or flat channel(s): " + ", ".join(problems))
    return np.ascontiguousarray(signal[:, keep]), [channels[j] for j in keep], notes
