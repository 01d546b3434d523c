"""Wearable nights (heart rate + wrist motion at about 1 Hz) as EDF or NumPy ``.npz``, not only as CSV.

The waveform loaders refuse such files (their minimum rate is 50 Hz), so they are recognised by their channel
or array names, by the same rules as the wearable CSV (``wearable_csv``): a heart-rate channel
(heart_rate/hr/bpm/pulse ...) and no ECG or PPG channel. Both become the same ``Recording`` of modality
``wearable`` through ``wearable_recording``.

* EDF/EDF+: the labels are read from the header alone (no samples, no annotations). Each wanted channel
  (heart rate, acc_x/y/z or x_move/..., activity counts, psg_status) is read at its own rate; the heart-rate
  channel's clock (seconds from the file start, so ``start_s=0``) is the time base. A faster channel (e.g.
  a 32-Hz accelerometer) is averaged over each heart-rate sample interval (a mean, so no aliasing of wrist
  jerks into the 1-Hz trace), a slower one is interpolated, a stage channel is held (stages are piecewise
  constant). Other channels (EEG, SpO2, ...) are not read.
* ``.npz``: 1-D arrays named like the CSV columns (``heart_rate``/``hr``, ``acc_x``.. or ``x_move``..,
  ``activity_count``/``step_count``, ``psg_status``) with either a ``time``/``second`` array (seconds,
  may be irregular) or an ``fs`` scalar (Hz, samples then start at 0 s). Without either, the file is refused:
  guessing 1 Hz would silently stretch or squeeze a night.

Before any sample is read, the sizes the file announces (EDF header, ``.npy`` headers and unpacked sizes of
the archive) are checked against the limits in ``limits``.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pyedflib

from cardioagent.tools.errors import CorruptFileError, FileTooLargeError, SamplingRateError
from cardioagent.tools.signal.loaders.grouping import RecordGroup
from cardioagent.tools.signal.loaders.limits import MAX_UPLOAD_ENV, resolve_max_bytes
from cardioagent.tools.signal.loaders.names import clean_text, scrub_paths
from cardioagent.tools.signal.loaders.numpy_loader import _RATE_KEYS, _array_header
from cardioagent.tools.signal.loaders.validate import check_sample_count
from cardioagent.tools.signal.loaders.wearable_csv import (
    _HR,
    _STAGES,
    _TIME,
    _squash,
    is_wearable_names,
    wanted_column,
    wearable_recording,
)
from cardioagent.tools.signal.recording import Recording

_ACCEPTED_EDF = (
    "a wearable EDF with a heart-rate channel (label heart_rate, HR, bpm or pulse, any rate up to 1 Hz or more) "
    "and accelerometer channels (acc_x/acc_y/acc_z or x_move/y_move/z_move, g) or activity counts, and no "
    "ECG/PPG channel"
)
_ACCEPTED_NPZ = (
    "a wearable .npz of 1-D arrays of one length: 'heart_rate' (or 'hr', bpm), 'acc_x'/'acc_y'/'acc_z' (or "
    "'x_move'/'y_move'/'z_move', g) and/or 'activity_count', optionally 'psg_status', and the time base: "
    "a 'time' (or 'second', 'time_s') array in seconds, or an 'fs' scalar in Hz"
)
_MAX_NPZ_ARRAYS = 64


def is_wearable_file(group: RecordGroup) -> bool:
    """True for an EDF or .npz whose channel/array names say heart rate + motion rather than a waveform."""
    if group.format == "edf":
        labels = _edf_labels(group.main.path)
    elif group.format == "numpy":
        labels = _npz_names(group.main.path)
        if labels is not None and "signal" in labels:  # the waveform .npz layout (signal + fs)
            return False
    else:
        return False
    return labels is not None and is_wearable_names(labels)


def load_wearable_file(group: RecordGroup) -> Recording:
    if group.format == "edf":
        return load_wearable_edf(group)
    return load_wearable_npz(group)


# --- EDF ---------------------------------------------------------------------------------------------------


def _open_edf(path: Path) -> pyedflib.EdfReader:
    # annotations are not needed here; skipping them keeps the detection to a read of the header
    return pyedflib.EdfReader(str(path), annotations_mode=pyedflib.DO_NOT_READ_ANNOTATIONS)


def _edf_labels(path: Path) -> list[str] | None:
    """Channel labels from the EDF header; None when it is not a readable EDF (its own loader explains)."""
    try:
        reader = _open_edf(path)
    except (OSError, ValueError):
        return None
    try:
        return [str(reader.getLabel(i)) for i in range(reader.signals_in_file)]
    finally:
        reader.close()


def _onto_base(x: np.ndarray, fs: float, base_fs: float, n_base: int, hold: bool) -> np.ndarray:
    """Samples ``x`` at ``fs`` as ``n_base`` values on the clock ``k / base_fs`` (NaN where it has none)."""
    t = np.arange(len(x)) / fs
    if hold:  # stages: the value in force at each base time stamp
        idx = np.floor(np.arange(n_base) / base_fs * fs + 1e-9).astype(int)
        out = np.full(n_base, np.nan)
        ok = idx < len(x)
        out[ok] = x[idx[ok]]
        return out
    if fs > base_fs:  # mean of the samples within each base interval [k, k+1) / base_fs
        b = np.floor(t * base_fs + 1e-9).astype(int)
        ok = b < n_base
        total = np.bincount(b[ok], weights=x[ok], minlength=n_base)
        count = np.bincount(b[ok], minlength=n_base)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)
    t_base = np.arange(n_base) / base_fs
    return np.interp(t_base, t, x, left=np.nan, right=np.nan)


def load_wearable_edf(group: RecordGroup) -> Recording:
    label = group.main.label
    try:
        reader = _open_edf(group.main.path)
    except (OSError, ValueError) as e:
        raise CorruptFileError(
            label,
            f"the file is not a readable EDF/EDF+ file ({clean_text(scrub_paths(str(e)), 200)})",
            _ACCEPTED_EDF,
        ) from e
    try:
        labels = [str(reader.getLabel(i)) for i in range(reader.signals_in_file)]
        rates = [float(reader.getSampleFrequency(i)) for i in range(len(labels))]
        lengths = [int(n) for n in reader.getNSamples()]
        picked = [i for i, lab in enumerate(labels) if wanted_column(lab)]
        bad = [labels[i] for i in picked if not (math.isfinite(rates[i]) and rates[i] > 0)]
        if bad:
            raise CorruptFileError(
                label, f"channel {clean_text(bad[0], 40)!r} has no positive sampling rate", _ACCEPTED_EDF
            )
        hr_i = next(i for i in picked if _squash(labels[i]) in _HR)  # is_wearable_file found one
        base_fs, n_base = rates[hr_i], lengths[hr_i]
        # what will be read (each picked channel at its own rate) and what the 1-s grid will hold
        check_sample_count(
            label, max(lengths[i] for i in picked), len(picked), source="as the EDF header announces"
        )
        check_sample_count(
            label, math.ceil(n_base / base_fs) + 1, len(picked), source="on the 1-s grid of the heart rate"
        )
        columns: dict[str, np.ndarray] = {}
        notes = []
        for i in picked:
            x = np.asarray(reader.readSignal(i), dtype=np.float64)
            hold = _squash(labels[i]) in _STAGES
            columns[labels[i]] = _onto_base(x, rates[i], base_fs, n_base, hold)
            if rates[i] != base_fs:
                how = "held" if hold else ("averaged" if rates[i] > base_fs else "interpolated")
                notes.append(
                    f"loader: EDF channel {clean_text(labels[i], 40)!r} at {rates[i]:g} Hz {how} onto the "
                    f"heart-rate clock ({base_fs:g} Hz)"
                )
    finally:
        reader.close()
    t = np.arange(n_base) / base_fs
    return wearable_recording(group, t, columns, "edf", notes=notes)


# --- NumPy .npz --------------------------------------------------------------------------------------------


def _npz_names(path: Path) -> list[str] | None:
    """Array names of a .npz (from the zip directory, nothing unpacked); None when it is not one."""
    try:
        with open(path, "rb") as fh:
            if fh.read(2) != b"PK":
                return None
        with zipfile.ZipFile(path) as zf:
            return [n.removesuffix(".npy") for n in zf.namelist() if not n.endswith("/")]
    except (OSError, zipfile.BadZipFile):
        return None


def _check_npz(label: str, path: Path) -> dict[str, tuple[int, ...]]:
    """Shapes of the arrays, after the unpacked sizes and the announced samples were checked."""
    max_bytes = resolve_max_bytes(None)
    shapes: dict[str, tuple[int, ...]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            total = sum(i.file_size for i in infos)
            if len(infos) > _MAX_NPZ_ARRAYS or total > max_bytes:
                size = f"{len(infos)} arrays" if len(infos) > _MAX_NPZ_ARRAYS else f"{total:,} bytes"
                raise FileTooLargeError(
                    label,
                    f"the archive would unpack to {size}, over the limit of {max_bytes:,} bytes and "
                    f"{_MAX_NPZ_ARRAYS} arrays",
                    f"a .npz whose unpacked arrays total up to the upload limit (set by {MAX_UPLOAD_ENV})",
                )
            for info in infos:
                key = info.filename.removesuffix(".npy")
                what = f"array {clean_text(key, 40)!r}"
                with zf.open(info) as fh:
                    shape, dtype = _array_header(label, fh, what)
                if dtype.hasobject:
                    raise CorruptFileError(
                        label, f"{what} holds Python objects, which are not loaded for safety", _ACCEPTED_NPZ
                    )
                shapes[key] = shape
    except zipfile.BadZipFile as e:
        raise CorruptFileError(label, f"the file is not a NumPy .npz archive ({e})", _ACCEPTED_NPZ) from e
    except (RuntimeError, NotImplementedError, zlib.error, OSError, EOFError, ValueError) as e:
        raise CorruptFileError(
            label, f"the archive cannot be unpacked ({clean_text(str(e), 160)})", _ACCEPTED_NPZ
        ) from e
    used = [k for k in shapes if wanted_column(k) or _squash(k) in _TIME]
    longest = max((int(np.prod(shapes[k], dtype=np.float64)) for k in used), default=0)
    check_sample_count(label, longest, len(used), source="as the .npy headers announce")
    return shapes


def load_wearable_npz(group: RecordGroup) -> Recording:
    label = group.main.label
    shapes = _check_npz(label, group.main.path)
    squashed = {_squash(k): k for k in shapes}
    time_key = next((squashed[s] for s in squashed if s in _TIME), None)
    rate_key = next((k for k in _RATE_KEYS if k in shapes), None)
    if time_key is None and rate_key is None:
        raise SamplingRateError(
            label,
            "the wearable .npz has neither a time array nor a sampling rate (arrays: "
            f"{', '.join(clean_text(k, 30) for k in list(shapes)[:20])})",
            _ACCEPTED_NPZ,
        )
    wanted = [k for k in shapes if wanted_column(k)]
    try:
        with np.load(group.main.path, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k], dtype=np.float64) for k in wanted}
            if time_key is not None:
                t = np.asarray(npz[time_key], dtype=np.float64)
                where = f"the time array {clean_text(time_key, 30)!r}"
            else:
                fs_arr = np.asarray(npz[rate_key])
                if fs_arr.size != 1 or fs_arr.dtype.kind not in "iuf":
                    raise SamplingRateError(
                        label,
                        f"{clean_text(str(rate_key), 20)!r} must be one number, got shape {fs_arr.shape}",
                        "an 'fs' scalar in Hz",
                    )
                fs = float(fs_arr.reshape(()))
                if not (math.isfinite(fs) and fs > 0):
                    raise SamplingRateError(
                        label, f"the sampling rate {fs:g} Hz is not positive", "fs > 0 Hz"
                    )
                t = None
                where = "the heart-rate array"
    except (ValueError, TypeError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
        raise CorruptFileError(
            label,
            f"an array cannot be read as numbers ({clean_text(scrub_paths(str(e)), 160)})",
            _ACCEPTED_NPZ,
        ) from e
    flat = dict(arrays) if t is None else {**arrays, str(time_key): t}
    not_1d = next((k for k, a in flat.items() if a.ndim != 1), None)
    if not_1d is not None:
        raise CorruptFileError(
            label,
            f"array {clean_text(not_1d, 30)!r} has shape {flat[not_1d].shape}, not one value per sample",
            _ACCEPTED_NPZ,
        )
    hr_key = next(k for k in wanted if _squash(k) in _HR)
    n = len(arrays[hr_key]) if t is None else len(t)
    if t is None:
        t = np.arange(n) / fs
    wrong = [k for k, a in arrays.items() if len(a) != n]
    if wrong:
        raise CorruptFileError(
            label,
            f"array {clean_text(wrong[0], 30)!r} has {len(arrays[wrong[0]]):,} values where {where} has {n:,}",
            _ACCEPTED_NPZ,
        )
    return wearable_recording(group, t, arrays, "numpy")
