"""From one night's epoch features to the model's design matrix (pure numpy).

Each epoch is described by its own features and by the same features averaged over centred windows of
neighbouring epochs (the sequence context: a still wrist for ten minutes says more than one still epoch).
The windows are taken in epoch order; epochs missing from the published feature files are not filled in.
"""

from __future__ import annotations

import numpy as np

CONTEXT_EPOCHS = (1, 5, 10, 20)  # half-widths of the centred windows, in epochs
SPREAD_EPOCHS = (10, 30)  # half-widths over which the heart-rate feature's own spread is measured


def _centred_mean(x: np.ndarray, half: int) -> np.ndarray:
    """Mean over x[i - half : i + half + 1], shrinking the window at the ends of the night."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    n = len(x)
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half + 1, 0, n)
    return (c[hi] - c[lo]) / (hi - lo)


def _centred_std(x: np.ndarray, half: int) -> np.ndarray:
    return np.sqrt(np.maximum(_centred_mean(x**2, half) - _centred_mean(x, half) ** 2, 0.0))


def design_matrix(features: np.ndarray, context: bool = True) -> np.ndarray:
    """``features`` (n, 4) with columns count, hr, cosine, time -> design matrix (n, k).

    Counts are heavy-tailed, so they enter as log(1 + count). With ``context`` the count and hr columns are
    added as centred means over each half-width of ``CONTEXT_EPOCHS``, the epoch's hr and count relative to
    their 10-epoch neighbourhood, the spread of hr over ``SPREAD_EPOCHS`` (REM and wake are more variable
    than NREM), and the time since the recording started (``time``, hours, and its square), the
    sleep-pressure proxy of the published feature set (Walch et al. 2019: deep sleep early, REM late).
    """
    f = np.asarray(features, dtype=float)
    count = np.log1p(np.clip(f[:, 0], 0.0, None))
    hr, cos = f[:, 1], f[:, 2]
    cols = [count, hr, cos, cos**2]
    if context:
        for half in CONTEXT_EPOCHS:
            cols += [_centred_mean(count, half), _centred_mean(hr, half)]
        cols.append(hr - _centred_mean(hr, 10))
        cols.append(count - _centred_mean(count, 10))
        cols += [_centred_std(hr, half) for half in SPREAD_EPOCHS]
        hours = f[:, 3]
        cols += [hours, hours**2]
    return np.column_stack(cols)
