"""Wrist-PPG spectral heart rate with motion (``signal.ppg_spectral``) on synthetic pulse + arm swing."""

from __future__ import annotations

from pathlib import Path

import neurokit2 as nk
import numpy as np
import pytest

from cardioagent.tools.analysis import heart_rate
from cardioagent.tools.signal.loaders import load_recording
from cardioagent.tools.signal.ppg_spectral import TrackerSettings, ppg_spectral_rate
from cardioagent.tools.signal.quality import Quality

FS = 125
DATA = Path(__file__).parent / "data"


def _pulse(bpm: float, seconds: float, seed: int = 0) -> np.ndarray:
    x = np.asarray(
        nk.ppg_simulate(duration=seconds, sampling_rate=FS, heart_rate=bpm, random_state=seed), float
    )
    return (x - x.mean()) / x.std()


def _swing(hz: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(seconds * FS)) / FS
    s = np.sin(2 * np.pi * hz * t)
    acc = np.column_stack([s, 0.5 * np.sin(2 * np.pi * hz * t + 1.0), 0.3 * np.sin(4 * np.pi * hz * t)])
    return s, acc


def _steady(bpm: float, seconds: float, phase: float = 0.0) -> np.ndarray:
    """A pulse at a constant rate with the harmonics of a PPG wave (nk.ppg_simulate varies its rate)."""
    t = np.arange(int(seconds * FS)) / FS
    f = 2 * np.pi * bpm / 60 * t + phase
    x = np.sin(f) + 0.5 * np.sin(2 * f + 0.8) + 0.2 * np.sin(3 * f + 1.6)
    return x / x.std()


def _running(bpm: float = 120, swing_hz: float = 2.5, amp: float = 2.0, seconds: float = 60):
    rng = np.random.default_rng(0)
    s, acc = _swing(swing_hz, seconds)
    ppg = np.column_stack([_steady(bpm, seconds), _steady(bpm, seconds, 1.0)]) + amp * s[:, None]
    return ppg + 0.3 * rng.standard_normal(ppg.shape), acc


def test_arm_swing_stronger_than_the_pulse_does_not_become_the_rate():
    ppg, acc = _running()  # 150 steps/min swing, twice the pulse's amplitude in the PPG
    bpm = ppg_spectral_rate(ppg, acc, FS).bpm
    assert np.all(np.isfinite(bpm))
    assert np.all(np.abs(bpm - 120) <= 3), bpm
    # the same signal without the accelerometer is fooled by the swing: the test can fail
    fooled = ppg_spectral_rate(ppg, None, FS).bpm
    assert abs(np.median(fooled) - 150) <= 3


def test_every_method_handles_the_swing_and_a_simulated_pulse():
    ppg, acc = _running()
    greedy = TrackerSettings(tracking="greedy")
    for method, settings in (("temko2017", None), ("schaeck2017", greedy), ("schaeck2017", None)):
        bpm = ppg_spectral_rate(ppg, acc, FS, method=method, settings=settings).bpm
        assert np.mean(np.abs(bpm - 120) <= 3) >= 0.9, (method, settings, bpm)
    # neurokit2's pulse varies its rate by about +-10 bpm: the median holds, not every window
    s, acc = _swing(2.5, 60)
    bpm = ppg_spectral_rate(_pulse(120, 60, 1) + 1.0 * s, acc, FS).bpm
    assert abs(np.median(bpm) - 120) <= 3


def test_tracks_a_rising_rate_through_the_cadence():
    # rate ramps 90 -> 150 bpm over 90 s and crosses a 2.2 Hz (132 steps/min) arm swing
    seconds = 90
    t = np.arange(seconds * FS) / FS
    rate = 90 + 60 * t / seconds
    phase = 2 * np.pi * np.cumsum(rate / 60) / FS
    ppg = np.sin(phase) + 0.4 * np.sin(2 * phase + 0.5)
    s, acc = _swing(2.2, seconds)
    res = ppg_spectral_rate(ppg + 1.5 * s, acc, FS)
    truth = np.array([np.mean(rate[int(w.start_s * FS) : int(w.end_s * FS)]) for w in res.windows])
    err = np.abs(res.bpm - truth)
    assert np.nanmean(err) < 3, np.round(res.bpm)
    assert np.nanmax(err) < 10


def test_flat_or_missing_windows_are_refused_with_a_reason():
    ppg = _pulse(80, 40, 5)
    ppg[10 * FS : 30 * FS] = np.nan  # sensor off the skin for 20 s
    _, acc = _swing(1.5, 40)
    res = ppg_spectral_rate(ppg, acc, FS)
    refused = [w for w in res.windows if w.bpm is None]
    assert refused and all(w.quality == Quality.UNUSABLE and w.reason for w in refused)
    assert all(w.start_s >= 10 - 8 and w.end_s <= 30 + 8 for w in refused)
    kept = [w.bpm for w in res.windows if w.bpm is not None]
    assert kept and abs(np.median(kept) - 80) <= 3


def test_flags_rank_clean_above_corrupted_windows():
    clean = ppg_spectral_rate(_pulse(100, 40, 6), _swing(2.6, 40)[1] * 0.01, FS)
    assert np.mean([w.quality == Quality.GOOD for w in clean.windows]) >= 0.8
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(40 * FS) + 3 * _swing(2.6, 40)[0]
    bad = ppg_spectral_rate(noise, _swing(2.6, 40)[1], FS)
    assert np.mean([w.quality == Quality.GOOD for w in bad.windows]) < 0.3


@pytest.mark.parametrize("channel", [None, "ppg1"])
def test_heart_rate_tool_on_the_wrist_csv_uses_the_tracker(channel):
    rec = load_recording(DATA / "synthetic_ppg_accel.csv")  # 95 bpm, 2.6 Hz arm swing
    keep = [i for i, c in enumerate(rec.channels) if c.kind.value != "ecg"]
    rec = rec.model_copy(update={"signal": rec.signal[:, keep], "channels": [rec.channels[i] for i in keep]})
    res = heart_rate(rec, channel=channel)
    assert "Viterbi" in res.method and "accelerometer" in res.method
    assert abs(res.heart_rate.value - 95) <= 3
    assert all(w.bpm.value is not None or w.bpm.quality == Quality.UNUSABLE for w in res.windows)
