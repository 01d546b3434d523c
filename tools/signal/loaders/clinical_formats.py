"""Clinical and consumer ECG formats: DICOM waveform, HL7 aECG, Philips Sierra/PageWriter XML, GE MUSE XML,
SCP-ECG (through ``ecgdatakit``, with ``pydicom`` for DICOM samples) and Apple Health ECG CSV exports.

Detection is by content, never by extension: ``sniff`` reads the first 4 KB and asks ecgdatakit's format
sniffers (magic numbers, XML root elements) and the Apple export's header keys. Only the formats tested here
against real files are taken (``FORMAT_OF_EDK``); what ecgdatakit also recognises (EDF, WFDB, ISHNE, MFER,
...) is left to the existing loaders or refused as before.

Each recording keeps what the file states about itself apart from its signal: the device's measurements,
interpretation statements and verdict, or the watch's classification, as ``Recording.device_report``.
Names, patient ids and dates of birth are never kept; age and sex are.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from cardioagent.tools.errors import CorruptFileError, InputError, UnsupportedFormatError
from cardioagent.tools.signal.loaders.apple_health_csv import looks_like_apple_export, read_apple_export
from cardioagent.tools.signal.loaders.assemble import build_signal_recording
from cardioagent.tools.signal.loaders.channel_kinds import millivolt_scale
from cardioagent.tools.signal.loaders.device_statements import (
    build_report,
    device_name,
    dicom_statements,
    measurements_from_dicom,
    measurements_from_edk,
    statements_from_edk,
)
from cardioagent.tools.signal.loaders.grouping import RecordGroup, SourceFile
from cardioagent.tools.signal.loaders.names import display_name, safe_file_name, scrub_paths
from cardioagent.tools.signal.loaders.validate import SourceFormat, check_file_size, check_sample_count
from cardioagent.tools.signal.recording import STANDARD_12_LEADS, ChannelKind, Demographics, Recording

SNIFF_BYTES = 4096

# ecgdatakit FORMAT_NAME -> Recording.format
FORMAT_OF_EDK: dict[str, SourceFormat] = {
    "DICOM Waveform": "dicom",
    "HL7 aECG": "hl7_aecg",
    "Philips Sierra XML": "philips_xml",
    "GE MUSE XML": "ge_muse_xml",
    "SCP-ECG": "scp_ecg",
}
CLINICAL_FORMATS: set[SourceFormat] = {*FORMAT_OF_EDK.values(), "apple_health_csv"}
FORMAT_TITLE = {
    "dicom": "DICOM waveform",
    "hl7_aecg": "HL7 aECG XML",
    "philips_xml": "Philips Sierra/PageWriter XML",
    "ge_muse_xml": "GE MUSE XML",
    "scp_ecg": "SCP-ECG",
    "apple_health_csv": "Apple Health ECG export",
}
# Extensions that announce a clinical format: a file so named that no sniffer recognises gets a message about
# that format rather than "'.scp' files are not read". (.xml and .csv have too many other uses to say more.)
CLINICAL_EXTENSIONS = {".dcm": "DICOM (.dcm)", ".scp": "SCP-ECG (.scp)"}
CLINICAL_ACCEPTED = (
    "standard SCP-ECG (EN 1064 / ISO 11073-91064), DICOM ECG waveforms, HL7 aECG, Philips "
    "Sierra/PageWriter XML, GE MUSE XML or Apple Health ECG CSV, besides WFDB, EDF, CSV, NumPy, "
    "images and .zip"
)
_LIMB_AND_CHEST = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]


def sniff(path: Path) -> SourceFormat | None:
    """The clinical format of the file at ``path`` from its first bytes, or None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return None
    if looks_like_apple_export(head):
        return "apple_health_csv"
    from ecgdatakit.parsing.parser import FileParser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = FileParser.detect_format(path)
    except Exception:  # noqa: BLE001 - a sniffer tripping over odd bytes means: not this format
        return None
    return FORMAT_OF_EDK.get(found["name"]) if found else None


