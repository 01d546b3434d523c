"""Files that belong to one browser session.

Gradio keeps an upload in its cache folder, which it serves to anyone who has the URL. An upload is
therefore copied into ``uploads/<session>/``, a folder Gradio never serves (it is also passed to
``blocked_paths``), and Gradio's copy is deleted as soon as the message it came with is sent. Figures go
the other way: the agent writes them into its store, and a copy is put in ``figures/<session>/`` for
Gradio to hand to that session's browser only.
Everything of a session is deleted when its tab closes.

Every path written here is chosen here: the session id (sent by the browser) and file names are mapped to
safe names (``[A-Za-z0-9._-]``, never ``.``/``..``), and a copy never goes through an existing name.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

from gradio.utils import get_upload_folder

from cardioagent.agent import safe_file_name

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _safe_session(session: str) -> str:
    """A folder name for a session id: unsafe characters replaced, and never empty, ``.`` or ``..``
    (the browser sends the id; ``..`` would make the session's folder the store's parent)."""
    name = _SAFE.sub("_", str(session or "anonymous"))[:64].lstrip(".")
    return name or "anonymous"


def _fresh(folder: Path, name: str) -> Path:
    """``folder/<safe name>``, numbered when that name is taken in this batch."""
    safe = safe_file_name(name)
    dest = folder / safe
    k = 1
    while dest.exists():
        stem, suffix = Path(safe).stem, Path(safe).suffix
        dest = folder / f"{stem}-{k}{suffix}"
        k += 1
    return dest


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


class SessionFiles:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.uploads_root = self.root / "uploads"
        self.figures_root = self.root / "figures"
        for folder in (self.uploads_root, self.figures_root):
            folder.mkdir(parents=True, exist_ok=True)

    def uploads_dir(self, session: str) -> Path:
        return self.uploads_root / _safe_session(session)

    def figures_dir(self, session: str) -> Path:
        return self.figures_root / _safe_session(session)

    def take_uploads(self, paths: list[str | Path], session: str) -> list[Path]:
        """Copy the files into the session's private folder, one sub-folder per batch so that two uploads
        with the same name never collide. Returns the private paths."""
        batch = self.uploads_dir(session) / uuid.uuid4().hex[:8]
        batch.mkdir(parents=True, exist_ok=True)
        taken = []
        for src in (Path(p) for p in paths):
            if _inside(src, self.uploads_dir(session)):  # already ours
                taken.append(src)
                continue
            dest = _fresh(batch, src.name)
            shutil.copyfile(src, dest)
            taken.append(dest)
        return taken

    @staticmethod
    def forget_gradio_copies(paths: list[str | Path]) -> None:
        """Delete what Gradio cached of these uploads (only files inside its upload folder)."""
        gradio_cache = Path(get_upload_folder())
        for src in (Path(p) for p in paths):
            if _inside(src, gradio_cache) and src.is_file():
                src.unlink(missing_ok=True)
                try:
                    src.parent.rmdir()  # Gradio's one-file <sha>/ folder
                except OSError:
                    pass

    def publish(self, path: str | Path, session: str) -> Path:
        """A copy of an agent figure (or export) that Gradio may send to this session's browser."""
        src = Path(path)
        folder = self.figures_dir(session) / uuid.uuid4().hex[:8]
        folder.mkdir(parents=True, exist_ok=True)
        dest = _fresh(folder, src.name)
        shutil.copyfile(src, dest)
        return dest

    def scratch_dir(self, session: str) -> Path:
        """A fresh folder for files this session will download (exports)."""
        folder = self.figures_dir(session) / uuid.uuid4().hex[:8]
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def cleanup(self, session: str) -> None:
        shutil.rmtree(self.uploads_dir(session), ignore_errors=True)
        shutil.rmtree(self.figures_dir(session), ignore_errors=True)
