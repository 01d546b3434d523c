"""Closed questions: pick the allowed option(s) from this turn's tool outputs, by explicit rules.

A benchmark (or any caller) may pass the allowed answers with a question (``Assistant.ask(..., options=)``).
The answer then ends with one line a parser can read::

    **Answer:** sinus bradycardia            (several options are joined by "; ")
    **Answer:** not sure                     (only when "not sure" is an allowed option)
    **Answer:** cannot be determined from the measurements   (otherwise; a parser counts it as unparseable)

No model takes part: the decision comes from the measurements of the turn, the CKEPE rule table
(``knowledge_base.numeric_rules.NUMERIC_RULES`` via ``evidence_for``) and the few non-numeric rules below. Header
diagnoses are never read (``Recording.diagnoses`` reaches no tool output), so a label in the file cannot
leak into the answer.

How a question is read, from its options first:
1. options within {yes, no, not sure}: a *verify* question. Its subject is a sex ("male"/"female"), a range
   category of a measured quantity ("above the normal range"), an age/rate band ("65 or older"), the longest
   vocabulary finding named that has an interpretation statement, else the longest knowledge-base concept
   named in the question.
2. options that are range categories ("below/within/above the normal range"): the category of the quantity
   the question names (heart rate, PR, QRS, QTc, P duration). Limits are those of the CKEPE rules
   (``RANGE_LIMITS``), which read them from the clinical vocabulary's normal ranges (QTc by sex), decided at
   the threshold, without grey zone; other quantities against the vocabulary's range for the person's sex and
   age, the age a question states ("for a 70-year-old", ``age_in``) before the file header's.
3. options that are numeric bands ("under 18", "40 to 64", "65 or older"): the band holding the value of
   the quantity the question names (age, heart rate).
4. options {male, female}: the sex stated in the recording's header (``recording_summary``).
5. options that all name PTB-XL diagnostic classes ("normal ecg", "myocardial infarction", "st/t change",
   "conduction disturbance", "hypertrophy"): each class judged from the interpretation statements
   (``judge_superclass``: a class is present when one of its statements is; NORM when no statement of another
   class is present and the rhythm is not shown to be non-sinus).
6. otherwise each option is a finding: the interpretation statement of the vocabulary id the option names,
   else a knowledge-base entry by exact name, id or synonym (case- and space-insensitive, a final plural "s"
   tolerated), judged present, absent or undetermined; "normal heart axis" is present when neither axis
   deviation is stated (and the axis is not extreme). A finding implied by a more specific one present is
   not named (sinus rhythm beside sinus arrhythmia, extrasystoles beside ventricular extrasystoles).

How a finding is judged (``judge``):
- a finding for which ``ecg_intervals`` gave an interpretation statement (bundle branch blocks, non-specific
  IVCD, left anterior fascicular block, first-degree AV block, axis deviation; matched through the
  vocabulary id): the statement's verdict, with its per-lead evidence and published criteria;
- sinus rhythm / sinus bradycardia / sinus tachycardia: P waves before at least half the beats
  (``rhythm_analysis`` P-wave presence), intervals not irregularly irregular, and the rate rule of the entry
  (the vocabulary's heart-rate range: < 50 bpm sinus bradycardia as the 2018 ACC/AHA/HRS guideline defines
  it, 50-100, > 100 bpm; the three are told apart by rate alone, so no grey zone here);
- sinus arrhythmia: P waves as above, an irregular rhythm with no premature beats, and a cycle that varies
  (longest minus shortest RR) by more than the vocabulary's ``SINUS_CYCLE_VARIATION`` (160 ms);
- atrial fibrillation (and its variants): the rhythm tool's "irregularly irregular" statement; a regular
  rhythm, or an irregular one with P waves before most beats, excludes it;
- premature beats: none among the beats excludes every premature-beat entry; premature beats found make
  the generic "extrasystoles"/"premature beats" present, but leave atrial vs ventricular undetermined;
- entries whose definition *is* a number (``DEFINED_BY_NUMBER``: first-degree AV block, prolonged or short
  QT, short PR, bradycardia, ...): present when every CKEPE rule supports, absent when one contradicts,
  undetermined when borderline;
- any other entry with CKEPE rules: absent when a rule contradicts (a QRS of 80 ms excludes a bundle branch
  block), otherwise undetermined: meeting a necessary number is not evidence of the finding;
- everything else (T-wave changes, hypertrophy, ...): undetermined, nothing measured speaks to it.

The answer of a finding question is the set of options judged present. When none is present it is
"none" if that is an option and every other option was judged absent, else "not sure" if allowed, else
undetermined. Options left undetermined next to present ones are named in the reasons, not in the answer.
Questions about two recordings (ECG-QA comparison questions) are not judged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, Field

from cardioagent.agent.state import ToolCallRecord
from cardioagent.tools.contract import Measurement, Quality

if TYPE_CHECKING:  # the knowledge base is imported where it is used (it loads the corpus)
    from cardioagent.knowledge_base.ckepe import Evidence
    from cardioagent.knowledge_base.numeric_rules import NumericRule
    from cardioagent.knowledge_base.numeric_rules import Quantity as RuleQuantity

YES, NO, NOT_SURE, NONE = "yes", "no", "not sure", "none"
UNDETERMINED_LINE = "cannot be determined from the measurements"
ANSWER_PREFIX = "**Answer:**"
SEPARATOR = "; "
P_WAVE_MIN = 0.5  # share of beats with a P wave before them for a sinus mechanism

Verdict = Literal["present", "absent", "undetermined"]
Kind = Literal["verify", "category", "band", "sex", "finding", "comparison", "unsupported"]

# Findings whose definition is the number itself: meeting the CKEPE rule is enough to call them present.
DEFINED_BY_NUMBER = {
    "bradycardia",
    "first_degree_av_block",
    "short_pr_interval",
    "prolonged_qt_interval",
    "marked_qt_prolongation",
    "short_qt_interval",
    "prolonged_p_wave",
    "left_axis_deviation",
    "right_axis_deviation",
    "tall_p_wave",
}
SINUS_RATE = {"sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia"}
FIBRILLATION = {
    "atrial_fibrillation",
    "chronic_atrial_fibrillation",
    "paroxysmal_atrial_fibrillation",
    "rapid_atrial_fibrillation",
    "atrial_fibrillation_and_flutter",
}
PREMATURE = {
    "premature_atrial_contraction",
    "premature_ventricular_contraction",
    "junctional_premature_complex",
    "blocked_premature_atrial_contraction",
    "atrial_bigeminy",
    "ventricular_bigeminy",
    "ventricular_trigeminy",
    "ventricular_couplet",
}
PREMATURE_BEATS = "premature_beats"  # a concept of this module: premature beats of any origin
EXTRA_CONCEPTS = {  # option words with no knowledge-base entry of their own
    "extrasystoles": PREMATURE_BEATS,
    "extrasystole": PREMATURE_BEATS,
    "premature beats": PREMATURE_BEATS,
    "ectopic beats": PREMATURE_BEATS,
    "extra beats": PREMATURE_BEATS,
}
# quantity -> (entry whose rule marks "below the normal range", entry whose rule marks "above"); adults. These
# are range rules: their limits are the vocabulary's (``knowledge_base.numeric_rules``).
RANGE_LIMITS: dict[str, tuple[str | None, str | None]] = {
    "heart_rate": ("sinus_bradycardia", "sinus_tachycardia"),
    "pr": ("short_pr_interval", "first_degree_av_block"),
    "qrs": (None, "nonspecific_intraventricular_conduction_delay"),
    "qtc": ("short_qt_interval", "prolonged_qt_interval"),
    "p_duration": (None, "prolonged_p_wave"),
}
# What the clinical vocabulary does not name as a quantity: a bare "rate", and the age in the header.
QUANTITY_WORDS: list[tuple[str, re.Pattern[str]]] = [
    ("heart_rate", re.compile(r"\brate\b")),
    ("age", re.compile(r"\bage\b|\bold\b|\bolder\b|\byounger\b")),
]
CATEGORY = re.compile(r"\b(below|under|within|inside|in|above|over)\s+(the\s+)?normal\s+(range|limits?)\b")
CATEGORY_NAME = {
    "below": "low",
    "under": "low",
    "within": "normal",
    "inside": "normal",
    "in": "normal",
    "above": "high",
    "over": "high",
}
BAND_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], tuple[float, float, bool, bool]]]] = [
    # (pattern, match -> (low, high, low inclusive, high inclusive))
    (
        re.compile(r"\b(?:between\s+)?(\d+(?:\.\d+)?)\s*(?:to|-|–|and)\s*(\d+(?:\.\d+)?)\b"),
        lambda m: (float(m[1]), float(m[2]), True, True),
    ),
    (
        re.compile(r"\b(?:under|below|less than|younger than)\s+(\d+(?:\.\d+)?)|<\s*(\d+(?:\.\d+)?)"),
        lambda m: (-math.inf, float(m[1] or m[2]), False, False),
    ),
    (
        re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:or older|or over|or more|or above|and over|and older|\+)"),
        lambda m: (float(m[1]), math.inf, True, False),
    ),
    (
        re.compile(r"\b(?:over|above|more than|older than)\s+(\d+(?:\.\d+)?)|>\s*(\d+(?:\.\d+)?)"),
        lambda m: (float(m[1] or m[2]), math.inf, False, False),
    ),
]


def norm(text: str) -> str:
    """How options are compared: lower case, runs of white space as one space, no end punctuation."""
    return " ".join(text.lower().replace("–", "-").split()).strip(" .!")


def _words(text: str) -> str:
    """Lower-case words only, for finding a concept's name: "QT-interval" and "qt interval" alike."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


