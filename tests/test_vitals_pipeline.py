"""Vitals data pipeline: features, tracking, serialisation, windows and data-set readers (no model)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from cardioagent.models.vitals import data, features, preprocess, prompts
from cardioagent.tools.errors import InputError
from cardioagent.tools.signal.recording import Demographics

FS = 125.0


def pulse(hr_bpm, seconds: float, fs: float = FS, phase: float = 0.0) -> np.ndarray:
    """A PPG-like wave: fundamental plus a weaker second harmonic; ``hr_bpm`` may be an array per sample."""
    n = int(seconds * fs)
    rate = np.broadcast_to(np.asarray(hr_bpm, dtype=float), (n,))
    ph = 2 * np.pi * np.cumsum(rate / 60.0) / fs + phase
    return np.sin(ph) + 0.4 * np.sin(2 * ph + 0.5)


def wrist(hr_bpm, cadence_bpm: float, seconds: float, motion: float, seed: int = 0):
    """Two PPG channels with a motion artefact at the cadence, and a 3-axis accelerometer of that motion."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    swing = np.sin(2 * np.pi * cadence_bpm / 60 * t)
    ppg = np.column_stack(
        [
            pulse(hr_bpm, seconds) + motion * swing + 0.05 * rng.standard_normal(n),
            pulse(hr_bpm, seconds, phase=0.3) + 0.8 * motion * swing + 0.05 * rng.standard_normal(n),
        ]
    )
    acc = np.column_stack(
        [swing, 0.5 * swing, 0.2 * np.cos(2 * np.pi * cadence_bpm / 60 * t)]
    ) + 0.01 * rng.standard_normal((n, 3))
    return ppg, acc


# ----------------------------------------------------------------------------------------- features


def test_spectrum_and_peaks_find_the_pulse_rate():
    spec = features.band_spectrum(pulse(84.0, 8.0), FS)
    assert spec.power.max() == pytest.approx(1.0)
    top = features.spectral_peaks(spec, 3)
    assert abs(top[0][0] - 84.0) < 1.5
    assert any(abs(b - 168.0) < 2 for b, _ in top[1:])  # the second harmonic is a weaker peak
    assert features.band_spectrum(np.zeros(1000), FS).power.max() == 0


def test_ppg_features_see_the_accelerometer_and_attenuate_motion():
    ppg, acc = wrist(150.0, 80.0, 8.0, motion=1.5)  # the motion artefact is stronger than the pulse
    f = features.ppg_window_features(ppg, FS, acc)
    assert abs(f.ppg_peaks[0][0] - 80.0) < 2  # raw PPG spectrum: motion wins
    assert abs(f.acc_peaks[0][0] - 80.0) < 2
    assert abs(f.spectral_bpm - 150.0) < 2  # after attenuating accelerometer frequencies: the pulse
    assert f.motion_g > 0.5 and f.peak_ratio > 2.5
    no_acc = features.ppg_window_features(ppg, FS, None)
    assert no_acc.motion_g is None and no_acc.acc_peaks == []
    assert abs(no_acc.spectral_bpm - 80.0) < 2  # without an accelerometer nothing tells them apart


def test_tracker_bridges_a_window_masked_by_motion():
    grid = np.arange(30.0, 211.0)
    truth = np.linspace(100, 120, 30)
    em = np.exp(-0.5 * ((grid[None, :] - truth[:, None]) / 2.0) ** 2)
    em[12] = np.exp(-0.5 * ((grid - 60.0) / 2.0) ** 2)  # one window where only a wrong peak shows
    path = features.track_rate(em, grid, step_s=2.0, sd_bpm_per_2s=3.0)
    assert np.abs(path - truth).max() < 2.0
    assert features.track_rate(np.zeros((0, len(grid))), grid).size == 0


def test_ecg_features_measure_rr():
    import neurokit2 as nk

    x = nk.ecg_simulate(duration=10, sampling_rate=500, heart_rate=72, random_state=3)
    f = features.ecg_window_features(x, 500.0)
    assert abs(f.rpeak_bpm - 72) < 2.5 and f.n_beats >= 10
    assert 780 < f.rr_median_ms < 890 and f.detector_agreement > 0.9
    flat = features.ecg_window_features(np.zeros(5000), 500.0)
    assert flat.rpeak_bpm is None and flat.n_beats == 0


