"""Interpretation statements of ``ecg_intervals``: global QRS, per-lead waves, frontal axis, and the
conduction statements (tools.signal.qrs_morphology, tools.analysis.interpretation), on hand-built 12-lead
beats; and the closed question on a real right bundle branch block (tests/data/E07510, CinC 2021)."""

from __future__ import annotations

import numpy as np
import pytest

from cardioagent.tools.analysis import intervals
from cardioagent.tools.analysis.interpretation import Inputs, interpret
from cardioagent.tools.analysis.results import LeadQrsShape
from cardioagent.tools.contract import Measurement, Quality
from cardioagent.tools.signal import qrs_morphology as qm
from cardioagent.tools.signal.recording import STANDARD_12_LEADS, Channel, ChannelKind, Modality, Recording

FS = 500

# (centre ms relative to R, amplitude mV, sigma ms) of the QRS waves of a normal beat, per lead
NORMAL_QRS = {
    "I": [(-22, -0.06, 5), (0, 0.8, 9), (22, -0.12, 7)],
    "II": [(0, 1.0, 9), (22, -0.15, 7)],
    "III": [(0, 0.4, 9), (22, -0.1, 7)],
    "aVR": [(0, -0.85, 10)],
    "aVL": [(-22, -0.05, 5), (0, 0.35, 9), (22, -0.1, 7)],
    "aVF": [(0, 0.7, 9), (22, -0.12, 7)],
    "V1": [(-12, 0.2, 7), (14, -1.0, 10)],
    "V2": [(-8, 0.4, 7), (18, -1.2, 10)],
    "V3": [(0, 0.8, 9), (20, -0.8, 9)],
    "V4": [(0, 1.2, 9), (22, -0.3, 7)],
    "V5": [(-22, -0.06, 5), (0, 1.3, 9), (22, -0.2, 7)],
    "V6": [(-22, -0.06, 5), (0, 1.0, 9), (22, -0.1, 7)],
}
# right bundle branch block: late, slow right-ventricular activation adds a broad terminal wave pointing
# right and forward: R' in V1-V2, broad S in I, aVL, V5, V6
RBBB_TERMINAL = {
    "V1": 0.9,
    "V2": 0.7,
    "V3": 0.2,
    "I": -0.35,
    "aVL": -0.25,
    "V5": -0.3,
    "V6": -0.35,
    "aVR": 0.3,
    "II": -0.1,
    "aVF": 0.0,
    "III": 0.1,
    "V4": -0.2,
}


def _beat(t_ms: np.ndarray, lead: str, rbbb: bool, p_amp: float, pr_shift_ms: float) -> np.ndarray:
    def g(c, a, s):
        return a * np.exp(-0.5 * ((t_ms - c) / s) ** 2)

    x = sum(g(*w) for w in NORMAL_QRS[lead])
    if rbbb:
        x = x + g(62, RBBB_TERMINAL[lead], 15)
    p_sign = -1.0 if lead == "aVR" else 0.5 if lead == "V1" else 1.0
    x = x + g(-150 - pr_shift_ms, p_amp * p_sign, 22)
    t_sign = -1.0 if lead == "aVR" else 0.3 if lead == "V1" else 1.0
    return x + g(300, 0.3 * t_sign, 45)


def synthetic_12lead(
    rbbb: bool = False, p_amp: float = 0.15, pr_shift_ms: float = 0.0, seed: int = 0
) -> Recording:
    """10 s of 12-lead ECG at 60 bpm built from Gaussian waves, with a little noise."""
    rng = np.random.default_rng(seed)
    n = 10 * FS
    t = np.arange(n) / FS
    cols = []
    for lead in STANDARD_12_LEADS:
        x = np.zeros(n)
        for r in np.arange(0.7, 10.0, 1.0):
            x += _beat((t - r) * 1000.0, lead, rbbb, p_amp, pr_shift_ms)
        cols.append(x + rng.normal(0, 0.008, n))
    sig = np.column_stack(cols)
    return Recording(
        id=f"synthetic-{rbbb}-{p_amp}-{pr_shift_ms}-{seed}",
        name="synthetic",
        source_files=[],
        format="numpy",
        modality=Modality.ECG,
        sampling_rate_hz=float(FS),
        signal=sig,
        channels=[Channel(name=lead, kind=ChannelKind.ECG, unit="mV") for lead in STANDARD_12_LEADS],
    )