class OptionVerdict(BaseModel):
    option: str
    verdict: Verdict
    why: str
    implied: bool = Field(default=False, description="present, but implied by a more specific option present")


class ClosedAnswer(BaseModel):
    """The decision for one closed question, with the reason for every option judged."""

    kind: Kind
    options: list[str]
    chosen: list[str] | None = Field(description="allowed options picked; None when undetermined")
    verdicts: list[OptionVerdict] = Field(default_factory=list)
    criteria: list[str] = Field(
        default_factory=list, description="rule texts used (thresholds are knowledge)"
    )
    note: str = ""

    def line(self) -> str:
        return f"{ANSWER_PREFIX} " + (SEPARATOR.join(self.chosen) if self.chosen else UNDETERMINED_LINE)

    def render(self) -> str:
        lines = ["**Closed question** (allowed answers: " + SEPARATOR.join(self.options) + ")"]
        if self.note:
            lines.append(f"- {self.note}")
        lines += [f"- {v.option}: {v.verdict} — {v.why}" for v in self.verdicts]
        lines.append(self.line())
        return "\n".join(lines)


# ----- facts from the turn's tool outputs ---------------------------------------------------------------


class Facts(BaseModel):
    """What the closed-question rules read, each from the tool that measures it."""

    heart_rate: Measurement | None = None
    rhythm: str | None = None  # rhythm_analysis statement
    p_wave_presence: float | None = None
    premature_fraction: float | None = None
    rr_range: float | None = None  # rhythm_analysis: longest minus shortest RR, ms
    n_beats: int | None = None
    pr: Measurement | None = None
    qrs: Measurement | None = None
    qtc: Measurement | None = None
    qt: Measurement | None = None
    rr: Measurement | None = None
    p_duration: Measurement | None = None
    qrs_axis: Measurement | None = None
    sdnn: Measurement | None = None  # hrv_analysis
    rmssd: Measurement | None = None
    age: float | None = None
    sex: str | None = None
    recordings: set[str] = Field(default_factory=set)
    order: list[str] = Field(
        default_factory=list, description="recording ids in the order they were attached"
    )
    # lead (lower case) -> noise kind -> present (True / False / None = undetermined), from signal_quality
    noise: dict[str, dict[str, bool | None]] = Field(default_factory=dict)
    # vocabulary id -> interpretation statement (ecg_intervals ``statements``: verdict, criteria, evidence)
    statements: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def measurements(self) -> list[Measurement]:
        return [
            m for m in (self.heart_rate, self.pr, self.qrs, self.qtc) if m is not None and m.value is not None
        ]

    def quantity(self, quantity: str) -> Measurement | None:
        """The measured value of a vocabulary quantity; RR from the heart rate when not measured itself."""
        m = getattr(self, quantity, None) if quantity in QUANTITY_FIELDS else None
        hr = self.heart_rate
        if m is None and quantity == "rr" and hr is not None and hr.value:
            from cardioagent.tools.vocabulary.quantities import rr_from_heart_rate

            m = Measurement(
                name="RR interval (60000 / heart rate)",
                value=round(rr_from_heart_rate(float(hr.value))),
                unit="ms",
                quality=hr.quality,
                channel=hr.channel,
                quantity="rr",
            )
        return m


