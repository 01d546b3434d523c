"""Wrist-PPG heart rate during running (IEEE SPC 2015): ``analysis.heart_rate`` on the two PPG channels
with the three accelerometer axes, the chest ECG removed, per 8-s window (2-s step) against the
reference rate from the chest ECG.

    .venv/bin/python bench/ppg_wrist_hr.py [--data DIR]

The data are read where they lie (their licence forbids copies in the repository). Prints the MAE per
recording and over all windows and writes bench/results/ppg_wrist_hr.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ppg_wrist_spc2015"
OUT = REPO / "bench" / "results" / "ppg_wrist_hr.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    files = sorted(p for p in args.data.glob("DATA_*.csv") if not p.stem.endswith("_reference_hr"))
    if not files:
        print(f"no DATA_*.csv in {args.data}", file=sys.stderr)
        return 2

    from cardioagent.tools.analysis import heart_rate
    from cardioagent.tools.signal.loaders import load_recording
    from cardioagent.tools.signal.recording import ChannelKind

    rows, all_err = [], []
    for f in files:
        rec = load_recording(f)
        keep = [
            i for i, c in enumerate(rec.channels) if c.kind != ChannelKind.ECG
        ]  # PPG + accelerometer only
        rec = rec.model_copy(
            update={
                "signal": rec.signal[:, keep],
                "channels": [rec.channels[i] for i in keep],
                "id": rec.id + "-no-ecg",
            }
        )
        with (args.data / f"{f.stem}_reference_hr.csv").open() as fh:
            ref = {round(float(r["window_start_s"]), 1): float(r["hr_bpm"]) for r in csv.DictReader(fh)}
        t0 = time.perf_counter()
        res = heart_rate(rec, window_s=8.0, step_s=2.0)
        elapsed = time.perf_counter() - t0
        err = [
            abs(w.bpm.value - ref[round(w.start_s, 1)])
            for w in res.windows
            if w.bpm.value is not None and round(w.start_s, 1) in ref
        ]
        all_err += err
        rows.append(
            {
                "recording": f.stem,
                "windows": len(err),
                "mae_bpm": round(statistics.fmean(err), 2),
                "seconds": round(elapsed, 2),
                "method": res.method,
            }
        )
        print(f"{f.stem:16s} windows {len(err):4d}  MAE {statistics.fmean(err):6.2f} bpm  ({elapsed:.1f} s)")
    summary = {
        "recordings": len(rows),
        "windows": len(all_err),
        "mae_bpm_all_windows": round(statistics.fmean(all_err), 2),
        "mae_bpm_mean_of_recordings": round(statistics.fmean(r["mae_bpm"] for r in rows), 2),
    }
    print(
        f"MAE over all {summary['windows']} windows: {summary['mae_bpm_all_windows']} bpm "
        f"(mean of per-recording MAEs {summary['mae_bpm_mean_of_recordings']} bpm)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "ppg_wrist_hr",
                "command": ".venv/bin/python bench/ppg_wrist_hr.py"
                + ("" if args.data == DEFAULT_DATA else f" --data {args.data}"),
                "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "note": "development figure: the spectral method's three settings (suppression 1.0, "
                "tracking SD 12 bpm, floor 0.2) were chosen on these same recordings",
                "summary": summary,
                "recordings": rows,
            },
            indent=1,
        )
    )
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
