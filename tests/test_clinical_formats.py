"""Clinical ECG formats in: DICOM waveform, HL7 aECG, Philips Sierra XML, SCP-ECG (tests/data/formats, fresh
clone), GE MUSE XML, Apple Health CSV and the Contec EDF (GPL: ../shared only), and a synthetic Apple export.

Checks: every sample loads into a ``Recording`` (leads, mV, rate, demographics, acquisition time) or is refused
with a specific error; detection is by content; the three files of one recording give the same signal; what the
device stated is kept as a typed ``DeviceReport`` and never reaches the closed-question rules; fuzzed files give
no traceback and no hang.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from cardioagent.tools.errors import (
    CorruptFileError,
    FileTooLargeError,
    SamplingRateError,
    TooShortError,
    UnsupportedFormatError,
)
from cardioagent.tools.signal.loaders import load_recording
from cardioagent.tools.signal.loaders.clinical_formats import sniff
from cardioagent.tools.signal.recording import STANDARD_12_LEADS, DeviceReport, DeviceStatement, Modality

FORMATS = Path(__file__).parent / "data" / "formats"

# file -> (format, leads, rate Hz, samples per lead)
SAMPLES = {
    "Example.dcm": ("dicom", 12, 500.0, 5000),
    "waveform_ecg.dcm": ("dicom", 12, 1000.0, 10000),
    "test_ecg.dcm": ("dicom", 12, 240.0, 2400),
    "Example aECG.xml": ("hl7_aecg", 12, 500.0, 5000),
    "129DYPRG.XML": ("philips_xml", 12, 500.0, 5500),
    "3191723_ZZDEMOPTONLY_1-04_orig.xml": ("philips_xml", 12, 500.0, 5500),
    "2020-5-18_15-48-11.xml": ("philips_xml", 12, 500.0, 5500),
    "Example.scp": ("scp_ecg", 12, 500.0, 5000),
    "apple_health_synthetic.csv": ("apple_health_csv", 1, 512.0, 6144),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_redistributable_sample_loads(name):
    fmt, n_leads, fs, n = SAMPLES[name]
    rec = load_recording(FORMATS / name)
    assert rec.format == fmt
    assert rec.signal.shape == (n, n_leads)
    assert rec.sampling_rate_hz == fs
    assert all(c.unit == "mV" for c in rec.channels)
    assert np.isfinite(rec.signal).all()
    span = np.percentile(rec.signal, 99, axis=0) - np.percentile(rec.signal, 1, axis=0)
    assert (span > 0.05).all() and (span < 10).all()  # millivolts, not microvolts or ADC counts
    if n_leads == 12:
        assert rec.channel_names == STANDARD_12_LEADS
        assert rec.modality == Modality.ECG
    assert rec.acquired_at is not None
    assert rec.device_report is not None


def test_detection_is_by_content_not_extension(tmp_path):
    for name, fmt in [
        ("Example aECG.xml", "hl7_aecg"),
        ("Example.scp", "scp_ecg"),
        ("Example.dcm", "dicom"),
        ("apple_health_synthetic.csv", "apple_health_csv"),
    ]:
        renamed = tmp_path / f"upload_{fmt}.bin"
        shutil.copy(FORMATS / name, renamed)
        assert sniff(renamed) == fmt
        assert load_recording(renamed).format == fmt
    # and an ordinary file is not claimed: existing loaders keep their inputs
    assert sniff(Path(__file__).parent / "data" / "synthetic_ppg_accel.csv") is None
    assert sniff(Path(__file__).parent / "data" / "E07500.hea") is None
    assert load_recording(Path(__file__).parent / "data" / "synthetic_ecg_ppg.edf").format == "edf"


def test_three_formats_of_one_recording_give_the_same_signal():
    """Example.dcm, Example aECG.xml and Example.scp (HL7 aECG ballot example written three ways by
    ECGToolkit). Tolerance: 1e-6 mV (1 nV) per sample, every lead; they agree to the last bit in fact (the
    DICOM stores 2.5 uV units, the SCP 2500 nV units, the aECG the same values in uV)."""
    recs = [load_recording(FORMATS / n) for n in ("Example.dcm", "Example aECG.xml", "Example.scp")]
    ref = recs[0]
    for other in recs[1:]:
        assert other.channel_names == ref.channel_names
        assert other.sampling_rate_hz == ref.sampling_rate_hz
        np.testing.assert_allclose(other.signal, ref.signal, rtol=0, atol=1e-6)
    for r in recs:
        assert r.acquired_at.replace(tzinfo=None) == recs[1].acquired_at.replace(tzinfo=None)
        assert r.demographics.sex == "male"
        assert {q: r.device_report.get(q).value for q in ("pr", "qrs", "qt")} == {
            "pr": 148,
            "qrs": 120,
            "qt": 420,
        }
        qtc = r.device_report.get("qtc")
        assert qtc is not None and qtc.value == 443 and qtc.unit == "ms"
        axis = r.device_report.get("qrs_axis")
        assert (
            axis is not None and axis.value == -61 and axis.unit == "deg"
        )  # unit from the concept, not 'ms'


def test_device_report_of_a_philips_cart_keeps_statements_and_measurements():
    rec = load_recording(FORMATS / "3191723_ZZDEMOPTONLY_1-04_orig.xml")
    dr = rec.device_report
    assert dr.device == "Philips Medical Products PageWriter Touch"
    assert [s.text for s in dr.statements] == [
        "SINUS RHYTHM",
        "PROBABLE LEFT VENTRICULAR HYPERTROPHY",
        "ANTERIOR ST ELEVATION, PROBABLY DUE TO LVH",
    ]
    assert dr.statements[1].reason == "(RaVL+SV3)xQRSd >280"
    assert {m.quantity: m.value for m in dr.measurements} == {
        "heart_rate": 84,
        "rr": 714,
        "pr": 144,
        "qrs": 84,
        "qt": 352,
        "qtc_bazett": 417,
        "qtc_fridericia": 394,
        "p_axis": 81,
        "qrs_axis": 78,
        "t_axis": 67,
    }
    assert dr.severity == "ABNORMAL"
    # names and patient ids are not kept; age and sex are
    dumped = rec.model_dump_json()
    assert "ZZDEMOPTONLY" not in dumped.replace(rec.name, "").replace(json.dumps(rec.source_files), "")
    assert rec.demographics.age == 60 and rec.demographics.sex == "male"


def test_dicom_statements_and_annotations():
    dr = load_recording(FORMATS / "waveform_ecg.dcm").device_report
    assert [s.text for s in dr.statements] == ["RITMO SINUSALE", "ECG NORMALE"]
    assert {m.quantity: m.value for m in dr.measurements} == {
        "rr": 982,
        "pr": 161,
        "qrs": 75,
        "qt": 368,
        "qtc": 370,
        "p_axis": 74,
        "qrs_axis": 52,
        "t_axis": 57,
    }


def test_apple_export_synthetic():
    rec = load_recording(FORMATS / "apple_health_synthetic.csv")
    assert rec.channel_names == ["I"]
    assert rec.device_report.classification == "Sinus Rhythm"
    assert rec.device_report.device == "Apple Watch (Watch6,1)"
    assert rec.acquired_at.utcoffset() == timedelta(hours=1)
    assert 0.5 < np.ptp(rec.signal) < 3  # µV in the file, mV in the Recording


def test_short_and_non_conforming_files_get_specific_errors():
    with pytest.raises(TooShortError, match="minimum_aecg.xml: the recording is 0.026 s"):
        load_recording(FORMATS / "minimum_aecg.xml")
    with pytest.raises(
        UnsupportedFormatError, match=r"62\.SCP: the file is named like SCP-ECG.*Accepted: standard SCP"
    ):
        load_recording(FORMATS / "62.SCP")


def test_damaged_files_name_the_file_and_the_format(tmp_path):
    cut = tmp_path / "cut.scp"
    cut.write_bytes((FORMATS / "Example.scp").read_bytes()[:9000])
    with pytest.raises(
        CorruptFileError, match=r"cut.scp: the file looks like SCP-ECG but cannot be read .*declares"
    ):
        load_recording(cut)
    bad_xml = tmp_path / "bad.xml"
    bad_xml.write_bytes((FORMATS / "129DYPRG.XML").read_bytes()[:20000])
    with pytest.raises(CorruptFileError, match="bad.xml: the file looks like Philips Sierra"):
        load_recording(bad_xml)


def test_dicom_over_the_sample_limit_is_refused(monkeypatch):
    monkeypatch.setenv("CARDIOAGENT_MAX_SAMPLES", "10000")
    with pytest.raises(FileTooLargeError, match="Example.dcm: the recording holds 5,000 samples x 12"):
        load_recording(FORMATS / "Example.dcm")


@pytest.mark.parametrize(
    "rate, error",
    [("0 hertz", SamplingRateError), ("fast", CorruptFileError), ("99999 hertz", SamplingRateError)],
)
def test_apple_export_with_a_bad_rate(tmp_path, rate, error):
    text = (FORMATS / "apple_health_synthetic.csv").read_text(encoding="utf-8")
    bad = tmp_path / "ecg.csv"
    bad.write_text(text.replace("Sample Rate,512 hertz", f"Sample Rate,{rate}"), encoding="utf-8")
    with pytest.raises(error, match="ecg.csv"):
        load_recording(bad)


def test_apple_export_with_a_stray_line(tmp_path):
    lines = (FORMATS / "apple_health_synthetic.csv").read_text(encoding="utf-8").splitlines()
    lines.insert(100, "hello,world")
    bad = tmp_path / "ecg.csv"
    bad.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(CorruptFileError, match=r"ecg.csv: line 101 \('hello,world'\) is not a sample"):
        load_recording(bad)


def test_summary_carries_the_device_report():
    rec = load_recording(FORMATS / "129DYPRG.XML")
    s = rec.summary()
    assert s.device_report.statements[0].text == "Sinus bradycardia"
    assert s.acquired_at == rec.acquired_at


# ---- what the device states never feeds the closed-question rules ------------------------------------------


def _records(rec):
    from cardioagent.agent.state import ToolCallRecord
    from cardioagent.tools.contract import ToolContext
    from cardioagent.tools.registry import default_registry

    reg = default_registry()
    ctx = ToolContext(get_recording=lambda _id: rec, artifacts_dir=Path("/tmp"))
    out = []
    for tool in ("recording_summary", "heart_rate", "rhythm_analysis", "ecg_intervals"):
        res = reg.run(tool, {"recording_id": rec.id}, ctx)
        out.append(
            ToolCallRecord(
                tool=tool,
                args={"recording_id": rec.id},
                reason="",
                ok=True,
                seconds=0.0,
                result=res.model_dump(mode="json"),
                summary=res.summary(),
                quality=res.quality.value,
            )
        )
    return out


@pytest.mark.slow
def test_device_statements_and_header_diagnoses_never_reach_the_closed_question_rules():
    """The same signal with and without a device report claiming atrial fibrillation and a QTc of 600 ms
    (and a header diagnosis of AF, SNOMED 164889003): the tools' outputs and every closed answer are identical,
    and none of the device's words or numbers appear in what the rules read."""
    from cardioagent.agent.closed_answer import decide
    from cardioagent.agent.closed_question import facts_of
    from cardioagent.tools.signal.recording import DeviceMeasurement

    plain = load_recording(FORMATS / "Example aECG.xml")
    plain.device_report = None
    lying = plain.model_copy(deep=True)
    lying.signal = plain.signal
    lying.device_report = DeviceReport(
        device="Cart",
        statements=[DeviceStatement(text="ATRIAL FIBRILLATION WITH RAPID VENTRICULAR RESPONSE")],
        measurements=[
            DeviceMeasurement(quantity="qtc", value=600, unit="ms"),
            DeviceMeasurement(quantity="heart_rate", value=150, unit="bpm"),
        ],
        classification="Atrial Fibrillation",
    )
    lying.diagnoses = ["164889003"]
    a, b = _records(plain), _records(lying)
    for ra, rb in zip(a, b, strict=False):
        assert ra.result == rb.result
    blob = json.dumps([r.result for r in b]) + " ".join(r.summary for r in b)
    assert "ATRIAL FIBRILLATION" not in blob.upper() and "600" not in blob and "164889003" not in blob
    assert facts_of(a) == facts_of(b)
    for question, options in [
        ("Is there atrial fibrillation?", ["yes", "no"]),
        ("Is the QTc prolonged?", ["yes", "no"]),
        ("Which rhythm is it?", ["sinus rhythm", "atrial fibrillation", "none"]),
        ("What is the heart rate?", ["below 60", "60-100", "above 100"]),
    ]:
        da, db = decide(question, options, a), decide(question, options, b)
        assert da.model_dump() == db.model_dump()
    af = decide("Is there atrial fibrillation?", ["yes", "no"], b)
    assert "yes" not in af.chosen


