"""A photo, scan or screenshot of a printed ECG, turned into leads in millivolts on one time base.

``digitize_ecg_image(rgb)`` chains the steps, each a pure function of its own module:

1. ``page.find_page`` + ``page.rectify``: the paper found and its perspective undone (or the whole image, when
   its grid is far stronger than the outline's: light across the sheet can make Otsu's outline the bright
   part of the page only);
2. ``grid.ink_and_grid`` + ``grid.grid_pitch``: ink apart from the grid, and pixels per millimetre along each
   axis from the grid's period (5-mm squares; the page's width decides between the 1-mm and 5-mm period);
   ``trace.row_slope`` + ``trace.unshear`` and ``grid.column_slope`` + ``trace.upright``: the rows levelled
   along the trace's own projection and the columns stood upright along the grid's (what tilt and
   perspective the page outline left);
3. ``trace.find_rows`` + ``trace.complete_lattice`` + ``trace.extend_rows`` + ``layout.layout_for``: the trace
   rows (each as long as its trace runs) and the page layout they imply;
4. ``trace.calibration_pulse`` + ``trace.follow_trace``: each row's zero and its trace, column by column;
5. each layout segment resampled to ``FS`` Hz, in mV (10 mm/mV) and seconds (25 mm/s), and its baseline
   removed (``flatten_baseline``: the curl of the sheet bends a row that was printed level).

The result carries, per lead, how much of its printed window the trace was found in and whether the trace
ran into the edge of its band (a clipped peak or a neighbouring row's trace): that is the per-lead
confidence, and its flag is what ``bench/ecg_digitize.py`` checks against the error on real photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from cardioagent.tools.signal.digitize.grid import (
    GridPitch,
    column_slope,
    grid_pitch,
    grid_ruler,
    ink_and_grid,
)
from cardioagent.tools.signal.digitize.layout import (
    GAIN_MM_MV,
    PAPER_SPEED_MM_S,
    STANDARD_LEADS,
    Layout,
    Segment,
    layout_for,
)
from cardioagent.tools.signal.digitize.page import PageOutline, find_page, rectify, whole_image
from cardioagent.tools.signal.digitize.trace import (
    Pulse,
    Row,
    TraceCurve,
    calibration_pulse,
    complete_lattice,
    evenly_spaced,
    extend_rows,
    find_rows,
    follow_trace,
    ink_mask,
    row_slope,
    spike_count,
    unshear,
    upright,
)
from cardioagent.tools.signal.filters import median_baseline
from cardioagent.tools.signal.quality import Quality

FS = 500.0
WORK_WIDTH = 2400  # the rectified page's width: ~8.5 px/mm on a letter or A4 page, 4.7 ms per column
LETTER_WIDTH_MM = 279.4  # the page-size prior that tells a 5-mm grid from a 1-mm one
MIN_GRID_STRENGTH = 0.08  # share of the grid projection's power at its period: below this, no grid
# The whole image replaces the page outline found when its grid is at least this much stronger. Chosen on
# synthetic photos of tune records (bench/ecg_digitize_synthetic.py): the unevenly lit pages whose outline
# took the bright part of the sheet for the page gain 2.3-7x; correct outlines on a table, 1.0-1.8x.
WHOLE_IMAGE_GRID_GAIN = 2.0
MIN_SPIKES = 3  # strokes taller than 3 mm a row must hold to be a trace: a beat or two per printed lead
GOOD_FOUND, ACCEPTABLE_FOUND = 0.97, 0.85  # share of a lead's printed window with its trace found
# The longest run of columns without trace that is bridged by a straight line: shorter than a QRS complex
# (80-100 ms in adults; Surawicz et al. 2009, AHA/ACCF/HRS recommendations for the standardization and
# interpretation of the ECG, part III), so a bridged gap cannot hide a whole beat. Longer gaps stay missing.
MAX_GAP_S = 0.06


class LeadDigitization(BaseModel):
    lead: str
    start_s: float
    duration_s: float
    found_fraction: float = Field(description="share of the printed window where the trace was found")
    edge_fraction: float = Field(description="share of the window where the trace touched its band's edge")
    quality: Quality


class Digitization(BaseModel):
    """How the image was read: what a person needs to judge the digitized signal."""

    layout: str
    page_found: bool = Field(description="the paper was found in a photo and its perspective undone")
    page_method: str
    px_per_mm: tuple[float, float] = Field(description="horizontal, vertical, in the rectified page")
    grid_strength: float
    calibration_pulses: int
    rows: int
    layout_consistent: bool = Field(description="rows equally spaced, most starting with a calibration pulse")
    leads: list[LeadDigitization]
    sampling_rate_hz: float = FS
    warnings: list[str] = Field(default_factory=list)

    def lead(self, name: str) -> LeadDigitization | None:
        return next((d for d in self.leads if d.lead == name), None)


class DigitizedEcg(BaseModel):
    model_config = {"arbitrary_types_allowed": True}

    signal: np.ndarray = Field(
        exclude=True, repr=False, description="(n_samples, 12) mV; NaN where not printed"
    )
    leads: tuple[str, ...] = STANDARD_LEADS
    rectified: np.ndarray = Field(exclude=True, repr=False, description="the upright page, H x W x 3 uint8")
    report: Digitization


class NotAnEcgPageError(ValueError):
    """No trace rows or grid: the image does not look like a printed ECG."""


def _scale(grid: np.ndarray, page_width_px: int) -> tuple[float, float, float]:
    """Pixels per mm (x, y) from the grid's period, and the grid's strength."""
    prior = page_width_px / LETTER_WIDTH_MM
    gx = grid_pitch(grid, 1, 3.0 * prior, 8.0 * prior)
    gy = grid_pitch(grid, 0, 3.0 * prior, 8.0 * prior)
    strength = min(gx.strength, gy.strength)

    def per_mm(g: GridPitch) -> float:
        return g.period_px / 5.0 if np.isfinite(g.period_px) else prior

    if strength < MIN_GRID_STRENGTH:
        return prior, prior, strength
    x, y = per_mm(gx), per_mm(gy)
    # a rectified page has square pixels up to the error of its outline: keep the two within 10 %
    if not 0.9 < x / y < 1.1:
        x = y = x if gx.strength >= gy.strength else y
    return x, y, strength


def _column_times(
    curve: TraceCurve, t0_col: float, px_s: float, ruler: tuple[np.ndarray, np.ndarray] | None
) -> np.ndarray:
    """Seconds since the row's first sample for each column of ``curve``: along the grid's own ruler where
    one was found (one 5-mm square is 0.2 s at 25 mm/s), else at a uniform ``px_s``."""
    cols = np.arange(curve.x0, curve.x0 + len(curve.y), dtype=float)
    if ruler is None:
        return (cols - t0_col) / px_s
    at, index = ruler
    spacing = (at[-1] - at[0]) / max(index[-1] - index[0], 1.0)  # px per square, to extend past the ends

    def squares(x: np.ndarray) -> np.ndarray:
        inside = np.interp(x, at, index)
        before = index[0] + (x - at[0]) / spacing
        after = index[-1] + (x - at[-1]) / spacing
        return np.where(x < at[0], before, np.where(x > at[-1], after, inside))

    seconds_per_square = 5.0 / PAPER_SPEED_MM_S
    return (squares(cols) - squares(np.array([float(t0_col)]))[0]) * seconds_per_square


def _segment_signal(
    curve: TraceCurve, seg: Segment, times: np.ndarray, zero_y: float | None, mm_y: float, n: int
) -> tuple[np.ndarray, float, float]:
    """The segment resampled to FS on the recording's time base, with its found and edge fractions."""
    out = np.full(n, np.nan)
    inside = np.flatnonzero((times >= seg.start_s) & (times < seg.start_s + seg.duration_s))
    c0, c1 = (inside[0], inside[-1] + 1) if inside.size else (0, 0)
    lo, hi = int(np.floor(max(c0, 0))), int(np.ceil(min(c1, len(curve.y))))
    if hi - lo < 4:
        return out, 0.0, 0.0
    ys, found = curve.y[lo:hi], curve.found[lo:hi]
    if found.sum() < 4:
        return out, float(found.mean()), 0.0
    zero = zero_y if zero_y is not None else float(np.nanmedian(ys))
    mv = (zero - ys) / (GAIN_MM_MV * mm_y)
    seconds = times[lo:hi]
    i0, i1 = int(round(seg.start_s * FS)), min(n, int(round((seg.start_s + seg.duration_s) * FS)))
    t = np.arange(i0, i1) / FS
    ok = found & np.isfinite(mv)
    out[i0:i1] = np.interp(t, seconds[ok], mv[ok], left=np.nan, right=np.nan)
    out[i0:i1][_in_long_gap(t, seconds[ok])] = np.nan
    return out, float(found.mean()), 0.0


