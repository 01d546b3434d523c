"""The ECG paper's grid: where the ink is, and how many pixels make a millimetre.

Printed ECG paper carries a coloured grid (1 mm minor, 5 mm major squares) that the trace is drawn over
in black. Two steps, each a pure function:

``ink_and_grid(rgb)`` separates them by colour. Lightness is taken relative to the paper around each pixel
(a grey-level closing, the paper's local brightness), so shadows, curl and uneven lighting cancel; dark,
unsaturated pixels are ink, saturated ones (red, pink, orange, green grids) are grid.

``grid_pitch(grid)`` measures the grid's period along each axis from the power spectrum of the grid's
projection (the lines repeat every 5 mm, the minor lines every 1 mm), the way printed-ECG digitizers
calibrate from the grid (Badilini et al. 2005; Fortune et al. 2022). The strongest period between the
bounds is returned with how much of the projection's power it holds, which is also how a grid-less photo
is told apart.

References
----------
Badilini F, Erdem T, Zareba W, Moss AJ. ECGScan: a method for conversion of paper electrocardiographic
printouts to digital electrocardiographic files. J Electrocardiol 2005;38:310-8.
Fortune JD, Coppa NE, Haq KT, Patel H, Tereshchenko LG. Digitizing ECG image: a new method and open-source
software code. Comput Methods Programs Biomed 2022;221:106890.
Postl W. Detection of linear oblique structures and skew scan in digitized documents. Proc. 8th International
Conference on Pattern Recognition, 1986:687-689.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from cardioagent.tools.signal.digitize.trace import sharpest_slope


@dataclass(frozen=True)
class GridPitch:
    period_px: float  # the strongest repeat of the grid along this axis
    strength: float  # share of the power between the bounds that lies within +-3% of that period


def ink_and_grid(rgb: np.ndarray, paper_window_px: int = 31) -> tuple[np.ndarray, np.ndarray]:
    """(ink, grid): darkness in [0, 1] of black ink and of the coloured grid, relative to the local paper.

    Each colour channel is divided by the paper's local brightness in that channel (a grey-level closing
    wider than any stroke), which white-balances the photo and evens its lighting. Black ink absorbs all
    three channels, a coloured grid line only some: the spread between the darkest and the lightest channel
    is grid, and ink is the darkness in the channel where the grid is lightest."""
    img = rgb.astype(np.float32)
    if img.max() > 1.5:
        img /= 255.0
    size = (paper_window_px, paper_window_px)
    darkness = np.empty_like(img)
    for c in range(3):
        paper = ndimage.uniform_filter(ndimage.grey_closing(img[..., c], size=size), paper_window_px)
        darkness[..., c] = np.clip(1.0 - img[..., c] / np.maximum(paper, 0.05), 0.0, 1.0)
    spread = darkness.max(axis=-1) - darkness.min(axis=-1)
    # Seen through a filter of the grid's own colour the grid vanishes (a red grid in the red channel):
    # the channel in which the most coloured pixels are lightest carries the ink alone.
    coloured = spread > max(0.1, float(np.percentile(spread, 97)))
    if coloured.sum() < 100:
        return darkness.min(axis=-1), spread
    channel = int(np.argmin([np.median(darkness[..., c][coloured]) for c in range(3)]))
    return darkness[..., channel], spread


def grid_pitch(grid: np.ndarray, axis: int, min_px: float, max_px: float) -> GridPitch:
    """The grid's period along ``axis`` (1: across columns, i.e. vertical lines; 0: horizontal lines)."""
    profile = grid.mean(axis=1 - axis).astype(np.float64)
    profile = profile - ndimage.uniform_filter1d(profile, max(3, int(max_px * 2)))
    n = len(profile)
    if n < 8 or not np.any(profile):
        return GridPitch(period_px=float("nan"), strength=0.0)
    nfft = int(2 ** np.ceil(np.log2(n * 8)))  # zero-padding interpolates the spectrum's peak
    power = np.abs(np.fft.rfft(profile * np.hanning(n), nfft)) ** 2
    freqs = np.fft.rfftfreq(nfft)
    band = (freqs >= 1.0 / max_px) & (freqs <= 1.0 / min_px)
    if not band.any():
        return GridPitch(period_px=float("nan"), strength=0.0)
    idx = np.flatnonzero(band)
    peaks, _ = signal.find_peaks(power[idx])
    best = idx[peaks[np.argmax(power[idx][peaks])]] if len(peaks) else idx[np.argmax(power[idx])]
    f0 = freqs[best]
    near = (freqs > f0 * 0.97) & (freqs < f0 * 1.03)
    total = power[band].sum()
    return GridPitch(period_px=float(1.0 / f0), strength=float(power[near].sum() / max(total, 1e-12)))


