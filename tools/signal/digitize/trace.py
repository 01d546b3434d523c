"""Follow the trace of each printed row, column by column, into a curve in pixels.

``find_rows(ink)``: the rows are the peaks of the ink's horizontal projection that span most of the page
(a text line is short, a trace row runs across it); each row keeps the band between it and its neighbours.

``complete_lattice(ink, rows, ...)``: a faint rhythm strip one row pitch below the last row, found with a
lower bar (a printed layout spaces its rows evenly and prints its rhythm strips at the bottom).

``extend_rows(ink, rows)``: a row cut short of the others (a curled sheet carries its far end out of its
band) is followed on to the longest row's end.

``follow_trace(ink, band)``: in every column the ink of a band forms vertical runs; the trace is the run
nearest to where it was in the previous column (a tracking rule in the manner of ECGScan, Badilini et al.
2005), so lead labels and stray marks beside the trace are passed over. A steep stroke (a QRS) fills a tall
run in one column; its value there is the run's end farther from the local baseline, which keeps R and S
peaks instead of cutting them at the run's middle.

``calibration_pulse(ink, band, ...)``: the 1-mV reference pulse printed at the start of a row (10 mm tall,
0.2 s wide): its foot is the row's zero and its height checks the vertical scale.

References
----------
Badilini F, Erdem T, Zareba W, Moss AJ. ECGScan: a method for conversion of paper electrocardiographic
printouts to digital electrocardiographic files. J Electrocardiol 2005;38:310-8.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal


@dataclass(frozen=True)
class Row:
    centre: int  # px, the projection's peak
    top: int  # the band searched for this row's trace
    bottom: int
    x0: int  # first and last columns whose ink belongs to the row
    x1: int


@dataclass(frozen=True)
class TraceCurve:
    y: np.ndarray  # (n_columns,) float px; NaN where no ink was found
    found: np.ndarray  # (n_columns,) bool
    x0: int  # first column of ``y`` in the image


@dataclass(frozen=True)
class Pulse:
    foot_y: float  # px: the row's 0 mV
    height_px: float
    x_end: int  # the column where the pulse's falling edge is: the signal starts after it
    complete: bool = True  # both edges seen; a half pulse times the row but proves no ECG paper


def ink_mask(ink: np.ndarray, min_object_px: int, floor: float = 0.22) -> np.ndarray:
    """Ink pixels: the darkest of three classes of the ink map (paper, grid residue, trace) by multi-level
    Otsu thresholding (Liao, Chen & Chung 2001), never below ``floor``; connected pieces smaller than
    ``min_object_px`` (specks, grid fragments, most lettering) are dropped, as a trace is one long stroke."""
    from skimage.filters import threshold_multiotsu
    from skimage.morphology import remove_small_objects

    sample = ink[ink > 0.05][::7]
    threshold = floor if sample.size < 300 else max(floor, float(threshold_multiotsu(sample, classes=3)[-1]))
    return np.asarray(remove_small_objects(ink > threshold, max_size=min_object_px, connectivity=2))


def sharpest_slope(
    along: np.ndarray,
    across: np.ndarray,
    n_bins: int,
    max_slope: float,
    n: int,
    weights: np.ndarray | None = None,
) -> float:
    """The slope s in [-max_slope, max_slope] (``n`` steps) for which the projection of points onto
    ``along - s * across`` is sharpest (largest sum of squares): projection-profile skew detection
    (Postl 1986), for the trace's rows (``row_slope``) and the grid's columns (``grid.column_slope``)."""
    best, best_sharpness = 0.0, -1.0
    for slope in np.linspace(-max_slope, max_slope, n):
        hist = np.bincount(
            np.clip((along - slope * across).astype(int), 0, n_bins - 1), weights=weights, minlength=n_bins
        )
        sharpness = float(np.sum(hist.astype(float) ** 2))
        if sharpness > best_sharpness:
            best, best_sharpness = float(slope), sharpness
    return best


def row_slope(mask: np.ndarray, max_slope: float = 0.06, n: int = 49) -> float:
    """The slope (px per px) that makes the ink's horizontal projection sharpest: the rows' residual tilt
    after rectification (a page outline a few pixels off, or a sheet lying unevenly)."""
    ys, xs = np.nonzero(mask[:, :: max(1, mask.shape[1] // 600)])
    if ys.size < 100:
        return 0.0
    xs = xs * max(1, mask.shape[1] // 600) - mask.shape[1] / 2
    return sharpest_slope(ys, xs, mask.shape[0], max_slope, n)


def unshear(image: np.ndarray, slope: float) -> np.ndarray:
    """Each column moved up or down so that rows of the given slope run level (a shear: vertical distances,
    and so millivolts, are unchanged)."""
    h, w = image.shape[:2]
    shift = np.round(slope * (np.arange(w) - w / 2)).astype(int)
    rows = np.clip(np.arange(h)[:, None] + shift[None, :], 0, h - 1)
    out = image[rows, np.arange(w)[None, :]]
    out[(np.arange(h)[:, None] + shift[None, :] < 0) | (np.arange(h)[:, None] + shift[None, :] >= h)] = 0
    return out


def upright(image: np.ndarray, slope: float) -> np.ndarray:
    """Each row moved left or right so that lines leaning by ``slope`` (px across per px down) stand upright:
    the counterpart of ``unshear`` for the columns (horizontal distances along a row, and so seconds, are
    unchanged)."""
    return unshear(image.T, slope).T


def _projection(mask: np.ndarray, min_gap_px: float) -> np.ndarray:
    return ndimage.gaussian_filter1d(mask.sum(axis=1).astype(float), min_gap_px / 8)


def _row_span(mask: np.ndarray, p: int, min_gap_px: float, min_span: float) -> tuple[int, int, int] | None:
    """(centre, x0, x1) of the trace row at projection peak ``p``, or None when its ink does not run across
    ``min_span`` of the width as one long stroke."""
    h, w = mask.shape
    lo, hi = max(0, int(p - min_gap_px / 4)), min(h, int(p + min_gap_px / 4) + 1)
    cols = np.flatnonzero(mask[lo:hi].any(axis=0))
    if len(cols) < 2:
        return None
    # Columns with ink, closed over gaps shorter than 1% of the width (~3 mm): a trace row is one long run.
    occupied = ndimage.binary_closing(mask[lo:hi].any(axis=0), structure=np.ones(max(3, w // 100)))
    runs, n = ndimage.label(occupied)
    if n == 0:
        return None
    sizes = ndimage.sum(occupied, runs, range(1, n + 1))
    long_runs = [i + 1 for i, size in enumerate(sizes) if size >= 0.02 * w]
    if not long_runs or max(sizes) < min_span * w / 3:
        return None
    span = np.flatnonzero(np.isin(runs, long_runs))
    return (int(p), int(span[0]), int(span[-1])) if span[-1] - span[0] >= min_span * w else None


def _banded(spans: list[tuple[int, int, int]], h: int, min_gap_px: float) -> list[Row]:
    """Rows with the band between each and its neighbours (1.2 x half the distance to each)."""
    out: list[Row] = []
    for i, (centre, x0, x1) in enumerate(spans):
        above = spans[i - 1][0] if i > 0 else None
        below = spans[i + 1][0] if i + 1 < len(spans) else None
        half_up = (centre - above) / 2 if above is not None else (below - centre) / 2 if below else min_gap_px
        half_down = (below - centre) / 2 if below is not None else half_up
        out.append(
            Row(
                centre=centre,
                top=max(0, int(centre - 1.2 * half_up)),
                bottom=min(h, int(centre + 1.2 * half_down)),
                x0=x0,
                x1=x1,
            )
        )
    return out


def find_rows(mask: np.ndarray, min_gap_px: float, min_span: float = 0.35) -> list[Row]:
    """Trace rows: projection peaks at least ``min_gap_px`` apart whose ink spans ``min_span`` of the width."""
    projection = _projection(mask, min_gap_px)
    peaks, _ = signal.find_peaks(
        projection, distance=max(1, int(min_gap_px)), height=0.3 * float(projection.max(initial=0.0))
    )
    spans = [sp for p in peaks if (sp := _row_span(mask, int(p), min_gap_px, min_span)) is not None]
    return _banded(spans, mask.shape[0], min_gap_px)


def evenly_spaced(rows: list[Row], tolerance: float = 0.1) -> bool:
    """The rows' spacing varies by less than ``tolerance`` of its mean (SD / mean), as a printed layout's
    does; rows found unevenly mean a fold, crease or line of handwriting was taken for a row."""
    gaps = np.diff([r.centre for r in rows])
    return bool(np.std(gaps) / np.mean(gaps) < tolerance)


def complete_lattice(
    mask: np.ndarray,
    rows: list[Row],
    min_gap_px: float,
    is_trace: Callable[[Row], bool],
    min_share: float = 0.1,
    min_span: float = 0.35,
) -> list[Row]:
    """A printed layout spaces its rows evenly and puts its rhythm strips below the lead rows, so a row one
    pitch below the last row found is looked for with a lower bar: a faint or low-voltage rhythm strip casts
    a weaker projection than the rows above it (less ink), and was lost to ``find_rows``' bar of 30 % of the
    strongest row. The candidate is the projection's highest point within 15 % of a pitch of the predicted
    position, at least ``min_share`` of the strongest row, and it must still be a trace row (``_row_span``
    and ``is_trace``). Nothing is looked for above the first row: that is where the header is printed (its
    text lines have tall letters and span the page). Rows found unevenly (a pitch that varies by more than
    10 %: ``evenly_spaced``) are left as found."""
    if len(rows) < 2 or not evenly_spaced(rows):
        return rows
    centres = np.array([r.centre for r in rows], float)
    pitch = float(np.median(np.diff(centres)))
    projection = _projection(mask, min_gap_px)
    floor = min_share * float(projection.max(initial=0.0))
    predicted = centres[-1] + pitch
    lo, hi = int(predicted - 0.15 * pitch), int(predicted + 0.15 * pitch) + 1
    if hi > len(projection):
        return rows
    p = lo + int(np.argmax(projection[lo:hi]))
    if projection[p] < floor or p in (lo, hi - 1):
        return rows
    sp = _row_span(mask, p, min_gap_px, min_span)
    if sp is None or not is_trace(_banded([sp], mask.shape[0], pitch / 2)[0]):  # in its own band only
        return rows
    return _banded([(r.centre, r.x0, r.x1) for r in rows] + [sp], mask.shape[0], min_gap_px)


def extend_rows(
    mask: np.ndarray, rows: list[Row], starts: list[float], min_found: float = 0.5, min_short_px: float = 20.0
) -> list[Row]:
    """Rows that end short of the longest row, followed on to its end. A page prints its rows over one width
    (the same seconds per row), but ``find_rows`` measures a row's extent within a level band around its
    projection peak, and a sheet that curls or sags carries a row's far end out of that band. The trace
    is followed (``follow_trace``, ECGScan's tracking) from where the row was cut to the longest row's end;
    the row is extended to the last column found when the trace was found in at least ``min_found`` of
    those columns (a trace, not a stray mark), and left as it was otherwise."""
    if len(rows) < 2:
        return rows
    end = max(r.x1 for r in rows)
    out = []
    for row, y0 in zip(rows, starts, strict=True):
        if end - row.x1 < min_short_px:
            out.append(row)
            continue
        head = follow_trace(mask, row, row.x0, row.x1 + 1, y0)
        last = head.y[head.found][-1] if head.found.any() else y0
        tail = follow_trace(mask, row, row.x1 + 1, end + 1, float(last))
        if tail.found.size and tail.found.mean() >= min_found:
            x1 = row.x1 + 1 + int(np.flatnonzero(tail.found)[-1])
            row = Row(centre=row.centre, top=row.top, bottom=row.bottom, x0=row.x0, x1=x1)
        out.append(row)
    return out


def spike_count(mask: np.ndarray, row: Row, min_height_px: float) -> int:
    """Vertical strokes taller than ``min_height_px`` along the row (QRS complexes, calibration pulses,
    lead separators): a trace has them every beat, a line of text, a fold or a page edge has none."""
    band = mask[row.top : row.bottom, row.x0 : row.x1 + 1]
    tall = np.zeros(band.shape[1], bool)
    for x in range(band.shape[1]):
        runs = _runs(band[:, x])
        tall[x] = bool(runs) and max(b - a for a, b in runs) >= min_height_px
    _, n = ndimage.label(tall)
    return int(n)


def _runs(column: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of the True runs in a boolean column, stop exclusive."""
    padded = np.concatenate([[False], column, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2], edges[1::2], strict=True))


