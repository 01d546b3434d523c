"""Wave delineation by ECGdeli (Pilia N, Nagel C, Lenis G, Becker S, Dössel O, Loewe A. ECGdeli - an open
source ECG delineation toolbox for MATLAB. SoftwareX 2021;13:100639), through ``ecgdeli``, a Python port
of the KIT-IBT toolbox validated against the MATLAB original and against QTDB/LUDB annotations.

The alternative to ``delineation.delineate_beat`` behind ``intervals(rec, method="ecgdeli")``. ECGdeli
delineates every beat of every lead (P on/peak/off, QRS on/off, T peak/off) on the whole record, filtered
by its own reference chain (1-40 Hz band-pass, 50 Hz notch, isoline correction). To feed the same
downstream code as the default method (global QRS bounds, QRS shapes, ST at the J point, statements),
each lead's per-beat fiducials are matched to the common R fiducials of ``intervals`` and their offsets
from R are reduced to a median: one ``BeatDelineation`` per lead, on the time base of the lead's median
beat. The QRS bounds are ECGdeli's cross-lead consensus (``CONSENSUS_QRS``), the P and T bounds each
lead's own. Only the wave boundaries come from ECGdeli; the median beat, its noise and the plausibility
ranges are the default method's.

``ecgdeli`` is an optional dependency (``pip install 'cardioagent[ecgdeli]'``; GPL-3.0-or-later) and is
imported only when this method is asked for.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from cardioagent.tools.signal import delineation as dl
from cardioagent.tools.signal.filters import fill_gaps

MATCH_S = 0.10  # an ECGdeli beat is the same beat as an R fiducial when their R peaks are this close
MIN_BEAT_SHARE = 0.5  # a wave boundary counts when ECGdeli found it in at least half of the matched beats
FIDELITY = "fixed"  # ECGdeli's documented defect fixes; "matlab" reproduces the original bug for bug
# Every lead takes ECGdeli's cross-lead consensus QRS bounds rather than its own. Chosen on PTB-XL folds
# 1-8 (bench/ptbxl_statements.py --delineation ecgdeli): the leads' own bounds, through the default's global
# QRS (3rd earliest onset to 3rd latest offset), put the global QRS of 115 normal records at a median 124 ms
# and called IVCD in 110 of the 159 records without it; the consensus bounds in 41 (macro AUC 0.821 vs 0.786).
CONSENSUS_QRS = True

# FPT columns (ecgdeli.Wave) used here
_COLS = {"p_on": 0, "p_peak": 1, "p_off": 2, "qrs_on": 3, "qrs_off": 7, "t_peak": 10, "t_off": 11}
_R = 5


class EcgdeliUnavailable(ImportError):
    """``method="ecgdeli"`` was asked for and the optional package is not installed."""


def _ecgdeli() -> Any:
    try:
        import ecgdeli
    except ImportError as exc:
        raise EcgdeliUnavailable(
            "delineation method 'ecgdeli' needs the optional package ecgdeli "
            "(pip install 'cardioagent[ecgdeli]')"
        ) from exc
    return ecgdeli


def available() -> bool:
    try:
        _ecgdeli()
    except EcgdeliUnavailable:
        return False
    return True


@dataclass
class LeadFiducials:
    """One lead's ECGdeli fiducials: (n_beats, 12) sample positions, NaN where not found, and each
    beat's R peak (the cross-lead consensus) to match beats on; or the reason there are none."""

    samples: np.ndarray | None
    r_peaks: np.ndarray | None
    problem: str | None = None
    consensus: np.ndarray | None = None


