"""The pure helpers of the VLM acceptance bench (bench/vlm.py): scoring, balanced accuracy, the
exclusion of records a model trained on, truths of real records, test finding sets. No model runs here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from cardioagent.models.vlm.instruct import (
    EcgFacts,
    all_pairs,
    facts_from_cinc,
    rate_pairs,
    rhythm_pairs,
    score_answer,
)
from cardioagent.models.vlm.synth import FINDINGS, RHYTHMS, check_findings

BENCH = Path(__file__).resolve().parents[1] / "bench" / "vlm.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_vlm", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_vlm"] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop("bench_vlm", None)


def test_binary_scores_sensitivity_specificity_balanced(bench):
    truth = [True, True, True, True, False, False]
    called = [True, True, True, False, True, False]
    s = bench.binary_scores(truth, called)
    assert (s["n_pos"], s["n_neg"]) == (4, 2)
    assert s["sensitivity"] == pytest.approx(0.75)
    assert s["specificity"] == pytest.approx(0.5)
    assert s["balanced_accuracy"] == pytest.approx(0.625)
    assert s["accuracy"] == pytest.approx(4 / 6)


def test_binary_scores_one_sided_and_mismatch(bench):
    s = bench.binary_scores([False, False, False], [False, True, False])
    assert s["sensitivity"] is None and s["specificity"] == pytest.approx(2 / 3)
    assert s["balanced_accuracy"] == pytest.approx(2 / 3)  # only the side that has examples
    with pytest.raises(ValueError):
        bench.binary_scores([True], [True, False])


def test_accuracy_reports_the_majority_baseline(bench):
    # the real records: 21 sinus, 1 other; always saying "sinus" scores 21/22 without reading anything
    truth = [True] * 21 + [False]
    a = bench.accuracy(truth, [True] * 22)
    assert a["accuracy"] == pytest.approx(21 / 22) and a["majority"] is True
    assert a["majority_accuracy"] == pytest.approx(21 / 22)
    other = bench.binary_scores([not t for t in truth], [False] * 22)
    assert other["sensitivity"] == 0.0  # the rare class is missed entirely: the accuracy alone hides it
    assert bench.accuracy([], [])["accuracy"] is None


def test_circular_axis_error_and_mae_skip_missing(bench):
    assert bench.circular_error_deg(-170, 170) == pytest.approx(20)
    assert bench.circular_error_deg(10, 350) == pytest.approx(20)
    assert bench.circular_error_deg(0, 180) == pytest.approx(180)
    assert bench.circular_error_deg(45, 30) == pytest.approx(15)
    m = bench.mean_abs_error([(100.0, 110.0), (None, 5.0), (80.0, None), (60.0, 58.0), (float("nan"), 1.0)])
    assert m["n"] == 2 and m["mae"] == pytest.approx(6.0)
    circ = bench.mean_abs_error([(-170.0, 170.0), (0.0, 10.0)], bench.circular_error_deg)
    assert circ["mae"] == pytest.approx(15.0)


def test_fold_models_never_score_records_they_trained_on(bench):
    records = ["A", "B", "C", "D", "E"]
    trained = {"fold0": {"A", "B"}, "fold1": {"C", "D"}, "shipped": set(records)}
    plan = bench.scoring_plan(records, trained)
    assert plan == {"fold0": ["C", "D", "E"], "fold1": ["A", "B", "E"], "shipped": []}
    for model, scored in plan.items():
        assert not set(scored) & trained[model]
    assert bench.unscored_records(records, plan) == []
    assert bench.unscored_records(records, {"shipped": []}) == records


def test_truths_of_real_records(bench):
    sb = facts_from_cinc(["426177001"], "R1", 52.0)  # sinus bradycardia at 52 bpm
    assert bench.rate_truth(sb) == "bradycardia" and bench.sinus_truth(sb) is True
    # SB coded but 71 bpm measured (JS20014): the rate category is unknown, not "normal"
    contradicted = facts_from_cinc(["426177001", "284470004"], "R2", 71.0)
    assert contradicted.rate_category == "normal" and bench.rate_truth(contradicted) is None
    atach = facts_from_cinc(["427084000", "713422000"], "R3", 120.0)  # STach beside atrial tachycardia
    assert bench.sinus_truth(atach) is False and bench.rate_truth(atach) == "tachycardia"
    no_rhythm = facts_from_cinc(["164934002"], "R4", 70.0)  # T-wave abnormal only
    assert bench.sinus_truth(no_rhythm) is None and bench.rate_truth(no_rhythm) == "normal"
    assert bench.rate_truth(facts_from_cinc(["426783006"], "R5", None)) is None


def test_vlm_answers_are_scored_with_the_instruct_questions(bench):
    sb = facts_from_cinc(["426177001"], "R1", 52.0)
    rate = bench.category_pair(rate_pairs(sb), "rate")
    assert rate is not None and rate.target.value == "bradycardia"
    assert score_answer(rate, "Slow (bradycardia), 52 bpm.") and not score_answer(rate, "Normal, 72 bpm.")
    rhythm = bench.category_pair(rhythm_pairs(sb), "rhythm")
    assert rhythm is not None and rhythm.target.value == "sinus_rhythm"
    assert bench.answer_says_sinus("Sinus bradycardia.")
    assert bench.answer_says_sinus("Sinus rhythm with premature atrial beats.")
    assert not bench.answer_says_sinus("Atrial fibrillation.")
    assert not bench.answer_says_sinus("Other rhythm.")
    assert not bench.answer_says_sinus("I cannot tell.")


def test_yes_no_question_matches_the_truth(bench):
    # a nonspecific conduction delay: "Is the QRS wide?" is yes, but "bundle branch block?" is no;
    # the bench must ask the first (its expected answer is the wide_qrs truth)
    f = EcgFacts(
        source="synthetic",
        record="x",
        findings=["sinus_rhythm", "wide_qrs"],
        assessed=list(FINDINGS),
        rhythm="sinus_rhythm",
        heart_rate_bpm=70.0,
        qrs_ms=130.0,
        qrs_morphology="ivcd",
    )
    pair = bench.yes_no_pair(all_pairs(f), "wide_qrs", True)
    assert pair is not None and pair.template == "conduction.wide_qrs"
    assert score_answer(pair, "Yes, QRS 130 ms.") and not score_answer(pair, "No.")
    assert bench.yes_no_pair(all_pairs(f), "wide_qrs", False) is not None  # the bundle-branch question
    for finding in FINDINGS:  # every finding has a yes/no question on a fully labelled synthetic ECG
        assert bench.yes_no_pair(all_pairs(f), finding, f.has(finding)) is not None, finding


@pytest.mark.parametrize("finding", FINDINGS)
def test_test_finding_sets_are_valid_and_hold_or_lack_the_finding(bench, finding):
    for i in range(6):
        rng = np.random.default_rng([5, i])
        pos = bench.positive_findings(rng, finding, mixed=i % 2 == 1)
        check_findings(pos)
        assert finding in pos
        assert len(pos & set(RHYTHMS)) <= 1
        neg = bench.negative_findings(rng, finding)
        check_findings(neg)
        assert finding not in neg
    assert bench.positive_findings(np.random.default_rng(0), finding, mixed=False) == {finding}
    a = bench.positive_findings(np.random.default_rng([9, 1]), finding, mixed=True)
    assert a == bench.positive_findings(np.random.default_rng([9, 1]), finding, mixed=True)  # seeded


def test_markdown_table_and_acceptance_line(bench):
    t = bench.markdown_table(["a", "b"], [[1, "x"], [2, "y"]])
    assert t.splitlines() == ["| a | b |", "|---|---|", "| 1 | x |", "| 2 | y |"]
    assert bench.acceptance("c", ">= 90 %", 0.91, True, "91 %")["result"] == "pass"
    assert bench.acceptance("c", ">= 90 %", 0.89, False, "89 %")["result"] == "FAIL"
    assert bench.acceptance("c", ">= 90 %", None, None, "-")["result"] == "not measured"


def _row(record, truth_rate, truth_sinus, rate, rhythm, is_ecg=True, **vlm):
    return {
        "model": "m",
        "record": record,
        "variant": 0,
        "truth_rate": truth_rate,
        "truth_sinus": truth_sinus,
        "truth_rhythm": None if truth_sinus is None else "sinus_rhythm" if truth_sinus else "other",
        "classical_hr_bpm": 70.0,
        "heart_rate_bpm": 75.0,
        "rate_category": rate,
        "rhythm": rhythm,
        "is_ecg": is_ecg,
        "image_quality": "good",
        **vlm,
    }


def test_real_summary_counts_refused_ecg_images_as_wrong_for_the_tool(bench):
    rows = [
        _row("A", "normal", True, "normal", "sinus_rhythm", vlm_rate_correct=True, vlm_says_sinus=True),
        _row("A", "normal", True, "normal", "sinus_rhythm", is_ecg=False),  # right reading, but refused
        _row(
            "B", "tachycardia", False, "normal", "sinus_rhythm", vlm_rate_correct=False, vlm_says_sinus=False
        ),
        _row("C", None, None, "bradycardia", "other"),  # unknown truths: scored for neither
    ]
    s = bench.summarize_real(rows)
    assert (s["head_rate"]["n"], s["head_rate"]["correct"]) == (3, 2)
    assert s["head_rate_tool"]["correct"] == 1
    assert (s["head_sinus"]["correct"], s["head_sinus_tool"]["correct"]) == (2, 1)
    assert s["head_other_detection"]["sensitivity"] == 0.0  # B is "other" and was read as sinus
    assert s["head_sinus"]["majority_accuracy"] == pytest.approx(2 / 3)
    assert (s["vlm_rate"]["n"], s["vlm_rate"]["correct"]) == (2, 1)
    assert s["vlm_sinus"]["accuracy"] == 1.0 and s["vlm_other_detection"]["sensitivity"] == 1.0
    assert s["records"] == {"rate_known": 2, "rhythm_known": 2, "sinus": 1, "other": 1}
    assert s["false_refusals"] == 1 and s["n_images"] == 4
    assert s["head_hr_vs_classical"]["mae"] == pytest.approx(5.0)


def test_synthetic_summary_per_finding_and_misses(bench):
    def row(finding, positive, labels, called, axis=(10.0, 20.0)):
        return {
            "finding": finding,
            "positive": positive,
            "name": f"{finding}-{positive}-{len(labels)}",
            "labels": labels,
            "truth": {
                "heart_rate_bpm": 70.0,
                "axis_deg": axis[0],
                "pr_ms": None,
                "qrs_ms": 90.0,
                "qtc_ms": 400.0,
            },
            "called": called,
            "p": 0.9 if called else 0.1,
            "findings": ([finding] if called else []),
            "is_ecg": True,
            "heart_rate_bpm": 72.0,
            "axis_deg": axis[1],
            "pr_ms": 150.0,
            "qrs_ms": 100.0,
            "qtc_ms": 410.0,
            "image_quality": "good",
        }

    rows = [
        row("long_qt", True, ["sinus_rhythm", "long_qt"], True),
        row("long_qt", True, ["sinus_rhythm", "long_qt", "wide_qrs"], False, axis=(-170.0, 170.0)),
        row("long_qt", False, ["sinus_rhythm"], False),
        row("long_qt", False, ["atrial_fibrillation"], False),
    ]
    vlm = [
        {"finding": "long_qt", "positive": True, "correct": True},
        {"finding": "long_qt", "positive": False, "correct": False},
    ]
    s = bench.summarize_synthetic(rows, vlm)
    assert list(s["per_finding"]) == ["long_qt"]
    lq = s["per_finding"]["long_qt"]
    assert (lq["sensitivity"], lq["specificity"], lq["balanced_accuracy"]) == (0.5, 1.0, 0.75)
    assert s["mean_balanced_accuracy"] == pytest.approx(0.75)
    assert lq["vlm"]["accuracy"] == 0.5 and (lq["vlm"]["yes_correct"], lq["vlm"]["no_correct"]) == (1, 0)
    assert s["numbers"]["pr_ms"]["n"] == 0  # no truth (AF-like None): not scored
    assert s["numbers"]["axis_deg"]["mae"] == pytest.approx(12.5)  # 10, 10, 10 and -170 vs 170: 20, not 340
    assert s["numbers"]["heart_rate_bpm"]["mae"] == pytest.approx(2.0)
    misses = bench.synthetic_misses(rows)
    assert [m["truth"] for m in misses] == [True] and misses[0]["labels"][-1] == "wide_qrs"
