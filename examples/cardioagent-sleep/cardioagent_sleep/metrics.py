"""Agreement figures for epoch-by-epoch staging (pure numpy)."""

from __future__ import annotations

import numpy as np


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.asarray(y) == np.asarray(p))) if len(y) else float("nan")


def cohen_kappa(y: np.ndarray, p: np.ndarray, k: int) -> float:
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=int)
    if len(y) == 0:
        return float("nan")
    m = np.zeros((k, k))
    np.add.at(m, (y, p), 1)
    n = m.sum()
    po = np.trace(m) / n
    pe = float((m.sum(0) * m.sum(1)).sum()) / n**2
    return float((po - pe) / (1 - pe)) if pe < 1 else 0.0


def wake_sens_spec(y_wake: np.ndarray, called_wake: np.ndarray) -> tuple[float, float]:
    """(sleep sensitivity, wake specificity) in Walch et al.'s sense: sleep epochs called sleep, and wake
    epochs called wake ("wake caught")."""
    y_wake, called_wake = np.asarray(y_wake, bool), np.asarray(called_wake, bool)
    sleep_sens = float(np.mean(~called_wake[~y_wake])) if (~y_wake).any() else float("nan")
    wake_spec = float(np.mean(called_wake[y_wake])) if y_wake.any() else float("nan")
    return sleep_sens, wake_spec


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """ECE of the top-class probability: |confidence - accuracy| averaged over equal-width bins."""
    conf = proba.max(1)
    hit = proba.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(conf[m].mean() - hit[m].mean())
    return float(ece)


def brier(proba: np.ndarray, y: np.ndarray) -> float:
    onehot = np.eye(proba.shape[1])[y]
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
