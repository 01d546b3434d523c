"""Running a benchmark through ``Assistant.ask`` — the same public API the UI and the CLI use.

- Fresh memory per question: each question gets a new thread id (``eval-<item key>-<random>``), so no answer
  sees an earlier question. ``keep_memory`` asks everything in one thread instead (and so runs one worker).
- Resumable: every finished question is appended to ``trace.jsonl`` at once (flushed and fsynced); a rerun
  reads the trace, drops a line torn by a kill, and asks only the questions whose id is not there yet.
  Questions that ended in an error count as finished unless ``retry_errors``.
- Parallel: ``workers`` threads share one Assistant (its graph, SQLite checkpointer, recording store and
  models are thread-safe); a tqdm bar shows progress and the running accuracy.
- Questions whose recordings are missing are not asked and not written; the report counts them.
- Sharded: ``shard=(k, n)`` runs the items whose key hashes to k modulo n, so n processes or machines can
  share a benchmark; their traces concatenated into one folder make a complete run (docs/evaluation.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from cardioagent.agent.evaluation.benchmark import BenchItem, Benchmark, item_files
from cardioagent.agent.evaluation.parser import parse_answer
from cardioagent.agent.evaluation.scoring import exact_match, gold_set
from cardioagent.agent.safe_paths import check_inside, safe_name
from cardioagent.tools.signal.recording import Demographics

if TYPE_CHECKING:  # tqdm is imported when a run starts
    from tqdm import tqdm

TRACE = "trace.jsonl"


class Asker(Protocol):
    def ask(
        self,
        question: str,
        attachments: Sequence[str | Path] = (),
        thread_id: str | None = None,
        demographics: Demographics | dict[str, Any] | None = None,
        options: Sequence[str] | None = None,
    ) -> Any: ...


class RunConfig(BaseModel):
    workers: int = 1
    keep_memory: bool = False
    limit: int | None = None
    retry_errors: bool = False
    data_root: Path | None = None
    progress: bool = True
    shard: tuple[int, int] | None = None  # (k, n): only the items whose key hashes to k modulo n
    first: bool = False  # with limit: the first N items instead of a sample stratified by question type
    seed: int = 0  # of the stratified sample


def shard_of(key: str, n: int) -> int:
    """A stable shard number for an item key (the same on every machine and Python run)."""
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % n


def select(
    items: list[BenchItem],
    limit: int | None,
    shard: tuple[int, int] | None,
    *,
    first: bool = False,
    seed: int = 0,
) -> list[BenchItem]:
    """The items a run covers: ``limit`` of the benchmark (a seeded sample stratified by question type, or
    the first ones with ``first``), then those of one shard."""
    from cardioagent.agent.evaluation.sampling import stratified_sample

    if not limit:
        chosen = list(items)
    else:
        chosen = items[:limit] if first else stratified_sample(items, limit, seed)
    if shard is not None:
        k, n = shard
        chosen = [it for it in chosen if shard_of(it.key, n) == k]
    return chosen


class RunResult(BaseModel):
    selected: int  # items in the benchmark, after --limit
    already_done: int  # found in the trace and skipped
    asked: int  # asked in this run
    missing: dict[str, str]  # item key -> why its recordings are missing


def read_trace(path: Path, retry_errors: bool = False) -> dict[str, dict[str, Any]]:
    """Finished rows by item key (the last row of a key wins). A line torn by a kill is dropped and the
    file rewritten without it, so appending goes on from a clean end."""
    if not path.is_file():
        return {}
    rows: dict[str, dict[str, Any]] = {}
    torn = False
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows[str(row["key"])] = row
        except (json.JSONDecodeError, KeyError, TypeError):
            torn = True
    dropped = {k for k, r in rows.items() if retry_errors and r.get("status") == "error"}
    if torn or dropped:
        keep = [r for k, r in rows.items() if k not in dropped]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in keep))
        os.replace(tmp, path)
        rows = {k: r for k, r in rows.items() if k not in dropped}
    return rows


class TraceWriter:
    def __init__(self, path: Path) -> None:
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 — open for the whole run, closed by close()
        self._lock = threading.Lock()

    def append(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._fh.write(json.dumps(row) + "\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())  # a kill right after must not lose a finished question

    def close(self) -> None:
        self._fh.close()


def evaluate_item(item: BenchItem, files: list[Path], asker: Asker, thread_id: str) -> dict[str, Any]:
    """Ask one question and score the reply; an exception becomes an 'error' row, never a crash."""
    started = time.perf_counter()
    base = {
        "key": item.key,
        "question_id": item.question_id,
        "sample_id": item.sample_id,
        "template_id": item.template_id,
        "question_type": item.question_type,
        "attribute_type": item.attribute_type,
        "question": item.question,
        "options": item.options,
        "gold": sorted(gold_set(item.answer)),
        "files": [str(f) for f in files],
        "thread_id": thread_id,
    }
    try:
        answer = asker.ask(item.question, [str(f) for f in files], thread_id=thread_id, options=item.options)
    except Exception as exc:  # noqa: BLE001 — recorded in the trace; one bad item must not end the run
        return {
            **base,
            "status": "error",
            "correct": False,
            "prediction": None,
            "raw_answer": "",
            "answer_line": None,
            "error": f"{type(exc).__name__}: {exc}",
            "tools": [],
            "closed": None,
            "latency_s": round(time.perf_counter() - started, 4),
            "agent_total_s": None,
            "tokens": {},
            "finished_at": _now(),
        }
    latency = time.perf_counter() - started
    parsed = parse_answer(answer.text, item.options or [])
    correct = parsed.status == "ok" and exact_match(item.answer, parsed.answer)
    closed = getattr(answer, "closed", None)
    usage = dict(getattr(answer, "usage", {}) or {})
    return {
        **base,
        "status": parsed.status,
        "correct": correct,
        "prediction": parsed.answer,
        "raw_answer": answer.text,
        "answer_line": parsed.line,
        "parse_note": parsed.why,
        "error": None,
        "tools": [
            {"tool": t.tool, "seconds": round(t.seconds, 4), "ok": t.ok, "error_kind": t.error_kind}
            for t in answer.trace
        ],
        "closed": closed.model_dump(mode="json") if closed is not None else None,
        "latency_s": round(latency, 4),
        "agent_total_s": (answer.timings or {}).get("total_s"),
        "tokens": {
            "llm_calls": usage.get("llm_calls", 0),
            "input_tokens": usage.get("input_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
        },
        "finished_at": _now(),
    }


def plan_items(
    bench: Benchmark, config: RunConfig, done: dict[str, dict[str, Any]]
) -> tuple[list[BenchItem], list[tuple[BenchItem, list[Path]]], dict[str, str]]:
    """The run's items, those still to ask with their files, and why the others' recordings are missing.
    Shared with the process and Ray engines (``engines.py``)."""
    items = select(bench.items, config.limit, config.shard, first=config.first, seed=config.seed)
    missing: dict[str, str] = {}
    pending: list[tuple[BenchItem, list[Path]]] = []
    for item in items:
        if item.key in done:
            continue
        files, why = item_files(item, bench.path, config.data_root)
        why = why or check_inside(files, bench.path, config.data_root)  # the benchmark is untrusted data
        if why:
            missing[item.key] = why
        else:
            pending.append((item, files))
    return items, pending, missing


def run_benchmark(bench: Benchmark, asker: Asker, out_dir: Path, config: RunConfig) -> RunResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    trace_path = out_dir / TRACE
    done = read_trace(trace_path, config.retry_errors)
    items, pending, missing = plan_items(bench, config, done)
    workers = 1 if config.keep_memory else max(1, config.workers)
    memory_thread = f"eval-memory-{uuid.uuid4().hex[:8]}"
    writer = TraceWriter(trace_path)
    asked = correct = 0
    bar = _progress(len(pending), config.progress)
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval") as pool:
            futures = [
                pool.submit(
                    evaluate_item,
                    item,
                    files,
                    asker,
                    memory_thread
                    if config.keep_memory
                    else f"eval-{safe_name(item.key)}-{uuid.uuid4().hex[:8]}",
                )
                for item, files in pending
            ]
            try:
                for fut in as_completed(futures):
                    row = fut.result()
                    writer.append(row)
                    asked += 1
                    correct += bool(row["correct"])
                    bar.update(1)
                    bar.set_postfix(acc=f"{correct / asked:.2f}")
            except BaseException:  # Ctrl-C: what finished is on disk; drop what has not started
                for f in futures:
                    f.cancel()
                raise
    finally:
        bar.close()
        writer.close()
    return RunResult(
        selected=len(items),
        already_done=sum(1 for it in items if it.key in done),
        asked=asked,
        missing=missing,
    )


def _progress(total: int, enabled: bool) -> tqdm:
    from tqdm import tqdm

    return tqdm(total=total, desc="eval", unit="question", disable=not enabled, dynamic_ncols=True)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
