"""The rhythm of a digitized ECG image: a stretch of trace the digitizer lost stays missing (no straight line
that hides a beat), the page's own repeated beats measure its timing error, and the rhythm tool, told of
that error and of beats the trace lost, answers "undetermined" rather than "irregular" when the digitized
intervals cannot decide. Synthetic signals only (fast)."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest

from cardioagent.tools.analysis import rhythm
from cardioagent.tools.contract import Quality
from cardioagent.tools.signal.digitize import Digitization, DigitizedEcg, LeadDigitization
from cardioagent.tools.signal.digitize.digitize import MAX_GAP_S, _segment_signal
from cardioagent.tools.signal.digitize.export import as_recording
from cardioagent.tools.signal.digitize.layout import STANDARD_LEADS, Segment
from cardioagent.tools.signal.digitize.timing import beat_timing_sd
from cardioagent.tools.signal.digitize.trace import TraceCurve
from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording

FS = 500


def _beats_at(times_s: np.ndarray, seconds: float = 10.0, fs: int = FS) -> np.ndarray:
    """An ECG with one simulated beat at each time."""
    ref = np.asarray(nk.ecg_simulate(duration=10, sampling_rate=fs, heart_rate=60, random_state=7), float)
    _, info = nk.ecg_peaks(nk.ecg_clean(ref, sampling_rate=fs), sampling_rate=fs)
    r = int(info["ECG_R_Peaks"][4])
    before = int(0.30 * fs)
    beat = ref[r - before : r + int(0.45 * fs)].copy()
    beat -= np.linspace(beat[0], beat[-1], len(beat))
    x = np.zeros(int(seconds * fs))
    for t in times_s:
        a = int(round(t * fs)) - before
        if a >= 0 and a + len(beat) <= len(x):
            x[a : a + len(beat)] += beat
    return x + np.random.default_rng(3).normal(0, 0.005, len(x))


def _rec(x: np.ndarray, name: str = "x") -> Recording:
    return Recording(
        id=f"{name}-{abs(hash(np.nan_to_num(x).tobytes())) % 10**12}",
        name=name,
        source_files=[],
        format="image",
        modality=Modality.ECG,
        sampling_rate_hz=float(FS),
        channels=[Channel(name="II", kind=ChannelKind.ECG, unit="mV")],
        signal=x.reshape(-1, 1),
    )


def _digitized(signal: np.ndarray) -> DigitizedEcg:
    lead = LeadDigitization(
        lead="II", start_s=0, duration_s=10, found_fraction=0.9, edge_fraction=0, quality=Quality.ACCEPTABLE
    )
    report = Digitization(
        layout="3x4 + II rhythm strip",
        page_found=True,
        page_method="test",
        px_per_mm=(8.0, 8.0),
        grid_strength=0.5,
        calibration_pulses=4,
        rows=4,
        layout_consistent=True,
        leads=[lead],
    )
    return DigitizedEcg(signal=signal, rectified=np.zeros((1, 1, 3), np.uint8), report=report)


def test_a_stretch_where_the_trace_was_lost_stays_missing():
    # a row of 10 s at 200 px/s whose trace was not found from 4.0 to 4.9 s (e.g. glare over a QRS)
    cols = 2000
    found = np.ones(cols, bool)
    found[800:980] = False
    curve = TraceCurve(y=np.where(found, 100.0, np.nan), found=found, x0=0)
    times = np.arange(cols) / 200.0
    out, _, _ = _segment_signal(
        curve, Segment(row=3, lead="II", start_s=0, duration_s=10, column=0), times, 100.0, 8.0, 5000
    )
    assert np.isnan(out[int(4.1 * FS) : int(4.8 * FS)]).all()  # not a straight line across
    assert np.isfinite(out[: int(3.9 * FS)]).all() and np.isfinite(out[int(5.0 * FS) : int(9.9 * FS)]).all()
    # a short gap (a few columns lost on a steep stroke) is bridged
    found2 = np.ones(cols, bool)
    found2[1000 : 1000 + int(0.5 * MAX_GAP_S * 200)] = False
    curve2 = TraceCurve(y=np.where(found2, 100.0, np.nan), found=found2, x0=0)
    out2, _, _ = _segment_signal(
        curve2, Segment(row=3, lead="II", start_s=0, duration_s=10, column=0), times, 100.0, 8.0, 5000
    )
    assert np.isfinite(out2[int(0.1 * FS) : int(9.9 * FS)]).all()


def test_the_digitized_recording_keeps_lost_trace_missing():
    signal = np.full((5000, 12), np.nan)
    signal[:, 1] = 0.0
    signal[2000:2400, 1] = np.nan
    signal[4900:, 1] = np.nan  # the strip's end: held, as before (it hides no interval between two beats)
    rec = as_recording(_digitized(signal), "p", "0123456789abcdef")
    assert np.isnan(rec.signal[2000:2400, 0]).all() and np.isfinite(rec.signal[:2000, 0]).all()
    assert np.isfinite(rec.signal[2400:, 0]).all()


def test_a_beat_lost_in_digitization_is_left_out_of_the_rhythm_when_asked():
    times = np.arange(0.5, 10, 0.8)
    x = _beats_at(np.delete(times, 6))  # one beat gone: an interval of twice the others
    rec = _rec(x, "lost")
    assert rhythm(rec).statement == "irregular"  # a recorded signal: a pause is a finding
    opted = rhythm(rec, missed_beats_as_gaps=True)
    assert opted.statement == "regular" and "missed beat" in opted.rule


def test_irregular_only_within_the_timing_error_is_undetermined():
    rng = np.random.default_rng(5)
    times = np.arange(0.5, 10, 0.8) + rng.normal(0, 0.045, 12)  # 45-ms jitter on a regular 75 bpm
    rec = _rec(_beats_at(times), "jitter")
    plain = rhythm(rec)
    assert plain.statement in ("irregular", "irregularly irregular"), plain.rule
    assert rhythm(rec, beat_timing_sd_s=0.045).statement == "undetermined"
    # a rhythm irregular beyond the timing error stays irregular
    af = np.cumsum(np.random.default_rng(11).uniform(0.45, 1.15, 16))
    assert rhythm(_rec(_beats_at(af[af < 9.6]), "af"), beat_timing_sd_s=0.01).statement != "undetermined"


@pytest.mark.parametrize("sd", [0.0, 0.02])
def test_the_page_measures_its_own_beat_timing_error(sd):
    rng = np.random.default_rng(1)
    times = np.arange(0.4, 10, 0.8)
    signal = np.full((5000, 12), np.nan)
    signal[:, 1] = _beats_at(times + rng.normal(0, sd, len(times)))  # the rhythm strip
    # the eleven other 2.5-s windows of a 3 x 4 page (II's own window is the rhythm strip's), each row late
    # by its own constant
    rows = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]
    for r, leads in enumerate(rows):
        window = _beats_at(times + 0.02 * r + rng.normal(0, sd, len(times)))
        for c, lead in enumerate(leads):
            if lead != "II":
                a, b = int(2.5 * c * FS), int(2.5 * (c + 1) * FS)
                signal[a:b, STANDARD_LEADS.index(lead)] = window[a:b]
    beats = np.round(times * FS).astype(int)
    est, n = beat_timing_sd(signal, FS, 1, beats)
    assert est is not None and n >= 15
    # 19 differences measure an SD to about +-25 %
    assert est < 0.003 if sd == 0 else 0.5 * sd < est < 1.5 * sd
