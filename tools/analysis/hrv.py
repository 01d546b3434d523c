"""``hrv``: time-domain HRV always (mean NN, SDNN, RMSSD, pNN50), frequency-domain (LF, HF, LF/HF) only
when the recording is long enough, and otherwise a sentence saying so."""

from __future__ import annotations

import numpy as np

from cardioagent.tools.analysis.common import MIN_RATE_SECONDS, require_duration
from cardioagent.tools.analysis.peaks import beats_of, pick_beat_channel
from cardioagent.tools.analysis.results import HrvResult
from cardioagent.tools.contract import Measurement, Quality
from cardioagent.tools.signal import hrv_math
from cardioagent.tools.signal.recording import Recording

SHORT_TERM_S = 300.0  # the standard short-term HRV recording (Task Force 1996)


def _m(
    name: str, value: float | None, unit: str, channel: str | None, q: Quality, digits: int = 1
) -> Measurement:
    return Measurement(
        name=name,
        value=None if value is None else round(float(value), digits),
        unit=unit,
        channel=channel,
        quality=Quality.UNUSABLE if value is None else q,
    )


def hrv(rec: Recording, channel: str | None = None) -> HrvResult:
    duration = require_duration(rec, MIN_RATE_SECONDS, "heart-rate variability")
    idx = pick_beat_channel(rec, channel)
    b = beats_of(rec, idx)
    peaks = b.peaks
    rr_ms = np.diff(peaks) / b.fs * 1000.0
    warnings: list[str] = []
    if b.quality == Quality.UNUSABLE or len(rr_ms) < 3:
        reason = b.channel_reason if b.quality == Quality.UNUSABLE else "fewer than 4 beats found"

        def none(n: str, u: str) -> Measurement:
            return _m(n, None, u, b.channel, Quality.UNUSABLE)

        return HrvResult(
            quality=Quality.UNUSABLE,
            method="no estimate",
            warnings=[f"{b.channel}: {reason}"],
            recording=rec.name,
            channel=b.channel,
            duration_s=round(duration, 2),
            n_beats=len(peaks),
            n_nn=0,
            mean_nn=none("mean NN", "ms"),
            sdnn=none("SDNN", "ms"),
            rmssd=none("RMSSD", "ms"),
            pnn50=none("pNN50", "%"),
            frequency_domain_available=False,
            frequency_domain_note=f"no HRV: {reason}",
        )

    mask = hrv_math.nn_mask(rr_ms) & b.rr_valid()  # an interval across a signal gap is not NN
    td = hrv_math.time_domain(rr_ms, mask)
    fd = hrv_math.frequency_domain(peaks[1:] / b.fs, rr_ms, mask)
    kept = td.n_nn / len(rr_ms)
    q = b.quality
    if kept < 0.8:
        q = Quality.POOR
        warnings.append(
            f"only {kept:.0%} of intervals are normal-to-normal (ectopic beats or artefacts removed)"
        )
    if duration < SHORT_TERM_S:
        warnings.append(
            f"{duration:.0f}-s recording: HRV norms refer to 5-min (short-term) or 24-h recordings; "
            "ultra-short values are rough"
        )
    ch = b.channel
    avail = fd.lf_ms2 is not None or fd.hf_ms2 is not None
    return HrvResult(
        quality=q,
        method=(
            f"NN intervals from {'R-peaks' if b.kind == 'ecg' else 'PPG pulse peaks (pulse-rate variability)'} on "
            f"{ch} (RR 300-2000 ms and within 20% of the local median); Task Force 1996 definitions; "
            "frequency domain: Welch PSD of the NN series resampled at 4 Hz"
        ),
        warnings=warnings,
        recording=rec.name,
        channel=ch,
        duration_s=round(duration, 2),
        n_beats=len(peaks),
        n_nn=td.n_nn,
        mean_nn=_m("mean NN", td.mean_nn_ms, "ms", ch, q),
        sdnn=_m("SDNN", td.sdnn_ms, "ms", ch, q),
        rmssd=_m("RMSSD", td.rmssd_ms, "ms", ch, q),
        pnn50=_m("pNN50", td.pnn50_pct, "%", ch, q),
        frequency_domain_available=avail,
        frequency_domain_note=fd.note,
        lf=_m("LF power", fd.lf_ms2, "ms²", ch, q, 0) if fd.lf_ms2 is not None else None,
        hf=_m("HF power", fd.hf_ms2, "ms²", ch, q, 0) if fd.hf_ms2 is not None else None,
        lf_hf=_m("LF/HF", fd.lf_hf, "ratio", ch, q, 2) if fd.lf_hf is not None else None,
    )
