"""The explicit numeric criteria of the knowledge base: which measured value supports or contradicts which
entry (``NUMERIC_RULES``), with the criterion as a reader sees it.

Its own module because both the retriever (``store``: a value in the query meets a criterion) and the
prompt builder (``ckepe``: evidence for a candidate label) read it, and neither should import the other.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field

Quantity = Literal[
    "heart_rate",  # bpm (ventricular rate unless stated)
    "pr",  # ms
    "qrs",  # QRS duration, ms
    "qt",  # ms
    "qtc",  # ms
    "p_duration",  # ms
    "p_amplitude",  # mV, lead II
    "qrs_axis",  # degrees, frontal plane
    "sokolow_lyon",  # mV, S V1 + R V5/V6
]
UNITS: dict[str, str] = {
    "heart_rate": "bpm",
    "pr": "ms",
    "qrs": "ms",
    "qt": "ms",
    "qtc": "ms",
    "p_duration": "ms",
    "p_amplitude": "mV",
    "qrs_axis": "°",
    "sokolow_lyon": "mV",
}
Verdict = Literal["supports", "contradicts", "borderline"]


class NumericRule(BaseModel):
    entry_id: str
    quantity: Quantity
    low: float = -math.inf
    high: float = math.inf
    low_inclusive: bool = True
    high_inclusive: bool = True
    criterion: str = Field(
        description="the criterion as a reader sees it, e.g. 'heart rate < 60 bpm (adults)'"
    )
    grey: float = 0.0
    contradicts: bool = True

    def holds(self, v: float) -> bool:
        above = v >= self.low if self.low_inclusive else v > self.low
        below = v <= self.high if self.high_inclusive else v < self.high
        return above and below

    def verdict(self, v: float) -> Verdict | None:
        if self.holds(v):
            return "supports"
        if not self.contradicts:
            return None
        if self.low - self.grey <= v <= self.high + self.grey:
            return "borderline"
        return "contradicts"


def _lt(entry_id: str, q: Quantity, x: float, criterion: str, **kw) -> NumericRule:
    return NumericRule(entry_id=entry_id, quantity=q, high=x, high_inclusive=False, criterion=criterion, **kw)


def _le(entry_id: str, q: Quantity, x: float, criterion: str, **kw) -> NumericRule:
    return NumericRule(entry_id=entry_id, quantity=q, high=x, criterion=criterion, **kw)


def _gt(entry_id: str, q: Quantity, x: float, criterion: str, **kw) -> NumericRule:
    return NumericRule(entry_id=entry_id, quantity=q, low=x, low_inclusive=False, criterion=criterion, **kw)


def _ge(entry_id: str, q: Quantity, x: float, criterion: str, **kw) -> NumericRule:
    return NumericRule(entry_id=entry_id, quantity=q, low=x, criterion=criterion, **kw)


def _in(entry_id: str, q: Quantity, lo: float, hi: float, criterion: str, **kw) -> NumericRule:
    return NumericRule(entry_id=entry_id, quantity=q, low=lo, high=hi, criterion=criterion, **kw)


HR: Quantity = "heart_rate"
PR: Quantity = "pr"
QRS: Quantity = "qrs"
QTC: Quantity = "qtc"

NUMERIC_RULES: list[NumericRule] = [
    # --- rate (adults) ---
    _lt("sinus_bradycardia", HR, 60, "heart rate < 60 bpm (adults)"),
    _lt("bradycardia", HR, 60, "heart rate < 60 bpm (adults)"),
    _gt("sinus_tachycardia", HR, 100, "heart rate > 100 bpm (adults)"),
    _in("sinus_rhythm", HR, 60, 100, "resting rate 60-100 bpm (adults)", grey=10),
    _gt("rapid_atrial_fibrillation", HR, 100, "ventricular rate > 100 bpm"),
    _gt("supraventricular_tachycardia", HR, 100, "heart rate > 100 bpm"),
    _gt("paroxysmal_supraventricular_tachycardia", HR, 100, "heart rate > 100 bpm"),
    _gt("atrioventricular_nodal_reentrant_tachycardia", HR, 100, "heart rate > 100 bpm"),
    _gt("atrioventricular_reentrant_tachycardia", HR, 100, "heart rate > 100 bpm"),
    _gt("atrial_tachycardia", HR, 100, "atrial rate > 100 bpm"),
    _gt("junctional_tachycardia", HR, 100, "heart rate > 100 bpm"),
    _in("accelerated_junctional_rhythm", HR, 60, 100, "heart rate 60-100 bpm", grey=10),
    _in("junctional_rhythm", HR, 40, 60, "escape rate 40-60 bpm (adults)", grey=10),
    _in("idioventricular_rhythm", HR, 20, 40, "ventricular rate about 20-40 bpm (adults)", grey=10),
    _in("accelerated_idioventricular_rhythm", HR, 40, 120, "ventricular rate about 40-120 bpm"),
    _gt("ventricular_tachycardia", HR, 100, "ventricular rate > 100 bpm"),
    _gt("paroxysmal_ventricular_tachycardia", HR, 100, "ventricular rate > 100 bpm"),
    _in("ventricular_flutter", HR, 250, 350, "ventricular rate about 250-350/min", grey=50),
    _lt("complete_heart_block", HR, 60, "escape rate 20-60 bpm (adults)", contradicts=False),
    # --- PR interval ---
    _gt("first_degree_av_block", PR, 200, "PR interval > 200 ms (adults)"),
    _lt("short_pr_interval", PR, 120, "PR interval < 120 ms (adults)"),
    _lt("wolff_parkinson_white_pattern", PR, 120, "PR interval < 120 ms (adults)"),
    _lt("ventricular_preexcitation", PR, 120, "PR interval < 120 ms (adults)"),
    # --- QRS duration ---
    _gt("wolff_parkinson_white_pattern", QRS, 110, "QRS usually > 110-120 ms", contradicts=False),
    _ge("left_bundle_branch_block", QRS, 120, "QRS duration >= 120 ms (adults)"),
    _ge("right_bundle_branch_block", QRS, 120, "QRS duration >= 120 ms (adults)"),
    _ge("bundle_branch_block", QRS, 120, "QRS duration >= 120 ms (adults)"),
    _in(
        "incomplete_right_bundle_branch_block",
        QRS,
        110,
        120,
        "QRS 110-119 ms (adults)",
        high_inclusive=False,
        grey=10,
    ),
    _in(
        "incomplete_left_bundle_branch_block",
        QRS,
        110,
        120,
        "QRS 110-119 ms (adults)",
        high_inclusive=False,
        grey=10,
    ),
    _gt("nonspecific_intraventricular_conduction_delay", QRS, 110, "QRS duration > 110 ms (adults)"),
    _lt("left_anterior_fascicular_block", QRS, 120, "QRS duration < 120 ms"),
    _lt("left_posterior_fascicular_block", QRS, 120, "QRS duration < 120 ms"),
    # --- QRS axis (frontal plane, adults) ---
    _in("left_axis_deviation", "qrs_axis", -90, -30, "QRS axis -30° to -90°", high_inclusive=False),
    _in("right_axis_deviation", "qrs_axis", 90, 180, "QRS axis +90° to +180°", low_inclusive=False),
    _in("left_anterior_fascicular_block", "qrs_axis", -90, -45, "QRS axis -45° to -90°", grey=15),
    _in("left_posterior_fascicular_block", "qrs_axis", 90, 180, "QRS axis +90° to +180°", grey=10),
    # --- QT ---
    _gt("prolonged_qt_interval", QTC, 460, "QTc > 460 ms (women; > 450 ms in men)", grey=20),
    _ge("marked_qt_prolongation", QTC, 500, "QTc >= 500 ms", grey=20),
    _le("short_qt_interval", QTC, 340, "QTc <= 340 ms (2015 ESC short QT syndrome)", grey=50),
    # --- P wave ---
    _ge("prolonged_p_wave", "p_duration", 120, "P-wave duration >= 120 ms (adults)", grey=10),
    _gt("tall_p_wave", "p_amplitude", 0.25, "P amplitude > 0.25 mV (2.5 mm) in II, III or aVF", grey=0.05),
    _gt("right_atrial_abnormality", "p_amplitude", 0.25, "P amplitude > 0.25 mV in II", contradicts=False),
    # --- voltage ---
    _ge(
        "left_ventricular_high_voltage",
        "sokolow_lyon",
        3.5,
        "Sokolow-Lyon S V1 + R V5/V6 >= 3.5 mV (35 mm)",
        contradicts=False,
    ),
    _ge(
        "left_ventricular_hypertrophy",
        "sokolow_lyon",
        3.5,
        "Sokolow-Lyon S V1 + R V5/V6 >= 3.5 mV (35 mm)",
        contradicts=False,
    ),
]
