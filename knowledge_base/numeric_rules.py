"""The explicit numeric criteria of the knowledge base: which measured value supports or contradicts which
entry (``NUMERIC_RULES``), with the criterion as a reader sees it and its published source.

Its own module because both the retriever (``store``: a value in the query meets a criterion) and the
prompt builder (``ckepe``: evidence for a candidate label) read it, and neither should import the other.

Two kinds of rule:
- *range rules* (``from_range`` set): the finding is "outside the normal range" by definition (bradycardia,
  first-degree AV block, prolonged or short QTc, ...). The threshold is not written here: it is read from
  the clinical vocabulary's normal range of the quantity (``tools.vocabulary.quantities``), limit and
  whether the limit itself is normal, so the two cannot disagree and changing the vocabulary changes the
  rule. Sex-specific limits (QTc) give one rule per sex (``sex``).
- *diagnostic rules*: criteria of their own that are not a normal-range limit (complete bundle branch block
  QRS >= 120 ms, Sokolow-Lyon >= 3.5 mV, ventricular tachycardia > 100 bpm), written here with ``source``.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field

from cardioagent.tools.vocabulary.quantities import (
    AHA_2009_ATRIAL,
    AHA_2009_CONDUCTION,
    GOLDBERGER,
    NormalRange,
    normal_range,
)

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
FromRange = Literal["below", "within", "above"]

# Sources of the diagnostic rules (the range rules carry the vocabulary range's source).
PAGE_2015 = (
    "Page RL, Joglar JA, Caldwell MA, et al. 2015 ACC/AHA/HRS Guideline for the Management of Adult Patients "
    "With Supraventricular Tachycardia. Circulation 2016;133:e506-e574"
)
AL_KHATIB_2017 = (
    "Al-Khatib SM, Stevenson WG, Ackerman MJ, et al. 2017 AHA/ACC/HRS Guideline for Management of Patients "
    "With Ventricular Arrhythmias and the Prevention of Sudden Cardiac Death. Circulation 2018;138:e272-e391"
)
CHOU_2008 = (
    "Surawicz B, Knilans TK. Chou's Electrocardiography in Clinical Practice, 6th ed. Saunders Elsevier, 2008"
)
DREW_2010 = (
    "Drew BJ, Ackerman MJ, Funk M, et al. Prevention of torsade de pointes in hospital settings: a "
    "scientific statement from the AHA and the ACCF. Circulation 2010;121:1047-1060"
)
SOKOLOW_LYON_1949 = (
    "Sokolow M, Lyon TP. The ventricular complex in left ventricular hypertrophy as obtained by unipolar "
    "precordial and limb leads. Am Heart J 1949;37:161-186"
)


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
    source: str = Field(default="", description="the published source of the threshold")
    from_range: FromRange | None = Field(
        default=None,
        description="the threshold is the vocabulary's normal-range limit: 'below' the range (its low limit "
        "is this rule's high), 'above' it (high limit -> low), or 'within' it; None for a diagnostic rule",
    )
    sex: str | None = Field(default=None, description="'male' | 'female' for a sex-specific limit")

    def holds(self, v: float) -> bool:
        above = v >= self.low if self.low_inclusive else v > self.low
        below = v <= self.high if self.high_inclusive else v < self.high
        return above and below

    def threshold(self) -> float:
        """The limit a range rule reads from the vocabulary (its bound next to the normal range)."""
        return self.high if self.from_range == "below" else self.low

    def verdict(self, v: float) -> Verdict | None:
        if self.holds(v):
            return "supports"
        if not self.contradicts:
            return None
        if self.low - self.grey <= v <= self.high + self.grey:
            return "borderline"
        return "contradicts"


def _op(inclusive: bool, below: bool) -> str:
    return ("<=" if inclusive else "<") if below else (">=" if inclusive else ">")


def _range_of(q: Quantity, sex: str | None) -> NormalRange:
    """The vocabulary's adult normal range of a rule quantity (age unknown: the adult range)."""
    return normal_range(q, sex)


