"""Per-lead noise kinds of an ECG: baseline drift, static noise, burst noise and electrode problems.

The four kinds are the noise columns of PTB-XL (Wagner et al. 2020), which ECG-QA (Oh et al. 2023) turned
into per-lead yes/no questions ("Does this ECG show static noise in lead aVF?"). Everything here is a pure
function of arrays (neurokit2 style):

* ``parse_noise_leads`` turns PTB-XL's free-text lead strings (" , I-AVR,  ", "alles", "V1,V2") into lead
  names, the way ECG-QA reads them: ranges run in the standard order I, II, III, aVR, aVL, aVF, V1..V6,
  "alles"/"all"/"noisy recording" mean every lead, and words naming no lead ("leicht") mean none.
* ``lead_noise_features`` measures one lead with published signal-quality indices: the share of power
  below 0.7 Hz and the excursion of the low-passed baseline (basSQI, Li, Mark & Clifford 2008), the
  high-frequency noise floor between beats, the >40 Hz and mains power shares and kurtosis (kSQI, pSQI,
  Clifford et al. 2012), windowed noise-floor and amplitude outliers against the lead's own median
  (bursts), and integrity checks (flat, clipped, near-zero amplitude, steps) for electrode problems.
* ``recording_noise_features`` adds what only a multi-lead recording can tell: each lead's noise floor and
  baseline relative to the recording's median lead, the best correlation with any other lead, and the
  Einthoven/Goldberger residual of the limb leads (III = II - I, aVR = -(I + II)/2, ...).
* ``noise_kinds`` turns those features into a probability per lead and kind with the small model in
  ``noise_model.json`` (logistic regressions or single-feature rules fitted on PTB-XL by
  ``bench/ptbxl_noise.py``; no scikit-learn at run time), plus hard integrity rules for disconnected leads.

How far to trust it (bench/results/ptbxl_noise.json, PTB-XL records 1-250, folds 9-10 held out): baseline
drift is measured well (lead-level AUC ~0.96); static noise moderately (~0.85-0.88); burst noise and electrode
problems have 4 and 0 positive records to fit on, so their rules are set a priori and their numbers are
anecdotes. PTB-XL's labels are themselves coarse (lead ranges such as "I-AVR", bursts seen but unlabelled).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import signal as sps
from scipy import stats
from scipy.ndimage import median_filter

from cardioagent.tools.signal.filters import bandpass, fill_gaps, highpass, lowpass

NoiseKind = Literal["baseline_drift", "static_noise", "burst_noise", "electrodes_problems"]
NOISE_KINDS: tuple[NoiseKind, ...] = ("baseline_drift", "static_noise", "burst_noise", "electrodes_problems")
LEAD_ORDER = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
LIMB_LEADS = LEAD_ORDER[:6]
MODEL_PATH = Path(__file__).with_name("noise_model.json")
MIN_SECONDS = 2.0

_CANON = {name.upper(): name for name in LEAD_ORDER}
_ALL_WORDS = ("alles", "all", "noisy recording", "gesamte", "komplett")
_LEAD_RE = re.compile(r"AVR|AVL|AVF|V[1-6]|III|II|I")


# ------------------------------------------------------------------------------------------ lead strings


def canonical_lead(name: str) -> str | None:
    """'avf', 'AVF', 'aVF', 'lead aVF' -> 'aVF'; None when ``name`` is not one of the 12 standard leads."""
    key = re.sub(r"^(LEAD|ABLEITUNG)\s*", "", str(name).strip().upper()).replace(" ", "")
    return _CANON.get(key)


def _tokens(part: str) -> list[str]:
    """Lead names in one comma-separated part, which may glue names together ('V1V6'); a part that is not
    made of lead names only ('leicht', 'slight') names none."""
    s = part.upper().replace(" ", "")
    if not s or not re.fullmatch(f"(?:{_LEAD_RE.pattern})+", s):
        return []
    return _LEAD_RE.findall(s)


def parse_noise_leads(text: Any) -> list[str]:
    """The leads a PTB-XL noise string names, in standard order.

    ``None``/NaN/"" -> []; "alles", "all", "noisy recording" -> all 12; "I-AVR" -> I, II, III, aVR;
    "II,III,AVF-V6" -> II, III, aVF, V1..V6; "V1V6" -> V1, V6; parts that name no lead ("leicht",
    "slight") add nothing.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    s = str(text).strip()
    if not s or s.lower() == "nan":
        return []
    low = s.lower()
    if any(w in low for w in _ALL_WORDS):
        return list(LEAD_ORDER)
    chosen: set[int] = set()
    for part in s.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            ends = [t for t in (_tokens(p) for p in part.split("-")) if t]
            if len(ends) == 2:
                a, b = LEAD_ORDER.index(_CANON[ends[0][-1]]), LEAD_ORDER.index(_CANON[ends[1][0]])
                lo, hi = min(a, b), max(a, b)
                chosen.update(range(lo, hi + 1))
                chosen.update(LEAD_ORDER.index(_CANON[t]) for t in ends[0][:-1] + ends[1][1:])
                continue
        chosen.update(LEAD_ORDER.index(_CANON[t]) for t in _tokens(part))
    return [LEAD_ORDER[i] for i in sorted(chosen)]


