"""Interpretation statements of ``ecg_intervals``: global QRS, per-lead waves, frontal axis, and the
conduction statements (tools.signal.qrs_morphology, tools.analysis.interpretation), on hand-built 12-lead
beats; and the closed question on a real right bundle branch block (tests/data/E07510, CinC 2021)."""

from __future__ import annotations

import numpy as np
import pytest

from cardioagent.tools.analysis import intervals
from cardioagent.tools.analysis.interpretation import Inputs, interpret
from cardioagent.tools.analysis.results import LeadQrsShape, LeadStT
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
    # aVF reads sqrt(3)/2 of the vector's projection (Einthoven + Goldberger): equal areas are not -45°
    assert qm.frontal_axis(1.0, -1.0) == pytest.approx(-49.1, abs=0.1)
    assert qm.frontal_axis(1.0, -np.sqrt(3) / 2) == pytest.approx(-45)
    assert qm.frontal_axis(0.0, 0.0) is None


def test_the_axis_of_leads_built_by_einthoven_and_goldberger_is_the_vector_angle():
    for theta in (-75.0, -45.0, -30.0, 0.0, 60.0, 90.0, 120.0):
        r = np.radians(theta)
        lead_i, lead_ii = np.cos(r), np.cos(r - np.radians(60))
        avf = lead_ii - lead_i / 2  # Goldberger's augmented lead, as every 12-lead recorder derives it
        assert qm.frontal_axis(lead_i, avf) == pytest.approx(theta, abs=1e-6)


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


# ----- hypertrophy, voltage, Q waves, ST-T, QT, ventricular premature complexes ------------------------


def _shape(r: float, s: float, **kw) -> LeadQrsShape:
    """A lead with an R of ``r`` mV and an S of ``s`` mV (negative), amplitudes as the engine reads them."""
    pattern = kw.pop("pattern", "Rs" if r >= abs(s) else "rS")
    return LeadQrsShape(
        pattern=pattern,
        r_amplitude=r or None,
        s_amplitude=s or None,
        max_amplitude=r,
        min_amplitude=min(s, kw.get("q_amplitude") or 0.0),
        r_peak_time_ms=35,
        **kw,
    )


def _normal_shapes() -> dict[str, LeadQrsShape]:
    return {lead: _shape(1.0, -0.3) for lead in STANDARD_12_LEADS} | {
        "aVR": _shape(0.1, -0.8),
        "V1": _shape(0.2, -0.9),
        "V2": _shape(0.4, -1.0),
        "V3": _shape(0.8, -0.8),
    }


def _st_t(st_j: float = 0.0, t: float = 0.3, st_80: float | None = None) -> LeadStT:
    return LeadStT(st_j=st_j, st_60=st_j, st_80=st_j if st_80 is None else st_80, t_amplitude=t)


def _statements(shapes=None, st_t=None, **kw) -> dict:
    qrs = Measurement(name="QRS duration (global)", value=90, unit="ms", quality=Quality.GOOD, quantity="qrs")
    shapes = _normal_shapes() if shapes is None else shapes
    st_t = {lead: _st_t() for lead in STANDARD_12_LEADS} if st_t is None else st_t
    kw.setdefault("p_beat_share", 1.0)
    inp = Inputs(qrs=qrs, shapes=shapes, axis=None, pr=None, p_lead_share=1.0, st_t=st_t, **kw)
    return {s.id: s for s in interpret(inp)}


