"""Is a photo of an ECG good enough to read? Simple image statistics, no model.

``image_quality(rgb)`` measures, on H x W x 3 uint8 pixels:

- sharpness: variance of the Laplacian of the grey image downscaled to at most ``ANALYSIS_WIDTH`` px
  wide (the width the vision tower reads), so that a large sharp photo and a small sharp screenshot
  score alike and blur is judged at the scale the model sees;
- contrast: spread of grey levels (1st to 99th percentile, 0-255);
- brightness: mean grey level (0-255);
- coverage: share of pixels that differ clearly from the background (tracings, grid, text);
- resolution: width and height in pixels.

Thresholds were calibrated on 144 pages drawn by ``tools.signal.render.render_12lead`` from
``models.vlm.synth.generate`` ECGs (60, 80, 100 or 120 dpi, compact or standard paper, header on 30 %),
each clean and once through ``models.vlm.photo_augment.augment_photo`` with its default config (blur up to
1.4 px, JPEG down to quality 25, lighting gradients, tints, rotation, perspective): the images the model
is trained to read. All 288 come out GOOD or ACCEPTABLE. Against them, the augmented pages (a) blurred
with a Gaussian of radius 3-6 px, (b) darkened to 15-25 % of their brightness, (c) washed out to 10-15 %
of their contrast, (d) downscaled to 300 px wide: all 4 x 144 come out POOR. Measured ranges (three seeds
of 48 pages; script ``calib_quality.py`` kept out of the repo, figures in the issue-6 helper report):

=================  ==============  ==============  ============
pages              sharpness       contrast        brightness
=================  ==============  ==============  ============
clean              2 864-18 490    103-255         213-238
augmented          113-13 140      74-248          142-243
blurred 3-6 px     0.4-77          47-208          142-243
darkened           6-619           14-54           23-57
washed out         1.8-203         9-32            239-253
=================  ==============  ==============  ============

Refusal ("not readable") is kept for what no reader could use: under 320 x 180 px, a mean grey level
under 30, a contrast under 15, (almost) nothing drawn, or a sharpness under 5 (typical of a Gaussian blur of
5 px or more at 80 dpi, which smears a QRS complex over several small squares).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from cardioagent.tools.contract import Quality

ANALYSIS_WIDTH = 448  # the vision tower's input width (models.vlm.model.VlmSpec.image_size)

# Pixel size: below MIN_* the tracings are a few pixels tall and cannot be read at all; below
# RECOMMENDED_WIDTH reading works but small waves (P, ST) are at the edge of what survives.
MIN_WIDTH, MIN_HEIGHT = 320, 180
RECOMMENDED_WIDTH = 600
# Variance of the Laplacian at ANALYSIS_WIDTH (see the module docstring for the measured ranges).
SHARP_GOOD, SHARP_POOR, SHARP_UNREADABLE = 120.0, 90.0, 5.0
# Grey-level spread (p99 - p1) and mean brightness, 0-255.
CONTRAST_GOOD, CONTRAST_POOR, CONTRAST_UNREADABLE = 90.0, 50.0, 15.0
DARK_FAIR, DARK_POOR, DARK_UNREADABLE = 135.0, 100.0, 30.0
BRIGHT_POOR = 252.0  # nearly all white: overexposed or empty
# Share of pixels that are not background; an ECG page with tracings has a few per cent at least.
COVERAGE_POOR, COVERAGE_UNREADABLE = 0.01, 0.002
INK_DELTA = 40.0  # grey-level distance from the background colour that counts as "something drawn"


class ImageQuality(BaseModel):
    """How readable an image of an ECG is, judged from its pixels alone."""

    flag: Quality
    readable: bool = Field(description="False when nothing can be read (too small, blank, black, smeared)")
    reasons: list[str] = Field(default_factory=list, description="plain words, e.g. 'blurred', 'too dark'")
    width_px: int
    height_px: int
    sharpness: float = Field(description="variance of the Laplacian of the grey image at 448 px wide")
    contrast: float = Field(description="grey-level spread, 1st to 99th percentile, 0-255")
    brightness: float = Field(description="mean grey level, 0-255")
    coverage: float = Field(description="share of pixels clearly different from the background")


def _grey(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb)
    if a.ndim == 2:
        return a.astype(np.float32)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected an H x W x 3 image, got shape {a.shape}")
    a = a[..., :3].astype(np.float32)
    return a @ np.array([0.299, 0.587, 0.114], np.float32)


def _downscaled(grey: np.ndarray, width: int = ANALYSIS_WIDTH) -> np.ndarray:
    h, w = grey.shape
    if w <= width:
        return grey
    nh = max(1, round(h * width / w))
    # box filter: averages the pixels it merges, so downscaling itself adds neither blur nor aliasing edges
    im = Image.fromarray(grey.astype(np.float32), mode="F").resize((width, nh), Image.Resampling.BOX)
    return np.asarray(im, dtype=np.float32)


def laplacian_variance(grey: np.ndarray) -> float:
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    g = grey
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def ink_coverage(grey: np.ndarray) -> float:
    """Share of pixels at least ``INK_DELTA`` grey levels away from the background (the median)."""
    background = float(np.median(grey))
    return float(np.mean(np.abs(grey - background) >= INK_DELTA))


def image_quality(rgb: np.ndarray) -> ImageQuality:
    """Sharpness, contrast, brightness, coverage and size of an H x W x 3 image, a flag and the reasons
    in plain words. Pure: same pixels, same result."""
    grey_full = _grey(rgb)
    h, w = grey_full.shape
    grey = _downscaled(grey_full)
    sharp = laplacian_variance(grey)
    p1, p99 = np.percentile(grey, [1, 99])
    contrast = float(p99 - p1)
    brightness = float(grey.mean())
    coverage = ink_coverage(grey)

    poor: list[str] = []
    fair: list[str] = []
    unreadable = False
    if w < MIN_WIDTH or h < MIN_HEIGHT:
        poor.append(f"too small: {w} x {h} px, at least {RECOMMENDED_WIDTH} px wide recommended")
        unreadable = True
    elif w < RECOMMENDED_WIDTH:
        fair.append(f"small: {w} x {h} px, at least {RECOMMENDED_WIDTH} px wide recommended")
    if brightness < DARK_POOR:
        poor.append("too dark")
        unreadable |= brightness < DARK_UNREADABLE
    elif brightness < DARK_FAIR:
        fair.append("rather dark")
    elif brightness > BRIGHT_POOR:
        poor.append("almost white: overexposed or empty")
    if contrast < CONTRAST_POOR:
        poor.append("very low contrast (washed out)")
        unreadable |= contrast < CONTRAST_UNREADABLE
    elif contrast < CONTRAST_GOOD:
        fair.append("low contrast")
    # A washed-out image has few edges and little that stands out from the background; low contrast
    # says why, so blur and emptiness are judged only where the contrast is fair. Blur also spreads the
    # ink below the "drawn" level, so a smeared page is called blurred, not empty.
    if contrast >= CONTRAST_POOR:
        if sharp < SHARP_POOR:
            poor.append("blurred")
            unreadable |= sharp < SHARP_UNREADABLE
        elif coverage < COVERAGE_POOR:
            poor.append("almost nothing drawn on it")
            unreadable |= coverage < COVERAGE_UNREADABLE
        elif sharp < SHARP_GOOD:
            fair.append("slightly blurred")
    flag = Quality.POOR if poor else (Quality.ACCEPTABLE if fair else Quality.GOOD)
    return ImageQuality(
        flag=flag,
        readable=not unreadable,
        reasons=poor + fair,
        width_px=w,
        height_px=h,
        sharpness=round(sharp, 2),
        contrast=round(contrast, 1),
        brightness=round(brightness, 1),
        coverage=round(coverage, 4),
    )
