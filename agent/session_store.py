"""Uploaded recordings, kept on disk by content hash.

A recording's id is the hash of its source files, so uploading the same record twice stores it once, and a
conversation that refers to an id can reload it after a restart. Files are copied in under a temporary
name and renamed into place, so a crash never leaves a half-written record behind and nothing already
stored is overwritten.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from cardioagent.tools.errors import InputError
from cardioagent.tools.signal.loaders import load_files
from cardioagent.tools.signal.recording import Recording, RecordingSummary


def _files_of(rec: Recording, uploads: list[Path]) -> list[Path]:
    """The uploaded files a record came from. Members of a zip were unpacked to a temporary folder that
    is gone by now, so for those the zip itself is kept."""
    by_resolved = {p.resolve(): p for p in uploads}
    own = [by_resolved.get(Path(f).resolve()) for f in rec.source_files]
    if own and all(own):
        return own
    return [p for p in uploads if p.suffix.lower() == ".zip"] or uploads


class RecordingStore:
    def __init__(self, root: Path, cache_size: int = 16) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._cache: OrderedDict[str, Recording] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def add(self, paths: list[str | Path], *, sampling_rate_hz: float | None = None) -> list[Recording]:
        """Load (and so validate) the uploads, then keep their files. Raises InputError on bad input."""
        uploads = [Path(p) for p in paths]
        recordings = load_files(uploads, sampling_rate_hz=sampling_rate_hz)
        for rec in recordings:
            self._persist(rec, _files_of(rec, uploads), sampling_rate_hz)
            self._remember(rec)
        return recordings

    def _persist(self, rec: Recording, files: list[Path], sampling_rate_hz: float | None) -> None:
        target = self.root / rec.id
        if target.exists():
            return
        staging = Path(tempfile.mkdtemp(prefix=f".{rec.id}-", dir=self.root))
        for src in files:
            shutil.copy2(src, staging / src.name)
        meta = {"name": rec.name, "sampling_rate_hz": sampling_rate_hz, "summary": rec.summary().model_dump(mode="json")}
        (staging / "recording.json").write_text(json.dumps(meta, indent=1))
        try:
            staging.rename(target)
        except OSError:  # another thread stored the same content first
            shutil.rmtree(staging, ignore_errors=True)

    def _remember(self, rec: Recording) -> None:
        with self._lock:
            self._cache[rec.id] = rec
            self._cache.move_to_end(rec.id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def get(self, recording_id: str) -> Recording:
        with self._lock:
            if recording_id in self._cache:
                self._cache.move_to_end(recording_id)
                return self._cache[recording_id]
        folder = self.root / recording_id
        meta_path = folder / "recording.json"
        if not meta_path.is_file():
            raise InputError(recording_id, "no uploaded recording has this id", "an id returned by an upload")
        meta = json.loads(meta_path.read_text())
        files = sorted(p for p in folder.iterdir() if p.name != "recording.json")
        recs = load_files(files, sampling_rate_hz=meta.get("sampling_rate_hz"))
        rec = next((r for r in recs if r.id == recording_id), recs[0])
        self._remember(rec)
        return rec

    def summary(self, recording_id: str) -> RecordingSummary:
        meta = json.loads((self.root / recording_id / "recording.json").read_text())
        return RecordingSummary.model_validate(meta["summary"])
