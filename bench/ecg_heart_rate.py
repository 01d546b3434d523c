"""Heart rate on the CPSC-2019 single-lead records: ours (``analysis.heart_rate``) against neurokit2's
default pipeline, both against the reference rate (60 / mean RR of the annotated R-peaks), on a split
declared before tuning.

    .venv/bin/python bench/ecg_heart_rate.py [--data DIR] [--split tune|report|all] [--extra]

Split (fixed, by record, declared here before any tuning): the 25 records sorted by name, every other
one from the first (indices 0, 2, ..., 24: 13 records) is the **tune** split, the rest (12 records) the
**reporting** split. The thresholds of ``signal.ecg`` that are not published values (RR_TOL, the shape
rule and the detection-quality thresholds) were chosen looking at the tune split (``--split tune``, and
noise-burst copies of its records) and at MIT-BIH 100 strips with added noise, never at the reporting
split's records. The rules these replaced had been written on all 25 records, so their 0.094 bpm was
a development figure.

Honest history of the reporting split: it was first run with the rules fixed on the tune split
(reporting-split MAE 2.644 bpm, tune 0.155). After that run, three changes were made from what the tune
split's noise-burst copies and MIT-BIH 100 strips with added noise showed, not from the reporting
records: a candidate found by a quarter of the detectors is accepted when it passes both QRS tests,
a detector that found fewer beats than 20 bpm gives abstains, and ACCEPTABLE / GOOD need half of the
detectors to reach the rate on their own (was three of eight / half). The figures this script writes
are the second and last run of the reporting split.

The estimator never sees the reference: annotations are stripped from each Recording before the call,
and the ``.atr`` peaks are read here only to score (MAE of the rate, and R-peak F1 at 150 ms). Prints a
table per record, then MAE / max error / MAE by quality flag per split with neurokit2's default side by
side, and writes bench/results/ecg_heart_rate.json (full run only, unless --out is given). ``--extra``
adds the sanity checks on MIT-BIH 100 (30 min, 2,273 annotated beats) and the CinC-2021 12-lead records
(against the header's rate class: SB < 60, ST > 100, else 60-100 bpm).
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
    rec = Recording(
        id="warm-up",
        name="warm-up",
        source_files=[],
        format="numpy",
        modality=Modality.ECG,
        sampling_rate_hz=500.0,
        channels=[Channel(name="ECG", kind=ChannelKind.ECG, unit="mV")],
        signal=np.asarray(x, dtype=float)[:, None],
    )
    for fn in functions:
        fn(rec)


def split_of(names: list[str]) -> dict[str, str]:
    """The declared split: sorted record names, even positions -> 'tune', odd positions -> 'report'."""
    return {n: ("tune" if k % 2 == 0 else "report") for k, n in enumerate(sorted(names))}


def summarize(rows: list[dict]) -> dict:
    scored = [r for r in rows if r["abs_err_ours"] is not None]
    by_flag = {}
    for flag in ("good", "acceptable", "poor", "unusable"):
        errs = [r["abs_err_ours"] for r in scored if r["ours_quality"] == flag]
        if errs:
            by_flag[flag] = {
                "n": len(errs),
                "mae_bpm": round(statistics.fmean(errs), 3),
                "max_bpm": max(errs),
            }
    return {
        "n_records": len(rows),
        "n_with_estimate": len(scored),
        "mae_ours_bpm": round(statistics.fmean(r["abs_err_ours"] for r in scored), 3) if scored else None,
        "max_abs_err_ours_bpm": max((r["abs_err_ours"] for r in scored), default=None),
        "mae_neurokit_default_bpm": round(statistics.fmean(r["abs_err_neurokit"] for r in rows), 3)
        if rows
        else None,
        "max_abs_err_neurokit_bpm": max((r["abs_err_neurokit"] for r in rows), default=None),
        "f1_rpeaks_ours": round(statistics.fmean(r["f1_ours"] for r in rows), 4) if rows else None,
        "f1_rpeaks_neurokit_default": round(statistics.fmean(r["f1_neurokit"] for r in rows), 4)
        if rows
        else None,
        "mae_by_flag_ours": by_flag,
    }


def _recording(name: str, signal: np.ndarray, fs: float, channel_names: list[str]):
    from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording

    return Recording(
        id=name,
        name=name,
        source_files=[],
        format="numpy",
        modality=Modality.ECG,
        sampling_rate_hz=fs,
        channels=[Channel(name=c, kind=ChannelKind.ECG, unit="mV") for c in channel_names],
        signal=np.asarray(signal, dtype=float),
    )


def extra_checks(shared: Path) -> dict:
    """MIT-BIH 100 (reference: 60 / mean RR of the annotated beats) and the CinC-2021 12-lead records
    (the header's rate class, as a sanity check only)."""
    import wfdb

    from cardioagent.tools.analysis import heart_rate

    out: dict = {}
    mit = shared / "mitbih" / "100"
    if mit.with_suffix(".hea").is_file():
        r = wfdb.rdrecord(str(mit))
        ann = wfdb.rdann(str(mit), "atr")
        beat_codes = set("NLRBAaJSVrFejnE/fQ?")
        beats = np.array([s for s, c in zip(ann.sample, ann.symbol, strict=False) if c in beat_codes])
        ref = 60.0 / np.mean(np.diff(beats) / r.fs)
        t0 = time.perf_counter()
        hr = heart_rate(_recording("mitbih100", r.p_signal, float(r.fs), r.sig_name))
        el = time.perf_counter() - t0
        out["mitbih100"] = {
            "reference_bpm": round(float(ref), 2),
            "n_annotated_beats": len(beats),
            "ours_bpm": hr.heart_rate.value,
            "quality": hr.heart_rate.quality.value,
            "abs_err": None if hr.heart_rate.value is None else round(abs(hr.heart_rate.value - ref), 2),
            "channels": hr.channels_used,
            "seconds": round(el, 1),
        }
        print(
            f"MIT-BIH 100: reference {ref:.2f} bpm ({len(beats)} beats), ours {hr.heart_rate.value} "
            f"({hr.heart_rate.quality.value}, {'+'.join(hr.channels_used)}) in {el:.1f} s"
        )
    cinc = shared / "ecg12_cinc2021"
    rows = []
    for hea in sorted(cinc.glob("*.hea")):
        r = wfdb.rdrecord(str(hea.with_suffix("")))
        dx = next((c.split(":", 1)[1].strip() for c in r.comments if c.startswith("Dx")), "")
        codes = set(dx.split(","))
        klass = (
            "SB <60"
            if "426177001" in codes
            else "ST >100"
            if "427084000" in codes
            else "60-100 expected"
            if "426783006" in codes
            else "other"
        )
        v = heart_rate(_recording(hea.stem, r.p_signal, float(r.fs), r.sig_name)).heart_rate
        ok = None
        if v.value is not None:
            ok = {
                "SB <60": v.value < 60,
                "ST >100": v.value > 100,
                "60-100 expected": 60 <= v.value <= 100,
            }.get(klass)
        rows.append(
            {
                "record": hea.stem,
                "dx_rate_class": klass,
                "ours_bpm": v.value,
                "quality": v.quality.value,
                "consistent": ok,
            }
        )
    if rows:
        checked = [r for r in rows if r["consistent"] is not None]
        out["cinc2021"] = {
            "n_records": len(rows),
            "n_with_rate_class": len(checked),
            "n_consistent": sum(bool(r["consistent"]) for r in checked),
            "records": rows,
        }
        print(
            f"CinC-2021: {sum(bool(r['consistent']) for r in checked)}/{len(checked)} records with a sinus rate "
            f"class (SB/NSR/ST in the header) fall in it; inconsistent: "
            f"{[(r['record'], r['dx_rate_class'], r['ours_bpm']) for r in checked if not r['consistent']]}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="folder with reference.csv and WFDB records"
    )
    ap.add_argument(
        "--out", type=Path, default=None, help=f"JSON output (default {OUT.relative_to(REPO)} on a full run)"
    )
    ap.add_argument(
        "--split",
        choices=("tune", "report", "all"),
        default="all",
        help="score only this split ('tune' while tuning: the reporting split stays unseen)",
    )
    ap.add_argument(
        "--extra", action="store_true", help="also MIT-BIH 100 and the CinC-2021 12-lead sanity check"
    )
    args = ap.parse_args(argv)
    ref_csv = args.data / "reference.csv"
    if not ref_csv.is_file():
        print(f"no reference.csv in {args.data}", file=sys.stderr)
        return 2
    out_path = args.out if args.out is not None else (OUT if args.split == "all" else None)

    import wfdb

    from cardioagent.tools.analysis import assess_quality, detect_peaks, heart_rate
    from cardioagent.tools.signal.ecg import peak_f1
    from cardioagent.tools.signal.loaders import load_recording

    rows = []
    with ref_csv.open() as fh:
        refs = list(csv.DictReader(fh))
    split = split_of([r["record"] for r in refs])
    refs = [r for r in refs if args.split == "all" or split[r["record"]] == args.split]
    _warm_up(heart_rate, assess_quality)

    header = (
        f"{'record':16s} {'split':>6s} {'ref':>7s} {'ours':>7s} {'nk2':>7s} {'|err| ours':>10s} {'|err| nk2':>9s} "
        f"{'F1 ours':>7s} {'F1 nk2':>6s} {'flag':>10s} {'ms':>6s}"
    )
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
        peaks_result = detect_peaks(rec)
        our_peaks = np.asarray(peaks_result.samples)

        x = rec.signal[:, 0]
        nk_hr, nk_peaks = neurokit_default(x, fs)
        ann = wfdb.rdann(str(args.data / name), "atr").sample
        row = {
            "record": name,
            "split": split[name],
            "reference_bpm": reference,
            "ours_bpm": ours,
            "ours_quality": hr.heart_rate.quality.value,
            "neurokit_bpm": round(nk_hr, 2),
            "abs_err_ours": None if ours is None else round(abs(ours - reference), 2),
            "abs_err_neurokit": round(abs(nk_hr - reference), 2),
            "f1_ours": round(peak_f1(our_peaks, ann, fs, 0.15), 4),
            "f1_neurokit": round(peak_f1(nk_peaks, ann, fs, 0.15), 4),
            "channel_quality": q.overall.value,
            "detector": peaks_result.detector,
            "repairs": peaks_result.repairs,
            "hr_and_quality_s": round(elapsed, 4),
        }
        rows.append(row)
        ours_s = "-" if ours is None else f"{ours:.2f}"
        err_s = "-" if ours is None else f"{row['abs_err_ours']:.2f}"
        print(
            f"{name:16s} {split[name]:>6s} {reference:7.2f} {ours_s:>7s} {nk_hr:7.2f} {err_s:>10s} "
            f"{row['abs_err_neurokit']:9.2f} {row['f1_ours']:7.3f} {row['f1_neurokit']:6.3f} "
            f"{row['ours_quality']:>10s} {1000 * elapsed:6.0f}"
        )

    parts = {
        "tune (tuned on)": [r for r in rows if r["split"] == "tune"],
        "report (reporting split)": [r for r in rows if r["split"] == "report"],
        "all 25": rows,
    }
    summaries = {k: summarize(v) for k, v in parts.items() if v}
    print("-" * len(header))
    print(
        f"{'split':26s} {'n':>3s} {'MAE ours':>9s} {'max ours':>9s} {'MAE nk2':>8s} {'max nk2':>8s} "
        f"{'F1 ours':>8s} {'F1 nk2':>7s}  MAE by flag (ours): n / MAE / max"
    )
    for k, sm in summaries.items():
        flags = "; ".join(
            f"{f} {v['n']} / {v['mae_bpm']:.2f} / {v['max_bpm']:.2f}"
            for f, v in sm["mae_by_flag_ours"].items()
        )
        print(
            f"{k:26s} {sm['n_records']:3d} {sm['mae_ours_bpm']:9.3f} {sm['max_abs_err_ours_bpm']:9.2f} "
            f"{sm['mae_neurokit_default_bpm']:8.3f} {sm['max_abs_err_neurokit_bpm']:8.2f} {sm['f1_rpeaks_ours']:8.4f} "
            f"{sm['f1_rpeaks_neurokit_default']:7.4f}  {flags}"
        )
    print(
        f"HR+quality per record: mean {1000 * statistics.fmean(r['hr_and_quality_s'] for r in rows):.0f} ms, "
        f"max {1000 * max(r['hr_and_quality_s'] for r in rows):.0f} ms"
    )
    extra = extra_checks(args.data.parent) if args.extra else {}

    if out_path is None:
        return 0
    out_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = ".venv/bin/python bench/ecg_heart_rate.py" + (
        "" if args.data == DEFAULT_DATA else f" --data {args.data}"
    )
    cmd += ("" if args.split == "all" else f" --split {args.split}") + (" --extra" if args.extra else "")
    payload = {
        "benchmark": "ecg_heart_rate",
        "command": cmd,
        "data": str(args.data),
        "split": "25 records sorted by name; even positions (0, 2, ..., 24) = tune (13), odd positions = report (12); "
        "declared in bench/ecg_heart_rate.py before tuning",
        "tuning": "RR_TOL, the quarter-vote shape rule and the detection-quality thresholds of "
        "cardioagent.tools.signal.ecg were chosen on the tune split (and noise-burst copies of it) and on "
        "MIT-BIH 100 strips with added noise; published values (Pan-Tompkins, Lipponen-Tarvainen, "
        "Orphanidou) were not tuned",
        "reporting_split_runs": [
            {
                "run": 1,
                "mae_report_bpm": 2.644,
                "mae_tune_bpm": 0.155,
                "mae_all_bpm": 1.350,
                "rules": "fixed on the tune split before the reporting split was first scored",
            },
            {
                "run": 2,
                "rules": "this file's rules: run 1 plus the quarter-vote shape rule, abstaining detectors and "
                "majority rate agreement for ACCEPTABLE, chosen on noise-burst copies of the tune "
                "records and MIT-BIH 100 strips with added noise",
            },
        ],
        "previous_figure": "the rule set this replaced scored 0.094 bpm on all 25 records, the records it was written "
        "on (a development figure); on other CPSC-2019 records it measured 3.87 bpm",
        "reference": "60 / mean RR of the annotated R-peaks (.atr), from reference.csv",
        "ours": "cardioagent.tools.analysis.heart_rate(rec).heart_rate.value (annotations stripped from rec); "
        "flag = heart_rate(rec).heart_rate.quality",
        "neurokit_default": "neurokit2.ecg_process(x, sampling_rate=fs): mean of ECG_Rate",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "summary": summaries,
        "extra": extra,
        "records": rows,
    }
    out_path.write_text(json.dumps(payload, indent=1))
    print(f"wrote {out_path.relative_to(REPO) if out_path.is_relative_to(REPO) else out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
