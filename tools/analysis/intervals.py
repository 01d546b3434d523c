"""``intervals``: PR, QRS, QT and QTc (Bazett, Fridericia) for every ECG lead, measured on each lead's median
beat, and their median across leads.

All leads share one set of R fiducials (from the best-quality lead), so the beats of every lead are
aligned on the same instants. A lead that is flat, or whose waves cannot be delineated, gets None with
quality UNUSABLE and the reason; it never raises.
"""
from __future__ import annotations

import re

import numpy as np

from cardioagent.tools.analysis.common import MIN_RATE_SECONDS, require_duration, signal_of
from cardioagent.tools.analysis.peaks import beats_of
from cardioagent.tools.analysis.quality import best_channel, channel_sqi
from cardioagent.tools.analysis.results import IntervalsResult, LeadIntervals
from cardioagent.tools.contract import Measurement, Quality
from cardioagent.tools.errors import InputError
from cardioagent.tools.signal import delineation as dl
from cardioagent.tools.signal.recording import STANDARD_12_LEADS, ChannelKind, Recording

FAST_RR_S = 0.5  # above 120 bpm T and P waves overlap and Bazett over-corrects
_RANK = {Quality.GOOD: 3, Quality.ACCEPTABLE: 2, Quality.POOR: 1, Quality.UNUSABLE: 0}
_NAMES = {"pr": "PR interval", "qrs": "QRS duration", "qt": "QT interval", "qtc_bazett": "QTc (Bazett)",
          "qtc_fridericia": "QTc (Fridericia)", "p_duration": "P-wave duration"}
_QUANTITY = {"pr": "pr", "qrs": "qrs", "qt": "qt", "qtc_bazett": "qtc", "qtc_fridericia": "qtc",
             "p_duration": "p_duration"}


def _m(key: str, value: float | None, q: Quality, lead: str | None, uncertainty: float | None = None) -> Measurement:
    return Measurement(name=_NAMES[key], value=None if value is None else round(float(value), 0), unit="ms",
                       uncertainty=None if uncertainty is None else round(float(uncertainty), 0), channel=lead,
                       quality=Quality.UNUSABLE if value is None else q, quantity=_QUANTITY[key])


def _unusable_lead(lead: str, reason: str) -> LeadIntervals:
    none = {k: _m(k, None, Quality.UNUSABLE, lead) for k in _NAMES}
    return LeadIntervals(lead=lead, quality=Quality.UNUSABLE, reason=reason, **none)


def _lead(rec: Recording, idx: int, beats: np.ndarray, rr_s: float, fs: float) -> LeadIntervals:
    name = rec.channels[idx].name
    cq = channel_sqi(rec, idx)
    if cq.quality == Quality.UNUSABLE:
        return _unusable_lead(name, cq.reason)
    sig, _ = signal_of(rec)
    mb = dl.median_beat(dl.clean_for_delineation(sig[:, idx], fs), beats, fs)
    if mb is None:
        return _unusable_lead(name, "no complete beat to measure")
    d = dl.delineate_beat(mb, fs, rr_s)
    if d.pr_ms is None and d.qrs_ms is None and d.qt_ms is None:
        return _unusable_lead(name, "; ".join(d.problems) or "delineation failed")
    q = cq.quality
    reasons = [f"median of {mb.n_beats} beats (shape coherence {mb.coherence:.2f})"]
    if mb.n_beats < 3 or mb.coherence < 0.8:
        q = Quality.POOR
        reasons.append("few or dissimilar beats")
    if rr_s < FAST_RR_S:
        q = Quality.POOR if _RANK[q] > _RANK[Quality.POOR] else q
        reasons.append("fast rate: T and P waves may overlap")
    if q == Quality.POOR and cq.quality == Quality.POOR:
        reasons.append(f"noisy lead ({cq.reason})")
    reasons += list(d.problems)
    qt = d.qt_ms
    return LeadIntervals(
        lead=name, quality=q, reason="; ".join(reasons), n_beats=mb.n_beats,
        pr=_m("pr", d.pr_ms, q, name), qrs=_m("qrs", d.qrs_ms, q, name), qt=_m("qt", qt, q, name),
        qtc_bazett=_m("qtc_bazett", None if qt is None else dl.qtc_bazett(qt, rr_s), q, name),
        qtc_fridericia=_m("qtc_fridericia", None if qt is None else dl.qtc_fridericia(qt, rr_s), q, name),
        p_wave_present=d.p_present, p_duration=_m("p_duration", d.p_ms, q, name),
    )


def _absent_standard_leads(rec: Recording) -> list[LeadIntervals]:
    """For a 12-lead record that lacks some standard leads (the loader drops flat ones), one UNUSABLE
    entry per missing lead, so that a 12-lead record always reports 12 leads."""
    have = {n.lower() for n in rec.channel_names}
    present = [lead for lead in STANDARD_12_LEADS if lead.lower() in have]
    if len(present) < 6:
        return []
    notes = " ".join(c for c in rec.header_comments if "dropped" in c.lower())
    out = []
    for lead in STANDARD_12_LEADS:
        if lead.lower() in have:
            continue
        m = re.search(rf"\b{re.escape(lead)} \(([^)]*)\)", notes)
        why = f"lead absent from the recording ({m.group(1)}, dropped when loading)" if m else "lead absent from the recording"
        out.append(_unusable_lead(lead, why))
    return out


