"""Read the four trace rows of a 12-lead ECG page image into time-aligned 1-D profiles.

The trace-reading front end of the embedded VLM's vision tower (``model.EcgTraceModel``). A 2-D CNN at a
size a CPU can train on (448 px across a 260 mm page: 1.7 px/mm) cannot see what ECG findings are made
of (a 1 mm ST shift, a 40 ms longer PR interval are 1-2 px), and the first CNN tower stayed near chance
on those findings. So the tower first straightens the page and follows the ink, as a reader's eye does,
and learns only from the profiles; nothing here has weights.

Steps, each a pure function:

1. ``ink_map``: darkness relative to the local paper (so lighting gradients, tinted paper and shadows
   cancel), with coloured ink (red/pink grid lines) discounted;
2. ``page_angle``: the tilt, as the angle whose horizontal projection of the ink is sharpest (trace
   baselines and grid lines both run along the page);
3. ``find_rows``: the four trace rows, as the four strongest, well separated peaks of that projection;
4. ``row_strip``: each row resampled along its own refined angle into a straight strip (which also takes
   most of a photographed page's keystone), with grid lines removed by subtracting row and column
   medians (a grid line fills its whole row or column; the trace fills few);
5. ``column_profiles``: per column, where the ink is: its centroid, its top and bottom (QRS spikes are
   vertical strokes, so the extremes carry their amplitude) and its mass, in millivolts of the page;
6. ``strip_bands``: the straightened row itself, coarsely (the strongest ink in each of 16 horizontal
   bands), for what the hand-made profiles get wrong.

``digitize_page(image)`` chains them and returns a ``PageTrace``: ``profiles`` (4 rows x 20 features x
``n_columns``), the rows' pixel geometry, and diagnostics the tower also sees (how peaked the rows are,
how much of the ink they hold), which is how a photo of text or a bar chart still looks unlike a page.
The page layout assumed is the electrocardiograph printout (3 x 4 panels and a rhythm strip, 25 mm/s,
10 mm/mV) that ``tools.signal.render.paper`` draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

DIGITIZER_VERSION = 3  # bump when the profiles change: cached training features carry it in their name
N_ROWS = 4
N_TRACE_FEATURES = 4  # centroid, top, bottom (mV above the row's centre line), ink mass
N_STRIP_BINS = 16  # the straightened row itself, coarsely: ink in 16 horizontal bands (~2.5 mm each)
N_FEATURES = N_TRACE_FEATURES + N_STRIP_BINS
N_DIAGNOSTICS = 6
WORK_WIDTH = 1024  # the page is processed at this width: ~3.9 px/mm across a 260 mm page
ROW_WIDTH_MM = (
    255.0  # the ink of a row: from inside the calibration pulse (~6 mm before t = 0) to the end of 10 s
)
ROW_LEAD_MM = 6.0
ANGLES_DEG = np.arange(-8.0, 8.01, 0.25)


@dataclass(frozen=True)
class RowGeometry:
    centre_y: float  # px at the working width, at x = the image's centre column, after deskew
    angle_deg: float
    x0: float  # first and last columns holding this row's ink
    x1: float


@dataclass(frozen=True)
class PageTrace:
    profiles: np.ndarray  # (N_ROWS, N_FEATURES, n_columns) float32: trace features, then strip bands
    diagnostics: np.ndarray  # (N_DIAGNOSTICS,) float32
    rows: tuple[RowGeometry, ...]
    px_per_mm: float
    scale: float  # working-width pixels per input pixel


def to_gray_and_saturation(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # per channel rather than max/min over the last axis: 4x faster on an H x W x 3 array
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    lum = (0.299 * r + 0.587 * g + 0.114 * b) / 255.0
    mx, mn = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    return lum, (mx - mn) / (mx + 0.255)


def ink_map(rgb: np.ndarray, paper_window_px: int = 25, thin_px: int = 7) -> np.ndarray:
    """Darkness in [0, 1] relative to the paper around each pixel, coloured ink discounted, and only
    strokes thinner than ``thin_px`` kept (a white top-hat): the table around a photographed page, its
    edges and shadows are wide; a trace is a line."""
    lum, sat = to_gray_and_saturation(rgb)
    # the paper level: the brightest value nearby (a trace is a few px wide, paper is everywhere), then
    # smoothed so JPEG blocks and noise do not print as ink
    small = lum[::2, ::2]
    paper = ndimage.maximum_filter(small, size=max(3, paper_window_px // 2))
    paper = ndimage.uniform_filter(paper, size=max(3, paper_window_px // 2))
    paper = np.repeat(np.repeat(paper, 2, axis=0), 2, axis=1)[: lum.shape[0], : lum.shape[1]]
    dark = np.clip(1.0 - lum / np.maximum(paper, 0.05), 0.0, 1.0)
    # ECG grid lines are printed in colour, the trace in black: saturated pixels count less
    colour_weight = np.clip(1.0 - (sat - 0.15) / 0.25, 0.0, 1.0)
    ink = dark * colour_weight
    half = ink[::2, ::2]
    wide = ndimage.grey_opening(half, size=(max(2, thin_px // 2), max(2, thin_px // 2)))
    wide = np.repeat(np.repeat(wide, 2, axis=0), 2, axis=1)[: ink.shape[0], : ink.shape[1]]
    out = np.clip(ink - wide, 0.0, 1.0).astype(np.float32)
    # the image's own border (resampling, vignetting, a scanner's edge) is never a trace, and one line
    # along it is enough to decide the page's angle
    b = 6
    out[:b], out[-b:], out[:, :b], out[:, -b:] = 0.0, 0.0, 0.0, 0.0
    return out


def _projection(
    ys: np.ndarray, xs: np.ndarray, w: np.ndarray, angle_deg: float, height: int, xc: float
) -> np.ndarray:
    """Ink summed along lines tilted by ``angle_deg`` (page y at the centre column)."""
    t = np.tan(np.deg2rad(angle_deg))
    yy = np.round(ys - (xs - xc) * t).astype(np.int64)
    ok = (yy >= 0) & (yy < height)
    return np.bincount(yy[ok], weights=w[ok], minlength=height).astype(np.float64)


def _ink_points(ink: np.ndarray, max_points: int = 200_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates and weights of the inked pixels; "inked" relative to the image's own darkest strokes,
    since blur and a dim photo leave a trace at a fifth of the contrast of a clean print."""
    threshold = max(0.03, 0.4 * float(np.percentile(ink, 99.7)))
    ys, xs = np.nonzero(ink > threshold)
    if len(ys) > max_points:  # a dark photo: a fixed stride keeps it deterministic
        step = int(np.ceil(len(ys) / max_points))
        ys, xs = ys[::step], xs[::step]
    return ys.astype(np.float64), xs.astype(np.float64), ink[ys, xs].astype(np.float64)