def split_clinical(paths: Sequence[str | Path], max_bytes: int) -> tuple[list[RecordGroup], list[str | Path]]:
    """The uploads in a clinical format (as one-file groups) and the rest, in order, for ``group_files``.
    Archives and missing files go to the rest: the existing code unpacks or refuses them."""
    groups: list[RecordGroup] = []
    rest: list[str | Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.is_file() or path.suffix.lower() == ".zip":
            rest.append(raw)
            continue
        label = display_name(str(raw))
        check_file_size(path, label, max_bytes)
        fmt = sniff(path)
        if fmt is None:
            if path.suffix.lower() in CLINICAL_EXTENSIONS:
                raise UnsupportedFormatError(
                    label,
                    f"the file is named like {CLINICAL_EXTENSIONS[path.suffix.lower()]} but its content is not "
                    "a format read here (a non-standard device export, or a damaged file)",
                    CLINICAL_ACCEPTED,
                )
            rest.append(raw)
            continue
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        src = SourceFile(path=path, name=safe_file_name(path.name), label=label, shown=label)
        groups.append(RecordGroup(format=fmt, name=src.shown_stem, main=src))
    return groups, rest


def load_clinical(group: RecordGroup, sampling_rate_hz: float | None = None) -> Recording:
    """Load one clinical-format file; every failure is an ``InputError`` naming the file and the format."""
    del sampling_rate_hz  # these formats state their rate
    label, fmt = group.main.label, group.format
    try:
        if fmt == "apple_health_csv":
            return _load_apple(group)
        return _load_edk(group)
    except InputError:
        raise
    except MemoryError:
        raise
    except Exception as e:  # ecgdatakit, pydicom, XML errors: the file is damaged, say which format
        raise CorruptFileError(
            label,
            f"the file looks like {FORMAT_TITLE[fmt]} but cannot be read ({type(e).__name__}: "
            f"{scrub_paths(str(e))[:200]})",
            f"a valid {FORMAT_TITLE[fmt]} file",
        ) from e


def _demographics(patient) -> Demographics:
    age = patient.age if isinstance(patient.age, (int, float)) and 0 <= patient.age < 130 else None
    sexes: dict[str, Literal["male", "female"]] = {
        "m": "male",
        "male": "male",
        "f": "female",
        "female": "female",
    }
    sex = sexes.get(str(patient.sex or "").lower())
    return Demographics(age=None if age is None else float(age), sex=sex)


def _edk_signal(label: str, record, comments: list[str]) -> tuple[np.ndarray, list[str], list[str], float]:
    """The leads of an ecgdatakit record as samples x channels at one rate; 8 stored leads (GE MUSE) are
    completed to 12 with ecgdatakit's Einthoven/Goldberger derivation."""
    leads = list(record.leads)
    if not leads:
        raise CorruptFileError(
            label, "the file holds no lead", "an ECG file with at least one lead of samples"
        )
    raw = [ld.label for ld in leads if ld.is_raw]
    if raw:
        raise CorruptFileError(
            label,
            f"lead(s) {', '.join(raw[:6])} carry no amplitude scale (raw ADC units)",
            "leads with a stated resolution, so they can be read in mV",
        )
    rate = Counter(int(ld.sampling_rate) for ld in leads).most_common(1)[0][0]
    other = [ld.label for ld in leads if int(ld.sampling_rate) != rate]
    if other:
        comments.append(f"loader: lead(s) {', '.join(other)} at another sampling rate left out")
        leads = [ld for ld in leads if int(ld.sampling_rate) == rate]
    check_sample_count(label, max(len(ld.samples) for ld in leads), len(leads), source="decoded leads")
    labels = [ld.label for ld in leads]
    if sorted(labels) == sorted(_LIMB_AND_CHEST):
        from ecgdatakit.processing.leads import derive_standard_12

        by = {ld.label: ld for ld in leads}
        leads = derive_standard_12(*(by[n] for n in _LIMB_AND_CHEST), fs=rate)
        comments.append("loader: III, aVR, aVL, aVF derived from I and II (the file stores 8 leads)")
    n = min(len(ld.samples) for ld in leads)
    if any(len(ld.samples) != n for ld in leads):
        comments.append(f"loader: leads of unequal length cut to the shortest ({n} samples)")
    by_name = {ld.label: ld for ld in leads}
    if set(STANDARD_12_LEADS) <= set(by_name):  # standard order, whatever order the file stores them in
        leads = [by_name[n] for n in STANDARD_12_LEADS] + [
            ld for ld in leads if ld.label not in STANDARD_12_LEADS
        ]
    signal = np.stack([np.asarray(ld.samples[:n], dtype=np.float64) for ld in leads], axis=1)
    return signal, [ld.label for ld in leads], [ld.units or "mV" for ld in leads], float(rate)


def _load_edk(group: RecordGroup) -> Recording:
    from ecgdatakit.parsing.parser import FileParser

    label, fmt = group.main.label, group.format
    comments: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        record = FileParser.parse(group.main.path, units="mV")
    measurements = measurements_from_edk(record)
    statements = statements_from_edk(record)
    if fmt == "dicom":
        from cardioagent.tools.signal.loaders.dicom_waveform import read_dicom_waveform

        wave = read_dicom_waveform(group.main.path, label)
        signal, names, units, fs = wave.signal, wave.names, wave.units, wave.sampling_rate_hz
        factors = {millivolt_scale(ChannelKind.ECG, u)[0] for u in units}
        if len(factors) == 1 and factors != {1.0} and all(units):  # one note, not one per lead
            signal, units = signal * factors.pop(), ["mV"] * len(units)
            comments.append(f"loader: leads converted from {wave.units[0]} to mV")
        for q, m in measurements_from_dicom(wave.dataset).items():
            measurements.setdefault(q, m)
        statements = statements or dicom_statements(wave.dataset)
        comments.append(f"loader: DICOM multiplex group {wave.group_label or '1'} read with pydicom")
    else:
        signal, names, units, fs = _edk_signal(label, record, comments)
    device = record.recording.device
    rec = build_signal_recording(
        group,
        signal=signal,
        names=names,
        units=units,
        sampling_rate_hz=fs,
        rate_source="the file",
        demographics=_demographics(record.patient),
        comments=comments,
    )
    rec.acquired_at = record.recording.date
    rec.device_report = build_report(
        device=device_name(device.manufacturer, device.model),
        source_format=FORMAT_TITLE[fmt],
        measurements=measurements,
        statements=statements,
        severity=record.interpretation.severity or "",
    )
    return rec


def _load_apple(group: RecordGroup) -> Recording:
    label = group.main.label
    export = read_apple_export(group.main.path, label)
    rec = build_signal_recording(
        group,
        signal=export.samples_uv[:, None],
        names=[export.lead],
        units=[export.unit],
        sampling_rate_hz=export.sampling_rate_hz,
        rate_source="the export's Sample Rate",
        comments=[f"loader: Apple Health ECG export, software {export.software_version}"]
        if export.software_version
        else [],
    )
    rec.acquired_at = export.recorded
    rec.device_report = build_report(
        device=f"Apple Watch ({export.device})" if export.device else "Apple Watch",
        source_format=FORMAT_TITLE["apple_health_csv"],
        measurements={},
        statements=[],
        classification=export.classification,
    )
    return rec
