"""Images that are not 12-lead ECGs, to teach the vision tower to say so.

People upload the wrong thing: a photo of a lab report, a chart from a spreadsheet, a screenshot, ECG
paper with nothing printed on it, a holiday photo. The tower's page logit is trained against these so
the ``ecg_image_interpret`` tool can refuse them instead of reading findings into them. Every kind is
drawn with Pillow/numpy (no downloaded images exist offline), seeded, at a page-like size, then passed
through the same photo/scan augmentation as the ECG pages so that "looks like a phone photo" is not a
cue for "is an ECG".
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cardioagent.models.vlm.photo_augment import PhotoAugmentConfig, augment_photo

KINDS = (
    "text_page",
    "line_chart",
    "bar_chart",
    "table",
    "blank_grid",
    "grid_with_text",
    "photo_like",
    "screenshot",
)
_WORDS = (
    "patient",
    "report",
    "glucose",
    "mmol",
    "result",
    "normal",
    "range",
    "sodium",
    "potassium",
    "date",
    "clinic",
    "invoice",
    "total",
    "meeting",
    "agenda",
    "the",
    "and",
    "of",
    "value",
    "reference",
    "units",
    "haemoglobin",
    "creatinine",
    "page",
    "summary",
    "notes",
    "follow-up",
    "dose",
    "mg",
    "daily",
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def _paper(h: int, w: int, rng: np.random.Generator) -> Image.Image:
    shade = int(rng.integers(225, 256))
    return Image.new("RGB", (w, h), (shade, shade, int(rng.integers(max(200, shade - 25), shade + 1))))


def _sentence(rng: np.random.Generator, n: int) -> str:
    return " ".join(str(rng.choice(_WORDS)) for _ in range(n))


def _text_page(h: int, w: int, rng: np.random.Generator) -> Image.Image:
    im = _paper(h, w, rng)
    d = ImageDraw.Draw(im)
    size = int(rng.integers(10, 22))
    y = int(rng.integers(5, 40))
    while y < h - size:
        d.text(
            (int(rng.integers(10, 60)), y),
            _sentence(rng, int(rng.integers(3, 14))),
            fill=(20, 20, 20),
            font=_font(size),
        )
        y += int(size * rng.uniform(1.3, 2.2))
    return im


def _axes(d: ImageDraw.ImageDraw, h: int, w: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = int(0.1 * w), int(0.1 * h), int(0.95 * w), int(0.85 * h)
    d.line([(x0, y0), (x0, y1), (x1, y1)], fill=(0, 0, 0), width=2)
    for i in range(6):
        yy = y1 - i * (y1 - y0) // 5
        d.line([(x0 - 5, yy), (x0, yy)], fill=(0, 0, 0))
        d.text((5, yy - 6), str(i * 20), fill=(0, 0, 0), font=_font(12))
    return x0, y0, x1, y1


def _line_chart(h: int, w: int, rng: np.random.Generator) -> Image.Image:
    im = _paper(h, w, rng)
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = _axes(d, h, w)
    for _ in range(int(rng.integers(1, 4))):
        n = int(rng.integers(6, 60))
        ys = np.cumsum(rng.normal(0, 1, n))
        ys = (ys - ys.min()) / (np.ptp(ys) + 1e-9)
        pts = [(x0 + (x1 - x0) * i / (n - 1), y1 - (y1 - y0) * (0.1 + 0.8 * v)) for i, v in enumerate(ys)]
        d.line(pts, fill=tuple(int(c) for c in rng.integers(0, 200, 3)), width=int(rng.integers(1, 4)))
    return im


def _bar_chart(h: int, w: int, rng: np.random.Generator) -> Image.Image:
    im = _paper(h, w, rng)
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = _axes(d, h, w)
    n = int(rng.integers(3, 16))
    bw = (x1 - x0) / n
    colour = tuple(int(c) for c in rng.integers(0, 220, 3))
    for i in range(n):
        top = y1 - (y1 - y0) * rng.uniform(0.1, 0.95)
        d.rectangle([x0 + i * bw + 0.15 * bw, top, x0 + (i + 0.85) * bw, y1], fill=colour)
    return im


def _table(h: int, w: int, rng: np.random.Generator) -> Image.Image:
    im = _paper(h, w, rng)
    d = ImageDraw.Draw(im)
    rows, cols = int(rng.integers(5, 20)), int(rng.integers(2, 7))
    for r in range(rows + 1):
        d.line([(20, 20 + r * (h - 40) / rows), (w - 20, 20 + r * (h - 40) / rows)], fill=(90, 90, 90))
    for c in range(cols + 1):
        d.line([(20 + c * (w - 40) / cols, 20), (20 + c * (w - 40) / cols, h - 20)], fill=(90, 90, 90))
    for r in range(rows):
        for c in range(cols):
            txt = str(rng.choice(_WORDS)) if rng.random() < 0.5 else f"{rng.uniform(0, 200):.1f}"
            d.text(
                (25 + c * (w - 40) / cols, 22 + r * (h - 40) / rows), txt, fill=(10, 10, 10), font=_font(12)
            )
    return im


def _grid(h: int, w: int, rng: np.random.Generator) -> Image.Image:
    """ECG paper with nothing recorded on it: the grid alone must not count as an ECG."""
    bg = np.full((h, w, 3), 255, np.uint8)
    colour = np.array([[240, 150, 150], [150, 200, 150], [160, 160, 160]][int(rng.integers(3))], np.uint8)
    minor = int(rng.integers(3, 8))
    faint = (255 - (255 - colour.astype(int)) * 0.4).astype(np.uint8)
    bg[:, ::minor] = faint
    bg[::minor, :] = faint
    bg[:, :: minor * 5] = colour
    bg[:: minor * 5, :] = colour
    return Image.fromarray(bg)


def _grid_with_text(h: int, w: int, rng: np.random.Generator) -> Image.Image:
    im = _grid(h, w, rng)
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(2, 8))):
        d.text(
            (int(rng.integers(0, w - 100)), int(rng.integers(0, h - 20))),
            _sentence(rng, 3),
            fill=(0, 0, 0),
            font=_font(14),
        )
    return im


def _photo_like(h: int, w: int, rng: np.random.Generator) -> Image.Image:
    """Smooth colour fields with blobs and edges: the statistics of an everyday photo, not its content."""
    small = rng.uniform(0, 255, (int(rng.integers(2, 8)), int(rng.integers(2, 10)), 3)).astype(np.uint8)
    im = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(2, 12))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(10, max(11, h // 3)))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)(
            [x - r, y - r, x + r, y + int(r * rng.uniform(0.3, 1.5))], fill=fill
        )
    return im


def _screenshot(h: int, w: int, rng: np.random.Generator) -> Image.Image:
    im = Image.new("RGB", (w, h), (245, 245, 245))
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, w, 30], fill=tuple(int(c) for c in rng.integers(30, 120, 3)))
    d.rectangle([0, 30, int(w * 0.2), h], fill=(225, 225, 230))
    for i in range(int(rng.integers(3, 10))):
        d.text((8, 40 + 22 * i), str(rng.choice(_WORDS)), fill=(40, 40, 40), font=_font(13))
    inner = [_text_page, _line_chart, _bar_chart, _table][int(rng.integers(4))](h - 50, int(w * 0.78), rng)
    im.paste(inner, (int(w * 0.21), 40))
    return im


_MAKERS = {
    "text_page": _text_page,
    "line_chart": _line_chart,
    "bar_chart": _bar_chart,
    "table": _table,
    "blank_grid": _grid,
    "grid_with_text": _grid_with_text,
    "photo_like": _photo_like,
    "screenshot": _screenshot,
}


def make_negative(
    rng: np.random.Generator,
    kind: str | None = None,
    size: tuple[int, int] | None = None,
    augment: bool = True,
    photo: PhotoAugmentConfig | None = None,
) -> tuple[np.ndarray, str]:
    """One non-ECG image (H x W x 3 uint8) and its kind; ``size`` (H, W) defaults to a random page-like
    or screen-like shape."""
    kind = kind or str(rng.choice(KINDS))
    if kind not in _MAKERS:
        raise ValueError(f"unknown negative kind {kind!r}; known: {', '.join(KINDS)}")
    h, w = size or (int(rng.integers(360, 700)), int(rng.integers(500, 1000)))
    img = np.asarray(_MAKERS[kind](h, w, rng).convert("RGB"))
    if augment:
        img = augment_photo(img, rng, photo)
    return img, kind
