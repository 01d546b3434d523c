"""How long one paper-style 12-lead image takes to render (target: < 0.3 s at 100 dpi).

Renders a real CinC-2021 record from ../shared/data when present (else a neurokit2 simulation) N times
per setting, in memory and saved as PNG, and writes bench/results/render_speed.json.

    .venv/bin/python bench/render_speed.py [N]
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording
from cardioagent.tools.signal.render import render_12lead

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CARDIOAGENT_SHARED_DATA", REPO.parent / "shared" / "data"))
TARGET_S = 0.3


def _recording() -> tuple[Recording, str]:
    path = SHARED / "ecg12_cinc2021" / "E07500"
    if path.with_suffix(".hea").is_file():
        import wfdb

        r = wfdb.rdrecord(str(path))
        sig, fs, names, source = r.p_signal, float(r.fs), list(r.sig_name), "E07500 (CinC 2021)"
    else:
        import neurokit2 as nk

        df = nk.ecg_simulate(duration=10, sampling_rate=500, method="multileads", random_state=0)
        sig, fs, names, source = df.to_numpy(), 500.0, list(df.columns), "neurokit2 multileads simulation"
    rec = Recording(
        id="bench",
        name="bench",
        source_files=[],
        format="numpy",
        modality=Modality.ECG,
        sampling_rate_hz=fs,
        channels=[Channel(name=n, kind=ChannelKind.ECG, unit="mV") for n in names],
        signal=np.asarray(sig, dtype=np.float64),
    )
    return rec, source


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    rec, source = _recording()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dpi in (100, 200):
            for save in (False, True):
                render_12lead(rec, dpi=dpi)  # warm the grid and font caches, as a training loop would
                times = []
                for i in range(n):
                    t0 = time.perf_counter()
                    render_12lead(rec, Path(tmp) / f"{i}.png" if save else None, dpi=dpi)
                    times.append(time.perf_counter() - t0)
                t = np.array(times)
                rows.append(
                    {
                        "dpi": dpi,
                        "saved_png": save,
                        "n": n,
                        "mean_s": float(t.mean()),
                        "p95_s": float(np.percentile(t, 95)),
                        "max_s": float(t.max()),
                    }
                )
    print(f"record: {source}; target < {TARGET_S} s per image at 100 dpi")
    print(f"{'dpi':>4} {'png':>5} {'n':>4} {'mean s':>8} {'p95 s':>8} {'max s':>8}")
    for r in rows:
        print(
            f"{r['dpi']:>4} {r['saved_png']!s:>5} {r['n']:>4} {r['mean_s']:8.4f} {r['p95_s']:8.4f} {r['max_s']:8.4f}"
        )
    out = REPO / "bench" / "results" / "render_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    worst_100 = max(r["p95_s"] for r in rows if r["dpi"] == 100)
    out.write_text(
        json.dumps(
            {
                "record": source,
                "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                "cpu_count": os.cpu_count(),
                "target_s": TARGET_S,
                "meets_target_at_100dpi": worst_100 < TARGET_S,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
