"""What a clinical ECG file states about itself, as a typed ``DeviceReport``: the cart's global
measurements (intervals, axes, rate), its interpretation statements and overall verdict, the device name.

Pure mapping functions from what ``ecgdatakit`` (and, for DICOM annotations it leaves out, ``pydicom``)
read. Values a device writes for "not measured" (SCP-ECG's 29999, negative durations) and values outside
any plausible range are dropped rather than kept: a device statement must never look like a number it is not.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel

from cardioagent.tools.signal.loaders.names import clean_text
from cardioagent.tools.signal.recording import (
    DeviceMeasurement,
    DeviceQuantity,
    DeviceReport,
    DeviceStatement,
)

Quantity = DeviceQuantity
Unit = Literal["bpm", "ms", "deg"]

# quantity -> (unit, plausible low, plausible high); outside it the device's value is a placeholder
PLAUSIBLE: dict[Quantity, tuple[Unit, float, float]] = {
    "heart_rate": ("bpm", 10.0, 400.0),
    "rr": ("ms", 150.0, 6000.0),
    "pr": ("ms", 20.0, 1000.0),
    "qrs": ("ms", 20.0, 400.0),
    "qt": ("ms", 100.0, 1000.0),
    "qtc": ("ms", 100.0, 1000.0),
    "qtc_bazett": ("ms", 100.0, 1000.0),
    "qtc_fridericia": ("ms", 100.0, 1000.0),
    "p_axis": ("deg", -180.0, 360.0),
    "qrs_axis": ("deg", -180.0, 360.0),
    "t_axis": ("deg", -180.0, 360.0),
}

# ecgdatakit GlobalMeasurements field -> our quantity
_EDK_FIELDS: dict[str, Quantity] = {
    "heart_rate": "heart_rate",
    "rr_interval": "rr",
    "pr_interval": "pr",
    "qrs_duration": "qrs",
    "qt_interval": "qt",
    "qtc_bazett": "qtc_bazett",
    "qtc_fridericia": "qtc_fridericia",
    "p_axis": "p_axis",
    "qrs_axis": "qrs_axis",
    "t_axis": "t_axis",
}

# DICOM WaveformAnnotationSequence concept names (CID 3754 meanings as carts write them) -> quantity
_DICOM_CONCEPTS: dict[str, Quantity] = {
    "pr interval": "pr",
    "qrs duration": "qrs",
    "qt interval": "qt",
    "qtc interval": "qtc",
    "rr interval": "rr",
    "p axis": "p_axis",
    "qrs axis": "qrs_axis",
    "t axis": "t_axis",
    "heart rate": "heart_rate",
    "ventricular heart rate": "heart_rate",
}

MAX_STATEMENTS = 40  # a cart writes a handful; more is a damaged or hostile file


def measurement(quantity: Quantity, value: Any) -> DeviceMeasurement | None:
    """A device measurement when ``value`` is a finite number inside the quantity's plausible range."""
    unit, lo, hi = PLAUSIBLE[quantity]
    try:
        v = float(str(value).split()[0]) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, IndexError):
        return None
    if not lo <= v <= hi:
        return None
    return DeviceMeasurement(quantity=quantity, value=v, unit=unit)


def _add(found: dict[str, DeviceMeasurement], quantity: Quantity, value: Any) -> None:
    """First source wins: ecgdatakit's global measurements, then the format-specific extras."""
    if quantity in found:
        return
    m = measurement(quantity, value)
    if m is not None:
        found[quantity] = m


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, (list, tuple)) and values else values


