"""Synthetic 12-lead ECGs with controlled, labelled findings (pure, seeded).

The heart is modelled as one time-varying electrical dipole in 3-D (x to the patient's left, y inferior,
z anterior). Every wave (P, the parts of the QRS, ST injury current, T, flutter and fibrillatory waves)
is a direction vector in mV times a time profile, so all twelve leads come from the same heart and
agree with each other:

- limb leads are projections onto the hexaxial frontal plane (I at 0 deg, II at 60, III at 120; aVR, aVL,
  aVF scaled by sqrt(3)/2 so that Einthoven's and Goldberger's equations hold exactly: III = II - I,
  aVF = II - I/2, ...). The frontal QRS axis is then atan2(net y, net x) of the QRS loop, and the
  generator sets it by rotating the loop about the antero-posterior axis;
- precordial leads use the x/y/z coefficients of Dower's VCG-to-12-lead transform (z sign flipped: here
  positive is anterior), which gives the usual R-wave progression (rS in V1, qR in V6).

Time profiles are chosen so that the labelled intervals mean what a reader measures: QRS parts are
raised-cosine pulses with compact support (QRS duration = first to last deflection), P and T waves are
Gaussians whose tangent-method onset / end is exactly 2 sigma from the peak (the construction the
project's delineation and clinicians use), so PR = QRS onset - (P peak - 2 sigma_P) and
QT = (T peak + 2 sigma_T,down) - QRS onset.

Labels are computed from what was generated (heart rate from the beats inside the strip, axis from the
QRS loop, ST deviation and T amplitude per lead from the projections, limb-lead QRS voltage from the
projected loop), not copied from the request, so a label is true of the signal by construction.
Thresholds: bradycardia < 60 bpm, tachycardia > 100 bpm, first-degree AV block PR > 200 ms, wide QRS
>= 120 ms, long QT: QTc (Bazett) > 470 ms, low voltage: every limb lead's QRS under 0.5 mV peak to peak,
ST elevation / depression: >= 0.1 mV up / down in at least two leads other than aVR, T-wave inversion:
T <= -0.1 mV in at least two of I, II, aVF, V2-V6 (leads where T is normally upright), not counted in
LBBB whose discordant T is part of the block.

    rng = np.random.default_rng(7)
    rec, labels = generate(rng, findings={"atrial_fibrillation", "wide_qrs"})
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
from pydantic import BaseModel, Field, field_validator, model_validator

from cardioagent.models.vlm.labels import (
    FINDINGS,
    RHYTHMS,
    Finding,
    RhythmFinding,
    axis_category,
    rate_category,
)
from cardioagent.tools.signal.augment import add_baseline_wander
from cardioagent.tools.signal.recording import STANDARD_12_LEADS, Channel, ChannelKind, Modality, Recording

FS_HZ = 500.0
DURATION_S = 10.0

AVB_PR_MS = 200.0
WIDE_QRS_MS = 120.0
LONG_QTC_MS = 470.0
LOW_VOLTAGE_MV = 0.5
ST_MV = 0.1
T_INVERSION_MV = -0.1
T_UPRIGHT_LEADS = ("I", "II", "aVF", "V2", "V3", "V4", "V5", "V6")
LIMB_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF")

_S32 = math.sqrt(3.0) / 2.0


def _frontal(deg: float, scale: float = 1.0) -> tuple[float, float, float]:
    a = math.radians(deg)
    return (scale * math.cos(a), scale * math.sin(a), 0.0)


# Rows: lead vectors (x left, y inferior, z anterior). Precordial rows: Dower's coefficients, z negated.
LEAD_MATRIX = np.array(
    [
        _frontal(0.0),  # I
        _frontal(60.0),  # II
        _frontal(120.0),  # III
        _frontal(-150.0, _S32),  # aVR
        _frontal(-30.0, _S32),  # aVL
        _frontal(90.0, _S32),  # aVF
        (-0.515, 0.157, 0.917),  # V1
        (0.044, 0.164, 1.387),  # V2
        (0.882, 0.098, 1.277),  # V3
        (1.213, 0.127, 0.601),  # V4
        (1.125, 0.127, 0.086),  # V5
        (0.831, 0.076, -0.230),  # V6
    ]
)
_LEAD_INDEX = {name: i for i, name in enumerate(STANDARD_12_LEADS)}

QrsMorphology = Literal["normal", "rbbb", "lbbb", "ivcd"]
StPattern = Literal[
    "none", "inferior_elevation", "anterior_elevation", "lateral_elevation", "diffuse_depression"
]
TPattern = Literal["normal", "lateral_inversion", "inferior_inversion", "anterior_inversion"]


class SynthSpec(BaseModel):
    """Everything that defines one synthetic ECG apart from the random draws (beat-to-beat variability,
    ectopic positions, noise) that ``synthesize`` takes from its generator."""

    rhythm: RhythmFinding = "sinus_rhythm"
    heart_rate_bpm: float = Field(72.0, ge=30.0, le=200.0, description="mean ventricular rate asked for")
    af_rr_cv: float = Field(0.2, ge=0.1, le=0.4, description="AF: coefficient of variation of RR")
    flutter_conduction: int = Field(2, ge=2, le=4, description="flutter: F waves per conducted beat")
    pr_ms: float = Field(160.0, ge=110.0, le=360.0)
    qrs_ms: float = Field(92.0, ge=70.0, le=190.0)
    qrs_morphology: QrsMorphology = "normal"
    qtc_ms: float = Field(410.0, ge=340.0, le=600.0, description="Bazett")
    axis_deg: float = Field(50.0, ge=-180.0, le=180.0, description="frontal QRS axis")
    qrs_amplitude_mv: float = Field(1.2, gt=0.0, le=3.0, description="size of the main QRS vector")
    p_amplitude_mv: float = Field(0.15, ge=0.05, le=0.3)
    p_axis_deg: float = Field(55.0, ge=0.0, le=90.0)
    t_amplitude_mv: float = Field(0.35, ge=0.1, le=0.8)
    t_axis_deg: float = Field(40.0, ge=-180.0, le=180.0, description="frontal T axis of normal T waves")
    t_pattern: TPattern = "normal"
    st_pattern: StPattern = "none"
    st_mv: float = Field(0.0, ge=0.0, le=0.5, description="size of the ST injury vector")
    n_pac: int = Field(0, ge=0, le=4)
    n_pvc: int = Field(0, ge=0, le=4)
    noise_mv: float = Field(0.01, ge=0.0, le=0.1, description="white noise SD per lead")
    wander_mv: float = Field(0.05, ge=0.0, le=0.5, description="peak baseline wander per lead")
    duration_s: float = Field(DURATION_S, ge=4.0, le=60.0)
    sampling_rate_hz: float = Field(FS_HZ, ge=250.0, le=2000.0)

    @model_validator(mode="after")
    def _consistent(self) -> SynthSpec:
        if self.rhythm != "sinus_rhythm" and (self.n_pac or self.n_pvc):
            raise ValueError("premature beats are generated on a sinus rhythm only")
        if self.qrs_morphology == "lbbb" and (self.st_pattern != "none" or self.t_pattern != "normal"):
            raise ValueError("LBBB has its own discordant ST-T; primary ST or T changes are not added to it")
        return self


class SynthLabels(BaseModel):
    """What is true of one synthetic ECG (see the module docstring for every threshold)."""

    findings: list[Finding] = Field(description="sorted, from FINDINGS")
    rhythm: Literal["sinus_rhythm", "atrial_fibrillation", "atrial_flutter"]
    rate_category: Literal["bradycardia", "normal", "tachycardia"]
    heart_rate_bpm: float = Field(description="60 / mean RR of the beats inside the strip")
    axis_deg: float = Field(description="frontal QRS axis of the dominant beats, -180..180")
    axis_category: Literal["normal", "left", "right", "extreme"]
    pr_ms: float | None = Field(description="None without conducted P waves (AF, flutter)")
    qrs_ms: float
    qt_ms: float
    qtc_ms: float = Field(description="Bazett, with the mean RR")
    qrs_morphology: QrsMorphology
    flutter_conduction: int | None = None
    n_pac: int = 0
    n_pvc: int = 0
    st_pattern: StPattern = "none"
    t_pattern: TPattern = "normal"
    st_deviation_mv: dict[str, float] = Field(description="ST level per lead (injury current), mV")
    t_amplitude_mv: dict[str, float] = Field(description="T-wave peak per lead of the dominant beats, mV")
    qrs_p2p_mv: dict[str, float] = Field(description="QRS peak-to-peak per lead of the dominant beats, mV")
    st_elevation_leads: list[str] = Field(default_factory=list)
    st_depression_leads: list[str] = Field(default_factory=list)
    t_inversion_leads: list[str] = Field(default_factory=list)

    @field_validator("findings")
    @classmethod
    def _sorted_unique(cls, v: list[str]) -> list[str]:
        return sorted(set(v), key=FINDINGS.index)

    def has(self, finding: str) -> bool:
        return finding in self.findings


# ------------------------------------------------------------------------------------------ waves


@dataclass(frozen=True)
class _Wave:
    """One dipole component: ``direction`` (mV, 3-vector) times a profile in seconds from QRS onset."""

    direction: np.ndarray
    shape: Literal["hann", "gauss", "asym", "plateau"]
    params: tuple[float, ...]

    def support(self) -> tuple[float, float]:
        p = self.params
        if self.shape == "hann":  # start, width
            return p[0], p[0] + p[1]
        if self.shape == "gauss":  # centre, sigma
            return p[0] - 4.0 * p[1], p[0] + 4.0 * p[1]
        if self.shape == "asym":  # peak, sigma_up, sigma_down
            return p[0] - 4.0 * p[1], p[0] + 4.0 * p[2]
        # plateau: on (fully on at ``on``, rising over ``rise`` before it), t_peak, sigma_down: the ST
        # injury current, on from the J point and fading with the T wave
        return p[0] - p[1], p[2] + 4.0 * p[3]

    def profile(self, t: np.ndarray) -> np.ndarray:
        p = self.params
        if self.shape == "hann":
            u = np.clip((t - p[0]) / p[1], 0.0, 1.0)
            return 0.5 * (1.0 - np.cos(2.0 * np.pi * u))
        if self.shape == "gauss":
            return np.exp(-0.5 * ((t - p[0]) / p[1]) ** 2)
        if self.shape == "asym":
            s = np.where(t < p[0], p[1], p[2])
            return np.exp(-0.5 * ((t - p[0]) / s) ** 2)
        start, rise, tp, sd = p
        up = 0.5 * (1.0 - np.cos(np.pi * np.clip((t - (start - rise)) / rise, 0.0, 1.0)))
        down = np.where(t > tp, np.exp(-0.5 * ((t - tp) / sd) ** 2), 1.0)
        return up * down

    def rotated(self, deg: float) -> _Wave:
        return _Wave(_rot_z(self.direction, deg), self.shape, self.params)


def _rot_z(v: np.ndarray, deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]])


def _unit(v: tuple[float, float, float]) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    return a / np.linalg.norm(a)


def _jitter(v: tuple[float, float, float], rng: np.random.Generator, sd: float = 0.08) -> np.ndarray:
    return np.asarray(v, dtype=float) + rng.normal(0.0, sd, 3) * np.linalg.norm(v)


def _qrs_waves(morph: str, d_s: float, amp: float, rng: np.random.Generator) -> list[_Wave]:
    """The QRS loop of a conducted beat before the axis rotation (onset at 0, support [0, d_s])."""
    main_dir = _unit((math.cos(math.radians(50.0)), math.sin(math.radians(50.0)), -0.25))
    if morph in ("normal", "ivcd"):
        return [
            _Wave(amp * _jitter((-0.12, 0.05, 0.18), rng), "hann", (0.0, 0.35 * d_s)),  # septal
            _Wave(amp * _jitter(tuple(main_dir), rng, 0.05), "hann", (0.15 * d_s, 0.6 * d_s)),  # free walls
            _Wave(amp * _jitter((-0.15, -0.2, -0.2), rng), "hann", (0.6 * d_s, 0.4 * d_s)),  # basal
        ]
    if morph == "rbbb":
        # normal left-sided activation in the first ~60 ms, then slow rightward-anterior forces of the
        # late-activated right ventricle: rsR' in V1, broad S in I and V6
        return [
            _Wave(amp * _jitter((-0.12, 0.05, 0.18), rng), "hann", (0.0, 0.25 * d_s)),
            _Wave(amp * _jitter(tuple(main_dir), rng, 0.05), "hann", (0.1 * d_s, 0.42 * d_s)),
            _Wave(amp * _jitter((-0.45, 0.05, 0.55), rng), "hann", (0.48 * d_s, 0.52 * d_s)),
        ]
    if morph == "lbbb":
        # septum activated from the right: no septal q; slow leftward-posterior forces, notched:
        # QS in V1, broad (notched) R in I and V6
        return [
            _Wave(amp * _jitter((0.7, 0.25, -0.55), rng), "hann", (0.0, 0.55 * d_s)),
            _Wave(amp * _jitter((0.75, 0.05, -0.6), rng), "hann", (0.4 * d_s, 0.6 * d_s)),
        ]
    raise ValueError(f"unknown QRS morphology {morph!r}")


def _pvc_waves(rng: np.random.Generator, amp: float) -> tuple[list[_Wave], float]:
    """A wide, bizarre ventricular complex with its own axis and a discordant T. Returns (waves, width)."""
    d_s = rng.uniform(0.14, 0.18)
    axis = rng.uniform(-100.0, 190.0)
    z = rng.choice([-0.6, 0.6])  # left- or right-ventricular origin
    v1 = amp * 1.3 * _unit((math.cos(math.radians(axis)), math.sin(math.radians(axis)), z))
    v2 = _rot_z(v1, rng.uniform(-40.0, 40.0)) * rng.uniform(0.6, 1.0)
    net = v1 + v2
    t_dir = -0.45 * amp * net / np.linalg.norm(net)
    waves = [
        _Wave(v1, "hann", (0.0, 0.6 * d_s)),
        _Wave(v2, "hann", (0.4 * d_s, 0.6 * d_s)),
        _Wave(t_dir, "asym", (d_s + 0.13, 0.07, 0.05)),
    ]
    return waves, d_s


def _t_vector(spec: SynthSpec, net_qrs: np.ndarray) -> np.ndarray:
    a = spec.t_amplitude_mv
    if spec.qrs_morphology == "lbbb":  # secondary, discordant repolarisation
        return -a * net_qrs / np.linalg.norm(net_qrs)
    if spec.t_pattern == "lateral_inversion":
        return a * np.array([math.cos(math.radians(170.0)), math.sin(math.radians(170.0)), -0.1])
    if spec.t_pattern == "inferior_inversion":
        return a * np.array([math.cos(math.radians(-80.0)), math.sin(math.radians(-80.0)), 0.3])
    if spec.t_pattern == "anterior_inversion":
        return a * np.array(
            [math.cos(math.radians(spec.t_axis_deg)), math.sin(math.radians(spec.t_axis_deg)), -1.1]
        )
    return a * np.array(
        [math.cos(math.radians(spec.t_axis_deg)), math.sin(math.radians(spec.t_axis_deg)), 0.25]
    )


_ST_DIRECTIONS: dict[str, tuple[float, float, float]] = {
    # injury current towards the injured wall: elevation over it, reciprocal depression opposite
    "inferior_elevation": (math.cos(math.radians(95.0)), math.sin(math.radians(95.0)), 0.0),
    "anterior_elevation": (0.3, 0.0, 1.0),
    "lateral_elevation": (math.cos(math.radians(-25.0)), math.sin(math.radians(-25.0)), -0.1),
    # diffuse subendocardial ischaemia: depression in most leads, elevation in aVR
    "diffuse_depression": (math.cos(math.radians(-150.0)), math.sin(math.radians(-150.0)), -0.6),
}


def _st_vector(spec: SynthSpec) -> np.ndarray:
    if spec.st_pattern == "none" or spec.st_mv == 0.0:
        return np.zeros(3)
    return spec.st_mv * _unit(_ST_DIRECTIONS[spec.st_pattern])


@dataclass(frozen=True)
class _BeatModel:
    qrs: list[_Wave]
    t: _Wave
    st: _Wave | None
    qrs_s: float
    qt_s: float
    net_qrs: np.ndarray


def _dominant_beat(spec: SynthSpec, rr_s: float, rng: np.random.Generator) -> _BeatModel:
    d_s = spec.qrs_ms / 1000.0
    waves = _qrs_waves(spec.qrs_morphology, d_s, spec.qrs_amplitude_mv, rng)
    # a raised cosine's area is width / 2; the sum starts from the zero 3-vector (the waves' directions)
    net = sum((w.direction * (0.5 * w.params[1]) for w in waves), np.zeros(3))
    turn = spec.axis_deg - math.degrees(math.atan2(net[1], net[0]))
    waves = [w.rotated(turn) for w in waves]
    net = _rot_z(net, turn)
    qt_s = spec.qtc_ms / 1000.0 * math.sqrt(rr_s)
    # T shape scales with QT so that the T upslope stays clear of the ST point at fast rates
    sd_down = float(np.clip(0.1 * qt_s, 0.025, 0.045))
    sd_up = float(np.clip(0.14 * qt_s, 0.03, 0.065))
    t_peak = qt_s - 2.0 * sd_down  # tangent-method T end = peak + 2 sigma
    t_peak = max(t_peak, d_s + 0.06)
    t = _Wave(_t_vector(spec, net), "asym", (t_peak, sd_up, sd_down))
    st_v = _st_vector(spec)
    # the injury current is fully on at the J point (it rises during the last 30 ms of the QRS), so the
    # QRS ends where it should and the ST segment starts displaced, as on a real tracing
    st = None if not st_v.any() else _Wave(st_v, "plateau", (d_s, 0.03, t_peak, sd_down))
    return _BeatModel(waves, t, st, d_s, t_peak + 2.0 * sd_down, net)


# ------------------------------------------------------------------------------------ beat timing


@dataclass(frozen=True)
class _Beat:
    t: float  # QRS onset, s
    kind: Literal["conducted", "pac", "pvc"]


def _sinus_beats(spec: SynthSpec, rng: np.random.Generator, t0: float, t1: float) -> list[_Beat]:
    rr = 60.0 / spec.heart_rate_bpm
    resp_f, resp_phase = rng.uniform(0.15, 0.35), rng.uniform(0.0, 2 * np.pi)
    depth = rng.uniform(0.0, 0.025)  # respiratory sinus arrhythmia, kept small: "regular" stays regular

    def rr_at(t: float) -> float:
        return rr * (1.0 + depth * math.sin(2 * math.pi * resp_f * t + resp_phase) + rng.normal(0.0, 0.008))

    # ectopics follow chosen sinus beats that fall well inside the strip, never two in a row
    first_inside = math.ceil((0.4 - t0) / rr)
    last_inside = math.floor((spec.duration_s - 1.8 * rr - 0.5 - t0) / rr)
    candidates = list(range(first_inside, max(first_inside, last_inside) + 1))
    n_ect = min(spec.n_pac + spec.n_pvc, (len(candidates) + 1) // 2)
    chosen: list[int] = []
    pool = candidates.copy()
    while len(chosen) < n_ect and pool:
        k = int(rng.choice(pool))
        chosen.append(k)
        pool = [c for c in pool if abs(c - k) > 1]
    kinds = ["pac"] * spec.n_pac + ["pvc"] * spec.n_pvc
    rng.shuffle(kinds)
    plan = dict(zip(sorted(chosen), kinds, strict=False))

    beats: list[_Beat] = []
    t, k = t0, 0
    while t < t1:
        r = rr_at(t)
        beats.append(_Beat(t, "conducted"))
        kind = plan.get(k)
        if kind == "pac":
            te = t + rng.uniform(0.62, 0.74) * r
            beats.append(_Beat(te, "pac"))
            t = te + rr_at(te)  # the ectopic resets the sinus node: no compensatory pause
        elif kind == "pvc":
            te = t + rng.uniform(0.5, 0.68) * r
            beats.append(_Beat(te, "pvc"))
            t = t + 2.0 * r  # the sinus beat after a PVC is blocked: full compensatory pause
        else:
            t += r
        k += 1
    return beats


def _af_beats(spec: SynthSpec, rng: np.random.Generator, t0: float, t1: float) -> list[_Beat]:
    rr = 60.0 / spec.heart_rate_bpm
    beats, t = [], t0
    while t < t1:
        beats.append(_Beat(t, "conducted"))
        # uniform, not Gaussian, RR: no cluster of near-equal intervals that would read as a regular
        # rhythm with a few premature beats (CV of U(1-a, 1+a) is a / sqrt(3))
        a = math.sqrt(3.0) * spec.af_rr_cv
        t += max(0.3, rr * rng.uniform(1.0 - a, 1.0 + a))
    return beats


def _flutter_beats(
    spec: SynthSpec, rng: np.random.Generator, t0: float, t1: float, av_delay: float
) -> tuple[list[_Beat], float, float]:
    """QRS every ``flutter_conduction``-th F wave, a fixed AV delay after it. Returns (beats, F period, first F)."""
    f_period = 60.0 / (spec.heart_rate_bpm * spec.flutter_conduction)
    f0 = t0 - rng.uniform(0.0, f_period)
    beats = []
    k = 0
    while True:
        t = f0 + k * spec.flutter_conduction * f_period + av_delay
        if t >= t1:
            break
        beats.append(_Beat(t, "conducted"))
        k += 1
    return beats, f_period, f0


# --------------------------------------------------------------------------------- atrial signals


def _af_waves(t: np.ndarray, amp: float, rng: np.random.Generator) -> np.ndarray:
    """Fibrillatory waves (n x 3): two independent quasi-periodic 4-9 Hz oscillations with wandering
    frequency and amplitude, largest in V1 and the inferior leads."""
    out = np.zeros((len(t), 3))
    dt = t[1] - t[0]
    for direction in ((-0.2, 0.5, 0.85), (0.3, 0.7, 0.3)):
        f = rng.uniform(4.5, 8.5) * (1.0 + 0.12 * _smooth_noise(len(t), dt, 0.5, rng))
        phase = 2.0 * np.pi * np.cumsum(f) * dt + rng.uniform(0.0, 2 * np.pi)
        envelope = 1.0 + 0.35 * _smooth_noise(len(t), dt, 0.7, rng)
        out += np.outer(amp * envelope * np.sin(phase), _unit(direction))
    return out


def _smooth_noise(n: int, dt: float, corner_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-SD low-pass noise (moving-average smoothing of white noise)."""
    k = max(1, int(1.0 / (corner_hz * dt)))
    x = np.convolve(rng.standard_normal(n + k), np.ones(k) / k, mode="valid")[:n]
    return (x - x.mean()) / max(x.std(), 1e-12)


