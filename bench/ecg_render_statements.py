"""Interpretation agreement between a printed ECG and its source signal, statement by statement: each PTB-XL
record of ``../shared/data/ptbxl_1_250`` is drawn as a standard 3x4 + II rhythm-strip page (the project's
renderer, 150 dpi by default, no header), digitized (``tools.signal.digitize``) and read the way the image
tool reads it (``image_tools``: rate and rhythm on the full-length digitized lead; intervals and
interpretation statements on every printed lead, each 2.5-s lead inside its window on the full-length
lead's beats; only statements found present shown, and none when ``image_tools.statements_withheld`` says
so). The same statements are made on the source signal, all 12 leads, and on the source cut to the page's
2.5-s windows without drawing it (what the windows alone cost).

    .venv/bin/python bench/ecg_render_statements.py [--ptbxl DIR] [--jobs N] [--out FILE] [--limit N]
        [--split all|tune|held-out] [--dpi 150]

Nothing is tuned here (no threshold was chosen on these figures); the split by ``strat_fold`` (1-8 tune,
9-10 held out) is kept so that the figures line up with ``bench/ptbxl_statements.py``. The withholding
rule (fewer than three leads measured better than poor) was declared before the first run of both splits;
the tune split alone had been run before it, to see how often the windowed statements agreed.

Per statement: the records where the image path shows it and how many of those the 12-lead source also
states (precision of what an image shows), the records where the source states it and how many the image
shows (recall), the records where the image says "absent" against a present source, the statements the
image path made but withheld and how often the source made them too (does withholding predict error?), and
the same count for the source cut to the page's windows. Rate category (< 60, 60-100, > 100 bpm, the
heart-rate tool on each) and rhythm statement agreement beside it.

Writes bench/results/ecg_render_statements.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PTBXL = REPO.parent / "shared" / "data" / "ptbxl_1_250"
OUT = REPO / "bench" / "results" / "ecg_render_statements.json"
TUNE_FOLDS = set(range(1, 9))
PTBXL_SEX = {"0": "male", "1": "female"}


def rate_category(bpm: float | None) -> str | None:
    if bpm is None:
        return None
    return "brady" if bpm < 60 else "tachy" if bpm > 100 else "normal"


def _read(rec) -> dict:
    """Heart rate, rhythm and the statements found present and absent, as the tools make them."""
    from cardioagent.tools import analysis

    out: dict = {"hr": None, "rhythm": None, "present": [], "absent": []}
    try:
        out["hr"] = analysis.heart_rate(rec).heart_rate.value
    except Exception as exc:  # noqa: BLE001 - scored as not measured
        out["hr_error"] = str(exc)
    try:
        out["rhythm"] = str(analysis.rhythm(rec).statement)
    except Exception as exc:  # noqa: BLE001
        out["rhythm_error"] = str(exc)
    try:
        iv = analysis.intervals(rec)
        out["present"] = sorted(s.id for s in iv.statements if s.verdict == "present")
        out["absent"] = sorted(s.id for s in iv.statements if s.verdict == "absent")
        out["intervals_quality"] = iv.quality.value
    except Exception as exc:  # noqa: BLE001
        out["intervals_error"] = str(exc)
    return out


def _windowed_statements(rec) -> list[str] | None:
    """The statements the source makes when cut to what a 3 x 4 page prints (no drawing, no digitization):
    the part of the image path's disagreement that comes from the 2.5-s windows alone."""
    from cardioagent.tools import analysis
    from cardioagent.tools.signal.digitize.layout import as_printed, layout_for

    w = rec.model_copy(deep=True)
    sig = as_printed(w.signal, float(w.sampling_rate_hz), w.channel_names, layout_for(4, 10.0))
    w.signal, w.id = sig, f"{w.id}-windowed"
    try:
        return sorted(s.id for s in analysis.intervals(w).statements if s.verdict == "present")
    except Exception:  # noqa: BLE001 - scored as not measured
        return None


