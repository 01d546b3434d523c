"""Agreement of cardioagent's measurements with what the recording device stated in the file.

    .venv/bin/python bench/device_agreement.py

For every sample file that carries device measurements (``tests/data/formats``, and the GE MUSE files of
``../shared/data/ecg_formats`` when present) the analysis ``cardioagent analyze`` runs is compared with the
cart's global values: heart rate, PR, QRS, QT, QTc, QRS axis (P and T axes are not measured here). One
recording stored in three formats (``Example.dcm``, ``Example aECG.xml``, ``Example.scp``) counts once (the
HL7 aECG copy, whose device values are the most complete; the three give the same signal).

Per quantity: n, mean difference (cardioagent - device), SD of the differences and Bland-Altman 95% limits
of agreement (mean +- 1.96 SD; given for n >= 3 only). Nothing was tuned on these files: these are
evaluation figures only. The device's own values are estimates by other algorithms, not ground truth.
Writes ``bench/results/device_agreement.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORMATS = REPO / "tests" / "data" / "formats"
SHARED = Path(os.environ.get("CARDIOAGENT_SHARED_DATA", REPO.parent / "shared" / "data")) / "ecg_formats"
OUT = REPO / "bench" / "results" / "device_agreement.json"
# same recording as Example aECG.xml: left out so it is not counted three times
DUPLICATES = {"Example.dcm", "Example.scp"}
# device quantity -> row of the table; a device QTc of unstated formula counts as Bazett (what carts print)
ROW = {
    "heart_rate": "heart rate (bpm)",
    "pr": "PR (ms)",
    "qrs": "QRS (ms)",
    "qt": "QT (ms)",
    "qtc": "QTc Bazett (ms)",
    "qtc_bazett": "QTc Bazett (ms)",
    "qtc_fridericia": "QTc Fridericia (ms)",
    "qrs_axis": "QRS axis (deg)",
}


def files() -> list[Path]:
    out = sorted(
        p
        for p in FORMATS.iterdir()
        if p.suffix.lower() in (".dcm", ".xml", ".scp", ".csv") and p.name not in DUPLICATES
    )
    if SHARED.is_dir():
        out += sorted((SHARED / "ge_muse_xml").glob("*.xml"))
    return out


def limits_of_agreement(diffs: list[float]) -> dict:
    n = len(diffs)
    mean = statistics.fmean(diffs) if diffs else None
    sd = statistics.stdev(diffs) if n >= 2 else None
    ok = n >= 3 and sd is not None
    return {
        "n": n,
        "mean_diff": None if mean is None else round(mean, 1),
        "sd": None if sd is None else round(sd, 1),
        "loa_low": round(mean - 1.96 * sd, 1) if ok else None,
        "loa_high": round(mean + 1.96 * sd, 1) if ok else None,
    }


def main() -> int:
    from cardioagent.tools.errors import InputError
    from cardioagent.tools.report import analyze_recording
    from cardioagent.tools.signal.loaders import load_recording
    from cardioagent.tools.signal.loaders.device_statements import compare_with_measured

    pairs: dict[str, list[dict]] = {}
    per_file = []
    for path in files():
        try:
            rec = load_recording(path)
        except InputError as e:
            per_file.append({"file": path.name, "skipped": str(e)[:160]})
            continue
        if rec.device_report is None or not rec.device_report.measurements:
            continue
        report = analyze_recording(rec)
        rows = compare_with_measured(rec.device_report, report.results())
        entry = {"file": path.name, "device": rec.device_report.device, "values": []}
        for c in rows:
            if c.quantity not in ROW:
                continue
            entry["values"].append(
                {
                    "quantity": ROW[c.quantity],
                    "device": c.device_value,
                    "measured": c.measured_value,
                    "measured_quality": c.measured_quality,
                }
            )
            if c.measured_value is not None:
                pairs.setdefault(ROW[c.quantity], []).append(
                    {"file": path.name, "device": c.device_value, "measured": c.measured_value}
                )
        per_file.append(entry)
    table = {
        q: {**limits_of_agreement([p["measured"] - p["device"] for p in ps]), "pairs": ps}
        for q, ps in pairs.items()
    }
    order = list(dict.fromkeys(ROW.values()))
    print(
        f"{'quantity':22s} {'n':>3s} {'mean diff':>10s} {'SD':>7s} {'95% LoA':>18s}   (cardioagent - device)"
    )
    for q in sorted(table, key=order.index):
        t = table[q]
        loa = f"{t['loa_low']:+.1f} .. {t['loa_high']:+.1f}" if t["loa_low"] is not None else "n < 3"
        sd = f"{t['sd']:.1f}" if t["sd"] is not None else "-"
        print(f"{q:22s} {t['n']:3d} {t['mean_diff']:+10.1f} {sd:>7s} {loa:>18s}")
    print("\nper file (device -> measured):")
    for f in per_file:
        if "skipped" in f:
            print(f"  {f['file']}: skipped ({f['skipped']})")
            continue
        vals = "; ".join(
            f"{v['quantity'].split(' (')[0]} {v['device']:g}->"
            + ("-" if v["measured"] is None else f"{v['measured']:.0f}")
            for v in f["values"]
        )
        print(f"  {f['file']} [{f['device']}]: {vals}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "note": "difference = cardioagent - device; evaluation only, nothing tuned on these "
                "files; device values are other algorithms' estimates, not ground truth",
                "quantities": table,
                "files": per_file,
            },
            indent=1,
        )
    )
    print(f"\nwrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