# ---- ../shared (GPL files, not copied) ---------------------------------------------------------------------


def test_ge_muse_xml_from_shared(shared_data):
    rec = load_recording(shared_data / "ecg_formats" / "ge_muse_xml" / "example1.xml")
    assert rec.format == "ge_muse_xml" and rec.channel_names == STANDARD_12_LEADS
    i, ii, iii = (rec.channel_data(n) for n in ("I", "II", "III"))
    np.testing.assert_allclose(iii, ii - i, atol=1e-9)  # derived by Einthoven's law, as noted
    assert any("derived from I and II" in c for c in rec.header_comments)
    got = {m.quantity: m.value for m in rec.device_report.measurements}
    assert got["pr"] == 138 and got["qrs"] == 96 and got["qt"] == 452 and got["heart_rate"] == 48
    assert got["qtc"] == 403 and got["qtc_fridericia"] == 419


@pytest.mark.parametrize(
    "name, classification, fs",
    [("ecg_2021-12-17.csv", "Sinus Rhythm", 513.625), ("ecg_2024-01-24.csv", "Heart Rate Below 50", 512.508)],
)
def test_apple_exports_from_shared(shared_data, name, classification, fs):
    rec = load_recording(shared_data / "ecg_formats" / "apple_health_ecg_csv" / name)
    assert rec.format == "apple_health_csv" and rec.sampling_rate_hz == fs
    assert rec.device_report.classification == classification
    assert rec.duration_s == pytest.approx(30, abs=0.2)
    assert "REDACTED" not in rec.model_dump_json()


