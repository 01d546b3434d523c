"""WFDB records (PhysioNet): ``.hea`` with ``.dat`` (any fixed-size format, e.g. MIT-BIH 212) or the
CinC-style MATLAB v4 ``.mat``, plus ``.atr``/``.qrs`` annotations. Signals are read in physical units.

The header is authoritative for the sampling rate; ``sampling_rate_hz`` is used only when the header's
record line leaves the rate out (where wfdb would silently assume 250 Hz).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import wfdb

from cardioagent.tools.errors import CorruptFileError, HeaderMismatchError
from cardioagent.tools.signal.loaders.assemble import build_signal_recording, pick_rate
from cardioagent.tools.signal.loaders.grouping import RecordGroup, SourceFile
from cardioagent.tools.signal.loaders.validate import check_wfdb_data_sizes
from cardioagent.tools.signal.recording import AnnotationSet, Demographics, Recording

_ACCEPTED = (
    "a WFDB record: a .hea header with the .dat or .mat data file it names, as PhysioNet distributes it"
)

# "# Age: 78", "# <age>: 62", "age 81"
_AGE = re.compile(r"\bage>?\s*[:=]?\s*(\d{1,3}(?:\.\d+)?)\b", re.IGNORECASE)
# "# Sex: Male", "# <sex>: F", "gender: female"
_SEX = re.compile(r"\b(?:sex|gender)>?\s*[:=]?\s*(male|female|m|f)\b", re.IGNORECASE)
# MIT-BIH: "# 69 M 1085 1629 x1" (age, sex, then recording details)
_MITBIH = re.compile(r"^\s*(\d{1,3}|\?+|-1)\s+([MF?])\b")
_DX = re.compile(r"^\s*dx\s*:\s*(.*)$", re.IGNORECASE)


def parse_header_comments(comments: list[str]) -> tuple[Demographics, list[str]]:
    """Demographics and SNOMED diagnosis codes from WFDB header comments (CinC and MIT-BIH styles)."""
    age: float | None = None
    sex: str | None = None
    dx: list[str] = []
    for line in comments:
        if m := _DX.match(line):
            dx.extend(code.strip() for code in m.group(1).split(",") if code.strip())
            continue
        if age is None and (m := _AGE.search(line)):
            age = float(m.group(1))
        if sex is None and (m := _SEX.search(line)):
            sex = "male" if m.group(1).lower().startswith("m") else "female"
        if (m := _MITBIH.match(line)) and age is None and sex is None:
            age = float(m.group(1)) if m.group(1).isdigit() else None
            sex = {"M": "male", "F": "female"}.get(m.group(2))
    return Demographics(age=age, sex=sex), dx


def _stage(src: SourceFile, dest: Path) -> None:
    """Put an upload where wfdb expects it; a link is enough and costs nothing."""
    try:
        os.symlink(src.path.resolve(), dest)
    except OSError:
        shutil.copyfile(src.path, dest)


def load_wfdb(group: RecordGroup, workdir: Path, sampling_rate_hz: float | None = None) -> Recording:
    label = group.main.label
    stage = workdir / f"wfdb-{len(list(workdir.glob('wfdb-*')))}"
    stage.mkdir(parents=True)
    stem = group.main.stem
    _stage(group.main, stage / f"{stem}.hea")
    for fname, src in group.data.items():
        _stage(src, stage / fname)
    for ext, src in group.annotations.items():
        _stage(src, stage / f"{stem}.{ext}")
    base = str(stage / stem)

    try:
        header = wfdb.rdheader(base)
    except Exception as e:  # wfdb raises bare ValueError/IndexError for malformed headers
        raise CorruptFileError(
            label, f"the header cannot be parsed ({type(e).__name__}: {e})", _ACCEPTED
        ) from e
    if not header.n_sig:
        raise HeaderMismatchError(label, "the header lists no signals", _ACCEPTED)
    check_wfdb_data_sizes(label, header, {f: s.path.stat().st_size for f, s in group.data.items()})

    try:
        record = wfdb.rdrecord(base, physical=True, return_res=64)
    except FileNotFoundError as e:
        raise HeaderMismatchError(
            label, f"a data file the header names is missing ({e.filename})", _ACCEPTED
        ) from e
    except ValueError as e:
        raise HeaderMismatchError(label, f"the data does not match the header ({e})", _ACCEPTED) from e
    except Exception as e:
        raise CorruptFileError(
            label, f"the record cannot be read ({type(e).__name__}: {e})", _ACCEPTED
        ) from e
    if record.p_signal is None:
        raise CorruptFileError(label, "the record holds no single-frequency signal", _ACCEPTED)

    comments = list(record.comments or [])
    # WFDB assumes 250 Hz when the header leaves the rate out; we would rather ask than guess.
    header_rate = group.header.sampling_rate_hz if group.header else float(record.fs)
    fs = pick_rate(header_rate, sampling_rate_hz, comments)
    demographics, diagnoses = parse_header_comments(comments)
    annotations = [_read_annotations(base, ext, src) for ext, src in sorted(group.annotations.items())]
    return build_signal_recording(
        group,
        signal=record.p_signal,
        names=[str(n) for n in record.sig_name],
        units=[str(u or "") for u in record.units],
        sampling_rate_hz=fs,
        rate_source="from the header" if header_rate is not None else "as given",
        demographics=demographics,
        diagnoses=diagnoses,
        annotations=annotations,
        comments=comments,
    )


def _read_annotations(base: str, ext: str, src: SourceFile) -> AnnotationSet:
    try:
        ann = wfdb.rdann(base, ext)
    except Exception as e:
        raise CorruptFileError(
            src.label,
            f"the annotation file cannot be read ({type(e).__name__}: {e})",
            "WFDB annotation files (.atr, .qrs) written by wfdb or PhysioNet tools",
        ) from e
    return AnnotationSet(
        source=ext, samples=[int(s) for s in ann.sample], symbols=[str(s) for s in ann.symbol]
    )
