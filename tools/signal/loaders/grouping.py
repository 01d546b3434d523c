"""Turn a list of uploaded paths into records: one group per recording, with every file it needs.

Web uploads arrive one file per temporary folder (Gradio does this), so a WFDB header and its data file
are paired by the names the header itself lists, not by folder. A header given alone still finds its data
and annotation files when they lie next to it. A ``.zip`` is unpacked into the work folder and its members
are grouped the same way; inside an archive, files of other types (README, .DS_Store, ...) are skipped,
while a file of an unknown type uploaded on its own is an error.

Uploads never name paths. A name a header gives (its data files, its record name) must be a plain base
name (``names.check_base_name``) and is matched against the uploaded files by that name, or looked up in the
header's own folder; a zip member is unpacked to a folder and a name this module chooses (its folder inside
the archive becomes a generated sub-folder, its base name is cleaned). Messages show an upload's base name,
never where it lies on the server.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cardioagent.tools.errors import (
    CorruptFileError,
    FileTooLargeError,
    HeaderMismatchError,
    InputError,
    UnsupportedFormatError,
)
from cardioagent.tools.signal.loaders.names import (
    check_base_name,
    clean_text,
    display_name,
    is_safe_name,
    safe_file_name,
)
from cardioagent.tools.signal.loaders.validate import (
    FORMAT_OF_EXTENSION,
    SUPPORTED_FORMATS,
    WFDB_ANNOTATION_EXTENSIONS,
    WFDB_DATA_EXTENSIONS,
    ZIP_EXTENSION,
    SourceFormat,
    check_file_size,
    check_unpacked_size,
    limits,
    unsupported_extension,
)


@dataclass(frozen=True)
class SourceFile:
    path: Path  # where the bytes are on disk now (an unpacked zip member lives in the work folder)
    name: str  # the file's safe base name (``names.safe_file_name``): what headers match and stores use
    label: (
        str  # what messages and ``Recording.source_files`` show: "E07500.hea" or "archive.zip:dir/E07500.hea"
    )
    shown: str = ""  # the base name as the user knows it, cleaned of control characters

    @property
    def shown_stem(self) -> str:
        return Path(self.shown).stem if self.shown else self.stem

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()

    @property
    def stem(self) -> str:
        return Path(self.name).stem


@dataclass
class RecordGroup:
    format: SourceFormat
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
    gains: list[float] = field(default_factory=list)  # ADC units per physical unit, one per signal line


# Record line fields 3 and 4: "500", "360/360(0)" (frequency/counter frequency(base)), and the length.
_FS_FIELD = re.compile(r"^(\d*\.?\d+(?:[eE][-+]?\d+)?)(?:/[\d.eE+-]+(?:\([^)]*\))?)?$")


_HEADER_ACCEPTED = "a WFDB header (.hea) as written by wfdb or PhysioNet tools"
_GAIN_FIELD = re.compile(r"^(?P<gain>[^(/]*)(?:\((?P<baseline>[^)]*)\))?(?:/(?P<units>.*))?$")
# format[xsamples per frame][:skew][+byte offset]; the formats wfdb reads
_FMT_FIELD = re.compile(
    r"^(8|16|24|32|61|80|160|212|310|311|508|516|524)(x\d{1,4})?(:\d{1,9})?(\+\d{1,12})?$"
)
MIN_GAIN, MAX_GAIN = 1e-6, 1e12  # ADC units per physical unit; outside this no recorder is calibrated


def _header_text(src: SourceFile) -> str:
    """The header's text, refused early when it is too long to be a header; UTF-8, else Latin-1 (WFDB
    headers are ASCII, and comments written by other tools often are Latin-1)."""
    max_lines = limits().max_header_lines
    size = src.path.stat().st_size
    max_size = max_lines * 512
    if size > max_size:
        raise CorruptFileError(
            src.label,
            f"the header is {size:,} bytes, more than a header of {max_lines:,} lines can be",
            f"{_HEADER_ACCEPTED}, of up to {max_lines:,} lines (set by CARDIOAGENT_MAX_HEADER_LINES)",
        )
    raw = src.path.read_bytes()
    if b"\0" in raw:
        raise CorruptFileError(
            src.label, "the header is not a text file (it holds NUL bytes)", _HEADER_ACCEPTED
        )
    n_lines = raw.count(b"\n") + 1
    if n_lines > max_lines:
        raise CorruptFileError(
            src.label,
            f"the header has {n_lines:,} lines, more than the {max_lines:,} a header may have",
            f"{_HEADER_ACCEPTED}, of up to {max_lines:,} lines (set by CARDIOAGENT_MAX_HEADER_LINES)",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _gain(src: SourceFile, k: int, fields: list[str]) -> float:
    """The ADC gain a signal line states (200 when it leaves it out, as WFDB does); refused when it is
    not a positive, finite, plausible number, or its baseline is not a whole number."""
    if len(fields) < 3:
        return 200.0
    m = _GAIN_FIELD.match(fields[2])
    accepted = "a WFDB header whose signal lines give a positive gain such as 200/mV or 1000(0)/mV"
    shown = clean_text(fields[2], 40)
    raw = (m.group("gain") if m else fields[2]).strip()
    try:
        gain = float(raw)
    except ValueError:
        raise CorruptFileError(
            src.label, f"the gain {shown!r} of signal {k} is not a number", accepted
        ) from None
    if not math.isfinite(gain):
        raise CorruptFileError(src.label, f"the gain of signal {k} is {gain}, not a finite number", accepted)
    if gain < 0:
        raise CorruptFileError(src.label, f"the gain of signal {k} is negative ({gain:g})", accepted)
    if gain == 0:
        raise CorruptFileError(
            src.label,
            f"the gain of signal {k} is 0 (uncalibrated: the physical values are unknown)",
            accepted,
        )
    if not MIN_GAIN <= gain <= MAX_GAIN:
        raise CorruptFileError(
            src.label,
            f"the gain of signal {k} is {gain:g} ADC units per unit, outside the plausible "
            f"{MIN_GAIN:g} .. {MAX_GAIN:g}",
            accepted,
        )
    baseline = m.group("baseline") if m else None
    if baseline is not None and not re.fullmatch(r"[-+]?\d{1,12}", baseline.strip()):
        raise CorruptFileError(
            src.label,
            f"the baseline {clean_text(baseline, 40)!r} of signal {k} is not a whole number",
            accepted,
        )
    return gain


def read_header_info(src: SourceFile) -> HeaderInfo:
    """The record name and the data files a WFDB header names, read without wfdb (which would also open
    the data files, and fails with unhelpful messages when they are missing). Every name the header gives
    is checked to be a plain base name, and every gain to be plausible, before anything is staged."""
    text = _header_text(src)
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise CorruptFileError(src.label, "the header has no record line", _HEADER_ACCEPTED)
    record = lines[0].split()
    n_sig, fs = _record_line(src, record, lines[0])
    signal_lines = lines[1 : 1 + n_sig]
    if len(signal_lines) < n_sig:
        raise HeaderMismatchError(
            src.label,
            f"the record line announces {n_sig} signals but only {len(signal_lines)} signal line(s) follow",
            "a complete WFDB header with one line per signal",
        )
    files, gains = _signal_lines(src, signal_lines)
    return HeaderInfo(record_name=record[0], data_files=files, sampling_rate_hz=fs, gains=gains)


def _record_line(src: SourceFile, record: list[str], line: str) -> tuple[int, float | None]:
    """The signal count and sampling rate of the record line, each checked."""
    if re.fullmatch(r"[A-Za-z0-9_.-]+/\d+", record[0]):  # "name/segments": a multi-segment record
        raise UnsupportedFormatError(
            src.label,
            "multi-segment WFDB records are not supported",
            "single-segment WFDB records; " + SUPPORTED_FORMATS,
        )
    check_base_name(src.label, record[0], "the record name")
    try:
        n_sig = int(record[1]) if len(record) > 1 else 0
    except ValueError:
        raise CorruptFileError(
            src.label,
            f"the record line {clean_text(line, 80)!r} has no valid signal count",
            _HEADER_ACCEPTED,
        ) from None
    if n_sig <= 0:
        raise HeaderMismatchError(src.label, "the header lists no signals", _HEADER_ACCEPTED)
    max_channels = limits().max_channels
    if n_sig > max_channels:
        raise FileTooLargeError(
            src.label,
            f"the header announces {n_sig:,} signals, over the limit of {max_channels:,}",
            f"records of up to {max_channels:,} signals (set by CARDIOAGENT_MAX_CHANNELS)",
        )
    fs: float | None = None
    if len(record) > 2:
        m = _FS_FIELD.match(record[2])
        if not m or not math.isfinite(float(m.group(1))):
            raise CorruptFileError(
                src.label,
                f"the sampling frequency {clean_text(record[2], 40)!r} on the record line is not a number",
                "a WFDB header whose record line reads: name, signals, Hz, samples",
            )
        fs = float(m.group(1))
    if len(record) > 3 and not (record[3].isascii() and record[3].isdigit()):
        raise CorruptFileError(
            src.label,
            f"the sample count {clean_text(record[3], 40)!r} on the record line is not a whole number",
            "a WFDB header whose record line reads: name, signals, Hz, samples",
        )
    return n_sig, fs


def _signal_lines(src: SourceFile, signal_lines: list[str]) -> tuple[list[str], list[float]]:
    """The data files the signal lines name (checked to be plain data-file names, one storage format per
    file) and each signal's gain."""
    files: list[str] = []
    gains: list[float] = []
    storage_of: dict[str, tuple[str, str]] = {}
    for k, ln in enumerate(signal_lines, start=1):
        fields = ln.split()
        fname = fields[0]
        if fname != "~":
            check_base_name(src.label, fname, f"the data file of signal {k}")
            if Path(fname).suffix.lower() in {".hea", *WFDB_ANNOTATION_EXTENSIONS}:
                raise CorruptFileError(
                    src.label,
                    f"signal {k} names {fname} as its data file, a header or annotation file",
                    "a WFDB header whose signal lines name .dat or .mat data files",
                )
            if fname not in files:
                files.append(fname)
        m = _FMT_FIELD.match(fields[1]) if len(fields) > 1 else None
        if m is None:
            raise CorruptFileError(
                src.label,
                f"the storage format {clean_text(fields[1] if len(fields) > 1 else '', 24)!r} of signal {k} is not "
                "a WFDB format",
                "a WFDB header whose signal lines give a format such as 16, 212 or 16x1+24",
            )
        gains.append(_gain(src, k, fields))
        storage = (m.group(1), m.group(4) or "")  # format and byte offset
        if fname != "~" and storage_of.setdefault(fname, storage) != storage:
            raise HeaderMismatchError(
                src.label,
                f"signal {k} stores {fname} in format {storage[0]}{storage[1]}, other signals of that file in "
                f"{''.join(storage_of[fname])}",
                "a WFDB header whose signals in one data file share one format and byte offset",
            )
    return files, gains


