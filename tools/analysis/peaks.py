"""``detect_peaks``: R-peaks of an ECG channel or systolic peaks of a PPG channel, with the detector
that produced them and why; and ``beats_of``, the cached detection the rate analyses share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cardioagent.tools.analysis.common import (
    LruCache,
    fingerprint,
    kind_of,
    require_duration,
    resolve_channel,
    signal_of,
)
from cardioagent.tools.analysis.quality import best_channel, channel_sqi
from cardioagent.tools.analysis.results import DetectorAgreement, PeaksResult
from cardioagent.tools.contract import Quality
from cardioagent.tools.errors import InputError
from cardioagent.tools.signal import ecg, ppg
from cardioagent.tools.signal.quality import QUALITY_RANK
from cardioagent.tools.signal.recording import ChannelKind, Recording

MIN_PEAK_SECONDS = 2.0
BEAT_KINDS = (ChannelKind.ECG, ChannelKind.PPG)
_cache = LruCache(64)


@dataclass
class Beats:
    channel: str
    index: int
    kind: str  # "ecg" | "ppg"
    fs: float
    peaks: np.ndarray
    detector: str
    reason: str
    quality: Quality  # of the channel, downgraded when the detection itself was shaky
    channel_reason: str
    agreement: dict[str, float] = field(default_factory=dict)
    votes: np.ndarray = field(default_factory=lambda: np.array([]))
    repairs: list[str] = field(default_factory=list)
    missing_cumsum: np.ndarray | None = None  # running count of missing (NaN) samples, when any
    gaps: np.ndarray = field(
        default_factory=lambda: np.array([], dtype=int)
    )  # starts of missed-beat intervals
    evidence: dict[str, float] = field(default_factory=dict)  # what the detection flag rests on (ECG)
    detection_reason: str = ""  # why the detection itself was flagged as it is (ECG)

    def rate_valid(self, peaks: np.ndarray | None = None) -> np.ndarray:
        """``rr_valid`` and, in addition, False for intervals that hold a beat no detector saw (a rate
        leaves them out; rhythm analyses still see them through ``rr_valid``)."""
        p = self.peaks if peaks is None else np.asarray(peaks, dtype=int)
        ok = self.rr_valid(p)
        if len(self.gaps) and len(p) >= 2:
            ok = ok & ~np.isin(p[:-1], self.gaps)
        return ok

    def rr_valid(self, peaks: np.ndarray | None = None) -> np.ndarray:
        """Per RR interval of ``peaks`` (default: all beats): False where the interval spans missing
        samples, because a beat may hide in the gap."""
        p = self.peaks if peaks is None else np.asarray(peaks, dtype=int)
        if len(p) < 2:
            return np.zeros(0, dtype=bool)
        if self.missing_cumsum is None:
            return np.ones(len(p) - 1, dtype=bool)
        c = self.missing_cumsum
        return (c[p[1:]] - c[p[:-1]]) == 0


def _detect(rec: Recording, idx: int) -> Beats:
    sig, fs = signal_of(rec)
    x = sig[:, idx]
    kind = kind_of(rec, idx)
    cq = channel_sqi(rec, idx)
    name = rec.channels[idx].name
    if cq.quality == Quality.UNUSABLE:
        return Beats(
            name, idx, kind, fs, np.array([], int), "none", "channel unusable", cq.quality, cq.reason
        )
    missing = ~np.isfinite(x)
    gaps = np.cumsum(missing) if missing.any() else None
    if kind == "ecg":
        det = ecg.ecg_peaks_chunked(x, fs)
        # the flag is the worse of the channel's SQIs and the detection's own evidence (do the
        # detectors reach this rate on their own, do the beats match the median beat)
        dq, dwhy = ecg.detection_quality(det)
        quality = cq.quality if QUALITY_RANK[cq.quality] <= QUALITY_RANK[dq] else dq
        return Beats(
            name,
            idx,
            kind,
            fs,
            det.peaks,
            det.detector,
            det.reason,
            quality,
            cq.reason,
            det.agreement,
            det.votes,
            det.repairs,
            gaps,
            det.gaps,
            det.evidence,
            f"detection {dq.value}: {dwhy}",
        )
    peaks = ppg.ppg_peaks(x, fs)
    return Beats(
        name,
        idx,
        kind,
        fs,
        peaks,
        "elgendi2013",
        "systolic peaks by Elgendi's two moving averages on the 0.5-8 Hz PPG",
        cq.quality,
        cq.reason,
        {},
        np.ones(len(peaks)),
        [],
        gaps,
    )


def beats_of(rec: Recording, idx: int) -> Beats:
    return _cache.get((fingerprint(rec, idx), kind_of(rec, idx)), lambda: _detect(rec, idx))


def pick_beat_channel(rec: Recording, channel: str | None) -> int:
    """The named channel (must be ECG or PPG), else the best-quality ECG channel, else the best PPG."""
    signal_of(rec)
    if channel is not None:
        return resolve_channel(rec, channel, BEAT_KINDS)
    if not any(c.kind in BEAT_KINDS for c in rec.channels):
        raise InputError(
            rec.name,
            f"it has no ECG or PPG channel (channels: {', '.join(rec.channel_names)})",
            "a recording with at least one ECG or PPG channel",
        )
    best, _ = best_channel(rec, BEAT_KINDS)
    if best is None:  # every beat channel is unusable: report on the first, whose result says why
        best = next(i for i, c in enumerate(rec.channels) if c.kind in BEAT_KINDS)
    return best


def detect_peaks(rec: Recording, channel: str | None = None) -> PeaksResult:
    require_duration(rec, MIN_PEAK_SECONDS, "peak detection")
    idx = pick_beat_channel(rec, channel)
    b = beats_of(rec, idx)
    why = (
        b.reason
        if channel is not None
        else f"{b.reason}; channel {b.channel} chosen as the best-quality "
        f"{b.kind.upper()} channel ({b.quality.value}: {b.channel_reason})"
    )
    warnings = []
    if b.quality == Quality.UNUSABLE:
        warnings.append(f"{b.channel} is unusable: {b.channel_reason}; no peaks reported")
    if b.detection_reason:
        why = f"{why}; {b.detection_reason}"
    method = (
        "consensus of 8 published R-peak detectors (neurokit2), template matching against the median "
        "beat (Orphanidou 2015) and RR plausibility checks (Pan-Tompkins 1985, Lipponen-Tarvainen 2019)"
        if b.kind == "ecg"
        else "Elgendi (2013) systolic peak detector on the band-passed PPG"
    )
    return PeaksResult(
        quality=b.quality,
        method=method,
        warnings=warnings,
        recording=rec.name,
        channel=b.channel,
        kind="ecg" if b.kind == "ecg" else "ppg",
        sampling_rate_hz=b.fs,
        samples=[int(p) for p in b.peaks],
        times_s=[round(float(p) / b.fs, 4) for p in b.peaks],
        n_peaks=len(b.peaks),
        detector=b.detector,
        reason=why,
        agreement=[DetectorAgreement(detector=k, f1_vs_final=v) for k, v in b.agreement.items()],
        repairs=b.repairs,
        evidence=dict(b.evidence),
    )
