"""``heart_rate``: the overall rate with an uncertainty, a per-window trace, and which channels it came from.

ECG is preferred to PPG. With several usable ECG leads (a 12-lead record) the three best leads are
measured separately and fused by their median, so one noisy lead cannot move the result. Within a
channel the rate is 60 / mean RR of the detected beats (the standard definition, and the one the
CPSC-2019 reference uses), after dropping intervals outside 0.2-3 s and intervals that hold a missed
beat no detector saw (Lipponen & Tarvainen 2019; see ``signal.ecg``); the beat detector already removes
extra beats and recovers the missed ones it can find. The flag is the worse of the channel's SQIs and
the detection's own evidence (``signal.ecg.detection_quality``: do half of the detectors reach this
rate on their own, do the beats match the median beat). A wrist PPG with accelerometer channels is
measured in the frequency domain instead, window by window, with motion frequencies attenuated.
"""

from __future__ import annotations

import numpy as np

from cardioagent.tools.analysis.common import MIN_RATE_SECONDS, require_duration, signal_of
from cardioagent.tools.analysis.peaks import Beats, beats_of, pick_beat_channel
from cardioagent.tools.analysis.quality import best_channel
from cardioagent.tools.analysis.results import HeartRateResult, HrWindow
from cardioagent.tools.contract import Measurement, Quality
from cardioagent.tools.errors import InputError
from cardioagent.tools.signal import ppg
from cardioagent.tools.signal.ppg_spectral import ppg_spectral_rate
from cardioagent.tools.signal.quality import QUALITY_RANK, worse
from cardioagent.tools.signal.recording import ChannelKind, Recording

MAX_FUSED_LEADS = 3
RR_RANGE_S = (0.2, 3.0)  # 20-300 bpm: anything outside is a detection error, not a rhythm
PLAUSIBLE_BPM = (25.0, 250.0)


def _rate(
    peaks: np.ndarray, fs: float, valid: np.ndarray | None = None
) -> tuple[float | None, float | None, int]:
    """60 / mean RR over intervals inside 0.2-3 s (and not spanning missing samples, per ``valid``)."""
    rr = np.diff(np.asarray(peaks, dtype=float)) / fs
    keep = (rr >= RR_RANGE_S[0]) & (rr <= RR_RANGE_S[1])
    if valid is not None:
        keep &= valid
    rr = rr[keep]
    if len(rr) < 2:
        return None, None, len(rr)
    mean = float(np.mean(rr))
    se = float(np.std(rr, ddof=1) / np.sqrt(len(rr)))
    return 60.0 / mean, 60.0 * se / mean**2, len(rr)


def _windows(duration: float, window_s: float, step_s: float) -> list[tuple[float, float]]:
    if duration <= window_s:
        return [(0.0, duration)]
    starts = np.arange(0.0, duration - window_s + 1e-9, step_s)
    return [(float(s), float(s + window_s)) for s in starts]


def _beat_windows(b: Beats, spans: list[tuple[float, float]]) -> list[HrWindow]:
    out = []
    t = b.peaks / b.fs
    for start, end in spans:
        inside = (t >= start) & (t < end)
        bpm, _, n = _rate(b.peaks[inside], b.fs, b.rate_valid(b.peaks[inside]))
        q = b.quality
        if bpm is None:
            q = Quality.UNUSABLE
        else:
            v = b.votes[inside] if len(b.votes) == len(b.peaks) else np.ones(inside.sum())
            if n < 3 or (len(v) and float(np.mean(v)) < 0.6):
                q = worse(q, Quality.POOR)
        out.append(
            HrWindow(
                start_s=round(start, 3),
                end_s=round(end, 3),
                bpm=Measurement(
                    name="heart rate",
                    value=None if bpm is None else round(bpm, 1),
                    unit="bpm",
                    channel=b.channel,
                    quality=q,
                ),
            )
        )
    return out


def _channel_estimate(b: Beats) -> tuple[Measurement, str]:
    if b.quality == Quality.UNUSABLE:
        return Measurement(
            name="heart rate", value=None, unit="bpm", channel=b.channel, quality=Quality.UNUSABLE
        ), f"{b.channel}: {b.channel_reason}"
    bpm, se, _ = _rate(b.peaks, b.fs, b.rate_valid())
    if bpm is None or se is None:  # _rate gives both or neither
        return Measurement(
            name="heart rate", value=None, unit="bpm", channel=b.channel, quality=Quality.UNUSABLE
        ), f"{b.channel}: fewer than 3 beats found"
    q = b.quality
    note = ""
    if not PLAUSIBLE_BPM[0] <= bpm <= PLAUSIBLE_BPM[1]:
        q, note = (
            Quality.POOR,
            f"{b.channel}: {bpm:.0f} bpm is outside {PLAUSIBLE_BPM[0]:.0f}-{PLAUSIBLE_BPM[1]:.0f} bpm",
        )
    return Measurement(
        name="heart rate",
        value=round(bpm, 1),
        unit="bpm",
        uncertainty=round(se, 1),
        channel=b.channel,
        quality=q,
    ), note


