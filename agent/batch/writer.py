"""Batch results on disk: Parquet part files written as rows finish, so a killed run loses little.

``OUT/parts/part-<run>-<n>.parquet`` holds a handful of rows each; a part is written to a ``.tmp`` file and
renamed into place, so a part is either whole or absent (a ``kill -9`` mid-write leaves only a ``.tmp``,
deleted by the next run). A rerun reads the ``task_key`` and ``status`` columns of the parts and skips the
finished tasks (error rows count as finished unless errors are retried). ``OUT/results.parquet`` is the merged
view — every part, one row per key (the latest), rewritten at the end of each run.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from cardioagent.agent.batch.schema import arrow_schema

PARTS = "parts"
RESULTS = "results.parquet"


def part_files(out: Path) -> list[Path]:
    return sorted((out / PARTS).glob("part-*.parquet"))


def finished_keys(out: Path, retry_errors: bool = False) -> set[str]:
    """Task keys already written; with ``retry_errors``, the tasks whose rows are all errors are not."""
    import pyarrow.parquet as pq

    for tmp in (out / PARTS).glob("*.tmp"):
        tmp.unlink(missing_ok=True)  # torn by a kill while being written; its rows are redone
    status: dict[str, bool] = {}
    for part in part_files(out):
        cols = pq.read_table(part, columns=["task_key", "status", "finished_at"]).to_pydict()
        for key, st in zip(cols["task_key"], cols["status"], strict=True):
            status[key] = st == "ok"  # parts sort by run and sequence, so a later row wins
    return {k for k, ok in status.items() if ok or not retry_errors}


class PartWriter:
    """Buffers rows and writes a part every ``flush_rows`` rows or ``flush_s`` seconds."""

    def __init__(self, out: Path, flush_rows: int = 16, flush_s: float = 30.0) -> None:
        self.dir = out / PARTS
        self.dir.mkdir(parents=True, exist_ok=True)
        # A time-ordered run id: parts of later runs sort after earlier ones, so their rows win on merge.
        self.run = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
        self.flush_rows, self.flush_s = max(1, flush_rows), flush_s
        self._rows: list[dict[str, Any]] = []
        self._n = 0
        self._last = time.monotonic()
        self.written = 0

    def add(self, rows: list[dict[str, Any]]) -> None:
        self._rows.extend(rows)
        if len(self._rows) >= self.flush_rows or time.monotonic() - self._last >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._last = time.monotonic()
        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows, schema=arrow_schema())
        final = self.dir / f"part-{self.run}-{self._n:06d}.parquet"
        tmp = final.with_suffix(".tmp")
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())  # the rename must not publish a part whose bytes are not on disk
        os.replace(tmp, final)
        self._n += 1
        self.written += len(self._rows)
        self._rows = []

    def close(self) -> None:
        self.flush()


def merge(out: Path) -> Path:
    """Write ``results.parquet``: every part's rows, the latest row per key, sorted by key."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = part_files(out)
    schema = arrow_schema()
    if parts:
        table = pa.concat_tables([pq.read_table(p, schema=schema) for p in parts])
        keys = table.column("key").to_pylist()
        last = {k: i for i, k in enumerate(keys)}  # later parts win
        table = table.take(sorted(last.values(), key=lambda i: keys[i]))
    else:
        table = schema.empty_table()
    path = out / RESULTS
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path