def _in_standard_order(leads: list[LeadIntervals]) -> list[LeadIntervals]:
    order = {name.lower(): i for i, name in enumerate(STANDARD_12_LEADS)}
    return sorted(leads, key=lambda lead: order.get(lead.lead.lower(), len(order)))


def _across(leads: list[LeadIntervals], key: str) -> tuple[float | None, float | None, Quality, int]:
    """Median across leads (preferring GOOD/ACCEPTABLE leads when at least three have a value), its
    median absolute deviation, a quality from how many leads contributed, and that number."""
    vals = [(getattr(lead, key).value, lead.quality) for lead in leads
            if getattr(lead, key) is not None and getattr(lead, key).value is not None]
    better = [v for v, q in vals if _RANK[q] >= _RANK[Quality.ACCEPTABLE]]
    use = better if len(better) >= 3 else [v for v, _ in vals]
    if not use:
        return None, None, Quality.UNUSABLE, 0
    arr = np.array(use, dtype=float)
    med = float(np.median(arr))
    mad = float(np.median(np.abs(arr - med))) if len(arr) > 1 else None
    n = len(arr)
    q = Quality.GOOD if n >= 6 and len(better) >= 6 else Quality.ACCEPTABLE if n >= 3 else Quality.POOR
    return med, mad, q, n


def intervals(rec: Recording) -> IntervalsResult:
    require_duration(rec, MIN_RATE_SECONDS, "interval measurement")
    sig, fs = signal_of(rec)
    ecg_idx = rec.indices_of(ChannelKind.ECG)
    if not ecg_idx:
        raise InputError(rec.name, "it has no ECG channel", "an ECG recording (intervals are ECG measurements)")
    best, _ = best_channel(rec, (ChannelKind.ECG,))
    nothing = Measurement(name="RR interval", value=None, unit="ms", quality=Quality.UNUSABLE)
    hr_none = Measurement(name="heart rate", value=None, unit="bpm", quality=Quality.UNUSABLE)

    def empty(reason: str, leads: list[LeadIntervals]) -> IntervalsResult:
        none = {k: _m(k, None, Quality.UNUSABLE, None) for k in _NAMES}
        return IntervalsResult(quality=Quality.UNUSABLE, method="no measurement", warnings=[reason],
                               recording=rec.name, rr=nothing, heart_rate=hr_none, leads=leads,
                               fiducial_channel="", **none)

    absent = _absent_standard_leads(rec)
    if best is None:
        return empty("no usable ECG lead", _in_standard_order(
            [_unusable_lead(rec.channels[i].name, channel_sqi(rec, i).reason) for i in ecg_idx] + absent))
    fid = beats_of(rec, best)
    beats, rr_s = dl.dominant_beats(fid.peaks, fs, sig.shape[0])
    if rr_s is None or len(beats) < 2:
        return empty(f"fewer than 3 beats found on {fid.channel}", _in_standard_order(
            [_unusable_lead(rec.channels[i].name, "too few beats") for i in ecg_idx] + absent))

    leads = _in_standard_order([_lead(rec, i, beats, rr_s, fs) for i in ecg_idx] + absent)
    glob = {}
    for key in ("pr", "qrs", "qt", "p_duration"):
        med, mad, q, _ = _across(leads, key)
        glob[key] = _m(key, med, q, None, mad)
    qt = glob["qt"].value
    q_qt = glob["qt"].quality
    glob["qtc_bazett"] = _m("qtc_bazett", None if qt is None else dl.qtc_bazett(qt, rr_s), q_qt, None)
    glob["qtc_fridericia"] = _m("qtc_fridericia", None if qt is None else dl.qtc_fridericia(qt, rr_s), q_qt, None)
    measured = [lead for lead in leads if lead.quality != Quality.UNUSABLE]
    overall = max((g.quality for k, g in glob.items() if k != "p_duration"), key=_RANK.get) if measured else Quality.UNUSABLE
    if overall != Quality.UNUSABLE:
        overall = glob["qt"].quality if glob["qt"].value is not None else glob["qrs"].quality
    warnings = []
    if rr_s < FAST_RR_S:
        warnings.append(f"heart rate {60 / rr_s:.0f} bpm: Bazett over-corrects at fast rates, prefer Fridericia")
    unmeasured = [lead.lead for lead in leads if lead.quality == Quality.UNUSABLE]
    if unmeasured:
        warnings.append(f"not measured in {', '.join(unmeasured)}")
    q_rr = fid.quality if fid.quality != Quality.UNUSABLE else Quality.POOR
    return IntervalsResult(
        quality=overall,
        method=("median beat per lead (dominant beats aligned on R-peaks of the best lead), QRS bounds from the "
                "slope envelope, T end, P onset and P offset by the tangent method; global = median across leads; "
                "QTc = QT/RR^(1/2) (Bazett) and QT/RR^(1/3) (Fridericia) with the median RR"),
        warnings=warnings, recording=rec.name,
        rr=Measurement(name="RR interval", value=round(rr_s * 1000.0, 0), unit="ms", channel=fid.channel, quality=q_rr),
        heart_rate=Measurement(name="heart rate", value=round(60.0 / rr_s, 1), unit="bpm", channel=fid.channel,
                               quality=q_rr),
        leads=leads, fiducial_channel=fid.channel, **glob,
    )
