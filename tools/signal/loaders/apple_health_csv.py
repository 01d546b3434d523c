"""Apple Watch ECG exports from the Health app ("ecg_YYYY-MM-DD.csv"): a block of ``key,value`` header
lines (Name, Date of Birth, Recorded Date, Classification, Symptoms, Software Version, Device,
``Sample Rate,512 hertz``, Lead, Unit) and then one sample per line in microvolts.

No maintained library reads this export (``ecgdatakit`` 2.0.3 does not), and it is a plain CSV, so the
standard ``csv`` module parses it here. Name and date of birth are never kept. The watch's classification
("Sinus Rhythm", "Atrial Fibrillation", "Inconclusive", ...) is a device statement, not a measurement.
English exports only: the keys are matched by name.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from cardioagent.tools.errors import CorruptFileError
from cardioagent.tools.signal.loaders.limits import ENV_OF
from cardioagent.tools.signal.loaders.names import clean_text
from cardioagent.tools.signal.loaders.validate import check_sample_count, limits

ACCEPTED = (
    "an Apple Health ECG export (header lines such as 'Sample Rate,512 hertz' and 'Unit,µV', then one "
    "sample per line)"
)
_SIGNATURE_KEYS = ("Recorded Date", "Sample Rate", "Classification")
_NUMBER = re.compile(r"^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$")


class AppleEcgExport(BaseModel):
    model_config = {"arbitrary_types_allowed": True}

    samples_uv: np.ndarray
    sampling_rate_hz: float
    lead: str
    unit: str
    recorded: datetime | None
    classification: str
    device: str
    software_version: str


def looks_like_apple_export(head: bytes) -> bool:
    """True when the first bytes carry the export's header keys (content, not the file name)."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    keys = {ln.split(",", 1)[0].strip().strip('"') for ln in text.splitlines()[:30]}
    return all(k in keys for k in _SIGNATURE_KEYS)


def _rate(label: str, raw: str) -> float:
    m = re.match(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*(hertz|hz)?\s*$", raw, re.IGNORECASE)
    if not m:
        raise CorruptFileError(
            label, f"the sample rate {clean_text(raw, 40)!r} is not a number of hertz", ACCEPTED
        )
    return float(m.group(1).replace(",", "."))


def _when(raw: str) -> datetime | None:
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(raw.strip(), fmt)
        except ValueError:
            continue
    return None


def read_apple_export(path: Path, label: str) -> AppleEcgExport:
    raw = path.read_bytes()
    lim = limits()
    n_lines = raw.count(b"\n") + 1
    if n_lines > lim.max_csv_rows:  # announced by the file's size before a value is parsed
        raise CorruptFileError(
            label,
            f"the export has {n_lines:,} lines, over the limit of {lim.max_csv_rows:,}",
            f"{ACCEPTED}, of up to {lim.max_csv_rows:,} lines (set by {ENV_OF['max_csv_rows']})",
        )
    text = raw.decode("utf-8-sig", errors="replace")
    header: dict[str, str] = {}
    values: list[float] = []
    for k, row in enumerate(csv.reader(io.StringIO(text))):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if len(cells) == 1 and _NUMBER.match(cells[0]):  # a decimal comma comes quoted: one cell
            values.append(float(cells[0].replace(",", ".")))
        elif not values:
            header[cells[0]] = ",".join(cells[1:])
        else:
            raise CorruptFileError(
                label, f"line {k + 1} ({clean_text(','.join(cells), 40)!r}) is not a sample", ACCEPTED
            )
    if "Sample Rate" not in header:
        raise CorruptFileError(label, "the header gives no 'Sample Rate'", ACCEPTED)
    check_sample_count(label, len(values), 1, source="Apple Health export")
    if not values:
        raise CorruptFileError(label, "the export holds no samples", ACCEPTED)
    lead = header.get("Lead", "Lead I").strip() or "Lead I"
    return AppleEcgExport(
        samples_uv=np.asarray(values, dtype=np.float64),
        sampling_rate_hz=_rate(label, header["Sample Rate"]),
        lead=re.sub(r"(?i)^lead\s+", "", clean_text(lead, 20)) or "I",
        unit=clean_text(header.get("Unit", "µV"), 8) or "µV",
        recorded=_when(header.get("Recorded Date", "")),
        classification=clean_text(header.get("Classification", ""), 120),
        device=clean_text(header.get("Device", ""), 60),
        software_version=clean_text(header.get("Software Version", ""), 30),
    )
