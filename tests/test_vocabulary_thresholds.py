"""One source for normal-range thresholds: the knowledge base's range rules read their limits from the clinical
vocabulary (``tools.vocabulary.quantities``), and every other rule states its published source."""

from __future__ import annotations

import pytest

from cardioagent.agent.closed_question import RANGE_LIMITS, Facts, _category, category_by_vocabulary
from cardioagent.knowledge_base.ckepe import evidence_for
from cardioagent.knowledge_base.numeric_rules import NUMERIC_RULES, build_rules, rule_for
from cardioagent.tools.contract import Measurement
from cardioagent.tools.vocabulary.quantities import (
    AHA_2009_CONDUCTION,
    AHA_2009_INTERVALS,
    QUANTITY_BY_ID,
    limit,
    normal_range,
)

RANGE_RULES = [r for r in NUMERIC_RULES if r.from_range]


def _id(rule) -> str:
    return f"{rule.entry_id}:{rule.quantity}:{rule.sex or 'any'}"


@pytest.mark.parametrize("rule", RANGE_RULES, ids=_id)
def test_a_range_rule_is_the_vocabulary_limit(rule):
    rng = normal_range(rule.quantity, rule.sex)
    assert rule.source == rng.source
    if rule.from_range == "below":
        assert (rule.high, rule.high_inclusive) == (rng.low, not rng.low_inclusive)
    elif rule.from_range == "above":
        assert (rule.low, rule.low_inclusive) == (rng.high, not rng.high_inclusive)
    else:
        assert (rule.low, rule.high) == (rng.low, rng.high)
        assert (rule.low_inclusive, rule.high_inclusive) == (rng.low_inclusive, rng.high_inclusive)
    # and they agree at the limit and beside it, where an inclusive/exclusive slip would show
    expected = {"below": "low", "above": "high", "within": "normal"}[rule.from_range]
    for x in (x for x in (rng.low, rng.high) if x is not None):
        for v in (x - 1, x - 0.5, x, x + 0.5, x + 1):
            assert rule.holds(v) == (rng.category(v) == expected), (rule.criterion, v)


def test_the_range_rules_are_the_ones_named_in_the_issue():
    derived = {(r.entry_id, r.quantity) for r in RANGE_RULES}
    assert {
        ("sinus_bradycardia", "heart_rate"),
        ("bradycardia", "heart_rate"),
        ("sinus_tachycardia", "heart_rate"),
        ("first_degree_av_block", "pr"),
        ("short_pr_interval", "pr"),
        ("prolonged_qt_interval", "qtc"),
        ("short_qt_interval", "qtc"),
        ("nonspecific_intraventricular_conduction_delay", "qrs"),
        ("prolonged_p_wave", "p_duration"),
    } <= derived
    assert {r.sex for r in RANGE_RULES if r.entry_id == "prolonged_qt_interval"} == {"male", "female"}


def test_every_rule_states_its_source_and_diagnostic_criteria_stay_where_they_are():
    assert all(r.source for r in NUMERIC_RULES), [r.entry_id for r in NUMERIC_RULES if not r.source]
    bbb = next(r for r in NUMERIC_RULES if r.entry_id == "left_bundle_branch_block")
    assert bbb.from_range is None and bbb.low == 120 and bbb.source == AHA_2009_CONDUCTION
    sokolow = next(r for r in NUMERIC_RULES if r.entry_id == "left_ventricular_hypertrophy")
    assert sokolow.from_range is None and sokolow.low == 3.5 and "Sokolow M, Lyon TP" in sokolow.source


def test_changing_the_vocabulary_changes_the_rule(monkeypatch):
    hr = QUANTITY_BY_ID["heart_rate"]
    monkeypatch.setattr(hr, "normal", [hr.normal[0].model_copy(update={"low": 50.0})])
    brady = next(r for r in build_rules() if r.entry_id == "sinus_bradycardia")
    assert brady.high == 50 and brady.criterion == "heart rate < 50 bpm (adults)"


def test_qtc_limits_are_what_the_cited_aha_2009_recommendations_say():
    """Rautaharju 2009 (AHA/ACCF/HRS Part IV): prolonged QTc >= 450 ms in men and >= 460 ms in women, short
    QTc <= 390 ms. The vocabulary's lower limit was 350/360 ms before, which that source does not give."""
    for sex, high in (("male", 450), ("female", 460), (None, 450)):
        rng = normal_range("qtc", sex)
        assert (rng.low, rng.high, rng.source) == (390, high, AHA_2009_INTERVALS)
        assert rng.category(390) == "low" and rng.category(391) == "normal"
        assert rng.category(high) == "high" and rng.category(high - 1) == "normal"
    short = rule_for("short_qt_interval", "qtc")
    assert short.holds(390) and not short.holds(391)
    assert rule_for("prolonged_qt_interval", "qtc", "male").holds(450)
    assert not rule_for("prolonged_qt_interval", "qtc", "female").holds(459)
    # the sex unknown: the vocabulary's limit for an unknown sex (men's), as range_for reads it
    assert rule_for("prolonged_qt_interval", "qtc").threshold() == limit("qtc", "high") == 450


def test_a_sex_specific_limit_with_the_sex_unknown_holds_whatever_the_sex():
    qtc = [Measurement(name="QTc (Bazett)", value=455, unit="ms", quantity="qtc")]
    assert [e.verdict for e in evidence_for("prolonged_qt_interval", qtc, "male")] == ["supports"]
    assert [e.verdict for e in evidence_for("prolonged_qt_interval", qtc, "female")] == ["borderline"]
    (unknown,) = evidence_for("prolonged_qt_interval", qtc)
    assert unknown.verdict == "borderline" and "(men)" in unknown.criterion and "(women)" in unknown.criterion
    high = [Measurement(name="QTc (Bazett)", value=470, unit="ms", quantity="qtc")]
    assert [e.verdict for e in evidence_for("prolonged_qt_interval", high)] == ["supports"]


@pytest.mark.parametrize("quantity", sorted(RANGE_LIMITS))
@pytest.mark.parametrize("sex", [None, "male", "female"])
def test_closed_range_questions_and_the_vocabulary_agree(quantity, sex):
    """The closed-question category of a value (by the rules) is the vocabulary's category of it."""
    rng = normal_range(quantity, sex)
    unit = QUANTITY_BY_ID[quantity].unit
    for x in (x for x in (rng.low, rng.high) if x is not None):
        for v in (x - 1, x - 0.5, x, x + 0.5, x + 1):
            f = Facts(
                sex=sex, **{quantity: Measurement(name=quantity, value=v, unit=unit, quantity=quantity)}
            )
            assert _category(quantity, f)[0] == category_by_vocabulary(quantity, f)[0], (quantity, sex, v)
