"""The shipped sleep-stage model, evaluated with numpy only: a multinomial logistic regression over the design
matrix of ``design.py`` and, when the weights say so, forward-backward smoothing over the night with a
stage-transition matrix (a hidden Markov model whose emissions are the regression's posteriors divided by
the class priors). Weights and their metadata (training data, cross-validation figures, attribution) live
in ``weights/sleep_stager.json``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from cardioagent_sleep.design import design_matrix
from cardioagent_sleep.stages import STAGES

WEIGHTS = Path(__file__).parent / "weights" / "sleep_stager.json"


class StagerWeights(BaseModel):
    classes: list[str] = Field(description="output classes, in order")
    context: bool = Field(description="design matrix with neighbouring-epoch windows")
    mean: list[float]
    scale: list[float]
    coef: list[list[float]] = Field(description="(n_classes, n_features)")
    intercept: list[float]
    smoothing: bool = Field(description="forward-backward smoothing over the night")
    transition: list[list[float]] | None = None
    prior: list[float] | None = None
    wake_threshold: float = Field(
        description="P(wake) above which an epoch is called wake in the sleep/wake view"
    )
    metadata: dict = Field(default_factory=dict)


@lru_cache(maxsize=2)
def load_weights(path: str | None = None) -> StagerWeights:
    return StagerWeights.model_validate(json.loads(Path(path or WEIGHTS).read_text()))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def forward_backward(posteriors: np.ndarray, transition: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Smoothed state probabilities of an HMM whose scaled emission likelihoods are posterior / prior."""
    emis = posteriors / prior[None, :]
    n, k = emis.shape
    alpha = np.zeros((n, k))
    a = prior * emis[0]
    alpha[0] = a / a.sum()
    for i in range(1, n):
        a = (alpha[i - 1] @ transition) * emis[i]
        alpha[i] = a / a.sum()
    beta = np.ones((n, k))
    for i in range(n - 2, -1, -1):
        b = transition @ (emis[i + 1] * beta[i + 1])
        beta[i] = b / b.sum()
    g = alpha * beta
    return g / g.sum(axis=1, keepdims=True)


def predict_proba(features: np.ndarray, weights: StagerWeights | None = None) -> np.ndarray:
    """One night's epoch features (n, 4: count, hr, cosine, time) -> stage probabilities (n, 5)."""
    w = weights or load_weights()
    if list(w.classes) != list(STAGES):
        raise ValueError(f"weights predict {w.classes}, expected {list(STAGES)}")
    x = (design_matrix(features, context=w.context) - np.asarray(w.mean)) / np.asarray(w.scale)
    p = softmax(x @ np.asarray(w.coef).T + np.asarray(w.intercept))
    if w.smoothing and w.transition is not None and w.prior is not None:
        p = forward_backward(p, np.asarray(w.transition), np.asarray(w.prior))
    return p
