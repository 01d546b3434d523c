"""``rhythm``: regularity features of the beat-to-beat intervals and a plain statement (regular,
irregular, irregularly irregular) with the rule and numbers behind it.

The statement describes the intervals only; it is not a diagnosis. "Irregularly irregular" (most
successive intervals differ, with no premature-beat pattern to explain it, and P waves mostly absent
when that can be judged) is the interval pattern of atrial fibrillation, which only a clinician can
diagnose.
"""

from __future__ import annotations

import numpy as np

from cardioagent.tools.analysis.common import MIN_RATE_SECONDS, require_duration, signal_of
from cardioagent.tools.analysis.peaks import Beats, beats_of, pick_beat_channel
from cardioagent.tools.analysis.quality import best_channel
from cardioagent.tools.analysis.results import RhythmResult, RhythmStatement
from cardioagent.tools.contract import Measurement, Quality
from cardioagent.tools.signal import delineation as dl
from cardioagent.tools.signal.recording import ChannelKind, Recording

MIN_INTERVALS = 5
REGULAR_CV = 0.10
REGULAR_SD_SHARE = 0.25
IRREG_SD_SHARE = 0.5
IRREG_NRMSSD = 0.08


def premature_mask(rr: np.ndarray, window: int = 10, margin_s: float = 0.0) -> np.ndarray:
    """True for intervals ending in a premature beat: under 80% of the local median RR and followed by a
    longer interval (the pause after an early beat); by more than 1.96 ``margin_s`` (an RR timing error)."""
    rr = np.asarray(rr, dtype=float)
    out = np.zeros(len(rr), dtype=bool)
    z = 1.96 * margin_s
    for i in range(len(rr) - 1):
        local = np.median(rr[max(0, i - window) : i + window + 1])
        out[i] = rr[i] < 0.8 * local - z and rr[i + 1] > 1.1 * rr[i] + z
    return out


def _p_presence(rec: Recording, b: Beats) -> tuple[float | None, str]:
    """P-wave presence on the first lead whose median beat shows a P wave, trying lead II first (where
    sinus P waves are largest), then the beat channel, then the other usable ECG leads best first. When
    no lead shows one, the share is 0 on the first lead tried."""
    if b.kind != "ecg":
        return None, "no P waves in a PPG"
    sig, fs = signal_of(rec)
    names = [n.lower() for n in rec.channel_names]
    _, usable = best_channel(rec, (ChannelKind.ECG,))
    order = (
        ([names.index("ii")] if "ii" in names and names.index("ii") in usable else []) + [b.index] + usable
    )
    tried: list[int] = []
    first: tuple[float | None, str] | None = None
    for idx in order:
        if idx in tried or len(tried) >= 4:  # a few leads are enough; each costs a delineation
            continue
        tried.append(idx)
        x = dl.clean_for_delineation(sig[:, idx], fs)
        beats, rr = dl.dominant_beats(b.peaks, fs, len(x))
        mb = dl.median_beat(x, beats, fs)
        if mb is None or rr is None:
            continue
        d = dl.delineate_beat(mb, fs, rr)
        share, tested = dl.p_wave_presence(x, b.peaks, fs, mb, d)
        result = (share, f"on {rec.channel_names[idx]}, {tested} beats tested")
        if d.p_present and share is not None:
            return result
        first = first or result
    if first is None:
        return None, "too few complete beats to judge P waves"
    return first[0], first[1] + "; no lead shows a distinct P wave in its median beat"


