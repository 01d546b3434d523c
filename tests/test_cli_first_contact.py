"""The command line as a new user meets it, through ``subprocess`` on a fresh ``CARDIOAGENT_HOME``: status
lines and quiet, folders with non-recordings, the CSV table, choosing a channel, ``--fs``, the terminal chat,
the ``plan`` dry run, tool titles, and a non-English question.

Only ``test_first_run_ask_*`` loads the agent's models and builds the knowledge store (slow).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
CLI = [sys.executable, "-m", "cardioagent.ui.cli"]
# What third-party libraries print when they are not quietened (bitsandbytes, HF progress bars, transformers).
THIRD_PARTY = (
    "gemm_4bit",
    "pip install kernels",
    "Loading weights",
    "Loading checkpoint",
    "it/s]",
    "Warning:",
    "warnings.warn",
    "sharded",
    "Traceback",
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_HUB_DISABLE", "TRANSFORMERS_VERB"))}
    return {**env, "CARDIOAGENT_HOME": str(home)}


def _cli(
    *args: str, home: Path, stdin: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=_env(home),
        timeout=timeout,
        cwd=REPO,
        input=stdin,
        check=False,
    )


def _npy_at_250_hz(tmp_path: Path) -> Path:
    """Lead II of E07500 (500 Hz, CC BY 4.0) decimated to 250 Hz, as a bare .npy that states no rate."""
    import wfdb
    from scipy.signal import decimate

    lead = wfdb.rdrecord(str(DATA / "E07500")).p_signal[:, 1]
    path = tmp_path / "lead_ii.npy"
    np.save(path, decimate(lead, 2).astype(np.float32))
    return path


# ----- analyze: folders, the table, channels, --fs ----------------------------------------------------------


@pytest.mark.slow
def test_analyze_folder_skips_non_recordings_and_writes_the_table(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    for name in ("E07500.hea", "E07500.mat", "E07510.hea", "E07510.mat"):
        shutil.copy(DATA / name, folder / name)
    (folder / "labels.csv").write_text("record,label\nE07500,sinus bradycardia\nE07510,other\n")
    (folder / "notes.txt").write_text("not a recording\n")
    table = tmp_path / "out" / "summary.csv"
    done = _cli("analyze", str(folder), "--table", str(table), "--quiet", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert "skipped labels.csv" in done.stderr and "notes.txt" in done.stderr
    rows = list(csv.DictReader(table.open()))
    assert [r["record"] for r in rows] == ["E07500", "E07510"]
    for r in rows:
        assert r["modality"] == "ecg" and float(r["duration_s"]) == pytest.approx(10.0)
        assert 30 < float(r["heart_rate_bpm"]) < 200 and r["rhythm"] and r["quality"]
        assert 40 < float(r["qrs_ms"]) < 200  # median across leads
    assert done.stdout == ""  # --quiet: the table only


def test_analyze_named_non_recording_is_still_an_error(tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text("record,label\nE07500,sinus bradycardia\n")
    done = _cli("analyze", str(bad), home=tmp_path / "home")
    assert (
        done.returncode == 2
        and done.stderr.startswith("error: labels.csv")
        and "Traceback" not in done.stderr
    )


@pytest.mark.slow
def test_analyze_channel_picks_the_ppg_of_a_multi_sensor_csv(tmp_path):
    table = tmp_path / "t.csv"
    src = DATA / "synthetic_ppg_accel.csv"  # SPC-2015 layout: ppg1, ppg2, accelerometer, chest ECG
    done = _cli(
        "analyze", str(src), "--channel", "ppg1", "--table", str(table), "--json", home=tmp_path / "h"
    )
    assert done.returncode == 0, done.stderr
    (row,) = list(csv.DictReader(table.open()))
    assert row["modality"] == "ppg" and row["analysed_channels"] == "ppg1" and "ecg_chest" in row["channels"]
    assert row["pr_ms"] == ""  # no ECG intervals from a PPG
    report = json.loads(done.stdout)
    assert [c["name"] for c in report["recording"]["channels"]] == ["ppg1"]
    wrong = _cli("analyze", str(src), "--channel", "spo2", home=tmp_path / "h")
    assert wrong.returncode == 2 and "ppg1" in wrong.stderr and "ecg_chest" in wrong.stderr


@pytest.mark.slow
def test_missing_sampling_rate_names_the_cli_option(tmp_path):
    npy = _npy_at_250_hz(tmp_path)
    for command in (["analyze", str(npy)], ["ask", "What is the heart rate?", "-f", str(npy)]):
        done = _cli(*command, home=tmp_path / "home")
        assert done.returncode == 2, done.stderr
        assert "--fs" in done.stderr and "sampling-rate field" not in done.stderr, done.stderr
    assert not (tmp_path / "home" / "kb").exists()  # ask failed on the file, before building anything
    done = _cli("analyze", str(npy), "--fs", "250", "--json", home=tmp_path / "home")
    assert done.returncode == 0 and json.loads(done.stdout)["recording"]["sampling_rate_hz"] == 250


# ----- plan, tools list ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_plan_shows_the_tools_and_why_without_running_them(tmp_path):
    done = _cli("plan", "Is the QTc prolonged?", "-f", str(DATA / "E07500.hea"), home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "ecg_intervals — the question mentions 'QTc'" in out
    assert "signal_quality — runs before other ecg tools" in out and "nothing was run" in out
    as_json = json.loads(
        _cli(
            "plan",
            "What is the heart rate?",
            "-f",
            str(DATA / "E07500.hea"),
            "--json",
            home=tmp_path / "home",
        ).stdout
    )
    assert "heart_rate" in [c["tool"] for c in as_json["calls"]] and as_json["route"] == "signal"
    assert not (tmp_path / "home" / "threads").exists()  # a dry run: no conversation, no figure


@pytest.mark.slow
def test_tools_list_shows_titles_in_aligned_columns(tmp_path):
    done = _cli("tools", "list", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = lines[0]
    assert header.split() == ["tool", "title", "plugin", "modalities", "status"]
    rows = [line for line in lines[1:] if line and not line.startswith(" ")]
    assert any("ECG intervals" in r for r in rows)
    col = header.index("plugin")
    assert all(r[col - 2 : col] == "  " for r in rows), "columns shifted"
    specs = json.loads(_cli("tools", "list", "--json", home=tmp_path / "home").stdout)
    assert all(s["title"] for s in specs)


# ----- the terminal chat -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_chat_commands_attach_summary_and_empty_lines(tmp_path):
    script = (
        "\n".join(
            [
                "",  # an empty line does not leave
                f"/attach {DATA / 'E07500.hea'} {DATA / 'E07500.mat'}",
                "",
                "/help",
                "/frobnicate",
                "/open",
                "/new",
                "/quit",
                "/help",  # never read: /quit left
            ]
        )
        + "\n"
    )
    done = _cli("chat", home=tmp_path / "home", stdin=script, timeout=180)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "attached E07500: 12-lead ECG, 10.0 s at 500 Hz" in out
    assert out.count("/attach FILE [FILE ...]") == 1  # /help answered once, after the empty lines
    assert "unknown command /frobnicate" in out and "new conversation" in out
    assert "no figure in the last answer" in out
    bad = _cli("chat", home=tmp_path / "home", stdin=f"/attach {tmp_path / 'nope.hea'}\n/quit\n", timeout=180)
    assert bad.returncode == 0 and "error:" in bad.stdout  # a bad file is a message, not the end of the chat


# ----- quiet by default -------------------------------------------------------------------------------------

QUIET_PROBE = """
import logging, sys, warnings
from cardioagent.tools.progress import configure_output
configure_output(verbose=sys.argv[1] == "1")
logging.getLogger("bitsandbytes.backends.cpu.ops").warning(
    "Failed to load CPU gemm_4bit_forward from kernels-community: please pip install kernels")
