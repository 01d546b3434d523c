"""Interpretation statements from QRS voltages, Q waves and the ST-T segment of the per-lead median beats:
left ventricular hypertrophy, low QRS voltage, pathological Q waves with their territory, ST elevation,
ST depression, T-wave inversion and non-specific ST-T change.

Input: each lead's waves inside the global QRS window (``LeadQrsShape``: amplitudes in mV from the
isoelectric level), each lead's ST levels and T amplitude (``LeadStT``), the patient's sex and age (from
the recording's demographics; None when unknown) and, when one is present, a QRS confounder (e.g. left
bundle branch block) under which Q-wave and ST-T criteria do not apply. Output: ``InterpretationStatement``
objects keyed by vocabulary ids (tools.vocabulary: SCP LVH, LVOLT, IMI, ASMI, LMI, QWAVE, STE_, STD_,
INVT, NST_), with the criteria and thresholds, per-lead evidence, a 0-1 score (soft thresholds around the
published limits, for ranking; not calibrated) and a verdict: "undetermined" when the leads a criterion
needs were not measured, or (Cornell voltage) when the sex is unknown and the voltage lies between the
men's and women's limits.

Criteria (thresholds unchanged from the sources):
- Sokolow M, Lyon TP. The ventricular complex in left ventricular hypertrophy as obtained by unipolar
  precordial and limb leads. Am Heart J 1949;37:161-186 (SV1 + RV5 or RV6 >= 3.5 mV).
- Casale PN, Devereux RB, Kligfield P, et al. Electrocardiographic detection of left ventricular
  hypertrophy: development and prospective validation of improved criteria. J Am Coll Cardiol
  1985;6:572-580 (Cornell voltage RaVL + SV3 > 2.8 mV men, > 2.0 mV women); both reviewed in Hancock EW,
  et al. AHA/ACCF/HRS Recommendations, Part V: Chamber Hypertrophy. Circulation 2009;119:e251-e261.
- Madias JE. Low QRS voltage and its causes. J Electrocardiol 2008;41:498-500 (peak-to-peak QRS < 0.5 mV
  in every limb lead or < 1.0 mV in every precordial lead).
- Thygesen K, Alpert JS, Jaffe AS, et al. Fourth Universal Definition of Myocardial Infarction (2018).
  Circulation 2018;138:e618-e651: pathological Q waves (any Q >= 20 ms or QS in V2-V3; Q >= 30 ms and
  >= 0.1 mV deep or QS in I, II, aVL, aVF, V4-V6; in two leads of a contiguous grouping), ST elevation at
  the J point (>= 0.1 mV; V2-V3 >= 0.2 mV men >= 40 y, >= 0.25 mV men < 40 y, >= 0.15 mV women), horizontal
  or downsloping ST depression >= 0.05 mV and T inversion > 0.1 mV with prominent R or R/S > 1, each in two
  contiguous leads, in the absence of QRS confounders (LBBB, LVH, WPW).
- Rautaharju PM, Surawicz B, Gettes LS. AHA/ACCF/HRS Recommendations, Part IV: The ST Segment, T and U
  Waves, and the QT Interval. Circulation 2009;119:e241-e250 (flat T wave: amplitude between -0.1 and
  +0.1 mV in I, II, aVL and V4-V6, where the R wave is dominant).

Operational choices (the sources leave them open): lead III joins II and aVF in the inferior grouping for
Q waves as it does for ST deviations; the precordial leads count as contiguous when adjacent (V1-V2, ...);
"horizontal or downsloping" ST depression is depression >= 0.05 mV both at J and at J+80 ms (an upsloping
ST returns towards baseline by then); a flat T counts only where R >= 0.5 mV (a small QRS has a small T),
and non-specific ST-T change needs ``NST_MIN_LEADS`` such leads (set on PTB-XL folds 1-8).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cardioagent.tools.analysis.results import InterpretationStatement, LeadQrsShape, LeadStT, Verdict
from cardioagent.tools.signal.qrs_morphology import sigmoid

HANCOCK = (
    "Sokolow M, Lyon TP. Am Heart J 1949;37:161-186; Casale PN, et al. J Am Coll Cardiol 1985;6:572-580; "
    "Hancock EW, et al. AHA/ACCF/HRS Recommendations for the Standardization and Interpretation of the "
    "Electrocardiogram, Part V: Electrocardiogram Changes Associated With Cardiac Chamber Hypertrophy. "
    "Circulation 2009;119:e251-e261"
)
MADIAS = "Madias JE. Low QRS voltage and its causes. J Electrocardiol 2008;41:498-500"
UDMI = (
    "Thygesen K, Alpert JS, Jaffe AS, et al. Fourth Universal Definition of Myocardial Infarction (2018). "
    "Circulation 2018;138:e618-e651"
)
RAUTAHARJU = (
    "Rautaharju PM, Surawicz B, Gettes LS. AHA/ACCF/HRS Recommendations for the Standardization and "
    "Interpretation of the Electrocardiogram, Part IV: The ST Segment, T and U Waves, and the QT Interval. "
    "Circulation 2009;119:e241-e250"
)

SOKOLOW_MV = 3.5
CORNELL_MV = {"male": 2.8, "female": 2.0}
LIMB = ("I", "II", "III", "aVR", "aVL", "aVF")
PRECORDIAL = ("V1", "V2", "V3", "V4", "V5", "V6")
LOW_LIMB_MV, LOW_PRECORDIAL_MV = 0.5, 1.0
Q_MS, Q_MV, Q_V23_MS = 30.0, 0.1, 20.0
STE_MV = 0.1
STD_MV = 0.05
TINV_MV = 0.1
FLAT_T_MV = 0.1
FLAT_T_MIN_R_MV = 0.5
FLAT_T_LEADS = ("I", "II", "aVL", "V4", "V5", "V6")
NST_MIN_LEADS = 2  # chosen on PTB-XL folds 1-8 among 1 / 2 / 3: F1 vs NST_|NDT 0.27 / 0.29 / 0.18

# contiguous leads (4th UDMI: I, aVL; II, III, aVF; V1-V6, adjacent here); aVR is left out
PAIRS_LIMB = [("I", "aVL"), ("II", "III"), ("II", "aVF"), ("III", "aVF")]
PAIRS_PRECORDIAL = [(a, b) for a, b in zip(PRECORDIAL, PRECORDIAL[1:], strict=False)]
ST_PAIRS = PAIRS_LIMB + PAIRS_PRECORDIAL
TERRITORIES = {  # statement id -> (name, contiguous pairs)
    "inferior_myocardial_infarction": ("inferior", [("II", "III"), ("II", "aVF"), ("III", "aVF")]),
    "anteroseptal_myocardial_infarction": ("anteroseptal", [("V1", "V2"), ("V2", "V3"), ("V3", "V4")]),
    "lateral_myocardial_infarction": ("lateral", [("I", "aVL"), ("V5", "V6")]),
}

CRIT_LVH = [
    "Sokolow-Lyon: S in V1 + R in V5 or V6 (the larger) >= 3.5 mV",
    "Cornell voltage: R in aVL + S in V3 > 2.8 mV (men), > 2.0 mV (women)",
    "either criterion met",
]
CRIT_LVOLT = [
    "peak-to-peak QRS amplitude < 0.5 mV in every limb lead",
    "or < 1.0 mV in every precordial lead",
]
CRIT_Q = [
    "any Q wave >= 20 ms or a QS complex in V2-V3",
    "Q wave >= 30 ms and >= 0.1 mV deep, or a QS complex, in I, II, aVL, aVF, V4-V6 (III with II and aVF)",
    "in two contiguous leads of the territory",
    "no QRS confounder (left bundle branch block)",
]
CRIT_STE = [
    "ST elevation at the J point in two contiguous leads",
    ">= 0.1 mV in all leads but V2-V3",
    "V2-V3: >= 0.2 mV men >= 40 y, >= 0.25 mV men < 40 y, >= 0.15 mV women",
    "no QRS confounder (left bundle branch block)",
]
CRIT_STD = [
    "horizontal or downsloping ST depression >= 0.05 mV (at J and J+80 ms) in two contiguous leads",
    "no QRS confounder (left bundle branch block)",
]
CRIT_TINV = [
    "T-wave inversion > 0.1 mV in two contiguous leads with a dominant R wave (R/S > 1)",
    "no QRS confounder (left bundle branch block)",
]
CRIT_NST = [
    "flat T (amplitude between -0.1 and +0.1 mV) or inverted T in I, II, aVL, V4-V6 where R is dominant "
    f"(R >= {FLAT_T_MIN_R_MV} mV), in at least {NST_MIN_LEADS} leads",
    "criteria for ST elevation, ST depression and T-wave inversion not met",
]


def statement(
    id_: str,
    name: str,
    verdict: Verdict,
    p: float | None,
    criteria: list[str],
    evidence: list[str],
    source: str,
) -> InterpretationStatement:
    return InterpretationStatement(
        id=id_,
        name=name,
        verdict=verdict,
        probability=None if p is None else round(float(p), 3),
        criteria=list(criteria),
        evidence=evidence,
        source=source,
    )


def _pos(sh: LeadQrsShape | None) -> float | None:
    return None if sh is None or sh.max_amplitude is None else max(0.0, sh.max_amplitude)


def _neg(sh: LeadQrsShape | None) -> float | None:
    return None if sh is None or sh.min_amplitude is None else max(0.0, -sh.min_amplitude)


# ----- left ventricular hypertrophy ---------------------------------------------------------------------


def _sokolow(shapes: dict[str, LeadQrsShape]) -> tuple[float | None, str]:
    sv1 = _neg(shapes.get("V1"))
    rv = [x for lead in ("V5", "V6") if (x := _pos(shapes.get(lead))) is not None]
    if sv1 is None or not rv:
        return None, "Sokolow-Lyon: V1 or V5/V6 not measured"
    v = sv1 + max(rv)
    return v, f"Sokolow-Lyon SV1 {sv1:.2f} + R(V5/V6) {max(rv):.2f} = {v:.2f} mV (limit {SOKOLOW_MV} mV)"


def _cornell(shapes: dict[str, LeadQrsShape], sex: str | None) -> tuple[float | None, bool | None, str]:
    """(voltage, met, evidence): met None when the sex is unknown and the voltage lies between the limits."""
    ravl, sv3 = _pos(shapes.get("aVL")), _neg(shapes.get("V3"))
    if ravl is None or sv3 is None:
        return None, None, "Cornell: aVL or V3 not measured"
    v = ravl + sv3
    ev = f"Cornell RaVL {ravl:.2f} + SV3 {sv3:.2f} = {v:.2f} mV"
    if sex in CORNELL_MV:
        lim = CORNELL_MV[sex]
        return v, v > lim, f"{ev} (limit {lim} mV, {sex})"
    lo, hi = CORNELL_MV["female"], CORNELL_MV["male"]
    met = True if v > hi else False if v <= lo else None
    return v, met, f"{ev} (sex unknown: limits {lo} mV women, {hi} mV men)"


def lvh(shapes: dict[str, LeadQrsShape], sex: str | None) -> InterpretationStatement:
    id_, name = "left_ventricular_hypertrophy", "left ventricular hypertrophy"
    sl, ev_sl = _sokolow(shapes)
    cv, c_met, ev_c = _cornell(shapes, sex)
    ev = [ev_sl, ev_c]
    scores = []
    if sl is not None:
        scores.append(sigmoid(sl, SOKOLOW_MV, 0.25))
    if cv is not None:
        scores.append(sigmoid(cv, CORNELL_MV.get(sex or "", 2.4), 0.2))
    p = max(scores) if scores else None
    sl_met = None if sl is None else sl >= SOKOLOW_MV
    if sl_met or c_met:
        return statement(id_, name, "present", p, CRIT_LVH, ev, HANCOCK)
    if sl_met is None or c_met is None:
        return statement(id_, name, "undetermined", p, CRIT_LVH, ev, HANCOCK)
    return statement(id_, name, "absent", p, CRIT_LVH, ev, HANCOCK)


# ----- low QRS voltage ------------------------------------------------------------------------------------


def _ptp(sh: LeadQrsShape | None) -> float | None:
    p, n = _pos(sh), _neg(sh)
    return None if p is None or n is None else p + n


def _group_low(
    shapes: dict[str, LeadQrsShape], leads: Iterable[str], limit: float
) -> tuple[bool | None, float, str]:
    """(all leads below the limit; None when undecided because leads are missing), the largest amplitude, evidence."""
    leads = list(leads)
    vals = {lead: v for lead in leads if (v := _ptp(shapes.get(lead))) is not None}
    if not vals:
        return None, 0.0, f"{leads[0]}-{leads[-1]}: not measured"
    top_lead = max(vals, key=vals.__getitem__)
    top = vals[top_lead]
    ev = f"{leads[0]}-{leads[-1]}: largest peak-to-peak QRS {top:.2f} mV ({top_lead}; limit {limit} mV)"
    if top >= limit:
        return False, top, ev
    if len(vals) < len(leads):
        return None, top, ev + f", {len(leads) - len(vals)} lead(s) not measured"
    return True, top, ev


def low_voltage(shapes: dict[str, LeadQrsShape]) -> InterpretationStatement:
    id_, name = "low_qrs_voltages", "low QRS voltage"
    limb, top_l, ev_l = _group_low(shapes, LIMB, LOW_LIMB_MV)
    prec, top_p, ev_p = _group_low(shapes, PRECORDIAL, LOW_PRECORDIAL_MV)
    p = max(1 - sigmoid(top_l, LOW_LIMB_MV, 0.05), 1 - sigmoid(top_p, LOW_PRECORDIAL_MV, 0.08))
    if limb is None and prec is None and not shapes:
        return statement(id_, name, "undetermined", None, CRIT_LVOLT, [ev_l, ev_p], MADIAS)
    verdict: Verdict = (
        "present" if limb or prec else "absent" if limb is False and prec is False else "undetermined"
    )
    return statement(id_, name, verdict, p, CRIT_LVOLT, [ev_l, ev_p], MADIAS)


# ----- pathological Q waves -------------------------------------------------------------------------------


def q_score(lead: str, sh: LeadQrsShape) -> tuple[float, str]:
    """Score 0-1 of a pathological Q wave in one lead by the 4th UDMI (V1 and aVR never qualify)."""
    if lead in ("V1", "aVR"):
        return 0.0, ""
    qs = sh.pattern.upper() == "QS"
    depth = max(0.0, -(sh.q_amplitude or 0.0))
    dur = sh.q_ms or 0.0
    if qs:
        return 1.0, f"{lead}: QS complex ({depth:.2f} mV)"
    if sh.q_amplitude is None or sh.r_amplitude is None:
        return 0.0, ""
    if lead in ("V2", "V3"):
        s = sigmoid(dur, Q_V23_MS - 0.5, 2.0)
    else:
        s = sigmoid(dur, Q_MS - 0.5, 2.0) * sigmoid(depth, Q_MV - 0.005, 0.01)
    return s, f"{lead}: Q {dur:.0f} ms, {depth:.2f} mV deep ({sh.pattern})"


def _best_pair(
    scores: dict[str, float], pairs: list[tuple[str, str]]
) -> tuple[float, tuple[str, str] | None]:
    best, which = 0.0, None
    for a, b in pairs:
        if a in scores and b in scores and min(scores[a], scores[b]) > best:
            best, which = min(scores[a], scores[b]), (a, b)
    return best, which


def _missing_pairs(leads: set[str], pairs: list[tuple[str, str]]) -> bool:
    return not any(a in leads and b in leads for a, b in pairs)


def q_waves(shapes: dict[str, LeadQrsShape], confounder: str | None) -> list[InterpretationStatement]:
    """One statement per territory (inferior, anteroseptal, lateral) and one for any territory."""
    per = {lead: q_score(lead, sh) for lead, sh in shapes.items()}
    scores = {lead: s for lead, (s, _) in per.items()}
    out = []
    for id_, (terr, pairs) in TERRITORIES.items():
        name = f"{terr} myocardial infarction (pathological Q waves)"
        leads = {x for pair in pairs for x in pair}
        ev = [e for lead, (s, e) in per.items() if lead in leads and e]
        best, which = _best_pair(scores, pairs)
        if which is not None and best >= 0.5:
            ev.insert(0, f"pathological Q waves in {which[0]} and {which[1]}")
        out.append(
            _decide(
                id_,
                name,
                best,
                which is not None and best >= 0.5,
                _missing_pairs(set(shapes), pairs),
                confounder,
                CRIT_Q,
                ev,
                UDMI,
            )
        )
    present = [s for s in out if s.verdict == "present"]
    any_p = max((s.probability or 0.0 for s in out), default=0.0)
    verdict: Verdict = (
        "present"
        if present
        else "undetermined"
        if any(s.verdict == "undetermined" for s in out)
        else "absent"
    )
    ev = [f"{s.name.split(' ')[0]}: {s.verdict}" for s in out]
    out.append(statement("qwave_abnormal", "pathological Q waves", verdict, any_p, CRIT_Q, ev, UDMI))
    return out


def _decide(
    id_: str,
    name: str,
    p: float,
    met: bool,
    missing: bool,
    confounder: str | None,
    criteria: list[str],
    ev: list[str],
    source: str,
) -> InterpretationStatement:
    if confounder:
        return statement(
            id_, name, "undetermined", p, criteria, ev + [f"{confounder}: criteria do not apply"], source
        )
    if met:
        return statement(id_, name, "present", p, criteria, ev, source)
    if missing:
        return statement(
            id_, name, "undetermined", None, criteria, ev + ["contiguous leads not measured"], source
        )
    return statement(id_, name, "absent", p, criteria, ev, source)


# ----- ST-T -----------------------------------------------------------------------------------------------


def ste_limit(lead: str, sex: str | None, age: float | None) -> float | None:
    """ST-elevation limit at J (mV) of the 4th UDMI; None for V2-V3 when sex (or a man's age) is unknown."""
    if lead not in ("V2", "V3"):
        return STE_MV
    if sex == "female":
        return 0.15
    if sex == "male" and age is not None:
        return 0.2 if age >= 40 else 0.25
    return None


def _pair_statement(
    id_: str,
    name: str,
    per_lead: dict[str, tuple[float, str]],
    confounder: str | None,
    criteria: list[str],
    source: str = UDMI,
    extra: list[str] | None = None,
) -> InterpretationStatement:
    scores = {lead: s for lead, (s, _) in per_lead.items()}
    best, which = _best_pair(scores, ST_PAIRS)
    met = which is not None and best >= 0.5
    ev = ([f"in {which[0]} and {which[1]}"] if met and which else []) + [
        e for lead, (s, e) in per_lead.items() if s >= 0.5
    ]
    return _decide(
        id_,
        name,
        best,
        met,
        _missing_pairs(set(per_lead), ST_PAIRS),
        confounder,
        criteria,
        ev + (extra or []),
        source,
    )


def _each(
    st_t: dict[str, LeadStT], fn: Callable[[str, LeadStT], tuple[float, str] | None]
) -> dict[str, tuple[float, str]]:
    return {lead: r for lead, v in st_t.items() if lead != "aVR" and (r := fn(lead, v)) is not None}


def st_t_statements(
    shapes: dict[str, LeadQrsShape],
    st_t: dict[str, LeadStT],
    sex: str | None,
    age: float | None,
    confounder: str | None,
) -> list[InterpretationStatement]:
    """ST elevation, ST depression, T-wave inversion and non-specific ST-T change."""
    skipped = [lead for lead in ("V2", "V3") if lead in st_t and ste_limit(lead, sex, age) is None]

    def ste(lead: str, v: LeadStT) -> tuple[float, str] | None:
        lim = ste_limit(lead, sex, age)
        if lim is None:
            return None
        return sigmoid(v.st_j, lim - 0.005, 0.01), f"{lead}: ST at J {v.st_j:+.2f} mV (limit +{lim:.2f})"

    def std(lead: str, v: LeadStT) -> tuple[float, str]:
        s = (1 - sigmoid(v.st_j, -STD_MV + 0.005, 0.01)) * (1 - sigmoid(v.st_80, -STD_MV + 0.005, 0.01))
        return s, f"{lead}: ST at J {v.st_j:+.2f}, at J+80 ms {v.st_80:+.2f} mV (limit -{STD_MV})"

    def tinv(lead: str, v: LeadStT) -> tuple[float, str]:
        dom = _dominant_r(shapes.get(lead))
        s = (1 - sigmoid(v.t_amplitude, -TINV_MV + 0.005, 0.01)) if dom else 0.0
        return s, f"{lead}: T {v.t_amplitude:+.2f} mV" + ("" if dom else " (R not dominant)")

    note = [f"{', '.join(skipped)}: ST elevation limit needs sex and age"] if skipped else []
    out = [
        _pair_statement("st_elevation", "ST elevation", _each(st_t, ste), confounder, CRIT_STE, extra=note),
        _pair_statement("st_depression", "ST depression", _each(st_t, std), confounder, CRIT_STD),
        _pair_statement("t_wave_inversion", "T-wave inversion", _each(st_t, tinv), confounder, CRIT_TINV),
    ]
    return out + [_nonspecific(shapes, st_t, out, confounder)]


def _dominant_r(sh: LeadQrsShape | None) -> bool:
    p, n = _pos(sh), _neg(sh)
    return p is not None and n is not None and p > n


def _nonspecific(
    shapes: dict[str, LeadQrsShape],
    st_t: dict[str, LeadStT],
    specific: list[InterpretationStatement],
    confounder: str | None,
) -> InterpretationStatement:
    id_, name = "nonspecific_st_t_abnormality", "non-specific ST-T change"
    hits, ev, seen = [], [], 0
    for lead in FLAT_T_LEADS:
        sh, v = shapes.get(lead), st_t.get(lead)
        if sh is None or v is None or not _dominant_r(sh) or (_pos(sh) or 0.0) < FLAT_T_MIN_R_MV:
            continue
        seen += 1
        if v.t_amplitude < FLAT_T_MV:
            kind = "inverted" if v.t_amplitude <= -FLAT_T_MV else "flat"
            hits.append(1 - sigmoid(v.t_amplitude, FLAT_T_MV, 0.02))
            ev.append(f"{lead}: {kind} T {v.t_amplitude:+.2f} mV (R {_pos(sh):.2f} mV)")
    hits.sort(reverse=True)
    p = hits[NST_MIN_LEADS - 1] if len(hits) >= NST_MIN_LEADS else (hits[0] * 0.5 if hits else 0.0)
    specific_present = [s.name for s in specific if s.verdict == "present"]
    if specific_present:
        return statement(
            id_, name, "absent", p, CRIT_NST, ev + [f"{', '.join(specific_present)} instead"], RAUTAHARJU
        )
    return _decide(
        id_, name, p, len(hits) >= NST_MIN_LEADS, seen < NST_MIN_LEADS, confounder, CRIT_NST, ev, RAUTAHARJU
    )
