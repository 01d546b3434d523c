"""ECG-QA-format closed questions built from PTB-XL's own labels, one benchmark per split:

    .venv/bin/python bench/ptbxl_statements_qa.py [--ptbxl ../shared/data/ptbxl_1_250] [--seed 0]
    .venv/bin/python bench/ptbxl_statements_qa.py --summary bench/results/eval_ptbxl_statements_tune \
        bench/results/eval_ptbxl_statements_report    # the table, also written to ..._summary.md
    .venv/bin/python bench/ptbxl_statements_qa.py --summary "tune before=RUN" "tune after=RUN" \
        "held out before=RUN" "held out after=RUN"    # any runs, each named

writes ``bench/ptbxl_statements_qa_tune.json`` (``strat_fold`` 1-8) and ``bench/ptbxl_statements_qa_report.json``
(folds 9-10), in the format ``cardioagent bench build`` writes (items with ``files`` and ``options``), to be run
with ``cardioagent eval BENCH --data-root ../shared/data --no-llm``. Labels come from ``ptbxl_database.csv`` and
``scp_statements.csv`` only, never from this project's tools.

Label rule: a diagnostic SCP statement counts when its likelihood is >= 50 (as PTB-XL benchmarks do); rhythm and
form-only statements carry no likelihood in PTB-XL (listed with 0) and count when listed.

Questions (template ids from 201 are this script's; option words are ECG-QA's answer names where it has one):

| id | type / attribute | question | allowed answers | gold |
|---|---|---|---|---|
| 201-217 | verify / family | Does this ECG show {label}? | yes, no, not sure | SCP codes of ``FAMILIES`` |
| 220 | query / rhythm | What rhythm does this ECG show? | ``RHYTHMS``, none | rhythm codes listed |
| 221 | query / superclass | Which diagnostic class does this ECG belong to? | ``SUPERCLASSES`` | classes |
| 222 | query / heart_axis | What is the heart axis of this ECG? | ``AXES`` | ``heart_axis``, AHA terms |
| 223 | query / extra_systole | Which extra systoles does this ECG show? | ``EXTRA_BEATS``, none | ``extra_beats`` |

("classes": the diagnostic classes of the record's diagnostic codes.)

Verify questions: every record of the split with the family's label ("yes") and as many without it ("no"; at
least 2), drawn by a seeded generator. Rhythm query: records with a rhythm code among ``RHYTHMS``. Superclass
query: records with a diagnostic code >= 50. Axis query: records with a ``heart_axis``; PTB-XL's codes are the
German position types, mapped to the AHA/ACCF/HRS 2009 limits (normal -30° to +90°): ALAD (überdrehter
Linkstyp, < -30°) is left axis deviation, RAD (Rechtstyp, > +90°) and ARAD right axis deviation, MID, LAD
(Linkstyp, -30° to +30°), AXL and AXR (Steiltyp) normal; SAG is not asked. Extra systoles: every record with an
``extra_beats`` entry (1ES: extrasystoles of unstated origin, VES, SVES) and as many without ("none").
PTB-XL headers carry no age or sex, so the agent judges sex-dependent criteria (Cornell voltage, V2-V3 ST
elevation) without them.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PTBXL = REPO.parent / "shared" / "data" / "ptbxl_1_250"
TUNE_FOLDS = set(range(1, 9))
YN = ["yes", "no", "not sure"]

# (template id, attribute type, label words in the question, SCP codes that make the record positive);
# codes as in bench/ptbxl_statements.py (territories take the infarction codes that include them)
FAMILIES: list[tuple[int, str, str, set[str]]] = [
    (201, "conduction", "complete right bundle branch block", {"CRBBB"}),
    (202, "conduction", "incomplete right bundle branch block", {"IRBBB"}),
    (203, "conduction", "complete left bundle branch block", {"CLBBB"}),
    (204, "conduction", "first degree av block", {"1AVB"}),
    (205, "conduction", "left anterior fascicular block", {"LAFB"}),
    (206, "conduction", "non-specific intraventricular conduction disturbance (block)", {"IVCD"}),
    (207, "hypertrophy", "left ventricular hypertrophy", {"LVH"}),
    (208, "voltage", "low qrs voltages in the frontal and horizontal leads", {"LVOLT"}),
    (209, "infarction", "myocardial infarction in inferior leads", {"IMI", "ILMI", "IPMI", "IPLMI"}),
    (210, "infarction", "myocardial infarction in anteroseptal leads", {"ASMI", "AMI", "ALMI"}),
    (211, "infarction", "myocardial infarction in lateral leads", {"LMI", "ALMI", "ILMI", "IPLMI"}),
    (212, "st_t", "non-specific st elevation", {"STE_"}),
    (213, "st_t", "non-specific st depression", {"STD_"}),
    (214, "st_t", "inverted t-waves", {"INVT"}),
    (215, "st_t", "non-specific st changes", {"NST_", "NDT"}),
    (216, "intervals", "long qt-interval", {"LNGQT"}),
    (217, "extra_systole", "ventricular premature complex", {"PVC", "BIGU", "TRIGU"}),
]
RHYTHMS = {  # SCP rhythm code -> ECG-QA answer
    "SR": "sinus rhythm",
    "SBRAD": "sinus bradycardia",
    "STACH": "sinus tachycardia",
    "SARRH": "sinus arrhythmia",
    "AFIB": "atrial fibrillation",
    "AFLT": "atrial flutter",
}
SUPERCLASSES = {  # PTB-XL diagnostic class -> answer (ECG-QA's words; NORM named, not "none")
    "NORM": "normal ecg",
    "MI": "myocardial infarction",
    "STTC": "st/t change",
    "CD": "conduction disturbance",
    "HYP": "hypertrophy",
}
AXES = {  # PTB-XL heart_axis -> answer (AHA limits, see the docstring)
    "ALAD": "left axis deviation",
    "RAD": "right axis deviation",
    "ARAD": "right axis deviation",
    "MID": "normal heart axis",
    "LAD": "normal heart axis",
    "AXL": "normal heart axis",
    "AXR": "normal heart axis",
}
EXTRA_BEATS = {  # PTB-XL extra_beats kind -> ECG-QA answer
    "ES": "extrasystoles",
    "VES": "ventricular extrasystoles",
    "SVES": "supraventricular extrasystoles",
}
QUERIES = {
    "rhythm": (220, "What rhythm does this ECG show?"),
    "superclass": (221, "Which diagnostic class does this ECG belong to?"),
    "heart_axis": (222, "What is the heart axis of this ECG?"),
    "extra_systole": (223, "Which extra systoles does this ECG show?"),
}


def _rng(seed: int, *parts: str) -> random.Random:
    digest = hashlib.sha256(":".join([str(seed), *parts]).encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def load(ptbxl: Path) -> list[dict[str, Any]]:
    """The records of the folder with their labels: codes counted by the label rule, axis, extra beats."""
    with (ptbxl / "scp_statements.csv").open(newline="") as fh:
        scp = {r[""]: r for r in csv.DictReader(fh)}
    out = []
    with (ptbxl / "ptbxl_database.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            hea = ptbxl / f"{r['filename_hr']}.hea"
            if not hea.is_file():
                continue
            likelihood = {k: float(v) for k, v in ast.literal_eval(r["scp_codes"]).items()}
            diagnostic = {k for k in likelihood if (scp.get(k) or {}).get("diagnostic") == "1.0"}
            codes = {k for k, v in likelihood.items() if v >= 50 or (k not in diagnostic and v == 0)}
            beats = "".join(ch for ch in r["extra_beats"].strip() if not ch.isdigit())
            out.append(
                {
                    "ecg_id": int(r["ecg_id"]),
                    "fold": int(r["strat_fold"]),
                    "files": [f"ptbxl_1_250/{r['filename_hr']}.{ext}" for ext in ("hea", "dat")],
                    "codes": codes,
                    "classes": {scp[k]["diagnostic_class"] for k in codes & diagnostic},
                    "axis": AXES.get(r["heart_axis"].strip()),
                    "extra": EXTRA_BEATS.get(beats) if beats else "none",
                }
            )
    return out


def _item(
    rec: dict[str, Any], tid: int, qtype: str, attr: str, question: str, options: list[str], answer: list[str]
) -> dict[str, Any]:
    return {
        "template_id": tid,
        "question_id": None,
        "sample_id": None,
        "question_type": qtype,
        "attribute_type": attr,
        "question": question,
        "answer": answer,
        "ecg_id": [rec["ecg_id"]],
        "attribute": None,
        "options": options,
        "files": rec["files"],
    }


def _balanced(records: list[dict], positive, seed: int, key: str) -> tuple[list[dict], list[dict]]:
    yes = [r for r in records if positive(r)]
    no = sorted(
        (r for r in records if not positive(r)), key=lambda r: _rng(seed, key, str(r["ecg_id"])).random()
    )
    return yes, no[: max(len(yes), 2)]


def questions(records: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    items = []
    for tid, attr, label, codes in FAMILIES:
        yes, no = _balanced(records, lambda r, c=codes: bool(r["codes"] & c), seed, label)
        q = f"Does this ECG show {label}?"
        items += [_item(r, tid, "single-verify", attr, q, YN, ["yes"]) for r in yes]
        items += [_item(r, tid, "single-verify", attr, q, YN, ["no"]) for r in no]
    tid, q = QUERIES["rhythm"]
    for r in records:
        if gold := sorted(RHYTHMS[c] for c in r["codes"] if c in RHYTHMS):
            items.append(_item(r, tid, "single-query", "rhythm", q, [*RHYTHMS.values(), "none"], gold))
    tid, q = QUERIES["superclass"]
    for r in records:
        if r["classes"]:
            gold = sorted(SUPERCLASSES[c] for c in r["classes"])
            items.append(_item(r, tid, "single-query", "superclass", q, list(SUPERCLASSES.values()), gold))
    tid, q = QUERIES["heart_axis"]
    axis_options = sorted(set(AXES.values()))
    items += [
        _item(r, tid, "single-query", "heart_axis", q, axis_options, [r["axis"]])
        for r in records
        if r["axis"]
    ]
    tid, q = QUERIES["extra_systole"]
    yes, no = _balanced(records, lambda r: r["extra"] != "none", seed, "extra")
    extra_options = [*EXTRA_BEATS.values(), "none"]
    items += [
        _item(r, tid, "single-query", "extra_systole", q, extra_options, [r["extra"]]) for r in yes + no
    ]
    items.sort(key=lambda it: _rng(seed, "order", str(it["ecg_id"][0]), it["question"]).random())
    question_ids: dict[str, int] = {}
    for i, it in enumerate(items):
        it["sample_id"] = i
        it["question_id"] = question_ids.setdefault(it["question"], len(question_ids))
    return items


def _group(template_id: int) -> str:
    family = next((attr for t, attr, _, _ in FAMILIES if t == template_id), None)
    if family is not None:
        return f"verify / {family}"
    return next(f"query / {name}" for name, (t, _) in QUERIES.items() if t == template_id)


def summary(runs: dict[str, Path], out: Path) -> str:
    """Exact match per question group, tune vs report, beside the majority answer (per template, counted on
    the scored items, as ``cardioagent eval`` reports it), from the runs' ``report.json``."""
    table: dict[str, dict[str, tuple[int, int, int]]] = {}
    for split, run in runs.items():
        report = json.loads((run / "report.json").read_text())
        agent, major = report["agent"]["by_template_id"], report["majority_baseline"]["by_template_id"]
        for tid, a in agent.items():
            for key in (_group(int(tid)), "overall"):
                n, c, m = table.setdefault(key, {}).get(split, (0, 0, 0))
                table[key][split] = (n + a["n"], c + a["correct"], m + major[tid]["correct"])
    lines = [
        "| question group | " + " | ".join(f"{s}: n, exact match, majority" for s in runs) + " |",
        "|---|" + "---|" * len(runs),
    ]
    for key in sorted(table, key=lambda k: (k == "overall", k)):
        cells = []
        for split in runs:
            n, c, m = table[key].get(split, (0, 0, 0))
            cells.append(f"{n}, {c / n:.3f}, {m / n:.3f}" if n else "0, -, -")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ptbxl", type=Path, default=PTBXL)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", type=Path, default=REPO / "bench")
    ap.add_argument(
        "--summary",
        nargs="+",
        metavar="[LABEL=]RUN",
        help="instead of building: the table of `cardioagent eval` runs (their --out folders); unnamed runs "
        "are 'tune' and 'held out' in that order",
    )
    args = ap.parse_args(argv)
    if args.summary:
        out = REPO / "bench" / "results" / "eval_ptbxl_statements_summary.md"
        runs: dict[str, Path] = {}
        for i, arg in enumerate(args.summary):
            label, _, run = arg.rpartition("=")
            runs[label or ("tune", "held out")[min(i, 1)] + (f" {i}" if i > 1 else "")] = Path(run)
        print(summary(runs, out), end="")
        return 0
    records = load(args.ptbxl)
    for split, keep in (("tune", lambda r: r["fold"] in TUNE_FOLDS), ("report", lambda r: r["fold"] >= 9)):
        sub = [r for r in records if keep(r)]
        items = questions(sub, args.seed)
        counts = Counter(f"{it['template_id']} {it['attribute_type']} {it['answer']}" for it in items)
        bench = {
            "format": "ECG-QA items with 'files' and 'options' (cardioagent extension)",
            "built_by": "bench/ptbxl_statements_qa.py",
            "split": f"{split}: PTB-XL strat_fold {'1-8' if split == 'tune' else '9-10'}",
            "label_rule": "diagnostic SCP codes likelihood >= 50; rhythm and form-only codes when listed",
            "seed": args.seed,
            "records": len(sub),
            "data_root": "files are relative to --data-root (../shared/data)",
            "templates": {
                **{str(t): f"Does this ECG show {label}?" for t, _, label, _ in FAMILIES},
                **{str(t): q for t, q in QUERIES.values()},
            },
            "counts": dict(
                sorted(Counter(f"{i['question_type']}/{i['attribute_type']}" for i in items).items())
            ),
            "answers": dict(sorted(counts.items())),
            "items": items,
        }
        out = args.out_dir / f"ptbxl_statements_qa_{split}.json"
        out.write_text(json.dumps(bench, indent=1))
        print(f"{out}: {len(items)} questions on {len(sub)} records; {bench['counts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
