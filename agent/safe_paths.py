"""Names and paths from a benchmark file are untrusted.

A benchmark is data someone else may have written: its ``sample_id`` becomes part of a thread id (and so of
a folder name for the thread's figures), and its ``files`` are opened. ``safe_name`` maps any id to a plain
name; ``check_inside`` refuses a file that does not resolve inside the folders the person running the
evaluation allowed: the benchmark's own folder, the folder the command runs in, and ``--data-root``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from cardioagent.tools.signal.loaders.names import is_safe_name

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_name(text: object, max_len: int = 64) -> str:
    """A name made of letters, digits, ``_`` and ``-`` only (so never ``.``, ``..`` or a path), that
    differs for different inputs: when characters had to be replaced or cut, a short hash of the original
    is appended. ``safe_name("../../x") == "x-<hash>"``."""
    raw = str(text)
    cleaned = _UNSAFE.sub("_", raw).strip("_")[:max_len] or "item"
    if cleaned != raw:
        cleaned = f"{cleaned}-{hashlib.sha1(raw.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
    return cleaned


def is_safe_thread_id(thread_id: str) -> bool:
    """A thread id that can name a folder: ``[A-Za-z0-9._-]``, not starting with a dot, at most 128."""
    return isinstance(thread_id, str) and is_safe_name(thread_id)


def outside_roots(files: Iterable[Path], roots: Iterable[Path | None]) -> list[Path]:
    """The files (after resolving links and ``..``) that lie in none of ``roots``."""
    allowed = [Path(r).resolve() for r in roots if r is not None]
    out = []
    for f in files:
        resolved = Path(f).resolve()
        if not any(resolved == r or r in resolved.parents for r in allowed):
            out.append(Path(f))
    return out


def data_roots(benchmark: Path, data_root: Path | None) -> list[Path]:
    """Where a benchmark's files may lie: its own folder, the working folder, and ``--data-root``."""
    roots = [Path(benchmark).resolve().parent, Path.cwd().resolve()]
    return roots + ([Path(data_root).resolve()] if data_root is not None else [])


def check_inside(files: list[Path], benchmark: Path, data_root: Path | None) -> str | None:
    """None when every file lies in one of ``data_roots``; else why not (for the report's list of items
    not asked)."""
    roots = data_roots(benchmark, data_root)
    bad = outside_roots(files, roots)
    if not bad:
        return None
    where = " or ".join(str(r) for r in roots if r is not None)
    return (
        f"refused: {', '.join(f.name for f in bad)} lie(s) outside the benchmark's data root ({where}); "
        "pass --data-root FOLDER to allow the folder that holds them"
    )
