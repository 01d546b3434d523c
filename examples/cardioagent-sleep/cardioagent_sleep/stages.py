"""Stage labels and their collapses (pure, no dependencies beyond numpy).

The model predicts five classes, in this order: wake, N1, N2, N3, REM (AASM; the published labels' N4 is
merged into N3, as AASM 2007 merged them). Coarser views are sums of the five probabilities, so they are
never finer than what was predicted: wake/NREM/REM, wake/light/deep/REM (light = N1 + N2) and sleep/wake.
"""

from __future__ import annotations

import numpy as np

STAGES = ("wake", "n1", "n2", "n3", "rem")
# Published label codes (Walch et al. 2019, psg_labels): 0 W, 1 N1, 2 N2, 3 N3, 4 N4, 5 REM; -1 unscored.
PSG_CODE_TO_STAGE = {0: 0, 1: 1, 2: 2, 3: 3, 4: 3, 5: 4}

THREE = ("wake", "nrem", "rem")
FOUR = ("wake", "light", "deep", "rem")
TWO = ("sleep", "wake")
_THREE_OF = np.array([0, 1, 1, 1, 2])
_FOUR_OF = np.array([0, 1, 1, 2, 3])


def stage_index_from_psg(codes: np.ndarray) -> np.ndarray:
    """Published PSG codes -> indices into ``STAGES`` (-1 for unscored or unknown)."""
    codes = np.asarray(codes).astype(int)
    return np.array([PSG_CODE_TO_STAGE.get(int(c), -1) for c in codes], dtype=int)


def collapse_index(idx: np.ndarray, view: str) -> np.ndarray:
    idx = np.asarray(idx, dtype=int)
    if view == "five":
        return idx
    if view == "three":
        return _THREE_OF[idx]
    if view == "four":
        return _FOUR_OF[idx]
    if view == "two":  # 0 sleep, 1 wake
        return (idx == 0).astype(int)
    raise ValueError(view)


def collapse_proba(p: np.ndarray, view: str) -> np.ndarray:
    """Sum the five-class probabilities (n, 5) into a coarser view."""
    p = np.asarray(p, dtype=float)
    if view == "five":
        return p
    if view == "three":
        return np.column_stack([p[:, 0], p[:, 1:4].sum(1), p[:, 4]])
    if view == "four":
        return np.column_stack([p[:, 0], p[:, 1:3].sum(1), p[:, 3], p[:, 4]])
    if view == "two":
        return np.column_stack([1.0 - p[:, 0], p[:, 0]])
    raise ValueError(view)
