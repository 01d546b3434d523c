"""``cardioagent batch``: sources, rows, resume, error rows, and the local engines (docs/scale.md)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cardioagent.agent.batch.engines import EngineError, LocalEngine, SerialEngine, make_engine
from cardioagent.agent.batch.runner import run_batch
from cardioagent.agent.batch.sources import from_inputs, from_manifest
from cardioagent.agent.batch.summary import summarize
from cardioagent.agent.batch.writer import PARTS, finished_keys
from cardioagent.tools.errors import InputError

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
# Columns that depend on where and when a row was computed, not on the recording.
VOLATILE = {"seconds", "cpu_s", "worker", "worker_rss_mb", "finished_at", "source"}


def content(results: Path) -> dict[str, dict]:
    rows = pq.read_table(results).to_pylist()
    return {r["key"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in rows}


def copy_record(src: str, dest: Path, name: str) -> None:
    """Copy a WFDB record under a new record name (the header names its record and data file)."""
    header = (DATA / f"{src}.hea").read_text()
    data_ext = ".mat" if (DATA / f"{src}.mat").exists() else ".dat"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / f"{name}.hea").write_text(header.replace(src, name))
    shutil.copy(DATA / f"{src}{data_ext}", dest / f"{name}{data_ext}")


@pytest.fixture
def cohort(tmp_path) -> Path:
    """A PTB-XL-like folder: records, a label table, a licence, and one corrupt record."""
    root = tmp_path / "cohort"
    copy_record("E07500", root / "records", "E07500")
    copy_record("mitbih100_60s", root / "records", "mitbih100_60s")
    (root / "ptbxl_database.csv").write_text("ecg_id,patient_id,report\n1,15709.0,sinusrhythmus normal\n")
    (root / "LICENSE.txt").write_text("CC BY 4.0\n")
    (root / "records" / "broken.hea").write_text("broken 12 500 5000\nbroken.dat 16 200 16 0 0 0 0 I\n")
    (root / "records" / "broken.dat").write_bytes(b"\x00\x01" * 10)
    (root / "records" / "orphan.dat").write_bytes(b"\x00" * 8)
    return root


def test_folder_sources_skip_tables_and_companions_with_a_note(cohort):
    found = from_inputs([str(cohort)])
    assert [t.key for t in found.tasks] == [
        "records/E07500.hea",
        "records/broken.hea",
        "records/mitbih100_60s.hea",
    ]
    notes = "\n".join(found.skipped)
    assert "ptbxl_database.csv: a table, not a signal" in notes
    assert "LICENSE.txt: not a recording (.txt)" in notes
    assert "orphan.dat: a WFDB .dat file without its .hea header" in notes
    assert not any("E07500.mat" in s for s in found.skipped)  # a companion is part of its record, not a note
    by_glob = from_inputs([str(cohort / "**" / "*.hea")])
    assert sorted(Path(t.path).name for t in by_glob.tasks) == [
        "E07500.hea",
        "broken.hea",
        "mitbih100_60s.hea",
    ]
    with pytest.raises(InputError, match="no such file or folder"):
        from_inputs([str(cohort / "nope")])


def test_manifest_resolves_record_names_and_keeps_metadata(cohort, tmp_path):
    manifest = cohort / "manifest.csv"
    manifest.write_text("ecg_id,filename_hr,age,sex\n1,records/E07500,56,1\n2,records/mitbih100_60s,,0\n")
    found = from_manifest(manifest, id_column="ecg_id", meta_columns=["age", "sex"])
    assert [(t.key, Path(t.path).name, t.metadata) for t in found.tasks] == [
        ("1", "E07500.hea", {"age": "56", "sex": "1"}),
        ("2", "mitbih100_60s.hea", {"age": None, "sex": "0"}),
    ]
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="no path column"):
        from_manifest(tmp_path / "bad.csv")


def test_a_corrupt_file_is_an_error_row_and_a_rerun_skips_finished_records(cohort, tmp_path):
    out = tmp_path / "out"
    tasks = from_inputs([str(cohort)]).tasks
    first = run_batch(tasks, out, SerialEngine(), flush_rows=1, progress=False)
    assert (first.processed, first.already_done, first.rows_written) == (3, 0, 3)
    rows = content(first.results)
    broken = rows["records/broken.hea"]
    assert broken["status"] == "error" and broken["error_kind"] == "HeaderMismatchError"
    assert "broken" in broken["error"] and not broken["measurements"]
    ok = rows["records/E07500.hea"]
    assert ok["status"] == "ok" and ok["n_channels"] == 12 and ok["quality"] in ("good", "acceptable", "poor")
    hr = [m for m in ok["measurements"] if m["analysis"] == "heart_rate" and m["quantity"] == "heart_rate"]
    assert len(hr) == 1 and 40 < hr[0]["value"] < 70  # E07500 is labelled sinus bradycardia
    assert {s["source"] for s in ok["statements"]} == {"rhythm", "intervals"}
    assert len(list((out / PARTS).glob("part-*.parquet"))) == 3  # one part per row with flush_rows=1

    again = run_batch(tasks, out, SerialEngine(), progress=False)
    assert (again.processed, again.already_done) == (0, 3)
    retried = run_batch(tasks, out, SerialEngine(), retry_errors=True, progress=False)
    assert (retried.processed, retried.already_done) == (1, 2)  # only the error row is redone
    assert content(retried.results) == rows  # merged: one row per key, the latest

    summary = summarize(retried.results)
    assert (summary.rows, summary.ok, summary.errors) == (3, 2, 1)
    assert summary.failures_by_kind == {"HeaderMismatchError": 1}
    regular = next(s for s in summary.statements if s.source == "rhythm" and s.name == "regular")
    assert regular.present >= 1 and regular.prevalence == regular.present / 2


def test_engine_choices_are_checked():
    assert isinstance(make_engine("local", 1), SerialEngine)
    assert isinstance(make_engine("local", 2), LocalEngine)
    with pytest.raises(EngineError, match="--address is for --engine ray"):
        make_engine("local", 2, "auto")
    with pytest.raises(EngineError, match="unknown engine"):
        make_engine("dask")


def test_ray_missing_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(EngineError, match=r"pip install 'cardioagent\[ray\]'"):
        make_engine("ray", 2)


@pytest.mark.slow
def test_process_pool_gives_the_same_rows_as_one_process(cohort, tmp_path):
    tasks = from_inputs([str(cohort)]).tasks
    serial = run_batch(tasks, tmp_path / "serial", SerialEngine(), progress=False)
    pooled = run_batch(tasks, tmp_path / "pool", LocalEngine(2), progress=False)
    assert content(pooled.results) == content(serial.results)
    workers = {r["worker"] for r in pq.read_table(pooled.results).to_pylist()}
    assert str(os.getpid()) not in {w.split(":")[1] for w in workers}  # the rows were computed in the pool


@pytest.mark.slow
def test_rerun_after_kill_9_completes_only_the_missing_records(tmp_path):
    src = tmp_path / "many"
    for i in range(8):
        copy_record("E07500" if i % 2 else "mitbih100_60s", src, f"rec{i}")
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "cardioagent.ui.cli",
        "batch",
        str(src),
        "--out",
        str(out),
        "--workers",
        "1",
        "--flush-every",
        "1",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 50
    while len(list((out / PARTS).glob("part-*.parquet"))) < 3 and time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # no clean-up code runs: only what was on disk survives
    proc.wait()
    done = finished_keys(out)
    assert 3 <= len(done) < 8

    rerun = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{8 - len(done)} processed now" in rerun.stdout and f"{len(done)} already done" in rerun.stdout
    rows = pq.read_table(out / "results.parquet").to_pylist()
    assert sorted(r["key"] for r in rows) == [f"rec{i}.hea" for i in range(8)]
    assert all(r["status"] == "ok" for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == 8 and summary["run"]["already_done"] == len(done)


def test_cli_errors_are_one_line(tmp_path, capsys):
    from cardioagent.ui.cli import main

    assert main(["batch", "--out", str(tmp_path / "o")]) == 2
    assert "nothing to analyse" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "m.csv").write_text("x\n1\n")
    assert main(["batch", "--manifest", str(tmp_path / "m.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "no path column" in capsys.readouterr().err