def test_contec_edf_from_shared_keeps_the_existing_edf_loader(shared_data):
    rec = load_recording(shared_data / "ecg_formats" / "edf_ecg" / "0000050.ECG.edf")
    assert rec.format == "edf" and rec.sampling_rate_hz == 800
    assert (
        rec.channel_names[:6] == STANDARD_12_LEADS[:6]
    )  # V1-V6 are flat in this file and dropped, with a note


# ---- fuzz -----------------------------------------------------------------------------------------------------


def _fuzz_module():
    path = Path(__file__).resolve().parents[1] / "bench" / "fuzz_clinical_formats.py"
    spec = importlib.util.spec_from_file_location("fuzz_clinical_formats", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_fuzzed_clinical_files_give_no_traceback_and_no_hang():
    """200 mutated files of the redistributable seeds, each in a forked child capped at 20 s and 1.5 GB."""
    fuzz = _fuzz_module()
    started = time.perf_counter()
    res = fuzz.fuzz(200, seed=18, include_shared=False, time_cap_s=20.0)
    assert sum(res["total"].values()) == 200
    assert res["bad"] == []
    assert res["slowest_s"] < 20.0
    assert (
        res["total"].get("ok", 0) > 0 and res["total"].get("wrapped", 0) + res["total"].get("specific", 0) > 0
    )
    assert time.perf_counter() - started < 600


def test_agent_answer_shows_device_statements_apart_and_compared():
    from cardioagent.agent.compose import KnowledgeBundle, compose_answer
    from cardioagent.agent.safety import EmergencyCheck
    from cardioagent.agent.state import ToolCallRecord

    rec = load_recording(FORMATS / "Example aECG.xml")
    intervals = ToolCallRecord(
        tool="ecg_intervals",
        args={"recording_id": rec.id},
        reason="",
        ok=True,
        seconds=0,
        result={"qtc_bazett": {"name": "QTc (Bazett)", "value": 434, "unit": "ms", "quality": "good"}},
        summary="QTc (Bazett): 434 ms",
        quality="good",
    )
    kw = {
        "recordings_line": "",
        "records": [intervals],
        "knowledge": KnowledgeBundle(),
        "emergency": EmergencyCheck(emergency=False, triggers=[]),
    }
    plain = compose_answer(**kw)
    text = compose_answer(**kw, device_reports={rec.id: rec.device_report})
    assert "Stated by the recording device" not in plain
    findings, device = text.split("**Stated by the recording device**")
    assert "443" not in findings  # the cart's value is not among the findings
    assert "QTc: the device reported 443 ms; measured here 434 ms" in device
    assert "PR interval: the device reported 148 ms; not measured here" in device


def test_stored_clinical_recording_reloads_with_its_device_report(tmp_path):
    """The session store keeps uploads under safe names and reloads them by content: nothing is lost."""
    from cardioagent.agent.session_store import RecordingStore

    [rec] = RecordingStore(tmp_path).add([FORMATS / "Example aECG.xml"])
    again = RecordingStore(tmp_path)
    back = again.get(rec.id)
    assert back.format == "hl7_aecg" and back.device_report == rec.device_report
    np.testing.assert_array_equal(back.signal, rec.signal)
    assert again.summary(rec.id).device_report.get("qtc").value == 443
