"""The analysis functions over whole Recordings: channel choice, quality flags, errors, and real records."""

from __future__ import annotations

import csv
import math

import neurokit2 as nk
import numpy as np
import pytest

from cardioagent.tools.analysis import (
    HeartRateResult,
    assess_quality,
    detect_peaks,
    heart_rate,
    hrv,
    intervals,
    rhythm,
)
from cardioagent.tools.contract import Measurement, Quality, ToolResult
from cardioagent.tools.errors import InputError, TooShortError
from cardioagent.tools.signal.ecg import peak_f1
from cardioagent.tools.signal.recording import (
    STANDARD_12_LEADS,
    Channel,
    ChannelKind,
    Modality,
    Recording,
)

FS = 500


def make_recording(
    columns: dict[str, tuple[ChannelKind, np.ndarray]], fs: float = FS, name: str = "synthetic"
) -> Recording:
    """A Recording built by hand (the loaders have their own tests)."""
    kinds = {k for k, _ in columns.values()}
    modality = (
        Modality.ECG
        if kinds <= {ChannelKind.ECG}
        else Modality.PPG
        if ChannelKind.ECG not in kinds
        else Modality.MIXED
    )
    signal = np.column_stack([np.asarray(x, dtype=float) for _, x in columns.values()])
    return Recording(
        id=f"{name}-{abs(hash(signal.tobytes())) % 10**12}",
        name=name,
        source_files=[],
        format="numpy",
        modality=modality,
        sampling_rate_hz=float(fs),
        signal=signal,
        channels=[
            Channel(name=n, kind=k, unit="mV" if k == ChannelKind.ECG else "")
            for n, (k, _) in columns.items()
        ],
    )


def ecg_rec(
    hr: float, seconds: float = 10, noise: float = 0.0, seed: int = 0, fs: int = FS, name: str = "synthetic"
) -> Recording:
    x = nk.ecg_simulate(duration=seconds, sampling_rate=fs, heart_rate=hr, noise=noise, random_state=seed)
    return make_recording({"ECG": (ChannelKind.ECG, x)}, fs, name)


def assert_no_nan(result: ToolResult) -> None:
    for m in result.measurements():
        assert m.value is None or math.isfinite(m.value), m
        assert m.uncertainty is None or math.isfinite(m.uncertainty), m
        if m.value is None:
            assert m.quality == Quality.UNUSABLE, m


def beats_at(times_s: np.ndarray, fs: int, seconds: float, with_p: bool = True) -> np.ndarray:
    """An ECG with one simulated beat placed at each time (for rhythms the simulator cannot make)."""
    ref = np.asarray(
        nk.ecg_simulate(duration=10, sampling_rate=fs, heart_rate=60, random_state=7), dtype=float
    )
    _, info = nk.ecg_peaks(nk.ecg_clean(ref, sampling_rate=fs), sampling_rate=fs)
    r = int(info["ECG_R_Peaks"][4])
    before = int((0.30 if with_p else 0.08) * fs)
    beat = ref[r - before : r + int(0.45 * fs)].copy()
    beat -= np.linspace(beat[0], beat[-1], len(beat))  # starts and ends at zero: no steps between beats
    x = np.zeros(int(seconds * fs))
    for t in times_s:
        a = int(t * fs) - before
        if a >= 0 and a + len(beat) <= len(x):
            x[a : a + len(beat)] += beat
    return x + np.random.default_rng(3).normal(0, 0.005, len(x))


# ------------------------------------------------------------------------------------------- heart rate


@pytest.mark.parametrize("hr,noise", [(60, 0.0), (90, 0.1), (150, 0.05)])
def test_heart_rate_of_simulated_ecg(hr, noise):
    rec = ecg_rec(hr, noise=noise, seed=hr)
    res = heart_rate(rec)
    assert isinstance(res, HeartRateResult)
    assert abs(res.heart_rate.value - hr) < 2.0
    assert res.heart_rate.unit == "bpm" and res.heart_rate.uncertainty is not None
    assert res.quality != Quality.UNUSABLE and res.channels_used == ["ECG"]
    assert [(w.start_s, w.end_s) for w in res.windows] == [(0.0, 8.0), (2.0, 10.0)]
    assert all(abs(w.bpm.value - hr) < 3 for w in res.windows)
    assert f"{res.heart_rate.value:.0f}" in res.summary()
    assert_no_nan(res)


