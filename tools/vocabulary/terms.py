"""Findings and the other words of ECG questions, built from the code systems they come from.

Sources (shipped in ``data/``, see its README for licences):
- the 133 SNOMED-CT codes of the PhysioNet/CinC Challenge 2021 scoring table (code, abbreviation, name);
- PTB-XL's SCP-ECG statements (``scp_statements.csv``: code, description, diagnostic class);
- ECG-QA's answer vocabulary (``answers.csv``) and allowed answers per template.

A finding that several systems name is one term: SCP statements join a SNOMED finding when their
descriptions are the same words or when ``SCP_SAME_AS`` says so; ECG-QA answers join by name or
``ECGQA_SAME_AS``. ``LAY`` adds the words patients use and common misspellings. Every other ECG-QA answer
(leads, noise kinds, diagnostic superclasses, range categories, infarction stages, answer words) is a term
of its own kind, so an answer of the benchmark always resolves to something the rules know.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

DATA = Path(__file__).parent / "data"

Kind = Literal["finding", "superclass", "lead", "noise", "category", "stage", "answer", "quantity"]


class Term(BaseModel):
    id: str
    kind: Kind
    name: str
    synonyms: list[str] = Field(default_factory=list)
    snomed: list[str] = Field(default_factory=list)
    scp: list[str] = Field(default_factory=list)
    ecgqa: list[str] = Field(default_factory=list, description="ECG-QA answer strings naming this term")
    superclass: str | None = Field(
        default=None, description="PTB-XL diagnostic class (CD, HYP, MI, STTC, NORM)"
    )
    category: str = ""  # rhythm | conduction | hypertrophy | ischemia | infarction | form | axis | ...


def words(text: str) -> str:
    """Lower-case words only: "QT-interval", "qt interval" and "QT Interval." compare equal."""
    return re.sub(
        r"[^a-z0-9/]+",
        " ",
        text.lower().replace("1st", "first").replace("2nd", "second").replace("3rd", "third"),
    ).strip()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


# SCP statement -> id of the SNOMED finding it is the same as (where the descriptions differ in words).
SCP_SAME_AS = {
    "1AVB": "1st_degree_av_block",
    "2AVB": "2nd_degree_av_block",
    "3AVB": "complete_heart_block",
    "AFIB": "atrial_fibrillation",
    "AFLT": "atrial_flutter",
    "SR": "sinus_rhythm",
    "STACH": "sinus_tachycardia",
    "SBRAD": "sinus_bradycardia",
    "SARRH": "sinus_arrhythmia",
    "SVTAC": "supraventricular_tachycardia",
    "PSVT": "paroxysmal_supraventricular_tachycardia",
    "PAC": "premature_atrial_contraction",
    "PVC": "premature_ventricular_contractions",
    "CLBBB": "complete_left_bundle_branch_block",
    "CRBBB": "complete_right_bundle_branch_block",
    "ILBBB": "incomplete_left_bundle_branch_block",
    "IRBBB": "incomplete_right_bundle_branch_block",
    "LAFB": "left_anterior_fascicular_block",
    "LPFB": "left_posterior_fascicular_block",
    "IVCD": "nonspecific_intraventricular_conduction_disorder",
    "WPW": "wolff_parkinson_white_pattern",
    "LVH": "left_ventricular_hypertrophy",
    "RVH": "right_ventricular_hypertrophy",
    "LAO/LAE": "left_atrial_enlargement",
    "RAO/RAE": "right_atrial_hypertrophy",
    "LNGQT": "prolonged_qt_interval",
    "LPR": "prolonged_pr_interval",
    "LVOLT": "low_qrs_voltages",
    "INVT": "t_wave_inversion",
    "TAB_": "t_wave_abnormal",
    "QWAVE": "qwave_abnormal",
    "ABQRS": "abnormal_qrs",
    "PACE": "pacing_rhythm",
    "AMI": "anterior_myocardial_infarction",
    "STD_": "st_depression",
    "STE_": "st_elevation",
    "VCLVH": "left_ventricular_high_voltage",
}
# ECG-QA answer -> term id, where the words differ from the SCP description / SNOMED name.
ECGQA_SAME_AS = {
    "myocardial infarction in anterior leads": "anterior_myocardial_infarction",
    "myocardial infarction in anterolateral leads": "anterolateral_myocardial_infarction",
    "myocardial infarction in anteroseptal leads": "anteroseptal_myocardial_infarction",
    "myocardial infarction in inferior leads": "inferior_myocardial_infarction",
    "myocardial infarction in inferolateral leads": "inferolateral_myocardial_infarction",
    "myocardial infarction in inferoposterior leads": "inferoposterior_myocardial_infarction",
    "myocardial infarction in inferoposterolateral leads": "inferoposterolateral_myocardial_infarction",
    "myocardial infarction in lateral leads": "lateral_myocardial_infarction",
    "myocardial infarction in posterior leads": "posterior_myocardial_infarction",
    "low amplitude t-wave": "low_amplitude_t_waves",
    "inverted t-waves": "t_wave_inversion",
    "t-wave abnormality": "t_wave_abnormal",
    "q waves present": "qwave_abnormal",
    "abnormal qrs": "abnormal_qrs",
    "high qrs voltage": "high_qrs_voltage",
    "low qrs voltages in the frontal and horizontal leads": "low_qrs_voltages",
    "prolonged pr interval": "prolonged_pr_interval",
    "long qt-interval": "prolonged_qt_interval",
    "non-specific st depression": "st_depression",
    "non-specific st elevation": "st_elevation",
    "digitalis effect": "digitalis_effect",
    "left atrial overload/enlargement": "left_atrial_enlargement",
    "right atrial overload/enlargement": "right_atrial_hypertrophy",
    "non-specific intraventricular conduction disturbance (block)": "nonspecific_intraventricular_conduction_disorder",
    "bigeminal pattern (unknown origin, supraventricular, or ventricular)": "bigeminal_pattern",
    "normal functioning artificial pacemaker": "pacing_rhythm",
    "atrial premature complex": "premature_atrial_contraction",
    "ventricular premature complex": "premature_ventricular_contractions",
    "voltage criteria (qrs) for left ventricular hypertrophy": "left_ventricular_high_voltage",
    "extrasystoles": "premature_beats",
    "supraventricular extrasystoles": "premature_atrial_contraction",
    "ventricular extrasystoles": "premature_ventricular_contractions",
    "first degree av block": "1st_degree_av_block",
}
# Words people use (lay terms, other clinical names, misspellings) -> term id.
LAY = {
    "sinus_rhythm": [
        "normal sinus rhythm",
        "nsr",
        "normal rhythm",
        "normal heart rhythm",
        "regular sinus rhythm",
    ],
    "sinus_bradycardia": ["slow sinus rhythm", "sinus brady", "sinus bradicardia"],
    "sinus_tachycardia": ["fast sinus rhythm", "sinus tachy", "sinus tachicardia"],
    "bradycardia": [
        "slow heart rate",
        "slow heartbeat",
        "slow pulse",
        "low heart rate",
        "heart beating slowly",
        "bradicardia",
        "brady",
    ],
    "tachycardia": [
        "fast heart rate",
        "fast heartbeat",
        "racing heart",
        "rapid heartbeat",
        "high heart rate",
        "heart racing",
        "tachicardia",
        "tachy",
    ],
    "atrial_fibrillation": [
        "afib",
        "a fib",
        "a-fib",
        "af",
        "atrial fibrilation",
        "atrial fibrilation",
        "auricular fibrillation",
        "irregularly irregular rhythm",
    ],
    "atrial_flutter": ["aflutter", "a flutter", "flutter"],
    "premature_beats": [
        "extra beats",
        "extra beat",
        "extrasystole",
        "extra systole",
        "extra systoles",
        "skipped beats",
        "skipped beat",
        "ectopic beats",
        "ectopics",
        "premature beats",
        "premature complexes",
        "premature complex",
        "palpitation beats",
        "missed beats",
        "extra heartbeats",
    ],
    "premature_ventricular_contractions": [
        "pvc",
        "pvcs",
        "vpc",
        "vpcs",
        "ventricular ectopic beats",
        "ventricular premature beat",
        "ventricular extrasystole",
    ],
    "premature_atrial_contraction": [
        "pac",
        "pacs",
        "apc",
        "apcs",
        "atrial ectopic beats",
        "supraventricular premature beat",
        "atrial extrasystole",
        "supraventricular extrasystole",
    ],
    "complete_right_bundle_branch_block": ["crbbb", "complete rbbb"],
    "complete_left_bundle_branch_block": ["clbbb", "complete lbbb"],
    "right_bundle_branch_block": ["rbbb", "right bundle block", "right bundel branch block"],
    "left_bundle_branch_block": ["lbbb", "left bundle block", "left bundel branch block"],
    "bundle_branch_block": ["bundle block", "bundle branch blocks", "bbb", "bundel branch block"],
    "1st_degree_av_block": [
        "1avb",
        "first-degree av block",
        "first degree heart block",
        "first-degree heart block",
        "1st degree heart block",
        "av block first degree",
        "avb1",
    ],
    "left_ventricular_hypertrophy": [
        "lvh",
        "enlarged left ventricle",
        "thick heart muscle",
        "left ventricle enlargement",
        "left ventricular enlargement",
    ],
    "prolonged_qt_interval": ["long qt", "long qt interval", "prolonged qt", "qt prolongation", "lqts"],
    "myocardial_infarction": ["heart attack", "infarct", "old heart attack", "mi"],
    "myocardial_ischemia": ["ischemia", "ischaemia", "lack of blood flow to the heart"],
    "left_anterior_fascicular_block": ["lafb", "left anterior hemiblock", "lahb"],
    "left_posterior_fascicular_block": ["lpfb", "left posterior hemiblock"],
    "pacing_rhythm": ["paced rhythm", "pacemaker rhythm", "pacemaker"],
}
NOISE = {
    "baseline_drift": [
        "baseline drift",
        "baseline wander",
        "baseline wandering",
        "wandering baseline",
        "drifting baseline",
        "baseline shift",
    ],
    "static_noise": ["static noise", "constant noise", "persistent noise"],
    "burst_noise": ["burst noise", "noise burst", "noise bursts", "bursts of noise", "sudden noise"],
    "electrodes_problems": [
        "electrodes problems",
        "electrode problems",
        "electrode problem",
        "lead problem",
        "electrode issue",
        "electrode issues",
        "loose electrode",
        "bad electrode",
        "electrode artifact",
    ],
}
SUPERCLASSES = {  # PTB-XL diagnostic class -> (term id, ECG-QA answer)
    "NORM": ("normal_ecg", "none"),
    "CD": ("conduction_disturbance", "conduction disturbance"),
    "HYP": ("hypertrophy", "hypertrophy"),
    "MI": ("myocardial_infarction_class", "myocardial infarction"),
    "STTC": ("st_t_change", "st/t change"),
}
CATEGORIES = {
    "below_normal": "below the normal range",
    "within_normal": "within the normal range",
    "above_normal": "above the normal range",
}
STAGES = {
    "early_stage_mi": "early stage of myocardial infarction",
    "middle_stage_mi": "middle stage of myocardial infarction",
    "old_stage_mi": "old stage of myocardial infarction",
    "unknown_stage_mi": "unknown stage of myocardial infarction",
    "no_stage_mi": "none of myocardial infarction",
}
ANSWER_WORDS = {"yes": "yes", "no": "no", "not_sure": "not sure", "none": "none"}
LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def _rows(name: str) -> list[dict]:
    with open(DATA / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def ecgqa_answers() -> list[str]:
    return [r["class"] for r in _rows("ecgqa_answers.csv")]


@lru_cache(maxsize=1)
def build_terms() -> dict[str, Term]:
    """Every term of the vocabulary by id: findings joined across SNOMED-CT (CinC 2021), PTB-XL's SCP
    statements and ECG-QA's answers, then diagnostic classes, noise kinds, categories, stages, answer words
    and leads, lay synonyms, and each finding's category (rate, rhythm or morphology)."""
    terms: dict[str, Term] = {}
    _add_snomed_findings(terms)
    _add_scp_statements(terms)
    _add_kinds(terms)
    for tid, names in LAY.items():
        terms[tid].synonyms.extend(n for n in names if n not in terms[tid].synonyms)
    _attach_ecgqa(terms)
    for t in terms.values():
        if t.kind == "finding" and not t.category:
            t.category = (
                "rate"
                if t.id in RATE_IDS
                else "rhythm"
                if RHYTHM_WORDS.search(t.name) or t.id in RHYTHM_IDS
                else "morphology"
            )
    return terms


