"""Pure signal math: filters, R-peak consensus, PPG peaks and spectral rate, SQIs, HRV math, delineation."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest

from cardioagent.tools.contract import Quality
from cardioagent.tools.signal import delineation as dl
from cardioagent.tools.signal import ecg, filters, hrv_math, ppg, sqi

FS = 500


def simulated_ecg(
    hr: float, seconds: float = 10, noise: float = 0.0, seed: int = 0, fs: int = FS
) -> np.ndarray:
    return np.asarray(
        nk.ecg_simulate(duration=seconds, sampling_rate=fs, heart_rate=hr, noise=noise, random_state=seed),
        dtype=float,
    )


def rate(peaks: np.ndarray, fs: float) -> float:
    return 60.0 / np.mean(np.diff(peaks) / fs)


# ------------------------------------------------------------------------------------------------ filters


def test_powerline_is_detected_and_removed():
    t = np.arange(10 * FS) / FS
    ecg_like = simulated_ecg(70)
    for mains in (50, 60):
        x = ecg_like + 0.3 * np.sin(2 * np.pi * mains * t)
        assert filters.detect_powerline(x, FS) == mains
        y, used = filters.remove_powerline(x, FS, "auto")
        assert used == mains
        residual = y - ecg_like
        # the notch removes the 0.3 mV line; what is left is the notch's small effect on the ECG itself
        assert np.std(residual[FS:-FS]) < 0.05
    assert filters.detect_powerline(ecg_like, FS) is None


def test_baseline_wander_removed_and_band_pass_keeps_the_band():
    t = np.arange(10 * FS) / FS
    x = simulated_ecg(70)
    drift = 1.5 * np.sin(2 * np.pi * 0.15 * t)
    y = filters.remove_baseline(x + drift, FS)
    assert abs(np.mean(y)) < 0.05
    assert np.corrcoef(y, filters.remove_baseline(x, FS))[0, 1] > 0.99
    tone = np.sin(2 * np.pi * 10 * t)
    assert np.std(filters.bandpass(tone, FS, 5, 30)) > 0.6  # in band: kept
    assert np.std(filters.bandpass(np.sin(2 * np.pi * 0.1 * t), FS, 5, 30)) < 0.05  # below: removed


def test_fill_gaps_interpolates_nan():
    x = np.array([0.0, np.nan, 2.0, np.nan, np.nan, 5.0])
    assert np.allclose(filters.fill_gaps(x), [0, 1, 2, 3, 4, 5])


# ------------------------------------------------------------------------------------------------ R-peaks


@pytest.mark.parametrize("hr", [60, 90, 150])
@pytest.mark.parametrize("noise", [0.0, 0.15])
def test_ecg_peaks_recover_the_simulated_rate(hr, noise):
    x = simulated_ecg(hr, noise=noise, seed=hr)
    det = ecg.ecg_peaks(x, FS)
    assert abs(rate(det.peaks, FS) - hr) < 2.0, det.reason
    assert det.detector in ("consensus", ecg.DETECTORS[0])
    assert det.agreement and all(0.0 <= v <= 1.0 for v in det.agreement.values())


def test_consensus_ignores_a_detector_that_doubles():
    fs = FS
    true = np.arange(200, 4800, 400)
    good = [true + np.random.default_rng(k).integers(-3, 4, len(true)) for k in range(5)]
    doubled = np.sort(np.concatenate([true, true + 150]))  # one detector also fires on every T wave
    pos, votes = ecg.vote_peaks(good + [doubled], fs)
    kept = pos[votes >= 0.5]
    assert len(kept) == len(true)
    assert np.all(np.abs(kept - true) <= 3)


def test_snap_moves_peaks_onto_the_envelope_maximum():
    env = np.zeros(1000)
    env[[100, 500]] = 1.0
    assert list(ecg.snap_peaks(np.array([90, 520]), env, 500)) == [100, 500]


def test_peak_f1_and_flat_input():
    assert ecg.peak_f1(np.array([100, 600]), np.array([110, 1000]), FS) == pytest.approx(0.5)
    det = ecg.ecg_peaks(np.zeros(5000), FS)
    assert len(det.peaks) == 0 and "flat" in det.reason


def test_chunked_detection_on_a_long_record_matches_the_rate():
    x = simulated_ecg(75, seconds=65, noise=0.05, seed=3)
    det = ecg.ecg_peaks_chunked(x, FS)
    assert abs(rate(det.peaks, FS) - 75) < 2.0
    assert np.all(np.diff(det.peaks) > 0.2 * FS)  # no beat counted twice at a chunk boundary


# -------------------------------------------------------------------------------------------------- PPG


def test_ppg_peaks_and_spectral_rate_without_motion():
    fs = 125
    x = nk.ppg_simulate(duration=30, sampling_rate=fs, heart_rate=72, random_state=1)
    peaks = ppg.ppg_peaks(x, fs)
    assert abs(rate(peaks, fs) - 72) < 3
    # the simulator varies the rate over time: compare with the pulse rate inside the same window
    s = ppg.spectral_hr(x[: 8 * fs], fs)
    in_window = rate(peaks[peaks < 8 * fs], fs)
    assert abs(s.bpm - in_window) < 4 and not s.motion_suppressed


def test_spectral_rate_attenuates_accelerometer_frequencies():
    fs = 125
    t = np.arange(8 * fs) / fs
    pulse = np.sin(2 * np.pi * 1.5 * t)  # 90 bpm
    motion = 2.0 * np.sin(2 * np.pi * 2.6 * t)  # arm swing at 156 /min dominates the raw PPG
    acc = np.column_stack(
        [np.sin(2 * np.pi * 2.6 * t), 0.5 * np.sin(2 * np.pi * 2.6 * t + 1), np.zeros_like(t)]
    )
    assert abs(ppg.spectral_hr(pulse + motion, fs).bpm - 156) < 3  # without the accelerometer: fooled
    s = ppg.spectral_hr(pulse + motion, fs, accel=acc)
    assert s.motion_suppressed and abs(s.bpm - 90) < 3


def test_spectral_rate_needs_four_seconds():
    assert ppg.spectral_hr(np.random.default_rng(0).normal(size=300), 125).bpm is None


# ------------------------------------------------------------------------------------------------- SQIs


def test_sqi_grades_clean_noisy_and_flat_ecg():
    clean = sqi.assess_channel(simulated_ecg(70, noise=0.01), FS, "ecg")
    assert clean.quality in (Quality.GOOD, Quality.ACCEPTABLE)
    rng = np.random.default_rng(0)
    noisy = sqi.assess_channel(simulated_ecg(70) + rng.normal(0, 1.0, 10 * FS), FS, "ecg")
    assert noisy.quality == Quality.POOR
    assert sqi.assess_channel(np.zeros(10 * FS), FS, "ecg").quality == Quality.UNUSABLE
    nan = np.full(10 * FS, np.nan)
    nan[:100] = 1.0
    bad = sqi.assess_channel(nan, FS, "ecg")
    assert bad.quality == Quality.UNUSABLE and "missing" in bad.reason


def test_sqi_ppg_and_integrity_indices():
    fs = 125
    x = nk.ppg_simulate(duration=20, sampling_rate=fs, heart_rate=70, random_state=2)
    c = sqi.assess_channel(x, fs, "ppg")
    assert c.quality == Quality.GOOD and c.indices["sSQI"] > 0
    clipped = np.clip(simulated_ecg(70), -0.05, 0.05)
    assert sqi.clipping_fraction(clipped) > 0.3


# ------------------------------------------------------------------------------------------------- HRV


def test_time_domain_matches_hand_computation():
    rr = np.array([800.0, 820, 790, 810, 850, 830])
    td = hrv_math.time_domain(rr, np.ones(len(rr), bool))
    d = np.diff(rr)
    assert td.mean_nn_ms == pytest.approx(rr.mean())
    assert td.sdnn_ms == pytest.approx(np.std(rr, ddof=1))
    assert td.rmssd_ms == pytest.approx(np.sqrt(np.mean(d**2)))
    assert td.pnn50_pct == pytest.approx(0.0)


def test_nn_mask_drops_an_ectopic_pair_and_its_successive_differences():
    rr = np.array([800.0, 805, 810, 500, 1100, 805, 800, 795])
    mask = hrv_math.nn_mask(rr)
    assert not mask[3] and not mask[4] and mask[[0, 1, 2, 5, 6, 7]].all()
    td = hrv_math.time_domain(rr, mask)
    assert td.n_successive == 4 and td.rmssd_ms < 10


def test_frequency_domain_finds_respiratory_modulation():
    rng = np.random.default_rng(1)
    t, rr, times = 0.0, [], []
    while t < 300:  # 5 min with 0.25 Hz (HF) sinus arrhythmia
        r = 900 + 40 * np.sin(2 * np.pi * 0.25 * t) + rng.normal(0, 3)
        t += r / 1000
        rr.append(r)
        times.append(t)
    fd = hrv_math.frequency_domain(np.array(times), np.array(rr))
    assert fd.hf_ms2 is not None and fd.lf_ms2 is not None
    assert fd.hf_ms2 > 5 * fd.lf_ms2 and fd.lf_hf < 0.2


def test_frequency_domain_refuses_short_recordings():
    times = np.cumsum(np.full(12, 0.8))
    fd = hrv_math.frequency_domain(times, np.full(12, 800.0))
    assert fd.lf_ms2 is None and fd.hf_ms2 is None and fd.lf_hf is None
    assert "not enough data" in fd.note


# -------------------------------------------------------------------------------------------- delineation


def test_delineation_of_a_simulated_beat_is_physiological():
    x = simulated_ecg(60, seconds=10, seed=4)
    det = ecg.ecg_peaks(x, FS)
    beats, rr = dl.dominant_beats(det.peaks, FS, len(x))
    mb = dl.median_beat(dl.clean_for_delineation(x, FS), beats, FS)
    d = dl.delineate_beat(mb, FS, rr)
    assert 80 <= d.pr_ms <= 260 and 50 <= d.qrs_ms <= 140 and 300 <= d.qt_ms <= 500, d
    assert d.p_present and mb.coherence > 0.95


def test_qtc_formulas():
    assert dl.qtc_bazett(400, 1.0) == pytest.approx(400)
    assert dl.qtc_bazett(360, 0.81) == pytest.approx(400)
    assert dl.qtc_fridericia(400, 0.512) == pytest.approx(500)


def test_delineation_reports_a_flat_beat_instead_of_raising():
    mb = dl.MedianBeat(
        beat=np.zeros(int((dl.BEFORE_S + dl.AFTER_S) * FS) + 1),
        r_index=int(dl.BEFORE_S * FS),
        n_beats=5,
        coherence=1.0,
        noise=0.0,
    )
    d = dl.delineate_beat(mb, FS, 1.0)
    assert d.qt_ms is None and d.problems
