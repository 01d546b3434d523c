"""Closed questions read the interpretation statements of ``ecg_intervals`` by vocabulary id: verify
questions on a statement the knowledge base only knows by a broader concept, diagnostic-class queries
derived from the statements, the normal axis, and the most specific of two findings present (the gaps
the PTB-XL statement benchmark, ``bench/ptbxl_statements_qa.py``, showed on its tune split)."""

from __future__ import annotations

from cardioagent.agent.closed_answer import decide
from cardioagent.agent.state import ToolCallRecord

YN = ["yes", "no", "not sure"]
CLASSES = ["normal ecg", "myocardial infarction", "st/t change", "conduction disturbance", "hypertrophy"]
AXES = ["left axis deviation", "normal heart axis", "right axis deviation"]
ABSENT_BY_DEFAULT = (
    "complete_right_bundle_branch_block",
    "incomplete_right_bundle_branch_block",
    "complete_left_bundle_branch_block",
    "nonspecific_intraventricular_conduction_disorder",
    "left_anterior_fascicular_block",
    "1st_degree_av_block",
    "left_axis_deviation",
    "right_axis_deviation",
    "left_ventricular_hypertrophy",
    "low_qrs_voltages",
    "inferior_myocardial_infarction",
    "anteroseptal_myocardial_infarction",
    "lateral_myocardial_infarction",
    "qwave_abnormal",
    "st_elevation",
    "st_depression",
    "t_wave_inversion",
    "nonspecific_st_t_abnormality",
    "prolonged_qt_interval",
    "premature_ventricular_contractions",
    "premature_atrial_contraction",
)


def _m(name: str, value: float, unit: str) -> dict:
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "uncertainty": None,
        "channel": None,
        "quality": "good",
    }


def _records(
    present: tuple[str, ...] = (),
    undetermined: tuple[str, ...] = (),
    axis: float = 40.0,
    hr: float = 72.0,
    rhythm: str = "regular",
    premature: float = 0.0,
) -> list[ToolCallRecord]:
    def verdict(sid: str) -> str:
        return "present" if sid in present else "undetermined" if sid in undetermined else "absent"

    statements = [
        {
            "id": sid,
            "name": sid.replace("_", " "),
            "verdict": verdict(sid),
            "criteria": ["a published criterion"],
            "evidence": [f"QRS axis {axis:.0f}°"],
            "source": "test",
        }
        for sid in ABSENT_BY_DEFAULT
    ]

    def rec(tool: str, result: dict) -> ToolCallRecord:
        return ToolCallRecord(
            tool=tool, args={"recording_id": "r1"}, reason="test", ok=True, seconds=0.1, result=result
        )

    return [
        rec(
            "rhythm_analysis",
            {
                "statement": rhythm,
                "n_beats": 12,
                "heart_rate": _m("heart rate", hr, "bpm"),
                "p_wave_presence": _m("P-wave presence", 1.0, "fraction"),
                "premature_fraction": _m("premature beats", premature, "fraction"),
            },
        ),
        rec(
            "ecg_intervals",
            {
                "qrs": _m("QRS duration", 96.0, "ms"),
                "qtc_bazett": _m("QTc (Bazett)", 410.0, "ms"),
                "heart_rate": _m("heart rate", hr, "bpm"),
                "qrs_axis": _m("QRS axis", axis, "deg"),
                "statements": statements,
            },
        ),
    ]


def test_verify_reaches_the_statement_the_vocabulary_names():
    # the knowledge base knows only "myocardial infarction" and the "conduction disturbance" class here
    q = "Does this ECG show myocardial infarction in inferior leads?"
    assert decide(q, YN, _records()).chosen == ["no"]
    assert decide(q, YN, _records(present=("inferior_myocardial_infarction",))).chosen == ["yes"]
    ivcd = "Does this ECG show non-specific intraventricular conduction disturbance (block)?"
    assert decide(
        ivcd, YN, _records(present=("nonspecific_intraventricular_conduction_disorder",))
    ).chosen == ["yes"]
    nst = "Does this ECG show non-specific st changes?"  # PTB-XL NST_: the non-specific ST-T statement
    assert decide(nst, YN, _records(present=("nonspecific_st_t_abnormality",))).chosen == ["yes"]
    assert decide(nst, YN, _records(undetermined=("nonspecific_st_t_abnormality",))).chosen == ["not sure"]


def test_diagnostic_class_query_from_the_statements():
    q = "Which diagnostic class does this ECG belong to?"
    assert decide(q, CLASSES, _records()).chosen == ["normal ecg"]
    assert decide(q, CLASSES, _records(present=("left_ventricular_hypertrophy",))).chosen == ["hypertrophy"]
    both = decide(q, CLASSES, _records(present=("inferior_myocardial_infarction", "t_wave_inversion")))
    assert both.chosen == ["myocardial infarction", "st/t change"]
    cd = decide(
        q, CLASSES, _records(present=("1st_degree_av_block",), undetermined=("prolonged_qt_interval",))
    )
    assert cd.chosen == ["conduction disturbance"]
    # irregularly irregular (no sinus mechanism) and nothing stated: not a normal ECG, nothing else shown
    af = decide(q, CLASSES, _records(rhythm="irregularly irregular"))
    assert af.chosen is None and {v.option: v.verdict for v in af.verdicts}["normal ecg"] == "absent"


def test_normal_axis_when_neither_deviation_is_stated():
    q = "What is the heart axis of this ECG?"
    assert decide(q, AXES, _records(axis=11.0)).chosen == ["normal heart axis"]
    assert decide(q, AXES, _records(axis=-43.0, present=("left_axis_deviation",))).chosen == [
        "left axis deviation"
    ]
    assert decide(q, AXES, _records(axis=-120.0)).chosen is None  # extreme axis: none of these


def test_the_more_specific_finding_is_named_alone():
    rhythms = ["sinus rhythm", "sinus bradycardia", "sinus arrhythmia", "atrial fibrillation", "none"]
    irregular = decide("What rhythm does this ECG show?", rhythms, _records(rhythm="irregular"))
    assert irregular.chosen == ["sinus arrhythmia"]
    assert decide("What rhythm does this ECG show?", rhythms, _records()).chosen == ["sinus rhythm"]
    extra = ["extrasystoles", "supraventricular extrasystoles", "ventricular extrasystoles", "none"]
    q = "Which extra systoles does this ECG show?"
    pvc = decide(
        q, extra, _records(rhythm="irregular", premature=0.1, present=("premature_ventricular_contractions",))
    )
    assert pvc.chosen == ["ventricular extrasystoles"]
    assert decide(q, extra, _records(rhythm="irregular", premature=0.1)).chosen == ["extrasystoles"]
    assert decide(q, extra, _records()).chosen == ["none"]
    sv = decide(
        q,
        extra,
        _records(rhythm="irregular", premature=0.1, present=("premature_atrial_contraction",)),
    )
    assert sv.chosen == ["supraventricular extrasystoles"]
    # no P waves: the engine cannot tell a supraventricular beat, the rhythm tool still counts none early
    no_p = _records(undetermined=("premature_atrial_contraction",))
    assert decide(q, extra, no_p).chosen == ["none"]