def _statement(
    rr: np.ndarray, p_share: float | None, beat_sd_s: float = 0.0
) -> tuple[RhythmStatement, str, dict[str, float]]:
    """The statement from the RR intervals (seconds). ``beat_sd_s``: the timing error (SD) of one beat, 0 for
    a recorded signal. An interval then errs by sqrt(2) of it and a difference of successive intervals by
    sqrt(6); a difference inside 1.96 times that is not counted as evidence of irregularity."""
    mean, med = float(np.mean(rr)), float(np.median(rr))
    sd = np.diff(rr)
    # beat timing noise adds 2 sd**2 to the RR variance: the CV of the rhythm itself, noise taken out
    cv = float(np.sqrt(max(float(np.var(rr)) - 2 * beat_sd_s**2, 0.0)) / mean)
    rmssd = float(np.sqrt(np.mean(sd**2)))
    nrmssd = rmssd / mean
    sd_share = float(np.mean(np.abs(sd) > 0.1 * med + 1.96 * np.sqrt(6.0) * beat_sd_s))
    prem = premature_mask(rr, margin_s=np.sqrt(2.0) * beat_sd_s)
    prem_frac = float(prem.sum() / (len(rr) + 1))

    # intervals around premature beats removed: is what remains regular?
    around = prem.copy()
    around[1:] |= prem[:-1]
    rest = rr[~around]
    rest_cv = float(np.std(rest) / np.mean(rest)) if len(rest) >= 3 else None

    statement: RhythmStatement
    if cv <= REGULAR_CV and sd_share <= REGULAR_SD_SHARE and prem.sum() == 0:
        statement = "regular"
        rule = (
            f"RR CV {cv:.2f} <= {REGULAR_CV}, successive differences over 10% of the median RR in "
            f"{sd_share:.0%} <= {REGULAR_SD_SHARE:.0%} of beats, no premature beats"
        )
    elif prem.sum() > 0 and rest_cv is not None and rest_cv <= REGULAR_CV:
        statement = "irregular"
        rule = (
            f"{int(prem.sum())} premature beat(s) ({prem_frac:.0%} of beats) in an otherwise regular rhythm "
            f"(RR CV without them {rest_cv:.2f} <= {REGULAR_CV})"
        )
    elif sd_share >= IRREG_SD_SHARE and nrmssd >= IRREG_NRMSSD and (p_share is None or p_share < 0.5):
        statement = "irregularly irregular"
        rule = (
            f"successive differences over 10% of the median RR in {sd_share:.0%} >= {IRREG_SD_SHARE:.0%} of beats, "
            f"normalized RMSSD {nrmssd:.2f} >= {IRREG_NRMSSD}, no premature-beat pattern explains it"
            + ("" if p_share is None else f", P waves before only {p_share:.0%} of beats")
        )
    else:
        statement = "irregular"
        parts = [
            f"RR CV {cv:.2f}",
            f"successive differences over 10% in {sd_share:.0%} of beats",
            f"normalized RMSSD {nrmssd:.2f}",
        ]
        if p_share is not None and p_share >= 0.5 and sd_share >= IRREG_SD_SHARE:
            parts.append(f"P waves before {p_share:.0%} of beats (not the pattern of atrial fibrillation)")
        rule = "not regular (" + ", ".join(parts) + ") and not irregularly irregular"
    numbers = {"cv": cv, "rmssd": rmssd, "nrmssd": nrmssd, "sd_share": sd_share, "prem_frac": prem_frac}
    return statement, rule, numbers