def _flutter_waves(t: np.ndarray, f_period: float, f0: float, amp: float) -> np.ndarray:
    """Sawtooth F waves (n x 3): in the inferior leads a slow descent then a quick return."""
    u = np.mod((t - f0) / f_period, 1.0)
    saw = np.where(u < 0.7, 0.5 - u / 0.7, -0.5 + (u - 0.7) / 0.3)
    k = 5  # ~10 ms smoothing at 500 Hz rounds the corners as real F waves are
    saw = np.convolve(np.pad(saw, k, mode="edge"), np.ones(2 * k + 1) / (2 * k + 1), mode="same")[k:-k]
    return np.outer(amp * saw, _unit((0.1, 0.95, -0.4)))


# ------------------------------------------------------------------------------------- synthesis


def _add_wave(vcg: np.ndarray, t: np.ndarray, fs: float, t_beat: float, w: _Wave) -> None:
    lo, hi = w.support()
    i0 = max(0, math.ceil((t_beat + lo) * fs))
    i1 = min(len(t), math.floor((t_beat + hi) * fs) + 1)
    if i1 <= i0:
        return
    vcg[i0:i1] += np.outer(w.profile(t[i0:i1] - t_beat), w.direction)


def _p_wave(amp: float, axis_deg: float, pr_s: float, sd: float, z: float = 0.15) -> _Wave:
    # tangent-method P onset = peak - 2 sigma, so PR (onset to QRS onset) is exactly pr_s
    direction = amp * np.array([math.cos(math.radians(axis_deg)), math.sin(math.radians(axis_deg)), z])
    return _Wave(direction, "gauss", (-pr_s + 2.0 * sd, sd))


