"""Reports out: the PDF report (reportlab) and the FHIR R4 bundle (validated with fhir.resources) of a 12-lead
record, through ``cardioagent report`` and the library functions.

The 12-lead record is ``tests/data/formats/Example aECG.xml`` (HL7 aECG example, CC0): its cart reported
PR 148, QRS 120, QT 420, QTc 443 ms, which the report shows apart from the measured values.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pypdfium2
import pytest
from pydantic import ValidationError

from cardioagent.agent.reporting.content import content_of_recording, results_of_trace
from cardioagent.agent.reporting.fhir import LOINC, MDC_LEAD, build_bundle
from cardioagent.agent.reporting.pdf import write_pdf
from cardioagent.agent.safety import NOT_A_MEDICAL_DEVICE
from cardioagent.tools.signal.loaders import load_recording

ECG12 = Path(__file__).parent / "data" / "formats" / "Example aECG.xml"


@pytest.fixture(scope="module")
def rec():
    return load_recording(ECG12)


@pytest.fixture(scope="module")
def content(rec):
    return content_of_recording(rec)


def _pdf_text(path: Path) -> str:
    doc = pypdfium2.PdfDocument(str(path))
    return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))


def test_pdf_report_has_the_figure_findings_statements_device_and_notice(rec, content, tmp_path):
    out = write_pdf(content, tmp_path / "report.pdf", rec)
    text = " ".join(_pdf_text(out).split())
    assert "Findings (measured by cardioagent)" in text
    hr = next(m for m in content.measurements if m.key == "heart_rate")
    assert f"heart rate: {hr.value:.0f}" in text and "quality: good" in text
    assert "Interpretation statements (by published criteria)" in text and "criterion:" in text
    assert "Stated by the recording device" in text
    assert "QTc: the device reported 443 ms; measured here" in text
    assert "Citations" in text and "Surawicz" in text
    assert " ".join(NOT_A_MEDICAL_DEVICE.split()) in text
    # the first page carries the 12-lead figure: rendered, it holds the grid's red-pink pixels
    page = np.asarray(pypdfium2.PdfDocument(str(out))[0].render(scale=1.0).to_pil().convert("RGB")).astype(
        int
    )
    pink = (page[..., 0] > 200) & (page[..., 1] < 200) & (page[..., 1] > 120) & (page[..., 2] < 210)
    assert pink.mean() > 0.02


def test_pdf_escapes_markup_from_files(rec, content, tmp_path):
    hostile = content.model_copy(deep=True)
    hostile.device_lines = ['device statement: <a href="http://x">click</a> <img src="/etc/passwd"/> & <b>']
    out = write_pdf(hostile, tmp_path / "r.pdf", None)
    assert '<a href="http://x">click</a>' in " ".join(_pdf_text(out).split())  # shown as text, not markup


def test_fhir_bundle_validates_and_carries_loinc_observations_and_the_waveform(rec, content):
    bundle = build_bundle(content, rec)
    data = json.loads(bundle.model_dump_json(exclude_none=True))
    assert data["resourceType"] == "Bundle" and data["type"] == "collection"
    obs = [e["resource"] for e in data["entry"]]
    codes = {c["code"] for o in obs for c in o["code"]["coding"] if c["system"] == LOINC}
    assert {"8867-4", "8625-6", "8633-0", "8634-8", "8636-3"} <= codes
    hr = next(o for o in obs if o["code"]["coding"][0]["code"] == "8867-4")
    assert hr["valueQuantity"]["code"] == "/min" and "quality: good" in hr["note"][0]["text"]
    qtc = [o for o in obs if o["code"]["coding"][0]["code"] == "8636-3"]
    assert {o["method"]["text"] for o in qtc} == {"Bazett", "Fridericia"}
    wave = next(o for o in obs if "component" in o)
    assert len(wave["component"]) == 12
    lead_i = wave["component"][0]
    assert lead_i["code"]["coding"][0]["code"] == str(MDC_LEAD["I"])
    sd = lead_i["valueSampledData"]
    assert float(sd["period"]) == 2.0 and sd["dimensions"] == 1
    back = np.array([float(v) for v in sd["data"].split()])
    np.testing.assert_allclose(back, rec.channel_data("I"), atol=5e-5)  # written to 0.1 uV
    assert "Patient" not in {o["resourceType"] for o in obs}


def test_fhir_validation_is_real(content):
    from fhir.resources.R4B.bundle import Bundle

    with pytest.raises(ValidationError):  # an Observation without its required status
        Bundle.model_validate(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": {"resourceType": "Observation", "code": {"text": "x"}}}],
            }
        )


def test_cli_report_writes_pdf_and_fhir(tmp_path, capsys):
    from cardioagent.ui.cli import main

    pdf, fhir = tmp_path / "out" / "report.pdf", tmp_path / "out" / "bundle.json"
    assert main(["report", str(ECG12), "-o", str(pdf), "--fhir", str(fhir)]) == 0
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert json.loads(fhir.read_text())["resourceType"] == "Bundle"


def test_cli_report_on_a_bad_file_is_one_line_error(tmp_path, capsys):
    from cardioagent.ui.cli import main

    bad = tmp_path / "bad.scp"
    bad.write_bytes(b"\x00" * 200)
    assert main(["report", str(bad), "-o", str(tmp_path / "r.pdf")]) == 2
    assert "bad.scp" in capsys.readouterr().err


def test_turn_trace_maps_onto_the_same_analyses():
    from cardioagent.agent.state import ToolCallRecord

    trace = [
        ToolCallRecord(
            tool="ecg_intervals",
            args={"recording_id": "r"},
            reason="",
            ok=True,
            seconds=0,
            result={"quality": "good", "pr": {"name": "PR interval", "value": 150, "unit": "ms"}},
            summary="PR interval: 150 ms",
        ),
        ToolCallRecord(
            tool="heart_rate", args={"recording_id": "r"}, reason="", ok=False, seconds=0, error="too short"
        ),
    ]
    res = results_of_trace(trace)
    assert set(res) == {"intervals"} and res["intervals"]["pr"]["value"] == 150


# ---- the UI's export menu and upload card ------------------------------------------------------------------


class _Assistant:
    """The one ``Assistant`` method the export uses."""

    def __init__(self, rec):
        self._rec = rec

    def recording(self, recording_id):
        assert recording_id == self._rec.id
        return self._rec


def test_ui_export_of_the_latest_recording_as_pdf_and_fhir(rec, tmp_path):
    from cardioagent.ui.report_export import export_recording_report

    pdf = export_recording_report(_Assistant(rec), rec.id, tmp_path, kind="pdf")
    assert pdf.suffix == ".pdf" and "Findings (measured by cardioagent)" in _pdf_text(pdf)
    fhir = export_recording_report(_Assistant(rec), rec.id, tmp_path, kind="fhir")
    assert json.loads(fhir.read_text())["type"] == "collection"


def test_upload_card_shows_the_device_and_its_statements_apart():
    from cardioagent.ui.upload_summary import device_note

    philips = load_recording(ECG12.parent / "129DYPRG.XML")
    note = device_note([philips])
    assert "Stated by HeartstartMRx" in note and "(from the file, not measured here)" in note
    assert "Sinus bradycardia" in note and r"\>\>\> Acute MI \<\<\<" in note  # file text made inert
    assert device_note([load_recording(Path(__file__).parent / "data" / "synthetic_ecg_ppg.edf")]) == ""


def test_report_of_a_turn_uses_its_trace_citations_and_answer(rec, tmp_path):
    from types import SimpleNamespace

    from cardioagent.agent.compose import Citation
    from cardioagent.agent.reporting.content import content_of_answer
    from cardioagent.agent.state import ToolCallRecord

    trace = [
        ToolCallRecord(
            tool="heart_rate",
            args={"recording_id": rec.id},
            reason="",
            ok=True,
            seconds=0,
            result={
                "quality": "good",
                "heart_rate": {"name": "heart rate", "value": 72.0, "unit": "bpm", "quality": "good"},
            },
            summary="heart rate: 72 bpm",
        ),
        ToolCallRecord(
            tool="heart_rate",
            args={"recording_id": "other"},
            reason="",
            ok=True,
            seconds=0,
            result={"heart_rate": {"value": 200.0, "unit": "bpm"}},
            summary="heart rate: 200 bpm",
        ),
    ]
    answer = SimpleNamespace(
        trace=trace,
        text="**Findings**\n- heart rate 72 bpm",
        citations=[Citation(n=1, entry_id="sinus_rhythm", name="Sinus rhythm", sources=["a book"])],
    )
    content = content_of_answer(answer, rec.summary())
    assert [m.value for m in content.measurements] == [72.0]  # only this recording's tool calls
    assert "[1] Sinus rhythm (after a book)" in content.citations
    text = " ".join(_pdf_text(write_pdf(content, tmp_path / "turn.pdf", rec)).split())
    assert "Assistant answer" in text and "heart rate: 72 bpm" in text and "[1] Sinus rhythm" in text
    assert "heart rate: the device reported" not in text  # this cart stated no heart rate
