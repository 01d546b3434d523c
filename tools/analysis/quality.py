"""``assess_quality``: per-channel signal-quality indices, a quality flag with its reason, the best
channel for beat-based analyses, and per ECG lead the PTB-XL noise kinds (baseline drift, static noise,
burst noise, electrode problems) with a probability each."""

from __future__ import annotations

from cardioagent.tools.analysis.common import LruCache, fingerprint, kind_of, signal_of
from cardioagent.tools.analysis.results import ChannelQuality, NoiseFinding, QualityReport
from cardioagent.tools.contract import Measurement, Quality
from cardioagent.tools.signal import noise, sqi
from cardioagent.tools.signal.recording import ChannelKind, Recording

_cache = LruCache(256)

_UNITS = {
    "nan_fraction": "fraction",
    "flat_fraction": "fraction",
    "clipping_fraction": "fraction",
    "cardiac_power_ratio": "fraction",
}


def channel_sqi(rec: Recording, idx: int) -> sqi.ChannelSqi:
    """SQIs and grade of one channel (cached on the channel's data)."""
    sig, fs = signal_of(rec)
    kind = kind_of(rec, idx)
    return _cache.get((fingerprint(rec, idx), kind), lambda: sqi.assess_channel(sig[:, idx], fs, kind))


def span_sqi(rec: Recording, idx: int, start: int, stop: int) -> sqi.ChannelSqi:
    """SQIs and grade of the samples ``start:stop`` of one channel: a lead judged where it was recorded (a
    lead printed for 2.5 s of a 10-s page), not marked unusable for the time it was not."""
    sig, fs = signal_of(rec)
    kind = kind_of(rec, idx)
    key = (fingerprint(rec, idx), kind, start, stop)
    return _cache.get(key, lambda: sqi.assess_channel(sig[start:stop, idx], fs, kind))


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


def ecg_noise(rec: Recording) -> dict[int, list[NoiseFinding]]:
    """Noise findings per ECG channel index, the ECG channels assessed together (cached on their data)."""
    sig, fs = signal_of(rec)
    idx = [i for i, c in enumerate(rec.channels) if c.kind == ChannelKind.ECG]
    if not idx:
        return {}
    key = ("noise", tuple(fingerprint(rec, i) for i in idx), tuple(rec.channels[i].name for i in idx))

    def compute() -> dict[int, list[NoiseFinding]]:
        kinds = noise.lead_noise_kinds(sig[:, idx], fs, [rec.channels[i].name for i in idx])
        return {
            i: [NoiseFinding(kind=k, **lead[k]) for k in noise.NOISE_KINDS]
            for i, lead in zip(idx, kinds, strict=False)
        }

    return _cache.get(key, compute)


def assess_quality(rec: Recording) -> QualityReport:
    signal_of(rec)
    warnings = []
    try:
        findings = ecg_noise(rec)
    except Exception as exc:  # noqa: BLE001 - noise kinds are an addition; never at the cost of the report
        findings = {}
        warnings.append(f"noise kinds not assessed: {type(exc).__name__}: {exc}")
    channels = []
    for i, ch in enumerate(rec.channels):
        c = channel_sqi(rec, i)
        indices = [
            Measurement(
                name=k,
                value=None if v is None else round(float(v), 4),
                unit=_UNITS.get(k, ""),
                channel=ch.name,
                quality=c.quality,
            )
            for k, v in c.indices.items()
        ]
        channels.append(
            ChannelQuality(
                channel=ch.name,
                kind=ch.kind.value,
                quality=c.quality,
                reason=c.reason,
                indices=indices,
                noise=[f.model_copy() for f in findings.get(i, [])],
            )
        )
    best, usable = best_channel(rec, (ChannelKind.ECG, ChannelKind.PPG))
    overall = channel_sqi(rec, best).quality if best is not None else Quality.UNUSABLE
    if best is None:
        warnings.append("no usable ECG or PPG channel: heart rate, rhythm and HRV cannot be measured")
    return QualityReport(
        quality=overall,
        method=(
            "integrity (missing, flat, clipped samples) and signal-quality indices per channel: ECG kSQI, "
            "pSQI, basSQI and two-detector agreement bSQI (Li 2008, Zhao 2018); PPG skewness and "
            "cardiac-band power (Elgendi 2016); per ECG lead, PTB-XL noise kinds from baseline, noise-floor, "
            "burst and electrode-integrity features with a small model fitted on PTB-XL (bench/ptbxl_noise.py)"
        ),
        warnings=warnings,
        recording=rec.name,
        channels=channels,
        overall=overall,
        best_channel=rec.channels[best].name if best is not None else None,
        usable_channels=[rec.channels[i].name for i in usable],
    )