QUANTITY_FIELDS = ("heart_rate", "pr", "qrs", "qtc", "qt", "rr", "p_duration", "sdnn", "rmssd")


def facts_of(records: list[ToolCallRecord], recording_id: str | None = None) -> Facts:
    """The facts of this turn's tool outputs (of one recording when ``recording_id`` is given)."""
    f = Facts()
    hr_from_rhythm = hr_from_intervals = None
    for rec in records:
        rid = rec.args.get("recording_id")
        if rid:
            f.recordings.add(rid)
            if rid not in f.order:
                f.order.append(rid)
        if recording_id is not None and rid != recording_id:
            continue
        if not (rec.ok and rec.result):
            continue
        r = rec.result
        if rec.tool == "heart_rate":
            f.heart_rate = _measurement(r.get("heart_rate"))
        elif rec.tool == "rhythm_analysis":
            f.rhythm = r.get("statement")
            hr_from_rhythm = _measurement(r.get("heart_rate"))
            f.p_wave_presence = _value(r.get("p_wave_presence"))
            f.premature_fraction = _value(r.get("premature_fraction"))
            f.rr_range = _value(r.get("rr_range"))
            f.n_beats = r.get("n_beats")
        elif rec.tool == "ecg_intervals":
            f.pr, f.qrs, f.qtc, f.qt, f.rr, f.p_duration = (
                _measurement(r.get(k)) for k in ("pr", "qrs", "qtc_bazett", "qt", "rr", "p_duration")
            )
            hr_from_intervals = _measurement(r.get("heart_rate"))
            f.qrs_axis = _measurement(r.get("qrs_axis"))
            f.statements = {s["id"]: s for s in r.get("statements") or [] if s.get("id")}
        elif rec.tool == "hrv_analysis":
            f.sdnn, f.rmssd = _measurement(r.get("sdnn")), _measurement(r.get("rmssd"))
        elif rec.tool == "signal_quality":
            for ch in r.get("channels") or []:
                found = {n.get("kind"): n.get("present") for n in ch.get("noise") or [] if n.get("kind")}
                if found:
                    f.noise[str(ch.get("channel", "")).lower()] = found
        elif rec.tool == "recording_summary":
            f.age = _value(r.get("age"))
            f.sex = r.get("sex")
    f.heart_rate = next(
        (m for m in (f.heart_rate, hr_from_rhythm, hr_from_intervals) if m and m.value is not None), None
    )
    return f


def _measurement(obj: Any) -> Measurement | None:  # a tool result's measurement (JSON)
    if not obj:
        return None
    m = Measurement.model_validate(obj)
    return None if m.value is None or m.quality == Quality.UNUSABLE else m


def _value(obj: Any) -> float | None:
    m = _measurement(obj)
    return None if m is None or m.value is None else float(m.value)


# ----- concepts: option text -> knowledge-base entry --------------------------------------------------------


@lru_cache(maxsize=1)
def _concept_index() -> dict[str, str]:
    """Normalized names, ids and synonyms of the corpus entries -> entry id. Short abbreviations are left
    out: "PR" is an interval, not pacing rhythm."""
    from cardioagent.knowledge_base.entries import cached_corpus

    index: dict[str, str] = {}
    for e in cached_corpus():
        names = [e.id.replace("_", " "), e.name, re.sub(r"\s*\(.*?\)", "", e.name)]
        names += [s for s in e.synonyms if len(s) >= 6 or " " in s.strip()]
        for n in names:
            index.setdefault(_words(n), e.id)
    for words, concept in EXTRA_CONCEPTS.items():
        index[words] = concept
    return index


def resolve_concept(text: str) -> str | None:
    """The concept an option names, exactly (a final plural 's' tolerated on the last word)."""
    index = _concept_index()
    key = _words(text)
    if key in index:
        return index[key]
    if key.endswith("s") and key[:-1] in index:
        return index[key[:-1]]
    return None


def concept_in_question(question: str) -> tuple[str, str] | None:
    """(words, concept) of the longest concept named in a question, whole words only."""
    text = f" {_words(question)} "
    best = None
    for key, concept in _concept_index().items():
        if key and f" {key} " in text and (best is None or len(key) > len(best[0])):
            best = (key, concept)
        elif key and f" {key}s " in text and (best is None or len(key) + 1 > len(best[0])):
            best = (key + "s", concept)
    return best


# ----- judging --------------------------------------------------------------------------------------------


def _is_premature(concept: str | None) -> bool:
    return concept in PREMATURE or concept == PREMATURE_BEATS


def judge(concept: str, f: Facts) -> tuple[Verdict, str, list[str]]:
    """(verdict, reason, criteria used) for one concept against the facts of the turn."""
    premature = _is_premature(concept)
    if (stated := _judge_by_statement(concept, f)) is not None:
        # an undetermined premature-complex statement (no P waves to tell a supraventricular beat) gives way
        # to the rhythm tool's count, which can still say that no beat came early
        if not (premature and stated[0] == "undetermined" and f.premature_fraction is not None):
            return stated
    if concept in SINUS_RATE:
        return _judge_sinus(concept, f)
    if concept == "sinus_arrhythmia":
        return _judge_sinus_arrhythmia(f)
    if concept in FIBRILLATION:
        return _judge_fibrillation(concept, f)
    if premature:
        return _judge_premature(concept, f)
    return _judge_by_rules(concept, f)


def _judge_by_statement(concept: str, f: Facts) -> tuple[Verdict, str, list[str]] | None:
    """The interpretation statement of ecg_intervals for this concept (knowledge-base id mapped to the
    vocabulary id through the entry's id, name and synonyms), when there is one: its verdict, the per-lead
    evidence and the published criteria it applied."""
    if not f.statements:
        return None
    from cardioagent.knowledge_base.entries import cached_corpus
    from cardioagent.tools.vocabulary import vocabulary

    entry = next((e for e in cached_corpus() if e.id == concept), None)
    names = [concept.replace("_", " ")] + ([entry.name, *entry.synonyms] if entry else [])
    st = next(
        (
            f.statements[t.id]
            for n in names
            if (t := vocabulary().resolve(n)) is not None and t.id in f.statements
        ),
        None,
    )
    return None if st is None else statement_verdict(st)


