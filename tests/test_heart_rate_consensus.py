"""Heart rate by detector consensus, template matching and RR plausibility (``signal.ecg``), on
synthetic ECG with the artefacts that break single detectors: noise bursts, beats most detectors miss,
T waves counted as beats. And the flag: pure noise must not come out GOOD or ACCEPTABLE."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest

from cardioagent.tools.analysis import heart_rate
from cardioagent.tools.contract import Quality
from cardioagent.tools.signal import ecg
from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording

FS = 500


def simulated(hr: float, seconds: float = 10, seed: int = 0, noise: float = 0.01) -> np.ndarray:
    return np.asarray(
        nk.ecg_simulate(duration=seconds, sampling_rate=FS, heart_rate=hr, noise=noise, random_state=seed),
        dtype=float,
    )


def true_peaks(x: np.ndarray) -> np.ndarray:
    """R-peaks of the clean simulation (the reference the perturbed signal is scored against)."""
    return ecg.ecg_peaks(x, FS).peaks


def reference_bpm(peaks: np.ndarray) -> float:
    return 60.0 / float(np.mean(np.diff(peaks) / FS))


def recording(x: np.ndarray, name: str = "synthetic") -> Recording:
    return Recording(
        id=f"{name}-{abs(hash(np.asarray(x).tobytes())) % 10**12}",
        name=name,
        source_files=[],
        format="numpy",
        modality=Modality.ECG,
        sampling_rate_hz=float(FS),
        channels=[Channel(name="ECG", kind=ChannelKind.ECG, unit="mV")],
        signal=np.asarray(x, dtype=float)[:, None],
    )


def test_noise_bursts_do_not_move_the_rate():
    x = simulated(72, seed=1)
    ref = reference_bpm(true_peaks(x))
    rng = np.random.default_rng(0)
    y = x.copy()
    for start in (1.7, 6.2):  # two 0.6-s bursts of broadband noise as large as the QRS
        a, b = int(start * FS), int((start + 0.6) * FS)
        y[a:b] += 0.8 * np.ptp(x) * rng.standard_normal(b - a) * np.hanning(b - a)
    det = ecg.ecg_peaks(y, FS)
    assert abs(ecg.rate_bpm(det.peaks, FS, det.gaps) - ref) < 2.0, det.repairs
    assert abs(heart_rate(recording(y)).heart_rate.value - ref) < 2.0


def _fake_detectors(monkeypatch, outputs: dict[str, np.ndarray]) -> None:
    """Every detector returns the given peaks instead of running (the signal still shapes the template
    and steepness tests)."""
    monkeypatch.setattr(
        ecg, "detector_peaks", lambda x, fs, method, _cache=None: np.asarray(outputs[method], dtype=int)
    )


@pytest.mark.parametrize("seen_by", [1, 2])
def test_beats_most_detectors_miss_are_recovered(monkeypatch, seen_by):
    x = simulated(80, seed=2)
    truth = true_peaks(x)
    inner = truth[1:-1]
    missed = inner[[3, 7]]  # all but ``seen_by`` of the eight detectors lose these two beats
    outputs = {
        d: (inner if k < seen_by else np.setdiff1d(inner, missed)) for k, d in enumerate(ecg.DETECTORS)
    }
    _fake_detectors(monkeypatch, outputs)
    det = ecg.ecg_peaks(x, FS)
    assert ecg.peak_f1(det.peaks, inner, FS) == 1.0, det.repairs
    if seen_by == 1:  # under a quarter of the votes: only the search-back brings them in
        assert sum("search-back" in r for r in det.repairs) == 2, det.repairs
    # else a quarter of the votes and a QRS shape admit them at once
    assert abs(ecg.rate_bpm(det.peaks, FS, det.gaps) - reference_bpm(inner)) < 2.0


def test_missed_beats_no_detector_saw_are_left_out_of_the_rate(monkeypatch):
    x = simulated(70, seed=3)
    inner = true_peaks(x)[1:-1]
    seen = np.delete(inner, 5)  # no detector found beat 5: the interval across it holds two RR
    _fake_detectors(monkeypatch, {d: seen for d in ecg.DETECTORS})
    det = ecg.ecg_peaks(x, FS, fast_path=False)
    assert len(det.gaps) == 1
    assert abs(ecg.rate_bpm(det.peaks, FS, det.gaps) - reference_bpm(inner)) < 2.0
    # without the gap rule the rate would read one beat short
    assert reference_bpm(inner) - ecg.rate_bpm(det.peaks, FS) > 3.0


def test_doubled_t_wave_detections_are_removed(monkeypatch):
    x = simulated(60, seed=4)
    inner = true_peaks(x)[1:-1]
    # the T wave of the simulation: the largest 0.5-10 Hz deflection 150-450 ms after each R
    slow = nk.signal_filter(x, sampling_rate=FS, lowcut=0.5, highcut=10)
    t_waves = np.array(
        [
            p + int(0.15 * FS) + int(np.argmax(slow[p + int(0.15 * FS) : p + int(0.45 * FS)]))
            for p in inner
            if p + int(0.45 * FS) < len(x)
        ]
    )
    doubled = np.sort(np.concatenate([inner, t_waves]))
    # five of the eight detectors count every T wave: the vote alone would double the rate
    outputs = {d: (doubled if k < 5 else inner) for k, d in enumerate(ecg.DETECTORS)}
    _fake_detectors(monkeypatch, outputs)
    det = ecg.ecg_peaks(x, FS)
    assert abs(ecg.rate_bpm(det.peaks, FS, det.gaps) - reference_bpm(inner)) < 2.0, det.repairs
    assert ecg.peak_f1(det.peaks, inner, FS) >= 0.95


@pytest.mark.parametrize("hr", [50, 75, 120, 160])
def test_consensus_rate_on_noisy_simulations(hr):
    x = simulated(hr, seconds=10, seed=hr, noise=0.15)
    ref = reference_bpm(true_peaks(simulated(hr, seconds=10, seed=hr, noise=0.0)))
    res = heart_rate(recording(x, f"sim{hr}"))
    assert abs(res.heart_rate.value - ref) < 2.0, res.heart_rate


def test_clean_simulation_is_flagged_good_and_pure_noise_is_not():
    clean = heart_rate(recording(simulated(70, seed=5), "clean"))
    assert clean.heart_rate.quality == Quality.GOOD, clean
    rng = np.random.default_rng(1)
    for k, noise in enumerate(
        (
            rng.standard_normal(10 * FS),  # white
            np.cumsum(rng.standard_normal(10 * FS)) * 0.05,  # brown (drift)
            nk.signal_filter(rng.standard_normal(10 * FS), sampling_rate=FS, lowcut=5, highcut=30),
        )
    ):
        res = heart_rate(recording(noise, f"noise{k}"))
        assert res.heart_rate.quality in (Quality.POOR, Quality.UNUSABLE), (k, res.heart_rate, res.warnings)


def test_detection_quality_follows_the_evidence():
    peaks = np.arange(250, 5000, 400)
    good = ecg.RPeakDetection(
        peaks,
        "consensus",
        "",
        {},
        8,
        np.ones(len(peaks)),
        evidence={"rate_agreement": 0.9, "template_corr": 0.95, "thin_beats": 0.0, "n_gaps": 0.0},
    )
    lone = ecg.RPeakDetection(
        peaks,
        "consensus",
        "",
        {},
        8,
        np.ones(len(peaks)),
        evidence={"rate_agreement": 0.125, "template_corr": 0.95, "thin_beats": 0.0, "n_gaps": 0.0},
    )
    odd = ecg.RPeakDetection(
        peaks,
        "consensus",
        "",
        {},
        8,
        np.ones(len(peaks)),
        evidence={"rate_agreement": 0.9, "template_corr": 0.3, "thin_beats": 0.0, "n_gaps": 0.0},
    )
    assert ecg.detection_quality(good)[0] == Quality.GOOD
    assert ecg.detection_quality(lone)[0] == Quality.POOR
    assert ecg.detection_quality(odd)[0] == Quality.POOR
