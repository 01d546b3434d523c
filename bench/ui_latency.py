"""Latency of the Gradio app as a client sees it: send a 10-s 12-lead record with a question to the
named ``/chat`` endpoint and time (a) the first tool step arriving and (b) the finished answer.

    .venv/bin/python bench/ui_latency.py [--runs 5] [--no-llm] [--home DIR] [--question ...]

Warm means: the models and the knowledge store are loaded and one full question has been answered before
timing starts. Each timed run is a fresh client session (a new conversation, the same record uploaded
again), timed from the call to the last update, upload included. Targets: first step < 1 s, answer < 5 s.
Writes bench/results/ui_latency.json (or ui_latency_no_llm.json with --no-llm).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
FIRST_STEP_TARGET_S = 1.0
ANSWER_TARGET_S = 5.0


def _has_step(chat: list[dict]) -> bool:
    return any((m.get("metadata") or {}).get("title") for m in chat)


def _answer_text(chat: list[dict]) -> str:
    for m in reversed(chat):
        if m["role"] == "assistant" and not m.get("metadata"):
            parts = m["content"] if isinstance(m["content"], list) else [m["content"]]
            for p in parts:
                if isinstance(p, dict) and p.get("type") == "text":
                    return p["text"]
    return ""


def timed_turn(url: str, files: list[str], question: str) -> dict:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)  # a new session: nothing carried over from the previous run
    t0 = time.perf_counter()
    job = client.submit({"text": question, "files": [handle_file(f) for f in files]}, api_name="/chat")
    first_step = None
    seen = 0
    while not job.done():
        outputs = job.outputs()
        if first_step is None and len(outputs) > seen:
            if any(_has_step(o[0]) for o in outputs[seen:] if o and isinstance(o[0], list)):
                first_step = time.perf_counter() - t0
            seen = len(outputs)
        time.sleep(0.005)
    result = job.result()
    total = time.perf_counter() - t0
    if first_step is None and _has_step(result[0]):
        first_step = total  # every update arrived at once
    steps = [m for m in result[0] if (m.get("metadata") or {}).get("title")]
    figures = [
        p
        for m in result[0]
        for p in (m["content"] if isinstance(m["content"], list) else [])
        if isinstance(p, dict) and p.get("type") == "file"
    ]
    return {
        "first_step_s": first_step,
        "answer_s": total,
        "steps": len(steps),
        "figures": len(figures),
        "answer_chars": len(_answer_text(result[0])),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--record", default=str(REPO / "tests" / "data" / "E07500.hea"))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--home", default=None, help="CARDIOAGENT_HOME to use (default: a fresh one under /tmp)")
    p.add_argument("--no-llm", action="store_true", help="no language-model paragraph (rules planner only)")
    p.add_argument("--question", default="What is the heart rate?")
    args = p.parse_args()

    from cardioagent.ui.app import launch
    from cardioagent.ui.settings import UISettings

    record = Path(args.record)
    data = next(record.with_suffix(s) for s in (".mat", ".dat") if record.with_suffix(s).exists())
    files = [str(record), str(data)]
    home = Path(args.home or tempfile.mkdtemp(prefix="cardioagent-bench-ui-"))
    settings = UISettings(
        home=home,
        work_dir=Path(tempfile.mkdtemp(prefix="cardioagent-bench-ui-work-")),
        llm_summary=not args.no_llm,
        auth=[],
        warm_up=False,
    ).model_copy(update={"port": None})
    demo = launch(settings, prevent_thread_lock=True, quiet=True)
    try:
        t = time.perf_counter()
        demo.cardio.pool.get(None).warm_up()
        warm_up_s = time.perf_counter() - t
        first = timed_turn(demo.local_url, files, args.question)  # warms every cache on the path
        runs = [timed_turn(demo.local_url, files, args.question) for _ in range(args.runs)]
    finally:
        demo.close()

    def stats(key: str) -> dict:
        values = [r[key] for r in runs if r[key] is not None]
        if not values:
            return {"median": None, "max": None}
        return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}

    first_step, answer = stats("first_step_s"), stats("answer_s")
    result = {
        "record": record.name,
        "question": args.question,
        "llm_summary": not args.no_llm,
        "runs": args.runs,
        "warm_up_s": round(warm_up_s, 2),
        "first_question_s": round(first["answer_s"], 2),
        "first_step_s": first_step,
        "answer_s": answer,
        "first_step_target_s": FIRST_STEP_TARGET_S,
        "answer_target_s": ANSWER_TARGET_S,
        "meets_targets": bool(
            first_step["max"] is not None
            and first_step["max"] < FIRST_STEP_TARGET_S
            and answer["max"] is not None
            and answer["max"] < ANSWER_TARGET_S
        ),
        "per_run": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in runs],
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    print(f"UI latency, {record.name}, {args.runs} warm runs, llm_summary={not args.no_llm}")
    print(f"{'metric':24s} {'median':>8s} {'max':>8s} {'target':>8s}")
    print(
        f"{'first tool step (s)':24s} {first_step['median']!s:>8s} {first_step['max']!s:>8s} {FIRST_STEP_TARGET_S:>8g}"
    )
    print(f"{'answer complete (s)':24s} {answer['median']!s:>8s} {answer['max']!s:>8s} {ANSWER_TARGET_S:>8g}")
    print(
        f"warm-up {result['warm_up_s']} s; first question {result['first_question_s']} s; "
        f"steps/figures last run: {runs[-1]['steps']}/{runs[-1]['figures']}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("ui_latency_no_llm.json" if args.no_llm else "ui_latency.json")
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
