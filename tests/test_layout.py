"""The rooms install as one namespace, ``cardioagent.*``, and nothing named ``tools`` leaks out."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOMS = ["agent", "tools", "models", "knowledge_base", "ui"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(out.glob("cardioagent-*.whl"))


@pytest.mark.slow
def test_wheel_maps_every_room_under_cardioagent(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for room in ROOMS:
        assert f"cardioagent/{room}/__init__.py" in names, room
    assert "cardioagent/tools/signal/recording.py" in names
    top_level = {n.split("/")[0] for n in names if not n.startswith("cardioagent-")}
    assert top_level == {"cardioagent"}, f"unexpected top-level entries in the wheel: {top_level}"
    assert not any(n.startswith(("tools/", "agent/", "models/")) for n in names)


@pytest.mark.slow
def test_wheel_ships_the_corpus_and_declares_the_entry_points(wheel):
    z = zipfile.ZipFile(wheel)
    names = z.namelist()
    assert any(n.startswith("cardioagent/knowledge_base/corpus/") and n.endswith(".md") for n in names)
    eps = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[cardioagent.tools]" in eps and "cardioagent.tools.builtin:register_tools" in eps
    assert "cardioagent = cardioagent.ui.cli:main" in eps


def test_import_tools_fails_outside_the_source_tree(tmp_path):
    code = (
        "import cardioagent.tools.contract\n"
        "try:\n    import tools\nexcept ModuleNotFoundError:\n    print('no-tools')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "no-tools"


def test_every_room_says_what_it_may_import():
    import importlib

    for room in ROOMS:
        doc = importlib.import_module(f"cardioagent.{room}").__doc__ or ""
        assert "import" in doc.lower() and len(doc) > 200, f"cardioagent.{room} lacks its README docstring"
