"""Real ECG-QA questions on real PTB-XL records: exact match per question type, tuned vs reporting split.

The items are ECG-QA v1.0.2's own questions whose ECGs are in ``../shared/data/ptbxl_1_250`` (noise verify,
templates 26-28; two-ECG comparison queries on numeric features, templates 68-70), in ECG-QA's template
wording and in its paraphrases of the same items. They are asked through ``Assistant.ask`` (the public API
the UI and ``cardioagent eval`` use) with the embedded model's default planning (the fine-tuned question
parser when one ships; ``--planner rules``: the word rules and deterministic planner alone, side by side),
and scored as ECG-QA scores (exact match of the answer set).

Split (declared before tuning, PTB-XL's own ``strat_fold``): an item belongs to the *tune* split when every
ECG it names is in folds 1-8, to the *reporting* split when every ECG is in folds 9-10, else to *mixed*
(comparison items across the boundary). Only the reporting split is a generalization figure; tune and mixed
are development figures. The majority baseline answers each template with its most frequent answer among
the tune items (so it is not fitted on what it is scored on).

    .venv/bin/python bench/ecgqa_ptbxl.py                 # both phrasings, all items
    .venv/bin/python bench/ecgqa_ptbxl.py --limit 40      # a quick look

Writes bench/results/ecgqa_ptbxl.json and prints the table. Resumable: each phrasing's trace.jsonl lives
under --work (default bench/results/ecgqa_ptbxl_runs) and a rerun asks only the missing items.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PTBXL = SHARED / "ptbxl_1_250"
QA = SHARED / "ecgqa_format_sample"


def folds() -> dict[int, int]:
    with open(PTBXL / "ptbxl_database.csv", newline="") as fh:
        return {int(r["ecg_id"]): int(r["strat_fold"]) for r in csv.DictReader(fh)}


def split_of(ecg_ids: list[int], fold: dict[int, int]) -> str:
    from cardioagent.agent.question_phrasings import fold_split

    return fold_split([fold[int(e)] for e in ecg_ids])


def kind_of(item: dict) -> str:
    return "noise verify" if item["attribute_type"] == "noise" else "comparison query"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="only the first N items of each phrasing")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--splits",
        default="tune,report,mixed",
        help="comma-separated splits to ask (default all); the table covers what was asked",
    )
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "ecgqa_ptbxl_runs")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ecgqa_ptbxl.json")
    ap.add_argument(
        "--planner",
        choices=("auto", "rules"),
        default="auto",
        help="auto: the embedded model's default (the fine-tuned parser when one ships); rules: the word rules "
        "and the deterministic planner alone (CARDIOAGENT_PARSER=off), for the side-by-side figure",
    )
    args = ap.parse_args()
    if args.planner == "rules":
        import os

        os.environ["CARDIOAGENT_PARSER"] = "off"
        args.work = args.work.with_name(args.work.name + "_rules")
        args.out = args.out.with_name(args.out.stem + "_rules.json")
    if not (PTBXL / "ptbxl_database.csv").is_file():
        print(f"needs {PTBXL} (the shared data); nothing to do", file=sys.stderr)
        return 0

    from cardioagent.agent.api import Assistant
    from cardioagent.agent.evaluation.benchmark import load_benchmark
    from cardioagent.agent.evaluation.runner import RunConfig, read_trace, run_benchmark
    from cardioagent.agent.evaluation.settings import EvalSettings

    fold = folds()
    assistant = Assistant(
        None, EvalSettings(llm_summary=False, run_dir=args.work / "agent", planner=args.planner)
    )
    results: dict = {
        "split": {
            "tune": "PTB-XL strat_fold 1-8",
            "report": "strat_fold 9-10",
            "mixed": "comparison items across the two",
        },
        "phrasings": {},
    }
    rows_by_phrasing = {}
    for phrasing in ("template", "paraphrased"):
        path = QA / f"ptbxl_1_250_{phrasing}.json"
        bench = load_benchmark(path)
        wanted = set(args.splits.split(","))
        bench.items = [it for it in bench.items if split_of([int(e) for e in it.ecg_id], fold) in wanted]
        run_benchmark(
            bench,
            assistant,
            args.work / phrasing,
            RunConfig(workers=args.workers, limit=args.limit, data_root=PTBXL, progress=True),
        )
        trace = read_trace(args.work / phrasing / "trace.jsonl")
        raw = {str(it["sample_id"]): it for it in json.loads(path.read_text())}
        rows_by_phrasing[phrasing] = [(raw[k], row) for k, row in trace.items() if k in raw]
    every = json.loads((QA / "ptbxl_1_250_template.json").read_text())
    majority = _majority([it for it in every if split_of(it["ecg_id"], fold) == "tune"])
    for phrasing, rows in rows_by_phrasing.items():
        table: dict = defaultdict(lambda: {"n": 0, "correct": 0, "majority": 0, "unparseable": 0})
        for item, row in rows:
            for key in (
                (split_of(item["ecg_id"], fold), kind_of(item)),
                (split_of(item["ecg_id"], fold), "all"),
            ):
                cell = table[key]
                cell["n"] += 1
                cell["correct"] += bool(row["correct"])
                cell["unparseable"] += row.get("status") == "unparseable"
                gold = frozenset(a.lower() for a in item["answer"]) or frozenset({"none"})
                cell["majority"] += majority.get(item["template_id"]) == gold
        results["phrasings"][phrasing] = {
            f"{s}/{k}": {
                **c,
                "exact_match": round(c["correct"] / c["n"], 3) if c["n"] else None,
                "majority_baseline": round(c["majority"] / c["n"], 3) if c["n"] else None,
            }
            for (s, k), c in sorted(table.items())
        }
    results["command"] = (
        "python bench/ecgqa_ptbxl.py"
        + (f" --limit {args.limit}" if args.limit else "")
        + (f" --splits {args.splits}" if args.splits != "tune,report,mixed" else "")
        + (f" --planner {args.planner}" if args.planner != "auto" else "")
    )
    results["planner"] = args.planner
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    _print(results)
    return 0


def _majority(items: list[dict]) -> dict:
    by_template: dict = defaultdict(Counter)
    for it in items:
        by_template[it["template_id"]][frozenset(a.lower() for a in it["answer"]) or frozenset({"none"})] += 1
    return {t: c.most_common(1)[0][0] for t, c in by_template.items()}


def _print(results: dict) -> None:
    print(f"{'phrasing':<12} {'split/type':<26} {'n':>4} {'exact':>6} {'majority':>9} {'unparse':>8}")
    for phrasing, table in results["phrasings"].items():
        for key, c in table.items():
            print(
                f"{phrasing:<12} {key:<26} {c['n']:>4} {c['exact_match']!s:>6} {c['majority_baseline']!s:>9} "
                f"{c['unparseable']:>8}"
            )
    print("tune and mixed are development figures; report (strat_fold 9-10) is the generalization figure")


if __name__ == "__main__":
    sys.exit(main())
