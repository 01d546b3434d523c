"""Question phrasings generated from the clinical vocabulary, in template families, for training and
scoring question reading (``bench/question_parsing.py``, ``cardioagent train parser``).

Families are split before anything is tuned: TUNE_FAMILIES may be looked at and trained on; REPORT_FAMILIES
are only scored (leave-template-family-out). Each family's templates are filled with surface forms of
vocabulary entries (names, abbreviations, lay words), and a quarter of the questions get one typing slip.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict

if TYPE_CHECKING:
    from cardioagent.tools.vocabulary import Entry

TUNE_FAMILIES = (
    "verify_finding",
    "range",
    "value",
    "explain",
    "plot",
    "verify_lay",
    "value_lay",
    "overview",
    "explain_lay",
    "plot_lay",
    "compare_tune",
    "value_polite",
    "verify_hedged",
)
# Written before the fine-tuned parser (agent.training.parser) was trained, never trained on, scored once.
FRESH2_FAMILIES = ("fresh2_verify", "fresh2_value", "fresh2_explain", "fresh2_plot", "fresh2_compare")
# The first four report families were inspected once (their misses were typing slips, which led to the
# vocabulary's spelling corrector), so they are development figures now; the "fresh_" families were written
# after the parser was finished and scored once, unchanged.
# Written (and committed) before the second training run, for the ship decision: phrasings neither the word
# rules nor the parser were built on, so both are scored out of sample (the rules' cross-validation figure is
# in-sample: they were written from the training families). Scored once.
FRESH3_FAMILIES = (
    "fresh3_verify",
    "fresh3_value",
    "fresh3_overview",
    "fresh3_explain",
    "fresh3_plot",
    "fresh3_compare",
)
REPORT_FAMILIES = (
    "direction",
    "choose",
    "compare",
    "noise",
    "fresh_verify",
    "fresh_compare",
    "fresh_noise",
    *FRESH2_FAMILIES,
    *FRESH3_FAMILIES,
)

FINDINGS = [
    "atrial_fibrillation",
    "sinus_bradycardia",
    "sinus_tachycardia",
    "premature_beats",
    "premature_ventricular_contractions",
    "premature_atrial_contraction",
    "1st_degree_av_block",
    "right_bundle_branch_block",
    "left_bundle_branch_block",
    "left_ventricular_hypertrophy",
    "prolonged_qt_interval",
    "myocardial_infarction",
    "atrial_flutter",
    "sinus_arrhythmia",
    "left_anterior_fascicular_block",
    "bradycardia",
    "tachycardia",
    "sinus_rhythm",
]
QUANTITIES = ["heart_rate", "rr", "pr", "qrs", "qt", "qtc", "p_duration", "qrs_axis", "rmssd", "sdnn"]
NOISES = ["baseline_drift", "static_noise", "burst_noise", "electrodes_problems"]
LEADS = ["II", "V1", "aVF", "V5", "aVL", "III"]
DIRECTIONS = {
    "heart_rate": ["too fast", "too slow", "high", "low"],
    "qrs": ["wide", "narrow"],
    "pr": ["long", "short"],
    "qt": ["prolonged", "short"],
    "qtc": ["long", "too long"],
    "rr": ["long", "short"],
    "p_duration": ["long", "short"],
}
FAMILIES = {
    "verify_finding": [
        "Is there {f}?",
        "Does this ECG show {f}?",
        "Any sign of {f} here?",
        "could this be {f}",
    ],
    "range": [
        "Is the {q} within the normal range?",
        "Is the {q} above the normal range?",
        "is {q} below the normal range",
    ],
    "value": ["What is the {q}?", "Tell me the {q}.", "{q}?", "whats the {q} on this one"],
    "explain": ["What does {f} mean?", "Explain {f} to me.", "What is {f}?"],
    "plot": ["Draw lead {lead}.", "Can you plot lead {lead}?", "please show me lead {lead}"],
    "direction": ["Is the {q} {d}?", "Is my {q} {d}?", "would you say the {q} is {d}"],
    "choose": ["Is this {f} or {g}?", "Which is it, {f} or {g}?", "Does the ECG show {f} or {g}?"],
    "compare": [
        "How does the {q} of the second ECG compare with the first?",
        "Did the {q} change between the two recordings?",
        "Is the {q} different in the later tracing?",
    ],
    "noise": [
        "Is there {n} in lead {lead}?",
        "Is lead {lead} affected by {n}?",
        "any {n} in {lead}?",
        "Does the recording have {n}?",
    ],
    "verify_lay": [
        "Do I have {f}?",
        "Am I showing signs of {f}?",
        "Is {f} present?",
        "Can you see {f}?",
        "is it {f}",
    ],
    "value_lay": [
        "How long is the {q}?",
        "Give me the {q}",
        "I'd like to know the {q}",
        "{q} please",
        "Measure the {q}.",
    ],
    "overview": [
        "Analyse this ECG.",
        "What do you see?",
        "Anything abnormal here?",
        "Summarize this recording",
        "interpret my ekg",
    ],
    "explain_lay": ["Tell me about {f}.", "What causes {f}?", "Define {f}.", "what is meant by {f}"],
    "plot_lay": [
        "Display lead {lead}.",
        "Render the tracing with lead {lead}.",
        "Visualize lead {lead}.",
        "draw me lead {lead}",
    ],
    "compare_tune": ["Compare the {q} of both ECGs.", "What is the difference in {q} between the two?"],
    "fresh_verify": [
        "My doctor mentioned {f} - can you see it on this?",
        "I'm worried about {f}, is it present?",
        "Would you call this {f}?",
    ],
    "fresh_compare": [
        "Between the first and the second ECG, what happened to the {q}?",
        "Has the {q} gone up or down from ECG 1 to ECG 2?",
    ],
    "fresh_noise": ["Is {lead} contaminated with {n}?", "I think lead {lead} has {n}, right?"],
    "value_polite": [
        "Could you tell me the {q}?",
        "Can you measure the {q} for me?",
        "I need the {q} of this tracing.",
    ],
    "verify_hedged": [
        "I wonder whether this shows {f}.",
        "Is it possible that this is {f}?",
        "Do you think it's {f}?",
    ],
    "fresh2_verify": [
        "Please check this recording for {f}.",
        "Tell me whether {f} is there.",
        "I'd like to rule out {f}.",
    ],
    "fresh2_value": [
        "How much is the {q} here?",
        "Can I get the {q} for this recording?",
        "Read off the {q}.",
    ],
    "fresh2_explain": [
        "I never understood what {f} is.",
        "In simple words, {f}?",
        "Give me a short explanation of {f}.",
    ],
    "fresh2_plot": [
        "I want to see lead {lead} on paper.",
        "Put lead {lead} on the screen.",
        "Print out lead {lead}.",
    ],
    "fresh2_compare": [
        "Is the {q} higher now than in the earlier ECG?",
        "Track the {q} across both recordings.",
    ],
    "fresh3_verify": [
        "The nurse said something about {f}. Is that on here?",
        "Does my heart show {f}?",
        "Any evidence of {f} in this tracing?",
    ],
    "fresh3_value": [
        "What's my {q} on this strip?",
        "Find the {q}.",
        "Report the {q}, please.",
    ],
    "fresh3_overview": [
        "Go through this tracing for me.",
        "What can you tell me about this recording?",
        "Give me a full read of this ECG.",
    ],
    "fresh3_explain": [
        "How would you describe {f} to a patient?",
        "What is the meaning of {f}?",
        "{f} - what's that?",
    ],
    "fresh3_plot": [
        "Show lead {lead}, please.",
        "Let me look at lead {lead}.",
        "Make a plot of lead {lead}.",
    ],
    "fresh3_compare": [
        "Did the {q} get better on the second tracing?",
        "Compare {q}: first ECG versus second ECG.",
        "How much did the {q} differ between them?",
    ],
}
TYPE = {
    "verify_finding": "verify",
    "range": "verify",
    "value": "open",
    "explain": "explain",
    "plot": "plot",
    "direction": "verify",
    "choose": "choose",
    "compare": "compare",
    "noise": "verify",
    "verify_lay": "verify",
    "value_lay": "open",
    "overview": "open",
    "explain_lay": "explain",
    "plot_lay": "plot",
    "compare_tune": "compare",
    "fresh_verify": "verify",
    "fresh_compare": "compare",
    "fresh_noise": "verify",
    "value_polite": "open",
    "verify_hedged": "verify",
    "fresh2_verify": "verify",
    "fresh2_value": "open",
    "fresh2_explain": "explain",
    "fresh2_plot": "plot",
    "fresh2_compare": "compare",
    "fresh3_verify": "verify",
    "fresh3_value": "open",
    "fresh3_overview": "open",
    "fresh3_explain": "explain",
    "fresh3_plot": "plot",
    "fresh3_compare": "compare",
}


class Phrasing(TypedDict):
    """One generated question and what reading it should give."""

    family: str
    type: str
    targets: list[str]
    leads: list[str]
    n_recordings: int
    options: list[str]
    typo: NotRequired[bool]  # present (True) only when a typing slip was put in
    split: NotRequired[str]  # ECG-QA items: "tune" / "report" / "mixed" by PTB-XL strat_fold
    question: str


def surfaces(entry: Entry) -> list[str]:
    names = [entry.name, *entry.synonyms]
    return [s for s in dict.fromkeys(names) if s and not s.isupper() or len(s) >= 2]


def typo(text: str, rng: random.Random) -> str:
    """One adjacent-letter swap inside one word longer than four letters (a common typing slip)."""
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha()]
    if not idx:
        return text
    i = rng.choice(idx)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def generate(seed: int = 0, per_template: int = 12) -> list[Phrasing]:
    from cardioagent.tools.vocabulary import vocabulary

    v = vocabulary()

    def forms(entry_id: str) -> list[str]:
        entry = v.get(entry_id)
        if entry is None:  # the lists above name vocabulary entries: a typo there is a programming error
            raise KeyError(f"{entry_id!r} is not an entry of the clinical vocabulary")
        return surfaces(entry)

    rng = random.Random(seed)
    out: list[Phrasing] = []
    for family, templates in FAMILIES.items():
        for template in templates:
            for _ in range(per_template):
                item: Phrasing = {
                    "family": family,
                    "type": TYPE[family],
                    "targets": [],
                    "leads": [],
                    "n_recordings": 1,
                    "options": [],
                    "question": "",
                }
                f, g = rng.sample(FINDINGS, 2)
                q = rng.choice(list(DIRECTIONS) if family == "direction" else QUANTITIES)
                n = rng.choice(NOISES)
                lead = rng.choice(LEADS)
                sf = rng.choice(forms(f))
                sg = rng.choice(forms(g))
                sq = rng.choice(forms(q))
                sn = rng.choice(forms(n))
                text = template.format(
                    f=sf, g=sg, q=sq, n=sn, lead=lead, d=rng.choice(DIRECTIONS.get(q, ["high"]))
                )
                if "{f}" in template:
                    item["targets"].append(f)
                if "{g}" in template:
                    item["targets"].append(g)
                    item["options"] = [sf, sg, "none"]
                if "{q}" in template:
                    item["targets"].append(q)
                if "{n}" in template:
                    item["targets"].append(n)
                if "{lead}" in template:
                    item["leads"].append(lead)
                if family in ("explain", "explain_lay", "fresh2_explain", "fresh3_explain"):
                    item["n_recordings"] = 0
                if family in ("compare", "fresh_compare", "compare_tune", "fresh2_compare", "fresh3_compare"):
                    item["n_recordings"] = 2
                if family in ("range",):
                    item["options"] = ["yes", "no"]
                if rng.random() < 0.25:
                    text = typo(text, rng)
                    item["typo"] = True
                item["question"] = text
                out.append(item)
    return out


ECGQA_NUMERIC_OPTIONS = [
    "none",
    "p duration",
    "pr interval",
    "qrs duration",
    "qt corrected",
    "qt interval",
    "rr interval",
]
ECGQA_TUNE_FOLDS = frozenset(range(1, 9))  # PTB-XL strat_fold 1-8: tune; 9-10: report


def ecgqa_phrasings(qa_dir: Path, ptbxl_database: Path | None = None) -> list[Phrasing]:
    """ECG-QA's own questions (``ptbxl_1_250_{template,paraphrased}.json``) with the type and targets their
    template implies; ``split`` is "tune" when every ECG is in PTB-XL strat_fold 1-8, "report" when every
    one is in 9-10, else "mixed" (read from ``ptbxl_database``; "unknown" without it)."""
    from cardioagent.tools.vocabulary import vocabulary

    fold: dict[int, int] = {}
    if ptbxl_database is not None and ptbxl_database.is_file():
        with ptbxl_database.open(newline="") as fh:
            fold = {int(r["ecg_id"]): int(r["strat_fold"]) for r in csv.DictReader(fh)}
    out: list[Phrasing] = []
    for phrasing in ("template", "paraphrased"):
        path = qa_dir / f"ptbxl_1_250_{phrasing}.json"
        if not path.is_file():
            continue
        for it in json.loads(path.read_text()):
            item: Phrasing = {
                "family": f"ecgqa_{phrasing}",
                "type": "compare",
                "question": it["question"],
                "n_recordings": len(it["ecg_id"]),
                "leads": [],
                "targets": [],
                "options": list(ECGQA_NUMERIC_OPTIONS),
                "split": fold_split([fold.get(int(e)) for e in it["ecg_id"]]),
            }
            if it["attribute_type"] == "noise":
                item["type"] = "verify"
                item["options"] = ["yes", "no"]
                attr = (it["attribute"] or [""])[0]
                entry = vocabulary().from_ecgqa(attr) if attr != "any kind of noises" else None
                if entry is not None:
                    item["targets"] = [entry.id]
                if it["template_id"] != 27:
                    item["leads"] = [
                        w
                        for w in [*LEADS, "I", "V2", "V3", "V4", "V6", "aVR"]
                        if f"lead {w} " in it["question"] + " " or f"lead {w}?" in it["question"]
                    ][:1]
            out.append(item)
    return out


def fold_split(folds: list[int | None]) -> str:
    """'tune' (all in strat_fold 1-8), 'report' (all in 9-10), 'mixed', or 'unknown' (a fold missing)."""
    if not folds or None in folds:
        return "unknown"
    if set(folds) <= ECGQA_TUNE_FOLDS:
        return "tune"
    return "report" if not set(folds) & ECGQA_TUNE_FOLDS else "mixed"
