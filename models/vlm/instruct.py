"""ECGInstruct-style question/answer pairs about one ECG image.

Both label sources become one ``EcgFacts``: synthetic ECGs (``SynthLabels``: every finding is known to
be present or absent, every interval is known) and real CinC-2021 records (SNOMED-CT codes mapped onto the
same finding vocabulary; the heart rate measured on the signal by the project's classical analysis;
findings the codes say nothing about stay *unknown* and are never asked about). Templates then ask about
six question types: rhythm, rate, conduction, intervals, morphology, and a full report. Every pair
carries a machine-checkable ``Target`` so that a model's free-text answer can be scored
(``score_answer``) for the per-question-type accuracy of the training report.

Answers are short and start with the decisive word ("Yes", "No", "Sinus rhythm", "74 bpm") so that a
small language model learns them easily and so that scoring does not depend on phrasing.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, Field

from cardioagent.models.vlm.labels import FINDINGS, AxisCategory, Rhythm, rate_category

if TYPE_CHECKING:  # only a type: instructions never need the data generator at run time
    from cardioagent.models.vlm.synth import SynthLabels

QuestionType = Literal["rhythm", "rate", "conduction", "intervals", "morphology", "report"]
QUESTION_TYPES: tuple[str, ...] = ("rhythm", "rate", "conduction", "intervals", "morphology", "report")

FINDING_TEXT = {
    "sinus_rhythm": "sinus rhythm",
    "bradycardia": "bradycardia",
    "tachycardia": "tachycardia",
    "atrial_fibrillation": "atrial fibrillation",
    "atrial_flutter": "atrial flutter",
    "premature_atrial_beats": "premature atrial beats",
    "premature_ventricular_beats": "premature ventricular beats",
    "first_degree_av_block": "first-degree AV block",
    "wide_qrs": "wide QRS",
    "st_elevation": "ST elevation",
    "st_depression": "ST depression",
    "t_wave_inversion": "T-wave inversion",
    "low_qrs_voltage": "low QRS voltage",
    "long_qt": "long QT",
}
MORPHOLOGY_TEXT = {
    "rbbb": "right bundle branch block",
    "lbbb": "left bundle branch block",
    "ivcd": "nonspecific intraventricular conduction delay",
}


class EcgFacts(BaseModel):
    """What is known about one ECG, whatever its source."""

    source: Literal["synthetic", "cinc2021"]
    record: str
    findings: list[str] = Field(description="findings known to be present")
    assessed: list[str] = Field(description="findings whose presence or absence is known")
    rhythm: Rhythm | None = None
    heart_rate_bpm: float | None = None
    axis_deg: float | None = None
    axis_category: AxisCategory | None = None
    pr_ms: float | None = None
    qrs_ms: float | None = None
    qt_ms: float | None = None
    qtc_ms: float | None = None
    qrs_morphology: Literal["normal", "rbbb", "lbbb", "ivcd"] | None = None
    flutter_conduction: int | None = None
    st_elevation_leads: list[str] = Field(default_factory=list)
    st_depression_leads: list[str] = Field(default_factory=list)
    t_inversion_leads: list[str] = Field(default_factory=list)
    codes: list[str] = Field(default_factory=list, description="SNOMED-CT codes of a real record")

    def known(self, finding: str) -> bool:
        return finding in self.assessed

    def has(self, finding: str) -> bool:
        return finding in self.findings

    @property
    def rate_category(self) -> str | None:
        return None if self.heart_rate_bpm is None else rate_category(self.heart_rate_bpm)


def facts_from_synth(labels: SynthLabels, record: str) -> EcgFacts:
    return EcgFacts(
        source="synthetic",
        record=record,
        findings=list(labels.findings),
        assessed=list(FINDINGS),
        rhythm=labels.rhythm,
        heart_rate_bpm=labels.heart_rate_bpm,
        axis_deg=labels.axis_deg,
        axis_category=labels.axis_category,
        pr_ms=labels.pr_ms,
        qrs_ms=labels.qrs_ms,
        qt_ms=labels.qt_ms,
        qtc_ms=labels.qtc_ms,
        qrs_morphology=labels.qrs_morphology,
        flutter_conduction=labels.flutter_conduction,
        st_elevation_leads=labels.st_elevation_leads,
        st_depression_leads=labels.st_depression_leads,
        t_inversion_leads=labels.t_inversion_leads,
    )


# --------------------------------------------------------------------------------- real CinC records

# SNOMED-CT codes of CinC 2021 that decide a finding of the vocabulary (present when the code is there).
SNOMED_TO_FINDINGS: dict[str, tuple[str, ...]] = {
    "426783006": ("sinus_rhythm",),  # NSR
    "426177001": ("sinus_rhythm", "bradycardia"),  # SB
    "427084000": ("sinus_rhythm", "tachycardia"),  # STach
    "427393009": ("sinus_rhythm",),  # SA, sinus arrhythmia
    "164889003": ("atrial_fibrillation",),  # AF
    "164890007": ("atrial_flutter",),  # AFL
    "284470004": ("premature_atrial_beats",),  # PAC
    "63593006": ("premature_atrial_beats",),  # SVPB
    "427172004": ("premature_ventricular_beats",),  # PVC
    "17338001": ("premature_ventricular_beats",),  # VPB
    "164884008": ("premature_ventricular_beats",),  # VEB
    "11157007": ("premature_ventricular_beats",),  # VBig
    "251180001": ("premature_ventricular_beats",),  # VTrig
    "270492004": ("first_degree_av_block",),  # IAVB
    "164947007": ("first_degree_av_block",),  # LPR, prolonged PR
    "59118001": ("wide_qrs",),  # RBBB
    "713427006": ("wide_qrs",),  # CRBBB
    "164909002": ("wide_qrs",),  # LBBB
    "733534002": ("wide_qrs",),  # CLBBB
    "164931005": ("st_elevation",),  # STE
    "429622005": ("st_depression",),  # STD
    "59931005": ("t_wave_inversion",),  # TInv
    "251146004": ("low_qrs_voltage",),  # LQRSV
    "111975006": ("long_qt",),  # LQT
    "426627000": ("bradycardia",),  # Brady
}
# Rhythms that are neither sinus nor AF/flutter: the record is "other rhythm" for sinus-vs-other.
# (atrial tachycardia, pacing rhythm, SVT, ventricular fibrillation, junctional rhythm)
OTHER_RHYTHM_CODES = {"713422000", "10370003", "426761007", "164896001", "426648003"}
RATE_CODES = {"426177001": "bradycardia", "427084000": "tachycardia", "426627000": "bradycardia"}
# Codes that make a finding uncertain rather than absent: never asked about for that record.
UNCERTAIN = {
    "55930002": ("st_elevation", "st_depression"),  # STC, nonspecific ST changes
    "164934002": ("t_wave_inversion",),  # TAb, T-wave abnormal
    "698252002": ("wide_qrs",),  # NSIVCB: QRS may or may not reach 120 ms
    "713426002": ("wide_qrs",),  # IRBBB, 110-120 ms
    "164865005": ("st_elevation", "st_depression"),  # MI
}
AXIS_CODES: dict[str, AxisCategory] = {"39732003": "left", "47665007": "right"}
RHYTHM_FINDINGS: tuple[Rhythm, ...] = ("sinus_rhythm", "atrial_fibrillation", "atrial_flutter")


class CincLabel(BaseModel):
    record: str
    age: float | None
    sex: str | None
    codes: list[str]
    abbreviations: list[str]


def read_cinc_labels(path: str | Path) -> dict[str, CincLabel]:
    """``labels.csv`` of the CinC 2021 sample (record, fs, samples, age, sex, dx_snomed, dx_abbrev, ...)."""
    out = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            age = row.get("age", "")
            out[row["record"]] = CincLabel(
                record=row["record"],
                age=float(age) if age not in ("", "NaN", "nan") else None,
                sex=row.get("sex") or None,
                codes=[c for c in row.get("dx_snomed", "").split(";") if c],
                abbreviations=[c for c in row.get("dx_abbrev", "").split(";") if c],
            )
    return out


def facts_from_cinc(codes: list[str], record: str, heart_rate_bpm: float | None) -> EcgFacts:
    """Facts of a real record from its SNOMED codes and its measured heart rate.

    The rate category comes from the measured rate (which also covers records without a rate code),
    unless a rate code (SB, STach, Brady) contradicts it; then it is unknown. The rhythm is
    known when a rhythm code is present: sinus (NSR, SB, STach, SA), AF, flutter, or another named
    rhythm. Of the other findings only those a code asserts are known (present); the CinC labels
    are not exhaustive enough to call a finding absent, except the rhythm findings once the rhythm
    is known, and the rate findings once the rate is measured."""
    present: set[str] = set()
    for c in codes:
        present.update(SNOMED_TO_FINDINGS.get(c, ()))
    uncertain = {f for c in codes for f in UNCERTAIN.get(c, ())}
    rhythm: Rhythm | None = None
    if "atrial_fibrillation" in present:
        rhythm = "atrial_fibrillation"
    elif "atrial_flutter" in present:
        rhythm = "atrial_flutter"
    elif set(codes) & OTHER_RHYTHM_CODES:
        rhythm = "other"
    elif "sinus_rhythm" in present:
        rhythm = "sinus_rhythm"
    if rhythm not in (None, "sinus_rhythm"):
        present.discard("sinus_rhythm")  # e.g. STach beside ATach: the atrial rhythm wins
    assessed = set(present) - uncertain
    if rhythm is not None:
        assessed.update(RHYTHM_FINDINGS)
    present -= {"bradycardia", "tachycardia"}
    assessed -= {"bradycardia", "tachycardia"}
    coded = {RATE_CODES[c] for c in codes if c in RATE_CODES}
    if heart_rate_bpm is not None:
        cat = rate_category(heart_rate_bpm)
        # a rate code that the measured rate contradicts (e.g. SB with frequent PACs raising the mean
        # ventricular rate) leaves the rate category unknown rather than picking a side
        if not coded or coded == {cat}:
            assessed.update(("bradycardia", "tachycardia"))
            if cat != "normal":
                present.add(cat)
    axis_cat = next((AXIS_CODES[c] for c in codes if c in AXIS_CODES), None)
    return EcgFacts(
        source="cinc2021",
        record=record,
        findings=sorted(present & assessed, key=FINDINGS.index),
        assessed=sorted(assessed, key=FINDINGS.index),
        rhythm=rhythm,
        heart_rate_bpm=None if heart_rate_bpm is None else round(float(heart_rate_bpm), 1),
        axis_category=axis_cat,
        codes=list(codes),
    )


# ------------------------------------------------------------------------------------------ targets


class Target(BaseModel):
    """What a correct answer must say, for scoring free text."""

    kind: Literal["yes_no", "category", "number", "report"]
    finding: str | None = None
    value: bool | str | float | None = None
    tolerance: float | None = Field(None, description="number: largest accepted absolute error")
    family: Literal["rhythm", "rate", "axis", "regularity"] | None = Field(
        None, description="category: which kind"
    )
    findings: list[str] = Field(default_factory=list, description="report: findings it must name")
    exhaustive: bool = Field(
        True, description="report: it must name no other finding (False where the labels are partial)"
    )


class QAPair(BaseModel):
    question: str
    answer: str
    question_type: QuestionType
    target: Target
    template: str = Field(description="template id, for per-template statistics")


_YES = re.compile(r"^\W*(yes|present)\b", re.IGNORECASE)
_NO = re.compile(r"^\W*(no|none|absent|not)\b", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def score_answer(pair: QAPair, text: str) -> bool:
    """True when free text ``text`` gives the target answer (yes/no by the first word, categories by
    their name, numbers within the tolerance, reports by naming exactly the required findings)."""
    t = pair.target
    if t.kind == "yes_no":
        said_yes, said_no = bool(_YES.search(text)), bool(_NO.search(text))
        return said_yes if t.value else said_no
    if t.kind == "category":
        return _category_of(text, t.family or "rhythm") == t.value
    if t.kind == "number":
        nums = _NUMBER.findall(text.replace("\u2212", "-"))
        return (
            bool(nums)
            and t.value is not None
            and abs(float(nums[0]) - float(t.value)) <= (t.tolerance or 0.0)
        )
    named = set(findings_named_in(text))
    return named == set(t.findings) if t.exhaustive else set(t.findings) <= named


# Category families: the words that name each category, matched in the answer's first sentence.
CATEGORY_FAMILIES: dict[str, dict[str, tuple[str, ...]]] = {
    "rhythm": {
        "sinus_rhythm": ("sinus",),
        "atrial_fibrillation": ("fibrillation",),
        "atrial_flutter": ("flutter",),
        "other": ("other",),
    },
    "rate": {
        "bradycardia": ("slow", "bradycardia"),
        "tachycardia": ("fast", "tachycardia"),
        "normal": ("normal",),
    },
    "axis": {"normal": ("normal",), "left": ("left",), "right": ("right",), "extreme": ("extreme",)},
    "regularity": {
        "regular": ("regular",),
        "irregular": ("irregular",),
        "irregularly irregular": ("irregularly irregular",),
    },
}


def _category_of(text: str, family: str) -> str | None:
    """The category of ``family`` that the answer's first sentence names; when several do, the one
    named first (longest phrase on ties: "irregularly irregular" over "irregular")."""
    first = text.strip().split(".")[0].lower()
    best: tuple[int, int, str] | None = None
    for cat, words in CATEGORY_FAMILIES[family].items():
        for w in words:
            m = re.search(rf"\b{re.escape(w)}\b", first)
            if m and (best is None or (m.start(), -len(w)) < (best[0], best[1])):
                best = (m.start(), -len(w), cat)
    return None if best is None else best[2]


def findings_named_in(text: str) -> list[str]:
    """Findings a report names as present (its 'Findings:' line, else the whole text)."""
    m = re.search(r"findings:\s*(.*)", text, re.IGNORECASE)
    part = (m.group(1) if m else text).split("\n")[0].lower()
    if re.match(r"\s*none\b", part):
        return []
    return [
        f
        for f in FINDINGS
        if FINDING_TEXT[f].lower() in part
        and not re.search(rf"no {re.escape(FINDING_TEXT[f].lower())}", part)
    ]


# ---------------------------------------------------------------------------------------- templates


def _yes_no(yes: bool, detail: str = "") -> str:
    word = "Yes" if yes else "No"
    return f"{word}, {detail}." if detail else f"{word}."


def _leads(leads: list[str]) -> str:
    return ", ".join(leads)


def _rhythm_name(f: EcgFacts) -> str:
    if f.rhythm == "sinus_rhythm":
        base = "Sinus rhythm"
        if f.has("bradycardia"):
            base = "Sinus bradycardia"
        elif f.has("tachycardia"):
            base = "Sinus tachycardia"
    elif f.rhythm == "atrial_fibrillation":
        base = "Atrial fibrillation"
    elif f.rhythm == "atrial_flutter":
        base = "Atrial flutter" + (
            f" with {f.flutter_conduction}:1 conduction" if f.flutter_conduction else ""
        )
    else:
        base = "Other rhythm"  # named rhythms outside the vocabulary (atrial tachycardia, paced, ...)
    extras = [FINDING_TEXT[x] for x in ("premature_atrial_beats", "premature_ventricular_beats") if f.has(x)]
    return base + (" with " + " and ".join(extras) if extras else "")


def _regularity(f: EcgFacts) -> str | None:
    if f.rhythm == "atrial_fibrillation":
        return "irregularly irregular"
    if (
        not (f.known("premature_atrial_beats") and f.known("premature_ventricular_beats"))
        and f.source != "synthetic"
    ):
        return None
    if f.has("premature_atrial_beats") or f.has("premature_ventricular_beats"):
        return "irregular"
    return "regular" if f.rhythm in ("sinus_rhythm", "atrial_flutter") else None


def rhythm_pairs(f: EcgFacts) -> list[QAPair]:
    out: list[QAPair] = []
    if f.rhythm is None:
        return out
    out.append(
        QAPair(
            question="What is the rhythm?",
            answer=_rhythm_name(f) + ".",
            question_type="rhythm",
            target=Target(kind="category", family="rhythm", value=f.rhythm),
            template="rhythm.what",
        )
    )
    sinus = f.rhythm == "sinus_rhythm"
    detail = "the rhythm is sinus" if sinus else f"it is {_rhythm_name(f)[0].lower() + _rhythm_name(f)[1:]}"
    out.append(
        QAPair(
            question="Is this sinus rhythm?",
            answer=_yes_no(sinus, detail),
            question_type="rhythm",
            target=Target(kind="yes_no", finding="sinus_rhythm", value=sinus),
            template="rhythm.is_sinus",
        )
    )
    for finding, q in (
        ("atrial_fibrillation", "Is there atrial fibrillation?"),
        ("atrial_flutter", "Is there atrial flutter?"),
    ):
        yes = f.has(finding)
        out.append(
            QAPair(
                question=q,
                answer=_yes_no(yes),
                question_type="rhythm",
                target=Target(kind="yes_no", finding=finding, value=yes),
                template=f"rhythm.{finding}",
            )
        )
    reg = _regularity(f)
    if reg is not None:
        why = {
            "regular": "Regular.",
            "irregular": "Irregular, because of premature beats.",
            "irregularly irregular": "Irregularly irregular, without P waves.",
        }[reg]
        out.append(
            QAPair(
                question="Is the rhythm regular?",
                answer=why,
                question_type="rhythm",
                target=Target(kind="category", family="regularity", value=reg),
                template="rhythm.regular",
            )
        )
    for finding, q in (
        ("premature_atrial_beats", "Are there premature atrial beats?"),
        ("premature_ventricular_beats", "Are there premature ventricular beats (PVCs)?"),
    ):
        if f.known(finding) and (f.source == "synthetic" or f.has(finding)):
            yes = f.has(finding)
            out.append(
                QAPair(
                    question=q,
                    answer=_yes_no(yes),
                    question_type="rhythm",
                    target=Target(kind="yes_no", finding=finding, value=yes),
                    template=f"rhythm.{finding}",
                )
            )
    return out


def rate_pairs(f: EcgFacts) -> list[QAPair]:
    if f.heart_rate_bpm is None:
        return []
    bpm = round(f.heart_rate_bpm)
    out = [
        QAPair(
            question="What is the heart rate?",
            answer=f"{bpm} bpm.",
            question_type="rate",
            target=Target(kind="number", value=float(bpm), tolerance=max(5.0, 0.08 * bpm)),
            template="rate.number",
        ),
    ]
    if not (f.known("bradycardia") and f.known("tachycardia")):
        return out
    cat = rate_category(f.heart_rate_bpm)  # f.rate_category, with the rate known here (checked above)
    word = {"bradycardia": "Slow (bradycardia)", "tachycardia": "Fast (tachycardia)", "normal": "Normal"}[cat]
    out.append(
        QAPair(
            question="Is the heart rate slow, normal or fast?",
            answer=f"{word}, {bpm} bpm.",
            question_type="rate",
            target=Target(kind="category", family="rate", value=cat),
            template="rate.category",
        )
    )
    for finding, q in (("bradycardia", "Is there bradycardia?"), ("tachycardia", "Is there tachycardia?")):
        yes = f.has(finding)
        out.append(
            QAPair(
                question=q,
                answer=_yes_no(yes, f"{bpm} bpm"),
                question_type="rate",
                target=Target(kind="yes_no", finding=finding, value=yes),
                template=f"rate.{finding}",
            )
        )
    return out


def conduction_pairs(f: EcgFacts) -> list[QAPair]:
    out: list[QAPair] = []
    if f.known("first_degree_av_block") and (f.source == "synthetic" or f.has("first_degree_av_block")):
        yes = f.has("first_degree_av_block")
        if f.rhythm in ("atrial_fibrillation", "atrial_flutter"):
            ans = "No, there are no P waves, so there is no PR interval to prolong."
        elif f.pr_ms is not None:
            ans = _yes_no(yes, f"PR interval {f.pr_ms:.0f} ms" + (" (over 200 ms)" if yes else ""))
        else:
            ans = _yes_no(yes)
        out.append(
            QAPair(
                question="Is there a first-degree AV block?",
                answer=ans,
                question_type="conduction",
                target=Target(kind="yes_no", finding="first_degree_av_block", value=yes),
                template="conduction.avb",
            )
        )
    if f.known("wide_qrs") and (f.source == "synthetic" or f.has("wide_qrs")):
        yes = f.has("wide_qrs")
        qrs = f"QRS {f.qrs_ms:.0f} ms" if f.qrs_ms is not None else ""
        out.append(
            QAPair(
                question="Is the QRS complex wide?",
                answer=_yes_no(yes, qrs),
                question_type="conduction",
                target=Target(kind="yes_no", finding="wide_qrs", value=yes),
                template="conduction.wide_qrs",
            )
        )
        if f.qrs_morphology is not None:
            bbb = f.qrs_morphology in ("rbbb", "lbbb")
            if bbb:
                ans = f"Yes, {MORPHOLOGY_TEXT[f.qrs_morphology]} ({qrs})."
            elif f.qrs_morphology == "ivcd":
                ans = f"No typical bundle branch block; the QRS is wide ({qrs}): {MORPHOLOGY_TEXT['ivcd']}."
            else:
                ans = f"No, the QRS is narrow ({qrs})."
            out.append(
                QAPair(
                    question="Is there a bundle branch block?",
                    answer=ans,
                    question_type="conduction",
                    target=Target(kind="yes_no", finding="wide_qrs", value=bbb),
                    template="conduction.bbb",
                )
            )
    return out


def interval_pairs(f: EcgFacts) -> list[QAPair]:
    out: list[QAPair] = []
    if f.source == "synthetic":
        if f.pr_ms is not None:
            out.append(
                QAPair(
                    question="What is the PR interval?",
                    answer=f"{f.pr_ms:.0f} ms.",
                    question_type="intervals",
                    target=Target(kind="number", value=f.pr_ms, tolerance=30.0),
                    template="intervals.pr",
                )
            )
        elif f.rhythm in ("atrial_fibrillation", "atrial_flutter"):
            out.append(
                QAPair(
                    question="What is the PR interval?",
                    answer="Not measurable: there are no P waves.",
                    question_type="intervals",
                    target=Target(kind="yes_no", value=False, finding="p_waves"),
                    template="intervals.pr_none",
                )
            )
        if f.qrs_ms is not None:
            out.append(
                QAPair(
                    question="What is the QRS duration?",
                    answer=f"{f.qrs_ms:.0f} ms.",
                    question_type="intervals",
                    target=Target(kind="number", value=f.qrs_ms, tolerance=20.0),
                    template="intervals.qrs",
                )
            )
        if f.qt_ms is not None and f.qtc_ms is not None:
            out.append(
                QAPair(
                    question="What is the corrected QT interval (QTc)?",
                    answer=f"{f.qtc_ms:.0f} ms (QT {f.qt_ms:.0f} ms, Bazett).",
                    question_type="intervals",
                    target=Target(kind="number", value=f.qtc_ms, tolerance=40.0),
                    template="intervals.qtc",
                )
            )
    if f.known("long_qt") and (f.source == "synthetic" or f.has("long_qt")):
        yes = f.has("long_qt")
        detail = f"QTc {f.qtc_ms:.0f} ms" if f.qtc_ms is not None else ""
        out.append(
            QAPair(
                question="Is the QT interval prolonged?",
                answer=_yes_no(yes, detail),
                question_type="intervals",
                target=Target(kind="yes_no", finding="long_qt", value=yes),
                template="intervals.long_qt",
            )
        )
    return out


def morphology_pairs(f: EcgFacts) -> list[QAPair]:
    out: list[QAPair] = []
    specs = (
        ("st_elevation", "Is there ST elevation?", f.st_elevation_leads),
        ("st_depression", "Is there ST depression?", f.st_depression_leads),
        ("t_wave_inversion", "Are there inverted T waves?", f.t_inversion_leads),
    )
    for finding, q, leads in specs:
        if f.known(finding) and (f.source == "synthetic" or f.has(finding)):
            yes = f.has(finding)
            detail = f"in {_leads(leads)}" if yes and leads else ""
            out.append(
                QAPair(
                    question=q,
                    answer=_yes_no(yes, detail),
                    question_type="morphology",
                    target=Target(kind="yes_no", finding=finding, value=yes),
                    template=f"morphology.{finding}",
                )
            )
    if f.known("low_qrs_voltage") and (f.source == "synthetic" or f.has("low_qrs_voltage")):
        yes = f.has("low_qrs_voltage")
        out.append(
            QAPair(
                question="Is the QRS voltage low?",
                answer=_yes_no(yes, "every limb lead under 0.5 mV" if yes else ""),
                question_type="morphology",
                target=Target(kind="yes_no", finding="low_qrs_voltage", value=yes),
                template="morphology.low_voltage",
            )
        )
    if f.axis_deg is not None and f.axis_category is not None:
        words = {
            "normal": "normal axis",
            "left": "left axis deviation",
            "right": "right axis deviation",
            "extreme": "extreme axis deviation",
        }[f.axis_category]
        cap = words[0].upper() + words[1:]
        out.append(
            QAPair(
                question="What is the electrical axis?",
                answer=f"{cap}, about {f.axis_deg:+.0f} degrees.",
                question_type="morphology",
                target=Target(kind="category", family="axis", value=f.axis_category),
                template="morphology.axis",
            )
        )
    elif f.axis_category is not None:
        deviation = {"left": "Left axis deviation", "right": "Right axis deviation"}.get(f.axis_category)
        if deviation:
            out.append(
                QAPair(
                    question="What is the electrical axis?",
                    answer=f"{deviation}.",
                    question_type="morphology",
                    target=Target(kind="category", family="axis", value=f.axis_category),
                    template="morphology.axis",
                )
            )
    return out


def report_text(f: EcgFacts) -> str:
    """A full report. Its 'Findings:' line names every present finding of the vocabulary (or 'none')
    other than the rhythm and rate, which have their own lines."""
    lines = []
    if f.rhythm is not None:
        lines.append(f"Rhythm: {_rhythm_name(f)}.")
    if f.heart_rate_bpm is not None:
        known = f.known("bradycardia") and f.known("tachycardia")
        lines.append(f"Rate: {round(f.heart_rate_bpm)} bpm" + (f" ({f.rate_category})." if known else "."))
    if f.axis_deg is not None:
        lines.append(f"Axis: {f.axis_deg:+.0f} degrees ({f.axis_category}).")
    iv = []
    if f.pr_ms is not None:
        iv.append(f"PR {f.pr_ms:.0f} ms")
    if f.qrs_ms is not None:
        iv.append(f"QRS {f.qrs_ms:.0f} ms")
    if f.qt_ms is not None and f.qtc_ms is not None:
        iv.append(f"QT/QTc {f.qt_ms:.0f}/{f.qtc_ms:.0f} ms")
    if iv:
        lines.append("Intervals: " + ", ".join(iv) + ".")
    named = [x for x in _report_findings(f)]
    lines.append("Findings: " + (", ".join(FINDING_TEXT[x] for x in named) if named else "none") + ".")
    return "\n".join(lines)


def _report_findings(f: EcgFacts) -> list[str]:
    return [x for x in f.findings if x not in ("sinus_rhythm", "bradycardia", "tachycardia")]


REPORT_QUESTIONS = ("Describe this ECG.", "Give a full report of this ECG.", "Interpret this 12-lead ECG.")


def report_pair(f: EcgFacts, question: str = REPORT_QUESTIONS[0]) -> QAPair:
    return QAPair(
        question=question,
        answer=report_text(f),
        question_type="report",
        target=Target(kind="report", findings=_report_findings(f), exhaustive=f.source == "synthetic"),
        template="report.full",
    )


def all_pairs(f: EcgFacts) -> list[QAPair]:
    """Every template that applies to these facts (one phrasing each)."""
    return (
        rhythm_pairs(f)
        + rate_pairs(f)
        + conduction_pairs(f)
        + interval_pairs(f)
        + morphology_pairs(f)
        + [report_pair(f)]
    )


# Alternative phrasings, drawn at random so the language model does not key on one wording.
PARAPHRASES: dict[str, tuple[str, ...]] = {
    "rhythm.what": ("What is the rhythm?", "What rhythm does this ECG show?", "Name the cardiac rhythm."),
    "rhythm.is_sinus": ("Is this sinus rhythm?", "Is the rhythm sinus?", "Does this ECG show sinus rhythm?"),
    "rate.number": ("What is the heart rate?", "How fast is the heart beating?", "Heart rate in bpm?"),
    "rate.category": ("Is the heart rate slow, normal or fast?", "Is the rate normal?"),
    "conduction.wide_qrs": ("Is the QRS complex wide?", "Is the QRS duration 120 ms or more?"),
    "intervals.long_qt": ("Is the QT interval prolonged?", "Is there a long QT?"),
    "morphology.st_elevation": ("Is there ST elevation?", "Are the ST segments elevated?"),
    "morphology.t_wave_inversion": ("Are there inverted T waves?", "Is there T-wave inversion?"),
}


def sample_pairs(f: EcgFacts, rng: np.random.Generator, n: int, with_report: bool = True) -> list[QAPair]:
    """``n`` pairs for one image: the report (when asked and possible) plus questions drawn so that
    every question type is covered over a data set (type first, then a template of that type)."""
    pool = [p for p in all_pairs(f) if p.question_type != "report"]
    out: list[QAPair] = [report_pair(f, str(rng.choice(REPORT_QUESTIONS)))] if with_report and n > 0 else []
    by_type: dict[str, list[QAPair]] = {}
    for p in pool:
        by_type.setdefault(p.question_type, []).append(p)
    types = list(by_type)
    while len(out) < n and any(by_type.values()):
        live = [t for t in types if by_type[t]]
        t = str(rng.choice(live))
        p = by_type[t].pop(int(rng.integers(len(by_type[t]))))
        alts = PARAPHRASES.get(p.template)
        if alts:
            p = p.model_copy(update={"question": str(rng.choice(alts))})
        out.append(p)
    return out
