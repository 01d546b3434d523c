"""Shared fixtures.

``tests/data`` holds small redistributable records so the suite passes on a fresh clone with nothing
beside it. ``shared_data`` points at ``../shared/data`` (the larger real data sets) and skips the test
when that folder is absent, with the reason spelled out.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS_DATA = REPO / "tests" / "data"
SHARED_DATA = Path(os.environ.get("CARDIOAGENT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def tests_data() -> Path:
    return TESTS_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data sets not found at {SHARED_DATA} (set CARDIOAGENT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture()
def cardio_home(tmp_path, monkeypatch) -> Path:
    """An empty CARDIOAGENT_HOME so tests never touch the user's stores."""
    home = tmp_path / "home"
    monkeypatch.setenv("CARDIOAGENT_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory) -> Path:
    """One CARDIOAGENT_HOME for the end-to-end tests of a session: the knowledge store is built and the
    embedded model converted once, not once per test. Conversations are kept apart by thread id."""
    home = tmp_path_factory.mktemp("cardioagent-home")
    previous = os.environ.get("CARDIOAGENT_HOME")
    os.environ["CARDIOAGENT_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("CARDIOAGENT_HOME", None)
    else:
        os.environ["CARDIOAGENT_HOME"] = previous
