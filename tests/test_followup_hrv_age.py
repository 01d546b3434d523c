"""HRV norms by age, and the conversation that asks for them: "what is the heart rate?", "and the HRV?", "is
that normal for a 70-year-old?" -> the HRV judged against the normal range for age 70, with its source.

The fast end-to-end test runs the real public API, planner, loaders and tools on tests/data/E07500 with the
language model off; its knowledge step is a stub that gives only the normal-range lines (the same function
the real gatherer starts with), because building the real knowledge store takes about a minute here. The
slow test runs the same conversation with the real knowledge store.
"""

from __future__ import annotations

import pytest

from cardioagent.agent.api import Assistant
from cardioagent.agent.closed_question import age_in, range_lines
from cardioagent.agent.compose import KnowledgeBundle
from cardioagent.agent.config import AgentSettings
from cardioagent.tools.vocabulary.quantities import NUNAN_2010, QUANTITY_BY_ID, VOSS_2015

QUESTIONS = ("what is the heart rate?", "and the HRV?", "is that normal for a 70-year-old?")


@pytest.mark.parametrize(
    "question, age",
    [
        ("is that normal for a 70-year-old?", 70),
        ("Is it OK for a 70 year old man?", 70),
        ("she is 45 years old, is the RMSSD low?", 45),
        ("normal for someone aged 82?", 82),
        ("is the HRV normal for my age?", None),
        ("Is the patient 65 or older?", None),  # a band is an option, not the person's age
        ("What is the heart rate?", None),
    ],
)
def test_the_age_a_question_states(question, age):
    assert age_in(question) == age


def test_hrv_norms_by_sex_and_age_with_the_adult_range_as_fallback():
    rmssd, sdnn = QUANTITY_BY_ID["rmssd"], QUANTITY_BY_ID["sdnn"]
    old = rmssd.range_for("male", 70)
    assert old is not None and (old.min_age, old.max_age, old.source) == (50, 74, VOSS_2015)
    assert "mean ± 1 SD" in old.note and "5-min supine" in old.note
    young = sdnn.range_for("female", 30)
    assert young is not None and (young.sex, young.min_age, young.max_age) == ("female", 25, 49)
    # age unknown, or outside the cohort's 25-74 years: the adult short-term range
    for sex, age in (("male", None), (None, None), ("male", 80)):
        rng = rmssd.range_for(sex, age)
        assert rng is not None and rng.source == NUNAN_2010
    assert QUANTITY_BY_ID["hrv"].parts == ("sdnn", "rmssd")


class RangeLinesOnly:
    """Knowledge step of the fast test: only the normal-range lines (see the module docstring)."""

    def gather(self, question, records):
        lines = range_lines(question, records)
        return KnowledgeBundle(lines=lines, passages=lines)

    def warm_up(self):
        pass


def _conversation(assistant: Assistant, tests_data) -> list:
    record = [str(tests_data / "E07500.hea"), str(tests_data / "E07500.mat")]
    first = assistant.ask(QUESTIONS[0], record)
    return [first] + [assistant.ask(q, thread_id=first.thread_id) for q in QUESTIONS[1:]]


def _assert_judged_for_age_70(answers) -> None:
    heart_rate, hrv, judged = answers
    assert "heart_rate" in {s.tool for s in heart_rate.trace}
    assert "Normal range" not in hrv.text  # "and the HRV?" asks for the values, not a judgement
    assert "hrv_analysis" in {s.tool for s in judged.trace}
    text = judged.text
    for name in ("SDNN", "RMSSD"):
        q = QUANTITY_BY_ID[name.lower()]
        line = next(line for line in text.splitlines() if line.startswith(f"- {name}:"))
        assert "for age 70 (as asked)" in line
        # E07500's sex is not read this turn: both sexes' ranges for age 50-74 are given, with the source
        for sex in ("male", "female"):
            rng = q.range_for(sex, 70)
            assert rng is not None and rng.text(q.unit) in line
        assert "Voss A" in line and "PLoS One 2015" in line
    assert not judged.grounding.removed


def test_is_that_normal_for_a_70_year_old_judges_the_hrv_for_that_age(tmp_path, tests_data):
    settings = AgentSettings(home=tmp_path, planner="rules", llm_summary=False)
    assistant = Assistant("embedded", settings, knowledge=RangeLinesOnly())
    try:
        _assert_judged_for_age_70(_conversation(assistant, tests_data))
    finally:
        assistant.close()


@pytest.mark.slow
def test_the_same_conversation_with_the_real_knowledge_store(shared_home, tests_data):
    assistant = Assistant("embedded", AgentSettings(home=shared_home, planner="rules", llm_summary=False))
    try:
        answers = _conversation(assistant, tests_data)
        _assert_judged_for_age_70(answers)
        assert "heart_rate_variability" in {c.entry_id for c in answers[2].citations}
    finally:
        assistant.close()
