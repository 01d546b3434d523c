"""``assess_quality``: per-channel signal-quality indices, a quality flag with its reason, and the best
channel for beat-based analyses."""
from __future__ import annotations

from cardioagent.tools.analysis.common import LruCache, fingerprint, kind_of, signal_of
from cardioagent.tools.analysis.results import ChannelQuality, QualityReport
from cardioagent.tools.contract import Measurement, Quality
from cardioagent.tools.signal import sqi
from cardioagent.tools.signal.recording import ChannelKind, Recording

_cache = LruCache(256)

_UNITS = {"nan_fraction": "fraction", "flat_fraction": "fraction", "clipping_fraction": "fraction",
          "cardiac_power_ratio": "fraction"}


def channel_sqi(rec: Recording, idx: int) -> sqi.ChannelSqi:
    """SQIs and grade of one channel (cached on the channel's data)."""
    sig, fs = signal_of(rec)
    kind = kind_of(rec, idx)
    return _cache.get((fingerprint(rec, idx), kind), lambda: sqi.assess_channel(sig[:, idx], fs, kind))


def best_channel(rec: Recording, kinds: tuple[ChannelKind, ...]) -> tuple[int | None, list[int]]:
    """The best channel among ``kinds`` (earlier kinds preferred whenever one of them is usable) and all
    usable channels of that kind, best first."""
    for kind in kinds:
        idx = [i for i, c in enumerate(rec.channels) if c.kind == kind]
        graded = [(i, channel_sqi(rec, i)) for i in idx]
        usable = [(i, c) for i, c in graded if c.quality != Quality.UNUSABLE]
        if usable:
            usable.sort(key=lambda ic: sqi.rank_score(ic[1]), reverse=True)
            return usable[0][0], [i for i, _ in usable]
    return None, []


def assess_quality(rec: Recording) -> QualityReport:
    signal_of(rec)
    channels = []
    for i, ch in enumerate(rec.channels):
        c = channel_sqi(rec, i)
        indices = [
            Measurement(name=k, value=None if v is None else round(float(v), 4), unit=_UNITS.get(k, ""),
                        channel=ch.name, quality=c.quality)
            for k, v in c.indices.items()
        ]
        channels.append(ChannelQuality(channel=ch.name, kind=ch.kind.value, quality=c.quality, reason=c.reason,
                                       indices=indices))
    best, usable = best_channel(rec, (ChannelKind.ECG, ChannelKind.PPG))
    overall = channel_sqi(rec, best).quality if best is not None else Quality.UNUSABLE
    warnings = []
    if best is None:
        warnings.append("no usable ECG or PPG channel: heart rate, rhythm and HRV cannot be measured")
    return QualityReport(
        quality=overall,
        method=("integrity (missing, flat, clipped samples) and signal-quality indices per channel: ECG kSQI, "
                "pSQI, basSQI and two-detector agreement bSQI (Li 2008, Zhao 2018); PPG skewness and "
                "cardiac-band power (Elgendi 2016)"),
        warnings=warnings,
        recording=rec.name,
        channels=channels,
        overall=overall,
        best_channel=rec.channels[best].name if best is not None else None,
        usable_channels=[rec.channels[i].name for i in usable],
    )
