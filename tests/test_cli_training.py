"""Training as a researcher runs it: ``--help`` shows defaults, a run can be bounded (``--recordings``,
``--max-windows``) and keeps its encoded prompts in ``--cache-dir``, and a trained adapter is used through
``--adapter`` / ``CARDIOAGENT_VITALS_ADAPTER`` without touching the shipped one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cardioagent.models.vitals.estimator import (
    ADAPTER_ENV,
    ADAPTERS_DIR,
    adapter_dir,
    shipped_adapter_problem,
)

REPO = Path(__file__).resolve().parents[1]


def _help(*command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cardioagent.ui.cli", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())  # argparse wraps lines


def test_train_vitals_help_shows_defaults_once_and_the_bounds():
    text = _help("train", "vitals")
    assert "optimizer steps (default: 200)" in text and "windows per step (default: 8)" in text
    assert "--max-windows N" in text and "--recordings N" in text and "--adapter OUT/adapter" in text
    assert "(default: None)" not in text and "(default: False)" not in text
    assert text.count("(default: 0.25)") == 1


def test_adapter_env_points_the_estimator_at_a_trained_adapter(tmp_path, monkeypatch):
    shipped = adapter_dir("hr", "ppg")
    assert shipped_adapter_problem("hr", "ppg") is None, "the hr_ppg adapter ships with the package"
    mine = tmp_path / "my-run" / "adapter"
    shutil.copytree(shipped, mine)
    monkeypatch.setenv(ADAPTER_ENV, str(mine))
    assert adapter_dir("hr", "ppg") == mine  # the pair it was trained for
    assert adapter_dir("hr", "ecg") == ADAPTERS_DIR / "hr_ecg"  # the other pairs stay the shipped ones
    assert shipped_adapter_problem("hr", "ppg") is None
    monkeypatch.setenv(
        ADAPTER_ENV, str(tmp_path / "my-run")
    )  # a folder of adapters: found in its sub-folders
    assert adapter_dir("hr", "ppg") == mine


def test_adapter_option_refuses_a_folder_without_an_adapter(tmp_path):
    env = {**os.environ, "CARDIOAGENT_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cardioagent.ui.cli",
            "ask",
            "What is the heart rate?",
            "--adapter",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "holds no vitals adapter" in done.stderr
    assert not (tmp_path / "home" / "kb").exists()


@pytest.mark.slow
def test_bounded_run_with_cache_and_its_adapter_in_use(shared_home, tmp_path, monkeypatch):
    from cardioagent.models.vitals.synthetic import write_generic_folder
    from cardioagent.ui.cli import main

    folder = write_generic_folder(tmp_path / "ppg", n_records=5, seconds=14.0, seed=4)
    out, cache = tmp_path / "run", tmp_path / "cache"
    assert (
        main(
            [
                "train",
                "vitals",
                "--data",
                str(folder),
                "--steps",
                "2",
                "--batch-size",
                "2",
                "--lora-layers",
                "2",
                "--recordings",
                "3",
                "--max-windows",
                "3",
                "--eval-fraction",
                "0.34",
                "--cache-dir",
                str(cache),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    training = report["training"]
    assert training["train_windows"] == 3 and training["max_windows"] == 3 and training["max_recordings"] == 3
    assert len(training["train_recordings"]) + len(report["held_out_recordings"]) <= 3
    assert list(cache.glob("lower-*.pt"))  # the encoded prompts were kept
    monkeypatch.setenv(ADAPTER_ENV, str(out / "adapter"))
    assert adapter_dir("hr", "ppg") == out / "adapter"
    assert (ADAPTERS_DIR / "hr_ppg").is_dir()  # the shipped adapter was not touched