def _lead_matrix(rng: np.random.Generator) -> np.ndarray:
    """Per-patient electrode placement and body shape: precordial gains vary by +/- 12 %."""
    m = LEAD_MATRIX.copy()
    m[6:] *= rng.uniform(0.88, 1.12, size=(6, 1))
    return m


def _projected_p2p(waves: list[_Wave], matrix: np.ndarray) -> np.ndarray:
    lo = min(w.support()[0] for w in waves)
    hi = max(w.support()[1] for w in waves)
    tt = np.arange(lo, hi + 1e-4, 1e-3)
    loop = sum(np.outer(w.profile(tt), w.direction) for w in waves)
    leads = loop @ matrix.T
    return leads.max(axis=0) - leads.min(axis=0)


def synthesize(
    spec: SynthSpec, rng: np.random.Generator, name: str | None = None
) -> tuple[Recording, SynthLabels]:
    """One synthetic 12-lead ECG (``spec.duration_s`` at ``spec.sampling_rate_hz``, mV) and its labels."""
    fs, dur = spec.sampling_rate_hz, spec.duration_s
    n = round(fs * dur)
    t = np.arange(n) / fs
    matrix = _lead_matrix(rng)
    rr_nominal = 60.0 / spec.heart_rate_bpm
    # start one to two beats before the strip so the first beat's T wave and P wave are where they belong
    t0 = -rng.uniform(1.0, 2.0) * rr_nominal
    t1 = dur + 1.0

    pr_s = spec.pr_ms / 1000.0
    f_period = f0 = None
    if spec.rhythm == "sinus_rhythm":
        beats = _sinus_beats(spec, rng, t0, t1)
    elif spec.rhythm == "atrial_fibrillation":
        beats = _af_beats(spec, rng, t0, t1)
    else:
        beats, f_period, f0 = _flutter_beats(spec, rng, t0, t1, av_delay=rng.uniform(0.18, 0.26))

    inside = np.array([b.t for b in beats if 0.0 <= b.t < dur])
    rr_mean = float(np.mean(np.diff(inside))) if len(inside) >= 2 else rr_nominal
    dom = _dominant_beat(spec, rr_mean, rng)

    vcg = np.zeros((n, 3))
    p_sd = rng.uniform(0.018, 0.024)
    sinus_p = _p_wave(spec.p_amplitude_mv, spec.p_axis_deg, pr_s, p_sd)
    pac_axis = float(rng.choice([rng.uniform(-90.0, -50.0), rng.uniform(100.0, 150.0)]))
    pac_p = _p_wave(
        spec.p_amplitude_mv * rng.uniform(0.6, 1.0), pac_axis, rng.uniform(0.12, 0.17), p_sd, -0.1
    )
    pvc_waves, _ = _pvc_waves(rng, spec.qrs_amplitude_mv)  # one focus: all PVCs of a strip look alike
    for b in beats:
        if b.kind == "pvc":
            waves = pvc_waves
        else:
            waves = dom.qrs + [dom.t] + ([dom.st] if dom.st is not None else [])
            if spec.rhythm == "sinus_rhythm":
                waves = waves + [pac_p if b.kind == "pac" else sinus_p]
        for w in waves:
            _add_wave(vcg, t, fs, b.t, w)
    if spec.rhythm == "atrial_fibrillation":
        vcg += _af_waves(t, rng.uniform(0.03, 0.08), rng)
    elif spec.rhythm == "atrial_flutter":
        assert f_period is not None and f0 is not None
        vcg += _flutter_waves(t, f_period, f0, rng.uniform(0.12, 0.22))

    ecg = vcg @ matrix.T
    if spec.wander_mv > 0:
        ecg = add_baseline_wander(ecg, fs, spec.wander_mv, rng.uniform(0.1, 0.4), rng)
    if spec.noise_mv > 0:
        ecg = ecg + rng.normal(0.0, spec.noise_mv, ecg.shape)

    labels = _labels(spec, dom, matrix, inside, beats, dur)
    digest = hashlib.sha1(np.ascontiguousarray(ecg, dtype=np.float32).tobytes()).hexdigest()[:16]
    rec = Recording(
        id=f"synth-{digest}",
        name=name or f"synthetic-{digest[:8]}",
        source_files=[],
        format="numpy",
        modality=Modality.ECG,
        sampling_rate_hz=fs,
        channels=[Channel(name=lead, kind=ChannelKind.ECG, unit="mV") for lead in STANDARD_12_LEADS],
        signal=ecg,
        header_comments=[f"synthetic ECG; findings: {', '.join(labels.findings)}"],
    )
    return rec, labels