def follow_trace(mask: np.ndarray, row: Row, x_start: int, x_stop: int, start_y: float) -> TraceCurve:
    """The trace of ``row`` from column ``x_start`` to ``x_stop`` (see the module docstring)."""
    band = mask[row.top : row.bottom]
    n = max(0, x_stop - x_start)
    ys = np.full(n, np.nan)
    found = np.zeros(n, bool)
    previous = start_y - row.top
    baseline = previous
    for i in range(n):
        runs = _runs(band[:, x_start + i])
        if not runs:
            continue
        distances = [
            0.0 if a <= previous < b else min(abs(a - previous), abs(b - 1 - previous)) for a, b in runs
        ]
        a, b = runs[int(np.argmin(distances))]
        if min(distances) > band.shape[0] / 3:
            continue  # nothing near the trace in this column: a gap, not a jump to another mark
        if b - a <= 3:
            y = (a + b - 1) / 2
        else:
            # a steep stroke: take the end farther from the recent baseline (the peak of an R or an S)
            y = float(a) if abs(a - baseline) > abs(b - 1 - baseline) else float(b - 1)
        ys[i], found[i] = y + row.top, True
        previous = (a + b - 1) / 2 if b - a > 3 else y
        baseline = 0.97 * baseline + 0.03 * ((a + b - 1) / 2)
    return TraceCurve(y=ys, found=found, x0=x_start)


