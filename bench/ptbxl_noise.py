"""Per-lead noise kinds on PTB-XL (records 1-250): fit on strat_fold 1-8, report on folds 9-10.

    .venv/bin/python bench/ptbxl_noise.py [--data DIR] [--qa FILE] [--model-out PATH] [--no-write-model]

Labels are PTB-XL's own noise columns (baseline_drift, static_noise, burst_noise, electrodes_problems),
parsed into per-lead yes/no with ``cardioagent.tools.signal.noise.parse_noise_leads`` the way ECG-QA reads
them (the parser's agreement with the real ECG-QA answers is checked and reported). Features come from
``recording_noise_features``. For each kind two candidates are compared by patient-grouped 5-fold
cross-validation inside folds 1-8 (leads of one patient never straddle train and test):

* ``rule``: one a-priori feature (baseline excursion, noise floor, loudest-window ratio), Platt-scaled;
* ``logistic``: an L2 logistic regression over that kind's feature set.

The logistic model ships only if its out-of-fold AUC and Brier score both beat the rule's. The decision rule
for "present" is one of Youden's J, best F1 or p >= 0.5 on the out-of-fold probabilities, whichever answers
the folds-1-8 ECG-QA noise items best (p >= 0.5 won: the probabilities are calibrated, so it is also the
plain "more likely than not"). Burst noise has 4 positive records in folds 1-8, too few to set anything
from: its rule fires a priori when a 0.25-s window's noise floor is 3x the lead's median. Electrode problems have no
positive lead in folds 1-8, so they get an a-priori rule whose cut-offs are set from the false-positive
rate on folds 1-8 only. The chosen models are refitted on all of folds 1-8, written as JSON (no scikit-learn
needed to use them), and evaluated once on folds 9-10. ECG-QA noise questions (templates 26-28) are then
answered from the predictions (out-of-fold for folds 1-8, the shipped model for folds 9-10) and compared
with the majority answer per template (taken from folds 1-8). Prints a table and writes
bench/results/ptbxl_noise.json.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import platform
import re
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ptbxl_1_250"
DEFAULT_QA = REPO.parent / "shared" / "data" / "ecgqa_format_sample" / "ptbxl_1_250_template.json"
OUT = REPO / "bench" / "results" / "ptbxl_noise.json"
TUNE_FOLDS = set(range(1, 9))
REPORT_FOLDS = {9, 10}
SEED = 0

# Per kind: the a-priori single feature of the rule (name, transform) and the logistic model's feature set.
RULE = {
    "baseline_drift": ("baseline_range_mv", "log"),
    "static_noise": ("hf_floor_mv", "log"),
    "burst_noise": ("burst_floor_ratio", "log"),
}
LOGISTIC = {
    "baseline_drift": [
        ("log_low_power_ratio", "id"),
        ("baseline_range_mv", "log"),
        ("baseline_rel", "log"),
        ("baseline_slope_rel", "log"),
        ("baseline_vs_median", "log"),
    ],
    "static_noise": [
        ("hf_floor_mv", "log"),
        ("hf_floor_rel", "log"),
        ("log_hf_power_ratio", "id"),
        ("mains_ratio", "log"),
        ("kSQI", "log"),
        ("pSQI", "id"),
        ("hf_floor_vs_median", "log"),
    ],
    "burst_noise": [
        ("burst_floor_ratio", "log"),
        ("burst_excess_mv", "log"),
        ("burst_frac", "id"),
        ("burst_ptp_ratio", "log"),
        ("burst_step_rel", "log"),
        ("hf_floor_mv", "log"),
    ],
}
# Electrode problems: a-priori conditions; the cut-off values are set from folds 1-8's false-positive rate.
ELECTRODE_CONDITIONS = [("max_corr_other", "<"), ("einthoven_resid", ">")]
# Floors for cut-offs that folds 1-8 cannot set: PTB-XL's limb leads are derived from I and II by the
# recorder, so their Einthoven residual is ~0 and a quantile cut would fire on any independently recorded set.
ELECTRODE_FLOOR = {"einthoven_resid": 0.3}
# With fewer than MIN_POSITIVE_RECORDS positive records in folds 1-8 the out-of-fold threshold is noise; the
# rule's decision value is then set a priori on the feature (a window whose noise floor is 3x the lead's).
MIN_POSITIVE_RECORDS = 10
A_PRIORI_CUT = {"burst_noise": 3.0}
ELECTRODE_MAX_FPR = 0.005  # at most 0.5 % of the (all negative) tune leads may trip the rule


# ---------------------------------------------------------------------------------------------- data


def read_record(path: Path) -> tuple[np.ndarray, float, list[str]]:
    import wfdb

    rec = wfdb.rdrecord(str(path))
    return np.asarray(rec.p_signal, dtype=float), float(rec.fs), list(rec.sig_name)


def load_leads(data: Path, tune_only: bool = False) -> tuple[list[dict], list[dict]]:
    """One row per (record, lead): ids, fold, features and per-kind labels; and the database rows."""
    from cardioagent.tools.signal.noise import (
        LEAD_ORDER,
        NOISE_KINDS,
        canonical_lead,
        noise_labels,
        recording_noise_features,
    )

    with (data / "ptbxl_database.csv").open(newline="") as fh:
        db = list(csv.DictReader(fh))
    rows = []
    for r in db:
        if tune_only and int(r["strat_fold"]) not in TUNE_FOLDS:
            continue
        sig, fs, names = read_record(data / r["filename_hr"])
        leads = [canonical_lead(n) or n for n in names]
        feats = recording_noise_features(sig, fs, leads)
        labels = noise_labels(r)
        for lead, f in zip(leads, feats, strict=True):
            rows.append(
                {
                    "ecg_id": int(r["ecg_id"]),
                    "patient_id": int(float(r["patient_id"])),
                    "fold": int(r["strat_fold"]),
                    "lead": lead,
                    "is_limb": float(lead in LEAD_ORDER[:6]),
                    "features": f,
                    "labels": {k: int(lead in labels[k]) for k in NOISE_KINDS},
                }
            )
    return rows, db


def matrix(rows: list[dict], feats: list[tuple[str, str]]) -> np.ndarray:
    from cardioagent.tools.signal.noise import _transform

    X = np.full((len(rows), len(feats)), np.nan)
    for i, r in enumerate(rows):
        for j, (name, how) in enumerate(feats):
            v = r["features"].get(name, r.get(name))
            if v is not None and math.isfinite(v):
                X[i, j] = _transform(float(v), how)
    return X


# --------------------------------------------------------------------------------------------- models


def fit_logistic(X: np.ndarray, y: np.ndarray, C: float = 1.0) -> dict:
    """Standardise (mean/std of the training rows, NaN -> mean), clip to +-Z_CLIP, L2 logistic regression."""
    from sklearn.linear_model import LogisticRegression

    from cardioagent.tools.signal.noise import Z_CLIP

    mean = np.nanmean(X, axis=0)
    scale = np.nanstd(X, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    Z = np.clip(np.nan_to_num((X - mean) / scale, nan=0.0), -Z_CLIP, Z_CLIP)
    lr = LogisticRegression(C=C, max_iter=2000)
    lr.fit(Z, y)
    return {
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": lr.coef_[0].tolist(),
        "intercept": float(lr.intercept_[0]),
    }


def predict_logistic(p: dict, X: np.ndarray) -> np.ndarray:
    from cardioagent.tools.signal.noise import Z_CLIP

    Z = np.clip(np.nan_to_num((X - np.array(p["mean"])) / np.array(p["scale"]), nan=0.0), -Z_CLIP, Z_CLIP)
    return 1.0 / (1.0 + np.exp(-(Z @ np.array(p["coef"]) + p["intercept"])))


def group_folds(groups: np.ndarray, k: int = 5) -> list[np.ndarray]:
    from sklearn.model_selection import GroupKFold

    return [test for _, test in GroupKFold(n_splits=k).split(np.zeros(len(groups)), groups=groups)]


def oof_predictions(X: np.ndarray, y: np.ndarray, groups: np.ndarray, C: float = 1.0) -> np.ndarray:
    out = np.full(len(y), np.nan)
    for test in group_folds(groups):
        train = np.setdiff1d(np.arange(len(y)), test)
        if y[train].sum() == 0:
            out[test] = 0.0
            continue
        out[test] = predict_logistic(fit_logistic(X[train], y[train], C), X[test])
    return out


# -------------------------------------------------------------------------------------------- metrics


def auc(y: np.ndarray, s: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else None


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    best, best_j = 0.5, -1.0
    for t in np.unique(np.round(p, 4)):
        pred = p >= t
        sens = pred[y == 1].mean() if (y == 1).any() else 0.0
        spec = (~pred[y == 0]).mean() if (y == 0).any() else 0.0
        if sens + spec - 1 > best_j:
            best, best_j = float(t), sens + spec - 1
    return best


def f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    best, best_f = 0.5, -1.0
    for t in np.unique(np.round(p, 4)):
        pred = p >= t
        tp = float((pred & (y == 1)).sum())
        f1 = 2 * tp / max(pred.sum() + (y == 1).sum(), 1)
        if f1 > best_f:
            best, best_f = float(t), f1
    return best


THRESHOLD_RULES = {"youden": youden_threshold, "f1": f1_threshold, "half": lambda y, p: 0.5}


def metrics(y: np.ndarray, p: np.ndarray, thr: float) -> dict:
    pred = p >= thr
    pos, neg = y == 1, y == 0
    bins = [0.0, 0.05, 0.1, 0.2, 0.4, 0.6, 1.0001]
    rel = []
    for lo, hi in itertools.pairwise(bins):
        m = (p >= lo) & (p < hi)
        if m.any():
            rel.append(
                {
                    "bin": f"{lo:.2f}-{min(hi, 1):.2f}",
                    "n": int(m.sum()),
                    "mean_predicted": round(float(p[m].mean()), 3),
                    "observed": round(float(y[m].mean()), 3),
                }
            )
    return {
        "n_leads": len(y),
        "n_positive_leads": int(pos.sum()),
        "auc": None if (a := auc(y, p)) is None else round(a, 3),
        "threshold": round(thr, 4),
        "sensitivity": round(float(pred[pos].mean()), 3) if pos.any() else None,
        "specificity": round(float((~pred[neg]).mean()), 3) if neg.any() else None,
        "brier": round(float(np.mean((p - y) ** 2)), 4),
        "brier_prevalence_only": round(float(np.mean((y.mean() - y) ** 2)), 4),
        "reliability": rel,
    }


# ---------------------------------------------------------------------------------------------- ECG-QA


def qa_items(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [q for q in json.loads(path.read_text()) if q["template_id"] in (26, 27, 28)]


def qa_answer(q: dict, by_lead: dict[str, dict[str, int]]) -> str:
    """'yes'/'no' for one noise question from per-lead per-kind 0/1 (labels or predictions)."""
    from cardioagent.tools.signal.noise import canonical_lead

    m = re.search(r"in lead (\S+?)\?", q["question"])
    lead = canonical_lead(m.group(1)) if m else None
    kind = q["attribute"][0].replace(" ", "_") if q["attribute"] else None
    if q["template_id"] == 28:
        yes = any(by_lead.get(lead, {}).values())
    elif q["template_id"] == 26:
        yes = bool(by_lead.get(lead, {}).get(kind))
    else:
        yes = any(v.get(kind) for v in by_lead.values())
    return "yes" if yes else "no"


# ------------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--qa", type=Path, default=DEFAULT_QA)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--model-out", type=Path, default=None, help="default: tools/signal/noise_model.json")
    ap.add_argument(
        "--no-write-model", action="store_true", help="evaluate only; leave the shipped model alone"
    )
    ap.add_argument(
        "--cache", type=Path, default=None, help="development: reuse per-lead features stored here"
    )
    ap.add_argument(
        "--tune-only",
        action="store_true",
        help="development: cross-validate on folds 1-8 only; folds 9-10 are not loaded, nothing is written",
    )
    args = ap.parse_args(argv)
    if not (args.data / "ptbxl_database.csv").is_file():
        print(f"no ptbxl_database.csv in {args.data}", file=sys.stderr)
        return 2
    from cardioagent.tools.signal.noise import MODEL_PATH, NOISE_KINDS

    t0 = time.perf_counter()
    if args.cache and args.cache.is_file():
        rows, db = json.loads(args.cache.read_text())
        if args.tune_only:
            rows = [r for r in rows if r["fold"] in TUNE_FOLDS]
    else:
        rows, db = load_leads(args.data, tune_only=args.tune_only)
        if args.cache:
            args.cache.write_text(json.dumps([rows, db]))
    t_feat = time.perf_counter() - t0
    tune = [r for r in rows if r["fold"] in TUNE_FOLDS]
    report = [r for r in rows if r["fold"] in REPORT_FOLDS]
    if args.tune_only:
        report = tune[:24]  # placeholder so the code path runs; its numbers are not printed
    groups = np.array([r["patient_id"] for r in tune])
    print(
        f"{len(db)} records, {len(rows)} leads: tune (folds 1-8) {len(tune)} leads of "
        f"{len({r['ecg_id'] for r in tune})} records, report (folds 9-10) {len(report)} leads; features {t_feat:.0f} s"
    )

    kinds_out: dict[str, dict] = {}
    results: dict[str, dict] = {}
    oof_by_kind: dict[str, np.ndarray] = {}
    rep_by_kind: dict[str, np.ndarray] = {}
    adjustable: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # kinds whose threshold the tune split sets
    for kind in NOISE_KINDS:
        y_t = np.array([r["labels"][kind] for r in tune])
        y_r = np.array([r["labels"][kind] for r in report])
        res: dict = {
            "tune_positive_records": len({r["ecg_id"] for r in tune if r["labels"][kind]}),
            "report_positive_records": len({r["ecg_id"] for r in report if r["labels"][kind]}),
        }
        if kind == "electrodes_problems":
            conds = []
            for name, op in ELECTRODE_CONDITIONS:
                v = np.array([r["features"].get(name, np.nan) for r in tune], dtype=float)
                v = v[np.isfinite(v)]
                q = ELECTRODE_MAX_FPR / len(ELECTRODE_CONDITIONS)
                cut = float(np.quantile(v, q if op == "<" else 1 - q))
                if name in ELECTRODE_FLOOR:
                    cut = max(cut, ELECTRODE_FLOOR[name])
                conds.append({"feature": name, "op": op, "value": round(cut, 4)})
            prior = (y_t.sum() + 1) / (len(y_t) + 2)
            spec = {
                "type": "rule",
                "conditions": conds,
                "p_positive": 0.5,
                "p_negative": round(float(prior), 5),
                "threshold": 0.5,
                "calibrated": False,
                "note": "no positive lead in folds 1-8: cut-offs set so that at most "
                f"{ELECTRODE_MAX_FPR:.1%} of tune leads trip the rule; probabilities are not calibrated; "
                "flat, near-zero, clipped or implausibly large leads are flagged by hard rules in noise.py",
            }
            from cardioagent.tools.signal.noise import _integrity_problem, kind_probability

            def electrode_p(f: dict, spec: dict = spec, prior: float = prior) -> float:
                # as noise_kinds does: the hard integrity rules first
                return 1.0 if _integrity_problem(f) else (kind_probability(f, spec) or prior)

            p_t = np.array([electrode_p(r["features"]) for r in tune])
            p_r = np.array([electrode_p(r["features"]) for r in report])
            res["chosen"] = "rule (a priori)"
            res["cv_tune"] = {"shipped": metrics(y_t, p_t, 0.5)}
            res["report"] = metrics(y_r, p_r, 0.5)
            kinds_out[kind] = spec
            results[kind] = res
            oof_by_kind[kind], rep_by_kind[kind] = p_t, p_r
            continue
        feats_rule = [RULE[kind]]
        feats_lr = LOGISTIC[kind]
        X_rule_t, X_rule_r = matrix(tune, feats_rule), matrix(report, feats_rule)
        X_lr_t, X_lr_r = matrix(tune, feats_lr), matrix(report, feats_lr)
        oof_rule = oof_predictions(X_rule_t, y_t, groups)
        oof_lr = oof_predictions(X_lr_t, y_t, groups)
        cv = {}
        for name, oof in (("rule", oof_rule), ("logistic", oof_lr)):
            cv[name] = metrics(y_t, oof, youden_threshold(y_t, oof))
        # single features, for information (AUC needs no threshold; sign chosen by the tune split)
        single = {}
        for name, how in feats_lr:
            v = matrix(tune, [(name, how)])[:, 0]
            ok = np.isfinite(v)
            a = auc(y_t[ok], v[ok])
            single[name] = None if a is None else round(max(a, 1 - a), 3)
        res["single_feature_auc_tune"] = single
        use_lr = (cv["logistic"]["auc"] or 0) > (cv["rule"]["auc"] or 0) and cv["logistic"]["brier"] <= cv[
            "rule"
        ]["brier"]
        chosen, feats, X_t, X_r, oof = (
            ("logistic", feats_lr, X_lr_t, X_lr_r, oof_lr)
            if use_lr
            else ("rule", feats_rule, X_rule_t, X_rule_r, oof_rule)
        )
        thr = youden_threshold(y_t, oof)
        params = fit_logistic(X_t, y_t)
        # the rule's AUC needs no fitting: the a-priori feature ranks the leads by itself
        v = X_rule_t[:, 0]
        res["rule_feature_auc_tune"] = round(auc(y_t[np.isfinite(v)], v[np.isfinite(v)]) or float("nan"), 3)
        if chosen == "rule" and res["tune_positive_records"] < MIN_POSITIVE_RECORDS and kind in A_PRIORI_CUT:
            from cardioagent.tools.signal.noise import _transform

            cut = A_PRIORI_CUT[kind]
            thr = float(predict_logistic(params, np.array([[_transform(cut, feats_rule[0][1])]]))[0])
            res["threshold_note"] = (
                f"only {res['tune_positive_records']} positive records in folds 1-8: threshold set "
                f"a priori at {feats_rule[0][0]} = {cut:g}"
            )
            # the cut is fixed a priori, so sens/spec at it need no held-out data; the Platt map is in-sample
            cv["rule_at_a_priori_cut_platt_in_sample"] = metrics(y_t, predict_logistic(params, X_rule_t), thr)
            oof = predict_logistic(params, X_rule_t)  # thresholding it is exactly "feature > cut"
        p_r = predict_logistic(params, X_r)
        res["chosen"] = chosen
        res["cv_tune"] = cv
        res["report"] = metrics(y_r, p_r, thr)
        res["report_other_candidate"] = metrics(
            y_r,
            predict_logistic(
                fit_logistic(X_rule_t if use_lr else X_lr_t, y_t), X_rule_r if use_lr else X_lr_r
            ),
            youden_threshold(y_t, oof_rule if use_lr else oof_lr),
        )
        spec = {
            "type": "logistic",
            "variant": chosen,
            "features": [f for f, _ in feats],
            "transforms": [h for _, h in feats],
            **{k: [round(v, 6) for v in params[k]] for k in ("mean", "scale", "coef")},
            "intercept": round(params["intercept"], 6),
            "threshold": round(thr, 4),
            "calibrated": True,
            "calibration": "logistic (Platt) on folds 1-8; out-of-fold Brier and reliability in "
            "bench/results/ptbxl_noise.json",
        }
        kinds_out[kind] = spec
        results[kind] = res
        oof_by_kind[kind], rep_by_kind[kind] = oof, p_r
        if "threshold_note" not in res:
            adjustable[kind] = (y_t, y_r)

    # ------------------------------------------------------------------------------ ECG-QA noise items
    fold_of = {int(r["ecg_id"]): int(r["strat_fold"]) for r in db}
    from cardioagent.tools.signal.noise import noise_labels

    label_of = {int(r["ecg_id"]): noise_labels(r) for r in db}

    def predictions(thresholds: dict[str, float]) -> dict[int, dict[str, dict[str, int]]]:
        pred: dict[int, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
        for split_rows, probs in ((tune, oof_by_kind), (report, rep_by_kind)):
            for kind in NOISE_KINDS:
                for r, p in zip(split_rows, probs[kind], strict=True):
                    pred[r["ecg_id"]][r["lead"]][kind] = int(p >= thresholds[kind])
        return pred

    items = qa_items(args.qa)
    tune_items = [q for q in items if fold_of.get(q["ecg_id"][0]) in TUNE_FOLDS]
    # The decision rule for "present" is chosen on folds 1-8 only: Youden's J (balanced), best F1, or p >= 0.5,
    # whichever answers the folds-1-8 ECG-QA items best from out-of-fold probabilities (ties: Youden).
    strategy_scores = {}
    for name, rule in THRESHOLD_RULES.items():
        thr_s = {
            k: (rule(*(adjustable[k][0], oof_by_kind[k])) if k in adjustable else kinds_out[k]["threshold"])
            for k in NOISE_KINDS
        }
        pred = predictions(thr_s)
        hits = sum(qa_answer(q, pred[q["ecg_id"][0]]) == q["answer"][0] for q in tune_items)
        strategy_scores[name] = {
            "tune_qa_exact_match": round(hits / max(len(tune_items), 1), 3),
            "thresholds": {k: round(v, 4) for k, v in thr_s.items()},
        }
    strategy = max(THRESHOLD_RULES, key=lambda n: (strategy_scores[n]["tune_qa_exact_match"], n == "youden"))
    for kind, (y_t, y_r) in adjustable.items():
        thr = strategy_scores[strategy]["thresholds"][kind]
        kinds_out[kind]["threshold"] = thr
        res = results[kind]
        res["threshold_rule"] = strategy
        res["cv_tune"][res["chosen"]] = metrics(y_t, oof_by_kind[kind], thr)
        res["report"] = metrics(y_r, rep_by_kind[kind], thr)
    pred_of = predictions({k: kinds_out[k]["threshold"] for k in NOISE_KINDS})
    qa: dict = {}
    parser_ok = 0
    for q in items:
        e = q["ecg_id"][0]
        by_label = {
            lead: {k: int(lead in label_of[e][k]) for k in NOISE_KINDS}
            for lead in {lead for v in label_of[e].values() for lead in v} | {"I"}
        }
        parser_ok += qa_answer(q, by_label) == q["answer"][0]
    majority = {
        t: Counter(q["answer"][0] for q in tune_items if q["template_id"] == t).most_common(1)[0][0]
        for t in sorted({q["template_id"] for q in tune_items})
    }
    for split, folds in (("tune_oof", TUNE_FOLDS), ("report", REPORT_FOLDS)):
        if args.tune_only and split == "report":
            continue
        sel = [q for q in items if fold_of.get(q["ecg_id"][0]) in folds]
        per_t = {}
        for t in sorted({q["template_id"] for q in sel}):
            qs = [q for q in sel if q["template_id"] == t]
            ours = sum(qa_answer(q, pred_of[q["ecg_id"][0]]) == q["answer"][0] for q in qs)
            maj = sum(majority.get(t, "no") == q["answer"][0] for q in qs)
            per_t[str(t)] = {
                "n": len(qs),
                "exact_match": round(ours / len(qs), 3),
                "majority_answer": majority.get(t, "no"),
                "majority_exact_match": round(maj / len(qs), 3),
            }
        ours = sum(qa_answer(q, pred_of[q["ecg_id"][0]]) == q["answer"][0] for q in sel)
        maj = sum(majority.get(q["template_id"], "no") == q["answer"][0] for q in sel)
        by_attr = {}
        for a in sorted({q["attribute"][0] for q in sel}):
            qs = [q for q in sel if q["attribute"][0] == a]
            by_attr[a] = {
                "n": len(qs),
                "exact_match": round(
                    sum(qa_answer(q, pred_of[q["ecg_id"][0]]) == q["answer"][0] for q in qs) / len(qs), 3
                ),
                "majority_exact_match": round(
                    sum(majority.get(q["template_id"], "no") == q["answer"][0] for q in qs) / len(qs), 3
                ),
            }
        qa[split] = {
            "n": len(sel),
            "exact_match": round(ours / max(len(sel), 1), 3),
            "majority_exact_match": round(maj / max(len(sel), 1), 3),
            "per_template": per_t,
            "per_attribute": by_attr,
        }
    qa["label_parser_agreement"] = {"agree": parser_ok, "n": len(items)}
    qa["threshold_rule"] = {"chosen": strategy, "candidates": strategy_scores}

    # ------------------------------------------------------------------------------------------ print
    print(
        f"\n{'kind':20s} {'pos rec t/r':>11s} {'chosen':>8s} | {'CV rule AUC':>11s} {'CV LR AUC':>9s} {'CV Brier':>8s} "
        f"{'sens':>5s} {'spec':>5s} | {'rep AUC':>7s} {'Brier':>6s} {'sens':>5s} {'spec':>5s}"
    )

    def f(v, d=3):
        return "-" if v is None else f"{v:.{d}f}"

    for kind in NOISE_KINDS:
        res = results[kind]
        cv = res["cv_tune"]
        sh = cv.get("rule_at_a_priori_cut_platt_in_sample") or cv.get(res["chosen"], cv.get("shipped"))
        rep = (
            res["report"]
            if not args.tune_only
            else {k: None for k in ("auc", "brier", "sensitivity", "specificity")}
        )
        print(
            f"{kind:20s} {res['tune_positive_records']:>5d}/{res['report_positive_records']:<5d} "
            f"{res['chosen'][:8]:>8s} | "
            f"{f(cv.get('rule', {}).get('auc')):>11s} {f(cv.get('logistic', {}).get('auc')):>9s} "
            f"{f(sh['brier'], 4):>8s} "
            f"{f(sh['sensitivity'], 2):>5s} {f(sh['specificity'], 2):>5s} | {f(rep['auc']):>7s} "
            f"{f(rep['brier'], 4):>6s} "
            f"{f(rep['sensitivity'], 2):>5s} {f(rep['specificity'], 2):>5s}"
        )
    print(f"\nECG-QA noise items (templates 26-28); label parser reproduces {parser_ok}/{len(items)} answers")
    print(
        "threshold rule chosen on folds 1-8 ECG-QA items: "
        + strategy
        + " ("
        + ", ".join(f"{n} {v['tune_qa_exact_match']:.3f}" for n, v in strategy_scores.items())
        + ")"
    )
    for split in ("tune_oof", "report"):
        if split not in qa:
            continue
        s = qa[split]
        print(
            f"  {split:9s} n={s['n']:3d} exact match {s['exact_match']:.3f} "
            f"(majority answer {s['majority_exact_match']:.3f})"
        )
        for t, v in s["per_template"].items():
            print(
                f"    template {t}: n={v['n']:3d} ours {v['exact_match']:.3f}  "
                f"majority '{v['majority_answer']}' {v['majority_exact_match']:.3f}"
            )
        for a, v in s["per_attribute"].items():
            print(
                f"    {a:20s}: n={v['n']:3d} ours {v['exact_match']:.3f}  majority {v['majority_exact_match']:.3f}"
            )

    model = {
        "about": "cardioagent per-lead ECG noise kinds; fitted by bench/ptbxl_noise.py on PTB-XL records 1-250, "
        "strat_fold 1-8, labels = PTB-XL noise columns parsed per lead",
        "fitted": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "kinds": kinds_out,
    }
    if args.tune_only:  # the model only depends on folds 1-8; write it only where asked to
        for kind in NOISE_KINDS:
            print(kind, "single-feature AUC (tune):", results[kind].get("single_feature_auc_tune"))
            print(
                "   ",
                {
                    k: v
                    for k, v in kinds_out[kind].items()
                    if k in ("features", "coef", "threshold", "conditions")
                },
            )
        if args.model_out:
            args.model_out.write_text(json.dumps(model, indent=1) + "\n")
        return 0
    if not args.no_write_model:
        path = args.model_out or MODEL_PATH
        path.write_text(json.dumps(model, indent=1) + "\n")
        print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "ptbxl_noise",
                "command": ".venv/bin/python bench/ptbxl_noise.py",
                "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                },
                "data": {
                    "records": len(db),
                    "leads": len(rows),
                    "tune_split": "strat_fold 1-8 (patient-grouped 5-fold CV)",
                    "report_split": "strat_fold 9-10 (evaluated once with the model refitted on folds 1-8)",
                },
                "feature_seconds": round(t_feat, 1),
                "kinds": results,
                "ecgqa": qa,
                "model": model,
            },
            indent=1,
        )
    )
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