def _below_normal(entry_id: str, q: Quantity, criterion: str, sex: str | None = None, **kw) -> NumericRule:
    """Holds below the vocabulary's normal range of ``q``; ``criterion`` has ``{op}`` and ``{x}`` for the
    limit as read ("heart rate {op} {x} bpm" -> "heart rate < 60 bpm")."""
    return _outside_normal(entry_id, q, criterion, "below", sex, **kw)


def _above_normal(entry_id: str, q: Quantity, criterion: str, sex: str | None = None, **kw) -> NumericRule:
    """Holds above the vocabulary's normal range of ``q`` (``criterion`` as for ``_below_normal``)."""
    return _outside_normal(entry_id, q, criterion, "above", sex, **kw)


def _outside_normal(
    entry_id: str, q: Quantity, criterion: str, side: Literal["below", "above"], sex: str | None, **kw
) -> NumericRule:
    rng = _range_of(q, sex)
    below = side == "below"
    limit, normal_inclusive = (rng.low, rng.low_inclusive) if below else (rng.high, rng.high_inclusive)
    if limit is None:
        raise ValueError(f"the normal range of {q} has no {'low' if below else 'high'} limit")
    inclusive = not normal_inclusive  # the limit is abnormal when the range excludes it
    rule = NumericRule(
        entry_id=entry_id,
        quantity=q,
        criterion=criterion.format(op=_op(inclusive, below=below), x=f"{limit:g}"),
        source=rng.source,
        from_range=side,
        sex=sex,
        **kw,
    )
    # the abnormal side of the limit: below the range it is the rule's high bound, above it its low bound
    if below:
        return rule.model_copy(update={"high": limit, "high_inclusive": inclusive})
    return rule.model_copy(update={"low": limit, "low_inclusive": inclusive})


def _within_normal(entry_id: str, q: Quantity, criterion: str, **kw) -> NumericRule:
    """Holds inside the vocabulary's normal range of ``q``; ``criterion`` has ``{low}`` and ``{high}``."""
    rng = _range_of(q, None)
    return NumericRule(
        entry_id=entry_id,
        quantity=q,
        low=-math.inf if rng.low is None else rng.low,
        high=math.inf if rng.high is None else rng.high,
        low_inclusive=rng.low_inclusive,
        high_inclusive=rng.high_inclusive,
        criterion=criterion.format(low=f"{rng.low:g}", high=f"{rng.high:g}"),
        source=rng.source,
        from_range="within",
        **kw,
    )


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
AXIS: Quantity = "qrs_axis"