def measurements_from_edk(record: Any) -> dict[str, DeviceMeasurement]:
    """Global measurements of an ``ecgdatakit.ECGRecord``, plus the QTc that some parsers leave in
    ``raw_metadata`` (HL7 aECG's MDC_ECG_TIME_PD_QTc, SCP-ECG section 7's QTc) or ``annotations`` (GE MUSE's
    QTCorrected)."""
    found: dict[str, DeviceMeasurement] = {}
    gm = record.measurements
    for field, quantity in _EDK_FIELDS.items():
        _add(found, quantity, getattr(gm, field, None))
    raw = record.raw_metadata or {}
    stated = raw.get("beat_measurements")
    beats = stated if isinstance(stated, dict) else {}
    if beats.get("MDC_ECG_TIME_PD_QTc"):
        _add(found, "qtc", _first(beats["MDC_ECG_TIME_PD_QTc"]))
    if raw.get("qtc_ms") is not None:
        _add(found, "qtc", raw.get("qtc_ms"))
    blocks = raw.get("measurement_blocks")
    if isinstance(blocks, list) and blocks and isinstance(blocks[0], dict):
        # SCP-ECG section 7, first block: the device's global fiducials in ms (29999 = not measured); its
        # PR, QRS and QT are the differences of these by the standard's definitions.
        b = blocks[0]
        pairs: dict[Quantity, tuple[str, str]]
        pairs = {
            "pr": ("p_onset", "qrs_onset"),
            "qrs": ("qrs_onset", "qrs_offset"),
            "qt": ("qrs_onset", "t_offset"),
        }
        for quantity, (start, end) in pairs.items():
            s, e = b.get(start), b.get(end)
            if isinstance(s, int) and isinstance(e, int) and max(s, e) < 29999:
                _add(found, quantity, e - s)
    notes = record.annotations if isinstance(record.annotations, dict) else {}
    if notes.get("QTCorrected") is not None:  # GE MUSE: QTc of unstated formula, left in annotations
        _add(found, "qtc", notes["QTCorrected"])
    return found


def measurements_from_dicom(ds: Any) -> dict[str, DeviceMeasurement]:
    """Numeric annotations of a DICOM waveform (pydicom dataset), by concept name. The unit is taken from
    the concept, not the file: carts label axes 'ms' (ECGToolkit's writer does)."""
    found: dict[str, DeviceMeasurement] = {}
    for item in list(ds.get("WaveformAnnotationSequence", []) or [])[:500]:
        concept = item.get("ConceptNameCodeSequence")
        value = item.get("NumericValue")
        if not concept or value is None:
            continue
        meaning = str(concept[0].get("CodeMeaning", "")).strip().lower()
        quantity = _DICOM_CONCEPTS.get(meaning)
        if quantity:
            _add(
                found,
                quantity,
                _first(list(value) if hasattr(value, "__iter__") and not isinstance(value, str) else value),
            )
    return found


def dicom_statements(ds: Any) -> list[DeviceStatement]:
    """Free-text annotations of a DICOM waveform: the cart's interpretation ('RITMO SINUSALE')."""
    out = []
    for item in list(ds.get("WaveformAnnotationSequence", []) or [])[:500]:
        text = item.get("UnformattedTextValue")
        if text:
            out.append(DeviceStatement(text=clean_text(str(text), 300)))
    return out[:MAX_STATEMENTS]


def statements_from_edk(record: Any) -> list[DeviceStatement]:
    out = []
    for entry in list(record.interpretation.statements or [])[:MAX_STATEMENTS]:
        text, reason = entry if isinstance(entry, (list, tuple)) and len(entry) == 2 else (entry, "")
        text = clean_text(str(text), 300)
        if text:
            out.append(DeviceStatement(text=text, reason=clean_text(str(reason or ""), 300)))
    return out


def device_name(manufacturer: str, model: str) -> str:
    parts = [clean_text(str(p or ""), 80) for p in (manufacturer, model)]
    parts = [p for p in parts if p and p.lower() not in ("unknown", "none")]
    return re.sub(r"\s+", " ", " ".join(parts)).strip()


