"""The trace-reading front end of the ECG-image VLM (``models/vlm/digitize.py``) and the tower that learns
from it: rows found where the renderer drew them, tilt measured, the rhythm strip read back close to the
signal that was drawn, photos of other things digitized without errors, and the tower's shapes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cardioagent.models.vlm.digitize import (
    N_DIAGNOSTICS,
    N_FEATURES,
    N_ROWS,
    ROW_LEAD_MM,
    ROW_WIDTH_MM,
    column_profiles,
    digitize_page,
    ink_map,
)
from cardioagent.models.vlm.model import EcgTraceConfig, EcgTraceModel, EcgTraceProcessor, VlmSpec, tower_for
from cardioagent.models.vlm.negatives import KINDS, make_negative
from cardioagent.models.vlm.photo_augment import rotate
from cardioagent.models.vlm.synth import generate
from cardioagent.tools.signal.render.paper import render_12lead


@pytest.fixture(scope="module")
def page():
    rec, _ = generate(np.random.default_rng(3))
    return rec, render_12lead(rec, dpi=80, paper="standard", show_header=False)


def _rhythm_strip_correlation(rec, profiles: np.ndarray) -> float:
    """Correlation of the digitized rhythm strip (row 4 centroid) with lead II as generated, placing
    columns by the printed layout (ROW_LEAD_MM before t = 0, ROW_WIDTH_MM in all)."""
    n = profiles.shape[2]
    t = (np.arange(n) / (n - 1) * ROW_WIDTH_MM - ROW_LEAD_MM) / 25.0
    keep = (t > 0.3) & (t < 9.7)
    lead_ii = rec.signal[:, 1]
    truth = np.interp(t[keep], np.arange(len(lead_ii)) / rec.sampling_rate_hz, lead_ii)
    return float(np.corrcoef(truth, profiles[3, 0][keep])[0, 1])


def test_rows_are_found_where_the_renderer_drew_them(page):
    rec, rendered = page
    trace = digitize_page(rendered.image)
    assert trace.profiles.shape == (N_ROWS, N_FEATURES, 1024) and trace.diagnostics.shape == (N_DIAGNOSTICS,)
    baselines = sorted({p.baseline_y_px for p in rendered.panels})
    found = [r.centre_y / trace.scale for r in trace.rows]
    mm = rendered.px_per_mm
    assert all(abs(f - b) < 2.0 * mm for f, b in zip(found, baselines, strict=False)), (found, baselines)
    assert all(abs(r.angle_deg) < 0.5 for r in trace.rows)
    # the page's scale is read from its printed width
    assert trace.px_per_mm == pytest.approx(mm, rel=0.08)


def test_rhythm_strip_reads_back_the_signal_even_on_a_tilted_page(page):
    rec, rendered = page
    straight = digitize_page(rendered.image)
    assert _rhythm_strip_correlation(rec, straight.profiles) > 0.9
    tilted = digitize_page(rotate(rendered.image, 3.0))
    # PIL rotates counter-clockwise: the rows then fall to the right, a negative angle in image y-down terms
    assert all(-3.5 < r.angle_deg < -2.5 for r in tilted.rows), [r.angle_deg for r in tilted.rows]
    assert _rhythm_strip_correlation(rec, tilted.profiles) > 0.85
    # amplitudes come out in millivolts: a QRS on lead II is some tenths of a mV to a few mV tall
    height = straight.profiles[3, 1].max() - straight.profiles[3, 2].min()
    assert 0.3 < height < 5.0


def test_grid_lines_are_not_read_as_trace():
    # a horizontal and a vertical grid line are removed by the medians; a short trace stroke is kept
    from cardioagent.models.vlm.digitize import row_strip

    ink = np.zeros((100, 200), np.float32)
    ink[40, :] = 0.5
    ink[:, 50] = 0.5
    ink[60, 100:110] = 1.0  # a short stroke of trace
    out = row_strip(ink, centre_y=50.0, angle_deg=0.0, half_height_px=20.0, n_rows_px=41)
    assert out[:, :95].max() < 0.05 and out.max() > 0.5
    prof = column_profiles(out, mm_per_row_px=0.5)
    assert prof[0, 105] == pytest.approx(-5.0, abs=0.6)  # 10 px below the centre line at 0.5 mm/px


def test_ink_ignores_the_table_around_a_photographed_page(page):
    _, rendered = page
    img = np.full((700, 1100, 3), 45, np.uint8)  # a dark table
    img[60 : 60 + rendered.image.shape[0], 80 : 80 + rendered.image.shape[1]] = rendered.image[
        : 700 - 60, : 1100 - 80
    ]
    ink = ink_map(img)
    assert (
        ink[:50, :].mean() < 0.01 and ink[:, :70].mean() < 0.01
    )  # the table is not ink, nor is the page's edge


@pytest.mark.parametrize("kind", KINDS)
def test_non_ecg_images_digitize_without_errors(kind):
    img, _ = make_negative(np.random.default_rng(7), kind)
    trace = digitize_page(img)
    assert np.isfinite(trace.profiles).all() and np.isfinite(trace.diagnostics).all()


def test_tiny_images_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="at least 16 x 16"):
        digitize_page(np.zeros((8, 8, 3), np.uint8))


def test_trace_tower_shapes_processor_and_size(page):
    _, rendered = page
    spec = VlmSpec(tower="trace")
    config = spec.vision_config()
    assert isinstance(config, EcgTraceConfig)
    tower = tower_for(config)
    assert isinstance(tower, EcgTraceModel)
    x = EcgTraceProcessor(config.n_columns)([rendered.image, rendered.image])
    assert x.shape == (2, config.n_input_channels, config.n_columns)
    tower.eval()
    with torch.no_grad():
        out = tower(x)
    assert out.last_hidden_state.shape == (2, config.n_image_tokens, config.hidden_size)
    assert out.finding_logits.shape == (2, config.n_findings) and out.page_logit.shape == (2,)
    assert torch.allclose(out.last_hidden_state[0], out.last_hidden_state[1], atol=1e-5)
    # an already digitized input passes through the processor unchanged (training reuses them)
    assert torch.equal(EcgTraceProcessor(config.n_columns).one(x[0]), x[0])
    assert sum(p.numel() for p in tower.parameters()) < 3_000_000  # fp16 under 6 MB


def test_rows_are_the_evenly_spaced_peaks_not_the_strongest_line():
    from cardioagent.models.vlm.digitize import find_rows

    y = np.arange(800, dtype=float)
    profile = sum(
        h * np.exp(-0.5 * ((y - c) / 6.0) ** 2)
        for c, h in ((100, 1.0), (250, 1.0), (400, 0.9), (550, 0.5), (640, 1.5))
    )
    # the footer-like line at 640 out-inks the faint fourth row at 550 but is out of step with the others
    assert find_rows(profile, min_separation_px=100) == [100, 250, 400, 550]