def statement_verdict(st: dict[str, Any]) -> tuple[Verdict, str, list[str]]:
    """An interpretation statement's verdict, with its per-lead evidence and the published criteria."""
    name = st.get("name") or st["id"].replace("_", " ")
    evidence = "; ".join(st.get("evidence") or []) or "no evidence recorded"
    criteria = list(st.get("criteria") or [])
    source = (st.get("source") or "").split(". ")[0]
    rule = "; ".join(criteria) + (f" ({source})" if source else "")
    how = {"present": "criteria met", "absent": "criteria not met", "undetermined": "cannot be decided"}
    return (
        st["verdict"],
        f"{name} {how.get(st['verdict'], st['verdict'])}: {evidence} — criteria: {rule}",
        criteria,
    )


def _ckepe(concept: str, f: Facts) -> list[Evidence]:
    from cardioagent.knowledge_base.ckepe import evidence_for

    return evidence_for(concept, f.measurements(), f.sex)


def _rules_of(concept: str) -> list[NumericRule]:
    from cardioagent.knowledge_base.numeric_rules import rules_for

    return rules_for(concept)


def _judge_by_rules(concept: str, f: Facts) -> tuple[Verdict, str, list[str]]:
    rules = _rules_of(concept)
    if not rules:
        return "undetermined", "no measured quantity bears on this finding", []
    evidence = _ckepe(concept, f)
    criteria = [e.criterion for e in evidence]
    against = [e for e in evidence if e.verdict == "contradicts"]
    if against:
        e = against[0]
        return "absent", f"{e.measurement} does not meet {e.criterion}", criteria
    if not evidence:
        needed = ", ".join(sorted({r.quantity.replace("_", " ") for r in rules}))
        return "undetermined", f"needs {needed}, which was not measured", []
    if concept in DEFINED_BY_NUMBER and all(e.verdict == "supports" for e in evidence):
        return "present", "; ".join(f"{e.measurement} meets {e.criterion}" for e in evidence), criteria
    e = next((e for e in evidence if e.verdict == "borderline"), evidence[0])
    if e.verdict == "borderline":
        return "undetermined", f"{e.measurement} is borderline for {e.criterion}", criteria
    return (
        "undetermined",
        f"{e.measurement} meets {e.criterion}, necessary but not enough to show it",
        criteria,
    )


def _sinus_mechanism(f: Facts) -> tuple[bool | None, str, list[str]]:
    crit = [f"P waves before at least {P_WAVE_MIN} of beats"]
    if f.rhythm in (None, "undetermined") or f.p_wave_presence is None:
        return None, "the rhythm tool could not judge P waves and regularity", crit
    if f.rhythm == "irregularly irregular":
        return False, "the beat intervals are irregularly irregular, not a sinus pattern", crit
    if f.p_wave_presence < P_WAVE_MIN:
        return False, f"P-wave presence {f.p_wave_presence:.2f} is under {P_WAVE_MIN}", crit
    return True, f"P-wave presence {f.p_wave_presence:.2f}, rhythm {f.rhythm}", crit


def _judge_sinus(concept: str, f: Facts) -> tuple[Verdict, str, list[str]]:
    sinus, why, crit = _sinus_mechanism(f)
    if sinus is False:
        return "absent", why, crit
    rule = next(r for r in _rules_of(concept) if r.quantity == "heart_rate")
    crit.append(rule.criterion)
    hr = f.heart_rate
    if hr is None or hr.value is None:
        return "undetermined", "the heart rate was not measured", crit
    from cardioagent.knowledge_base.ckepe import measurement_text

    rate = measurement_text(hr)
    if not rule.holds(float(hr.value)):
        return "absent", f"{rate} does not meet {rule.criterion}", crit
    if sinus is None:
        return "undetermined", f"{rate} meets {rule.criterion}, but {why}", crit
    return "present", f"{why}; {rate} meets {rule.criterion}", crit


def _judge_sinus_arrhythmia(f: Facts) -> tuple[Verdict, str, list[str]]:
    from cardioagent.tools.vocabulary.quantities import SINUS_CYCLE_VARIATION

    limit = float(SINUS_CYCLE_VARIATION.high or 0.0)
    sinus, why, crit = _sinus_mechanism(f)
    crit += ["irregular rhythm without premature beats", f"longest minus shortest cycle > {limit:g} ms"]
    if sinus is False:
        return "absent", why, crit
    if sinus is None:
        return "undetermined", why, crit
    if f.rhythm == "regular":
        return "absent", "the rhythm is regular", crit
    if f.rr_range is not None and f.rr_range <= limit:
        return "absent", f"the cycle varies by {f.rr_range:.0f} ms, not more than {limit:g} ms", crit
    if f.premature_fraction:
        return "undetermined", "the rhythm is irregular, but premature beats may explain it", crit
    return "present", f"{why}, with no premature beats", crit


def _judge_fibrillation(concept: str, f: Facts) -> tuple[Verdict, str, list[str]]:
    crit = ["irregularly irregular beat intervals"]
    if f.rhythm in (None, "undetermined"):
        return "undetermined", "the rhythm could not be judged", crit
    if f.rhythm == "regular":
        return "absent", "the rhythm is regular", crit
    if f.rhythm == "irregular" and f.p_wave_presence is not None and f.p_wave_presence >= P_WAVE_MIN:
        return (
            "absent",
            f"irregular, but P-wave presence {f.p_wave_presence:.2f} (P waves before most beats)",
            crit,
        )
    if f.rhythm != "irregularly irregular":
        return "undetermined", "irregular, but not irregularly irregular", crit
    if concept == "rapid_atrial_fibrillation":
        verdict, why, more = _judge_by_rules(concept, f)
        if verdict == "absent":
            return "absent", why, crit + more
    if concept not in ("atrial_fibrillation", "rapid_atrial_fibrillation"):
        return (
            "undetermined",
            "irregularly irregular, but the interval pattern cannot tell this variant",
            crit,
        )
    return "present", "the beat intervals are irregularly irregular", crit


def _judge_premature(concept: str, f: Facts) -> tuple[Verdict, str, list[str]]:
    crit = ["premature beat: interval under 0.8 of the local median RR, followed by a longer one"]
    if f.premature_fraction is None:
        return "undetermined", "premature beats were not counted", crit
    if f.premature_fraction == 0:
        beats = f" among {f.n_beats} beats" if f.n_beats else ""
        return "absent", f"no premature beat{beats}", crit
    found = f"premature beats {f.premature_fraction:.2f} of beats"
    if concept == PREMATURE_BEATS:
        return "present", found, crit
    return "undetermined", f"{found}, but the beat intervals cannot tell their origin", crit


# ----- statements by vocabulary id, diagnostic classes, normal axis -----------------------------------------

