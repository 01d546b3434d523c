"""The last step every signal loader shares: from arrays and names to a validated ``Recording``.

Checks made here for every format: names are cleaned of control characters and ANSI escapes; the
recording is at least ``CARDIOAGENT_MIN_DURATION_S`` long; no value is beyond any physical signal (1e12);
and an ECG channel, held in mV, spans at most ``CARDIOAGENT_MAX_ECG_MV`` between its 1st and 99th
percentiles: a wider span means the values are ADC counts or microvolts read as millivolts, and the
message says how to state the unit.
"""

from __future__ import annotations

import hashlib

import numpy as np

from cardioagent.tools.errors import (
    CorruptFileError,
    EmptyChannelError,
    TooShortError,
    UnsupportedFormatError,
)
from cardioagent.tools.signal.loaders.channel_kinds import make_channels, millivolt_scale, modality_of
from cardioagent.tools.signal.loaders.grouping import RecordGroup, SourceFile
from cardioagent.tools.signal.loaders.limits import ENV_OF
from cardioagent.tools.signal.loaders.names import clean_text
from cardioagent.tools.signal.loaders.validate import (
    check_sample_count,
    check_sampling_rate,
    clean_channels,
    limits,
)
from cardioagent.tools.signal.recording import (
    STANDARD_12_LEADS,
    AnnotationSet,
    ChannelKind,
    Demographics,
    Recording,
)

_CHUNK = 1 << 20
MAX_ABS_VALUE = 1e12  # no physical unit of any channel we read comes near this


def clean_names(names: list[str]) -> list[str]:
    """Channel names without control characters or escapes, at most 64 characters; empty -> ch<k>."""
    out = []
    for k, name in enumerate(names, start=1):
        cleaned = clean_text(str(name), max_len=64)
        out.append(cleaned or f"ch{k}")
    return out


def _check_values(label: str, signal: np.ndarray, channels, comments: list[str]):
    """Refuse values no recorder produces; drop ECG channels that cannot be millivolts (see the module
    text) with a note, or refuse when no ECG/PPG channel would be left. Returns (signal, channels)."""
    lim = limits()
    with np.errstate(invalid="ignore"):
        peak = np.nanmax(np.abs(np.where(np.isfinite(signal), signal, np.nan)), axis=0)
    for j, ch in enumerate(channels):
        if np.isfinite(peak[j]) and peak[j] > MAX_ABS_VALUE:
            raise CorruptFileError(
                label,
                f"channel {ch.name} reaches {peak[j]:.3g} {ch.unit or 'units'}, beyond any physical signal "
                "(is the gain in the header wrong?)",
                "signals in physical units (ECG in mV), with a plausible gain",
            )
    wrong: dict[int, str] = {}
    for j, ch in enumerate(channels):
        if ch.kind != ChannelKind.ECG:
            continue
        x = signal[:, j]
        x = x[np.isfinite(x)]
        if len(x) < 2:
            continue
        lo, hi = np.percentile(x, [1, 99])
        span = float(hi - lo)
        level = float(np.median(np.abs(x)))
        if span > lim.max_ecg_mv:
            wrong[j] = f"{ch.name} spans {span:.3g} mV"
        elif level > lim.max_ecg_mv:
            wrong[j] = f"{ch.name} sits at {level:.3g} mV"
    if not wrong:
        return signal, channels
    why = (
        f"more than the {lim.max_ecg_mv:g} mV an ECG in millivolts can span; the values look like ADC counts "
        "(raw digital units) or microvolts"
    )
    accepted = (
        "ECG in millivolts; for other units name the unit in the column or channel (e.g. 'II (uV)', "
        f"'ECG [V]'), or give a WFDB header with the ADC gain (limit set by {ENV_OF['max_ecg_mv']})"
    )
    keep = [j for j in range(len(channels)) if j not in wrong]
    if not any(channels[j].kind in (ChannelKind.ECG, ChannelKind.PPG) for j in keep):
        raise CorruptFileError(label, "ECG channel " + ", ".join(wrong.values()) + ", " + why, accepted)
    comments.append(
        "loader: dropped ECG channel(s) whose values cannot be millivolts: "
        + ", ".join(wrong.values())
        + f" ({why}; to keep them: {accepted})"
    )
    return np.ascontiguousarray(signal[:, keep]), [channels[j] for j in keep]


