"""Interpretation statements on the QT interval and on single beats: prolonged QT interval, ventricular and
supraventricular premature complexes.

Prolonged QT: the global QTc (Bazett) against the sex-specific limits of the AHA/ACCF/HRS 2009
recommendations (QTc >= 450 ms men, >= 460 ms women); "undetermined" when the QT measurement is of poor
quality or missing, when the QRS is wide (>= 120 ms: the QT then includes prolonged depolarization, and the
recommendations ask for an adjustment the engine does not make), when the rate is fast (RR < 500 ms: Bazett
over-corrects), and when the sex is unknown and the QTc lies between the two limits.

Ventricular premature complexes: a beat that comes early (its RR < 0.8 x the median of the RRs before it)
and whose QRS is wide (>= 120 ms) or unlike the dominant beat (QRS correlation < 0.8). The width limit is
that of the AHA/ACCF/HRS 2009 recommendations for a ventricular origin (Surawicz 2009, Part III); the
prematurity and shape limits are the ones the issue names (the sources define a premature complex as one
that occurs earlier than the next expected sinus beat without a number). Atrial premature beats (early but
narrow and like the dominant beat) do not count. When the dominant beat is itself wide (a bundle branch
block), width cannot tell a ventricular beat and only the shape counts. Beats within 0.3 s of either end
of the recording are not judged (filter edge effects; set on PTB-XL folds 1-8).

Supraventricular (atrial or junctional) premature complexes: a beat that comes early by the same limit,
is followed by a longer cycle (the pause after an early beat: the next RR > 1.1 x its own, the rhythm
tool's premature-beat rule) and whose QRS is like the dominant beat (not a ventricular premature complex by
the rule above): an early impulse conducted through the normal ventricular pathway (Chou, ch. 15-16).
"Undetermined" when P waves precede fewer than half of the beats: the underlying rhythm may then be atrial
fibrillation, where early narrow beats are the irregular rhythm itself, not premature complexes.

- Rautaharju PM, Surawicz B, Gettes LS. AHA/ACCF/HRS Recommendations, Part IV: The ST Segment, T and U
  Waves, and the QT Interval. Circulation 2009;119:e241-e250.
- Surawicz B, Knilans TK. Chou's Electrocardiography in Clinical Practice, 6th ed. Saunders 2008 (ch. 16,
  ventricular premature complexes: premature, wide and bizarre QRS unlike the conducted beats).
"""

from __future__ import annotations

from cardioagent.tools.analysis.interpretation_qrs_st import RAUTAHARJU, statement
from cardioagent.tools.analysis.results import InterpretationStatement, Verdict
from cardioagent.tools.contract import Measurement, Quality
from cardioagent.tools.signal.qrs_morphology import BeatFeature, sigmoid

CHOU = (
    "Surawicz B, Knilans TK. Chou's Electrocardiography in Clinical Practice, 6th ed. Saunders 2008; "
    "Surawicz B, et al. AHA/ACCF/HRS Recommendations, Part III. Circulation 2009;119:e235-e240"
)
QTC_MS = {"male": 450.0, "female": 460.0}
WIDE_QRS_MS = 120.0
FAST_RR_MS = 500.0
PREMATURE_RATIO = 0.8
SHAPE_CORR = 0.8
MIN_BEATS = 4

CRIT_LQT = [
    "QTc (Bazett) >= 450 ms (men), >= 460 ms (women)",
    "QT measured with acceptable quality, QRS < 120 ms, RR >= 500 ms",
]
P_SHARE_MIN = 0.5  # as the first-degree AV block statement: P waves before at least half the beats
PAUSE_RATIO = 1.1
CRIT_SVPC = [
    f"premature beat: RR < {PREMATURE_RATIO} x the median of the preceding RRs, followed by an RR > "
    f"{PAUSE_RATIO} x its own",
    f"QRS like the dominant beat (correlation >= {SHAPE_CORR}, and < {WIDE_QRS_MS:.0f} ms when the dominant "
    "beat is narrow)",
    f"P waves before at least {P_SHARE_MIN:.0%} of the beats (an underlying organised atrial rhythm)",
]
CRIT_PVC = [
    f"premature beat: RR < {PREMATURE_RATIO} x the median of the preceding RRs",
    f"QRS >= {WIDE_QRS_MS:.0f} ms or QRS shape unlike the dominant beat (correlation < {SHAPE_CORR})",
]


def _value(m: Measurement | None) -> float | None:
    return None if m is None or m.value is None else float(m.value)


