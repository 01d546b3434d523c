"""Windowing and training augmentations."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from cardioagent.tools.signal.augment import (
    AugmentConfig,
    add_baseline_wander,
    add_noise,
    add_powerline,
    augment,
    scale_amplitude,
    time_warp,
    warp_path,
)
from cardioagent.tools.signal.segment import n_windows, window_array, windows

FS = 250.0


@pytest.fixture(scope="module")
def ecg_like() -> np.ndarray:
    """Three channels of a spiky periodic signal (R-wave-like Gaussians at 72 bpm), 20 s at 250 Hz."""
    t = np.arange(int(20 * FS)) / FS
    beats = np.arange(0.4, 20, 60 / 72)
    one = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in beats) + 0.2 * np.sin(2 * np.pi * 1.2 * t)
    return np.stack([one, -0.5 * one, 0.8 * one + 0.1], axis=1)


# --- windows -------------------------------------------------------------------------------------


def _brute_force_starts(n: int, window: int, step: int) -> list[int]:
    starts, s = [], 0
    while s + window <= n:
        starts.append(s)
        s += step
    return starts


@pytest.mark.parametrize(
    "n, fs, window_s, step_s",
    [
        (1000, 100.0, 2.0, 0.5),
        (37500, 125.0, 8.0, 2.0),
        (5000, 500.0, 10.0, 10.0),
        (5001, 500.0, 2.5, 2.5),
        (360, 360.0, 0.5, 0.3),
    ],
)
def test_window_counts_and_starts_are_exact(n, fs, window_s, step_s):
    x = np.arange(n, dtype=float)
    window, step = round(window_s * fs), round(step_s * fs)
    expected = _brute_force_starts(n, window, step)
    got = list(windows(x, fs, window_s, step_s))
    assert n_windows(n, fs, window_s, step_s) == len(got) == len(expected)
    assert [w.start_sample for w in got] == expected
    assert [w.start_s for w in got] == pytest.approx([s / fs for s in expected])
    for w in got:
        assert w.data.shape == (window,)
        assert w.data[0] == w.start_sample and w.stop_sample <= n  # a view of the right samples, no tail
    batch, starts_s = window_array(x, fs, window_s, step_s)
    assert batch.shape == (len(expected), window)
    assert np.array_equal(batch, np.stack([w.data for w in got]))
    assert starts_s == pytest.approx([s / fs for s in expected])


def test_reference_hr_convention_8s_windows_2s_step():
    # 5 minutes at 125 Hz: windows start at 0, 2, ..., 292 s -> 147 windows.
    assert n_windows(300 * 125, 125.0, 8.0, 2.0) == 147


def test_multichannel_windows_keep_channels_last(ecg_like):
    batch, _starts = window_array(ecg_like, FS, 4.0, 1.0)
    assert batch.shape == (17, 1000, 3)
    assert np.array_equal(batch[5], ecg_like[1250:2250])
    assert np.array_equal(next(iter(windows(ecg_like, FS, 4.0, 1.0))).data, ecg_like[:1000])


def test_too_short_signal_gives_no_windows_and_bad_lengths_raise():
    assert list(windows(np.zeros(99), 100.0, 1.0, 0.5)) == []
    batch, starts = window_array(np.zeros((99, 2)), 100.0, 1.0, 0.5)
    assert batch.shape == (0, 100, 2) and starts.shape == (0,)
    with pytest.raises(ValueError, match="shorter than one sample"):
        n_windows(100, 100.0, 0.001, 1.0)
    with pytest.raises(ValueError, match="step"):
        list(windows(np.zeros(100), 100.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="sampling rate"):
        window_array(np.zeros(100), 0.0, 1.0, 1.0)


# --- augmentations -------------------------------------------------------------------------------


def _snr_db(clean: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.var(clean, axis=0) / np.var(noisy - clean, axis=0))


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 24.0])
def test_add_noise_hits_the_requested_snr(ecg_like, snr_db):
    rng = np.random.default_rng(1)
    noisy = add_noise(ecg_like, snr_db, rng)
    assert noisy.shape == ecg_like.shape
    assert np.all(np.abs(_snr_db(ecg_like, noisy) - snr_db) < 1.0)
    one = add_noise(ecg_like[:, 0], snr_db, np.random.default_rng(1))
    assert one.shape == ecg_like[:, :1].shape[:1]
    assert abs(_snr_db(ecg_like[:, 0], one) - snr_db) < 1.0
    # Noise is white-ish: the residual is not the signal scaled.
    assert abs(np.corrcoef(noisy[:, 0] - ecg_like[:, 0], ecg_like[:, 0])[0, 1]) < 0.1


def test_augmentations_are_reproducible_from_the_seed(ecg_like):
    a = augment(ecg_like, FS, np.random.default_rng(42))
    b = augment(ecg_like, FS, np.random.default_rng(42))
    c = augment(ecg_like, FS, np.random.default_rng(43))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(
        add_noise(ecg_like, 20, np.random.default_rng(5)), add_noise(ecg_like, 20, np.random.default_rng(5))
    )


def test_baseline_wander_adds_a_slow_sinusoid_of_the_given_amplitude(ecg_like):
    out = add_baseline_wander(ecg_like, FS, amplitude=0.3, freq_hz=0.25, rng=np.random.default_rng(0))
    added = out - ecg_like
    assert out.shape == ecg_like.shape
    assert np.max(np.abs(added), axis=0) == pytest.approx([0.3] * 3, rel=0.01)
    spectrum = np.abs(np.fft.rfft(added[:, 0]))
    freqs = np.fft.rfftfreq(len(added), 1 / FS)
    assert freqs[np.argmax(spectrum)] == pytest.approx(0.25, abs=0.05)
    assert not np.allclose(added[:, 0], added[:, 1])  # independent phase per channel


def test_powerline_and_scale(ecg_like):
    out = add_powerline(ecg_like[:, 0], FS, freq=60.0, amplitude=0.05)
    added = out - ecg_like[:, 0]
    freqs = np.fft.rfftfreq(len(added), 1 / FS)
    assert freqs[np.argmax(np.abs(np.fft.rfft(added)))] == pytest.approx(60.0, abs=0.1)
    assert np.max(np.abs(added)) == pytest.approx(0.05, rel=0.01)
    with pytest.raises(ValueError, match="Nyquist"):
        add_powerline(ecg_like, 100.0, freq=50.0)
    assert np.allclose(scale_amplitude(ecg_like, 1.5), 1.5 * ecg_like)
    per_channel = scale_amplitude(ecg_like, np.array([1.0, 2.0, 0.5]))
    assert np.allclose(per_channel[:, 1], 2.0 * ecg_like[:, 1]) and np.allclose(
        per_channel[:, 2], 0.5 * ecg_like[:, 2]
    )
    with pytest.raises(ValueError, match="factors"):
        scale_amplitude(ecg_like, np.array([1.0, 2.0]))


@pytest.mark.parametrize("max_stretch", [0.05, 0.2])
def test_time_warp_is_monotonic_smooth_and_length_preserving(ecg_like, max_stretch):
    n = len(ecg_like)
    path = warp_path(n, FS, max_stretch, np.random.default_rng(3))
    assert path.shape == (n,) and path[0] == 0.0 and path[-1] == pytest.approx(n - 1)
    speed = np.diff(path)
    assert np.all(speed > 0)
    bound = (1 + max_stretch) / (1 - max_stretch)
    assert speed.max() <= bound + 1e-9 and speed.min() >= 1 / bound - 1e-9
    assert np.abs(speed - 1).max() > 0.2 * max_stretch  # it really warps
    # Smooth: the speed changes little from one sample to the next (knots are 1 s apart).
    assert np.abs(np.diff(speed)).max() < 10 * max_stretch / FS

    warped = time_warp(ecg_like, FS, max_stretch, np.random.default_rng(3))
    assert warped.shape == ecg_like.shape
    assert np.allclose(
        warped, np.stack([np.interp(path, np.arange(n), ecg_like[:, c]) for c in range(3)], axis=1)
    )

    # Beats are moved, not created or lost: same number of R-like peaks; the channels share the warp.
    def count_peaks(x):
        return int(np.sum((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:]) & (x[1:-1] > 0.6)))

    assert count_peaks(warped[:, 0]) == count_peaks(ecg_like[:, 0])
    assert np.allclose(warped[:, 1], -0.5 * warped[:, 0])
    ramp = time_warp(np.arange(n, dtype=float), FS, max_stretch, np.random.default_rng(9))
    assert ramp.shape == (n,) and np.all(np.diff(ramp) > 0)


def test_time_warp_bounds():
    with pytest.raises(ValueError, match="max_stretch"):
        warp_path(100, FS, 1.0, np.random.default_rng(0))
    x = np.random.default_rng(0).standard_normal(500)
    assert np.array_equal(time_warp(x, FS, 0.0, np.random.default_rng(0)), x)


def test_augment_keeps_shapes_and_respects_probabilities(ecg_like):
    everything = AugmentConfig(p_time_warp=1, p_scale=1, p_baseline_wander=1, p_powerline=1, p_noise=1)
    nothing = AugmentConfig(p_time_warp=0, p_scale=0, p_baseline_wander=0, p_powerline=0, p_noise=0)
    for x in (ecg_like, ecg_like[:, 0]):
        y = augment(x, FS, np.random.default_rng(0), everything)
        assert y.shape == x.shape and not np.allclose(y, x)
        z = augment(x, FS, np.random.default_rng(0), nothing)
        assert np.array_equal(z, x) and z is not x
    # Only noise, at a fixed SNR: the result has that SNR.
    noise_only = nothing.model_copy(update={"p_noise": 1.0, "snr_db_range": (12.0, 12.0)})
    y = augment(ecg_like, FS, np.random.default_rng(0), noise_only)
    assert np.all(np.abs(_snr_db(ecg_like, y) - 12.0) < 1.0)
    # Mains above Nyquist is skipped rather than aliased.
    low_fs = augment(
        ecg_like[:, 0],
        100.0,
        np.random.default_rng(0),
        nothing.model_copy(update={"p_powerline": 1.0, "powerline_freqs_hz": (60.0,)}),
    )
    assert np.array_equal(low_fs, ecg_like[:, 0])


def test_augment_config_validates_ranges():
    with pytest.raises(ValidationError, match="low end"):
        AugmentConfig(snr_db_range=(30.0, 10.0))
    with pytest.raises(ValidationError):
        AugmentConfig(p_noise=1.5)
    with pytest.raises(ValidationError):
        AugmentConfig(max_stretch=1.0)
