"""Full classical analysis of the CinC-2021 twelve-lead records: intervals per lead and across leads,
heart rate, rhythm and HRV, with the wall time of the whole analysis per record.

    .venv/bin/python bench/ecg_intervals.py [--data DIR] [--delineation median_beat|ecgdeli]

There is no interval reference for these records; the check is physiological plausibility (PR
120-200 ms, QRS 80-120 ms, QTc 350-460 ms are typical), that every record yields all 12 leads, and how
the QTc of the record labelled "prolonged QT" (LQT in labels.csv) compares with the others. Prints a
table and writes bench/results/ecg_intervals.json (``--delineation ecgdeli``: ECGdeli's wave boundaries,
written to bench/results/ecg_intervals_ecgdeli.json).
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
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ecg12_cinc2021"
OUT = REPO / "bench" / "results" / "ecg_intervals.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument(
        "--out", type=Path, default=None, help=f"default {OUT.relative_to(REPO)}, or *_ecgdeli.json"
    )
    ap.add_argument("--delineation", choices=("median_beat", "ecgdeli"), default="median_beat")
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = (
            OUT if args.delineation == "median_beat" else OUT.with_name(f"{OUT.stem}_{args.delineation}.json")
        )
    labels_csv = args.data / "labels.csv"
    if not labels_csv.is_file():
        print(f"no labels.csv in {args.data}", file=sys.stderr)
        return 2

    from cardioagent.tools.analysis import assess_quality, heart_rate, hrv, intervals, rhythm
    from cardioagent.tools.signal.loaders import load_recording

    with labels_csv.open() as fh:
        labels = list(csv.DictReader(fh))
    # first-use costs (imports, neurokit2 set-up) are paid on the first record and not timed
    warm = load_recording(args.data / f"{labels[0]['record']}.hea")
    intervals(
        warm.model_copy(update={"signal": warm.signal * 1.0001, "id": "warm-up"}), method=args.delineation
    )

    rows = []
    print(
        f"{'record':8s} {'dx':24s} {'HR':>5s} {'rhythm':22s} {'PR':>4s} {'QRS':>4s} {'QT':>4s} "
        f"{'QTcB':>5s} {'QTcF':>5s} {'leads':>5s} {'s':>5s}"
    )
    for lab in labels:
        rec = load_recording(args.data / f"{lab['record']}.hea")
        t0 = time.perf_counter()
        assess_quality(rec)
        hr = heart_rate(rec)
        rh = rhythm(rec)
        hv = hrv(rec)
        iv = intervals(rec, method=args.delineation)
        elapsed = time.perf_counter() - t0
        measured = [lead.lead for lead in iv.leads if lead.quality.value != "unusable"]
        row = {
            "record": lab["record"],
            "dx": lab["dx_abbrev"],
            "heart_rate_bpm": hr.heart_rate.value,
            "rhythm": rh.statement,
            "pr_ms": iv.pr.value,
            "qrs_ms": iv.qrs.value,
            "qt_ms": iv.qt.value,
            "qtc_bazett_ms": iv.qtc_bazett.value,
            "qtc_fridericia_ms": iv.qtc_fridericia.value,
            "leads_reported": len(iv.leads),
            "leads_measured": len(measured),
            "unmeasured": [
                f"{lead.lead}: {lead.reason}" for lead in iv.leads if lead.quality.value == "unusable"
            ],
            "hrv_rmssd_ms": hv.rmssd.value,
            "full_analysis_s": round(elapsed, 3),
        }
        rows.append(row)

        def f(v):
            return "-" if v is None else f"{v:.0f}"

        print(
            f"{row['record']:8s} {row['dx'][:24]:24s} {f(row['heart_rate_bpm']):>5s} {row['rhythm']:22s} "
            f"{f(row['pr_ms']):>4s} {f(row['qrs_ms']):>4s} {f(row['qt_ms']):>4s} {f(row['qtc_bazett_ms']):>5s} "
            f"{f(row['qtc_fridericia_ms']):>5s} {row['leads_measured']:>2d}/{row['leads_reported']:<2d} {elapsed:5.2f}"
        )

    def med(key):
        vals = [r[key] for r in rows if r[key] is not None]
        return statistics.median(vals) if vals else None

    lqt = [r for r in rows if "LQT" in r["dx"].split(";")]
    others = [r for r in rows if r not in lqt and r["qtc_bazett_ms"] is not None]
    rank = sorted(rows, key=lambda r: -(r["qtc_fridericia_ms"] or 0))
    summary = {
        "n_records": len(rows),
        "all_records_report_12_leads": all(r["leads_reported"] == 12 for r in rows),
        "median_pr_ms": med("pr_ms"),
        "median_qrs_ms": med("qrs_ms"),
        "median_qt_ms": med("qt_ms"),
        "median_qtc_bazett_ms": med("qtc_bazett_ms"),
        "median_qtc_fridericia_ms": med("qtc_fridericia_ms"),
        "lqt_records": [
            {
                "record": r["record"],
                "qtc_bazett_ms": r["qtc_bazett_ms"],
                "qtc_fridericia_ms": r["qtc_fridericia_ms"],
                "rank_by_qtc_fridericia": rank.index(r) + 1,
            }
            for r in lqt
        ],
        "median_qtc_fridericia_other_records_ms": statistics.median(r["qtc_fridericia_ms"] for r in others)
        if others
        else None,
        "full_analysis_s_mean": round(statistics.fmean(r["full_analysis_s"] for r in rows), 3),
        "full_analysis_s_max": round(max(r["full_analysis_s"] for r in rows), 3),
    }
    print(
        f"medians over records: PR {summary['median_pr_ms']}, QRS {summary['median_qrs_ms']}, "
        f"QT {summary['median_qt_ms']}, QTcB {summary['median_qtc_bazett_ms']}, "
        f"QTcF {summary['median_qtc_fridericia_ms']} ms"
    )
    for r in summary["lqt_records"]:
        print(
            f"LQT-labelled {r['record']}: QTcB {r['qtc_bazett_ms']} ms, QTcF {r['qtc_fridericia_ms']} ms, "
            f"rank {r['rank_by_qtc_fridericia']} of {len(rows)} by QTcF (others' median QTcF "
            f"{summary['median_qtc_fridericia_other_records_ms']} ms)"
        )
    print(
        f"all records report 12 leads: {summary['all_records_report_12_leads']}; full analysis per record: "
        f"mean {summary['full_analysis_s_mean']} s, max {summary['full_analysis_s_max']} s"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "ecg_intervals",
                "command": ".venv/bin/python bench/ecg_intervals.py"
                + ("" if args.data == DEFAULT_DATA else f" --data {args.data}")
                + ("" if args.delineation == "median_beat" else f" --delineation {args.delineation}"),
                "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                },
                "full_analysis": "assess_quality + heart_rate + rhythm + hrv + intervals on one 12-lead 10-s record",
                "summary": summary,
                "records": rows,
            },
            indent=1,
        )
    )
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
