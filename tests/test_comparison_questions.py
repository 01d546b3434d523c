"""Closed questions the vocabulary made answerable: two-recording comparisons (ECG-QA ``comparison_*``),
per-lead noise, ranges of quantities derived from others (RR from heart rate), and planning from targets.

The phrasings below are written here, not taken from ECG-QA's files, so they test the reading of the
question, not a memory of its templates."""

from __future__ import annotations

import pytest

from cardioagent.agent.closed_answer import decide
from cardioagent.agent.comparison import change_asked
from cardioagent.agent.planner import RecordingRef, plan
from cardioagent.agent.state import ToolCallRecord
from cardioagent.tools.registry import default_registry

FEATURES = ["none", "p duration", "pr interval", "qrs duration", "qt corrected", "qt interval", "rr interval"]


def _ms(name, value, unit="ms"):
    return {"name": name, "value": value, "unit": unit, "quality": "good"}


def _intervals(rid, pr, qrs, qt, qtc, rr, p):
    return ToolCallRecord(
        tool="ecg_intervals",
        args={"recording_id": rid},
        reason="",
        ok=True,
        seconds=0.1,
        result={
            "pr": _ms("PR interval", pr),
            "qrs": _ms("QRS duration", qrs),
            "qt": _ms("QT interval", qt),
            "qtc_bazett": _ms("QTc (Bazett)", qtc),
            "rr": _ms("RR interval", rr),
            "p_duration": _ms("P-wave duration", p),
            "heart_rate": _ms("heart rate", round(60000 / rr, 1), "bpm"),
        },
    )


@pytest.mark.parametrize(
    "question, change",
    [
        (
            "Which measurements on the later tracing are back within normal limits compared with the earlier one?",
            "became_normal",
        ),
        ("Which intervals of the second ECG have normalised relative to the first?", "became_normal"),
        ("Which values in ECG 2 are abnormal now although they were fine in ECG 1?", "became_abnormal"),
        ("What numbers of the second recording are out of range compared to the first?", "became_abnormal"),
        (
            "Which of the second ECG's numeric features remain abnormal versus the first ECG?",
            "still_abnormal",
        ),
        ("Which features continue to be outside the normal range in the second ECG?", "still_abnormal"),
    ],
)
def test_the_change_asked_is_read_from_unseen_phrasings(question, change):
    assert change_asked(question) == change


def test_comparison_selects_the_features_that_changed_as_asked():
    first = _intervals("a", pr=230, qrs=90, qt=400, qtc=430, rr=900, p=100)  # PR long
    second = _intervals(
        "b", pr=170, qrs=130, qt=400, qtc=470, rr=500, p=100
    )  # PR normal; QRS, QTc, RR abnormal
    records = [first, second]
    became_normal = decide(
        "Which numeric features of the second ECG became normal compared with the first?", FEATURES, records
    )
    assert became_normal.kind == "comparison" and became_normal.chosen == ["pr interval"]
    newly = decide(
        "Which numeric features of the second ECG are now abnormal compared with the first ECG?",
        FEATURES,
        records,
    )
    assert set(newly.chosen) == {"qrs duration", "qt corrected", "rr interval"}
    still = decide(
        "Which numeric features of the second ECG are still abnormal compared with the first ECG?",
        FEATURES,
        records,
    )
    assert still.chosen == ["none"]
    # the order of attachment decides which is "first": swapped, PR became abnormal instead
    swapped = decide(
        "Which numeric features of the second ECG are now abnormal compared with the first ECG?",
        FEATURES,
        [second, first],
    )
    assert swapped.chosen == ["pr interval"]


def test_comparison_leaves_out_what_was_not_measured_and_says_so():
    first = _intervals("a", pr=230, qrs=90, qt=400, qtc=430, rr=900, p=100)
    second = _intervals("b", pr=170, qrs=90, qt=400, qtc=430, rr=900, p=100)
    second.result["pr"] = {"name": "PR interval", "value": None, "unit": "ms", "quality": "unusable"}
    answer = decide(
        "Which numeric features of the second ECG became normal compared with the first?",
        FEATURES,
        [first, second],
    )
    assert answer.chosen == ["none"]
    assert "pr interval" in answer.note and any(v.verdict == "undetermined" for v in answer.verdicts)


def _quality(noise):
    channels = [
        {
            "channel": lead,
            "kind": "ecg",
            "quality": "good",
            "reason": "",
            "noise": [
                {"kind": k, "present": v, "probability": 0.9 if v else 0.1, "evidence": ""}
                for k, v in kinds.items()
            ],
        }
        for lead, kinds in noise.items()
    ]
    return ToolCallRecord(
        tool="signal_quality",
        args={"recording_id": "a"},
        reason="",
        ok=True,
        seconds=0.1,
        result={"channels": channels},
    )


