"""Which lead each printed row holds, and when: the common electrocardiograph page layouts.

A page is printed at 25 mm/s and 10 mm/mV. The layout is inferred from the number of trace rows, as a
reader does when the lead labels cannot be read:

- 4 rows: 3 x 4 (I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6, 2.5 s each) and a 10-s rhythm strip of II;
- 5 rows: the same with two rhythm strips (II and V1);
- 3 rows: 3 x 4 without a rhythm strip;
- 6 rows: 6 x 2 (I-aVF on the left, V1-V6 on the right, 5 s each);
- 12 rows: 12 x 1 (each lead 10 s);
- 1 or 2 rows: single-lead strips (a handheld device or watch export): lead I, as those devices record.

References: the PhysioNet Challenge 2024 printouts (ecg-image-kit, Shivashankara et al. 2024) and
IEC 60601-2-25 (25 mm/s, 10 mm/mV).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAPER_SPEED_MM_S = 25.0
GAIN_MM_MV = 10.0
STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


@dataclass(frozen=True)
class Segment:
    row: int
    lead: str
    start_s: float  # the segment's first sample on the recording's time base
    duration_s: float
    column: int  # position within the row (0 for a rhythm strip)


@dataclass(frozen=True)
class Layout:
    name: str
    segments: tuple[Segment, ...]
    duration_s: float


def _grid(rows: list[list[str]], seconds_each: float, name: str, rhythm: tuple[str, ...] = ()) -> Layout:
    segments = [
        Segment(row=r, lead=lead, start_s=c * seconds_each, duration_s=seconds_each, column=c)
        for r, leads in enumerate(rows)
        for c, lead in enumerate(leads)
    ]
    total = seconds_each * max(len(leads) for leads in rows)
    segments += [
        Segment(row=len(rows) + i, lead=lead, start_s=0.0, duration_s=total, column=0)
        for i, lead in enumerate(rhythm)
    ]
    return Layout(name=name, segments=tuple(segments), duration_s=total)


THREE_BY_FOUR = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]


def layout_for(n_rows: int, row_seconds: float) -> Layout | None:
    """The layout a page with ``n_rows`` trace rows most likely has (``row_seconds``: a row's printed length)."""
    if n_rows == 4:
        return _grid(THREE_BY_FOUR, 2.5, "3x4 + II rhythm strip", ("II",))
    if n_rows == 5:
        return _grid(THREE_BY_FOUR, 2.5, "3x4 + II and V1 rhythm strips", ("II", "V1"))
    if n_rows == 3:
        return _grid(THREE_BY_FOUR, 2.5, "3x4")
    if n_rows == 6:
        rows = [[limb, chest] for limb, chest in zip(STANDARD_LEADS[:6], STANDARD_LEADS[6:], strict=True)]
        return _grid(rows, 5.0, "6x2")
    if n_rows == 12:
        return _grid([[lead] for lead in STANDARD_LEADS], 10.0, "12x1")
    if n_rows in (1, 2):
        # a long single-lead strip wraps over rows: the second row continues the first
        segments = tuple(
            Segment(row=r, lead="I", start_s=r * row_seconds, duration_s=row_seconds, column=0)
            for r in range(n_rows)
        )
        return Layout(name="single-lead strip", segments=segments, duration_s=n_rows * row_seconds)
    return None


def as_printed(signal: np.ndarray, fs: float, leads: list[str], layout: Layout) -> np.ndarray:
    """``signal`` (n_samples, n_leads) with each lead missing (NaN) outside the time ``layout`` prints it for:
    what a page shows of a recording, on the recording's time base (its first ``layout.duration_s``)."""
    out = np.array(signal, dtype=float)[: int(round(layout.duration_s * fs))]
    for j, name in enumerate(leads):
        printed = np.zeros(len(out), bool)
        for seg in layout.segments:
            if seg.lead.lower() == name.lower():
                printed[int(round(seg.start_s * fs)) : int(round((seg.start_s + seg.duration_s) * fs))] = True
        out[~printed, j] = np.nan
    return out