def flatten_baseline(x: np.ndarray, fs: float = FS) -> np.ndarray:
    """``x`` less its median baseline (``filters.median_baseline``) over each stretch of found trace (NaN stays
    NaN; a stretch shorter than the 600-ms filter loses its median). On paper the baseline moves when the
    sheet curls or sags: a row drawn level bends across the photo, which the pulse's single zero cannot
    follow."""
    out = np.array(x, dtype=float)
    ok = np.isfinite(out)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        seg = out[a:b]
        out[a:b] = seg - (np.median(seg) if len(seg) < (int(0.6 * fs) | 1) else median_baseline(seg, fs))
    return out


def _in_long_gap(t: np.ndarray, found_s: np.ndarray, max_gap_s: float = MAX_GAP_S) -> np.ndarray:
    """True for the times ``t`` that fall between two found columns more than ``max_gap_s`` apart: there the
    trace was lost, and a straight line drawn across would hide any beat inside (it read as a missing beat
    and so as an irregular rhythm). Such stretches stay missing, so that the rate and rhythm tools leave the
    intervals across them out instead of reading a pause into them."""
    if len(found_s) < 2:
        return np.ones(len(t), bool)
    k = np.clip(np.searchsorted(found_s, t), 1, len(found_s) - 1)
    return (found_s[k] - found_s[k - 1] > max_gap_s) & (t > found_s[k - 1]) & (t < found_s[k])