@pytest.mark.parametrize(
    "question, answer",
    [
        ("Is there baseline wander on lead V2?", "yes"),
        ("any baseline drift in V3?", "no"),
        ("Do you see electrode problems anywhere on this tracing?", "no"),
        ("Is lead V2 affected by any kind of interference?", "yes"),
        ("Does this recording have burst noise?", "no"),
    ],
)
def test_noise_questions_are_answered_from_the_per_lead_detector(question, answer):
    kinds = ("baseline_drift", "static_noise", "burst_noise", "electrodes_problems")
    noise = {lead: {k: False for k in kinds} for lead in ("V2", "V3")}
    noise["V2"]["baseline_drift"] = True
    decision = decide(question, ["no", "yes"], [_quality(noise)])
    assert decision.chosen == [answer]


def test_noise_question_without_a_detector_output_is_undetermined_not_no():
    decision = decide("Is there static noise in lead I?", ["no", "not sure", "yes"], [])
    assert decision.chosen == ["not sure"]


def test_rr_interval_range_comes_from_the_measured_heart_rate():
    hr = ToolCallRecord(
        tool="heart_rate",
        args={"recording_id": "a"},
        reason="",
        ok=True,
        seconds=0.1,
        result={"heart_rate": _ms("heart rate", 45.0, "bpm")},
    )
    options = ["below the normal range", "within the normal range", "above the normal range"]
    decision = decide("Where does the RR interval of this ECG fall?", options, [hr])
    assert decision.chosen == ["above the normal range"]  # 1333 ms: a long interval, a slow rate


@pytest.mark.parametrize(
    "question, needed",
    [
        ("Are there any extra systoles?", {"rhythm_analysis"}),
        ("What is the RR interval?", {"heart_rate", "ecg_intervals"}),  # either reports it
        ("Is there a bundle branch block?", {"ecg_intervals"}),
        ("Which numeric features of the second ECG became normal?", {"ecg_intervals"}),
        ("how long is the QT", {"ecg_intervals"}),
        ("Is this tachycardic?", {"heart_rate"}),
    ],
)
def test_plans_cover_the_targets_the_question_names(question, needed):
    calls = plan(question, [RecordingRef(id="r", name="r", modality="ecg")], default_registry())
    assert needed & {c.tool for c in calls}, [c.tool for c in calls]


def test_a_question_is_not_a_request_to_draw():
    calls = plan(
        "Does this ECG show static noise in lead aVL?",
        [RecordingRef(id="r", name="r", modality="ecg")],
        default_registry(),
    )
    assert "render_ecg_paper" not in {c.tool for c in calls}


def test_a_follow_up_without_targets_is_read_with_the_earlier_ones():
    from cardioagent.agent.question import with_context

    asked = with_context("is that normal for a 70-year-old?", ["what is the heart rate?", "and the HRV?"])
    assert "HRV" in asked
    calls = plan(asked, [RecordingRef(id="r", name="r", modality="ecg")], default_registry())
    assert "hrv_analysis" in {c.tool for c in calls}
    assert with_context("Is the QTc long?", ["and the HRV?"]) == "Is the QTc long?"  # names its own target


def test_unparsed_words_are_reported_and_types_come_from_options_first():
    from cardioagent.agent.question import parse_question

    p = parse_question("zorbly flimflam about lead V2?", n_recordings=1, link=False)
    assert p.leads == ["V2"] and "zorbly" in p.unmapped and not p.targets
    assert (
        parse_question(
            "Is this afib or atrial flutter?",
            ["atrial fibrillation", "atrial flutter", "none"],
            n_recordings=1,
        ).type
        == "choose"
    )
    assert parse_question("Does the later ECG differ in QTc?", n_recordings=2).type == "compare"
    assert parse_question("What does WPW mean?", n_recordings=0).type == "explain"


def test_a_model_plan_gets_the_tools_its_targets_need():
    from cardioagent.agent.planner import PlannedCall, required_calls

    ref = RecordingRef(id="r", name="r", modality="ecg")
    made = [PlannedCall(tool="heart_rate", args={"recording_id": "r"}, reason="chosen by the language model")]
    extra = required_calls("Is the QTc long, and are there extra systoles?", [ref], default_registry(), made)
    assert {c.tool for c in extra} == {"ecg_intervals", "rhythm_analysis"}
    assert all("added by the validator" in c.reason and c.args == {"recording_id": "r"} for c in extra)
    assert required_calls("What is the heart rate?", [ref], default_registry(), made) == []
