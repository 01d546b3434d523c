"""ECG images: PNG/JPEG photos, scans or screenshots, and the first page of a PDF.

The result is an RGB ``uint8`` array, upright (EXIF orientation applied: phone photos are often stored
sideways with a rotation tag). Transparent pixels are laid on white, as they would show on paper.
Whether the picture really is an ECG is for the image tools to decide, not the loader.

Pixels are bounded before anything is decoded: a PNG/JPEG whose header announces more than
``CARDIOAGENT_MAX_IMAGE_PIXELS`` is refused (a 20 KB PNG can announce 13000 x 13000 pixels), and a PDF page
is rendered at 150 dpi or at the highest lower resolution whose pixel count fits the limit; a page side over
14,400 points (200 inches, the PDF maximum) is refused.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cardioagent.tools.errors import CorruptFileError, FileTooLargeError
from cardioagent.tools.signal.loaders.assemble import content_id
from cardioagent.tools.signal.loaders.grouping import RecordGroup
from cardioagent.tools.signal.loaders.limits import ENV_OF, MAX_PDF_PAGE_POINTS, limits
from cardioagent.tools.signal.loaders.names import clean_text, scrub_paths
from cardioagent.tools.signal.recording import Modality, Recording

PDF_DPI = 150
_ACCEPTED = "a PNG or JPEG image, or a PDF whose first page shows the ECG"


def _to_rgb(img: Image.Image) -> np.ndarray:
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _too_many_pixels(label: str, width: float, height: float, max_pixels: int) -> FileTooLargeError:
    return FileTooLargeError(
        label,
        f"the image is {width:,.0f} x {height:,.0f} pixels, over the limit of {max_pixels:,} pixels",
        f"images of up to {max_pixels:,} pixels (set by {ENV_OF['max_image_pixels']}), e.g. a photo or a "
        "600-dpi scan of an A4 page",
    )


def _read_raster(group: RecordGroup) -> tuple[np.ndarray, list[str]]:
    label = group.main.label
    max_pixels = limits().max_image_pixels
    try:
        with Image.open(group.main.path) as img:
            # Image.open reads only the header: check the size before a pixel is decoded.
            if img.width * img.height > max_pixels or img.width <= 0 or img.height <= 0:
                raise _too_many_pixels(label, img.width, img.height, max_pixels)
            img.load()
            return _to_rgb(img), [f"image: {img.format} {img.width}x{img.height}"]
    except Image.DecompressionBombError as e:
        raise _too_many_pixels(label, max_pixels * 2, 1, max_pixels) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise CorruptFileError(
            label,
            f"the file cannot be decoded as an image ({clean_text(scrub_paths(str(e)), 200)})",
            _ACCEPTED,
        ) from e


def pdf_scale(label: str, width_pt: float, height_pt: float, max_pixels: int) -> float:
    """Render scale (pixels per point) for a page of this size: 150 dpi, less when that would exceed the
    pixel limit. Pages that are empty, not finite or larger than the PDF maximum are refused."""
    if not (math.isfinite(width_pt) and math.isfinite(height_pt)) or width_pt <= 0 or height_pt <= 0:
        raise CorruptFileError(label, "the PDF's first page has no valid size", _ACCEPTED)
    if max(width_pt, height_pt) > MAX_PDF_PAGE_POINTS:
        raise FileTooLargeError(
            label,
            f"the PDF's first page is {width_pt / 72:,.0f} x {height_pt / 72:,.0f} inches, larger than any "
            f"PDF page may be ({MAX_PDF_PAGE_POINTS / 72:.0f} inches a side)",
            "PDF pages of a paper size (A4, Letter, up to 200 inches a side)",
        )
    scale = PDF_DPI / 72
    if width_pt * height_pt * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / (width_pt * height_pt)) * 0.999
    return scale


def _read_pdf(group: RecordGroup) -> tuple[np.ndarray, list[str]]:
    import pypdfium2 as pdfium  # only PDFs need it

    label = group.main.label
    try:
        pdf = pdfium.PdfDocument(str(group.main.path))
    except pdfium.PdfiumError as e:
        raise CorruptFileError(
            label, f"the file cannot be opened as a PDF ({clean_text(scrub_paths(str(e)), 200)})", _ACCEPTED
        ) from e
    try:
        n_pages = len(pdf)
        if n_pages == 0:
            raise CorruptFileError(label, "the PDF has no pages", _ACCEPTED)
        try:
            page = pdf[0]
        except pdfium.PdfiumError as e:
            raise CorruptFileError(
                label, f"the PDF's first page cannot be read ({clean_text(str(e), 120)})", _ACCEPTED
            ) from e
        try:
            width_pt, height_pt = (float(v) for v in page.get_size())
            scale = pdf_scale(label, width_pt, height_pt, limits().max_image_pixels)
            # Opaque white fill and reversed byte order: pdfium writes RGB directly (3 bytes a pixel), and
            # the array is copied once, without a detour through PIL.
            bitmap = page.render(scale=scale, rev_byteorder=True, fill_color=(255, 255, 255, 255))
            pixels = bitmap.to_numpy()
            rgb = np.ascontiguousarray(
                pixels[:, :, :3] if pixels.ndim == 3 else np.stack([pixels] * 3, -1), dtype=np.uint8
            )
            del pixels, bitmap
        except pdfium.PdfiumError as e:
            raise CorruptFileError(
                label, f"the PDF's first page cannot be rendered ({clean_text(str(e), 120)})", _ACCEPTED
            ) from e
        finally:
            page.close()
        dpi = round(scale * 72)
        note = f"image: PDF page 1 of {n_pages} rendered at {dpi} dpi"
        if dpi < PDF_DPI:
            note += f" (less than {PDF_DPI} dpi to stay within {limits().max_image_pixels:,} pixels)"
        return rgb, [note]
    finally:
        pdf.close()


def load_image(group: RecordGroup, sampling_rate_hz: float | None = None) -> Recording:
    del sampling_rate_hz  # not meaningful for a picture
    image, comments = _read_pdf(group) if group.main.suffix == ".pdf" else _read_raster(group)
    return Recording(
        id=content_id(group.files),
        name=group.name,
        source_files=[f.label for f in group.files],
        format="image",
        modality=Modality.ECG_IMAGE,
        image=image,
        header_comments=comments,
    )