def _add(terms: dict[str, Term], term: Term) -> Term:
    """The term, or the one already there under its id (the first source to name a concept keeps it)."""
    return terms.setdefault(term.id, term)


def _add_snomed_findings(terms: dict[str, Term]) -> None:
    for r in _rows("cinc2021_snomed_dx_map.csv"):
        t = _add(terms, Term(id=slug(r["name"]), kind="finding", name=r["name"].strip()))
        t.snomed.append(r["snomed_ct_code"])
        if r["abbreviation"] not in t.synonyms:
            t.synonyms.append(r["abbreviation"])


def _add_scp_statements(terms: dict[str, Term]) -> None:
    """PTB-XL's SCP statements, joined to a SNOMED finding of the same words (or ``SCP_SAME_AS``)."""
    by_words = {words(t.name): t for t in terms.values()}
    for r in _rows("ptbxl_scp_statements.csv"):
        code, desc = r[""], r["description"]
        target = SCP_SAME_AS.get(code)
        known = terms.get(target) if target else by_words.get(words(desc))
        if known is None:
            t = _add(terms, Term(id=slug(desc), kind="finding", name=desc))
        else:
            t = known
            if words(desc) != words(t.name):
                t.synonyms.append(desc)
        t.scp.append(code)
        t.synonyms.append(code)
        if (r.get("rhythm") or "").strip() == "1.0":
            t.category = "rhythm"
        if r.get("diagnostic_class"):
            t.superclass = r["diagnostic_class"]