def _annotate(ecgdeli: Any, x: np.ndarray, fs: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """(consensus FPT samples, per-lead FPT samples) for a samples x leads array."""
    with warnings.catch_warnings(), np.errstate(all="ignore"), ecgdeli.fidelity(FIDELITY):
        # ECGdeli warns on every lead it finds too small or a divide by an empty window; the outcome
        # (a missing fiducial) is what this module reads, the warnings add nothing
        warnings.simplefilter("ignore")
        notch = 50.0 if fs > 100.0 else None
        ann = ecgdeli.annotate(ecgdeli.filter_ecg(x, fs, notch=notch), fs)
    return np.asarray(ann.consensus.samples), [lead.samples for lead in ann.leads]


def annotate_leads(sig: np.ndarray, fs: float, columns: list[int]) -> dict[int, LeadFiducials]:
    """ECGdeli fiducials of the given signal columns, annotated together (ECGdeli reconciles the
    leads' beats). A lead that makes the joint annotation fail (ECGdeli raises on a flat lead) is
    retried alone, so one bad lead costs only itself."""
    ecgdeli = _ecgdeli()
    x = np.column_stack([fill_gaps(sig[:, c]) for c in columns]) if columns else np.zeros((0, 0))
    try:
        cons, per_lead = _annotate(ecgdeli, x, fs)
        return {c: LeadFiducials(per_lead[i], cons[:, _R], consensus=cons) for i, c in enumerate(columns)}
    except Exception:  # noqa: BLE001 - a MATLAB-port index error on one lead; retried lead by lead below
        pass
    out: dict[int, LeadFiducials] = {}
    for i, c in enumerate(columns):
        try:
            cons, per_lead = _annotate(ecgdeli, x[:, i], fs)
            out[c] = LeadFiducials(per_lead[0], cons[:, _R], consensus=cons)
        except Exception as exc:  # noqa: BLE001 - reported as the lead's problem, never raised
            out[c] = LeadFiducials(None, None, f"ECGdeli failed on this lead ({type(exc).__name__})")
    return out


def _offsets(f: LeadFiducials, beats: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    """For each fiducial, its offset from the R fiducial (s) in every matched beat (NaN if not found)."""
    assert f.samples is not None and f.r_peaks is not None
    rows = []
    samples = f.samples.copy()
    if CONSENSUS_QRS and f.consensus is not None:
        for col in (_COLS["qrs_on"], _COLS["qrs_off"]):
            samples[:, col] = f.consensus[:, col]
    for r in np.asarray(beats, dtype=float):
        if f.r_peaks.size == 0:
            break
        gap = np.abs(f.r_peaks - r)
        k = int(np.nanargmin(gap)) if np.isfinite(gap).any() else -1
        if k >= 0 and gap[k] <= MATCH_S * fs:
            rows.append((samples[k] - r) / fs)
    table = np.array(rows) if rows else np.full((0, 12), np.nan)
    return {name: table[:, col] for name, col in _COLS.items()}


def _median(v: np.ndarray) -> float | None:
    """Median of the found values, when found in at least MIN_BEAT_SHARE of the matched beats."""
    ok = v[np.isfinite(v)]
    if v.size == 0 or ok.size < MIN_BEAT_SHARE * v.size:
        return None
    return float(np.median(ok))


def _p_stands_out(mb: dl.MedianBeat, fs: float, on: float, off: float, qrs: tuple[float, float]) -> bool:
    """The default method's presence rule applied inside ECGdeli's P bounds: the largest deflection
    from the PR-segment level exceeds 3x the beat-to-beat noise and 1.5% of the QRS amplitude."""
    m, r = mb.beat, mb.r_index
    a, b = r + round(on * fs), r + round(off * fs) + 1
    q_on, q_off = r + round(qrs[0] * fs), r + round(qrs[1] * fs) + 1
    if a < 0 or b <= a or q_on <= 0 or q_off > len(m):
        return False
    iso = float(np.median(m[max(0, q_on - int(0.03 * fs)) : max(1, q_on - int(0.008 * fs))]))
    amp = float(np.max(np.abs(m[a:b] - iso)))
    return amp >= max(3 * mb.noise, 0.015 * float(np.ptp(m[q_on:q_off])))


def delineate_lead(f: LeadFiducials, beats: np.ndarray, mb: dl.MedianBeat, fs: float) -> dl.BeatDelineation:
    """One lead's delineation, as ``delineation.delineate_beat`` returns it for the default method:
    times relative to the R fiducial, intervals in ms, implausible intervals discarded."""
    if f.samples is None or f.r_peaks is None:
        return dl.BeatDelineation(problems=(f.problem or "ECGdeli found no beats",))
    off = _offsets(f, beats, fs)
    med = {k: _median(v) for k, v in off.items()}
    q_on, q_off = med["qrs_on"], med["qrs_off"]
    if q_on is None or q_off is None or q_off <= q_on:
        return dl.BeatDelineation(problems=("ECGdeli found no QRS boundaries in most beats",))
    out = dl.BeatDelineation(qrs_onset_s=q_on, qrs_offset_s=q_off, qrs_ms=(q_off - q_on) * 1000.0)
    problems: list[str] = []
    t_end = med["t_off"]
    out.t_peak_s = med["t_peak"]
    if t_end is not None and t_end > q_off:
        out.t_end_s = t_end
        out.qt_ms = (t_end - q_on) * 1000.0
    else:
        problems.append("ECGdeli found no T-wave end in most beats")
    p_on, p_off = med["p_on"], med["p_off"]
    if p_on is not None and p_off is not None and p_on < p_off <= q_on:
        out.p_present = _p_stands_out(mb, fs, p_on, p_off, (q_on, q_off))
    if out.p_present and p_on is not None and p_off is not None:
        out.p_onset_s, out.p_offset_s = p_on, p_off
        out.p_peak_s = med["p_peak"] if med["p_peak"] is not None else (p_on + p_off) / 2
        out.pr_ms = (q_on - p_on) * 1000.0
        out.p_ms = (p_off - p_on) * 1000.0
    else:
        problems.append("no P wave distinguishable from noise")
    problems += dl._discard_implausible(out)
    out.problems = tuple(problems)
    return out
