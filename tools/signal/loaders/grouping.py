"""Turn a list of uploaded paths into records: one group per recording, with every file it needs.

Web uploads arrive one file per temporary folder (Gradio does this), so a WFDB header and its data file
are paired by the names the header itself lists, not by folder. A header given alone still finds its data
and annotation files when they lie next to it. A ``.zip`` is unpacked into the work folder and its members
are grouped the same way; inside an archive, files of other types (README, .DS_Store, ...) are skipped,
while a file of an unknown type uploaded on its own is an error.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cardioagent.tools.errors import CorruptFileError, HeaderMismatchError, InputError, UnsupportedFormatError
from cardioagent.tools.signal.loaders.validate import (
    FORMAT_OF_EXTENSION,
    SUPPORTED_FORMATS,
    WFDB_ANNOTATION_EXTENSIONS,
    WFDB_DATA_EXTENSIONS,
    ZIP_EXTENSION,
    check_file_size,
    check_unpacked_size,
    unsupported_extension,
)


@dataclass(frozen=True)
class SourceFile:
    path: Path  # where the bytes are on disk now (an unpacked zip member lives in the work folder)
    name: str  # file name as the user knows it
    label: str  # what messages and ``Recording.source_files`` show: the upload path, or "archive.zip:member"

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()

    @property
    def stem(self) -> str:
        return Path(self.name).stem


@dataclass
class RecordGroup:
    format: str  # wfdb | edf | csv | numpy | image
    name: str  # record name: the WFDB record name from the header, else the file stem
    main: SourceFile  # the header, or the one file of a single-file format
    data: dict[str, SourceFile] = field(default_factory=dict)  # WFDB: file name in header -> file
    annotations: dict[str, SourceFile] = field(default_factory=dict)  # WFDB: "atr"/"qrs" -> file
    header: HeaderInfo | None = None  # WFDB: what the header's record line says

    @property
    def files(self) -> list[SourceFile]:
        return [self.main, *self.data.values(), *self.annotations.values()]


@dataclass(frozen=True)
class HeaderInfo:
    record_name: str
    data_files: list[str]  # as named in the signal lines, in order, without duplicates
    sampling_rate_hz: float | None  # None when the record line leaves it out (wfdb would assume 250 Hz)


# Record line fields 3 and 4: "500", "360/360(0)" (frequency/counter frequency(base)), and the length.
_FS_FIELD = re.compile(r"^(\d*\.?\d+(?:[eE][-+]?\d+)?)(?:/[\d.eE+-]+(?:\([^)]*\))?)?$")


def read_header_info(src: SourceFile) -> HeaderInfo:
    """The record name and the data files a WFDB header names, read without wfdb (which would also open
    the data files, and fails with unhelpful messages when they are missing)."""
    try:
        text = src.path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptFileError(
            src.label,
            "the header is not a text file",
            "a WFDB header (.hea) as written by wfdb or PhysioNet tools",
        ) from None
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise CorruptFileError(src.label, "the header has no record line", "a WFDB header (.hea)")
    record = lines[0].split()
    if "/" in record[0]:
        raise UnsupportedFormatError(
            src.label,
            "multi-segment WFDB records are not supported",
            "single-segment WFDB records; " + SUPPORTED_FORMATS,
        )
    try:
        n_sig = int(record[1]) if len(record) > 1 else 0
    except ValueError:
        raise CorruptFileError(
            src.label, f"the record line {lines[0]!r} has no valid signal count", "a WFDB header (.hea)"
        ) from None
    fs: float | None = None
    if len(record) > 2:
        m = _FS_FIELD.match(record[2])
        if not m:
            raise CorruptFileError(
                src.label,
                f"the sampling frequency {record[2]!r} on the record line is not a number",
                "a WFDB header whose record line reads: name, signals, Hz, samples",
            )
        fs = float(m.group(1))
    if len(record) > 3 and not record[3].isdigit():
        raise CorruptFileError(
            src.label,
            f"the sample count {record[3]!r} on the record line is not a whole number",
            "a WFDB header whose record line reads: name, signals, Hz, samples",
        )
    signal_lines = lines[1 : 1 + n_sig]
    if len(signal_lines) < n_sig:
        raise HeaderMismatchError(
            src.label,
            f"the record line announces {n_sig} signals but only {len(signal_lines)} signal line(s) follow",
            "a complete WFDB header with one line per signal",
        )
    files: list[str] = []
    for ln in signal_lines:
        fname = ln.split()[0]
        if fname != "~" and fname not in files:
            files.append(fname)
    return HeaderInfo(record_name=record[0], data_files=files, sampling_rate_hz=fs)


_KNOWN_EXTENSIONS = FORMAT_OF_EXTENSION.keys() | WFDB_DATA_EXTENSIONS | WFDB_ANNOTATION_EXTENSIONS


def _unpack_zip(src: SourceFile, workdir: Path, max_bytes: int) -> list[SourceFile]:
    target = workdir / f"zip-{len(list(workdir.glob('zip-*')))}"
    try:
        with zipfile.ZipFile(src.path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            for i in infos:
                check_unpacked_size(src.label, i.filename, i.file_size, max_bytes)
            check_unpacked_size(src.label, None, sum(i.file_size for i in infos), max_bytes)
            members: list[SourceFile] = []
            for info in infos:
                rel = PurePosixPath(info.filename.replace("\\", "/"))
                parts = rel.parts
                # Skip what archivers add (macOS resource forks, hidden files) and anything that would
                # escape the work folder.
                if rel.is_absolute() or ".." in parts or any(p.startswith((".", "__MACOSX")) for p in parts):
                    continue
                suffix = rel.suffix.lower()
                if suffix == ZIP_EXTENSION:
                    raise UnsupportedFormatError(
                        f"{src.label}:{info.filename}",
                        "archives inside an archive are not unpacked",
                        SUPPORTED_FORMATS,
                    )
                if suffix not in _KNOWN_EXTENSIONS:
                    continue
                out = target.joinpath(*parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as fin, open(out, "wb") as fout:
                    # Declared sizes can lie; never write more than the limit.
                    shutil.copyfileobj(_Capped(fin, max_bytes, src.label, info.filename), fout)
                members.append(SourceFile(path=out, name=rel.name, label=f"{src.label}:{info.filename}"))
    except zipfile.BadZipFile as e:
        raise CorruptFileError(
            src.label, f"the archive cannot be read ({e})", "a valid .zip of " + SUPPORTED_FORMATS
        ) from e
    except RuntimeError as e:  # zipfile raises RuntimeError for encrypted members
        raise CorruptFileError(
            src.label, f"the archive cannot be unpacked ({e})", "an unencrypted .zip"
        ) from e
    if not members:
        raise UnsupportedFormatError(
            src.label, "the archive holds no file of a supported type", SUPPORTED_FORMATS
        )
    return members


class _Capped:
    """A reader that fails once more than ``limit`` bytes have come through."""

    def __init__(self, f, limit: int, label: str, member: str) -> None:
        self._f, self._left, self._label, self._member = f, limit, label, member

    def read(self, n: int = -1) -> bytes:
        chunk = self._f.read(n)
        self._left -= len(chunk)
        if self._left < 0:
            check_unpacked_size(self._label, self._member, 10**18, 0)
        return chunk


def expand_uploads(paths: Sequence[str | Path], workdir: Path, max_bytes: int) -> list[SourceFile]:
    """Every uploaded file, zips unpacked, sizes and extensions checked; duplicates removed."""
    out: list[SourceFile] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        label = str(raw)
        if not path.is_file():
            raise InputError(label, "the file does not exist or is not a regular file", SUPPORTED_FORMATS)
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        check_file_size(path, label, max_bytes)
        src = SourceFile(path=path, name=path.name, label=label)
        suffix = src.suffix
        if suffix == ZIP_EXTENSION:
            out.extend(_unpack_zip(src, workdir, max_bytes))
        elif suffix in _KNOWN_EXTENSIONS:
            out.append(src)
        else:
            raise unsupported_extension(label, suffix)
    if not out:
        raise InputError("(no file)", "nothing was uploaded", SUPPORTED_FORMATS)
    return out


def _find_part(
    wanted: str, header: SourceFile, pool: list[SourceFile], claimed: set[int]
) -> SourceFile | None:
    """The uploaded file called ``wanted``: an unclaimed one first, and among those one in the header's own
    folder (two zips may both hold a ``100.dat``)."""
    hits = [f for f in pool if f.name == wanted]
    hits.sort(key=lambda f: (id(f) in claimed, f.path.parent != header.path.parent))
    return hits[0] if hits else None


def group_files(paths: Sequence[str | Path], workdir: Path, max_bytes: int) -> list[RecordGroup]:
    files = expand_uploads(paths, workdir, max_bytes)
    headers = [f for f in files if f.suffix == ".hea"]
    parts = [f for f in files if f.suffix in WFDB_DATA_EXTENSIONS | WFDB_ANNOTATION_EXTENSIONS]
    singles = [f for f in files if f.suffix in FORMAT_OF_EXTENSION and f.suffix != ".hea"]
    claimed: set[int] = set()
    groups: list[RecordGroup] = []

    for hea in headers:
        info = read_header_info(hea)
        group = RecordGroup(format="wfdb", name=info.record_name, main=hea, header=info)
        for fname in info.data_files:
            found = _find_part(fname, hea, parts, claimed)
            if found is None and len(info.data_files) == 1:
                # A renamed upload: header "x.hea" naming "E07500.mat", with "x.mat" beside it.
                found = _find_part(hea.stem + Path(fname).suffix, hea, parts, claimed)
            if found is None:
                beside = hea.path.parent / fname
                if beside.is_file():
                    check_file_size(beside, str(beside), max_bytes)
                    found = SourceFile(path=beside, name=fname, label=str(beside))
            if found is None:
                raise HeaderMismatchError(
                    hea.label,
                    f"the header refers to the data file {fname}, which was not uploaded",
                    f"the .hea uploaded together with {fname} (or a .zip holding both)",
                )
            claimed.add(id(found))
            group.data[fname] = found
        for ext in sorted(WFDB_ANNOTATION_EXTENSIONS):
            candidates = {f"{info.record_name}{ext}", f"{hea.stem}{ext}"}
            found = None
            for wanted in sorted(candidates):
                found = found or _find_part(wanted, hea, parts, claimed)
            if found is None:
                for wanted in sorted(candidates):
                    beside = hea.path.parent / wanted
                    if found is None and beside.is_file():
                        check_file_size(beside, str(beside), max_bytes)
                        found = SourceFile(path=beside, name=wanted, label=str(beside))
            if found is not None:
                claimed.add(id(found))
                group.annotations[ext.lstrip(".")] = found
        groups.append(group)

    for part in parts:
        if id(part) not in claimed:
            kind = "annotation" if part.suffix in WFDB_ANNOTATION_EXTENSIONS else "WFDB data"
            raise HeaderMismatchError(
                part.label,
                f"this {kind} file came without the WFDB header (.hea) that describes it",
                f"the .hea uploaded together with its {part.suffix} file (or a .zip holding both); "
                f"all formats: {SUPPORTED_FORMATS}",
            )

    for single in singles:
        groups.append(RecordGroup(format=FORMAT_OF_EXTENSION[single.suffix], name=single.stem, main=single))
    return groups