def test_heart_rate_window_and_step_are_honoured():
    res = heart_rate(ecg_rec(70, seconds=20), window_s=5, step_s=5)
    assert [w.start_s for w in res.windows] == [0.0, 5.0, 10.0, 15.0]
    with pytest.raises(InputError):
        heart_rate(ecg_rec(70), window_s=0)


def test_heart_rate_prefers_ecg_and_falls_back_to_ppg():
    fs = 250
    e = nk.ecg_simulate(duration=20, sampling_rate=fs, heart_rate=80, random_state=1)
    p = nk.ppg_simulate(duration=20, sampling_rate=fs, heart_rate=80, random_state=1)
    mixed = make_recording({"PLETH": (ChannelKind.PPG, p), "II": (ChannelKind.ECG, e)}, fs)
    assert heart_rate(mixed).channels_used == ["II"]
    ppg_only = make_recording({"PLETH": (ChannelKind.PPG, p)}, fs)
    res = heart_rate(ppg_only)
    assert res.channels_used == ["PLETH"] and abs(res.heart_rate.value - 80) < 3
    assert detect_peaks(ppg_only).kind == "ppg"


def test_wrist_ppg_with_accelerometer_uses_the_motion_aware_spectrum():
    fs = 125
    t = np.arange(30 * fs) / fs
    pulse = np.asarray(
        nk.ppg_simulate(duration=30, sampling_rate=fs, heart_rate=100, random_state=4), dtype=float
    )
    swing = np.sin(2 * np.pi * 2.8 * t)  # running cadence
    rec = make_recording(
        {
            "ppg1": (ChannelKind.PPG, pulse + 1.5 * np.std(pulse) * swing),
            "acc_x": (ChannelKind.ACCEL, swing),
            "acc_y": (ChannelKind.ACCEL, 0.3 * swing),
            "acc_z": (ChannelKind.ACCEL, np.zeros_like(t) + 1.0),
        },
        fs,
    )
    res = heart_rate(rec, channel="ppg1")
    assert "accelerometer" in res.method
    assert abs(res.heart_rate.value - 100) < 8, [w.bpm.value for w in res.windows]


def test_too_short_recordings_raise_a_named_error():
    rec = ecg_rec(70, seconds=3, name="strip3s")
    for fn in (heart_rate, rhythm, hrv, intervals):
        with pytest.raises(TooShortError) as err:
            fn(rec)
        assert "strip3s" in str(err.value) and "5 s" in str(err.value)


def test_too_short_csv_from_the_test_data(tests_data):
    from cardioagent.tools.signal.loaders import load_recording

    rec = load_recording(tests_data / "malformed" / "short_3s.csv")
    with pytest.raises(TooShortError):
        heart_rate(rec)


def test_unusable_channel_gives_no_number_but_a_reason():
    x = nk.ecg_simulate(duration=10, sampling_rate=FS, heart_rate=70, random_state=2)
    rec = make_recording({"flat": (ChannelKind.ECG, np.zeros(10 * FS)), "II": (ChannelKind.ECG, x)})
    res = heart_rate(rec, channel="flat")
    assert res.heart_rate.value is None and res.heart_rate.quality == Quality.UNUSABLE
    assert "flat" in res.reason
    assert_no_nan(res)
    auto = heart_rate(rec)  # left to choose, it skips the flat lead
    assert auto.channels_used == ["II"] and abs(auto.heart_rate.value - 70) < 2
    q = assess_quality(rec)
    assert q.channels[0].quality == Quality.UNUSABLE and q.best_channel == "II"
    assert rhythm(rec, channel="flat").statement == "undetermined"
    assert hrv(rec, channel="flat").rmssd.value is None


def test_all_unusable_recording_reports_unusable_not_a_number():
    rec = make_recording({"ECG": (ChannelKind.ECG, np.full(10 * FS, np.nan))})
    res = heart_rate(rec)
    assert res.heart_rate.value is None and res.quality == Quality.UNUSABLE
    assert assess_quality(rec).overall == Quality.UNUSABLE
    ivs = intervals(rec)
    assert ivs.qt.value is None and ivs.leads[0].quality == Quality.UNUSABLE
    assert_no_nan(res)
    assert_no_nan(ivs)


