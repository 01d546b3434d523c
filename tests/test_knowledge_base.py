"""The knowledge base: corpus validity, SNOMED coverage, the chromadb store (incremental build, search,
category filter), user documents, CKEPE prompts, zero-shot label scoring and the ``kb`` CLI commands.

The full corpus is embedded once per session into a temporary store (``kb_store``); tests that change
the corpus work on a small copy so they stay quick. Nothing touches the user's home.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cardioagent.knowledge_base.ckepe import (
    build_ckepe_prompt,
    quantity_of,
    score_labels,
)
from cardioagent.knowledge_base.commands import register
from cardioagent.knowledge_base.entries import (
    CATEGORIES,
    CORPUS_DIR,
    REQUIRED_SECTIONS,
    CorpusError,
    corpus_files,
    corpus_problems,
    load_corpus,
    parse_entry,
)
from cardioagent.knowledge_base.numeric_rules import NUMERIC_RULES
from cardioagent.knowledge_base.store import KnowledgeStore
from cardioagent.knowledge_base.user_docs import add_user_document, chunk_document, list_user_documents
from cardioagent.tools.contract import Measurement, Quality
from cardioagent.tools.errors import CorruptFileError, InputError, UnsupportedFormatError

SMALL_CORPUS = [
    "rhythm/atrial_fibrillation.md",
    "rhythm/sinus_bradycardia.md",
    "rhythm/sinus_tachycardia.md",
    "conduction/left_bundle_branch_block.md",
    "conduction/first_degree_av_block.md",
    "interval/prolonged_qt_interval.md",
]


@pytest.fixture(scope="session")
def kb_store(tmp_path_factory) -> KnowledgeStore:
    store = KnowledgeStore(path=tmp_path_factory.mktemp("kb") / "store")
    report = store.build()
    assert report.added == len(store.entries()) and report.unchanged == 0
    return store


@pytest.fixture()
def small_corpus(tmp_path) -> Path:
    root = tmp_path / "corpus"
    for rel in SMALL_CORPUS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS_DIR / rel, root / rel)
    return root


def hr(value: float, unit: str = "bpm") -> Measurement:
    return Measurement(name="heart_rate", value=value, unit=unit)


# ----- corpus -------------------------------------------------------------------------------------------


def test_corpus_is_valid():
    entries = load_corpus(strict=True)  # raises CorpusError listing every schema/section problem
    assert len(entries) >= 100, f"only {len(entries)} corpus entries"
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids))
    assert corpus_problems(entries) == []  # related ids exist, no SNOMED code claimed twice
    for e in entries:
        assert e.category in CATEGORIES
        assert e.path is not None and e.path.stem == e.id and e.path.parent.name == e.category
        for section in REQUIRED_SECTIONS:
            assert e.section(section).strip(), f"{e.id}: empty {section}"
        assert e.criteria_items(), f"{e.id}: Criteria has no items"
        assert e.sources


def test_every_snomed_code_of_the_dataset_resolves(shared_data):
    store = KnowledgeStore(path=Path("/nonexistent-never-opened"))  # entries need no chromadb
    with open(shared_data / "snomed_dx_map.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 133
    missing = [(r["snomed_ct_code"], r["name"]) for r in rows if store.by_snomed(r["snomed_ct_code"]) is None]
    assert missing == []
    assert store.by_snomed("164889003").id == "atrial_fibrillation"
    assert store.by_snomed("999999999") is None


def test_numeric_rules_point_at_existing_entries():
    ids = {e.id for e in load_corpus()}
    assert {r.entry_id for r in NUMERIC_RULES} <= ids


def test_parse_entry_reports_every_problem(tmp_path):
    bad = tmp_path / "rhythm" / "made_up.md"
    bad.parent.mkdir()
    bad.write_text(
        "---\nid: made_up\nname: Made up\ncategory: rhythmz\nurgency: routine\nsources: [x]\n---\n\n"
        "## Definition\nSomething.\n\n## Criteria\n- one\n"
    )
    with pytest.raises(CorpusError) as err:
        parse_entry(bad.read_text(), bad)
    text = str(err.value)
    assert "category" in text and "Appearance" in text and "Significance" in text and "made_up.md" in text
    with pytest.raises(CorpusError, match="front matter"):
        parse_entry("## Definition\nno front matter\n")
    # Non-strict loading skips the broken file instead of failing the whole corpus.
    assert load_corpus(tmp_path, strict=False) == []
    with pytest.raises(CorpusError):
        load_corpus(tmp_path, strict=True)


# ----- store: build ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_build_is_idempotent_and_incremental(tmp_path, small_corpus):
    store = KnowledgeStore(path=tmp_path / "kb", corpus_dir=small_corpus)
    embedded: list[int] = []
    real_embed = store._embed
    store._embed = lambda texts: (embedded.append(len(texts)), real_embed(texts))[1]  # type: ignore[method-assign]

    first = store.build()
    assert (first.added, first.updated, first.removed, first.unchanged) == (6, 0, 0, 0)
    assert first.chunks_embedded == sum(embedded) > 6

    embedded.clear()
    second = store.build()
    assert (second.added, second.updated, second.removed, second.unchanged) == (0, 0, 0, 6)
    assert second.chunks_embedded == 0 and embedded == []

    # A fresh store object on the same folder sees the same persisted state.
    again = KnowledgeStore(path=tmp_path / "kb", corpus_dir=small_corpus).build()
    assert again.unchanged == 6 and again.chunks_embedded == 0

    path = small_corpus / "rhythm" / "sinus_bradycardia.md"
    path.write_text(path.read_text().replace("## Significance\n", "## Significance\nEdited for the test. "))
    third = store.build()
    assert (third.added, third.updated, third.removed, third.unchanged) == (0, 1, 0, 5)
    n_chunks = store.collection().count()

    (small_corpus / "interval" / "prolonged_qt_interval.md").unlink()
    fourth = store.build()
    assert (fourth.added, fourth.updated, fourth.removed, fourth.unchanged) == (0, 0, 1, 5)
    assert store.collection().count() < n_chunks
    assert all(h.entry_id != "prolonged_qt_interval" for h in store.search("long QT interval", k=5))
    # The edited entry's chunks were replaced, not duplicated.
    metas = store.collection().get(where={"entry_id": "sinus_bradycardia"}, include=["metadatas"])[
        "metadatas"
    ]
    assert len({m["entry_hash"] for m in metas}) == 1

    count = store.collection().count()
    fresh = store.build(rebuild=True)
    assert (fresh.added, fresh.unchanged) == (5, 0) and store.collection().count() == count


def test_store_uses_the_local_embedding_function(tmp_path, small_corpus):
    from chromadb.utils.embedding_functions import known_embedding_functions

    from cardioagent.knowledge_base.embedding import MiniLMEmbeddingFunction, embed_texts

    assert known_embedding_functions["cardioagent_minilm"] is MiniLMEmbeddingFunction
    ef = MiniLMEmbeddingFunction.build_from_config(MiniLMEmbeddingFunction().get_config())
    vecs = np.asarray(ef(["atrial fibrillation", "sinus rhythm"]))
    assert vecs.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert np.allclose(vecs, embed_texts(["atrial fibrillation", "sinus rhythm"]), atol=1e-5)
    col = KnowledgeStore(path=tmp_path / "kb", corpus_dir=small_corpus).collection()
    assert col._embedding_function.name() == "cardioagent_minilm"


def test_default_store_path_follows_cardioagent_home(cardio_home):
    assert KnowledgeStore().path == cardio_home / "kb"


# ----- store: search --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_lay_abbreviation_finds_atrial_fibrillation(kb_store):
    hits = kb_store.search("afib", k=3)
    assert "atrial_fibrillation" in [h.entry_id for h in hits]
    top = hits[0]
    assert top.source_kind == "corpus" and top.citation and top.sources and top.text.strip()
    assert len({h.entry_id for h in hits}) == len(hits)  # entry-level: one hit per entry


@pytest.mark.slow
def test_search_question_and_criteria_queries(kb_store):
    slow = [h.entry_id for h in kb_store.search("is 48 bpm too slow", k=3)]
    assert {"sinus_bradycardia", "bradycardia"} & set(slow)
    assert "left_bundle_branch_block" in [h.entry_id for h in kb_store.search("LBBB criteria", k=3)]


def test_search_bonus_names_codes_and_numbers():
    store = KnowledgeStore(path=Path("/nonexistent-never-opened"))  # the bonus needs entries only
    store.bm25_weight = store.numeric_boost = 0.0
    assert store.entry_bonus("I eat at home and my PR is fine") == {}  # English words, measurement names
    named = store.entry_bonus("paroxysmal atrial fibrillation at night")
    assert "paroxysmal_atrial_fibrillation" in named and "atrial_fibrillation" not in named  # longest match
    assert store.entry_bonus("snomed 164889003")["atrial_fibrillation"] >= 1.0
    store.lexical_boost = 0.0
    store.numeric_boost = 0.06
    assert store.entry_bonus("what does a QTc of 490 ms mean") == {"prolonged_qt_interval": 0.06}
    slow = store.entry_bonus("resting pulse 48 bpm")
    assert {"sinus_bradycardia", "bradycardia"} <= set(slow) and "sinus_tachycardia" not in slow


@pytest.mark.slow
def test_category_filter(kb_store):
    hits = kb_store.search("heart block", k=8, category="conduction")
    assert hits and all(h.category == "conduction" for h in hits)
    hits = kb_store.search("heart block", k=8, category="interval")
    assert hits and all(h.category == "interval" for h in hits)
    assert kb_store.search("", k=5) == []


@pytest.mark.slow
def test_lookup_by_id_name_synonym_and_code(kb_store):
    assert kb_store.lookup("atrial_fibrillation")[1] == "id"
    entry, how = kb_store.lookup("Normal sinus rhythm")
    assert entry.id == "sinus_rhythm" and how == "name"
    entry, how = kb_store.lookup("AF")
    assert entry.id == "atrial_fibrillation" and how == "synonym"
    entry, how = kb_store.lookup("426177001")
    assert entry.id == "sinus_bradycardia" and how == "snomed"
    assert kb_store.lookup("no such finding xyz") is None
    assert kb_store.get_entry("atrial_fibrillation").name.lower().startswith("atrial fibrillation")


# ----- user documents ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_user_documents_are_cited_as_user_provided(cardio_home, small_corpus, tmp_path):
    store = KnowledgeStore(corpus_dir=small_corpus)  # default path: $CARDIOAGENT_HOME/kb
    doc = tmp_path / "holter_instructions.md"
    doc.write_text(
        "# Holter recorder\n\nWear the Holter recorder for forty-eight hours and write every episode of "
        "dizziness in the diary with the time.\n\n## Showering\n\nTake the recorder off before showering; "
        "the electrodes can stay on.\n"
    )
    report = add_user_document(doc, store=store)
    assert report.chunks >= 2 and not report.replaced
    hits = store.search("can I shower while wearing the holter", k=3)
    user = [h for h in hits if h.source_kind == "user"]
    assert user and user[0].citation == "user document: holter_instructions.md"
    assert user[0].category is None and "shower" in user[0].text.lower()
    assert (cardio_home / "kb").is_dir()

    # Same name again replaces the old chunks.
    doc.write_text("# Holter recorder\n\nReturn the device to the clinic desk on Monday morning, please.\n")
    again = add_user_document(doc, store=store)
    assert again.replaced and again.chunks == 1
    assert list_user_documents(store) == ["holter_instructions.md"]
    texts = [h.text for h in store.search("showering electrodes", k=5) if h.source_kind == "user"]
    assert texts and all("shower" not in t.lower() for t in texts)
    # A category filter leaves user documents out.
    assert all(h.source_kind == "corpus" for h in store.search("holter recorder", k=5, category="rhythm"))


@pytest.mark.slow
def test_user_pdf_is_read(cardio_home, small_corpus, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["pdf.fonttype"] = 42  # TrueType, so the PDF has a text layer
    fig = plt.figure(figsize=(8.5, 11))
    fig.text(0.1, 0.9, "Cardiology clinic letter: the event monitor showed nocturnal pauses of 3.2 seconds.")
    pdf = tmp_path / "clinic_letter.pdf"
    fig.savefig(pdf)
    plt.close(fig)
    store = KnowledgeStore(corpus_dir=small_corpus)
    assert add_user_document(pdf, store=store).chunks == 1
    hits = [h for h in store.search("pauses at night on the event monitor", k=5) if h.source_kind == "user"]
    assert hits and hits[0].citation == "user document: clinic_letter.pdf" and "3.2 seconds" in hits[0].text


def test_bad_user_documents_give_specific_errors(cardio_home, small_corpus, tmp_path):
    store = KnowledgeStore(corpus_dir=small_corpus)
    with pytest.raises(InputError, match="no such file"):
        add_user_document(tmp_path / "missing.md", store=store)
    docx = tmp_path / "letter.docx"
    docx.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(UnsupportedFormatError, match="letter.docx"):
        add_user_document(docx, store=store)
    binary = tmp_path / "notes.txt"
    binary.write_bytes(b"\x00\x01\x02" * 50)
    with pytest.raises(CorruptFileError, match="binary"):
        add_user_document(binary, store=store)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Électrocardiogramme très irrégulier ".encode("latin-1") * 3)
    with pytest.raises(CorruptFileError, match="UTF-8"):
        add_user_document(latin, store=store)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 truncated")
    with pytest.raises(CorruptFileError, match="broken.pdf"):
        add_user_document(broken, store=store)
    empty = tmp_path / "empty.md"
    empty.write_text("   \n")
    with pytest.raises(InputError, match="no readable text"):
        add_user_document(empty, store=store)


def test_chunk_document_sizes_headings_and_overlap():
    sentence = "Palpitations were noted during the night while the patient was resting in bed. "
    text = "# Night\n\n" + sentence * 30 + "\n\n# Day\n\nNo symptoms during the day.\n"
    chunks = chunk_document(text)
    night = [c for c in chunks if c.heading == "Night"]
    assert len(night) >= 3 and all(len(c.text) <= 900 for c in chunks)
    # Consecutive chunks of one section share text (the overlap); chunks never cross a heading.
    assert night[0].text[-60:].split(" ", 1)[1][:30] in night[1].text
    assert [c.heading for c in chunks][-1] == "Day" and chunks[-1].text == "No symptoms during the day."


# ----- CKEPE --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ckepe_marks_support_and_contradiction_with_citations(kb_store):
    prompt = build_ckepe_prompt(["sinus bradycardia", "sinus tachycardia"], [hr(48)], kb_store)
    brady, tachy = prompt.candidates
    assert brady.entry_id == "sinus_bradycardia" and tachy.entry_id == "sinus_tachycardia"
    assert [e.verdict for e in brady.evidence] == ["supports"]
    assert [e.verdict for e in tachy.evidence] == ["contradicts"]
    assert brady.criteria and brady.definition
    assert [(c.n, c.entry_id) for c in prompt.citations] == [
        (1, "sinus_bradycardia"),
        (2, "sinus_tachycardia"),
    ]
    assert all(c.sources for c in prompt.citations)
    assert "[1]" in prompt.text and "[2]" in prompt.text and "References:" in prompt.text
    assert "SUPPORTS: heart_rate: 48 bpm" in prompt.text and "CONTRADICTS: heart_rate: 48 bpm" in prompt.text


@pytest.mark.slow
def test_ckepe_qtc_units_and_resolution(kb_store):
    measurements = [
        Measurement(name="QTc (Bazett)", value=0.49, unit="s"),
        Measurement(name="respiratory rate", value=14, unit="breaths/min"),  # not a heart rate
        Measurement(name="PR interval", value=None, unit="ms", quality=Quality.UNUSABLE),
    ]
    prompt = build_ckepe_prompt(
        ["prolonged QT interval", "111975006", "short_qt_interval", "xyzzy plugh"], measurements, kb_store
    )
    long_qt, by_code, short_qt, unknown = prompt.candidates
    assert long_qt.entry_id == by_code.entry_id == "prolonged_qt_interval" and by_code.resolved_by == "snomed"
    assert long_qt.citation == by_code.citation == 1  # one citation per entry
    assert [e.verdict for e in long_qt.evidence] == ["supports"] and long_qt.evidence[
        0
    ].value == pytest.approx(490)
    assert [e.verdict for e in short_qt.evidence] == ["contradicts"]
    assert unknown.entry_id is None and unknown.resolved_by == "unresolved" and unknown.citation is None
    assert len(prompt.citations) == 2
    assert quantity_of(measurements[1]) is None


@pytest.mark.slow
def test_ckepe_borderline_and_poor_quality(kb_store):
    m = Measurement(name="QTc", value=452, unit="ms", quality=Quality.POOR)
    (cand,) = build_ckepe_prompt(["long QT"], [m], kb_store).candidates
    assert cand.entry_id == "prolonged_qt_interval"
    assert [e.verdict for e in cand.evidence] == ["borderline"] and cand.evidence[0].poor_quality


@pytest.mark.slow
def test_score_labels_ranks_af_first(kb_store):
    findings = (
        "The rhythm is irregularly irregular: RR intervals vary without any pattern and no P waves are "
        "visible, only a wavy baseline; narrow QRS complexes."
    )
    labels = [
        "sinus rhythm",
        "sinus bradycardia",
        "atrial fibrillation",
        "first degree AV block",
        "left bundle branch block",
        "sinus tachycardia",
    ]
    scores = score_labels(findings, labels, kb_store)
    assert scores[0].label == "atrial fibrillation" and scores[0].entry_id == "atrial_fibrillation"
    assert [s.score for s in scores] == sorted((s.score for s in scores), reverse=True)
    assert {s.label for s in scores} == set(labels)
    assert all(s.score == pytest.approx(s.cosine + s.bonus, abs=2e-4) for s in scores)
    plain = score_labels(findings, labels, kb_store, hybrid=False)
    assert all(s.bonus == 0 and s.score == s.cosine for s in plain)


# ----- CLI ----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cardioagent")
    register(parser.add_subparsers(dest="command"))
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


@pytest.mark.slow
def test_cli_commands(kb_store, tmp_path, capsys):
    store = str(kb_store.path)
    assert _run(["kb", "build", "--path", store]) == 0
    assert "0 added" in capsys.readouterr().out

    assert _run(["kb", "search", "afib", "-k", "3", "--json", "--path", store]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3 and "atrial_fibrillation" in [h["entry_id"] for h in hits]

    assert _run(["kb", "search", "wide QRS", "--category", "conduction", "--path", store]) == 0
    out = capsys.readouterr().out
    assert "cite: cardioagent knowledge base" in out and "interval," not in out

    assert _run(["kb", "show", "164889003", "--path", store]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Atrial fibrillation") and "Sources:" in out and "## Criteria" in out
    assert _run(["kb", "show", "no_such_entry", "--path", store]) == 1
    assert "no knowledge-base entry" in capsys.readouterr().err

    other = tmp_path / "userkb"
    note = tmp_path / "note.txt"
    note.write_text("My cardiologist said my ectopic beats are benign and need no treatment.")
    assert _run(["kb", "add", str(note), "--path", str(other)]) == 0
    assert "added user document note.txt" in capsys.readouterr().out
    assert _run(["kb", "add", str(tmp_path / "scan.jpg"), "--path", str(other)]) == 2
    assert "scan.jpg" in capsys.readouterr().err

    with pytest.raises(SystemExit):  # argparse rejects an unknown category itself
        _parser().parse_args(["kb", "search", "x", "--category", "nonsense"])


def test_corpus_files_listing_skips_readme():
    assert all(p.name != "README.md" for p in corpus_files())