# ----------------------------------------------------------------------------------------- prompts


def test_quantised_samples_are_one_digit_each():
    s = prompts.quantise_digits(np.array([0.0, 0.6, 1.0, 0.25]))
    assert s == "0592"
    assert prompts.quantise_digits(np.ones(5)) == "00000"
    with pytest.raises(ValueError):
        prompts.quantise_digits(np.arange(3.0), levels=11)


def test_signal_only_serialisation_is_short_and_keeps_the_rhythm():
    ppg, acc = wrist(90.0, 70.0, 8.0, motion=0.0)
    text = prompts.samples_text(ppg[:, 0], FS, "ppg", acc)
    ppg_line, motion_line = text.split("\n")
    digits = ppg_line.split(": ")[1]
    assert len(digits) == 64 and digits.isdigit()  # 8 s at 8 Hz
    assert len(motion_line.split(": ")[1]) == 32  # accelerometer magnitude at 4 Hz
    x = np.array([int(c) for c in digits], dtype=float)
    spec = np.abs(np.fft.rfft(x - x.mean(), 4096))
    f = np.fft.rfftfreq(4096, 1 / 8.0)[np.argmax(spec)] * 60
    assert abs(f - 90) < 4


def test_demographics_line_never_states_the_target_age():
    d = Demographics(age=61, sex="female", height_cm=170)
    assert prompts.demographics_text(d) == "Subject: age 61 y, female, 170 cm."
    assert "61" not in prompts.demographics_text(d, include_age=False)
    assert prompts.demographics_text(None) == "Subject: not recorded."
    p = prompts.build_prompt("vascular_age", "ecg", "context", 10, "body", d, with_demographics=True)
    assert "61" not in p and "female" in p and p.endswith(prompts.ANSWER_CUES["vascular_age"])
    p2 = prompts.build_prompt("hr", "ppg", "context", 8, "body", d, with_demographics=False)
    assert "female" not in p2 and p2.endswith("Heart rate (bpm):")
    with pytest.raises(ValueError):
        prompts.build_prompt("bp", "ppg", "context", 8, "body")


def test_context_prompt_carries_the_features():
    ppg, acc = wrist(150.0, 80.0, 8.0, motion=3.0)
    f = features.ppg_window_features(ppg, FS, acc)
    f.tracked_bpm = 149.0
    text = prompts.ppg_context_text(f)
    assert "accelerometer peaks 80" in text and "Tracked rate 149." in text
    assert prompts.anchor_of("hr", "ppg", f) == 149.0
    assert prompts.anchor_of("vascular_age", "ppg", f) is None


# -------------------------------------------------------------------------------------- preprocess


def test_cleaning_removes_wander_and_standardises():
    t = np.arange(int(20 * FS)) / FS
    x = np.sin(2 * np.pi * 1.5 * t) + 3 * np.sin(2 * np.pi * 0.05 * t) + 100
    y = preprocess.clean_channels(x[:, None], FS, "ppg")[:, 0]
    assert abs(y.mean()) < 1e-9 and y.std() == pytest.approx(1.0)
    assert np.corrcoef(y[500:-500], np.sin(2 * np.pi * 1.5 * t)[500:-500])[0, 1] > 0.95


def test_segmentation_and_augmentation_keep_shape_and_rate():
    ppg, _ = wrist(120.0, 70.0, 30.0, motion=0.0)
    batch, starts = preprocess.segment(ppg, FS, 8.0, 2.0)
    assert batch.shape == (12, 1000, 2) and list(starts[:3]) == [0.0, 2.0, 4.0]
    aug = preprocess.augmented_copy(ppg, FS, np.random.default_rng(1))
    assert aug.shape == ppg.shape and not np.allclose(aug, preprocess.standardise(ppg))
    f = features.ppg_window_features(aug[:1000], FS)
    assert abs(f.spectral_bpm - 120) < 2  # label-preserving: no time warp


# ------------------------------------------------------------------------------------ data sets


