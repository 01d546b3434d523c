"""Lay the rooms out as one ``cardioagent/`` package of symlinks, for tools that find packages by directory.

The rooms install as the namespace ``cardioagent.*`` from top-level folders (setup.py's ``package_dir``);
import-linter's grimp and mypy cannot walk through setuptools' editable finder, so they read this tree.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOMS = ("agent", "tools", "models", "knowledge_base", "ui")


def lay_out(dest: Path, repo: Path = REPO, extra: dict[str, str] | None = None) -> Path:
    """``dest/cardioagent/<room>`` -> ``repo/<room>``. Each file in ``extra`` ("tools/builtin/x.py": source)
    gets real folders along its path, their other entries symlinked, so it never lands in the repository."""
    pkg = dest / "cardioagent"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for room in ROOMS:
        (pkg / room).symlink_to(repo / room, target_is_directory=True)
    for rel, source in (extra or {}).items():
        folder = pkg
        for part in Path(rel).parts[:-1]:
            folder = _unfold(folder / part)
        target = folder / Path(rel).name
        target.unlink(missing_ok=True)  # a symlink to the repository's own file: replace, never write through
        target.write_text(source)
    return dest


def _unfold(link: Path) -> Path:
    """Replace a symlinked folder by a real one whose entries are symlinks to the original's."""
    if link.is_symlink():
        target = link.resolve()
        link.unlink()
        link.mkdir()
        for entry in target.iterdir():
            (link / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return link
