"""FHIR R4 export of an analysis or a turn: a ``collection`` Bundle with one Observation per measurement
(LOINC-coded, UCUM units, the quality flag and method as a note) and one Observation holding the waveform,
a component per lead as ``valueSampledData`` (MDC lead codes, as in the FHIR specification's ECG example).

Validated with ``fhir.resources`` (BSD): its ``R4B`` models, FHIR 4.3, whose Bundle, Observation and
SampledData are those of R4 (R4B changed no element used here). No Patient resource and no name or birth
date are written: the bundle carries measurements, not identity. What the recording device stated is not
exported as Observations (it is not a measurement by this tool); it stays in the PDF.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import numpy as np

from cardioagent.agent.reporting.content import MeasuredValue, ReportContent
from cardioagent.tools.signal.recording import Recording

if TYPE_CHECKING:  # imported when a bundle is built: fhir.resources is slow to import
    from fhir.resources.R4B.bundle import Bundle

LOINC = "http://loinc.org"
MDC = "urn:oid:2.16.840.1.113883.6.24"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# result key -> (LOINC code, display, method text or "")
LOINC_OF = {
    "heart_rate": ("8867-4", "Heart rate", ""),
    "pr": ("8625-6", "P-R Interval", "median across leads"),
    "qrs_global": ("8633-0", "QRS duration", "global: earliest onset to latest offset across leads"),
    "qrs": ("8633-0", "QRS duration", "median across leads"),
    "qt": ("8634-8", "Q-T interval", "median across leads"),
    "qtc_bazett": ("8636-3", "Q-T interval corrected", "Bazett"),
    "qtc_fridericia": ("8636-3", "Q-T interval corrected", "Fridericia"),
    "qrs_axis": ("8632-2", "QRS axis", "net QRS areas of I and aVF"),
}
UCUM_OF = {"bpm": ("/min", "beats/minute"), "ms": ("ms", "ms"), "°": ("deg", "deg"), "deg": ("deg", "deg")}
# MDC_ECG_ELEC_POTL_* codes of ISO/IEEE 11073-10101
MDC_LEAD = {
    "I": 131329,
    "II": 131330,
    "V1": 131331,
    "V2": 131332,
    "V3": 131333,
    "V4": 131334,
    "V5": 131335,
    "V6": 131336,
    "III": 131389,
    "aVR": 131390,
    "aVL": 131391,
    "aVF": 131392,
}
MAX_WAVEFORM_S = 120.0  # a Holter day would make a bundle of gigabytes; the first 2 minutes are exported


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _when(content: ReportContent) -> dict[str, str]:
    at = content.recording.acquired_at
    return {"effectiveDateTime": at.isoformat()} if at and at.tzinfo else {}


def measurement_observation(m: MeasuredValue, content: ReportContent) -> dict[str, Any] | None:
    if m.key not in LOINC_OF:
        return None
    code, display, method = LOINC_OF[m.key]
    ucum, unit = UCUM_OF.get(m.unit, (m.unit, m.unit))
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": CATEGORY, "code": "procedure" if m.key != "heart_rate" else "vital-signs"}
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": m.name},
        "valueQuantity": {"value": round(m.value, 3), "unit": unit, "system": UCUM, "code": ucum},
        "note": [
            {
                "text": f"quality: {m.quality}; measured by cardioagent (research tool, not a medical device)"
                + (f"; method: {m.method[:300]}" if m.method else "")
            }
        ],
        **_when(content),
    }
    if method:
        obs["method"] = {"text": method}
    return obs


def waveform_observation(rec: Recording, content: ReportContent) -> dict[str, Any] | None:
    if rec.signal is None or not rec.sampling_rate_hz:
        return None
    n = min(rec.n_samples, int(MAX_WAVEFORM_S * rec.sampling_rate_hz))
    components = []
    for j, ch in enumerate(rec.channels):
        x = np.round(rec.signal[:n, j], 4)
        coding = (
            {"system": MDC, "code": str(MDC_LEAD[ch.name]), "display": f"MDC_ECG_ELEC_POTL_{ch.name.upper()}"}
            if ch.name in MDC_LEAD
            else {"system": MDC, "code": "131328", "display": "MDC_ECG_ELEC_POTL"}
        )
        components.append(
            {
                "code": {"coding": [coding], "text": ch.name},
                "valueSampledData": {
                    "origin": {"value": 0, "unit": ch.unit or "mV", "system": UCUM, "code": ch.unit or "mV"},
                    "period": round(1000.0 / rec.sampling_rate_hz, 6),  # ms between samples
                    "dimensions": 1,
                    "data": " ".join(f"{v:g}" for v in x),
                },
            }
        )
    note = f"{n} samples per lead at {rec.sampling_rate_hz:g} Hz, in {rec.channels[0].unit or 'mV'}"
    if n < rec.n_samples:
        note += f"; the first {MAX_WAVEFORM_S:g} s of {rec.duration_s:.0f} s"
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": "procedure"}]}],
        "code": {
            "coding": [
                {"system": MDC, "code": "131328", "display": "MDC_ECG_ELEC_POTL"},
                {"system": LOINC, "code": "11524-6", "display": "EKG study"},
            ],
            "text": f"ECG waveform of {content.recording.name}",
        },
        "note": [{"text": note}],
        "component": components,
        **_when(content),
    }


def build_bundle(content: ReportContent, recording: Recording | None = None) -> Bundle:
    """The bundle as a validated ``fhir.resources`` R4B ``Bundle`` (``.model_dump_json()`` gives the JSON).
    Raises pydantic's ValidationError when a resource breaks the FHIR definitions."""
    from fhir.resources.R4B.bundle import Bundle

    resources = [o for o in (measurement_observation(m, content) for m in content.measurements) if o]
    if recording is not None:
        wave = waveform_observation(recording, content)
        if wave:
            resources.append(wave)
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": content.generated_at.isoformat(),
            "entry": [{"fullUrl": _urn(), "resource": r} for r in resources],
        }
    )


def bundle_json(content: ReportContent, recording: Recording | None = None) -> str:
    return build_bundle(content, recording).model_dump_json(indent=1, exclude_none=True)
