"""``cardioagent eval --engine local|ray``: questions asked by worker processes or Ray actors.

The default engine (``thread``) is ``runner.run_benchmark``: threads sharing one Assistant. Here each worker
(a process of a local pool, or a Ray actor) builds its own Assistant once, in ``setup()`` — models, the
knowledge store and the tool registry load once per worker, not per question — with its conversations in its
own folder (no SQLite contention), and asks the questions it is sent. The driver keeps what makes a run
resumable and comparable: it selects the items (``plan_items``), appends each finished row to ``trace.jsonl``
at once, and the report is written by the same code as for a thread run. Rows carry ``worker`` (host:pid) and
``worker_rss_mb`` (that worker's peak resident memory so far, its tool subprocesses included) and
``worker_cpu_s`` (the question's CPU time in the worker and its tool subprocesses: a cost that does not
depend on how loaded the machine is).
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardioagent.agent.batch.engines import Engine, EngineError
from cardioagent.agent.batch.record import cpu_seconds, peak_rss_mb, worker_id
from cardioagent.agent.evaluation.benchmark import BenchItem, Benchmark
from cardioagent.agent.evaluation.runner import (
    TRACE,
    RunConfig,
    RunResult,
    TraceWriter,
    _progress,
    evaluate_item,
    plan_items,
    read_trace,
)
from cardioagent.agent.safe_paths import safe_name

if TYPE_CHECKING:
    from cardioagent.agent.api import Assistant

# Environment a worker must see as the driver does, also on another node of a cluster: where the knowledge
# store lives, which model backend, and that nothing is fetched from a hub.
_ENV_PREFIXES = ("CARDIOAGENT_", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


class EvalWorker:
    """Picklable: sent to each worker, which builds its Assistant once in ``setup()``."""

    def __init__(
        self, backend: str | None, llm_summary: bool | None, range_profile: str, run_dir: Path
    ) -> None:
        self.backend = backend
        self.llm_summary = llm_summary
        self.range_profile = range_profile
        self.run_dir = str(run_dir)
        self.env = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}
        self.assistant: Assistant | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "assistant": None}  # an Assistant never travels; each worker builds its own

    def setup(self) -> None:
        from cardioagent.agent.api import Assistant
        from cardioagent.agent.evaluation.settings import EvalSettings

        os.environ.update(self.env)
        run_dir = Path(self.run_dir) / f"worker-{socket.gethostname()}-{os.getpid()}"
        run_dir.mkdir(parents=True, exist_ok=True)
        assistant = Assistant(
            self.backend,
            EvalSettings(llm_summary=self.llm_summary, run_dir=run_dir, range_profile=self.range_profile),
        )
        self.assistant = assistant
        assistant.warm_up()

    def __call__(self, job: tuple[BenchItem, list[Path], str]) -> dict[str, Any]:
        item, files, thread_id = job
        if self.assistant is None:  # engines call setup() first; a bare call would fail on every item
            raise EngineError("EvalWorker.setup() was not called in this worker before its first question")
        cpu_started = cpu_seconds()
        row = evaluate_item(item, files, self.assistant, thread_id)
        return {
            **row,
            "worker": worker_id(),
            "worker_rss_mb": peak_rss_mb(),
            "worker_cpu_s": round(cpu_seconds() - cpu_started, 4),
        }


class _Failed:
    """An asker that raises what the engine reported, so a crashed worker's item gets the usual error row."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def ask(self, *args: Any, **kwargs: Any) -> Any:
        raise self.exc


def run_on_engine(
    bench: Benchmark, out_dir: Path, config: RunConfig, engine: Engine, worker: EvalWorker
) -> RunResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    trace_path = out_dir / TRACE
    done = read_trace(trace_path, config.retry_errors)
    items, pending, missing = plan_items(bench, config, done)
    jobs = [(item, files, f"eval-{safe_name(item.key)}-{uuid.uuid4().hex[:8]}") for item, files in pending]
    writer = TraceWriter(trace_path)
    asked = correct = 0
    bar = _progress(len(jobs), config.progress)
    bar.set_description(f"eval [{engine.name}]")
    try:
        for (item, files, thread_id), row, exc in engine.map_unordered(worker, jobs):
            if exc is not None:
                row = evaluate_item(item, files, _Failed(exc), thread_id)
            elif row is None:  # an engine yields a result or an error: a broken engine, not a bad item
                raise EngineError(f"engine {engine.name!r} yielded neither a row nor an error for {item.key}")
            writer.append(row)
            asked += 1
            correct += bool(row["correct"])
            bar.update(1)
            bar.set_postfix(acc=f"{correct / asked:.2f}")
    finally:
        bar.close()
        writer.close()
    return RunResult(
        selected=len(items),
        already_done=sum(1 for it in items if it.key in done),
        asked=asked,
        missing=missing,
    )


def run_eval_on_engine(
    args: Any, bench: Benchmark, out: Path, run_dir: Path, config: RunConfig
) -> tuple[RunResult, dict[str, Any]]:
    """``cardioagent eval --engine local|ray``: the run and its description for the report."""
    from cardioagent.agent.batch.engines import make_engine
    from cardioagent.agent.evaluation.report import command_line
    from cardioagent.agent.evaluation.settings import EvalSettings
    from cardioagent.models.llm.spec import BackendSpec

    backend = BackendSpec.parse(args.backend) if args.backend else BackendSpec.from_env()
    settings = EvalSettings(llm_summary=args.llm_summary, run_dir=run_dir, range_profile=args.range_profile)
    worker = EvalWorker(args.backend, args.llm_summary, args.range_profile, run_dir)
    with make_engine(args.engine, args.workers, args.address) as engine:
        run = {
            "benchmark": str(args.benchmark),
            "benchmark_name": bench.name,
            "backend": backend.describe(),
            "llm_summary": bool(
                args.llm_summary if args.llm_summary is not None else backend.kind != "embedded"
            ),
            "planner": settings.planner,
            "workers": engine.workers,
            "keep_memory": False,
            "limit": args.limit,
            "shard": None if args.shard is None else "/".join(map(str, args.shard)),
            "command": command_line(),
            "engine": engine.describe(),
        }
        result = run_on_engine(bench, out, config, engine, worker)
    return result, run
