"""Copy the small real records into tests/data and cut the excerpts (see README.md for sources/licences).

    .venv/bin/python tests/data/make_excerpts.py [--shared ../shared/data]

Excerpts keep the original digital samples, gains, baselines and storage formats, so they read back in
exactly the physical units of the source record.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import wfdb

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parents[2] / "shared" / "data"

COPIES = {
    "ecg12_cinc2021": ["E07500.hea", "E07500.mat", "JS20000.hea", "JS20000.mat"],
    "ecg1_rpeaks_cpsc2019": ["cpsc2019_00014.hea", "cpsc2019_00014.dat", "cpsc2019_00014.atr"],
}


def excerpt(src: Path, out_name: str, seconds: float, note: str, annotators: tuple[str, ...] = ()) -> None:
    rec = wfdb.rdrecord(str(src), physical=False)
    n = round(seconds * rec.fs)
    wfdb.wrsamp(
        out_name,
        fs=rec.fs,
        units=rec.units,
        sig_name=rec.sig_name,
        d_signal=rec.d_signal[:n],
        fmt=rec.fmt,
        adc_gain=rec.adc_gain,
        baseline=rec.baseline,
        comments=[*rec.comments, note],
        write_dir=str(HERE),
    )
    for ext in annotators:
        ann = wfdb.rdann(str(src), ext)
        keep = ann.sample < n
        aux = [a for a, k in zip(ann.aux_note, keep, strict=False) if k] if ann.aux_note else None
        wfdb.wrann(
            out_name,
            ext,
            sample=ann.sample[keep],
            symbol=np.asarray(ann.symbol)[keep].tolist(),
            subtype=np.asarray(ann.subtype)[keep],
            chan=np.asarray(ann.chan)[keep],
            num=np.asarray(ann.num)[keep],
            aux_note=aux,
            fs=rec.fs,
            write_dir=str(HERE),
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    shared = ap.parse_args().shared
    for folder, names in COPIES.items():
        for name in names:
            dest = HERE / name
            shutil.copyfile(shared / folder / name, dest)
            dest.chmod(0o644)
    excerpt(
        shared / "mitbih" / "100",
        "mitbih100_60s",
        60,
        "excerpt: first 60 s of MIT-BIH Arrhythmia Database record 100",
        ("atr", "qrs"),
    )
    excerpt(
        shared / "icu_ppg_ecg" / "a103l",
        "a103l_30s",
        30,
        "excerpt: first 30 s of PhysioNet/CinC Challenge 2015 record a103l",
    )
    for p in sorted(HERE.glob("*")):
        if p.is_file() and not p.name.endswith((".py", ".md")) and not p.name.startswith("synthetic_"):
            print(f"{p.name}  {p.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
