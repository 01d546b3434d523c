"""ECGInstruct-style questions and answers, the CinC label mapping, and the data-set builder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cardioagent.models.vlm.dataset import DatasetConfig, build_dataset, read_jsonl
from cardioagent.models.vlm.instruct import (
    QUESTION_TYPES,
    EcgFacts,
    all_pairs,
    facts_from_cinc,
    facts_from_synth,
    findings_named_in,
    read_cinc_labels,
    report_text,
    sample_pairs,
    score_answer,
)
from cardioagent.models.vlm.synth import FINDINGS, generate
from cardioagent.tools.signal.loaders import load_files


def _facts(seed: int, findings: set[str] | None = None) -> EcgFacts:
    _, labels = generate(np.random.default_rng(seed), findings)
    return facts_from_synth(labels, f"syn-{seed}")


def _wrong(answer: str, pair) -> str:
    """A plausible wrong answer for the pair's target."""
    t = pair.target
    if t.kind == "yes_no":
        return "No." if t.value else "Yes."
    if t.kind == "number":
        return f"{float(t.value) + 3 * (t.tolerance or 1) + 10:.0f}"
    if t.kind == "category":
        return "Atrial fibrillation." if t.value != "atrial_fibrillation" else "Sinus rhythm."
    return "Findings: " + ("none." if t.findings else "long QT.")


def test_every_question_type_is_asked_and_own_answers_score_right():
    types = set()
    for seed in range(30):
        facts = _facts(seed)
        for pair in all_pairs(facts):
            types.add(pair.question_type)
            assert score_answer(pair, pair.answer), (pair.template, pair.answer)
            assert not score_answer(pair, _wrong(pair.answer, pair)), (pair.template, pair.answer)
    assert types == set(QUESTION_TYPES)


def test_report_names_exactly_the_findings():
    facts = _facts(1, {"atrial_fibrillation", "wide_qrs", "long_qt"})
    text = report_text(facts)
    assert text.startswith("Rhythm: Atrial fibrillation.")
    assert set(findings_named_in(text)) == {"atrial_fibrillation", "wide_qrs", "long_qt"}
    assert "PR" not in text  # no P waves, no PR interval
    clean = report_text(_facts(2, {"sinus_rhythm"}))
    assert "Findings: none." in clean and findings_named_in(clean) == []


def test_answers_state_the_label_values():
    facts = _facts(3, {"sinus_rhythm", "first_degree_av_block", "bradycardia"})
    by_template = {p.template: p for p in all_pairs(facts)}
    assert (
        by_template["conduction.avb"].answer.startswith("Yes")
        and f"{facts.pr_ms:.0f} ms" in by_template["conduction.avb"].answer
    )
    assert by_template["rate.number"].answer == f"{round(facts.heart_rate_bpm)} bpm."
    assert by_template["rate.category"].answer.startswith("Slow (bradycardia)")
    assert by_template["rhythm.what"].answer.startswith("Sinus bradycardia")


def test_sample_pairs_is_seeded_and_sized():
    facts = _facts(4)
    a = sample_pairs(facts, np.random.default_rng(0), 5)
    b = sample_pairs(facts, np.random.default_rng(0), 5)
    assert a == b and len(a) == 5 and a[0].question_type == "report"
    assert len({p.template for p in a}) == 5


# ---------------------------------------------------------------------------------------- CinC labels


def test_cinc_codes_map_to_the_vocabulary():
    af = facts_from_cinc(["164889003", "59118001"], "r1", 88.0)  # AF + RBBB
    assert af.rhythm == "atrial_fibrillation" and set(af.findings) == {"atrial_fibrillation", "wide_qrs"}
    assert af.known("sinus_rhythm") and not af.has("sinus_rhythm") and af.known("bradycardia")
    assert not af.known("long_qt")  # codes never say a finding is absent
    sb = facts_from_cinc(["426177001"], "r2", 48.0)
    assert sb.rhythm == "sinus_rhythm" and set(sb.findings) == {"sinus_rhythm", "bradycardia"}
    conflict = facts_from_cinc(["426177001", "284470004"], "r3", 71.0)  # SB, but frequent PACs: 71 bpm
    assert not conflict.known("bradycardia") and conflict.rate_category == "normal"
    assert [p.template for p in all_pairs(conflict) if p.question_type == "rate"] == ["rate.number"]
    vague = facts_from_cinc(["55930002", "164934002"], "r4", 70.0)  # ST changes, T abnormal
    assert vague.rhythm is None and not vague.known("st_elevation") and not vague.known("t_wave_inversion")
    other = facts_from_cinc(["713422000", "427084000"], "r5", 121.0)  # atrial tachycardia beside STach
    assert other.rhythm == "other" and not other.has("sinus_rhythm") and other.has("tachycardia")


