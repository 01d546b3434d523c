"""Latency of Assistant.ask on a 10-s 12-lead record: cold start, then warm p50/p95.

    .venv/bin/python bench/agent_latency.py [--record PATH.hea] [--runs 7] [--llm-summary]

Writes bench/results/agent_latency.json. Uses a fresh CARDIOAGENT_HOME under /tmp unless --home is given, so
the cold figure includes building the knowledge store and converting the embedded model once.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "results" / "agent_latency.json"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--record", default=str(REPO / "tests" / "data" / "E07500.hea"))
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--home", default=None)
    p.add_argument(
        "--llm-summary",
        action="store_true",
        help="also let the embedded model write its plain-words paragraph (off by default for it)",
    )
    p.add_argument("--question", default="What is the heart rate and is the rhythm regular?")
    args = p.parse_args()

    from cardioagent.agent.api import Assistant
    from cardioagent.agent.config import AgentSettings

    home = Path(args.home or tempfile.mkdtemp(prefix="cardioagent-bench-"))
    record = Path(args.record)
    files = [
        str(record),
        str(
            record.with_suffix(".mat") if record.with_suffix(".mat").exists() else record.with_suffix(".dat")
        ),
    ]
    t0 = time.perf_counter()
    assistant = Assistant("embedded", AgentSettings(home=home, llm_summary=args.llm_summary))
    warm_up_s = assistant.warm_up()
    first = assistant.ask(args.question, files)
    cold_s = time.perf_counter() - t0
    warm = []
    for _ in range(args.runs):
        t = time.perf_counter()
        answer = assistant.ask(args.question, files)
        warm.append(time.perf_counter() - t)
    tool_s = {s.tool: round(s.seconds, 3) for s in answer.trace}
    result = {
        "record": record.name,
        "question": args.question,
        "llm_summary": args.llm_summary,
        "cold_start_s": round(cold_s, 2),
        "model_and_store_warm_up_s": round(warm_up_s, 2),
        "first_answer_total_s": first.timings.get("total_s"),
        "warm_p50_s": round(statistics.median(warm), 3),
        "warm_p95_s": round(sorted(warm)[int(0.95 * (len(warm) - 1))], 3),
        "warm_runs_s": [round(w, 3) for w in warm],
        "tool_seconds_last_run": tool_s,
    }
    print(f"{'metric':32s} value")
    for k in ("cold_start_s", "model_and_store_warm_up_s", "warm_p50_s", "warm_p95_s"):
        print(f"{k:32s} {result[k]}")
    print(f"{'tools (last run)':32s} {tool_s}")
    OUT.parent.mkdir(exist_ok=True)
    out = OUT.with_name("agent_latency_llm_summary.json") if args.llm_summary else OUT
    out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
