"""Find the paper in a photo and undo the camera's perspective.

A printed ECG photographed on a table is a bright quadrilateral on a darker background. The page is the
largest connected region brighter than Otsu's threshold of the image's lightness (Otsu 1979); its four
corners are the vertices of the polygon that approximates its outline (Douglas-Peucker, as
``skimage.measure.approximate_polygon``), or, when the page runs off the photo and the outline has more
than four corners, the extreme points along the two diagonals. A projective transform (a homography from
the four corners, Hartley & Zisserman 2004, ch. 4) maps the page onto an upright rectangle whose sides are
the mean lengths of the opposite edges.

A screenshot or a flat scan has no background: when the bright region fills the image the whole image is
the page and nothing is warped.

References
----------
Otsu N. A threshold selection method from gray-level histograms. IEEE Trans Syst Man Cybern 1979;9:62-6.
Hartley R, Zisserman A. Multiple View Geometry in Computer Vision, 2nd ed. Cambridge, 2004.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage import color, filters, measure, morphology, transform

ANALYSIS_WIDTH = 800  # the page outline is found on a copy this wide: outlines need no detail
FILLS_IMAGE = 0.93  # a bright region covering this much of the image is a scan or a screenshot
MIN_PAGE_FRACTION = 0.15  # a bright region smaller than this is not a page that can be read


@dataclass(frozen=True)
class PageOutline:
    corners: np.ndarray  # (4, 2) x, y in input pixels: top-left, top-right, bottom-right, bottom-left
    fraction: float  # of the image covered by the page
    whole_image: bool  # a scan or screenshot: no perspective to undo
    method: str


def _order_corners(pts: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left by the sums and differences of coordinates."""
    s, d = pts.sum(axis=1), pts[:, 0] - pts[:, 1]
    return np.array([pts[np.argmin(s)], pts[np.argmax(d)], pts[np.argmax(s)], pts[np.argmin(d)]], float)


def _quadrilateral(region: np.ndarray) -> tuple[np.ndarray, str]:
    contours = measure.find_contours(np.pad(region, 1).astype(float), 0.5)
    outline = max(contours, key=len)[:, ::-1] - 1.0  # (x, y)
    diag = float(np.hypot(*region.shape))
    for tol in (0.01, 0.02, 0.03, 0.05):
        poly = measure.approximate_polygon(outline, tolerance=tol * diag)[:-1]
        if len(poly) == 4:
            return _order_corners(poly), "outline polygon"
    return _order_corners(outline), "diagonal extremes of the outline"


def find_page(rgb: np.ndarray) -> PageOutline:
    """The page's four corners in the input image (see the module docstring)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, ANALYSIS_WIDTH / max(h, w))
    small = transform.rescale(rgb, scale, channel_axis=-1, anti_aliasing=True) if scale < 1 else rgb / 255.0
    light = color.rgb2gray(small)
    bright = light > filters.threshold_otsu(light)
    bright = morphology.opening(bright, morphology.disk(2))  # detach the page from bright specks
    labels = measure.label(bright)
    if labels.max() == 0:
        return _whole(w, h, 0.0)
    largest = max(measure.regionprops(labels), key=lambda p: p.area)
    fraction = largest.area / bright.size
    if fraction >= FILLS_IMAGE or fraction < MIN_PAGE_FRACTION:
        return _whole(w, h, fraction)
    region = morphology.closing(labels == largest.label, morphology.disk(7))
    region = filled(region)
    corners, method = _quadrilateral(region)
    if _area(corners) >= FILLS_IMAGE * bright.size:
        # the outline runs along the image's edges (a screenshot whose grid is darker than its margins)
        return _whole(w, h, fraction)
    return PageOutline(corners=corners / scale, fraction=float(fraction), whole_image=False, method=method)


def _area(corners: np.ndarray) -> float:
    x, y = corners[:, 0], corners[:, 1]
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def filled(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return np.asarray(ndimage.binary_fill_holes(mask))


def whole_image(rgb: np.ndarray, fraction: float = 1.0) -> PageOutline:
    """The whole image as the page (a scan or a screenshot, or a photo whose page outline is in doubt)."""
    return _whole(rgb.shape[1], rgb.shape[0], fraction)


def _whole(w: int, h: int, fraction: float) -> PageOutline:
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
    return PageOutline(corners=corners, fraction=float(fraction), whole_image=True, method="whole image")


def page_size(corners: np.ndarray) -> tuple[float, float]:
    """Width and height of the upright page: the mean lengths of its opposite edges."""
    tl, tr, br, bl = corners
    width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    return float(width), float(height)


def rectify(rgb: np.ndarray, outline: PageOutline, out_width: int) -> np.ndarray:
    """The page warped onto an upright rectangle ``out_width`` pixels wide (float RGB in [0, 1])."""
    width, height = page_size(outline.corners)
    out_height = max(1, round(out_width * height / max(width, 1.0)))
    target = np.array(
        [[0, 0], [out_width - 1, 0], [out_width - 1, out_height - 1], [0, out_height - 1]], float
    )
    tf = transform.ProjectiveTransform.from_estimate(target, outline.corners)
    return transform.warp(rgb, tf, output_shape=(out_height, out_width), order=1, mode="edge")