def test_real_record_pairs_ask_only_what_is_known():
    facts = facts_from_cinc(["284470004", "427084000"], "JS", 113.0)
    for pair in all_pairs(facts):
        if pair.target.finding:
            assert facts.known(pair.target.finding), pair.template
        assert score_answer(pair, pair.answer)
    report = next(p for p in all_pairs(facts) if p.question_type == "report")
    assert not report.target.exhaustive  # partial labels: naming more findings is not wrong


def test_cinc_labels_of_the_shared_sample(shared_data):
    labels = read_cinc_labels(shared_data / "ecg12_cinc2021" / "labels.csv")
    assert len(labels) == 25
    rbbb = facts_from_cinc(labels["E07510"].codes, "E07510", 48.3)
    assert set(rbbb.findings) == {"sinus_rhythm", "bradycardia", "wide_qrs"}


# --------------------------------------------------------------------------------------- data set


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory, tests_data):
    """A CinC-style folder with the two 12-lead records shipped in tests/data and their header codes."""
    folder = tmp_path_factory.mktemp("cinc")
    rows = ["record,fs,samples,age,sex,dx_snomed,dx_abbrev,dx_names"]
    for name in ("E07500", "JS20000"):
        for ext in (".hea", ".mat"):
            (folder / f"{name}{ext}").write_bytes((tests_data / f"{name}{ext}").read_bytes())
        rec = load_files([tests_data / f"{name}.hea", tests_data / f"{name}.mat"])[0]
        rows.append(f"{name},500,5000,,,{';'.join(rec.diagnoses)},,")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_build_dataset_writes_images_and_questions(tmp_path, real_dir):
    out = tmp_path / "ds"
    s = build_dataset(
        out,
        n_synthetic=3,
        seed=5,
        real_records_dir=real_dir,
        augment=True,
        config=DatasetConfig(n_synthetic=0, real_variants=2, qa_per_image=3),
    )
    assert s.images_by_source == {"synthetic": 3, "cinc2021": 4} and s.real_records == ["E07500", "JS20000"]
    images = read_jsonl(out / "images.jsonl")
    qa = read_jsonl(out / "qa.jsonl")
    assert len(images) == 7 and len(qa) == s.n_questions == 7 * 3
    for line in images:
        assert (out / line["image"]).is_file()
        assert line["render"]["augmentation"] is not None
    assert {q["group"] for q in qa if q["source"] == "cinc2021"} == {"E07500", "JS20000"}
    for q in qa:
        assert set(q) >= {"image", "question", "answer", "question_type", "labels", "target"}
        assert q["question_type"] in QUESTION_TYPES
        assert set(q["labels"]["findings"]) <= set(FINDINGS)
    e07500 = next(q for q in qa if q["group"] == "E07500")
    assert e07500["labels"]["rhythm"] == "sinus_rhythm" and "bradycardia" in e07500["labels"]["findings"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["summary"]["n_images"] == 7 and manifest["config"]["seed"] == 5


def test_build_dataset_is_reproducible(tmp_path):
    a = build_dataset(tmp_path / "a", n_synthetic=3, seed=9, augment=True)
    b = build_dataset(tmp_path / "b", n_synthetic=3, seed=9, augment=True)
    assert (tmp_path / "a" / "qa.jsonl").read_text() == (tmp_path / "b" / "qa.jsonl").read_text()
    for line in read_jsonl(tmp_path / "a" / "images.jsonl"):
        assert (tmp_path / "a" / line["image"]).read_bytes() == (tmp_path / "b" / line["image"]).read_bytes()
    c = build_dataset(tmp_path / "c", n_synthetic=3, seed=10, augment=False)
    assert (tmp_path / "c" / "qa.jsonl").read_text() != (tmp_path / "a" / "qa.jsonl").read_text()
    assert a.n_images == b.n_images == c.n_images == 3
    assert all(line["render"]["augmentation"] is None for line in read_jsonl(tmp_path / "c" / "images.jsonl"))