def _write_generic(folder, n_records: int = 3):
    folder.mkdir()
    rows = []
    for k in range(n_records):
        ppg, acc = wrist(80.0 + 10 * k, 70.0, 20.0, motion=0.2, seed=k)
        path = folder / f"rec{k}.csv"
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["time_s", "ppg1", "ppg2", "acc_x", "acc_y", "acc_z"])
            for i in range(len(ppg)):
                w.writerow([f"{i / FS:.3f}", *np.round(ppg[i], 4), *np.round(acc[i], 4)])
        for start in (0.0, 2.0, 4.0):
            rows.append(
                {
                    "file": path.name,
                    "start_s": start,
                    "end_s": start + 8,
                    "value": 80.0 + 10 * k,
                    "age": 30 + k,
                    "sex": "male",
                }
            )
    with (folder / "targets.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return folder


def test_generic_layout_reads_windows_demographics_and_accelerometer(tmp_path):
    folder = _write_generic(tmp_path / "mine")
    assert data.detect_layout(folder) == "generic"
    recs = data.read_dataset(folder, "hr", "ppg")
    assert len(recs) == 3 and recs[0].accel.shape[1] == 3 and recs[0].signal.shape[1] == 2
    assert recs[1].demographics.age == 31 and recs[1].targets == {0.0: 90.0, 2.0: 90.0, 4.0: 90.0}
    ex = data.prepare_examples(recs, "hr", "context", with_demographics=True)
    assert len(ex) == 9 and all(e.quality_ok for e in ex)
    assert all(abs(e.anchor - e.target) < 3 for e in ex)
    assert "Subject: age 30 y, male." in ex[0].prompt
    aug = data.prepare_examples(recs[:1], "hr", "context", False, augment_copies=2, seed=0)
    assert len(aug) == 9 and sum(e.augmented for e in aug) == 6
    with pytest.raises(InputError):
        data.read_dataset(folder, "hr", "ecg")  # CSV has no ECG channel


def test_unknown_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no labels"):
        data.read_dataset(tmp_path, "hr", "ppg")
    with pytest.raises(InputError, match="not a folder"):
        data.read_dataset(tmp_path / "missing", "hr", "ppg")


def test_cpsc_record_in_tests_data_reads_as_one_labelled_window(tests_data, tmp_path):
    import shutil

    folder = tmp_path / "cpsc"
    folder.mkdir()
    for suffix in (".hea", ".dat", ".atr"):
        shutil.copy(tests_data / f"cpsc2019_00014{suffix}", folder)
    (folder / "reference.csv").write_text(
        "record,fs,samples,n_rpeaks,reference_hr_bpm\ncpsc2019_00014,500,5000,13,79.51\n"
    )
    recs = data.read_dataset(folder, "hr", "ecg")
    assert len(recs) == 1 and recs[0].window_s == pytest.approx(10.0)
    ex = data.prepare_examples(recs, "hr", "context", False)
    assert len(ex) == 1 and abs(ex[0].anchor - 79.51) < 1.0 and "R-peak rate" in ex[0].prompt


@pytest.mark.shared_data
def test_spc2015_windows_match_the_reference_grid(shared_data):
    recs = data.read_dataset(shared_data / "ppg_wrist_spc2015", "hr", "ppg")
    assert len(recs) == 12
    r = recs[0]
    assert r.accel is not None and r.signal.shape[1] == 2  # chest ECG dropped
    assert min(r.targets) == 0.0 and sorted(r.targets)[1] == 2.0


def test_quality_gate_tells_noise_from_a_pulse_during_motion():
    ppg, acc = wrist(150.0, 80.0, 8.0, motion=1.5)
    ok, note, unusable = data._ppg_quality(features.ppg_window_features(ppg, FS, acc))
    assert ok and not unusable and note == ""
    noise = np.random.default_rng(5).standard_normal((1000, 2))
    ok, note, unusable = data._ppg_quality(features.ppg_window_features(noise, FS, acc))
    assert not ok and unusable and "no pulse" in note
    ok, note, unusable = data._ppg_quality(features.ppg_window_features(np.zeros((1000, 2)), FS, acc))
    assert not ok and unusable
