"""What a batch run analyses: folders, globs, single files or a manifest -> ``RecordTask`` list.

A data folder holds more than recordings (PTB-XL ships ``ptbxl_database.csv`` and ``scp_statements.csv``
beside its WFDB records, and a LICENSE), so a folder or glob is read file by file: a ``.hea`` is a record and
its ``.dat``/``.mat``/``.atr``/``.qrs`` are not tasks of their own; a CSV is a recording only when its rows
are numbers (a signal), else it is noted as a table (usable as ``--manifest``); anything else is noted and
skipped. A file named on the command line is always a task: if it is not a recording, its error is a row.

A manifest (CSV or Parquet) lists one recording per row in a path column (relative paths are taken from the
manifest's folder, or ``data_root``); a path without a suffix that names a WFDB record (PTB-XL's
``filename_hr``: ``records500/00000/00001_hr``) means its ``.hea``. The other columns travel with the row as
metadata.
"""

from __future__ import annotations

import csv
import glob
import math
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from cardioagent.agent.batch.schema import RecordTask
from cardioagent.tools.errors import InputError


def record_extensions() -> set[str]:
    """The loaders' own table of extensions (a format added there is found here too), plus zip archives."""
    from cardioagent.tools.signal.loaders.validate import FORMAT_OF_EXTENSION, ZIP_EXTENSION

    return {e for e in FORMAT_OF_EXTENSION if e != ".csv"} | {ZIP_EXTENSION}


WFDB_COMPANIONS = {".dat", ".mat", ".atr", ".qrs"}
PATH_COLUMNS = ("path", "file", "filename", "filename_hr")
MANIFEST_ACCEPTED = "a CSV or Parquet table with one recording per row in a 'path' column (or --path-column)"


class Sources(BaseModel):
    tasks: list[RecordTask] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)  # "path: why it is not a task"


def from_inputs(inputs: Sequence[str], sampling_rate_hz: float | None = None) -> Sources:
    """Folders (walked recursively), globs (``data/**/*.hea``) and files, in the order given."""
    out = Sources()
    seen: set[str] = set()
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            _add_files(out, seen, files, root=path, explicit=False, fs=sampling_rate_hz)
        elif any(ch in text for ch in "*?["):
            files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not files:
                raise InputError(
                    text, "the pattern matches no file", "a folder, a glob that matches files, or files"
                )
            _add_files(out, seen, files, root=None, explicit=False, fs=sampling_rate_hz)
        elif path.is_file():
            _add_files(out, seen, [path], root=None, explicit=True, fs=sampling_rate_hz)
        else:
            raise InputError(text, "no such file or folder", "a folder, a glob (quoted) or recording files")
    return out


def _add_files(
    out: Sources, seen: set[str], files: list[Path], root: Path | None, explicit: bool, fs: float | None
) -> None:
    headers = {p.with_suffix("") for p in files if p.suffix.lower() == ".hea"}
    for p in files:
        if p.name.startswith("."):
            continue  # .DS_Store, editor swap files: not worth a note
        why = None if explicit else _not_a_recording(p, headers)
        key = p.relative_to(root).as_posix() if root is not None else p.as_posix()
        if why == "companion":
            continue
        if why:
            out.skipped.append(f"{key}: {why}")
        elif key in seen:
            out.skipped.append(f"{key}: listed twice; analysed once")
        else:
            seen.add(key)
            out.tasks.append(RecordTask(key=key, path=str(p), sampling_rate_hz=fs))


def _not_a_recording(p: Path, headers: set[Path]) -> str | None:
    ext = p.suffix.lower()
    if ext in record_extensions():
        return None
    if ext in WFDB_COMPANIONS:
        has_header = p.with_suffix("") in headers or p.with_suffix(".hea").is_file()
        return "companion" if has_header else f"a WFDB {ext} file without its .hea header"
    if ext == ".csv":
        if looks_like_signal_csv(p):
            return None
        return "a table, not a signal (use it with --manifest if it lists recordings)"
    return f"not a recording ({ext or 'no extension'})"