def column_slope(grid: np.ndarray, max_slope: float = 0.1, n: int = 81) -> float:
    """The slope (px across per px down) of the grid's vertical lines: the slope along which the grid's
    projection onto the columns is sharpest, the projection-profile method of skew detection (Postl 1986).
    Levelling the rows does not set the columns upright when the page was photographed at an angle and
    read whole, or its outline was a few pixels off (perspective leaves a shear); leaning grid lines smear
    the row's grid ruler and lean the calibration pulse's edges, and neither is then found."""
    step = max(1, grid.shape[0] // 600)
    sample = grid[::step]
    # the most grid-coloured tenth of the pixels, weighted by how coloured: a faded or pale grid (a photo's
    # white balance) has no pixel above a fixed threshold
    ys, xs = np.nonzero(sample > float(np.percentile(sample, 90)))
    if ys.size < 1000:
        return 0.0
    weights = sample[ys, xs].astype(float)
    best = sharpest_slope(xs, ys * step - grid.shape[0] / 2, grid.shape[1], max_slope, n, weights)
    # sharpest at the end of the range searched is no peak found (a misread page leaning further, or no grid
    # lines at all): the columns are left as they are
    return 0.0 if abs(best) >= max_slope * (1 - 1e-9) else best


def grid_ruler(
    grid_band: np.ndarray, ink_band: np.ndarray, period_px: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """The grid as a ruler along a row: (column, grid-line index) pairs for the vertical grid lines of the
    row's band. Interpolating the index at a column gives its position in grid squares even where the
    perspective was not fully undone (a page outline a few pixels off), so time follows the paper, not the
    pixels. The profile is the median over the band's pixel rows with the least ink, so the trace does not
    add lines. None when fewer than 80 % of the steps between lines found are one grid square (a crumpled
    sheet whose lines bend within the band), or when no chain of lines holds half of those found: then no
    ruler is better than a wrong one."""
    quiet = np.argsort(ink_band.mean(axis=1))[: max(1, int(0.4 * ink_band.shape[0]))]
    profile = np.median(grid_band[quiet], axis=0).astype(np.float64)
    profile = profile - ndimage.uniform_filter1d(profile, max(3, int(period_px * 2)))
    peaks, _ = signal.find_peaks(profile, distance=max(1, int(0.6 * period_px)))
    if len(peaks) < 8:
        return None
    steps = np.diff(peaks) / period_px
    if np.mean(np.abs(steps - 1.0) < 0.15) < 0.8:
        return None
    # The chain is grown from every line found and the one that takes in the most lines is kept: grown from
    # the first line only, a stray first peak (the image's edge, a lead label) sets a phase that no grid
    # line matches, and a ruler of one line maps every column to the same instant.
    best = max((_chain(peaks, start, period_px) for start in range(len(peaks))), key=lambda c: len(c[0]))
    if len(best[0]) < max(8, len(peaks) // 2):
        return None
    return np.asarray(best[0], float), np.asarray(best[1], float) - best[1][0]


def _chain(peaks: np.ndarray, start: int, period_px: float) -> tuple[list[int], list[int]]:
    """Columns and grid-line indices of the lines reached from ``peaks[start]`` by whole grid steps (within
    a fifth of a square of the last line kept), forwards and backwards: a trace stroke or a crease between
    two lines is passed over, and the period may drift along the row (perspective)."""

    def walk(order: np.ndarray, sign: int) -> tuple[list[int], list[int]]:
        cols, idx = [int(peaks[start])], [0]
        for p in order:
            k = round(sign * (p - cols[-1]) / period_px)
            if k < 1 or abs(sign * (p - cols[-1]) / period_px - k) > 0.2:
                continue
            cols.append(int(p))
            idx.append(idx[-1] + sign * k)
        return cols, idx

    ahead = walk(peaks[start + 1 :], 1)
    behind = walk(peaks[:start][::-1], -1)
    return behind[0][:0:-1] + ahead[0], behind[1][:0:-1] + ahead[1]