def build_rules() -> list[NumericRule]:
    """The rule table, range rules read from the vocabulary as it is now (``NUMERIC_RULES`` is built once at
    import; a test rebuilds it after changing a range)."""
    return [
        # --- rate (adults) ---
        _below_normal("sinus_bradycardia", HR, "heart rate {op} {x} bpm (adults)"),
        _below_normal("bradycardia", HR, "heart rate {op} {x} bpm (adults)"),
        _above_normal("sinus_tachycardia", HR, "heart rate {op} {x} bpm (adults)"),
        _within_normal("sinus_rhythm", HR, "resting rate {low}-{high} bpm (adults)", grey=10),
        _gt("rapid_atrial_fibrillation", HR, 100, "ventricular rate > 100 bpm", source=GOLDBERGER),
        _gt("supraventricular_tachycardia", HR, 100, "heart rate > 100 bpm", source=PAGE_2015),
        _gt("paroxysmal_supraventricular_tachycardia", HR, 100, "heart rate > 100 bpm", source=PAGE_2015),
        _gt(
            "atrioventricular_nodal_reentrant_tachycardia", HR, 100, "heart rate > 100 bpm", source=PAGE_2015
        ),
        _gt("atrioventricular_reentrant_tachycardia", HR, 100, "heart rate > 100 bpm", source=PAGE_2015),
        _gt("atrial_tachycardia", HR, 100, "atrial rate > 100 bpm", source=PAGE_2015),
        _gt("junctional_tachycardia", HR, 100, "heart rate > 100 bpm", source=PAGE_2015),
        _in("accelerated_junctional_rhythm", HR, 60, 100, "heart rate 60-100 bpm", grey=10, source=CHOU_2008),
        _in("junctional_rhythm", HR, 40, 60, "escape rate 40-60 bpm (adults)", grey=10, source=CHOU_2008),
        _in(
            "idioventricular_rhythm",
            HR,
            20,
            40,
            "ventricular rate about 20-40 bpm (adults)",
            grey=10,
            source=CHOU_2008,
        ),
        _in(
            "accelerated_idioventricular_rhythm",
            HR,
            40,
            120,
            "ventricular rate about 40-120 bpm",
            source=CHOU_2008,
        ),
        _gt("ventricular_tachycardia", HR, 100, "ventricular rate > 100 bpm", source=AL_KHATIB_2017),
        _gt(
            "paroxysmal_ventricular_tachycardia",
            HR,
            100,
            "ventricular rate > 100 bpm",
            source=AL_KHATIB_2017,
        ),
        _in(
            "ventricular_flutter",
            HR,
            250,
            350,
            "ventricular rate about 250-350/min",
            grey=50,
            source=CHOU_2008,
        ),
        _lt(
            "complete_heart_block",
            HR,
            60,
            "escape rate 20-60 bpm (adults)",
            contradicts=False,
            source=CHOU_2008,
        ),
        # --- PR interval ---
        _above_normal("first_degree_av_block", PR, "PR interval {op} {x} ms (adults)"),
        _below_normal("short_pr_interval", PR, "PR interval {op} {x} ms (adults)"),
        _lt(
            "wolff_parkinson_white_pattern",
            PR,
            120,
            "PR interval < 120 ms (adults)",
            source=AHA_2009_CONDUCTION,
        ),
        _lt(
            "ventricular_preexcitation", PR, 120, "PR interval < 120 ms (adults)", source=AHA_2009_CONDUCTION
        ),
        # --- QRS duration ---
        _gt(
            "wolff_parkinson_white_pattern",
            QRS,
            110,
            "QRS usually > 110-120 ms",
            contradicts=False,
            source=AHA_2009_CONDUCTION,
        ),
        _ge(
            "left_bundle_branch_block",
            QRS,
            120,
            "QRS duration >= 120 ms (adults)",
            source=AHA_2009_CONDUCTION,
        ),
        _ge(
            "right_bundle_branch_block",
            QRS,
            120,
            "QRS duration >= 120 ms (adults)",
            source=AHA_2009_CONDUCTION,
        ),
        _ge("bundle_branch_block", QRS, 120, "QRS duration >= 120 ms (adults)", source=AHA_2009_CONDUCTION),
        _in(
            "incomplete_right_bundle_branch_block",
            QRS,
            110,
            120,
            "QRS 110-119 ms (adults)",
            high_inclusive=False,
            grey=10,
            source=AHA_2009_CONDUCTION,
        ),
        _in(
            "incomplete_left_bundle_branch_block",
            QRS,
            110,
            120,
            "QRS 110-119 ms (adults)",
            high_inclusive=False,
            grey=10,
            source=AHA_2009_CONDUCTION,
        ),
        _above_normal(
            "nonspecific_intraventricular_conduction_delay", QRS, "QRS duration {op} {x} ms (adults)"
        ),
        _lt("left_anterior_fascicular_block", QRS, 120, "QRS duration < 120 ms", source=AHA_2009_CONDUCTION),
        _lt("left_posterior_fascicular_block", QRS, 120, "QRS duration < 120 ms", source=AHA_2009_CONDUCTION),
        # --- QRS axis (frontal plane, adults): deviation is the axis outside the normal range, to -90/+180 ---
        _below_normal("left_axis_deviation", AXIS, "QRS axis {op} {x}° (to -90°)", low=-90),
        _above_normal("right_axis_deviation", AXIS, "QRS axis {op} {x}° (to +180°)", high=180),
        _in(
            "left_anterior_fascicular_block",
            AXIS,
            -90,
            -45,
            "QRS axis -45° to -90°",
            grey=15,
            source=AHA_2009_CONDUCTION,
        ),
        _in(
            "left_posterior_fascicular_block",
            AXIS,
            90,
            180,
            "QRS axis +90° to +180°",
            grey=10,
            source=AHA_2009_CONDUCTION,
        ),
        # --- QT: prolonged and short QTc are the limits of the QTc range, prolonged by sex ---
        _above_normal("prolonged_qt_interval", QTC, "QTc {op} {x} ms (men)", sex="male", grey=20),
        _above_normal("prolonged_qt_interval", QTC, "QTc {op} {x} ms (women)", sex="female", grey=20),
        _ge("marked_qt_prolongation", QTC, 500, "QTc >= 500 ms", grey=20, source=DREW_2010),
        _below_normal("short_qt_interval", QTC, "QTc {op} {x} ms (short QTc)", grey=20),
        # --- P wave ---
        _above_normal("prolonged_p_wave", "p_duration", "P-wave duration {op} {x} ms (adults)", grey=10),
        _gt(
            "tall_p_wave",
            "p_amplitude",
            0.25,
            "P amplitude > 0.25 mV (2.5 mm) in II, III or aVF",
            grey=0.05,
            source=AHA_2009_ATRIAL,
        ),
        _gt(
            "right_atrial_abnormality",
            "p_amplitude",
            0.25,
            "P amplitude > 0.25 mV in II",
            contradicts=False,
            source=AHA_2009_ATRIAL,
        ),
        # --- voltage ---
        _ge(
            "left_ventricular_high_voltage",
            "sokolow_lyon",
            3.5,
            "Sokolow-Lyon S V1 + R V5/V6 >= 3.5 mV (35 mm)",
            contradicts=False,
            source=SOKOLOW_LYON_1949,
        ),
        _ge(
            "left_ventricular_hypertrophy",
            "sokolow_lyon",
            3.5,
            "Sokolow-Lyon S V1 + R V5/V6 >= 3.5 mV (35 mm)",
            contradicts=False,
            source=SOKOLOW_LYON_1949,
        ),
    ]