NEW_IDS = (
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


def test_new_statements_use_vocabulary_ids_and_cite_their_criteria():
    from cardioagent.tools.vocabulary import vocabulary

    st = _statements(sex="male", age=60)
    for sid in NEW_IDS:
        assert sid in st, sid
        assert vocabulary().resolve(sid.replace("_", " ")) is not None or sid == "qwave_abnormal", sid
        assert st[sid].criteria and st[sid].source, sid
    assert all(st[sid].verdict != "present" for sid in NEW_IDS[:-2]), [st[s].text() for s in NEW_IDS]


def test_sokolow_lyon_and_cornell_with_sex():
    shapes = _normal_shapes()
    shapes["V1"] = _shape(0.2, -1.6)
    shapes["V5"] = _shape(2.0, -0.2)  # SV1 1.6 + RV5 2.0 = 3.6 mV >= 3.5
    lvh = _statements(shapes, sex="male")["left_ventricular_hypertrophy"]
    assert lvh.verdict == "present" and any("Sokolow" in e and "3.60" in e for e in lvh.evidence)
    shapes = _normal_shapes()
    shapes["aVL"] = _shape(1.0, -0.1)
    shapes["V3"] = _shape(0.4, -1.4)  # Cornell 2.4 mV: above the women's 2.0, below the men's 2.8
    assert _statements(shapes, sex="female")["left_ventricular_hypertrophy"].verdict == "present"
    assert _statements(shapes, sex="male")["left_ventricular_hypertrophy"].verdict == "absent"
    unknown = _statements(shapes)["left_ventricular_hypertrophy"]
    assert unknown.verdict == "undetermined" and any("sex unknown" in e for e in unknown.evidence)


def test_low_qrs_voltage_in_every_limb_lead_and_undetermined_with_a_lead_missing():
    shapes = _normal_shapes()
    for lead in ("I", "II", "III", "aVR", "aVL", "aVF"):
        shapes[lead] = _shape(0.3, -0.1)
    assert _statements(shapes)["low_qrs_voltages"].verdict == "present"
    shapes["aVF"] = _shape(0.5, -0.1)  # 0.6 mV peak to peak
    assert _statements(shapes)["low_qrs_voltages"].verdict == "absent"
    shapes = {
        k: (_shape(0.3, -0.1) if k in ("I", "II", "III", "aVR", "aVL") else v) for k, v in shapes.items()
    }
    del shapes["aVF"]
    assert _statements(shapes)["low_qrs_voltages"].verdict == "undetermined"


def test_pathological_q_waves_need_two_contiguous_leads_of_a_territory():
    q = {"q_amplitude": -0.3, "q_ms": 40.0, "pattern": "QR"}
    shapes = _normal_shapes()
    shapes["II"] = _shape(0.8, 0.0, **q)
    one = _statements(shapes)
    assert one["inferior_myocardial_infarction"].verdict == "absent"  # one lead only
    shapes["aVF"] = _shape(0.8, 0.0, **q)
    st = _statements(shapes)
    imi = st["inferior_myocardial_infarction"]
    assert imi.verdict == "present" and "II and aVF" in imi.evidence[0], imi.text()
    assert any("30 ms" in c for c in imi.criteria) and "Universal Definition" in imi.source
    assert st["anteroseptal_myocardial_infarction"].verdict == "absent"
    assert st["lateral_myocardial_infarction"].verdict == "absent"
    assert st["qwave_abnormal"].verdict == "present"
    shallow = _normal_shapes() | {
        lead: _shape(0.8, 0.0, q_amplitude=-0.05, q_ms=40.0, pattern="qR") for lead in ("II", "aVF")
    }
    assert _statements(shallow)["inferior_myocardial_infarction"].verdict == "absent"  # < 0.1 mV deep


def test_st_elevation_limits_in_v2_v3_depend_on_sex_and_age():
    st_t = {lead: _st_t() for lead in STANDARD_12_LEADS} | {"V2": _st_t(0.18), "V3": _st_t(0.18)}
    assert _statements(st_t=st_t, sex="female", age=60)["st_elevation"].verdict == "present"  # >= 0.15
    assert _statements(st_t=st_t, sex="male", age=60)["st_elevation"].verdict == "absent"  # < 0.20
    unknown = _statements(st_t=st_t)["st_elevation"]
    assert unknown.verdict == "absent" and any("sex and age" in e for e in unknown.evidence)
    inferior = {lead: _st_t() for lead in STANDARD_12_LEADS} | {"III": _st_t(0.12), "aVF": _st_t(0.11)}
    assert _statements(st_t=inferior)["st_elevation"].verdict == "present"


def test_st_depression_t_inversion_and_nonspecific_st_t_change():
    flat = {lead: _st_t() for lead in STANDARD_12_LEADS}
    down = flat | {"V5": _st_t(-0.08, st_80=-0.1), "V6": _st_t(-0.07, st_80=-0.09)}
    st = _statements(st_t=down)
    assert st["st_depression"].verdict == "present" and st["nonspecific_st_t_abnormality"].verdict == "absent"
    upsloping = flat | {"V5": _st_t(-0.08, st_80=0.0), "V6": _st_t(-0.07, st_80=0.01)}
    assert _statements(st_t=upsloping)["st_depression"].verdict == "absent"
    inverted = flat | {"V5": _st_t(t=-0.2), "V6": _st_t(t=-0.15)}
    assert _statements(st_t=inverted)["t_wave_inversion"].verdict == "present"
    flat_t = flat | {"V5": _st_t(t=0.03), "V6": _st_t(t=0.02)}
    st = _statements(st_t=flat_t)
    assert st["t_wave_inversion"].verdict == "absent"
    assert st["nonspecific_st_t_abnormality"].verdict == "present"
    from cardioagent.tools.analysis.interpretation_qrs_st import st_t_statements

    lbbb = {s.id: s for s in st_t_statements(_normal_shapes(), down, "male", 60, "left bundle branch block")}
    assert lbbb["st_depression"].verdict == "undetermined"  # a QRS confounder: the criteria do not apply


def test_long_qt_by_sex_and_undetermined_on_poor_quality():
    def qtc(v: float, q: Quality = Quality.GOOD) -> Measurement:
        return Measurement(name="QTc (Bazett)", value=v, unit="ms", quality=q, quantity="qtc")

    assert _statements(qtc=qtc(455), sex="male", rr_ms=900)["prolonged_qt_interval"].verdict == "present"
    assert _statements(qtc=qtc(455), sex="female", rr_ms=900)["prolonged_qt_interval"].verdict == "absent"
    assert _statements(qtc=qtc(455), rr_ms=900)["prolonged_qt_interval"].verdict == "undetermined"
    poor = _statements(qtc=qtc(520, Quality.POOR), sex="male", rr_ms=900)["prolonged_qt_interval"]
    assert poor.verdict == "undetermined" and "poor" in poor.evidence[0]


def test_ventricular_premature_complex_is_early_and_wide_or_unlike():
    normal = [qm.BeatFeature(i * 500, None if i == 0 else 1.0, 0.98) for i in range(8)]
    assert _statements(beats=normal)["premature_ventricular_contractions"].verdict == "absent"
    pac = list(normal)
    pac[4] = qm.BeatFeature(1900, 0.7, 0.95, qrs_ms=90)  # early, narrow, like the others: atrial
    assert _statements(beats=pac)["premature_ventricular_contractions"].verdict == "absent"
    pvc = list(normal)
    pvc[4] = qm.BeatFeature(1900, 0.7, 0.5, qrs_ms=150)
    st = _statements(beats=pvc)["premature_ventricular_contractions"]
    assert st.verdict == "present" and st.evidence[0].startswith("1 of 8 beats")
    assert _statements(beats=normal[:2])["premature_ventricular_contractions"].verdict == "undetermined"


def test_supraventricular_premature_complex_is_early_alike_and_followed_by_a_pause():
    normal = [qm.BeatFeature(i * 500, None if i == 0 else 1.0, 0.98) for i in range(8)]
    assert _statements(beats=normal)["premature_atrial_contraction"].verdict == "absent"
    pac = list(normal)
    pac[4] = qm.BeatFeature(1900, 0.7, 0.95, qrs_ms=90)  # 400 ms after the last beat, 600 ms before the next
    st = _statements(beats=pac)
    assert st["premature_atrial_contraction"].verdict == "present", st["premature_atrial_contraction"].text()
    assert st["premature_ventricular_contractions"].verdict == "absent"
    no_pause = [
        qm.BeatFeature(s, r, 0.98)
        for s, r in zip((0, 500, 1000, 1400, 1800, 2200, 2600), (None, 1, 1, 0.7, 0.7, 0.7, 0.7), strict=True)
    ]
    assert _statements(beats=no_pause)["premature_atrial_contraction"].verdict == "absent"  # a rate change
    no_p = _statements(beats=pac, p_beat_share=0.1)  # without P waves the rhythm may be AF: not premature
    assert no_p["premature_atrial_contraction"].verdict == "undetermined"
    pvc = list(normal)
    pvc[4] = qm.BeatFeature(1900, 0.7, 0.5, qrs_ms=150)
    st = _statements(beats=pvc)
    assert st["premature_atrial_contraction"].verdict == "absent"
    assert st["premature_ventricular_contractions"].verdict == "present"


def test_synthetic_premature_wide_beat_is_found_in_the_signal():
    rec = synthetic_12lead()
    t = np.arange(rec.signal.shape[0]) / FS
    sig = rec.signal.copy()
    # beat at 5.7 s moved to 5.3 s (RR 0.6 x) and made broad: a ventricular premature complex
    for j, lead in enumerate(STANDARD_12_LEADS):
        sig[:, j] -= _beat((t - 5.7) * 1000.0, lead, False, 0.15, 0.0)
        sign = 1.0 if lead in ("I", "aVL", "V5", "V6", "II") else -1.0
        sig[:, j] += sign * 1.2 * np.exp(-0.5 * (((t - 5.3) * 1000.0) / 30) ** 2)
    st = _by_id(intervals(rec.model_copy(update={"signal": sig})))["premature_ventricular_contractions"]
    assert st.verdict == "present", st.text()
    assert _by_id(intervals(synthetic_12lead()))["premature_ventricular_contractions"].verdict == "absent"


@pytest.mark.parametrize("record", ["E07500", "E07510", "JS20000"])
def test_real_records_new_statements(tests_data, record):
    """CinC 2021 records: E07500 (LAE, sinus bradycardia) and E07510 (RBBB) carry none of the new
    statements; JS20000 (PACs, ST changes) has premature beats that are atrial: narrow and like the others."""
    from cardioagent.tools.signal.loaders import load_recording

    res = intervals(load_recording(tests_data / f"{record}.hea"))
    st = _by_id(res)
    for sid in ("left_ventricular_hypertrophy", "qwave_abnormal", "prolonged_qt_interval"):
        assert st[sid].verdict != "present", st[sid].text()
    assert st["premature_ventricular_contractions"].verdict == "absent", st[
        "premature_ventricular_contractions"
    ].text()
    assert all(lead.st_t is not None for lead in res.leads if lead.qrs_shape is not None)
    if record == "E07510":  # a complete RBBB: its secondary T inversion in V1-V2 is no ischaemic statement
        assert st["t_wave_inversion"].verdict == "undetermined"
    expected_svpc = "present" if record == "JS20000" else "absent"  # the PACs are early, narrow, alike
    assert st["premature_atrial_contraction"].verdict == expected_svpc, st[
        "premature_atrial_contraction"
    ].text()
    if record == "JS20000":
        assert res.leads[0].st_t is not None


@pytest.mark.parametrize(
    ("width", "r_prime", "expected"),
    [(100, 0.5, "present"), (100, 0.1, "absent"), (125, 0.5, "absent"), (115, 0.1, "absent")],
)
def test_incomplete_rbbb_by_minnesota_code_7_3(width, r_prime, expected):
    """Minnesota Code 7-3: QRS < 120 ms and R' > R in V1 or V2, with no lower width limit (the 2009
    AHA/ACCF/HRS criteria ask 110-119 ms and a broad S in I and V6, absent here)."""
    shapes = _normal_shapes()
    shapes["V1"] = _shape(0.2, -0.4, pattern="rSr'" if r_prime < 0.2 else "rSR'", r_prime_amplitude=r_prime)
    qrs = Measurement(
        name="QRS duration (global)", value=width, unit="ms", quality=Quality.GOOD, quantity="qrs"
    )
    inp = Inputs(qrs=qrs, shapes=shapes, axis=None, pr=None, p_lead_share=1.0, p_beat_share=1.0)
    st = {s.id: s for s in interpret(inp)}["incomplete_right_bundle_branch_block"]
    assert st.verdict == expected, st.text()
    if expected == "present":
        assert "Minnesota Code 7-3" in st.criteria[0] and "Minnesota" in st.source
        assert any("V1" in e and "R'" in e for e in st.evidence)


@pytest.mark.parametrize(
    ("axis", "width", "expected"),
    [(120, 100, "present"), (60, 100, "absent"), (120, 130, "absent"), (200, 100, "absent")],
)
def test_left_posterior_fascicular_block_by_axis_rs_lateral_qr_inferior(axis, width, expected):
    """AHA/ACCF/HRS 2009: axis 90° to 180°, rS in I and aVL, qR in III and aVF, QRS < 120 ms."""
    shapes = _normal_shapes()
    shapes["I"] = shapes["aVL"] = _shape(0.2, -0.7)
    shapes["III"] = shapes["aVF"] = _shape(1.2, -0.1, pattern="qR", q_amplitude=-0.15)
    qrs = Measurement(
        name="QRS duration (global)", value=width, unit="ms", quality=Quality.GOOD, quantity="qrs"
    )
    ax = Measurement(name="QRS axis", value=axis, unit="°", quality=Quality.GOOD, quantity="qrs_axis")
    inp = Inputs(qrs=qrs, shapes=shapes, axis=ax, pr=None, p_lead_share=1.0, p_beat_share=1.0)
    st = {s.id: s for s in interpret(inp)}["left_posterior_fascicular_block"]
    assert st.verdict == expected, st.text()
    if expected == "present":
        assert any("III: qR" in e for e in st.evidence) and "not excluded" in st.evidence[-1]
    normal = dict(_normal_shapes())
    inp_normal = Inputs(qrs=qrs, shapes=normal, axis=ax, pr=None, p_lead_share=1.0, p_beat_share=1.0)
    assert {s.id: s for s in interpret(inp_normal)}["left_posterior_fascicular_block"].verdict == "absent"


@pytest.mark.parametrize(("width", "expected"), [(105, "absent"), (115, "absent"), (124, "present")])
def test_nonspecific_ivcd_at_minnesota_code_7_4_width(width, expected):
    """Non-specific IVCD from 120 ms (Minnesota Code 7-4) with no bundle branch block; 111-119 ms is said to
    pass the AHA/ACCF/HRS 2009 limit only."""
    qrs = Measurement(
        name="QRS duration (global)", value=width, unit="ms", quality=Quality.GOOD, quantity="qrs"
    )
    inp = Inputs(qrs=qrs, shapes=_normal_shapes(), axis=None, pr=None, p_lead_share=1.0, p_beat_share=1.0)
    st = {s.id: s for s in interpret(inp)}["nonspecific_intraventricular_conduction_disorder"]
    assert st.verdict == expected, st.text()
    assert "Minnesota" in st.source
    assert any("AHA/ACCF/HRS 2009 limit" in e for e in st.evidence) == (110 < width < 120)
