"""Issue 14: published rhythm thresholds. Sinus bradycardia is a sinus rate < 50 bpm (2018 ACC/AHA/HRS
bradycardia guideline), and sinus arrhythmia needs the sinus cycle to vary by more than the vocabulary's limit
(``SINUS_CYCLE_VARIATION``), which the rhythm tool now measures (longest minus shortest RR)."""

from __future__ import annotations

import numpy as np

from cardioagent.agent.closed_answer import decide
from cardioagent.agent.state import ToolCallRecord
from cardioagent.tools.analysis import rhythm
from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording
from cardioagent.tools.vocabulary.quantities import SINUS_CYCLE_VARIATION, limit, normal_range
from tests.test_closed_question_statements import _m

RHYTHMS = ["sinus rhythm", "sinus bradycardia", "sinus tachycardia", "sinus arrhythmia", "none"]
Q = "What rhythm does this ECG show?"


def _rhythm(hr: float, statement: str = "regular", rr_range: float | None = None) -> list[ToolCallRecord]:
    result = {
        "statement": statement,
        "n_beats": 10,
        "heart_rate": _m("heart rate", hr, "bpm"),
        "p_wave_presence": _m("P-wave presence", 1.0, "fraction"),
        "premature_fraction": _m("premature beats", 0.0, "fraction"),
    }
    if rr_range is not None:
        result["rr_range"] = _m("RR range", rr_range, "ms")
    return [
        ToolCallRecord(
            tool="rhythm_analysis",
            args={"recording_id": "r1"},
            reason="t",
            ok=True,
            seconds=0.1,
            result=result,
        )
    ]


def test_the_heart_rate_range_starts_at_the_guideline_sinus_bradycardia_limit():
    rng = normal_range("heart_rate")
    assert limit("heart_rate", "low") == 50 and limit("heart_rate", "high") == 100
    assert "Kusumoto" in rng.source
    assert rng.category(49.9) == "low" and rng.category(50) == "normal"


def test_a_sinus_rate_in_the_fifties_is_sinus_rhythm_not_bradycardia():
    assert decide(Q, RHYTHMS, _rhythm(55.0)).chosen == ["sinus rhythm"]  # < 60 bpm: bradycardia before
    assert decide(Q, RHYTHMS, _rhythm(47.0)).chosen == ["sinus bradycardia"]
    assert decide(Q, RHYTHMS, _rhythm(105.0)).chosen == ["sinus tachycardia"]


def test_sinus_arrhythmia_needs_the_cycle_to_vary_by_more_than_the_limit():
    limit_ms = float(SINUS_CYCLE_VARIATION.high or 0.0)
    small = decide(Q, RHYTHMS, _rhythm(70.0, "irregular", rr_range=limit_ms - 20))
    assert small.chosen == ["sinus rhythm"]
    assert "not more than" in {v.option: v.why for v in small.verdicts}["sinus arrhythmia"]
    assert decide(Q, RHYTHMS, _rhythm(70.0, "irregular", rr_range=limit_ms + 100)).chosen == [
        "sinus arrhythmia"
    ]
    # a tool output without the range (older results) is judged on the irregularity alone, as before
    assert decide(Q, RHYTHMS, _rhythm(70.0, "irregular")).chosen == ["sinus arrhythmia"]


def _lead_ii(beat_times_s: np.ndarray, fs: int = 500) -> Recording:
    """Lead II of Gaussian P, QRS and T waves at the given beat times, with a little noise."""
    t = np.arange(int(12 * fs)) / fs
    x = np.random.default_rng(0).normal(0, 0.01, t.size)
    for r in beat_times_s:
        for dt, amp, width in ((-0.16, 0.15, 0.022), (0.0, 1.2, 0.010), (0.30, 0.3, 0.045)):
            x += amp * np.exp(-0.5 * ((t - r - dt) / width) ** 2)
    return Recording(
        id="sinus-arrhythmia",
        name="synthetic",
        source_files=[],
        format="numpy",
        modality=Modality.ECG,
        sampling_rate_hz=float(fs),
        signal=x[:, None],
        channels=[Channel(name="II", kind=ChannelKind.ECG, unit="mV")],
    )


def test_the_rhythm_tool_reports_the_cycle_range():
    cycles = 1.0 + 0.15 * np.sin(np.arange(11) * 2 * np.pi / 5)  # 850-1150 ms, a breathing rhythm
    res = rhythm(_lead_ii(0.5 + np.concatenate([[0.0], np.cumsum(cycles)])))
    assert res.rr_range is not None and res.rr_range.unit == "ms" and res.rr_range.value is not None
    expected = (cycles[:-1].max() - cycles[:-1].min()) * 1000.0
    assert abs(res.rr_range.value - expected) < 30
