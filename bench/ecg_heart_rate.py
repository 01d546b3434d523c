"""Heart rate on the CPSC-2019 single-lead records: ours (``analysis.heart_rate``) against neurokit2's
default pipeline, both against the reference rate (60 / mean RR of the annotated R-peaks).

    .venv/bin/python bench/ecg_heart_rate.py [--data DIR]

The estimator never sees the reference: annotations are stripped from each Recording before the call,
and the ``.atr`` peaks are read here only to score (MAE of the rate, and R-peak F1 at 150 ms). Prints a
table per record and writes bench/results/ecg_heart_rate.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ecg1_rpeaks_cpsc2019"
OUT = REPO / "bench" / "results" / "ecg_heart_rate.json"


def neurokit_default(x: np.ndarray, fs: float) -> tuple[float, np.ndarray]:
    """neurokit2's one-call pipeline: ``ecg_process`` (neurokit cleaning and detector), mean of ECG_Rate."""
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signals, info = nk.ecg_process(x, sampling_rate=fs)
    return float(signals["ECG_Rate"].mean()), np.asarray(info["ECG_R_Peaks"], dtype=int)


def _warm_up(*functions) -> None:
    """The first call pays neurokit2's and scipy's import and first-use costs; pay them on a synthetic
    strip (not on a benchmark record, whose results would then come from the cache)."""
    import neurokit2 as nk

    from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording

    x = nk.ecg_simulate(duration=10, sampling_rate=500, heart_rate=70, random_state=1)
    rec = Recording(id="warm-up", name="warm-up", source_files=[], format="numpy", modality=Modality.ECG,
                    sampling_rate_hz=500.0, channels=[Channel(name="ECG", kind=ChannelKind.ECG, unit="mV")],
                    signal=np.asarray(x, dtype=float)[:, None])
    for fn in functions:
        fn(rec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with reference.csv and WFDB records")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    ref_csv = args.data / "reference.csv"
    if not ref_csv.is_file():
        print(f"no reference.csv in {args.data}", file=sys.stderr)
        return 2

    import wfdb

    from cardioagent.tools.analysis import assess_quality, detect_peaks, heart_rate
    from cardioagent.tools.signal.ecg import peak_f1
    from cardioagent.tools.signal.loaders import load_recording

    rows = []
    with ref_csv.open() as fh:
        refs = list(csv.DictReader(fh))
    _warm_up(heart_rate, assess_quality)

    header = f"{'record':16s} {'ref':>7s} {'ours':>7s} {'nk2':>7s} {'|err| ours':>10s} {'|err| nk2':>9s} {'F1 ours':>7s} {'F1 nk2':>6s} {'quality':>10s} {'ms':>6s}"
    print(header)
    print("-" * len(header))
    for r in refs:
        name = r["record"]
        reference = float(r["reference_hr_bpm"])
        rec = load_recording(args.data / f"{name}.hea").model_copy(update={"annotations": []})  # no leakage
        fs = float(rec.sampling_rate_hz)
        # each record is new to the analysis caches (keyed on the signal), so this times a cold analysis
        t0 = time.perf_counter()
        q = assess_quality(rec)
        hr = heart_rate(rec)
        elapsed = time.perf_counter() - t0
        ours = hr.heart_rate.value
        our_peaks = np.asarray(detect_peaks(rec).samples)

        x = rec.signal[:, 0]
        nk_hr, nk_peaks = neurokit_default(x, fs)
        ann = wfdb.rdann(str(args.data / name), "atr").sample
        row = {
            "record": name,
            "reference_bpm": reference,
            "ours_bpm": ours,
            "ours_quality": hr.heart_rate.quality.value,
            "neurokit_bpm": round(nk_hr, 2),
            "abs_err_ours": None if ours is None else round(abs(ours - reference), 2),
            "abs_err_neurokit": round(abs(nk_hr - reference), 2),
            "f1_ours": round(peak_f1(our_peaks, ann, fs, 0.15), 4),
            "f1_neurokit": round(peak_f1(nk_peaks, ann, fs, 0.15), 4),
            "channel_quality": q.overall.value,
            "hr_and_quality_s": round(elapsed, 4),
        }
        rows.append(row)
        ours_s = "-" if ours is None else f"{ours:.2f}"
        err_s = "-" if ours is None else f"{row['abs_err_ours']:.2f}"
        print(f"{name:16s} {reference:7.2f} {ours_s:>7s} {nk_hr:7.2f} {err_s:>10s} {row['abs_err_neurokit']:9.2f} "
              f"{row['f1_ours']:7.3f} {row['f1_neurokit']:6.3f} {row['ours_quality']:>10s} {1000 * elapsed:6.0f}")

    scored = [r for r in rows if r["abs_err_ours"] is not None]
    summary = {
        "n_records": len(rows),
        "n_with_estimate": len(scored),
        "mae_ours_bpm": round(statistics.fmean(r["abs_err_ours"] for r in scored), 3) if scored else None,
        "mae_neurokit_default_bpm": round(statistics.fmean(r["abs_err_neurokit"] for r in rows), 3),
        "max_abs_err_ours_bpm": max((r["abs_err_ours"] for r in scored), default=None),
        "f1_rpeaks_ours": round(statistics.fmean(r["f1_ours"] for r in rows), 4),
        "f1_rpeaks_neurokit_default": round(statistics.fmean(r["f1_neurokit"] for r in rows), 4),
        "hr_and_quality_s_mean": round(statistics.fmean(r["hr_and_quality_s"] for r in rows), 4),
        "hr_and_quality_s_max": round(max(r["hr_and_quality_s"] for r in rows), 4),
    }
    print("-" * len(header))
    print(f"MAE ours {summary['mae_ours_bpm']} bpm | neurokit2 default (ecg_process, mean ECG_Rate) "
          f"{summary['mae_neurokit_default_bpm']} bpm | R-peak F1 (150 ms) ours {summary['f1_rpeaks_ours']} "
          f"vs neurokit2 {summary['f1_rpeaks_neurokit_default']} | HR+quality per record: mean "
          f"{1000 * summary['hr_and_quality_s_mean']:.0f} ms, max {1000 * summary['hr_and_quality_s_max']:.0f} ms")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "ecg_heart_rate",
        "command": ".venv/bin/python bench/ecg_heart_rate.py" + ("" if args.data == DEFAULT_DATA else f" --data {args.data}"),
        "data": str(args.data),
        "reference": "60 / mean RR of the annotated R-peaks (.atr), from reference.csv",
        "ours": "cardioagent.tools.analysis.heart_rate(rec).heart_rate.value (annotations stripped from rec)",
        "neurokit_default": "neurokit2.ecg_process(x, sampling_rate=fs): mean of ECG_Rate",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "summary": summary,
        "records": rows,
    }
    args.out.write_text(json.dumps(payload, indent=1))
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
