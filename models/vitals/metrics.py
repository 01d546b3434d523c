"""Agreement statistics for estimator reports (pure functions) and the report figure."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from pydantic import BaseModel


class Agreement(BaseModel):
    n: int
    mae: float | None
    rmse: float | None
    bias: float | None  # mean of (estimate - reference)
    loa_low: float | None  # Bland-Altman 95 % limits of agreement: bias -/+ 1.96 SD of the differences
    loa_high: float | None
    max_abs_error: float | None


def agreement(estimate, reference) -> Agreement:
    """MAE, RMSE, Bland-Altman bias and limits over the pairs where both numbers are finite."""
    e = np.asarray(estimate, dtype=float)
    r = np.asarray(reference, dtype=float)
    ok = np.isfinite(e) & np.isfinite(r)
    d = e[ok] - r[ok]
    if len(d) == 0:
        return Agreement(n=0, mae=None, rmse=None, bias=None, loa_low=None, loa_high=None, max_abs_error=None)
    sd = float(np.std(d, ddof=1)) if len(d) > 1 else 0.0
    bias = float(np.mean(d))
    return Agreement(
        n=len(d),
        mae=float(np.mean(np.abs(d))),
        rmse=float(np.sqrt(np.mean(d**2))),
        bias=bias,
        loa_low=bias - 1.96 * sd,
        loa_high=bias + 1.96 * sd,
        max_abs_error=float(np.max(np.abs(d))),
    )


def per_group_mae(groups, estimate, reference) -> dict[str, dict[str, float]]:
    """{group: {"n": windows, "mae": ...}} in first-seen order."""
    acc: dict[str, list[float]] = defaultdict(list)
    for g, e, r in zip(groups, estimate, reference, strict=False):
        if np.isfinite(e) and np.isfinite(r):
            acc[str(g)].append(abs(float(e) - float(r)))
    return {g: {"n": len(v), "mae": float(np.mean(v))} for g, v in acc.items()}


def rounded(obj, digits: int = 3):
    """Floats rounded for JSON reports (recursively)."""
    if isinstance(obj, float):
        return round(obj, digits)
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rounded(v, digits) for v in obj]
    return obj


def plot_agreement(estimate, reference, path: str | Path, title: str, unit: str) -> Path:
    """Scatter (estimate vs reference, identity line) beside a Bland-Altman plot, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e = np.asarray(estimate, dtype=float)
    r = np.asarray(reference, dtype=float)
    ok = np.isfinite(e) & np.isfinite(r)
    e, r = e[ok], r[ok]
    a = agreement(e, r)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
    ax1.scatter(r, e, s=6, alpha=0.5)
    if len(r):
        lo, hi = float(min(r.min(), e.min())), float(max(r.max(), e.max()))
        ax1.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax1.set_xlabel(f"reference ({unit})")
    ax1.set_ylabel(f"estimate ({unit})")
    ax1.set_title(f"MAE {a.mae:.2f} {unit}, n={a.n}" if a.mae is not None else "no data")
    m, d = (e + r) / 2, e - r
    ax2.scatter(m, d, s=6, alpha=0.5)
    if a.bias is not None:
        for y, style in ((a.bias, "-"), (a.loa_low, "--"), (a.loa_high, "--")):
            ax2.axhline(y, color="k", ls=style, lw=1)
    ax2.set_xlabel(f"mean of estimate and reference ({unit})")
    ax2.set_ylabel(f"estimate - reference ({unit})")
    ax2.set_title("Bland-Altman: bias and 95% limits")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