logging.getLogger("transformers.modeling_utils").warning("Some weights were not sharded as expected")
warnings.warn("torch_dtype is deprecated", FutureWarning)
logging.getLogger("cardioagent.models.llm.weights").info("converting the embedded model (once)")
logging.getLogger("bitsandbytes").error("a real error")
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_third_party_messages_are_hidden_unless_verbose(verbose, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", QUIET_PROBE, "1" if verbose else "0"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
        check=False,
    )
    err = done.stderr
    assert "converting the embedded model" in err and "a real error" in err  # ours, and errors, always
    for noise in ("gemm_4bit_forward", "sharded", "torch_dtype is deprecated"):
        assert (noise in err) == verbose, (noise, err)


# ----- first run: progress within 2 s, no third-party noise, --fs and a French question -----------------------


@pytest.mark.slow
def test_first_run_ask_says_what_it_does_and_answers_a_french_question_about_an_npy(tmp_path):
    npy = _npy_at_250_hz(tmp_path)
    home = tmp_path / "fresh-home"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            *CLI,
            "ask",
            "Quelle est la fréquence cardiaque de cet enregistrement ?",
            "-f",
            str(npy),
            "--fs",
            "250",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(home),
        cwd=REPO,
    )
    first_line = proc.stderr.readline()
    first_after = time.perf_counter() - started
    out, rest = proc.communicate(timeout=600)
    err = first_line + rest
    assert proc.returncode == 0, err
    assert first_line.startswith("loading the agent") and first_after < 2.0, (first_line, first_after)
    assert "building the knowledge store" in err and "running heart_rate" in err
    assert not [n for n in THIRD_PARTY if n in err], err
    assert "heart rate:" in out.lower() and "lead_ii: 1-lead ECG, 10.0 s at 250 Hz" in out
    assert "looks like French" in out and "understands English only" in out
    figures = [line.split("] ", 1)[1] for line in out.splitlines() if line.startswith("  [1] ")]
    assert figures and Path(figures[0]).is_file()  # the figure path is printed and openable


def test_tool_titles_come_from_the_contract():
    from cardioagent.agent.compose import title_of
    from cardioagent.tools.contract import Tool

    class Dispersion(Tool):
        name = "qt_dispersion"
        description = "QT dispersion across leads"

        def run(self, args, ctx):  # pragma: no cover - never run here
            raise NotImplementedError

    class Titled(Dispersion):
        title = "QT dispersion (max - min QT)"

    assert Dispersion.display_title() == "QT dispersion"  # derived from the name, acronyms kept
    assert Titled.display_title() == "QT dispersion (max - min QT)"
    assert title_of("heart_rate") == "Heart rate" and title_of("not_installed_tool") == "Not installed tool"