def _time_scale(rows: list[Row], starts: list[int], layout: Layout | None, grid_px_s: float) -> float:
    """Pixels per second. A known layout prints a fixed duration per row (10 s), which measures the time
    scale over the whole row, less sensitive to a crumpled or stretched sheet than the grid's local
    period; it is used when it agrees with the grid within 8 %."""
    if layout is None or layout.name == "single-lead strip":
        return grid_px_s
    measured = float(np.median([(r.x1 - s) / layout.duration_s for r, s in zip(rows, starts, strict=True)]))
    return measured if abs(measured / grid_px_s - 1) < 0.08 else grid_px_s


def layout_consistent(rows: list[Row], pulses: int) -> bool:
    """A printed layout's rows are equally spaced and start with calibration pulses: rows found unevenly
    (a fold, a crease or a line of handwriting taken for a row) or without pulses mean the page was not
    read as printed."""
    if len(rows) < 2:
        return pulses >= 1
    return evenly_spaced(rows) and pulses >= len(rows) / 2


def _lead_quality(found: float, edge: float, consistent: bool, ruler: bool) -> Quality:
    if consistent and ruler and found >= GOOD_FOUND and edge < 0.01:
        return Quality.GOOD
    if consistent and found >= ACCEPTABLE_FOUND and edge < 0.05:
        return Quality.ACCEPTABLE
    return Quality.POOR


def _edge_fraction(curve: TraceCurve, row: Row) -> float:
    y = curve.y[curve.found]
    if y.size == 0:
        return 0.0
    return float(np.mean((y <= row.top + 1) | (y >= row.bottom - 2)))


@dataclass(frozen=True)
class PageReading:
    """The page as far as it is read before any trace is followed: enough to say whether it is ECG paper."""

    outline: PageOutline
    page: np.ndarray  # the rectified page, float RGB
    mask: np.ndarray  # ink, rows levelled
    mm_x: float
    mm_y: float
    grid_strength: float
    rows: list[Row]
    pulses: list[Pulse | None]
    rulers: list[tuple[np.ndarray, np.ndarray] | None]

    @property
    def complete_pulses(self) -> int:
        return sum(p is not None and p.complete for p in self.pulses)

    @property
    def evidence(self) -> str:
        n_pulses = sum(p is not None for p in self.pulses)
        n_ruled = sum(r is not None for r in self.rulers)
        return (
            f"{len(self.rows)} trace rows, {n_pulses} calibration pulses, ECG grid along {n_ruled} rows "
            f"({self.mm_x:.1f} px/mm)"
        )


