"""Load uploads into ``Recording`` objects.

    from cardioagent.tools.signal.loaders import load_files, load_recording
    recs = load_files(["E07500.hea", "E07500.mat"])          # -> [Recording(name="E07500", ...)]
    rec = load_recording("ppg.csv", sampling_rate_hz=125)    # exactly one record

Every problem with the input surfaces as an ``InputError`` subclass (see ``cardioagent.tools.errors``)
whose message names the file, what was wrong and what is accepted; no exception of wfdb, pyedflib, numpy or
pandas escapes. ``sampling_rate_hz`` fills in for files that state no rate (.npy, CSV without time column);
a rate stated in the file wins and a disagreement is noted in ``header_comments``.

Uploads are untrusted: names they give are never used as paths (``names``), and what they announce is
checked against the resource limits of ``limits`` before it is read. Messages show an upload's base name,
never a server path.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

from cardioagent.tools.errors import CorruptFileError, FileTooLargeError, InputError
from cardioagent.tools.signal.loaders.clinical_formats import CLINICAL_FORMATS, load_clinical, split_clinical
from cardioagent.tools.signal.loaders.csv_loader import load_csv
from cardioagent.tools.signal.loaders.edf_loader import load_edf
from cardioagent.tools.signal.loaders.grouping import RecordGroup, group_files
from cardioagent.tools.signal.loaders.image_loader import load_image
from cardioagent.tools.signal.loaders.limits import LoaderLimits, limits
from cardioagent.tools.signal.loaders.names import display_name, scrub_paths
from cardioagent.tools.signal.loaders.numpy_loader import load_numpy
from cardioagent.tools.signal.loaders.validate import (
    DEFAULT_MAX_BYTES,
    MAX_UPLOAD_ENV,
    SUPPORTED_FORMATS,
    resolve_max_bytes,
)
from cardioagent.tools.signal.loaders.wearable_csv import is_wearable_csv, load_wearable_csv
from cardioagent.tools.signal.loaders.wearable_formats import is_wearable_file, load_wearable_file
from cardioagent.tools.signal.loaders.wfdb_loader import load_wfdb
from cardioagent.tools.signal.recording import Recording

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_UPLOAD_ENV",
    "SUPPORTED_FORMATS",
    "LoaderLimits",
    "limits",
    "load_files",
    "load_recording",
]

# Called with each loaded recording and its files as (safe base name, where the bytes are now), while
# they still exist: the recording store copies them under those names.
OnLoaded = Callable[[Recording, list[tuple[str, Path]]], None]


def load_files(
    paths: Sequence[str | Path],
    *,
    sampling_rate_hz: float | None = None,
    max_bytes: int | None = None,
    on_loaded: OnLoaded | None = None,
) -> list[Recording]:
    """Group the uploaded paths into records, load each, and validate it.

    A ``.hea`` is paired with the ``.dat``/``.mat`` it names and with ``<record>.atr``/``.qrs``, whether
    they were uploaded with it (in any folders) or lie next to it; a ``.zip`` is unpacked and its members
    grouped the same way. ``max_bytes`` defaults to ``CARDIOAGENT_MAX_UPLOAD_MB`` (MB), else 50 MB.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    limit = resolve_max_bytes(max_bytes)
    with tempfile.TemporaryDirectory(prefix="cardioagent-upload-") as tmp:
        workdir = Path(tmp)
        # Clinical formats (DICOM, HL7 aECG, SCP-ECG, ...) are recognised by content, whatever their name.
        clinical, rest = _guarded("(upload)", lambda: split_clinical(list(paths), limit))
        groups = clinical + (
            _guarded("(upload)", lambda: group_files(rest, workdir, limit)) if rest or not clinical else []
        )
        recordings = []
        for g in groups:
            rec = _guarded(g.main.label, partial(_load_group, g, workdir, sampling_rate_hz))
            if on_loaded is not None:
                on_loaded(rec, [(f.name, f.path) for f in g.files])
            recordings.append(rec)
        return recordings


def load_recording(path: str | Path, **kw) -> Recording:
    """Load one upload that must hold exactly one record (e.g. a .hea, or a .zip of one record)."""
    recordings = load_files([path], **kw)
    if len(recordings) != 1:
        names = ", ".join(r.name for r in recordings)
        raise InputError(
            display_name(str(path)),
            f"it holds {len(recordings)} records ({names}), not one",
            "a single record; use load_files for several",
        )
    return recordings[0]


def _load_group(group: RecordGroup, workdir: Path, sampling_rate_hz: float | None) -> Recording:
    if group.format == "wfdb":
        return load_wfdb(group, workdir, sampling_rate_hz)
    if group.format in CLINICAL_FORMATS:
        return load_clinical(group, sampling_rate_hz)
    if group.format == "csv" and is_wearable_csv(group.main.path):  # heart rate + motion, not a waveform
        return load_wearable_csv(group)
    if group.format in ("edf", "numpy") and is_wearable_file(group):  # the same night as EDF or .npz
        return load_wearable_file(group)
    loader = {"edf": load_edf, "csv": load_csv, "numpy": load_numpy, "image": load_image}[group.format]
    return loader(group, sampling_rate_hz)


_T = TypeVar("_T")


def _guarded(label: str, fn: Callable[[], _T]) -> _T:
    """Run ``fn``; our own errors pass through, anything a library raises becomes a CorruptFileError."""
    try:
        return fn()
    except InputError:
        raise
    except MemoryError as e:
        raise FileTooLargeError(label, "the recording does not fit in memory", "a shorter recording") from e
    except Exception as e:  # the contract: no raw library exception reaches the user
        if isinstance(e, OSError) and e.filename:
            label = display_name(str(e.filename))
        raise CorruptFileError(
            label,
            f"the file could not be read ({type(e).__name__}: {scrub_paths(str(e))})",
            SUPPORTED_FORMATS,
        ) from e
