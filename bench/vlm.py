"""Acceptance bench of the ECG-image VLM (issue 6): real records never trained on, unseen synthetic
seeds, refusal of non-ECG images, and the time to read one image on this CPU.

    .venv/bin/python bench/vlm.py [--weights DIR ...] [--records ../shared/data/ecg12_cinc2021]
        [--variants 8] [--vlm-variants 2] [--per-finding 40] [--vlm-per-finding 6] [--negatives 96]
        [--seed 1000] [--skip-vlm] [--threads 2] [--findings F1,F2] [--vlm-repeats 3] [--json PATH]

Parts (each prints a Markdown table; everything goes to ``bench/results/vlm.json``):

1. ``real``: every CinC-2021 record of ``--records`` rendered ``--variants`` times as a 12-lead page
   with photo/scan augmentation (``dataset._render``, seeds of their own). A record listed in a weights
   folder's ``meta.training['real_records']`` is never scored by that model; ``--weights`` may be given
   once per cross-validation fold and each record is then read by the fold model(s) that did not train on
   it. Rate category (truth: the classical heart rate of ``EcgFacts``, only where it is known) and sinus
   vs other rhythm (truth: the rhythm codes) from (a) the label head and (b) the language model's answer
   to the rate-category / rhythm question of ``instruct`` (first ``--vlm-variants`` renderings), scored
   with ``instruct.score_answer``. The sinus-vs-other set is nearly all sinus, so the majority-class
   baseline and the sensitivity for "other" stand next to the accuracy. The acceptance lines judge
   the answers as the tool gives them: an ECG image the model refuses as "not an ECG" counts as wrong.
2. ``synthetic``: for every finding of ``synth.FINDINGS``, ``--per-finding`` ECGs with it (half alone,
   half among random other findings) and as many without it (random findings), unseen seeds, rendered
   and augmented as in training. Sensitivity, specificity and balanced accuracy of the head's call;
   the language model's yes/no answers on the first ``--vlm-per-finding`` of each; mean absolute error
   of the head's heart rate, axis (circular), PR, QRS and QTc against the generator's labels.
3. ``refusal``: ``--negatives`` non-ECG images (``negatives.make_negative``, every kind in turn, unseen
   seeds): refusal rate per kind; false refusals among the ECG images of parts 1 and 2.
4. ``timing``: label head alone per image (median of 20), model load, and a full answer per image for a
   short question and for the full report (median of 3 after a warm-up), at ``--threads`` threads.

Parts 2-4 use the first ``--weights`` folder (the shipped one by default). Seeds: every image is a pure
function of ``--seed`` and its index, in streams that training (``dataset.py``: ``[seed, 1, i]`` and
``[seed, 2, r, v]``; ``train.py``: ``[seed, 99]`` for negatives) never draws from.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import statistics
import sys
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RECORDS = REPO.parent / "shared" / "data" / "ecg12_cinc2021"
OUT = REPO / "bench" / "results" / "vlm.json"

# Streams of the seed sequence, apart from the training data's (dataset.py uses 1 and 2 with 3-4 entries).
REAL_STREAM, SYNTH_STREAM, NEGATIVE_STREAM, TIMING_STREAM = 3, 7, 9, 13
RATE_TARGET, SINUS_TARGET, FINDING_TARGET, TIME_TARGET_S = 0.90, 0.85, 0.90, 10.0
VLM_MAX_NEW_TOKENS = (
    32  # the scored answers are one short sentence; a report needs more (timing uses the default)
)
SHORT_QUESTION = "Is this sinus rhythm?"


# ----------------------------------------------------------------------------------- pure helpers


def binary_scores(truth: Sequence[bool], called: Sequence[bool]) -> dict[str, Any]:
    """Sensitivity, specificity and their mean (balanced accuracy) of binary calls; a side without
    examples has no rate (None) and the balanced accuracy is then the other side's rate."""
    if len(truth) != len(called):
        raise ValueError(f"{len(truth)} truths but {len(called)} calls")
    t, c = np.asarray(truth, bool), np.asarray(called, bool)
    n_pos, n_neg = int(t.sum()), int((~t).sum())
    sens = float((c & t).sum() / n_pos) if n_pos else None
    spec = float((~c & ~t).sum() / n_neg) if n_neg else None
    rates = [r for r in (sens, spec) if r is not None]
    return {
        "n_pos": n_pos,
        "n_neg": n_neg,
        "sensitivity": sens,
        "specificity": spec,
        "balanced_accuracy": float(np.mean(rates)) if rates else None,
        "accuracy": float((c == t).mean()) if len(t) else None,
    }