def _paper(
    rgb: np.ndarray, outline: PageOutline
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float, float]]:
    """The page rectified from ``outline``, its ink and grid, and the grid's scale and strength."""
    page = rectify(rgb, outline, WORK_WIDTH)
    ink, grid = ink_and_grid(page)
    return page, ink, grid, _scale(grid, page.shape[1])


def read_page(rgb: np.ndarray) -> PageReading:
    """Steps 1-3 and the calibration pulses (see the module docstring). Raises ``NotAnEcgPageError`` when no
    row of trace is found, or when neither a calibration pulse nor an ECG grid is: ECG paper shows itself by
    one or the other, rows of ink without either are text, a chart or a photo of something else.

    Light falling across the sheet splits it into a bright and a dark part, and the outline found may be the
    bright part only (or a corner of it). An outline that holds the whole sheet has a grid at least as strong
    as the whole image's, which adds the table around the sheet; so the whole image is the page when its
    grid is far stronger than the outline's (``WHOLE_IMAGE_GRID_GAIN``), and when its grid is merely as
    strong or stronger, both are read and the whole image is taken if it shows more rows that open with a
    complete calibration pulse. Grid and pulses are the paper's own evidence (as for the refusal): the 1-mV
    pulse opens each printed row, so an outline that cut rows off, or left them too tilted for a pulse's
    edges to be seen, shows fewer."""
    outline: PageOutline = find_page(rgb)
    paper = _paper(rgb, outline)
    if outline.whole_image:
        return _read(outline, *paper)
    whole = whole_image(rgb, outline.fraction)
    whole_paper = _paper(rgb, whole)
    strength, whole_strength = paper[3][2], whole_paper[3][2]
    if whole_strength >= WHOLE_IMAGE_GRID_GAIN * strength:
        return _read(whole, *whole_paper)
    if whole_strength < strength:
        return _read(outline, *paper)
    try:
        reading = _read(outline, *paper)
    except NotAnEcgPageError as error:
        try:
            return _read(whole, *whole_paper)
        except NotAnEcgPageError:
            raise error from None
    try:
        alternative = _read(whole, *whole_paper)
    except NotAnEcgPageError:
        return reading
    return alternative if alternative.complete_pulses > reading.complete_pulses else reading


def _read(
    outline: PageOutline,
    page: np.ndarray,
    ink: np.ndarray,
    grid: np.ndarray,
    scale: tuple[float, float, float],
) -> PageReading:
    """Rows, pulses and rulers of one candidate page (``read_page``)."""
    mm_x, mm_y, strength = scale
    mask = ink_mask(ink, min_object_px=int(4 * mm_x * mm_y))
    slope = row_slope(mask)
    mask, grid = unshear(mask, slope), unshear(grid, slope)
    if strength >= MIN_GRID_STRENGTH:
        lean = column_slope(grid)
        mask, grid = upright(mask, lean), upright(grid, lean)

    def is_trace(row: Row) -> bool:
        return spike_count(mask, row, 3.0 * mm_y) >= MIN_SPIKES

    rows = complete_lattice(
        mask, [r for r in find_rows(mask, min_gap_px=12 * mm_y) if is_trace(r)], 12 * mm_y, is_trace
    )
    if not rows:
        raise NotAnEcgPageError("no trace rows: nothing runs across the image the way an ECG trace does")
    pulses = [calibration_pulse(mask, r, mm_y, mm_x) for r in rows]
    rows = extend_rows(
        mask, rows, [p.foot_y if p else float(r.centre) for p, r in zip(pulses, rows, strict=True)]
    )
    rulers = [
        grid_ruler(grid[r.top : r.bottom], mask[r.top : r.bottom], 5.0 * mm_x)
        if strength >= MIN_GRID_STRENGTH
        else None
        for r in rows
    ]
    if not any(p is not None and p.complete for p in pulses) and not any(r is not None for r in rulers):
        raise NotAnEcgPageError(
            "no ECG grid and no calibration pulse were found: the image does not look like a printed ECG"
        )
    return PageReading(outline, page, mask, mm_x, mm_y, strength, rows, pulses, rulers)