def _ppg_spectral_check(rec: Recording, b: Beats, m: Measurement) -> str | None:
    """A peak-based PPG rate that disagrees with the spectral rate by over 15% is flagged."""
    sig, fs = signal_of(rec)
    s = ppg.spectral_hr(sig[:, b.index], fs)
    if m.value is None or s.bpm is None:
        return None
    if abs(s.bpm - m.value) > 0.15 * m.value:
        return (
            f"{b.channel}: pulse-peak rate {m.value:.0f} bpm disagrees with the spectral rate {s.bpm:.0f} bpm"
        )
    return None


_WINDOW_RANK = (Quality.GOOD, Quality.ACCEPTABLE)


def _wrist_ppg(
    rec: Recording, ppg_idx: list[int], acc_idx: list[int], spans, window_s, step_s
) -> HeartRateResult:
    """Spectral rate per window from all PPG channels, motion removed with the accelerometer (Wiener
    filter, Temko 2017) and the heart-rate ridge tracked across windows (``signal.ppg_spectral``)."""
    sig, fs = signal_of(rec)
    names = [rec.channels[i].name for i in ppg_idx]
    track = ppg_spectral_rate(sig[:, ppg_idx], sig[:, acc_idx], fs, spans=spans)
    windows = [
        HrWindow(
            start_s=round(w.start_s, 3),
            end_s=round(w.end_s, 3),
            bpm=Measurement(
                name="heart rate",
                value=None if w.bpm is None else round(w.bpm, 1),
                unit="bpm",
                channel="+".join(names),
                quality=w.quality,
            ),
        )
        for w in track.windows
    ]
    refused = [w for w in track.windows if w.bpm is None]
    notes = (
        [
            f"{len(refused)} of {len(windows)} windows refused: "
            + "; ".join(sorted({f"{w.reason}" for w in refused}))
        ]
        if refused
        else []
    )
    vals = np.array([w.bpm.value for w in windows if w.bpm.value is not None])
    if len(vals) == 0:
        hr = Measurement(name="heart rate", value=None, unit="bpm", quality=Quality.UNUSABLE)
        quality = Quality.UNUSABLE
    else:
        n_good = sum(w.bpm.quality == Quality.GOOD for w in windows)
        n_ok = sum(w.bpm.quality in _WINDOW_RANK for w in windows)
        quality = (
            Quality.GOOD
            if n_good >= 0.5 * len(windows)
            else Quality.ACCEPTABLE
            if n_ok >= 0.5 * len(windows)
            else Quality.POOR
        )
        iqr = float(np.subtract(*np.percentile(vals, [75, 25]))) if len(vals) > 1 else None
        hr = Measurement(
            name="heart rate",
            value=round(float(np.median(vals)), 1),
            unit="bpm",
            uncertainty=None if iqr is None else round(iqr / 2, 1),
            channel="+".join(names),
            quality=quality,
        )
    motion = (
        "accelerometer frequencies attenuated (Wiener filter, Temko 2017)" if acc_idx else "no accelerometer"
    )
    return HeartRateResult(
        quality=quality,
        method=(
            f"wrist PPG: periodogram per {window_s:g}-s window of {', '.join(names)} with {motion}, "
            f"heart-rate peak tracked across windows with a bounded jump (Viterbi; Schäck 2017, TROIKA); "
            f"overall = median of windows, uncertainty = half the interquartile range"
        ),
        warnings=notes
        + (["motion-corrupted wrist PPG: treat the rate as an estimate"] if quality == Quality.POOR else []),
        recording=rec.name,
        heart_rate=hr,
        channels_used=names,
        windows=windows,
        window_s=window_s,
        step_s=step_s,
        n_beats=0,
        reason="" if hr.value is not None else (notes[0] if notes else "no spectral peak in any window"),
    )


