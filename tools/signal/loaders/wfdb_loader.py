"""WFDB records (PhysioNet): ``.hea`` with ``.dat`` (any fixed-size format, e.g. MIT-BIH 212) or the
CinC-style MATLAB v4 ``.mat``, plus ``.atr``/``.qrs`` annotations. Signals are read in physical units.

The header is authoritative for the sampling rate; ``sampling_rate_hz`` is used only when the header's
record line leaves the rate out (where wfdb would silently assume 250 Hz).

Staging: wfdb reads a record from one folder, so the header and its files are linked (or copied) into a
fresh folder under the work folder, under names that ``grouping.read_header_info`` has already checked to
be plain base names; a name already there is never overwritten. The samples x channels the header
announces are checked against the limit before a sample is read. An annotation file that cannot be read
is reported in ``header_comments`` and left out; the record still loads.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import wfdb

from cardioagent.tools.errors import CorruptFileError, FileTooLargeError, HeaderMismatchError
from cardioagent.tools.signal.loaders.assemble import build_signal_recording, pick_rate
from cardioagent.tools.signal.loaders.grouping import RecordGroup, SourceFile
from cardioagent.tools.signal.loaders.names import clean_text, is_safe_name, scrub_paths
from cardioagent.tools.signal.loaders.validate import (
    WFDB_BYTES_PER_SAMPLE,
    check_sample_count,
    check_wfdb_data_sizes,
)
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
    sex: Literal["male", "female"] | None = None
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
            sex = "male" if m.group(2) == "M" else "female" if m.group(2) == "F" else None
    return Demographics(age=age, sex=sex), dx


def _stage(src: SourceFile, stage: Path, name: str) -> None:
    """Put an upload where wfdb expects it, as ``stage/name``; a link is enough and costs nothing.

    ``name`` is a checked base name; the destination must be new and directly inside ``stage``."""
    dest = stage / name
    if not is_safe_name(name) or dest.parent != stage or os.path.lexists(dest):
        raise CorruptFileError(
            src.label,
            f"the record names the file {clean_text(name, 80)!r} twice or in an unusable way",
            "a WFDB record whose header, data and annotation files have distinct plain names",
        )
    try:
        os.symlink(src.path.resolve(), dest)
    except OSError:
        with open(src.path, "rb") as fin, open(dest, "xb") as fout:  # "x": never through an existing name
            shutil.copyfileobj(fin, fout)


def _announced_values(label: str, header, data_sizes: dict[str, int]) -> tuple[int, int]:
    """(samples per channel, channels) the header announces, for the limit check before reading. Without
    a length in the header wfdb takes it from the data file's size; that needs a fixed-size format."""
    n_sig = int(header.n_sig)
    spf = [int(v or 1) for v in (header.samps_per_frame or [1] * n_sig)]
    if any(v < 1 or v > 1000 for v in spf):
        raise CorruptFileError(
            label, "the header gives an implausible number of samples per frame", _ACCEPTED
        )
    frame = max(1, math.ceil(sum(spf) / n_sig))  # wfdb averages the frames to one sample per channel
    if header.sig_len:
        return int(header.sig_len) * frame, n_sig
    longest = 0
    for i, fname in enumerate(header.file_name):
        bps = WFDB_BYTES_PER_SAMPLE.get(str(header.fmt[i]))
        if bps is None:
            raise CorruptFileError(
                label,
                f"the header gives no sample count and format {clean_text(str(header.fmt[i]), 12)} has no fixed "
                "size, so the length cannot be known before reading",
                "a WFDB header whose record line states the number of samples",
            )
        n_in_file = sum(1 for f in header.file_name if f == fname)
        longest = max(longest, int(data_sizes.get(fname, 0) / (bps * max(1, n_in_file))))
    return longest, n_sig


