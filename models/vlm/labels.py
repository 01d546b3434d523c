"""The findings the ECG-image model reads and the categories it reports: what the label head's outputs
mean. Read at run time (inference, the tool) and by the training code (``synth``, ``dataset``); it lives
apart from the data generator so that reading one image never imports it.
"""

from __future__ import annotations

from typing import Literal, get_args

Finding = Literal[
    "sinus_rhythm",
    "bradycardia",
    "tachycardia",
    "atrial_fibrillation",
    "atrial_flutter",
    "premature_atrial_beats",
    "premature_ventricular_beats",
    "first_degree_av_block",
    "wide_qrs",
    "st_elevation",
    "st_depression",
    "t_wave_inversion",
    "low_qrs_voltage",
    "long_qt",
]
FINDINGS: tuple[str, ...] = get_args(Finding)  # the label head's outputs, in this order
RhythmFinding = Literal["sinus_rhythm", "atrial_fibrillation", "atrial_flutter"]
RHYTHMS: tuple[RhythmFinding, ...] = ("sinus_rhythm", "atrial_fibrillation", "atrial_flutter")
Rhythm = Literal[RhythmFinding, "other"]  # a reading's rhythm: "other" when none of RHYTHMS
AxisCategory = Literal["normal", "left", "right", "extreme"]

BRADY_BPM = 60.0
TACHY_BPM = 100.0


def axis_category(axis_deg: float) -> AxisCategory:
    if -30.0 <= axis_deg <= 90.0:
        return "normal"
    if -90.0 <= axis_deg < -30.0:
        return "left"
    if 90.0 < axis_deg <= 180.0:
        return "right"
    return "extreme"


def rate_category(bpm: float) -> Literal["bradycardia", "normal", "tachycardia"]:
    return "bradycardia" if bpm < BRADY_BPM else "tachycardia" if bpm > TACHY_BPM else "normal"