def looks_like_signal_csv(path: Path, rows: int = 5) -> bool:
    """A signal CSV has rows of numbers (after an optional header); a label table has text in its rows."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            lines = [row for _, row in zip(range(rows + 1), csv.reader(fh), strict=False)]
    except OSError:
        return True  # let the loader report what is wrong with it
    cells = [c.strip() for row in lines[1:] for c in row if c.strip()]
    if not cells:
        return True  # an empty or header-only CSV: the loader says why it cannot be read
    return sum(_is_number(c) for c in cells) >= 0.9 * len(cells)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def from_manifest(
    manifest: Path,
    *,
    path_column: str | None = None,
    id_column: str | None = None,
    meta_columns: Sequence[str] | None = None,
    data_root: Path | None = None,
    sampling_rate_hz: float | None = None,
) -> Sources:
    import pandas as pd

    if not manifest.is_file():
        raise InputError(str(manifest), "no such manifest", MANIFEST_ACCEPTED)
    try:
        if manifest.suffix.lower() in (".parquet", ".pq"):
            table = pd.read_parquet(manifest)
        elif manifest.suffix.lower() == ".csv":
            table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
        else:
            raise InputError(
                manifest.name,
                f"a manifest cannot be a {manifest.suffix or 'file without suffix'}",
                MANIFEST_ACCEPTED,
            )
    except InputError:
        raise
    except Exception as exc:  # pandas/pyarrow parse errors: the user's file is at fault
        raise InputError(
            manifest.name, f"the manifest could not be read ({type(exc).__name__}: {exc})", MANIFEST_ACCEPTED
        ) from exc
    columns = [str(c) for c in table.columns]
    col = path_column or next((c for c in PATH_COLUMNS if c in columns), None)
    if col is None or col not in columns:
        raise InputError(
            manifest.name,
            f"no path column {col!r} (columns: {', '.join(columns[:20])})"
            if col
            else f"no path column among {', '.join(PATH_COLUMNS)} (columns: {', '.join(columns[:20])})",
            MANIFEST_ACCEPTED + "; name it with --path-column",
        )
    if id_column and id_column not in columns:
        raise InputError(manifest.name, f"no id column {id_column!r}", f"one of: {', '.join(columns[:20])}")
    meta = (
        list(meta_columns) if meta_columns is not None else [c for c in columns if c not in (col, id_column)]
    )
    unknown = [c for c in meta if c not in columns]
    if unknown:
        raise InputError(
            manifest.name,
            f"no metadata column(s) {', '.join(unknown)}",
            f"columns of the manifest: {', '.join(columns[:20])}",
        )
    base = data_root or manifest.parent
    out = Sources()
    seen: set[str] = set()
    for i, row in enumerate(table.to_dict("records")):
        raw = _text(row.get(col))
        if not raw:
            out.skipped.append(f"{manifest.name} row {i + 1}: empty {col!r}")
            continue
        path = _resolve(base, raw)
        key = _text(row.get(id_column)) if id_column else raw
        if not key or key in seen:
            out.skipped.append(
                f"{manifest.name} row {i + 1}: {'empty' if not key else 'repeated'} id {key!r}"
            )
            continue
        seen.add(key)
        out.tasks.append(
            RecordTask(
                key=key,
                path=str(path),
                sampling_rate_hz=sampling_rate_hz,
                metadata={c: _text(row.get(c)) for c in meta},
            )
        )
    return out


def _resolve(base: Path, raw: str) -> Path:
    p = Path(raw).expanduser()
    p = p if p.is_absolute() else base / p
    if not p.suffix and p.with_suffix(".hea").is_file():
        return p.with_suffix(".hea")  # a WFDB record name
    return p


def _text(v: object) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    s = str(v)
    return s if s != "" else None
