"""Resource limits for one upload, in one place, each configurable by an environment variable.

An upload is untrusted: a file of a few kilobytes can describe gigabytes (a compressed ``.npz``, a WFDB
header announcing a billion samples, a PNG of 13000 x 13000 pixels, a PDF page of 200 x 200 inches). Every
loader checks what a file *announces* against these limits before it reads or decodes the content, and
refuses with a ``FileTooLargeError`` that names the limit and its variable.

| limit | default | variable |
|---|---|---|
| size of one uploaded file, and the unpacked size of a ``.zip`` or ``.npz`` | 50 MB | ``CARDIOAGENT_MAX_UPLOAD_MB`` |
| samples x channels of one recording | 20,000,000 | ``CARDIOAGENT_MAX_SAMPLES`` |
| channels of one recording | 256 | ``CARDIOAGENT_MAX_CHANNELS`` |
| data rows of a CSV | 2,000,000 | ``CARDIOAGENT_MAX_CSV_ROWS`` |
| columns of a CSV | 256 | ``CARDIOAGENT_MAX_CSV_COLUMNS`` |
| pixels of an image (PNG/JPEG decoded, PDF page rendered) | 40,000,000 | ``CARDIOAGENT_MAX_IMAGE_PIXELS`` |
| lines of a WFDB header | 2,000 | ``CARDIOAGENT_MAX_HEADER_LINES`` |
| files in one ``.zip`` upload | 1,000 | ``CARDIOAGENT_MAX_ZIP_MEMBERS`` |
| shortest signal recording | 1.0 s | ``CARDIOAGENT_MIN_DURATION_S`` |
| widest ECG span (1st to 99th percentile) taken as millivolts | 50 mV | ``CARDIOAGENT_MAX_ECG_MV`` |

A PDF page is rendered at 150 dpi, or at the highest resolution below that whose pixel count fits the
image limit; pages larger than 14,400 points (200 inches, the largest page the PDF format allows) on a
side are refused. The limits are read when a load starts, so a changed variable applies to the next upload.
"""

from __future__ import annotations

import math
import os

from pydantic import BaseModel, Field

MAX_UPLOAD_ENV = "CARDIOAGENT_MAX_UPLOAD_MB"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
MAX_PDF_PAGE_POINTS = 14_400.0  # ISO 32000: a page side is at most 14,400 default user-space units

# field name -> environment variable
ENV_OF = {
    "max_samples": "CARDIOAGENT_MAX_SAMPLES",
    "max_channels": "CARDIOAGENT_MAX_CHANNELS",
    "max_csv_rows": "CARDIOAGENT_MAX_CSV_ROWS",
    "max_csv_columns": "CARDIOAGENT_MAX_CSV_COLUMNS",
    "max_image_pixels": "CARDIOAGENT_MAX_IMAGE_PIXELS",
    "max_header_lines": "CARDIOAGENT_MAX_HEADER_LINES",
    "max_zip_members": "CARDIOAGENT_MAX_ZIP_MEMBERS",
    "min_duration_s": "CARDIOAGENT_MIN_DURATION_S",
    "max_ecg_mv": "CARDIOAGENT_MAX_ECG_MV",
}


class LoaderLimits(BaseModel):
    max_samples: int = Field(20_000_000, gt=0, description="samples x channels of one recording")
    max_channels: int = Field(256, gt=0, description="channels of one recording")
    max_csv_rows: int = Field(2_000_000, gt=0, description="data rows of a CSV")
    max_csv_columns: int = Field(256, gt=0, description="columns of a CSV")
    max_image_pixels: int = Field(40_000_000, gt=0, description="pixels of a decoded or rendered image")
    max_header_lines: int = Field(2_000, gt=0, description="lines of a WFDB header")
    max_zip_members: int = Field(1_000, gt=0, description="files in one .zip upload")
    min_duration_s: float = Field(1.0, ge=0, description="shortest signal recording, seconds")
    max_ecg_mv: float = Field(50.0, gt=0, description="widest plausible ECG span in mV")

    @classmethod
    def from_env(cls) -> LoaderLimits:
        """Defaults overridden by the environment; a malformed variable is an error that names it."""
        values: dict[str, float | int] = {}
        for field, var in ENV_OF.items():
            raw = os.environ.get(var, "").strip()
            if not raw:
                continue
            try:
                number = float(raw.replace("_", ""))
            except ValueError:
                raise ValueError(f"{var}={raw!r} is not a number") from None
            if not math.isfinite(number):
                raise ValueError(f"{var}={raw!r} is not a finite number")
            annotation = cls.model_fields[field].annotation
            values[field] = int(number) if annotation is int else number
        return cls.model_validate(values)


def limits() -> LoaderLimits:
    """The limits in force now (read from the environment at every call: cheap, and testable)."""
    return LoaderLimits.from_env()


def resolve_max_bytes(max_bytes: int | None) -> int:
    """The explicit argument, else ``CARDIOAGENT_MAX_UPLOAD_MB`` (in MB), else 50 MB."""
    if max_bytes is not None:
        return int(max_bytes)
    raw = os.environ.get(MAX_UPLOAD_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        mb = float(raw)
    except ValueError:
        raise ValueError(f"{MAX_UPLOAD_ENV}={raw!r} is not a number of megabytes") from None
    return int(mb * 1024 * 1024)


def describe_limits() -> list[tuple[str, str, str]]:
    """(what, default, variable) for every limit, for documentation and ``--help`` texts."""
    rows = [("upload size, and unpacked size of a .zip/.npz", "50 MB", MAX_UPLOAD_ENV)]
    for field, var in ENV_OF.items():
        info = LoaderLimits.model_fields[field]
        rows.append(
            (
                info.description or field,
                f"{info.default:,}" if isinstance(info.default, int) else f"{info.default:g}",
                var,
            )
        )
    return rows
