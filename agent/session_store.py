"""Uploaded recordings, kept on disk by content hash.

A recording's id is the hash of its source files (their safe names and bytes), so uploading the same record
twice stores it once, and a conversation that refers to an id can reload it after a restart.

What is written, and where, is decided here, never by an upload: a record's files are copied into
``<root>/<id>/`` under the safe base names the loader gave them (``[A-Za-z0-9._-]``; members of a zip are
stored unpacked), through a temporary folder that is renamed into place, so a crash never leaves a
half-written record and nothing already stored is overwritten. Before the rename the copied files must hash
to the record's id. On every load from disk the files are hashed again: a folder whose files no longer give
its id (edited, replaced, half-restored from a backup) is refused, never read as some other recording.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from cardioagent.tools.errors import InputError
from cardioagent.tools.signal.loaders import load_files
from cardioagent.tools.signal.loaders.assemble import content_id
from cardioagent.tools.signal.loaders.grouping import SourceFile
from cardioagent.tools.signal.loaders.names import is_safe_name
from cardioagent.tools.signal.recording import Recording, RecordingSummary

RECORDING_ID = re.compile(r"^[0-9a-f]{16}$")
META = "recording.json"


class StoredRecordingMismatch(InputError):
    """A stored recording's files no longer hash to its id."""


def _check_id(recording_id: str) -> str:
    if not isinstance(recording_id, str) or not RECORDING_ID.match(recording_id):
        raise InputError(
            str(recording_id)[:40],
            "this is not a recording id",
            "an id returned by an upload (16 hex digits)",
        )
    return recording_id


class RecordingStore:
    def __init__(self, root: Path, cache_size: int = 16) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._cache: OrderedDict[str, Recording] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def add(self, paths: list[str | Path], *, sampling_rate_hz: float | None = None) -> list[Recording]:
        """Load (and so validate) the uploads, then keep their files. Raises InputError on bad input;
        nothing is written for an upload that does not load."""
        uploads = [Path(p) for p in paths]
        loaded: list[tuple[Recording, Path]] = []
        with tempfile.TemporaryDirectory(prefix=".incoming-", dir=self.root) as tmp:

            def keep(rec: Recording, files: list[tuple[str, Path]]) -> None:
                # Called while the loader's unpacked files still exist: copy them into a folder of ours.
                staged = self._stage(rec, files, Path(tmp), sampling_rate_hz)
                loaded.append((rec, staged))

            load_files(uploads, sampling_rate_hz=sampling_rate_hz, on_loaded=keep)
            for rec, staged in loaded:
                self._commit(rec, staged)
                self._remember(rec)
        return [rec for rec, _ in loaded]

    def _stage(
        self, rec: Recording, files: list[tuple[str, Path]], tmp: Path, sampling_rate_hz: float | None
    ) -> Path:
        _check_id(rec.id)
        staging = Path(tempfile.mkdtemp(prefix=f"{rec.id}-", dir=tmp))
        for name, src in files:
            # The loader's names are safe base names; check again, and never write through an existing name.
            if not is_safe_name(name) or name == META or (staging / name).exists():
                raise InputError(
                    rec.name, f"its file name {name!r} cannot be stored", "plain, distinct file names"
                )
            with open(src, "rb") as fin, open(staging / name, "xb") as fout:
                shutil.copyfileobj(fin, fout)
        stored = [SourceFile(path=staging / name, name=name, label=name) for name, _ in files]
        if content_id(stored) != rec.id:
            raise InputError(rec.name, "its files changed while they were being stored", "upload it again")
        meta = {
            "name": rec.name,
            "sampling_rate_hz": sampling_rate_hz,
            "files": [name for name, _ in files],
            "summary": rec.summary().model_dump(mode="json"),
        }
        (staging / META).write_text(json.dumps(meta, indent=1))
        return staging

    def _commit(self, rec: Recording, staging: Path) -> None:
        target = self.root / rec.id
        if target.exists():
            return  # the same content is stored already; the id says the bytes are the same
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
        """The recording with this id, from memory or from disk. Its stored files are hashed on every load
        from disk and must give this id; otherwise a ``StoredRecordingMismatch`` (an InputError)."""
        _check_id(recording_id)
        with self._lock:
            if recording_id in self._cache:
                self._cache.move_to_end(recording_id)
                return self._cache[recording_id]
        folder = self.root / recording_id
        meta_path = folder / META
        if not meta_path.is_file():
            raise InputError(recording_id, "no uploaded recording has this id", "an id returned by an upload")
        meta = json.loads(meta_path.read_text())
        listed = meta.get("files")
        if listed is not None:
            files = [folder / n for n in listed if is_safe_name(str(n)) and (folder / n).is_file()]
        else:  # stored before the file list was kept
            files = sorted(p for p in folder.iterdir() if p.name != META and p.is_file())
        try:
            recs = load_files(files, sampling_rate_hz=meta.get("sampling_rate_hz"))
        except InputError as e:
            raise StoredRecordingMismatch(
                recording_id, f"the stored files no longer load ({e.problem})", "upload the recording again"
            ) from e
        rec = next((r for r in recs if r.id == recording_id), None)
        if rec is None:
            raise StoredRecordingMismatch(
                recording_id,
                "the stored files no longer match the recording's content hash (they were changed or replaced)",
                "upload the recording again",
            )
        self._remember(rec)
        return rec

    def summary(self, recording_id: str) -> RecordingSummary:
        meta = json.loads((self.root / _check_id(recording_id) / META).read_text())
        return RecordingSummary.model_validate(meta["summary"])