_KNOWN_EXTENSIONS = FORMAT_OF_EXTENSION.keys() | WFDB_DATA_EXTENSIONS | WFDB_ANNOTATION_EXTENSIONS


def _member_parts(src: SourceFile, info: zipfile.ZipInfo) -> tuple[str, ...] | None:
    """The member's path inside the archive as parts; None for what archivers add (hidden files, macOS
    resource forks). A member that would leave the archive's folder is refused, not skipped."""
    raw = info.filename.replace("\\", "/")
    rel = PurePosixPath(raw)
    parts = tuple(p for p in rel.parts if p not in ("", "."))
    if rel.is_absolute() or ".." in parts or re.match(r"^[A-Za-z]:", raw):
        raise CorruptFileError(
            f"{src.label}:{clean_text(info.filename, 80)}",
            "the archive member's path leads outside the archive",
            "a .zip whose members lie inside it (relative paths without '..')",
        )
    if not parts or any(p.startswith((".", "__MACOSX")) for p in parts):
        return None
    return parts


def _unpack_zip(src: SourceFile, workdir: Path, max_bytes: int) -> list[SourceFile]:
    """Unpack the members of known types to ``<work>/zip-*/d<k>/<safe name>``: the folders and names are
    chosen here, so nothing in the archive decides where a file is written."""
    target = Path(tempfile.mkdtemp(prefix="zip-", dir=workdir))
    max_members = limits().max_zip_members
    try:
        with zipfile.ZipFile(src.path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > max_members:
                raise FileTooLargeError(
                    src.label,
                    f"the archive holds {len(infos):,} files, over the limit of {max_members:,}",
                    f"archives of up to {max_members:,} files (set by CARDIOAGENT_MAX_ZIP_MEMBERS)",
                )
            for i in infos:
                check_unpacked_size(src.label, clean_text(i.filename, 80), i.file_size, max_bytes)
            check_unpacked_size(src.label, None, sum(i.file_size for i in infos), max_bytes)
            members: list[SourceFile] = []
            folders: dict[tuple[str, ...], Path] = {}
            written: set[Path] = set()
            budget = _Budget(max_bytes, src.label)
            for info in infos:
                parts = _member_parts(src, info)
                if parts is None:
                    continue
                member_label = f"{src.label}:{clean_text(info.filename, 120)}"
                suffix = PurePosixPath(parts[-1]).suffix.lower()
                if suffix == ZIP_EXTENSION:
                    raise UnsupportedFormatError(
                        member_label, "archives inside an archive are not unpacked", SUPPORTED_FORMATS
                    )
                if suffix not in _KNOWN_EXTENSIONS:
                    continue
                folder = folders.setdefault(parts[:-1], target / f"d{len(folders)}")
                folder.mkdir(exist_ok=True)
                name = safe_file_name(parts[-1])
                out = folder / name
                if out in written:
                    raise CorruptFileError(
                        member_label,
                        f"two members of one folder in the archive are both called {name} once cleaned",
                        "a .zip whose file names differ in letters, digits, '.', '_' or '-'",
                    )
                written.add(out)
                with zf.open(info) as fin, open(out, "xb") as fout:
                    # Declared sizes can lie; never write more than the limit, over all members.
                    shutil.copyfileobj(_Capped(fin, budget, clean_text(info.filename, 80)), fout)
                members.append(
                    SourceFile(path=out, name=name, label=member_label, shown=clean_text(parts[-1], 120))
                )
    except zipfile.BadZipFile as e:
        raise CorruptFileError(
            src.label, f"the archive cannot be read ({e})", "a valid .zip of " + SUPPORTED_FORMATS
        ) from e
    except (RuntimeError, NotImplementedError) as e:  # encrypted members, unknown compression
        raise CorruptFileError(
            src.label,
            f"the archive cannot be unpacked ({clean_text(str(e), 160)})",
            "an unencrypted, deflated or stored .zip",
        ) from e
    except (zlib.error, EOFError, OSError, ValueError) as e:  # damaged compressed data, bad offsets
        raise CorruptFileError(
            src.label,
            f"the archive is damaged: a member cannot be unpacked ({clean_text(str(e), 160)})",
            "a valid .zip of " + SUPPORTED_FORMATS,
        ) from e
    if not members:
        raise UnsupportedFormatError(
            src.label, "the archive holds no file of a supported type", SUPPORTED_FORMATS
        )
    return members


class _Budget:
    """Bytes an archive may still unpack to, over all its members."""

    def __init__(self, limit: int, label: str) -> None:
        self.left, self.limit, self.label = limit, limit, label


class _Capped:
    """A reader that fails once the archive's budget of unpacked bytes is spent."""

    def __init__(self, f, budget: _Budget, member: str) -> None:
        self._f, self._budget, self._member = f, budget, member

    def read(self, n: int = -1) -> bytes:
        chunk = self._f.read(n if n and n > 0 else 1 << 20)
        self._budget.left -= len(chunk)
        if self._budget.left < 0:
            raise FileTooLargeError(
                self._budget.label,
                f"member {self._member} unpacks to more than its declared size, over the upload limit of "
                f"{self._budget.limit:,} bytes",
                "archives whose unpacked content is within the upload limit (set by CARDIOAGENT_MAX_UPLOAD_MB)",
            )
        return chunk


def expand_uploads(paths: Sequence[str | Path], workdir: Path, max_bytes: int) -> list[SourceFile]:
    """Every uploaded file, zips unpacked, sizes and extensions checked; duplicates removed."""
    out: list[SourceFile] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        label = display_name(str(raw))
        if not path.is_file():
            raise InputError(label, "the file does not exist or is not a regular file", SUPPORTED_FORMATS)
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        check_file_size(path, label, max_bytes)
        src = SourceFile(path=path, name=safe_file_name(path.name), label=label, shown=label)
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
                found = _beside(hea, fname, max_bytes)
            if found is None:
                raise HeaderMismatchError(
                    hea.label,
                    f"the header refers to the data file {fname}, which was not uploaded",  # fname is checked
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
                    found = found or _beside(hea, wanted, max_bytes)
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
        groups.append(
            RecordGroup(format=FORMAT_OF_EXTENSION[single.suffix], name=single.shown_stem, main=single)
        )
    return groups


def _beside(hea: SourceFile, name: str, max_bytes: int) -> SourceFile | None:
    """The file ``name`` in the header's own folder (a header given alone, e.g. on the command line).
    ``name`` is a checked base name, so the lookup cannot leave that folder."""
    if not is_safe_name(name):
        return None
    beside = hea.path.parent / name
    if not beside.is_file():
        return None
    check_file_size(beside, name, max_bytes)
    return SourceFile(path=beside, name=name, label=name, shown=name)