NUMERIC_RULES: list[NumericRule] = build_rules()


def rules_for(entry_id: str, sex: str | None = None) -> list[NumericRule]:
    """An entry's rules; a sex-specific rule only for its own sex (every one when the sex is not known)."""
    return [r for r in NUMERIC_RULES if r.entry_id == entry_id and (sex is None or r.sex in (None, sex))]


def rule_for(entry_id: str, quantity: Quantity, sex: str | None = None) -> NumericRule:
    """The one rule of an entry on a quantity for this sex. With the sex unknown and one rule per sex, the
    one whose limit is the vocabulary's limit for an unknown sex (QTc: men's), as ``range_for`` does."""
    rules = [r for r in rules_for(entry_id, sex) if r.quantity == quantity]
    if sex is None and len(rules) > 1:
        rng = normal_range(quantity)
        rules = [r for r in rules if r.threshold() in (rng.low, rng.high)] or rules
    return rules[0]


def verdict_for_any_sex(verdicts: list[Verdict | None]) -> Verdict | None:
    """One verdict from a sex-specific rule's verdicts for each sex, when the sex is not known: it supports
    (or contradicts) only when it does so whatever the sex; otherwise it is borderline."""
    if all(v == "supports" for v in verdicts):
        return "supports"
    if all(v == "contradicts" for v in verdicts):
        return "contradicts"
    if any(v is None for v in verdicts):
        return None
    return "borderline"