# Vocabulary findings the interpretation engine states under another id: PTB-XL's NST_ ("non-specific ST
# changes") and NDT ("non-diagnostic T abnormalities") are what its non-specific ST-T statement decides
# (bench/ptbxl_statements.py scores it against both codes).
STATEMENT_ALIASES = {
    "non_specific_st_changes": "nonspecific_st_t_abnormality",
    "non_diagnostic_t_abnormalities": "nonspecific_st_t_abnormality",
}
# Statements whose vocabulary term has no PTB-XL diagnostic class (form statements): the class their
# diagnostic counterparts belong to (Wagner et al. 2020, scp_statements.csv: NST_, NDT, ISC_*, LNGQT are STTC;
# the infarction statements that pathological Q waves stand for are MI).
STATEMENT_CLASS = {
    "st_elevation": "STTC",
    "st_depression": "STTC",
    "t_wave_inversion": "STTC",
    "nonspecific_st_t_abnormality": "STTC",
    "qwave_abnormal": "MI",
}
NORMAL_AXIS = "normal_heart_axis"


def statement_for(text: str, f: Facts) -> dict[str, Any] | None:
    """The interpretation statement of the vocabulary finding ``text`` names exactly, if one was made."""
    from cardioagent.tools.vocabulary import vocabulary

    term = vocabulary().resolve(text)
    if term is None:
        return None
    return f.statements.get(STATEMENT_ALIASES.get(term.id, term.id))


def statement_in_question(question: str, f: Facts) -> tuple[str, dict[str, Any]] | None:
    """(words, statement) of the longest vocabulary finding a question names that has a statement: the
    vocabulary reaches statements ("myocardial infarction in inferior leads") where the knowledge base only
    has the broader concept."""
    from cardioagent.tools.vocabulary import vocabulary

    if not f.statements:
        return None
    found = sorted(vocabulary().find(question, kinds={"finding"}), key=lambda m: -len(m.text))
    for m in found:
        if (st := f.statements.get(STATEMENT_ALIASES.get(m.id, m.id))) is not None:
            return m.text, st
    return None


def _judge_normal_axis(f: Facts) -> tuple[Verdict, str, list[str]]:
    """Normal frontal axis (-30° to +90°, adults): neither axis deviation stated, and not the extreme axis
    (-90° to -180°) that neither statement covers."""
    crit = ["frontal QRS axis between -30° and +90° (adults)"]
    lad, rad = f.statements.get("left_axis_deviation"), f.statements.get("right_axis_deviation")
    if lad is None or rad is None:
        return "undetermined", "the axis statements were not made", crit
    verdicts = {lad["verdict"], rad["verdict"]}
    axis = f.qrs_axis.value if f.qrs_axis is not None else None
    seen = "; ".join(lad.get("evidence") or []) or "axis evidence not recorded"
    if "present" in verdicts:
        return "absent", f"axis deviation stated: {seen}", crit
    if verdicts != {"absent"}:
        return "undetermined", f"axis not decided: {seen}", crit
    if axis is not None and float(axis) < -90:
        return "absent", f"QRS axis {float(axis):.0f}°: extreme axis", crit
    return "present", f"no axis deviation: {seen}", crit


@lru_cache(maxsize=1)
def superclass_answers() -> dict[str, str]:
    """Option words (normalized) -> PTB-XL diagnostic class, from the vocabulary's class table."""
    from cardioagent.tools.vocabulary.terms import SUPERCLASSES

    out = {norm(answer): code for code, (_, answer) in SUPERCLASSES.items() if answer != NONE}
    out.update({"normal ecg": "NORM", "normal ekg": "NORM", "normal electrocardiogram": "NORM"})
    return out


def statement_class(sid: str) -> str | None:
    from cardioagent.tools.vocabulary import vocabulary

    term = vocabulary().terms.get(sid)
    return (term.superclass if term is not None else None) or STATEMENT_CLASS.get(sid)


def judge_superclass(code: str, f: Facts) -> tuple[Verdict, str, list[str]]:
    """A PTB-XL diagnostic class from the interpretation statements: present when a statement of the class is
    present, absent when all are absent. NORM ("normal ECG"): present when no statement of another class is
    present and the rhythm is not shown to be non-sinus, as interpretation programs state "normal ECG" when
    no abnormal statement applies."""
    crit = [f"PTB-XL diagnostic class {code}: any of its statements present"]
    if not f.statements:
        return "undetermined", "no interpretation statements were made", crit
    by_class: dict[str, list[dict[str, Any]]] = {}
    for sid, st in f.statements.items():
        if (cls := statement_class(sid)) is not None:
            by_class.setdefault(cls, []).append(st)
    if code == "NORM":
        found = sorted(
            st.get("name") or sid
            for sid, st in f.statements.items()
            if statement_class(sid) not in (None, "NORM") and st["verdict"] == "present"
        )
        if found:
            return "absent", "stated: " + ", ".join(found), crit
        sinus, why, _ = _sinus_mechanism(f)
        if sinus is False:
            return "absent", why, crit
        return "present", "no statement of another diagnostic class is present", crit
    members = by_class.get(code, [])
    present = [st.get("name") or st["id"] for st in members if st["verdict"] == "present"]
    if present:
        return "present", "stated: " + ", ".join(present), crit
    if members and all(st["verdict"] == "absent" for st in members):
        return "absent", f"none of {len(members)} statements of the class is present", crit
    open_ = [st.get("name") or st["id"] for st in members if st["verdict"] != "absent"]
    return "undetermined", "not decided: " + (", ".join(open_) or "no statement of the class"), crit


def _superclasses(opts: list[str], f: Facts) -> ClosedAnswer:
    """A diagnostic-class question: every class option judged from the statements (``judge_superclass``)."""
    classes = superclass_answers()
    verdicts, criteria = [], []
    for o in opts:
        if norm(o) in (NONE, NOT_SURE):
            continue
        verdict, why, crit = judge_superclass(classes[norm(o)], f)
        verdicts.append(OptionVerdict(option=o, verdict=verdict, why=why))
        criteria += crit
    return _finding_answer(opts, verdicts, criteria)


# ----- question kinds ---------------------------------------------------------------------------------------


def _quantity_in(question: str) -> str | None:
    """The quantity a question asks about: the first the clinical vocabulary finds, else age."""
    from cardioagent.tools.vocabulary import vocabulary

    found = vocabulary().find(question, kinds={"quantity"})
    if found:
        return found[0].id
    q = question.lower()
    return next((name for name, pattern in QUANTITY_WORDS if pattern.search(q)), None)


