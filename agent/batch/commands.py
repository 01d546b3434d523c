"""``cardioagent batch``: analyse a folder, glob or manifest of recordings into Parquet (resumable)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "batch",
        help="analyse many recordings (folder, glob or manifest) into Parquet; resumable; local or Ray",
        description="Run the classical analyses of 'cardioagent analyze' on every recording of folders, globs "
        "or a manifest, one Parquet row per recording (measurements, interpretation statements, quality "
        "flags, device statements, or the error), written as records finish. A rerun with the same --out "
        "skips the finished records. See docs/scale.md.",
    )
    p.add_argument(
        "inputs", nargs="*", help="folders (walked recursively), quoted globs ('data/**/*.hea') or files"
    )
    p.add_argument(
        "--manifest",
        type=Path,
        default=None,
        help="CSV or Parquet listing recordings, one per row; other columns are kept as metadata",
    )
    p.add_argument(
        "--path-column",
        default=None,
        help="manifest column with the file paths (default: path, file, filename or filename_hr)",
    )
    p.add_argument("--id-column", default=None, help="manifest column with a record id (default: the path)")
    p.add_argument(
        "--meta-columns", default=None, help="comma-separated manifest columns to keep (default: all)"
    )
    p.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="folder the manifest's relative paths start from (default: the manifest's folder)",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="output folder (parts/, results.parquet, summary.json)"
    )
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: a process pool on this machine (default); ray: actors on a Ray cluster",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes / Ray actors (default: the cores here; on a cluster, its CPUs)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="Ray cluster to join ('auto' or ray://host:10001); default: start a local one",
    )
    p.add_argument("--fs", type=float, default=None, help="sampling rate in Hz for files that state none")
    p.add_argument(
        "--max-mb", type=float, default=None, help="largest file read, in MB (default: the loader's limit)"
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N recordings found")
    p.add_argument(
        "--flush-every", type=int, default=16, help="rows per Parquet part (a kill loses at most these)"
    )
    p.add_argument(
        "--retry-errors", action="store_true", help="analyse again the records that ended in an error"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_batch)


def _batch(args: argparse.Namespace) -> int:
    from cardioagent.agent.batch import sources
    from cardioagent.agent.batch.engines import make_engine
    from cardioagent.agent.batch.record import BatchAnalyzer
    from cardioagent.agent.batch.runner import run_batch
    from cardioagent.agent.batch.summary import format_summary, summarize
    from cardioagent.tools.errors import InputError

    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", f"{args.workers} workers", "a positive number")
    if args.manifest is not None:
        if args.inputs:
            raise InputError("batch", "both a manifest and input paths were given", "one or the other")
        meta = [c.strip() for c in args.meta_columns.split(",") if c.strip()] if args.meta_columns else None
        found = sources.from_manifest(
            args.manifest,
            path_column=args.path_column,
            id_column=args.id_column,
            meta_columns=meta,
            data_root=args.data_root,
            sampling_rate_hz=args.fs,
        )
    elif args.inputs:
        found = sources.from_inputs(args.inputs, sampling_rate_hz=args.fs)
    else:
        raise InputError("batch", "nothing to analyse", "folders, globs or files, or --manifest FILE")
    tasks = found.tasks[: args.limit] if args.limit else found.tasks
    args.out.mkdir(parents=True, exist_ok=True)
    if found.skipped:
        (args.out / "skipped.txt").write_text("".join(line + "\n" for line in found.skipped))
        more = f"; ... (all in {args.out / 'skipped.txt'})" if len(found.skipped) > 3 else ""
        shown = "; ".join(found.skipped[:3]) + more
        print(
            f"note: {len(found.skipped)} file(s) are not recordings and were skipped: {shown}",
            file=sys.stderr,
        )
    if not tasks:
        raise InputError(
            "batch", "no recordings found in the inputs", "WFDB .hea, EDF, CSV, NumPy, image or zip files"
        )
    max_bytes = int(args.max_mb * 1024**2) if args.max_mb else None
    with make_engine(args.engine, args.workers, args.address) as engine:
        try:
            result = run_batch(
                tasks,
                args.out,
                engine,
                analyzer=BatchAnalyzer(max_bytes),
                flush_rows=args.flush_every,
                retry_errors=args.retry_errors,
                progress=not args.no_progress,
            )
        except KeyboardInterrupt:
            print(
                f"\ninterrupted; finished records are in {args.out / 'parts'}; run the same command to go on",
                file=sys.stderr,
            )
            return 130
        described = engine.describe()
    summary = summarize(result.results)
    (args.out / "summary.json").write_text(
        json.dumps(
            {"run": {**result.model_dump(mode="json"), "engine": described}, **summary.model_dump()}, indent=1
        )
    )
    if args.json:
        print(json.dumps(summary.model_dump(), indent=1))
    else:
        print(
            f"{result.processed} processed now ({described}, {result.seconds:.1f} s), "
            f"{result.already_done} already done -> {result.results}"
        )
        print(format_summary(summary))
    return 0
