"""The import contracts of ``.importlinter`` hold, and they can fail.

import-linter resolves relative imports, ``from cardioagent import x`` and function-local imports, which the
old text grep missed. The run-time closure of each built-in tool is also measured directly: importing the
module that registers a tool must not load training or evaluation code.
"""

from __future__ import annotations

import configparser
import importlib.util
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("lint_imports", REPO / ".ci" / "lint_imports.py")
lint_imports = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lint_imports)


def test_every_contract_is_kept():
    result = lint_imports.check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers():
    result = lint_imports.check(extra={"tools/_upward.py": "from cardioagent.agent import api\n"})
    assert result.returncode != 0
    assert "Rooms are layered" in result.stdout and "BROKEN" in result.stdout
    assert "cardioagent.tools._upward" in result.stdout


def test_a_cycle_hidden_in_a_function_breaks_acyclic():
    result = lint_imports.check(
        extra={
            "knowledge_base/_cycle_a.py": "def f():\n    from cardioagent.knowledge_base import _cycle_b\n",
            "knowledge_base/_cycle_b.py": "from cardioagent.knowledge_base import _cycle_a\n",
        }
    )
    assert result.returncode != 0
    assert "No import cycles" in result.stdout and "BROKEN" in result.stdout


def test_training_code_imported_by_a_tool_breaks_the_runtime_contract():
    result = lint_imports.check(extra={"tools/builtin/_trains.py": "import cardioagent.models.vlm.synth\n"})
    assert result.returncode != 0
    assert "never imports data generators" in result.stdout


def _forbidden_at_run_time() -> list[str]:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / ".importlinter")
    return cfg["importlinter:contract:runtime"]["forbidden_modules"].split()


@pytest.mark.slow
def test_loading_each_builtin_tool_loads_no_training_code():
    builtin = [e for e in entry_points(group="cardioagent.tools") if e.value.startswith("cardioagent.")]
    assert len(builtin) >= 4
    code = (
        "import json, sys, importlib\n"
        "importlib.import_module(sys.argv[1])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cardioagent'))))\n"
    )
    forbidden = _forbidden_at_run_time()
    for entry in builtin:
        module = entry.value.split(":")[0]
        out = subprocess.run(
            [sys.executable, "-c", code, module],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
            cwd=REPO.parent,
        )
        loaded = json.loads(out.stdout.strip().splitlines()[-1])
        assert module in loaded
        leaked = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden)]
        assert not leaked, f"{entry.name} ({module}) loads training/evaluation code: {leaked}"


def test_the_ui_reaching_past_the_public_api_breaks_its_contract():
    for source in (
        "from cardioagent.agent.api import Assistant\n",
        "from cardioagent.tools.contract import Quality\n",
    ):
        result = lint_imports.check(extra={"ui/_reaches.py": source})
        assert result.returncode != 0, source
        assert "only the agent's public API" in result.stdout and "cardioagent.ui._reaches" in result.stdout
