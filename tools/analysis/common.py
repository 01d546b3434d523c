"""What every analysis needs from a ``Recording``: its signal and rate (or a clear error), a duration
check, channel resolution by name or kind, and a small cache so that heart rate, rhythm and HRV of
the same recording detect beats once."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np

from cardioagent.tools.errors import InputError, TooShortError
from cardioagent.tools.signal.recording import ChannelKind, Modality, Recording

MIN_RATE_SECONDS = 5.0  # shortest recording a rate, rhythm or interval estimate accepts
T = TypeVar("T")


def signal_of(rec: Recording) -> tuple[np.ndarray, float]:
    """The (n_samples, n_channels) signal and the sampling rate, or an InputError saying why not."""
    if rec.modality == Modality.ECG_IMAGE or rec.signal is None:
        raise InputError(
            rec.name,
            "it is an ECG image, not a sampled signal",
            "a signal recording (WFDB, EDF, CSV, NumPy) for signal analysis",
        )
    if not rec.sampling_rate_hz or rec.sampling_rate_hz <= 0:
        raise InputError(rec.name, "the sampling rate is unknown", "a recording with a sampling rate")
    sig = np.asarray(rec.signal, dtype=float)
    if sig.ndim == 1:
        sig = sig[:, None]
    return sig, float(rec.sampling_rate_hz)


def require_duration(rec: Recording, minimum_s: float, analysis: str) -> float:
    sig, fs = signal_of(rec)
    duration = sig.shape[0] / fs
    if duration < minimum_s:
        raise TooShortError(
            rec.name,
            f"the recording is {duration:.1f} s long; {analysis} needs at least {minimum_s:g} s",
            f"recordings of {minimum_s:g} s or more",
        )
    return duration


def kind_of(rec: Recording, idx: int) -> str:
    return rec.channels[idx].kind.value if idx < len(rec.channels) else "other"


def channels_of_kind(rec: Recording, kinds: Iterable[ChannelKind]) -> list[int]:
    kinds = tuple(kinds)
    return [i for i, c in enumerate(rec.channels) if c.kind in kinds]


def resolve_channel(rec: Recording, channel: str, kinds: Iterable[ChannelKind]) -> int:
    """Index of the named channel; InputError if it is absent or of a kind this analysis cannot use."""
    kinds = tuple(kinds)
    try:
        idx = rec.channel_index(channel)
    except KeyError:
        raise InputError(
            rec.name, f"it has no channel {channel!r}", f"one of its channels: {', '.join(rec.channel_names)}"
        ) from None
    if rec.channels[idx].kind not in kinds:
        raise InputError(
            rec.name,
            f"channel {channel!r} is {rec.channels[idx].kind.value.upper()}",
            "a channel of kind " + " or ".join(k.value.upper() for k in kinds),
        )
    return idx


CACHE_VERSION = 2  # bump when a cached analysis changes what it returns


def fingerprint(rec: Recording, idx: int, method: str = "") -> str:
    """Identity of everything that shapes a cached per-channel result: the channel's samples, the sampling
    rate and shape, the channel's position, name, kind and unit, the recording's name (results quote it),
    the method asked for and ``CACHE_VERSION``. Not the recording id, which hand-built recordings may share;
    and not the samples alone: two recordings with the same samples but other names must not share text."""
    sig, fs = signal_of(rec)
    h = hashlib.blake2b(np.ascontiguousarray(sig[:, idx]).tobytes(), digest_size=16)
    ch = rec.channels[idx] if idx < len(rec.channels) else None
    identity = (
        CACHE_VERSION,
        float(fs),
        sig.shape,
        idx,
        rec.name,
        rec.modality.value,
        ch.name if ch else None,
        ch.kind.value if ch else None,
        ch.unit if ch else None,
        method,
    )
    h.update(repr(identity).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


class LruCache:
    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._d: OrderedDict = OrderedDict()

    def get(self, key, make: Callable[[], T]) -> T:
        if key in self._d:
            self._d.move_to_end(key)
            return self._d[key]
        value = make()
        self._d[key] = value
        if len(self._d) > self.size:
            self._d.popitem(last=False)
        return value

    def clear(self) -> None:
        self._d.clear()
