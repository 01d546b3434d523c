"""Seeded photo and scan augmentations for rendered ECG pages (Pillow and numpy only).

Users upload phone photos, scans and screenshots of paper ECGs; the training images are clean renders.
Each function here imitates one thing that happens between the printer and the upload and keeps the
image an H x W x 3 uint8 array of the same size:

- paper: tinted or aged paper (``paper_tint``), a black-and-white photocopy (``desaturate``);
- camera geometry: a tilted page (``rotate``), a page photographed at an angle (``perspective``), a
  framing that cuts margins or shows the table around the page (``crop_pad``);
- light and optics: a shadow or a lamp on one side and darker corners (``uneven_lighting``), defocus
  (``blur``), sensor noise (``noise``), and compression (``jpeg``).

The functions take explicit parameters (pure); ``augment_photo(img, rng, config)`` draws them from a
``numpy.random.Generator`` and applies a random subset in the physical order (paper, camera, light,
optics, sensor, file), so a seed reproduces an augmented image exactly; ``augment_photo_logged`` also
returns what it did.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter
from pydantic import BaseModel, Field, model_validator

Colour = tuple[int, int, int]

# Paper colours seen on uploads: white, cream/yellowed, grey recycled, pale pink and pale green ECG paper.
PAPER_TINTS: tuple[Colour, ...] = (
    (255, 255, 255),
    (250, 240, 215),
    (232, 232, 228),
    (252, 232, 232),
    (232, 246, 232),
)
# What lies around a photographed page: a desk, a bed sheet, a dark table, a scanner lid.
BACKGROUNDS: tuple[Colour, ...] = (
    (120, 95, 70),
    (200, 200, 205),
    (45, 45, 50),
    (250, 250, 250),
    (160, 150, 140),
)


def _check(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 image, got {a.shape} {a.dtype}")
    return a


def _pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray(_check(img), mode="RGB")


def rotate(img: np.ndarray, degrees: float, fill: Colour = (255, 255, 255)) -> np.ndarray:
    """Rotate about the centre (counter-clockwise, bilinear), same size; uncovered corners get ``fill``."""
    return np.asarray(
        _pil(img).rotate(degrees, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=fill)
    )


def _perspective_coeffs(src: np.ndarray, dst: np.ndarray) -> list[float]:
    """The 8 coefficients PIL's PERSPECTIVE transform wants: for each output pixel (x, y) it samples
    the input at ((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (g x + h y + 1)). ``dst`` are the
    output corners, ``src`` where they come from in the input."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=False):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.linalg.solve(np.asarray(rows, dtype=float), np.asarray(rhs, dtype=float)).tolist()


def perspective(img: np.ndarray, corner_shifts: np.ndarray, fill: Colour = (255, 255, 255)) -> np.ndarray:
    """Warp as a page photographed off-axis: ``corner_shifts`` (4 x 2, fractions of width/height) move
    the page's corners (top-left, top-right, bottom-right, bottom-left) inwards (positive) or outwards."""
    a = _check(img)
    h, w = a.shape[:2]
    shifts = np.asarray(corner_shifts, dtype=float).reshape(4, 2)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
    inward = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=float)
    dst = src + inward * shifts * np.array([w, h])
    coeffs = _perspective_coeffs(src, dst)
    out = _pil(a).transform(
        (w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR, fillcolor=fill
    )
    return np.asarray(out)


def crop_pad(
    img: np.ndarray, left: float, top: float, right: float, bottom: float, fill: Colour = (255, 255, 255)
) -> np.ndarray:
    """Reframe: a positive margin (fraction of the size) crops that side, a negative one pads it with
    ``fill``; the result is resized back to the input size."""
    a = _check(img)
    h, w = a.shape[:2]
    box = (round(left * w), round(top * h), round(w - right * w), round(h - bottom * h))
    if box[2] - box[0] < 8 or box[3] - box[1] < 8:
        raise ValueError(f"crop margins {left, top, right, bottom} leave nothing of a {w}x{h} image")
    # PIL's crop pads with black outside the image; paste onto a canvas of ``fill`` instead
    canvas = Image.new("RGB", (box[2] - box[0], box[3] - box[1]), fill)
    canvas.paste(_pil(a), (-box[0], -box[1]))
    return np.asarray(canvas.resize((w, h), Image.Resampling.BILINEAR))


def blur(img: np.ndarray, radius_px: float) -> np.ndarray:
    """Gaussian defocus blur."""
    return np.asarray(_pil(img).filter(ImageFilter.GaussianBlur(radius_px)))


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode as JPEG at ``quality`` (5-95) and decode: block and ringing artefacts, chroma smearing."""
    buf = io.BytesIO()
    _pil(img).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def lighting_field(
    h: int,
    w: int,
    gradient: float,
    angle_deg: float,
    vignette: float,
    centre: tuple[float, float] = (0.5, 0.5),
) -> np.ndarray:
    """A multiplicative light field (H x W, <= 1): a linear fall-off of ``gradient`` across the page in
    direction ``angle_deg`` and a radial darkening of ``vignette`` towards the corners."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    xn, yn = x / max(w - 1, 1), y / max(h - 1, 1)
    a = np.deg2rad(angle_deg)
    ramp = (xn - 0.5) * np.cos(a) + (yn - 0.5) * np.sin(a)  # -0.71 .. 0.71
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    r2 = ((xn - centre[0]) ** 2 + (yn - centre[1]) ** 2) / 0.5
    field = (1.0 - gradient * ramp) * (1.0 - vignette * np.clip(r2, 0.0, 1.0))
    return np.clip(field, 0.0, 1.0).astype(np.float32)


def uneven_lighting(
    img: np.ndarray,
    gradient: float,
    angle_deg: float,
    vignette: float,
    centre: tuple[float, float] = (0.5, 0.5),
) -> np.ndarray:
    a = _check(img)
    h, w = a.shape[:2]
    # the field is smooth: computed on a 1/8 grid and interpolated, several times faster than per pixel
    small = lighting_field(max(2, h // 8), max(2, w // 8), gradient, angle_deg, vignette, centre).astype(
        np.float32
    )
    field = np.asarray(Image.fromarray(small, mode="F").resize((w, h), Image.Resampling.BILINEAR))
    return np.clip(a.astype(np.float32) * field[..., None] + 0.5, 0, 255).astype(np.uint8)


def paper_tint(img: np.ndarray, colour: Colour) -> np.ndarray:
    """Print on coloured paper: white becomes ``colour``, ink stays dark (multiplicative)."""
    a = _check(img).astype(np.float32)
    return np.clip(a * (np.asarray(colour, dtype=np.float32) / 255.0) + 0.5, 0, 255).astype(np.uint8)


def desaturate(img: np.ndarray, amount: float, contrast: float = 1.0) -> np.ndarray:
    """Move towards grey (``amount`` 1 = fully grey, as a black-and-white copy) and stretch contrast
    around mid-grey (a photocopier's darker ink and lighter grid)."""
    a = _check(img).astype(np.float32)
    grey = a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    mixed = a * (1.0 - amount) + grey[..., None] * amount
    mixed = (mixed - 128.0) * contrast + 128.0
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian sensor noise, SD ``sigma`` grey levels, independent per pixel and channel."""
    a = _check(img).astype(np.float32)
    return np.clip(a + sigma * rng.standard_normal(a.shape, dtype=np.float32) + 0.5, 0, 255).astype(np.uint8)


class PhotoAugmentConfig(BaseModel):
    """Which photo/scan effects ``augment_photo`` applies, with what probability and over what ranges."""

    p_paper_tint: float = Field(0.5, ge=0, le=1)
    p_desaturate: float = Field(0.2, ge=0, le=1)
    p_rotate: float = Field(0.6, ge=0, le=1)
    max_rotate_deg: float = Field(4.0, ge=0, le=45)
    p_perspective: float = Field(0.5, ge=0, le=1)
    max_perspective: float = Field(0.06, ge=0, le=0.3, description="corner shift, fraction of the size")
    p_crop_pad: float = Field(0.6, ge=0, le=1)
    crop_range: tuple[float, float] = Field((-0.06, 0.05), description="per-side margin; negative pads")
    p_lighting: float = Field(0.6, ge=0, le=1)
    max_gradient: float = Field(0.45, ge=0, le=0.9)
    max_vignette: float = Field(0.35, ge=0, le=0.9)
    p_blur: float = Field(0.5, ge=0, le=1)
    blur_radius_px: tuple[float, float] = (0.4, 1.4)
    p_noise: float = Field(0.5, ge=0, le=1)
    noise_sigma: tuple[float, float] = (2.0, 9.0)
    p_jpeg: float = Field(0.7, ge=0, le=1)
    jpeg_quality: tuple[int, int] = (25, 90)
    p_photo_background: float = Field(
        0.6, ge=0, le=1, description="geometry reveals a table, else white (scan)"
    )

    @model_validator(mode="after")
    def _ranges(self) -> PhotoAugmentConfig:
        for name in ("crop_range", "blur_radius_px", "noise_sigma", "jpeg_quality"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name}: low end {lo} is above high end {hi}")
        if not (5 <= self.jpeg_quality[0] and self.jpeg_quality[1] <= 95):
            raise ValueError("jpeg_quality must lie within 5-95")
        if self.crop_range[1] >= 0.4:
            raise ValueError("crop_range above 0.4 per side would cut the tracings away")
        return self

    @classmethod
    def none(cls) -> PhotoAugmentConfig:
        """No effect at all (for clean evaluation images)."""
        return cls.model_validate({k: 0.0 for k in cls.model_fields if k.startswith("p_")})


class PhotoAugmentation(BaseModel):
    """What ``augment_photo`` did, for the dataset record and for debugging."""

    applied: list[str] = Field(default_factory=list)
    params: dict[str, float | list[float] | list[int]] = Field(default_factory=dict)


def augment_photo(
    img: np.ndarray, rng: np.random.Generator, config: PhotoAugmentConfig | None = None
) -> np.ndarray:
    """Apply a random subset of the effects in the physical order."""
    return augment_photo_logged(img, rng, config)[0]


def augment_photo_logged(
    img: np.ndarray, rng: np.random.Generator, config: PhotoAugmentConfig | None = None
) -> tuple[np.ndarray, PhotoAugmentation]:
    """``augment_photo`` that also says which effects it applied with which parameters."""
    cfg = config or PhotoAugmentConfig()
    out = _check(img)
    log = PhotoAugmentation()

    def did(name: str, **params: float | list[float] | list[int]) -> None:
        log.applied.append(name)
        log.params.update({f"{name}.{k}": v for k, v in params.items()})

    if rng.random() < cfg.p_paper_tint:
        colour = PAPER_TINTS[int(rng.integers(len(PAPER_TINTS)))]
        out = paper_tint(out, colour)
        did("paper_tint", colour=list(colour))
    if rng.random() < cfg.p_desaturate:
        amount, contrast = float(rng.uniform(0.7, 1.0)), float(rng.uniform(1.0, 1.4))
        out = desaturate(out, amount, contrast)
        did("desaturate", amount=amount, contrast=contrast)
    photo = rng.random() < cfg.p_photo_background
    fill = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))] if photo else (255, 255, 255)
    if rng.random() < cfg.p_rotate:
        deg = float(rng.uniform(-cfg.max_rotate_deg, cfg.max_rotate_deg))
        out = rotate(out, deg, fill)
        did("rotate", degrees=deg)
    if rng.random() < cfg.p_perspective:
        shifts = rng.uniform(-0.25, 1.0, size=(4, 2)) * cfg.max_perspective
        out = perspective(out, shifts, fill)
        did("perspective", corner_shifts=shifts.round(4).ravel().tolist())
    if rng.random() < cfg.p_crop_pad:
        margins = rng.uniform(*cfg.crop_range, size=4)
        left, top, right, bottom = margins.tolist()
        out = crop_pad(out, left, top, right, bottom, fill=fill)
        did("crop_pad", margins=margins.round(4).tolist())
    if rng.random() < cfg.p_lighting:
        g, ang, v = (
            float(rng.uniform(0, cfg.max_gradient)),
            float(rng.uniform(0, 360)),
            float(rng.uniform(0, cfg.max_vignette)),
        )
        centre = (float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7)))
        out = uneven_lighting(out, g, ang, v, centre)
        did("uneven_lighting", gradient=g, angle_deg=ang, vignette=v)
    if rng.random() < cfg.p_blur:
        r = float(rng.uniform(*cfg.blur_radius_px))
        out = blur(out, r)
        did("blur", radius_px=r)
    if rng.random() < cfg.p_noise:
        s = float(rng.uniform(*cfg.noise_sigma))
        out = noise(out, s, rng)
        did("noise", sigma=s)
    if rng.random() < cfg.p_jpeg:
        q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        out = jpeg(out, q)
        did("jpeg", quality=q)
    return out, log
