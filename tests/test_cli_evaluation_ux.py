"""Evaluation as a researcher uses it: a moved benchmark fails loudly, ``--limit`` samples every question type,
``report.md`` lists the wrong answers, and ``bench compare`` does not compare different question sets.

The runs use ``GoldAsker`` (answers the gold for even sample ids, "not sure" otherwise), as in
test_evaluation.py: these tests check the harness, not what the agent knows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from cardioagent.agent.evaluation.benchmark import load_benchmark
from cardioagent.agent.evaluation.build import build_benchmark
from cardioagent.agent.evaluation.compare import compare_runs
from cardioagent.agent.evaluation.report import write_report
from cardioagent.agent.evaluation.runner import TRACE, RunConfig, run_benchmark, select
from cardioagent.agent.evaluation.sampling import stratified_sample

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"


@pytest.fixture(scope="module")
def bench_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "tiny.json"
    build_benchmark([DATA], out, seed=0)
    return out


class GoldAsker:
    def __init__(self, bench_path: Path) -> None:
        items = json.loads(bench_path.read_text())["items"]
        self.gold = {(it["question"], Path(it["files"][0]).name): it for it in items}

    def ask(self, question, attachments=(), thread_id=None, demographics=None, options=None):
        item = self.gold[(question, Path(attachments[0]).name)]
        answer = "; ".join(item["answer"]) if item["sample_id"] % 2 == 0 else "not sure"
        return SimpleNamespace(
            text=f"findings\n**Answer:** {answer}", trace=[], timings={"total_s": 0.0}, closed=None, usage={}
        )


def _cli(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "CARDIOAGENT_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "cardioagent.ui.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def test_limit_samples_every_question_type_seeded_and_nested(bench_path):
    items = load_benchmark(bench_path).items
    types = Counter(it.question_type for it in items)
    assert len(types) >= 3
    n = len(types) + 2
    sample = stratified_sample(items, n, seed=0)
    assert len(sample) == n and {it.question_type for it in sample} == set(types)  # no type vanishes
    assert [it.key for it in sample] == [it.key for it in stratified_sample(items, n, seed=0)]  # seeded
    assert [it.key for it in stratified_sample(items, n, seed=1)] != [it.key for it in sample]
    order = [it.key for it in items]
    assert [order.index(it.key) for it in sample] == sorted(
        order.index(it.key) for it in sample
    )  # bench order
    bigger = {it.key for it in stratified_sample(items, 2 * n, seed=0)}
    assert {it.key for it in sample} <= bigger  # a larger --limit only adds questions
    # proportional beyond one per type: the largest type gets the most items
    half = Counter(it.question_type for it in stratified_sample(items, len(items) // 2, seed=0))
    assert half.most_common(1)[0][0] == types.most_common(1)[0][0]
    # --first keeps the old behaviour
    assert [it.key for it in select(items, 4, None, first=True)] == order[:4]


@pytest.mark.slow
def test_moved_benchmark_is_an_error_before_anything_runs(bench_path, tmp_path):
    moved = tmp_path / "elsewhere" / "tiny.json"
    moved.parent.mkdir()
    moved.write_text(bench_path.read_text())  # its relative 'files' now point at nothing
    home = tmp_path / "home"
    done = _cli("eval", str(moved), "--out", str(tmp_path / "run"), "--no-progress", home=home)
    assert done.returncode == 2, done.stderr
    assert "have no recording here" in done.stderr and "--allow-missing" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (home / "kb").exists()  # failed before the agent (and its knowledge store) was loaded


def test_report_lists_wrong_and_unparsed_answers_with_links_into_the_trace(bench_path, tmp_path):
    bench = load_benchmark(bench_path)
    run_benchmark(bench, GoldAsker(bench_path), tmp_path, RunConfig(progress=False))
    report = write_report(tmp_path, [it.key for it in bench.items], {"command": "test"}, {})
    wrong = report["wrong"]
    expected = [it.key for it in bench.items if int(it.key) % 2 == 1]
    assert sorted(w["key"] for w in wrong) == sorted(expected)
    trace = (tmp_path / TRACE).read_text().splitlines()
    for w in wrong:  # each link names the trace line that holds the row
        assert json.loads(trace[w["line"] - 1])["key"] == w["key"]
    md = (tmp_path / "report.md").read_text()
    assert "## Wrong and unparsed answers" in md
    assert md.count("](trace.jsonl#L") == len(wrong)


@pytest.mark.slow
def test_compare_warns_and_uses_the_common_questions(bench_path, tmp_path):
    bench = load_benchmark(bench_path)
    small, full = tmp_path / "small", tmp_path / "full"
    run_benchmark(bench, GoldAsker(bench_path), small, RunConfig(limit=6, progress=False))
    run_benchmark(bench, GoldAsker(bench_path), full, RunConfig(progress=False))
    small_keys = [it.key for it in select(bench.items, 6, None)]
    write_report(small, small_keys, {"command": "small"}, {})
    write_report(full, [it.key for it in bench.items], {"command": "full"}, {})
    reports = [json.loads((d / "report.json").read_text()) for d in (small, full)]
    notes: list[str] = []
    text = compare_runs(reports, ["small", "full"], [small / TRACE, full / TRACE], warn=notes.append)
    assert notes and "different questions" in notes[0] and "on the 6 questions" in notes[0]
    # both columns are scored on the same 6 questions
    overall = next(line for line in text.splitlines() if line.startswith("| **overall**"))
    assert overall.count("/6)") == 2, overall
    done = _cli("bench", "compare", str(small), str(full), home=tmp_path / "home")
    assert done.returncode == 0 and "different questions" in done.stderr