def analyse(job: tuple[str, str | None, float | None, int]) -> dict:
    from cardioagent.tools.builtin.image_tools import (
        digitization_confidence,
        digitized_intervals,
        digitized_rhythm,
        statements_withheld,
    )
    from cardioagent.tools.signal.digitize import NotAnEcgPageError, digitize_ecg_image
    from cardioagent.tools.signal.digitize.export import as_recording
    from cardioagent.tools.signal.loaders import load_recording
    from cardioagent.tools.signal.recording import Demographics
    from cardioagent.tools.signal.render import render_12lead

    path, sex, age, dpi = job
    t0 = time.perf_counter()
    rec = load_recording(Path(path))
    rec.demographics = Demographics(sex=sex, age=age)
    row: dict = {"source": _read(rec), "source_windowed": _windowed_statements(rec)}
    try:
        dig = digitize_ecg_image(render_12lead(rec, show_header=False, dpi=dpi).image)
        drec = as_recording(dig, rec.name, rec.id)
    except (NotAnEcgPageError, ValueError) as exc:
        return {**row, "image": None, "error": str(exc), "seconds": round(time.perf_counter() - t0, 2)}
    drec.demographics = Demographics(sex=sex, age=age)
    image = _read(drec)
    try:  # the intervals and statements as the image tool makes them: every printed lead, in its window
        iv, measured = digitized_intervals(dig, rec.name, rec.id, Demographics(sex=sex, age=age))
        image["present"] = sorted(s.id for s in iv.statements if s.verdict == "present")
        image["absent"] = sorted(s.id for s in iv.statements if s.verdict == "absent")
        image["intervals_quality"] = iv.quality.value
        image["interval_leads"] = measured
        image.pop("intervals_error", None)
    except Exception as exc:  # noqa: BLE001
        iv, measured = None, drec.channel_names
        image["intervals_error"] = str(exc)
    try:  # the rhythm as the image tool judges it (beat timing error of the page, lost beats as gaps)
        image["rhythm"] = str(digitized_rhythm(dig, drec)[0].statement)
    except Exception as exc:  # noqa: BLE001
        image["rhythm_error"] = str(exc)
    image["leads"] = drec.channel_names
    # withheld as the image tool withholds them (its rule, called here)
    confidence = digitization_confidence(dig, measured)
    image["confidence"] = confidence.value
    why = statements_withheld(iv, confidence) if iv is not None else "intervals not measured"
    if why:
        image["withheld"], image["withheld_why"], image["present"] = image["present"], why, []
    return {**row, "image": image, "seconds": round(time.perf_counter() - t0, 2)}


