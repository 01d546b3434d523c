"""NumPy arrays: ``.npz`` with ``signal`` (samples x channels, or 1-D), ``fs`` and optional ``channels``
(names) and ``units``; or a bare ``.npy`` array, which needs ``sampling_rate_hz``.

Arrays are loaded with ``allow_pickle=False``: a pickled object array could run code on load.
"""

from __future__ import annotations

import zipfile

import numpy as np

from cardioagent.tools.errors import CorruptFileError, HeaderMismatchError, SamplingRateError
from cardioagent.tools.signal.loaders.assemble import (
    as_samples_by_channels,
    build_signal_recording,
    pick_rate,
)
from cardioagent.tools.signal.loaders.grouping import RecordGroup
from cardioagent.tools.signal.loaders.validate import HOW_TO_GIVE_RATE
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


def load_numpy(group: RecordGroup, sampling_rate_hz: float | None = None) -> Recording:
    label = group.main.label
    with open(group.main.path, "rb") as fh:
        magic = fh.read(6)
    # np.load falls back to unpickling anything it does not recognise; look at the magic bytes first.
    if not magic.startswith((b"\x93NUMPY", b"PK")):
        raise CorruptFileError(label, "the file is not in NumPy's .npy/.npz format", _ACCEPTED)
    try:
        loaded = np.load(group.main.path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e):
            raise CorruptFileError(
                label,
                "the file holds Python objects (pickled data), which are not loaded for safety",
                _ACCEPTED,
            ) from e
        raise CorruptFileError(label, f"the file is not a NumPy array ({e})", _ACCEPTED) from e
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise CorruptFileError(label, f"the file is not a NumPy array ({e})", _ACCEPTED) from e

    comments: list[str] = []
    names: list[str] | None = None
    units: list[str] | None = None
    file_rate: float | None = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
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
    elif isinstance(loaded, np.ndarray):
        raw = loaded
    else:
        raise CorruptFileError(label, "the file holds no array", _ACCEPTED)

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
