"""Question understanding on phrasings the parser was not written on: type, targets, planner coverage.

Two sources:
1. A phrasing generator over the clinical vocabulary: template families (verify a finding, a quantity in
   plain direction words, a range category, a value, a choice, a comparison of two recordings, an
   explanation, a plot, a noise question) x surface forms (names, abbreviations, lay words) x typos. The
   families are split before anything is tuned: TUNE_FAMILIES may be looked at while writing the parser and
   choosing ``agent.question.LINK_THRESHOLD``; REPORT_FAMILIES are only scored (leave-template-family-out).
2. ECG-QA's own questions on PTB-XL (``../shared/data/ecgqa_format_sample``), template and paraphrased
   wording, with the type and targets their template implies.

A question counts as parsed when its type is right and every expected target (vocabulary id, lead) is among
the parsed ones; the plan covers it when the deterministic planner's tools include one that measures each
target. Latency is the parser's warm p50 on this CPU.

    .venv/bin/python bench/question_parsing.py     # writes bench/results/question_parsing.json
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QA = ROOT.parent / "shared" / "data" / "ecgqa_format_sample"
from cardioagent.agent.question_phrasings import (  # noqa: E402
    LEADS,
    REPORT_FAMILIES,
    TUNE_FAMILIES,
    generate,
)


def ecgqa_items() -> list[dict]:
    from cardioagent.tools.vocabulary import vocabulary

    out = []
    for phrasing in ("template", "paraphrased"):
        path = QA / f"ptbxl_1_250_{phrasing}.json"
        if not path.is_file():
            continue
        for it in json.loads(path.read_text()):
            exp = {
                "family": f"ecgqa_{phrasing}",
                "question": it["question"],
                "n_recordings": len(it["ecg_id"]),
                "leads": [],
                "targets": [],
            }
            if it["attribute_type"] == "noise":
                exp["type"] = "verify"
                exp["options"] = ["yes", "no"]
                attr = (it["attribute"] or [""])[0]
                if attr != "any kind of noises":
                    exp["targets"] = [vocabulary().from_ecgqa(attr).id]
                if it["template_id"] != 27:
                    exp["leads"] = [
                        w
                        for w in LEADS + ["I", "V2", "V3", "V4", "V6", "aVR"]
                        if f"lead {w} " in it["question"] + " " or f"lead {w}?" in it["question"]
                    ][:1]
            else:
                exp["type"] = "compare"
                exp["options"] = [
                    "none",
                    "p duration",
                    "pr interval",
                    "qrs duration",
                    "qt corrected",
                    "qt interval",
                    "rr interval",
                ]
            out.append(exp)
    return out


def main() -> int:
    if "--train" in sys.argv:  # the same as `cardioagent train parser`
        from cardioagent.agent.training.question_type import train

        print(json.dumps(train(generate(), TUNE_FAMILIES), indent=2))
    from cardioagent.agent.planner import RecordingRef, plan
    from cardioagent.agent.question import link_target, parse_question
    from cardioagent.tools.registry import default_registry
    from cardioagent.tools.vocabulary import vocabulary

    link_target("warm-up")  # builds the entry index once, as a running app has
    registry = default_registry()
    items = generate() + ecgqa_items()
    rows = defaultdict(lambda: {"n": 0, "type": 0, "targets": 0, "parsed": 0, "covered": 0})
    latencies, misses = [], defaultdict(list)
    for it in items:
        t0 = time.perf_counter()
        p = parse_question(it["question"], it.get("options") or [], it["n_recordings"])
        latencies.append(time.perf_counter() - t0)
        got = set(p.target_ids()) | {f"lead:{x.lower()}" for x in p.leads}
        want = set(it["targets"]) | {f"lead:{x.lower()}" for x in it["leads"]}
        ok_type = p.type == it["type"]
        ok_targets = want <= got
        refs = [
            RecordingRef(id=f"r{i}", name=f"r{i}", modality="ecg") for i in range(max(1, it["n_recordings"]))
        ]
        tools = {c.tool for c in plan(it["question"], refs, registry)} if it["n_recordings"] else set()
        covered = not it["n_recordings"] or all(_covers(t, tools, vocabulary()) for t in it["targets"])
        split = (
            "tune"
            if it["family"] in TUNE_FAMILIES
            else "report"
            if it["family"] in REPORT_FAMILIES
            else it["family"]
        )
        for key in ((split, it["family"]), (split, "all")):
            r = rows[key]
            r["n"] += 1
            r["type"] += ok_type
            r["targets"] += ok_targets
            r["parsed"] += ok_type and ok_targets
            r["covered"] += covered
        if not (ok_type and ok_targets and covered) and len(misses[it["family"]]) < 6:
            misses[it["family"]].append(
                {
                    "q": it["question"],
                    "want": [it["type"], sorted(want)],
                    "got": [p.type, sorted(got)],
                    "tools": sorted(tools),
                }
            )
    table = {
        f"{s}/{f}": {
            **r,
            **{k + "_rate": round(r[k] / r["n"], 3) for k in ("type", "targets", "parsed", "covered")},
        }
        for (s, f), r in sorted(rows.items())
    }
    result = {
        "tune_families": TUNE_FAMILIES,
        "report_families": REPORT_FAMILIES,
        "table": table,
        "parser_latency_p50_s": round(statistics.median(latencies), 4),
        "parser_latency_p95_s": round(sorted(latencies)[int(0.95 * len(latencies))], 4),
        "examples_of_misses": misses,
        "command": "python bench/question_parsing.py",
    }
    out = ROOT / "bench" / "results" / "question_parsing.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"{'split/family':<30} {'n':>5} {'type':>6} {'targets':>8} {'parsed':>7} {'covered':>8}")
    for key, r in table.items():
        print(
            f"{key:<30} {r['n']:>5} {r['type_rate']:>6} {r['targets_rate']:>8} {r['parsed_rate']:>7} "
            f"{r['covered_rate']:>8}"
        )
    print(
        f"parser latency p50 {result['parser_latency_p50_s']} s, p95 {result['parser_latency_p95_s']} s (warm)"
    )
    print("tune families are development figures; report families and ECG-QA's wording were not written on")
    return 0


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