def accuracy(truth: Sequence[Any], predicted: Sequence[Any]) -> dict[str, Any]:
    """Share of predictions equal to the truth, with the majority-class baseline on the same items."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} truths but {len(predicted)} predictions")
    n = len(truth)
    correct = sum(1 for t, p in zip(truth, predicted, strict=False) if t == p)
    out: dict[str, Any] = {"n": n, "correct": correct, "accuracy": correct / n if n else None}
    out.update(majority_baseline(truth))
    return out


def majority_baseline(truth: Sequence[Any]) -> dict[str, Any]:
    """What always answering the most common truth would score (ties: the first seen)."""
    if not truth:
        return {"majority": None, "majority_accuracy": None}
    label, count = Counter(truth).most_common(1)[0]
    return {"majority": label, "majority_accuracy": count / len(truth)}


def circular_error_deg(a: float, b: float) -> float:
    """Absolute angular difference in degrees, 0-180 (axis -170 vs +170 is 20 degrees apart)."""
    return abs((float(a) - float(b) + 180.0) % 360.0 - 180.0)


def mean_abs_error(
    pairs: Iterable[tuple[float | None, float | None]],
    error: Callable[[float, float], float] = lambda a, b: abs(a - b),
) -> dict[str, Any]:
    """MAE over the pairs where both values exist (a PR interval has no truth in AF, for example)."""
    errs = [
        error(t, p) for t, p in pairs if t is not None and p is not None and np.isfinite(t) and np.isfinite(p)
    ]
    return {
        "n": len(errs),
        "mae": float(np.mean(errs)) if errs else None,
        "median": float(np.median(errs)) if errs else None,
    }


def scoring_plan(records: Sequence[str], trained_on: dict[str, set[str]]) -> dict[str, list[str]]:
    """For each model (key of ``trained_on``), the records it may score: those it never trained on."""
    return {model: [r for r in records if r not in seen] for model, seen in trained_on.items()}


def unscored_records(records: Sequence[str], plan: dict[str, list[str]]) -> list[str]:
    scored = {r for rs in plan.values() for r in rs}
    return [r for r in records if r not in scored]


def rate_truth(facts: Any) -> str | None:
    """The rate category of a record where it is known: measured, and not contradicted by a rate code
    (``facts_from_cinc`` then leaves bradycardia / tachycardia unassessed; JS20014 is such a record)."""
    if facts.heart_rate_bpm is None or not (facts.known("bradycardia") and facts.known("tachycardia")):
        return None
    return facts.rate_category


def sinus_truth(facts: Any) -> bool | None:
    """True for sinus rhythm, False for any other known rhythm, None where the rhythm is unknown."""
    return None if facts.rhythm is None else facts.rhythm == "sinus_rhythm"


def category_pair(pairs: Sequence[Any], family: str) -> Any | None:
    """The question of ``pairs`` whose target is a category of ``family`` ('rate', 'rhythm', ...)."""
    return next((p for p in pairs if p.target.kind == "category" and p.target.family == family), None)


def yes_no_pair(pairs: Sequence[Any], finding: str, truth: bool) -> Any | None:
    """The first yes/no question about ``finding`` whose expected answer is the truth (the bundle-branch
    question also targets wide_qrs but answers "is it a typical block", so it can disagree)."""
    return next(
        (
            p
            for p in pairs
            if p.target.kind == "yes_no" and p.target.finding == finding and bool(p.target.value) == truth
        ),
        None,
    )


def answer_says_sinus(text: str) -> bool:
    """Whether a free-text rhythm answer names sinus rhythm (the category its first sentence names)."""
    from cardioagent.models.vlm.instruct import QAPair, Target, score_answer

    probe = QAPair(
        question="What is the rhythm?",
        answer="",
        question_type="rhythm",
        template="bench.sinus",
        target=Target(kind="category", family="rhythm", value="sinus_rhythm"),
    )
    return score_answer(probe, text)


def positive_findings(rng: np.random.Generator, finding: str, mixed: bool, tries: int = 200) -> set[str]:
    """Findings of an ECG that has ``finding``: alone (with sinus rhythm unless it is a rhythm; 'sinus
    rhythm' alone is the normal ECG), or inside a random set from ``sample_findings`` made compatible
    (another rhythm replaced, the opposite rate removed; draws the generator cannot make are drawn again)."""
    from cardioagent.models.vlm.synth import RHYTHMS, IncompatibleFindings, check_findings, sample_findings

    if not mixed:
        return {finding}
    for _ in range(tries):
        s = sample_findings(rng)
        if finding in RHYTHMS:
            s -= set(RHYTHMS)
        s.discard({"bradycardia": "tachycardia", "tachycardia": "bradycardia"}.get(finding, ""))
        s.add(finding)
        try:
            check_findings(s)
        except IncompatibleFindings:
            continue
        return s
    return {finding}


def negative_findings(rng: np.random.Generator, finding: str, tries: int = 500) -> set[str]:
    """A random finding set from ``sample_findings`` without ``finding``."""
    from cardioagent.models.vlm.synth import sample_findings

    for _ in range(tries):
        s = sample_findings(rng)
        if finding not in s:
            return s
    raise RuntimeError(f"no random finding set without {finding} in {tries} draws")


def _fmt(x: Any, pct: bool = False, nd: int = 1) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not np.isfinite(x):
        return "-"
    if pct:
        return f"{100 * x:.{nd}f} %"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def acceptance(
    name: str, target: str, measured: float | None, passed: bool | None, shown: str
) -> dict[str, Any]:
    return {
        "criterion": name,
        "target": target,
        "measured": measured,
        "shown": shown,
        "result": "not measured" if passed is None else "pass" if passed else "FAIL",
    }


# ---------------------------------------------------------------------------------------- images


def _render_config() -> Any:
    from cardioagent.models.vlm.dataset import DatasetConfig

    return DatasetConfig(n_synthetic=0, augment=True)


def _as_uploaded(img: np.ndarray) -> np.ndarray:
    """A JPEG round trip at the data set's quality: what training read and what a user's file holds."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=92)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


def render_real(rec: Any, seed: int, variant: int, cfg: Any) -> np.ndarray:
    from cardioagent.models.vlm.dataset import _render

    # keyed by the record's name so an image does not depend on which records the folder holds
    rng = np.random.default_rng([seed, REAL_STREAM, zlib.crc32(rec.name.encode()), variant])
    img, _ = _render(rec, rng, cfg)
    return _as_uploaded(img)


def synthetic_case(
    seed: int, finding_index: int, positive: bool, i: int, cfg: Any
) -> tuple[np.ndarray, Any, str]:
    """Image, SynthLabels and name of test ECG ``i`` with (``positive``) or without finding ``finding_index``."""
    from cardioagent.models.vlm.dataset import _render
    from cardioagent.models.vlm.synth import FINDINGS, IncompatibleFindings, generate

    finding = FINDINGS[finding_index]
    rng = np.random.default_rng([seed, SYNTH_STREAM, finding_index, int(positive), i])
    name = f"test-{finding}-{'pos' if positive else 'neg'}-{i:03d}"
    for _ in range(20):
        want = (
            positive_findings(rng, finding, mixed=i % 2 == 1) if positive else negative_findings(rng, finding)
        )
        try:
            rec, labels = generate(rng, findings=want, name=name)
        except IncompatibleFindings:  # a rare set the generator cannot hit within its draws: another set
            continue
        img, _ = _render(rec, rng, cfg)
        return _as_uploaded(img), labels, name
    raise RuntimeError(f"{name}: no ECG generated in 20 finding sets")


# ------------------------------------------------------------------------------------------ parts


def _reading_dict(r: Any) -> dict[str, Any]:
    """The parts of a ``LabelReading`` the bench scores, rounded for the JSON."""
    out: dict[str, Any] = {
        "is_ecg": bool(r.is_ecg),
        "page_probability": _round(r.page_probability, 3),
        "findings": list(r.findings),
        "rate_category": r.rate_category,
        "rhythm": r.rhythm,
    }
    for k in ("heart_rate_bpm", "axis_deg", "pr_ms", "qrs_ms", "qtc_ms"):
        out[k] = _round(getattr(r, k, None))
    q = getattr(r, "image_quality", None)
    flag = getattr(q, "flag", q)
    out["image_quality"] = getattr(flag, "value", None if flag is None else str(flag))
    return out


def _round(x: Any, nd: int = 1) -> Any:
    return None if x is None else round(float(x), nd)


def run_real(
    readers: list[tuple[str, Any]],
    real: list[tuple[Any, Any]],
    plan: dict[str, list[str]],
    args: argparse.Namespace,
    use_vlm: bool,
    bar: Any,
) -> dict[str, Any]:
    """Part 1; ``readers`` are (label, reader) pairs loaded lazily by the caller in plan order."""
    from cardioagent.models.vlm.instruct import rate_pairs, rhythm_pairs, score_answer

    cfg = _render_config()
    by_name = {rec.name: (rec, facts) for rec, facts in real}
    images: list[dict[str, Any]] = []
    per_model: dict[str, dict[str, Any]] = {}
    for label, reader in readers:
        names = plan[label]
        t0 = time.perf_counter()
        n_vlm = 0
        for name in names:
            rec, facts = by_name[name]
            imgs = [render_real(rec, args.seed, v, cfg) for v in range(args.variants)]
            readings = reader.read_many(imgs, batch_size=16)
            rp, hp = category_pair(rate_pairs(facts), "rate"), category_pair(rhythm_pairs(facts), "rhythm")
            for v, (img, r) in enumerate(zip(imgs, readings, strict=False)):
                row: dict[str, Any] = {
                    "model": label,
                    "record": name,
                    "variant": v,
                    "truth_rate": rate_truth(facts),
                    "truth_sinus": sinus_truth(facts),
                    "truth_rhythm": facts.rhythm,
                    "classical_hr_bpm": facts.heart_rate_bpm,
                    **_reading_dict(r),
                }
                if use_vlm and v < args.vlm_variants:
                    if rp is not None and row["truth_rate"] is not None:
                        text = reader.answer(img, rp.question, max_new_tokens=VLM_MAX_NEW_TOKENS)
                        row["vlm_rate_answer"], row["vlm_rate_correct"] = text, score_answer(rp, text)
                        n_vlm += 1
                    if hp is not None and row["truth_sinus"] is not None:
                        text = reader.answer(img, hp.question, max_new_tokens=VLM_MAX_NEW_TOKENS)
                        row["vlm_rhythm_answer"], row["vlm_says_sinus"] = text, answer_says_sinus(text)
                        n_vlm += 1
                images.append(row)
            bar(len(imgs))
        per_model[label] = {
            "records": names,
            "n_records": len(names),
            "n_images": len(names) * args.variants,
            "vlm_answers": n_vlm,
            "seconds": round(time.perf_counter() - t0, 1),
        }
    return {"images": images, "per_model": per_model}


def summarize_real(images: list[dict[str, Any]]) -> dict[str, Any]:
    rate = [r for r in images if r["truth_rate"] is not None]
    rhythm = [r for r in images if r["truth_sinus"] is not None]
    out: dict[str, Any] = {
        "head_rate": accuracy([r["truth_rate"] for r in rate], [r["rate_category"] for r in rate]),
        "head_sinus": accuracy(
            [r["truth_sinus"] for r in rhythm], [r["rhythm"] == "sinus_rhythm" for r in rhythm]
        ),
        # positive class = "other rhythm": the rare class the accuracy alone would hide
        "head_other_detection": binary_scores(
            [not r["truth_sinus"] for r in rhythm], [r["rhythm"] != "sinus_rhythm" for r in rhythm]
        ),
        # as the tool answers: an ECG image it refuses gets no reading at all, so it counts as wrong
        "head_rate_tool": accuracy(
            [r["truth_rate"] for r in rate], [r["rate_category"] if r["is_ecg"] else None for r in rate]
        ),
        "head_sinus_tool": accuracy(
            [r["truth_sinus"] for r in rhythm],
            [(r["rhythm"] == "sinus_rhythm") if r["is_ecg"] else None for r in rhythm],
        ),
        "head_hr_vs_classical": mean_abs_error((r["classical_hr_bpm"], r["heart_rate_bpm"]) for r in images),
        "records": {
            "rate_known": len({r["record"] for r in rate}),
            "rhythm_known": len({r["record"] for r in rhythm}),
            "sinus": len({r["record"] for r in rhythm if r["truth_sinus"]}),
            "other": len({r["record"] for r in rhythm if not r["truth_sinus"]}),
        },
        "false_refusals": sum(1 for r in images if not r["is_ecg"]),
        "n_images": len(images),
        "image_quality": dict(Counter(r["image_quality"] for r in images)),
    }
    vr = [r for r in rate if "vlm_rate_correct" in r]
    vh = [r for r in rhythm if "vlm_says_sinus" in r]
    if vr or vh:
        out["vlm_rate"] = {
            "n": len(vr),
            "correct": sum(r["vlm_rate_correct"] for r in vr),
            "accuracy": (sum(r["vlm_rate_correct"] for r in vr) / len(vr)) if vr else None,
            **majority_baseline([r["truth_rate"] for r in vr]),
        }
        out["vlm_rate_tool"] = accuracy(
            [r["truth_rate"] for r in vr],
            [r["truth_rate"] if r["vlm_rate_correct"] and r["is_ecg"] else None for r in vr],
        )
        out["vlm_sinus"] = accuracy([r["truth_sinus"] for r in vh], [r["vlm_says_sinus"] for r in vh])
        out["vlm_sinus_tool"] = accuracy(
            [r["truth_sinus"] for r in vh], [r["vlm_says_sinus"] if r["is_ecg"] else None for r in vh]
        )
        out["vlm_other_detection"] = binary_scores(
            [not r["truth_sinus"] for r in vh], [not r["vlm_says_sinus"] for r in vh]
        )
    return out


def per_record_rows(images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in images:
        groups[(r["record"], r["model"])].append(r)
    rows = []
    for (rec, model), rs in sorted(groups.items()):
        first = rs[0]
        hr = [r["heart_rate_bpm"] for r in rs if r["heart_rate_bpm"] is not None]
        row = {
            "record": rec,
            "model": model,
            "n": len(rs),
            "truth_rate": first["truth_rate"],
            "truth_rhythm": first["truth_rhythm"],
            "classical_hr_bpm": first["classical_hr_bpm"],
            "head_hr_bpm_mean": _round(np.mean(hr)) if hr else None,
            "head_rate_correct": (
                sum(r["rate_category"] == first["truth_rate"] for r in rs) if first["truth_rate"] else None
            ),
            "head_sinus_correct": (
                sum((r["rhythm"] == "sinus_rhythm") == first["truth_sinus"] for r in rs)
                if first["truth_sinus"] is not None
                else None
            ),
            "head_rates": dict(Counter(r["rate_category"] for r in rs)),
            "head_rhythms": dict(Counter(r["rhythm"] for r in rs)),
            "refused": sum(1 for r in rs if not r["is_ecg"]),
        }
        vr = [r for r in rs if "vlm_rate_correct" in r]
        vh = [r for r in rs if "vlm_says_sinus" in r]
        if vr or vh:
            if vr:
                row["vlm_rate_correct"] = f"{sum(r['vlm_rate_correct'] for r in vr)}/{len(vr)}"
            if vh:
                row["vlm_sinus_correct"] = (
                    f"{sum(r['vlm_says_sinus'] == first['truth_sinus'] for r in vh)}/{len(vh)}"
                )
        rows.append(row)
    return rows


def run_synthetic(reader: Any, args: argparse.Namespace, use_vlm: bool, bar: Any) -> dict[str, Any]:
    """Part 2: head calls on every test image; language-model yes/no answers on the first few."""
    from cardioagent.models.vlm.instruct import all_pairs, facts_from_synth, score_answer
    from cardioagent.models.vlm.synth import FINDINGS

    cfg = _render_config()
    rows: list[dict[str, Any]] = []
    vlm_rows: list[dict[str, Any]] = []
    for fi, finding in enumerate(FINDINGS):
        if finding not in args.findings:
            continue
        for positive in (True, False):
            cases = [synthetic_case(args.seed, fi, positive, i, cfg) for i in range(args.per_finding)]
            readings = reader.read_many([c[0] for c in cases], batch_size=16)
            for i, ((img, labels, name), r) in enumerate(zip(cases, readings, strict=False)):
                rows.append(
                    {
                        "finding": finding,
                        "positive": positive,
                        "name": name,
                        "labels": list(labels.findings),
                        "truth": {
                            "heart_rate_bpm": labels.heart_rate_bpm,
                            "axis_deg": labels.axis_deg,
                            "pr_ms": labels.pr_ms,
                            "qrs_ms": labels.qrs_ms,
                            "qtc_ms": labels.qtc_ms,
                        },
                        "called": finding in r.findings,
                        "p": _round(r.probabilities.get(finding), 4),
                        **_reading_dict(r),
                    }
                )
                if use_vlm and i < args.vlm_per_finding:
                    pair = yes_no_pair(
                        all_pairs(facts_from_synth(labels, name)), finding, labels.has(finding)
                    )
                    if pair is not None:
                        text = reader.answer(img, pair.question, max_new_tokens=VLM_MAX_NEW_TOKENS)
                        vlm_rows.append(
                            {
                                "finding": finding,
                                "positive": positive,
                                "name": name,
                                "question": pair.question,
                                "answer": text,
                                "correct": score_answer(pair, text),
                            }
                        )
            bar(len(cases))
    return {"images": rows, "vlm": vlm_rows}


def summarize_synthetic(rows: list[dict[str, Any]], vlm_rows: list[dict[str, Any]]) -> dict[str, Any]:
    from cardioagent.models.vlm.synth import FINDINGS

    per: dict[str, Any] = {}
    for f in [f for f in FINDINGS if any(r["finding"] == f for r in rows)]:
        mine = [r for r in rows if r["finding"] == f]
        s = binary_scores([f in r["labels"] for r in mine], [r["called"] for r in mine])
        # every test image is fully labelled: the same call scored on all of them (other findings' sets too)
        s["pooled"] = binary_scores([f in r["labels"] for r in rows], [f in r["findings"] for r in rows])
        v = [r for r in vlm_rows if r["finding"] == f]
        s["vlm"] = {
            "n": len(v),
            "accuracy": (sum(r["correct"] for r in v) / len(v)) if v else None,
            "yes_correct": sum(r["correct"] for r in v if r["positive"]),
            "n_yes": sum(1 for r in v if r["positive"]),
            "no_correct": sum(r["correct"] for r in v if not r["positive"]),
            "n_no": sum(1 for r in v if not r["positive"]),
        }
        per[f] = s
    bal = [s["balanced_accuracy"] for s in per.values() if s["balanced_accuracy"] is not None]
    vacc = [s["vlm"]["accuracy"] for s in per.values() if s["vlm"]["accuracy"] is not None]
    numbers = {
        k: mean_abs_error((r["truth"][k], r[k]) for r in rows)
        for k in ("heart_rate_bpm", "pr_ms", "qrs_ms", "qtc_ms")
    }
    numbers["axis_deg"] = mean_abs_error(
        ((r["truth"]["axis_deg"], r["axis_deg"]) for r in rows), circular_error_deg
    )
    return {
        "per_finding": per,
        "mean_balanced_accuracy": float(np.mean(bal)) if bal else None,
        "mean_vlm_accuracy": float(np.mean(vacc)) if vacc else None,
        "numbers": numbers,
        "n_images": len(rows),
        "false_refusals": sum(1 for r in rows if not r["is_ecg"]),
        "image_quality": dict(Counter(r["image_quality"] for r in rows)),
    }


def synthetic_misses(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The designed-set images whose call of their finding was wrong (the JSON keeps these, not all)."""
    return [
        {
            "name": r["name"],
            "finding": r["finding"],
            "truth": r["positive"],
            "p": r["p"],
            "labels": r["labels"],
        }
        for r in rows
        if r["called"] != (r["finding"] in r["labels"])
    ]


def run_refusal(reader: Any, args: argparse.Namespace, bar: Any) -> dict[str, Any]:
    from cardioagent.models.vlm.negatives import KINDS, make_negative

    imgs, kinds = [], []
    for i in range(args.negatives):
        img, kind = make_negative(
            np.random.default_rng([args.seed, NEGATIVE_STREAM, i]), KINDS[i % len(KINDS)]
        )
        imgs.append(_as_uploaded(img))
        kinds.append(kind)
    readings = reader.read_many(imgs, batch_size=16)
    bar(len(imgs))
    per: dict[str, dict[str, Any]] = {}
    for k in KINDS:
        rs = [r for r, kk in zip(readings, kinds, strict=False) if kk == k]
        refused = sum(1 for r in rs if not r.is_ecg)
        per[k] = {
            "n": len(rs),
            "refused": refused,
            "rate": refused / len(rs) if rs else None,
            "page_probability_max": _round(max((r.page_probability for r in rs), default=None), 4),
        }
    n_ref = sum(v["refused"] for v in per.values())
    return {"per_kind": per, "n": len(imgs), "refused": n_ref, "rate": n_ref / len(imgs) if imgs else None}


def run_timing(weights: Path, args: argparse.Namespace, use_vlm: bool) -> dict[str, Any]:
    """Fresh reader: load times, then the label head alone and full answers on one test image."""
    from cardioagent.models.vlm.dataset import _render
    from cardioagent.models.vlm.inference import EcgImageReader
    from cardioagent.models.vlm.synth import generate

    rng = np.random.default_rng([args.seed, TIMING_STREAM])
    rec, _ = generate(rng, name="timing")
    img = _as_uploaded(_render(rec, rng, _render_config())[0])
    t0 = time.perf_counter()
    reader = EcgImageReader(weights)
    _ = reader.meta  # loads the tower (the reader is lazy)
    out: dict[str, Any] = {"reader_load_s": round(time.perf_counter() - t0, 2)}
    reader.read(img)  # first call pays first-use costs
    times = []
    for _ in range(20):
        t = time.perf_counter()
        reader.read(img)
        times.append(time.perf_counter() - t)
    out["head_read_s_median"] = round(statistics.median(times), 4)
    out["head_read_s_max"] = round(max(times), 4)
    if use_vlm:
        t = time.perf_counter()
        _load_language_model(reader)
        out["language_model_load_s"] = round(time.perf_counter() - t, 2)
        reader.answer(img, SHORT_QUESTION)  # warm-up
        for key, question in (("short_question", SHORT_QUESTION), ("full_report", None)):
            ts, texts = [], []
            for _ in range(args.vlm_repeats):
                t = time.perf_counter()
                texts.append(reader.answer(img, question))
                ts.append(time.perf_counter() - t)
            n_tok = _token_count(reader, texts[-1])
            out[key] = {
                "question": question,
                "seconds_median": round(statistics.median(ts), 2),
                "seconds": [round(x, 2) for x in ts],
                "answer": texts[-1],
                "answer_tokens": n_tok,
                "seconds_per_token": None if not n_tok else round(statistics.median(ts) / n_tok, 3),
            }
    out["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    del reader
    gc.collect()
    return out


def _token_count(reader: Any, text: str) -> int | None:
    """Tokens in a generated answer (the reader keeps its tokenizer in the loaded bundle)."""
    bundle = getattr(reader, "_bundle", None)
    tok = getattr(getattr(bundle, "processor", None), "tokenizer", None)
    return None if tok is None else len(tok(text, add_special_tokens=False)["input_ids"])


def _load_language_model(reader: Any) -> None:
    """Load the language model now (the reader loads it on the first answer) so that its cost is
    measured apart from the answers."""
    reader.load_language_model()


# -------------------------------------------------------------------------------------------- main


def _trained_records(weights: Path) -> set[str]:
    from cardioagent.models.vlm.checkpoint import read_meta

    return set(read_meta(weights).training.get("real_records") or [])


def _progress(total: int, desc: str) -> tuple[Any, Callable[[int], None]]:
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="img", file=sys.stderr, leave=False)
    return bar, bar.update


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--weights",
        type=Path,
        action="append",
        default=None,
        help="trained VLM folder (repeat for fold models); default: the shipped models/adapters/ecg_vlm",
    )
    ap.add_argument("--records", type=Path, default=DEFAULT_RECORDS, help="CinC-2021 folder with labels.csv")
    ap.add_argument(
        "--variants", type=int, default=8, help="augmented renderings per real record (label head)"
    )
    ap.add_argument(
        "--vlm-variants",
        type=int,
        default=2,
        help="renderings per real record also asked to the language model",
    )
    ap.add_argument(
        "--per-finding", type=int, default=40, help="synthetic ECGs with (and as many without) each finding"
    )
    ap.add_argument(
        "--vlm-per-finding",
        type=int,
        default=6,
        help="of those, how many (each side) the language model answers",
    )
    ap.add_argument("--negatives", type=int, default=96, help="non-ECG images for the refusal part")
    ap.add_argument(
        "--findings",
        default=None,
        help="comma-separated subset of synth.FINDINGS for part 2 (default: all; the acceptance needs all)",
    )
    ap.add_argument(
        "--vlm-repeats", type=int, default=3, help="timed answers per question in part 4 (median)"
    )
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--skip-vlm", action="store_true", help="label head only (no language model)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=OUT)
    args = ap.parse_args(argv)
    for name in ("variants", "per_finding", "negatives", "vlm_repeats"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    from cardioagent.models.vlm.synth import FINDINGS

    args.findings = (
        list(FINDINGS) if not args.findings else [f.strip() for f in args.findings.split(",") if f.strip()]
    )
    unknown = sorted(set(args.findings) - set(FINDINGS))
    if unknown:
        ap.error(f"unknown findings {unknown}; known: {', '.join(FINDINGS)}")

    import torch

    torch.set_num_threads(args.threads)
    from cardioagent.models.vlm.checkpoint import SHIPPED_DIR, has_language_parts, read_meta
    from cardioagent.models.vlm.inference import EcgImageReader

    weights = args.weights or [SHIPPED_DIR]
    for w in weights:
        try:
            read_meta(w)
        except FileNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    labels = [str(w) for w in weights]
    if len(set(labels)) != len(labels):
        ap.error("a --weights folder is given twice")
    language = {str(w): has_language_parts(w) for w in weights}
    use_vlm = {k: v and not args.skip_vlm for k, v in language.items()}
    print(
        markdown_table(
            ["weights", "stages", "trained on real records", "language model parts", "answers asked"],
            [
                [
                    str(w),
                    ",".join(read_meta(w).stages) or "-",
                    len(_trained_records(w)),
                    "yes" if language[str(w)] else "no (label head only)",
                    "yes" if use_vlm[str(w)] else "no",
                ]
                for w in weights
            ],
        )
    )
    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1):
        print(
            f"\nnote: load average {load:.1f} on {os.cpu_count()} CPUs before starting: other processes share the CPU; "
            "generation slows down many times over when the cores are oversubscribed"
        )
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    results: dict[str, Any] = {}
    plan: dict[str, list[str]] = {}

    def save(accept: list[dict[str, Any]] | None) -> None:
        """Written after every part (``complete`` false until the end), so a long run that is stopped
        keeps what it measured."""
        payload = {
            "benchmark": "vlm",
            "command": ".venv/bin/python bench/vlm.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "complete": accept is not None,
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "torch_threads": args.threads,
                "platform": platform.platform(),
                "load_avg": [round(x, 2) for x in os.getloadavg()],
            },
            "settings": {
                k: str(v) if isinstance(v, Path) else [str(x) for x in v] if k == "weights" and v else v
                for k, v in vars(args).items()
            },
            "weights": {
                str(w): {
                    "language_parts": language[str(w)],
                    "stages": read_meta(w).stages,
                    "trained_on_records": sorted(_trained_records(w)),
                    "scores_records": plan.get(str(w), []),
                }
                for w in weights
            },
            "acceptance": accept,
            "seconds": timings,
            **results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1, default=_json_default))

    # --- part 1: real records
    real: list[tuple[Any, Any]] = []
    if args.records.is_dir() and (args.records / "labels.csv").is_file():
        from cardioagent.models.vlm.dataset import load_real_records

        t = time.perf_counter()
        real = load_real_records(args.records)
        timings["load_records_s"] = round(time.perf_counter() - t, 1)
    else:
        print(f"note: no CinC records at {args.records}: part 1 skipped", file=sys.stderr)
    names = [rec.name for rec, _ in real]
    plan = scoring_plan(names, {str(w): _trained_records(w) for w in weights})
    first_reader: Any = None
    if real:
        t = time.perf_counter()
        n_images = sum(len(v) for v in plan.values()) * args.variants
        bar, tick = _progress(n_images, "real records")
        images: list[dict[str, Any]] = []
        per_model: dict[str, Any] = {}
        for w in weights:
            key = str(w)
            reader = EcgImageReader(w)
            part = run_real([(key, reader)], real, plan, args, use_vlm[key], tick)
            images += part["images"]
            per_model.update(part["per_model"])
            if w == weights[0]:
                first_reader = reader
            else:
                del reader
                gc.collect()
        bar.close()
        summary = summarize_real(images)
        summary["unscored_records"] = unscored_records(names, plan)
        results["real"] = {
            "summary": summary,
            "per_model": per_model,
            "per_record": per_record_rows(images),
            "images": images,
        }
        timings["real_s"] = round(time.perf_counter() - t, 1)
        _print_real(results["real"], args)
        save(None)
    if first_reader is None:
        first_reader = EcgImageReader(weights[0])
    vlm0 = use_vlm[str(weights[0])]

    # --- part 2: synthetic test set
    t = time.perf_counter()
    bar, tick = _progress(2 * len(args.findings) * args.per_finding, "synthetic")
    syn = run_synthetic(first_reader, args, vlm0, tick)
    bar.close()
    results["synthetic"] = {
        "summary": summarize_synthetic(syn["images"], syn["vlm"]),
        "misses": synthetic_misses(syn["images"]),
        "vlm": syn["vlm"],
    }
    timings["synthetic_s"] = round(time.perf_counter() - t, 1)
    _print_synthetic(results["synthetic"]["summary"])
    save(None)

    # --- part 3: refusal
    t = time.perf_counter()
    bar, tick = _progress(args.negatives, "non-ECG images")
    results["refusal"] = run_refusal(first_reader, args, tick)
    bar.close()
    results["refusal"]["false_refusals"] = {
        "real_images": results.get("real", {}).get("summary", {}).get("false_refusals"),
        "real_n": results.get("real", {}).get("summary", {}).get("n_images"),
        "synthetic_images": results["synthetic"]["summary"]["false_refusals"],
        "synthetic_n": results["synthetic"]["summary"]["n_images"],
    }
    timings["refusal_s"] = round(time.perf_counter() - t, 1)
    _print_refusal(results["refusal"])
    save(None)
    del first_reader
    gc.collect()

    # --- part 4: timing
    t = time.perf_counter()
    results["timing"] = run_timing(weights[0], args, vlm0)
    timings["timing_s"] = round(time.perf_counter() - t, 1)
    _print_timing(results["timing"])

    accept = _acceptance(results, vlm0)
    print("\n## Acceptance\n")
    print(
        markdown_table(
            ["criterion", "target", "measured", "result"],
            [[a["criterion"], a["target"], a["shown"], a["result"]] for a in accept],
        )
    )
    timings["total_s"] = round(time.perf_counter() - t_start, 1)
    print(f"\ntotal {timings['total_s']:.0f} s")
    save(accept)
    print(f"wrote {args.json.relative_to(REPO) if args.json.is_relative_to(REPO) else args.json}")
    return 0


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, (set, tuple)):
        return list(x)
    return str(x)


def _acceptance(results: dict[str, Any], vlm: bool) -> list[dict[str, Any]]:
    out = []
    real = results.get("real", {}).get("summary")
    if real:
        # judged as the tool answers (a refused ECG image is wrong); the table shows the head as read too
        for key, name, target in (
            ("head_rate_tool", "real: rate category, label head", RATE_TARGET),
            ("head_sinus_tool", "real: sinus vs other, label head", SINUS_TARGET),
            ("vlm_rate_tool", "real: rate category, VLM answer", RATE_TARGET),
            ("vlm_sinus_tool", "real: sinus vs other, VLM answer", SINUS_TARGET),
        ):
            a = real.get(key) or {}
            acc = a.get("accuracy")
            shown = (
                "-"
                if acc is None
                else (
                    f"{100 * acc:.1f} % ({a['correct']}/{a['n']}; majority class "
                    f"{100 * a['majority_accuracy']:.1f} %)"
                )
            )
            out.append(
                acceptance(
                    name, f">= {100 * target:.0f} %", acc, None if acc is None else acc >= target, shown
                )
            )
    else:
        out.append(acceptance("real records", "scored", None, None, "no records"))
    syn = results["synthetic"]["summary"]
    m = syn["mean_balanced_accuracy"]
    out.append(
        acceptance(
            "synthetic: mean per-finding balanced accuracy, label head",
            f">= {100 * FINDING_TARGET:.0f} %",
            m,
            None if m is None else m >= FINDING_TARGET,
            _fmt(m, pct=True),
        )
    )
    mv = syn["mean_vlm_accuracy"]
    out.append(
        acceptance(
            "synthetic: mean per-finding yes/no accuracy, VLM answer",
            f">= {100 * FINDING_TARGET:.0f} %",
            mv,
            None if mv is None else mv >= FINDING_TARGET,
            _fmt(mv, pct=True),
        )
    )
    ref = results["refusal"]
    out.append(
        acceptance(
            "non-ECG images refused",
            "every kind refused (100 %)",
            ref["rate"],
            ref["refused"] == ref["n"],
            f"{_fmt(ref['rate'], pct=True)} ({ref['refused']}/{ref['n']})",
        )
    )
    tm = results["timing"]
    if vlm and "full_report" in tm:
        s = max(tm["full_report"]["seconds_median"], tm["short_question"]["seconds_median"])
        out.append(
            acceptance(
                "one image, full VLM answer (report), median",
                f"< {TIME_TARGET_S:.0f} s",
                s,
                s < TIME_TARGET_S,
                f"{s:.2f} s",
            )
        )
    s = tm["head_read_s_median"]
    out.append(
        acceptance(
            "one image, label head only, median",
            f"< {TIME_TARGET_S:.0f} s",
            s,
            s < TIME_TARGET_S,
            f"{s:.3f} s",
        )
    )
    return out


# ------------------------------------------------------------------------------------------ printing


def _print_real(real: dict[str, Any], args: argparse.Namespace) -> None:
    s = real["summary"]
    print("\n## 1. Real CinC-2021 records never trained on\n")
    print(
        markdown_table(
            ["model", "records scored", "images", "VLM answers", "s"],
            [
                [k, v["n_records"], v["n_images"], v["vlm_answers"], v["seconds"]]
                for k, v in real["per_model"].items()
            ],
        )
    )
    if s["unscored_records"]:
        print(f"\nrecords every model trained on (not scored): {', '.join(s['unscored_records'])}")
    rc = s["records"]
    print(
        f"\nrecords with a known rate category: {rc['rate_known']}; with a known rhythm: {rc['rhythm_known']} "
        f"({rc['sinus']} sinus, {rc['other']} other); {args.variants} augmented renderings each\n"
    )
    rows = []
    for key, name in (
        ("head_rate", "rate category, label head"),
        ("vlm_rate", "rate category, VLM answer"),
        ("head_sinus", "sinus vs other, label head"),
        ("vlm_sinus", "sinus vs other, VLM answer"),
    ):
        a = s.get(key)
        if not a:
            continue
        other = s.get(key.replace("sinus", "other_detection")) if "sinus" in key else None
        rows.append(
            [
                name,
                a["n"],
                _fmt(a["accuracy"], pct=True),
                _fmt(s[key + "_tool"]["accuracy"], pct=True),
                f"{_fmt(a['majority_accuracy'], pct=True)} ({a['majority']})",
                "-" if not other else f"{_fmt(other['sensitivity'], pct=True)} (n={other['n_pos']})",
            ]
        )
    print(
        markdown_table(
            [
                "measure",
                "images",
                "accuracy",
                "accuracy, refused = wrong",
                "majority-class baseline",
                "sensitivity for 'other'",
            ],
            rows,
        )
    )
    hr = s["head_hr_vs_classical"]
    print(
        f"\nheart rate, label head vs the classical heart rate: MAE {_fmt(hr['mae'])} bpm "
        f"(median {_fmt(hr['median'])}, n={hr['n']}); refused ECG images: {s['false_refusals']}/{s['n_images']}; "
        f"image quality flags: {s['image_quality']}\n"
    )
    print(
        markdown_table(
            [
                "record",
                "model",
                "rate (truth)",
                "rhythm (truth)",
                "HR classical",
                "HR head",
                "head rate ok",
                "head sinus ok",
                "VLM rate ok",
                "VLM sinus ok",
            ],
            [
                [
                    r["record"],
                    Path(r["model"]).name,
                    r["truth_rate"] or "?",
                    r["truth_rhythm"] or "?",
                    _fmt(r["classical_hr_bpm"]),
                    _fmt(r["head_hr_bpm_mean"]),
                    "-" if r["head_rate_correct"] is None else f"{r['head_rate_correct']}/{r['n']}",
                    "-" if r["head_sinus_correct"] is None else f"{r['head_sinus_correct']}/{r['n']}",
                    r.get("vlm_rate_correct", "-"),
                    r.get("vlm_sinus_correct", "-"),
                ]
                for r in real["per_record"]
            ],
        )
    )


def _print_synthetic(s: dict[str, Any]) -> None:
    print("\n## 2. Synthetic test set (unseen seeds), label head and VLM yes/no answers\n")
    rows = []
    for f, v in s["per_finding"].items():
        rows.append(
            [
                f,
                f"{v['n_pos']}/{v['n_neg']}",
                _fmt(v["sensitivity"], pct=True),
                _fmt(v["specificity"], pct=True),
                _fmt(v["balanced_accuracy"], pct=True),
                _fmt(v["pooled"]["balanced_accuracy"], pct=True),
                "-"
                if not v["vlm"]["n"]
                else f"{_fmt(v['vlm']['accuracy'], pct=True)} "
                f"(yes {v['vlm']['yes_correct']}/{v['vlm']['n_yes']}, no {v['vlm']['no_correct']}/{v['vlm']['n_no']})",
            ]
        )
    rows.append(
        [
            "**mean**",
            "",
            "",
            "",
            f"**{_fmt(s['mean_balanced_accuracy'], pct=True)}**",
            "",
            f"**{_fmt(s['mean_vlm_accuracy'], pct=True)}**",
        ]
    )
    print(
        markdown_table(
            [
                "finding",
                "with/without",
                "sensitivity",
                "specificity",
                "balanced acc.",
                "balanced acc. (all images)",
                "VLM yes/no accuracy",
            ],
            rows,
        )
    )
    units = {"heart_rate_bpm": "bpm", "axis_deg": "deg", "pr_ms": "ms", "qrs_ms": "ms", "qtc_ms": "ms"}
    print()
    print(
        markdown_table(
            ["number (label head)", "MAE", "median abs. error", "n"],
            [
                [k, f"{_fmt(v['mae'])} {units[k]}", f"{_fmt(v['median'])} {units[k]}", v["n"]]
                for k, v in s["numbers"].items()
            ],
        )
    )
    print(
        f"\nrefused ECG images: {s['false_refusals']}/{s['n_images']}; image quality flags: {s['image_quality']}"
    )


def _print_refusal(r: dict[str, Any]) -> None:
    print("\n## 3. Non-ECG images\n")
    rows = [
        [k, v["n"], v["refused"], _fmt(v["rate"], pct=True), _fmt(v["page_probability_max"], nd=3)]
        for k, v in r["per_kind"].items()
    ]
    rows.append(["**all**", r["n"], r["refused"], _fmt(r["rate"], pct=True), ""])
    print(markdown_table(["kind", "images", "refused", "refusal rate", "highest page probability"], rows))
    fr = r["false_refusals"]
    print(
        f"\nfalse refusals: real ECG images {fr['real_images'] if fr['real_images'] is not None else '-'}/"
        f"{fr['real_n'] if fr['real_n'] is not None else '-'}, synthetic {fr['synthetic_images']}/{fr['synthetic_n']}"
    )


def _print_timing(t: dict[str, Any]) -> None:
    print("\n## 4. Time per image on this CPU\n")
    rows = [
        ["reader load (label head)", f"{t['reader_load_s']:.2f} s"],
        [
            "label head read, median of 20",
            f"{t['head_read_s_median']:.3f} s (max {t['head_read_s_max']:.3f})",
        ],
    ]
    if "language_model_load_s" in t:
        rows.append(["language model load", f"{t['language_model_load_s']:.2f} s"])
    for key in ("short_question", "full_report"):
        if key in t:
            what = "short question" if key == "short_question" else "full report"
            took = (
                f"{t[key]['seconds_median']:.2f} s ({t[key]['answer_tokens'] or '?'} tokens, "
                f"{_fmt(t[key]['seconds_per_token'], nd=3)} s/token)"
            )
            rows.append([f"full answer, {what}, median of {len(t[key]['seconds'])}", took])
    print(markdown_table(["step", "time"], rows))
    load = t.get("load_avg_after")
    if load and os.cpu_count() and load[0] > 0.75 * os.cpu_count():
        print(
            f"\nnote: load average {load[0]:.1f} on {os.cpu_count()} CPUs: other processes shared the CPU, "
            "so these times are upper bounds"
        )


if __name__ == "__main__":
    sys.exit(main())