# ----- noise ------------------------------------------------------------------------------------------------

ANY_NOISE = re.compile(
    r"\b(any (kind of )?nois\w*|nois(e|es|y)|interference|distortions?|artefacts?|artifacts?)\b",
    re.IGNORECASE,
)
NOISE_KINDS = ("baseline_drift", "static_noise", "burst_noise", "electrodes_problems")


def noise_in_question(question: str) -> tuple[str, str | None] | None:
    """(noise kind or 'any', lead or None) when the question asks about a disturbance of the signal."""
    from cardioagent.tools.vocabulary import vocabulary

    voc = vocabulary()
    kinds = voc.find(question, kinds={"noise"})
    if not kinds and not ANY_NOISE.search(question):
        return None
    leads = voc.find(question, kinds={"lead"})
    lead = voc.terms[leads[0].id].name.split(" ", 1)[1] if leads else None
    return (kinds[0].id if kinds else "any"), lead


def judge_noise(kind: str, lead: str | None, f: Facts) -> tuple[str, Verdict, str, list[str]]:
    """Whether the quality tool found this disturbance (in this lead, or in any lead)."""
    what = "any disturbance" if kind == "any" else kind.replace("_", " ")
    subject = what + (f" in lead {lead}" if lead else "")
    crit = [
        "per-lead disturbance detector of signal_quality (baseline drift, static noise, burst noise, "
        "electrode problems)"
    ]
    if not f.noise:
        return subject, "undetermined", "the quality tool reported no per-lead disturbance assessment", crit
    if lead is not None:
        per_lead = {k: v for k, v in f.noise.items() if k == lead.lower()}
        if not per_lead:
            return subject, "undetermined", f"lead {lead} was not assessed", crit
    else:
        per_lead = f.noise
    kinds = NOISE_KINDS if kind == "any" else (kind,)
    values = [v.get(k) for v in per_lead.values() for k in kinds]
    hits = sorted(
        {f"{k.replace('_', ' ')} in {name}" for name, v in per_lead.items() for k in kinds if v.get(k)}
    )
    if hits:
        return subject, "present", "found: " + ", ".join(hits[:6]), crit
    if values and all(v is False for v in values):
        return subject, "absent", f"no {what} found" + (f" in lead {lead}" if lead else " in any lead"), crit
    return subject, "undetermined", f"the detector could not decide on {what}", crit


def _category_of(text: str) -> str | None:
    m = CATEGORY.search(norm(text))
    return CATEGORY_NAME[m.group(1)] if m else None


def _band_match(text: str) -> tuple[tuple[float, float, bool, bool], str] | None:
    """The numeric band a text states ("40 to 64", "under 18", "65 or older") and the words stating it."""
    t = norm(text)
    for pattern, make in BAND_PATTERNS:
        if m := pattern.search(t):
            return make(m), m.group(0)
    return None


def _band_of(text: str) -> tuple[float, float, bool, bool] | None:
    found = _band_match(text)
    return found[0] if found else None


def _in_band(v: float, band: tuple[float, float, bool, bool]) -> bool:
    lo, hi, lo_inc, hi_inc = band
    return (v >= lo if lo_inc else v > lo) and (v <= hi if hi_inc else v < hi)


def _value_of(quantity: str | None, f: Facts) -> tuple[float | None, str]:
    """The measured value of ``quantity`` (None when there is none) and how it reads."""
    if quantity == "age":
        if f.age is None:
            return None, "no age in the recording's header"
        return float(f.age), f"age {f.age:g} years (file header)"
    m = f.quantity(quantity) if quantity else None
    if m is None or m.value is None:
        what = (quantity or "the quantity asked about").replace("_", " ")
        return None, f"{what} was not measured" if quantity in QUANTITY_FIELDS else f"no rule for {what}"
    from cardioagent.knowledge_base.ckepe import measurement_text

    return float(m.value), measurement_text(m)


def _category(quantity: str | None, f: Facts) -> tuple[str | None, str, list[str]]:
    from cardioagent.knowledge_base.numeric_rules import rule_for

    if quantity not in RANGE_LIMITS:
        return category_by_vocabulary(quantity, f)
    value, text = _value_of(quantity, f)
    if value is None:
        return None, text, []
    low_entry, high_entry = RANGE_LIMITS[quantity]
    crit = []
    for entry, name in ((low_entry, "low"), (high_entry, "high")):
        if entry is None:
            continue
        rule = rule_for(entry, cast("RuleQuantity", quantity), f.sex)  # the limit for the sex (QTc)
        crit.append(rule.criterion)
        if rule.holds(value):
            return name, f"{text} meets {rule.criterion}", crit
    return "normal", f"{text} meets none of: " + "; ".join(crit), crit


def category_by_vocabulary(
    quantity: str | None, f: Facts, profile: str = "clinical"
) -> tuple[str | None, str, list[str]]:
    """'low' | 'normal' | 'high' against the vocabulary's normal range for the person's sex and age (or a
    named range profile's, see ``tools.vocabulary.quantities.profile_range``)."""
    from cardioagent.tools.vocabulary import QUANTITY_BY_ID
    from cardioagent.tools.vocabulary.quantities import profile_range

    q = QUANTITY_BY_ID.get(quantity or "")
    rng = profile_range(q.id, profile, f.sex, f.age) if q else None
    if q is None or rng is None:
        return (
            None,
            f"no normal range is defined here for {(quantity or 'this quantity').replace('_', ' ')}",
            [],
        )
    value, text = _value_of(quantity, f)
    if value is None:
        return None, text, []
    crit = [f"normal {q.name}: {rng.text(q.unit)} ({rng.source.split('.')[0]})"]
    cat = rng.category(value)
    return (
        cat,
        f"{text} is {'within' if cat == 'normal' else ('below' if cat == 'low' else 'above')} "
        f"{rng.text(q.unit)}",
        crit,
    )


# ----- the age a question states; measured values against the normal range for it ---------------------------

AGE_STATED = re.compile(
    r"\b(\d{1,3})[\s-]*(?:years?|yrs?)[\s-]*old\b|\b(\d{1,3})\s*(?:yo|y/o)(?![a-z])|"
    r"\baged\s+(\d{1,3})\b|\bage of\s+(\d{1,3})\b",
    re.IGNORECASE,
)
ASKS_NORMAL = re.compile(
    r"\b(normal|abnormal|ok|okay|fine|healthy|typical|usual|expected)\b|"
    r"\bfor (my|his|her|their|your|a|an|the|this) age\b",
    re.IGNORECASE,
)


