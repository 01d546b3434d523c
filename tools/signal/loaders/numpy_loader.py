"""NumPy arrays: ``.npz`` with ``signal`` (samples x channels, or 1-D), ``fs`` and optional ``channels``
(names) and ``units``; or a bare ``.npy`` array, which needs ``sampling_rate_hz``.

Arrays are loaded with ``allow_pickle=False``: a pickled object array could run code on load. Before an
array is read, its header (shape and type) is read on its own and checked against the sample limit, and the
unpacked size of every ``.npz`` member against the upload limit, so a small compressed file cannot unpack
into gigabytes.
"""

from __future__ import annotations

import zipfile
import zlib
from typing import IO

import numpy as np

from cardioagent.tools.errors import (
    CorruptFileError,
    FileTooLargeError,
    HeaderMismatchError,
    SamplingRateError,
)
from cardioagent.tools.signal.loaders.assemble import (
    as_samples_by_channels,
    build_signal_recording,
    pick_rate,
)
from cardioagent.tools.signal.loaders.grouping import RecordGroup
from cardioagent.tools.signal.loaders.limits import MAX_UPLOAD_ENV, resolve_max_bytes
from cardioagent.tools.signal.loaders.names import clean_text, scrub_paths
from cardioagent.tools.signal.loaders.validate import HOW_TO_GIVE_RATE, check_sample_count, limits
from cardioagent.tools.signal.recording import Recording

_ACCEPTED = (
    "a .npz with arrays 'signal' (samples x channels), 'fs' (Hz) and optionally 'channels' (names), "
    "or a .npy array with the sampling rate given separately"
)
_RATE_KEYS = ("fs", "sampling_rate_hz", "sampling_rate", "fs_hz", "sfreq")
_MAX_CHANNELS_AS_ROWS = 16


def orient(arr: np.ndarray) -> np.ndarray:
    """(samples, channels). A wide array with at most 16 rows is taken as (channels, samples)."""
    if arr.ndim == 2 and arr.shape[0] < arr.shape[1] and arr.shape[0] <= _MAX_CHANNELS_AS_ROWS:
        return arr.T
    return arr


def _scalar_rate(label: str, value: np.ndarray) -> float:
    v = np.asarray(value)
    if v.size != 1 or v.dtype.kind not in "biuf":
        raise SamplingRateError(
            label, f"'fs' must be one number, got an array of shape {v.shape}", HOW_TO_GIVE_RATE
        )
    return float(v.reshape(()))


def _array_header(label: str, fh: IO[bytes], what: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, read without the data."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=10_000)
        elif version in ((2, 0), (3, 0)):
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=10_000)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, EOFError, OSError, SyntaxError, TypeError) as e:
        raise CorruptFileError(
            label, f"{what} has no valid NumPy header ({clean_text(scrub_paths(str(e)), 120)})", _ACCEPTED
        ) from e
    return tuple(int(n) for n in shape), dtype


