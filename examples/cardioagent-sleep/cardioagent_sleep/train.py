"""Train the sleep stager on the published epoch features and cross-validate it leaving one subject out.

    python -m cardioagent_sleep.train ../shared/data/sleep_applewatch_walch/epoch_features [--write]

Data: Walch et al. 2019 (SLEEP, doi:10.1093/sleep/zsz180), PhysioNet sleep-accel (doi:10.13026/hmhs-py35),
ODC-By 1.0: 21 Apple Watch nights with polysomnography. Deterministic: the regressions are convex and
solved by Newton steps, the folds are the subjects in sorted order, and ``SEED`` seeds everything that could
draw random numbers, so runs give the same weights.

Candidates compared in the same leave-subject-out folds:
* ``per_epoch``   logistic regression on each epoch's own features;
* ``context``     the same over features of the neighbouring epochs (centred windows, ``design.py``);
* ``context_hmm`` ``context`` followed by forward-backward smoothing over the night with a stage-transition
                  matrix counted on the training nights.
The wake threshold of the sleep/wake view is chosen inside the training folds only: the 90th percentile of
the training nights' out-of-fold P(wake) over their sleep epochs (an inner leave-one-night-out; aiming at
>= 90 % of sleep called sleep); the held-out night never sets it.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cardioagent_sleep.design import design_matrix
from cardioagent_sleep.model import WEIGHTS, StagerWeights, forward_backward, softmax
from cardioagent_sleep.stages import STAGES, stage_index_from_psg

SEED = 20190101
CANDIDATES = {
    "per_epoch": dict(context=False, smoothing=False),
    "context": dict(context=True, smoothing=False),
    "context_hmm": dict(context=True, smoothing=True),
}
SLEEP_SENSITIVITY = 0.90
ATTRIBUTION = (
    "Trained on the Apple Watch sleep data of Walch O, Huang Y, Forger D, Goldstein C. SLEEP "
    "2019;42(12):zsz180 (doi:10.1093/sleep/zsz180), PhysioNet sleep-accel "
    "(doi:10.13026/hmhs-py35), ODC-By 1.0; features as produced by github.com/ojwalch/sleep_classifiers."
)
FEATURE_FILES = ("count", "hr", "cosine", "time")


@dataclass
class Night:
    subject: str
    features: np.ndarray  # (n, 4): count, hr, cosine, time
    stages: np.ndarray  # (n,) indices into STAGES, -1 unscored


def subjects_in(folder: Path) -> list[str]:
    return sorted(p.name.split("_")[0] for p in Path(folder).glob("*_psg_labels.out"))


def read_feature_files(folder: Path, subject: str) -> np.ndarray:
    cols = [np.atleast_1d(np.loadtxt(Path(folder) / f"{subject}_{k}_feature.out")) for k in FEATURE_FILES]
    if len({len(c) for c in cols}) != 1:
        raise ValueError(f"subject {subject}: feature files have different lengths {[len(c) for c in cols]}")
    return np.column_stack(cols)


def load_nights(folder: Path) -> list[Night]:
    nights = []
    for s in subjects_in(folder):
        f = read_feature_files(folder, s)
        y = stage_index_from_psg(np.loadtxt(Path(folder) / f"{s}_psg_labels.out"))
        nights.append(Night(s, f, y))
    return nights


def _scored(n: Night) -> tuple[np.ndarray, np.ndarray]:
    """Design matrix computed over the whole night (context needs the neighbours), then scored epochs."""
    return n.features, n.stages


def transition_matrix(nights: list[Night]) -> np.ndarray:
    k = len(STAGES)
    m = np.ones((k, k))  # add-one: no transition is impossible
    for n in nights:
        y = n.stages
        ok = (y[:-1] >= 0) & (y[1:] >= 0)
        np.add.at(m, (y[:-1][ok], y[1:][ok]), 1)
    return m / m.sum(axis=1, keepdims=True)


def _fit_lr(nights: list[Night], context: bool):
    from sklearn.linear_model import LogisticRegression

    X = np.vstack([design_matrix(n.features, context) for n in nights])
    y = np.concatenate([n.stages for n in nights])
    keep = y >= 0
    X, y = X[keep], y[keep]
    mean, scale = X.mean(0), X.std(0)
    scale[scale == 0] = 1.0
    # newton-cholesky: a few exact Newton steps; lbfgs needs hundreds of iterations on the correlated context
    # windows (26 s a fit against 1-3 s).
    lr = LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=200, random_state=SEED)
    lr.fit((X - mean) / scale, y)
    if list(lr.classes_) != list(range(len(STAGES))):
        raise ValueError(f"training nights lack a stage: classes {lr.classes_}")
    return mean, scale, lr.coef_, lr.intercept_


def _weights(
    nights: list[Night], context: bool, smoothing: bool, wake_threshold: float = 0.5
) -> StagerWeights:
    mean, scale, coef, intercept = _fit_lr(nights, context)
    y = np.concatenate([n.stages for n in nights])
    prior = np.bincount(y[y >= 0], minlength=len(STAGES)) / float((y >= 0).sum())
    return StagerWeights(
        classes=list(STAGES),
        context=context,
        mean=mean.tolist(),
        scale=scale.tolist(),
        coef=coef.tolist(),
        intercept=intercept.tolist(),
        smoothing=smoothing,
        transition=transition_matrix(nights).tolist() if smoothing else None,
        prior=prior.tolist() if smoothing else None,
        wake_threshold=wake_threshold,
    )


def night_proba(n: Night, w: StagerWeights) -> np.ndarray:
    x = (design_matrix(n.features, w.context) - np.asarray(w.mean)) / np.asarray(w.scale)
    p = softmax(x @ np.asarray(w.coef).T + np.asarray(w.intercept))
    if w.smoothing:
        p = forward_backward(p, np.asarray(w.transition), np.asarray(w.prior))
    return p


def wake_threshold_inside(nights: list[Night], context: bool, smoothing: bool) -> float:
    """P(wake) threshold giving 90 % sleep sensitivity on the training nights, from their out-of-fold
    predictions (each training night scored by a model fitted on the others): in-sample predictions are
    sharper than held-out ones, and a threshold read from them misses the target on a new night."""
    p_wake_sleep = []
    for i, held in enumerate(nights):
        w = _weights(nights[:i] + nights[i + 1 :], context, smoothing)
        p_wake_sleep.append(night_proba(held, w)[:, 0][held.stages > 0])
    return float(np.quantile(np.concatenate(p_wake_sleep), SLEEP_SENSITIVITY))


def fit(nights: list[Night], context: bool, smoothing: bool) -> StagerWeights:
    w = _weights(nights, context, smoothing)
    w.wake_threshold = wake_threshold_inside(nights, context, smoothing)
    return w


def cross_validate(nights: list[Night], context: bool, smoothing: bool) -> list[dict]:
    """Leave one subject out: per held-out night its probabilities, labels, the fold's wake threshold and the
    fold's majority class (the baseline)."""
    out = []
    for i, held in enumerate(nights):
        train = nights[:i] + nights[i + 1 :]
        w = fit(train, context, smoothing)
        ytr = np.concatenate([n.stages for n in train])
        majority = int(np.bincount(ytr[ytr >= 0]).argmax())
        out.append(
            dict(
                subject=held.subject,
                proba=night_proba(held, w),
                stages=held.stages,
                wake_threshold=w.wake_threshold,
                majority=majority,
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="epoch_features folder of the Walch et al. data")
    ap.add_argument("--write", action="store_true", help=f"write the shipped weights to {WEIGHTS}")
    ap.add_argument(
        "--cv-json", type=Path, default=None, help="bench JSON whose figures go into the metadata"
    )
    args = ap.parse_args(argv)
    np.random.seed(SEED)
    nights = load_nights(args.folder)
    best = "context_hmm"
    cfg = CANDIDATES[best]
    if args.cv_json and args.cv_json.exists():
        bench = json.loads(args.cv_json.read_text())
        best = bench["shipped"]
        cfg = CANDIDATES[best]
        cv = {
            "source": "bench/sleep_staging_bench.py (leave-one-subject-out, 21 nights)",
            "pooled": bench["candidates"][best]["pooled"],
            "baseline": bench["baseline"]["pooled"],
            "night_figures_mae": bench["candidates"][best]["night_figures"]["mae"],
            "compared": {k: v["pooled"]["three"] for k, v in bench["candidates"].items()},
        }
    else:
        cv = {}
    w = fit(nights, **cfg)
    w.metadata = {
        "model": best,
        "config": cfg,
        "seed": SEED,
        "features": list(FEATURE_FILES),
        "training_data": f"{len(nights)} nights (subjects {', '.join(n.subject for n in nights)}), "
        f"{int(sum((n.stages >= 0).sum() for n in nights))} scored 30-s epochs",
        "labels": "PSG stages W, N1, N2, N3 (incl. N4), REM",
        "cross_validation": cv,
        "attribution": ATTRIBUTION,
        "licence": "weights derived from ODC-By 1.0 data; attribute as above",
    }
    print(json.dumps({k: v for k, v in w.metadata.items() if k != "attribution"}, indent=1))
    if args.write:
        WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
        WEIGHTS.write_text(json.dumps(w.model_dump(), indent=1))
        print(f"wrote {WEIGHTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