def heart_rate(
    rec: Recording, channel: str | None = None, window_s: float = 8.0, step_s: float = 2.0
) -> HeartRateResult:
    duration = require_duration(rec, MIN_RATE_SECONDS, "a heart-rate estimate")
    if not (window_s > 0 and step_s > 0):
        raise InputError(
            rec.name, f"window {window_s} s and step {step_s} s", "positive window and step lengths"
        )
    spans = _windows(duration, window_s, step_s)
    idx0 = pick_beat_channel(rec, channel)
    acc_idx = [i for i, c in enumerate(rec.channels) if c.kind == ChannelKind.ACCEL]
    kind0 = rec.channels[idx0].kind

    if kind0 == ChannelKind.PPG and acc_idx and (channel is not None or not rec.indices_of(ChannelKind.ECG)):
        ppg_idx = [idx0] if channel is not None else best_channel(rec, (ChannelKind.PPG,))[1] or [idx0]
        return _wrist_ppg(rec, ppg_idx, acc_idx, spans, window_s, step_s)

    if channel is None and kind0 == ChannelKind.ECG:
        _, usable = best_channel(rec, (ChannelKind.ECG,))
        chosen = usable[:MAX_FUSED_LEADS] or [idx0]
    else:
        chosen = [idx0]
    beats = [beats_of(rec, i) for i in chosen]
    estimates = [_channel_estimate(b) for b in beats]
    per_channel = [m for m, _ in estimates]
    notes = [n for _, n in estimates if n]
    if kind0 == ChannelKind.PPG:
        check = _ppg_spectral_check(rec, beats[0], per_channel[0])
        if check:
            notes.append(check)
            per_channel[0] = per_channel[0].model_copy(
                update={"quality": worse(per_channel[0].quality, Quality.POOR)}
            )

    valid = [(m, b) for m, b in zip(per_channel, beats, strict=False) if m.value is not None]
    trusted = [(m, b) for m, b in valid if m.quality in (Quality.GOOD, Quality.ACCEPTABLE)] or valid
    if not trusted:
        reason = "; ".join(notes) or "no usable channel"
        hr = Measurement(name="heart rate", value=None, unit="bpm", quality=Quality.UNUSABLE)
        return HeartRateResult(
            quality=Quality.UNUSABLE,
            method="no estimate: no channel gave usable beats",
            warnings=notes,
            recording=rec.name,
            heart_rate=hr,
            channels_used=[b.channel for b in beats],
            per_channel=per_channel,
            windows=_beat_windows(beats[0], spans),
            window_s=window_s,
            step_s=step_s,
            reason=reason,
        )

    values = np.array([m.value for m, _ in trusted])
    fused = float(np.median(values))
    se = max((m.uncertainty or 0.0) for m, _ in trusted)
    spread = float(np.median(np.abs(values - fused))) if len(values) > 1 else 0.0
    quality = (
        trusted[0][0].quality
        if len(trusted) == 1
        else min((m.quality for m, _ in trusted), key=QUALITY_RANK.__getitem__)
    )
    if len(trusted) >= 2 and spread <= 0.05 * fused:
        quality = max(
            (m.quality for m, _ in trusted), key=QUALITY_RANK.__getitem__
        )  # leads agree: the best one's flag
    hr = Measurement(
        name="heart rate",
        value=round(fused, 1),
        unit="bpm",
        uncertainty=round(float(np.hypot(se, spread)), 1),
        channel="+".join(b.channel for _, b in trusted),
        quality=quality,
    )

    if len(trusted) == 1:
        windows = _beat_windows(trusted[0][1], spans)
    else:
        per_lead = [_beat_windows(b, spans) for _, b in trusted]
        windows = []
        for k, (start, end) in enumerate(spans):
            ws = [pl[k].bpm for pl in per_lead if pl[k].bpm.value is not None]
            q = max((w.quality for w in ws), key=QUALITY_RANK.__getitem__) if ws else Quality.UNUSABLE
            windows.append(
                HrWindow(
                    start_s=round(start, 3),
                    end_s=round(end, 3),
                    bpm=Measurement(
                        name="heart rate",
                        value=round(float(np.median([w.value for w in ws])), 1) if ws else None,
                        unit="bpm",
                        channel=hr.channel,
                        quality=q,
                    ),
                )
            )

    kind = "ECG" if kind0 == ChannelKind.ECG else "PPG"
    if len(trusted) > 1:
        how = (
            f"median of {len(trusted)} {kind} leads ({', '.join(b.channel for _, b in trusted)}), each 60 / mean RR "
            f"of consensus-detected beats; uncertainty combines the standard error and the spread across leads"
        )
    else:
        det = "consensus-detected R-peaks" if kind == "ECG" else "systolic peaks (Elgendi)"
        how = f"60 / mean RR of {det} on {trusted[0][1].channel}; uncertainty = standard error of the mean RR"
    warnings = list(notes)
    if quality == Quality.POOR:
        warnings.append("noisy signal: the rate is an estimate; check the detected peaks")
    return HeartRateResult(
        quality=quality,
        method=how,
        warnings=warnings,
        recording=rec.name,
        heart_rate=hr,
        channels_used=[b.channel for _, b in trusted],
        per_channel=per_channel,
        windows=windows,
        window_s=window_s,
        step_s=step_s,
        n_beats=len(trusted[0][1].peaks),
        reason=f"fused {len(trusted)} of {len(beats)} leads tried" if len(beats) > 1 else "",
    )