def age_in(question: str) -> float | None:
    """The age a question states of the person ("for a 70-year-old", "aged 70", "70 years old", "at the age
    of 70"); None when it states none. Bands ("65 or older") are options, not an age: they are not read."""
    m = AGE_STATED.search(question)
    if m is None:
        return None
    age = float(next(g for g in m.groups() if g))
    return age if 0 < age < 130 else None


def as_asked(question: str, f: Facts) -> Facts:
    """The facts with the age the question states in place of the file header's (norms by age)."""
    age = age_in(question)
    return f if age is None else f.model_copy(update={"age": age})


def range_lines(question: str, records: list[ToolCallRecord]) -> list[str]:
    """For a question asking whether measured values are normal ("is that normal for a 70-year-old?", read
    with the targets of the conversation: "... (HRV)"), one line per quantity it names that was measured:
    the value against the vocabulary's normal range for the person's sex and age (the age the question states,
    else the file header's), with whom the range is for, what it is and its source. A quantity measured
    through others is judged on them (heart rate variability: SDNN and RMSSD). Empty when the question does
    not ask about normality or names no measured quantity with a range."""
    from cardioagent.tools.vocabulary import QUANTITY_BY_ID, vocabulary

    stated = age_in(question)
    if stated is None and not ASKS_NORMAL.search(question):
        return []
    f = as_asked(question, facts_of(records))
    named: list[str] = []
    for m in vocabulary().find(question, kinds={"quantity"}):
        q = QUANTITY_BY_ID.get(m.id)
        for part in (q.parts or (q.id,)) if q is not None else ():
            if part not in named:
                named.append(part)
    lines = [_range_line(quantity, f, stated is not None) for quantity in named]
    return [line for line in lines if line]


def _range_line(quantity: str, f: Facts, age_stated: bool) -> str | None:
    from cardioagent.knowledge_base.ckepe import measurement_text
    from cardioagent.tools.vocabulary import QUANTITY_BY_ID

    q = QUANTITY_BY_ID.get(quantity)
    m = f.quantity(quantity)
    if q is None or m is None or m.value is None:
        return None
    # norms by sex with the sex unknown: both sexes' ranges, each judged
    found = [q.range_for(sex, f.age) for sex in ((f.sex,) if f.sex else ("male", "female"))]
    ranges = list({id(r): r for r in found if r is not None}.values())
    if not ranges:
        return None
    where = {"low": "below", "normal": "within", "high": "above"}
    whom = "" if f.age is None else f" for age {f.age:g} ({'as asked' if age_stated else 'file header'})"
    cats = [r.category(float(m.value)) for r in ranges]
    texts = [r.text(q.unit) for r in ranges]
    if len(set(cats)) == 1:
        judged = f"{where[cats[0]]} the normal range{whom}: " + "; ".join(texts)
    else:  # within a man's range, below a woman's
        judged = " and ".join(f"{where[c]} {t}" for c, t in zip(cats, texts, strict=True))
        judged += f", the normal ranges{whom}"
    about = "; ".join(dict.fromkeys(r.note for r in ranges if r.note))
    sources = "; ".join(dict.fromkeys(r.source for r in ranges if r.source))
    return (
        f"{measurement_text(m)} is {judged}"
        + (f" — {about}" if about else "")
        + (f" ({sources})" if sources else "")
    )


def decide_one(question: str, opts: list[str], f: Facts) -> ClosedAnswer:
    """The option(s) one recording's facts support, by the rules in the module docstring (two recordings:
    ``agent.closed_answer.decide`` hands them to ``agent.comparison``)."""
    normalized = {norm(o) for o in opts}
    rest = [o for o in opts if norm(o) not in (NONE, NOT_SURE)]
    if normalized and normalized <= {YES, NO, NOT_SURE}:
        return _verify(question, opts, f)
    if rest and all(_category_of(o) for o in rest):
        found = _category(_quantity_in(question), as_asked(question, f))
        return _pick(opts, "category", *found, match=_category_of)
    if rest and all(_band_of(o) for o in rest):
        return _pick_band(question, opts, f)
    if rest and {norm(o) for o in rest} <= {"male", "female"}:
        chosen = [o for o in opts if norm(o) == f.sex] if f.sex else []
        why = f"sex {f.sex} (file header)" if f.sex else "no sex in the recording's header"
        return ClosedAnswer(kind="sex", options=opts, chosen=chosen or fallback_answer(opts), note=why)
    classes = superclass_answers()
    if len(rest) >= 2 and all(norm(o) in classes for o in rest):
        return _superclasses(opts, f)
    return _findings(opts, f)


def fallback_answer(opts: list[str]) -> list[str] | None:
    return [o for o in opts if norm(o) == NOT_SURE][:1] or None


def _pick(
    opts: list[str],
    kind: Kind,
    value: str | None,
    why: str,
    criteria: list[str],
    match: Callable[[str], str | None],
) -> ClosedAnswer:
    chosen = [o for o in opts if value is not None and match(o) == value]
    return ClosedAnswer(
        kind=kind, options=opts, chosen=chosen or fallback_answer(opts), note=why, criteria=criteria
    )


def _pick_band(question: str, opts: list[str], f: Facts) -> ClosedAnswer:
    value, why = _value_of(_quantity_in(question), f)
    chosen = [] if value is None else [o for o in opts if (b := _band_of(o)) and _in_band(value, b)]
    if len(chosen) > 1:  # overlapping bands: no single answer
        why, chosen = f"{why} falls in several of the bands", []
    return ClosedAnswer(
        kind="band",
        options=opts,
        chosen=chosen or fallback_answer(opts),
        note=why,
        criteria=[o for o in opts],
    )


