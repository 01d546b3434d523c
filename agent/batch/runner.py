"""Run a batch: skip finished tasks, map the analyzer over the rest on an engine, write rows as they come."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from cardioagent.agent.batch.engines import Engine, EngineError
from cardioagent.agent.batch.record import BatchAnalyzer, error_row
from cardioagent.agent.batch.schema import RecordTask
from cardioagent.agent.batch.writer import PartWriter, finished_keys, merge


class BatchResult(BaseModel):
    tasks: int  # tasks given
    already_done: int  # found in the parts and skipped
    processed: int  # tasks processed in this run
    rows_written: int
    results: Path
    seconds: float


def run_batch(
    tasks: Sequence[RecordTask],
    out: Path,
    engine: Engine,
    *,
    analyzer: BatchAnalyzer | None = None,
    flush_rows: int = 16,
    retry_errors: bool = False,
    progress: bool = True,
) -> BatchResult:
    import time

    from tqdm import tqdm

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    done = finished_keys(out, retry_errors)
    pending = [t for t in tasks if t.key not in done]
    writer = PartWriter(out, flush_rows=flush_rows)
    processed = 0
    errors = 0
    bar = tqdm(
        total=len(pending),
        desc=f"batch [{engine.name}]",
        unit="rec",
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        for task, rows, exc in engine.map_unordered(analyzer or BatchAnalyzer(), pending):
            if exc is not None:  # the worker itself failed (crash); the analyzer never raises
                rows = [error_row(task, type(exc).__name__, str(exc))]
            elif rows is None:  # an engine yields a result or an error: a broken engine, not a bad record
                raise EngineError(f"engine {engine.name!r} yielded neither rows nor an error for {task.key}")
            writer.add(rows)
            processed += 1
            errors += any(r["status"] != "ok" for r in rows)
            bar.update(1)
            bar.set_postfix(errors=errors, refresh=False)
    finally:
        bar.close()
        writer.close()  # what finished is on disk, even after Ctrl-C
    results = merge(out)
    return BatchResult(
        tasks=len(tasks),
        already_done=len(tasks) - len(pending),
        processed=processed,
        rows_written=writer.written,
        results=results,
        seconds=round(time.perf_counter() - started, 3),
    )
