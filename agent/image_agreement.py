"""Where the ECG-image model and the digitized trace of the same image disagree, the measurement wins.

The image model (``ecg_image_interpret``) reads a page the way it was trained on drawn pages; the digitizer
(``ecg_image_digitize``) turns the photo into a signal and measures it with the signal tools. When both ran
on one image and the digitized number is usable (quality good or acceptable), their rate category and
rhythm are compared: a disagreement is shown, and the answer goes by the measurement.
"""

from __future__ import annotations

from typing import Any

from cardioagent.agent.state import ToolCallRecord

READER, DIGITIZER = "ecg_image_interpret", "ecg_image_digitize"
USABLE = ("good", "acceptable")
# the image model's rhythm classes against the rhythm tool's regularity statements they are incompatible with
_INCOMPATIBLE = {
    "atrial_fibrillation": {"regular"},
    "sinus_rhythm": {"irregularly irregular"},
}


def _category(bpm: float) -> str:
    return "bradycardia" if bpm < 60 else "tachycardia" if bpm > 100 else "normal"


def _rate_line(reader: dict[str, Any], digitized: dict[str, Any]) -> str | None:
    hr = digitized.get("heart_rate") or {}
    value, quality = hr.get("value"), hr.get("quality")
    if value is None or quality not in USABLE or not reader.get("rate_category"):
        return None
    ours = _category(float(value))
    read = reader["rate_category"]
    read_bpm = (reader.get("heart_rate") or {}).get("value")
    read_text = f"{read}" + (f" ({read_bpm:.0f} bpm)" if read_bpm is not None else "")
    if ours == read:
        return f"rate: both read {read}; the digitized trace measures {value:.0f} bpm ({quality})"
    return (
        f"rate: the image model read {read_text}, the digitized trace measures {value:.0f} bpm ({ours}, "
        f"{quality}): they disagree, and the measured rate is the one to go by"
    )


def _rhythm_line(reader: dict[str, Any], digitized: dict[str, Any]) -> str | None:
    read, measured = reader.get("rhythm"), digitized.get("rhythm")
    if not read or not measured or measured == "undetermined" or digitized.get("quality") not in USABLE:
        return None
    if measured in _INCOMPATIBLE.get(read, set()):
        return (
            f"rhythm: the image model read {read.replace('_', ' ')}, the digitized trace is {measured}: they "
            "disagree, and the measured rhythm is the one to go by"
        )
    return None


def image_reading_agreement(records: list[ToolCallRecord]) -> str | None:
    """A short block comparing the two readings of each image that both tools read, or None."""
    by_image: dict[str, dict[str, dict[str, Any]]] = {}
    for r in records:
        if r.ok and r.result and r.tool in (READER, DIGITIZER):
            by_image.setdefault(str(r.args.get("recording_id", "")), {})[r.tool] = r.result
    lines = []
    for pair in by_image.values():
        if READER in pair and DIGITIZER in pair:
            lines += [
                line
                for line in (
                    _rate_line(pair[READER], pair[DIGITIZER]),
                    _rhythm_line(pair[READER], pair[DIGITIZER]),
                )
                if line
            ]
    if not lines:
        return None
    return "**Image model and digitized trace**\n" + "\n".join(f"- {line}" for line in lines)
