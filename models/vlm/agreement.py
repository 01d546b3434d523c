"""Does the project's own classical analysis read the synthetic ECGs as their labels say?

This is what makes the generator's labels trustworthy: the heart rate, PR, QRS, QTc and rhythm
statement measured by ``cardioagent.tools.analysis`` and the ST level, T-wave sign and frontal axis
measured on the per-lead median beats of ``cardioagent.tools.signal.delineation`` are compared with the
labels of freshly generated records. The unit tests check a few seeds; this module measures many:

    .venv/bin/python -m cardioagent.models.vlm.agreement --per-case 20 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass

import numpy as np

from cardioagent.models.vlm.synth import T_UPRIGHT_LEADS, SynthLabels, generate
from cardioagent.tools.signal.recording import ChannelKind, Recording


@dataclass(frozen=True)
class LeadMeasures:
    st_mv: float  # at QRS offset + 60 ms (+ 40 ms above 100 bpm), from the PR-segment level
    t_mv: float  # largest deflection after the ST point
    qrs_area: float  # net QRS area (mV x samples)


def median_beat_measures(rec: Recording) -> tuple[dict[str, LeadMeasures], float]:
    """Per lead ST level, T peak and net QRS area on median beats aligned on the best lead's R-peaks,
    with QRS bounds delineated once on that lead; and the frontal axis, atan2(2 aVF / sqrt(3), I) of
    the net QRS areas (hexaxial geometry)."""
    from cardioagent.tools.analysis.peaks import beats_of
    from cardioagent.tools.analysis.quality import best_channel
    from cardioagent.tools.signal import delineation as dl
    from cardioagent.tools.signal.filters import fill_gaps, lowpass

    fs = float(rec.sampling_rate_hz or 0.0)
    best, _ = best_channel(rec, (ChannelKind.ECG,))
    if best is None:
        raise ValueError(f"{rec.name}: no usable ECG lead")
    peaks = np.asarray(beats_of(rec, best).peaks)
    beats, rr = dl.dominant_beats(peaks, fs, rec.n_samples)
    fid = dl.median_beat(dl.clean_for_delineation(rec.channel_data(best), fs), beats, fs)
    # No median beat (no beat window fits the record) is checked before delineating: it has nothing to read.
    d = dl.delineate_beat(fid, fs, rr) if fid is not None else None
    if fid is None or d is None or d.qrs_onset_s is None or d.qrs_offset_s is None or rr is None:
        raise ValueError(f"{rec.name}: QRS not delineated on {rec.channel_names[best]}")
    r = fid.r_index
    on, off = r + round(d.qrs_onset_s * fs), r + round(d.qrs_offset_s * fs)
    # J + 60 ms, or J + 40 ms above 100 bpm where J + 60 already reaches the T upslope
    st_at = off + int((0.04 if rr < 0.6 else 0.06) * fs)
    t_end = r + int(min(0.6, 0.65 * rr) * fs)
    # ST levels need a baseline that the ST segment itself cannot pull: the delineation's median-filter
    # baseline follows a long ST elevation, so here the baseline is a spline through the PR segments
    # ("knots", 15 ms before each QRS onset) of every beat, as ST-measuring electrocardiographs do
    knots = peaks + round(d.qrs_onset_s * fs) - int(0.015 * fs)
    knots = knots[(knots >= 5) & (knots < rec.n_samples - 5)]
    out: dict[str, LeadMeasures] = {}
    for i, lead in enumerate(rec.channel_names):
        x = _knot_detrended(lowpass(fill_gaps(rec.channel_data(i)), fs, 40.0), knots)
        mb = dl.median_beat(x, beats, fs)
        assert mb is not None
        m = mb.beat
        iso = float(np.median(m[on - int(0.03 * fs) : on - int(0.008 * fs)]))
        after = m[st_at:t_end] - iso
        out[lead] = LeadMeasures(
            st_mv=float(m[st_at] - iso),
            t_mv=float(after[int(np.argmax(np.abs(after)))]) if after.size else 0.0,
            qrs_area=float(np.sum(m[on : off + 1] - iso)),
        )
    axis = math.degrees(math.atan2(2.0 * out["aVF"].qrs_area / math.sqrt(3.0), out["I"].qrs_area))
    return out, axis


def _knot_detrended(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    from scipy.interpolate import CubicSpline

    if len(knots) < 2:
        return x - np.median(x)
    level = np.array([np.mean(x[k - 5 : k + 6]) for k in knots])
    grid = np.arange(len(x))
    base = (
        CubicSpline(knots, level, extrapolate=True)(grid)
        if len(knots) >= 4
        else np.interp(grid, knots, level)
    )
    return x - base


def limb_qrs_p2p(rec: Recording, labels: SynthLabels) -> float:
    """Largest limb-lead QRS peak-to-peak of the median beat (R-peak +/- the labelled QRS width)."""
    from cardioagent.tools.analysis.peaks import beats_of
    from cardioagent.tools.analysis.quality import best_channel
    from cardioagent.tools.signal import delineation as dl

    fs = float(rec.sampling_rate_hz or 0.0)
    best, _ = best_channel(rec, (ChannelKind.ECG,))
    if best is None:
        raise ValueError(f"{rec.name}: no usable ECG lead")
    beats, _ = dl.dominant_beats(beats_of(rec, best).peaks, fs, rec.n_samples)
    half = int(labels.qrs_ms / 1000.0 * fs)
    worst = 0.0
    for lead in ("I", "II", "III", "aVR", "aVL", "aVF"):
        mb = dl.median_beat(dl.clean_for_delineation(rec.channel_data(lead), fs), beats, fs)
        assert mb is not None
        seg = mb.beat[mb.r_index - half : mb.r_index + half + 1]
        worst = max(worst, float(np.ptp(seg)))
    return worst


CASES: dict[str, set[str]] = {
    "sinus": {"sinus_rhythm"},
    "sinus bradycardia": {"sinus_rhythm", "bradycardia"},
    "sinus tachycardia": {"sinus_rhythm", "tachycardia"},
    "atrial fibrillation": {"atrial_fibrillation"},
    "atrial flutter 2:1": {"atrial_flutter", "tachycardia"},
    "atrial flutter 4:1": {"atrial_flutter"},
    "premature atrial beats": {"sinus_rhythm", "premature_atrial_beats"},
    "premature ventricular beats": {"sinus_rhythm", "premature_ventricular_beats"},
    "first-degree AV block": {"sinus_rhythm", "first_degree_av_block"},
    "wide QRS": {"sinus_rhythm", "wide_qrs"},
    "long QT": {"sinus_rhythm", "long_qt"},
    "ST elevation": {"sinus_rhythm", "st_elevation"},
    "ST depression": {"sinus_rhythm", "st_depression"},
    "T-wave inversion": {"sinus_rhythm", "t_wave_inversion"},
    "low QRS voltage": {"sinus_rhythm", "low_qrs_voltage"},
}


def check_record(rec: Recording, labels: SynthLabels) -> dict[str, bool | float | None]:
    """The checks that apply to this record's labels: each True when the classical reading agrees."""
    from cardioagent.tools.analysis import heart_rate, intervals, rhythm

    hr = heart_rate(rec).heart_rate.value
    iv = intervals(rec)
    rh = rhythm(rec)
    out: dict[str, bool | float | None] = {
        "hr_abs_error_bpm": None if hr is None else abs(hr - labels.heart_rate_bpm),
        "rate_category": hr is not None and _category(hr) == labels.rate_category,
    }
    if labels.rhythm == "atrial_fibrillation":
        out["af_irregularly_irregular"] = rh.statement == "irregularly irregular"
    elif labels.n_pac or labels.n_pvc:
        out["premature_irregular"] = rh.statement == "irregular" and (rh.premature_fraction.value or 0) > 0
    else:
        out["regular"] = rh.statement == "regular"
    if labels.pr_ms is not None and iv.pr.value is not None:
        out["pr_side_of_200"] = (iv.pr.value > 200) == labels.has("first_degree_av_block")
        out["pr_abs_error_ms"] = abs(iv.pr.value - labels.pr_ms)
    if iv.qrs.value is not None:
        out["qrs_side_of_120"] = (iv.qrs.value >= 120) == labels.has("wide_qrs")
        out["qrs_abs_error_ms"] = abs(iv.qrs.value - labels.qrs_ms)
    if iv.qtc_bazett.value is not None:
        out["qtc_side_of_470"] = (iv.qtc_bazett.value > 470) == labels.has("long_qt")
        out["qtc_abs_error_ms"] = abs(iv.qtc_bazett.value - labels.qtc_ms)
    per_lead, axis = median_beat_measures(rec)
    out["axis_abs_error_deg"] = abs((axis - labels.axis_deg + 180.0) % 360.0 - 180.0)
    # ST-T is not judged where a median beat cannot show it: flutter waves are locked to the QRS and
    # survive the median, and a wide QRS brings its own secondary ST-T changes
    if labels.rhythm != "atrial_flutter" and not labels.has("wide_qrs"):
        up = [lead for lead, m in per_lead.items() if lead != "aVR" and m.st_mv >= 0.1]
        down = [lead for lead, m in per_lead.items() if lead != "aVR" and m.st_mv <= -0.1]
        out["st_elevation"] = (len(up) >= 2) == labels.has("st_elevation")
        out["st_depression"] = (len(down) >= 2) == labels.has("st_depression")
        if labels.st_pattern == "none":  # a depressed ST merges with T: T is judged only without ST change
            inverted = [lead for lead in T_UPRIGHT_LEADS if per_lead[lead].t_mv <= -0.1]
            out["t_wave_inversion"] = (len(inverted) >= 2) == labels.has("t_wave_inversion")
    out["low_qrs_voltage"] = (limb_qrs_p2p(rec, labels) < 0.5) == labels.has("low_qrs_voltage")
    return out