def _verify(question: str, opts: list[str], f: Facts) -> ClosedAnswer:
    by_norm = {norm(o): o for o in opts}
    q = norm(question)
    verdict: Verdict
    criteria: list[str] = []
    if re.search(r"\b(male|female|man|woman)\b", q):
        asked = "female" if re.search(r"\b(female|woman)\b", q) else "male"
        verdict = "undetermined" if f.sex is None else ("present" if f.sex == asked else "absent")
        subject, why = asked, (f"sex {f.sex} (file header)" if f.sex else "no sex in the recording's header")
    elif (stated := CATEGORY.search(q)) is not None:  # what _category_of(q) reads (q is normalised)
        category = CATEGORY_NAME[stated.group(1)]
        quantity = _quantity_in(q)
        found, why, criteria = _category(quantity, as_asked(question, f))
        verdict = "undetermined" if found is None else ("present" if found == category else "absent")
        subject = stated.group(0)
    elif (band_found := _band_match(q)) is not None:
        (band, subject), quantity = band_found, _quantity_in(q)
        value, why = _value_of(quantity, f)
        verdict = "undetermined" if value is None else ("present" if _in_band(value, band) else "absent")
        subject = f"{(quantity or 'value').replace('_', ' ')} {subject}"
    elif (noise := noise_in_question(question)) is not None:
        subject, verdict, why, criteria = judge_noise(*noise, f)
    elif (stated_finding := statement_in_question(question, f)) is not None:
        subject, st = stated_finding
        verdict, why, criteria = statement_verdict(st)
    elif (hit := concept_in_question(question)) is not None:
        subject, concept = hit
        verdict, why, criteria = judge(concept, f)
    elif (direction := direction_asked(question)) is not None:
        quantity, category, words_used = direction
        found, why, criteria = _category(quantity, as_asked(question, f))
        verdict = "undetermined" if found is None else ("present" if found == category else "absent")
        subject = f"{quantity.replace('_', ' ')} {words_used}"
    elif (linked := _linked_concept(question)) is not None:
        subject, concept = linked
        verdict, why, criteria = judge(concept, f)
        why = f"read as '{subject}' (closest vocabulary entry): {why}"
    else:
        subject, verdict, why = "the question", "undetermined", "it names no finding the rules know"
    answer = {"present": YES, "absent": NO, "undetermined": NOT_SURE}[verdict]
    chosen = [by_norm[answer]] if answer in by_norm else None
    return ClosedAnswer(
        kind="verify",
        options=opts,
        chosen=chosen,
        criteria=criteria,
        verdicts=[OptionVerdict(option=subject, verdict=verdict, why=why)],
    )


# Words that place a quantity against its normal range ("is the QRS wide?", "is my heart beating too fast?").
DIRECTION_WORDS = {
    "high": r"high|higher|fast|faster|quick|rapid|racing|long|longer|prolonged|wide|wider|broad|elevated|"
    r"increased|big|large|tall|above|excessive",
    "low": r"low|lower|slow|slower|short|shorter|narrow|decreased|reduced|small|below|sluggish",
    "normal": r"normal|ok|okay|fine|healthy|typical|usual|within",
}
DIRECTION = {k: re.compile(rf"\b({v})\b", re.IGNORECASE) for k, v in DIRECTION_WORDS.items()}


def direction_asked(question: str) -> tuple[str, str, str] | None:
    """(quantity, 'low' | 'normal' | 'high', the words) when a question places one measured quantity
    against its range in plain words; None when it names no quantity or no direction, or several."""
    from cardioagent.tools.vocabulary import vocabulary

    quantities = {m.id for m in vocabulary().find(question, kinds={"quantity"})}
    if len(quantities) != 1:
        return None
    quantity = quantities.pop()
    hits = [(k, m.group(0)) for k, rx in DIRECTION.items() if (m := rx.search(question))]
    directional = [h for h in hits if h[0] != "normal"]
    if len(directional) == 1:
        return quantity, *directional[0]
    if not directional and hits:
        return quantity, "normal", hits[0][1]
    return None


def _linked_concept(question: str) -> tuple[str, str] | None:
    """A finding the question names in other words, by dense linking to the vocabulary (agent.question),
    mapped to the knowledge-base entry the rules judge."""
    from cardioagent.agent.question import link_target
    from cardioagent.tools.vocabulary import vocabulary

    target = link_target(question)
    if target is None or target.kind != "finding":
        return None
    term = vocabulary().terms[target.id]
    for name in (term.id.replace("_", " "), term.name, *term.synonyms):
        if (concept := resolve_concept(name)) is not None:
            return term.name, concept
    return None


def _findings(opts: list[str], f: Facts) -> ClosedAnswer:
    verdicts, criteria = [], []
    for o in opts:
        if norm(o) in (NONE, NOT_SURE):
            continue
        judged = _judge_option(o, f)
        if judged is None:
            verdicts.append(
                OptionVerdict(option=o, verdict="undetermined", why="no knowledge entry has this name")
            )
            continue
        verdict, why, crit = judged
        verdicts.append(OptionVerdict(option=o, verdict=verdict, why=why))
        criteria += crit
    return _finding_answer(opts, _most_specific(verdicts), criteria)


# A finding implied by a more specific one present beside it is not named again (the answer names one
# rhythm statement, as SCP-ECG codes one: sinus arrhythmia is a sinus rhythm; ventricular extrasystoles are
# extrasystoles).
IMPLIED_BY = {
    "sinus_rhythm": {"sinus_arrhythmia"},
    PREMATURE_BEATS: PREMATURE,
}


def _most_specific(verdicts: list[OptionVerdict]) -> list[OptionVerdict]:
    present = {c for v in verdicts if v.verdict == "present" and (c := resolve_concept(v.option))}
    out = []
    for v in verdicts:
        concept = resolve_concept(v.option)
        if v.verdict == "present" and concept in IMPLIED_BY and IMPLIED_BY[concept] & present:
            why = v.why + " (implied by the more specific finding present, so not named)"
            out.append(OptionVerdict(option=v.option, verdict="present", why=why, implied=True))
        else:
            out.append(v)
    return out


def _judge_option(option: str, f: Facts) -> tuple[Verdict, str, list[str]] | None:
    """One finding option: the statement its vocabulary id has, else the knowledge-base concept's rules."""
    from cardioagent.tools.vocabulary import vocabulary

    concept = resolve_concept(option)
    # premature complexes go through ``judge``, which lets the rhythm tool's count answer where the statement
    # cannot decide
    if not _is_premature(concept) and (st := statement_for(option, f)) is not None:
        return statement_verdict(st)
    term = vocabulary().resolve(option)
    if term is not None and term.id == NORMAL_AXIS:
        return _judge_normal_axis(f)
    return None if concept is None else judge(concept, f)


def _finding_answer(opts: list[str], verdicts: list[OptionVerdict], criteria: list[str]) -> ClosedAnswer:
    present = [v.option for v in verdicts if v.verdict == "present" and not v.implied]
    if present:
        chosen: list[str] | None = present
    elif verdicts and all(v.verdict == "absent" for v in verdicts):
        chosen = [o for o in opts if norm(o) == NONE][:1] or None
    else:
        chosen = fallback_answer(opts)
    return ClosedAnswer(kind="finding", options=opts, chosen=chosen, verdicts=verdicts, criteria=criteria)