def _by_id(res):
    return {s.id: s for s in res.statements}


# ----- pure functions ------------------------------------------------------------------------------------


def test_global_bounds_keep_a_wide_qrs_seen_in_three_leads_and_ignore_outliers():
    ons = [-20, -21, -22, -19, -20, -60, -58]  # two leads ran into the P wave
    offs = [20, 22, 21, 60, 64, 58, 23]  # V1-V3 see a late R'
    on, off = qm.global_qrs_bounds(ons, offs)
    assert on == -22 and off == 58
    on, off = qm.global_qrs_bounds(ons, [20, 22, 21, 90, 23, 95, 24])
    assert off == 24  # two late offsets are not enough


def test_qrs_waves_name_an_rsr_prime_and_measure_the_terminal_s():
    t = np.arange(-100, 200, 2.0)  # 500 Hz in ms
    v1 = (
        0.2 * np.exp(-0.5 * ((t + 10) / 7) ** 2)
        - 0.5 * np.exp(-0.5 * ((t - 15) / 8) ** 2)
        + 0.9 * np.exp(-0.5 * ((t - 60) / 14) ** 2)
    )
    on, off = int(np.searchsorted(t, -30)), int(np.searchsorted(t, 100))
    sh = qm.qrs_waves(v1, on, off, FS, min_amp=0.05, iso=0.0)
    assert sh.pattern.lower() == "rsr'" and sh.pattern.endswith("R'")
    assert qm.r_peak_time_ms(sh, on, FS) == pytest.approx(90, abs=4)
    lead_i = 0.8 * np.exp(-0.5 * (t / 9) ** 2) - 0.35 * np.exp(-0.5 * ((t - 55) / 15) ** 2)
    sh = qm.qrs_waves(lead_i, on, off, FS, min_amp=0.05, iso=0.0)
    assert sh.pattern.startswith("R") and qm.terminal_s_ms(sh, FS) > 40


def test_frontal_axis_from_leads_i_and_avf():
    assert qm.frontal_axis(1.0, 0.0) == pytest.approx(0)
    assert qm.frontal_axis(0.0, 1.0) == pytest.approx(90)
    assert qm.frontal_axis(1.0, -1.0) == pytest.approx(-45)
    assert qm.frontal_axis(0.0, 0.0) is None


def test_no_p_waves_never_give_first_degree_av_block():
    shapes = {
        lead: LeadQrsShape(
            pattern="Rs",
            r_amplitude=1.0,
            s_amplitude=-0.1,
            r_ms=60,
            s_ms=20,
            r_peak_time_ms=40,
            terminal_s_ms=20,
        )
        for lead in STANDARD_12_LEADS
    }
    pr = Measurement(name="PR interval", value=260, unit="ms", quality=Quality.GOOD, quantity="pr")
    qrs = Measurement(name="QRS duration (global)", value=90, unit="ms", quality=Quality.GOOD, quantity="qrs")
    base = {"qrs": qrs, "shapes": shapes, "axis": None, "pr": pr}
    avb = {s.id: s for s in interpret(Inputs(**base, p_lead_share=0.1, p_beat_share=0.0))}[
        "1st_degree_av_block"
    ]
    assert avb.verdict == "undetermined" and avb.probability is None
    assert any("P wave" in e for e in avb.evidence)
    with_p = {s.id: s for s in interpret(Inputs(**base, p_lead_share=1.0, p_beat_share=1.0))}
    assert with_p["1st_degree_av_block"].verdict == "present"
    assert any("200 ms" in c for c in with_p["1st_degree_av_block"].criteria)


# ----- on synthetic 12-lead signals ---------------------------------------------------------------------


