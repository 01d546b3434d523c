"""Paper-style 12-lead rendering and analysis plots."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cardioagent.tools.errors import InputError, SamplingRateError
from cardioagent.tools.signal.recording import (
    STANDARD_12_LEADS,
    Channel,
    ChannelKind,
    Demographics,
    Modality,
    Recording,
)
from cardioagent.tools.signal.render import plot_heart_rate_trend, plot_recording, render_12lead
from cardioagent.tools.signal.render.paper import GRID_MAJOR, GRID_MINOR, MISSING_BOX, PAPERS


def _recording(signal: np.ndarray, fs: float, names: list[str], name: str = "synthetic") -> Recording:
    return Recording(
        id=name,
        name=name,
        source_files=[],
        format="numpy",
        modality=Modality.ECG,
        sampling_rate_hz=fs,
        channels=[Channel(name=n, kind=ChannelKind.ECG, unit="mV") for n in names],
        signal=np.asarray(signal, dtype=np.float64),
        demographics=Demographics(age=60, sex="female"),
    )


@pytest.fixture(scope="module")
def synthetic_12lead() -> Recording:
    nk = pytest.importorskip("neurokit2")
    df = nk.ecg_simulate(duration=10, sampling_rate=500, method="multileads", random_state=7)
    return _recording(df.to_numpy(), 500.0, list(df.columns))


def _wfdb_recording(path) -> Recording:
    wfdb = pytest.importorskip("wfdb")
    r = wfdb.rdrecord(str(path))
    return _recording(r.p_signal, float(r.fs), list(r.sig_name), name=path.name)


def _dark(img: np.ndarray) -> np.ndarray:
    """Trace/text pixels: near black (the grid is pink, the missing-lead boxes grey)."""
    return np.all(img < 60, axis=-1)


def _trace_column_fraction(img: np.ndarray, bbox: tuple[int, int, int, int]) -> float:
    x0, y0, x1, y1 = bbox
    return float(_dark(img[y0:y1, x0:x1]).any(axis=0).mean())


# --- geometry ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dpi", [100, 200])
def test_panels_are_to_scale_at_25_mm_per_s(synthetic_12lead, dpi):
    res = render_12lead(synthetic_12lead, dpi=dpi)
    ppm = dpi / 25.4
    assert res.px_per_mm == pytest.approx(ppm)
    assert res.image.shape == (res.height_px, res.width_px, 3) and res.image.dtype == np.uint8
    # 2.5 s at 25 mm/s is 62.5 mm; the rhythm strip's 10 s is 250 mm.
    for p in res.panels:
        width_mm = 250.0 if p.rhythm else 62.5
        assert p.bbox_px[2] - p.bbox_px[0] == pytest.approx(width_mm * ppm, abs=2)
        assert p.end_s - p.start_s == pytest.approx(10.0 if p.rhythm else 2.5)
    # Rows are the layout's row height apart.
    baselines = sorted({round(p.baseline_y_px, 3) for p in res.panels})
    assert np.diff(baselines) == pytest.approx([PAPERS["standard"].row_mm * ppm] * 3, abs=0.01)
    # The trace itself spans its time: the last sample of the rhythm strip and of the right-hand column
    # lands at start + (duration - 1 sample) * 25 mm/s (no neighbour panel there to confuse the search).
    for p in res.panels:
        if p.rhythm or p.column == 3:
            dark_cols = np.flatnonzero(_dark(res.image[p.bbox_px[1] : p.bbox_px[3], :]).any(axis=0))
            last_x = p.origin_x_px + (p.end_s - p.start_s - 1 / 500) * 25.0 * ppm
            assert dark_cols[-1] == pytest.approx(last_x, abs=1.5), p.lead
    # The page holds 10 s of trace plus the calibration strip and margins, and no more than 30 mm extra.
    assert 250 * ppm < res.width_px < 280 * ppm


def test_grid_has_minor_and_bold_lines_5_mm_apart(synthetic_12lead):
    res = render_12lead(synthetic_12lead, dpi=100)
    img = res.image
    is_major = np.all(img == GRID_MAJOR, axis=-1)
    is_minor = np.all(img == GRID_MINOR, axis=-1)
    assert is_minor.mean() > 0.05 and is_major.mean() > 0.01
    # Vertical bold lines: columns that are bold over most of the grid's height.
    ys = [p.bbox_px[1] for p in res.panels] + [p.bbox_px[3] for p in res.panels]
    band = is_major[min(ys) : max(ys)]
    bold_cols = np.flatnonzero(band.mean(axis=0) > 0.5)
    spacing_mm = np.diff(bold_cols) / res.px_per_mm
    assert len(bold_cols) > 40
    assert np.all(np.abs(spacing_mm - 5.0) < 0.3)


def test_calibration_pulse_is_1_mv_high(synthetic_12lead):
    for gain in (10.0, 5.0):
        res = render_12lead(synthetic_12lead, dpi=200, gain_mm_mv=gain)
        dark = _dark(res.image)
        first_trace_x = min(p.bbox_px[0] for p in res.panels)
        for row in range(4):
            base = next(p.baseline_y_px for p in res.panels if p.row == row)
            top = int(base - 15 * res.px_per_mm)
            region = dark[top : int(base + 2 * res.px_per_mm), : first_trace_x - 2]
            rows = np.flatnonzero(region.any(axis=1))
            height_px = rows[-1] - rows[0]
            assert height_px == pytest.approx(gain * res.px_per_mm, abs=2.0), (gain, row)
        assert res.gain_mm_mv == gain


# --- content -------------------------------------------------------------------------------------


def test_every_panel_of_a_12_lead_record_has_a_trace(synthetic_12lead, tmp_path):
    out = tmp_path / "ecg.png"
    res = render_12lead(synthetic_12lead, out, dpi=100)
    assert res.path == out and out.is_file()
    assert sorted(res.leads_drawn) == sorted(STANDARD_12_LEADS)
    assert res.leads_missing == []
    assert len(res.panels) == 13 and sum(p.rhythm for p in res.panels) == 1
    for p in res.panels:
        assert p.drawn
        # A trace crosses the whole panel; a label alone covers a few percent of its columns.
        assert _trace_column_fraction(res.image, p.bbox_px) > 0.95, p.lead
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (res.width_px, res.height_px)
        assert np.array_equal(np.asarray(im.convert("RGB")), res.image)


def test_trace_follows_the_signal_in_millivolts(synthetic_12lead):
    res = render_12lead(synthetic_12lead, dpi=200)
    p = next(p for p in res.panels if p.rhythm)
    sig = synthetic_12lead.channel_data("II")[:5000]
    x0, y0, x1, y1 = p.bbox_px
    dark = _dark(res.image[y0:y1, x0:x1])
    skip_mm = 12.0  # leave out the columns under the lead label at the start of the strip
    top = np.argmax(dark[:, int(skip_mm * res.px_per_mm) + 2 :].any(axis=1))  # highest trace pixel
    after_label = sig[int(skip_mm / 25.0 * 500) :]
    expected_top = p.baseline_y_px - (after_label.max() - np.median(sig)) * 10 * res.px_per_mm
    assert top + y0 == pytest.approx(expected_top, abs=3)


def test_lead_names_match_ignoring_case_and_missing_leads_are_boxed():
    nk = pytest.importorskip("neurokit2")
    df = nk.ecg_simulate(duration=10, sampling_rate=500, method="multileads", random_state=3)
    rec = _recording(df[["I", "II", "aVR", "V1"]].to_numpy(), 500.0, ["i", "II", "AVR", "v1"])
    res = render_12lead(rec, dpi=100)
    assert set(res.leads_drawn) == {"I", "II", "aVR", "V1"}
    assert set(res.leads_missing) == set(STANDARD_12_LEADS) - {"I", "II", "aVR", "V1"}
    grey = np.all(res.image == MISSING_BOX, axis=-1)
    for p in res.panels:
        x0, y0, x1, y1 = p.bbox_px
        if p.lead in res.leads_missing:
            assert not p.drawn and p.channel is None
            assert grey[y0:y1, x0:x1].sum() > 2 * (x1 - x0)  # the box outline
            assert _trace_column_fraction(res.image, p.bbox_px) < 0.3  # label only
        else:
            assert p.drawn and p.channel.lower() == p.lead.lower()
            assert _trace_column_fraction(res.image, p.bbox_px) > 0.95


def test_all_nan_channel_counts_as_missing_and_gaps_do_not_crash(synthetic_12lead):
    sig = synthetic_12lead.signal.copy()
    sig[:, synthetic_12lead.channel_index("V3")] = np.nan
    sig[1000:1200, synthetic_12lead.channel_index("II")] = np.nan
    res = render_12lead(synthetic_12lead.model_copy(update={"signal": sig}))
    assert res.leads_missing == ["V3"]
    strip = next(p for p in res.panels if p.rhythm)
    assert 0.85 < _trace_column_fraction(res.image, strip.bbox_px) < 0.99  # the 0.4-s gap stays blank


def test_short_recording_leaves_late_panels_blank_without_calling_leads_missing(synthetic_12lead):
    short = synthetic_12lead.model_copy(update={"signal": synthetic_12lead.signal[:1500]})  # 3 s
    res = render_12lead(short)
    assert res.leads_missing == []
    by_col = {p.column: p.drawn for p in res.panels if not p.rhythm}
    assert by_col == {0: True, 1: True, 2: False, 3: False}


@pytest.mark.parametrize("fs_new", [250.0, 1000.0])
def test_other_sampling_rates_draw_to_the_same_scale(synthetic_12lead, fs_new):
    from scipy.signal import resample_poly

    up, down = (1, 2) if fs_new == 250 else (2, 1)
    sig = resample_poly(synthetic_12lead.signal, up, down, axis=0)
    other = _recording(sig, fs_new, synthetic_12lead.channel_names)
    ref = render_12lead(synthetic_12lead, dpi=100)
    res = render_12lead(other, dpi=100)
    from scipy.ndimage import binary_dilation

    near_ref = binary_dilation(_dark(ref.image), iterations=1)
    for p_ref, p in zip(ref.panels, res.panels, strict=False):
        assert p.bbox_px == p_ref.bbox_px
        x0, y0, x1, y1 = p.bbox_px
        new = _dark(res.image[y0:y1, x0:x1])
        # Drawn to the same scale, nearly every trace pixel lands within a pixel of the 500-Hz drawing.
        assert near_ref[y0:y1, x0:x1][new].mean() > 0.97, p.lead
        assert _trace_column_fraction(res.image, p.bbox_px) > 0.95, p.lead
    # A wrong time scale (e.g. samples drawn as if at 500 Hz) would fail the overlap above; check that it can.
    wrong = render_12lead(other.model_copy(update={"sampling_rate_hz": 500.0}), dpi=100)
    strip = next(p for p in wrong.panels if p.rhythm)
    x0, y0, x1, y1 = strip.bbox_px
    assert near_ref[y0:y1, x0:x1][_dark(wrong.image[y0:y1, x0:x1])].mean() < 0.9


@pytest.mark.shared_data
def test_real_12_lead_record(shared_data, tmp_path):
    rec = _wfdb_recording(shared_data / "ecg12_cinc2021" / "E07500")
    res = render_12lead(rec, tmp_path / "E07500.png")
    assert res.leads_missing == [] and len(res.leads_drawn) == 12
    for p in res.panels:
        assert _trace_column_fraction(res.image, p.bbox_px) > 0.95, p.lead
    with Image.open(res.path) as im:
        im.verify()


@pytest.mark.shared_data
def test_real_360_hz_two_lead_record(shared_data):
    rec = _wfdb_recording(shared_data / "mitbih" / "100")  # channels MLII, V5
    res = render_12lead(rec, rhythm_lead="MLII")
    assert res.leads_drawn == ["V5", "MLII"]
    assert "II" in res.leads_missing and "V5" not in res.leads_missing
    v5 = next(p for p in res.panels if p.lead == "V5")
    strip = next(p for p in res.panels if p.rhythm)
    assert _trace_column_fraction(res.image, v5.bbox_px) > 0.95
    assert _trace_column_fraction(res.image, strip.bbox_px) > 0.95


def test_serialisation_leaves_out_the_image(synthetic_12lead):
    res = render_12lead(synthetic_12lead, paper="compact", show_header=False)
    data = res.model_dump()
    assert "image" not in data and data["paper"] == "compact"
    assert len(data["panels"]) == 13 and data["panels"][0]["bbox_px"] == res.panels[0].bbox_px


def test_bad_input_gives_specific_errors(synthetic_12lead):
    with pytest.raises(InputError, match="unknown paper"):
        render_12lead(synthetic_12lead, paper="a3")
    with pytest.raises(SamplingRateError):
        render_12lead(synthetic_12lead.model_copy(update={"sampling_rate_hz": None}))
    with pytest.raises(InputError, match="no signal"):
        render_12lead(synthetic_12lead.model_copy(update={"signal": None}))


# --- matplotlib plots ----------------------------------------------------------------------------


def _assert_png(path):
    assert path.is_file() and path.stat().st_size > 5000
    with Image.open(path) as im:
        assert im.format == "PNG"
        im.verify()


def test_plot_recording_with_peaks_and_markers(synthetic_12lead, tmp_path):
    import matplotlib

    backend_before = matplotlib.get_backend()
    sig = synthetic_12lead.channel_data("II")
    peaks = np.array([k * 500 + int(np.argmax(sig[k * 500 : (k + 1) * 500])) for k in range(10)])
    out = plot_recording(
        synthetic_12lead,
        tmp_path / "sub" / "plot.png",
        peaks={"ii": peaks},
        channels=["I", "II", "V1"],
        start_s=2.0,
        seconds=5.0,
        markers={"II": {"T offset": np.array([peaks[2] + 150, np.nan])}},
    )
    _assert_png(out)
    assert matplotlib.get_backend() == backend_before


def test_plot_recording_rejects_unknown_and_too_many_channels(synthetic_12lead, tmp_path):
    with pytest.raises(InputError, match="no channel"):
        plot_recording(synthetic_12lead, tmp_path / "x.png", channels=["Pleth"])
    with pytest.raises(InputError, match="at most"):
        plot_recording(synthetic_12lead, tmp_path / "x.png", channels=STANDARD_12_LEADS)
    with pytest.raises(InputError, match="past the end"):
        plot_recording(synthetic_12lead, tmp_path / "x.png", start_s=60.0)
    assert not (tmp_path / "x.png").exists()


def test_plot_heart_rate_trend(tmp_path):
    t = np.arange(0, 300, 2.0)
    bpm = 70 + 30 * np.sin(t / 60)
    flags = ["good"] * 100 + ["poor"] * 40 + ["unusable"] * 10
    out = plot_heart_rate_trend(t, bpm, tmp_path / "hr.png", quality=flags, reference=(t, bpm + 2))
    _assert_png(out)
    with pytest.raises(InputError, match="differ"):
        plot_heart_rate_trend(t, bpm[:-1], tmp_path / "bad.png")
    with pytest.raises(InputError, match="quality flags"):
        plot_heart_rate_trend(t, bpm, tmp_path / "bad.png", quality=["good"])