def summarise(rows: list[dict]) -> dict:
    shown, stated, shown_and_stated, absent_vs_present = Counter(), Counter(), Counter(), Counter()
    withheld, withheld_and_stated = Counter(), Counter()
    windowed, windowed_and_stated = Counter(), Counter()
    rate_ok = rate_n = rhythm_ok = rhythm_n = failed = 0
    for r in rows:
        src, img = r["result"]["source"], r["result"]["image"]
        for s in r["result"].get("source_windowed") or []:
            windowed[s] += 1
            windowed_and_stated[s] += s in src["present"]
        if img is None:
            failed += 1
            continue
        sp, ip, ia = set(src["present"]), set(img["present"]), set(img["absent"])
        for s in img.get("withheld", []):
            withheld[s] += 1
            withheld_and_stated[s] += s in sp
        for s in ip:
            shown[s] += 1
            shown_and_stated[s] += s in sp
        for s in sp:
            stated[s] += 1
            absent_vs_present[s] += s in ia
        if src["hr"] is not None:
            rate_n += 1
            rate_ok += rate_category(img["hr"]) == rate_category(src["hr"])
        if src["rhythm"] is not None:
            rhythm_n += 1
            rhythm_ok += img["rhythm"] == src["rhythm"]
    per = {
        s: {
            "shown_by_image": shown[s],
            "of_which_stated_by_source": shown_and_stated[s],
            "precision": round(shown_and_stated[s] / shown[s], 3) if shown[s] else None,
            "stated_by_source": stated[s],
            "recall": round(shown_and_stated[s] / stated[s], 3) if stated[s] else None,
            "image_says_absent_source_present": absent_vs_present[s],
            "withheld_by_image": withheld[s],
            "withheld_of_which_stated_by_source": withheld_and_stated[s],
            "source_cut_to_the_page_states": windowed[s],
            "source_cut_to_the_page_of_which_stated_by_source": windowed_and_stated[s],
        }
        for s in sorted(set(shown) | set(stated) | set(withheld) | set(windowed))
    }
    n_shown, n_right = sum(shown.values()), sum(shown_and_stated.values())
    return {
        "records": len(rows),
        "not_digitized": failed,
        "rate_category_agreement": round(rate_ok / rate_n, 3) if rate_n else None,
        "rhythm_agreement": round(rhythm_ok / rhythm_n, 3) if rhythm_n else None,
        "statements_shown_by_image": n_shown,
        "precision_all_statements": round(n_right / n_shown, 3) if n_shown else None,
        # the source cut to the page's 2.5-s windows, not drawn: what the windows alone cost
        "source_cut_to_the_page_statements": sum(windowed.values()),
        "precision_source_cut_to_the_page": (
            round(sum(windowed_and_stated.values()) / sum(windowed.values()), 3) if windowed else None
        ),
        # does the withholding flag predict error? how often a withheld statement was the source's too
        "statements_withheld_by_image": sum(withheld.values()),
        "precision_withheld_statements": (
            round(sum(withheld_and_stated.values()) / sum(withheld.values()), 3) if withheld else None
        ),
        "per_statement": per,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ptbxl", type=Path, default=PTBXL)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="first N records only (a quick look)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--dpi", type=int, default=150, help="resolution of the drawn page (150: a screenshot)")
    ap.add_argument(
        "--split", choices=("all", "tune", "held-out"), default="all", help="records of one split only"
    )
    args = ap.parse_args(argv)
    db = args.ptbxl / "ptbxl_database.csv"
    if not db.is_file():
        print(f"no ptbxl_database.csv in {args.ptbxl}", file=sys.stderr)
        return 2
    with db.open() as fh:
        meta = [r for r in csv.DictReader(fh) if (args.ptbxl / f"{r['filename_hr']}.hea").is_file()]
    if args.split != "all":
        meta = [r for r in meta if (int(r["strat_fold"]) in TUNE_FOLDS) == (args.split == "tune")]
    meta = meta[: args.limit] if args.limit else meta
    jobs = [
        (
            str(args.ptbxl / f"{r['filename_hr']}.hea"),
            PTBXL_SEX.get(r["sex"]),
            float(r["age"]) if r["age"] else None,
            args.dpi,
        )
        for r in meta
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(analyse, jobs, chunksize=4))
    rows = [
        {"record": r["ecg_id"], "fold": int(r["strat_fold"]), "result": res}
        for r, res in zip(meta, results, strict=True)
    ]
    report: dict = {
        "benchmark": "ecg_render_statements",
        "command": ".venv/bin/python bench/ecg_render_statements.py",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "render": f"render_12lead(rec, show_header=False, dpi={args.dpi}): 3x4 + II rhythm strip, 25 mm/s, 10 mm/mV",
        "splits": {},
        "wall_s": None,
    }
    for split, keep in (
        ("tune (folds 1-8)", lambda r: r["fold"] in TUNE_FOLDS),
        ("held out (folds 9-10)", lambda r: r["fold"] not in TUNE_FOLDS),
    ):
        sub = [r for r in rows if keep(r)]
        if sub:
            report["splits"][split] = summarise(sub)
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    for r in rows:  # the per-record detail keeps what was stated; the absent lists are in the counts above
        for side in ("source", "image"):
            if r["result"].get(side):
                r["result"][side].pop("absent", None)
    report["records_detail"] = rows
    for split, s in report["splits"].items():
        print(
            f"\n{split}: {s['records']} records, {s['not_digitized']} not digitized; rate category "
            f"{s['rate_category_agreement']}, rhythm {s['rhythm_agreement']}; statements shown by the image "
            f"{s['statements_shown_by_image']}, precision {s['precision_all_statements']}; withheld "
            f"{s['statements_withheld_by_image']}, of which the source states {s['precision_withheld_statements']}; "
            f"source cut to the page's windows: {s['source_cut_to_the_page_statements']} statements, precision "
            f"{s['precision_source_cut_to_the_page']}"
        )
        print(
            f"{'statement':<48} {'shown':>5} {'right':>5} {'prec':>5} {'src':>4} {'recall':>6} {'abs/pres':>8} "
            f"{'withheld':>8} {'w-right':>7} {'cut':>4} {'c-right':>7}"
        )
        for sid, m in s["per_statement"].items():
            print(
                f"{sid:<48} {m['shown_by_image']:>5} {m['of_which_stated_by_source']:>5} "
                f"{m['precision'] if m['precision'] is not None else '-':>5} {m['stated_by_source']:>4} "
                f"{m['recall'] if m['recall'] is not None else '-':>6} {m['image_says_absent_source_present']:>8} "
                f"{m['withheld_by_image']:>8} {m['withheld_of_which_stated_by_source']:>7} "
                f"{m['source_cut_to_the_page_states']:>4} {m['source_cut_to_the_page_of_which_stated_by_source']:>7}"
            )
    out = args.out or (OUT if not args.limit else None)
    if out is not None:
        out.write_text(json.dumps(report, indent=1))
        print(f"\nwrote {out} ({report['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
