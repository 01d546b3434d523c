"""The quantities the project measures or is asked about: ids, names people use, units, conversions and
normal ranges with their published sources.

A tool states which quantity a number is (``Measurement.quantity``); the closed-question rules, CKEPE, the
planner and knowledge search read the same ids, so "QTc (Bazett)", "corrected QT" and "qt corrected" are one
thing everywhere and a plugin's "QTc dispersion" is not mistaken for a QTc.

Normal ranges are adult resting values unless a range's ``sex`` or ``min_age``/``max_age`` says more.
``low``/``high`` are the limits of the normal range: a value below ``low`` is "below the normal range", above
``high`` "above"; ``low_inclusive``/``high_inclusive`` say whether the limit itself is normal, as the cited
source words it (AHA/ACCF/HRS 2009: a QTc of 450 ms in a man is already prolonged).

These limits are the one copy the project holds: the knowledge base's numeric rules that are "outside the
normal range" by definition (bradycardia, first-degree AV block, prolonged QT, ...) read them through
``normal_range``/``limit`` (``knowledge_base.numeric_rules``), so changing a range here changes the rule.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

AHA_2009_INTERVALS = (
    "Rautaharju PM, Surawicz B, Gettes LS. AHA/ACCF/HRS Recommendations for the Standardization "
    "and Interpretation of the Electrocardiogram, Part IV: the ST segment, T and U waves, and the "
    "QT interval. Circulation 2009;119:e241-e250"
)
AHA_2009_CONDUCTION = (
    "Surawicz B, Childers R, Deal BJ, Gettes LS. AHA/ACCF/HRS Recommendations for the "
    "Standardization and Interpretation of the Electrocardiogram, Part III: intraventricular "
    "conduction disturbances. Circulation 2009;119:e235-e240"
)
AHA_2009_ATRIAL = (
    "Hancock EW, Deal BJ, Mirvis DM, et al. AHA/ACCF/HRS Recommendations ... Part V: "
    "electrocardiogram changes associated with cardiac chamber hypertrophy. Circulation "
    "2009;119:e251-e261"
)
BRADY_2018 = (
    "Kusumoto FM, et al. 2018 ACC/AHA/HRS Guideline on the Evaluation and Management of Patients With "
    "Bradycardia and Cardiac Conduction Delay. Circulation 2019;140:e382-e482"
)
GOLDBERGER = (
    "Goldberger AL, Goldberger ZD, Shvilkin A. Goldberger's Clinical Electrocardiography, 9th ed. "
    "Elsevier, 2018"
)
KLIGFIELD_2007 = (
    "Kligfield P, Gettes LS, Bailey JJ, et al. Recommendations for the Standardization and "
    "Interpretation of the Electrocardiogram, Part I. Circulation 2007;115:1306-1324"
)
BAYES_DE_LUNA_2012 = (
    "Bayes de Luna A, Platonov P, Cosio FG, et al. Interatrial blocks. A separate entity from left atrial "
    "enlargement: a consensus report. J Electrocardiol 2012;45:445-451"
)
VOSS_2015 = (
    "Voss A, Schroeder R, Heitmann A, Peters A, Perz S. Short-term heart rate variability - influence of "
    "gender and age in healthy subjects. PLoS One 2015;10(3):e0118308"
)
NUNAN_2010 = (
    "Nunan D, Sandercock GRH, Brodie DA. A quantitative systematic review of normal values for "
    "short-term heart rate variability in healthy adults. PACE 2010;33:1407-1417"
)
HIRSHKOWITZ_2015 = (
    "Hirshkowitz M, Whiton K, Albert SM, et al. National Sleep Foundation's sleep time duration "
    "recommendations: methodology and results summary. Sleep Health 2015;1:40-43"
)
OHAYON_2017 = (
    "Ohayon M, Wickwire EM, Hirshkowitz M, et al. National Sleep Foundation's sleep quality "
    "recommendations: first report. Sleep Health 2017;3:6-19"
)
CARSKADON_DEMENT = (
    "Carskadon MA, Dement WC. Normal human sleep: an overview. In: Kryger MH, Roth T, Dement WC "
    "(eds). Principles and Practice of Sleep Medicine, 6th ed. Elsevier 2017"
)


class NormalRange(BaseModel):
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = Field(default=True, description="the low limit itself is normal")
    high_inclusive: bool = Field(default=True, description="the high limit itself is normal")
    sex: str | None = Field(default=None, description="'male' | 'female' | None for both")
    min_age: float | None = None
    max_age: float | None = None
    source: str = ""
    note: str = ""

    def applies(self, sex: str | None, age: float | None) -> bool:
        if self.sex is not None and sex is not None and self.sex != sex:
            return False
        if age is not None and self.min_age is not None and age < self.min_age:
            return False
        return not (age is not None and self.max_age is not None and age > self.max_age)

    def needs(self, sex: str | None, age: float | None) -> int:
        """How many facts this range is specific to that are not known (a sex, an age band)."""
        banded = self.min_age is not None or self.max_age is not None
        return int(self.sex is not None and sex is None) + int(banded and age is None)

    def category(self, value: float) -> str:
        """'low' | 'normal' | 'high' against this range."""
        if self.low is not None and (value < self.low or (value == self.low and not self.low_inclusive)):
            return "low"
        if self.high is not None and (value > self.high or (value == self.high and not self.high_inclusive)):
            return "high"
        return "normal"

    def text(self, unit: str) -> str:
        if self.low is not None and self.high is not None:
            core = f"{self.low:g}-{self.high:g} {unit}"
        elif self.high is not None:
            core = f"up to {self.high:g} {unit}"
        else:
            core = f"at least {self.low:g} {unit}"
        return core + (f" ({self.who()})" if self.who() else "")

    def who(self) -> str:
        """Whom the range is for: 'male, age 50-74', 'age 18+', '' (adults of either sex)."""
        if self.min_age is not None and self.max_age is not None:
            ages = f"age {self.min_age:g}-{self.max_age:g}"
        elif self.min_age:
            ages = f"age {self.min_age:g}+"
        elif self.max_age is not None:
            ages = f"age up to {self.max_age:g}"
        else:
            ages = ""
        return ", ".join(x for x in (self.sex or "", ages) if x)


class Quantity(BaseModel):
    id: str
    name: str
    unit: str
    synonyms: list[str] = Field(default_factory=list, description="names people and tools use, any case")
    ecgqa: str | None = Field(default=None, description="ECG-QA's name of this numeric feature")
    modality: tuple[str, ...] = ("ecg",)
    tools: tuple[str, ...] = Field(default=(), description="tools whose output holds it")
    normal: list[NormalRange] = Field(default_factory=list, description="most specific first")
    derived_from: str | None = Field(
        default=None, description="quantity it converts from (RR from heart rate)"
    )
    parts: tuple[str, ...] = Field(
        default=(),
        description="the quantities that measure it (heart rate variability: SDNN, RMSSD); a question about "
        "it is judged on these",
    )

    def range_for(self, sex: str | None = None, age: float | None = None) -> NormalRange | None:
        """The range that applies to this sex and age. A range for a sex or an age band that is not known
        is the fallback, not the first choice (a man's QTc limits only when no limit for an unknown sex is
        given; an age band's HRV norms only when the age is known); otherwise the first listed."""
        fits = [r for r in self.normal if r.applies(sex, age)]
        return min(fits, key=lambda r: r.needs(sex, age), default=None)  # min keeps list order among equals


def _q(
    id,
    name,
    unit,
    synonyms,
    tools,
    normal=(),
    ecgqa=None,
    modality=("ecg",),
    derived_from=None,
    parts=(),
) -> Quantity:
    return Quantity(
        id=id,
        name=name,
        unit=unit,
        synonyms=list(synonyms),
        tools=tuple(tools),
        normal=list(normal),
        ecgqa=ecgqa,
        modality=tuple(modality),
        derived_from=derived_from,
        parts=tuple(parts),
    )


def _voss(mean: float, sd: float, sex: str, min_age: float, max_age: float) -> NormalRange:
    """Voss 2015's mean ± 1 SD of one sex and age cluster as a normal range (mean and SD as reported)."""
    return NormalRange(
        low=round(mean - sd, 1),
        high=round(mean + sd, 1),
        sex=sex,
        min_age=min_age,
        max_age=max_age,
        source=VOSS_2015,
        note="mean ± 1 SD of healthy people of this sex and age band, 5-min supine resting ECG (KORA S4); "
        "values as transcribed in NeuroKit (Makowski, ecg_hrv_assessment), not re-checked against the paper",
    )


# Sinus arrhythmia: the variation of the sinus cycle (longest minus shortest PP, or RR with 1:1 conduction) up
# to which a sinus rhythm is not called sinus arrhythmia. Published limits are > 120 ms (or > 10% of the
# cycle) and > 160 ms (knowledge entry ``sinus_arrhythmia``, after Chou's and Goldberger's texts); the
# stricter 160 ms was chosen on the PTB-XL tune split (strat_fold 1-8, issue 14), where the 120 ms limit
# named sinus arrhythmia in records the cardiologists read as sinus rhythm.
SINUS_CYCLE_VARIATION = NormalRange(
    high=160,
    source="Surawicz B, Knilans TK. Chou's Electrocardiography in Clinical Practice, 6th ed. Saunders Elsevier, "
    "2008; Goldberger AL, Goldberger ZD, Shvilkin A. Goldberger's Clinical Electrocardiography, 9th ed. "
    "Elsevier, 2018",
    note="longest minus shortest sinus cycle, ms; above it: sinus arrhythmia (the stricter of 120 / 160 ms)",
)


QUANTITIES: list[Quantity] = [
    _q(
        "heart_rate",
        "heart rate",
        "bpm",
        [
            "heart rate",
            "hr",
            "pulse",
            "pulse rate",
            "ventricular rate",
            "beats per minute",
            "bpm",
            "heartbeat",
            "heart beat",
            "how fast the heart beats",
            "heart speed",
            "hart rate",
            "heartrate",
            "heart beating",
            "heart is beating",
            "heart beats",
            "heart going",
            "pulse beating",
        ],
        ["heart_rate", "rhythm_analysis", "ecg_intervals"],
        [
            NormalRange(
                # Low limit: the 2018 ACC/AHA/HRS bradycardia guideline (Kusumoto 2019) defines sinus
                # bradycardia as a sinus rate < 50 bpm; the older textbook convention is < 60 bpm. High limit:
                # > 100 bpm, the conventional tachycardia limit (Goldberger 9th ed.). 50 bpm is the published
                # limit, not a value fitted to data (issue 14: PTB-XL's cardiologists read 50-59 bpm sinus
                # rates as sinus rhythm, as the guideline does; the heart-rate categories follow it too).
                low=50,
                high=100,
                min_age=18,
                source=f"{BRADY_2018} (< 50 bpm); {GOLDBERGER} (> 100 bpm)",
                note="sinus bradycardia < 50 bpm (2018 ACC/AHA/HRS guideline), tachycardia > 100 bpm; the "
                "older textbook convention calls < 60 bpm bradycardia",
            )
        ],
        modality=("ecg", "ppg"),
    ),
    _q(
        "rr",
        "RR interval",
        "ms",
        [
            "rr interval",
            "rr",
            "r-r interval",
            "rr-interval",
            "beat-to-beat interval",
            "interbeat interval",
            "nn interval",
            "cycle length",
        ],
        ["heart_rate", "ecg_intervals", "hrv_analysis"],
        [
            NormalRange(
                low=600,
                high=1200,
                min_age=18,
                source=f"{BRADY_2018} (< 50 bpm); {GOLDBERGER} (> 100 bpm)",
                note="60000 / heart rate: the 50-100 bpm range as an interval",
            )
        ],
        ecgqa="rr interval",
        modality=("ecg", "ppg"),
        derived_from="heart_rate",
    ),
    _q(
        "pr",
        "PR interval",
        "ms",
        ["pr interval", "pr", "pq interval", "pq", "p-r interval", "atrioventricular conduction time"],
        ["ecg_intervals"],
        [
            NormalRange(
                low=120,
                high=200,
                min_age=18,
                source=BRADY_2018,
                note="> 200 ms first-degree AV block; < 120 ms short PR",
            )
        ],
        ecgqa="pr interval",
    ),
    _q(
        "qrs",
        "QRS duration",
        "ms",
        ["qrs duration", "qrs", "qrs width", "qrs interval", "qrs complex duration", "width of the qrs"],
        ["ecg_intervals"],
        [
            NormalRange(
                high=110,
                min_age=16,
                source=AHA_2009_CONDUCTION,
                note="110-119 ms incomplete bundle branch block / IVCD; >= 120 ms complete block",
            )
        ],
        ecgqa="qrs duration",
    ),
    _q(
        "qt",
        "QT interval",
        "ms",
        ["qt interval", "qt", "q-t interval", "uncorrected qt"],
        ["ecg_intervals"],
        [
            NormalRange(
                low=350,
                high=440,
                source=GOLDBERGER,
                note="uncorrected QT at 60-100 bpm; judge QTc for a rate-independent limit",
            )
        ],
        ecgqa="qt interval",
    ),
    _q(
        "qtc",
        "QTc",
        "ms",
        [
            "qtc",
            "qt corrected",
            "corrected qt",
            "corrected qt interval",
            "qtc interval",
            "qtc bazett",
            "qtc fridericia",
            "rate-corrected qt",
        ],
        ["ecg_intervals"],
        # AHA/ACCF/HRS 2009 (Rautaharju, Part IV): prolonged QTc >= 450 ms in men and >= 460 ms in women,
        # short QTc <= 390 ms; the limits themselves are abnormal. (The low limit was 350/360 ms here before,
        # which is not what the cited source says.)
        [
            NormalRange(
                low=390,
                high=450,
                low_inclusive=False,
                high_inclusive=False,
                sex="male",
                source=AHA_2009_INTERVALS,
                note="prolonged QTc >= 450 ms men, >= 460 ms women; short QTc <= 390 ms",
            ),
            NormalRange(
                low=390,
                high=460,
                low_inclusive=False,
                high_inclusive=False,
                sex="female",
                source=AHA_2009_INTERVALS,
                note="prolonged QTc >= 460 ms women; short QTc <= 390 ms",
            ),
            NormalRange(
                low=390,
                high=450,
                low_inclusive=False,
                high_inclusive=False,
                source=AHA_2009_INTERVALS,
                note="sex unknown: men's limits",
            ),
        ],
        ecgqa="qt corrected",
    ),
    _q(
        "p_duration",
        "P-wave duration",
        "ms",
        [
            "p duration",
            "p wave duration",
            "p-wave duration",
            "p width",
            "p wave width",
            "duration of the p wave",
        ],
        ["ecg_intervals"],
        [
            NormalRange(
                high=120,
                high_inclusive=False,
                min_age=18,
                source=BAYES_DE_LUNA_2012,
                note=">= 120 ms: interatrial block (the knowledge base's prolonged P wave criterion)",
            )
        ],
        ecgqa="p duration",
    ),
    _q(
        "qrs_axis",
        "QRS axis",
        "deg",
        ["qrs axis", "axis", "heart axis", "electrical axis", "frontal axis", "cardiac axis"],
        ["ecg_intervals"],
        [NormalRange(low=-30, high=90, min_age=18, source=KLIGFIELD_2007)],
    ),
    _q(
        "sokolow_lyon",
        "Sokolow-Lyon index",
        "mV",
        ["sokolow-lyon", "sokolow lyon", "sokolow", "lvh voltage"],
        [],
        [NormalRange(high=3.5, source=AHA_2009_ATRIAL)],
    ),
    _q(
        "sdnn",
        "SDNN",
        "ms",
        ["sdnn", "standard deviation of nn intervals"],
        ["hrv_analysis"],
        [
            # Age- and sex-specific first (used when the age is known: ``Quantity.range_for``); Voss 2015's
            # two age clusters. NOTE: transcribed from the paper's age-cluster table as NeuroKit.py
            # (ecg_hrv_assessment) reproduces it; to be checked against the paper before further use.
            _voss(45.8, 18.8, "male", 25, 49),
            _voss(33.0, 14.8, "male", 50, 74),
            _voss(44.9, 19.2, "female", 25, 49),
            _voss(31.6, 13.6, "female", 50, 74),
            NormalRange(
                low=32,
                high=93,
                source=NUNAN_2010,
                note="short-term (5 min) recordings of healthy adults; the lowest to highest value the "
                "reviewed studies reported, not mean ± 1 SD",
            ),
        ],
        modality=("ecg", "ppg"),
    ),
    _q(
        "rmssd",
        "RMSSD",
        "ms",
        ["rmssd", "root mean square of successive differences"],
        ["hrv_analysis"],
        [
            _voss(34.0, 18.3, "male", 25, 49),
            _voss(20.5, 11.0, "male", 50, 74),
            _voss(36.5, 20.1, "female", 25, 49),
            _voss(22.0, 13.2, "female", 50, 74),
            NormalRange(
                low=19,
                high=75,
                source=NUNAN_2010,
                note="short-term (5 min) recordings of healthy adults; the lowest to highest value the "
                "reviewed studies reported, not mean ± 1 SD",
            ),
        ],
        modality=("ecg", "ppg"),
    ),
    _q("pnn50", "pNN50", "%", ["pnn50"], ["hrv_analysis"], modality=("ecg", "ppg")),
    _q(
        "mean_nn",
        "mean NN interval",
        "ms",
        ["mean nn", "mean nn interval", "average nn"],
        ["hrv_analysis"],
        modality=("ecg", "ppg"),
    ),
    _q(
        "hrv",
        "heart rate variability",
        "ms",
        ["heart rate variability", "hrv", "variability of the heart rate"],
        ["hrv_analysis"],
        modality=("ecg", "ppg"),
        parts=("sdnn", "rmssd"),
    ),
    _q(
        "lf_hf",
        "LF/HF ratio",
        "",
        ["lf/hf", "lf hf ratio", "lf/hf ratio", "sympathovagal balance"],
        ["hrv_analysis"],
        modality=("ecg", "ppg"),
    ),
    _q(
        "vascular_age",
        "vascular age",
        "years",
        ["vascular age", "arterial age", "heart age"],
        ["vitals_estimate"],
        modality=("ppg",),
    ),
    _q(
        "spo2",
        "oxygen saturation",
        "%",
        ["spo2", "oxygen saturation", "oxygen level", "sats"],
        [],
        [NormalRange(low=95, high=100, source=GOLDBERGER)],
        modality=("ppg",),
    ),
    _q(
        "respiratory_rate",
        "respiratory rate",
        "breaths/min",
        ["respiratory rate", "breathing rate", "breaths per minute"],
        [],
        [NormalRange(low=12, high=20, min_age=18, source=GOLDBERGER)],
        modality=("ecg", "ppg"),
    ),
    # Sleep, measured by the cardioagent-sleep plugin's sleep_stages tool from wearable nights.
    _q(
        "total_sleep_time",
        "total sleep time",
        "min",
        [
            "total sleep time",
            "tst",
            "sleep time",
            "sleep duration",
            "hours of sleep",
            "how long i slept",
            "how long did i sleep",
            "how much sleep",
            "how much i slept",
        ],
        ["sleep_stages"],
        [
            NormalRange(
                low=420,
                high=540,
                min_age=18,
                max_age=64,
                source=HIRSHKOWITZ_2015,
                note="7-9 h recommended for adults aged 18-64",
            ),
            NormalRange(
                low=420, high=480, min_age=65, source=HIRSHKOWITZ_2015, note="7-8 h recommended from age 65"
            ),
        ],
        modality=("wearable",),
    ),
    _q(
        "sleep_efficiency",
        "sleep efficiency",
        "%",
        ["sleep efficiency", "sleep efficiency index"],
        ["sleep_stages"],
        [NormalRange(low=85, high=100, source=OHAYON_2017, note="85 % or more indicates good sleep quality")],
        modality=("wearable",),
    ),
    _q(
        "sleep_onset_latency",
        "sleep onset latency",
        "min",
        [
            "sleep onset latency",
            "sleep latency",
            "time to fall asleep",
            "how long to fall asleep",
            "how long it took to fall asleep",
        ],
        ["sleep_stages"],
        [
            NormalRange(
                high=30, source=OHAYON_2017, note="30 min or less indicates good sleep quality in adults"
            )
        ],
        modality=("wearable",),
    ),
    _q(
        "waso",
        "wake after sleep onset",
        "min",
        ["wake after sleep onset", "waso", "time awake during the night", "awake during the night"],
        ["sleep_stages"],
        [
            NormalRange(
                high=20,
                min_age=18,
                max_age=64,
                source=OHAYON_2017,
                note="20 min or less indicates good sleep quality in adults under 65",
            )
        ],
        modality=("wearable",),
    ),
    _q(
        "n1_percent",
        "N1 % of sleep",
        "%",
        ["n1 % of sleep", "n1 sleep", "stage n1", "stage 1 sleep"],
        ["sleep_stages"],
        [
            NormalRange(
                low=2, high=5, min_age=18, source=CARSKADON_DEMENT, note="young adults; rises with age"
            )
        ],
        modality=("wearable",),
    ),
    _q(
        "n2_percent",
        "N2 % of sleep",
        "%",
        ["n2 % of sleep", "n2 sleep", "stage n2", "stage 2 sleep"],
        ["sleep_stages"],
        [NormalRange(low=45, high=55, min_age=18, source=CARSKADON_DEMENT, note="young adults")],
        modality=("wearable",),
    ),
    _q(
        "n3_percent",
        "N3 % of sleep",
        "%",
        [
            "n3 % of sleep",
            "deep sleep",
            "slow-wave sleep",
            "slow wave sleep",
            "n3 sleep",
            "stage n3",
            "stage 3 sleep",
        ],
        ["sleep_stages"],
        [
            NormalRange(
                low=13,
                high=23,
                min_age=18,
                max_age=40,
                source=CARSKADON_DEMENT,
                note="young adults; falls with age",
            )
        ],
        modality=("wearable",),
    ),
    _q(
        "rem_percent",
        "REM % of sleep",
        "%",
        ["rem % of sleep", "rem sleep", "rapid eye movement sleep", "dream sleep"],
        ["sleep_stages"],
        [NormalRange(low=20, high=25, min_age=18, source=CARSKADON_DEMENT, note="adults")],
        modality=("wearable",),
    ),
    _q(
        "sleep_stages",
        "sleep stages",
        "",
        [
            "sleep stages",
            "sleep stage",
            "hypnogram",
            "sleep architecture",
            "sleep",
            "slept",
            "sleeping",
            "stages of sleep",
            "sleep cycles",
        ],
        ["sleep_stages"],
        modality=("wearable",),
    ),
]

QUANTITY_BY_ID: dict[str, Quantity] = {q.id: q for q in QUANTITIES}

Side = Literal["low", "high"]


def normal_range(quantity_id: str, sex: str | None = None, age: float | None = None) -> NormalRange:
    """The normal range the vocabulary states for a quantity, for this sex and age (KeyError when none)."""
    rng = QUANTITY_BY_ID[quantity_id].range_for(sex, age)
    if rng is None:
        raise KeyError(f"no normal range for {quantity_id!r} (sex {sex}, age {age})")
    return rng


def limit(quantity_id: str, side: Side, sex: str | None = None, age: float | None = None) -> float:
    """One limit of a quantity's normal range: ``limit("heart_rate", "low")`` -> 50.0 (bradycardia below)."""
    value = getattr(normal_range(quantity_id, sex, age), side)
    if value is None:
        raise KeyError(f"the normal range of {quantity_id!r} has no {side} limit")
    return float(value)


def rr_from_heart_rate(bpm: float) -> float:
    """RR interval in ms for a heart rate in bpm (and back: the relation is its own inverse)."""
    return 60000.0 / bpm


# ----- range profiles ---------------------------------------------------------------------------------------
# "clinical" (the default): the published ranges above. Another profile is a benchmark's own convention of
# "normal" for its numeric features, estimated from its tune items (bench/ecgqa_ranges.py); it is used only
# when a caller asks for it (``cardioagent eval --range-profile ecgqa``), never for a person's answer.
PROFILES_FILE = Path(__file__).parent / "data" / "range_profiles.json"


def profile_range(
    quantity: str, profile: str = "clinical", sex: str | None = None, age: float | None = None
) -> NormalRange | None:
    if profile != "clinical":
        spec = _profiles().get(profile, {}).get(quantity)
        if spec is not None:
            return NormalRange(low=spec.get("low"), high=spec.get("high"), source=spec.get("source", profile))
    q = QUANTITY_BY_ID.get(quantity)
    return q.range_for(sex, age) if q else None


def profiles() -> list[str]:
    return ["clinical", *sorted(_profiles())]


@lru_cache(maxsize=1)
def _profiles() -> dict:
    if not PROFILES_FILE.is_file():
        return {}
    return {k: v for k, v in json.loads(PROFILES_FILE.read_text()).items() if not k.startswith("_")}
