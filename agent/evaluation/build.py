"""``cardioagent bench build``: an ECG-QA-style benchmark from a folder of labelled WFDB records.

What a record may carry (CinC-2021 / PTB-XL style headers): ``# Dx:`` SNOMED-CT codes, ``# Age:``, ``# Sex:``
(MIT-BIH's "# 69 M" too), and reference beat annotations (``.atr``/``.qrs`` beside the header: the reference
heart rate is 60 / mean RR of the annotated beats). Headers are read in the folder itself, not below it;
a record with none of these is skipped.

Questions (``question_type`` as in ECG-QA; template ids from 101 up are this project's, not ECG-QA's):

| id | type | attribute | question | allowed answers |
|---|---|---|---|---|
| 101 | single-verify | rhythm | Does this ECG show {label}? | yes, no, not sure |
| 102 | single-choose | rhythm | Which rhythm does this ECG show, {a} or {b}? | a, b, none |
| 103 | single-query | rhythm | What rhythm does this ECG show? | rhythm vocabulary, none |
| 104 | single-verify | extra_systole | Does this ECG show {label}? | yes, no, not sure |
| 105 | single-query | extra_systole | Which extra beats does this ECG show? | extra-beat vocabulary, none |
| 106 | single-verify | conduction | Does this ECG show {label}? | yes, no, not sure |
| 107 | single-choose | conduction | Which conduction abnormality does this ECG show, {a} or {b}? | a, b, none |
| 108 | single-query | conduction | Which conduction abnormality does this ECG show? | conduction vocabulary, none |
| 109 | single-verify | intervals | Does this ECG show {label}? | yes, no, not sure |
| 110 | single-query | intervals | Which interval abnormality does this ECG show? | interval vocabulary, none |
| 111 | single-verify | rate | Is the heart rate of this ECG {category}? | yes, no, not sure |
| 112 | single-choose | rate | Which range is the heart rate of this ECG in, {a} or {b}? | a, b, none |
| 113 | single-query | rate | What is the range of the heart rate of this ECG? | the three categories |
| 114 | single-choose | demographics | Is the patient male or female? | female, male |
| 115 | single-query | demographics | What is the age group of the patient? | the four age groups |
| 116 | single-verify | demographics | Is the age of the patient {group}? | yes, no, not sure |

Answer vocabulary:
- labels: the SNOMED-CT codes of ``DX_VOCABULARY`` (CinC-2021 names; codes CinC scores as equivalent share
  a name), grouped by attribute; a template's label options are the labels of its attribute that occur in
  the scanned records. Codes outside the table are not asked about. Gold answers are the header's labels;
  a label that is absent counts as "no" (as ECG-QA does with PTB-XL's SCP codes).
- rate categories: "below the normal range" (< 60 bpm), "within the normal range" (60-100), "above the
  normal range" (> 100), adults. Truth: the annotated reference rate when there is one, else the header's
  rhythm label (sinus bradycardia or bradycardia: below; sinus tachycardia: above; sinus rhythm: within);
  no rate question for conflicting labels, no label, or a patient under 18 (adult limits).
- age groups: "under 18", "18 to 39", "40 to 64", "65 or older"; sexes: "female", "male" (header).

Sampling, fixed by ``seed`` and the record name (adding records does not change the others' questions):
per attribute, one verify question on a label the record has, and as many verify questions on an absent
label, spread over the labelled records, so "yes" and "no" are balanced; one choose question (a present and
an absent label, in random order) per record with a label of the attribute; one query per record with a
rhythm label (rhythm), per labelled record (other label attributes: "none" when it has none of them), per
record with a rate truth (rate). Rate and age verify questions claim the true category half of the time.
Only the header and signal files go into ``files``: annotations stay out of the agent's reach. Items are
stored in a fixed shuffled order (ids follow it), so any first N items mix every kind of question.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from cardioagent.tools.errors import InputError

YN = ["yes", "no", "not sure"]
RATE_CATEGORIES = ["below the normal range", "within the normal range", "above the normal range"]
AGE_GROUPS = ["under 18", "18 to 39", "40 to 64", "65 or older"]
SEXES = ["female", "male"]
BEAT_SYMBOLS = set("NLRBAaJSVrFejnE/fQ?")  # WFDB beat annotation codes

# SNOMED-CT code -> (attribute type, answer name). Names after the CinC-2021 scoring table.
DX_VOCABULARY: dict[str, tuple[str, str]] = {
    "426783006": ("rhythm", "sinus rhythm"),
    "426177001": ("rhythm", "sinus bradycardia"),
    "427084000": ("rhythm", "sinus tachycardia"),
    "427393009": ("rhythm", "sinus arrhythmia"),
    "164889003": ("rhythm", "atrial fibrillation"),
    "164890007": ("rhythm", "atrial flutter"),
    "713422000": ("rhythm", "atrial tachycardia"),
    "426761007": ("rhythm", "supraventricular tachycardia"),
    "164895002": ("rhythm", "ventricular tachycardia"),
    "426627000": ("rhythm", "bradycardia"),
    "29320008": ("rhythm", "atrioventricular junctional rhythm"),
    "10370003": ("rhythm", "pacing rhythm"),
    "284470004": ("extra_systole", "premature atrial contraction"),
    "63593006": ("extra_systole", "premature atrial contraction"),  # SVPB, scored as PAC
    "427172004": ("extra_systole", "premature ventricular contractions"),
    "17338001": ("extra_systole", "premature ventricular contractions"),  # VPB, scored as PVC
    "164884008": ("extra_systole", "premature ventricular contractions"),  # ventricular ectopics
    "251187003": ("extra_systole", "atrial escape beat"),
    "251164006": ("extra_systole", "junctional premature complex"),
    "75532003": ("extra_systole", "ventricular escape beat"),
    "59118001": ("conduction", "right bundle branch block"),
    "713427006": ("conduction", "right bundle branch block"),  # CRBBB, scored as RBBB
    "164909002": ("conduction", "left bundle branch block"),
    "733534002": ("conduction", "left bundle branch block"),  # CLBBB, scored as LBBB
    "713426002": ("conduction", "incomplete right bundle branch block"),
    "251120003": ("conduction", "incomplete left bundle branch block"),
    "698252002": ("conduction", "nonspecific intraventricular conduction disorder"),
    "270492004": ("conduction", "1st degree av block"),
    "445118002": ("conduction", "left anterior fascicular block"),
    "445211001": ("conduction", "left posterior fascicular block"),
    "6374002": ("conduction", "bundle branch block"),
    "195042002": ("conduction", "2nd degree av block"),
    "27885002": ("conduction", "complete heart block"),
    "111975006": ("intervals", "prolonged qt interval"),
    "77867006": ("intervals", "decreased qt interval"),
    "164947007": ("intervals", "prolonged pr interval"),
    "49578007": ("intervals", "shortened pr interval"),
    "251205003": ("intervals", "prolonged p wave"),
}
LABEL_TEMPLATES: dict[str, dict[str, tuple[int, str] | None]] = {
    "rhythm": {
        "verify": (101, "Does this ECG show {label}?"),
        "choose": (102, "Which rhythm does this ECG show, {a} or {b}?"),
        "query": (103, "What rhythm does this ECG show?"),
    },
    "extra_systole": {
        "verify": (104, "Does this ECG show {label}?"),
        "choose": None,
        "query": (105, "Which extra beats does this ECG show?"),
    },
    "conduction": {
        "verify": (106, "Does this ECG show {label}?"),
        "choose": (107, "Which conduction abnormality does this ECG show, {a} or {b}?"),
        "query": (108, "Which conduction abnormality does this ECG show?"),
    },
    "intervals": {
        "verify": (109, "Does this ECG show {label}?"),
        "choose": None,
        "query": (110, "Which interval abnormality does this ECG show?"),
    },
}
RATE_TEMPLATES = {
    "verify": (111, "Is the heart rate of this ECG {category}?"),
    "choose": (112, "Which range is the heart rate of this ECG in, {a} or {b}?"),
    "query": (113, "What is the range of the heart rate of this ECG?"),
}
DEMOGRAPHIC_TEMPLATES = {
    "sex": (114, "Is the patient male or female?"),
    "age": (115, "What is the age group of the patient?"),
    "age_verify": (116, "Is the age of the patient {group}?"),
}


class LabelledRecord(BaseModel):
    name: str
    header: Path
    files: list[Path]
    labels: dict[str, list[str]] = Field(default_factory=dict)  # attribute -> names
    dx: list[str] = Field(default_factory=list)
    age: float | None = None
    sex: str | None = None
    reference_hr: float | None = None
    rate: str | None = None  # one of RATE_CATEGORIES


def rate_category(bpm: float) -> str:
    return RATE_CATEGORIES[0] if bpm < 60 else RATE_CATEGORIES[2] if bpm > 100 else RATE_CATEGORIES[1]


def age_group(age: float) -> str:
    return (
        AGE_GROUPS[0]
        if age < 18
        else AGE_GROUPS[1]
        if age < 40
        else AGE_GROUPS[2]
        if age < 65
        else AGE_GROUPS[3]
    )


def scan_records(folder: Path) -> tuple[list[LabelledRecord], list[str]]:
    """The labelled records of a folder, and one line per header skipped (with the reason)."""
    import wfdb

    from cardioagent.tools.signal.loaders.wfdb_loader import parse_header_comments

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(str(folder), "is not a folder", "a folder of WFDB records (.hea + data files)")
    records, skipped = [], []
    for hea in sorted(folder.glob("*.hea")):
        base = hea.with_suffix("")
        try:
            header = wfdb.rdheader(str(base))
        except Exception as exc:  # noqa: BLE001 — a broken header is skipped with its reason
            skipped.append(f"{hea.name}: unreadable header ({exc})")
            continue
        names = sorted({f for f in (getattr(header, "file_name", None) or []) if f})
        data = [folder / f for f in names]
        if not data or any(not f.is_file() for f in data):
            skipped.append(f"{hea.name}: data file missing or multi-segment record")
            continue
        demo, dx = parse_header_comments(header.comments or [])
        rec = LabelledRecord(
            name=base.name, header=hea, files=[hea, *data], dx=dx, age=demo.age, sex=demo.sex
        )
        for code in dx:
            if code in DX_VOCABULARY:
                attr, label = DX_VOCABULARY[code]
                if label not in rec.labels.setdefault(attr, []):
                    rec.labels[attr].append(label)
        rec.reference_hr = _reference_rate(base, header.fs)
        rec.rate = _rate_truth(rec)
        if not (rec.dx or rec.age is not None or rec.sex or rec.reference_hr is not None):
            skipped.append(f"{hea.name}: no labels, demographics or beat annotations")
            continue
        records.append(rec)
    return records, skipped


def _reference_rate(base: Path, fs: float) -> float | None:
    import wfdb

    for ext in ("atr", "qrs"):
        if base.with_suffix(f".{ext}").is_file():
            try:
                ann = wfdb.rdann(str(base), ext)
            except Exception:  # noqa: BLE001, S112 — an unreadable annotation file gives no reference
                continue
            beats = [s for s, sym in zip(ann.sample, ann.symbol, strict=False) if sym in BEAT_SYMBOLS]
            if len(beats) >= 3:
                mean_rr = (beats[-1] - beats[0]) / (len(beats) - 1) / fs
                return round(60.0 / float(mean_rr), 2)
    return None


def _rate_truth(rec: LabelledRecord) -> str | None:
    if rec.age is not None and rec.age < 18:
        return None
    if rec.reference_hr is not None:
        return rate_category(rec.reference_hr)
    rhythm = set(rec.labels.get("rhythm", []))
    found = set()
    if rhythm & {"sinus bradycardia", "bradycardia"}:
        found.add(RATE_CATEGORIES[0])
    if "sinus tachycardia" in rhythm:
        found.add(RATE_CATEGORIES[2])
    if "sinus rhythm" in rhythm:
        found.add(RATE_CATEGORIES[1])
    return found.pop() if len(found) == 1 else None


def _rng(seed: int, *parts: str) -> random.Random:
    digest = hashlib.sha256(":".join([str(seed), *parts]).encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


class _Builder:
    def __init__(self, out: Path, seed: int) -> None:
        self.out = out
        self.seed = seed
        self.items: list[dict[str, Any]] = []

    def add(
        self,
        rec: LabelledRecord,
        qtype: str,
        attr: str,
        template: tuple[int, str],
        question: str,
        options: list[str],
        answer: list[str],
        attribute: list[str] | None,
    ) -> None:
        self.items.append(
            {  # question_id and sample_id are given once the items are shuffled
                "template_id": template[0],
                "question_id": None,
                "sample_id": None,
                "question_type": qtype,
                "attribute_type": attr,
                "question": question,
                "answer": answer,
                "ecg_id": [rec.name],
                "attribute": attribute,
                "options": options,
                "files": [_relative(f, self.out.parent) for f in rec.files],
            }
        )


def _relative(path: Path, start: Path) -> str:
    import os

    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def build_benchmark(folders: list[Path], out: Path, seed: int = 0) -> dict[str, Any]:
    """Write the benchmark to ``out`` and return it (an object with ``items`` and its vocabulary)."""
    records, skipped = [], []
    for folder in folders:
        found, why = scan_records(folder)
        records += found
        skipped += why
    if not records:
        raise InputError(
            ", ".join(map(str, folders)),
            "holds no labelled WFDB record",
            "headers with '# Dx:', '# Age:'/'# Sex:' or beat annotations (.atr)",
        )
    names = [r.name for r in records]
    if len(set(names)) != len(names):
        raise InputError(", ".join(map(str, folders)), "two records share a name", "unique record names")
    vocab = {
        attr: sorted({lab for r in records for lab in r.labels.get(attr, [])}) for attr in LABEL_TEMPLATES
    }
    b = _Builder(out, seed)
    for attr, templates in LABEL_TEMPLATES.items():
        if vocab[attr]:
            _label_questions(b, records, attr, templates, vocab[attr])
    for rec in records:
        _rate_questions(b, rec)
    for rec in records:
        _demographic_questions(b, rec)
    # A fixed shuffle, so that any prefix (--limit N) mixes every kind of question.
    items = sorted(b.items, key=lambda it: _rng(seed, "order", it["ecg_id"][0], it["question"]).random())
    question_ids: dict[str, int] = {}
    template_groups: list[Mapping[str, tuple[int, str] | None]] = [
        *LABEL_TEMPLATES.values(),
        RATE_TEMPLATES,
        DEMOGRAPHIC_TEMPLATES,
    ]
    for i, it in enumerate(items):
        it["sample_id"] = i
        it["question_id"] = question_ids.setdefault(it["question"], len(question_ids))
    bench = {
        "format": "ECG-QA items with 'files' and 'options' (cardioagent extension)",
        "built_by": "cardioagent bench build",
        "seed": seed,
        "records": len(records),
        "skipped": skipped,
        "vocabulary": {
            **{k: v for k, v in vocab.items() if v},
            "rate": RATE_CATEGORIES,
            "age_group": AGE_GROUPS,
            "sex": SEXES,
        },
        "templates": {str(t[0]): t[1] for ts in template_groups for t in ts.values() if t},
        "counts": dict(
            sorted(Counter(f"{it['question_type']}/{it['attribute_type']}" for it in items).items())
        ),
        "items": items,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(bench, indent=1))
    return bench


def _label_questions(
    b: _Builder,
    records: list[LabelledRecord],
    attr: str,
    templates: dict[str, tuple[int, str] | None],
    vocab: list[str],
) -> None:
    labelled = [r for r in records if r.dx]
    having = [r for r in labelled if r.labels.get(attr)]
    verify, query = templates["verify"], templates["query"]
    if verify is None or query is None:  # only "choose" may be missing (LABEL_TEMPLATES)
        raise ValueError(f"the {attr!r} label templates need a 'verify' and a 'query' template")
    for rec in having:
        label = _rng(b.seed, rec.name, attr, "yes").choice(rec.labels[attr])
        b.add(rec, "single-verify", attr, verify, verify[1].format(label=label), YN, ["yes"], [label])
    # as many "no" questions, on the labelled records in a fixed shuffled order
    order = sorted(labelled, key=lambda r: _rng(b.seed, r.name, attr, "order").random())
    n_no = 0
    for rec in order:
        if n_no >= len(having):
            break
        absent = [lab for lab in vocab if lab not in rec.labels.get(attr, [])]
        if absent:
            label = _rng(b.seed, rec.name, attr, "no").choice(absent)
            b.add(rec, "single-verify", attr, verify, verify[1].format(label=label), YN, ["no"], [label])
            n_no += 1
    if templates["choose"]:
        choose = templates["choose"]
        for rec in having:
            absent = [lab for lab in vocab if lab not in rec.labels[attr]]
            if not absent:
                continue
            rng = _rng(b.seed, rec.name, attr, "choose")
            pair = [rng.choice(rec.labels[attr]), rng.choice(absent)]
            rng.shuffle(pair)
            b.add(
                rec,
                "single-choose",
                attr,
                choose,
                choose[1].format(a=pair[0], b=pair[1]),
                [*pair, "none"],
                [lab for lab in pair if lab in rec.labels[attr]],
                pair,
            )
    for rec in having if attr == "rhythm" else labelled:
        b.add(
            rec,
            "single-query",
            attr,
            query,
            query[1],
            [*vocab, "none"],
            list(rec.labels.get(attr, [])) or ["none"],
            None,
        )


def _rate_questions(b: _Builder, rec: LabelledRecord) -> None:
    if rec.rate is None:
        return
    rng = _rng(b.seed, rec.name, "rate")
    others = [c for c in RATE_CATEGORIES if c != rec.rate]
    claim = rec.rate if rng.random() < 0.5 else rng.choice(others)
    t = RATE_TEMPLATES["verify"]
    b.add(
        rec,
        "single-verify",
        "rate",
        t,
        t[1].format(category=claim),
        YN,
        ["yes" if claim == rec.rate else "no"],
        [claim],
    )
    pair = [rec.rate, rng.choice(others)]
    rng.shuffle(pair)
    t = RATE_TEMPLATES["choose"]
    b.add(
        rec, "single-choose", "rate", t, t[1].format(a=pair[0], b=pair[1]), [*pair, "none"], [rec.rate], pair
    )
    t = RATE_TEMPLATES["query"]
    b.add(rec, "single-query", "rate", t, t[1], list(RATE_CATEGORIES), [rec.rate], None)


def _demographic_questions(b: _Builder, rec: LabelledRecord) -> None:
    if rec.sex:
        t = DEMOGRAPHIC_TEMPLATES["sex"]
        b.add(rec, "single-choose", "demographics", t, t[1], list(SEXES), [rec.sex], ["sex"])
    if rec.age is not None:
        group = age_group(rec.age)
        t = DEMOGRAPHIC_TEMPLATES["age"]
        b.add(rec, "single-query", "demographics", t, t[1], list(AGE_GROUPS), [group], None)
        rng = _rng(b.seed, rec.name, "age")
        claim = group if rng.random() < 0.5 else rng.choice([g for g in AGE_GROUPS if g != group])
        t = DEMOGRAPHIC_TEMPLATES["age_verify"]
        b.add(
            rec,
            "single-verify",
            "demographics",
            t,
            t[1].format(group=claim),
            YN,
            ["yes" if claim == group else "no"],
            [claim],
        )