def _labels(
    spec: SynthSpec, dom: _BeatModel, matrix: np.ndarray, inside: np.ndarray, beats: list[_Beat], dur: float
) -> SynthLabels:
    hr = 60.0 / float(np.mean(np.diff(inside)))
    rr = 60.0 / hr
    axis = math.degrees(math.atan2(dom.net_qrs[1], dom.net_qrs[0]))
    st = matrix @ (dom.st.direction if dom.st is not None else np.zeros(3))
    tamp = matrix @ dom.t.direction
    p2p = _projected_p2p(dom.qrs, matrix)
    leads = STANDARD_12_LEADS
    st_up = [lead for lead, v in zip(leads, st, strict=False) if lead != "aVR" and v >= ST_MV]
    st_down = [lead for lead, v in zip(leads, st, strict=False) if lead != "aVR" and v <= -ST_MV]
    t_inv = [lead for lead in T_UPRIGHT_LEADS if tamp[_LEAD_INDEX[lead]] <= T_INVERSION_MV]
    qt_ms = dom.qt_s * 1000.0
    qtc = qt_ms / math.sqrt(rr)
    n_pac = sum(1 for b in beats if b.kind == "pac" and 0.0 <= b.t < dur)
    n_pvc = sum(1 for b in beats if b.kind == "pvc" and 0.0 <= b.t < dur)
    pr = spec.pr_ms if spec.rhythm == "sinus_rhythm" else None

    f: set[Finding] = {spec.rhythm}
    cat = rate_category(hr)
    if cat != "normal":
        f.add(cat)
    if n_pac:
        f.add("premature_atrial_beats")
    if n_pvc:
        f.add("premature_ventricular_beats")
    if pr is not None and pr > AVB_PR_MS:
        f.add("first_degree_av_block")
    if spec.qrs_ms >= WIDE_QRS_MS:
        f.add("wide_qrs")
    if len(st_up) >= 2:
        f.add("st_elevation")
    if len(st_down) >= 2:
        f.add("st_depression")
    if len(t_inv) >= 2 and spec.qrs_morphology != "lbbb":
        f.add("t_wave_inversion")
    if max(p2p[_LEAD_INDEX[lead]] for lead in LIMB_LEADS) < LOW_VOLTAGE_MV:
        f.add("low_qrs_voltage")
    if qtc > LONG_QTC_MS:
        f.add("long_qt")
    return SynthLabels(
        findings=sorted(f),
        rhythm=spec.rhythm,
        rate_category=cat,
        heart_rate_bpm=round(hr, 1),
        axis_deg=round(axis, 1),
        axis_category=axis_category(axis),
        pr_ms=None if pr is None else round(pr, 0),
        qrs_ms=round(spec.qrs_ms, 0),
        qt_ms=round(qt_ms, 0),
        qtc_ms=round(qtc, 0),
        qrs_morphology=spec.qrs_morphology,
        flutter_conduction=spec.flutter_conduction if spec.rhythm == "atrial_flutter" else None,
        n_pac=n_pac,
        n_pvc=n_pvc,
        st_pattern=spec.st_pattern,
        t_pattern=spec.t_pattern,
        st_deviation_mv={lead: round(float(v), 3) for lead, v in zip(leads, st, strict=False)},
        t_amplitude_mv={lead: round(float(v), 3) for lead, v in zip(leads, tamp, strict=False)},
        qrs_p2p_mv={lead: round(float(v), 3) for lead, v in zip(leads, p2p, strict=False)},
        st_elevation_leads=st_up,
        st_depression_leads=st_down,
        t_inversion_leads=[] if spec.qrs_morphology == "lbbb" else t_inv,
    )


