"""A learned complement to the interpretation criteria for PTB-XL's diagnostic superclasses (issue 14, item 3):
does a small calibrated model on the engine's own measurements decide "normal ECG / myocardial infarction /
ST/T change / conduction disturbance / hypertrophy" better than the criteria do?

Data: ``../shared/data/ptbxl_1_250``; labels as the statements QA builds them (a diagnostic SCP code counts
at likelihood >= 50, its class from ``scp_statements.csv``); only records with a diagnostic class.
Features: ``models.interpretation.features`` (what ``ecg_intervals`` measured, plus the criteria's score per
class). Model: one L2 logistic regression per class (median imputation, standardisation, C = 0.1, fixed
before the run, not searched), probabilities from the logistic link; the answer is every class with
p >= 0.5, else the most probable one (every labelled record has a class).

Criteria: ``ecg_intervals``' statements mapped to classes by the vocabulary, as ``judge_superclass``
answers ECG-QA's superclass query (a class is present when one of its statements is; normal ECG when no
statement of another class is present).

Split, declared before the run: PTB-XL ``strat_fold`` 1-8 (tune) for patient-grouped 5-fold
cross-validation (StratifiedGroupKFold by ``patient_id``, stratified on normal ECG); folds 9-10 are
scored once, by a model fitted on all tune records, and do not decide.

Ship rule, declared before the first run: the learned model answers the superclass query only if its
out-of-fold exact match of the class set on the tune records beats the criteria's by at least 0.02 (3 of
about 160 records) and its out-of-fold Brier score is below the criteria's (criteria verdict as 0/1) for
normal ECG, the class that decides most answers. Otherwise it does not ship, and the figures say by how much.

    .venv/bin/python bench/ptbxl_learned_classes.py [--jobs 2] [--demographics database|none]

Writes bench/results/ptbxl_learned_classes.json, or ptbxl_learned_classes_no_demographics.json with sex and
age unknown (and caches the features beside it).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PTBXL = ROOT.parent / "shared" / "data" / "ptbxl_1_250"
OUT = ROOT / "bench" / "results" / "ptbxl_learned_classes.json"
CACHE = ROOT / "bench" / "results" / "ptbxl_learned_classes_features.json"
TUNE_FOLDS = set(range(1, 9))
C = 0.1
SHIP_MARGIN = 0.02
# Written after the first run (2026-12-02), in the conservative direction only: the declared rule was met,
# but it did not guard against a model that wins by following the tune split's prevalence.
DECISION = (
    "not shipped: the declared rule was met (CV exact match 0.766 vs 0.734), but the gain is a shift towards "
    "'normal ECG' (normal-ECG specificity 0.486 vs 0.676; the tune split is 75% normal, and answering "
    "'normal ECG' always scores 0.753 there); it loses MI and ST/T sensitivity, and on folds 9-10 (fewer "
    "normal records) it scores 0.701 vs the criteria's 0.714. A complement must beat the criteria without "
    "trading abnormal findings for prevalence; conduction disturbance is the one class where it was better "
    "on every CV figure (same sensitivity, specificity 0.964 vs 0.912, Brier 0.081 vs 0.146): a candidate "
    "for a rule declared before a run on other records. Re-run 2026-12-03 on the engine after the third "
    "round of issue 14 (features re-extracted): the criteria's CV exact match is 0.759 (0.766 with sex and "
    "age unknown, as the agent reads a PTB-XL header), and the conduction-disturbance complement no longer "
    "wins on every figure (CV sensitivity 0.571 vs the criteria's 0.667, specificity 0.949 vs 0.942, Brier "
    "0.072 vs 0.095, in both demographics settings): it trades conduction findings for fewer false alarms, "
    "so it does not ship either"
)


def records() -> list[dict]:
    with (PTBXL / "scp_statements.csv").open(newline="") as fh:
        scp = {r[""]: r for r in csv.DictReader(fh)}
    out = []
    with (PTBXL / "ptbxl_database.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            if not (PTBXL / f"{r['filename_hr']}.hea").is_file():
                continue
            lik = {k: float(v) for k, v in ast.literal_eval(r["scp_codes"]).items()}
            classes = {
                scp[k]["diagnostic_class"]
                for k, v in lik.items()
                if v >= 50 and (scp.get(k) or {}).get("diagnostic") == "1.0"
            }
            if not classes:
                continue
            out.append(
                {
                    "ecg_id": int(r["ecg_id"]),
                    "patient": int(float(r["patient_id"])),
                    "fold": int(r["strat_fold"]),
                    "sex": {"0": "male", "1": "female"}.get(r["sex"]),
                    "age": float(r["age"]) if r["age"] else None,
                    "path": str(PTBXL / f"{r['filename_hr']}.hea"),
                    "classes": sorted(classes),
                }
            )
    return out


def criteria_classes(statements: list[tuple[str, str]]) -> list[str]:
    from cardioagent.agent.closed_question import statement_class

    present = {statement_class(sid) for sid, verdict in statements if verdict == "present"}
    found = sorted(c for c in present if c not in (None, "NORM"))
    return found or ["NORM"]


def extract_without_demographics(rec: dict) -> dict:
    """As ``extract``, with the sex and age unknown, as the agent sees a PTB-XL record (its header has
    neither): the model that ships is fitted on what it will be given."""
    return extract({**rec, "sex": None, "age": None})


def extract(rec: dict) -> dict:
    from cardioagent.agent.closed_question import statement_class
    from cardioagent.models.interpretation.features import features
    from cardioagent.tools.analysis import intervals
    from cardioagent.tools.signal.loaders import load_recording
    from cardioagent.tools.signal.recording import Demographics

    try:
        r = load_recording(Path(rec["path"]))
        r.demographics = Demographics(sex=rec["sex"], age=rec["age"])
        iv = intervals(r)
    except Exception as exc:  # noqa: BLE001 - counted as a record the engine could not read
        return {"ecg_id": rec["ecg_id"], "error": f"{type(exc).__name__}: {exc}"}
    return {
        "ecg_id": rec["ecg_id"],
        "x": [None if math.isnan(v) else v for v in features(iv, rec["sex"], rec["age"], statement_class)],
        "criteria": criteria_classes([(s.id, s.verdict) for s in iv.statements]),
    }


def fit(x, y):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(set(y)) < 2:
        return float(y[0])
    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=C, max_iter=5000),
    ).fit(x, y)


def proba(model, x):
    import numpy as np

    if isinstance(model, float):
        return np.full(len(x), model)
    return model.predict_proba(x)[:, 1]


def answer_sets(p, classes: tuple[str, ...]) -> list[list[str]]:
    out = []
    for row in p:
        got = [c for c, v in zip(classes, row, strict=True) if v >= 0.5]
        out.append(sorted(got or [classes[int(row.argmax())]]))
    return out


def scores(pred: list[list[str]], gold: list[list[str]], p, classes) -> dict:
    import numpy as np

    y = np.array([[c in g for c in classes] for g in gold], dtype=float)
    per = {}
    for j, c in enumerate(classes):
        pj = p[:, j]
        hard = np.array([c in s for s in pred], dtype=float)
        per[c] = {
            "positives": int(y[:, j].sum()),
            "accuracy": round(float((hard == y[:, j]).mean()), 3),
            "sensitivity": round(float(hard[y[:, j] == 1].mean()), 3) if y[:, j].any() else None,
            "specificity": round(float(1 - hard[y[:, j] == 0].mean()), 3) if (y[:, j] == 0).any() else None,
            "brier": round(float(((pj - y[:, j]) ** 2).mean()), 4),
        }
    exact = float(np.mean([sorted(a) == sorted(b) for a, b in zip(pred, gold, strict=True)]))
    return {"n": len(gold), "exact_match": round(exact, 3), "per_class": per}


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold

    from cardioagent.models.interpretation.features import CLASSES, feature_names

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--demographics",
        choices=("database", "none"),
        default="database",
        help="sex and age from ptbxl_database.csv, or unknown as the agent sees a PTB-XL header",
    )
    args = ap.parse_args(argv)
    suffix = "" if args.demographics == "database" else "_no_demographics"
    cache = CACHE.with_name(f"{OUT.stem}{suffix}_features.json")
    out = OUT.with_name(OUT.stem + suffix + ".json")
    if not (PTBXL / "ptbxl_database.csv").is_file():
        print(f"needs {PTBXL}; nothing to do", file=sys.stderr)
        return 0
    recs = records()
    cached = json.loads(cache.read_text()) if cache.is_file() else {}
    todo = [r for r in recs if str(r["ecg_id"]) not in cached]
    if todo:
        with ProcessPoolExecutor(args.jobs) as pool:
            fn = extract if args.demographics == "database" else extract_without_demographics
            for i, got in enumerate(pool.map(fn, todo, chunksize=2)):
                cached[str(got["ecg_id"])] = got
                if i % 20 == 0:
                    print(f"features {i + 1}/{len(todo)}", file=sys.stderr)
        cache.write_text(json.dumps(cached))
    rows = [(r, cached[str(r["ecg_id"])]) for r in recs if "x" in cached[str(r["ecg_id"])]]
    errors = [r["ecg_id"] for r in recs if "x" not in cached[str(r["ecg_id"])]]
    x_all = np.array([[np.nan if v is None else v for v in f["x"]] for _, f in rows], dtype=float)
    y_all = np.array([[c in r["classes"] for c in CLASSES] for r, _ in rows], dtype=int)
    gold = [r["classes"] for r, _ in rows]
    crit = [f["criteria"] for _, f in rows]
    tune = np.array([r["fold"] in TUNE_FOLDS for r, _ in rows])
    groups = np.array([r["patient"] for r, _ in rows])

    def crit_p(mask):
        return np.array(
            [[c in s for c in CLASSES] for s, m in zip(crit, mask, strict=True) if m], dtype=float
        )

    it = np.where(tune)[0]
    oof = np.zeros((len(it), len(CLASSES)))
    cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
    for tr, te in cv.split(x_all[it], y_all[it, 0], groups[it]):
        for j in range(len(CLASSES)):
            oof[te, j] = proba(fit(x_all[it][tr], y_all[it][tr, j]), x_all[it][te])
    g_t = [gold[i] for i in it]
    learned_cv = scores(answer_sets(oof, CLASSES), g_t, oof, CLASSES)
    criteria_cv = scores([crit[i] for i in it], g_t, crit_p(tune), CLASSES)
    ships = (
        learned_cv["exact_match"] >= criteria_cv["exact_match"] + SHIP_MARGIN
        and learned_cv["per_class"]["NORM"]["brier"] < criteria_cv["per_class"]["NORM"]["brier"]
    )
    ir = np.where(~tune)[0]
    models = [fit(x_all[it], y_all[it, j]) for j in range(len(CLASSES))]
    p_rep = np.column_stack([proba(m, x_all[ir]) for m in models])
    g_r = [gold[i] for i in ir]
    report = {
        "command": f"python bench/ptbxl_learned_classes.py --demographics {args.demographics}",
        "demographics": "sex and age from ptbxl_database.csv"
        if args.demographics == "database"
        else "unknown (as the agent reads a PTB-XL header)",
        "split": "tune: strat_fold 1-8 (5-fold patient-grouped CV decides); report: folds 9-10 (scored once)",
        "model": f"per-class L2 logistic regression, C={C}, median imputation, standardised; "
        f"{len(feature_names())} features (models.interpretation.features)",
        "ship_rule": f"learned CV exact match >= criteria + {SHIP_MARGIN} and NORM Brier below the criteria's",
        "records": {"tune": int(tune.sum()), "report": int((~tune).sum()), "errors": errors},
        "cv_tune": {"criteria": criteria_cv, "learned": learned_cv},
        "report_folds_9_10": {
            "criteria": scores([crit[i] for i in ir], g_r, crit_p(~tune), CLASSES),
            "learned": scores(answer_sets(p_rep, CLASSES), g_r, p_rep, CLASSES),
        },
        "meets_declared_rule": ships,
        "decision": DECISION,
    }
    out.write_text(json.dumps(report, indent=1))
    print(
        "| split | method | n | exact match | " + " | ".join(f"{c} sens/spec/Brier" for c in CLASSES) + " |"
    )
    print("|---" * (4 + len(CLASSES)) + "|")
    for split, d in (("CV tune", report["cv_tune"]), ("report 9-10", report["report_folds_9_10"])):
        for method, s in d.items():
            cells = [f"{v['sensitivity']}/{v['specificity']}/{v['brier']}" for v in s["per_class"].values()]
            print(f"| {split} | {method} | {s['n']} | {s['exact_match']} | " + " | ".join(cells) + " |")
    print(f"declared rule met: {ships} ({report['ship_rule']})")
    print(f"decision: {DECISION}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
