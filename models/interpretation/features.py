"""A fixed-length feature vector of one 12-lead ECG from the interpretation engine's own measurements.

The learned complement (``models.interpretation``) reads what ``ecg_intervals`` measured, nothing else: the
global QRS, axis, PR, QT/QTc, RR and P-wave duration, each standard lead's QRS waves (Q/R/S/R' amplitudes and
durations, R-peak time, terminal S, net area, notching) and ST-T levels (J, J+60, J+80, T amplitude), the two
voltage sums the hypertrophy criteria use (Sokolow-Lyon, Cornell), and the criteria's own scores per
diagnostic class (stacking: the model learns where the criteria are right, it does not replace them blind).
Missing values are NaN; the model imputes them.
"""

from __future__ import annotations

import math
from typing import Any

from cardioagent.tools.analysis.results import IntervalsResult

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
SHAPE_FIELDS = (
    "q_amplitude",
    "r_amplitude",
    "s_amplitude",
    "r_prime_amplitude",
    "q_ms",
    "r_ms",
    "terminal_s_ms",
    "r_peak_time_ms",
    "net_area",
)
ST_FIELDS = ("st_j", "st_60", "t_amplitude")
CLASSES = ("NORM", "MI", "STTC", "CD", "HYP")
NAN = float("nan")


def _value(m: Any) -> float:
    v = None if m is None else m.value
    return NAN if v is None else float(v)


def feature_names() -> list[str]:
    names = [
        "qrs_global_ms",
        "qrs_median_ms",
        "pr_ms",
        "qt_ms",
        "qtc_ms",
        "rr_ms",
        "p_duration_ms",
        "axis_sin",
        "axis_cos",
        "p_lead_share",
        "age",
        "male",
        "sokolow_mv",
        "cornell_mv",
    ]
    names += [f"{lead}.{f}" for lead in LEADS for f in (*SHAPE_FIELDS, "notched_r", *ST_FIELDS)]
    names += [f"criteria.{c}" for c in CLASSES]
    return names


def features(iv: IntervalsResult, sex: str | None, age: float | None, class_of: Any) -> list[float]:
    """The vector of ``feature_names()``; ``class_of(statement_id)`` gives a statement's PTB-XL diagnostic
    class (the vocabulary's), so the criteria's score per class can be stacked."""
    by_lead = {lead.lead.lower(): lead for lead in iv.leads}
    ax = _value(iv.qrs_axis)
    measured = [lead for lead in iv.leads if lead.p_wave_present is not None]
    row = [
        _value(iv.qrs_global),
        _value(iv.qrs),
        _value(iv.pr),
        _value(iv.qt),
        _value(iv.qtc_bazett),
        _value(iv.rr),
        _value(iv.p_duration),
        NAN if math.isnan(ax) else math.sin(math.radians(ax)),
        NAN if math.isnan(ax) else math.cos(math.radians(ax)),
        (sum(bool(lead.p_wave_present) for lead in measured) / len(measured)) if measured else NAN,
        NAN if age is None else float(age),
        NAN if sex is None else float(sex == "male"),
    ]
    shape = {n: by_lead[n.lower()].qrs_shape if n.lower() in by_lead else None for n in LEADS}
    st = {n: by_lead[n.lower()].st_t if n.lower() in by_lead else None for n in LEADS}

    def amp(lead: str, f: str) -> float:
        sh = shape[lead]
        v = None if sh is None else getattr(sh, f)
        return NAN if v is None else abs(float(v))

    r56 = max(
        (x for x in (amp("V5", "r_amplitude"), amp("V6", "r_amplitude")) if not math.isnan(x)), default=NAN
    )
    row.append(amp("V1", "s_amplitude") + r56)  # Sokolow-Lyon: S V1 + R V5/V6
    row.append(amp("aVL", "r_amplitude") + amp("V3", "s_amplitude"))  # Cornell: R aVL + S V3
    for lead in LEADS:
        sh, t = shape[lead], st[lead]
        for f in SHAPE_FIELDS:
            v = None if sh is None else getattr(sh, f)
            row.append(NAN if v is None else float(v))
        row.append(NAN if sh is None else float(sh.notched_r))
        for f in ST_FIELDS:
            v = None if t is None else getattr(t, f)
            row.append(NAN if v is None else float(v))
    score: dict[str, float] = {}
    for s in iv.statements:
        cls = class_of(s.id)
        if cls in CLASSES and s.verdict != "undetermined":
            p = s.probability if s.probability is not None else float(s.verdict == "present")
            score[cls] = max(score.get(cls, 0.0), float(p))
    row += [score.get(c, NAN) for c in CLASSES]
    return row