def build_report(
    *,
    device: str,
    source_format: str,
    measurements: dict[str, DeviceMeasurement],
    statements: list[DeviceStatement],
    severity: str = "",
    classification: str = "",
) -> DeviceReport | None:
    """A ``DeviceReport``, or None when the file states nothing beyond the signal."""
    severity = clean_text(severity or "", 120)
    classification = clean_text(classification or "", 120)
    if not (measurements or statements or severity or classification or device):
        return None
    order = list(PLAUSIBLE)
    return DeviceReport(
        device=device,
        source_format=source_format,
        measurements=sorted(measurements.values(), key=lambda m: order.index(m.quantity)),
        statements=statements,
        severity=severity,
        classification=classification,
    )


# ----- comparison with the project's own measurements ------------------------------------------------------

# device quantity -> (label, the project's measurement it is compared with: (analysis, result key), ...)
# The first key found with a value is used. A device "QTc" whose formula the file does not state is compared
# with Bazett's, the formula carts print by default. Device PR/QT are global; here they are medians of leads.
COMPARED = {
    "heart_rate": ("heart rate", [("heart_rate", "heart_rate"), ("intervals", "heart_rate")]),
    "rr": ("RR interval", [("intervals", "rr")]),
    "pr": ("PR interval", [("intervals", "pr")]),
    "qrs": ("QRS duration", [("intervals", "qrs_global"), ("intervals", "qrs")]),
    "qt": ("QT interval", [("intervals", "qt")]),
    "qtc": ("QTc", [("intervals", "qtc_bazett")]),
    "qtc_bazett": ("QTc (Bazett)", [("intervals", "qtc_bazett")]),
    "qtc_fridericia": ("QTc (Fridericia)", [("intervals", "qtc_fridericia")]),
    "qrs_axis": ("QRS axis", [("intervals", "qrs_axis")]),
    "p_axis": ("P axis", []),
    "t_axis": ("T axis", []),
}


class DeviceComparison(BaseModel):
    quantity: str
    label: str
    device_value: float
    unit: str
    measured_value: float | None = None
    measured_name: str = ""
    measured_quality: str = ""

    @property
    def difference(self) -> float | None:
        return None if self.measured_value is None else self.measured_value - self.device_value

    def text(self, device: str = "the device") -> str:
        said = f"{self.label}: {device} reported {self.device_value:g} {self.unit}"
        if self.measured_value is None:
            return said + "; not measured here"
        d = self.difference or 0.0
        return (
            f"{said}; measured here {self.measured_value:.0f} {self.unit} ({self.measured_name}, quality "
            f"{self.measured_quality or 'n/a'}; difference {d:+.0f} {self.unit})"
        )


def compare_with_measured(report: DeviceReport, results: dict[str, dict | None]) -> list[DeviceComparison]:
    """Each device measurement beside the project's own (``results``: analysis name -> its result as a
    dict, as ``tools.report.AnalysisReport`` keeps them). Pure: reads, never changes either side."""
    out = []
    for m in report.measurements:
        label, sources = COMPARED[m.quantity]
        row = DeviceComparison(quantity=m.quantity, label=label, device_value=m.value, unit=m.unit)
        for analysis, key in sources:
            found = (results.get(analysis) or {}).get(key)
            if isinstance(found, dict) and found.get("value") is not None:
                row.measured_value = float(found["value"])
                row.measured_name = str(found.get("name") or key)
                row.measured_quality = str(found.get("quality") or "")
                break
        out.append(row)
    return out


def device_lines(report: DeviceReport, results: dict[str, dict | None]) -> list[str]:
    """Plain-text lines: who stated what, then each measurement beside ours."""
    who = report.device or report.source_format or "the device"
    lines = [
        f"device: {who}" + (f" ({report.source_format})" if report.device and report.source_format else "")
    ]
    if report.classification:
        lines.append(f"classification stated by the device: {report.classification}")
    if report.severity:
        lines.append(f"device verdict: {report.severity}")
    for s in report.statements:
        lines.append(f"device statement: {s.text}" + (f" ({s.reason})" if s.reason else ""))
    lines += [c.text("the device") for c in compare_with_measured(report, results)]
    return lines
