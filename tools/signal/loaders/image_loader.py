"""ECG images: PNG/JPEG photos, scans or screenshots, and the first page of a PDF.

The result is an RGB ``uint8`` array, upright (EXIF orientation applied: phone photos are often stored
sideways with a rotation tag). Transparent pixels are laid on white, as they would show on paper.
Whether the picture really is an ECG is for the image tools to decide, not the loader.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cardioagent.tools.errors import CorruptFileError, FileTooLargeError
from cardioagent.tools.signal.loaders.assemble import content_id
from cardioagent.tools.signal.loaders.grouping import RecordGroup
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


def _read_raster(group: RecordGroup) -> tuple[np.ndarray, list[str]]:
    label = group.main.label
    try:
        with Image.open(group.main.path) as img:
            img.load()
            return _to_rgb(img), [f"image: {img.format} {img.width}x{img.height}"]
    except Image.DecompressionBombError as e:
        raise FileTooLargeError(
            label, f"the image has too many pixels ({e})", "images up to about 89 megapixels"
        ) from e
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise CorruptFileError(label, f"the file cannot be decoded as an image ({e})", _ACCEPTED) from e


def _read_pdf(group: RecordGroup) -> tuple[np.ndarray, list[str]]:
    import pypdfium2 as pdfium  # only PDFs need it

    label = group.main.label
    try:
        pdf = pdfium.PdfDocument(str(group.main.path))
    except pdfium.PdfiumError as e:
        raise CorruptFileError(label, f"the file cannot be opened as a PDF ({e})", _ACCEPTED) from e
    try:
        n_pages = len(pdf)
        if n_pages == 0:
            raise CorruptFileError(label, "the PDF has no pages", _ACCEPTED)
        page = pdf[0]
        try:
            pil = page.render(scale=PDF_DPI / 72).to_pil()
        finally:
            page.close()
        return _to_rgb(pil), [f"image: PDF page 1 of {n_pages} rendered at {PDF_DPI} dpi"]
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
