"""Routing accuracy of the deterministic planner on bench/routing_requests.yaml.

.venv/bin/python bench/routing.py        # prints a table of misses, writes bench/results/routing.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_planner_routing import load_requests, routed_tools  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "routing.json"


def main() -> int:
    summaries = {}
    for section in ("requests", "held_out"):
        summaries[section] = run(section)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(summaries, indent=1))
    return 0


def run(section: str) -> dict:
    rows, started = [], time.perf_counter()
    for r in load_requests(section):
        t0 = time.perf_counter()
        got = sorted(routed_tools(r["q"], r["modality"]))
        rows.append(
            {
                "q": r["q"],
                "modality": r["modality"],
                "expected": sorted(r["expect"]),
                "got": got,
                "ok": got == sorted(r["expect"]),
                "ms": round((time.perf_counter() - t0) * 1000, 1),
            }
        )
    correct = sum(r["ok"] for r in rows)
    print(f"[{section}] {'request':60s} {'modality':8s} {'expected':40s} got")
    for r in rows:
        if not r["ok"]:
            print(f"{r['q'][:60]:60s} {r['modality']:8s} {','.join(r['expected']):40s} {','.join(r['got'])}")
    summary = {
        "requests": len(rows),
        "correct": correct,
        "accuracy": round(correct / len(rows), 4),
        "p50_ms": sorted(r["ms"] for r in rows)[len(rows) // 2],
        "total_s": round(time.perf_counter() - started, 2),
    }
    print(
        f"\n{section}: accuracy {summary['accuracy']:.3f} ({correct}/{len(rows)}), p50 {summary['p50_ms']} ms\n"
    )
    return {"summary": summary, "rows": rows}


if __name__ == "__main__":
    sys.exit(main())
