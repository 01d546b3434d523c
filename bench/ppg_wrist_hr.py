"""Wrist-PPG heart rate during running (IEEE SPC 2015): ``analysis.heart_rate`` on the two PPG channels
with the three accelerometer axes, the chest ECG removed, per 8-s window (2-s step) against the
reference rate from the chest ECG.

    .venv/bin/python bench/ppg_wrist_hr.py [--data DIR]

Split (declared before the tracker of ``signal.ppg_spectral`` was tuned): the 12 recordings sorted by
name; even positions (0-based: DATA_01, 03, 05, 07, 09, 11) are the tune split, on which settings were
chosen; odd positions (DATA_02, 04, 06, 08, 10, 12) are the report split, measured only to report.
(The previous method's three settings were chosen on all 12 recordings, so its report-split figure is
not a held-out one.)

Side by side, on the same windows: ``heart_rate`` (the default tool: ``ppg_spectral_rate``, Wiener
filter + Viterbi tracking), ``ppg_spectral_rate(method="schaeck2017", tracking="greedy")`` (spectral
subtraction, bounded-jump greedy tracking), the previous default (``ppg.spectral_hr`` tracked window to
window) and neurokit2 (``ppg_clean`` + ``ppg_findpeaks`` on ppg1, 60 / mean interval per window, no
motion handling). Every window counts: a refused window is counted as refused, not dropped silently.
MAE by quality flag is given for the tool. The data are read where they lie (their licence forbids
copies in the repository). Writes bench/results/ppg_wrist_hr.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ppg_wrist_spc2015"
OUT = REPO / "bench" / "results" / "ppg_wrist_hr.json"
METHODS = ("heart_rate", "schaeck2017_greedy", "previous_default", "neurokit2")


def split_of(position: int) -> str:
    return "report" if position % 2 == 1 else "tune"


def _previous_default(ppg, acc, fs, spans) -> list[tuple[float | None, str]]:
    """The tool's wrist-PPG path before ``ppg_spectral`` (kept here to compare against)."""
    from cardioagent.tools.signal import ppg as ppg_math

    out, prev = [], None
    for start, end in spans:
        a, b = int(start * fs), int(end * fs)
        s = ppg_math.spectral_hr(ppg[a:b], fs, acc[a:b], previous_bpm=prev)
        prev = s.bpm if s.bpm is not None else prev
        flag = "unusable" if s.bpm is None else "acceptable" if s.peak_ratio >= 2.5 else "poor"
        out.append((s.bpm, flag))
    return out


def _schaeck(ppg, acc, fs, spans) -> list[tuple[float | None, str]]:
    from cardioagent.tools.signal.ppg_spectral import TrackerSettings, ppg_spectral_rate

    r = ppg_spectral_rate(
        ppg, acc, fs, method="schaeck2017", spans=spans, settings=TrackerSettings(tracking="greedy")
    )
    return [(w.bpm, w.quality.value) for w in r.windows]


def _neurokit2(ppg, acc, fs, spans) -> list[tuple[float | None, str]]:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean = nk.ppg_clean(ppg[:, 0], sampling_rate=fs)
        peaks = np.asarray(nk.ppg_findpeaks(clean, sampling_rate=fs)["PPG_Peaks"]) / fs
    out: list[tuple[float | None, str]] = []
    for start, end in spans:
        t = peaks[(peaks >= start) & (peaks < end)]
        out.append((60.0 / float(np.mean(np.diff(t))), "n/a") if len(t) >= 3 else (None, "unusable"))
    return out


def _heart_rate(rec) -> tuple[list[tuple[float | None, str]], list[float], str]:
    from cardioagent.tools.analysis import heart_rate

    res = heart_rate(rec, window_s=8.0, step_s=2.0)
    return (
        [(w.bpm.value, w.bpm.quality.value) for w in res.windows],
        [w.start_s for w in res.windows],
        res.method,
    )


def _without_ecg(rec):
    from cardioagent.tools.signal.recording import ChannelKind

    keep = [i for i, c in enumerate(rec.channels) if c.kind != ChannelKind.ECG]  # PPG + accelerometer only
    return rec.model_copy(
        update={
            "signal": rec.signal[:, keep],
            "channels": [rec.channels[i] for i in keep],
            "id": rec.id + "-no-ecg",
        }
    )


def _score(est: list[tuple[float | None, str]], starts: list[float], ref: dict[float, float]) -> dict:
    errs, flags = [], defaultdict(list)
    refused = 0
    for (bpm, flag), s in zip(est, starts, strict=True):
        r = ref.get(round(s, 1))
        if r is None:
            continue
        if bpm is None:
            refused += 1
            flags["refused"].append(float("nan"))
            continue
        errs.append(abs(bpm - r))
        flags[flag].append(abs(bpm - r))
    return {"errors": errs, "refused": refused, "by_flag": flags}