def page_angle(
    ink: np.ndarray,
    angles: np.ndarray = ANGLES_DEG,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    points: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> float:
    """The tilt (degrees, image y down) whose projection is sharpest (largest sum of squares).
    ``points``: ``_ink_points(ink)`` when the caller has them (they cost more than the search)."""
    ys, xs, w = points if points is not None else _ink_points(ink)
    if x_range is not None:
        keep = (xs >= x_range[0]) & (xs <= x_range[1])
        ys, xs, w = ys[keep], xs[keep], w[keep]
    if y_range is not None:
        keep = (ys >= y_range[0]) & (ys <= y_range[1])
        ys, xs, w = ys[keep], xs[keep], w[keep]
    if len(ys) < 50:
        return 0.0
    h, xc = ink.shape[0], ink.shape[1] / 2.0
    scores = [float(np.sum(_projection(ys, xs, w, a, h, xc) ** 2)) for a in angles]
    best = float(angles[int(np.argmax(scores))])
    step = float(angles[1] - angles[0]) if len(angles) > 1 else 0.0
    if step > 0.06:  # refine around the coarse optimum
        fine = np.arange(best - step, best + step + 1e-9, step / 5.0)
        scores = [float(np.sum(_projection(ys, xs, w, a, h, xc) ** 2)) for a in fine]
        best = float(fine[int(np.argmax(scores))])
    return best


def find_rows(
    profile: np.ndarray, min_separation_px: float, n_rows: int = N_ROWS, n_candidates: int = 9
) -> list[int]:
    """``n_rows`` peaks of a (smoothed) projection, top to bottom: among the strongest candidates at
    least ``min_separation_px`` apart, the set that is both strong and evenly spaced (an ECG page's rows
    are; a footer line or the page's edge, which can out-ink a flat rhythm strip, is not in step)."""
    from itertools import combinations

    from scipy.signal import find_peaks

    p = np.asarray(profile, dtype=np.float64)
    peaks, _ = find_peaks(p, distance=max(1, int(0.6 * min_separation_px)))
    if len(peaks) == 0:
        return [len(p) // 2] * n_rows
    peaks = peaks[np.argsort(p[peaks])[::-1][:n_candidates]]
    if len(peaks) < n_rows:  # a page cut so short that rows are missing: repeat the last
        out = sorted(int(x) for x in peaks)
        return out + [out[-1]] * (n_rows - len(out))
    top = float(p[peaks].max())
    best: list[int] | None = None
    best_score = -np.inf
    for combo in combinations(sorted(int(x) for x in peaks), n_rows):
        gaps = np.diff(combo)
        irregular = float(np.std(gaps)) / max(float(np.mean(gaps)), 1e-6)
        score = float(p[list(combo)].sum()) / (n_rows * top) - 2.0 * irregular
        if score > best_score:
            best, best_score = list(combo), score
    if best is None:  # every score was NaN: the profile holds NaN, so no row can be placed
        raise ValueError("the ink projection has no finite values; cannot place the trace rows")
    return best


def row_strip(
    ink: np.ndarray, centre_y: float, angle_deg: float, half_height_px: float, n_rows_px: int
) -> np.ndarray:
    """The band ``centre_y +- half_height_px`` along a line tilted by ``angle_deg``, straightened into an
    (n_rows_px, W) strip, with horizontal and vertical grid lines removed."""
    h, w = ink.shape
    xc = w / 2.0
    a = np.deg2rad(angle_deg)
    # a rotation, not a shear: the page's vertical grid lines must stay vertical in the strip, or they
    # cross several strip columns and survive the column median
    u = np.arange(w, dtype=np.float32) - xc
    v = np.linspace(-half_height_px, half_height_px, n_rows_px, dtype=np.float32)
    xx = xc + u[None, :] * np.cos(a) - v[:, None] * np.sin(a)
    yy = centre_y + u[None, :] * np.sin(a) + v[:, None] * np.cos(a)
    strip = ndimage.map_coordinates(ink, [yy, xx], order=1, mode="constant", cval=0.0)
    # a grid line fills its whole strip row (or column); a trace fills few: subtract both medians
    strip = strip - np.median(strip, axis=1, keepdims=True)
    strip = strip - np.median(strip, axis=0, keepdims=True)
    return np.clip(strip, 0.0, None).astype(np.float32)


def column_profiles(strip: np.ndarray, mm_per_row_px: float) -> np.ndarray:
    """(4, W): centroid, top, bottom (mm above the strip's centre line) and ink mass of each column.

    The strip is smoothed first (a 1-px trace sampled at an angle breaks into dashes), and
    the floor adapts to the strip's own contrast (a faint photocopy and a bold print both read). The
    centroid weighs ink by its square so that grid specks left over count little; top and bottom are the
    ends of the run of ink around the column's darkest point (a QRS is one vertical stroke). Columns
    without ink carry the nearest inked column's position (mass 0), so a gap is not a jump to 0."""
    n, w = strip.shape
    # smooth along the row for baselines and across it for QRS strokes, and keep the stronger: smoothing
    # only along the row fades a 1-px vertical stroke below the floor, i.e. loses the QRS
    sm = np.maximum(
        ndimage.gaussian_filter(strip, sigma=(0.5, 1.2)), ndimage.gaussian_filter(strip, sigma=(1.2, 0.5))
    )
    floor = max(0.03, 0.3 * float(np.percentile(sm, 99.8)))
    s = np.where(sm > floor, sm, 0.0)
    mass = s.sum(axis=0)
    y_mm = ((n - 1) / 2.0 - np.arange(n, dtype=np.float32)) * mm_per_row_px  # up positive
    has = mass > 1e-6
    w2 = s * s
    centroid = np.where(has, (w2 * y_mm[:, None]).sum(axis=0) / np.maximum(w2.sum(axis=0), 1e-9), np.nan)
    peak = np.argmax(s, axis=0)
    on = s > 0
    # the run of inked pixels containing each column's peak: walk up and down from it
    rows = np.arange(n)[:, None]
    off_above = (~on) & (rows < peak[None, :])
    off_below = (~on) & (rows > peak[None, :])
    first = np.where(off_above.any(axis=0), n - np.argmax(off_above[::-1], axis=0), 0)
    last = np.where(off_below.any(axis=0), np.argmax(off_below, axis=0) - 1, n - 1)
    top = np.where(has, y_mm[np.clip(first, 0, n - 1)], np.nan)
    bottom = np.where(has, y_mm[np.clip(last, 0, n - 1)], np.nan)
    out = np.stack([centroid, top, bottom], axis=0)
    idx = np.arange(w)
    for k in range(3):
        v = out[k]
        good = np.isfinite(v)
        out[k] = np.interp(idx, idx[good], v[good]) if good.any() else 0.0
    return np.concatenate([out, (mass * mm_per_row_px)[None]], axis=0).astype(np.float32)


def strip_bands(strip: np.ndarray, n_bands: int = N_STRIP_BINS) -> np.ndarray:
    """(n_bands, W): the strongest ink of each horizontal band of the strip, top band first, scaled by
    the strip's own contrast. The hand-made profiles above can be fooled (a grid line a photo's
    perspective slanted, a neighbouring row's tall QRS); the tower also gets the picture they came from."""
    edges = np.linspace(0, strip.shape[0], n_bands + 1).astype(int)[:-1]
    bands = np.maximum.reduceat(strip, edges, axis=0)
    return (bands / max(float(np.percentile(strip, 99.8)), 1e-3)).clip(0.0, 3.0).astype(np.float32)


def _x_extent(strip: np.ndarray) -> tuple[float, float]:
    """First and last columns of a row's trace: 0.5 % and 99.5 % of its ink mass along x."""
    floor = max(0.03, 0.3 * float(np.percentile(strip, 99.8)))
    m = np.where(strip > floor, strip, 0.0).sum(axis=0)
    total = m.sum()
    if total <= 0:
        return 0.0, float(strip.shape[1] - 1)
    c = np.cumsum(m) / total
    return float(np.searchsorted(c, 0.005)), float(np.searchsorted(c, 0.995))


def _resample(profile: np.ndarray, x0: float, x1: float, n: int) -> np.ndarray:
    xs = np.linspace(x0, x1, n)
    idx = np.arange(profile.shape[-1])
    return np.stack([np.interp(xs, idx, p) for p in profile]).astype(np.float32)


def digitize_page(image: np.ndarray | Image.Image, n_columns: int = 1024) -> PageTrace:
    """Read an RGB page image into four straightened rows of column profiles (see the module docstring)."""
    rgb = np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else np.asarray(image)[..., :3]
    if rgb.ndim != 3 or min(rgb.shape[:2]) < 16:
        raise ValueError(f"expected an H x W x 3 image of at least 16 x 16 px, got shape {rgb.shape}")
    scale = WORK_WIDTH / rgb.shape[1]
    height = max(16, round(rgb.shape[0] * scale))
    work = np.asarray(
        Image.fromarray(rgb.astype(np.uint8)).resize((WORK_WIDTH, height), Image.Resampling.BILINEAR)
    )
    ink = ink_map(work)
    points = _ink_points(ink)
    angle = page_angle(ink, points=points)
    ys, xs, w = points
    profile = _projection(ys, xs, w, angle, height, WORK_WIDTH / 2.0) if len(ys) else np.zeros(height)
    # the page's printed width (ink from the first to the last inked column) sets the scale
    col_mass = ink.sum(axis=0)
    cum = np.cumsum(col_mass) / max(float(col_mass.sum()), 1e-6)
    ink_width = float(np.searchsorted(cum, 0.995) - np.searchsorted(cum, 0.005))
    ppm = max(ink_width, WORK_WIDTH * 0.3) / ROW_WIDTH_MM
    # wide enough that a row the perspective tilts away from the page's angle still makes one peak
    smooth = ndimage.gaussian_filter1d(profile, sigma=2.5 * ppm)
    centres = find_rows(smooth, min_separation_px=25.0 * ppm)
    spacing = float(np.median(np.diff(centres))) if len(set(centres)) > 1 else 40.0 * ppm
    half = float(np.clip(0.5 * spacing, 12.0 * ppm, 30.0 * ppm))
    n_strip = int(np.clip(round(2 * half / (0.5 * ppm)), 24, 160))  # about 2 strip rows per mm
    mm_per_strip_px = (2 * half / (n_strip - 1)) / ppm
    rows: list[RowGeometry] = []
    feats: list[np.ndarray] = []
    for c in centres:
        a = page_angle(
            ink, angles=np.arange(angle - 1.5, angle + 1.51, 0.1), y_range=(c - half, c + half), points=points
        )
        strip = row_strip(ink, float(c), a, half, n_strip)
        x0, x1 = _x_extent(strip)
        if x1 - x0 < 0.3 * WORK_WIDTH:  # a row with hardly any ink: use the page's extent
            x0, x1 = float(np.searchsorted(cum, 0.005)), float(np.searchsorted(cum, 0.995))
        prof = np.concatenate([column_profiles(strip, mm_per_strip_px), strip_bands(strip)], axis=0)
        feats.append(_resample(prof, x0, x1, n_columns))
        rows.append(RowGeometry(centre_y=float(c), angle_deg=float(a), x0=x0, x1=x1))
    profiles = np.stack(feats)
    # convert to signal units: mm -> mV at 10 mm/mV; mass stays in mm of ink per column
    profiles[:, :3] /= 10.0
    row_ink = sum(float(smooth[max(0, int(c - half)) : int(c + half)].sum()) for c in set(centres))
    diagnostics = np.array(
        [
            row_ink / max(float(smooth.sum()), 1e-6),  # share of the ink on the four rows
            float(np.std(np.diff(centres))) / max(spacing, 1e-6),  # rows evenly spaced?
            float(np.mean([r.x1 - r.x0 for r in rows])) / WORK_WIDTH,  # rows as wide as the page?
            float(smooth[centres].mean()) / max(float(np.median(smooth)) + 1e-6, 1e-6) / 100.0,  # peakedness
            float(ink.mean()) * 10.0,  # overall ink
            angle / 8.0,
        ],
        dtype=np.float32,
    )
    return PageTrace(
        profiles=profiles,
        diagnostics=np.clip(diagnostics, -10, 10),
        rows=tuple(rows),
        px_per_mm=ppm / scale,
        scale=scale,
    )
