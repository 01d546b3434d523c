"""DICOM 12-lead ECG / hemodynamic waveforms read with ``pydicom``.

``ecgdatakit`` 2.0.3 reads these files' metadata well but returns NaN for every sample whose stored value
is 0 (131 of 5000 samples of lead I in ECGToolkit's ``Example.dcm``, while the same recording stored as HL7
aECG and SCP-ECG has real zeros there) and leaves out the QTc annotation; so the samples and the numeric
annotations come from pydicom here, everything else from ecgdatakit.

What the file announces (samples x channels of the multiplex group, bits per sample) is checked against the
limits and against the size of the waveform data before a sample is decoded.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from cardioagent.tools.errors import CorruptFileError
from cardioagent.tools.signal.loaders.names import clean_text
from cardioagent.tools.signal.loaders.validate import check_sample_count

ACCEPTED = (
    "a DICOM waveform (12-lead ECG, general ECG or hemodynamic waveform storage) with a waveform sequence"
)
_LEAD = re.compile(r"\b(?:lead\s+)?(I{1,3}|aV[RLF]|V[1-9])\b", re.IGNORECASE)
_CANON = {n.lower(): n for n in ["I", "II", "III", "aVR", "aVL", "aVF", *[f"V{k}" for k in range(1, 10)]]}


class DicomWaveform(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    signal: np.ndarray  # samples x channels, in ``units``
    names: list[str]
    units: list[str]
    sampling_rate_hz: float
    group_label: str
    dataset: Any  # the pydicom Dataset (annotations are read from it)


def lead_name(meaning: str, k: int) -> str:
    """'Lead I (Einthoven)' -> 'I', 'Lead aVR' -> 'aVR'; other sources keep their cleaned meaning."""
    m = _LEAD.search(meaning or "")
    if m:
        return _CANON[m.group(1).lower()]
    return clean_text(meaning, 40) or f"ch{k}"


def _pick_group(seq) -> int:
    """The rhythm group (the whole recording) rather than a median beat; else the longest."""
    labels = [str(g.get("MultiplexGroupLabel", "")).upper() for g in seq]
    if "RHYTHM" in labels:
        return labels.index("RHYTHM")
    return int(np.argmax([int(g.get("NumberOfWaveformSamples", 0) or 0) for g in seq]))


def read_dicom_waveform(path: Path, label: str) -> DicomWaveform:
    import pydicom

    with warnings.catch_warnings():  # invalid UIDs and such: pydicom warns, the waveform is still fine
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(str(path))
        seq = ds.get("WaveformSequence")
        if not seq:
            raise CorruptFileError(label, "the DICOM file holds no waveform sequence", ACCEPTED)
        i = _pick_group(seq)
        g = seq[i]
        try:
            n = int(g.NumberOfWaveformSamples)
            c = int(g.NumberOfWaveformChannels)
            fs = float(g.SamplingFrequency)
            bits = int(g.WaveformBitsAllocated)
        except (AttributeError, TypeError, ValueError) as e:
            raise CorruptFileError(
                label, "the waveform group lacks its sample count, channel count, rate or bit depth", ACCEPTED
            ) from e
        check_sample_count(label, n, c, source="DICOM waveform group")
        if bits not in (8, 16, 32, 64):
            raise CorruptFileError(
                label, f"the waveform has {bits} bits per sample", f"{ACCEPTED}, 8/16/32 bits"
            )
        have = len(g.get("WaveformData", b"") or b"")
        need = n * c * bits // 8
        if have < need:
            raise CorruptFileError(
                label,
                f"the waveform data is {have:,} bytes, less than the {need:,} its header announces "
                f"({n:,} samples x {c} channels x {bits} bits)",
                ACCEPTED,
            )
        chans = list(g.get("ChannelDefinitionSequence", []) or [])
        if len(chans) != c:
            raise CorruptFileError(label, f"{len(chans)} channel definitions for {c} channels", ACCEPTED)
        signal = np.asarray(
            ds.waveform_array(i), dtype=np.float64
        )  # sensitivity, baseline and correction applied
    names, units = [], []
    for k, ch in enumerate(chans, start=1):
        src = ch.get("ChannelSourceSequence")
        names.append(
            lead_name(str(src[0].get("CodeMeaning", "")) if src else str(ch.get("ChannelLabel", "")), k)
        )
        unit_seq = ch.get("ChannelSensitivityUnitsSequence")
        units.append(clean_text(str(unit_seq[0].get("CodeValue", "")), 8) if unit_seq else "")
    return DicomWaveform(
        signal=signal,
        names=names,
        units=units,
        sampling_rate_hz=fs,
        group_label=clean_text(str(g.get("MultiplexGroupLabel", "")), 40),
        dataset=ds,
    )
