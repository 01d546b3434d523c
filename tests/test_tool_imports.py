"""Issue 21: a process-isolated tool call does not pay for its lazy imports on every call.

The analysis code imports its heavy libraries lazily (``import neurokit2`` inside a detector, ~1.3 s of CPU
with matplotlib). A forked child that imports them loses them when it exits, so before this change every call
paid the import again: on ECG-QA ``eval`` it was most of the per-question CPU. Now the child reports the
modules it imported and the registry imports them in the parent once, so the next child inherits them.

The probe module appends the pid of the process importing it to a file, so the test sees who imported it and
how often. Time limits are unchanged (tests/test_security_runtime.py).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import uuid
from pathlib import Path
from typing import ClassVar

import pytest

from cardioagent.tools.contract import Quality, Tool, ToolContext, ToolResult
from cardioagent.tools.registry import ToolRegistry, ToolTimeout, isolation_of

FORK = "fork" in multiprocessing.get_all_start_methods()
pytestmark = pytest.mark.skipif(not FORK, reason="process isolation needs fork (Linux)")


class LazyImportTool(Tool):
    """Imports ``module`` inside ``run``, as the analysis code imports neurokit2 (test double)."""

    name = "lazy_import"
    description = "Imports a module lazily and returns nothing measured (test double)."
    timeout_s = 10.0
    module: ClassVar[str] = ""

    def run(self, args, ctx):
        __import__(LazyImportTool.module)
        return ToolResult(quality=Quality.GOOD, method="lazy import")


class SlowAfterImportTool(LazyImportTool):
    """Imports the module, then overruns: adopting imports must not weaken the time limit."""

    name = "slow_after_import"
    timeout_s = 1.0

    def run(self, args, ctx):
        __import__(LazyImportTool.module)
        while True:
            pass


def _probe(tmp_path: Path, monkeypatch, body: str = "") -> tuple[str, Path]:
    name = f"cardioagent_probe_{uuid.uuid4().hex[:10]}"
    log = tmp_path / f"{name}.log"
    (tmp_path / f"{name}.py").write_text(
        f"import os\nwith open({str(log)!r}, 'a') as f:\n    f.write(f'{{os.getpid()}}\\n')\n{body}"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(LazyImportTool, "module", name)
    monkeypatch.delitem(sys.modules, name, raising=False)  # and removed again after the test
    return name, log


def _ctx(tmp_path: Path) -> ToolContext:
    def get(rid):
        raise KeyError(rid)

    return ToolContext(get_recording=get, artifacts_dir=tmp_path)


def _pids(log: Path) -> list[int]:
    return [int(x) for x in log.read_text().split()] if log.is_file() else []


def test_the_first_child_imports_and_the_parent_keeps_the_module_for_the_next(tmp_path, monkeypatch):
    name, log = _probe(tmp_path, monkeypatch)
    reg = ToolRegistry()
    assert reg.register(LazyImportTool, plugin="test")
    assert isolation_of(reg.get("lazy_import")) == "process"
    reg.run("lazy_import", {"recording_id": "any"}, _ctx(tmp_path))
    first = _pids(log)
    assert len(first) == 2 and first[0] != os.getpid() and first[1] == os.getpid()  # child, then adopted here
    assert name in sys.modules
    for _ in range(3):
        reg.run("lazy_import", {"recording_id": "any"}, _ctx(tmp_path))
    assert _pids(log) == first  # later children inherit the module: nobody imports it again


def test_a_module_that_does_not_import_here_is_skipped_and_the_result_stands(tmp_path, monkeypatch):
    # The module imports in a child and fails in this process: the call still returns its result, and the
    # registry does not try the import here again on the next call.
    from cardioagent.tools import registry

    name, log = _probe(
        tmp_path, monkeypatch, f"if os.getpid() == {os.getpid()}:\n    raise ImportError('no')\n"
    )
    monkeypatch.setattr(registry, "_unadoptable", set())
    reg = ToolRegistry()
    assert reg.register(LazyImportTool, plugin="test")
    for _ in range(2):
        result = reg.run("lazy_import", {"recording_id": "any"}, _ctx(tmp_path))
        assert isinstance(result, ToolResult) and result.method == "lazy import"
    assert name not in sys.modules and name in registry._unadoptable
    pids = _pids(log)
    assert pids.count(os.getpid()) == 1 and len(pids) == 3  # child, parent (failed, once), child


def test_a_call_that_overruns_is_still_killed_and_adopts_nothing(tmp_path, monkeypatch):
    name, log = _probe(tmp_path, monkeypatch)
    reg = ToolRegistry()
    assert reg.register(SlowAfterImportTool, plugin="test")
    with pytest.raises(ToolTimeout, match="killed"):
        reg.run("slow_after_import", {"recording_id": "any"}, _ctx(tmp_path))
    assert name not in sys.modules and os.getpid() not in _pids(log)
