"""The photo digitizer on many more pages than the 35 real photos: PTB-XL records of the tune split drawn as
3x4 + II printouts and put through the seeded photo augmentation, scored as the real photos are.

    .venv/bin/python bench/ecg_digitize_synthetic.py [--n 60] [--seed 0] [--jobs 2] [--dpi 150] [--out FILE]

Why: a change to the digitizer is judged on 24 tune photos, too few to tell a real gain from which rows
happen to be found on a few pages; this is a development set of any size. It is **not** a reporting figure:
the pages are the project's own drawings (its grid, its fonts) and the augmentation imitates photos
(paper tint, rotation, perspective, a table around the page, uneven light, blur, noise, JPEG:
``models.vlm.photo_augment``), it does not reproduce a real phone photo of a creased sheet. Only records of
PTB-XL ``strat_fold`` 1-8 (the tune split of every PTB-XL figure in ``bench/``) are drawn; folds 9-10 stay
for reporting.

Each page: ``render_12lead`` (3x4 + II rhythm strip, header shown), ``augment_photo`` with the default
``PhotoAugmentConfig`` and a generator seeded with ``seed + index``, saved as JPEG (quality 90), then
``bench/ecg_digitize.py``'s ``score_photo`` against the record's lead II: processed share, SNR, correlation,
heart rate and rhythm from the digitized lead II, by flag. The augmentation's own log is kept per page, and
the summary is also split by the page's tilt (rotation of at most 2 degrees or more), the geometry a
misread page outline leaves behind.

Writes bench/results/ecg_digitize_synthetic.json unless --out is given.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PTBXL = ROOT.parent / "shared" / "data" / "ptbxl_1_250"
OUT = ROOT / "bench" / "results" / "ecg_digitize_synthetic.json"
TUNE_FOLDS = set(range(1, 9))
TILTED_DEG = 2.0


def tune_records(n: int, seed: int) -> list[tuple[int, str]]:
    """``n`` (ecg_id, WFDB path without suffix) of strat_fold 1-8, drawn with ``seed``."""
    with (PTBXL / "ptbxl_database.csv").open(newline="") as fh:
        rows = [
            (int(float(r["ecg_id"])), str(PTBXL / r["filename_hr"]))
            for r in csv.DictReader(fh)
            if int(r["strat_fold"]) in TUNE_FOLDS and (PTBXL / f"{r['filename_hr']}.hea").is_file()
        ]
    rng = np.random.default_rng(seed)
    picked = rng.permutation(len(rows))[: min(n, len(rows))]
    return [rows[i] for i in sorted(picked)]


def score_page(job: tuple[int, str, int, int]) -> dict:
    from PIL import Image

    sys.path.insert(0, str(ROOT / "bench"))
    from ecg_digitize import score_photo

    from cardioagent.models.vlm.photo_augment import augment_photo_logged
    from cardioagent.tools.signal.loaders import load_recording
    from cardioagent.tools.signal.render.paper import render_12lead

    ecg_id, path, page_seed, dpi = job
    rec = load_recording(Path(path + ".hea"))
    page = render_12lead(rec, dpi=dpi).image
    photo, log = augment_photo_logged(page, np.random.default_rng(page_seed))
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / f"{ecg_id}.jpg"
        Image.fromarray(photo).save(image, quality=90)
        row = score_photo(image, Path(path))
    row["record"] = str(ecg_id)
    row["augmentation"] = log.applied
    row["rotation_deg"] = round(float(log.params.get("rotate.degrees", 0.0)), 2)
    return row


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT / "bench"))
    from ecg_digitize import summarize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--dpi", type=int, default=150)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if not (PTBXL / "ptbxl_database.csv").is_file():
        print(f"needs {PTBXL}; nothing to do", file=sys.stderr)
        return 0
    jobs = [(i, p, args.seed + k, args.dpi) for k, (i, p) in enumerate(tune_records(args.n, args.seed))]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(score_page, jobs))
    tilted = [r for r in rows if abs(r["rotation_deg"]) > TILTED_DEG]
    level = [r for r in rows if abs(r["rotation_deg"]) <= TILTED_DEG]
    result = {
        "benchmark": "ecg_digitize_synthetic",
        "command": f".venv/bin/python bench/ecg_digitize_synthetic.py --n {args.n} --seed {args.seed} "
        f"--dpi {args.dpi}",
        "what": "development figure: PTB-XL strat_fold 1-8 drawn as 3x4 + II pages, seeded photo augmentation",
        "summary": {
            "all": summarize(rows),
            f"tilted more than {TILTED_DEG:g} degrees": summarize(tilted),
            f"tilted at most {TILTED_DEG:g} degrees": summarize(level),
        },
        "not_processed": {r["record"]: r.get("error") for r in rows if not r.get("processed")},
        "rows": rows,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(f"{'pages':28} {'n':>3} {'processed':>9} {'SNR dB':>7} {'r':>6} {'HR MAE':>7} {'rate cat':>8}")
    for name, s in result["summary"].items():
        print(
            f"{name:28} {s['n']:>3} {s['processed']:>9} {s['median_snr_db']!s:>7} "
            f"{s['median_correlation']!s:>6} {s['hr_mae_bpm']!s:>7} {s['rate_category_agreement']!s:>8}"
        )
        for flag, f in s["by_flag"].items():
            print(f"   flag {flag:10} n={f['n']:>3} SNR {f['median_snr_db']} HR MAE {f['hr_mae_bpm']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
