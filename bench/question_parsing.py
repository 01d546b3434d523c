"""Question understanding on phrasings the parser was not written on: type, targets, planner coverage; the
word rules with the deterministic planner beside the fine-tuned parser with the validator.

Two sources:
1. A phrasing generator over the clinical vocabulary: template families (verify a finding, a quantity in
   plain direction words, a range category, a value, a choice, a comparison of two recordings, an
   explanation, a plot, a noise question) x surface forms (names, abbreviations, lay words) x typos. The
   families are split before anything is tuned: TUNE_FAMILIES may be looked at, and the fine-tuned parser is
   trained on them (``cardioagent train parser``); REPORT_FAMILIES are only scored (leave-template-family-out;
   the fresh_ and fresh2_ families were written before the code or the model they test and scored once).
2. ECG-QA's own questions on PTB-XL (``../shared/data/ecgqa_format_sample``), template and paraphrased
   wording, split by PTB-XL strat_fold (1-8 tune, which the parser trains on; 9-10 report; mixed).

A question counts as parsed when its type is right and every expected target (vocabulary id, lead) is among
the parsed ones; the plan covers it when its tools include one that measures each target. ``_rules``
columns: the word rules and the deterministic planner alone (``CARDIOAGENT_PARSER=off``); ``_parser``: the
type from the fine-tuned parser where it is confident (the rules below ``MIN_PROBABILITY``, and allowed
answers or two recordings decide by definition), its tool calls completed by the validator. Latency: warm
p50 on this CPU.

    .venv/bin/python bench/question_parsing.py     # writes bench/results/question_parsing.json
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QA = ROOT.parent / "shared" / "data" / "ecgqa_format_sample"
PTBXL_DB = ROOT.parent / "shared" / "data" / "ptbxl_1_250" / "ptbxl_database.csv"
from cardioagent.agent.question_phrasings import (  # noqa: E402
    REPORT_FAMILIES,
    TUNE_FAMILIES,
    generate,
)


def ecgqa_items() -> list[dict]:
    from cardioagent.agent.question_phrasings import ecgqa_phrasings

    return [dict(it) for it in ecgqa_phrasings(QA, PTBXL_DB)]


def main() -> int:
    from cardioagent.agent.question import link_target, parse_question
    from cardioagent.agent.training.parser import score
    from cardioagent.models.parser.model import report, shipped_parser
    from cardioagent.tools.registry import default_registry
    from cardioagent.tools.vocabulary import vocabulary

    link_target("warm-up")  # builds the entry index once, as a running app has
    registry = default_registry()
    parser = shipped_parser()
    items = generate() + ecgqa_items()
    scored = score(parser, items, registry)  # type and tools: the word rules / planner, and the parser
    rows = defaultdict(lambda: defaultdict(int))
    latencies, misses = [], defaultdict(list)
    for it, sc in zip(items, scored, strict=True):
        t0 = time.perf_counter()
        with _parser_off():
            p = parse_question(it["question"], it.get("options") or [], it["n_recordings"])
        latencies.append(time.perf_counter() - t0)
        got = set(p.target_ids()) | {f"lead:{x.lower()}" for x in p.leads}
        want = set(it["targets"]) | {f"lead:{x.lower()}" for x in it["leads"]}
        ok_targets = want <= got
        covered = not it["n_recordings"] or all(
            _covers(t, set(sc["rules_tools"]), vocabulary()) for t in it["targets"]
        )
        split = it.get("split") or (
            "tune"
            if it["family"] in TUNE_FAMILIES
            else "report"
            if it["family"] in REPORT_FAMILIES
            else "other"
        )
        values = {
            "targets": ok_targets,
            "type_rules": sc["rules_type_ok"],
            "parsed_rules": sc["rules_type_ok"] and ok_targets,
            "covered_rules": covered,
        }
        if parser is not None:
            values |= {
                "type_parser": sc["hybrid_type_ok"],
                "parsed_parser": sc["hybrid_type_ok"] and ok_targets,
                # the same test as the rules' column: a tool that measures each target is in the plan
                "covered_parser": not it["n_recordings"]
                or all(_covers(t, set(sc["validated_tools"]), vocabulary()) for t in it["targets"]),
            }
        for key in ((split, it["family"]), (split, "all")):
            rows[key]["n"] += 1
            for k, v in values.items():
                rows[key][k] += bool(v)
        if not all(values.values()) and len(misses[it["family"]]) < 6:
            misses[it["family"]].append(
                {
                    "q": it["question"],
                    "want": [it["type"], sorted(want)],
                    "got_rules": [sc["rules_type"], sorted(got), sc["rules_tools"]],
                    "got_parser": [sc.get("model_type"), sc.get("model_p"), sc.get("model_tools")],
                }
            )
    columns = [
        "targets",
        "type_rules",
        "type_parser",
        "parsed_rules",
        "parsed_parser",
        "covered_rules",
        "covered_parser",
    ]
    columns = [c for c in columns if parser is not None or not c.endswith("_parser")]
    table = {
        f"{s}/{f}": {"n": r["n"], **{c: round(r[c] / r["n"], 3) for c in columns}}
        for (s, f), r in sorted(rows.items())
    }
    parser_latency = sorted(sc["seconds"] for sc in scored if "seconds" in sc)
    result = {
        "tune_families": TUNE_FAMILIES,
        "report_families": REPORT_FAMILIES,
        "parser": "fine-tuned (models/adapters/parser)"
        if parser is not None
        else "none ships: word rules only",
        "parser_training_report": {
            k: v for k, v in (report() or {}).items() if k not in ("log", "misses_report")
        },
        "table": table,
        "rules_latency_p50_s": round(statistics.median(latencies), 4),
        "parser_latency_p50_s": round(statistics.median(parser_latency), 3) if parser_latency else None,
        "parser_latency_p95_s": round(parser_latency[int(0.95 * len(parser_latency))], 3)
        if parser_latency
        else None,
        "examples_of_misses": misses,
        "command": "python bench/question_parsing.py",
    }
    out = ROOT / "bench" / "results" / "question_parsing.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"{'split/family':<30} {'n':>5} " + " ".join(f"{c:>14}" for c in columns))
    for key, r in table.items():
        print(f"{key:<30} {r['n']:>5} " + " ".join(f"{r[c]:>14}" for c in columns))
    print(
        f"word rules: p50 {result['rules_latency_p50_s']} s; parser: p50 {result['parser_latency_p50_s']} s, "
        f"p95 {result['parser_latency_p95_s']} s (warm, this CPU)"
    )
    print(
        "_rules: word rules + deterministic planner alone; _parser: the fine-tuned parser (rules below its "
        "threshold) + the validator. tune families are development figures (the parser trained on them); "
        "report families, fresh*/fresh2* and ECG-QA report/mixed (PTB-XL strat_fold 9-10) were never trained on"
    )
    return 0


def _last_training() -> dict:
    """The last `cardioagent train parser` report kept with the benchmarks (when no adapter ships)."""
    path = ROOT / "bench" / "results" / "parser_training.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@contextmanager
def _parser_off():
    import os

    before = os.environ.get("CARDIOAGENT_PARSER")
    os.environ["CARDIOAGENT_PARSER"] = "off"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CARDIOAGENT_PARSER", None)
        else:
            os.environ["CARDIOAGENT_PARSER"] = before


def _covers(target: str, tools: set[str], voc) -> bool:
    from cardioagent.agent.planner import FINDING_TOOL

    if target in voc.quantities:
        return bool(set(voc.quantity(target).tools) & tools) or not voc.quantity(target).tools
    term = voc.terms[target]
    if term.kind == "noise":
        return "signal_quality" in tools
    return FINDING_TOOL.get(term.category, "ecg_intervals") in tools


if __name__ == "__main__":
    sys.exit(main())
