"""The clinical vocabulary: every code of the systems it covers resolves, no word names two entries, and
measurements are typed by their whole name."""

from __future__ import annotations

import csv

import pytest

from cardioagent.tools.contract import Measurement
from cardioagent.tools.vocabulary import QUANTITY_BY_ID, Quantity, Term, vocabulary, words
from cardioagent.tools.vocabulary.quantities import rr_from_heart_rate
from cardioagent.tools.vocabulary.terms import DATA


def _rows(name):
    with open(DATA / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_cinc_snomed_code_resolves_to_one_finding():
    v = vocabulary()
    by_code = {}
    for t in v.terms.values():
        for code in t.snomed:
            assert code not in by_code, f"SNOMED {code} claimed by {by_code.get(code)} and {t.id}"
            by_code[code] = t.id
    codes = [r["snomed_ct_code"] for r in _rows("cinc2021_snomed_dx_map.csv")]
    assert len(codes) == 133
    assert set(codes) <= set(by_code)


def test_every_scp_statement_and_ecgqa_answer_resolves():
    v = vocabulary()
    scp = {c for t in v.terms.values() for c in t.scp}
    assert {r[""] for r in _rows("ptbxl_scp_statements.csv")} <= scp
    missing = [a["class"] for a in _rows("ecgqa_answers.csv") if v.from_ecgqa(a["class"]) is None]
    assert not missing


def test_no_surface_form_names_two_entries():
    v = vocabulary()
    owner: dict[str, str] = {}
    for entry in [*v.terms.values(), *v.quantities.values()]:
        for s in [entry.name, *entry.synonyms]:
            key = s.strip() if (len(s) <= 5 and " " not in s and any(c.isupper() for c in s)) else words(s)
            if key in owner and owner[key] != entry.id:
                pytest.fail(f"{s!r} names both {owner[key]} and {entry.id}")
            owner[key] = entry.id
    # what was taken away to keep it so is recorded, never silent
    assert all(len(d) == 3 for d in v.dropped)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("AFib", "atrial_fibrillation"),
        ("a-fib", "atrial_fibrillation"),
        ("atrial fibrilation", "atrial_fibrillation"),
        ("PR", "pr"),
        ("qt corrected", "qtc"),
        ("corrected QT", "qtc"),
        ("RR interval", "rr"),
        ("extra systoles", "premature_beats"),
        ("skipped beats", "premature_beats"),
        ("PVCs", "premature_ventricular_contractions"),
        ("RBBB", "right_bundle_branch_block"),
        ("heart attack", "myocardial_infarction"),
        ("baseline wander", "baseline_drift"),
        ("lead aVL", "lead_avl"),
        ("st/t change", "st_t_change"),
    ],
)
def test_lay_words_abbreviations_and_misspellings(text, expected):
    assert vocabulary().resolve(text).id == expected


def test_find_takes_the_longest_whole_word_matches_in_order():
    found = vocabulary().find(
        "I think the QTc is long; any PVCs or baseline wander in lead V1? What about the PR?"
    )
    assert [m.id for m in found] == [
        "qtc",
        "premature_ventricular_contractions",
        "baseline_drift",
        "lead_v1",
        "pr",
    ]
    # a pronoun is not lead I, and "heart rate variability" is not the heart rate
    assert [m.id for m in vocabulary().find("I want my heart rate variability")] == ["hrv"]


def test_measurements_are_typed_by_their_whole_name():
    assert Measurement(name="QTc (Bazett)", value=440, unit="ms").quantity == "qtc"
    assert Measurement(name="QTc dispersion (Bazett)", value=40, unit="ms").quantity is None
    assert Measurement(name="rate", value=16, unit="breaths/min").quantity is None
    assert Measurement(name="anything", value=1, unit="ms", quantity="pr").quantity == "pr"


def test_normal_ranges_by_sex_with_sources_and_rr_from_heart_rate():
    qtc = QUANTITY_BY_ID["qtc"]
    assert qtc.range_for("female").high == 460 and qtc.range_for("male").high == 450
    assert qtc.range_for(None).source
    assert rr_from_heart_rate(75) == pytest.approx(800.0)
    # the RR range is the heart-rate range as an interval: 50-100 bpm (sinus bradycardia < 50 bpm, 2018
    # ACC/AHA/HRS) is 600-1200 ms
    assert QUANTITY_BY_ID["rr"].range_for().category(rr_from_heart_rate(45)) == "high"
    assert QUANTITY_BY_ID["rr"].range_for().category(rr_from_heart_rate(55)) == "normal"


def test_plugins_add_terms_but_cannot_take_a_word_already_owned():
    v = vocabulary()
    v.add_term(Term(id="test_plugin_finding_xyz", kind="finding", name="zebra pattern xyz"))
    assert v.resolve("zebra pattern xyz").id == "test_plugin_finding_xyz"
    with pytest.raises(ValueError):
        v.add_term(Term(id="test_plugin_other_xyz", kind="finding", name="atrial fibrillation"))
    assert isinstance(v.get("qtc"), Quantity)
