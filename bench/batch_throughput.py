"""Throughput of ``cardioagent batch`` and ``cardioagent eval``: one process vs ``--engine local`` vs ``--engine ray``.

    .venv/bin/python bench/batch_throughput.py [--data ../shared/data/ptbxl_1_250] [--records 250]
        [--questions 24] [--workers 2] [--skip-batch] [--skip-eval] [--home DIR]

Each configuration runs the real command line in a subprocess on the same inputs, into a fresh output folder:

- batch: every WFDB record of ``DATA/records500`` (the 250 PTB-XL records), ``--workers 1`` (one process, in
  the command itself) vs ``--engine local --workers W`` (a process pool) vs ``--engine ray --workers W`` (a
  local Ray cluster started by the command);
- eval: the first ``--questions`` items of ECG-QA's ``ptbxl_1_250_template.json`` (real ECG-QA v1.0.2
  questions whose ECGs are all in ptbxl_1_250), ``--engine thread --workers 1`` vs local vs ray, tools only
  (``--no-llm``).

Reported per run: wall time of the command (start-up included), end-to-end items/s, steady items/s (between
the first and the last finished item, from the rows' ``finished_at``: start-up of the workers excluded), the
speed-up over one process, the mean CPU seconds per item (in the worker and its tool subprocesses: the
cost that does not depend on the machine's load, for the cost model in docs/scale.md), and the peak RSS of
each worker (from the rows' ``worker_rss_mb``; for one
process, the command itself), and the CPU seconds of the command with the children it waited for
(``command_cpu_s``: for one process, start-up plus every question; Ray's actors are not its children). The
load average before and after each run is recorded: on a shared machine
the figures are only as quiet as the machine. Writes bench/results/batch_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "results" / "batch_throughput.json"
CLI = [sys.executable, "-m", "cardioagent.ui.cli"]


def run_command(argv: list[str], env: dict[str, str], timeout: float) -> dict:
    """Run the CLI; wall time, exit status, and the command's peak RSS (wait4: the command itself, or its
    largest waited-for child such as a tool subprocess; Ray actors are not its children)."""
    load_before = os.getloadavg()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(CLI + argv, env=env, stdout=out, stderr=err, text=True)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return {
        "argv": argv,
        "returncode": proc.returncode,
        "wall_s": round(wall, 2),
        "command_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        # CPU of the command and the children it waited for (tool subprocesses, a local pool; not Ray's
        # actors): for one process, the cost per question beside the load-dependent wall time
        "command_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "stdout_tail": stdout[-600:],
        "stderr_tail": stderr[-600:] if proc.returncode else "",
    }


def rates(n: int, wall_s: float, finished: list[datetime]) -> dict:
    finished = sorted(finished)
    span = (finished[-1] - finished[0]).total_seconds() if len(finished) > 1 else 0.0
    return {
        "items": n,
        "items_per_s_end_to_end": round(n / wall_s, 3) if wall_s else None,
        "items_per_s_steady": round((len(finished) - 1) / span, 3) if span > 0 else None,
    }


def per_worker_rss(rows: list[dict]) -> dict[str, float]:
    peak: dict[str, float] = {}
    for r in rows:
        if r.get("worker") and r.get("worker_rss_mb") is not None:
            peak[r["worker"]] = max(peak.get(r["worker"], 0.0), float(r["worker_rss_mb"]))
    return dict(sorted(peak.items()))


def bench_batch(data: Path, records: int | None, workers: int, work: Path, env: dict) -> list[dict]:
    import pyarrow.parquet as pq

    configs = [
        ("one process", ["--engine", "local", "--workers", "1"]),
        ("local", ["--engine", "local", "--workers", str(workers)]),
        ("ray", ["--engine", "ray", "--workers", str(workers)]),
    ]
    out = []
    for label, extra in configs:
        dest = work / f"batch-{label.replace(' ', '_')}"
        argv = ["batch", str(data / "records500"), "--out", str(dest), "--no-progress", *extra]
        if records:
            argv += ["--limit", str(records)]
        print(f"batch [{label}] ...", file=sys.stderr, flush=True)
        res = run_command(argv, env, timeout=3600)
        rows = (
            pq.read_table(dest / "results.parquet").to_pylist()
            if (dest / "results.parquet").is_file()
            else []
        )
        stamps = [datetime.fromisoformat(r["finished_at"]) for r in rows if r.get("finished_at")]
        out.append(
            {
                "engine": label,
                **res,
                **rates(len(rows), res["wall_s"], stamps),
                "errors": sum(r["status"] != "ok" for r in rows),
                "mean_item_s_in_worker": mean([r.get("seconds") for r in rows]),
                "mean_cpu_s_per_item": mean([r.get("cpu_s") for r in rows]),
                "peak_rss_mb_per_worker": per_worker_rss(rows),
            }
        )
    return out


def bench_eval(data: Path, questions: int, workers: int, work: Path, env: dict) -> list[dict]:
    bench = data.parent / "ecgqa_format_sample" / "ptbxl_1_250_template.json"
    configs = [
        ("one process", ["--engine", "thread", "--workers", "1"]),
        ("local", ["--engine", "local", "--workers", str(workers)]),
        ("ray", ["--engine", "ray", "--workers", str(workers)]),
    ]
    out = []
    for label, extra in configs:
        dest = work / f"eval-{label.replace(' ', '_')}"
        argv = [
            "eval",
            str(bench),
            "--data-root",
            str(data),
            "--limit",
            str(questions),
            "--out",
            str(dest),
            "--no-llm",
            "--no-progress",
            *extra,
        ]
        print(f"eval [{label}] ...", file=sys.stderr, flush=True)
        res = run_command(argv, env, timeout=3600)
        trace = dest / "trace.jsonl"
        rows = [json.loads(line) for line in trace.read_text().splitlines()] if trace.is_file() else []
        stamps = [datetime.fromisoformat(r["finished_at"]) for r in rows if r.get("finished_at")]
        out.append(
            {
                "engine": label,
                **res,
                **rates(len(rows), res["wall_s"], stamps),
                "correct": sum(bool(r["correct"]) for r in rows),
                "errors": sum(r["status"] == "error" for r in rows),
                "mean_latency_s": round(sum(r["latency_s"] for r in rows) / len(rows), 3) if rows else None,
                "mean_latency_s_by_type": by_type(rows),
                "mean_cpu_s_per_item": mean([r.get("worker_cpu_s") for r in rows]),  # local and ray rows only
                "peak_rss_mb_per_worker": per_worker_rss(rows),
                "finished_at_resolution_s": 1,
            }
        )
    return out


def mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 3) if values else None


def by_type(rows: list[dict]) -> dict[str, dict]:
    """Mean latency per ECG-QA question type: comparison questions read two recordings."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        groups.setdefault(r["question_type"], []).append(r["latency_s"])
    return {k: {"n": len(v), "mean_latency_s": round(sum(v) / len(v), 3)} for k, v in sorted(groups.items())}