def test_widened_qrs_with_r_prime_in_v1_is_a_complete_right_bundle_branch_block():
    res = intervals(synthetic_12lead(rbbb=True))
    st = _by_id(res)
    assert res.qrs_global is not None and res.qrs_global.quantity == "qrs" and res.qrs_global.value >= 120
    assert res.qrs_global.value > res.qrs.value  # the wide QRS is not lost in the median across leads
    v1 = next(lead for lead in res.leads if lead.lead == "V1").qrs_shape
    assert v1 is not None and v1.pattern.endswith("R'")
    for sid in ("complete_right_bundle_branch_block", "right_bundle_branch_block", "bundle_branch_block"):
        assert st[sid].verdict == "present", st[sid].text()
    assert st["complete_left_bundle_branch_block"].verdict == "absent"
    assert st["nonspecific_intraventricular_conduction_disorder"].verdict == "absent"
    crbbb = st["complete_right_bundle_branch_block"]
    assert any("120 ms" in c for c in crbbb.criteria) and any(e.startswith("V1") for e in crbbb.evidence)
    assert crbbb.probability is not None and crbbb.probability > 0.5


def test_normal_beats_give_no_bundle_branch_block_and_a_normal_axis():
    res = intervals(synthetic_12lead(rbbb=False))
    st = _by_id(res)
    assert res.qrs_global.value < 110
    for sid in (
        "complete_right_bundle_branch_block",
        "incomplete_right_bundle_branch_block",
        "complete_left_bundle_branch_block",
        "bundle_branch_block",
        "nonspecific_intraventricular_conduction_disorder",
        "1st_degree_av_block",
    ):
        assert st[sid].verdict == "absent", st[sid].text()
    assert res.qrs_axis is not None and res.qrs_axis.quantity == "qrs_axis" and -30 < res.qrs_axis.value < 90
    assert st["left_axis_deviation"].verdict == "absent"


def test_without_p_waves_no_av_block_is_stated():
    res = intervals(synthetic_12lead(p_amp=0.0))
    assert _by_id(res)["1st_degree_av_block"].verdict != "present"


def test_long_pr_with_p_waves_is_a_first_degree_av_block():
    res = intervals(synthetic_12lead(pr_shift_ms=110.0))
    avb = _by_id(res)["1st_degree_av_block"]
    assert res.pr.value > 200 and avb.verdict == "present", avb.text()


def test_closed_question_reads_the_statement_before_the_median_qrs():
    from cardioagent.agent.closed_question import facts_of, judge
    from cardioagent.agent.state import ToolCallRecord

    res = intervals(synthetic_12lead(rbbb=True))
    data = res.model_dump(mode="json")
    data["qrs"]["value"] = 80.0  # a median across leads that would exclude it by the old rule
    rec = ToolCallRecord(
        tool="ecg_intervals", args={"recording_id": "r1"}, reason="test", ok=True, seconds=0.0, result=data
    )
    f = facts_of([rec])
    for concept in ("bundle_branch_block", "right_bundle_branch_block"):
        verdict, why, criteria = judge(concept, f)
        assert verdict == "present" and "V1" in why and criteria
    assert judge("left_bundle_branch_block", f)[0] == "absent"


# ----- acceptance: a real right bundle branch block -----------------------------------------------------


@pytest.mark.slow
def test_bundle_branch_block_question_on_a_cinc_rbbb_record(tests_data, cardio_home):
    """E07510 (CinC 2021, Georgia; labelled RBBB and sinus bradycardia): the median QRS across leads is
    short (the wide QRS is seen in V1-V3), the global QRS and the V1/I/V6 morphology are not."""
    from cardioagent.agent.api import Assistant

    files = [tests_data / "E07510.hea", tests_data / "E07510.mat"]
    a = Assistant()
    try:
        answer = a.ask("Is there a bundle branch block?", files, options=["yes", "no", "not sure"])
    finally:
        a.close()
    assert answer.text.splitlines()[-1] == "**Answer:** yes"
    why = answer.closed.verdicts[0].why
    assert "V1" in why and "I:" in why and "120 ms" in why
    assert any("120 ms" in c for c in answer.closed.criteria)