def load_wfdb(group: RecordGroup, workdir: Path, sampling_rate_hz: float | None = None) -> Recording:
    label = group.main.label
    # A fresh folder of our own; every name staged in it was checked by read_header_info.
    stage = Path(tempfile.mkdtemp(prefix="wfdb-", dir=workdir))
    stem = group.main.stem
    _stage(group.main, stage, f"{stem}.hea")
    for fname, src in group.data.items():
        _stage(src, stage, fname)
    for ext, src in group.annotations.items():
        _stage(src, stage, f"{stem}.{ext}")
    base = str(stage / stem)

    try:
        header = wfdb.rdheader(base)
    except Exception as e:  # wfdb raises HeaderSyntaxError, or bare ValueError/IndexError
        what = (
            f"the header does not follow the WFDB syntax ({clean_text(scrub_paths(str(e)), 120)})"
            if type(e).__name__ == "HeaderSyntaxError"
            else f"the header cannot be parsed ({type(e).__name__}: {scrub_paths(str(e))})"
        )
        raise CorruptFileError(label, what, _ACCEPTED) from e
    if not header.n_sig:
        raise HeaderMismatchError(label, "the header lists no signals", _ACCEPTED)
    # wfdb's own reading of the signal lines must name only the files we checked and staged.
    named = {str(f) for f in (header.file_name or [])}
    if not named <= set(group.data):
        raise CorruptFileError(
            label, "the signal lines cannot be read consistently (their data file names differ)", _ACCEPTED
        )
    sizes = {f: s.path.stat().st_size for f, s in group.data.items()}
    n_samples, n_channels = _announced_values(label, header, sizes)
    check_sample_count(label, n_samples, n_channels, source="as the header announces")
    check_wfdb_data_sizes(label, header, sizes)

    try:
        record = wfdb.rdrecord(base, physical=True, return_res=64)
    except FileNotFoundError as e:
        raise HeaderMismatchError(
            label,
            f"a data file the header names is missing ({clean_text(os.path.basename(str(e.filename)), 80)})",
            _ACCEPTED,
        ) from e
    except MemoryError as e:
        raise FileTooLargeError(label, "the record does not fit in memory", "a shorter record") from e
    except ValueError as e:
        raise HeaderMismatchError(
            label, f"the data does not match the header ({scrub_paths(str(e))})", _ACCEPTED
        ) from e
    except Exception as e:
        raise CorruptFileError(
            label, f"the record cannot be read ({type(e).__name__}: {scrub_paths(str(e))})", _ACCEPTED
        ) from e
    if record.p_signal is None:
        raise CorruptFileError(label, "the record holds no single-frequency signal", _ACCEPTED)

    comments = list(record.comments or [])
    # WFDB assumes 250 Hz when the header leaves the rate out; we would rather ask than guess.
    header_rate = group.header.sampling_rate_hz if group.header else float(record.fs)
    fs = pick_rate(header_rate, sampling_rate_hz, comments)
    demographics, diagnoses = parse_header_comments(comments)
    n = int(record.p_signal.shape[0])
    annotations = []
    for ext, src in sorted(group.annotations.items()):
        ann = _read_annotations(base, ext, src, n, comments)
        if ann is not None:
            annotations.append(ann)
    names = [str(nm) for nm in record.sig_name]
    return build_signal_recording(
        group,
        signal=record.p_signal,
        names=names,
        units=[str(u or "") for u in record.units],
        sampling_rate_hz=fs,
        rate_source="from the header" if header_rate is not None else "as given",
        demographics=demographics,
        diagnoses=diagnoses,
        annotations=annotations,
        comments=comments,
    )


def _read_annotations(
    base: str, ext: str, src: SourceFile, n_samples: int, comments: list[str]
) -> AnnotationSet | None:
    """The annotations of an optional .atr/.qrs file; one that cannot be read is noted and left out, and
    annotations outside the record are dropped with a note."""
    try:
        if _definitions_loop_would_hang(base, ext):
            raise ValueError("its definition notes would send wfdb's reader into an endless loop")
        ann = wfdb.rdann(base, ext)
        samples = [int(s) for s in ann.sample]
        symbols = [clean_text(str(s), 16) for s in ann.symbol]
    except Exception as e:  # noqa: BLE001 — an optional file: reported, not fatal
        comments.append(
            f"loader: annotation file {src.label} could not be read and was left out "
            f"({type(e).__name__}: {clean_text(scrub_paths(str(e)), 160)})"
        )
        return None
    if len(samples) != len(symbols):
        comments.append(f"loader: annotation file {src.label} is inconsistent and was left out")
        return None
    inside = [(s, y) for s, y in zip(samples, symbols, strict=False) if 0 <= s < n_samples]
    if len(inside) < len(samples):
        comments.append(
            f"loader: {len(samples) - len(inside)} annotation(s) of {src.label} lie outside the record and "
            "were left out"
        )
    return AnnotationSet(source=ext, samples=[s for s, _ in inside], symbols=[y for _, y in inside])


def _definitions_loop_would_hang(base: str, ext: str) -> bool:
    """Whether ``wfdb.rdann`` would never return on this file.

    wfdb 4.x reads the file-level notes (``## time resolution``, ``## annotation type definitions``) in a loop
    that does not advance on any other note starting with ``## `` at sample 0: a damaged or crafted
    annotation file hangs the reader. This walks the same loop with a step budget, on the same parse."""
    from wfdb.io import annotation as wann

    filebytes = wann.load_byte_pairs(base, ext, None)
    sample, label_store, _subtype, _chan, _num, aux_note = wann.proc_ann_bytes(filebytes, None)
    candidates, _ = wann.get_special_inds(sample, label_store, aux_note)
    n = len(candidates)
    i, fs, steps = 0, None, 0
    while i < n:
        steps += 1
        if steps > 4 * (n + len(aux_note)) + 16 or i >= len(aux_note):
            return steps > 4 * (n + len(aux_note)) + 16
        note = aux_note[i]
        if not isinstance(note, str) or not note.startswith("## "):
            i += 1
            continue
        if not fs and (found := wann.rx_fs.findall(note)):
            fs = float(found[0])
            i += 1
            continue
        if note != "## annotation type definitions":
            return True  # wfdb's loop stays on this note for ever
        i += 1
        while i < len(aux_note) and aux_note[i] != "## end of definitions":
            i += 1
        i += 1
    return False