def long_qt(
    qtc: Measurement | None, qrs_ms: float | None, rr_ms: float | None, sex: str | None
) -> InterpretationStatement:
    id_, name = "prolonged_qt_interval", "prolonged QT interval"
    v = _value(qtc)
    if v is None or qtc is None or qtc.quality in (Quality.POOR, Quality.UNUSABLE):
        why = "QTc not measured" if v is None else f"QTc {v:.0f} ms from a poor-quality QT measurement"
        return statement(id_, name, "undetermined", None, CRIT_LQT, [why], RAUTAHARJU)
    lim = QTC_MS.get(sex or "")
    ev = [f"QTc (Bazett) {v:.0f} ms" + (f" (limit {lim:.0f} ms, {sex})" if lim else " (sex unknown)")]
    p = sigmoid(v, (lim or 455.0) - 0.5, 6)
    if qrs_ms is not None and qrs_ms >= WIDE_QRS_MS:
        return statement(
            id_, name, "undetermined", p, CRIT_LQT, ev + [f"QRS {qrs_ms:.0f} ms: wide"], RAUTAHARJU
        )
    if rr_ms is not None and rr_ms < FAST_RR_MS:
        return statement(
            id_, name, "undetermined", p, CRIT_LQT, ev + [f"RR {rr_ms:.0f} ms: fast rate"], RAUTAHARJU
        )
    if lim is None:
        verdict: Verdict = (
            "present" if v >= QTC_MS["female"] else "absent" if v < QTC_MS["male"] else "undetermined"
        )
    else:
        verdict = "present" if v >= lim else "absent"
    return statement(id_, name, verdict, p, CRIT_LQT, ev, RAUTAHARJU)


def _beat_score(b: BeatFeature, width_counts: bool) -> float:
    if b.rr_ratio is None:
        return 0.0
    early = 1 - sigmoid(b.rr_ratio, PREMATURE_RATIO, 0.03)
    wide = sigmoid(b.qrs_ms, WIDE_QRS_MS - 0.5, 4) if b.qrs_ms is not None and width_counts else 0.0
    unlike = 1 - sigmoid(b.correlation, SHAPE_CORR, 0.04)
    return early * max(wide, unlike)


def is_pvc(b: BeatFeature, width_counts: bool = True) -> bool:
    """Early and wide, or early and unlike the dominant beat. Width counts only when the dominant beat
    is narrow (with a bundle branch block every beat is wide; its shape decides)."""
    if b.rr_ratio is None or b.rr_ratio >= PREMATURE_RATIO:
        return False
    wide = width_counts and b.qrs_ms is not None and b.qrs_ms >= WIDE_QRS_MS
    return wide or b.correlation < SHAPE_CORR


def pvc(
    beats: list[BeatFeature] | None, lead: str | None, dominant_qrs_ms: float | None = None
) -> InterpretationStatement:
    id_, name = "premature_ventricular_contractions", "ventricular premature complexes"
    if not beats or len(beats) < MIN_BEATS:
        n = len(beats or [])
        return statement(id_, name, "undetermined", None, CRIT_PVC, [f"{n} beats: too few to judge"], CHOU)
    early = [b for b in beats if b.rr_ratio is not None and b.rr_ratio < PREMATURE_RATIO]
    width_counts = dominant_qrs_ms is None or dominant_qrs_ms < WIDE_QRS_MS
    hits = [b for b in beats if is_pvc(b, width_counts)]
    ev = [f"{len(hits)} of {len(beats)} beats premature and wide or unlike the dominant beat (lead {lead})"]
    ev.append(f"{len(early)} premature beat(s) in all")
    for b in hits[:4]:
        qrs = "" if b.qrs_ms is None else f", QRS {b.qrs_ms:.0f} ms"
        ev.append(
            f"beat at sample {b.sample}: RR {b.rr_ratio:.2f} x median{qrs}, correlation {b.correlation:.2f}"
        )
    p = max((_beat_score(b, width_counts) for b in beats), default=0.0)
    if not width_counts:
        ev.append(f"dominant QRS {dominant_qrs_ms:.0f} ms: wide already, QRS shape decides")
    return statement(id_, name, "present" if hits else "absent", p, CRIT_PVC, ev, CHOU)


def svpc(
    beats: list[BeatFeature] | None,
    lead: str | None,
    dominant_qrs_ms: float | None = None,
    p_beat_share: float | None = None,
) -> InterpretationStatement:
    id_, name = "premature_atrial_contraction", "supraventricular premature complexes"
    if not beats or len(beats) < MIN_BEATS:
        n = len(beats or [])
        return statement(id_, name, "undetermined", None, CRIT_SVPC, [f"{n} beats: too few to judge"], CHOU)
    width_counts = dominant_qrs_ms is None or dominant_qrs_ms < WIDE_QRS_MS
    hits = []
    for prev, b, nxt in zip(beats, beats[1:], beats[2:], strict=False):
        if b.rr_ratio is None or b.rr_ratio >= PREMATURE_RATIO or is_pvc(b, width_counts):
            continue
        if nxt.sample - b.sample > PAUSE_RATIO * (b.sample - prev.sample):
            hits.append(b)
    ev = [
        f"{len(hits)} of {len(beats)} beats premature, followed by a pause, QRS like the dominant beat "
        f"(lead {lead})"
    ]
    ev += [
        f"beat at sample {b.sample}: RR {b.rr_ratio:.2f} x median, correlation {b.correlation:.2f}"
        for b in hits[:4]
    ]
    if p_beat_share is None or p_beat_share < P_SHARE_MIN:
        seen = "not measured" if p_beat_share is None else f"before {p_beat_share:.0%} of beats"
        return statement(
            id_,
            name,
            "undetermined",
            None,
            CRIT_SVPC,
            ev + [f"P waves {seen}: the underlying rhythm may be atrial fibrillation"],
            CHOU,
        )
    p = 1.0 if hits else 0.0
    return statement(id_, name, "present" if hits else "absent", p, CRIT_SVPC, ev, CHOU)