def _check_array(label: str, shape: tuple[int, ...], dtype: np.dtype, what: str, signal: bool) -> None:
    """An array must be numbers; a signal of at most the sample limit, any other array small."""
    if dtype.hasobject:
        raise CorruptFileError(
            label, f"{what} holds Python objects (pickled data), which are not loaded for safety", _ACCEPTED
        )
    if any(d < 0 for d in shape):
        raise CorruptFileError(label, f"{what} has a negative dimension in its shape {shape}", _ACCEPTED)
    n = int(np.prod(shape, dtype=np.float64)) if shape else 1
    if signal and (dtype.kind not in "biuf" or dtype.itemsize > 16):
        raise CorruptFileError(
            label, f"{what} holds {dtype} values, not numbers", "real-valued samples (integers or floats)"
        )
    if not signal and n * dtype.itemsize > 1_000_000:
        raise FileTooLargeError(
            label, f"{what} holds {n * dtype.itemsize:,} bytes, far more than names or a rate need", _ACCEPTED
        )
    if signal:
        if len(shape) > 2:
            raise CorruptFileError(
                label,
                f"the signal has {len(shape)} dimensions",
                "a 1-D signal or a 2-D array of samples x channels",
            )
        n_ch = 1 if len(shape) < 2 else min(shape)
        check_sample_count(label, n // max(1, n_ch), n_ch, source=f"{what} of shape {shape}")
    elif n > limits().max_channels * 64:
        raise FileTooLargeError(
            label, f"{what} holds {n:,} values, far more than names or a rate need", _ACCEPTED
        )


def _check_npz(label: str, path, max_bytes: int) -> None:
    """Every member's unpacked size and the total within the upload limit; every array's header within
    the limits; before anything is unpacked."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            total = sum(i.file_size for i in infos)
            if len(infos) > 64 or total > max_bytes:
                size = f"{len(infos)} arrays" if len(infos) > 64 else f"{total:,} bytes"
                raise FileTooLargeError(
                    label,
                    f"the archive would unpack to {size}, over the limit of {max_bytes:,} bytes and 64 arrays",
                    f"a .npz whose unpacked arrays total up to the upload limit (set by {MAX_UPLOAD_ENV})",
                )
            names = [i.filename.removesuffix(".npy") for i in infos]
            signal_key = "signal" if "signal" in names else (names[0] if len(names) == 1 else None)
            for info, key in zip(infos, names, strict=False):
                with zf.open(info) as fh:
                    shape, dtype = _array_header(label, fh, f"array {clean_text(key, 40)!r}")
                _check_array(label, shape, dtype, f"array {clean_text(key, 40)!r}", signal=key == signal_key)
    except zipfile.BadZipFile as e:
        raise CorruptFileError(label, f"the file is not a NumPy .npz archive ({e})", _ACCEPTED) from e
    except (RuntimeError, NotImplementedError) as e:
        raise CorruptFileError(
            label, f"the archive cannot be unpacked ({clean_text(str(e), 160)})", _ACCEPTED
        ) from e
    except (zlib.error, OSError, EOFError, ValueError) as e:
        raise CorruptFileError(
            label,
            f"the archive is damaged: an array cannot be unpacked ({clean_text(str(e), 160)})",
            _ACCEPTED,
        ) from e


def load_numpy(group: RecordGroup, sampling_rate_hz: float | None = None) -> Recording:
    label = group.main.label
    with open(group.main.path, "rb") as fh:
        magic = fh.read(6)
    # np.load falls back to unpickling anything it does not recognise; look at the magic bytes first.
    if not magic.startswith((b"\x93NUMPY", b"PK")):
        raise CorruptFileError(label, "the file is not in NumPy's .npy/.npz format", _ACCEPTED)
    if magic.startswith(b"PK"):
        _check_npz(label, group.main.path, resolve_max_bytes(None))
    else:
        with open(group.main.path, "rb") as fh:
            shape, dtype = _array_header(label, fh, "the array")
        _check_array(label, shape, dtype, "the array", signal=True)
    try:
        loaded = np.load(group.main.path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e):
            raise CorruptFileError(
                label,
                "the file holds Python objects (pickled data), which are not loaded for safety",
                _ACCEPTED,
            ) from e
        raise CorruptFileError(
            label, f"the file is not a NumPy array ({clean_text(scrub_paths(str(e)), 200)})", _ACCEPTED
        ) from e
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise CorruptFileError(
            label, f"the file is not a NumPy array ({clean_text(scrub_paths(str(e)), 200)})", _ACCEPTED
        ) from e

    comments: list[str] = []
    names: list[str] | None = None
    units: list[str] | None = None
    file_rate: float | None = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        try:
            raw, file_rate, names, units = _npz_arrays(label, loaded)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as e:
            raise CorruptFileError(
                label,
                f"an array in the archive is damaged ({clean_text(scrub_paths(str(e)), 160)})",
                _ACCEPTED,
            ) from e
    elif isinstance(loaded, np.ndarray):
        raw = loaded
    else:
        raise CorruptFileError(label, "the file holds no array", _ACCEPTED)
    return _finish(group, label, raw, file_rate, names, units, sampling_rate_hz, comments)


def _npz_arrays(label: str, loaded) -> tuple:
    """(signal, rate from the file, channel names, units) of an opened .npz."""
    file_rate: float | None = None
    names: list[str] | None = None
    units: list[str] | None = None
    with loaded:
        keys = list(loaded.files)
        if "signal" in keys:
            raw = loaded["signal"]
        elif len(keys) == 1:
            raw = loaded[keys[0]]
        else:
            raise CorruptFileError(
                label, f"the archive has no 'signal' array (it has: {', '.join(keys)})", _ACCEPTED
            )
        for key in _RATE_KEYS:
            if key in keys:
                file_rate = _scalar_rate(label, loaded[key])
                break
        if "channels" in keys:
            names = [str(n) for n in np.atleast_1d(loaded["channels"])]
        if "units" in keys:
            units = [str(u) for u in np.atleast_1d(loaded["units"])]
    return raw, file_rate, names, units


def _finish(
    group: RecordGroup,
    label: str,
    raw: np.ndarray,
    file_rate: float | None,
    names: list[str] | None,
    units: list[str] | None,
    sampling_rate_hz: float | None,
    comments: list[str],
) -> Recording:
    signal = orient(as_samples_by_channels(label, raw))
    n_ch = signal.shape[1]
    for what, given in (("channel names", names), ("units", units)):
        if given is not None and len(given) != n_ch:
            raise HeaderMismatchError(
                label,
                f"{len(given)} {what} for a signal of {n_ch} channel(s) (shape {tuple(raw.shape)})",
                "one name (and unit) per channel in 'channels' and 'units'",
            )
    fs = pick_rate(file_rate, sampling_rate_hz, comments)
    if fs is None:
        where = "the .npy has no place for it" if group.main.suffix == ".npy" else "the .npz has no 'fs'"
        raise SamplingRateError(
            label,
            f"no sampling rate was given and {where}",
            HOW_TO_GIVE_RATE + ", or an 'fs' array in a .npz",
        )
    return build_signal_recording(
        group,
        signal=signal,
        names=names or [f"ch{i + 1}" for i in range(n_ch)],
        units=units,
        sampling_rate_hz=fs,
        rate_source="from 'fs'" if file_rate is not None else "as given",
        names_given=names is not None,
        comments=comments,
    )