# ---------------------------------------------------------------------------------- spec sampling

# How often each finding is asked for when none are given: roughly balanced so that every finding has
# enough positives for training and for a per-finding test.
_P_RHYTHM = {"sinus_rhythm": 0.6, "atrial_fibrillation": 0.2, "atrial_flutter": 0.2}
_P_EXTRA = {
    "premature_atrial_beats": 0.22,
    "premature_ventricular_beats": 0.22,
    "first_degree_av_block": 0.25,
    "wide_qrs": 0.3,
    "st_elevation": 0.2,
    "st_depression": 0.15,
    "t_wave_inversion": 0.22,
    "low_qrs_voltage": 0.2,
    "long_qt": 0.25,
}
_SINUS_ONLY = {"premature_atrial_beats", "premature_ventricular_beats", "first_degree_av_block"}


class IncompatibleFindings(ValueError):
    """The requested findings cannot occur together in this generator."""


def sample_findings(rng: np.random.Generator) -> set[str]:
    rhythm = str(rng.choice(list(_P_RHYTHM), p=list(_P_RHYTHM.values())))
    f = {rhythm}
    u = rng.random()
    if rhythm == "atrial_flutter":
        if u < 0.45:
            f.add("tachycardia")  # 2:1
    elif u < 0.28:
        f.add("bradycardia")
    elif u < 0.58:
        f.add("tachycardia")
    for name, p in _P_EXTRA.items():
        if rng.random() < p:
            f.add(name)
    if rhythm != "sinus_rhythm":
        f -= _SINUS_ONLY
    if {"st_elevation", "st_depression"} <= f and rng.random() < 0.5:
        f.discard("st_depression")  # kept otherwise: elevation with reciprocal depression
    if "long_qt" in f and "tachycardia" in f and rhythm == "sinus_rhythm" and rng.random() < 0.5:
        f.discard("long_qt")  # keeps some sinus tachycardias clean of P-on-T overlap
    return f