def _add_kinds(terms: dict[str, Term]) -> None:
    """Findings no table names, diagnostic classes, noise kinds, answer categories, stages, answer words
    and leads."""
    for extra in (
        "premature_beats",
        "tachycardia",
        "right_bundle_branch_block",
        "bigeminal_pattern",
        "left_ventricular_high_voltage",
        "low_amplitude_t_waves",
        "high_qrs_voltage",
        "digitalis_effect",
    ):
        _add(terms, Term(id=extra, kind="finding", name=extra.replace("_", " ")))
    for code, (tid, answer) in SUPERCLASSES.items():
        if tid == "normal_ecg":
            _add(
                terms, Term(id=tid, kind="superclass", name="normal ECG", scp=[code], synonyms=["normal ekg"])
            )
        else:  # the class shares its words with findings ("myocardial infarction"): ECG-QA's answer names it
            _add(
                terms,
                Term(
                    id=tid,
                    kind="superclass",
                    name=f"{answer} (PTB-XL diagnostic class)",
                    synonyms=[answer],
                    scp=[code],
                    ecgqa=[answer],
                ),
            )
    for tid, names in NOISE.items():
        _add(terms, Term(id=tid, kind="noise", name=names[0], synonyms=names[1:], ecgqa=[names[0]]))
    tables: tuple[tuple[Kind, dict[str, str]], ...] = (
        ("category", CATEGORIES),
        ("stage", STAGES),
        ("answer", ANSWER_WORDS),
    )
    for kind, table in tables:
        for tid, answer in table.items():
            _add(terms, Term(id=tid, kind=kind, name=answer, ecgqa=[answer]))
    for lead in LEADS:
        # A bare "I" is a pronoun far more often than a lead: only "lead I" names it.
        bare = [lead] if lead != "I" else []
        _add(
            terms,
            Term(
                id=f"lead_{lead.lower()}",
                kind="lead",
                name=f"lead {lead}",
                synonyms=bare,
                ecgqa=[f"lead {lead}"],
            ),
        )


