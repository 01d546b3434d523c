"""A wearable night (1-Hz heart rate + wrist motion) loads the same from CSV, EDF and .npz.

The EDF and .npz files are written here from the redistributable excerpt of Walch et al. 2019 subject 1066528
(PhysioNet sleep-accel, ODC-By 1.0) that the sleep plugin's tests use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyedflib
import pytest

from cardioagent.tools.errors import InputError, SamplingRateError
from cardioagent.tools.signal.loaders import load_recording
from cardioagent.tools.signal.recording import ChannelKind, Modality, Recording

EXCERPT = (
    Path(__file__).resolve().parents[1]
    / "examples"
    / "cardioagent-sleep"
    / "tests"
    / "data"
    / "walch_1066528_excerpt.csv"
)
CHANNELS = ["heart_rate", "acc_x", "acc_y", "acc_z", "activity_count"]
ACC_FS = 4  # the EDF's accelerometer is written at 4 Hz to exercise the per-second averaging


@pytest.fixture(scope="module")
def from_csv() -> Recording:
    return load_recording(EXCERPT)


def _write_edf(path: Path, signals: list[np.ndarray], labels: list[str], rates: list[int], dims: list[str]):
    headers = []
    for x, lab, fs, dim in zip(signals, labels, rates, dims, strict=True):
        lo, hi = float(np.min(x)), float(np.max(x))
        pad = max(1e-3, 0.01 * (hi - lo))  # a range of zero is not a valid EDF calibration
        headers.append(
            {
                "label": lab,
                "dimension": dim,
                "sample_frequency": fs,
                "physical_min": round(lo - pad, 4),
                "physical_max": round(hi + pad, 4),
                "digital_min": -32768,
                "digital_max": 32767,
            }
        )
    writer = pyedflib.EdfWriter(str(path), len(signals), file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        writer.setSignalHeaders(headers)
        writer.writeSamples([np.ascontiguousarray(x, dtype=np.float64) for x in signals])
    finally:
        writer.close()
    # EDF stores 16-bit integers: one step of each channel's calibration is the tolerance on read-back
    return [(h["physical_max"] - h["physical_min"]) / 65535 for h in headers]


@pytest.fixture(scope="module")
def edf_night(from_csv, tmp_path_factory) -> tuple[Path, list[float]]:
    sig = from_csv.signal
    psg = from_csv.annotations[0]
    stages = np.zeros(from_csv.n_samples)
    for k, (s, sym) in enumerate(zip(psg.samples, psg.symbols, strict=True)):
        stages[s : psg.samples[k + 1] if k + 1 < len(psg.samples) else None] = int(sym)
    signals = [sig[:, 0], *(np.repeat(sig[:, i], ACC_FS) for i in (1, 2, 3)), sig[:, 4], stages]
    labels = ["Heart Rate", "x_move", "y_move", "z_move", "step_count", "psg_status"]
    path = tmp_path_factory.mktemp("edf") / "night.edf"
    steps = _write_edf(
        path, signals, labels, [1, ACC_FS, ACC_FS, ACC_FS, 1, 1], ["bpm", "g", "g", "g", "", ""]
    )
    return path, steps


@pytest.fixture(scope="module")
def npz_night(tmp_path_factory) -> Path:
    # the CSV's own rows (every 5 s, with the export's backwards jump), not the 1-s grid
    frame = pd.read_csv(EXCERPT, comment="#")
    path = tmp_path_factory.mktemp("npz") / "night.npz"
    np.savez(path, **{c: frame[c].to_numpy(float) for c in frame.columns})
    return path


def test_edf_night_loads_as_the_csv_night(from_csv, edf_night):
    path, steps = edf_night
    rec = load_recording(path)
    assert rec.modality == Modality.WEARABLE and rec.format == "edf" and rec.sampling_rate_hz == 1.0
    assert rec.channel_names == CHANNELS
    assert [c.kind for c in rec.channels][1:4] == [ChannelKind.ACCEL] * 3
    assert rec.n_samples == from_csv.n_samples
    # tolerance: one 16-bit step of each channel's calibration, (physical range) / 65535 (0.00078 bpm,
    # 1.4e-5 to 2.6e-5 g, 0.0015 counts here; pyedflib truncates, so the error is up to one step), plus
    # float slack. Averaging 4 equal 4-Hz samples gives the 1-Hz value back.
    for i, step in enumerate(steps[:5]):
        np.testing.assert_allclose(rec.signal[:, i], from_csv.signal[:, i], rtol=0, atol=step * 1.001)
    assert rec.annotations[0].samples == from_csv.annotations[0].samples
    assert rec.annotations[0].symbols == from_csv.annotations[0].symbols
    assert "start_s=0" in rec.header_comments  # EDF times are seconds from the file start
    assert any("4 Hz averaged" in c for c in rec.header_comments)


def test_npz_night_with_time_array_equals_the_csv_night(from_csv, npz_night):
    rec = load_recording(npz_night)
    assert rec.modality == Modality.WEARABLE and rec.format == "numpy"
    assert rec.channel_names == CHANNELS
    np.testing.assert_array_equal(rec.signal, from_csv.signal)  # same rows, same core: bit-identical
    assert rec.annotations == from_csv.annotations
    assert "start_s=7" in rec.header_comments


def test_npz_night_with_fs_scalar(from_csv, tmp_path):
    path = tmp_path / "grid.npz"
    arrays = dict(zip(["hr", "acc_x", "acc_y", "acc_z", "activity_count"], from_csv.signal.T, strict=True))
    np.savez(path, fs=np.array(1.0), **arrays)
    rec = load_recording(path)
    assert rec.channel_names == CHANNELS and "start_s=0" in rec.header_comments
    np.testing.assert_array_equal(rec.signal, from_csv.signal)


def test_npz_without_time_or_rate_is_refused(tmp_path):
    path = tmp_path / "no_clock.npz"
    np.savez(
        path, heart_rate=np.full(600, 60.0), acc_x=np.zeros(600), acc_y=np.zeros(600), acc_z=np.ones(600)
    )
    with pytest.raises(SamplingRateError, match="neither a time array nor a sampling rate") as e:
        load_recording(path)
    assert "'fs' scalar" in str(e.value) and "no_clock.npz" in str(e.value)


def test_npz_arrays_of_different_lengths_are_refused(tmp_path):
    path = tmp_path / "ragged.npz"
    np.savez(path, time=np.arange(600.0), heart_rate=np.full(600, 60.0), acc_x=np.zeros(599))
    with pytest.raises(InputError, match="'acc_x' has 599 values where the time array 'time' has 600"):
        load_recording(path)


def test_one_hz_edf_without_heart_rate_is_still_refused(tmp_path):
    path = tmp_path / "motion_only.edf"
    x = np.sin(np.arange(600) / 10.0)
    _write_edf(path, [x, x, x], ["acc_x", "acc_y", "acc_z"], [1, 1, 1], ["g", "g", "g"])
    with pytest.raises(InputError) as e:
        load_recording(path)
    text = str(e.value)
    assert "motion_only.edf" in text and "1 Hz" in text and "50 Hz" in text  # the waveform loader's refusal


def test_edf_with_ecg_and_heart_rate_stays_a_waveform(tmp_path):
    path = tmp_path / "psg.edf"
    ecg = np.sin(2 * np.pi * 1.2 * np.arange(256 * 60) / 256)
    _write_edf(path, [ecg, np.full(60, 72.0)], ["ECG", "HR"], [256, 1], ["mV", "bpm"])
    rec = load_recording(path)
    assert rec.modality != Modality.WEARABLE and rec.sampling_rate_hz == 256


@pytest.mark.slow  # three nights of features and model on a shared 2-core CPU (9 s measured)
def test_sleep_stages_agree_on_csv_edf_and_npz(from_csv, edf_night, npz_night, tmp_path):
    from cardioagent_sleep.tool import SleepStagesTool

    from cardioagent.tools.contract import ToolContext

    tool = SleepStagesTool()
    stages = []
    for rec in (from_csv, load_recording(edf_night[0]), load_recording(npz_night)):
        ctx = ToolContext(get_recording={rec.id: rec}.__getitem__, artifacts_dir=tmp_path)
        stages.append(tool.run(tool.input_model(recording_id=rec.id), ctx).stages)
    assert len(stages[0]) > 300
    assert stages[1] == stages[0] and stages[2] == stages[0]