def digitize_ecg_image(rgb: np.ndarray) -> DigitizedEcg:
    """Digitize a printed 12-lead ECG or single-lead strip (see the module docstring)."""
    reading = read_page(rgb)
    outline, page, mask = reading.outline, reading.page, reading.mask
    mm_x, mm_y, strength = reading.mm_x, reading.mm_y, reading.grid_strength
    rows, pulses, rulers = reading.rows, reading.pulses, reading.rulers
    px_s = PAPER_SPEED_MM_S * mm_x
    starts = [(p.x_end + 1) if p else r.x0 for p, r in zip(pulses, rows, strict=True)]
    row_seconds = float(np.median([(r.x1 - s) / px_s for r, s in zip(rows, starts, strict=True)]))
    layout: Layout | None = layout_for(len(rows), row_seconds)
    px_s = _time_scale(rows, starts, layout, px_s)
    warnings: list[str] = []
    if layout is None:
        warnings.append(f"{len(rows)} trace rows match no known page layout; each row is read as lead I")
        layout = layout_for(1, row_seconds)
        assert layout is not None
    n = int(round(layout.duration_s * FS))
    signal = np.full((n, len(STANDARD_LEADS)), np.nan)
    leads: list[LeadDigitization] = []
    curves: dict[int, tuple[TraceCurve, float, np.ndarray]] = {}
    n_pulses = sum(p is not None for p in pulses)
    consistent = layout_consistent(rows, n_pulses)
    for seg in layout.segments:
        if seg.row >= len(rows):
            continue
        row, pulse = rows[seg.row], pulses[seg.row]
        if seg.row not in curves:
            start_y = pulse.foot_y if pulse else float(row.centre)
            curve = follow_trace(mask, row, starts[seg.row], row.x1 + 1, start_y)
            curves[seg.row] = (
                curve,
                _edge_fraction(curve, row),
                _column_times(curve, starts[seg.row], px_s, rulers[seg.row]),
            )
        curve, edge, times = curves[seg.row]
        values, found, _ = _segment_signal(curve, seg, times, pulse.foot_y if pulse else None, mm_y, n)
        col = STANDARD_LEADS.index(seg.lead)
        rhythm_strip = seg.duration_s >= layout.duration_s and len(layout.segments) > 1
        if rhythm_strip or np.isnan(signal[:, col]).all() or layout.name == "single-lead strip":
            keep = ~np.isnan(values)
            signal[keep, col] = values[keep]
            leads = [d for d in leads if d.lead != seg.lead or layout.name == "single-lead strip"]
            leads.append(
                LeadDigitization(
                    lead=seg.lead,
                    start_s=seg.start_s,
                    duration_s=seg.duration_s,
                    found_fraction=round(found, 4),
                    edge_fraction=round(edge, 4),
                    quality=_lead_quality(found, edge, consistent, rulers[seg.row] is not None),
                )
            )
    for col in range(signal.shape[1]):
        if np.isfinite(signal[:, col]).any():
            signal[:, col] = flatten_baseline(signal[:, col])
    if not consistent:
        warnings.append(
            "the rows found are unevenly spaced or lack calibration pulses (a fold, crease or handwriting may "
            "have been taken for a row): the digitized leads are not to be trusted"
        )
    if strength < MIN_GRID_STRENGTH:
        warnings.append("no ECG grid was found: the scale assumes a letter-size page printed edge to edge")
    report = Digitization(
        layout=layout.name,
        page_found=not outline.whole_image,
        page_method=outline.method,
        px_per_mm=(round(mm_x, 3), round(mm_y, 3)),
        grid_strength=round(strength, 4),
        calibration_pulses=sum(p is not None for p in pulses),
        rows=len(rows),
        layout_consistent=consistent,
        leads=leads,
        warnings=warnings,
    )
    rectified = np.clip(page * 255.0, 0, 255).astype(np.uint8)
    return DigitizedEcg(signal=signal, rectified=rectified, report=report)
