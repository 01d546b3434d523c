"""Paper-style 12-lead ECG images drawn with numpy and PIL.

The page is laid out in millimetres exactly as an electrocardiograph prints it (25 mm/s, 10 mm/mV, 1-mm
grid with bold 5-mm lines) and converted to pixels at the requested dpi only when drawing, so every
coordinate in the result can be turned back into seconds and millivolts. The grid, which is most of the
pixels, is drawn once per (dpi, paper, seconds) and copied, because the ECG-image model renders thousands
of these for training.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict, Field

from cardioagent.tools.errors import InputError, SamplingRateError
from cardioagent.tools.signal.recording import Recording

SPEED_MM_S = 25.0
GAIN_MM_MV = 10.0
CAL_PULSE_S = 0.2  # calibration pulse: 1 mV for 200 ms
LAYOUT_3X4 = (
    ("I", "aVR", "V1", "V4"),
    ("II", "aVL", "V2", "V5"),
    ("III", "aVF", "V3", "V6"),
)

PAPER_WHITE = (255, 255, 255)
GRID_MINOR = (250, 205, 205)
GRID_MAJOR = (235, 130, 130)
TRACE = (0, 0, 0)
TEXT = (0, 0, 0)
MISSING_BOX = (110, 110, 110)


@dataclass(frozen=True)
class PaperLayout:
    """Where things go on the page, in millimetres."""

    margin_mm: float  # white border around everything
    header_mm: float  # white band above the grid for the record name and demographics
    footer_mm: float  # white band below the grid for speed, gain and sampling rate
    row_mm: float  # height of each of the four rows
    baseline_frac: float  # baseline position inside a row, from its top; QRS are mostly upright
    cal_mm: float = 10.0  # start of each row, holding the calibration pulse
    right_mm: float = 5.0


PAPERS: dict[str, PaperLayout] = {
    # US-letter-like landscape printout: header, 4 x 45 mm rows, footer.
    "standard": PaperLayout(margin_mm=5.0, header_mm=14.0, footer_mm=8.0, row_mm=45.0, baseline_frac=0.55),
    # Tighter rows and no header: less white space per image for image-model training.
    "compact": PaperLayout(margin_mm=2.0, header_mm=0.0, footer_mm=7.0, row_mm=35.0, baseline_frac=0.55),
}


class PanelBox(BaseModel):
    """One panel of the page. ``x = origin_x_px + (t - start_s) * speed_mm_s * px_per_mm`` and
    ``y = baseline_y_px - (mV - panel median) * gain_mm_mv * px_per_mm`` map signal to pixels."""

    lead: str
    channel: str | None = Field(description="the recording's channel for this lead; None when missing")
    row: int
    column: int
    rhythm: bool = Field(description="the 10-s rhythm strip under the 3x4 panels")
    drawn: bool = Field(
        description="a trace was drawn (False when the lead is missing or the recording ended)"
    )
    bbox_px: tuple[int, int, int, int] = Field(description="x0, y0, x1, y1 (x1, y1 exclusive)")
    origin_x_px: float
    baseline_y_px: float
    start_s: float
    end_s: float


class RenderedEcg(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: Path | None = None
    image: np.ndarray = Field(exclude=True, repr=False, description="H x W x 3 uint8")
    width_px: int
    height_px: int
    dpi: int
    px_per_mm: float
    paper: str
    seconds: float
    speed_mm_s: float = SPEED_MM_S
    gain_mm_mv: float
    leads_drawn: list[str]
    leads_missing: list[str]
    panels: list[PanelBox]


@dataclass(frozen=True)
class _Geometry:
    ppm: float
    width_px: int
    height_px: int
    grid_x0_mm: float
    grid_y0_mm: float
    grid_w_mm: float
    grid_h_mm: float
    trace_x0_mm: float  # where t=0 of each row is drawn
    layout: PaperLayout

    def px(self, mm: float) -> float:
        return mm * self.ppm

    def row_top_mm(self, row: int) -> float:
        return self.grid_y0_mm + row * self.layout.row_mm

    def baseline_mm(self, row: int) -> float:
        return self.row_top_mm(row) + round(self.layout.row_mm * self.layout.baseline_frac)


@lru_cache(maxsize=16)
def _geometry(dpi: int, paper: str, seconds: float) -> _Geometry:
    lay = PAPERS[paper]
    ppm = dpi / 25.4
    # Whole 5-mm boxes so the bold lines frame the grid.
    grid_w = math.ceil((lay.cal_mm + seconds * SPEED_MM_S + lay.right_mm) / 5.0) * 5.0
    grid_h = 4 * lay.row_mm
    width_mm = 2 * lay.margin_mm + grid_w
    height_mm = 2 * lay.margin_mm + lay.header_mm + grid_h + lay.footer_mm
    return _Geometry(
        ppm=ppm,
        width_px=math.ceil(width_mm * ppm),
        height_px=math.ceil(height_mm * ppm),
        grid_x0_mm=lay.margin_mm,
        grid_y0_mm=lay.margin_mm + lay.header_mm,
        grid_w_mm=grid_w,
        grid_h_mm=grid_h,
        trace_x0_mm=lay.margin_mm + lay.cal_mm,
        layout=lay,
    )


@lru_cache(maxsize=16)
def _grid_background(dpi: int, paper: str, seconds: float) -> np.ndarray:
    g = _geometry(dpi, paper, seconds)
    img = np.empty((g.height_px, g.width_px, 3), dtype=np.uint8)
    img[:] = PAPER_WHITE
    x0, y0 = g.px(g.grid_x0_mm), g.px(g.grid_y0_mm)
    x1, y1 = round(x0 + g.px(g.grid_w_mm)), round(y0 + g.px(g.grid_h_mm))
    major_w = max(1, round(0.2 * g.ppm))  # bold lines: about 0.2 mm, never thinner than a pixel
    for axis, n_mm in ((1, int(g.grid_w_mm)), (0, int(g.grid_h_mm))):
        origin = x0 if axis == 1 else y0
        for k in range(n_mm + 1):
            pos = round(origin + k * g.ppm)
            major = k % 5 == 0
            w = major_w if major else 1
            lo = pos - (w - 1) // 2
            colour = GRID_MAJOR if major else GRID_MINOR
            if axis == 1:
                sl = img[round(y0) : y1 + 1, lo : lo + w]
            else:
                sl = img[lo : lo + w, round(x0) : x1 + 1]
            if major:
                sl[:] = colour
            else:
                # A minor line never paints over a bold one where they cross.
                keep = np.all(sl == GRID_MAJOR, axis=-1)
                sl[~keep] = colour
    img.setflags(write=False)
    return img


@lru_cache(maxsize=8)
def _font(size_px: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    # DejaVu Sans ships with matplotlib (a dependency), so text looks the same on every machine.
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        ttf = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if ttf.is_file():
            return ImageFont.truetype(str(ttf), size_px)
    try:
        return ImageFont.load_default(size=size_px)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def _channel_lookup(rec: Recording) -> dict[str, int]:
    lookup: dict[str, int] = {}
    for i, name in enumerate(rec.channel_names):
        lookup.setdefault(name.strip().lower(), i)
    return lookup


def _polyline_points(x: np.ndarray, y: np.ndarray, samples_per_px: float) -> list[list[tuple[float, float]]]:
    """Pixel polylines for one trace: NaN gaps split it, and at high sampling rates each pixel column is
    reduced to its first/min/max/last samples so that no peak is lost and drawing stays fast."""
    finite = np.isfinite(y)
    if not finite.any():
        return []
    runs: list[tuple[int, int]] = []
    if finite.all():
        runs = [(0, len(y))]
    else:
        edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.astype(np.int8), [0]))))
        runs = list(zip(edges[::2], edges[1::2], strict=False))
    out = []
    for a, b in runs:
        xs, ys = x[a:b], y[a:b]
        if samples_per_px > 4 and len(xs) > 8:
            xs, ys = _envelope(xs, ys)
        out.append(list(zip(xs.tolist(), ys.tolist(), strict=False)))
    return out


def _envelope(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cols = np.floor(xs).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
    ends = np.r_[starts[1:], len(cols)]
    lo = np.minimum.reduceat(ys, starts)
    hi = np.maximum.reduceat(ys, starts)
    first, last = ys[starts], ys[ends - 1]
    # Order min and max by which came first is not known cheaply; first/lo/hi/last draws the full
    # vertical extent of the column, which is what the eye (and the pen of a printer) sees.
    xc = xs[starts]
    xe = xs[ends - 1]
    x_out = np.stack([xc, xc, xc, xe], axis=1).ravel()
    y_out = np.stack([first, lo, hi, last], axis=1).ravel()
    return x_out, y_out


def _draw_calibration(draw: ImageDraw.ImageDraw, g: _Geometry, row: int, width: int, gain: float) -> None:
    base = g.px(g.baseline_mm(row))
    top = base - g.px(gain)  # 1 mV
    x0 = g.px(g.grid_x0_mm + 2.0)
    x1 = x0 + g.px(2.0)
    x2 = x1 + g.px(CAL_PULSE_S * SPEED_MM_S)
    x3 = x2 + g.px(2.0)
    draw.line([(x0, base), (x1, base), (x1, top), (x2, top), (x2, base), (x3, base)], fill=TRACE, width=width)


def _draw_label(draw: ImageDraw.ImageDraw, g: _Geometry, x_px: float, baseline_px: float, text: str) -> None:
    font = _font(max(8, round(3.2 * g.ppm)))
    draw.text((x_px + g.px(1.5), baseline_px - g.px(10.0)), text, fill=TEXT, font=font, anchor="ls")


def render_12lead(
    rec: Recording,
    out_path: str | Path | None = None,
    *,
    dpi: int = 100,
    paper: str = "standard",
    seconds: float = 10.0,
    rhythm_lead: str = "II",
    show_header: bool = True,
    gain_mm_mv: float = GAIN_MM_MV,
) -> RenderedEcg:
    """Draw ``rec`` as a standard 12-lead printout: 3x4 panels of ``seconds / 4`` each, a ``seconds``-long
    rhythm strip of ``rhythm_lead``, 25 mm/s, 10 mm/mV, calibration pulses and a footer.

    Leads are matched by name, ignoring case; missing leads are drawn as empty labelled boxes and listed
    in ``leads_missing``. Samples are placed at their own times, so any sampling rate draws to scale.
    ``show_header=False`` leaves out the record name and demographics (e.g. for training images).
    ``gain_mm_mv=5`` halves the gain as electrocardiographs do for very tall QRS; the calibration pulse
    and the footer follow it.
    """
    fs, signal = _check_render_request(rec, dpi, paper, seconds, gain_mm_mv)
    g = _geometry(int(dpi), paper, float(seconds))
    canvas = Image.fromarray(_grid_background(int(dpi), paper, float(seconds)).copy())
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(0.3 * g.ppm))
    ink = _Ink(draw, g, width, gain_mm_mv, fs)
    lookup = _channel_lookup(rec)
    finite_channel = np.asarray(np.isfinite(signal).any(axis=0))

    panels: list[PanelBox] = []
    drawn: list[str] = []
    missing: list[str] = []
    for lead, r, c, rhythm, t0, t1 in _panel_plan(seconds, rhythm_lead):
        idx = lookup.get(lead.lower())
        if idx is not None and not finite_channel[idx]:
            idx = None  # an all-NaN channel is as good as absent
        panel = _draw_panel(ink, rec, lead, idx, r, c, rhythm, t0, t1)
        if panel.drawn and lead not in drawn:
            drawn.append(lead)
        elif idx is None and lead not in missing:
            missing.append(lead)
        panels.append(panel)

    for r in range(4):
        _draw_calibration(draw, g, r, width, gain_mm_mv)
    _draw_text_bands(draw, g, rec, fs, show_header, gain_mm_mv)

    image = np.asarray(canvas)
    path = None
    if out_path is not None:
        path = Path(out_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Fast zlib level: the image is mostly flat grid, level 1 is nearly as small and several times faster.
        if path.suffix.lower() == ".png":
            canvas.save(path, compress_level=1)
        else:
            canvas.save(path)
    return RenderedEcg(
        path=path,
        image=image,
        width_px=g.width_px,
        height_px=g.height_px,
        dpi=int(dpi),
        px_per_mm=g.ppm,
        paper=paper,
        seconds=float(seconds),
        gain_mm_mv=float(gain_mm_mv),
        leads_drawn=drawn,
        leads_missing=missing,
        panels=panels,
    )


def _check_render_request(
    rec: Recording, dpi: int, paper: str, seconds: float, gain_mm_mv: float
) -> tuple[float, np.ndarray]:
    """The sampling rate and the samples, once every argument is known to be drawable; else a specific
    InputError."""
    if rec.signal is None or rec.signal.ndim != 2 or rec.signal.shape[0] == 0:
        raise InputError(
            rec.name, "has no signal samples to draw", "a recording with a (samples, channels) signal"
        )
    fs = rec.sampling_rate_hz
    if not fs or not math.isfinite(fs) or fs <= 0:
        raise SamplingRateError(
            rec.name, f"sampling rate {fs!r} cannot place samples on paper", "a positive rate in Hz"
        )
    if paper not in PAPERS:
        raise InputError(rec.name, f"unknown paper layout {paper!r}", ", ".join(sorted(PAPERS)))
    if not 10 <= dpi <= 1200:
        raise InputError(rec.name, f"dpi {dpi} is out of range", "10 to 1200 dpi")
    if not 1.0 <= seconds <= 60.0:
        raise InputError(rec.name, f"{seconds} s per page is out of range", "1 to 60 s")
    if not 1.0 <= gain_mm_mv <= 40.0:
        raise InputError(
            rec.name, f"gain {gain_mm_mv} mm/mV is out of range", "1 to 40 mm/mV (10 is standard)"
        )
    return float(fs), rec.signal


def _panel_plan(seconds: float, rhythm_lead: str) -> list[tuple[str, int, int, bool, float, float]]:
    """(lead, row, column, is_rhythm_strip, start_s, end_s) of every panel: 3x4, then the rhythm strip."""
    col_s = seconds / 4.0
    plan = [
        (lead, r, c, False, c * col_s, (c + 1) * col_s)
        for r, leads in enumerate(LAYOUT_3X4)
        for c, lead in enumerate(leads)
    ]
    plan.append((rhythm_lead, 3, 0, True, 0.0, seconds))
    return plan


@dataclass(frozen=True)
class _Ink:
    """What every panel is drawn with."""

    draw: ImageDraw.ImageDraw
    g: _Geometry
    width: int
    gain_mm_mv: float
    fs: float


def _draw_panel(
    ink: _Ink, rec: Recording, lead: str, idx: int | None, r: int, c: int, rhythm: bool, t0: float, t1: float
) -> PanelBox:
    """One panel: the trace, or a 'no data' box when the lead is absent, its label and the group bar."""
    g, draw, fs, width = ink.g, ink.draw, ink.fs, ink.width
    base_px = g.px(g.baseline_mm(r))
    ox = g.px(g.trace_x0_mm + t0 * SPEED_MM_S)
    ex = g.px(g.trace_x0_mm + t1 * SPEED_MM_S)
    bbox = (
        math.floor(ox),
        math.floor(g.px(g.row_top_mm(r))),
        math.ceil(ex),
        math.ceil(g.px(g.row_top_mm(r + 1))),
    )
    i0 = round(t0 * fs)
    i1 = min(rec.n_samples, round(t1 * fs))
    seg = rec.channel_data(idx)[i0:i1] if idx is not None and i1 > i0 else None
    has_data = seg is not None and bool(np.isfinite(seg).any())
    if seg is not None and has_data:
        _draw_trace(ink, seg, i0, i1, t0, ox, base_px)
    elif idx is None:
        _draw_missing_box(ink, r, ox, ex, base_px)
    # else: the lead exists but the recording ends before this panel; the grid stays blank, as on paper.
    _draw_label(draw, g, ox, base_px, lead)
    if c > 0 and not rhythm:
        # The short bar printers put where one lead group ends and the next begins.
        draw.line([(ox, base_px - g.px(3.0)), (ox, base_px + g.px(3.0))], fill=TRACE, width=width)
    return PanelBox(
        lead=lead,
        channel=None if idx is None else rec.channel_names[idx],
        row=r,
        column=c,
        rhythm=rhythm,
        drawn=has_data,
        bbox_px=bbox,
        origin_x_px=ox,
        baseline_y_px=base_px,
        start_s=t0,
        end_s=t1,
    )


def _draw_trace(ink: _Ink, seg: np.ndarray, i0: int, i1: int, t0: float, ox: float, base_px: float) -> None:
    g = ink.g
    # Centre on the segment's median: recorded DC offsets would otherwise push traces off the row.
    centre = float(np.nanmedian(seg))
    x = ox + (np.arange(i0, i1) / ink.fs - t0) * SPEED_MM_S * g.ppm
    y = base_px - (seg - centre) * ink.gain_mm_mv * g.ppm
    y = np.clip(y, g.px(g.grid_y0_mm), g.px(g.grid_y0_mm + g.grid_h_mm))
    for pts in _polyline_points(x, y, ink.fs / (SPEED_MM_S * g.ppm)):
        if len(pts) == 1:
            ink.draw.point(pts, fill=TRACE)
        else:
            ink.draw.line(pts, fill=TRACE, width=ink.width)


def _draw_missing_box(ink: _Ink, r: int, ox: float, ex: float, base_px: float) -> None:
    g = ink.g
    inset = g.px(1.0)
    ink.draw.rectangle(
        (ox + inset, g.px(g.row_top_mm(r)) + inset, ex - inset, g.px(g.row_top_mm(r + 1)) - inset),
        outline=MISSING_BOX,
        width=ink.width,
    )
    ink.draw.text(
        (ox + g.px(2.0), base_px + g.px(4.0)),
        "no data",
        fill=MISSING_BOX,
        font=_font(max(8, round(2.5 * g.ppm))),
        anchor="ls",
    )


def _draw_text_bands(
    draw: ImageDraw.ImageDraw, g: _Geometry, rec: Recording, fs: float, show_header: bool, gain: float
) -> None:
    lay = g.layout
    small = _font(max(8, round(3.0 * g.ppm)))
    if show_header and lay.header_mm > 0:
        demo = rec.demographics
        parts = [rec.name]
        if demo.age is not None:
            parts.append(f"Age: {demo.age:g}")
        if demo.sex is not None:
            parts.append(f"Sex: {demo.sex}")
        big = _font(max(8, round(4.0 * g.ppm)))
        y = g.px(lay.margin_mm + lay.header_mm - 4.0)
        draw.text((g.px(lay.margin_mm + 1.0), y), "    ".join(parts), fill=TEXT, font=big, anchor="ls")
    footer = f"{SPEED_MM_S:g} mm/s  {gain:g} mm/mV  {fs:g} Hz"
    y = g.px(g.grid_y0_mm + g.grid_h_mm + lay.footer_mm - 2.5)
    draw.text((g.px(lay.margin_mm + 1.0), y), footer, fill=TEXT, font=small, anchor="ls")
