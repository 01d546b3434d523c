"""Interpretation statements of ``ecg_intervals`` (``tools.analysis.interpretation``) against cardiologist
labels: PTB-XL (``../shared/data/ptbxl_1_250``) and the 25 CinC-2021 twelve-lead records.

    .venv/bin/python bench/ptbxl_statements.py [--ptbxl DIR] [--cinc DIR] [--jobs N] [--out FILE]
        [--delineation median_beat|ecgdeli]

``--delineation ecgdeli`` runs the statements on ECGdeli's wave boundaries (``intervals(rec,
method="ecgdeli")``, needs the optional package ``ecgdeli``) and writes
bench/results/ptbxl_statements_ecgdeli.json unless ``--out`` says otherwise.

Labels. PTB-XL: a statement is positive when ``scp_codes`` gives one of its SCP codes likelihood >= 50 (as
PTB-XL's benchmarks do), negative otherwise (``PTBXL_STATEMENTS``: territories take the SCP infarction
codes that include them, e.g. inferior = IMI, ILMI, IPMI, IPLMI; non-specific ST-T = NST_ or NDT; ventricular
premature complexes = PVC, BIGU, TRIGU). Two derived rows (names starting with "_") compare a union of
statements with a union of codes: ``_ischemic_st_t`` (ST depression or T inversion vs the ISC* codes, STD_,
INVT) and ``_any_st_t`` (any ST-T statement vs the PTB-XL ST-T codes). PTB-XL headers carry no
demographics: the sex and age of ``ptbxl_database.csv`` (sex 0 = male, 1 = female) are set on the
recording, as a clinical file would carry them. CinC: the SNOMED codes of ``labels.csv`` (RBBB 59118001 and
CRBBB 713427006 count as complete RBBB, as the Challenge scoring treats them as equivalent; IRBBB 713426002;
LBBB 164909002 / CLBBB 733534002; 1AVB 270492004; LVH, LQRSV, QAb/MI, STE, STD, TInv, NSSTTA/TAb, LQT,
PVC/VPB, AF as in ``CINC_STATEMENTS``). Atrial fibrillation is the agent's answer (the rhythm tool, then the
closed-question rule: irregularly irregular without P waves before most beats); PTB-XL's rhythm codes carry
likelihood 0, so for it the listed code is the label.

Split, declared before any tuning: PTB-XL ``strat_fold`` 1-8 is the **tune** split (where thresholds
could be looked at), folds 9-10 the **reporting** split. The statements use published thresholds unchanged
(AHA/ACCF/HRS 2009 Parts III-V, Sokolow-Lyon, Cornell, 4th Universal Definition of MI); the few operational
choices the publications leave open (Q-wave lead-in, beats too close to the record's ends, the number of
flat-T leads for a non-specific ST-T change) were chosen on the tune split only. CinC is a second
reporting set.

Per statement and split: positives / negatives, sensitivity, specificity, F1 (prediction = verdict
"present"; "undetermined" counts as not present and is counted), and ROC AUC of the score (a statement
without a score, e.g. first-degree AV block without P waves, ranks at 0.5). Macro AUC over statements
with >= 5 positives. Prints a table and writes bench/results/ptbxl_statements.json with the per-record
verdicts.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import platform
import sys
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PTBXL = REPO.parent / "shared" / "data" / "ptbxl_1_250"
CINC = REPO.parent / "shared" / "data" / "ecg12_cinc2021"
OUT = REPO / "bench" / "results" / "ptbxl_statements.json"

PTBXL_STATEMENTS = {  # statement id (vocabulary) -> the SCP codes that make a record positive
    "complete_right_bundle_branch_block": {"CRBBB"},
    "incomplete_right_bundle_branch_block": {"IRBBB"},
    "complete_left_bundle_branch_block": {"CLBBB"},
    "1st_degree_av_block": {"1AVB"},
    "left_anterior_fascicular_block": {"LAFB"},
    "left_posterior_fascicular_block": {"LPFB"},
    "nonspecific_intraventricular_conduction_disorder": {"IVCD"},
    "left_ventricular_hypertrophy": {"LVH"},
    "low_qrs_voltages": {"LVOLT"},
    "inferior_myocardial_infarction": {"IMI", "ILMI", "IPMI", "IPLMI"},
    "anteroseptal_myocardial_infarction": {"ASMI", "AMI", "ALMI"},
    "lateral_myocardial_infarction": {"LMI", "ALMI", "ILMI", "IPLMI"},
    "qwave_abnormal": {"IMI", "ILMI", "IPMI", "IPLMI", "ASMI", "AMI", "ALMI", "LMI", "PMI", "QWAVE"},
    "st_elevation": {"STE_"},
    "st_depression": {"STD_"},
    "t_wave_inversion": {"INVT"},
    "nonspecific_st_t_abnormality": {"NST_", "NDT"},
    "_ischemic_st_t": {"ISC_", "ISCAL", "ISCIL", "ISCAS", "ISCLA", "ISCAN", "ISCIN", "STD_", "INVT"},
    "_any_st_t": {
        *("NDT", "NST_", "ISC_", "ISCAL", "ISCIL", "ISCAS", "ISCLA", "ISCAN", "ISCIN"),
        *("STD_", "STE_", "INVT", "LOWT", "TAB_", "DIG", "ANEUR", "EL"),
    },
    "prolonged_qt_interval": {"LNGQT"},
    "premature_ventricular_contractions": {"PVC", "BIGU", "TRIGU"},
    "premature_atrial_contraction": {"PAC"},
    "atrial_fibrillation": {"AFIB"},
}
# rhythm statements: PTB-XL gives rhythm codes likelihood 0, so listing the code is the label; decided as the
# agent decides them, the closed-question rule (agent.closed_question.judge) on the rhythm tool's output
RHYTHM_STATEMENTS = {"atrial_fibrillation"}
# derived rows: present when any of these statements is present (score: the largest)
DERIVED = {
    "_ischemic_st_t": ("st_depression", "t_wave_inversion"),
    "_any_st_t": ("st_elevation", "st_depression", "t_wave_inversion", "nonspecific_st_t_abnormality"),
}
CINC_STATEMENTS = {  # label -> (SNOMED codes, statement id)
    "CRBBB": ({"59118001", "713427006"}, "complete_right_bundle_branch_block"),
    "IRBBB": ({"713426002"}, "incomplete_right_bundle_branch_block"),
    "CLBBB": ({"164909002", "733534002"}, "complete_left_bundle_branch_block"),
    "1AVB": ({"270492004"}, "1st_degree_av_block"),
    "LVH": ({"164873001"}, "left_ventricular_hypertrophy"),
    "LQRSV": ({"251146004"}, "low_qrs_voltages"),
    "QAb/MI": ({"164917005", "164865005", "54329005"}, "qwave_abnormal"),
    "STE": ({"164931005"}, "st_elevation"),
    "STD": ({"429622005"}, "st_depression"),
    "TInv": ({"59931005"}, "t_wave_inversion"),
    "NSSTTA/TAb": ({"428750005", "164934002"}, "nonspecific_st_t_abnormality"),
    "LQT": ({"111975006"}, "prolonged_qt_interval"),
    "PVC/VPB": ({"427172004", "17338001"}, "premature_ventricular_contractions"),
    "AF": ({"164889003"}, "atrial_fibrillation"),
}
PTBXL_SEX = {"0": "male", "1": "female"}  # ptbxl_database.csv: 0 = male, 1 = female
ALL_CODES = set().union(*PTBXL_STATEMENTS.values())
TUNE_FOLDS = set(range(1, 9))


def _derive(statements: dict) -> dict:
    for sid, parts in DERIVED.items():
        got = [statements[p] for p in parts if p in statements]
        if not got:
            continue
        ps = [g["p"] for g in got if g["p"] is not None]
        verdicts = {g["verdict"] for g in got}
        v = "present" if "present" in verdicts else "absent" if verdicts == {"absent"} else "undetermined"
        statements[sid] = {"verdict": v, "p": max(ps) if ps else None}
    return statements


def analyse(job: str | tuple[str, str | None, float | None], method: str = "median_beat") -> dict:
    """One record's statements. ``job``: its path, or (path, sex, age) from the database's demographics,
    used where the header carries none (PTB-XL headers carry none); ``method``: the delineation."""
    from cardioagent.tools.analysis import intervals
    from cardioagent.tools.signal.loaders import load_recording
    from cardioagent.tools.signal.recording import Demographics

    path, sex, age = (job, None, None) if isinstance(job, str) else job
    t0 = time.perf_counter()
    try:
        rec = load_recording(Path(path))
        if rec.demographics.sex is None and (sex is not None or age is not None):
            rec.demographics = Demographics(sex=sex, age=age)
        iv = intervals(rec, method=method)
        rhythm_statements = _rhythm_statements(rec)
    except Exception as exc:  # noqa: BLE001 - a record that cannot be analysed counts as undetermined everywhere
        return {"error": f"{type(exc).__name__}: {exc}", "statements": {}}
    return {
        "qrs_median_ms": iv.qrs.value,
        "qrs_global_ms": iv.qrs_global.value if iv.qrs_global else None,
        "qrs_axis": iv.qrs_axis.value if iv.qrs_axis else None,
        "pr_ms": iv.pr.value,
        "sex": rec.demographics.sex,
        "statements": _derive({s.id: {"verdict": s.verdict, "p": s.probability} for s in iv.statements})
        | rhythm_statements,
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _rhythm_statements(rec) -> dict:
    """The rhythm statements as the agent answers them: the rhythm tool, then the closed-question rule. The
    score is the share of successive RR differences over 10 % of the median RR (irregularity)."""
    from cardioagent.agent.closed_question import Facts, judge
    from cardioagent.tools.analysis import rhythm

    rh = rhythm(rec)
    pw = rh.p_wave_presence.value if rh.p_wave_presence is not None else None
    facts = Facts(
        rhythm=rh.statement,
        p_wave_presence=pw,
        premature_fraction=rh.premature_fraction.value,
        rr_range=rh.rr_range.value if rh.rr_range is not None else None,
        n_beats=rh.n_beats,
        heart_rate=rh.heart_rate,
    )
    irregularity = rh.successive_irregularity.value
    return {
        sid: {"verdict": judge(sid, facts)[0], "p": None if irregularity is None else float(irregularity)}
        for sid in RHYTHM_STATEMENTS
    }


def auc(scores: list[float], labels: list[bool]) -> float | None:
    pos = [s for s, y in zip(scores, labels, strict=False) if y]
    neg = [s for s, y in zip(scores, labels, strict=False) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return round(wins / (len(pos) * len(neg)), 3)


def metrics(rows: list[dict], sid: str, label) -> dict:
    y, pred, score, und = [], [], [], 0
    for r in rows:
        st = r["result"]["statements"].get(sid)
        y.append(bool(label(r)))
        pred.append(bool(st and st["verdict"] == "present"))
        und += bool(not st or st["verdict"] == "undetermined")
        score.append(0.5 if not st or st["p"] is None else float(st["p"]))
    tp = sum(a and b for a, b in zip(y, pred, strict=False))
    fn = sum(a and not b for a, b in zip(y, pred, strict=False))
    fp = sum(b and not a for a, b in zip(y, pred, strict=False))
    tn = sum(not a and not b for a, b in zip(y, pred, strict=False))
    sens = None if tp + fn == 0 else round(tp / (tp + fn), 3)
    spec = None if tn + fp == 0 else round(tn / (tn + fp), 3)
    f1 = None if tp + fn == 0 else round(2 * tp / (2 * tp + fp + fn), 3)
    missed = [r["record"] for r, a, b in zip(rows, y, pred, strict=False) if a and not b]
    false = [r["record"] for r, a, b in zip(rows, y, pred, strict=False) if b and not a]
    return {
        "positives": tp + fn,
        "negatives": tn + fp,
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "undetermined": und,
        "sensitivity": sens,
        "specificity": spec,
        "f1": f1,
        "auc": auc(score, y),
        "missed": missed,
        "false_positives": false,
    }


def _run(paths: list[tuple[str, Any]], jobs: int, method: str = "median_beat") -> dict[str, dict]:
    one = partial(analyse, method=method)
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs) as pool:
            return dict(zip((k for k, _ in paths), pool.map(one, (p for _, p in paths)), strict=False))
    out = {}
    for i, (k, p) in enumerate(paths):
        out[k] = one(p)
        if i % 25 == 0:
            print(f"  {i}/{len(paths)} {k}", file=sys.stderr, flush=True)
    return out


def _ptbxl_label(r: dict, sid: str, codes: set[str]) -> bool:
    if sid in RHYTHM_STATEMENTS:
        return any(c in r["codes"] for c in codes)
    return any(r["codes"].get(c, 0.0) >= 50 for c in codes)


def _fmt(v) -> str:
    return "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))


def table(title: str, res: dict[str, dict]) -> None:
    print(f"\n{title}")
    print(
        f"{'statement':42s} {'pos':>4s} {'neg':>4s} {'sens':>5s} {'spec':>5s} {'F1':>5s} {'AUC':>5s} {'und':>4s}"
    )
    for sid, m in res.items():
        if not isinstance(m, dict):
            continue
        print(
            f"{sid:42s} {m['positives']:4d} {m['negatives']:4d} {_fmt(m['sensitivity']):>5s} "
            f"{_fmt(m['specificity']):>5s} {_fmt(m['f1']):>5s} {_fmt(m['auc']):>5s} {m['undetermined']:4d}"
        )
    if "_macro_auc" in res:
        print(
            f"macro AUC over statements with >= 5 positives: {_fmt(res['_macro_auc'])} ({res['_macro_over']})"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ptbxl", type=Path, default=PTBXL)
    ap.add_argument("--cinc", type=Path, default=CINC)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument(
        "--out", type=Path, default=None, help=f"default {OUT.relative_to(REPO)}, or *_ecgdeli.json"
    )
    ap.add_argument(
        "--delineation",
        choices=("median_beat", "ecgdeli"),
        default="median_beat",
        help="wave delineation under the statements (intervals(rec, method=...))",
    )
    ap.add_argument(
        "--tune-only", action="store_true", help="PTB-XL folds 1-8 only (while adjusting), no CinC"
    )
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = (
            OUT if args.delineation == "median_beat" else OUT.with_name(f"{OUT.stem}_{args.delineation}.json")
        )
    db = args.ptbxl / "ptbxl_database.csv"
    if not db.is_file():
        print(f"no ptbxl_database.csv in {args.ptbxl}", file=sys.stderr)
        return 2
    with db.open() as fh:
        meta = [
            r
            for r in csv.DictReader(fh)
            if (args.ptbxl / f"{r['filename_hr']}.hea").is_file()
            and (not args.tune_only or int(r["strat_fold"]) in TUNE_FOLDS)
        ]
    t0 = time.perf_counter()
    results = _run(
        [
            (
                r["ecg_id"],
                (
                    str(args.ptbxl / f"{r['filename_hr']}.hea"),
                    PTBXL_SEX.get(r["sex"]),
                    float(r["age"]) if r["age"] else None,
                ),
            )
            for r in meta
        ],
        args.jobs,
        args.delineation,
    )
    rows = []
    for r in meta:
        codes = {k: float(v) for k, v in ast.literal_eval(r["scp_codes"]).items()}
        rows.append(
            {
                "record": r["ecg_id"],
                "fold": int(r["strat_fold"]),
                "codes": codes,
                "result": results[r["ecg_id"]],
            }
        )
    report: dict = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "ptbxl_records": len(rows),
        "label_rule": "scp_codes likelihood >= 50",
        "delineation": args.delineation,
        "splits": {},
    }
    for split, keep in (
        ("tune (folds 1-8)", lambda r: r["fold"] in TUNE_FOLDS),
        ("reporting (folds 9-10)", lambda r: r["fold"] not in TUNE_FOLDS),
    ):
        sub = [r for r in rows if keep(r)]
        if not sub:
            continue
        res = {
            sid: metrics(sub, sid, partial(_ptbxl_label, sid=sid, codes=codes))
            for sid, codes in PTBXL_STATEMENTS.items()
        }
        over = [sid for sid, m in res.items() if not sid.startswith("_") and m["positives"] >= 5]
        aucs = [res[sid]["auc"] for sid in over if res[sid]["auc"] is not None]
        res["_macro_auc"] = round(sum(aucs) / len(aucs), 3) if aucs else None
        res["_macro_over"] = over
        res["_n_records"] = len(sub)
        report["splits"][split] = res
        table(f"PTB-XL {split}: {len(sub)} records", res)

    labels_csv = args.cinc / "labels.csv"
    if labels_csv.is_file() and not args.tune_only:
        with labels_csv.open() as fh:
            lab = list(csv.DictReader(fh))
        cres = _run(
            [(r["record"], str(args.cinc / f"{r['record']}.hea")) for r in lab], args.jobs, args.delineation
        )
        crows = [
            {"record": r["record"], "codes": set(r["dx_snomed"].split(";")), "result": cres[r["record"]]}
            for r in lab
        ]
        res = {
            sid: metrics(crows, sid, lambda r, c=codes: bool(r["codes"] & c))
            for codes, sid in CINC_STATEMENTS.values()
        }
        res["_n_records"] = len(crows)
        report["splits"]["cinc2021 (second reporting set)"] = res
        table(f"CinC-2021: {len(crows)} records", res)
        report["cinc_records"] = [
            {
                "record": r["record"],
                "dx": sorted(r["codes"]),
                **{k: v for k, v in r["result"].items() if k != "statements"},
                "present": sorted(
                    k for k, v in r["result"]["statements"].items() if v["verdict"] == "present"
                ),
            }
            for r in crows
        ]
    report["ptbxl_records_detail"] = [
        {
            "record": r["record"],
            "fold": r["fold"],
            "labels": sorted(c for c, v in r["codes"].items() if v >= 50 and c in ALL_CODES),
            **{k: v for k, v in r["result"].items() if k != "statements"},
            "present": sorted(k for k, v in r["result"]["statements"].items() if v["verdict"] == "present"),
        }
        for r in rows
    ]
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str))
    print(f"\nwrote {args.out} ({report['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