# Findings read from the sequence of beats (the rhythm tool) rather than from the shape of one beat.
RHYTHM_WORDS = re.compile(
    r"rhythm|fibrillation|flutter|tachycardia|bradycardia|premature|ectopic|extrasystole|"
    r"bigemin|trigemin|escape|arrhythmia|pacing|pacemaker|couplet|arrest|fusion|"
    r"brady|tachy|wandering|dysrhythmia|sinoatrial block",
    re.IGNORECASE,
)
RHYTHM_IDS = {"premature_beats", "bigeminal_pattern", "atrioventricular_dissociation"}
RATE_IDS = {"bradycardia", "tachycardia"}  # defined by the rate alone, whatever the rhythm


def _attach_ecgqa(terms: dict[str, Term]) -> None:
    from cardioagent.tools.vocabulary.quantities import QUANTITIES

    claimed = {a for t in terms.values() for a in t.ecgqa}
    numeric = {q.ecgqa for q in QUANTITIES if q.ecgqa}
    names = {words(t.name): t for t in terms.values() if t.kind == "finding"}
    syn = {words(s): t for t in terms.values() if t.kind == "finding" for s in t.synonyms}
    special = {"extra systoles": "premature_beats", "extra systole": "premature_beats"}
    for answer in ecgqa_answers():
        if answer in claimed or answer in numeric:
            continue
        tid = ECGQA_SAME_AS.get(answer) or special.get(answer)
        t = terms.get(tid) if tid else names.get(words(answer)) or syn.get(words(answer))
        if t is None:
            t = terms.setdefault(slug(answer), Term(id=slug(answer), kind="finding", name=answer))
        t.ecgqa.append(answer)
        claimed.add(answer)
