"""The ECG-image digitizer (tools/signal/digitize): a real phone photo and the project's own renders are read
back into the signals they were printed from, real photos of other things are refused, and the tool
measures the digitized signal with the signal tools, flagged by the digitization's confidence."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import wfdb
from PIL import Image
from skimage import data as skimage_data  # real photographs of other things: the negatives

from cardioagent.tools import analysis
from cardioagent.tools.builtin.image_tools import EcgImageDigitizeTool
from cardioagent.tools.contract import Quality, RecordingInput, ToolContext
from cardioagent.tools.errors import InputError
from cardioagent.tools.signal.digitize import NotAnEcgPageError, digitize_ecg_image
from cardioagent.tools.signal.digitize.digitize import flatten_baseline
from cardioagent.tools.signal.digitize.export import as_recording, write_csv, write_wfdb
from cardioagent.tools.signal.digitize.layout import layout_for
from cardioagent.tools.signal.digitize.scoring import score_lead
from cardioagent.tools.signal.loaders import load_recording
from cardioagent.tools.signal.render import render_12lead

DATA = Path(__file__).parent / "data"
PHOTO = DATA / "photos" / "01442_hr-0.jpg"


@pytest.fixture(scope="module")
def photo_digitized():
    return digitize_ecg_image(np.asarray(Image.open(PHOTO).convert("RGB")))


def _hr(values: np.ndarray) -> float:
    rec = as_recording_like(values)
    value = analysis.heart_rate(rec).heart_rate.value
    assert value is not None
    return value


def as_recording_like(values: np.ndarray):
    from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording

    return Recording(
        id="0" * 16,
        name="x",
        source_files=[],
        format="wfdb",
        modality=Modality.ECG,
        sampling_rate_hz=500.0,
        channels=[Channel(name="II", kind=ChannelKind.ECG, unit="mV")],
        signal=np.nan_to_num(values).reshape(-1, 1),
    )


@pytest.mark.slow  # digitizes a full photo or page (seconds each)
def test_a_real_phone_photo_is_read_back_into_its_lead_ii(photo_digitized):
    dig = photo_digitized
    assert dig.report.page_found and dig.report.layout == "3x4 + II rhythm strip"
    assert dig.report.layout_consistent and dig.report.calibration_pulses >= 3
    ref, _ = wfdb.rdsamp(str(DATA / "photos" / "01442_hr"))
    ii = dig.leads.index("II")
    score = score_lead(ref[:, 1], dig.signal[:, ii], 500.0)
    assert score.correlation > 0.8 and score.snr_db > 2.0, score
    assert abs(score.shift_s) < 0.1
    assert abs(_hr(dig.signal[:, ii]) - _hr(ref[:, 1])) < 3.0


@pytest.mark.slow  # digitizes a full photo or page (seconds each)
def test_each_printed_window_lands_on_its_own_time(photo_digitized):
    sig = photo_digitized.signal
    covered = np.isfinite(sig)
    names = photo_digitized.leads
    # 3 x 4: V1 is printed from 5.0 to 7.5 s only; lead II over the whole 10 s (the rhythm strip)
    v1 = covered[:, names.index("V1")]
    assert v1[2600:3700].all() and not v1[:2400].any() and not v1[3900:].any()
    assert covered[:, names.index("II")].mean() > 0.97


@pytest.mark.slow  # digitizes a full photo or page (seconds each)
def test_a_render_of_a_real_record_is_read_back(tmp_path):
    rec = load_recording(DATA / "E07500.hea")
    page = render_12lead(rec, show_header=False, dpi=150).image  # a screenshot-like resolution
    dig = digitize_ecg_image(page)
    assert dig.report.layout == "3x4 + II rhythm strip" and not dig.report.page_found
    src = rec.channel_data("II")
    src = np.interp(np.arange(5000) / 500.0, np.arange(len(src)) / rec.sampling_rate_hz, src)
    score = score_lead(src, dig.signal[:, dig.leads.index("II")], 500.0)
    # the digitizer removes the baseline (a curled sheet bends it), and with it the record's own wander
    assert score.correlation > 0.85, score
    level = score_lead(flatten_baseline(src), dig.signal[:, dig.leads.index("II")], 500.0)
    assert level.correlation > 0.9, level
    assert abs(_hr(dig.signal[:, 1]) - _hr(src)) < 3.0


def test_a_page_lit_from_one_side_is_read_whole_not_as_its_bright_part():
    """Light falling across the sheet: Otsu's page outline takes the bright part of the sheet for the page
    (a fifth of the image), whose rectified grid is weak; the whole image, whose grid is far stronger, is
    read instead, where the page was refused as "not an ECG" before."""
    from cardioagent.models.vlm.photo_augment import uneven_lighting
    from cardioagent.tools.signal.digitize.page import find_page

    rec = load_recording(DATA / "E07500.hea")
    lit = uneven_lighting(render_12lead(rec, dpi=150).image, gradient=0.45, angle_deg=30.0, vignette=0.02)
    assert not find_page(lit).whole_image and find_page(lit).fraction < 0.5  # the outline is misread
    dig = digitize_ecg_image(lit)
    assert dig.report.page_method == "whole image" and dig.report.layout == "3x4 + II rhythm strip"
    src = rec.channel_data("II")
    src = np.interp(np.arange(5000) / 500.0, np.arange(len(src)) / rec.sampling_rate_hz, src)
    assert abs(_hr(dig.signal[:, dig.leads.index("II")]) - _hr(src)) < 3.0


def test_a_whole_image_with_a_grid_as_strong_and_more_calibrated_rows_is_taken_for_the_page():
    """Light across the sheet again, but milder: the outline is a corner of the sheet (15 % of the image) and
    the whole image's grid is stronger, yet not twice as strong. The outline's reading shows no calibration
    pulse (the page was refused before); the whole image shows four rows that open with one, and is read."""
    from cardioagent.models.vlm.photo_augment import uneven_lighting
    from cardioagent.tools.signal.digitize.digitize import read_page
    from cardioagent.tools.signal.digitize.page import find_page

    rec = load_recording(DATA / "E07500.hea")
    lit = uneven_lighting(render_12lead(rec, dpi=150).image, gradient=0.25, angle_deg=0.0, vignette=0.2)
    outline = find_page(lit)
    assert not outline.whole_image and outline.fraction < 0.3
    reading = read_page(lit)
    assert reading.outline.whole_image and len(reading.rows) == 4 and reading.complete_pulses == 4
    assert digitize_ecg_image(lit).report.layout == "3x4 + II rhythm strip"


@pytest.mark.slow  # digitizes a full photo or page (seconds each)
@pytest.mark.parametrize("name", ["astronaut", "camera", "coins", "hubble_deep_field", "page", "horse"])
def test_real_photos_of_other_things_are_refused(name):

    img = np.asarray(getattr(skimage_data, name)())
    rgb = np.stack([img] * 3, axis=-1) if img.ndim == 2 else img[..., :3]
    with pytest.raises(NotAnEcgPageError):
        digitize_ecg_image(rgb.astype(np.uint8))


def test_layouts_follow_the_row_count():
    assert layout_for(4, 10).name == "3x4 + II rhythm strip"
    assert layout_for(6, 10).name == "6x2"
    assert layout_for(12, 10).name == "12x1"
    assert layout_for(1, 30).duration_s == 30
    assert layout_for(9, 10) is None


def test_scoring_finds_the_shift_and_punishes_noise():
    t = np.arange(5000) / 500.0
    x = np.sin(2 * np.pi * 1.2 * t) + 0.3 * np.sin(2 * np.pi * 7 * t)
    shifted = np.roll(x, 50) + 0.2  # 0.1 s late and 0.2 mV higher
    good = score_lead(x, shifted, 500.0)
    assert good.shift_s == pytest.approx(-0.1, abs=0.01) and good.snr_db > 15
    noisy = score_lead(x, x + np.random.default_rng(0).normal(0, 0.5, x.size), 500.0)
    assert noisy.snr_db < good.snr_db and noisy.snr_db < 5


@pytest.mark.slow  # digitizes a full photo or page (seconds each)
def test_exports_round_trip(photo_digitized, tmp_path):
    out = write_csv(photo_digitized, tmp_path / "d.csv")
    with open(out) as f:
        header = next(csv.reader(f))
    assert header[0] == "time_s" and "II_mV" in header and len(header) == 13
    files = write_wfdb(photo_digitized, tmp_path, "d")
    sig, fields = wfdb.rdsamp(str(tmp_path / "d"))
    assert fields["fs"] == 500 and fields["sig_name"][1] == "II" and files[0].is_file()
    ii = photo_digitized.signal[:, 1]
    ok = np.isfinite(ii)
    assert np.allclose(sig[ok, 1], ii[ok], atol=1e-3)
    assert np.isnan(sig[:100, fields["sig_name"].index("V1")]).all()  # not printed there: missing, not 0
    rec = as_recording(photo_digitized, "p", "0123456789abcdef")
    assert rec.channel_names == ["II"] and np.isfinite(rec.signal).all()


@pytest.mark.slow  # digitizes a full photo or page (seconds each)
def test_the_tool_measures_the_digitized_signal_with_flags(tmp_path):
    rec = load_recording(PHOTO)
    ctx = ToolContext(get_recording=lambda _id: rec, artifacts_dir=tmp_path)
    result = EcgImageDigitizeTool().run(RecordingInput(recording_id=rec.id), ctx)
    assert result.heart_rate is not None and 60 < result.heart_rate.value < 90
    assert result.leads_analysed == ["II"] and result.rhythm == "regular"
    # every number is flagged no better than the digitization's confidence in lead II
    lead_q = result.digitization.lead("II").quality
    order = [Quality.GOOD, Quality.ACCEPTABLE, Quality.POOR, Quality.UNUSABLE]
    assert all(
        order.index(m.quality) >= order.index(lead_q) for m in result.measurements() if m.value is not None
    )
    assert {Path(p).suffix for p in result.downloads} == {".csv", ".hea", ".dat"}
    assert all(Path(p).is_file() for p in result.figures) and len(result.figures) == 2
    assert "digitized" in result.summary()


@pytest.mark.slow  # digitizes a full photo or page (seconds each)
def test_the_tool_refuses_a_photo_of_something_else_with_a_specific_error(tmp_path):

    path = tmp_path / "cat.png"
    Image.fromarray(skimage_data.chelsea()).save(path)
    rec = load_recording(path)
    ctx = ToolContext(get_recording=lambda _id: rec, artifacts_dir=tmp_path)
    with pytest.raises(InputError, match="could not be read as an ECG"):
        EcgImageDigitizeTool().run(RecordingInput(recording_id=rec.id), ctx)


def _rows_mask(sag_px: int) -> np.ndarray:
    """Three 1-px trace rows with a spike every 100 px across 1,000 columns; the last row sags by
    ``sag_px`` over its final 300 columns, as the far end of a curled sheet does."""
    mask = np.zeros((400, 1000), bool)
    for centre in (80, 200, 320):
        y = np.full(1000, centre, float)
        if centre == 320:
            y[700:] += np.linspace(0, sag_px, 300)
        for x in range(20, 990):
            mask[int(y[x]), x] = True
            if x % 100 == 50:
                mask[int(y[x]) - 25 : int(y[x]), x] = True
    return mask


def test_a_row_carried_out_of_its_band_by_a_curled_sheet_is_followed_to_the_page_end():
    from cardioagent.tools.signal.digitize.trace import extend_rows, find_rows

    rows = find_rows(_rows_mask(sag_px=45), min_gap_px=80)
    assert len(rows) == 3 and rows[2].x1 < 900  # the level band lost the sagging end
    extended = extend_rows(_rows_mask(sag_px=45), rows, [float(r.centre) for r in rows])
    assert [r.x1 for r in extended[:2]] == [r.x1 for r in rows[:2]]
    assert extended[2].x1 >= 985
    # a row that really ends early (nothing printed after it) keeps its end
    short = _rows_mask(sag_px=0)
    short[300:340, 600:] = False
    rows = find_rows(short, min_gap_px=80)
    assert extend_rows(short, rows, [float(r.centre) for r in rows])[2].x1 == rows[2].x1 < 600


def test_the_sag_of_a_curled_sheet_is_removed_as_baseline_and_gaps_stay_missing():
    import neurokit2 as nk

    ecg = nk.ecg_simulate(duration=10, sampling_rate=500, heart_rate=70, random_state=3)
    sagging = ecg - np.linspace(0.0, 1.0, ecg.size)  # the row bends 1 mV (10 mm) down across the page
    sagging[2000:2100] = np.nan  # trace lost to glare
    flat = flatten_baseline(sagging)
    ok = np.isfinite(flat)
    assert np.isnan(flat[2000:2100]).all() and ok.sum() == ecg.size - 100
    before = np.corrcoef(sagging[ok], ecg[ok])[0, 1]
    after = np.corrcoef(flat[ok], ecg[ok])[0, 1]
    assert after > 0.9 > before
    assert abs(np.median(flat[:1000]) - np.median(flat[-1000:])) < 0.05  # no drift left end to end


def test_the_grid_ruler_is_not_thrown_off_by_a_stray_line_before_the_grid():
    # A grid of 5-mm lines every 43.6 px with a stray dark column at 14 px (the image's edge, a lead label):
    # chained from that first peak, no grid line sat a whole number of squares away, and the ruler held one
    # line, which mapped every column to the same instant (a whole row's trace was then lost).
    from cardioagent.tools.signal.digitize.grid import grid_ruler

    period, width = 43.6, 2400
    grid_band = np.zeros((60, width))
    lines = np.arange(44.0, width - 5, period)
    for x in lines:
        grid_band[:, int(round(x))] = 1.0
    grid_band[:, 14] = 1.0
    ruler = grid_ruler(grid_band, np.zeros_like(grid_band), period)
    assert ruler is not None
    cols, index = ruler
    assert len(cols) >= len(lines) - 1 and 14 not in cols
    # the index counts grid squares: one square per period of columns
    slope = np.polyfit(cols, index, 1)[0]
    assert slope == pytest.approx(1 / period, rel=0.01)


def test_leaning_grid_lines_are_measured_and_stood_upright():
    # A grid whose vertical lines lean 0.04 px across per px down (a page photographed at an angle and read
    # whole): the lean is measured from the grid alone and undone, and a grid drawn upright is left alone.
    from cardioagent.tools.signal.digitize.grid import column_slope
    from cardioagent.tools.signal.digitize.trace import upright

    h, w, lean = 900, 1200, 0.04
    yy, xx = np.mgrid[0:h, 0:w]
    leaning = 0.3 * ((np.mod(xx - lean * (yy - h / 2), 40.0) < 2) | (np.mod(yy, 40.0) < 2))
    assert column_slope(leaning) == pytest.approx(lean, abs=0.003)
    stood = upright(leaning, column_slope(leaning))
    columns = stood[100:-100, 100:-100].mean(axis=0)
    assert columns.max() > 0.25  # each vertical line now falls in one column over the whole height
    square = 0.3 * ((np.mod(xx, 40.0) < 2) | (np.mod(yy, 40.0) < 2))
    assert column_slope(square) == 0.0


def test_a_faint_rhythm_strip_one_pitch_below_the_rows_is_found_and_text_off_the_lattice_is_not():
    # Three rows of trace and a fourth, faint one (the ink mask kept 60 % of it, in dashes): its projection
    # is 16 % of the strongest row's, under find_rows' bar of 30 %. It lies one row pitch below the last
    # row, where a printed layout puts its rhythm strip, and is found there with the lower bar.
    from cardioagent.tools.signal.digitize.trace import complete_lattice, find_rows, spike_count

    m = np.zeros((1000, 1200), bool)
    for y in (200, 400, 600):
        m[y : y + 4, 50:1150] = True
        m[[y - 30 + k for k in range(40)], 100:1150:100] = True  # beats
    m[800, 50:1150] = (np.arange(1100) % 12) < 7
    m[770:810, 150:1150:250] = True
    m[140, 300:700] = True  # a line of header text above the first row: not where a rhythm strip is printed
    rows = find_rows(m, 120)
    assert [r.centre for r in rows] == [201, 401, 601]
    completed = complete_lattice(m, rows, 120, lambda r: spike_count(m, r, 20) >= 3)
    assert [r.centre for r in completed] == [201, 401, 601, 799]
    assert completed[-1].x0 <= 60 and completed[-1].x1 >= 1140
    # rows found unevenly (a crease taken for a row) imply no lattice: nothing is added
    from dataclasses import replace

    uneven = [rows[0], replace(rows[1], centre=331), rows[2]]
    assert [r.centre for r in complete_lattice(m, uneven, 120, lambda r: True)] == [201, 331, 601]
