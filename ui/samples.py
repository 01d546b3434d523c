"""Example recordings a first-time user can try with one click (from ``tests/data``; see its README for
sources and licences). Only samples whose files are present are offered."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel


class Sample(BaseModel):
    key: str
    label: str
    files: list[str]
    question: str

    def paths(self, folder: Path) -> list[Path]:
        return [folder / f for f in self.files]


SAMPLES = [
    Sample(
        key="e07500",
        label="12-lead ECG, 10 s (CinC 2021 E07500)",
        files=["E07500.hea", "E07500.mat"],
        question="What is the heart rate and is the rhythm regular?",
    ),
    Sample(
        key="mitbih100",
        label="2-lead Holter ECG, 60 s (MIT-BIH 100)",
        files=["mitbih100_60s.hea", "mitbih100_60s.dat", "mitbih100_60s.atr"],
        question="What is the heart rate and the heart-rate variability?",
    ),
    Sample(
        key="edf",
        label="ECG + PPG, EDF (synthetic)",
        files=["synthetic_ecg_ppg.edf"],
        question="What is the heart rate?",
    ),
    Sample(
        key="ppg_csv",
        label="Wrist PPG + accelerometer, CSV (synthetic)",
        files=["synthetic_ppg_accel.csv"],
        question="What is the pulse rate, and is the signal clean?",
    ),
]


def available_samples(folder: Path) -> list[Sample]:
    return [s for s in SAMPLES if all(p.is_file() for p in s.paths(folder))]