def check_findings(findings: set[str]) -> None:
    unknown = set(findings) - set(FINDINGS)
    if unknown:
        raise IncompatibleFindings(f"unknown findings {sorted(unknown)}; known: {', '.join(FINDINGS)}")
    rhythms = set(findings) & set(RHYTHMS)
    if len(rhythms) > 1:
        raise IncompatibleFindings(f"one underlying rhythm only, got {sorted(rhythms)}")
    rhythm = next(iter(rhythms), "sinus_rhythm")
    if {"bradycardia", "tachycardia"} <= findings:
        raise IncompatibleFindings("bradycardia and tachycardia exclude each other")
    if rhythm != "sinus_rhythm" and findings & _SINUS_ONLY:
        raise IncompatibleFindings(f"{sorted(findings & _SINUS_ONLY)} need a sinus rhythm, not {rhythm}")
    if rhythm == "atrial_flutter" and "bradycardia" in findings:
        raise IncompatibleFindings("flutter here conducts 2:1 to 4:1 (ventricular rate >= 62 bpm)")


_PRECORDIAL_GAIN = (0.88, 1.12)  # as in _lead_matrix


def _st_lead_counts(pattern: str, mv: float) -> tuple[int, int, int, int]:
    """Leads (aVR aside) surely / possibly above +0.1 mV, and surely / possibly below -0.1 mV, over the
    range of precordial gains ``_lead_matrix`` may draw."""
    proj = LEAD_MATRIX @ (mv * _unit(_ST_DIRECTIONS[pattern]))
    keep = np.array([lead != "aVR" for lead in STANDARD_12_LEADS])
    g_lo = np.array([1.0] * 6 + [_PRECORDIAL_GAIN[0]] * 6)
    g_hi = np.array([1.0] * 6 + [_PRECORDIAL_GAIN[1]] * 6)
    weakest, strongest = proj * g_lo, proj * g_hi
    # margins of 40 % / 30 % around the 0.1 mV threshold: noise and wander must not move a lead across it
    sure, maybe = 1.4 * ST_MV, 0.7 * ST_MV
    return (
        int(np.sum(keep & (weakest >= sure))),
        int(np.sum(keep & (strongest >= maybe))),
        int(np.sum(keep & (weakest <= -sure))),
        int(np.sum(keep & (strongest <= -maybe))),
    )


