"""The quantities the project measures or is asked about: ids, names people use, units, conversions and
normal ranges with their published sources.

A tool states which quantity a number is (``Measurement.quantity``); the closed-question rules, CKEPE, the
planner and knowledge search read the same ids, so "QTc (Bazett)", "corrected QT" and "qt corrected" are one
thing everywhere and a plugin's "QTc dispersion" is not mistaken for a QTc.

Normal ranges are adult resting values unless ``by_sex`` or ``by_age`` says more. ``low``/``high`` are the
limits of the normal range: a value below ``low`` is "below the normal range", above ``high`` "above".
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

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

    def category(self, value: float) -> str:
        """'low' | 'normal' | 'high' against this range."""
        if self.low is not None and value < self.low:
            return "low"
        if self.high is not None and value > self.high:
            return "high"
        return "normal"

    def text(self, unit: str) -> str:
        if self.low is not None and self.high is not None:
            core = f"{self.low:g}-{self.high:g} {unit}"
        elif self.high is not None:
            core = f"up to {self.high:g} {unit}"
        else:
            core = f"at least {self.low:g} {unit}"
        who = " ".join(x for x in (self.sex or "", f"age {self.min_age:g}+" if self.min_age else "") if x)
        return core + (f" ({who})" if who else "")


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

    def range_for(self, sex: str | None = None, age: float | None = None) -> NormalRange | None:
        return next((r for r in self.normal if r.applies(sex, age)), None)


def _q(
    id, name, unit, synonyms, tools, normal=(), ecgqa=None, modality=("ecg",), derived_from=None
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
                low=60,
                high=100,
                min_age=18,
                source=BRADY_2018,
                note="conventional ECG definition: < 60 bradycardia, > 100 tachycardia",
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
                high=1000,
                min_age=18,
                source=BRADY_2018,
                note="60000 / heart rate: the 60-100 bpm range as an interval",
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
        [
            NormalRange(
                low=350,
                high=450,
                sex="male",
                source=AHA_2009_INTERVALS,
                note="prolonged QTc >= 450 ms men, >= 460 ms women; short QT <= 390 ms",
            ),
            NormalRange(low=360, high=460, sex="female", source=AHA_2009_INTERVALS),
            NormalRange(low=350, high=450, source=AHA_2009_INTERVALS, note="sex unknown: men's limits"),
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
                min_age=18,
                source=AHA_2009_ATRIAL,
                note="> 120 ms suggests left atrial abnormality / interatrial block",
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
        [NormalRange(low=32, high=93, source=NUNAN_2010, note="short-term (5 min) recordings, mean ± 1 SD")],
        modality=("ecg", "ppg"),
    ),
    _q(
        "rmssd",
        "RMSSD",
        "ms",
        ["rmssd", "root mean square of successive differences"],
        ["hrv_analysis"],
        [NormalRange(low=19, high=75, source=NUNAN_2010, note="short-term (5 min) recordings, mean ± 1 SD")],
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