def rhythm(
    rec: Recording,
    channel: str | None = None,
    *,
    beat_timing_sd_s: float = 0.0,
    missed_beats_as_gaps: bool = False,
) -> RhythmResult:
    """``beat_timing_sd_s`` and ``missed_beats_as_gaps`` are for signals digitized from an image (opt-in; a
    recorded signal leaves both off): the first is the measured timing error (SD) of one beat, and a
    rhythm irregular only within it is "undetermined" rather than "irregular"; the second leaves out the
    intervals that hold room for a whole missed beat (Lipponen & Tarvainen 2019) in an otherwise regular
    rhythm, as a beat the digitization lost rather than a pause."""
    require_duration(rec, MIN_RATE_SECONDS, "rhythm analysis")
    idx = pick_beat_channel(rec, channel)
    b = beats_of(rec, idx)
    rr = np.diff(b.peaks) / b.fs
    valid = b.rate_valid() if missed_beats_as_gaps else b.rr_valid()
    n_missed = int(np.sum(b.rr_valid() & ~valid))
    rr = rr[(rr >= 0.2) & (rr <= 3.0) & valid]  # intervals across a signal gap say nothing of rhythm
    ch = b.channel

    def m(name: str, value: float | None, unit: str, q: Quality, digits: int = 3) -> Measurement:
        return Measurement(
            name=name,
            value=None if value is None else round(float(value), digits),
            unit=unit,
            channel=ch,
            quality=Quality.UNUSABLE if value is None else q,
        )

    q = b.quality
    if q == Quality.UNUSABLE or len(rr) < MIN_INTERVALS:
        why = (
            b.channel_reason
            if q == Quality.UNUSABLE
            else f"only {len(rr) + 1} beats found (at least {MIN_INTERVALS + 1} needed)"
        )
        none = Quality.UNUSABLE
        return RhythmResult(
            quality=Quality.UNUSABLE,
            method="no estimate",
            warnings=[f"{ch}: {why}"],
            recording=rec.name,
            channel=ch,
            n_beats=len(b.peaks),
            heart_rate=m("heart rate", None, "bpm", none),
            rr_cv=m("RR CV", None, "", none),
            rmssd=m("RMSSD", None, "ms", none),
            successive_irregularity=m("successive irregularity", None, "fraction", none),
            normalized_rmssd=m("normalized RMSSD", None, "", none),
            premature_fraction=m("premature beats", None, "fraction", none),
            statement="undetermined",
            rule=why,
        )

    p_share, p_note = _p_presence(rec, b)
    statement, rule, k = _statement(rr, p_share)
    if beat_timing_sd_s > 0 and statement != "regular":
        within, _, _ = _statement(rr, p_share, beat_timing_sd_s)
        if within == "regular":
            statement = "undetermined"
            rule = (
                f"{rule}; but regular within the beat timing error of the digitization "
                f"({beat_timing_sd_s * 1000:.0f} ms): the evidence cannot decide"
            )
    if n_missed:
        rule += f"; {n_missed} interval(s) with room for a missed beat left out (a beat lost in digitization)"
    mean = float(np.mean(rr))
    cv, rmssd, nrmssd, sd_share, prem_frac = k["cv"], k["rmssd"], k["nrmssd"], k["sd_share"], k["prem_frac"]

    warnings = []
    if q == Quality.POOR:
        warnings.append("noisy signal: missed or false beats may look like irregularity")
    if len(rr) < 10:
        warnings.append(f"only {len(rr) + 1} beats: a longer recording judges rhythm more reliably")
    return RhythmResult(
        quality=q,
        method=(
            f"beat-to-beat (RR) intervals from {'R-peaks' if b.kind == 'ecg' else 'PPG pulse peaks'} on {ch}; "
            f"premature beat = interval under 80% of the local median followed by a longer one; "
            f"P-wave presence by correlation with the median beat's P wave ({p_note})"
        ),
        warnings=warnings,
        recording=rec.name,
        channel=ch,
        n_beats=len(b.peaks),
        heart_rate=m("heart rate", 60.0 / mean, "bpm", q, 1),
        rr_cv=m("RR CV", cv, "", q),
        rmssd=m("RMSSD", rmssd * 1000.0, "ms", q, 1),
        successive_irregularity=m("successive irregularity", sd_share, "fraction", q),
        normalized_rmssd=m("normalized RMSSD", nrmssd, "", q),
        premature_fraction=m("premature beats", prem_frac, "fraction", q),
        p_wave_presence=None if p_share is None else m("P-wave presence", p_share, "fraction", q),
        # the cycle variation that defines sinus arrhythmia (longest minus shortest cycle)
        rr_range=m("RR range", (float(rr.max()) - float(rr.min())) * 1000.0, "ms", q, 0),
        statement=statement,
        rule=rule,
    )