def noise_labels(row: Mapping[str, Any]) -> dict[str, list[str]]:
    """Per kind, the leads a PTB-XL database row marks (columns named as in ``NOISE_KINDS``)."""
    return {kind: parse_noise_leads(row.get(kind)) for kind in NOISE_KINDS}


# ------------------------------------------------------------------------------------- per-lead features


def _band_power(f: np.ndarray, p: np.ndarray, lo: float, hi: float) -> float:
    m = (f >= lo) & (f < hi)
    return float(np.trapezoid(p[m], f[m])) if m.sum() > 1 else 0.0


def _windows(x: np.ndarray, w: int) -> np.ndarray:
    n = len(x) // w
    return x[: n * w].reshape(n, w) if n else x[None, :]


def _safe_ratio(a: float, b: float, floor: float = 1e-12) -> float:
    return float(a / max(b, floor))


def baseline(x: np.ndarray, fs: float) -> np.ndarray:
    """The lead's baseline: 0.2-s then 0.6-s median filters (computed at about 50 Hz), low-passed at 0.7 Hz."""
    step = max(int(fs // 50), 1)
    y = x[::step]
    f = fs / step
    k1, k2 = int(0.2 * f) | 1, int(0.6 * f) | 1
    b = median_filter(median_filter(y, size=k1, mode="nearest"), size=k2, mode="nearest")
    b = np.interp(np.arange(len(x)), np.arange(len(y)) * step, b)
    return lowpass(b, fs, 0.7, order=2)


def lead_noise_features(x: np.ndarray, fs: float) -> dict[str, float]:
    """Noise features of one ECG lead (mV). Keys: see the module docstring; all finite floats, or NaN when
    the lead is too short or empty to measure."""
    x = np.asarray(x, dtype=float)
    nan_fraction = float(np.mean(~np.isfinite(x))) if len(x) else 1.0
    feats: dict[str, float] = {"nan_fraction": nan_fraction}
    names = (
        "amplitude_mv",
        "log_low_power_ratio",
        "baseline_range_mv",
        "baseline_rel",
        "baseline_slope_rel",
        "hf_floor_mv",
        "hf_floor_rel",
        "log_hf_power_ratio",
        "mains_ratio",
        "kSQI",
        "pSQI",
        "burst_floor_ratio",
        "burst_excess_mv",
        "burst_frac",
        "burst_ptp_ratio",
        "burst_step_rel",
        "flat_fraction",
        "clipping_fraction",
        "low_amp_fraction",
    )
    if len(x) < MIN_SECONDS * fs or nan_fraction > 0.5 or np.nanstd(x) == 0:
        feats.update({k: float("nan") for k in names})
        if len(x) and np.isfinite(x).any() and np.nanstd(x) == 0:
            feats.update(flat_fraction=1.0, amplitude_mv=0.0, low_amp_fraction=1.0, clipping_fraction=0.0)
        return feats
    x = fill_gaps(x)
    x = x - np.median(x)
    hi = min(40.0, 0.45 * fs)
    # Statistics skip the first and last 0.25 s: filter transients, start-up transients and the
    # end-of-record steps some recorders leave there would otherwise look like drift or bursts.
    edge = int(0.25 * fs) if len(x) > 4 * fs else 0
    core = slice(edge, len(x) - edge)
    clean = bandpass(x, fs, 0.7, hi)
    # robust peak-to-peak of the QRS-carrying band: the lead's own amplitude scale
    amp = float(np.percentile(clean[core], 99.5) - np.percentile(clean[core], 0.5))
    amp_floor = max(amp, 0.02)

    xc = x[core] - np.mean(x[core])
    f, p = sps.welch(xc, fs=fs, nperseg=min(len(xc), int(4 * fs)))
    low = _band_power(f, p, 0.0, 0.7)
    ecg_band = _band_power(f, p, 0.7, hi)
    hf = _band_power(f, p, 40.0, 0.5 * fs) if fs > 90 else 0.0
    mains = 0.0
    for line in (50.0, 60.0):
        if line < 0.5 * fs - 1:
            mains = max(mains, _band_power(f, p, line - 1.0, line + 1.0))

    # baseline: two median filters (0.2 s, then 0.6 s) remove QRS complexes and P/T waves (de Chazal et
    # al. 2004), a 0.7 Hz low-pass keeps the slow part (respiration, movement, electrode drift)
    base = baseline(x, fs)
    base = base[core]
    base_range = float(np.percentile(base, 99) - np.percentile(base, 1))
    step = max(int(fs), 1)
    slope = np.abs(np.diff(base[::step])).max() if len(base) > 2 * step else 0.0

    # static noise: the high-frequency floor between beats (median, so QRS complexes barely count)
    hp = highpass(x, fs, min(20.0, 0.4 * fs), order=2)
    floor = 1.4826 * float(np.median(np.abs(hp[core] - np.median(hp[core]))))

    # bursts: 0.25-s windows (hop 0.125 s) whose noise floor (25th percentile of the >20 Hz magnitude, which
    # a QRS complex cannot lift), or 1-s windows whose amplitude, stand out from the lead's median window
    w_q = max(int(0.25 * fs), 4)
    hp_core = np.abs(hp[core])
    hop = max(w_q // 2, 1)
    starts = range(0, max(len(hp_core) - w_q, 0) + 1, hop)
    win_floor = np.array([np.percentile(hp_core[i : i + w_q], 25) for i in starts])
    med_floor = float(np.median(win_floor))
    w_one = max(int(fs), 4)
    win_ptp = np.ptp(_windows(clean[core], w_one), axis=1)
    med_ptp = max(float(np.median(win_ptp)), 1e-3)
    # steps: largest jump between successive 40-ms medians of the raw lead (electrode pops, movement)
    w_step = max(int(0.04 * fs), 1)
    med_steps = np.median(_windows(x[core], w_step), axis=1)
    jump = float(np.abs(np.diff(med_steps)).max()) if len(med_steps) > 1 else 0.0

    rng = np.ptp(x)
    win_rng = np.ptp(_windows(x, w_one), axis=1)
    at_rail = (x == x.min()) | (x == x.max())
    feats.update(
        {
            "amplitude_mv": amp,
            "log_low_power_ratio": float(np.log10(_safe_ratio(low, low + ecg_band) + 1e-6)),
            "baseline_range_mv": base_range,
            "baseline_rel": base_range / amp_floor,
            "baseline_slope_rel": float(slope) / amp_floor,
            "hf_floor_mv": floor,
            "hf_floor_rel": floor / amp_floor,
            "log_hf_power_ratio": float(np.log10(_safe_ratio(hf, ecg_band) + 1e-8)),
            "mains_ratio": _safe_ratio(mains, ecg_band + hf),
            "kSQI": float(stats.kurtosis(clean[core], fisher=False)),
            "pSQI": _safe_ratio(_band_power(f, p, 5.0, 15.0), _band_power(f, p, 5.0, hi)),
            # 2 µV added to the median: a quantisation-level floor must not turn tiny wobbles into big ratios
            "burst_floor_ratio": float(win_floor.max() / (med_floor + 0.002)),
            "burst_excess_mv": float(win_floor.max() - med_floor),
            "burst_frac": float(np.mean(win_floor > 2.0 * med_floor + 0.002)),
            "burst_ptp_ratio": float(win_ptp.max() / med_ptp),
            "burst_step_rel": jump / amp_floor,
            "flat_fraction": float(np.mean(win_rng <= 1e-6 * rng)) if rng > 0 else 1.0,
            "clipping_fraction": float(np.mean(at_rail[1:] & at_rail[:-1])),
            "low_amp_fraction": float(np.mean(np.ptp(_windows(clean, w_one), axis=1) < 0.03)),
        }
    )
    return feats


# ----------------------------------------------------------------------------------- cross-lead features

# Each limb lead as derived from two others (Einthoven: I + III = II; Goldberger augmented leads).
_DERIVED = {
    "I": (("II", 1.0), ("III", -1.0)),
    "II": (("I", 1.0), ("III", 1.0)),
    "III": (("II", 1.0), ("I", -1.0)),
    "aVR": (("I", -0.5), ("II", -0.5)),
    "aVL": (("I", 1.0), ("II", -0.5)),
    "aVF": (("II", 1.0), ("I", -0.5)),
}


def recording_noise_features(
    signal: np.ndarray, fs: float, lead_names: Sequence[str]
) -> list[dict[str, float]]:
    """``lead_noise_features`` of every lead of ``signal`` (n_samples, n_leads) plus cross-lead context:
    ``hf_floor_vs_median`` and ``baseline_vs_median`` (this lead over the recording's median lead),
    ``max_corr_other`` (best |correlation| with another lead, 0.7-40 Hz) and ``einthoven_resid`` (RMS of
    the lead minus its Einthoven/Goldberger reconstruction, over the lead's RMS; limb leads only). The
    context features are NaN for single-lead recordings."""
    sig = np.asarray(signal, dtype=float)
    if sig.ndim == 1:
        sig = sig[:, None]
    n_leads = sig.shape[1]
    per = [lead_noise_features(sig[:, j], fs) for j in range(n_leads)]
    ctx_keys = ("hf_floor_vs_median", "baseline_vs_median", "max_corr_other", "einthoven_resid")
    for f in per:
        f.update({k: float("nan") for k in ctx_keys})
    if n_leads < 2 or sig.shape[0] < MIN_SECONDS * fs:
        return per
    canon = [canonical_lead(n) for n in lead_names]
    ok = [j for j in range(n_leads) if np.isfinite(per[j]["amplitude_mv"]) and per[j]["amplitude_mv"] > 0]
    if len(ok) >= 2:
        floors = np.array([per[j]["hf_floor_mv"] for j in ok])
        bases = np.array([per[j]["baseline_range_mv"] for j in ok])
        mf, mb = max(float(np.median(floors)), 1e-4), max(float(np.median(bases)), 1e-3)
        clean = np.column_stack([bandpass(fill_gaps(sig[:, j]), fs, 0.7, 40.0) for j in ok])
        sd = clean.std(axis=0)
        z = (clean - clean.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        corr = np.abs(z.T @ z) / len(z)
        np.fill_diagonal(corr, 0.0)
        for k, j in enumerate(ok):
            per[j]["hf_floor_vs_median"] = per[j]["hf_floor_mv"] / mf
            per[j]["baseline_vs_median"] = per[j]["baseline_range_mv"] / mb
            per[j]["max_corr_other"] = float(corr[k].max())
        index = {c: ok[k] for k, c in enumerate(canon[j] for j in ok) if c is not None}
        col = {j: clean[:, k] for k, j in enumerate(ok)}
        for lead, parts in _DERIVED.items():
            if lead in index and all(p in index for p, _ in parts):
                y = col[index[lead]]
                rec = sum(w * col[index[p]] for p, w in parts)
                per[index[lead]]["einthoven_resid"] = float(
                    np.sqrt(np.mean((y - rec) ** 2)) / max(np.sqrt(np.mean(y**2)), 1e-6)
                )
    return per


# ------------------------------------------------------------------------------------------------- model


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def load_model(path: str | Path | None = None) -> dict[str, Any]:
    """The shipped (or a given) noise model: per kind, features, scaling, coefficients and threshold."""
    return _load(str(path or MODEL_PATH))


def _transform(value: float, how: str) -> float:
    if how == "log":
        return math.log10(max(value, 1e-6))
    return value


Z_CLIP = 6.0  # standardised features are clipped to +-6 so one extreme value cannot saturate alone


def standardise(value: float, how: str, mean: float, scale: float) -> float:
    """The model's input for one raw feature value: optionally log10, centred, scaled, clipped."""
    return max(-Z_CLIP, min(Z_CLIP, (_transform(value, how) - mean) / scale))


def kind_probability(features: Mapping[str, float], spec: Mapping[str, Any]) -> float | None:
    """Probability of one kind from one lead's features with one model spec.

    ``type: "logistic"``: a logistic regression over standardised (optionally log10) features; a missing
    feature counts as the training mean; None when every feature is missing. ``type: "rule"``: any of
    ``conditions`` (feature, "<" or ">", value) met gives ``p_positive``, else ``p_negative``; None when no
    condition's feature is measurable."""
    if spec.get("type") == "rule":
        seen, hit = 0, False
        for c in spec["conditions"]:
            v = features.get(c["feature"])
            if v is None or not math.isfinite(v):
                continue
            seen += 1
            hit = hit or (v < c["value"] if c["op"] == "<" else v > c["value"])
        if not seen:
            return None
        return float(spec["p_positive"] if hit else spec["p_negative"])
    z = float(spec["intercept"])
    seen = 0
    for name, how, mean, scale, coef in zip(
        spec["features"], spec["transforms"], spec["mean"], spec["scale"], spec["coef"], strict=True
    ):
        v = features.get(name)
        if v is None or not math.isfinite(v):
            continue
        seen += 1
        z += coef * standardise(float(v), how, mean, scale)
    if not seen:
        return None
    return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


def _integrity_problem(f: Mapping[str, float]) -> str | None:
    """Hard evidence of a disconnected or saturated electrode, independent of any learned model."""
    if f.get("nan_fraction", 0.0) > 0.5:
        return f"{f['nan_fraction']:.0%} of samples missing"
    if f.get("flat_fraction", 0.0) > 0.5:
        return f"flat in {f['flat_fraction']:.0%} of 1-s windows"
    amp = f.get("amplitude_mv")
    if amp is not None and math.isfinite(amp) and amp < 0.03:
        return f"amplitude {amp * 1000:.0f} µV (near-flat)"
    if f.get("clipping_fraction", 0.0) > 0.05:
        return f"clipped in {f['clipping_fraction']:.0%} of samples"
    if amp is not None and math.isfinite(amp) and amp > 8.0:
        return f"amplitude {amp:.1f} mV (implausibly large)"
    return None


_EVIDENCE = {
    "baseline_drift": ("baseline_range_mv", "baseline excursion {:.2f} mV"),
    "static_noise": ("hf_floor_mv", "noise floor {:.3f} mV"),
    "burst_noise": ("burst_floor_ratio", "noisiest 0.25-s window {:.1f}x the median noise floor"),
    "electrodes_problems": ("max_corr_other", "best correlation with another lead {:.2f}"),
}


def noise_kinds(
    signal: np.ndarray, fs: float, lead_names: Sequence[str], model: Mapping[str, Any] | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per lead name, per kind: ``{"probability": float | None, "present": bool | None, "evidence": str}``.

    ``signal`` is (n_samples, n_leads) in mV (or 1-D for one lead). ``present`` is the probability against
    the kind's threshold; None (undetermined) when the lead cannot be measured (under 2 s, mostly missing)
    or, for the other kinds, when an electrode problem makes the lead unreadable. See ``lead_noise_kinds``
    for the same in lead order (names need not be unique there)."""
    return dict(zip(lead_names, lead_noise_kinds(signal, fs, lead_names, model), strict=True))


def lead_noise_kinds(
    signal: np.ndarray, fs: float, lead_names: Sequence[str], model: Mapping[str, Any] | None = None
) -> list[dict[str, dict[str, Any]]]:
    """``noise_kinds`` as a list in the order of the signal's columns."""
    model = model or load_model()
    feats = recording_noise_features(signal, fs, lead_names)
    out: list[dict[str, dict[str, Any]]] = []
    for f in feats:
        lead_out: dict[str, dict[str, Any]] = {}
        hard = _integrity_problem(f)
        measurable = math.isfinite(f.get("amplitude_mv", float("nan")))
        for kind in NOISE_KINDS:
            spec = model["kinds"][kind]
            key, fmt = _EVIDENCE[kind]
            v = f.get(key)
            ev = fmt.format(v) if v is not None and math.isfinite(v) else ""
            r = f.get("einthoven_resid")
            if kind == "electrodes_problems" and r is not None and math.isfinite(r):
                ev = (ev + "; " if ev else "") + f"Einthoven residual {r:.2f}"
            if kind == "electrodes_problems" and hard:
                lead_out[kind] = {"probability": 1.0, "present": True, "evidence": hard}
                continue
            if hard or not measurable:
                lead_out[kind] = {
                    "probability": None,
                    "present": None,
                    "evidence": f"not assessed: {hard or 'lead too short or empty'}",
                }
                continue
            p = kind_probability(f, spec)
            if p is None and kind == "electrodes_problems":
                p = float(spec.get("p_negative", 0.0))
                lead_out[kind] = {
                    "probability": round(p, 4),
                    "present": False,
                    "evidence": "not flat, clipped or implausibly sized (no other leads to compare)",
                }
                continue
            if p is None:
                lead_out[kind] = {"probability": None, "present": None, "evidence": "no feature measurable"}
                continue
            thr = float(spec["threshold"])
            lead_out[kind] = {
                "probability": round(p, 4),
                "present": bool(p >= thr),
                "evidence": f"{ev}; p={p:.2f} vs threshold {thr:.2f}"
                if ev
                else f"p={p:.2f} vs threshold {thr:.2f}",
            }
        out.append(lead_out)
    return out
