"""One row per analysed recording, for ``cardioagent analyze --table out.csv``.

The row holds the headline of each analysis of ``tools.report.AnalysisReport`` — what a researcher sorts and
filters a folder of recordings by — in plain columns with the unit in the column name. An analysis that
could not run leaves its columns empty and says why in ``notes``; nothing is filled in by guess. The full,
nested result stays available through ``--json``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from cardioagent.tools.report import AnalysisReport

COLUMNS = [
    "record",
    "files",
    "modality",
    "channels",
    "analysed_channels",
    "duration_s",
    "sampling_rate_hz",
    "quality",
    "best_channel",
    "heart_rate_bpm",
    "heart_rate_uncertainty_bpm",
    "heart_rate_quality",
    "rhythm",
    "rr_cv",
    "sdnn_ms",
    "rmssd_ms",
    "pr_ms",
    "qrs_ms",
    "qt_ms",
    "qtc_bazett_ms",
    "qtc_fridericia_ms",
    "qrs_axis_deg",
    "statements_present",
    "statements_undetermined",
    "notes",
]
# Interval columns: (column, field of the intervals result). These are medians across leads.
INTERVALS = [
    ("pr_ms", "pr"),
    ("qrs_ms", "qrs_global"),
    ("qt_ms", "qt"),
    ("qtc_bazett_ms", "qtc_bazett"),
    ("qtc_fridericia_ms", "qtc_fridericia"),
    ("qrs_axis_deg", "qrs_axis"),
]


def _value(measurement: dict | None) -> float | None:
    return None if not measurement else measurement.get("value")


def table_row(
    report: AnalysisReport, channels: list[str] | None = None, files: list[str] | None = None
) -> dict[str, object]:
    """``channels``: all channels of the file, when the report is of a selection of them (--channel)."""
    r = report.recording
    analysed = [c.name for c in r.channels]
    row: dict[str, object] = {c: None for c in COLUMNS}
    row.update(
        record=r.name,
        files=" ".join(files or []),
        modality=r.modality.value,
        channels=" ".join(channels or analysed),
        analysed_channels=" ".join(analysed),
        duration_s=r.duration_s,
        sampling_rate_hz=r.sampling_rate_hz,
    )
    notes = []
    for a in report.analyses:
        if a.error:
            notes.append(f"{a.name}: {a.error}")
            continue
        res = a.result or {}
        if a.name == "quality":
            row.update(quality=res.get("overall"), best_channel=res.get("best_channel"))
        elif a.name == "heart_rate":
            hr = res.get("heart_rate") or {}
            row.update(
                heart_rate_bpm=hr.get("value"),
                heart_rate_uncertainty_bpm=hr.get("uncertainty"),
                heart_rate_quality=hr.get("quality"),
            )
        elif a.name == "rhythm":
            row.update(rhythm=res.get("statement"), rr_cv=_value(res.get("rr_cv")))
        elif a.name == "hrv":
            row.update(sdnn_ms=_value(res.get("sdnn")), rmssd_ms=_value(res.get("rmssd")))
        elif a.name == "intervals":
            for column, field in INTERVALS:
                row[column] = _value(res.get(field))
            statements = res.get("statements") or []
            row["statements_present"] = "; ".join(
                s["name"] or s["id"] for s in statements if s.get("verdict") == "present"
            )
            row["statements_undetermined"] = "; ".join(
                s["name"] or s["id"] for s in statements if s.get("verdict") == "undetermined"
            )
    row["notes"] = " | ".join(notes)
    return row


def write_table(rows: Iterable[dict[str, object]], path: Path) -> int:
    """Write the rows as CSV (empty cell for a value that was not measured); returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            n += 1
    return n
