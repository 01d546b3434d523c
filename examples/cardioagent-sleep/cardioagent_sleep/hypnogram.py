"""The hypnogram figure: stages over the night, with the probability of each stage underneath.

Built on ``matplotlib.figure.Figure`` with an Agg canvas (no pyplot: safe in servers and worker processes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Conventional hypnogram order, top to bottom: wake, REM, N1, N2, N3.
_ROWS = ("wake", "rem", "n1", "n2", "n3")
_LABELS = {"wake": "Wake", "rem": "REM", "n1": "N1", "n2": "N2", "n3": "N3"}
_COLOURS = {"wake": "#d95f02", "rem": "#7570b3", "n1": "#a6cee3", "n2": "#1f78b4", "n3": "#08306b"}


def draw_hypnogram(
    stages: list[str],
    proba: np.ndarray,
    out: Path,
    title: str = "",
    epoch_s: float = 30.0,
    reference: list[str] | None = None,
) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from cardioagent_sleep.stages import STAGES

    hours = np.arange(len(stages) + 1) * epoch_s / 3600.0
    level = {s: len(_ROWS) - 1 - i for i, s in enumerate(_ROWS)}
    fig = Figure(figsize=(10, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax, axp = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    y = [level[s] for s in stages]
    ax.step(hours, y + y[-1:], where="post", color="black", lw=1.2, label="estimated")
    if reference is not None and len(reference) == len(stages):
        yr = [level.get(s, np.nan) for s in reference]
        ax.step(
            hours, yr + yr[-1:], where="post", color="#e7298a", lw=0.8, alpha=0.7, label="reference (PSG)"
        )
        ax.legend(loc="lower right", fontsize=7)
    ax.set_yticks([level[s] for s in _ROWS], [_LABELS[s] for s in _ROWS])
    ax.set_ylim(-0.5, len(_ROWS) - 0.5)
    ax.set_title(title or "Estimated hypnogram (wrist heart rate + motion)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    bottom = np.zeros(len(stages))
    for s in ("n3", "n2", "n1", "rem", "wake"):
        p = proba[:, STAGES.index(s)]
        axp.bar(
            hours[:-1],
            p,
            width=epoch_s / 3600.0,
            bottom=bottom,
            align="edge",
            color=_COLOURS[s],
            label=_LABELS[s],
            linewidth=0,
        )
        bottom = bottom + p
    axp.set_ylim(0, 1)
    axp.set_ylabel("probability", fontsize=8)
    axp.set_xlabel("hours since start of recording")
    axp.legend(ncol=5, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.45), frameon=False)
    fig.text(
        0.01,
        0.01,
        "Estimate from a consumer wearable, not polysomnography. Not a medical device.",
        fontsize=7,
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    out = Path(out)
    fig.savefig(out)
    return out