def test_missing_samples_still_give_a_finite_rate():
    x = np.asarray(nk.ecg_simulate(duration=20, sampling_rate=FS, heart_rate=75, random_state=5), dtype=float)
    x[4 * FS : 5 * FS] = np.nan  # a 1-s dropout (5%)
    res = heart_rate(make_recording({"ECG": (ChannelKind.ECG, x)}))
    assert abs(res.heart_rate.value - 75) < 3
    for r in (
        res,
        rhythm(make_recording({"ECG": (ChannelKind.ECG, x)})),
        assess_quality(make_recording({"ECG": (ChannelKind.ECG, x)})),
    ):
        assert_no_nan(r)


def test_bad_channel_names_and_kinds_are_input_errors():
    fs = 125
    rec = make_recording(
        {
            "ECG": (ChannelKind.ECG, nk.ecg_simulate(duration=10, sampling_rate=fs, random_state=1)),
            "acc": (ChannelKind.ACCEL, np.zeros(10 * fs)),
        },
        fs,
    )
    with pytest.raises(InputError, match="no channel"):
        heart_rate(rec, channel="V7")
    with pytest.raises(InputError, match="ACCEL"):
        detect_peaks(rec, channel="acc")
    acc_only = make_recording({"acc": (ChannelKind.ACCEL, np.random.default_rng(0).normal(size=10 * fs))}, fs)
    with pytest.raises(InputError, match="no ECG or PPG"):
        heart_rate(acc_only)
    with pytest.raises(InputError, match="no ECG"):
        intervals(
            make_recording({"PLETH": (ChannelKind.PPG, nk.ppg_simulate(duration=10, sampling_rate=fs))}, fs)
        )
    image = Recording(
        id="img",
        name="photo",
        source_files=[],
        format="image",
        modality=Modality.ECG_IMAGE,
        image=np.zeros((10, 10, 3), np.uint8),
    )
    with pytest.raises(InputError, match="image"):
        heart_rate(image)


# ----------------------------------------------------------------------------------------------- HRV


def test_hrv_of_a_10_s_strip_has_time_domain_only():
    res = hrv(ecg_rec(70))
    assert res.mean_nn.value is not None and abs(res.mean_nn.value - 60000 / 70) < 30
    assert res.rmssd.unit == "ms" and res.pnn50.unit == "%"
    assert not res.frequency_domain_available and res.lf is None and res.lf_hf is None
    assert "not enough data" in res.frequency_domain_note
    assert any("HRV norms" in w for w in res.warnings)
    assert_no_nan(res)


def test_hrv_frequency_domain_on_a_long_recording():
    fs = 200
    x = nk.ecg_simulate(duration=150, sampling_rate=fs, heart_rate=65, random_state=8)
    res = hrv(make_recording({"ECG": (ChannelKind.ECG, x)}, fs))
    assert (
        res.frequency_domain_available and res.lf is not None and res.hf is not None and res.lf_hf is not None
    )
    assert res.lf.unit == "ms²" and res.lf.value >= 0 and res.hf.value >= 0
    assert_no_nan(res)


# -------------------------------------------------------------------------------------------- rhythm


def test_rhythm_regular_irregularly_irregular_and_premature():
    fs = 250
    regular = rhythm(ecg_rec(72, seconds=20, fs=fs))
    assert regular.statement == "regular" and regular.premature_fraction.value == 0
    assert regular.p_wave_presence is not None and regular.p_wave_presence.value > 0.8

    rng = np.random.default_rng(11)
    af_times = np.cumsum(rng.uniform(0.45, 1.15, 40))
    af = rhythm(
        make_recording({"II": (ChannelKind.ECG, beats_at(af_times[af_times < 29], fs, 30, with_p=False))}, fs)
    )
    assert af.statement == "irregularly irregular", af.rule
    assert af.successive_irregularity.value >= 0.5

    rr = []
    for k in range(30):  # every fifth beat early (0.5 s) and followed by a compensatory pause
        rr += [0.5, 1.1] if k % 5 == 4 else [0.8]
    pvc_times = 0.5 + np.cumsum(rr)
    pac = rhythm(make_recording({"II": (ChannelKind.ECG, beats_at(pvc_times[pvc_times < 29], fs, 30))}, fs))
    assert pac.statement == "irregular" and "premature" in pac.rule
    assert 0.1 < pac.premature_fraction.value < 0.3


# ------------------------------------------------------------------------------------------ intervals


