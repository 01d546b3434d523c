"""One night from arrays to stages and sleep figures (pure numpy; no cardioagent imports).

``stage_features`` runs the shipped model on epoch features; ``night_from_series`` turns 1-s heart-rate and
motion series into those features after checking the night can be scored; ``sleep_figures`` computes the
summary figures from the stage sequence (definitions after the AASM Scoring Manual and Ohayon et al. 2004):

* time in bed (TIB): all scored epochs, start of the recording to its end;
* sleep onset latency (SOL): start of the recording to the first epoch scored as any sleep stage;
* total sleep time (TST): epochs scored N1, N2, N3 or REM;
* sleep efficiency (SE): TST / TIB;
* wake after sleep onset (WASO): wake epochs after sleep onset, to the end of the recording;
* stage percentages: N1, N2, N3, REM as % of TST (as polysomnography reports give them); wake as % of TIB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cardioagent_sleep.features import EPOCH_S, epoch_features
from cardioagent_sleep.model import StagerWeights, predict_proba
from cardioagent_sleep.stages import FOUR, STAGES, THREE, TWO, collapse_proba

MIN_NIGHT_S = (
    2 * 3600.0
)  # the features look 5 min either side; a couple of hours is the least that means a night
MAX_NIGHT_S = 16 * 3600.0
MAX_GAP_S = 10 * 60.0  # longest stretch without heart rate or motion that is bridged by interpolation
MAX_MISSING = 0.10
# Daytime wear: the median count feature of the 21 training nights is 0.00-0.04 (their 90th percentiles 1.2-16.9);
# a recording whose median epoch is this active is not a night in bed. A heuristic: no daytime recordings were
# available to tune it, so it only catches clearly active wear (a seated day may pass).
DAYTIME_MEDIAN_COUNT = 5.0


class NightProblem(ValueError):
    """Why a night cannot be scored; ``kind`` is one of too_short, too_long, gaps, daytime."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Staged:
    proba: np.ndarray  # (n, 5)
    stages: list[str]
    stages_three: list[str]
    stages_four: list[str]
    stages_two: list[str]
    features: np.ndarray
    epoch_starts_s: np.ndarray
    notes: list[str] = field(default_factory=list)


def stage_features(
    features: np.ndarray, epoch_starts_s: np.ndarray | None = None, weights: StagerWeights | None = None
) -> Staged:
    p = predict_proba(features, weights)
    labels = lambda view, names: [names[i] for i in collapse_proba(p, view).argmax(1)]  # noqa: E731
    starts = epoch_starts_s if epoch_starts_s is not None else np.arange(len(p)) * EPOCH_S
    return Staged(
        p,
        labels("five", STAGES),
        labels("three", THREE),
        labels("four", FOUR),
        labels("two", TWO),
        np.asarray(features),
        np.asarray(starts, float),
    )


def _longest_nan_run(x: np.ndarray) -> int:
    bad = np.concatenate([[0], (~np.isfinite(x)).astype(int), [0]])
    d = np.diff(bad)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return int((ends - starts).max()) if len(starts) else 0


def _gap_notes(name: str, t: np.ndarray, x: np.ndarray) -> list[str]:
    step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    run_s = _longest_nan_run(x) * step
    missing = float(np.mean(~np.isfinite(x))) if len(x) else 1.0
    if run_s > MAX_GAP_S or missing > MAX_MISSING:
        raise NightProblem(
            "gaps",
            f"{name} is missing for {run_s / 60:.0f} min in a row ({missing:.0%} of the "
            f"night); at most {MAX_GAP_S / 60:g} min in a row and {MAX_MISSING:.0%} in all "
            "can be bridged",
        )
    if missing > 0:
        return [
            f"{name} missing for {missing:.1%} of the night (longest gap {run_s / 60:.1f} min), bridged by "
            "linear interpolation"
        ]
    return []


def check_night(t_hr: np.ndarray, hr: np.ndarray, t_counts: np.ndarray, counts: np.ndarray) -> list[str]:
    """Raise ``NightProblem`` when the series cannot be a scoreable night; return notes otherwise."""
    duration = float(t_hr[-1] - t_hr[0]) if len(t_hr) else 0.0
    if duration < MIN_NIGHT_S:
        raise NightProblem(
            "too_short",
            f"the recording lasts {duration / 3600:.2f} h; sleep staging needs at least "
            f"{MIN_NIGHT_S / 3600:g} h of a night",
        )
    if duration > MAX_NIGHT_S:
        raise NightProblem(
            "too_long",
            f"the recording lasts {duration / 3600:.1f} h, more than one night "
            f"({MAX_NIGHT_S / 3600:g} h); cut it to the time in bed",
        )
    return _gap_notes("heart rate", t_hr, hr) + _gap_notes("motion", t_counts, counts)


def night_from_series(
    t_hr: np.ndarray,
    hr: np.ndarray,
    t_counts: np.ndarray,
    counts: np.ndarray,
    epoch_origin_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Heart rate and activity counts (1 s or irregular, NaN in gaps, one clock) -> (epoch starts, features,
    notes).

    Epochs start at ``epoch_origin_s`` (default: the first heart-rate time stamp) every 30 s and must end
    before the last sample. Gaps are bridged by interpolation after ``check_night`` accepted them.
    """
    t_hr, hr, t_counts, counts = (np.asarray(a, dtype=float) for a in (t_hr, hr, t_counts, counts))
    notes = check_night(t_hr, hr, t_counts, counts)
    ok_hr, ok_c = np.isfinite(hr), np.isfinite(counts)
    origin = float(t_hr[0] if epoch_origin_s is None else epoch_origin_s)
    end = min(t_hr[ok_hr][-1], t_counts[ok_c][-1])
    starts = origin + EPOCH_S * np.arange(int(np.floor((end - origin) / EPOCH_S)))
    feats = epoch_features(t_hr[ok_hr], hr[ok_hr], t_counts[ok_c], counts[ok_c], starts)
    median_count = float(np.median(feats[:, 0]))
    if median_count > DAYTIME_MEDIAN_COUNT:
        raise NightProblem(
            "daytime",
            f"the wrist moves like a day, not a night in bed: the median epoch has an "
            f"activity-count feature of {median_count:.1f}, where the nights the model "
            f"learned from stay below {DAYTIME_MEDIAN_COUNT:g}",
        )
    return starts, feats, notes


def sleep_figures(stages: list[str], epoch_s: float = EPOCH_S) -> dict[str, float | None]:
    """TIB, SOL, TST, SE, WASO in minutes / % and stage percentages; None where undefined (no sleep)."""
    s = np.asarray(stages)
    n = len(s)
    minutes = epoch_s / 60.0
    asleep = s != "wake"
    tib = n * minutes
    tst = float(asleep.sum()) * minutes
    out: dict[str, float | None] = {
        "time_in_bed_min": tib,
        "total_sleep_time_min": tst,
        "sleep_efficiency_pct": 100.0 * tst / tib if tib else None,
    }
    if asleep.any():
        onset = int(np.argmax(asleep))
        out["sleep_onset_latency_min"] = onset * minutes
        out["waso_min"] = float((~asleep[onset:]).sum()) * minutes
    else:
        out["sleep_onset_latency_min"] = None
        out["waso_min"] = None
    for st in ("n1", "n2", "n3", "rem"):
        out[f"{st}_pct_of_sleep"] = (
            100.0 * float((s == st).sum()) / float(asleep.sum()) if asleep.any() else None
        )
    out["wake_pct_of_bed"] = 100.0 * float((~asleep).sum()) / n if n else None
    return out
