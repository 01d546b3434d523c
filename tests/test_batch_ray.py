"""``--engine ray`` on a real local Ray cluster: the same rows as the local engines, for batch and eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'cardioagent[ray]'")

from cardioagent.agent.batch.engines import LocalEngine, RayEngine
from cardioagent.agent.batch.runner import run_batch
from cardioagent.agent.batch.sources import from_inputs

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
VOLATILE = {"seconds", "cpu_s", "worker", "worker_rss_mb", "finished_at", "source"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, object_store_memory=200 * 1024**2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _content(results: Path) -> dict[str, dict]:
    import pyarrow.parquet as pq

    return {
        r["key"]: {k: v for k, v in r.items() if k not in VOLATILE}
        for r in pq.read_table(results).to_pylist()
    }


def test_batch_on_ray_gives_the_rows_of_the_local_engine(ray_cluster, tmp_path):
    files = [
        DATA / "E07500.hea",
        DATA / "mitbih100_60s.hea",
        DATA / "synthetic_12lead.npz",
        DATA / "malformed" / "truncated.hea",
        DATA / "malformed" / "not_really.edf",
    ]
    tasks = from_inputs([str(f) for f in files]).tasks
    local = run_batch(tasks, tmp_path / "local", LocalEngine(2), progress=False)
    engine = RayEngine(workers=2)
    on_ray = run_batch(tasks, tmp_path / "ray", engine, progress=False)
    rows = _content(on_ray.results)
    assert rows == _content(local.results)
    assert rows[str(DATA / "malformed" / "not_really.edf")]["error_kind"] == "CorruptFileError"
    assert rows[str(DATA / "E07500.hea")]["status"] == "ok"
    import pyarrow.parquet as pq

    workers = {r["worker"] for r in pq.read_table(on_ray.results).to_pylist()}
    assert workers and all(r > 0 for r in pq.read_table(on_ray.results).column("worker_rss_mb").to_pylist())
    again = run_batch(tasks, tmp_path / "ray", engine, progress=False)
    assert (again.processed, again.already_done) == (0, len(tasks))


def test_eval_on_ray_gives_the_answers_of_the_thread_engine(ray_cluster, shared_home, tmp_path, capsys):
    from cardioagent.agent.evaluation.build import build_benchmark
    from cardioagent.ui.cli import main

    bench = tmp_path / "tiny.json"
    build_benchmark([DATA], bench, seed=0)
    runs = {}
    for engine in ("thread", "ray"):
        out = tmp_path / engine
        argv = ["eval", str(bench), "--limit", "4", "--out", str(out), "--no-progress", "--engine", engine]
        assert main(argv + (["--workers", "1"] if engine == "ray" else [])) == 0
        assert "4 asked now, 0 already done" in capsys.readouterr().out
        rows = [json.loads(line) for line in (out / "trace.jsonl").read_text().splitlines()]
        runs[engine] = {
            r["key"]: (r["status"], r["prediction"], r["correct"], [t["tool"] for t in r["tools"]])
            for r in rows
        }
        if engine == "ray":
            assert all(r["worker"] and r["worker_rss_mb"] > 0 for r in rows)
            report = json.loads((out / "report.json").read_text())
            assert report["run"]["engine"].startswith("ray")
    assert runs["ray"] == runs["thread"] and len(runs["ray"]) == 4