def _category(bpm: float) -> str:
    return "bradycardia" if bpm < 60 else "tachycardia" if bpm > 100 else "normal"


def measure(per_case: int, seed: int = 0) -> dict:
    rows = {}
    t0 = time.perf_counter()
    for k, (case, findings) in enumerate(CASES.items()):
        results = []
        for i in range(per_case):
            rng = np.random.default_rng([seed, k, i])
            rec, labels = generate(rng, findings)
            results.append(check_record(rec, labels))
        keys = sorted({key for r in results for key in r})
        summary: dict[str, dict[str, float]] = {}
        for key in keys:
            vals = [v for r in results if (v := r.get(key)) is not None]
            if not vals:
                continue
            if isinstance(vals[0], bool):
                summary[key] = {"agree": sum(vals), "n": len(vals)}
            else:
                summary[key] = {"median": float(np.median(vals)), "max": float(np.max(vals)), "n": len(vals)}
        rows[case] = summary
    return {"per_case": per_case, "seed": seed, "seconds": round(time.perf_counter() - t0, 1), "cases": rows}


def _table(result: dict) -> str:
    lines = [f"{'case':30s} check: agreement (or median / max error)"]
    for case, summary in result["cases"].items():
        parts = []
        for key, v in summary.items():
            parts.append(
                f"{key} {v['agree']}/{v['n']}" if "agree" in v else f"{key} {v['median']:.1f}/{v['max']:.1f}"
            )
        lines.append(f"{case:30s} " + "; ".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-case", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the result here")
    args = ap.parse_args(argv)
    result = measure(args.per_case, args.seed)
    print(_table(result))
    print(f"{result['seconds']} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
