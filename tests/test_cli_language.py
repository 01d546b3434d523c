"""The question's language: detected with py3langid, claimed only when confident, and a question in another
language still plans the tools its clinical terms name (the end-to-end notice is checked in
test_cli_first_contact.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardioagent.agent.language import detect_language, language_notice

REPO = Path(__file__).resolve().parents[1]

ENGLISH = [
    "What is the heart rate?",
    "Is the rhythm regular?",
    "Is there atrial fibrillation in lead V1?",
    "does this ecg show afib",
    "what's the QTc",
    "any PVCs or PACs in this strip",
    "is the HR normal",
    "Is this normal sinus rhythm?",
    "does it show LBBB",
    "HRV?",
    "QT interval",
    "Analyse this",
    "is 48 bpm too slow",
]
OTHER = {
    "Quelle est la fréquence cardiaque de cet enregistrement ?": "fr",
    "Le rythme est-il régulier ?": "fr",
    "Wie hoch ist die Herzfrequenz bei dieser Aufnahme?": "de",
    "Ist der Rhythmus regelmäßig?": "de",
    "¿Cuál es la frecuencia cardíaca de este registro?": "es",
    "Qual è la frequenza cardiaca?": "it",
}


@pytest.mark.parametrize("question", ENGLISH)
def test_english_and_short_clinical_questions_get_no_notice(question):
    assert detect_language(question).is_english
    assert language_notice(question) is None


@pytest.mark.parametrize("question,code", OTHER.items())
def test_other_languages_are_named_in_a_plain_notice(question, code):
    guess = detect_language(question)
    assert guess.code == code and guess.confidence >= 0.9
    notice = language_notice(question)
    assert notice and guess.name in notice and "understands English only" in notice
    configured = language_notice(question, model_answers_in_kind=True)
    assert "understands English only" not in configured and guess.name in configured


def test_a_french_question_still_plans_the_tools_its_terms_name(tests_data):
    from cardioagent.agent.planner import RecordingRef, plan
    from cardioagent.tools.registry import default_registry

    rec = [RecordingRef(id="r1", name="E07500", modality="ecg")]
    calls = plan("Le QTc est-il allongé sur cet enregistrement ?", rec, default_registry())
    assert "ecg_intervals" in [c.tool for c in calls]