def _choose_st(rng: np.random.Generator, up: bool, down: bool) -> tuple[StPattern, float]:
    """An ST pattern and size whose elevation / depression (reciprocal included) is exactly as asked."""
    if not up and not down:
        return "none", 0.0
    patterns: list[StPattern] = (
        ["inferior_elevation", "anterior_elevation", "lateral_elevation"] if up else ["diffuse_depression"]
    )
    for _ in range(200):
        pattern = cast(StPattern, str(rng.choice(patterns)))  # drawn from ``patterns``; numpy drops the type
        mv = rng.uniform(0.12, 0.45)
        up_sure, up_maybe, down_sure, down_maybe = _st_lead_counts(pattern, mv)
        if (up_sure >= 2 if up else up_maybe < 2) and (down_sure >= 2 if down else down_maybe < 2):
            return pattern, mv
    raise IncompatibleFindings(f"no ST pattern gives elevation={up} and depression={down}")


def sample_spec(rng: np.random.Generator, findings: set[str] | None = None, clean: bool = False) -> SynthSpec:
    """A spec that produces exactly ``findings`` (every finding not named is absent), or a random
    balanced set of findings when None. ``clean`` turns noise and wander off."""
    f = set(sample_findings(rng) if findings is None else findings)
    check_findings(f)
    rhythm: RhythmFinding = next(
        (r for r in RHYTHMS if r in f), "sinus_rhythm"
    )  # check_findings: one at most
    f.add(rhythm)

    conduction = 2
    if rhythm == "atrial_flutter":
        if "tachycardia" in f:
            conduction, hr = 2, rng.uniform(125.0, 165.0)
        else:
            conduction = 4
            hr = rng.uniform(63.0, 85.0)
    elif "bradycardia" in f:
        hr = rng.uniform(38.0, 55.0) if rhythm == "sinus_rhythm" else rng.uniform(45.0, 55.0)
    elif "tachycardia" in f:
        top = 118.0 if "long_qt" in f else 145.0 if rhythm == "sinus_rhythm" else 150.0
        hr = rng.uniform(107.0, top) if rhythm == "sinus_rhythm" else rng.uniform(112.0, top)
    else:
        hr = rng.uniform(64.0, 94.0) if rhythm == "sinus_rhythm" else rng.uniform(68.0, 90.0)

    morph: QrsMorphology = "normal"
    qrs = rng.uniform(80.0, 104.0)
    if "wide_qrs" in f:
        options: list[QrsMorphology] = ["rbbb", "lbbb", "ivcd"]
        if f & {"st_elevation", "st_depression", "t_wave_inversion"}:
            options.remove("lbbb")
        morph = cast(QrsMorphology, str(rng.choice(options)))  # drawn from ``options``; numpy drops the type
        qrs = {
            "rbbb": rng.uniform(128.0, 160.0),
            "lbbb": rng.uniform(135.0, 170.0),
            "ivcd": rng.uniform(125.0, 145.0),
        }[morph]

    axis_kind = rng.random()
    axis = (
        rng.uniform(-15.0, 80.0)
        if axis_kind < 0.75
        else rng.uniform(-75.0, -40.0)
        if axis_kind < 0.88
        else rng.uniform(100.0, 150.0)
    )
    if morph == "lbbb" and axis > 90.0:
        axis = rng.uniform(-60.0, 40.0)

    if "low_qrs_voltage" in f:
        amp = rng.uniform(0.2, 0.32)
    else:
        amp = rng.uniform(0.75, 1.6)

    st_pattern, st_mv = _choose_st(rng, "st_elevation" in f, "st_depression" in f)

    t_pattern: TPattern = "normal"
    t_amp = rng.uniform(0.25, 0.45)
    if "t_wave_inversion" in f:
        inversions: list[TPattern] = ["lateral_inversion", "inferior_inversion", "anterior_inversion"]
        t_pattern = cast(
            TPattern, str(rng.choice(inversions))
        )  # drawn from ``inversions``; numpy drops the type
        t_amp = rng.uniform(0.3, 0.5)
    if "low_qrs_voltage" in f and t_pattern == "normal":
        t_amp *= 0.6

    spec = SynthSpec(
        rhythm=rhythm,
        heart_rate_bpm=hr,
        af_rr_cv=rng.uniform(0.22, 0.32),
        flutter_conduction=conduction,
        pr_ms=rng.uniform(225.0, 320.0) if "first_degree_av_block" in f else rng.uniform(125.0, 185.0),
        qrs_ms=qrs,
        qrs_morphology=morph,
        qtc_ms=rng.uniform(490.0, 560.0) if "long_qt" in f else rng.uniform(380.0, 440.0),
        axis_deg=axis,
        qrs_amplitude_mv=amp,
        p_amplitude_mv=rng.uniform(0.1, 0.2),
        p_axis_deg=rng.uniform(40.0, 70.0),
        t_amplitude_mv=t_amp,
        t_axis_deg=rng.uniform(20.0, 60.0),
        t_pattern=t_pattern,
        st_pattern=st_pattern,
        st_mv=st_mv,
        n_pac=int(rng.integers(1, 4)) if "premature_atrial_beats" in f else 0,
        n_pvc=int(rng.integers(1, 4)) if "premature_ventricular_beats" in f else 0,
        noise_mv=0.0 if clean else rng.uniform(0.004, 0.025),
        wander_mv=0.0 if clean else rng.uniform(0.0, 0.15),
    )
    return spec


MAX_DRAWS = 10


def generate(
    rng: np.random.Generator, findings: set[str] | None = None, clean: bool = False, name: str | None = None
) -> tuple[Recording, SynthLabels]:
    """A synthetic ECG with exactly ``findings`` (plus the sinus rhythm when no rhythm is named), or with
    a random balanced set when None. Labels are measured on what was generated, and a few draws near a
    threshold (e.g. a PAC pushed past the strip's end, a mean rate of 100.4 bpm) can miss what was asked;
    those are drawn again, up to ``MAX_DRAWS`` times, from the same generator."""
    want = None if findings is None else set(findings)
    if want is not None:
        check_findings(want)
        if not want & set(RHYTHMS):
            want.add("sinus_rhythm")
    for _ in range(MAX_DRAWS):
        rec, labels = synthesize(sample_spec(rng, want, clean), rng, name=name)
        if want is None or set(labels.findings) == want:
            return rec, labels
    raise IncompatibleFindings(f"{MAX_DRAWS} draws did not produce exactly {sorted(want or ())}")
