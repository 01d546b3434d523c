"""EDF and EDF+ files via pyedflib.

EDF lets every channel have its own rate. ``Recording`` has one, so channels are brought to the highest
ECG/PPG rate (the highest of all when there is neither): slower channels by linear interpolation (no
ringing on slowly varying traces), faster ones by polyphase filtering (anti-aliased). The original rates
are kept in ``header_comments``.

Channels whose names say they are neither cardiac, motion, respiration nor blood pressure (EEG, EMG, ...)
are left out when the file has ECG or PPG, with a note: a sleep study would otherwise be upsampled
channel by channel into gigabytes.

Only sex and age are taken from the EDF+ patient field; name, code and birth date are not kept.

The samples x channels the header announces (after resampling) are checked against the limit before a
channel is read.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from fractions import Fraction
from typing import Literal

import numpy as np
import pyedflib

from cardioagent.tools.errors import CorruptFileError, EmptyChannelError
from cardioagent.tools.signal.loaders.assemble import build_signal_recording
from cardioagent.tools.signal.loaders.channel_kinds import guess_channel_kind
from cardioagent.tools.signal.loaders.grouping import RecordGroup
from cardioagent.tools.signal.loaders.names import clean_text, scrub_paths
from cardioagent.tools.signal.loaders.validate import check_sample_count, limits
from cardioagent.tools.signal.recording import AnnotationSet, ChannelKind, Demographics, Recording

_ACCEPTED = "an EDF or EDF+ file (European Data Format) as written by recording devices or pyedflib"


def resample_to(x: np.ndarray, fs_from: float, fs_to: float, n_out: int) -> np.ndarray:
    """``x`` sampled at ``fs_from`` as ``n_out`` samples at ``fs_to``."""
    if fs_from == fs_to:
        y = x
    elif fs_from < fs_to:
        t_out = np.arange(n_out) / fs_to
        y = np.interp(t_out, np.arange(len(x)) / fs_from, x)
    else:
        from scipy.signal import resample_poly  # ~0.5 s to import; only mixed-rate EDFs need it

        ratio = Fraction(fs_to / fs_from).limit_denominator(1000)
        y = resample_poly(x, ratio.numerator, ratio.denominator)
    if len(y) >= n_out:
        return np.asarray(y[:n_out], dtype=np.float64)
    return np.pad(np.asarray(y, dtype=np.float64), (0, n_out - len(y)), mode="edge")


def _age_years(birth: date, at: date) -> float:
    years = at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
    return float(years)


_SEX_OF: dict[str, Literal["male", "female"]] = {
    "male": "male",
    "m": "male",
    "female": "female",
    "f": "female",
}


def _demographics(reader: pyedflib.EdfReader) -> Demographics:
    if reader.filetype not in (pyedflib.FILETYPE_EDFPLUS, pyedflib.FILETYPE_BDFPLUS):
        return Demographics()  # plain EDF: the patient field is free text, nothing reliable to parse
    sex_raw = (reader.getSex() or "").strip().lower()
    sex = _SEX_OF.get(sex_raw)
    age = None
    birth_text = (
        reader.getBirthdate()
    )  # a str (string=True is the default); the check narrows the stub's Union
    birth_raw = birth_text.strip() if isinstance(birth_text, str) else ""
    if birth_raw:
        try:
            birth = datetime.strptime(birth_raw.title(), "%d %b %Y").date()
            age = _age_years(birth, reader.getStartdatetime().date())
        except (ValueError, AttributeError):
            age = None
    return Demographics(age=age if age is not None and 0 <= age < 130 else None, sex=sex)


def load_edf(group: RecordGroup, sampling_rate_hz: float | None = None) -> Recording:
    del sampling_rate_hz  # EDF states each channel's rate
    label = group.main.label
    try:
        reader = pyedflib.EdfReader(str(group.main.path))
    except OSError as e:
        raise CorruptFileError(
            label,
            f"the file is not a readable EDF/EDF+ file ({clean_text(scrub_paths(str(e)), 200)})",
            _ACCEPTED,
        ) from e
    try:
        return _read(group, reader)
    finally:
        reader.close()


def _read(group: RecordGroup, reader: pyedflib.EdfReader) -> Recording:
    label = group.main.label
    n = reader.signals_in_file
    if n == 0:
        raise EmptyChannelError(label, "the file holds no signal channels", _ACCEPTED)
    check_sample_count(label, 1, n, source="as the EDF header announces")
    labels = [clean_text(reader.getLabel(i), 64) for i in range(n)]
    rates = [float(reader.getSampleFrequency(i)) for i in range(n)]
    if not all(math.isfinite(r) for r in rates):
        raise CorruptFileError(label, "a channel's sampling rate is not a finite number", _ACCEPTED)
    kinds = [guess_channel_kind(lab) for lab in labels]
    comments: list[str] = []

    cardiac = [i for i in range(n) if kinds[i] in (ChannelKind.ECG, ChannelKind.PPG)]
    keep = [i for i in range(n) if kinds[i] != ChannelKind.OTHER] if cardiac else list(range(n))
    left_out = [labels[i] for i in range(n) if i not in keep]
    if left_out:
        comments.append("loader: left out non-cardiac channel(s): " + ", ".join(left_out))
    keep = [i for i in keep if rates[i] > 0]
    if not keep:
        raise EmptyChannelError(label, "no channel has a positive sampling rate", _ACCEPTED)

    fs = max(rates[i] for i in (cardiac or keep))
    duration = reader.getFileDuration()
    same_rate = [i for i in keep if rates[i] == fs]
    if same_rate:
        n_out = int(reader.getNSamples()[same_rate[0]])
    else:
        n_out = math.floor(duration * fs)
    # What reading and resampling would allocate, checked before any channel is read.
    check_sample_count(label, n_out, len(keep), source="after bringing the kept channels to one rate")
    n_in = sum(int(reader.getNSamples()[i]) for i in keep)
    if n_in > limits().max_samples:
        check_sample_count(label, n_in, 1, source="the kept channels together, as stored")
    if len({rates[i] for i in keep}) > 1:
        comments.append(
            "loader: EDF sampling rates "
            + ", ".join(f"{labels[i]} {rates[i]:g} Hz" for i in keep)
            + f"; all resampled to {fs:g} Hz"
        )

    columns = []
    for i in keep:
        x = reader.readSignal(i)
        columns.append(resample_to(x, rates[i], fs, n_out))
    signal = np.column_stack(columns) if columns else np.empty((0, 0))

    start = reader.getStartdatetime()
    comments.append(f"EDF start: {start.isoformat()}")
    annotations = []
    onsets, _durations, texts = reader.readAnnotations()
    kept = [
        (round(float(t) * fs), clean_text(str(x), 80))
        for t, x in zip(onsets, texts, strict=False)
        if math.isfinite(float(t)) and 0 <= float(t) * fs < max(n_out, 1)
    ]
    if len(kept) < len(onsets):
        comments.append(f"loader: {len(onsets) - len(kept)} EDF annotation(s) outside the recording left out")
    if kept:
        annotations.append(
            AnnotationSet(source="edf", samples=[s for s, _ in kept], symbols=[x for _, x in kept])
        )
    return build_signal_recording(
        group,
        signal=signal,
        names=[labels[i] for i in keep],
        units=[reader.getPhysicalDimension(i).strip() for i in keep],
        sampling_rate_hz=fs,
        rate_source="from the EDF header",
        demographics=_demographics(reader),
        annotations=annotations,
        comments=comments,
    )