def content_id(files: list[SourceFile]) -> str:
    """First 16 hex digits of SHA-256 over the sorted (file name, bytes) pairs.

    File names, not paths, go in: the same record uploaded as loose files or inside a zip gets one id.
    """
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.name):
        h.update(f.name.encode("utf-8") + b"\0")
        h.update(str(f.path.stat().st_size).encode() + b"\0")
        with open(f.path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    return h.hexdigest()[:16]


def as_samples_by_channels(label: str, signal: np.ndarray) -> np.ndarray:
    arr = np.asarray(signal)
    if arr.dtype.kind not in "biuf":
        raise CorruptFileError(
            label,
            f"the signal holds {arr.dtype} values, not numbers",
            "real-valued samples (integers or floats)",
        )
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise CorruptFileError(
            label,
            f"the signal has {arr.ndim} dimensions",
            "a 1-D signal or a 2-D array of samples x channels",
        )
    return np.array(arr, dtype=np.float64, order="C")


def build_signal_recording(
    group: RecordGroup,
    *,
    signal: np.ndarray,
    names: list[str],
    units: list[str] | None = None,
    sampling_rate_hz: float | None,
    rate_source: str = "",
    names_given: bool = True,
    demographics: Demographics | None = None,
    diagnoses: list[str] | None = None,
    annotations: list[AnnotationSet] | None = None,
    comments: list[str] | None = None,
) -> Recording:
    label = group.main.label
    comments = [clean_text(c, max_len=500) for c in comments or []]
    check_sample_count(
        label,
        int(np.shape(signal)[0]) if np.ndim(signal) else 0,
        int(np.shape(signal)[1]) if np.ndim(signal) == 2 else 1,
    )
    signal = as_samples_by_channels(label, signal)
    if signal.shape[0] == 0 or signal.shape[1] == 0:
        raise EmptyChannelError(
            label, "the file holds no samples", "a recording with at least one channel of samples"
        )
    fs = check_sampling_rate(label, sampling_rate_hz, source=rate_source)
    if len(names) != signal.shape[1]:
        raise CorruptFileError(
            label, f"{len(names)} channel names for {signal.shape[1]} channels", "one name per channel"
        )
    names = clean_names(names)
    units = [clean_text(str(u), max_len=16) for u in units] if units is not None else None
    min_s = limits().min_duration_s
    duration = signal.shape[0] / fs
    if duration < min_s:
        raise TooShortError(
            label,
            f"the recording is {duration:.3g} s long ({signal.shape[0]} samples at {fs:g} Hz), shorter than "
            f"the minimum of {min_s:g} s",
            f"recordings of at least {min_s:g} s (set by {ENV_OF['min_duration_s']}); heart rate and rhythm "
            "need 5 s or more",
        )

    if not names_given and len(names) == 12:
        names = list(STANDARD_12_LEADS)
        comments.append("loader: 12 unnamed channels taken as the standard leads " + ",".join(names))
    channels = make_channels(names, units)
    for j, ch in enumerate(channels):
        factor, unit = millivolt_scale(ch.kind, ch.unit)
        if factor != 1.0:
            signal[:, j] *= factor
            comments.append(f"loader: {ch.name} converted from {ch.unit} to mV")
        ch.unit = unit

    had_cardiac = any(c.kind in (ChannelKind.ECG, ChannelKind.PPG) for c in channels)
    signal, channels, notes = clean_channels(label, signal, channels)
    comments.extend(notes)

    modality = modality_of(channels)
    if modality is None:
        if had_cardiac:
            raise EmptyChannelError(
                label,
                "every ECG and PPG channel is empty or flat",
                "a recording with at least one ECG or PPG channel of varying values",
            )
        unnamed = [c for c in channels if c.kind == ChannelKind.OTHER]
        if not unnamed:
            raise UnsupportedFormatError(
                label,
                "no channel is ECG or PPG (channels: " + ", ".join(c.name for c in channels) + ")",
                "recordings with at least one ECG or PPG channel; name ECG columns like I, II, V1 or ECG and "
                "PPG columns like PPG or PLETH",
            )
        # Names such as ch1 say nothing; ECG is what people upload most, and the analysis tools check the
        # signal itself, so call them ECG and say so.
        for c in unnamed:
            c.kind = ChannelKind.ECG
        comments.append(
            "loader: channel kind not recognised from the name(s) "
            + ", ".join(c.name for c in unnamed)
            + "; treated as ECG"
        )
        modality = modality_of(channels)
    signal, channels = _check_values(label, signal, channels, comments)
    modality = modality_of(channels)
    if modality is None:  # _check_values keeps an ECG or PPG channel or raises; stated for the type checker
        raise EmptyChannelError(
            label,
            "no ECG or PPG channel is left after dropping implausible ones",
            "a recording with at least one ECG or PPG channel of plausible values",
        )

    return Recording(
        id=content_id(group.files),
        name=clean_text(group.name, max_len=120) or "recording",
        source_files=[f.label for f in group.files],
        format=group.format,
        modality=modality,
        sampling_rate_hz=fs,
        channels=channels,
        signal=signal,
        demographics=demographics or Demographics(),
        diagnoses=diagnoses or [],
        annotations=annotations or [],
        header_comments=comments,
    )


def pick_rate(file_rate: float | None, given: float | None, comments: list[str]) -> float | None:
    """The file's own rate wins; the caller's ``sampling_rate_hz`` fills in when the file has none. A
    disagreement is kept as a note rather than silently resolved."""
    if file_rate is None:
        return given
    if given is not None and abs(given - file_rate) > 0.01 * file_rate:
        comments.append(f"loader: sampling_rate_hz={given:g} ignored; the file says {file_rate:g} Hz")
    return file_rate
