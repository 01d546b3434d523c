"""Shared fixtures.

``tests/data`` holds small redistributable records so the suite passes on a fresh clone with nothing
beside it. ``shared_data`` points at ``../shared/data`` (the larger real data sets) and skips the test
when that folder is absent, with the reason spelled out.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS_DATA = REPO / "tests" / "data"
SHARED_DATA = Path(os.environ.get("CARDIOAGENT_SHARED_DATA", REPO.parent / "shared" / "data"))


_REAL_HOME = Path.home() / ".cardioagent"
_SESSION_HOME: Path | None = None
_PREVIOUS_HOME: str | None = None


def pytest_configure(config) -> None:
    """Point CARDIOAGENT_HOME at a fresh temporary folder before any test module is imported, so no test
    (nor a subprocess it starts, which inherits the environment) writes into the user's ~/.cardioagent."""
    global _SESSION_HOME, _PREVIOUS_HOME
    _PREVIOUS_HOME = os.environ.get("CARDIOAGENT_HOME")
    _SESSION_HOME = Path(tempfile.mkdtemp(prefix="cardioagent-test-home-"))
    os.environ["CARDIOAGENT_HOME"] = str(_SESSION_HOME)


def pytest_unconfigure(config) -> None:
    if _SESSION_HOME is not None:
        shutil.rmtree(_SESSION_HOME, ignore_errors=True)
    if _PREVIOUS_HOME is None:
        os.environ.pop("CARDIOAGENT_HOME", None)
    else:
        os.environ["CARDIOAGENT_HOME"] = _PREVIOUS_HOME


@pytest.fixture(scope="session", autouse=True)
def isolated_cardioagent_home() -> Path:
    """The session's temporary CARDIOAGENT_HOME (set in ``pytest_configure``); fails loudly if something
    pointed it back at the real one."""
    home = Path(os.environ["CARDIOAGENT_HOME"]).expanduser().resolve()
    assert home != _REAL_HOME.resolve(), "tests must not use the real ~/.cardioagent"
    return home


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


# ----- a real browser for UI tests (Debian chromium; Playwright's own download is not reachable here) -------------

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _chromium() -> Path:
    if not CHROMIUM.exists():
        import subprocess

        script = Path(__file__).resolve().parents[1] / ".ci" / "ensure-chromium"
        if script.exists():
            subprocess.run(["bash", str(script)], check=False, timeout=900)
    if not CHROMIUM.exists():
        pytest.skip(
            "/usr/bin/chromium is absent and could not be installed (apt-get install chromium needs root)"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for one test module (the browser tests share it through this conftest)."""
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(executable), args=BROWSER_ARGS, headless=True)
        yield b
        b.close()
