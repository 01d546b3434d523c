"""A lead recorded over part of the recording only, as each lead of a 3 x 4 page is printed for 2.5 s of the
10 s: the interval tool measures it inside its window on the beats of a full-length lead, and the image
tool measures every printed lead that way, withholding statements that rest on one or two beats per lead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cardioagent.tools import analysis
from cardioagent.tools.builtin.image_tools import EcgImageDigitizeTool
from cardioagent.tools.contract import Quality, RecordingInput, ToolContext
from cardioagent.tools.signal.digitize.layout import as_printed, layout_for
from cardioagent.tools.signal.filters import recorded_span
from cardioagent.tools.signal.loaders import load_recording
from cardioagent.tools.signal.recording import STANDARD_12_LEADS
from cardioagent.tools.signal.render import render_12lead

DATA = Path(__file__).parent / "data"


def test_the_recorded_span_is_where_the_lead_holds_samples():
    x = np.full(100, np.nan)
    x[20:60] = 1.0
    x[30] = np.nan  # a gap inside is left to the gap filling
    assert recorded_span(x) == (20, 60)
    assert recorded_span(np.ones(10)) == (0, 10)
    assert recorded_span(np.full(10, np.nan)) is None


def _windowed(rec):
    """The record cut as a 3 x 4 page prints it: every lead but II missing outside its 2.5-s window."""
    w = rec.model_copy(deep=True)
    w.signal = as_printed(w.signal, w.sampling_rate_hz, w.channel_names, layout_for(4, 10.0))
    w.id = f"{w.id}-windowed"
    return w


def test_a_lead_printed_for_part_of_the_page_is_measured_inside_its_window():
    rec = load_recording(DATA / "E07510.hea")  # complete RBBB (CinC 2021)
    full = {lead.lead: lead for lead in analysis.intervals(rec).leads}
    part = analysis.intervals(_windowed(rec))
    assert part.fiducial_channel == "II"
    for lead in part.leads:
        if lead.lead == "II":
            continue
        # measured, not marked unusable for the 7.5 s it was not printed, and said to be a part
        assert lead.quality != Quality.UNUSABLE, (lead.lead, lead.reason)
        assert "recorded" in lead.reason and "s only" in lead.reason
        assert 1 <= lead.n_beats <= 3
    close = [
        abs(lead.qrs.value - full[lead.lead].qrs.value) <= 16
        for lead in part.leads
        if lead.qrs.value is not None and full[lead.lead].qrs.value is not None
    ]
    assert len(close) >= 10 and sum(close) >= 0.8 * len(close), close


@pytest.mark.slow  # draws and digitizes a page (seconds)
def test_the_image_tool_measures_every_printed_lead_and_withholds_statements_from_single_beats(tmp_path):
    src = load_recording(DATA / "E07510.hea")
    page = tmp_path / "E07510-page.png"
    Image.fromarray(render_12lead(src, show_header=False, dpi=150).image).save(page)
    rec = load_recording(page)
    ctx = ToolContext(get_recording=lambda _id: rec, artifacts_dir=tmp_path)
    result = EcgImageDigitizeTool().run(RecordingInput(recording_id=rec.id), ctx)
    assert result.interval_leads == STANDARD_12_LEADS
    assert result.leads_analysed == ["II"]  # rate and rhythm from the full-length lead only
    # the 2.5-s leads hold one or two beats: their median beat is flagged poor, so is all that rests on it
    assert result.statements == []
    assert any("withheld" in w and "fewer than 3 beats" in w for w in result.warnings), result.warnings
    assert result.qrs_axis is not None and result.qrs_axis.quality == Quality.POOR
    assert result.qrs is not None and result.qrs.quality == Quality.POOR
