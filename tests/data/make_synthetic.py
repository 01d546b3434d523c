"""Write the synthetic test records and the malformed uploads under tests/data (fixed seeds).

    .venv/bin/python tests/data/make_synthetic.py

Everything here is generated (neurokit2 simulators, numpy), so it carries no data-set licence. The
real-record excerpts are made by make_excerpts.py instead.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import neurokit2 as nk
import numpy as np
import pyedflib
from scipy.signal import resample_poly

HERE = Path(__file__).resolve().parent
MALFORMED = HERE / "malformed"
SEED = 2024


def _ecg(duration: float, fs: int, heart_rate: float, seed: int) -> np.ndarray:
    """Single-lead ECG in mV; simulated at 500 Hz (ECGSYN is unstable at low rates) then resampled."""
    x = nk.ecg_simulate(duration=duration, sampling_rate=500, heart_rate=heart_rate, random_state=seed)
    return resample_poly(x, fs, 500)[: int(duration * fs)] if fs != 500 else np.asarray(x)


def ppg_accel_csv(path: Path) -> None:
    """30 s at 125 Hz with the SPC-2015 column layout: time_s, ppg1, ppg2, acc_x, acc_y, acc_z, ecg_chest."""
    fs, duration = 125, 30
    rng = np.random.default_rng(SEED)
    n = fs * duration
    t = np.arange(n) / fs
    ppg1 = nk.ppg_simulate(duration=duration, sampling_rate=fs, heart_rate=95, random_state=SEED)
    ppg2 = nk.ppg_simulate(duration=duration, sampling_rate=fs, heart_rate=95, random_state=SEED + 1)
    step = 2 * np.pi * 2.6 * t  # arm swing while running, ~2.6 Hz
    acc_x = 0.25 * np.sin(step) + 0.02 * rng.standard_normal(n)
    acc_y = 0.15 * np.sin(step + 1.0) + 0.02 * rng.standard_normal(n)
    acc_z = 1.0 + 0.10 * np.sin(2 * step) + 0.02 * rng.standard_normal(n)
    ecg = _ecg(duration, fs, 95, SEED)
    cols = np.column_stack([t, 50 * ppg1[:n], 50 * ppg2[:n], acc_x, acc_y, acc_z, ecg[:n]])
    np.savetxt(
        path,
        cols,
        delimiter=",",
        fmt=["%.3f", "%.2f", "%.2f", "%.4f", "%.4f", "%.4f", "%.4f"],
        header="time_s,ppg1,ppg2,acc_x,acc_y,acc_z,ecg_chest",
        comments="",
    )


def twelve_lead_npz(path: Path) -> None:
    """10 s, 500 Hz, 12 leads, samples x channels, float32 to stay small."""
    df = nk.ecg_simulate(
        duration=10, sampling_rate=500, method="multileads", heart_rate=72, random_state=SEED
    )
    np.savez_compressed(
        path,
        signal=df.to_numpy(dtype=np.float32),
        fs=np.float64(500),
        channels=np.array(list(df.columns)),
        units=np.array(["mV"] * df.shape[1]),
    )


def ecg_ppg_edf(path: Path) -> None:
    """EDF+ with channels at different rates (ECG 256 Hz in uV, PPG 128 Hz, Resp 32 Hz, EEG 100 Hz),
    a female patient born 1961-03-15 recorded 2021-06-01 (age 60), and three annotations."""
    duration = 30
    rng = np.random.default_rng(SEED)
    ecg_uv = 1000.0 * _ecg(duration, 256, 64, SEED)
    ppg = nk.ppg_simulate(duration=duration, sampling_rate=128, heart_rate=64, random_state=SEED)
    resp = nk.rsp_simulate(duration=duration, sampling_rate=32, respiratory_rate=14, random_state=SEED)
    eeg = 20 * rng.standard_normal(100 * duration)
    channels = [
        ("ECG", "uV", 256, ecg_uv),
        ("Pleth", "NU", 128, ppg),
        ("Resp", "NU", 32, resp),
        ("EEG Fpz-Cz", "uV", 100, eeg),
    ]
    writer = pyedflib.EdfWriter(str(path), len(channels), file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        headers = []
        for label, unit, fs, x in channels:
            lo, hi = float(np.min(x)), float(np.max(x))
            pad = 0.05 * (hi - lo)
            # EDF stores limits as 8 characters; round outwards so nothing is truncated.
            scale = 10.0 if max(abs(lo), abs(hi)) > 100 else 1000.0
            lo, hi = np.floor((lo - pad) * scale) / scale, np.ceil((hi + pad) * scale) / scale
            headers.append(
                {
                    "label": label,
                    "dimension": unit,
                    "sample_frequency": fs,
                    "physical_min": lo,
                    "physical_max": hi,
                    "digital_min": -32768,
                    "digital_max": 32767,
                    "transducer": "",
                    "prefilter": "",
                }
            )
        writer.setSignalHeaders(headers)
        writer.setStartdatetime(datetime.datetime(2021, 6, 1, 9, 30, 0))
        writer.setSex(0)  # 0 female, 1 male in EDF+
        writer.setBirthdate(datetime.date(1961, 3, 15))
        writer.setPatientCode("SYNTH-1")
        writer.writeSamples([np.asarray(x, dtype=np.float64) for *_, x in channels])
        writer.writeAnnotation(2.0, -1, "Lights off")
        writer.writeAnnotation(10.5, 1.0, "Cough")
        writer.writeAnnotation(25.0, -1, "Movement")
    finally:
        writer.close()


def _write_csv(path: Path, header: str | None, cols: np.ndarray, fmt: str = "%.5f") -> None:
    np.savetxt(path, cols, delimiter=",", fmt=fmt, header=header or "", comments="")


def _wfdb_header(name: str, data_file: str, n_sig: int, fs: int, n: int) -> str:
    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    lines = [f"{name} {n_sig} {fs} {n}"]
    lines += [f"{data_file} 16 1000/mV 16 0 0 0 0 {leads[i % 12]}" for i in range(n_sig)]
    return "\n".join(lines) + "\n"


def malformed() -> None:
    MALFORMED.mkdir(exist_ok=True)
    rng = np.random.default_rng(SEED)
    fs = 250
    ecg10 = _ecg(10, fs, 70, SEED)
    digital = np.round(ecg10 * 1000).astype("<i2")

    (MALFORMED / "notes.txt").write_text("Patient felt palpitations after coffee.\n")
    (MALFORMED / "missing_dat.hea").write_text(
        _wfdb_header("missing_dat", "missing_dat.dat", 1, fs, len(digital))
    )
    (MALFORMED / "truncated.hea").write_text(_wfdb_header("truncated", "truncated.dat", 1, fs, len(digital)))
    (MALFORMED / "truncated.dat").write_bytes(digital[: len(digital) // 4].tobytes())
    (MALFORMED / "lead_mismatch.hea").write_text(
        _wfdb_header("lead_mismatch", "lead_mismatch.dat", 12, fs, len(digital))
    )
    (MALFORMED / "lead_mismatch.dat").write_bytes(digital.tobytes())
    (MALFORMED / "not_really.edf").write_text("This is a text file that someone renamed to .edf\n" * 10)

    _write_csv(MALFORMED / "no_time_column.csv", "ecg", ecg10[:, None])
    t20 = np.arange(200) * 0.05
    _write_csv(MALFORMED / "rate_20hz.csv", "time_s,ecg", np.column_stack([t20, ecg10[:200]]), fmt="%.5f")
    t20k = np.arange(2000) * 0.00005
    _write_csv(MALFORMED / "rate_20khz.csv", "time_s,ecg", np.column_stack([t20k, ecg10[:2000]]), fmt="%.6f")
    t = np.arange(len(ecg10)) / fs
    nan = np.full(len(t), np.nan)
    _write_csv(MALFORMED / "all_nan.csv", "time_s,ecg,ppg", np.column_stack([t, nan, nan]), fmt="%.4f")
    flat = np.full(len(t), 0.25)
    _write_csv(MALFORMED / "flat_line.csv", "time_s,ecg", np.column_stack([t, flat]), fmt="%.4f")
    n3 = 3 * fs
    noisy = ecg10[:n3] + 0.01 * rng.standard_normal(n3)
    _write_csv(MALFORMED / "short_3s.csv", "time_s,ecg", np.column_stack([t[:n3], noisy]), fmt="%.5f")


def main() -> None:
    ppg_accel_csv(HERE / "synthetic_ppg_accel.csv")
    twelve_lead_npz(HERE / "synthetic_12lead.npz")
    ecg_ppg_edf(HERE / "synthetic_ecg_ppg.edf")
    malformed()
    for p in sorted([*HERE.glob("synthetic_*"), *MALFORMED.iterdir()]):
        print(f"{p.relative_to(HERE)}  {p.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
