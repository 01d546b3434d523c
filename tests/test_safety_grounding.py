"""Emergency advice comes first; numbers no tool produced never reach the user."""

from __future__ import annotations

import pytest

from cardioagent.agent.grounding import check_answer, is_grounded, numbers_in
from cardioagent.agent.safety import check_emergency, soften_diagnosis_claims


@pytest.mark.parametrize(
    "text, trigger",
    [
        ("I have crushing chest pain right now, what is my heart rate?", "chest pain"),
        ("my chest feels tight and the pain goes to my left arm", "chest pain"),
        ("I fainted this morning, is the ECG ok?", "fainting"),
        ("Dad passed out after climbing the stairs", "fainting"),
        ("I can't breathe properly and my heart is racing", "severe breathlessness"),
        ("sudden shortness of breath and palpitations", "severe breathlessness"),
        ("her face is drooping and speech is slurred", "stroke signs"),
    ],
)
def test_emergency_symptoms_are_recognised(text, trigger):
    check = check_emergency(text)
    assert check.emergency and trigger in check.triggers


@pytest.mark.parametrize(
    "text",
    [
        "What is the heart rate?",
        "Is the QTc prolonged?",
        "explain the PR interval",
        "is my HRV low after running?",
    ],
)
def test_ordinary_questions_are_not_emergencies(text):
    assert not check_emergency(text).emergency


def test_diagnosis_claims_are_softened():
    out = soften_diagnosis_claims("You have atrial fibrillation.")
    assert "you have" not in out.lower() and "consistent with" in out


def test_numbers_in_collects_numeric_leaves_and_numbers_in_text():
    found = numbers_in({"hr": {"value": 72.34, "unit": "bpm"}, "method": "band-pass 0.5-40 Hz", "ok": True})
    assert {72.34, 0.5, 40.0} <= found and 1.0 not in found  # True is not a number


def test_rounding_to_the_shown_decimals_is_grounded():
    assert is_grounded("72", [72.34])
    assert is_grounded("72.3", [72.34])
    assert not is_grounded("72.4", [72.34])
    assert not is_grounded("73", [72.34])


def test_sentences_with_invented_numbers_are_removed_and_reported():
    sources = numbers_in({"heart_rate": 72.34, "qtc": 451.2})
    answer = "- Heart rate: 72 bpm [1].\nThe QTc is 451 ms. Your blood pressure is 140/90 mmHg. Sleep well."
    text, report = check_answer(answer, sources)
    assert "72 bpm [1]" in text and "451 ms" in text and "Sleep well." in text
    assert "140" not in text and "blood pressure" not in text
    assert {r.number for r in report.removed} == {"140", "90"}
    assert report.checked_numbers == 4 and report.grounded_numbers == 2 and not report.ok


def test_citation_markers_and_list_numbers_are_not_claims():
    text, report = check_answer("1. Findings [2]\n2. More [3, 4]", [])
    assert report.checked_numbers == 0 and "Findings [2]" in text
