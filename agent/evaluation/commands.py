"""``cardioagent eval`` and ``cardioagent bench build|compare`` (registered by ``agent/commands.py``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cardioagent.tools.cli_help import add_llm_summary_options

if TYPE_CHECKING:  # the evaluation modules are imported by the command that runs
    from cardioagent.agent.evaluation.benchmark import Benchmark
    from cardioagent.agent.evaluation.runner import RunConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate the agent on an ECG-QA-format benchmark (resumable)",
        description="Ask every question of BENCH.json through Assistant.ask, score the answers "
        "as ECG-QA does (exact match of the answer set) and write trace.jsonl, report.json and "
        "report.md to --out. A rerun skips the questions already in the trace.",
    )
    p.add_argument("benchmark", type=Path, help="benchmark JSON (ECG-QA list of items, or {'items': [...]})")
    p.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="PTB-XL folder (records500/records100) for items given by ecg_id; also tried for 'files'",
    )
    p.add_argument(
        "--answers-csv",
        type=Path,
        default=None,
        help="ECG-QA answers_for_each_template.csv (default: found beside or above the benchmark)",
    )
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="only N items: a sample stratified by question type (seeded by --seed), or with --first "
        "the first N",
    )
    p.add_argument("--first", action="store_true", help="with --limit: the first N items, in benchmark order")
    p.add_argument("--seed", type=int, default=0, help="seed of the --limit sample")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="score the questions whose recordings are found and count the others (default: missing "
        "recordings are an error, before anything runs)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="questions asked in parallel: threads (--engine thread; default 1), processes or Ray "
        "actors (default: the cores here, or the cluster's CPUs)",
    )
    p.add_argument(
        "--engine",
        choices=["thread", "local", "ray"],
        default="thread",
        help="thread: threads sharing one Assistant (default); local: a process pool, one Assistant "
        "per process; ray: Ray actors, one Assistant each (docs/scale.md)",
    )
    p.add_argument(
        "--address", default=None, help="--engine ray: the cluster to join ('auto'); default: a local one"
    )
    p.add_argument(
        "--backend",
        default=None,
        help="embedded | hf:/path | openai:URL#model (default: $CARDIOAGENT_BACKEND or embedded)",
    )
    p.add_argument("--out", type=Path, default=None, help="output folder (default: eval_<benchmark name>)")
    p.add_argument(
        "--keep-memory",
        action="store_true",
        help="ask every question in one conversation thread (default: a fresh thread per question); runs one worker",
    )
    p.add_argument(
        "--shard",
        type=_shard,
        default=None,
        metavar="K/N",
        help="only the items whose id hashes to K modulo N (0 <= K < N), for runs split over processes",
    )
    p.add_argument(
        "--keep-threads",
        action="store_true",
        help="keep the run's conversations, figures and uploads in OUT/agent (default: a temporary folder)",
    )
    p.add_argument(
        "--retry-errors", action="store_true", help="ask again the questions that ended in an error"
    )
    p.add_argument(
        "--range-profile",
        default="clinical",
        help="normal ranges for range and comparison questions: 'clinical' (published; default) or a "
        "benchmark's estimated convention, e.g. 'ecgqa' (see bench/ecgqa_ranges.py)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_llm_summary_options(p)
    p.set_defaults(func=_eval)

    bench = sub.add_parser("bench", help="benchmarks for the agent: build one, compare runs")
    bsub = bench.add_subparsers(dest="bench_command", metavar="ACTION", required=True)
    b = bsub.add_parser("build", help="build an ECG-QA-style benchmark from labelled WFDB records")
    b.add_argument(
        "--records",
        type=Path,
        action="append",
        required=True,
        help="a folder of WFDB records (repeat for several folders)",
    )
    b.add_argument("--out", type=Path, required=True, help="the benchmark JSON to write")
    b.add_argument("--seed", type=int, default=0, help="seed of the question sampling")
    b.set_defaults(func=_build)
    c = bsub.add_parser("compare", help="side-by-side accuracy of evaluation runs (their report.json)")
    c.add_argument("runs", type=Path, nargs="+", help="output folders of 'cardioagent eval'")
    c.add_argument("--label", action="append", default=[], help="a name per run, in order")
    c.add_argument("--out", type=Path, default=None, help="write the Markdown table here too")
    c.set_defaults(func=_compare)


def _eval(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from cardioagent.agent.api import Assistant
    from cardioagent.agent.evaluation.benchmark import load_benchmark
    from cardioagent.agent.evaluation.report import command_line, write_report
    from cardioagent.agent.evaluation.runner import RunConfig, run_benchmark, select
    from cardioagent.agent.evaluation.settings import EvalSettings

    bench = load_benchmark(args.benchmark, args.answers_csv)
    out = args.out or Path(f"eval_{bench.name}")
    out.mkdir(parents=True, exist_ok=True)
    run_dir = out / "agent" if args.keep_threads else Path(tempfile.mkdtemp(prefix="cardioagent-eval-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    if args.keep_memory and args.engine != "thread":
        from cardioagent.tools.errors import InputError

        raise InputError(
            "--keep-memory",
            "one conversation for all questions lives in one process",
            "--engine thread with --keep-memory",
        )
    if args.keep_memory and (args.workers or 1) > 1:
        print("note: --keep-memory asks in one thread, so with one worker", file=sys.stderr)
    config = RunConfig(
        workers=args.workers or 1,
        keep_memory=args.keep_memory,
        limit=args.limit,
        retry_errors=args.retry_errors,
        data_root=args.data_root,
        progress=not args.no_progress,
        shard=args.shard,
        first=args.first,
        seed=args.seed,
    )
    items = select(bench.items, args.limit, args.shard, first=args.first, seed=args.seed)
    _check_recordings(bench, config, out, args)
    assistant = None
    try:
        if args.engine != "thread":  # worker processes or Ray actors, one Assistant each (engines.py)
            from cardioagent.agent.evaluation.engines import run_eval_on_engine

            result, run = run_eval_on_engine(args, bench, out, run_dir, config)
        else:
            assistant = Assistant(
                args.backend,
                EvalSettings(llm_summary=args.llm_summary, run_dir=run_dir, range_profile=args.range_profile),
            )
            run = {
                "benchmark": str(args.benchmark),
                "benchmark_name": bench.name,
                "backend": assistant.backend.describe(),
                "llm_summary": bool(assistant.settings.llm_summary),
                "planner": assistant.settings.planner,
                "workers": 1 if args.keep_memory else config.workers,
                "keep_memory": args.keep_memory,
                "limit": args.limit,
                "shard": None if args.shard is None else "/".join(map(str, args.shard)),
                "command": command_line(),
                "engine": "thread",
            }
            from cardioagent.tools.progress import status

            with status("loading the models and the knowledge store (the first run builds it)"):
                assistant.warm_up()
            result = run_benchmark(bench, assistant, out, config)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; finished questions are in {out / 'trace.jsonl'}; run the same command to go on",
            file=sys.stderr,
        )
        return 130
    finally:
        if assistant is not None:
            assistant.close()
        if not args.keep_threads:
            shutil.rmtree(run_dir, ignore_errors=True)
    if args.limit:  # how the --limit items were chosen, for the report
        run["sample"] = "first N" if args.first else f"stratified by question type, seed {args.seed}"
    report = write_report(out, [it.key for it in items], run, result.missing)
    o, m = report["agent"]["overall"], report["majority_baseline"]["overall"]
    print(
        f"{result.asked} asked now, {result.already_done} already done, {len(result.missing)} missing recordings"
    )
    print(
        f"accuracy {_pct(o['accuracy'])} ({o['correct']}/{o['n']}; {o['unparseable']} unparseable, "
        f"{o['errors']} errors); majority answer {_pct(m['accuracy'])}"
    )
    print(f"wrote {out / 'trace.jsonl'}, {out / 'report.json'}, {out / 'report.md'}")
    return 0


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not K/N (e.g. 0/4)") from None
    if not 0 <= k < n:
        raise argparse.ArgumentTypeError(f"shard {text}: K must be in 0..N-1")
    return k, n


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def _build(args: argparse.Namespace) -> int:
    from cardioagent.agent.evaluation.build import build_benchmark

    bench = build_benchmark(args.records, args.out, seed=args.seed)
    print(f"{len(bench['items'])} questions from {bench['records']} records -> {args.out}")
    for k, v in sorted(bench["counts"].items()):
        print(f"  {k}: {v}")
    for line in bench["skipped"]:
        print(f"  skipped {line}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from cardioagent.agent.evaluation.compare import compare_runs
    from cardioagent.tools.errors import InputError

    reports = []
    for run in args.runs:
        path = run / "report.json"
        if not path.is_file():
            raise InputError(str(run), "has no report.json", "an output folder of 'cardioagent eval'")
        reports.append(json.loads(path.read_text()))
    labels = args.label + [str(r) for r in args.runs[len(args.label) :]]
    traces = [run / "trace.jsonl" for run in args.runs]
    text = compare_runs(
        reports,
        labels,
        traces if all(t.is_file() for t in traces) else None,
        warn=lambda note: print(note, file=sys.stderr),
    )
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


def _check_recordings(bench: Benchmark, config: RunConfig, out: Path, args: argparse.Namespace) -> None:
    """Missing recordings end the command before any model loads (a benchmark moved away from its data
    would otherwise "run" with nothing asked), unless --allow-missing."""
    from cardioagent.agent.evaluation.runner import TRACE, plan_items, read_trace
    from cardioagent.tools.errors import InputError

    items, _, missing = plan_items(bench, config, read_trace(out / TRACE))
    if not missing:
        return
    example = next(iter(missing.values()))
    if args.allow_missing:
        print(
            f"note: {len(missing)} of {len(items)} questions have no recording here and are not asked "
            f"(e.g. {example})",
            file=sys.stderr,
        )
        return
    raise InputError(
        str(args.benchmark),
        f"{len(missing)} of {len(items)} questions have no recording here (e.g. {example})",
        "--data-root pointing at the recordings (relative 'files' are read "
        "beside the benchmark), or --allow-missing to score only the questions that have them",
    )