def test_intervals_on_a_real_12_lead_record(tests_data):
    from cardioagent.tools.signal.loaders import load_recording

    rec = load_recording(tests_data / "E07500.hea")
    res = intervals(rec)
    assert [lead.lead for lead in res.leads] == STANDARD_12_LEADS
    assert 120 <= res.pr.value <= 220 and 60 <= res.qrs.value <= 130 and 350 <= res.qtc_bazett.value <= 480
    assert res.qtc_fridericia.value == pytest.approx(res.qt.value / (res.rr.value / 1000) ** (1 / 3), abs=1)
    for lead in res.leads:
        if lead.quality == Quality.UNUSABLE:
            assert lead.reason and lead.qt.value is None
    assert_no_nan(res)


def test_intervals_with_a_flat_lead_and_missing_leads_never_raise(tests_data):
    data = np.load(tests_data / "synthetic_12lead.npz")
    sig = np.asarray(data["signal"], dtype=float)
    sig[:, 7] = 0.0  # V2 disconnected
    cols = {name: (ChannelKind.ECG, sig[:, i]) for i, name in enumerate(STANDARD_12_LEADS) if name != "V4"}
    rec = make_recording(cols, float(data["fs"]))
    res = intervals(rec)
    by = {lead.lead: lead for lead in res.leads}
    assert len(res.leads) == 12
    assert by["V2"].quality == Quality.UNUSABLE and "flat" in by["V2"].reason
    assert by["V4"].quality == Quality.UNUSABLE and "absent" in by["V4"].reason
    assert res.qt.value is not None
    assert_no_nan(res)


# ------------------------------------------------------------------------------------- real R-peaks


def test_detect_peaks_against_the_cpsc_annotations(tests_data):
    from cardioagent.tools.signal.loaders import load_recording

    rec = load_recording(tests_data / "cpsc2019_00014.hea")
    ann = next(a for a in rec.annotations if a.source == "atr")
    blind = rec.model_copy(update={"annotations": []})  # the detector never sees the reference
    peaks = detect_peaks(blind)
    assert peak_f1(np.array(peaks.samples), np.array(ann.samples), 500.0) >= 0.95
    assert peaks.times_s[0] == pytest.approx(peaks.samples[0] / 500.0)
    reference = 60.0 / np.mean(np.diff(ann.samples) / 500.0)
    assert abs(heart_rate(blind).heart_rate.value - reference) < 2.0


def test_quality_report_of_a_real_12_lead_record(tests_data):
    from cardioagent.tools.signal.loaders import load_recording

    q = assess_quality(load_recording(tests_data / "JS20000.hea"))
    assert len(q.channels) == 12 and q.overall != Quality.UNUSABLE and q.best_channel in q.usable_channels
    assert all(isinstance(m, Measurement) for c in q.channels for m in c.indices)
    assert {m.name for m in q.channels[0].indices} >= {"kSQI", "pSQI", "basSQI", "bSQI"}


# ------------------------------------------------------------------------------- shared data (larger)


@pytest.mark.shared_data
def test_cpsc2019_heart_rate_mae_below_2_bpm(shared_data):
    from cardioagent.tools.signal.loaders import load_recording

    folder = shared_data / "ecg1_rpeaks_cpsc2019"
    with (folder / "reference.csv").open() as fh:
        refs = list(csv.DictReader(fh))
    errors = []
    for r in refs:
        rec = load_recording(folder / f"{r['record']}.hea").model_copy(update={"annotations": []})
        value = heart_rate(rec).heart_rate.value
        assert value is not None, r["record"]
        errors.append(abs(value - float(r["reference_hr_bpm"])))
    assert len(errors) == 25 and np.mean(errors) < 2.0, errors


@pytest.mark.slow
@pytest.mark.shared_data
def test_intervals_on_every_cinc2021_record(shared_data):
    import wfdb

    folder = shared_data / "ecg12_cinc2021"
    for hea in sorted(folder.glob("*.hea")):
        r = wfdb.rdrecord(str(hea.with_suffix("")))
        rec = make_recording(
            {name: (ChannelKind.ECG, r.p_signal[:, i]) for i, name in enumerate(r.sig_name)},
            float(r.fs),
            hea.stem,
        )
        res = intervals(rec)
        assert len(res.leads) == 12, hea.stem
        assert res.qtc_bazett.value is not None and 300 <= res.qtc_bazett.value <= 600, hea.stem
        assert_no_nan(res)
