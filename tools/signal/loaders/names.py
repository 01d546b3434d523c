"""Names that come from uploads: checked before they touch the file system, cleaned before they are shown.

* A name a file *refers to* (a data file named in a WFDB header, a record name) must be a plain base name:
  letters, digits, ``.``, ``_`` and ``-``, no folder separators, not ``.``/``..`` and not starting with a
  dot, at most 128 characters. Anything else is refused (``check_base_name``); it is never resolved as a
  path, so a header cannot name ``../../elsewhere/file.mat`` or ``/etc/passwd``.
* A name an upload *has* (the browser's file name, a zip member's base name) is mapped to such a name
  (``safe_file_name``): unsafe characters become ``_``. Files are stored under this name only.
* Text shown to people (file labels, channel and record names) loses control characters and ANSI escape
  sequences (``clean_text``), and an error message never shows a server path (``scrub_paths``).
"""

from __future__ import annotations

import re
from pathlib import PurePath

from cardioagent.tools.errors import CorruptFileError

SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")
_UNSAFE_CHAR = re.compile(r"[^A-Za-z0-9._-]")
# CSI/OSC escape sequences first (so their parameters go too), then any other control character.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
_ABS_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:[/\\][^\s/\\'\"()<>,;:|]+){2,}")
NAME_RULE = "a plain file name of letters, digits, '.', '_' and '-' (no folders, not starting with a dot)"


def is_safe_name(name: str) -> bool:
    return bool(SAFE_NAME.match(name)) and name not in (".", "..")


def clean_text(text: str, max_len: int = 200) -> str:
    """``text`` without ANSI escapes or control characters, whitespace runs collapsed, cut to ``max_len``."""
    text = _CONTROL.sub("", ANSI_ESCAPE.sub("", str(text)))
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= max_len else text[: max_len - 1] + "…"


def safe_file_name(name: str, fallback: str = "upload") -> str:
    """A storable base name for an upload called ``name``: the base name, unsafe characters replaced by
    ``_``, no leading dots, at most 128 characters (the extension kept)."""
    base = PurePath(str(name).replace("\\", "/")).name
    base = _UNSAFE_CHAR.sub("_", clean_text(base, max_len=400))
    base = base.lstrip(".") or fallback
    if len(base) > 128:
        stem, dot, ext = base.rpartition(".")
        ext = ext if dot and len(ext) <= 16 else ""
        base = (stem if dot else base)[: 127 - len(ext)] + ("." + ext if ext else "")
    if not is_safe_name(base):
        base = fallback
    return base


def check_base_name(label: str, name: str, what: str) -> str:
    """``name`` if it is a safe base name; else a ``CorruptFileError`` saying what is wrong with it."""
    shown = clean_text(name, max_len=80)
    if is_safe_name(name):
        return name
    if "/" in name or "\\" in name:
        base = clean_text(PurePath(name.replace("\\", "/")).name, max_len=60)
        problem = f"{what} (…/{base}) is a path, not a file name"
    elif name in (".", "..") or name.startswith("."):
        problem = f"{what} {shown!r} starts with a dot"
    elif not name:
        problem = f"{what} is empty"
    elif len(name) > 128:
        problem = f"{what} is {len(name)} characters long (at most 128)"
    else:
        problem = f"{what} {shown!r} has characters other than letters, digits, '.', '_' and '-'"
    raise CorruptFileError(label, problem, f"{NAME_RULE}, naming a file uploaded with it")


def display_name(raw: str) -> str:
    """What a message shows for an upload at ``raw``: its base name, cleaned (never the server path)."""
    return clean_text(PurePath(str(raw).replace("\\", "/")).name or str(raw), max_len=120)


def scrub_paths(text: str) -> str:
    """``text`` with every absolute path replaced by its base name (library messages quote them)."""
    return _ABS_PATH.sub(lambda m: PurePath(m.group(0).replace("\\", "/")).name, clean_text(text, 600))