def _summary(parts: list[dict]) -> dict:
    errs = [e for p in parts for e in p["errors"]]
    flags: dict[str, list[float]] = defaultdict(list)
    for p in parts:
        for k, v in p["by_flag"].items():
            flags[k] += v
    return {
        "windows": len(errs) + sum(p["refused"] for p in parts),
        "estimated": len(errs),
        "refused": sum(p["refused"] for p in parts),
        "mae_bpm_estimated_windows": round(statistics.fmean(errs), 2) if errs else None,
        "share_over_10_bpm": round(float(np.mean(np.array(errs) > 10)), 3) if errs else None,
        "by_flag": {
            k: {"windows": len(v), "mae_bpm": None if k == "refused" else round(statistics.fmean(v), 2)}
            for k, v in sorted(flags.items())
        },
    }


def _recording(f: Path, data: Path, position: int) -> tuple[dict, dict[str, dict]]:
    from cardioagent.tools.signal.loaders import load_recording
    from cardioagent.tools.signal.recording import ChannelKind

    rec = _without_ecg(load_recording(f))
    with (data / f"{f.stem}_reference_hr.csv").open() as fh:
        ref = {round(float(r["window_start_s"]), 1): float(r["hr_bpm"]) for r in csv.DictReader(fh)}
    t0 = time.perf_counter()
    est_tool, starts, how = _heart_rate(rec)
    elapsed = time.perf_counter() - t0
    fs = float(rec.sampling_rate_hz)
    ppg = rec.signal[:, rec.indices_of(ChannelKind.PPG)]
    acc = rec.signal[:, rec.indices_of(ChannelKind.ACCEL)]
    spans = [(s, s + 8.0) for s in starts]
    others: dict[str, Callable] = {
        "schaeck2017_greedy": _schaeck,
        "previous_default": _previous_default,
        "neurokit2": _neurokit2,
    }
    scores = {"heart_rate": _score(est_tool, starts, ref)}
    scores |= {k: _score(fn(ppg, acc, fs, spans), starts, ref) for k, fn in others.items()}
    row = {
        "recording": f.stem,
        "split": split_of(position),
        "seconds_heart_rate": round(elapsed, 2),
        "method": how,
    }
    for k, sc in scores.items():
        row[f"{k}_mae_bpm"] = round(statistics.fmean(sc["errors"]), 2) if sc["errors"] else None
        row[f"{k}_refused"] = sc["refused"]
    return row, scores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    files = sorted(p for p in args.data.glob("DATA_*.csv") if not p.stem.endswith("_reference_hr"))
    if not files:
        print(f"no DATA_*.csv in {args.data}", file=sys.stderr)
        return 2

    rows, parts = [], defaultdict(list)
    print(f"{'recording':16s} {'split':6s} " + " ".join(f"{m:>20s}" for m in METHODS))
    for pos, f in enumerate(files):
        row, scores = _recording(f, args.data, pos)
        rows.append(row)
        for m in METHODS:
            parts[(row["split"], m)].append(scores[m])
        cells = " ".join(
            f"{row[f'{m}_mae_bpm'] or float('nan'):14.2f} r{row[f'{m}_refused']:<4d}" for m in METHODS
        )
        print(f"{f.stem:16s} {row['split']:6s} {cells}")
    summary = {split: {m: _summary(parts[(split, m)]) for m in METHODS} for split in ("tune", "report")}
    for split in ("tune", "report"):
        print(f"\n{split} split ({'development' if split == 'tune' else 'held out'}):")
        for m in METHODS:
            s = summary[split][m]
            flags = ", ".join(
                f"{k} {v['windows']}" + (f" @ {v['mae_bpm']}" if v["mae_bpm"] is not None else "")
                for k, v in s["by_flag"].items()
            )
            print(
                f"  {m:20s} MAE {s['mae_bpm_estimated_windows']:5.2f} bpm over {s['estimated']}/{s['windows']} "
                f"windows (refused {s['refused']}, >10 bpm {s['share_over_10_bpm']:.1%}); by flag: {flags}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "ppg_wrist_hr",
                "command": ".venv/bin/python bench/ppg_wrist_hr.py"
                + ("" if args.data == DEFAULT_DATA else f" --data {args.data}"),
                "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "split": "recordings sorted by name; even 0-based positions = tune (development), "
                "odd = report (held out)",
                "note": "heart_rate = ppg_spectral_rate (temko2017 Wiener + Viterbi), settings chosen on the tune "
                "split only; previous_default's settings were chosen on all 12 recordings (its report figure is "
                "not held out); MAE over estimated windows, refused windows counted apart; flags per window",
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