def _tall_edges(
    band: np.ndarray, x_from: int, x_to: int, lo_px: float, hi_px: float
) -> list[tuple[int, int, int, int]]:
    """Vertical strokes as tall as a calibration pulse: (first column, last column, top, foot)."""
    edges: list[list[int]] = []
    for x in range(x_from, x_to):
        runs = [r for r in _runs(band[:, x]) if lo_px <= r[1] - r[0] <= hi_px]
        if not runs:
            continue
        a, b = max(runs, key=lambda r: r[1] - r[0])
        if edges and x - edges[-1][1] <= 2 and abs(edges[-1][3] - b) <= 3:
            edges[-1][1] = x
        else:
            edges.append([x, x, a, b])
    return [(e[0], e[1], e[2], e[3]) for e in edges]


def calibration_pulse(mask: np.ndarray, row: Row, px_per_mm_y: float, px_per_mm_x: float) -> Pulse | None:
    """The 1-mV pulse at the start of ``row``: two vertical edges 7-13 mm tall, 3.5-6.5 mm apart (0.2 s),
    whose tops and feet are level and joined by ink along the top; the pair nearest the row's start."""
    band = mask[row.top : row.bottom]
    x_from = max(0, row.x0 - int(20 * px_per_mm_x))
    x_to = min(band.shape[1], row.x0 + int(20 * px_per_mm_x))
    edges = _tall_edges(band, x_from, x_to, 7 * px_per_mm_y, 13 * px_per_mm_y)
    level = 1.5 * px_per_mm_y
    for i, (_, l1, top_l, foot_l) in enumerate(edges):
        for r0, r1, top_r, foot_r in edges[i + 1 :]:
            gap_mm = (r0 - l1) / px_per_mm_x
            if not 3.5 <= gap_mm <= 6.5 or abs(top_l - top_r) > level or abs(foot_l - foot_r) > level:
                continue
            top = int(round((top_l + top_r) / 2))
            lid = band[max(0, top - 3) : top + 4, l1:r0].any(axis=0).mean()
            if lid < 0.8:
                continue
            foot = (foot_l + foot_r) / 2 - 1 + row.top
            height = ((foot_l - top_l) + (foot_r - top_r)) / 2
            return Pulse(foot_y=float(foot), height_px=float(height), x_end=int(r1))
    return _half_pulse(band, edges, row, px_per_mm_x)


def _half_pulse(
    band: np.ndarray, edges: list[tuple[int, int, int, int]], row: Row, px_per_mm_x: float
) -> Pulse | None:
    """A pulse whose falling edge did not survive the photo (a thin stroke lost to glare): its rising edge
    and a lid of ink at least 3.5 mm long from its top; the pulse is 0.2 s (5 mm) wide, so it ends there."""
    width = int(round(5 * px_per_mm_x))
    for _, l1, top, foot in edges:
        lid = np.asarray(band[max(0, top - 3) : top + 4, l1 : l1 + width].any(axis=0))
        if lid.size and lid[: int(3.5 * px_per_mm_x)].mean() >= 0.9:
            return Pulse(
                foot_y=float(foot - 1 + row.top),
                height_px=float(foot - top),
                x_end=int(l1 + width),
                complete=False,
            )
    return None