def speedups(runs: list[dict]) -> None:
    base = runs[0]
    for r in runs:
        for k in ("items_per_s_steady", "items_per_s_end_to_end"):
            r[f"speedup_{k.removeprefix('items_per_s_')}"] = (
                round(r[k] / base[k], 2) if r.get(k) and base.get(k) else None
            )


def verdict(runs: list[dict]) -> dict:
    """The acceptance: both engines within 15 % of each other and each >= 1.7x one process (steady rates)."""
    by = {r["engine"]: r for r in runs}
    loc, ray = by["local"].get("items_per_s_steady"), by["ray"].get("items_per_s_steady")
    if not (loc and ray):
        return {"met": False, "why": "a run produced no rate"}
    gap = abs(loc - ray) / max(loc, ray)
    ok = gap <= 0.15 and by["local"]["speedup_steady"] >= 1.7 and by["ray"]["speedup_steady"] >= 1.7
    return {
        "met": ok,
        "engine_gap": round(gap, 3),
        "local_speedup": by["local"]["speedup_steady"],
        "ray_speedup": by["ray"]["speedup_steady"],
    }


def table(title: str, runs: list[dict], unit: str) -> str:
    head = (
        f"{'engine':12s} {'n':>4s} {'wall s':>8s} {unit + '/s e2e':>12s} {unit + '/s steady':>14s} "
        f"{'x steady':>8s}  peak RSS per worker (MB; one process: the command)"
    )
    lines = [title, head]
    for r in runs:
        rss = (
            ", ".join(f"{v:.0f}" for v in r["peak_rss_mb_per_worker"].values())
            or f"{r['command_peak_rss_mb']:.0f}"
        )
        lines.append(
            f"{r['engine']:12s} {r['items']:4d} {r['wall_s']:8.1f} {r['items_per_s_end_to_end'] or 0:12.3f} "
            f"{r['items_per_s_steady'] or 0:14.3f} {r.get('speedup_steady') or 0:8.2f}  {rss}"
        )
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "ptbxl_1_250")
    p.add_argument("--records", type=int, default=None, help="only the first N records (default: all 250)")
    p.add_argument("--questions", type=int, default=24, help="ECG-QA questions for eval (the first N)")
    p.add_argument(
        "--workers", type=int, default=None, help="workers of the local and Ray engines (default: cores)"
    )
    p.add_argument("--skip-batch", action="store_true", help="only the eval comparison")
    p.add_argument("--skip-eval", action="store_true")
    p.add_argument(
        "--home", type=Path, default=None, help="CARDIOAGENT_HOME (default: a fresh one, kb built first)"
    )
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    if not (args.data / "records500").is_dir():
        print(f"no PTB-XL records at {args.data}/records500", file=sys.stderr)
        return 2
    from cardioagent.agent.batch.engines import available_cores

    workers = args.workers or available_cores()
    work = Path(tempfile.mkdtemp(prefix="cardioagent-batch-bench-"))
    home = args.home or work / "home"
    env = {**os.environ, "CARDIOAGENT_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    try:
        result: dict = {
            "machine": {
                "cores": available_cores(),
                "platform": platform.platform(),
                "python": platform.python_version(),
            },
            "workers": workers,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "load_average_start": [round(x, 2) for x in os.getloadavg()],
        }
        if not args.skip_batch:
            batch = bench_batch(args.data, args.records, workers, work, env)
            speedups(batch)
            n = args.records or "all"
            result["batch"] = {
                "input": f"{args.data.name}/records500 ({n} records)",
                "runs": batch,
                "acceptance": verdict(batch),
            }
            print(table("batch (records)", batch, "rec"))
        if not args.skip_eval:
            kb = run_command(["kb", "build"], env, timeout=1800)  # once, before timing: a shared store
            result["kb_build_s"] = kb["wall_s"]
            ev = bench_eval(args.data, args.questions, workers, work, env)
            speedups(ev)
            result["eval"] = {
                "input": f"first {args.questions} questions of ecgqa_format_sample/"
                "ptbxl_1_250_template.json, --no-llm",
                "runs": ev,
                "acceptance": verdict(ev),
            }
            print(table("eval (questions)", ev, "q"))
        result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
