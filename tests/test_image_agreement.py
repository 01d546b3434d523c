"""When the ECG-image model and the digitized trace of one image disagree, the answer shows it and goes by
the measurement (issue 16)."""

from __future__ import annotations

from cardioagent.agent.image_agreement import image_reading_agreement
from cardioagent.agent.state import ToolCallRecord


def _rec(tool: str, result: dict, rid: str = "abc") -> ToolCallRecord:
    return ToolCallRecord(
        tool=tool, args={"recording_id": rid}, reason="", ok=True, seconds=0.1, result=result
    )


def _reader(rate: str, bpm: float, rhythm: str) -> ToolCallRecord:
    return _rec(
        "ecg_image_interpret", {"rate_category": rate, "heart_rate": {"value": bpm}, "rhythm": rhythm}
    )


def _digitized(bpm: float | None, quality: str, rhythm: str = "regular") -> ToolCallRecord:
    hr = {"value": bpm, "quality": quality}
    return _rec("ecg_image_digitize", {"heart_rate": hr, "rhythm": rhythm, "quality": quality})


def test_a_disagreement_on_rate_is_shown_and_the_measurement_wins():
    text = image_reading_agreement([_reader("tachycardia", 112, "sinus_rhythm"), _digitized(72.4, "good")])
    assert text is not None and "disagree" in text and "72 bpm" in text and "tachycardia (112 bpm)" in text
    assert "measured rate is the one to go by" in text


def test_agreement_is_said_briefly():
    text = image_reading_agreement([_reader("normal", 70, "sinus_rhythm"), _digitized(72.4, "acceptable")])
    assert text is not None and "both read normal" in text and "disagree" not in text


def test_an_unusable_digitization_decides_nothing():
    assert (
        image_reading_agreement([_reader("tachycardia", 120, "sinus_rhythm"), _digitized(72, "poor")]) is None
    )
    assert (
        image_reading_agreement([_reader("normal", 70, "sinus_rhythm"), _digitized(None, "unusable")]) is None
    )


def test_af_read_on_a_regular_trace_is_a_disagreement():
    text = image_reading_agreement([_reader("normal", 80, "atrial_fibrillation"), _digitized(80, "good")])
    assert text is not None and "atrial fibrillation" in text and "regular" in text and "disagree" in text


def test_readings_of_different_images_are_not_compared():
    records = [
        _reader("tachycardia", 120, "sinus_rhythm"),
        _rec("ecg_image_digitize", {"heart_rate": {"value": 70, "quality": "good"}}, "other"),
    ]
    assert image_reading_agreement(records) is None
