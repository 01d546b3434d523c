"""ECG-QA's convention of "normal" for its numeric features, estimated from its tune items.

ECG-QA labels a numeric feature (RR, P duration, PR, QRS, QT, QTc; measured by its authors on lead II) normal
or abnormal against ranges its paper does not restate with the data here. A comparison item ("which features of
the second ECG became abnormal?") tells, for each feature in its answer, the state on both ECGs. This script
measures the six features with the project's own interval tool on the ECGs of the tune items (PTB-XL
strat_fold 1-8 only) and chooses, per feature, the (low, high) limits that best reproduce which features are in
the answers — a separable grid search, one feature at a time. It compares the fitted limits with the clinical
ranges by 5-fold cross-validation over tune items, writes the profile only when it is better there, and reports
exact match on the reporting items (all ECGs in folds 9-10) and the mixed ones, never looked at while fitting.

    .venv/bin/python bench/ecgqa_ranges.py        # writes tools/vocabulary/data/range_profiles.json
                                                  # and bench/results/ecgqa_ranges.json
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PTBXL = ROOT.parent / "shared" / "data" / "ptbxl_1_250"
QA = ROOT.parent / "shared" / "data" / "ecgqa_format_sample" / "ptbxl_1_250_template.json"
FEATURES = {
    "p duration": "p_duration",
    "pr interval": "pr",
    "qrs duration": "qrs",
    "qt corrected": "qtc",
    "qt interval": "qt",
    "rr interval": "rr",
}
FIELD = {"p_duration": "p_duration", "pr": "pr", "qrs": "qrs", "qtc": "qtc_bazett", "qt": "qt", "rr": "rr"}
WANTED = {68: (True, False), 69: (False, True), 70: (True, True)}  # (abnormal first, abnormal second)


def measure(ecg_ids: set[int]) -> dict[int, dict[str, float | None]]:
    from cardioagent.tools.analysis.intervals import intervals
    from cardioagent.tools.signal.loaders import load_files

    out = {}
    for e in sorted(ecg_ids):
        base = PTBXL / "records500" / f"{e // 1000 * 1000:05d}" / f"{e:05d}_hr"
        r = intervals(load_files([base.with_suffix(".hea"), base.with_suffix(".dat")])[0])
        out[e] = {q: getattr(r, f).value if getattr(r, f) is not None else None for q, f in FIELD.items()}
    return out


def abnormal(v, lo, hi):
    return None if v is None else bool((lo is not None and v < lo) or (hi is not None and v > hi))


def feature_hits(items, values, q, lo, hi) -> int:
    """Items whose membership of feature q in the answer the limits reproduce."""
    hits = 0
    name = next(k for k, v in FEATURES.items() if v == q)
    for it in items:
        a, b = it["ecg_id"]
        sa, sb = abnormal(values[a][q], lo, hi), abnormal(values[b][q], lo, hi)
        predicted = sa is not None and sb is not None and (sa, sb) == WANTED[it["template_id"]]
        hits += predicted == (name in it["answer"])
    return hits


def fit(items, values) -> dict[str, tuple[float | None, float | None]]:
    limits = {}
    for q in FEATURES.values():
        vals = sorted({v[q] for v in values.values() if v[q] is not None})
        lows = [None, *vals]
        highs = [None, *vals]
        best = max(
            (
                (feature_hits(items, values, q, lo, hi), -abs((lo or 0)), lo, hi)
                for lo in lows
                for hi in highs
                if lo is None or hi is None or lo < hi
            ),
            key=lambda t: t[:2],
        )
        limits[q] = (best[2], best[3])
    return limits


def exact(items, values, limits) -> float:
    if not items:
        return float("nan")
    ok = 0
    for it in items:
        a, b = it["ecg_id"]
        chosen = set()
        for name, q in FEATURES.items():
            lo, hi = limits[q]
            sa, sb = abnormal(values[a][q], lo, hi), abnormal(values[b][q], lo, hi)
            if sa is not None and sb is not None and (sa, sb) == WANTED[it["template_id"]]:
                chosen.add(name)
        ok += (chosen or {"none"}) == ({a.lower() for a in it["answer"]} or {"none"})
    return ok / len(items)


def clinical_limits() -> dict[str, tuple[float | None, float | None]]:
    from cardioagent.tools.vocabulary.quantities import profile_range

    return {q: (r.low, r.high) for q in FEATURES.values() if (r := profile_range(q, "clinical"))}


def main() -> int:
    if not QA.is_file():
        print("needs ../shared/data (ECG-QA items and PTB-XL records)", file=sys.stderr)
        return 0
    fold = {
        int(r["ecg_id"]): int(r["strat_fold"]) for r in csv.DictReader(open(PTBXL / "ptbxl_database.csv"))
    }
    items = [it for it in json.loads(QA.read_text()) if it["template_id"] in WANTED]
    split = {"tune": [], "report": [], "mixed": []}
    for it in items:
        fs = {fold[e] for e in it["ecg_id"]}
        split["tune" if fs <= set(range(1, 9)) else "report" if fs <= {9, 10} else "mixed"].append(it)
    values = measure({e for it in items for e in it["ecg_id"]})
    rng = np.random.default_rng(0)
    order = rng.permutation(len(split["tune"]))
    folds = np.array_split(order, 5)
    cv_fit, cv_clin = [], []
    clinical = clinical_limits()
    for k in range(5):
        test = [split["tune"][i] for i in folds[k]]
        train = [split["tune"][i] for j in range(5) if j != k for i in folds[j]]
        cv_fit.append(exact(test, values, fit(train, values)) * len(test))
        cv_clin.append(exact(test, values, clinical) * len(test))
    n_tune = len(split["tune"])
    limits = fit(split["tune"], values)
    report = {
        "n": {k: len(v) for k, v in split.items()},
        "cv_tune_exact_match": {
            "fitted": round(sum(cv_fit) / n_tune, 3),
            "clinical": round(sum(cv_clin) / n_tune, 3),
        },
        "limits_fitted_on_tune": {q: {"low": lo, "high": hi} for q, (lo, hi) in limits.items()},
        "clinical_limits": {q: {"low": lo, "high": hi} for q, (lo, hi) in clinical.items()},
        "exact_match": {
            s: {
                "fitted": round(exact(v, values, limits), 3),
                "clinical": round(exact(v, values, clinical), 3),
            }
            for s, v in split.items()
        },
        "command": "python bench/ecgqa_ranges.py",
    }
    report["shipped"] = report["cv_tune_exact_match"]["fitted"] > report["cv_tune_exact_match"]["clinical"]
    profiles_path = ROOT / "tools" / "vocabulary" / "data" / "range_profiles.json"
    if report["shipped"]:
        profiles_path.write_text(
            json.dumps(
                {
                    "_about": "estimated by bench/ecgqa_ranges.py from ECG-QA comparison items on "
                    "PTB-XL strat_fold 1-8; a benchmark's convention, not clinical ranges",
                    "ecgqa": {
                        q: {
                            "low": lo,
                            "high": hi,
                            "source": "ECG-QA convention estimated from its tune items "
                            "(bench/ecgqa_ranges.py)",
                        }
                        for q, (lo, hi) in limits.items()
                    },
                },
                indent=2,
            )
        )
    out = ROOT / "bench" / "results" / "ecgqa_ranges.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
