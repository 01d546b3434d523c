"""The digitized signal as files a person can take away, and as a Recording the signal tools read.

CSV: one column per lead in mV with a time column, empty cells where the lead was not printed (a 3 x 4 page
prints each lead for 2.5 s). WFDB: a 16-bit record at 500 Hz written by ``wfdb.wrsamp``, the gaps as WFDB's
missing-sample value, and the digitization's layout and per-lead confidence as header comments.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

from cardioagent.tools.signal.delineation import MIN_PART_S
from cardioagent.tools.signal.digitize.digitize import MAX_GAP_S, DigitizedEcg
from cardioagent.tools.signal.filters import recorded_span
from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording


def header_comments(dig: DigitizedEcg) -> list[str]:
    rep = dig.report
    lines = [
        "digitized from an image by cardioagent",
        f"layout: {rep.layout}; rows: {rep.rows}; calibration pulses: {rep.calibration_pulses}",
        f"px/mm: {rep.px_per_mm[0]:.2f} x {rep.px_per_mm[1]:.2f}; page found: {rep.page_found}",
    ]
    lines += [
        f"lead {d.lead}: {d.start_s:.1f}-{d.start_s + d.duration_s:.1f} s, trace found {d.found_fraction:.0%}, "
        f"confidence {d.quality.value}"
        for d in rep.leads
    ]
    return lines + [f"warning: {w}" for w in rep.warnings]


def write_csv(dig: DigitizedEcg, path: str | Path) -> Path:
    path = Path(path)
    fs = dig.report.sampling_rate_hz
    present = [i for i in range(dig.signal.shape[1]) if np.isfinite(dig.signal[:, i]).any()]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time_s", *(f"{dig.leads[i]}_mV" for i in present)])
        for k, row in enumerate(dig.signal[:, present]):
            w.writerow([f"{k / fs:.4f}", *("" if not np.isfinite(v) else f"{v:.4f}" for v in row)])
    return path


def write_wfdb(dig: DigitizedEcg, folder: str | Path, record_name: str) -> list[Path]:
    import wfdb

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    present = [i for i in range(dig.signal.shape[1]) if np.isfinite(dig.signal[:, i]).any()]
    sig = dig.signal[:, present]
    # digital samples at 1 uV per unit; NaN becomes WFDB's missing-sample value (-32768)
    digital = np.where(np.isfinite(sig), np.clip(np.round(sig * 1000), -32767, 32767), -32768).astype(
        np.int16
    )
    wfdb.wrsamp(
        record_name,
        fs=dig.report.sampling_rate_hz,
        units=["mV"] * len(present),
        sig_name=[dig.leads[i] for i in present],
        d_signal=digital,
        fmt=["16"] * len(present),
        adc_gain=[1000.0] * len(present),
        baseline=[0] * len(present),
        comments=header_comments(dig),
        write_dir=str(folder),
    )
    return [folder / f"{record_name}.hea", folder / f"{record_name}.dat"]


def full_length_leads(dig: DigitizedEcg, min_coverage: float = 0.5) -> list[int]:
    """Leads printed for (nearly) the whole recording: the rhythm strips, or every lead of a 12 x 1 page."""
    covered = np.isfinite(dig.signal).mean(axis=0)
    return [i for i in range(dig.signal.shape[1]) if covered[i] >= min_coverage]


def printed_window_leads(dig: DigitizedEcg, full: list[int]) -> list[int]:
    """Leads printed for part of the page's time only, ``MIN_PART_S`` or more (a 3 x 4 page's 2.5-s leads);
    ``full``: the full-length leads (``full_length_leads``), which are not among them."""
    fs = dig.report.sampling_rate_hz
    spans = [recorded_span(dig.signal[:, i]) for i in range(dig.signal.shape[1])]
    return [
        i
        for i, span in enumerate(spans)
        if i not in full and span is not None and span[1] - span[0] >= MIN_PART_S * fs
    ]


def _fill_short_gaps(x: np.ndarray, max_len: int) -> np.ndarray:
    """``x`` with its runs of NaN no longer than ``max_len`` samples interpolated, and those at either end held
    at the nearest value (as before: a lead's ends hide no interval between two beats)."""
    missing = ~np.isfinite(x)
    if not missing.any() or missing.all():
        return x
    padded = np.concatenate([[False], missing, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    t = np.arange(len(x))
    filled = np.interp(t, t[~missing], x[~missing])
    out = x.copy()
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a <= max_len or a == 0 or b == len(x):
            out[a:b] = filled[a:b]
    return out


def as_recording(dig: DigitizedEcg, name: str, source_id: str, *, printed_windows: bool = False) -> Recording:
    """The full-length digitized leads as an ECG Recording (the rate and rhythm tools need continuous leads).
    With ``printed_windows``, every lead printed for ``MIN_PART_S`` or more joins them, missing (NaN) outside
    the window it was printed for: the interval tool measures each lead's median beat inside its window, on
    the beats of a full-length lead, as the 12 leads of a 3 x 4 page were recorded at once. Gaps where the
    trace was lost stay missing (NaN): the signal tools leave the beat intervals across them out, where a
    line drawn across would hide a beat and read as a pause. Runs of missing samples shorter than
    ``MAX_GAP_S`` are filled, as the digitizer bridges such gaps itself, and so are a full-length lead's ends
    (held, as before)."""
    keep = full_length_leads(dig)
    if not keep:
        raise ValueError("no lead was digitized over the whole recording (no rhythm strip was found)")
    fs = dig.report.sampling_rate_hz
    windows = printed_window_leads(dig, keep) if printed_windows else []
    cols = sorted(set(keep) | set(windows))
    sig = dig.signal[:, cols].copy()
    for j, col in enumerate(cols):
        if col in keep:
            sig[:, j] = _fill_short_gaps(sig[:, j], int(MAX_GAP_S * fs))
        else:  # inside its window only: outside it the lead was not printed
            a, b = recorded_span(sig[:, j]) or (0, 0)
            sig[a:b, j] = _fill_short_gaps(sig[a:b, j], int(MAX_GAP_S * fs))
    digest = hashlib.sha256(f"{source_id}:digitized".encode()).hexdigest()[:16]
    return Recording(
        id=digest,
        name=f"{name} (digitized)",
        source_files=[],
        format="image",
        modality=Modality.ECG,
        sampling_rate_hz=dig.report.sampling_rate_hz,
        channels=[Channel(name=dig.leads[i], kind=ChannelKind.ECG, unit="mV") for i in cols],
        signal=sig,
        header_comments=header_comments(dig),
    )
